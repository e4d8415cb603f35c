//! PNG export: the GPU renderer's picture of the board (what you see on the
//! canvas), offscreen, at a chosen scale, without the canvas's dot grid.
//!
//! How it works:
//! - The image covers the scope's content bounds plus padding (as the SVG
//!   export's view box does) at `scale` pixels per world unit (1 = 100%).
//!   For a frame or a selection, a scene holding only those elements is
//!   built from the board, so nothing else shows through.
//! - It is drawn in tiles of at most [`TILE`] pixels (less where the device
//!   allows less), each with [`Renderer::prepare`] and [`Renderer::draw`]
//!   into a texture cleared to transparent, read back, and streamed into
//!   the PNG a strip of tiles at a time: memory is bounded by one strip, not
//!   the image. Images over [`MAX_PIXELS`] are refused.
//! - The renderer always draws its background dot grid first. Its dots are
//!   known exactly (the grid's spacing, radius and coverage are computed as
//!   the shader does), so they are taken back out: where a dot covers a
//!   pixel partly, the content over it is recovered exactly from the
//!   premultiplied blend; in a dot's fully covered core (a pixel or a few),
//!   a pixel of the dot's own colour becomes empty, and otherwise the
//!   content's opacity is the highest just outside the dot (so a line or an
//!   edge through a dot is kept as drawn, and a soft shadow over one is
//!   recovered). The render over the dots is otherwise untouched.
//! - Then the content is composited over the export background (white, as
//!   the SVG's) or left transparent (straight alpha in the PNG).

use std::io::Write;

use touchpoint_crdt::{Board, ChangeOrigin, Changes};

use crate::OffscreenTarget;
use crate::{GRID_DOT, GpuContext, RenderError, grid_spacing};
use touchpoint_scene::camera::Camera;
use touchpoint_scene::export::svg::{BACKGROUND, ExportStats, Scope, Selection, SvgError};
use touchpoint_scene::geom::{Rect, Vec2};
use touchpoint_scene::scene::Scene;

