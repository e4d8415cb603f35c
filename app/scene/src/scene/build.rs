//! From one board element to its display items.
//!
//! Pure functions of an element snapshot (plus, for a connector, its resolved
//! end points), so the scene, tool previews and tests all build items the
//! same way.

use touchpoint_crdt::{
    Align, ArrowHead, Body, Color, Element, Geometry, Grid, LaneRole, ShapeKind, Style,
};

use super::item::{
    Item, LineCap, LineJoin, PathCmd, PathItem, Primitive, Rgba, ShapeItem, TextItem, VAlign,
};
use crate::geom::{OrientedRect, Vec2};

/// Corner radius of sticky notes, world units.
pub const STICKY_RADIUS: f64 = 3.0;
/// Space between a sticky note's edge and its text, world units.
pub const STICKY_PADDING: f64 = 16.0;
/// Space between a shape's edge and its text, world units.
pub const SHAPE_PADDING: f64 = 8.0;
/// Corner radius of `rounded_rect` shapes: this, or a quarter of the shorter
/// side when that is smaller.
pub const ROUNDED_RECT_RADIUS: f64 = 16.0;
/// A frame's title sits above the frame in a band this many font sizes tall.
pub const FRAME_TITLE_LINE: f64 = 1.6;
/// Fill of a grid's stage title row and default fill of its lane titles.
pub const GRID_HEADER_FILL: Color = Color(0xf2, 0xf2, 0xf2);
/// Default colour of a grid's `line` lanes (a blueprint's lines).
pub const GRID_LINE_COLOR: Color = Color(0x44, 0x55, 0x66);
/// Colour of an emotion curve and its points.
pub const EMOTION_COLOR: Color = Color(0xe0, 0x5a, 0x47);
/// Radius of an emotion curve's points, world units.
pub const EMOTION_POINT_RADIUS: f64 = 8.0;
/// Space between a grid header's edge and its title.
pub const GRID_PADDING: f64 = 12.0;

/// The items an element is drawn as, back to front. `ends` are a connector's
/// resolved end points (ignored for other kinds).
pub fn element_items(el: &Element, ends: Option<[Vec2; 2]>) -> Vec<Item> {
    let rect = OrientedRect::from_geometry(&el.geom);
    let style = &el.style;
    let mut items = Vec::new();
    match &el.body {
        Body::Sticky { text } => {
            items.push(Item::Shape(ShapeItem {
                primitive: Primitive::RoundedRect {
                    radius: STICKY_RADIUS,
                },
                rect,
                fill: style.fill.map(Rgba::from),
                stroke: style.stroke.map(Rgba::from),
                stroke_width: style.stroke_width,
                shadow: true,
            }));
            items.extend(text_item(
                text,
                style,
                inset(rect, STICKY_PADDING),
                VAlign::Middle,
            ));
        }
        Body::Shape { shape, text } => {
            items.push(shape_outline(*shape, rect, style));
            let text_box = match shape {
                // The largest boxes that fit inside the outlines.
                ShapeKind::Diamond => OrientedRect {
                    half_size: rect.half_size / 2.0,
                    ..rect
                },
                ShapeKind::Triangle => OrientedRect {
                    center: rect.world_from_local(Vec2::new(0.0, rect.half_size.y / 2.0)),
                    half_size: rect.half_size / 2.0,
                    rotation: rect.rotation,
                },
                ShapeKind::Ellipse => OrientedRect {
                    half_size: rect.half_size * std::f64::consts::FRAC_1_SQRT_2,
                    ..rect
                },
                ShapeKind::Rect | ShapeKind::RoundedRect => rect,
            };
            items.extend(text_item(
                text,
                style,
                inset(text_box, SHAPE_PADDING),
                VAlign::Middle,
            ));
        }
        Body::Text { text } => {
            if style.fill.is_some() || style.stroke.is_some() {
                items.push(Item::Shape(ShapeItem {
                    primitive: Primitive::Rect,
                    rect,
                    fill: style.fill.map(Rgba::from),
                    stroke: style.stroke.map(Rgba::from),
                    stroke_width: style.stroke_width,
                    shadow: false,
                }));
            }
            items.extend(text_item(text, style, rect, VAlign::Top));
        }
        Body::Ink { points } => {
            items.push(Item::Path(ink_path(&el.geom, points, style)));
        }
        Body::Connector {
            arrow_start,
            arrow_end,
            ..
        } => {
            let [from, to] = ends.unwrap_or([Vec2::ZERO; 2]);
            items.extend(connector_items(from, to, *arrow_start, *arrow_end, style));
        }
        Body::Frame { title } => {
            items.push(Item::Shape(ShapeItem {
                primitive: Primitive::Rect,
                rect,
                fill: style.fill.map(Rgba::from),
                stroke: style.stroke.map(Rgba::from),
                stroke_width: style.stroke_width,
                shadow: false,
            }));
            if !title.is_empty() {
                items.push(Item::Text(TextItem {
                    rect: frame_title_box(&el.geom, style.font_size),
                    text: title.clone(),
                    font_size: style.font_size,
                    color: Rgba::from(style.text_color),
                    align: style.align,
                    valign: VAlign::Bottom,
                    wrap_width: None,
                }));
            }
        }
        Body::Grid(grid) => items.extend(grid_items(&el.geom, grid, style)),
    }
    items
}

