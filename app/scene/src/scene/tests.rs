use std::sync::{Arc, Mutex};

use touchpoint_crdt::{
    Anchor, ArrowHead, Board, Changes, Color, End, Geometry, NewElement, ShapeKind, StylePatch,
    Subscription,
};

use super::*;

/// A board, its scene, and the change queue that keeps the scene current.
struct Fixture {
    board: Board,
    scene: Scene,
    queue: Arc<Mutex<Vec<Changes>>>,
    _sub: Subscription,
}

impl Fixture {
    fn new() -> Fixture {
        let board = Board::with_client_id(7);
        let (sub, queue) = board.change_queue();
        Fixture {
            scene: Scene::build(&board),
            board,
            queue,
            _sub: sub,
        }
    }

    /// Applies pending change events; returns what each did.
    fn sync(&mut self) -> Vec<Applied> {
        let pending: Vec<Changes> = std::mem::take(&mut *self.queue.lock().unwrap());
        pending
            .iter()
            .map(|c| self.scene.apply(&self.board, c))
            .collect()
    }

    fn create(&mut self, new: NewElement) -> String {
        let id = self.board.create(new).unwrap();
        self.sync();
        id
    }

    fn get(&self, id: &str) -> &SceneElement {
        self.scene.get(id).unwrap()
    }

    /// The incremental scene matches a scene built from scratch (all but revisions).
    fn assert_matches_rebuild(&self) {
        let fresh = Scene::build(&self.board);
        let strip = |s: &Scene| -> Vec<(String, Vec<Item>, Option<OrientedRect>, Rect)> {
            s.iter()
                .map(|e| (e.id().to_owned(), e.items.clone(), e.clip, e.bounds))
                .collect()
        };
        assert_eq!(strip(&self.scene), strip(&fresh));
        assert_eq!(self.scene.index().len(), fresh.index().len());
    }
}

fn shape_item(item: &Item) -> &ShapeItem {
    match item {
        Item::Shape(s) => s,
        other => panic!("expected a shape item, got {other:?}"),
    }
}

fn path_item(item: &Item) -> &PathItem {
    match item {
        Item::Path(p) => p,
        other => panic!("expected a path item, got {other:?}"),
    }
}

fn text_item(item: &Item) -> &TextItem {
    match item {
        Item::Text(t) => t,
        other => panic!("expected a text item, got {other:?}"),
    }
}

fn close(a: Vec2, b: Vec2) -> bool {
    a.distance(b) < 1e-6
}

fn path_points(p: &PathItem) -> Vec<Vec2> {
    p.commands
        .iter()
        .filter_map(|c| match *c {
            PathCmd::MoveTo(p) | PathCmd::LineTo(p) | PathCmd::CubicTo(_, _, p) => Some(p),
            PathCmd::Close => None,
        })
        .collect()
}

#[test]
fn sticky_is_a_rounded_rect_with_shadow_and_text() {
    let mut f = Fixture::new();
    let id = f.create(NewElement::sticky(100.0, 50.0, "What bothers you?"));
    let e = f.get(&id);
    assert_eq!(e.items.len(), 2);
    let s = shape_item(&e.items[0]);
    assert!(matches!(s.primitive, Primitive::RoundedRect { radius } if radius > 0.0));
    assert!(s.shadow);
    assert_eq!(s.rect.center, Vec2::new(200.0, 150.0));
    assert_eq!(s.rect.half_size, Vec2::new(100.0, 100.0));
    assert_eq!(s.fill, Some(Rgba::opaque(Color::STICKY_PALETTE[0])));
    assert_eq!(s.stroke, None);
    let t = text_item(&e.items[1]);
    assert_eq!(t.text, "What bothers you?");
    assert_eq!(t.font_size, 20.0);
    assert_eq!(t.valign, VAlign::Middle);
    assert_eq!(t.wrap_width, Some(200.0 - 2.0 * build::STICKY_PADDING));
    // The shadow is part of the bounds, so culling keeps it.
    assert!(e.bounds.min.x < 100.0 && e.bounds.max.y > 250.0);
}

