//! `touchpoint render` as a user meets it: the real binary draws a reference
//! board holding every element kind and style on a real GPU adapter (Mesa's
//! lavapipe in CI), and the PNG is compared with a committed snapshot.
//!
//! Snapshot tolerance, in one place: a pixel differs when any channel is
//! more than [`CHANNEL_TOLERANCE`] counts off, and the test fails when more
//! than [`MAX_DIFFERING`] of the pixels differ (antialiasing and rounding vary
//! a little between GPUs and drivers). `UPDATE_SNAPSHOTS=1` rewrites the
//! snapshots instead of comparing.
//!
//! With no GPU adapter these tests FAIL, unless `TOUCHPOINT_SKIP_GPU=1` is
//! set (then they are skipped with a message).

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use touchpoint_crdt::{
    Align, Anchor, ArrowHead, Board, Body, Color, End, Geometry, NewElement, ShapeKind, StylePatch,
    file,
};
use touchpoint_scene::camera::Camera;
use touchpoint_scene::geom::Vec2;
use touchpoint_scene::scene::Scene;

const CHANNEL_TOLERANCE: u8 = 16;
const MAX_DIFFERING: f64 = 0.005;
const WIDTH: u32 = 800;
const HEIGHT: u32 = 500;
/// The CLI's margin for `--view fit` (cli::render::FIT_PADDING_PX).
const FIT_PADDING_PX: f64 = 40.0;

const YELLOW: Color = Color::STICKY_PALETTE[0];
const BACKGROUND: [u8; 3] = [0xf7, 0xf7, 0xf5];
/// Dark pixels the yellow sticky's glyphs must make at `fit` zoom.
const GLYPH_MIN_DARK_PIXELS: usize = 30;

struct Image {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl Image {
    fn read(path: &Path) -> Image {
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        ));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgba, "{}", path.display());
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        Image {
            width: info.width,
            height: info.height,
            rgba: buf,
        }
    }

    fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 4) as usize;
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2]]
    }

    fn pixel_at(&self, p: Vec2) -> [u8; 3] {
        self.pixel(p.x.round() as u32, p.y.round() as u32)
    }
}

