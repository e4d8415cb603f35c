//! The infinite-canvas camera: which part of the world the viewport shows.
//!
//! Screen positions are **physical pixels** from the viewport's top-left
//! corner (what winit reports and what the GPU draws in). Zoom is what the user
//! sees as a percentage: at 1.0 (100%), one world unit is one logical pixel
//! (one CSS px, as SCHEMA.md defines it), so `scale_factor` physical pixels.
//! Positions in egui points convert with [`Camera::screen_from_points`].

use crate::geom::{Rect, Vec2};

/// Smallest zoom: 2%.
pub const MIN_ZOOM: f64 = 0.02;
/// Largest zoom: 800%.
pub const MAX_ZOOM: f64 = 8.0;

/// Maps world to screen and back; see the module docs for the spaces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// The world point at the viewport's top-left corner.
    origin_in_world: Vec2,
    /// User zoom, 1.0 = 100%, within [`MIN_ZOOM`]..=[`MAX_ZOOM`].
    zoom: f64,
    /// Physical pixels per logical pixel (HiDPI), > 0.
    scale_factor: f64,
    /// Viewport size in physical pixels.
    viewport_px: Vec2,
}

impl Camera {
    /// A camera at 100% with the world origin at the viewport's top-left.
    /// A non-positive or non-finite `scale_factor` is read as 1.
    pub fn new(viewport_px: Vec2, scale_factor: f64) -> Camera {
        Camera {
            origin_in_world: Vec2::ZERO,
            zoom: 1.0,
            scale_factor: sane_scale(scale_factor),
            viewport_px: viewport_px.max(Vec2::ZERO),
        }
    }

    /// A camera that maps `origin_in_world` to the viewport's top-left at
    /// exactly `pixels_per_unit`, for drawing a region of the world into a
    /// texture (the renderer's tiles). The zoom is not clamped to the user's
    /// range; a non-positive or non-finite scale is read as 1.
    pub fn of_region(origin_in_world: Vec2, pixels_per_unit: f64, viewport_px: Vec2) -> Camera {
        let zoom = if pixels_per_unit.is_finite() && pixels_per_unit > 0.0 {
            pixels_per_unit
        } else {
            1.0
        };
        Camera {
            origin_in_world,
            zoom,
            scale_factor: 1.0,
            viewport_px: viewport_px.max(Vec2::ZERO),
        }
    }

    pub fn zoom(&self) -> f64 {
        self.zoom
    }

    pub fn scale_factor(&self) -> f64 {
        self.scale_factor
    }

    pub fn viewport_px(&self) -> Vec2 {
        self.viewport_px
    }

    pub fn origin_in_world(&self) -> Vec2 {
        self.origin_in_world
    }

    /// Physical pixels per world unit.
    pub fn pixels_per_unit(&self) -> f64 {
        self.zoom * self.scale_factor
    }

    /// World units per physical pixel: turns a tolerance of a few pixels
    /// into world units for hit tests.
    pub fn units_per_pixel(&self) -> f64 {
        1.0 / self.pixels_per_unit()
    }

    pub fn world_from_screen(&self, pos_in_screen: Vec2) -> Vec2 {
        self.origin_in_world + pos_in_screen / self.pixels_per_unit()
    }

    pub fn screen_from_world(&self, pos_in_world: Vec2) -> Vec2 {
        (pos_in_world - self.origin_in_world) * self.pixels_per_unit()
    }

    /// An egui position (logical points) as physical pixels.
    pub fn screen_from_points(&self, pos_in_points: Vec2) -> Vec2 {
        pos_in_points * self.scale_factor
    }

    /// The part of the world the viewport shows: what to cull against.
    pub fn visible_world_rect(&self) -> Rect {
        Rect::from_corners(
            self.world_from_screen(Vec2::ZERO),
            self.world_from_screen(self.viewport_px),
        )
    }

    /// Moves the view so the content follows the pointer by `delta_px`
    /// physical pixels (a drag to the right shows what was to the left).
    pub fn pan_by(&mut self, delta_px: Vec2) {
        if delta_px.is_finite() {
            self.origin_in_world -= delta_px / self.pixels_per_unit();
        }
    }