#[test]
fn shapes_use_sdf_primitives_or_paths() {
    let mut f = Fixture::new();
    let mut g = Geometry::new(0.0, 0.0, 100.0, 60.0);
    g.rot = 90.0;
    let ids: Vec<(ShapeKind, String)> = ShapeKind::ALL
        .iter()
        .map(|k| (*k, f.create(NewElement::shape(*k, g).with_text("Hi"))))
        .collect();
    for (kind, id) in ids {
        let e = f.get(&id);
        assert_eq!(e.items.len(), 2, "{kind}: outline and text");
        let t = text_item(&e.items[1]);
        assert!((t.rect.rotation - std::f64::consts::FRAC_PI_2).abs() < 1e-12);
        match kind {
            ShapeKind::Rect | ShapeKind::RoundedRect | ShapeKind::Ellipse => {
                let s = shape_item(&e.items[0]);
                let expected = match kind {
                    ShapeKind::Rect => Primitive::Rect,
                    ShapeKind::Ellipse => Primitive::Ellipse,
                    _ => Primitive::RoundedRect { radius: 15.0 },
                };
                assert_eq!(s.primitive, expected);
                assert_eq!(s.rect.center, Vec2::new(50.0, 30.0));
                assert_eq!(s.rect.half_size, Vec2::new(50.0, 30.0));
                assert!((s.rect.rotation - std::f64::consts::FRAC_PI_2).abs() < 1e-12);
                assert_eq!(s.fill, Some(Rgba::opaque(Color::WHITE)));
                assert_eq!(s.stroke, Some(Rgba::opaque(Color::BLACK)));
                assert_eq!(s.stroke_width, 2.0);
                assert!(!s.shadow);
            }
            ShapeKind::Diamond | ShapeKind::Triangle => {
                let p = path_item(&e.items[0]);
                assert_eq!(p.commands.last(), Some(&PathCmd::Close));
                assert_eq!(p.join, LineJoin::Miter);
                let pts = path_points(p);
                // Rotated a quarter turn clockwise about (50, 30): the top
                // vertex (50, 0) lands on the right at (80, 30).
                assert!(close(pts[0], Vec2::new(80.0, 30.0)), "{kind}: {pts:?}");
                assert_eq!(pts.len(), if kind == ShapeKind::Diamond { 4 } else { 3 });
            }
        }
    }
}

