//! Offscreen frame time of the GPU renderer (lavapipe where there is no GPU).
//!
//! The boards: `render_common::board` (stickies and shapes with text, ink,
//! connectors on a grid). The viewport is 1920 x 1080 physical pixels, with
//! the sample count the adapter allows (`GpuContext`).
//!
//! - `render/fit/N`: the whole board in view (every element visible; text as
//!   glyphs where it is at least 4 px on screen, else level-of-detail bars);
//! - `render/100%/N`, `render/200%/N`: zoomed in at the board's centre (a few
//!   dozen elements survive culling; their text as glyphs);
//! - `render/pan/N`: a drag at 100%, 30 px per frame, 60 frames right and 60
//!   back (each iteration draws the next camera of the cycle);
//! - `render/zoom/N`: wheel zoom at the centre from fit to 200% and back, 60
//!   geometric steps each way.
//!
//! One frame is `Renderer::prepare` (cull, build instances, upload) plus the
//! render pass, submitting it and waiting for the GPU; no read-back. After
//! each benchmark the medians of the two halves are printed (`cpu prepare`,
//! `gpu submit+wait`; on lavapipe the "GPU" is the CPU rasteriser). One frame
//! of each view is drawn before timing, so paths are already tessellated at
//! its level of detail (the board does not change); the first frame's cost
//! (fit) is printed. `TOUCHPOINT_BENCH_SIZES` (default
//! `1000,10000,100000`) changes the sizes; `TOUCHPOINT_BENCH_SAMPLES=1`
//! measures without MSAA (paths then lose their antialiasing).

mod render_common;

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use render_common::{VIEWPORT, board, median, sizes};
use touchpoint_render::{GpuContext, OffscreenTarget};
use touchpoint_scene::camera::Camera;
use touchpoint_scene::scene::Scene;

