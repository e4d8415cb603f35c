//! The board the render benchmarks draw (`render`, `render_open`).
//!
//! Per group of ten elements: four stickies with text, three shapes with
//! text (every outline in turn), two ink strokes of 16 points and one
//! connector bound from the group's first sticky (right anchor) to its
//! first shape (left anchor), on a square grid of cells 250 world units
//! apart.

// Shared by two bench binaries, each of which uses only part of it.
#![allow(dead_code)]

use touchpoint_crdt::{Anchor, Board, End, Geometry, NewElement, ShapeKind};
use touchpoint_scene::geom::Vec2;

pub const CELL: f64 = 250.0;
const BATCH: usize = 1_000;
pub const VIEWPORT: Vec2 = Vec2::new(1920.0, 1080.0);

/// Sizes from `TOUCHPOINT_BENCH_SIZES` (comma-separated), else `default`.
pub fn sizes(default: &str) -> Vec<usize> {
    std::env::var("TOUCHPOINT_BENCH_SIZES")
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

pub fn board(n: usize) -> Board {
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

/// Peak and current resident memory of this process in KiB (`VmHWM`,
/// `VmRSS` from /proc/self/status; 0 where there is none).
pub fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}