#[test]
fn text_ink_connector_and_frame_items() {
    let mut f = Fixture::new();
    let text = f.create(NewElement::text(10.0, 10.0, "Journey map"));
    let t = f.get(&text);
    assert_eq!(t.items.len(), 1, "no box drawn without fill or stroke");
    let ti = text_item(&t.items[0]);
    assert_eq!(
        (ti.valign, ti.align),
        (VAlign::Top, touchpoint_crdt::Align::Left)
    );
    assert_eq!(ti.wrap_width, Some(200.0));

    let ink = f.create(NewElement::ink(&[
        [100.0, 100.0],
        [110.0, 120.0],
        [130.0, 125.0],
        [150.0, 100.0],
    ]));
    let p = path_item(&f.get(&ink).items[0]);
    assert_eq!(p.fill, None);
    assert_eq!((p.join, p.cap), (LineJoin::Round, LineCap::Round));
    assert_eq!(p.stroke_width, 3.0);
    assert_eq!(p.commands[0], PathCmd::MoveTo(Vec2::new(100.0, 100.0)));
    assert_eq!(
        p.commands
            .iter()
            .filter(|c| matches!(c, PathCmd::CubicTo(..)))
            .count(),
        2
    );
    assert_eq!(
        p.commands.last(),
        Some(&PathCmd::LineTo(Vec2::new(150.0, 100.0)))
    );

    let a = f.create(NewElement::shape(
        ShapeKind::Rect,
        Geometry::new(0.0, 0.0, 100.0, 100.0),
    ));
    let b = f.create(NewElement::shape(
        ShapeKind::Rect,
        Geometry::new(300.0, 0.0, 100.0, 100.0),
    ));
    let conn = f.create(NewElement::connector(
        End::bound(&a, Anchor::Right),
        End::bound(&b, Anchor::Left),
    ));
    let c = f.get(&conn);
    assert_eq!(
        c.ends,
        Some([Vec2::new(100.0, 50.0), Vec2::new(300.0, 50.0)])
    );
    assert_eq!(
        c.items.len(),
        2,
        "line and one arrowhead (default arrow at the end)"
    );
    let line = path_points(path_item(&c.items[0]));
    assert_eq!(line[0], Vec2::new(100.0, 50.0));
    // The line stops at the arrowhead's base; the head's tip is on the end.
    let head = build::arrow_length(2.0);
    assert_eq!(line[1], Vec2::new(300.0 - head, 50.0));
    let arrow = path_item(&c.items[1]);
    assert_eq!(arrow.fill, Some(Rgba::opaque(Color::BLACK)));
    assert_eq!(path_points(arrow)[0], Vec2::new(300.0, 50.0));
    f.board
        .set_arrows(&conn, ArrowHead::Arrow, ArrowHead::Arrow)
        .unwrap();
    f.sync();
    assert_eq!(f.get(&conn).items.len(), 3);

    let frame = f.create(NewElement::frame(
        "Discover",
        Geometry::new(-50.0, -50.0, 600.0, 400.0),
    ));
    let fr = f.get(&frame);
    let body = shape_item(&fr.items[0]);
    assert_eq!(body.primitive, Primitive::Rect);
    let title = text_item(&fr.items[1]);
    assert_eq!(title.text, "Discover");
    assert_eq!(title.wrap_width, None);
    assert!(
        title.rect.center.y < -50.0,
        "the title sits above the frame"
    );
    f.assert_matches_rebuild();
}

#[test]
fn frames_clip_their_children_and_draw_them_as_a_group() {
    let mut f = Fixture::new();
    let frame = f.create(NewElement::frame(
        "F",
        Geometry::new(0.0, 0.0, 400.0, 300.0),
    ));
    let above = f.create(NewElement::sticky(900.0, 0.0, "outside"));
    // Created after `above`, so its z is higher; in the frame it draws with it.
    let child = f.create(NewElement::sticky(300.0, 200.0, "half out").with_parent(&frame));
    let order: Vec<&str> = f.scene.iter().map(SceneElement::id).collect();
    assert_eq!(order, [frame.as_str(), child.as_str(), above.as_str()]);
    let c = f.get(&child);
    assert_eq!(
        c.clip,
        Some(OrientedRect::axis_aligned(Rect::from_min_size(
            Vec2::ZERO,
            Vec2::new(400.0, 300.0)
        )))
    );
    assert_eq!(c.visible_bounds().unwrap().max, Vec2::new(400.0, 300.0));
    // Outside the clip the child is neither hit nor drawn.
    assert!(f.scene.hit_test(Vec2::new(450.0, 350.0), 1.0).is_empty());
    assert!(
        f.scene
            .query_rect(&Rect::from_min_size(
                Vec2::new(420.0, 320.0),
                Vec2::splat(50.0)
            ))
            .is_empty()
    );
    assert_eq!(
        f.scene.topmost_at(Vec2::new(350.0, 250.0), 1.0),
        Some(child.as_str())
    );
    // Resizing the frame (no change to the child itself) re-clips the child.
    let before = f.get(&child).revision;
    f.board
        .set_geometry(&frame, Geometry::new(0.0, 0.0, 600.0, 600.0))
        .unwrap();
    let applied = f.sync();
    assert!(applied[0].rebuilt.contains(&child));
    assert!(f.get(&child).revision > before);
    assert_eq!(f.get(&child).visible_bounds(), Some(f.get(&child).bounds));
    // Sending the frame to the top takes its child along.
    f.board
        .reorder(&[&frame], touchpoint_crdt::Reorder::ToFront)
        .unwrap();
    f.sync();
    let order: Vec<&str> = f.scene.iter().map(SceneElement::id).collect();
    assert_eq!(order, [above.as_str(), frame.as_str(), child.as_str()]);
    f.assert_matches_rebuild();
}

