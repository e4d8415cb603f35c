//! A 100,000-element board exports with bounded memory: the SVG is streamed
//! to a file, and the process's peak resident memory grows by far less than
//! the document's size while it is written.
//!
//! In its own test binary so that no other test shares the process's peak.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::io::BufRead;

use touchpoint_scene::export::{SvgOptions, write_svg};
use touchpoint_scene::scene::Scene;
use touchpoint_scene::text::Fonts;

const ELEMENTS: usize = 100_000;

/// A `/proc/self/status` field in bytes (Linux only).
fn status_bytes(field: &str) -> Option<u64> {
    let f = std::fs::File::open("/proc/self/status").ok()?;
    std::io::BufReader::new(f).lines().find_map(|l| {
        let l = l.ok()?;
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kb * 1024)
    })
}

#[test]
fn hundred_thousand_elements_stream_with_bounded_memory() {
    let (board, _) = touchpoint_scene::sample::grid_board(ELEMENTS, 9).unwrap();
    let scene = Scene::build(&board);
    drop(board);
    assert_eq!(scene.len(), ELEMENTS);
    let mut fonts = Fonts::new();

    // Reset the peak to the current resident size where the kernel lets us,
    // so the peak below is the export's alone.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_bytes("VmRSS");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.svg");
    let file = std::fs::File::create(&path).unwrap();
    let stats = write_svg(&scene, &mut fonts, &SvgOptions::DEFAULT, file).unwrap();
    let peak = status_bytes("VmHWM");

    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(stats.bytes, size);
    assert_eq!(stats.elements, ELEMENTS);
    assert!(size > 30_000_000, "{size} bytes");
    let (Some(before), Some(peak)) = (before, peak) else {
        eprintln!("no /proc/self/status here: memory not checked");
        return;
    };
    eprintln!(
        "export of {ELEMENTS} elements: {size} bytes of SVG; resident before {} MB, peak {} MB (peak reset: {reset})",
        before >> 20,
        peak >> 20
    );
    assert!(peak < 1 << 30, "peak resident memory {} MB", peak >> 20);
    if reset {
        // The whole document never sat in memory.
        let growth = peak.saturating_sub(before);
        assert!(
            growth < size / 4,
            "the export grew resident memory by {} MB for a {} MB document",
            growth >> 20,
            size >> 20
        );
    }
    // The end of the document is there.
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.ends_with(b"</svg>\n"));
}
