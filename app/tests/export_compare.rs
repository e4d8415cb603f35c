//! The same board drawn three ways must agree: the GPU renderer's PNG export
//! (wgpu; Mesa's lavapipe in CI), and the SVG export rendered by resvg and by
//! librsvg's `rsvg-convert`. All three are 1 px per world unit over the same
//! view box on a white background.
//!
//! Tolerances, in one place. Both pictures are first box-blurred (radius
//! [`BLUR`] px), so that sub-pixel differences in glyph placement and
//! antialiasing between renderers fade while a missing, moved or recoloured
//! shape, line or text does not. Then:
//! - [`MAX_MEAN_DIFF`]: mean absolute difference per channel over the whole
//!   image, in 0-255 counts (measured: 0.52-0.53 GPU against either SVG
//!   renderer, 0.10 resvg against librsvg);
//! - [`MAX_DIFFERING`]: share of pixels with any channel more than
//!   [`PIXEL_TOLERANCE`] counts off (measured: 0.004-0.005%; 0.13-2.6%
//!   with one element missing);
//! - [`MAX_BLOCK_DIFF`]: no [`BLOCK`] x [`BLOCK`] block's mean absolute
//!   difference may exceed it, so a small element missing anywhere fails
//!   even when the image as a whole is close (measured: worst block 17.7-17.9
//!   GPU against either SVG renderer, 4.7 resvg against librsvg; 50-91 with
//!   one element missing).
//!
//! Measured with lavapipe on LLVM 15, resvg 0.49, librsvg 2.54, Debian 12.
//! `missing_elements_are_caught` removes, one at a time, a rotated sticky,
//! a rotated unfilled diamond, a text box, the ink stroke and an arrow
//! connector from the SVG and checks that each comparison then fails.
//!
//! The comparison board has every element kind and style (palette fills,
//! strokes, rotation, frames with a clipped child, connectors with and
//! without arrowheads, ink, text in every alignment). Its text is Latin with
//! accents, which the bundled font covers, and rotated elements hold no
//! text: the GPU draws rotated text as bars (glyphon cannot rotate), and
//! characters outside the font are drawn by each renderer's own fallback.
//! Emoji, right-to-left text and XML specials are checked by the SVG tests
//! (`export.rs`).
//!
//! Without a GPU adapter this FAILS unless `TOUCHPOINT_SKIP_GPU=1`; without
//! `rsvg-convert` the librsvg part FAILS unless `TOUCHPOINT_SKIP_RSVG=1`.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::process::Command;

use resvg::{tiny_skia, usvg};
use touchpoint_crdt::{
    Align, Anchor, ArrowHead, Board, Body, Color, End, Geometry, NewElement, ShapeKind, StylePatch,
};
use touchpoint_render::GpuContext;
use touchpoint_render::png::{PngOptions, write_png};
use touchpoint_scene::export::{SvgOptions, write_svg};
use touchpoint_scene::scene::Scene;
use touchpoint_scene::text::{FONT_BYTES, Fonts};

const BLUR: usize = 2;
const PIXEL_TOLERANCE: u8 = 48;
const MAX_MEAN_DIFF: f64 = 2.0;
const MAX_DIFFERING: f64 = 0.001;
const BLOCK: usize = 8;
const MAX_BLOCK_DIFF: f64 = 32.0;

fn style() -> StylePatch {
    StylePatch::default()
}