#[test]
fn apply_rebuilds_only_touched_elements_and_bound_connectors() {
    let mut f = Fixture::new();
    let a = f.create(NewElement::sticky(0.0, 0.0, "a"));
    let b = f.create(NewElement::sticky(500.0, 0.0, "b"));
    let c = f.create(NewElement::sticky(1000.0, 0.0, "c"));
    let ab = f.create(NewElement::connector(
        End::bound(&a, Anchor::Right),
        End::bound(&b, Anchor::Left),
    ));
    let free = f.create(NewElement::connector(
        End::free(0.0, 500.0),
        End::free(100.0, 500.0),
    ));
    assert_eq!(
        f.scene.connectors_bound_to(&a).collect::<Vec<_>>(),
        [ab.as_str()]
    );
    let revisions = |f: &Fixture| -> Vec<u64> {
        [&a, &b, &c, &ab, &free]
            .iter()
            .map(|id| f.get(id).revision)
            .collect()
    };
    let before = revisions(&f);

    f.board.move_by(&[&a], 10.0, 20.0).unwrap();
    let applied = f.sync();
    assert_eq!(applied.len(), 1, "one transaction, one change event");
    assert_eq!(applied[0].rebuilt, BTreeSet::from([a.clone(), ab.clone()]));
    assert!(applied[0].removed.is_empty());
    let after = revisions(&f);
    assert!(
        after[0] > before[0] && after[3] > before[3],
        "a and its connector"
    );
    assert_eq!(
        [after[1], after[2], after[4]],
        [before[1], before[2], before[4]],
        "b, c and the free connector untouched"
    );
    // The connector follows: its start is a's new right anchor.
    assert_eq!(f.get(&ab).ends.unwrap()[0], Vec2::new(210.0, 120.0));

    // A style change on c touches c alone.
    f.board
        .restyle(
            &[&c],
            StylePatch {
                fill: Some(Some(Color::STICKY_PALETTE[4])),
                ..StylePatch::default()
            },
        )
        .unwrap();
    let applied = f.sync();
    assert_eq!(applied[0].rebuilt, BTreeSet::from([c.clone()]));

    // Deleting b: b leaves, the connector (kept, end at b's last anchor) is rebuilt.
    f.board.delete(&[&b]).unwrap();
    let applied = f.sync();
    assert_eq!(applied[0].removed, BTreeSet::from([b.clone()]));
    assert_eq!(applied[0].rebuilt, BTreeSet::from([ab.clone()]));
    assert!(f.scene.get(&b).is_none());
    assert_eq!(f.get(&ab).ends.unwrap()[1], Vec2::new(500.0, 100.0));

    // Undo brings b back with a fresh revision, never an old one.
    let max_before = f.scene.iter().map(|e| e.revision).max().unwrap();
    assert!(f.board.undo());
    let applied = f.sync();
    assert!(applied[0].rebuilt.contains(&b));
    assert!(f.get(&b).revision > max_before);
    f.assert_matches_rebuild();
}

#[test]
fn remote_updates_apply_like_local_ones() {
    let mut f = Fixture::new();
    let mut other = Board::with_client_id(99);
    let x = other
        .create(NewElement::shape(
            ShapeKind::Ellipse,
            Geometry::new(0.0, 0.0, 50.0, 50.0),
        ))
        .unwrap();
    f.board.apply_update(&other.encode()).unwrap();
    let applied = f.sync();
    assert_eq!(applied[0].rebuilt, BTreeSet::from([x.clone()]));
    other.move_by(&[&x], 100.0, 0.0).unwrap();
    f.board
        .apply_update(&other.encode_diff(&f.board.state_vector()))
        .unwrap();
    f.sync();
    assert_eq!(f.get(&x).element.geom.x, 100.0);
    f.assert_matches_rebuild();
}