fn benches(c: &mut Criterion) {
    let mut gpu = match GpuContext::new() {
        Ok(gpu) => gpu,
        Err(e) => panic!("{e}"),
    };
    // What the frame would cost at another sample count (1: no MSAA; paths
    // are then not antialiased, so this is a measurement, not the product).
    if let Some(samples) = std::env::var("TOUCHPOINT_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        gpu.sample_count = samples;
    }
    eprintln!(
        "adapter: {}, {}x MSAA, {}x{}",
        gpu.describe(),
        gpu.sample_count,
        VIEWPORT.x,
        VIEWPORT.y
    );
    let target = OffscreenTarget::new(&gpu, VIEWPORT.x as u32, VIEWPORT.y as u32).expect("target");
    let mut group = c.benchmark_group("render");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in sizes("1000,10000,100000") {
        let mut doc = board(n);
        let (_changes_sub, changes) = doc.change_queue();
        let scene = Scene::build(&doc);
        let bounds = scene.world_bounds().expect("non-empty board");
        let mut fit = Camera::new(VIEWPORT, 1.0);
        fit.zoom_to_fit(bounds, 40.0);
        let zoomed = |zoom: f64| {
            let mut c = fit;
            c.zoom_at(VIEWPORT / 2.0, zoom);
            c
        };
        let pan: Vec<Camera> = (0..120)
            .map(|i| {
                let mut c = zoomed(1.0);
                let step = if i < 60 { i } else { 120 - i };
                c.pan_by(touchpoint_scene::geom::Vec2::new(-30.0 * step as f64, 0.0));
                c
            })
            .collect();
        let (lo, hi) = (fit.zoom(), 2.0);
        let zoom: Vec<Camera> = (0..120)
            .map(|i| {
                let step = if i < 60 { i } else { 120 - i } as f64 / 60.0;
                zoomed(lo * (hi / lo).powf(step))
            })
            .collect();

        let mut renderer = gpu.renderer();
        let start = Instant::now();
        let stats = target
            .render(&gpu, &mut renderer, &scene, &fit)
            .expect("first frame");
        eprintln!(
            "{n} elements: first frame (tessellating every path) {:.1} ms; {} path triangles; fit: {} visible, {} instances, {} draws, {} text areas as glyphs ({} shaped)",
            start.elapsed().as_secs_f64() * 1e3,
            stats.path_triangles,
            stats.visible_elements,
            stats.instances,
            stats.draws,
            stats.text_areas,
            stats.text_shaped
        );
        // A drag across the whole board at fit zoom, 30 px per frame.
        let pan_fit: Vec<Camera> = (0..120)
            .map(|i| {
                let mut c = fit;
                let step = if i < 60 { i } else { 120 - i };
                c.pan_by(touchpoint_scene::geom::Vec2::new(-30.0 * step as f64, 0.0));
                c
            })
            .collect();
        let mut tiled = gpu.renderer();
        tiled.enable_tile_cache();
        let views: Vec<(&str, Vec<Camera>, bool)> = vec![
            ("fit", vec![fit], false),
            ("100%", vec![zoomed(1.0)], false),
            ("200%", vec![zoomed(2.0)], false),
            ("pan", pan, false),
            ("zoom", zoom.clone(), false),
            ("pan-fit", pan_fit.clone(), false),
            ("tiles/fit", vec![fit], true),
            ("tiles/pan-fit", pan_fit, true),
            ("tiles/zoom", zoom, true),
        ];
        for (name, cameras, use_tiles) in views {
            let renderer = if use_tiles { &mut tiled } else { &mut renderer };
            // Tessellates what this view shows at its level of detail (a
            // pan or zoom sequence reveals more in its first cycle).
            let stats = target
                .render(&gpu, renderer, &scene, &cameras[0])
                .expect("frame");
            let mut split: Vec<(f64, f64)> = Vec::new();
            let mut next = 0;
            group.bench_function(format!("{name}/{n}"), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let camera = &cameras[next % cameras.len()];
                        next += 1;
                        let t = target
                            .render_timed(&gpu, renderer, &scene, camera)
                            .expect("frame");
                        total += t.prepare + t.gpu;
                        split.push((t.prepare.as_secs_f64() * 1e3, t.gpu.as_secs_f64() * 1e3));
                    }
                    total
                })
            });
            eprintln!(
                "{name}/{n}: median cpu prepare {:.2} ms, gpu submit+wait {:.2} ms, slowest frame {:.1} ms over {} frames; first frame: {} visible, {} instances, {} draws, {} text areas as glyphs, {} tiles ({} drawn into)",
                median(split.iter().map(|s| s.0).collect()),
                median(split.iter().map(|s| s.1).collect()),
                split.iter().map(|s| s.0 + s.1).fold(0.0, f64::max),
                split.len(),
                stats.visible_elements,
                stats.instances,
                stats.draws,
                stats.text_areas,
                stats.tiles,
                stats.tiles_rendered
            );
        }
        // Dragging a note at fit zoom: each frame moves it 30 px and draws
        // again the tiles its old and new bounds touch.
        let mut scene = scene;
        // The note nearest the middle of the view, so its tiles are on screen.
        let middle = fit.world_from_screen(VIEWPORT / 2.0);
        let note = doc
            .elements()
            .into_iter()
            .filter(|e| e.kind() == touchpoint_crdt::Kind::Sticky)
            .min_by(|a, b| {
                let d = |e: &touchpoint_crdt::Element| {
                    (touchpoint_scene::geom::Vec2::new(e.geom.x, e.geom.y) - middle).length()
                };
                d(a).total_cmp(&d(b))
            })
            .expect("a sticky");
        let mut split: Vec<(f64, f64)> = Vec::new();
        let mut step = 0u32;
        let mut stats = touchpoint_render::FrameStats::default();
        group.bench_function(format!("tiles/fit-drag/{n}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    step += 1;
                    let dx = f64::from(step % 60 + 1) * 30.0 / fit.pixels_per_unit();
                    let mut geom = note.geom;
                    geom.x += dx;
                    doc.set_geometry(&note.id, geom).expect("move");
                    for c in changes.lock().expect("queue").drain(..) {
                        scene.apply(&doc, &c);
                    }
                    let t = target
                        .render_timed(&gpu, &mut tiled, &scene, &fit)
                        .expect("frame");
                    total += t.prepare + t.gpu;
                    stats = t.stats;
                    split.push((t.prepare.as_secs_f64() * 1e3, t.gpu.as_secs_f64() * 1e3));
                }
                total
            })
        });
        eprintln!(
            "tiles/fit-drag/{n}: median cpu prepare {:.2} ms, gpu submit+wait {:.2} ms over {} frames; last frame: {} tiles, {} drawn into ({} elements)",
            median(split.iter().map(|s| s.0).collect()),
            median(split.iter().map(|s| s.1).collect()),
            split.len(),
            stats.tiles,
            stats.tiles_rendered,
            stats.visible_elements
        );
    }
    group.finish();
}

criterion_group!(render, benches);
criterion_main!(render);
