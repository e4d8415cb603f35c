//! Offscreen frame time of the GPU renderer (lavapipe where there is no GPU).
//!
//! The boards: per group of ten elements, four stickies with text, three
//! shapes (every outline in turn), two ink strokes of 16 points and one
//! connector bound from the group's first sticky (right anchor) to its first
//! shape (left anchor), on a square grid of cells 250 world units apart.
//!
//! - `render/fit/N`: the whole board of N elements in a 1920 x 1080 image
//!   (every element visible; text as glyphs where it is at least
//!   4 px on screen, else bars).
//! - `render/zoomed_in/N`: 100% at the board's centre (a few dozen
//!   elements survive culling; their text as glyphs).
//!
//! One frame is `Renderer::prepare` (cull, build instances, upload) plus the
//! render pass and waiting for the GPU to finish; no read-back. Paths are
//! tessellated once before timing (the board does not change between
//! frames); the first frame's cost, tessellation included, is printed.
//! `TOUCHPOINT_BENCH_SIZES` (default `1000,10000`) changes the sizes.

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use touchpoint::camera::Camera;
use touchpoint::geom::Vec2;
use touchpoint::render::{GpuContext, OffscreenTarget};
use touchpoint::scene::Scene;
use touchpoint_crdt::{Anchor, Board, End, Geometry, NewElement, ShapeKind};

const CELL: f64 = 250.0;
const BATCH: usize = 1_000;
const VIEWPORT: Vec2 = Vec2::new(1920.0, 1080.0);

fn board(n: usize) -> Board {
    let columns = (n as f64).sqrt().ceil() as usize;
    let cell = |i: usize| ((i % columns) as f64 * CELL, (i / columns) as f64 * CELL);
    let mut board = Board::with_client_id(1);
    let groups = n / 10;
    let news: Vec<NewElement> = (0..groups * 10)
        .filter(|i| i % 10 != 9)
        .map(|i| {
            let (x, y) = cell(i);
            match i % 10 {
                0..=3 => NewElement::sticky(x, y, "A note about the service"),
                4..=6 => NewElement::shape(
                    ShapeKind::ALL[i % ShapeKind::ALL.len()],
                    Geometry::new(x, y, 180.0, 120.0),
                )
                .with_text("Step"),
                _ => {
                    let pts: Vec<[f32; 2]> = (0..16)
                        .map(|k| [x as f32 + k as f32 * 10.0, y as f32 + (k % 3) as f32 * 20.0])
                        .collect();
                    NewElement::ink(&pts)
                }
            }
        })
        .collect();
    let mut ids = Vec::with_capacity(n);
    for chunk in news.chunks(BATCH) {
        ids.extend(board.create_many(chunk.to_vec()).expect("create"));
    }
    // Nine created per group: sticky at 0, first shape at 4.
    let links: Vec<NewElement> = (0..groups)
        .map(|g| {
            NewElement::connector(
                End::bound(&ids[g * 9], Anchor::Right),
                End::bound(&ids[g * 9 + 4], Anchor::Left),
            )
        })
        .collect();
    for chunk in links.chunks(BATCH) {
        board.create_many(chunk.to_vec()).expect("connect");
    }
    board
}

fn benches(c: &mut Criterion) {
    let sizes: Vec<usize> = std::env::var("TOUCHPOINT_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let gpu = match GpuContext::new() {
        Ok(gpu) => gpu,
        Err(e) => panic!("{e}"),
    };
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
        .measurement_time(Duration::from_secs(4));
    for n in sizes {
        let scene = Scene::build(&board(n));
        let bounds = scene.world_bounds().expect("non-empty board");
        let mut fit = Camera::new(VIEWPORT, 1.0);
        fit.zoom_to_fit(bounds, 40.0);
        let mut zoomed = Camera::new(VIEWPORT, 1.0);
        zoomed.zoom_to_fit(bounds, 40.0);
        zoomed.zoom_at(VIEWPORT / 2.0, 1.0);

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
        for (name, camera) in [("fit", &fit), ("zoomed_in", &zoomed)] {
            let stats = target
                .render(&gpu, &mut renderer, &scene, camera)
                .expect("frame");
            assert!(!stats.paths_rebuilt, "the scene did not change");
            if name == "zoomed_in" {
                eprintln!(
                    "{n} elements: zoomed in: {} visible, {} instances, {} draws, {} text areas as glyphs",
                    stats.visible_elements, stats.instances, stats.draws, stats.text_areas
                );
            }
            group.bench_function(format!("{name}/{n}"), |b| {
                b.iter(|| {
                    target
                        .render(&gpu, &mut renderer, &scene, camera)
                        .expect("frame")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(render, benches);
criterion_main!(render);
