//! Zoomed out, the window draws the canvas from cached tiles
//! (`render::tiles`); these tests hold the tiled picture to the live one,
//! drawn element by element with the same renderer, on a real GPU adapter
//! (Mesa's lavapipe in CI): at rest, after a pan, after an edit (only the
//! damaged tiles are drawn again), while a note is moved every frame (drawn
//! live over the tiles), and across a zoom level (stand-ins first, then sharp).
//!
//! Tolerance, in one place: the images are compared in 8x8 pixel blocks;
//! the mean absolute channel difference of every block must stay under
//! [`MAX_BLOCK_DIFF`] (a tile is minified by up to 2:1 with bilinear
//! filtering, which softens edges a little), and the negative control shows
//! that a note left at its old place exceeds it at least twice over.
//!
//! With no GPU adapter these tests FAIL, unless `TOUCHPOINT_SKIP_GPU=1` is
//! set (then they are skipped with a message).

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::sync::{Arc, Mutex};

use touchpoint_crdt::{
    Anchor, Board, Changes, End, Geometry, NewElement, ShapeKind, StylePatch, Subscription,
};
use touchpoint_render::{FrameStats, GpuContext, OffscreenTarget, RenderError, Renderer};
use touchpoint_scene::camera::Camera;
use touchpoint_scene::geom::Vec2;
use touchpoint_scene::scene::Scene;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 400;
const BLOCK: u32 = 8;
const MAX_BLOCK_DIFF: f64 = 10.0;
/// Glyph text is drawn into a tile at up to twice its size on screen and
/// minified, so its edges are softer than live text's: it is checked by
/// how much ink it leaves, within [`INK_TOLERANCE`] of the live picture's.
const INK_TOLERANCE: f64 = 0.25;
/// Top-left of the fixture's heading (world units).
const HEADING: Vec2 = Vec2::new(7000.0, 2400.0);

fn gpu() -> Option<GpuContext> {
    match GpuContext::new() {
        Ok(gpu) => Some(gpu),
        Err(e @ RenderError::NoAdapter { .. })
            if std::env::var("TOUCHPOINT_SKIP_GPU").as_deref() == Ok("1") =>
        {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("{e} (install mesa-vulkan-drivers, or set TOUCHPOINT_SKIP_GPU=1)"),
    }
}

/// A board of 20 x 20 cells, 250 units apart: stickies with text, shapes of
/// every outline with text, ink, and connectors between neighbours.
struct Fixture {
    board: Board,
    scene: Scene,
    queue: Arc<Mutex<Vec<Changes>>>,
    _sub: Subscription,
    notes: Vec<String>,
}

impl Fixture {
    fn new() -> Fixture {
        let mut board = Board::with_client_id(3);
        let mut notes = Vec::new();
        for i in 0..400usize {
            let (x, y) = ((i % 20) as f64 * 250.0, (i / 20) as f64 * 250.0);
            let new = match i % 4 {
                0 | 1 => NewElement::sticky(x, y, "A note about the service"),
                2 => NewElement::shape(
                    ShapeKind::ALL[(i / 4) % ShapeKind::ALL.len()],
                    Geometry::new(x, y, 180.0, 120.0),
                )
                .with_text("Step"),
                _ => {
                    let pts: Vec<[f32; 2]> = (0..12)
                        .map(|k| [x as f32 + k as f32 * 14.0, y as f32 + (k % 3) as f32 * 30.0])
                        .collect();
                    NewElement::ink(&pts)
                }
            };
            let id = board.create(new).unwrap();
            if i % 4 == 0 {
                notes.push(id);
            }
        }
        // A heading big enough to be drawn as glyphs at 24%, right of the
        // grid (outside the other tests' views).
        board
            .create(
                NewElement::text(HEADING.x, HEADING.y, "Service blueprint")
                    .with_geometry(Geometry::new(HEADING.x, HEADING.y, 3000.0, 400.0))
                    .with_style(StylePatch {
                        font_size: Some(200.0),
                        ..StylePatch::default()
                    }),
            )
            .unwrap();
        for pair in notes.windows(2).step_by(2) {
            board
                .create(NewElement::connector(
                    End::bound(&pair[0], Anchor::Right),
                    End::bound(&pair[1], Anchor::Left),
                ))
                .unwrap();
        }
        let (sub, queue) = board.change_queue();
        Fixture {
            scene: Scene::build(&board),
            board,
            queue,
            _sub: sub,
            notes,
        }
    }

    fn sync(&mut self) {
        for c in std::mem::take(&mut *self.queue.lock().unwrap()) {
            self.scene.apply(&self.board, &c);
        }
    }
}

struct Rig {
    gpu: GpuContext,
    target: OffscreenTarget,
    live: Renderer,
    tiled: Renderer,
}

impl Rig {
    fn new() -> Option<Rig> {
        let gpu = gpu()?;
        let target = OffscreenTarget::new(&gpu, WIDTH, HEIGHT).unwrap();
        let live = gpu.renderer();
        let mut tiled = gpu.renderer();
        tiled.enable_tile_cache();
        Some(Rig {
            gpu,
            target,
            live,
            tiled,
        })
    }

    fn live(&mut self, scene: &Scene, camera: &Camera) -> Vec<u8> {
        self.target
            .render_rgba(&self.gpu, &mut self.live, scene, camera)
            .unwrap()
    }

    fn tiled(&mut self, scene: &Scene, camera: &Camera) -> (Vec<u8>, FrameStats) {
        let stats = self
            .target
            .render(&self.gpu, &mut self.tiled, scene, camera)
            .unwrap();
        let rgba = self
            .target
            .render_rgba(&self.gpu, &mut self.tiled, scene, camera)
            .unwrap();
        (rgba, stats)
    }
}

/// Keeps both pictures of a failed comparison for a person to look at.
fn save(name: &str, rgba: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("render_tiles");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.png"));
    let file = std::fs::File::create(&path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), WIDTH, HEIGHT);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(rgba).unwrap();
    eprintln!("wrote {}", path.display());
}

