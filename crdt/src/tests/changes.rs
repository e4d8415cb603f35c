use std::sync::{Arc, Mutex};

use crate::tests::sync;
use crate::{Board, ChangeOrigin, Changes, NewElement};

fn record(board: &Board) -> (crate::Subscription, Arc<Mutex<Vec<Changes>>>) {
    board.change_queue()
}

#[test]
fn local_changes_name_created_changed_deleted() {
    let mut b = Board::with_client_id(1);
    let (_sub, q) = record(&b);
    let s = b.create(NewElement::sticky(0.0, 0.0, "x")).unwrap();
    b.insert_text(&s, 1, "y").unwrap();
    b.delete(&[&s]).unwrap();
    let q = q.lock().unwrap();
    assert_eq!(q.len(), 3);
    assert!(q.iter().all(|c| c.origin == ChangeOrigin::Local));
    assert_eq!(q[0].created.iter().collect::<Vec<_>>(), [&s]);
    assert!(q[0].changed.is_empty());
    assert_eq!(
        q[1].changed.iter().collect::<Vec<_>>(),
        [&s],
        "text edit inside the element"
    );
    assert_eq!(q[2].deleted.iter().collect::<Vec<_>>(), [&s]);
}

#[test]
fn remote_changes_and_undo_are_reported_with_their_origin() {
    let mut a = Board::with_client_id(1);
    let mut b = Board::with_client_id(2);
    let (_sub, q) = record(&b);
    let s = a.create(NewElement::sticky(0.0, 0.0, "x")).unwrap();
    sync(&mut a, &mut b);
    a.move_by(&[&s], 1.0, 1.0).unwrap();
    sync(&mut a, &mut b);
    let mine = b.create(NewElement::sticky(0.0, 0.0, "mine")).unwrap();
    b.undo();
    let q = q.lock().unwrap();
    let summary: Vec<_> = q
        .iter()
        .map(|c| (c.origin, c.created.len(), c.changed.len(), c.deleted.len()))
        .collect();
    assert_eq!(
        summary,
        [
            (ChangeOrigin::Remote, 1, 0, 0),
            (ChangeOrigin::Remote, 0, 1, 0),
            (ChangeOrigin::Local, 1, 0, 0),
            (ChangeOrigin::Local, 0, 0, 1),
        ]
    );
    assert!(q[3].deleted.contains(&mine));
}

#[test]
fn dropping_the_subscription_stops_events() {
    let mut b = Board::with_client_id(1);
    let (sub, q) = record(&b);
    b.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
    drop(sub);
    b.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
    assert_eq!(q.lock().unwrap().len(), 1);
}

/// Regression (found by the convergence property test): yrs 0.28 integrates an
/// update that arrives before an earlier update of the same client behind a
/// skip, then discards the earlier one. The board holds such updates back.
#[test]
fn updates_of_one_client_arriving_in_reverse_order_converge() {
    let mut a = Board::with_client_id(1);
    let initial = a.encode();
    let outbox = std::sync::Arc::new(Mutex::new(Vec::new()));
    let sink = outbox.clone();
    a.doc()
        .observe_update_v1("test", move |_, e| {
            sink.lock().unwrap().push(e.update.clone())
        })
        .unwrap();
    let s = a.create(NewElement::sticky(0.0, 0.0, "one")).unwrap();
    a.insert_text(&s, 3, " two").unwrap();
    a.move_by(&[&s], 5.0, 5.0).unwrap();
    let updates = outbox.lock().unwrap().clone();
    let mut b = Board::with_client_id(2);
    for u in updates.iter().rev() {
        b.apply_update(u).unwrap();
    }
    assert!(
        b.has_missing_updates(),
        "waiting for the board's initial state"
    );
    b.apply_update(&initial).unwrap();
    assert!(!b.has_missing_updates());
    assert_eq!(b.elements(), a.elements());
}

#[test]
fn update_observers_see_each_transaction_and_its_origin() {
    let mut a = Board::with_client_id(1);
    let before = a.encode();
    type Seen = Vec<(Vec<u8>, bool)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let sink = seen.clone();
    let sub = a
        .observe_updates(move |u, remote| sink.lock().unwrap().push((u.to_vec(), remote)))
        .unwrap();
    let id = a.create(NewElement::sticky(0.0, 0.0, "mine")).unwrap();
    let mut b = Board::with_client_id(2);
    b.create(NewElement::sticky(9.0, 9.0, "theirs")).unwrap();
    a.apply_update(&b.encode()).unwrap();
    let got = seen.lock().unwrap().clone();
    assert_eq!(
        got.iter().map(|(_, r)| *r).collect::<Vec<_>>(),
        [false, true]
    );
    // The local update carries the edit to a replica of the earlier state.
    let mut c = Board::from_update(&before).unwrap();
    c.apply_update(&got[0].0).unwrap();
    assert!(c.element(&id).is_some());
    drop(sub);
    a.create(NewElement::sticky(1.0, 1.0, "after")).unwrap();
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "dropping the subscription stops it"
    );
}

#[test]
fn another_origin_is_neither_remote_nor_undoable() {
    let mut a = Board::with_client_id(1);
    let mut b = Board::with_client_id(2);
    let id = b.create(NewElement::sticky(0.0, 0.0, "bridged")).unwrap();
    let (_sub, q) = record(&a);
    a.apply_update_with_origin(&b.encode(), "touchpoint:app")
        .unwrap();
    assert!(a.element(&id).is_some());
    assert!(!a.undo(), "not this board's own edit");
    assert_eq!(q.lock().unwrap()[0].origin, ChangeOrigin::Remote);
}

#[test]
fn an_empty_room_gets_its_schema_once_and_a_viewer_writes_nothing() {
    let mut empty = Board::from_update(&[0, 0]).unwrap();
    assert!(!empty.looks_like_board());
    empty.set_read_only(Some(crate::ReadOnly::Viewer));
    assert!(!empty.ensure_meta(), "a viewer does not write the schema");
    assert!(empty.create(NewElement::sticky(0.0, 0.0, "no")).is_err());
    empty.set_read_only(None);
    assert!(empty.ensure_meta());
    assert!(!empty.ensure_meta(), "only once");
    assert!(empty.looks_like_board());
    assert!(!empty.undo(), "the schema cannot be undone");
    assert!(crate::ReadOnly::Viewer.allows_saving());
}
