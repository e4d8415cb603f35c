//! Small 2D geometry shared by the scene, the camera and the tools: points and
//! vectors, axis-aligned rectangles, and rotated rectangles.
//!
//! Everything is `f64`, like the board's geometry. The space a value lives in
//! is in its name where it matters (`pos_in_world`, `pos_in_screen`); world
//! units are the board's (1 unit = 1 CSS px at 100% zoom, y grows downwards).

use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};

/// A point or a vector.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vec2 {
    pub x: f64,
    pub y: f64,
}

impl Vec2 {
    pub const ZERO: Vec2 = Vec2 { x: 0.0, y: 0.0 };

    pub const fn new(x: f64, y: f64) -> Vec2 {
        Vec2 { x, y }
    }

    pub fn splat(v: f64) -> Vec2 {
        Vec2 { x: v, y: v }
    }

    pub fn dot(self, o: Vec2) -> f64 {
        self.x * o.x + self.y * o.y
    }

    pub fn length(self) -> f64 {
        self.x.hypot(self.y)
    }

    pub fn distance(self, o: Vec2) -> f64 {
        (self - o).length()
    }

    /// The unit vector in this direction, or zero for a zero vector.
    pub fn normalized(self) -> Vec2 {
        let len = self.length();
        if len > 0.0 { self / len } else { Vec2::ZERO }
    }

    /// Rotated by `radians`, clockwise on screen (y grows downwards).
    pub fn rotated(self, radians: f64) -> Vec2 {
        let (s, c) = radians.sin_cos();
        Vec2::new(self.x * c - self.y * s, self.x * s + self.y * c)
    }

    /// Perpendicular (rotated a quarter turn).
    pub fn perp(self) -> Vec2 {
        Vec2::new(-self.y, self.x)
    }

    pub fn min(self, o: Vec2) -> Vec2 {
        Vec2::new(self.x.min(o.x), self.y.min(o.y))
    }

    pub fn max(self, o: Vec2) -> Vec2 {
        Vec2::new(self.x.max(o.x), self.y.max(o.y))
    }

    pub fn abs(self) -> Vec2 {
        Vec2::new(self.x.abs(), self.y.abs())
    }

    pub fn lerp(self, o: Vec2, t: f64) -> Vec2 {
        self + (o - self) * t
    }

    pub fn is_finite(self) -> bool {
        self.x.is_finite() && self.y.is_finite()
    }

    pub fn to_array(self) -> [f64; 2] {
        [self.x, self.y]
    }
}

impl From<[f64; 2]> for Vec2 {
    fn from([x, y]: [f64; 2]) -> Vec2 {
        Vec2 { x, y }
    }
}

impl From<[f32; 2]> for Vec2 {
    fn from([x, y]: [f32; 2]) -> Vec2 {
        Vec2::new(f64::from(x), f64::from(y))
    }
}

impl Add for Vec2 {
    type Output = Vec2;
    fn add(self, o: Vec2) -> Vec2 {
        Vec2::new(self.x + o.x, self.y + o.y)
    }
}

impl AddAssign for Vec2 {
    fn add_assign(&mut self, o: Vec2) {
        *self = *self + o;
    }
}

impl Sub for Vec2 {
    type Output = Vec2;
    fn sub(self, o: Vec2) -> Vec2 {
        Vec2::new(self.x - o.x, self.y - o.y)
    }
}

impl SubAssign for Vec2 {
    fn sub_assign(&mut self, o: Vec2) {
        *self = *self - o;
    }
}

impl Mul<f64> for Vec2 {
    type Output = Vec2;
    fn mul(self, s: f64) -> Vec2 {
        Vec2::new(self.x * s, self.y * s)
    }
}

impl Div<f64> for Vec2 {
    type Output = Vec2;
    fn div(self, s: f64) -> Vec2 {
        Vec2::new(self.x / s, self.y / s)
    }
}