/// Asserts that `tiled` looks like `live` (see the module docs).
fn assert_alike(what: &str, live: &[u8], tiled: &[u8]) {
    let diff = worst_block(live, tiled);
    eprintln!("{what}: the worst 8x8 block differs by {diff:.1}");
    if diff > MAX_BLOCK_DIFF {
        save(&format!("{what}-live"), live);
        save(&format!("{what}-tiled"), tiled);
        panic!("{what}: the worst 8x8 block differs by {diff:.1} (at most {MAX_BLOCK_DIFF})");
    }
}

/// The largest 8x8 block mean of absolute channel differences (RGB).
fn worst_block(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mut worst = 0.0f64;
    for by in 0..HEIGHT / BLOCK {
        for bx in 0..WIDTH / BLOCK {
            let mut sum = 0u64;
            for y in by * BLOCK..(by + 1) * BLOCK {
                for x in bx * BLOCK..(bx + 1) * BLOCK {
                    let i = ((y * WIDTH + x) * 4) as usize;
                    for c in 0..3 {
                        sum += u64::from(a[i + c].abs_diff(b[i + c]));
                    }
                }
            }
            worst = worst.max(sum as f64 / f64::from(BLOCK * BLOCK * 3));
        }
    }
    worst
}

fn camera_at(zoom: f64, center: Vec2) -> Camera {
    let viewport = Vec2::new(f64::from(WIDTH), f64::from(HEIGHT));
    let mut c = Camera::new(viewport, 1.0);
    c.zoom_at(Vec2::ZERO, zoom);
    c.pan_by(viewport / 2.0 - c.screen_from_world(center));
    c
}