fn axis_rect(x: f64, y: f64, w: f64, h: f64) -> OrientedRect {
    OrientedRect::from_geometry(&Geometry::new(x, y, w.max(0.0), h.max(0.0)))
}

/// A grid as ordinary items, back to front: background, header row and
/// column, cell lines, `line` lanes as labelled lines, emotion curves with
/// their points, the title above. Grids do not rotate.
pub fn grid_items(geom: &Geometry, grid: &Grid, style: &Style) -> Vec<Item> {
    let (x0, y0) = (geom.x, geom.y);
    let [w, h] = grid.size();
    let stroke = style.stroke.map(Rgba::from);
    let text_color = Rgba::from(style.text_color);
    let font = style.font_size;
    let lefts = grid.stage_lefts();
    let tops = grid.lane_tops();
    let mut items = vec![Item::Shape(ShapeItem {
        primitive: Primitive::Rect,
        rect: axis_rect(x0, y0, w, h),
        fill: style.fill.map(Rgba::from),
        stroke,
        stroke_width: style.stroke_width,
        shadow: false,
    })];
    let header = |rect: OrientedRect, fill: Color| {
        Item::Shape(ShapeItem {
            primitive: Primitive::Rect,
            rect,
            fill: Some(Rgba::from(fill)),
            stroke: None,
            stroke_width: 0.0,
            shadow: false,
        })
    };
    let label = |rect: OrientedRect, text: &str, size: f64, align: Align, valign: VAlign| {
        (!text.is_empty()).then(|| {
            let rect = inset(
                rect,
                GRID_PADDING.min(rect.half_size.x.min(rect.half_size.y)),
            );
            Item::Text(TextItem {
                rect,
                text: text.to_owned(),
                font_size: size,
                color: text_color,
                align,
                valign,
                wrap_width: Some(rect.half_size.x * 2.0),
            })
        })
    };
    // Stage title row.
    if grid.header_h > 0.0 {
        items.push(header(
            axis_rect(x0, y0, w, grid.header_h),
            GRID_HEADER_FILL,
        ));
        for (stage, left) in grid.stages.iter().zip(&lefts) {
            items.extend(label(
                axis_rect(x0 + left, y0, stage.width, grid.header_h),
                &stage.title,
                font,
                Align::Center,
                VAlign::Middle,
            ));
        }
    }
    // Lane title column (line lanes are labelled along their line instead).
    for (lane, top) in grid.lanes.iter().zip(&tops) {
        if lane.role == LaneRole::Line {
            continue;
        }
        let rect = axis_rect(x0, y0 + top, grid.header_w, lane.height);
        if grid.header_w > 0.0 {
            items.push(header(rect, lane.color.unwrap_or(GRID_HEADER_FILL)));
            items.extend(label(rect, &lane.title, font, Align::Left, VAlign::Middle));
        }
    }
    // Cell lines: one path of straight segments.
    let mut cmds = Vec::new();
    let mut segment = |a: Vec2, b: Vec2| {
        cmds.push(PathCmd::MoveTo(a));
        cmds.push(PathCmd::LineTo(b));
    };
    // Stage borders run through the header row and every lane but `line`
    // lanes, whose line runs across unbroken.
    let mut runs = vec![(0.0, grid.header_h)];
    for (lane, top) in grid.lanes.iter().zip(&tops) {
        let last = runs.last_mut().filter(|r| (r.1 - top).abs() < 1e-9);
        match (lane.role, last) {
            (LaneRole::Line, _) => {}
            (_, Some(run)) => run.1 = top + lane.height,
            (_, None) => runs.push((*top, top + lane.height)),
        }
    }
    for left in &lefts {
        for (a, b) in &runs {
            if b > a {
                segment(Vec2::new(x0 + left, y0 + a), Vec2::new(x0 + left, y0 + b));
            }
        }
    }
    if grid.header_h > 0.0 {
        segment(
            Vec2::new(x0, y0 + grid.header_h),
            Vec2::new(x0 + w, y0 + grid.header_h),
        );
    }
    for (lane, top) in grid.lanes.iter().zip(&tops).skip(1) {
        let _ = lane;
        segment(Vec2::new(x0, y0 + top), Vec2::new(x0 + w, y0 + top));
    }
    if !cmds.is_empty() && stroke.is_some() {
        items.push(Item::Path(PathItem {
            commands: cmds,
            fill: None,
            stroke,
            stroke_width: style.stroke_width,
            join: LineJoin::Miter,
            cap: LineCap::Butt,
        }));
    }
    for (lane, top) in grid.lanes.iter().zip(&tops) {
        let (top, mid) = (y0 + top, y0 + top + lane.height / 2.0);
        match lane.role {
            LaneRole::Line => {
                let color = Rgba::from(lane.color.unwrap_or(GRID_LINE_COLOR));
                items.push(Item::Path(PathItem {
                    commands: vec![
                        PathCmd::MoveTo(Vec2::new(x0, mid)),
                        PathCmd::LineTo(Vec2::new(x0 + w, mid)),
                    ],
                    fill: None,
                    stroke: Some(color),
                    stroke_width: 3.0,
                    join: LineJoin::Miter,
                    cap: LineCap::Butt,
                }));
                if !lane.title.is_empty() {
                    let band = (lane.height / 2.0).max(1.0);
                    items.push(Item::Text(TextItem {
                        rect: axis_rect(
                            x0 + GRID_PADDING,
                            top,
                            (w - 2.0 * GRID_PADDING).max(0.0),
                            band,
                        ),
                        text: lane.title.clone(),
                        font_size: (font * 0.8).min(band),
                        color,
                        align: Align::Left,
                        valign: VAlign::Bottom,
                        wrap_width: None,
                    }));
                }
            }
            LaneRole::Emotion => {
                let amplitude = (lane.height / 2.0 - 2.0 * EMOTION_POINT_RADIUS).max(0.0);
                let color = Rgba::from(EMOTION_COLOR);
                let points: Vec<Vec2> = grid
                    .stages
                    .iter()
                    .zip(&lefts)
                    .filter_map(|(s, left)| {
                        let v = lane.points.get(&s.id)?;
                        Some(Vec2::new(x0 + left + s.width / 2.0, mid - v * amplitude))
                    })
                    .collect();
                if !points.is_empty() {
                    let first = grid.header_w;
                    items.push(Item::Path(PathItem {
                        commands: vec![
                            PathCmd::MoveTo(Vec2::new(x0 + first, mid)),
                            PathCmd::LineTo(Vec2::new(x0 + w, mid)),
                        ],
                        fill: None,
                        stroke: Some(Rgba::from(Color(0xd0, 0xd0, 0xd0))),
                        stroke_width: 1.0,
                        join: LineJoin::Miter,
                        cap: LineCap::Butt,
                    }));
                    items.push(Item::Path(PathItem {
                        commands: through_points(&points),
                        fill: None,
                        stroke: Some(color),
                        stroke_width: 3.0,
                        join: LineJoin::Round,
                        cap: LineCap::Round,
                    }));
                    for p in points {
                        items.push(Item::Shape(ShapeItem {
                            primitive: Primitive::Ellipse,
                            rect: OrientedRect::from_geometry(&Geometry::new(
                                p.x - EMOTION_POINT_RADIUS,
                                p.y - EMOTION_POINT_RADIUS,
                                2.0 * EMOTION_POINT_RADIUS,
                                2.0 * EMOTION_POINT_RADIUS,
                            )),
                            fill: Some(color),
                            stroke: Some(Rgba::from(Color::WHITE)),
                            stroke_width: 2.0,
                            shadow: false,
                        }));
                    }
                }
            }
            LaneRole::Cards => {}
        }
    }
    if !grid.title.is_empty() {
        items.push(Item::Text(TextItem {
            rect: frame_title_box(geom, font),
            text: grid.title.clone(),
            font_size: font,
            color: text_color,
            align: Align::Left,
            valign: VAlign::Bottom,
            wrap_width: None,
        }));
    }
    items
}

