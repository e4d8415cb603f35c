use crate::tests::sync;
use crate::{Board, NewElement};

#[test]
fn one_gesture_is_one_step() {
    let mut b = Board::with_client_id(1);
    let s = b.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
    b.move_by(&[&s], 10.0, 0.0).unwrap();
    b.move_by(&[&s], 10.0, 0.0).unwrap();
    assert!(b.undo());
    assert_eq!(b.element(&s).unwrap().geom.x, 10.0);
    assert!(b.undo());
    assert_eq!(b.element(&s).unwrap().geom.x, 0.0);
    assert!(b.redo());
    assert_eq!(b.element(&s).unwrap().geom.x, 10.0);
    assert!(b.undo());
    assert!(b.undo(), "creation");
    assert!(b.element(&s).is_none());
    assert!(!b.undo());
}

#[test]
fn a_typed_word_is_one_step() {
    let mut b = Board::with_client_id(1);
    let s = b.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
    for (i, c) in "hello world".chars().enumerate() {
        b.insert_text(&s, i, &c.to_string()).unwrap();
    }
    assert!(b.undo());
    assert_eq!(b.element(&s).unwrap().body.text(), Some("hello"));
    assert!(b.undo());
    assert_eq!(b.element(&s).unwrap().body.text(), Some(""));
    // Backspaces group too.
    b.redo();
    b.redo();
    b.delete_text(&s, 10, 1).unwrap();
    b.delete_text(&s, 9, 1).unwrap();
    assert_eq!(b.element(&s).unwrap().body.text(), Some("hello wor"));
    assert!(b.undo());
    assert_eq!(b.element(&s).unwrap().body.text(), Some("hello world"));
}

#[test]
fn end_undo_step_splits_typing() {
    let mut b = Board::with_client_id(1);
    let s = b.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
    b.insert_text(&s, 0, "a").unwrap();
    b.end_undo_step();
    b.insert_text(&s, 1, "b").unwrap();
    assert!(b.undo());
    assert_eq!(b.element(&s).unwrap().body.text(), Some("a"));
}

#[test]
fn undo_never_reverts_a_collaborator() {
    let mut a = Board::with_client_id(1);
    let s = a.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
    let mut b = Board::from_update_with_client_id(&a.encode(), 2).unwrap();
    a.move_by(&[&s], 100.0, 0.0).unwrap();
    b.rotate(&s, 10.0).unwrap();
    let other = b.create(NewElement::sticky(5.0, 5.0, "b's")).unwrap();
    sync(&mut a, &mut b);
    // a undoes its move; b's rotation and b's sticky survive.
    assert!(a.undo());
    let e = a.element(&s).unwrap();
    assert_eq!((e.geom.x, e.geom.rot), (0.0, 10.0));
    assert!(a.element(&other).is_some());
    // b has nothing of a's to undo beyond its own two steps.
    assert!(b.undo());
    assert!(b.element(&other).is_none());
    assert!(b.undo());
    assert!(!b.undo(), "a's creation is not b's to undo");
    assert!(b.element(&s).is_some());
}

/// Yjs semantics, kept: a step whose every change a collaborator has since
/// overwritten has nothing left to undo, so undo moves on to the step before.
#[test]
fn a_step_fully_overwritten_by_a_collaborator_is_skipped() {
    let mut a = Board::with_client_id(1);
    let s = a.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
    a.rotate(&s, 45.0).unwrap();
    let mut b = Board::from_update_with_client_id(&a.encode(), 2).unwrap();
    a.move_by(&[&s], 100.0, 0.0).unwrap();
    b.move_by(&[&s], 7.0, 7.0).unwrap();
    sync(&mut a, &mut b);
    assert!(a.undo(), "skips the overwritten move, undoes the rotation");
    let e = a.element(&s).unwrap();
    assert_eq!((e.geom.x, e.geom.y, e.geom.rot), (7.0, 7.0, 0.0));
}