#[test]
fn tiles_look_like_live_drawing_at_rest_and_after_a_pan() {
    let Some(mut rig) = Rig::new() else { return };
    let f = Fixture::new();
    let center = Vec2::new(2500.0, 2500.0);
    let mut camera = camera_at(0.09, center);
    let live = rig.live(&f.scene, &camera);
    let (tiled, first) = rig.tiled(&f.scene, &camera);
    assert!(first.tiles > 0 && first.tiles_rendered > 0, "{first:?}");
    assert_alike("rest", &live, &tiled);
    // The same view again: every tile comes from the cache.
    let (_, again) = rig.tiled(&f.scene, &camera);
    assert_eq!(again.tiles_rendered, 0, "{again:?}");
    // Idle frames draw the ring around the view ahead of a pan...
    let mut idle = 0;
    while rig.tiled(&f.scene, &camera).1.tiles_pending > 0 {
        idle += 1;
        assert!(idle < 50, "the ring around the view never finished");
    }
    // ...so a pan by most of a tile's width on screen (a tile is shown at
    // 0.09 / 0.125 of its size here) needs no new tile drawn.
    let mut far = camera;
    let shown = f64::from(touchpoint_render::tiles::TILE_PX) * 0.09 / 0.125;
    far.pan_by(Vec2::new(0.9 * shown, 0.4 * shown));
    let (tiled, ahead) = rig.tiled(&f.scene, &far);
    assert!(ahead.tiles > 0, "{ahead:?}");
    assert_eq!(ahead.tiles_rendered, 0, "{ahead:?}");
    assert_alike("pan-ahead", &rig.live(&f.scene, &far), &tiled);
    // A pan by a fraction of a tile shows the same tiles elsewhere.
    camera.pan_by(Vec2::new(37.0, -21.0));
    let (tiled, panned) = rig.tiled(&f.scene, &camera);
    let live = rig.live(&f.scene, &camera);
    assert_alike("pan", &live, &tiled);
    assert!(panned.tiles_rendered <= panned.tiles, "{panned:?}");
}

#[test]
fn an_edit_redraws_only_the_tiles_it_touches() {
    let Some(mut rig) = Rig::new() else { return };
    let mut f = Fixture::new();
    let camera = camera_at(0.09, Vec2::new(2500.0, 2500.0));
    let (before, first) = rig.tiled(&f.scene, &camera);
    // Move a note near the middle by half a cell.
    let id = f.notes[f.notes.len() / 2].clone();
    let mut geom = f.board.element(&id).unwrap().geom;
    geom.x += 125.0;
    geom.y += 60.0;
    f.board.set_geometry(&id, geom).unwrap();
    f.sync();
    let (after, edited) = rig.tiled(&f.scene, &camera);
    assert!(edited.tiles_rendered > 0, "{edited:?}");
    assert!(
        edited.tiles_rendered * 4 < first.tiles_rendered,
        "an edit redrew {} of {} tiles",
        edited.tiles_rendered,
        first.tiles_rendered
    );
    let live = rig.live(&f.scene, &camera);
    assert_alike("edit", &live, &after);
    // Negative control: the picture from before the edit is far off.
    let stale = worst_block(&live, &before);
    eprintln!("the stale picture differs by {stale:.1}");
    assert!(
        stale > 2.0 * MAX_BLOCK_DIFF,
        "a moved note went unnoticed ({stale:.1})"
    );
}

#[test]
fn a_note_moved_every_frame_is_drawn_live_and_redraws_no_tile() {
    let Some(mut rig) = Rig::new() else { return };
    let mut f = Fixture::new();
    let camera = camera_at(0.09, Vec2::new(2500.0, 2000.0));
    let frame = |rig: &mut Rig, scene: &Scene| {
        rig.target
            .render(&rig.gpu, &mut rig.tiled, scene, &camera)
            .unwrap()
    };
    while frame(&mut rig, &f.scene).tiles_pending > 0 {}
    // Move the top-left note (bound to its neighbour by a connector) left,
    // out of the grid, 50 units a frame: a stream of edits, as another
    // client dragging it live would send.
    let id = f.notes[0].clone();
    let mut geom = f.board.element(&id).unwrap().geom;
    let mut redrawn = Vec::new();
    for _ in 0..12 {
        geom.x -= 50.0;
        f.board.set_geometry(&id, geom).unwrap();
        f.sync();
        let stats = frame(&mut rig, &f.scene);
        redrawn.push((stats.tiles_rendered, stats.live_over_tiles));
    }
    // The first frames draw the tiles it leaves; from the third on it (and
    // its connector) are drawn live and no tile is drawn again.
    assert!(redrawn[0].0 > 0, "{redrawn:?}");
    assert!(
        redrawn[2..]
            .iter()
            .all(|&(tiles, live)| tiles == 0 && live == 2),
        "{redrawn:?}"
    );
    let (tiled, _) = rig.tiled(&f.scene, &camera);
    assert_alike("moving", &rig.live(&f.scene, &camera), &tiled);
    // Once still, it goes back into the tiles.
    let mut back = 0;
    loop {
        let stats = frame(&mut rig, &f.scene);
        back += stats.tiles_rendered;
        if stats.tiles_pending == 0 {
            assert_eq!(stats.live_over_tiles, 0, "{stats:?}");
            break;
        }
    }
    assert!(back > 0, "its tiles were not drawn again");
    let (tiled, _) = rig.tiled(&f.scene, &camera);
    assert_alike("still", &rig.live(&f.scene, &camera), &tiled);
}