#[test]
fn culling_returns_what_meets_the_viewport_in_drawing_order() {
    let mut f = Fixture::new();
    let mut ids = Vec::new();
    for i in 0..20 {
        let x = f64::from(i) * 300.0;
        ids.push(f.create(NewElement::shape(
            ShapeKind::Rect,
            Geometry::new(x, 0.0, 100.0, 100.0),
        )));
    }
    let view = Rect::from_min_size(Vec2::new(550.0, -10.0), Vec2::new(700.0, 50.0));
    let seen: Vec<&str> = f.scene.query_rect(&view).iter().map(|e| e.id()).collect();
    // Shapes at 600, 900 and 1200 (which starts at the viewport's right edge).
    assert_eq!(seen, [ids[2].as_str(), ids[3].as_str(), ids[4].as_str()]);
    let all = f.scene.world_bounds().unwrap();
    assert_eq!(all.min, Vec2::new(-1.0, -1.0), "stroke half-width included");
    assert_eq!(all.max, Vec2::new(5801.0, 101.0));
    // Moving one into view updates the index.
    f.board.move_by(&[&ids[19]], -5000.0, 0.0).unwrap();
    f.sync();
    assert_eq!(f.scene.query_rect(&view).len(), 4);
}

#[test]
fn hit_tests_follow_rotation_and_outline() {
    let mut f = Fixture::new();
    // A 200 x 20 bar rotated 90 degrees: it now stands upright at x = 100.
    let mut g = Geometry::new(0.0, 90.0, 200.0, 20.0);
    g.rot = 90.0;
    let bar = f.create(NewElement::shape(ShapeKind::Rect, g));
    assert_eq!(
        f.scene.topmost_at(Vec2::new(100.0, 10.0), 0.0),
        Some(bar.as_str())
    );
    assert_eq!(
        f.scene.topmost_at(Vec2::new(20.0, 100.0), 0.0),
        None,
        "unrotated extent"
    );

    // Ellipse edge: inside near the edge hits, the bounding box corner does not.
    let e = f.create(NewElement::shape(
        ShapeKind::Ellipse,
        Geometry::new(500.0, 0.0, 200.0, 100.0),
    ));
    assert_eq!(
        f.scene.topmost_at(Vec2::new(698.0, 50.0), 0.0),
        Some(e.as_str())
    );
    assert_eq!(
        f.scene.topmost_at(Vec2::new(700.8, 50.0), 0.0),
        Some(e.as_str()),
        "stroke"
    );
    assert_eq!(f.scene.topmost_at(Vec2::new(705.0, 50.0), 0.0), None);
    assert_eq!(
        f.scene.topmost_at(Vec2::new(505.0, 5.0), 2.0),
        None,
        "box corner"
    );

    // Diamond and triangle interiors.
    let d = f.create(NewElement::shape(
        ShapeKind::Diamond,
        Geometry::new(0.0, 500.0, 100.0, 100.0),
    ));
    assert_eq!(
        f.scene.topmost_at(Vec2::new(50.0, 550.0), 0.0),
        Some(d.as_str())
    );
    assert_eq!(f.scene.topmost_at(Vec2::new(10.0, 510.0), 0.0), None);
    let t = f.create(NewElement::shape(
        ShapeKind::Triangle,
        Geometry::new(500.0, 500.0, 100.0, 100.0),
    ));
    assert_eq!(
        f.scene.topmost_at(Vec2::new(550.0, 590.0), 0.0),
        Some(t.as_str())
    );
    assert_eq!(f.scene.topmost_at(Vec2::new(505.0, 510.0), 0.0), None);

    // A connector is hit within its half-width plus the tolerance.
    let c = f.create(NewElement::connector(
        End::free(0.0, 1000.0),
        End::free(400.0, 1000.0),
    ));
    assert_eq!(
        f.scene.topmost_at(Vec2::new(150.0, 1004.0), 3.5),
        Some(c.as_str())
    );
    assert_eq!(f.scene.topmost_at(Vec2::new(150.0, 1005.0), 3.5), None);
    // Ink likewise, along its smoothed curve, which cuts the recorded corner
    // at (100, 1300): its apex is at (100, 1275).
    let ink = f.create(NewElement::ink(&[
        [0.0, 1200.0],
        [100.0, 1300.0],
        [200.0, 1200.0],
    ]));
    assert_eq!(
        f.scene.topmost_at(Vec2::new(100.0, 1276.0), 2.0),
        Some(ink.as_str())
    );
    assert_eq!(
        f.scene.topmost_at(Vec2::new(100.0, 1290.0), 2.0),
        None,
        "the cut corner"
    );
}

