//! Export benchmark (criterion): for 1,000, 10,000 and 100,000 elements,
//! - `svg_export/N`: `write_svg` of a whole board's scene to a byte sink
//!   (nothing kept, so the figure is the writer's own: layout, formatting,
//!   escaping, the font subset; the scene is built beforehand), text as
//!   selectable text with the embedded font subset (the default);
//! - `svg_export_text_as_paths/N`: the same with text as glyph outlines;
//! - `png_export/N` (1,000 and 10,000 only): `write_png` of the whole board
//!   on the GPU at scale 0.1 (the board is 75,000 world units wide: a
//!   7,506-pixel-wide image in 2,048-pixel tiles), PNG encoded to a sink.
//!
//! Sizes (bytes of SVG or PNG) are printed once per board size.
//!
//! The board, as in the scene benchmark: per group of ten elements, five
//! stickies with text (each text different, "Note N about the service"),
//! three shapes (every outline in turn, no text) and two ink strokes of 16
//! points, on a grid of cells 250 world units apart, 300 columns wide; then
//! one connector per hundred elements, bound from a sticky to a shape.
//!
//! `TOUCHPOINT_BENCH_ELEMENTS` (comma-separated, default
//! `1000,10000,100000`) picks the sizes; `TOUCHPOINT_BENCH_PNG=0` skips the
//! PNG part (it needs a GPU adapter; lavapipe works). Sampling is flat with
//! 10 samples.

use std::io::{self, Write};
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use touchpoint_render::GpuContext;
use touchpoint_render::png::{PngOptions, write_png};
use touchpoint_scene::export::{SvgOptions, write_svg};
use touchpoint_scene::sample::grid_board;
use touchpoint_scene::scene::Scene;
use touchpoint_scene::text::Fonts;

/// Scale of the PNG export benchmark.
const PNG_SCALE: f64 = 0.1;

/// Counts bytes and drops them.
struct Sink(u64);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn benches(c: &mut Criterion) {
    let sizes: Vec<usize> = std::env::var("TOUCHPOINT_BENCH_ELEMENTS")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|s| s.trim().parse().ok())
                .filter(|&n| n >= 100)
                .collect()
        })
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    let png = std::env::var("TOUCHPOINT_BENCH_PNG").as_deref() != Ok("0");
    let boards: Vec<_> = sizes
        .iter()
        .map(|&n| {
            let (board, _) = grid_board(n, 1).expect("build the board");
            let scene = Scene::build(&board);
            (n, board, scene)
        })
        .collect();
    let mut fonts = Fonts::new();
    for (group_name, paths) in [("svg_export", false), ("svg_export_text_as_paths", true)] {
        let options = SvgOptions::DEFAULT
            .with_title("Benchmark board")
            .with_text_as_paths(paths);
        let mut group = c.benchmark_group(group_name);
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1));
        for (n, _, scene) in &boards {
            let mut sink = Sink(0);
            let stats = write_svg(scene, &mut fonts, &options, &mut sink).expect("export");
            eprintln!(
                "{group_name}/{n}: {} bytes of SVG ({:.2} MB, {:.0} bytes per element)",
                stats.bytes,
                stats.bytes as f64 / 1e6,
                stats.bytes as f64 / *n as f64
            );
            group.throughput(Throughput::Elements(*n as u64));
            group.bench_with_input(BenchmarkId::from_parameter(n), scene, |b, scene| {
                b.iter(|| {
                    let mut sink = Sink(0);
                    write_svg(scene, &mut fonts, &options, &mut sink).expect("export");
                    sink.0
                })
            });
        }
        group.finish();
    }

    if !png {
        return;
    }
    let gpu = match GpuContext::new() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("png_export skipped: {e}");
            return;
        }
    };
    eprintln!("png_export on {}", gpu.describe());
    let options = PngOptions {
        scale: PNG_SCALE,
        ..PngOptions::default()
    };
    let mut group = c.benchmark_group("png_export");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    for (n, board, scene) in boards.iter().filter(|(n, _, _)| *n <= 10_000) {
        let mut sink = Sink(0);
        let stats =
            write_png(&gpu, board, scene, &options, &mut sink, &mut |_, _| {}).expect("export");
        eprintln!(
            "png_export/{n}: {}x{} pixels at scale {PNG_SCALE}, {} bytes of PNG",
            (stats.view_box.width() * PNG_SCALE).ceil(),
            (stats.view_box.height() * PNG_SCALE).ceil(),
            sink.0
        );
        group.throughput(Throughput::Elements(*n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), scene, |b, scene| {
            b.iter(|| {
                let mut sink = Sink(0);
                write_png(&gpu, board, scene, &options, &mut sink, &mut |_, _| {}).expect("export");
                sink.0
            })
        });
    }
    group.finish();
}

criterion_group!(export, benches);
criterion_main!(export);