    /// Sets the zoom (clamped to 2%..800%) keeping the world point under
    /// `anchor_px` (the cursor) where it is on screen.
    pub fn zoom_at(&mut self, anchor_px: Vec2, zoom: f64) {
        if !zoom.is_finite() || !anchor_px.is_finite() {
            return;
        }
        let anchor_in_world = self.world_from_screen(anchor_px);
        self.zoom = zoom.clamp(MIN_ZOOM, MAX_ZOOM);
        self.origin_in_world = anchor_in_world - anchor_px / self.pixels_per_unit();
    }

    /// Multiplies the zoom by `factor` about `anchor_px` (a wheel step or a
    /// pinch); see [`Camera::zoom_at`].
    pub fn zoom_by_at(&mut self, anchor_px: Vec2, factor: f64) {
        self.zoom_at(anchor_px, self.zoom * factor);
    }

    /// Back to 100%, keeping the viewport's centre where it is.
    pub fn zoom_to_100(&mut self) {
        self.zoom_at(self.viewport_px / 2.0, 1.0);
    }

    /// Shows all of `rect` (world) centred, with `padding_px` physical pixels
    /// of margin on every side where the zoom limits allow. A rect without
    /// width fits its height (and the other way round); a single point is
    /// centred at the current zoom.
    pub fn zoom_to_fit(&mut self, rect: Rect, padding_px: f64) {
        if !rect.min.is_finite() || !rect.max.is_finite() {
            return;
        }
        let avail =
            (self.viewport_px - Vec2::splat(2.0 * padding_px.max(0.0))).max(Vec2::splat(1.0));
        let fit = |avail: f64, extent: f64| {
            if extent > 0.0 {
                avail / extent
            } else {
                f64::INFINITY
            }
        };
        let ppu = fit(avail.x, rect.width()).min(fit(avail.y, rect.height()));
        if ppu.is_finite() {
            self.zoom = (ppu / self.scale_factor).clamp(MIN_ZOOM, MAX_ZOOM);
        }
        self.origin_in_world = rect.center() - self.viewport_px / 2.0 / self.pixels_per_unit();
    }

    /// The window changed size: keep the top-left corner where it is.
    pub fn set_viewport_px(&mut self, viewport_px: Vec2) {
        self.viewport_px = viewport_px.max(Vec2::ZERO);
    }

    /// The window moved to a screen with another scale factor: keep the
    /// world point at the viewport's centre and the zoom percentage. Call it
    /// with the new physical viewport size.
    pub fn set_scale_factor(&mut self, scale_factor: f64, viewport_px: Vec2) {
        let center = self.world_from_screen(self.viewport_px / 2.0);
        self.scale_factor = sane_scale(scale_factor);
        self.viewport_px = viewport_px.max(Vec2::ZERO);
        self.origin_in_world = center - self.viewport_px / 2.0 / self.pixels_per_unit();
    }
}

