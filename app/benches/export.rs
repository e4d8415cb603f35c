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
use touchpoint::scene::Scene;
use touchpoint::text::Fonts;
use touchpoint_crdt::{Anchor, Board, End, Geometry, NewElement, ShapeKind};

const COLUMNS: usize = 300;
const CELL: f64 = 250.0;
const BATCH: usize = 1_000;

fn board(n: usize) -> Board {
    let mut board = Board::with_client_id(1);
    let cell = |i: usize| ((i % COLUMNS) as f64 * CELL, (i / COLUMNS) as f64 * CELL);
    let connectors = n / 100;
    let news: Vec<NewElement> = (0..n - connectors)
        .map(|i| {
            let (x, y) = cell(i);
            match i % 10 {
                0..=4 => NewElement::sticky(x, y, &format!("Note {i} about the service")),
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
    board
}

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
        let scene = Scene::build(&board(n));
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
