use crate::element::{Body, End};
use crate::geometry::Geometry;
use crate::schema::{Anchor, Color, Kind, ShapeKind};
use crate::style::StylePatch;
use crate::tests::sync;
use crate::{Board, EditError, EndSide, NewElement, Reorder};

#[test]
fn create_every_kind_and_read_it_back() {
    let mut b = Board::with_client_id(1);
    let s = b
        .create(NewElement::sticky(10.0, 20.0, "Pain point"))
        .unwrap();
    let r = b
        .create(
            NewElement::shape(ShapeKind::Diamond, Geometry::new(0.0, 0.0, 50.0, 40.0))
                .with_text("Decide"),
        )
        .unwrap();
    let t = b.create(NewElement::text(5.0, 5.0, "Heading")).unwrap();
    let i = b
        .create(NewElement::ink(&[[10.0, 10.0], [20.0, 30.0], [40.0, 15.0]]))
        .unwrap();
    let f = b
        .create(NewElement::frame(
            "Stage 1",
            Geometry::new(-100.0, -100.0, 800.0, 600.0),
        ))
        .unwrap();
    let c = b
        .create(NewElement::connector(
            End::bound(&s, Anchor::Right),
            End::free(500.0, 500.0),
        ))
        .unwrap();

    let els = b.elements();
    assert_eq!(
        els.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [&s, &r, &t, &i, &f, &c]
    );
    assert_eq!(
        b.element(&s).unwrap().body,
        Body::Sticky {
            text: "Pain point".into()
        }
    );
    assert_eq!(
        b.element(&s).unwrap().style.fill,
        Some(Color::STICKY_PALETTE[0])
    );
    assert_eq!(
        b.element(&r).unwrap().body,
        Body::Shape {
            shape: ShapeKind::Diamond,
            text: "Decide".into()
        }
    );
    assert_eq!(b.element(&t).unwrap().kind(), Kind::Text);
    let ink = b.element(&i).unwrap();
    assert_eq!(ink.geom, Geometry::new(10.0, 10.0, 30.0, 20.0));
    assert_eq!(
        ink.body,
        Body::Ink {
            points: vec![[0.0, 0.0], [10.0, 20.0], [30.0, 5.0]]
        }
    );
    assert_eq!(b.element(&f).unwrap().body.text(), Some("Stage 1"));
    let conn = b.element(&c).unwrap();
    // Sticky is 200x200 at (10, 20): right anchor at (210, 120).
    assert_eq!(
        b.connector_points(&conn),
        Some([[210.0, 120.0], [500.0, 500.0]])
    );
    let Body::Connector { from, .. } = &conn.body else {
        panic!("not a connector")
    };
    assert_eq!(
        from.point,
        [210.0, 120.0],
        "creation stores the anchor position"
    );
}

#[test]
fn connector_follows_its_element_and_falls_back_when_it_is_deleted() {
    let mut b = Board::with_client_id(1);
    let s = b.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
    let c = b
        .create(NewElement::connector(
            End::bound(&s, Anchor::Bottom),
            End::free(0.0, 900.0),
        ))
        .unwrap();
    b.move_by(&[&s], 100.0, 50.0).unwrap();
    let conn = b.element(&c).unwrap();
    assert_eq!(b.connector_points(&conn).unwrap()[0], [200.0, 250.0]);

    b.delete(&[&s]).unwrap();
    let conn = b.element(&c).unwrap();
    assert_eq!(
        b.connector_points(&conn).unwrap()[0],
        [200.0, 250.0],
        "last known point"
    );
}

#[test]
fn connector_end_concurrently_orphaned_uses_stored_point() {
    let mut a = Board::with_client_id(1);
    let s = a.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
    let mut b = Board::from_update_with_client_id(&a.encode(), 2).unwrap();
    // a binds a connector while b deletes the element.
    let c = a
        .create(NewElement::connector(
            End::free(0.0, 0.0),
            End::free(5.0, 5.0),
        ))
        .unwrap();
    a.set_end(&c, EndSide::To, End::bound(&s, Anchor::Center))
        .unwrap();
    b.delete(&[&s]).unwrap();
    sync(&mut a, &mut b);
    for board in [&a, &b] {
        let conn = board.element(&c).unwrap();
        assert_eq!(
            board.connector_points(&conn).unwrap(),
            [[0.0, 0.0], [100.0, 100.0]]
        );
    }
}