/// The comparison board (see the module docs), and the ids of elements the
/// negative check removes.
fn board() -> (Board, Vec<String>) {
    let mut b = Board::with_client_id(11);
    b.set_title("Comparison board").unwrap();
    let mut probes = Vec::new();
    let frame = b
        .create(NewElement::frame(
            "Journey: stage one",
            Geometry::new(0.0, 0.0, 720.0, 430.0),
        ))
        .unwrap();
    b.create(NewElement::sticky(40.0, 40.0, "Default yellow note, café").with_parent(&frame))
        .unwrap();
    probes.push(
        b.create(
            NewElement::sticky(300.0, 50.0, "")
                .with_geometry(Geometry {
                    rot: -8.0,
                    ..Geometry::new(300.0, 50.0, 180.0, 160.0)
                })
                .with_style(StylePatch {
                    fill: Some(Some(Color::STICKY_PALETTE[4])),
                    ..style()
                })
                .with_parent(&frame),
        )
        .unwrap(),
    );
    // Pokes out of the frame's right edge: clipped there.
    b.create(
        NewElement::sticky(620.0, 250.0, "")
            .with_style(StylePatch {
                fill: Some(Some(Color::STICKY_PALETTE[6])),
                ..style()
            })
            .with_parent(&frame),
    )
    .unwrap();
    let mut shape_ids = Vec::new();
    for (i, shape) in ShapeKind::ALL.iter().enumerate() {
        let x = i as f64 * 200.0;
        let id = b
            .create(
                NewElement::shape(*shape, Geometry::new(x, 500.0, 160.0, 110.0))
                    .with_text("Shape text")
                    .with_style(StylePatch {
                        fill: Some(Some(Color(0xd5, 0xf6, 0x92))),
                        stroke: Some(Some(Color(0x22, 0x44, 0x66))),
                        stroke_width: Some(3.0),
                        ..style()
                    }),
            )
            .unwrap();
        shape_ids.push(id);
        let mut geom = Geometry::new(x, 660.0, 160.0, 110.0);
        let mut patch = style();
        match i {
            0 => patch.fill = Some(None),
            1 => patch.stroke = Some(None),
            2 | 3 => geom.rot = 25.0,
            _ => {}
        }
        let id = b
            .create(NewElement::shape(*shape, geom).with_style(patch))
            .unwrap();
        if i == 3 {
            probes.push(id);
        }
    }
    for (i, align) in [Align::Left, Align::Center, Align::Right]
        .iter()
        .enumerate()
    {
        let mut patch = StylePatch {
            align: Some(*align),
            font_size: Some(18.0),
            text_color: Some(Color(0x33, 0x33, 0x99)),
            ..style()
        };
        if i == 1 {
            patch.fill = Some(Some(Color(0xee, 0xee, 0xee)));
            patch.stroke = Some(Some(Color(0x99, 0x99, 0x99)));
        }
        let id = b
            .create(
                NewElement::text(0.0, 0.0, "Text that wraps over lines\nand a paragraph")
                    .with_geometry(Geometry::new(i as f64 * 240.0, 830.0, 200.0, 110.0))
                    .with_style(patch),
            )
            .unwrap();
        if i == 2 {
            probes.push(id);
        }
    }
    let pts: Vec<[f32; 2]> = (0..24)
        .map(|k| {
            [
                780.0 + k as f32 * 8.0,
                120.0 + ((k as f32) * 0.7).sin() * 30.0,
            ]
        })
        .collect();
    probes.push(
        b.create(NewElement::ink(&pts).with_style(StylePatch {
            stroke: Some(Some(Color(0xe0, 0x31, 0x31))),
            stroke_width: Some(5.0),
            ..style()
        }))
        .unwrap(),
    );
    b.create(NewElement::connector(
        End::bound(&shape_ids[0], Anchor::Right),
        End::bound(&shape_ids[1], Anchor::Left),
    ))
    .unwrap();
    for (start, end, y) in [
        (ArrowHead::Arrow, ArrowHead::Arrow, 300.0),
        (ArrowHead::None, ArrowHead::None, 360.0),
    ] {
        let mut el = NewElement::connector(End::free(780.0, y), End::free(1000.0, y + 30.0))
            .with_style(StylePatch {
                stroke: Some(Some(Color(0x00, 0x55, 0xff))),
                stroke_width: Some(3.0),
                ..style()
            });
        if let Body::Connector {
            arrow_start,
            arrow_end,
            ..
        } = &mut el.body
        {
            *arrow_start = start;
            *arrow_end = end;
        }
        let id = b.create(el).unwrap();
        if start == ArrowHead::Arrow {
            probes.push(id);
        }
    }
    (b, probes)
}

struct Image {
    width: usize,
    height: usize,
    /// Straight RGBA.
    rgba: Vec<u8>,
}

fn decode_png(bytes: &[u8]) -> Image {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    buf.truncate(info.buffer_size());
    Image {
        width: info.width as usize,
        height: info.height as usize,
        rgba: buf,
    }
}

/// The GPU's picture, or `None` when there is no adapter and
/// TOUCHPOINT_SKIP_GPU=1.
fn gpu() -> Option<GpuContext> {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY-free: tests set up their environment before any thread
        // reads it; only the Vulkan loader looks at this variable.
        eprintln!("note: XDG_RUNTIME_DIR is unset (the Vulkan loader may warn)");
    }
    match GpuContext::new() {
        Ok(g) => Some(g),
        Err(e) if std::env::var("TOUCHPOINT_SKIP_GPU").as_deref() == Ok("1") => {
            eprintln!("skipped: {e} and TOUCHPOINT_SKIP_GPU=1");
            None
        }
        Err(e) => panic!(
            "{e} (install mesa-vulkan-drivers libvulkan1, or set TOUCHPOINT_SKIP_GPU=1 to skip)"
        ),
    }
}

