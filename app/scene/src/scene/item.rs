//! The display-list vocabulary: what one element is drawn as, in world units.
//!
//! Three kinds of item, matching the three ways the renderer draws:
//! - [`ShapeItem`]: a rectangle, rounded rectangle or ellipse given by centre,
//!   half-size and rotation, drawn as a GPU instance by a signed-distance shader;
//! - [`PathItem`]: plain path commands for what needs tessellation (diamonds,
//!   triangles, ink, connector lines and arrowheads), meshed once per element
//!   revision and cached;
//! - [`TextItem`]: a string in a box with what text layout needs.
//!
//! Strokes are centred on the outline (as in SVG): half the stroke width lies
//! outside the shape. Colours are sRGB with straight alpha.

use touchpoint_crdt::{Align, Color};

use crate::geom::{OrientedRect, Rect, Vec2, distance_to_segment, polygon_contains};

/// An sRGB colour with straight (not premultiplied) alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgba {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

impl Rgba {
    pub const fn opaque(c: Color) -> Rgba {
        Rgba {
            r: c.0,
            g: c.1,
            b: c.2,
            a: 255,
        }
    }

    pub const fn with_alpha(self, a: u8) -> Rgba {
        Rgba { a, ..self }
    }
}

impl From<Color> for Rgba {
    fn from(c: Color) -> Rgba {
        Rgba::opaque(c)
    }
}

/// How far (world units) a sticky note's shadow may reach beyond its box on
/// any side. The renderer's and the SVG writer's shadow must stay inside it,
/// since bounds (and so culling) include it.
pub const SHADOW_EXTENT: f64 = 12.0;

/// How far a miter join may reach, in stroke widths (SVG's default is 4).
pub const MITER_LIMIT: f64 = 4.0;

/// The outline a signed-distance shader draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Primitive {
    Rect,
    /// Corner radius in world units, at most half the shorter side.
    RoundedRect {
        radius: f64,
    },
    /// The ellipse inscribed in the box.
    Ellipse,
}

/// A shape drawn as a GPU instance with a signed-distance shader.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeItem {
    pub primitive: Primitive,
    /// Centre, half-size and rotation (radians, clockwise) in world units.
    pub rect: OrientedRect,
    /// `None`: not filled.
    pub fill: Option<Rgba>,
    /// `None`: no outline.
    pub stroke: Option<Rgba>,
    /// Outline width in world units, centred on the outline.
    pub stroke_width: f64,
    /// A subtle drop shadow (sticky notes), within [`SHADOW_EXTENT`].
    pub shadow: bool,
}

/// How far a centred outline reaches beyond the geometry; 0 when unpainted.
fn stroke_reach(stroke: Option<Rgba>, width: f64) -> f64 {
    if stroke.is_some() { width / 2.0 } else { 0.0 }
}

impl ShapeItem {
    fn stroke_half(&self) -> f64 {
        stroke_reach(self.stroke, self.stroke_width)
    }

    pub fn bounds(&self) -> Rect {
        let mut b = self.rect.bounds().expand(self.stroke_half());
        if self.shadow {
            b = b.expand(SHADOW_EXTENT);
        }
        b
    }

    /// Signed distance from `p` to the outline: negative inside. Exact for
    /// rectangles and rounded rectangles, a close approximation for ellipses.
    pub fn signed_distance(&self, p: Vec2) -> f64 {
        let local = self.rect.local_from_world(p);
        let half = self.rect.half_size;
        match self.primitive {
            Primitive::Rect => box_sdf(local, half, 0.0),
            Primitive::RoundedRect { radius } => {
                box_sdf(local, half, radius.clamp(0.0, half.x.min(half.y)))
            }
            Primitive::Ellipse => ellipse_sdf(local, half),
        }
    }

    /// Whether `p` hits the shape: inside it (when `interior`) or on its
    /// outline, with `tolerance` world units of slack.
    pub fn hit(&self, p: Vec2, tolerance: f64, interior: bool) -> bool {
        let d = self.signed_distance(p);
        let pad = self.stroke_half() + tolerance;
        if interior { d <= pad } else { d.abs() <= pad }
    }
}