/// The band above a frame where its title is drawn (and where a click picks
/// the frame up), rotated with the frame.
pub fn frame_title_box(geom: &Geometry, font_size: f64) -> OrientedRect {
    let rect = OrientedRect::from_geometry(geom);
    let band = font_size * FRAME_TITLE_LINE;
    OrientedRect {
        center: rect.world_from_local(Vec2::new(0.0, -rect.half_size.y - band / 2.0)),
        half_size: Vec2::new(rect.half_size.x, band / 2.0),
        rotation: rect.rotation,
    }
}

fn inset(rect: OrientedRect, by: f64) -> OrientedRect {
    OrientedRect {
        half_size: (rect.half_size - Vec2::splat(by)).max(Vec2::ZERO),
        ..rect
    }
}

fn text_item(text: &str, style: &Style, rect: OrientedRect, valign: VAlign) -> Option<Item> {
    if text.is_empty() {
        return None;
    }
    Some(Item::Text(TextItem {
        rect,
        text: text.to_owned(),
        font_size: style.font_size,
        color: Rgba::from(style.text_color),
        align: style.align,
        valign,
        wrap_width: Some(rect.half_size.x * 2.0),
    }))
}

fn shape_outline(shape: ShapeKind, rect: OrientedRect, style: &Style) -> Item {
    let fill = style.fill.map(Rgba::from);
    let stroke = style.stroke.map(Rgba::from);
    let sdf = |primitive| {
        Item::Shape(ShapeItem {
            primitive,
            rect,
            fill,
            stroke,
            stroke_width: style.stroke_width,
            shadow: false,
        })
    };
    let Vec2 { x: hw, y: hh } = rect.half_size;
    let polygon = |corners: &[Vec2]| {
        let mut commands: Vec<PathCmd> = corners
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let p = rect.world_from_local(*c);
                if i == 0 {
                    PathCmd::MoveTo(p)
                } else {
                    PathCmd::LineTo(p)
                }
            })
            .collect();
        commands.push(PathCmd::Close);
        Item::Path(PathItem {
            commands,
            fill,
            stroke,
            stroke_width: style.stroke_width,
            join: LineJoin::Miter,
            cap: LineCap::Butt,
        })
    };
    match shape {
        ShapeKind::Rect => sdf(Primitive::Rect),
        ShapeKind::RoundedRect => sdf(Primitive::RoundedRect {
            radius: ROUNDED_RECT_RADIUS.min(hw.min(hh) / 2.0),
        }),
        ShapeKind::Ellipse => sdf(Primitive::Ellipse),
        ShapeKind::Diamond => polygon(&[
            Vec2::new(0.0, -hh),
            Vec2::new(hw, 0.0),
            Vec2::new(0.0, hh),
            Vec2::new(-hw, 0.0),
        ]),
        ShapeKind::Triangle => {
            polygon(&[Vec2::new(0.0, -hh), Vec2::new(hw, hh), Vec2::new(-hw, hh)])
        }
    }
}

