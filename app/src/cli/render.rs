//! `touchpoint render`: a board to PNG on the GPU, with no window.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};
use touchpoint_editor::autosave::disk;
use touchpoint_render::offscreen::write_png;
use touchpoint_render::{GpuContext, OffscreenTarget};
use touchpoint_scene::camera::{Camera, MAX_ZOOM, MIN_ZOOM};
use touchpoint_scene::geom::Vec2;
use touchpoint_scene::scene::Scene;

/// Margin around the board when fitting it, in pixels.
pub const FIT_PADDING_PX: f64 = 40.0;

/// Which part of the board the image shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum View {
    /// Everything, centred, with [`FIT_PADDING_PX`] of margin.
    Fit,
    /// The world point at the image centre and the zoom (1 = 100%).
    At { center: Vec2, zoom: f64 },
}

impl FromStr for View {
    type Err = String;

    fn from_str(s: &str) -> Result<View, String> {
        if s == "fit" {
            return Ok(View::Fit);
        }
        let parts: Vec<&str> = s.split(',').collect();
        let bad = || format!("expected `fit` or X,Y,ZOOM (e.g. 0,0,1.5), got `{s}`");
        let [x, y, zoom] = parts[..] else {
            return Err(bad());
        };
        let num = |v: &str| v.trim().parse::<f64>().ok().filter(|n| n.is_finite());
        let (Some(x), Some(y), Some(zoom)) = (num(x), num(y), num(zoom)) else {
            return Err(bad());
        };
        if !(MIN_ZOOM..=MAX_ZOOM).contains(&zoom) {
            return Err(format!(
                "zoom {zoom} is outside {MIN_ZOOM}..={MAX_ZOOM} (1 = 100%)"
            ));
        }
        Ok(View::At {
            center: Vec2::new(x, y),
            zoom,
        })
    }
}

/// The camera for an image of `size` pixels showing `view` of `scene`.
pub fn camera_for(scene: &Scene, size: Vec2, view: View) -> Camera {
    let mut camera = Camera::new(size, 1.0);
    match view {
        View::Fit => {
            if let Some(bounds) = scene.world_bounds() {
                camera.zoom_to_fit(bounds, FIT_PADDING_PX);
            }
        }
        View::At { center, zoom } => {
            camera.zoom_at(Vec2::ZERO, zoom);
            let now = camera.world_from_screen(size / 2.0);
            camera.pan_by((now - center) * camera.pixels_per_unit());
        }
    }
    camera
}

pub fn run(board: &Path, out: &Path, width: u32, height: u32, view: View) -> anyhow::Result<()> {
    let doc = disk::load(board)?;
    let scene = Scene::build(&doc);
    let camera = camera_for(&scene, Vec2::new(f64::from(width), f64::from(height)), view);
    let gpu = GpuContext::new()?;
    let target = OffscreenTarget::new(&gpu, width, height)?;
    let mut renderer = gpu.renderer();
    let rgba = target.render_rgba(&gpu, &mut renderer, &scene, &camera)?;
    if out.as_os_str().is_empty() {
        bail!("no output file given");
    }
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_png(BufWriter::new(file), width, height, &rgba)
        .with_context(|| format!("cannot write {}", out.display()))?;
    tracing::info!(
        "rendered {} elements on {} to {}",
        scene.len(),
        gpu.describe(),
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_parse() {
        assert_eq!("fit".parse::<View>(), Ok(View::Fit));
        assert_eq!(
            "10,-20.5,2".parse::<View>(),
            Ok(View::At {
                center: Vec2::new(10.0, -20.5),
                zoom: 2.0
            })
        );
        assert!("1,2".parse::<View>().is_err());
        assert!("a,b,c".parse::<View>().is_err());
        assert!("0,0,100".parse::<View>().is_err());
    }

    #[test]
    fn explicit_view_centres_the_point() {
        let scene = Scene::new();
        let size = Vec2::new(400.0, 300.0);
        let cam = camera_for(
            &scene,
            size,
            View::At {
                center: Vec2::new(50.0, 60.0),
                zoom: 2.0,
            },
        );
        assert_eq!(cam.zoom(), 2.0);
        let c = cam.world_from_screen(size / 2.0);
        assert!(c.distance(Vec2::new(50.0, 60.0)) < 1e-9);
    }
}
