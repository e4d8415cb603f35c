//! Boards written by other (possibly hostile) clients: read defensively.

use yrs::{Any, Map, MapPrelim, Transact};

use crate::element::Body;
use crate::schema::{Align, Color, Kind, ROOT_ELEMENTS};
use crate::{Board, NewElement};

fn foreign_board(fill: impl FnOnce(&yrs::MapRef, &mut yrs::TransactionMut)) -> Board {
    let doc = yrs::Doc::new();
    let elements = doc.get_or_insert_map(ROOT_ELEMENTS);
    {
        let mut txn = doc.transact_mut();
        fill(&elements, &mut txn);
    }
    let bytes = {
        use yrs::ReadTxn;
        doc.transact()
            .encode_state_as_update_v1(&yrs::StateVector::default())
    };
    Board::from_update(&bytes).unwrap()
}

#[test]
fn unknown_kinds_and_non_maps_are_skipped() {
    let b = foreign_board(|els, txn| {
        els.insert(txn, "a", MapPrelim::from([("kind", Any::from("hologram"))]));
        els.insert(txn, "b", MapPrelim::from([("x", Any::from(1.0))]));
        els.insert(txn, "c", Any::from("not a map"));
        els.insert(txn, "d", MapPrelim::from([("kind", Any::from(7.0))]));
        els.insert(txn, "ok", MapPrelim::from([("kind", Any::from("sticky"))]));
    });
    let ids: Vec<String> = b.elements().into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["ok"]);
    assert!(b.element("a").is_none());
}

#[test]
fn mistyped_fields_take_defaults() {
    let b = foreign_board(|els, txn| {
        els.insert(
            txn,
            "s",
            MapPrelim::from([
                ("kind", Any::from("sticky")),
                ("x", Any::from("twelve")),
                ("y", Any::from(f64::NAN)),
                ("w", Any::from(-5.0)),
                ("h", Any::from(3i64)),
                ("fill", Any::from("red")),
                ("align", Any::from("justify")),
                ("text", Any::from("plain string text")),
                ("z", Any::from(true)),
                ("parent", Any::from("no-such-frame")),
            ]),
        );
        els.insert(
            txn,
            "i",
            MapPrelim::from([
                ("kind", Any::from("ink")),
                (
                    "points",
                    Any::from(vec![0u8, 0, 128, 63, 0, 0, 0, 64, 1, 2, 3]),
                ),
            ]),
        );
        els.insert(
            txn,
            "c",
            MapPrelim::from([
                ("kind", Any::from("connector")),
                ("from_id", Any::from("ghost")),
            ]),
        );
    });
    let s = b.element("s").unwrap();
    assert_eq!(
        (s.geom.x, s.geom.y, s.geom.w, s.geom.h),
        (0.0, 0.0, 0.0, 3.0)
    );
    assert_eq!(s.style.fill, Some(Color::STICKY_PALETTE[0]));
    assert_eq!(s.style.align, Align::Center);
    assert_eq!(s.body.text(), Some("plain string text"));
    assert_eq!(s.parent, None);
    assert_eq!(b.elements().len(), 3);
    assert_eq!(
        b.element("i").unwrap().body,
        Body::Ink {
            points: vec![[1.0, 2.0]]
        }
    );
    let c = b.element("c").unwrap();
    assert_eq!(c.kind(), Kind::Connector);
    assert_eq!(
        b.connector_points(&c),
        Some([[0.0, 0.0], [0.0, 0.0]]),
        "dangling binding falls back"
    );
}

#[test]
fn editing_plain_string_text_converts_it_to_y_text() {
    let mut b = foreign_board(|els, txn| {
        els.insert(
            txn,
            "s",
            MapPrelim::from([("kind", Any::from("sticky")), ("text", Any::from("abc"))]),
        );
    });
    b.insert_text("s", 3, "d").unwrap();
    assert_eq!(b.element("s").unwrap().body.text(), Some("abcd"));
}

#[test]
fn a_remote_update_that_does_not_decode_changes_nothing() {
    let mut b = Board::with_client_id(1);
    b.create(NewElement::sticky(0.0, 0.0, "keep")).unwrap();
    let before = b.encode();
    assert!(b.apply_update(&[0xff, 0xff, 0xff, 0x01]).is_err());
    assert!(b.apply_update(b"garbage bytes").is_err());
    assert_eq!(b.encode(), before);
}

use crate::test_vectors::HALF_INTEGRATED;

#[test]
fn an_update_yrs_stops_halfway_through_leaves_the_board_suspect() {
    use yrs::GetString;
    for strict in [false, true] {
        let mut board = Board::with_client_id(1);
        let result = if strict {
            board.apply_update_in_order(HALF_INTEGRATED)
        } else {
            board.apply_update(HALF_INTEGRATED)
        };
        let err = result.expect_err("the second item's parent is not a type");
        assert!(matches!(err, crate::UpdateError::Apply(_)), "{err}");
        assert!(err.leaves_document_suspect());
        // Half of it is in: the reason the board must not be trusted.
        let t = board.doc().get_or_insert_text("t");
        assert_eq!(t.get_string(&board.doc().transact()), "a");
    }
}

#[test]
fn an_update_with_a_missing_parent_is_incomplete_in_order() {
    // Typing by client 0x7E57 into a sticky this board never had: its own
    // clocks start at 0, so nothing of its own is missing, but its parent is.
    let mut elsewhere = Board::with_client_id(0x5EED);
    let id = elsewhere
        .create(NewElement::sticky(0.0, 0.0, "elsewhere"))
        .expect("create");
    let mut typist = Board::from_update_with_client_id(&elsewhere.encode(), 0x7E57).expect("copy");
    let typed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = typed.clone();
    let _sub = typist
        .observe_updates(move |u, _| sink.lock().expect("lock").push(u.to_vec()))
        .expect("observe");
    typist.insert_text(&id, 0, "orphan ").expect("type");
    let orphan = typed.lock().expect("lock")[0].clone();

    let mut room = Board::with_client_id(1);
    let err = room.apply_update_in_order(&orphan).expect_err("incomplete");
    assert!(matches!(err, crate::UpdateError::Incomplete), "{err}");
    assert!(err.leaves_document_suspect());
    // Out of order: the typist's second update without its first.
    typist.insert_text(&id, 0, "again ").expect("type");
    let second = typed.lock().expect("lock")[1].clone();
    let mut copy = Board::from_update(&elsewhere.encode()).expect("copy");
    let before = copy.encode();
    let err = copy
        .apply_update_in_order(&second)
        .expect_err("out of order");
    match err {
        crate::UpdateError::OutOfOrder(gap) => {
            assert_eq!((gap.client, gap.have), (0x7E57, 0));
            assert!(gap.starts > 0);
        }
        other => panic!("{other}"),
    }
    assert!(!err_leaves(&copy, &before), "nothing was applied");
}

fn err_leaves(board: &Board, before: &[u8]) -> bool {
    board.encode() != before
}
