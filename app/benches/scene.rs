//! Scene benchmarks on a board of 100,000 elements: what opening a board,
//! one edit, one pointer move and one frame's culling cost the canvas.
//!
//! The board: per group of ten elements, five stickies with text, three
//! shapes (every outline in turn) and two ink strokes of 16 points, on a grid
//! of cells 250 world units apart, 300 columns wide; then one connector per
//! hundred elements, bound from a sticky (right anchor) to a shape of the
//! same group (left anchor).
//!
//! - `scene_build_100k`: `Scene::build` of the whole board.
//! - `scene_apply_move`: `Board::move_by` of one sticky with a bound
//!   connector, then `Scene::apply` of its change event (the edit included).
//! - `hit_test`: `Scene::hit_test` at a point on a sticky.
//! - `cull_viewport`: `Scene::query_rect` of a 1920 x 1080 world viewport at
//!   100% (40 elements in view).
//!
//! `TOUCHPOINT_BENCH_ELEMENTS` (default 100000, at least 100) lowers the
//! size for a quick look. Sampling is flat with 10 samples.

use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use touchpoint::geom::{Rect, Vec2};
use touchpoint::scene::Scene;
use touchpoint_crdt::{Anchor, Board, End, Geometry, NewElement, ShapeKind};

const COLUMNS: usize = 300;
const CELL: f64 = 250.0;
/// Elements per `create_many` (one transaction each).
const BATCH: usize = 1_000;

fn cell(i: usize) -> (f64, f64) {
    ((i % COLUMNS) as f64 * CELL, (i / COLUMNS) as f64 * CELL)
}

fn board(n: usize) -> (Board, String) {
    let mut board = Board::with_client_id(1);
    let connectors = n / 100;
    let news: Vec<NewElement> = (0..n - connectors)
        .map(|i| {
            let (x, y) = cell(i);
            match i % 10 {
                0..=4 => NewElement::sticky(x, y, "A note about the service"),
                5..=7 => NewElement::shape(
                    ShapeKind::ALL[i % ShapeKind::ALL.len()],
                    Geometry::new(x, y, 180.0, 120.0),
                ),
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
    // Sticky k * 90 and the shape five places on, in the same group.
    let links: Vec<NewElement> = (0..connectors)
        .map(|k| {
            NewElement::connector(
                End::bound(&ids[k * 90], Anchor::Right),
                End::bound(&ids[k * 90 + 5], Anchor::Left),
            )
        })
        .collect();
    for chunk in links.chunks(BATCH) {
        board.create_many(chunk.to_vec()).expect("connect");
    }
    // The first sticky has a bound connector.
    (board, ids[0].clone())
}

fn benches(c: &mut Criterion) {
    let n: usize = std::env::var("TOUCHPOINT_BENCH_ELEMENTS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(100_000);
    let label = if n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    };
    let (mut board, dragged) = board(n);
    let mut group = c.benchmark_group("scene");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));

    group.bench_function(format!("scene_build_{label}"), |b| {
        b.iter(|| Scene::build(&board))
    });

    let mut scene = Scene::build(&board);
    let (sub, queue) = board.change_queue();
    let mut step = 1.0;
    group.bench_function("scene_apply_move", |b| {
        b.iter(|| {
            step = -step;
            board.move_by(&[&dragged], step, 0.0).expect("move");
            let pending: Vec<_> = std::mem::take(&mut *queue.lock().expect("queue"));
            for changes in &pending {
                scene.apply(&board, changes);
            }
        })
    });
    drop(sub);

    let on_sticky = Vec2::new(CELL * 2.0 + 100.0, 100.0);
    group.bench_function("hit_test", |b| b.iter(|| scene.hit_test(on_sticky, 4.0)));

    let viewport = Rect::from_min_size(Vec2::new(5000.0, 2000.0), Vec2::new(1920.0, 1080.0));
    group.bench_function("cull_viewport", |b| {
        b.iter(|| scene.query_rect(&viewport).len())
    });
    group.finish();
}

criterion_group!(scene, benches);
criterion_main!(scene);