impl Neg for Vec2 {
    type Output = Vec2;
    fn neg(self) -> Vec2 {
        Vec2::new(-self.x, -self.y)
    }
}

/// An axis-aligned rectangle, `min` top-left and `max` bottom-right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub min: Vec2,
    pub max: Vec2,
}

impl Rect {
    /// The rectangle spanned by two opposite corners, in any order.
    pub fn from_corners(a: Vec2, b: Vec2) -> Rect {
        Rect {
            min: a.min(b),
            max: a.max(b),
        }
    }

    pub fn from_min_size(min: Vec2, size: Vec2) -> Rect {
        Rect::from_corners(min, min + size)
    }

    pub fn from_center_half_size(center: Vec2, half_size: Vec2) -> Rect {
        Rect::from_corners(center - half_size, center + half_size)
    }

    /// A rectangle holding just `p`.
    pub fn point(p: Vec2) -> Rect {
        Rect { min: p, max: p }
    }

    /// The smallest rectangle holding every point, `None` for no points.
    pub fn bounding(points: impl IntoIterator<Item = Vec2>) -> Option<Rect> {
        let mut it = points.into_iter();
        let first = Rect::point(it.next()?);
        Some(it.fold(first, |r, p| r.union(Rect::point(p))))
    }

    pub fn width(&self) -> f64 {
        self.max.x - self.min.x
    }

    pub fn height(&self) -> f64 {
        self.max.y - self.min.y
    }

    pub fn size(&self) -> Vec2 {
        self.max - self.min
    }

    pub fn center(&self) -> Vec2 {
        (self.min + self.max) / 2.0
    }

    pub fn union(self, o: Rect) -> Rect {
        Rect {
            min: self.min.min(o.min),
            max: self.max.max(o.max),
        }
    }

    /// The overlap of two rectangles, `None` when they do not touch.
    pub fn intersection(self, o: Rect) -> Option<Rect> {
        let r = Rect {
            min: self.min.max(o.min),
            max: self.max.min(o.max),
        };
        (r.min.x <= r.max.x && r.min.y <= r.max.y).then_some(r)
    }

    /// Grown by `by` on every side.
    pub fn expand(self, by: f64) -> Rect {
        Rect {
            min: self.min - Vec2::splat(by),
            max: self.max + Vec2::splat(by),
        }
    }

    pub fn contains(&self, p: Vec2) -> bool {
        p.x >= self.min.x && p.x <= self.max.x && p.y >= self.min.y && p.y <= self.max.y
    }

    pub fn contains_rect(&self, o: &Rect) -> bool {
        self.contains(o.min) && self.contains(o.max)
    }

    pub fn intersects(&self, o: &Rect) -> bool {
        self.min.x <= o.max.x
            && o.min.x <= self.max.x
            && self.min.y <= o.max.y
            && o.min.y <= self.max.y
    }
}

/// A rectangle rotated about its centre: how every boxed element sits on the
/// board. `rotation` is in radians, clockwise on screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrientedRect {
    pub center: Vec2,
    pub half_size: Vec2,
    pub rotation: f64,
}

impl OrientedRect {
    /// The box of a board element (whose rotation is stored in degrees).
    pub fn from_geometry(g: &touchpoint_crdt::Geometry) -> OrientedRect {
        OrientedRect {
            center: Vec2::from(g.center()),
            half_size: Vec2::new(g.w / 2.0, g.h / 2.0),
            rotation: g.rot.to_radians(),
        }
    }

    pub fn axis_aligned(rect: Rect) -> OrientedRect {
        OrientedRect {
            center: rect.center(),
            half_size: rect.size() / 2.0,
            rotation: 0.0,
        }
    }

    /// A world point of this box given relative to its centre, unrotated.
    pub fn world_from_local(&self, local: Vec2) -> Vec2 {
        self.center + local.rotated(self.rotation)
    }

