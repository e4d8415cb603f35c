//! Where an element is: position, size and rotation, and the points that
//! follow from them (centre, anchors, bounds).

use serde::Serialize;

use crate::schema::Anchor;

/// Position and size in world units (1 unit = 1 CSS px at 100% zoom).
/// `x`, `y` is the top-left corner before rotation; `rot` is in degrees,
/// clockwise, about the centre.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Geometry {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub rot: f64,
}

impl Geometry {
    pub fn new(x: f64, y: f64, w: f64, h: f64) -> Self {
        Geometry {
            x,
            y,
            w,
            h,
            rot: 0.0,
        }
    }

    pub fn center(&self) -> [f64; 2] {
        [self.x + self.w / 2.0, self.y + self.h / 2.0]
    }

    /// The world position of a point given relative to the centre in the
    /// element's own (unrotated) frame.
    pub fn world_from_local(&self, local: [f64; 2]) -> [f64; 2] {
        let [cx, cy] = self.center();
        let (s, c) = self.rot.to_radians().sin_cos();
        [
            cx + local[0] * c - local[1] * s,
            cy + local[0] * s + local[1] * c,
        ]
    }

    /// Where a connector anchor sits in world coordinates.
    pub fn anchor_point(&self, anchor: Anchor) -> [f64; 2] {
        let (hw, hh) = (self.w / 2.0, self.h / 2.0);
        let local = match anchor {
            Anchor::Center => [0.0, 0.0],
            Anchor::Top => [0.0, -hh],
            Anchor::Right => [hw, 0.0],
            Anchor::Bottom => [0.0, hh],
            Anchor::Left => [-hw, 0.0],
        };
        self.world_from_local(local)
    }

    /// Axis-aligned bounds of the rotated box: `[min_x, min_y, max_x, max_y]`.
    pub fn bounds(&self) -> [f64; 4] {
        let (hw, hh) = (self.w / 2.0, self.h / 2.0);
        let corners =
            [[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]].map(|c| self.world_from_local(c));
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for [x, y] in corners {
            b[0] = b[0].min(x);
            b[1] = b[1].min(y);
            b[2] = b[2].max(x);
            b[3] = b[3].max(y);
        }
        b
    }
}
