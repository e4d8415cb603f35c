//! Geometry of the select tool: resize handles, resizing about the opposite
//! corner, and what a marquee picks.

use std::collections::BTreeSet;

use touchpoint_crdt::{Board, Geometry, GridView, Kind};

use touchpoint_scene::geom::{OrientedRect, Rect, Vec2};
use touchpoint_scene::scene::{Scene, SceneElement};

/// A resize handle: one corner of the selected element's rotated box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomRight,
    BottomLeft,
}

impl Corner {
    pub const ALL: [Corner; 4] = [
        Corner::TopLeft,
        Corner::TopRight,
        Corner::BottomRight,
        Corner::BottomLeft,
    ];

    /// Direction of this corner from the centre, in the box's own frame.
    pub fn signs(self) -> Vec2 {
        match self {
            Corner::TopLeft => Vec2::new(-1.0, -1.0),
            Corner::TopRight => Vec2::new(1.0, -1.0),
            Corner::BottomRight => Vec2::new(1.0, 1.0),
            Corner::BottomLeft => Vec2::new(-1.0, 1.0),
        }
    }

    /// Where the handle is in world coordinates.
    pub fn position(self, rect: &OrientedRect) -> Vec2 {
        let s = self.signs();
        rect.world_from_local(Vec2::new(s.x * rect.half_size.x, s.y * rect.half_size.y))
    }
}

/// Whether an element can be resized with handles: connectors are placed by
/// their ends, and grids are sized by their stages and lanes (the grid
/// panel) and never turn.
pub fn resizable(el: &SceneElement) -> bool {
    !matches!(el.kind(), Kind::Connector | Kind::Grid)
}

/// The cells that elements `ids`, moved by `offset`, would join if dropped
/// now: for each element that can sit in a cell, the cell under its moved
/// centre in the topmost grid there (as [`Board::move_and_drop`] decides),
/// each cell once, as world rectangles. At most `limit` elements are looked
/// at (a drag of thousands highlights the first ones' cells).
pub fn drop_cells(
    board: &Board,
    scene: &Scene,
    ids: &[String],
    offset: Vec2,
    limit: usize,
) -> Vec<Geometry> {
    let grids: Vec<GridView> = board
        .grid_ids()
        .iter()
        .rev()
        .filter(|g| !ids.contains(g))
        .filter_map(|g| board.grid_view(g))
        .collect();
    if grids.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<Geometry> = Vec::new();
    for id in ids.iter().take(limit) {
        let Some(el) = scene.get(id) else { continue };
        if matches!(el.kind(), Kind::Grid | Kind::Frame | Kind::Connector) {
            continue;
        }
        let c = el.element.geom.center();
        let p = [c[0] + offset.x, c[1] + offset.y];
        let cell = grids
            .iter()
            .find_map(|g| g.cell_at(p).and_then(|(l, s)| g.cell_rect(&l, &s)));
        if let Some(r) = cell
            && !out.contains(&r)
        {
            out.push(r);
        }
    }
    out
}

/// Where the rotation handle is: `offset` world units above the middle of
/// the box's top edge, in the box's own frame.
pub fn rotate_handle(rect: &OrientedRect, offset: f64) -> Vec2 {
    rect.world_from_local(Vec2::new(0.0, -rect.half_size.y - offset))
}

/// The rotation (degrees, in 0..360) that points the box's top at `p`,
/// snapped to multiples of `snap` degrees when asked.
pub fn rotation_towards(original: &Geometry, p: Vec2, snap_to_step: bool, snap: f64) -> f64 {
    let center = OrientedRect::from_geometry(original).center;
    let d = p - center;
    if d.length() < 1e-9 {
        return original.rot;
    }
    // Straight up (screen) is 0 degrees; clockwise positive, as stored.
    let mut degrees = d.x.atan2(-d.y).to_degrees();
    if snap_to_step && snap > 0.0 {
        degrees = (degrees / snap).round() * snap;
    }
    degrees.rem_euclid(360.0)
}