    /// A world point in the box's own frame: relative to its centre, unrotated.
    pub fn local_from_world(&self, world: Vec2) -> Vec2 {
        (world - self.center).rotated(-self.rotation)
    }

    /// Corners clockwise from the top-left (before rotation).
    pub fn corners(&self) -> [Vec2; 4] {
        let Vec2 { x: hw, y: hh } = self.half_size;
        [
            Vec2::new(-hw, -hh),
            Vec2::new(hw, -hh),
            Vec2::new(hw, hh),
            Vec2::new(-hw, hh),
        ]
        .map(|c| self.world_from_local(c))
    }

    /// Axis-aligned bounds of the rotated box.
    pub fn bounds(&self) -> Rect {
        let c = self.corners();
        Rect::from_corners(c[0], c[2]).union(Rect::from_corners(c[1], c[3]))
    }

    pub fn contains(&self, p: Vec2) -> bool {
        let l = self.local_from_world(p).abs();
        l.x <= self.half_size.x && l.y <= self.half_size.y
    }
}

/// Distance from `p` to the segment `a`-`b`.
pub fn distance_to_segment(p: Vec2, a: Vec2, b: Vec2) -> f64 {
    let ab = b - a;
    let len2 = ab.dot(ab);
    let t = if len2 > 0.0 {
        ((p - a).dot(ab) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    p.distance(a + ab * t)
}

/// Whether `p` is inside the polygon (even-odd rule; the last point joins the first).
pub fn polygon_contains(polygon: &[Vec2], p: Vec2) -> bool {
    let mut inside = false;
    let mut j = polygon.len().wrapping_sub(1);
    for (i, a) in polygon.iter().enumerate() {
        let b = polygon[j];
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rects_union_intersect_contain() {
        let a = Rect::from_corners(Vec2::new(10.0, 10.0), Vec2::new(0.0, 0.0));
        assert_eq!(a.min, Vec2::ZERO);
        let b = Rect::from_min_size(Vec2::new(5.0, 5.0), Vec2::new(10.0, 10.0));
        assert_eq!(a.union(b).max, Vec2::new(15.0, 15.0));
        assert_eq!(
            a.intersection(b),
            Some(Rect::from_corners(Vec2::splat(5.0), Vec2::splat(10.0)))
        );
        let far = Rect::from_min_size(Vec2::splat(20.0), Vec2::splat(1.0));
        assert_eq!(a.intersection(far), None);
        assert!(!a.intersects(&far));
        assert!(a.contains_rect(&Rect::point(Vec2::splat(3.0))));
    }

    #[test]
    fn rotated_box_bounds_and_containment() {
        let r = OrientedRect {
            center: Vec2::ZERO,
            half_size: Vec2::new(10.0, 10.0),
            rotation: std::f64::consts::FRAC_PI_4,
        };
        let b = r.bounds();
        let d = 10.0 * std::f64::consts::SQRT_2;
        assert!((b.max.x - d).abs() < 1e-9 && (b.min.y + d).abs() < 1e-9);
        // The unrotated corner region is outside a diamond-like rotated square.
        assert!(!r.contains(Vec2::new(9.0, 9.0)));
        assert!(r.contains(Vec2::new(13.0, 0.0)));
    }

    #[test]
    fn segment_distance_and_polygon() {
        let (a, b) = (Vec2::ZERO, Vec2::new(10.0, 0.0));
        assert_eq!(distance_to_segment(Vec2::new(5.0, 3.0), a, b), 3.0);
        assert_eq!(distance_to_segment(Vec2::new(14.0, 3.0), a, b), 5.0);
        let tri = [Vec2::ZERO, Vec2::new(10.0, 0.0), Vec2::new(0.0, 10.0)];
        assert!(polygon_contains(&tri, Vec2::new(2.0, 2.0)));
        assert!(!polygon_contains(&tri, Vec2::new(8.0, 8.0)));
    }
}
