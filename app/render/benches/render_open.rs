//! Time from opening a `.tpboard` file to the first frame, and memory, for
//! boards of 1,000, 10,000 and 100,000 elements (`render_common::board`).
//!
//! `cargo bench -p touchpoint --bench render_open`: for each size the board
//! is saved to a temporary file, then a fresh process (this binary again,
//! so peak memory is per size) opens it and draws, offscreen at 1920 x 1080:
//! `file::load` -> `Scene::build` -> GPU device and renderer -> first frame
//! at zoom to fit (every path tessellated at that level of detail) -> 20
//! more frames at fit -> 20 frames panning at 100%. It reports each step's
//! time and the process's peak resident memory (`VmHWM`) after the first
//! frame and at the end. Three runs per size; medians are printed.
//! `TOUCHPOINT_BENCH_SIZES` changes the sizes, `TOUCHPOINT_BENCH_RUNS` the
//! number of runs.

// This binary is a report printer: its output is the result.
#![allow(clippy::print_stdout)]

mod render_common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use render_common::{VIEWPORT, board, median, memory_kib, sizes};
use touchpoint_crdt::file;
use touchpoint_render::{GpuContext, OffscreenTarget};
use touchpoint_scene::camera::Camera;
use touchpoint_scene::geom::Vec2;
use touchpoint_scene::scene::Scene;

const STEPS: [&str; 8] = [
    "load ms",
    "scene ms",
    "gpu+renderer ms",
    "first frame ms",
    "open to first frame ms",
    "fit frame ms",
    "peak RSS after first frame MiB",
    "peak RSS at end MiB",
];

/// The child: opens `path`, draws, prints one line of numbers (STEPS order).
fn child(path: &Path) {
    let start = Instant::now();
    let board = file::load(path).expect("load");
    let loaded = Instant::now();
    let scene = Scene::build(&board);
    let built = Instant::now();
    let gpu = GpuContext::new().expect("gpu");
    let target = OffscreenTarget::new(&gpu, VIEWPORT.x as u32, VIEWPORT.y as u32).expect("target");
    let mut renderer = gpu.renderer();
    let ready = Instant::now();
    let mut fit = Camera::new(VIEWPORT, 1.0);
    fit.zoom_to_fit(scene.world_bounds().expect("non-empty"), 40.0);
    target
        .render(&gpu, &mut renderer, &scene, &fit)
        .expect("first frame");
    let first = Instant::now();
    let (peak_first, _) = memory_kib();
    let mut frames = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        target
            .render(&gpu, &mut renderer, &scene, &fit)
            .expect("frame");
        frames.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mut pan = fit;
    pan.zoom_at(VIEWPORT / 2.0, 1.0);
    for _ in 0..20 {
        pan.pan_by(Vec2::new(-30.0, 0.0));
        target
            .render(&gpu, &mut renderer, &scene, &pan)
            .expect("frame");
    }
    let (peak_end, _) = memory_kib();
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    println!(
        "{} {} {} {} {} {} {} {}",
        ms(start, loaded),
        ms(loaded, built),
        ms(built, ready),
        ms(ready, first),
        ms(start, first),
        median(frames),
        peak_first as f64 / 1024.0,
        peak_end as f64 / 1024.0,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(Path::new(&args[i + 1]));
        return;
    }
    let runs: usize = std::env::var("TOUCHPOINT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let exe = std::env::current_exe().expect("current exe");
    let dir = tempfile::tempdir().expect("temp dir");
    println!("open to first frame, 1920x1080 offscreen, fit; medians of {runs} runs");
    println!("| elements | file MB | {} |", STEPS.join(" | "));
    println!("|---:|---:|{}", "---:|".repeat(STEPS.len()));
    for n in sizes("1000,10000,100000") {
        let path = dir.path().join(format!("board{n}.tpboard"));
        file::save(&board(n), &path).expect("save");
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mut rows: Vec<Vec<f64>> = Vec::new();
        for _ in 0..runs {
            let out = Command::new(&exe)
                .arg("--child")
                .arg(&path)
                .output()
                .expect("run child");
            assert!(
                out.status.success(),
                "child failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8_lossy(&out.stdout);
            let values: Vec<f64> = line
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            assert_eq!(values.len(), STEPS.len(), "child printed {line:?}");
            rows.push(values);
        }
        let medians: Vec<String> = (0..STEPS.len())
            .map(|i| format!("{:.1}", median(rows.iter().map(|r| r[i]).collect())))
            .collect();
        println!(
            "| {n} | {:.1} | {} |",
            size as f64 / 1e6,
            medians.join(" | ")
        );
    }
}
