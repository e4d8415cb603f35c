//! Which cached tiles a zoomed-out frame is made of: pure geometry, no GPU.
//!
//! Zoomed out, thousands of elements a few pixels across are on screen and
//! drawing each of them every frame is what costs (on lavapipe ~60 ms for
//! 10,000 at fit, most of it per primitive, not per pixel; BENCHMARKS.md).
//! Below [`MAX_TILED_PPU`] the renderer instead draws the world once into
//! square textures ("tiles") on a grid of power-of-two zoom levels, and each
//! frame just places the visible tiles: panning costs nothing, zooming
//! within a level only rescales, and an edit redraws the tiles its damage
//! rect touches ([`touchpoint_scene::scene::Scene::damage_since`]).
//!
//! A level's scale is the power of two at or above the camera's, so a tile
//! is shown at between half and full size: never magnified (blurred), at
//! most 2:1 minified, which bilinear filtering handles.

use touchpoint_scene::camera::Camera;
use touchpoint_scene::geom::{Rect, Vec2};

/// Side of a tile's content in texels.
pub const TILE_PX: u32 = 256;
/// Texels drawn around the content on every side, so bilinear filtering at
/// a tile's edge reads its neighbour's pixels, not a clamped copy (no seams).
pub const GUTTER_PX: u32 = 1;
/// Tiles are used at and below this many physical pixels per world unit
/// (25%): just above it a full-screen view of a dense board holds ~500
/// elements, which live drawing handles at 60 fps even on lavapipe; at
/// 12.5% it would be ~2,000 and ~50 ms (BENCHMARKS.md).
pub const MAX_TILED_PPU: f64 = 0.25;
/// Most tiles a frame may show; more draws live instead. A 3840x2160
/// viewport shows up to ~560 (tiles at half size), 1920x1080 up to ~150.
pub const MAX_VISIBLE: usize = 640;

/// One tile: its zoom level (pixels per unit = 2^level) and grid position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileKey {
    pub level: i32,
    pub x: i64,
    pub y: i64,
}

impl TileKey {
    /// Physical pixels per world unit the tile is drawn at.
    pub fn pixels_per_unit(&self) -> f64 {
        level_scale(self.level)
    }

    /// World units one tile spans.
    fn span(&self) -> f64 {
        f64::from(TILE_PX) / self.pixels_per_unit()
    }

    /// The part of the world the tile's content (without gutter) shows.
    pub fn world_rect(&self) -> Rect {
        let span = self.span();
        let min = Vec2::new(self.x as f64 * span, self.y as f64 * span);
        Rect::from_corners(min, min + Vec2::splat(span))
    }

    /// The camera that draws the tile's texture, gutter included.
    pub fn camera(&self) -> Camera {
        let ppu = self.pixels_per_unit();
        let gutter = f64::from(GUTTER_PX) / ppu;
        Camera::of_region(
            self.world_rect().min - Vec2::splat(gutter),
            ppu,
            Vec2::splat(f64::from(texture_px())),
        )
    }
}

/// Side of a tile's texture in texels, gutter included.
pub fn texture_px() -> u32 {
    TILE_PX + 2 * GUTTER_PX
}

fn level_scale(level: i32) -> f64 {
    2f64.powi(level)
}

/// The tile level a camera with `pixels_per_unit` uses, or `None` when it
/// is zoomed in past [`MAX_TILED_PPU`] (or the value is not usable).
pub fn level_for(pixels_per_unit: f64) -> Option<i32> {
    if !(pixels_per_unit.is_finite() && pixels_per_unit > 0.0 && pixels_per_unit <= MAX_TILED_PPU) {
        return None;
    }
    // The power of two at or above: tiles are never magnified on screen.
    let level = pixels_per_unit.log2().ceil();
    (level >= -60.0).then_some(level as i32)
}

/// A tile placed on screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    pub key: TileKey,
    /// Where the tile's content goes, in physical pixels.
    pub screen: Rect,
}

