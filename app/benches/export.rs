//! SVG export benchmark: `write_svg` of a whole board's scene to a byte sink
//! (nothing kept, so the figure is the writer's own: layout, formatting,
//! escaping; the scene is built beforehand), for 1,000, 10,000 and 100,000
//! elements. The SVG's size is printed once per board size.
//!
//! The board, as in the scene benchmark: per group of ten elements, five
//! stickies with text (each text different, "Note N about the service"),
//! three shapes (every outline in turn, no text) and two ink strokes of 16
//! points, on a grid of cells 250 world units apart, 300 columns wide; then
//! one connector per hundred elements, bound from a sticky to a shape. The
//! font is embedded (about 1 MB of base64).
//!
//! `TOUCHPOINT_BENCH_ELEMENTS` (comma-separated, default
//! `1000,10000,100000`) picks the sizes. Sampling is flat with 10 samples.

use std::io::{self, Write};
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use touchpoint::export::{SvgOptions, write_svg};
use touchpoint::sample::grid_board;
use touchpoint::scene::Scene;
use touchpoint::text::Fonts;

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
    let options = SvgOptions::DEFAULT.with_title("Benchmark board");
    let mut group = c.benchmark_group("svg_export");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    for n in sizes {
        let (board, _) = grid_board(n, 1).expect("build the board");
        let scene = Scene::build(&board);
        let mut fonts = Fonts::new();
        let mut sink = Sink(0);
        let stats = write_svg(&scene, &mut fonts, &options, &mut sink).expect("export");
        eprintln!(
            "svg_export/{n}: {} bytes of SVG ({:.1} MB, {:.0} bytes per element)",
            stats.bytes,
            stats.bytes as f64 / 1e6,
            stats.bytes as f64 / n as f64
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &scene, |b, scene| {
            b.iter(|| {
                let mut sink = Sink(0);
                write_svg(scene, &mut fonts, &options, &mut sink).expect("export");
                sink.0
            })
        });
    }
    group.finish();
}

criterion_group!(export, benches);
criterion_main!(export);
