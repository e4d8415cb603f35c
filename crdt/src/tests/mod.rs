//! Unit tests of the board model that span modules (edits, undo, change
//! events, untrusted remote data). Module-local tests sit in their modules.

mod changes;
mod edits;
mod undo;
mod untrusted;

use crate::Board;

/// Two replicas that have exchanged their full states.
pub(crate) fn sync(a: &mut Board, b: &mut Board) {
    let from_a = a.encode_diff(&b.state_vector());
    let from_b = b.encode_diff(&a.state_vector());
    b.apply_update(&from_a).unwrap();
    a.apply_update(&from_b).unwrap();
}