fn box_sdf(p: Vec2, half: Vec2, radius: f64) -> f64 {
    let q = p.abs() - half + Vec2::splat(radius);
    q.max(Vec2::ZERO).length() + q.x.max(q.y).min(0.0) - radius
}

fn ellipse_sdf(p: Vec2, half: Vec2) -> f64 {
    if half.x <= 0.0 || half.y <= 0.0 {
        // Degenerate: a segment (or a point).
        return distance_to_segment(p, -half, half);
    }
    let k = Vec2::new(p.x / half.x, p.y / half.y).length();
    if k == 0.0 {
        return -half.x.min(half.y);
    }
    // Distance along the ray through the centre: exact on the axes and close
    // elsewhere for the aspect ratios boards use.
    let len = p.length();
    len - len / k
}

/// One step of a path, in world units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PathCmd {
    MoveTo(Vec2),
    LineTo(Vec2),
    /// A cubic Bézier: two control points, then the end point.
    CubicTo(Vec2, Vec2, Vec2),
    /// Closes the current sub-path back to its `MoveTo`.
    Close,
}

/// How stroke segments meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineJoin {
    /// Sharp corners, limited to [`MITER_LIMIT`] stroke widths.
    Miter,
    Round,
}

/// How open stroke ends look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineCap {
    Butt,
    Round,
}

/// A path to tessellate (lyon on the GPU, `<path d>` in SVG).
#[derive(Debug, Clone, PartialEq)]
pub struct PathItem {
    pub commands: Vec<PathCmd>,
    /// Fill of the closed sub-paths (non-zero rule); `None`: not filled.
    pub fill: Option<Rgba>,
    /// `None`: no stroke.
    pub stroke: Option<Rgba>,
    /// Stroke width in world units.
    pub stroke_width: f64,
    pub join: LineJoin,
    pub cap: LineCap,
}

/// A flattened sub-path.
#[derive(Debug, Clone, PartialEq)]
pub struct Polyline {
    pub points: Vec<Vec2>,
    pub closed: bool,
}

impl PathItem {
    fn stroke_half(&self) -> f64 {
        stroke_reach(self.stroke, self.stroke_width)
    }

    /// Bounds of the control points (a Bézier stays inside their hull),
    /// grown by how far the stroke reaches.
    pub fn bounds(&self) -> Rect {
        let points = self.commands.iter().flat_map(|c| match *c {
            PathCmd::MoveTo(p) | PathCmd::LineTo(p) => vec![p],
            PathCmd::CubicTo(a, b, p) => vec![a, b, p],
            PathCmd::Close => vec![],
        });
        let reach = match self.join {
            LineJoin::Miter => self.stroke_half() * MITER_LIMIT,
            LineJoin::Round => self.stroke_half(),
        };
        Rect::bounding(points).map_or(Rect::point(Vec2::ZERO), |b| b.expand(reach))
    }

    /// The path as polylines, curves split until each piece deviates less
    /// than about `tolerance` world units.
    pub fn flatten(&self, tolerance: f64) -> Vec<Polyline> {
        flatten(&self.commands, tolerance)
    }

    /// Whether `p` hits the path: within `tolerance` of the stroke, or inside
    /// a closed sub-path when `interior` (or when the path is filled).
    pub fn hit(&self, p: Vec2, tolerance: f64, interior: bool) -> bool {
        let reach = self.stroke_half() + tolerance;
        self.flatten(0.25).iter().any(|line| {
            let pts = &line.points;
            if line.closed && (interior || self.fill.is_some()) && polygon_contains(pts, p) {
                return true;
            }
            if pts.len() == 1 {
                return p.distance(pts[0]) <= reach;
            }
            let closing = line
                .closed
                .then(|| (pts[pts.len() - 1], pts[0]))
                .into_iter();
            pts.windows(2)
                .map(|w| (w[0], w[1]))
                .chain(closing)
                .any(|(a, b)| distance_to_segment(p, a, b) <= reach)
        })
    }
}