/// An ink stroke as a smooth path (see [`smooth_polyline`]), in world
/// coordinates: stored points are relative to the box's top-left corner and
/// turn with the box.
fn ink_path(geom: &Geometry, points: &[[f32; 2]], style: &Style) -> PathItem {
    let rect = OrientedRect::from_geometry(geom);
    // Points are stored relative to the box's top-left corner, before rotation.
    let world: Vec<Vec2> = points
        .iter()
        .map(|p| rect.world_from_local(Vec2::from(*p) - rect.half_size))
        .collect();
    PathItem {
        commands: smooth_polyline(&world),
        fill: None,
        stroke: style.stroke.map(Rgba::from),
        stroke_width: style.stroke_width,
        join: LineJoin::Round,
        cap: LineCap::Round,
    }
}

/// A polyline smoothed through its midpoints: straight to the first
/// midpoint, a quadratic curve (written as the equivalent cubic) through each
/// following midpoint with the recorded point as control, straight to the last
/// point. The curve stays inside the points' hull, so point bounds are curve
/// bounds. One point becomes a zero-length segment (a dot with round caps).
pub fn smooth_polyline(points: &[Vec2]) -> Vec<PathCmd> {
    match points {
        [] => Vec::new(),
        [p] => vec![PathCmd::MoveTo(*p), PathCmd::LineTo(*p)],
        [a, b] => vec![PathCmd::MoveTo(*a), PathCmd::LineTo(*b)],
        _ => {
            let mut cmds = vec![PathCmd::MoveTo(points[0])];
            cmds.push(PathCmd::LineTo(points[0].lerp(points[1], 0.5)));
            for w in points.windows(3) {
                let start = w[0].lerp(w[1], 0.5);
                let end = w[1].lerp(w[2], 0.5);
                let ctrl = w[1];
                cmds.push(PathCmd::CubicTo(
                    start + (ctrl - start) * (2.0 / 3.0),
                    end + (ctrl - end) * (2.0 / 3.0),
                    end,
                ));
            }
            cmds.push(PathCmd::LineTo(points[points.len() - 1]));
            cmds
        }
    }
}