/// The handle within `radius` of `p`, if any (nearest first).
pub fn handle_at(rect: &OrientedRect, p: Vec2, radius: f64) -> Option<Corner> {
    Corner::ALL
        .into_iter()
        .map(|c| (c, c.position(rect).distance(p)))
        .filter(|(_, d)| *d <= radius)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

/// The geometry after dragging `corner` of `original` to `p`: the opposite
/// corner stays where it is in the world, rotation is kept, and the size
/// never drops below `min_size`. With `keep_aspect`, the box scales
/// uniformly by the larger of the two ratios.
pub fn resized(
    original: &Geometry,
    corner: Corner,
    p: Vec2,
    keep_aspect: bool,
    min_size: f64,
) -> Geometry {
    let rect = OrientedRect::from_geometry(original);
    let s = corner.signs();
    let anchor = rect.world_from_local(Vec2::new(-s.x * rect.half_size.x, -s.y * rect.half_size.y));
    let d = (p - anchor).rotated(-rect.rotation);
    let mut w = (d.x * s.x).max(min_size);
    let mut h = (d.y * s.y).max(min_size);
    if keep_aspect && original.w > 0.0 && original.h > 0.0 {
        let k = (w / original.w).max(h / original.h);
        w = (original.w * k).max(min_size);
        h = (original.h * k).max(min_size);
    }
    let center = anchor + Vec2::new(s.x * w / 2.0, s.y * h / 2.0).rotated(rect.rotation);
    Geometry {
        x: center.x - w / 2.0,
        y: center.y - h / 2.0,
        w,
        h,
        rot: original.rot,
    }
}

/// What a marquee over `rect` selects: every element whose visible bounds
/// meet it, except frames, which must lie wholly inside (so a marquee drawn
/// within a frame picks the frame's contents, not the frame).
pub fn marquee_hits(scene: &Scene, rect: &Rect) -> BTreeSet<String> {
    scene
        .query_rect(rect)
        .into_iter()
        .filter(|e| {
            e.kind() != Kind::Frame || e.visible_bounds().is_some_and(|b| rect.contains_rect(&b))
        })
        .map(|e| e.id().to_owned())
        .collect()
}

/// The rectangle an element occupies for "is it inside this frame": its box,
/// or for a connector the box of its two ends (strokes and shadows aside).
pub fn footprint(el: &SceneElement) -> Rect {
    match el.ends {
        Some([a, b]) => Rect::from_corners(a, b),
        None => el.rect().bounds(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn resize_keeps_the_opposite_corner() {
        let g = Geometry::new(100.0, 100.0, 200.0, 100.0);
        let r = resized(&g, Corner::BottomRight, Vec2::new(350.0, 260.0), false, 1.0);
        assert_eq!(r, Geometry::new(100.0, 100.0, 250.0, 160.0));
        let r = resized(&g, Corner::TopLeft, Vec2::new(50.0, 80.0), false, 1.0);
        assert_eq!(r, Geometry::new(50.0, 80.0, 250.0, 120.0));
        // Dragging past the opposite corner stops at the minimum size.
        let r = resized(&g, Corner::TopLeft, Vec2::new(900.0, 900.0), false, 1.0);
        assert_eq!((r.x + r.w, r.y + r.h), (300.0, 200.0));
        assert_eq!((r.w, r.h), (1.0, 1.0));
        // Keeping the aspect ratio.
        let r = resized(&g, Corner::BottomRight, Vec2::new(500.0, 150.0), true, 1.0);
        assert_eq!((r.w, r.h), (400.0, 200.0));
    }

    #[test]
    fn resize_of_a_rotated_box_keeps_the_opposite_corner_in_the_world() {
        let mut g = Geometry::new(0.0, 0.0, 100.0, 50.0);
        g.rot = 30.0;
        let before = OrientedRect::from_geometry(&g);
        let fixed = Corner::TopLeft.position(&before);
        let dragged = Corner::BottomRight.position(&before) + Vec2::new(40.0, 25.0);
        let r = resized(&g, Corner::BottomRight, dragged, false, 1.0);
        let after = OrientedRect::from_geometry(&r);
        let still = Corner::TopLeft.position(&after);
        assert!(close(still.x, fixed.x) && close(still.y, fixed.y));
        let moved = Corner::BottomRight.position(&after);
        // The dragged corner follows the pointer along the box's axes.
        assert!(moved.distance(dragged) < 1e-9, "{moved:?} {dragged:?}");
        assert_eq!(r.rot, 30.0);
    }

    #[test]
    fn rotation_points_the_top_at_the_pointer() {
        let g = Geometry::new(0.0, 0.0, 100.0, 100.0);
        let east = rotation_towards(&g, Vec2::new(200.0, 50.0), false, 15.0);
        assert!(close(east, 90.0), "{east}");
        let south = rotation_towards(&g, Vec2::new(50.0, 300.0), false, 15.0);
        assert!(close(south, 180.0), "{south}");
        let nearly = rotation_towards(&g, Vec2::new(60.0, -100.0), true, 15.0);
        assert!(close(nearly, 0.0), "snapped: {nearly}");
        let handle = rotate_handle(&OrientedRect::from_geometry(&g), 10.0);
        assert!(
            close(handle.x, 50.0) && close(handle.y, -10.0),
            "{handle:?}"
        );
    }

    #[test]
    fn handles_are_found_on_rotated_corners() {
        let mut g = Geometry::new(0.0, 0.0, 100.0, 100.0);
        g.rot = 45.0;
        let rect = OrientedRect::from_geometry(&g);
        let top = Corner::TopLeft.position(&rect);
        // Turned a quarter of the way round: the top-left corner is now on top.
        assert!(close(top.x, 50.0) && close(top.y, 50.0 - 50.0 * std::f64::consts::SQRT_2));
        assert_eq!(
            handle_at(&rect, top + Vec2::new(2.0, 0.0), 5.0),
            Some(Corner::TopLeft)
        );
        assert_eq!(handle_at(&rect, Vec2::new(0.0, 0.0), 5.0), None);
    }
    #[test]
    fn drop_cells_are_the_cells_under_the_moved_centres() {
        use touchpoint_crdt::{LaneRole, NewElement, NewGrid, NewLane, NewStage};
        let mut b = Board::new();
        let mut g = NewGrid::new("Map", 0.0, 0.0);
        g.stages = vec![NewStage::new("A"), NewStage::new("B")];
        g.lanes = vec![NewLane::new("Do", LaneRole::Cards)];
        let grid = b.create_grid(g).unwrap();
        let s1 = b.create(NewElement::sticky(1000.0, 0.0, "")).unwrap();
        let s2 = b.create(NewElement::sticky(1000.0, 300.0, "")).unwrap();
        let scene = Scene::build(&b);
        let ids = vec![s1.clone(), s2.clone(), grid.id.clone()];
        // s1's centre (1100, 100) moves to (300, 100): cell (Do, A); s2's to
        // (300, 400): below the grid.
        let cells = drop_cells(&b, &scene, &ids[..2], Vec2::new(-800.0, 0.0), 100);
        assert_eq!(cells, vec![Geometry::new(220.0, 64.0, 320.0, 240.0)]);
        // The grid itself never targets, and nothing moved over nothing.
        assert!(drop_cells(&b, &scene, &ids, Vec2::new(0.0, 0.0), 100).is_empty());
        let cells = drop_cells(&b, &scene, &ids[..1], Vec2::new(-500.0, 0.0), 100);
        assert_eq!(cells, vec![Geometry::new(540.0, 64.0, 320.0, 240.0)]);
        assert!(drop_cells(&b, &scene, &ids[..1], Vec2::new(-500.0, 0.0), 0).is_empty());
    }
}