fn close(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

fn rgb(c: Color) -> [u8; 3] {
    [c.0, c.1, c.2]
}

fn style() -> StylePatch {
    StylePatch::default()
}

/// Every kind and style: default and coloured stickies (one rotated, in a
/// frame), all five shapes with fills, strokes, thick, stroke-only and
/// fill-only variants, a rotated shape, text in three alignments and with a
/// box, ink (a curve and a dot), connectors (bound and free, arrow at one,
/// both and neither end), a frame with a child poking out of it (clipped).
fn reference_board() -> (Board, String) {
    let mut b = Board::with_client_id(7);
    let frame = b
        .create(NewElement::frame(
            "Customer journey",
            Geometry::new(0.0, 0.0, 700.0, 420.0),
        ))
        .unwrap();
    let yellow = b
        .create(NewElement::sticky(40.0, 40.0, "Default yellow note").with_parent(&frame))
        .unwrap();
    let blue = b
        .create(
            NewElement::sticky(300.0, 40.0, "Blue, rotated, longer text that wraps")
                .with_geometry(Geometry {
                    rot: -6.0,
                    ..Geometry::new(300.0, 40.0, 200.0, 160.0)
                })
                .with_style(StylePatch {
                    fill: Some(Some(Color::STICKY_PALETTE[4])),
                    ..style()
                })
                .with_parent(&frame),
        )
        .unwrap();
    // A child that pokes out of the frame's right edge: clipped there.
    b.create(
        NewElement::sticky(600.0, 260.0, "clipped")
            .with_style(StylePatch {
                fill: Some(Some(Color::STICKY_PALETTE[6])),
                ..style()
            })
            .with_parent(&frame),
    )
    .unwrap();
    let shapes = [
        (
            ShapeKind::Rect,
            Some(Color(0xd5, 0xf6, 0x92)),
            Some(Color::BLACK),
            2.0,
            0.0,
        ),
        (
            ShapeKind::RoundedRect,
            Some(Color::WHITE),
            Some(Color(0x1f, 0x6f, 0xeb)),
            4.0,
            0.0,
        ),
        (
            ShapeKind::Ellipse,
            None,
            Some(Color(0xe0, 0x30, 0x30)),
            3.0,
            0.0,
        ),
        (
            ShapeKind::Diamond,
            Some(Color(0xf5, 0xd1, 0x28)),
            Some(Color::BLACK),
            2.0,
            0.0,
        ),
        (
            ShapeKind::Triangle,
            Some(Color(0x67, 0xc6, 0xc0)),
            None,
            2.0,
            0.0,
        ),
        (
            ShapeKind::Rect,
            Some(Color(0xa6, 0xcc, 0xf5)),
            Some(Color::BLACK),
            8.0,
            20.0,
        ),
    ];
    let mut shape_ids = Vec::new();
    for (i, (kind, fill, stroke, width, rot)) in shapes.into_iter().enumerate() {
        let x = 780.0 + (i % 3) as f64 * 170.0;
        let y = 20.0 + (i / 3) as f64 * 160.0;
        shape_ids.push(
            b.create(
                NewElement::shape(
                    kind,
                    Geometry {
                        rot,
                        ..Geometry::new(x, y, 140.0, 110.0)
                    },
                )
                .with_text(if i % 2 == 0 { "Shape text" } else { "" })
                .with_style(StylePatch {
                    fill: Some(fill),
                    stroke: Some(stroke),
                    stroke_width: Some(width),
                    ..style()
                }),
            )
            .unwrap(),
        );
    }
    for (i, align) in [Align::Left, Align::Center, Align::Right]
        .into_iter()
        .enumerate()
    {
        b.create(
            NewElement::text(0.0, 480.0 + i as f64 * 50.0, "Plain text, aligned")
                .with_geometry(Geometry::new(0.0, 480.0 + i as f64 * 50.0, 300.0, 40.0))
                .with_style(StylePatch {
                    align: Some(align),
                    text_color: Some(Color(0x20, 0x20, 0x80)),
                    ..style()
                }),
        )
        .unwrap();
    }
    b.create(
        NewElement::text(340.0, 480.0, "Boxed text with a fill and a border")
            .with_geometry(Geometry::new(340.0, 480.0, 260.0, 90.0))
            .with_style(StylePatch {
                fill: Some(Some(Color(0xff, 0xee, 0xdd))),
                stroke: Some(Some(Color(0x80, 0x40, 0x00))),
                stroke_width: Some(1.0),
                font_size: Some(18.0),
                ..style()
            }),
    )
    .unwrap();
    let ink: Vec<[f32; 2]> = (0..40)
        .map(|i| {
            let t = i as f32 / 39.0;
            [640.0 + t * 300.0, 520.0 + (t * 9.0).sin() * 40.0]
        })
        .collect();
    b.create(NewElement::ink(&ink).with_style(StylePatch {
        stroke: Some(Some(Color(0x7a, 0x1f, 0xa2))),
        stroke_width: Some(5.0),
        ..style()
    }))
    .unwrap();
    b.create(NewElement::ink(&[[1000.0, 600.0]]).with_style(StylePatch {
        stroke_width: Some(12.0),
        ..style()
    }))
    .unwrap();
    // Connectors: bound with an arrow at the end (the default), both ends,
    // neither end, and a free one.
    b.create(NewElement::connector(
        End::bound(&yellow, Anchor::Right),
        End::bound(&blue, Anchor::Left),
    ))
    .unwrap();
    let both = NewElement::connector(
        End::bound(&shape_ids[0], Anchor::Bottom),
        End::bound(&shape_ids[3], Anchor::Top),
    );
    let both = NewElement {
        body: match both.body {
            Body::Connector { from, to, .. } => Body::Connector {
                from,
                to,
                arrow_start: ArrowHead::Arrow,
                arrow_end: ArrowHead::Arrow,
            },
            other => other,
        },
        ..both
    }
    .with_style(StylePatch {
        stroke: Some(Some(Color(0x1f, 0x6f, 0xeb))),
        stroke_width: Some(3.0),
        ..style()
    });
    b.create(both).unwrap();
    let plain = NewElement::connector(
        End::bound(&shape_ids[1], Anchor::Right),
        End::bound(&shape_ids[2], Anchor::Left),
    );
    let plain = NewElement {
        body: match plain.body {
            Body::Connector { from, to, .. } => Body::Connector {
                from,
                to,
                arrow_start: ArrowHead::None,
                arrow_end: ArrowHead::None,
            },
            other => other,
        },
        ..plain
    };
    b.create(plain).unwrap();
    b.create(NewElement::connector(
        End::free(620.0, 640.0),
        End::free(760.0, 600.0),
    ))
    .unwrap();
    (b, yellow)
}

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_touchpoint"));
    cmd.env("NO_COLOR", "1");
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // Quiets the Vulkan loader; scripts/test sets a private one.
        cmd.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    cmd
}

/// Runs `touchpoint render`; `None` when there is no GPU adapter and
/// `TOUCHPOINT_SKIP_GPU=1` says to skip, a failure otherwise.
fn render(board: &Path, out: &Path, args: &[&str]) -> Option<Image> {
    let output = bin()
        .arg("render")
        .arg(board)
        .arg("-o")
        .arg(out)
        .args(args)
        .output()
        .expect("run touchpoint");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stderr.contains("no GPU adapter")
            && std::env::var("TOUCHPOINT_SKIP_GPU").as_deref() == Ok("1")
        {
            eprintln!(
                "skipped: no GPU adapter and TOUCHPOINT_SKIP_GPU=1 ({})",
                stderr.trim()
            );
            return None;
        }
        panic!(
            "touchpoint render failed ({:?}): {stderr}\n(no GPU? install mesa-vulkan-drivers \
             libvulkan1, or set TOUCHPOINT_SKIP_GPU=1 to skip render tests)",
            output.status
        );
    }
    Some(Image::read(out))
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

