//! Scene benchmarks on a board of 100,000 elements: what opening a board,
//! one edit, one pointer move and one frame's culling cost the canvas.
//!
//! The board: `touchpoint_scene::sample::grid_board` (per group of ten elements,
//! five stickies with text, three shapes and two ink strokes on a grid; one
//! connector per hundred elements).
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
use touchpoint_scene::geom::{Rect, Vec2};
use touchpoint_scene::sample::{CELL, grid_board};
use touchpoint_scene::scene::Scene;

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
    let (mut board, ids) = grid_board(n, 1).expect("build the board");
    // The first sticky has a bound connector.
    let dragged = ids[0].clone();
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