fn sane_scale(s: f64) -> f64 {
    if s.is_finite() && s > 0.0 { s } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Vec2, b: Vec2) -> bool {
        a.distance(b) < 1e-9
    }

    #[test]
    fn round_trip_and_hidpi() {
        let mut cam = Camera::new(Vec2::new(800.0, 600.0), 2.0);
        cam.pan_by(Vec2::new(-100.0, 40.0));
        let p = Vec2::new(123.0, -45.5);
        assert!(close(cam.world_from_screen(cam.screen_from_world(p)), p));
        // At 100% on a 2x display one world unit is two physical pixels.
        let a = cam.screen_from_world(Vec2::ZERO);
        let b = cam.screen_from_world(Vec2::new(1.0, 0.0));
        assert!((b.x - a.x - 2.0).abs() < 1e-12);
        assert_eq!(
            cam.screen_from_points(Vec2::new(10.0, 5.0)),
            Vec2::new(20.0, 10.0)
        );
    }

    #[test]
    fn pan_moves_content_with_the_pointer() {
        let mut cam = Camera::new(Vec2::new(800.0, 600.0), 1.0);
        let w = Vec2::new(50.0, 50.0);
        let before = cam.screen_from_world(w);
        cam.pan_by(Vec2::new(30.0, -10.0));
        assert!(close(
            cam.screen_from_world(w),
            before + Vec2::new(30.0, -10.0)
        ));
    }

    #[test]
    fn zoom_keeps_the_point_under_the_cursor() {
        let mut cam = Camera::new(Vec2::new(1000.0, 700.0), 1.5);
        cam.pan_by(Vec2::new(321.0, -77.0));
        let cursor = Vec2::new(612.0, 233.0);
        let under = cam.world_from_screen(cursor);
        for factor in [1.1, 1.1, 3.0, 0.5, 0.01, 1000.0] {
            cam.zoom_by_at(cursor, factor);
            assert!(
                close(cam.world_from_screen(cursor), under),
                "factor {factor}"
            );
        }
    }

    #[test]
    fn zoom_is_clamped() {
        let mut cam = Camera::new(Vec2::new(100.0, 100.0), 1.0);
        cam.zoom_at(Vec2::ZERO, 100.0);
        assert_eq!(cam.zoom(), MAX_ZOOM);
        cam.zoom_at(Vec2::ZERO, 0.0001);
        assert_eq!(cam.zoom(), MIN_ZOOM);
        cam.zoom_at(Vec2::ZERO, f64::NAN);
        assert_eq!(cam.zoom(), MIN_ZOOM);
    }

    #[test]
    fn zoom_to_fit_centres_with_padding() {
        let mut cam = Camera::new(Vec2::new(1000.0, 500.0), 2.0);
        let rect = Rect::from_min_size(Vec2::new(100.0, 100.0), Vec2::new(400.0, 100.0));
        cam.zoom_to_fit(rect, 50.0);
        // Width decides: (1000 - 100) / 400 = 2.25 px per unit, zoom 112.5%.
        assert!((cam.zoom() - 1.125).abs() < 1e-12);
        assert!(close(
            cam.screen_from_world(rect.center()),
            Vec2::new(500.0, 250.0)
        ));
        let left = cam.screen_from_world(rect.min);
        assert!((left.x - 50.0).abs() < 1e-9);
        // Everything is visible.
        assert!(cam.visible_world_rect().contains_rect(&rect));
        // A huge rect hits the zoom floor but stays centred.
        let huge = Rect::from_min_size(Vec2::ZERO, Vec2::splat(1e9));
        cam.zoom_to_fit(huge, 0.0);
        assert_eq!(cam.zoom(), MIN_ZOOM);
        assert!(close(
            cam.screen_from_world(huge.center()),
            Vec2::new(500.0, 250.0)
        ));
        // A single point keeps the zoom and centres it.
        cam.zoom_to_fit(Rect::point(Vec2::new(7.0, 7.0)), 10.0);
        assert_eq!(cam.zoom(), MIN_ZOOM);
        assert!(close(
            cam.screen_from_world(Vec2::new(7.0, 7.0)),
            Vec2::new(500.0, 250.0)
        ));
    }

    #[test]
    fn zoom_to_100_keeps_the_centre() {
        let mut cam = Camera::new(Vec2::new(800.0, 600.0), 1.25);
        cam.zoom_at(Vec2::new(10.0, 10.0), 3.7);
        let centre = cam.world_from_screen(Vec2::new(400.0, 300.0));
        cam.zoom_to_100();
        assert_eq!(cam.zoom(), 1.0);
        assert!(close(
            cam.world_from_screen(Vec2::new(400.0, 300.0)),
            centre
        ));
        assert!((cam.pixels_per_unit() - 1.25).abs() < 1e-12);
    }

    #[test]
    fn scale_factor_change_keeps_centre_and_zoom() {
        let mut cam = Camera::new(Vec2::new(800.0, 600.0), 1.0);
        cam.zoom_at(Vec2::new(100.0, 100.0), 2.0);
        let centre = cam.world_from_screen(Vec2::new(400.0, 300.0));
        cam.set_scale_factor(2.0, Vec2::new(1600.0, 1200.0));
        assert_eq!(cam.zoom(), 2.0);
        assert!(close(
            cam.world_from_screen(Vec2::new(800.0, 600.0)),
            centre
        ));
        // The same world span covers the same logical size.
        let rect = cam.visible_world_rect();
        assert!((rect.width() - 400.0).abs() < 1e-9);
        cam.set_scale_factor(-3.0, Vec2::new(800.0, 600.0));
        assert_eq!(cam.scale_factor(), 1.0);
    }
}