/// Why a PNG export failed.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    #[error("scale must be a number above 0 and at most 64 (1 = 100%), not {0}")]
    BadScale(f64),
    #[error(
        "image too large: {width}x{height} pixels at scale {scale}, more than {max} pixels; \
         lower the scale or export a frame or a selection"
    )]
    ImageTooLarge {
        width: u64,
        height: u64,
        scale: f64,
        max: u64,
    },
    /// What to export (the scope, the padding) was refused, as for SVG.
    #[error(transparent)]
    Scope(#[from] SvgError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("cannot write the PNG: {0}")]
    Io(#[from] std::io::Error),
}

/// Largest tile side, pixels.
pub const TILE: u32 = 2048;
/// Largest image exported, in pixels (16384 x 16384).
pub const MAX_PIXELS: u64 = 16384 * 16384;
/// Largest scale accepted (pixels per world unit).
pub const MAX_SCALE: f64 = 64.0;

/// Options of [`write_png`].
#[derive(Debug, Clone, PartialEq)]
pub struct PngOptions {
    pub scope: Scope,
    /// Pixels per world unit: 1 = 100%, 2 = 200% (HiDPI). Default 1.
    pub scale: f64,
    /// World units around the content. Default: the SVG's.
    pub padding: f64,
    /// White background (true) or transparent. Default: true.
    pub background: bool,
}

impl Default for PngOptions {
    fn default() -> PngOptions {
        PngOptions {
            scope: Scope::Board,
            scale: 1.0,
            padding: touchpoint_scene::export::svg::DEFAULT_PADDING,
            background: true,
        }
    }
}

/// The image size for `view` at `scale`, or why it is refused.
pub fn image_size(view: Rect, scale: f64) -> Result<(u32, u32), PngError> {
    if !scale.is_finite() || scale <= 0.0 || scale > MAX_SCALE {
        return Err(PngError::BadScale(scale));
    }
    let w = (view.width() * scale).ceil().max(1.0);
    let h = (view.height() * scale).ceil().max(1.0);
    if !w.is_finite() || !h.is_finite() || w * h > MAX_PIXELS as f64 || w > 1e9 || h > 1e9 {
        return Err(PngError::ImageTooLarge {
            width: w as u64,
            height: h as u64,
            scale,
            max: MAX_PIXELS,
        });
    }
    Ok((w as u32, h as u32))
}

/// A scene holding only `ids` of `board` (with their frames' clipping).
fn scene_of(board: &Board, ids: impl IntoIterator<Item = String>) -> Scene {
    let mut scene = Scene::new();
    let changes = Changes {
        origin: ChangeOrigin::Remote,
        created: ids.into_iter().collect(),
        changed: Default::default(),
        deleted: Default::default(),
    };
    scene.apply(board, &changes);
    scene
}

/// Renders `scene` (the part `options.scope` names; `board` is what the
/// scene was built from, needed for a frame or a selection) on `gpu` and
/// writes it to `out` as a PNG. `progress(done, total)` counts elements,
/// advanced tile by tile.
pub fn write_png<W: Write>(
    gpu: &GpuContext,
    board: &Board,
    scene: &Scene,
    options: &PngOptions,
    out: W,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ExportStats, PngError> {
    if !options.padding.is_finite() || options.padding < 0.0 {
        return Err(PngError::Scope(SvgError::BadPadding(options.padding)));
    }
    let selection = Selection::new(scene, &options.scope)?;
    let (bounds, count) = selection.bounds(scene);
    let view = bounds
        .unwrap_or_else(|| Rect::point(Vec2::ZERO))
        .expand(options.padding);
    let (width, height) = image_size(view, options.scale)?;
    let scoped;
    let scene = match selection.ids() {
        Some(ids) => {
            scoped = scene_of(board, ids.iter().map(|s| (*s).to_owned()));
            &scoped
        }
        None => scene,
    };

    let max = gpu.device.limits().max_texture_dimension_2d;
    let tile = TILE.min(max).max(1);
    let target = OffscreenTarget::new(gpu, tile.min(width), tile.min(height))?
        .with_clear(wgpu::Color::TRANSPARENT);
    let mut renderer = gpu.renderer();
    let dots = Dots::new(options.scale);

    let mut counted = Counted { out, bytes: 0 };
    let mut encoder = ::png::Encoder::new(&mut counted, width, height);
    encoder.set_color(::png::ColorType::Rgba);
    encoder.set_depth(::png::BitDepth::Eight);
    encoder.set_source_srgb(::png::SrgbRenderingIntent::Perceptual);
    let mut writer = encoder.write_header().map_err(RenderError::from)?;
    let mut stream = writer.stream_writer().map_err(RenderError::from)?;

    let tiles_x = width.div_ceil(target.width());
    let tiles_y = height.div_ceil(target.height());
    let total_tiles = u64::from(tiles_x) * u64::from(tiles_y);
    let mut done_tiles = 0u64;
    progress(0, count);
    let mut strip = Vec::new();
    for ty in 0..tiles_y {
        let y0 = ty * target.height();
        let rows = target.height().min(height - y0);
        strip.clear();
        strip.resize(width as usize * rows as usize * 4, 0);
        for tx in 0..tiles_x {
            let x0 = tx * target.width();
            let cols = target.width().min(width - x0);
            let mut camera = Camera::new(
                Vec2::new(f64::from(target.width()), f64::from(target.height())),
                options.scale,
            );
            let origin = view.min + Vec2::new(f64::from(x0), f64::from(y0)) / options.scale;
            camera.pan_by(-origin * camera.pixels_per_unit());
            let mut rgba = target.render_rgba(gpu, &mut renderer, scene, &camera)?;
            dots.remove(&mut rgba, target.width(), target.height(), &camera);
            for y in 0..rows as usize {
                let src = &rgba[y * target.width() as usize * 4..][..cols as usize * 4];
                let dst = &mut strip[(y * width as usize + x0 as usize) * 4..][..cols as usize * 4];
                for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                    d.copy_from_slice(&finish(s, options.background));
                }
            }
            done_tiles += 1;
            progress((count as u64 * done_tiles / total_tiles) as usize, count);
        }
        stream.write_all(&strip)?;
    }
    stream.finish().map_err(RenderError::from)?;
    writer.finish().map_err(RenderError::from)?;
    counted.flush()?;
    Ok(ExportStats {
        elements: count,
        bytes: counted.bytes,
        view_box: view,
    })
}

/// A writer that counts the bytes through it.
struct Counted<W> {
    out: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// sRGB byte to linear light.
fn linear(v: u8) -> f32 {
    let v = f32::from(v) / 255.0;
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// Linear light to an sRGB byte.
fn srgb(v: f32) -> u8 {
    let v = v.clamp(0.0, 1.0);
    let s = if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    };
    (s * 255.0).round() as u8
}

/// A read-back pixel (sRGB-encoded premultiplied linear colour, linear
/// alpha) as PNG bytes: over the white background, or straight alpha.
fn finish(p: &[u8], background: bool) -> [u8; 4] {
    let a = f32::from(p[3]) / 255.0;
    let lin = [linear(p[0]), linear(p[1]), linear(p[2])];
    if background {
        let bg = [BACKGROUND.r, BACKGROUND.g, BACKGROUND.b].map(linear);
        let c = |i: usize| srgb(lin[i] + (1.0 - a) * bg[i]);
        [c(0), c(1), c(2), 255]
    } else if p[3] == 0 {
        [0, 0, 0, 0]
    } else {
        let c = |i: usize| srgb(lin[i] / a);
        [c(0), c(1), c(2), p[3]]
    }
}

/// The renderer's background dots, as its shader draws them, to take out.
struct Dots {
    ppu: f64,
    spacing: f64,
    radius: f64,
    color: [f32; 3],
}

impl Dots {
    fn new(ppu: f64) -> Dots {
        Dots {
            ppu,
            spacing: grid_spacing(ppu),
            radius: 1.0f64.max(1.2 * ppu.min(2.0)),
            color: [GRID_DOT[0], GRID_DOT[1], GRID_DOT[2]].map(linear),
        }
    }

    /// Coverage of the dot centred at `c` (pixels) at pixel (x, y).
    fn coverage(&self, c: Vec2, x: i64, y: i64) -> f32 {
        let d = Vec2::new(x as f64 + 0.5, y as f64 + 0.5).distance(c);
        (self.radius + 0.5 - d).clamp(0.0, 1.0) as f32
    }

    /// Takes the dots out of a tile read back from a transparent clear.
    fn remove(&self, rgba: &mut [u8], width: u32, height: u32, camera: &Camera) {
        let (w, h) = (i64::from(width), i64::from(height));
        let origin = camera.origin_in_world();
        let first = Vec2::new(
            (origin.x / self.spacing).floor(),
            (origin.y / self.spacing).floor(),
        );
        let step = self.spacing * self.ppu;
        let reach = (self.radius + 1.0).ceil() as i64;
        let ring = reach + 1;
        let columns = (f64::from(width) / step).ceil() as i64 + 2;
        let rows = (f64::from(height) / step).ceil() as i64 + 2;
        for j in 0..rows {
            for i in 0..columns {
                let cell = first + Vec2::new(i as f64, j as f64);
                let c = (cell * self.spacing - origin) * self.ppu;
                let (cx, cy) = (c.x.floor() as i64, c.y.floor() as i64);
                if cx + reach < 0 || cy + reach < 0 || cx - reach >= w || cy - reach >= h {
                    continue;
                }
                // Opacity of the content just outside the dot (four pixels
                // around it), for its core.
                let mut outside = Vec::with_capacity(4);
                for (dx, dy) in [(ring, 0), (-ring, 0), (0, ring), (0, -ring)] {
                    let (x, y) = (cx + dx, cy + dy);
                    if (0..w).contains(&x) && (0..h).contains(&y) {
                        outside.push(f32::from(rgba[((y * w + x) * 4 + 3) as usize]) / 255.0);
                    }
                }
                let around = outside.iter().copied().fold(0.0, f32::max);
                for y in (cy - reach).max(0)..(cy + reach + 1).min(h) {
                    for x in (cx - reach).max(0)..(cx + reach + 1).min(w) {
                        let cov = self.coverage(c, x, y);
                        if cov <= 0.0 {
                            continue;
                        }
                        let at = ((y * w + x) * 4) as usize;
                        let p = &mut rgba[at..at + 4];
                        let pa = f32::from(p[3]) / 255.0;
                        let plin = [linear(p[0]), linear(p[1]), linear(p[2])];
                        // The content's opacity: solved from the blend where
                        // the dot lets some through; in the core, none when
                        // the pixel is the dot's own colour, else the most
                        // opaque content just around the dot (a line or an
                        // edge through the dot counts as opaque).
                        let a = if cov < 0.9 {
                            ((pa - cov) / (1.0 - cov)).clamp(0.0, 1.0)
                        } else if (0..3).all(|k| (plin[k] - self.color[k] * cov).abs() < 0.01) {
                            0.0
                        } else if around > 0.99 {
                            1.0
                        } else {
                            around
                        };
                        // Below the noise of 8-bit read-back (amplified
                        // by the division above): nothing there.
                        if a < 1.0 / 255.0 / (1.0 - cov.min(0.9)) {
                            p.copy_from_slice(&[0, 0, 0, 0]);
                            continue;
                        }
                        if a >= 1.0 && cov >= 0.9 {
                            continue; // opaque content over the core: as drawn
                        }
                        for k in 0..3 {
                            let c = (plin[k] - (1.0 - a) * self.color[k] * cov).clamp(0.0, a);
                            p[k] = srgb(c);
                        }
                        p[3] = (a * 255.0).round() as u8;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_limits() {
        let view = Rect::from_corners(Vec2::new(-10.0, 0.0), Vec2::new(90.5, 40.0));
        assert_eq!(image_size(view, 1.0).unwrap(), (101, 40));
        assert_eq!(image_size(view, 2.0).unwrap(), (201, 80));
        assert!(matches!(image_size(view, 0.0), Err(PngError::BadScale(_))));
        assert!(matches!(
            image_size(view, f64::NAN),
            Err(PngError::BadScale(_))
        ));
        let huge = Rect::from_corners(Vec2::ZERO, Vec2::new(1e6, 1e6));
        assert!(matches!(
            image_size(huge, 1.0),
            Err(PngError::ImageTooLarge { .. })
        ));
    }

    #[test]
    fn finishing_pixels() {
        // Transparent stays transparent, or white over the background.
        assert_eq!(finish(&[0, 0, 0, 0], false), [0, 0, 0, 0]);
        assert_eq!(finish(&[0, 0, 0, 0], true), [255, 255, 255, 255]);
        // Opaque is unchanged either way.
        assert_eq!(finish(&[10, 200, 30, 255], true), [10, 200, 30, 255]);
        assert_eq!(finish(&[10, 200, 30, 255], false), [10, 200, 30, 255]);
        for v in [0u8, 1, 50, 128, 254, 255] {
            assert_eq!(srgb(linear(v)), v);
        }
    }

    #[test]
    fn a_lone_dot_is_taken_out_and_content_over_it_kept() {
        let dots = Dots::new(1.0);
        let camera = Camera::new(Vec2::new(64.0, 64.0), 1.0);
        // Paint the dots as the shader would over a transparent clear.
        let mut rgba = vec![0u8; 64 * 64 * 4];
        for y in 0..64i64 {
            for x in 0..64i64 {
                let mut best = 0.0f32;
                for cy in [0.0, 24.0, 48.0, 72.0] {
                    for cx in [0.0, 24.0, 48.0, 72.0] {
                        best = best.max(dots.coverage(Vec2::new(cx, cy), x, y));
                    }
                }
                let at = ((y * 64 + x) * 4) as usize;
                for k in 0..3 {
                    rgba[at + k] = srgb(dots.color[k] * best);
                }
                rgba[at + 3] = (best * 255.0).round() as u8;
            }
        }
        // An opaque red square over the dot at (24, 24).
        for y in 20..29 {
            for x in 20..29 {
                let at = (y * 64 + x) * 4;
                rgba[at..at + 4].copy_from_slice(&[255, 0, 0, 255]);
            }
        }
        dots.remove(&mut rgba, 64, 64, &camera);
        for y in 0..64usize {
            for x in 0..64usize {
                let at = (y * 64 + x) * 4;
                let want: &[u8] = if (20..29).contains(&x) && (20..29).contains(&y) {
                    &[255, 0, 0, 255]
                } else {
                    &[0, 0, 0, 0]
                };
                assert_eq!(&rgba[at..at + 4], want, "({x}, {y})");
            }
        }
    }
}