#[test]
fn rotated_anchor_points() {
    let mut g = Geometry::new(0.0, 0.0, 100.0, 50.0);
    g.rot = 90.0;
    let [x, y] = g.anchor_point(Anchor::Right);
    assert!(
        (x - 50.0).abs() < 1e-9 && (y - 75.0).abs() < 1e-9,
        "{x} {y}"
    );
}

#[test]
fn group_move_is_one_transaction_and_frames_carry_children() {
    let mut b = Board::with_client_id(1);
    let f = b
        .create(NewElement::frame(
            "F",
            Geometry::new(0.0, 0.0, 500.0, 500.0),
        ))
        .unwrap();
    let inside = b
        .create(NewElement::sticky(10.0, 10.0, "in").with_parent(&f))
        .unwrap();
    let outside = b.create(NewElement::sticky(900.0, 900.0, "out")).unwrap();
    let conn = b
        .create(NewElement::connector(
            End::free(1.0, 2.0),
            End::bound(&outside, Anchor::Center),
        ))
        .unwrap();
    let (_sub, queue) = b.change_queue();
    b.move_by(&[&f, &conn], 5.0, -5.0).unwrap();
    let q = queue.lock().unwrap();
    assert_eq!(q.len(), 1, "one transaction");
    assert_eq!(q[0].changed.len(), 3);
    drop(q);
    assert_eq!(b.element(&inside).unwrap().geom.x, 15.0);
    assert_eq!(b.element(&outside).unwrap().geom.x, 900.0);
    let Body::Connector { from, to, .. } = b.element(&conn).unwrap().body else {
        panic!()
    };
    assert_eq!(from.point, [6.0, -3.0], "free end moves");
    assert!(to.binding.is_some(), "bound end stays bound");
}

#[test]
fn resize_rotate_restyle() {
    let mut b = Board::with_client_id(1);
    let s = b
        .create(NewElement::shape(
            ShapeKind::Ellipse,
            Geometry::new(0.0, 0.0, 10.0, 10.0),
        ))
        .unwrap();
    b.set_geometry(&s, Geometry::new(1.0, 2.0, 30.0, 40.0))
        .unwrap();
    b.rotate(&s, -90.0).unwrap();
    b.restyle(
        &[&s],
        StylePatch {
            fill: Some(None),
            stroke: Some(Some(Color(1, 2, 3))),
            font_size: Some(30.0),
            ..Default::default()
        },
    )
    .unwrap();
    let e = b.element(&s).unwrap();
    assert_eq!(
        (e.geom.x, e.geom.y, e.geom.w, e.geom.h, e.geom.rot),
        (1.0, 2.0, 30.0, 40.0, 270.0)
    );
    assert_eq!(e.style.fill, None);
    assert_eq!(e.style.stroke, Some(Color(1, 2, 3)));
    assert_eq!(e.style.font_size, 30.0);
    assert!(matches!(
        b.set_geometry(&s, Geometry::new(f64::NAN, 0.0, 1.0, 1.0)),
        Err(EditError::Invalid { .. })
    ));
    assert!(matches!(
        b.restyle(&["nope"], StylePatch::default()),
        Err(EditError::NotFound(_))
    ));
}

#[test]
fn ink_points_scale_with_resize() {
    let mut b = Board::with_client_id(1);
    let i = b
        .create(NewElement::ink(&[[0.0, 0.0], [10.0, 20.0]]))
        .unwrap();
    b.set_geometry(&i, Geometry::new(0.0, 0.0, 20.0, 10.0))
        .unwrap();
    assert_eq!(
        b.element(&i).unwrap().body,
        Body::Ink {
            points: vec![[0.0, 0.0], [20.0, 10.0]]
        }
    );
}