#[test]
fn zooming_across_a_level_shows_stand_ins_then_sharp_tiles() {
    let Some(mut rig) = Rig::new() else { return };
    let f = Fixture::new();
    let center = Vec2::new(2500.0, 2500.0);
    // Level 2^-4 (a board-wide view), then zoom in to level 2^-3.
    let far = camera_at(0.05, center);
    let (_, _) = rig.tiled(&f.scene, &far);
    let near = camera_at(0.11, center);
    let first = rig
        .target
        .render(&rig.gpu, &mut rig.tiled, &f.scene, &near)
        .unwrap();
    assert!(
        first.tiles_pending > 0,
        "coarser tiles stand in first: {first:?}"
    );
    let mut frames = 1;
    loop {
        let stats = rig
            .target
            .render(&rig.gpu, &mut rig.tiled, &f.scene, &near)
            .unwrap();
        frames += 1;
        if stats.tiles_pending == 0 {
            break;
        }
        assert!(frames < 50, "tiles never finished: {stats:?}");
    }
    let (tiled, _) = rig.tiled(&f.scene, &near);
    let live = rig.live(&f.scene, &near);
    eprintln!("sharp after {frames} frames");
    assert_alike("zoom", &live, &tiled);
}

#[test]
fn glyph_text_in_tiles_leaves_the_ink_live_text_does() {
    let Some(mut rig) = Rig::new() else { return };
    let f = Fixture::new();
    let camera = camera_at(0.24, HEADING + Vec2::new(1400.0, 200.0));
    let (tiled, stats) = rig.tiled(&f.scene, &camera);
    assert!(stats.tiles > 0, "{stats:?}");
    let live_stats = rig
        .target
        .render(&rig.gpu, &mut rig.live, &f.scene, &camera)
        .unwrap();
    assert!(
        live_stats.text_areas > 0,
        "the heading is glyphs here: {live_stats:?}"
    );
    let live = rig.live(&f.scene, &camera);
    // Ink: how far below the background each pixel's luma is, summed.
    let ink = |rgba: &[u8]| -> f64 {
        rgba.chunks_exact(4)
            .map(|p| {
                let luma =
                    0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2]);
                (246.0 - luma).max(0.0)
            })
            .sum()
    };
    let (live_ink, tiled_ink) = (ink(&live), ink(&tiled));
    eprintln!("ink: live {live_ink:.0}, tiled {tiled_ink:.0}");
    assert!(live_ink > 0.0);
    if (tiled_ink / live_ink - 1.0).abs() > INK_TOLERANCE {
        save("glyphs-live", &live);
        save("glyphs-tiled", &tiled);
        panic!("the heading's ink: live {live_ink:.0}, tiled {tiled_ink:.0}");
    }
}

#[test]
fn zoomed_in_views_are_drawn_live() {
    let Some(mut rig) = Rig::new() else { return };
    let f = Fixture::new();
    let camera = camera_at(0.5, Vec2::new(2500.0, 2500.0));
    let (_, stats) = rig.tiled(&f.scene, &camera);
    assert_eq!(stats.tiles, 0, "{stats:?}");
    assert!(stats.visible_elements > 0, "{stats:?}");
}