/// Compares with `tests/snapshots/NAME.png`, or rewrites it with
/// `UPDATE_SNAPSHOTS=1`. On a mismatch the new image is kept beside the
/// target dir for a look.
fn check_snapshot(name: &str, actual_path: &Path, actual: &Image) {
    let expected_path = snapshot_dir().join(format!("{name}.png"));
    if std::env::var("UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::create_dir_all(snapshot_dir()).unwrap();
        std::fs::copy(actual_path, &expected_path).unwrap();
        eprintln!("updated {}", expected_path.display());
        return;
    }
    assert!(
        expected_path.exists(),
        "{} is missing: run with UPDATE_SNAPSHOTS=1 to create it",
        expected_path.display()
    );
    let expected = Image::read(&expected_path);
    assert_eq!(
        (actual.width, actual.height),
        (expected.width, expected.height),
        "size differs from {}",
        expected_path.display()
    );
    let differing = actual
        .rgba
        .chunks_exact(4)
        .zip(expected.rgba.chunks_exact(4))
        .filter(|(a, e)| {
            a.iter()
                .zip(*e)
                .any(|(x, y)| x.abs_diff(*y) > CHANNEL_TOLERANCE)
        })
        .count();
    let total = (actual.width * actual.height) as usize;
    let share = differing as f64 / total as f64;
    if share > MAX_DIFFERING {
        let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.actual.png"));
        std::fs::copy(actual_path, &kept).unwrap();
        panic!(
            "{name}: {differing} of {total} pixels ({:.2}%) differ by more than {CHANNEL_TOLERANCE} \
             from {} (limit {:.1}%); this render is at {} (UPDATE_SNAPSHOTS=1 to accept it)",
            share * 100.0,
            expected_path.display(),
            MAX_DIFFERING * 100.0,
            kept.display()
        );
    }
}

#[test]
fn reference_board_matches_snapshot_and_shows_its_elements() {
    let dir = tempfile::tempdir().unwrap();
    let (board, yellow_id) = reference_board();
    let board_path = dir.path().join("reference.tpboard");
    file::save(&board, &board_path).unwrap();
    let out = dir.path().join("reference.png");
    let size = [WIDTH.to_string(), HEIGHT.to_string()];
    let Some(image) = render(
        &board_path,
        &out,
        &["--width", &size[0], "--height", &size[1]],
    ) else {
        return;
    };
    assert_eq!((image.width, image.height), (WIDTH, HEIGHT));

    // Where things should be: the same camera the CLI makes for `fit`.
    let scene = Scene::build(&board);
    let mut camera = Camera::new(Vec2::new(f64::from(WIDTH), f64::from(HEIGHT)), 1.0);
    camera.zoom_to_fit(scene.world_bounds().unwrap(), FIT_PADDING_PX);

    // The yellow sticky's fill shows near its top-left corner (away from
    // its text bars), at its projected position.
    let sticky = scene.get(&yellow_id).unwrap().rect();
    let inside = sticky.world_from_local(sticky.half_size * -0.8);
    let got = image.pixel_at(camera.screen_from_world(inside));
    assert!(
        close(got, rgb(YELLOW), 3),
        "sticky fill at its corner: {got:?}"
    );

    // Real glyphs, not level-of-detail bars: at this zoom the sticky's text
    // is well above the glyph threshold, so dark (black text) pixels show
    // inside its box. Bars are drawn at reduced alpha and never get this
    // dark over yellow.
    let (lo, hi) = (
        camera.screen_from_world(sticky.center - sticky.half_size * 0.9),
        camera.screen_from_world(sticky.center + sticky.half_size * 0.9),
    );
    let dark = (lo.y.round() as u32..hi.y.round() as u32)
        .flat_map(|y| (lo.x.round() as u32..hi.x.round() as u32).map(move |x| (x, y)))
        .filter(|&(x, y)| image.pixel(x, y).iter().all(|&c| c < 80))
        .count();
    assert!(
        dark >= GLYPH_MIN_DARK_PIXELS,
        "only {dark} dark text pixels in the yellow sticky: glyphs missing?"
    );

    // The canvas: background in the corner, and not one flat colour (dots).
    assert!(
        close(image.pixel(2, 2), BACKGROUND, 24),
        "{:?}",
        image.pixel(2, 2)
    );
    let mut colours: Vec<[u8; 3]> = (0..HEIGHT)
        .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
        .map(|(x, y)| image.pixel(x, y))
        .collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 50, "only {} colours", colours.len());
    let far_from_bg = image
        .rgba
        .chunks_exact(4)
        .filter(|p| !close([p[0], p[1], p[2]], BACKGROUND, 40))
        .count();
    assert!(
        far_from_bg > (WIDTH * HEIGHT / 20) as usize,
        "mostly background: {far_from_bg} content pixels"
    );

    // The clipped sticky: red inside the frame, none outside it.
    let red = rgb(Color::STICKY_PALETTE[6]);
    let frame_right = 700.0;
    let in_frame = camera.screen_from_world(Vec2::new(frame_right - 30.0, 300.0));
    let outside = camera.screen_from_world(Vec2::new(frame_right + 40.0, 300.0));
    assert!(
        close(image.pixel_at(in_frame), red, 6),
        "{:?}",
        image.pixel_at(in_frame)
    );
    assert!(
        !close(image.pixel_at(outside), red, 40),
        "clip leaked: {:?}",
        image.pixel_at(outside)
    );

    check_snapshot("reference", &out, &image);
}