fn gpu_png(gpu: &GpuContext, board: &Board, scene: &Scene) -> Image {
    let mut out = Vec::new();
    write_png(
        gpu,
        board,
        scene,
        &PngOptions::default(),
        &mut out,
        &mut |_, _| {},
    )
    .unwrap();
    decode_png(&out)
}

fn svg_of(scene: &Scene, board: &Board) -> String {
    let mut out = Vec::new();
    write_svg(
        scene,
        &mut Fonts::new(),
        &SvgOptions::DEFAULT.with_title(board.meta().title),
        &mut out,
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

fn resvg_png(svg: &str) -> Image {
    let mut opt = usvg::Options::default();
    opt.fontdb_mut().load_font_data(FONT_BYTES.to_vec());
    let tree = usvg::Tree::from_str(svg, &opt).unwrap();
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    decode_png(&pixmap.encode_png().unwrap())
}

/// `rsvg-convert`'s picture, or `None` when it is missing and
/// TOUCHPOINT_SKIP_RSVG=1.
fn rsvg_png(svg: &str) -> Option<Image> {
    if Command::new("rsvg-convert")
        .arg("--version")
        .output()
        .is_err()
    {
        if std::env::var("TOUCHPOINT_SKIP_RSVG").as_deref() == Ok("1") {
            eprintln!("skipped rsvg-convert: missing and TOUCHPOINT_SKIP_RSVG=1");
            return None;
        }
        panic!("rsvg-convert is missing: install librsvg2-bin or set TOUCHPOINT_SKIP_RSVG=1");
    }
    let dir = tempfile::tempdir().unwrap();
    let (svg_path, png_path) = (dir.path().join("b.svg"), dir.path().join("b.png"));
    std::fs::write(&svg_path, svg).unwrap();
    let out = Command::new("rsvg-convert")
        .arg("-o")
        .arg(&png_path)
        .arg(&svg_path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "rsvg-convert: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(decode_png(&std::fs::read(&png_path).unwrap()))
}

#[derive(Debug)]
struct Diff {
    mean: f64,
    differing: f64,
    worst_block: f64,
    /// Top-left corner of the worst block, pixels (shown in failures).
    #[allow(dead_code)]
    worst_at: (usize, usize),
}

impl Diff {
    fn within_tolerance(&self) -> bool {
        self.mean <= MAX_MEAN_DIFF
            && self.differing <= MAX_DIFFERING
            && self.worst_block <= MAX_BLOCK_DIFF
    }
}

/// A box blur of radius `r` (RGB; alpha kept), so that differences of
/// sub-pixel glyph placement and antialiasing between renderers fade while
/// a missing or moved shape, line or text does not.
fn blur(img: &Image, r: usize) -> Image {
    let (w, h) = (img.width, img.height);
    // Running sums along rows, then columns; edges average what is there.
    let pass = |src: &[u8], horizontal: bool| {
        let mut out = src.to_vec();
        let (lines, len) = if horizontal { (h, w) } else { (w, h) };
        let at = |line: usize, i: usize| {
            if horizontal {
                (line * w + i) * 4
            } else {
                (i * w + line) * 4
            }
        };
        for line in 0..lines {
            for k in 0..3 {
                let mut sum = 0u32;
                let mut n = 0u32;
                // Window [i - r, i + r], slid along the line.
                for i in 0..r.min(len) {
                    sum += u32::from(src[at(line, i) + k]);
                    n += 1;
                }
                for i in 0..len {
                    if i + r < len {
                        sum += u32::from(src[at(line, i + r) + k]);
                        n += 1;
                    }
                    if i > r {
                        sum -= u32::from(src[at(line, i - r - 1) + k]);
                        n -= 1;
                    }
                    out[at(line, i) + k] = (sum / n.max(1)) as u8;
                }
            }
        }
        out
    };
    let rgba = if r == 0 {
        img.rgba.clone()
    } else {
        pass(&pass(&img.rgba, true), false)
    };
    Image {
        width: w,
        height: h,
        rgba,
    }
}

/// Differences of two opaque pictures of the same size (within a pixel:
/// renderers round a fractional view box differently).
fn diff(a: &Image, b: &Image) -> Diff {
    diff_with(&blur(a, BLUR), &blur(b, BLUR), BLOCK)
}

fn diff_with(a: &Image, b: &Image, block_size: usize) -> Diff {
    assert!(
        a.width.abs_diff(b.width) <= 1 && a.height.abs_diff(b.height) <= 1,
        "sizes {}x{} and {}x{}",
        a.width,
        a.height,
        b.width,
        b.height
    );
    let (w, h) = (a.width.min(b.width), a.height.min(b.height));
    let (bw, bh) = (w.div_ceil(block_size), h.div_ceil(block_size));
    let mut blocks = vec![(0u64, 0u64); bw * bh];
    let (mut sum, mut differing) = (0u64, 0usize);
    for y in 0..h {
        for x in 0..w {
            let pa = &a.rgba[(y * a.width + x) * 4..][..4];
            let pb = &b.rgba[(y * b.width + x) * 4..][..4];
            let mut worst = 0;
            let mut px = 0u64;
            for k in 0..3 {
                let d = pa[k].abs_diff(pb[k]);
                worst = worst.max(d);
                px += u64::from(d);
            }
            sum += px;
            if worst > PIXEL_TOLERANCE {
                differing += 1;
            }
            let block = &mut blocks[(y / block_size) * bw + x / block_size];
            block.0 += px;
            block.1 += 3;
        }
    }
    let (worst_i, worst_block) = blocks
        .iter()
        .map(|(s, n)| *s as f64 / *n as f64)
        .enumerate()
        .fold(
            (0, 0.0),
            |best, (i, v)| if v > best.1 { (i, v) } else { best },
        );
    Diff {
        mean: sum as f64 / (w * h * 3) as f64,
        differing: differing as f64 / (w * h) as f64,
        worst_block,
        worst_at: ((worst_i % bw) * block_size, (worst_i / bw) * block_size),
    }
}

#[test]
fn gpu_resvg_and_librsvg_agree_within_tolerance() {
    let (board, _) = board();
    let scene = Scene::build(&board);
    let Some(gpu) = gpu() else { return };
    let gpu_image = gpu_png(&gpu, &board, &scene);
    let svg = svg_of(&scene, &board);
    let resvg_image = resvg_png(&svg);
    if let Some(dir) = std::env::var_os("TOUCHPOINT_COMPARE_DIR") {
        // Keep the pictures to look at.
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("board.svg"), &svg).unwrap();
        for (name, image) in [("gpu.png", &gpu_image), ("resvg.png", &resvg_image)] {
            let mut out = Vec::new();
            let mut enc = png::Encoder::new(&mut out, image.width as u32, image.height as u32);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            enc.write_header()
                .unwrap()
                .write_image_data(&image.rgba)
                .unwrap();
            std::fs::write(dir.join(name), out).unwrap();
        }
    }
    let d = diff(&gpu_image, &resvg_image);
    eprintln!("GPU ({}) vs resvg: {d:?}", gpu.describe());
    assert!(d.within_tolerance(), "GPU vs resvg: {d:?}");
    if let Some(rsvg_image) = rsvg_png(&svg) {
        let d = diff(&gpu_image, &rsvg_image);
        eprintln!("GPU vs rsvg-convert: {d:?}");
        assert!(d.within_tolerance(), "GPU vs rsvg-convert: {d:?}");
        let d = diff(&resvg_image, &rsvg_image);
        eprintln!("resvg vs rsvg-convert: {d:?}");
        assert!(d.within_tolerance(), "resvg vs rsvg-convert: {d:?}");
    }
}

/// The tolerances are tight enough to notice one element missing: the SVG
/// without it, compared with the GPU's picture of the whole board, fails.
#[test]
fn missing_elements_are_caught() {
    let (board, probes) = board();
    let scene = Scene::build(&board);
    let Some(gpu) = gpu() else { return };
    let gpu_image = gpu_png(&gpu, &board, &scene);
    let full = svg_of(&scene, &board);
    for id in &probes {
        // The same document less the element's group (one line per
        // element; the view box stays, as no probe is on the content's edge).
        let open = format!("<g id=\"{id}\" ");
        let svg: String = full
            .lines()
            .filter(|l| !l.starts_with(&open))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(svg.lines().count() + 1, full.lines().count(), "{id}");
        let d = diff(&gpu_image, &resvg_png(&svg));
        eprintln!("without {id} ({:?}): {d:?}", scene.get(id).unwrap().kind());
        assert!(!d.within_tolerance(), "{id} missing went unnoticed: {d:?}");
    }
}

/// `touchpoint export -o OUT.png`: the CLI draws on the GPU at a scale, in
/// tiles when the image is larger than one tile (2048 px), with or without
/// a background, for a selection too; the canvas's dot grid never shows.
#[test]
fn cli_exports_png_at_scale_in_tiles_without_the_grid() {
    let (board, probes) = board();
    let scene = Scene::build(&board);
    let dir = tempfile::tempdir().unwrap();
    let board_path = dir.path().join("compare.tpboard");
    touchpoint_crdt::file::save(&board, &board_path).unwrap();
    let run = |out: &str, args: &[&str]| -> Option<Image> {
        let out_path = dir.path().join(out);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_touchpoint"));
        cmd.arg("export")
            .arg(&board_path)
            .arg("-o")
            .arg(&out_path)
            .args(args);
        if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            cmd.env("XDG_RUNTIME_DIR", std::env::temp_dir());
        }
        let res = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&res.stderr);
        if !res.status.success()
            && stderr.contains("no GPU adapter")
            && std::env::var("TOUCHPOINT_SKIP_GPU").as_deref() == Ok("1")
        {
            eprintln!("skipped: {stderr}");
            return None;
        }
        assert!(res.status.success(), "{args:?}: {stderr}");
        Some(decode_png(&std::fs::read(&out_path).unwrap()))
    };
    let Some(one) = run("one.png", &[]) else {
        return;
    };
    let svg = svg_of(&scene, &board);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let vb: Vec<f64> = doc
        .root_element()
        .attribute("viewBox")
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(
        (one.width, one.height),
        (vb[2].ceil() as usize, vb[3].ceil() as usize)
    );
    assert!(one.rgba.chunks(4).all(|p| p[3] == 255));

    // Twice the size: 2 x 2 tiles. Halved again, it matches the 1x export
    // (no seams, no offsets between tiles).
    let two = run("two.png", &["--scale", "2"]).unwrap();
    assert_eq!(
        (two.width, two.height),
        ((vb[2] * 2.0).ceil() as usize, (vb[3] * 2.0).ceil() as usize)
    );
    assert!(two.width > 2048 && two.height > 2048);
    let (tw, trgba) = (two.width, &two.rgba);
    let half = Image {
        width: two.width / 2,
        height: two.height / 2,
        rgba: (0..two.height / 2)
            .flat_map(|y| (0..two.width / 2).map(move |x| (x, y)))
            .flat_map(|(x, y)| {
                (0..4).map(move |k| {
                    let at = |dx: usize, dy: usize| {
                        u32::from(trgba[((2 * y + dy) * tw + 2 * x + dx) * 4 + k])
                    };
                    ((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)) / 4) as u8
                })
            })
            .collect(),
    };
    let d = diff(&one, &half);
    eprintln!("1x vs 2x halved: {d:?}");
    assert!(d.within_tolerance(), "{d:?}");

    // Transparent: nothing but the elements has any opacity (no grid dot
    // left anywhere), at scales with different dot sizes and spacings.
    for scale in ["1", "0.5", "3"] {
        let name = format!("clear-{scale}.png");
        let img = run(&name, &["--no-background", "--scale", scale]).unwrap();
        let s: f64 = scale.parse().unwrap();
        let boxes: Vec<_> = scene.iter().filter_map(|e| e.visible_bounds()).collect();
        let mut stray = 0;
        for y in 0..img.height {
            for x in 0..img.width {
                if img.rgba[(y * img.width + x) * 4 + 3] == 0 {
                    continue;
                }
                let world = touchpoint_scene::geom::Vec2::new(
                    vb[0] + (x as f64 + 0.5) / s,
                    vb[1] + (y as f64 + 0.5) / s,
                );
                // Shadows and antialiasing reach a little past the bounds.
                let near = boxes.iter().any(|b| b.expand(12.0).contains(world));
                if !near {
                    if stray == 0 {
                        eprintln!(
                            "scale {scale}: stray pixel at world {world:?}: {:?}",
                            &img.rgba[(y * img.width + x) * 4..][..4]
                        );
                    }
                    stray += 1;
                }
            }
        }
        assert_eq!(stray, 0, "scale {scale}: {stray} stray pixels");
        assert_eq!(img.rgba[3], 0);
    }

    // One frame, by title: the frame's bounds.
    let frame = scene
        .iter()
        .find(|e| e.kind() == touchpoint_crdt::Kind::Frame)
        .unwrap();
    let fb = frame.visible_bounds().unwrap();
    let img = run("frame.png", &["--frame", "Journey: stage one"]).unwrap();
    assert_eq!(
        (img.width, img.height),
        (
            (fb.width() + 64.0).ceil() as usize,
            (fb.height() + 64.0).ceil() as usize
        )
    );

    // A selection: only the ink stroke, so the image is its bounds.
    let ink = &probes[probes.len() - 2];
    let sel = run("sel.png", &["--select", ink]).unwrap();
    let b = scene.get(ink).unwrap().visible_bounds().unwrap();
    assert_eq!(sel.width, (b.width() + 64.0).ceil() as usize);
    assert_eq!(sel.height, (b.height() + 64.0).ceil() as usize);
}