#[test]
fn text_edits_use_character_positions() {
    let mut b = Board::with_client_id(1);
    let s = b.create(NewElement::sticky(0.0, 0.0, "héllo 🌍")).unwrap();
    b.insert_text(&s, 7, "!").unwrap(); // after the emoji (7 chars)
    b.insert_text(&s, 1, "E").unwrap();
    b.delete_text(&s, 2, 1).unwrap(); // removes é
    b.insert_text(&s, 1000, "?").unwrap(); // clamped to the end
    b.delete_text(&s, 1000, 5).unwrap(); // nothing to delete
    assert_eq!(b.element(&s).unwrap().body.text(), Some("hEllo 🌍!?"));
    b.set_text(&s, "hEllo world").unwrap();
    assert_eq!(b.element(&s).unwrap().body.text(), Some("hEllo world"));
    assert!(matches!(
        b.insert_text("missing", 0, "x"),
        Err(EditError::NotFound(_))
    ));
}

#[test]
fn concurrent_typing_merges_character_by_character() {
    let mut a = Board::with_client_id(1);
    let s = a.create(NewElement::sticky(0.0, 0.0, "ac")).unwrap();
    let mut b = Board::from_update_with_client_id(&a.encode(), 2).unwrap();
    a.insert_text(&s, 1, "b").unwrap();
    b.insert_text(&s, 2, "d").unwrap();
    sync(&mut a, &mut b);
    assert_eq!(a.element(&s).unwrap().body.text(), Some("abcd"));
    assert_eq!(b.element(&s).unwrap().body.text(), Some("abcd"));
}

#[test]
fn reparent_and_frame_rules() {
    let mut b = Board::with_client_id(1);
    let f = b
        .create(NewElement::frame(
            "F",
            Geometry::new(0.0, 0.0, 100.0, 100.0),
        ))
        .unwrap();
    let g = b
        .create(NewElement::frame(
            "G",
            Geometry::new(0.0, 0.0, 100.0, 100.0),
        ))
        .unwrap();
    let s = b.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
    b.set_parent(&[&s], Some(&f)).unwrap();
    assert_eq!(b.element(&s).unwrap().parent.as_deref(), Some(f.as_str()));
    assert!(matches!(
        b.set_parent(&[&g], Some(&f)),
        Err(EditError::WrongKind { .. })
    ));
    assert!(matches!(
        b.set_parent(&[&s], Some(&s)),
        Err(EditError::WrongKind { .. })
    ));
    b.set_parent(&[&s], None).unwrap();
    assert_eq!(b.element(&s).unwrap().parent, None);
}

#[test]
fn deleting_a_frame_deletes_its_children_and_undo_restores_them() {
    let mut b = Board::with_client_id(1);
    let f = b
        .create(NewElement::frame(
            "F",
            Geometry::new(0.0, 0.0, 100.0, 100.0),
        ))
        .unwrap();
    let kid = b
        .create(NewElement::sticky(0.0, 0.0, "kid").with_parent(&f))
        .unwrap();
    let other = b.create(NewElement::sticky(0.0, 0.0, "other")).unwrap();
    b.delete(&[&f]).unwrap();
    assert_eq!(b.z_order(), [other.as_str()]);
    assert!(b.undo());
    assert_eq!(b.z_order(), [f, kid.clone(), other]);
    assert_eq!(b.element(&kid).unwrap().body.text(), Some("kid"));
}

#[test]
fn reorder_front_back_forward_backward() {
    let mut b = Board::with_client_id(1);
    let ids: Vec<String> = (0..4)
        .map(|i| b.create(NewElement::sticky(f64::from(i), 0.0, "")).unwrap())
        .collect();
    let [p, q, r, s] = [
        ids[0].as_str(),
        ids[1].as_str(),
        ids[2].as_str(),
        ids[3].as_str(),
    ];
    b.reorder(&[p], Reorder::ToFront).unwrap();
    assert_eq!(b.z_order(), [q, r, s, p]);
    b.reorder(&[p], Reorder::ToBack).unwrap();
    assert_eq!(b.z_order(), [p, q, r, s]);
    b.reorder(&[p, q], Reorder::Forward).unwrap();
    assert_eq!(b.z_order(), [r, p, q, s]);
    b.reorder(&[s], Reorder::Backward).unwrap();
    assert_eq!(b.z_order(), [r, p, s, q]);
    b.reorder(&[r], Reorder::Backward).unwrap();
    assert_eq!(b.z_order(), [r, p, s, q], "already at the back");
}