#[test]
fn explicit_view_zooms_in() {
    let dir = tempfile::tempdir().unwrap();
    let (board, yellow_id) = reference_board();
    let board_path = dir.path().join("reference.tpboard");
    file::save(&board, &board_path).unwrap();
    let scene = Scene::build(&board);
    let sticky = scene.get(&yellow_id).unwrap().rect();
    // Centre on the sticky's top-left quarter at 400%: yellow at the centre.
    let at = sticky.world_from_local(sticky.half_size * -0.5);
    let view = format!("{},{},4", at.x, at.y);
    let out = dir.path().join("zoomed.png");
    let Some(image) = render(
        &board_path,
        &out,
        &["--width", "320", "--height", "200", "--view", &view],
    ) else {
        return;
    };
    assert!(
        close(image.pixel(160, 100), rgb(YELLOW), 3),
        "{:?}",
        image.pixel(160, 100)
    );
}

#[test]
fn errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tpboard");
    let board_path = dir.path().join("b.tpboard");
    file::save(&Board::new(), &board_path).unwrap();
    let cases: [(&Path, PathBuf); 2] = [
        (&missing, dir.path().join("out.png")),
        (&board_path, dir.path().join("no-such-dir/out.png")),
    ];
    for (board, out) in cases {
        let output = bin()
            .arg("render")
            .arg(board)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("no GPU adapter")
            && std::env::var("TOUCHPOINT_SKIP_GPU").as_deref() == Ok("1")
        {
            continue;
        }
        assert!(!output.status.success(), "{}: {stderr}", out.display());
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn glyph_buffers_are_cached_across_pans_and_bars_stand_in_at_low_zoom() {
    use touchpoint_render::{GpuContext, OffscreenTarget, RenderError};
    let gpu = match GpuContext::new() {
        Ok(gpu) => gpu,
        Err(e @ RenderError::NoAdapter { .. })
            if std::env::var("TOUCHPOINT_SKIP_GPU").as_deref() == Ok("1") =>
        {
            eprintln!("skipped: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let (board, _) = reference_board();
    let scene = Scene::build(&board);
    let mut renderer = gpu.renderer();
    let target = OffscreenTarget::new(&gpu, WIDTH, HEIGHT).unwrap();
    let mut camera = Camera::new(Vec2::new(f64::from(WIDTH), f64::from(HEIGHT)), 1.0);
    camera.zoom_to_fit(scene.world_bounds().unwrap(), FIT_PADDING_PX);
    let first = target.render(&gpu, &mut renderer, &scene, &camera).unwrap();
    assert!(first.text_areas > 0, "{first:?}");
    assert_eq!(first.text_shaped, first.text_areas, "{first:?}");
    // Panning (and zooming) re-uses the buffers: nothing is shaped again.
    camera.pan_by(Vec2::new(30.0, -20.0));
    camera.zoom_by_at(Vec2::new(100.0, 100.0), 1.5);
    let panned = target.render(&gpu, &mut renderer, &scene, &camera).unwrap();
    assert!(panned.text_areas > 0, "{panned:?}");
    assert_eq!(panned.text_shaped, 0, "{panned:?}");
    // Far out, glyphs would be a pixel or two: bars instead, no layout.
    let mut far = Camera::new(Vec2::new(f64::from(WIDTH), f64::from(HEIGHT)), 1.0);
    far.zoom_at(Vec2::ZERO, 0.05);
    let mut fresh = gpu.renderer();
    let tiny = target.render(&gpu, &mut fresh, &scene, &far).unwrap();
    assert_eq!((tiny.text_areas, tiny.text_shaped), (0, 0), "{tiny:?}");
}