/// The tiles that cover `camera`'s view, row by row, or `None` when the
/// view is not drawn from tiles (zoomed in, or too many tiles).
pub fn visible(camera: &Camera) -> Option<Vec<Placed>> {
    let level = level_for(camera.pixels_per_unit())?;
    let view = camera.visible_world_rect();
    let keys = keys_touching(level, &view)?;
    if keys.len() > MAX_VISIBLE {
        return None;
    }
    Some(
        keys.into_iter()
            .map(|key| {
                let world = key.world_rect();
                Placed {
                    key,
                    screen: Rect::from_corners(
                        camera.screen_from_world(world.min),
                        camera.screen_from_world(world.max),
                    ),
                }
            })
            .collect(),
    )
}

/// The ring of tiles just outside `camera`'s view (one tile deep), at the
/// view's level: drawn ahead when a frame has time to spare, so a pan finds
/// them ready instead of drawing a whole row of them in one frame. Empty
/// when the view is not tiled.
pub fn around(camera: &Camera) -> Vec<TileKey> {
    let Some(level) = level_for(camera.pixels_per_unit()) else {
        return Vec::new();
    };
    let view = camera.visible_world_rect();
    let span = f64::from(TILE_PX) / level_scale(level);
    let (Some(inner), Some(outer)) = (
        keys_touching(level, &view),
        keys_touching(level, &view.expand(span)),
    ) else {
        return Vec::new();
    };
    outer.into_iter().filter(|k| !inner.contains(k)).collect()
}

/// Keys of the level's tiles whose content meets `rect` (world), or `None`
/// when there are more than [`MAX_VISIBLE`] of them or the rect is not
/// finite.
pub fn keys_touching(level: i32, rect: &Rect) -> Option<Vec<TileKey>> {
    if !(rect.min.is_finite() && rect.max.is_finite()) {
        return None;
    }
    let span = f64::from(TILE_PX) / level_scale(level);
    let cell = |v: f64| (v / span).floor();
    let (x0, x1) = (cell(rect.min.x), cell(rect.max.x));
    let (y0, y1) = (cell(rect.min.y), cell(rect.max.y));
    let count = (x1 - x0 + 1.0) * (y1 - y0 + 1.0);
    if !(count.is_finite() && count <= MAX_VISIBLE as f64 && x0.abs() < 1e15 && y0.abs() < 1e15) {
        return None;
    }
    let mut keys = Vec::with_capacity(count as usize);
    for y in y0 as i64..=y1 as i64 {
        for x in x0 as i64..=x1 as i64 {
            keys.push(TileKey { level, x, y });
        }
    }
    Some(keys)
}

