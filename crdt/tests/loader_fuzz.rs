//! Fuzz-style robustness of the board loader: random bytes, truncated boards
//! and corrupted boards must never panic. Random and truncated input must
//! always be refused with an error; a corrupted board either is refused or
//! opens and reads without panicking.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use proptest::prelude::*;
use touchpoint_crdt::{Anchor, Board, End, Geometry, NewElement, ShapeKind, file};

/// Expected yrs panics (caught by the loader) would otherwise print a
/// message and backtrace per case.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(touchpoint_crdt::panics::quiet_caught_engine_panics);
}

fn sample_board() -> Vec<u8> {
    let mut b = Board::with_client_id(7);
    b.set_title("Fuzz me").unwrap();
    let f = b
        .create(NewElement::frame(
            "Stage",
            Geometry::new(0.0, 0.0, 900.0, 600.0),
        ))
        .unwrap();
    let s = b
        .create(NewElement::sticky(10.0, 10.0, "Waiting 🕒 > 20 min").with_parent(&f))
        .unwrap();
    let r = b
        .create(
            NewElement::shape(ShapeKind::Ellipse, Geometry::new(300.0, 0.0, 100.0, 80.0))
                .with_text("Call"),
        )
        .unwrap();
    b.create(NewElement::connector(
        End::bound(&s, Anchor::Right),
        End::bound(&r, Anchor::Left),
    ))
    .unwrap();
    b.create(NewElement::ink(&[[0.0, 0.0], [5.0, 9.0], [12.0, 3.0]]))
        .unwrap();
    b.insert_text(&s, 0, "Pain: ").unwrap();
    b.move_by(&[&r], 10.0, 0.0).unwrap();
    b.delete(&[&r]).unwrap();
    b.encode()
}

/// Reads everything a viewer would read, to exercise the validation paths.
fn read_all(board: &Board) {
    let _ = board.meta();
    for e in board.elements() {
        let _ = board.connector_points(&e);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        quiet_expected_panics();
        prop_assert!(file::load_bytes(&bytes).is_err());
    }

    #[test]
    fn truncated_boards_are_refused(cut in 0.0f64..1.0) {
        quiet_expected_panics();
        let bytes = sample_board();
        let at = ((bytes.len() as f64) * cut) as usize;
        prop_assume!(at < bytes.len());
        prop_assert!(file::load_bytes(&bytes[..at]).is_err(), "accepted {} of {} bytes", at, bytes.len());
    }

    #[test]
    fn corrupted_boards_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        quiet_expected_panics();
        let mut bytes = sample_board();
        for (i, value) in flips {
            let i = i.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok(board) = file::load_bytes(&bytes) {
            read_all(&board);
        }
    }
}

#[test]
fn every_prefix_of_a_board_is_refused() {
    quiet_expected_panics();
    let bytes = sample_board();
    for at in 0..bytes.len() {
        assert!(
            file::load_bytes(&bytes[..at]).is_err(),
            "accepted {at} of {} bytes",
            bytes.len()
        );
    }
    assert!(file::load_bytes(&bytes).is_ok());
}