/// Flattens path commands into polylines; see [`PathItem::flatten`].
pub fn flatten(commands: &[PathCmd], tolerance: f64) -> Vec<Polyline> {
    let mut out: Vec<Polyline> = Vec::new();
    let mut current: Option<Polyline> = None;
    let mut last = Vec2::ZERO;
    for cmd in commands {
        match *cmd {
            PathCmd::MoveTo(p) => {
                out.extend(current.take());
                current = Some(Polyline {
                    points: vec![p],
                    closed: false,
                });
                last = p;
            }
            PathCmd::LineTo(p) => {
                current
                    .get_or_insert_with(|| Polyline {
                        points: vec![last],
                        closed: false,
                    })
                    .points
                    .push(p);
                last = p;
            }
            PathCmd::CubicTo(c1, c2, p) => {
                let line = current.get_or_insert_with(|| Polyline {
                    points: vec![last],
                    closed: false,
                });
                // Segments from the control polygon's length: enough for the
                // tolerances hit testing and bounds need.
                let hull = last.distance(c1) + c1.distance(c2) + c2.distance(p);
                let n = ((hull / tolerance.max(1e-3)).sqrt().ceil() as usize).clamp(1, 64);
                for i in 1..=n {
                    let t = i as f64 / n as f64;
                    line.points.push(cubic_point(last, c1, c2, p, t));
                }
                last = p;
            }
            PathCmd::Close => {
                if let Some(mut line) = current.take() {
                    line.closed = true;
                    last = line.points[0];
                    out.push(line);
                }
            }
        }
    }
    out.extend(current);
    out
}

fn cubic_point(p0: Vec2, p1: Vec2, p2: Vec2, p3: Vec2, t: f64) -> Vec2 {
    let u = 1.0 - t;
    p0 * (u * u * u) + p1 * (3.0 * u * u * t) + p2 * (3.0 * u * t * t) + p3 * (t * t * t)
}

/// Vertical placement of text in its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VAlign {
    Top,
    Middle,
    Bottom,
}

/// Text to lay out (cosmic-text) inside a box. Layout itself is the
/// renderer's and the SVG writer's job; this carries what it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TextItem {
    /// The box the text sits in, rotated with its element. Text beyond the
    /// box is clipped to it.
    pub rect: OrientedRect,
    pub text: String,
    /// Font size in world units (px at 100% zoom).
    pub font_size: f64,
    pub color: Rgba,
    pub align: Align,
    pub valign: VAlign,
    /// Width at which lines wrap, in world units; `None`: one line, no wrapping.
    pub wrap_width: Option<f64>,
}

impl TextItem {
    pub fn bounds(&self) -> Rect {
        self.rect.bounds()
    }

    pub fn hit(&self, p: Vec2, tolerance: f64) -> bool {
        let local = self.rect.local_from_world(p).abs();
        let half = self.rect.half_size + Vec2::splat(tolerance);
        local.x <= half.x && local.y <= half.y
    }
}

/// One entry of the display list.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Shape(ShapeItem),
    Path(PathItem),
    Text(TextItem),
}

impl Item {
    /// World bounds, including stroke, miter joins and shadow.
    pub fn bounds(&self) -> Rect {
        match self {
            Item::Shape(s) => s.bounds(),
            Item::Path(p) => p.bounds(),
            Item::Text(t) => t.bounds(),
        }
    }

    /// The same item moved by `offset` (a drag preview).
    pub fn translated(&self, offset: Vec2) -> Item {
        let mut item = self.clone();
        match &mut item {
            Item::Shape(s) => s.rect.center += offset,
            Item::Text(t) => t.rect.center += offset,
            Item::Path(p) => {
                for cmd in &mut p.commands {
                    match cmd {
                        PathCmd::MoveTo(a) | PathCmd::LineTo(a) => *a += offset,
                        PathCmd::CubicTo(a, b, c) => {
                            *a += offset;
                            *b += offset;
                            *c += offset;
                        }
                        PathCmd::Close => {}
                    }
                }
            }
        }
        item
    }