#[test]
fn hit_test_is_topmost_first_and_frames_are_picked_by_title_or_border() {
    let mut f = Fixture::new();
    let frame = f.create(NewElement::frame(
        "F",
        Geometry::new(0.0, 0.0, 400.0, 400.0),
    ));
    let low = f.create(NewElement::sticky(100.0, 100.0, "low"));
    let high = f.create(NewElement::sticky(150.0, 150.0, "high"));
    assert_eq!(
        f.scene.hit_test(Vec2::new(200.0, 200.0), 1.0),
        [high.as_str(), low.as_str()]
    );
    // The frame's empty inside is not a hit; its title and border are.
    assert_eq!(
        f.scene.hit_test(Vec2::new(350.0, 50.0), 1.0),
        Vec::<&str>::new()
    );
    assert_eq!(
        f.scene.topmost_at(Vec2::new(10.0, -8.0), 1.0),
        Some(frame.as_str())
    );
    assert_eq!(
        f.scene.topmost_at(Vec2::new(400.5, 200.0), 1.0),
        Some(frame.as_str())
    );
}

#[test]
fn damage_covers_where_an_element_was_and_where_it_went() {
    let mut f = Fixture::new();
    let id = f.create(NewElement::sticky(0.0, 0.0, "note"));
    let stamp = f.scene.stamp();
    let before = f.get(&id).bounds;
    f.board
        .set_geometry(&id, Geometry::new(1000.0, 500.0, 200.0, 200.0))
        .unwrap();
    f.sync();
    let after = f.get(&id).bounds;
    let damage = f
        .scene
        .damage_since(stamp)
        .expect("same scene, recent stamp");
    assert!(damage.iter().all(|d| d.id == id), "{damage:?}");
    assert!(
        damage.iter().any(|d| d.bounds.contains_rect(&before)),
        "{damage:?}"
    );
    assert!(
        damage.iter().any(|d| d.bounds.contains_rect(&after)),
        "{damage:?}"
    );
    // Caught up: nothing new.
    assert_eq!(f.scene.damage_since(f.scene.stamp()), Some(&[][..]));
    // A stamp from another scene is no use here.
    assert_eq!(Scene::build(&f.board).damage_since(stamp), None);
}

#[test]
fn a_stamp_older_than_the_damage_log_asks_for_a_full_redraw() {
    let mut f = Fixture::new();
    let id = f.create(NewElement::sticky(0.0, 0.0, "note"));
    let stamp = f.scene.stamp();
    // Each move logs two rects; enough moves drop the log's start.
    for i in 0..=MAX_DAMAGE / 2 {
        f.board
            .set_geometry(&id, Geometry::new(i as f64, 0.0, 200.0, 200.0))
            .unwrap();
        f.sync();
    }
    assert_eq!(f.scene.damage_since(stamp), None);
    assert!(f.scene.damage_since(f.scene.stamp()).is_some());
}