/// A smooth curve through every point (Catmull-Rom, as cubic Béziers), so an
/// emotion curve passes through the points the team drags.
pub fn through_points(points: &[Vec2]) -> Vec<PathCmd> {
    match points {
        [] => Vec::new(),
        [p] => vec![PathCmd::MoveTo(*p), PathCmd::LineTo(*p)],
        _ => {
            let mut cmds = vec![PathCmd::MoveTo(points[0])];
            let at = |i: isize| points[i.clamp(0, points.len() as isize - 1) as usize];
            for i in 0..points.len() as isize - 1 {
                let (p0, p1, p2, p3) = (at(i - 1), at(i), at(i + 1), at(i + 2));
                cmds.push(PathCmd::CubicTo(
                    p1 + (p2 - p0) * (1.0 / 6.0),
                    p2 - (p3 - p1) * (1.0 / 6.0),
                    p2,
                ));
            }
            cmds
        }
    }
}

/// Length of an arrowhead along the line, world units.
pub fn arrow_length(stroke_width: f64) -> f64 {
    (stroke_width * 4.0).max(12.0)
}

/// A connector: the line between its resolved ends, then a filled arrowhead
/// per decorated end. The line stops at each arrowhead's base so a thick
/// line never pokes through the tip.
fn connector_items(
    from: Vec2,
    to: Vec2,
    arrow_start: ArrowHead,
    arrow_end: ArrowHead,
    style: &Style,
) -> Vec<Item> {
    let stroke = style.stroke.map(Rgba::from);
    let length = from.distance(to);
    let dir = (to - from).normalized();
    let arrows = [
        (arrow_start == ArrowHead::Arrow, from, -dir),
        (arrow_end == ArrowHead::Arrow, to, dir),
    ];
    let count = arrows.iter().filter(|a| a.0).count() as f64;
    // Short connectors get smaller heads, so the heads never overlap.
    let head = if count > 0.0 {
        arrow_length(style.stroke_width).min(length / count)
    } else {
        0.0
    };
    let (mut a, mut b) = (from, to);
    if arrows[0].0 {
        a = from + dir * head;
    }
    if arrows[1].0 {
        b = to - dir * head;
    }
    let mut items = vec![Item::Path(PathItem {
        commands: vec![PathCmd::MoveTo(a), PathCmd::LineTo(b)],
        fill: None,
        stroke,
        stroke_width: style.stroke_width,
        join: LineJoin::Round,
        cap: LineCap::Round,
    })];
    for (on, tip, pointing) in arrows {
        if !on || head <= 0.0 {
            continue;
        }
        let base = tip - pointing * head;
        let side = pointing.perp() * (head * 0.45);
        items.push(Item::Path(PathItem {
            commands: vec![
                PathCmd::MoveTo(tip),
                PathCmd::LineTo(base + side),
                PathCmd::LineTo(base - side),
                PathCmd::Close,
            ],
            fill: stroke,
            stroke: None,
            stroke_width: 0.0,
            join: LineJoin::Miter,
            cap: LineCap::Butt,
        }));
    }
    items
}