    /// Whether `p` hits the item; `interior` counts the inside of closed
    /// outlines (filled or not) as a hit.
    pub fn hit(&self, p: Vec2, tolerance: f64, interior: bool) -> bool {
        match self {
            Item::Shape(s) => s.hit(p, tolerance, interior),
            Item::Path(path) => path.hit(p, tolerance, interior),
            Item::Text(t) => t.hit(p, tolerance),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(primitive: Primitive, rotation: f64) -> ShapeItem {
        ShapeItem {
            primitive,
            rect: OrientedRect {
                center: Vec2::new(100.0, 100.0),
                half_size: Vec2::new(50.0, 25.0),
                rotation,
            },
            fill: Some(Rgba::opaque(Color::WHITE)),
            stroke: Some(Rgba::opaque(Color::BLACK)),
            stroke_width: 2.0,
            shadow: false,
        }
    }

    #[test]
    fn sdf_rect_and_rounded_rect() {
        let r = shape(Primitive::Rect, 0.0);
        assert_eq!(r.signed_distance(Vec2::new(100.0, 100.0)), -25.0);
        assert_eq!(r.signed_distance(Vec2::new(160.0, 100.0)), 10.0);
        let rr = shape(Primitive::RoundedRect { radius: 10.0 }, 0.0);
        // The corner is cut off by the radius.
        let corner = Vec2::new(149.0, 124.0);
        assert!(r.hit(corner, 0.0, true));
        assert!(!rr.hit(corner, 0.0, true));
    }

    #[test]
    fn ellipse_sdf_is_exact_on_axes() {
        let e = shape(Primitive::Ellipse, 0.0);
        assert!((e.signed_distance(Vec2::new(150.0, 100.0))).abs() < 1e-9);
        assert!((e.signed_distance(Vec2::new(100.0, 135.0)) - 10.0).abs() < 1e-9);
        // The box corner is well outside the ellipse.
        assert!(!e.hit(Vec2::new(148.0, 123.0), 1.0, true));
    }

    #[test]
    fn outline_only_hits_near_the_edge() {
        let r = shape(Primitive::Rect, 0.0);
        assert!(!r.hit(Vec2::new(100.0, 100.0), 2.0, false));
        assert!(r.hit(Vec2::new(151.0, 100.0), 2.0, false));
    }

    #[test]
    fn flatten_cubic_ends_on_its_end_point() {
        let cmds = [
            PathCmd::MoveTo(Vec2::ZERO),
            PathCmd::CubicTo(
                Vec2::new(0.0, 50.0),
                Vec2::new(100.0, 50.0),
                Vec2::new(100.0, 0.0),
            ),
        ];
        let lines = flatten(&cmds, 0.25);
        assert_eq!(lines.len(), 1);
        let pts = &lines[0].points;
        assert!(pts.len() > 4);
        assert_eq!(*pts.last().unwrap(), Vec2::new(100.0, 0.0));
        // The curve's apex is at 3/4 of the control height.
        let max_y = pts.iter().map(|p| p.y).fold(0.0, f64::max);
        assert!((max_y - 37.5).abs() < 0.5, "{max_y}");
    }

    #[test]
    fn path_bounds_include_miter_reach() {
        let tri = PathItem {
            commands: vec![
                PathCmd::MoveTo(Vec2::new(0.0, 0.0)),
                PathCmd::LineTo(Vec2::new(10.0, 0.0)),
                PathCmd::LineTo(Vec2::new(5.0, 10.0)),
                PathCmd::Close,
            ],
            fill: None,
            stroke: Some(Rgba::opaque(Color::BLACK)),
            stroke_width: 2.0,
            join: LineJoin::Miter,
            cap: LineCap::Butt,
        };
        assert_eq!(tri.bounds().min, Vec2::new(-4.0, -4.0));
        assert!(tri.hit(Vec2::new(5.0, 3.0), 0.0, true));
        assert!(!tri.hit(Vec2::new(5.0, 3.0), 0.0, false));
    }
}