#[test]
fn concurrent_reorders_converge() {
    let mut a = Board::with_client_id(1);
    let ids: Vec<String> = (0..3)
        .map(|i| a.create(NewElement::sticky(f64::from(i), 0.0, "")).unwrap())
        .collect();
    let mut b = Board::from_update_with_client_id(&a.encode(), 2).unwrap();
    a.reorder(&[&ids[0]], Reorder::ToFront).unwrap();
    b.reorder(&[&ids[1]], Reorder::ToFront).unwrap();
    sync(&mut a, &mut b);
    assert_eq!(a.z_order(), b.z_order());
}

#[test]
fn title_and_template() {
    let mut b = Board::with_client_id(1);
    b.set_title("Blueprint").unwrap();
    b.set_template("service-blueprint").unwrap();
    let m = b.meta();
    assert_eq!(
        (m.title.as_str(), m.schema, m.template.as_deref()),
        ("Blueprint", 1, Some("service-blueprint"))
    );
}

#[test]
fn a_frame_drawn_around_elements_adopts_them_in_one_step() {
    let mut b = Board::with_client_id(1);
    let s = b.create(NewElement::sticky(10.0, 10.0, "in")).unwrap();
    let other = b
        .create(NewElement::frame(
            "Other",
            Geometry::new(0.0, 0.0, 50.0, 50.0),
        ))
        .unwrap();
    let (_sub, q) = b.change_queue();
    let f = b
        .create_frame_around(
            NewElement::frame("Stage", Geometry::new(0.0, 0.0, 500.0, 500.0)),
            &[&s, &other],
        )
        .unwrap();
    assert_eq!(q.lock().unwrap().len(), 1, "one transaction");
    assert_eq!(b.element(&s).unwrap().parent.as_deref(), Some(f.as_str()));
    assert_eq!(
        b.element(&other).unwrap().parent,
        None,
        "frames stay top level"
    );
    assert_eq!(b.z_order().last().map(String::as_str), Some(f.as_str()));
    assert!(b.undo());
    assert!(b.element(&f).is_none());
    assert_eq!(b.element(&s).unwrap().parent, None, "one undo step");
    assert!(matches!(
        b.create_frame_around(NewElement::frame("X", Geometry::default()), &["ghost"]),
        Err(EditError::NotFound(_))
    ));
}

#[test]
fn create_linked_binds_connectors_and_parents_within_the_batch() {
    let mut board = Board::with_client_id(7);
    let frame = NewElement::frame("F", Geometry::new(0.0, 0.0, 500.0, 500.0));
    let a = NewElement::sticky(10.0, 10.0, "a").with_parent("@0");
    let b = NewElement::sticky(300.0, 10.0, "b").with_parent("@0");
    let link = NewElement::connector(
        End::bound("@1", Anchor::Right),
        End::bound("@2", Anchor::Left),
    );
    let ids = board.create_linked(vec![frame, a, b, link]).unwrap();
    assert_eq!(ids.len(), 4);
    let sticky = board.element(&ids[1]).unwrap();
    assert_eq!(sticky.parent.as_deref(), Some(ids[0].as_str()));
    let conn = board.element(&ids[3]).unwrap();
    let Body::Connector { from, to, .. } = &conn.body else {
        panic!("not a connector: {conn:?}");
    };
    assert_eq!(from.binding.as_ref().unwrap().id, ids[1]);
    assert_eq!(to.binding.as_ref().unwrap().id, ids[2]);
    assert_eq!(board.connector_points(&conn).unwrap()[0], [210.0, 110.0]);
    // One undo step removes the whole batch.
    assert!(board.undo());
    assert!(board.is_empty());
}

#[test]
fn create_linked_refuses_dangling_and_wrong_references() {
    let mut board = Board::with_client_id(7);
    let bad = NewElement::sticky(0.0, 0.0, "x").with_parent("@5");
    assert!(matches!(
        board.create_linked(vec![bad]),
        Err(EditError::Invalid { .. })
    ));
    let not_frame = NewElement::sticky(0.0, 0.0, "x");
    let child = NewElement::sticky(0.0, 0.0, "y").with_parent("@0");
    assert!(board.create_linked(vec![not_frame, child]).is_err());
    assert!(board.is_empty(), "a refused batch writes nothing");
}