/// Whether a change within `damage` (world) may alter `key`'s texture:
/// the content rect grown by the gutter and the two pixels antialiased
/// edges reach past an element's bounds.
pub fn is_damaged(key: &TileKey, damage: &Rect) -> bool {
    let reach = f64::from(GUTTER_PX + 2) / key.pixels_per_unit();
    key.world_rect().expand(reach).intersects(damage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(ppu: f64, origin: Vec2) -> Camera {
        Camera::of_region(origin, ppu, Vec2::new(1920.0, 1080.0))
    }

    #[test]
    fn levels_are_the_power_of_two_at_or_above_the_zoom() {
        assert_eq!(level_for(0.125), Some(-3));
        assert_eq!(level_for(0.1), Some(-3));
        assert_eq!(level_for(0.0625), Some(-4));
        assert_eq!(level_for(0.04), Some(-4));
        assert_eq!(level_for(0.02), Some(-5));
        assert_eq!(level_for(0.25), Some(-2));
        assert_eq!(level_for(0.26), None);
        assert_eq!(level_for(1.0), None);
        assert_eq!(level_for(0.0), None);
        assert_eq!(level_for(f64::NAN), None);
    }

    #[test]
    fn visible_tiles_cover_the_view_without_gaps() {
        let cam = camera(0.04, Vec2::new(-1234.0, 5678.0));
        let tiles = visible(&cam).expect("zoomed out");
        let view = Rect::from_corners(Vec2::ZERO, cam.viewport_px());
        // Every screen point lies in some tile's screen rect.
        for i in 0..=20 {
            for j in 0..=20 {
                let p = Vec2::new(view.max.x * i as f64 / 20.0, view.max.y * j as f64 / 20.0);
                assert!(
                    tiles.iter().any(|t| t.screen.contains(p)),
                    "{p:?} uncovered"
                );
            }
        }
        // Tiles are shown at between half and full size.
        for t in &tiles {
            let side = t.screen.width();
            assert!(side > f64::from(TILE_PX) / 2.0 && side <= f64::from(TILE_PX) + 1e-9);
        }
    }

    #[test]
    fn the_ring_around_the_view_is_one_tile_deep_and_outside_it() {
        let cam = camera(0.04, Vec2::new(-1234.0, 5678.0));
        let inner: Vec<TileKey> = visible(&cam).unwrap().iter().map(|p| p.key).collect();
        let ring = around(&cam);
        assert!(!ring.is_empty());
        for k in &ring {
            assert!(!inner.contains(k), "{k:?} is in view");
            let near = inner
                .iter()
                .any(|i| (i.x - k.x).abs() <= 1 && (i.y - k.y).abs() <= 1);
            assert!(near, "{k:?} is not next to the view");
        }
        // Every neighbour of the view is in the ring.
        let (x0, x1) = (
            inner.iter().map(|k| k.x).min().unwrap(),
            inner.iter().map(|k| k.x).max().unwrap(),
        );
        let (y0, y1) = (
            inner.iter().map(|k| k.y).min().unwrap(),
            inner.iter().map(|k| k.y).max().unwrap(),
        );
        assert_eq!(
            ring.len() as i64,
            (x1 - x0 + 3) * (y1 - y0 + 3) - (x1 - x0 + 1) * (y1 - y0 + 1)
        );
        assert!(around(&camera(1.0, Vec2::ZERO)).is_empty());
    }

    #[test]
    fn neighbouring_tiles_share_edges() {
        let a = TileKey {
            level: -4,
            x: 3,
            y: -2,
        };
        let b = TileKey { x: 4, ..a };
        assert_eq!(a.world_rect().max.x, b.world_rect().min.x);
        // The tile's camera puts the content's corner one gutter in.
        let cam = a.camera();
        let corner = cam.screen_from_world(a.world_rect().min);
        assert!((corner - Vec2::splat(f64::from(GUTTER_PX))).length() < 1e-6);
    }

    #[test]
    fn zoomed_in_or_huge_views_are_drawn_live() {
        assert!(visible(&camera(0.5, Vec2::ZERO)).is_none());
        // A 4K view is tiled even where tiles show at half size.
        let uhd = Camera::of_region(Vec2::new(-7.0, 3.0), 0.0626, Vec2::new(3840.0, 2160.0));
        assert!(visible(&uhd).is_some_and(|t| t.len() > 256));
        let huge = Camera::of_region(Vec2::ZERO, 0.25, Vec2::new(20_000.0, 20_000.0));
        assert!(visible(&huge).is_none());
        let nan = Rect {
            min: Vec2::new(f64::NAN, 0.0),
            max: Vec2::ZERO,
        };
        assert!(keys_touching(-4, &nan).is_none());
    }

    #[test]
    fn damage_reaches_tiles_within_the_antialiased_fringe() {
        let key = TileKey {
            level: -4,
            x: 0,
            y: 0,
        };
        let span = key.world_rect().width();
        let just_outside =
            Rect::from_corners(Vec2::new(span + 1.0, 10.0), Vec2::new(span + 5.0, 20.0));
        assert!(is_damaged(&key, &just_outside));
        let far = Rect::from_corners(Vec2::new(3.0 * span, 0.0), Vec2::new(4.0 * span, 1.0));
        assert!(!is_damaged(&key, &far));
    }
}
