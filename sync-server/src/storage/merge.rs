//! Checking and merging stored Yjs updates with yrs, for loading and
//! compaction.

use std::panic::{AssertUnwindSafe, catch_unwind};

use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use super::error::StoreError;

/// Where a part of a room's stored state came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The snapshot, covering the log up to this sequence number.
    Snapshot { through_seq: u64 },
    /// A log row.
    Log { seq: u64 },
    /// The `index`-th of a caller's list (see [`merge_updates`]).
    Given { index: usize },
}

impl Source {
    pub(crate) fn corrupt(self, room: &str, reason: String) -> StoreError {
        let room = room.to_owned();
        match self {
            Source::Snapshot { through_seq } => StoreError::CorruptSnapshot {
                room,
                through_seq,
                reason,
            },
            Source::Log { seq } => StoreError::CorruptUpdate { room, seq, reason },
            Source::Given { index } => StoreError::InvalidUpdate {
                room,
                index,
                reason,
            },
        }
    }
}

/// Decodes a Yjs update v1. yrs asserts on some malformed input instead of
/// returning an error, so its panics are caught and become errors too.
pub(crate) fn decode(bytes: &[u8]) -> Result<Update, String> {
    match catch_unwind(|| Update::decode_v1(bytes)) {
        Ok(Ok(update)) => Ok(update),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the decoder rejected the bytes".to_owned()),
    }
}

/// Checks that `bytes` decode as a Yjs update v1; the reason when not.
pub fn check_update(bytes: &[u8]) -> Result<(), String> {
    decode(bytes).map(|_| ())
}

/// Merges `updates` (Yjs update v1, in the order they were received) into
/// one update v1 holding the same document state; `room` only names the room
/// in errors. See [`merge_parts`] for how. An update that starts past what
/// the earlier ones hold of its client (an update of that client is missing
/// from the list) is refused: yrs cannot carry such a gap in one update.
pub fn merge_updates(room: &str, updates: &[&[u8]]) -> Result<Vec<u8>, StoreError> {
    let parts: Vec<(Source, &[u8])> = updates
        .iter()
        .enumerate()
        .map(|(index, bytes)| (Source::Given { index }, *bytes))
        .collect();
    let merged = merge_parts(room, &parts)?;
    match merged.held.first() {
        None => Ok(merged.update),
        Some(source) => Err(source.corrupt(
            room,
            "an earlier update of one of its clients is missing from the list".to_owned(),
        )),
    }
}

/// The result of [`merge_parts`].
#[derive(Debug)]
pub(crate) struct Merged {
    /// Yjs update v1 of every part except `held`.
    pub update: Vec<u8>,
    /// Parts left out, in order: each starts past what the others hold of
    /// one of its clients.
    pub held: Vec<Source>,
}

/// Merges a room's stored parts, in log order, into one update v1.
///
/// The parts are integrated into a scratch document and its state encoded,
/// which also drops deleted content (yrs garbage-collects it as Yjs does), so
/// a snapshot is usually smaller than the log it replaces. Updates that wait
/// for an update of another client still come out whole (yrs keeps them as
/// pending and encodes them with the state).
///
/// An update whose client part starts past what the document holds of that
/// client (an earlier update of the client is not there yet) is held back
/// until the gap fills: yrs 0.28 would integrate it behind a skip and then
/// drop the earlier update when it arrives (see `Board::apply_update` in
/// touchpoint-crdt). One whose gap never fills is left out of the result and
/// reported in [`Merged::held`]: yrs also drops whatever follows a gap inside
/// one update when it applies it, so such an update must stay separate
/// (compaction leaves it in the log, where a loader holds it back as well).
///
/// The result is checked before it is returned: it decodes, and reloaded into
/// a fresh document it gives the same state vector and the same pending
/// status.
pub(crate) fn merge_parts(room: &str, parts: &[(Source, &[u8])]) -> Result<Merged, StoreError> {
    let doc = Doc::new();
    let mut held: Vec<(Source, Update)> = Vec::new();
    for &(source, bytes) in parts {
        let update = decode(bytes).map_err(|reason| source.corrupt(room, reason))?;
        if !is_ready(&doc, &update) {
            held.push((source, update));
            continue;
        }
        integrate(&doc, update).map_err(|reason| source.corrupt(room, reason))?;
        while let Some(i) = held.iter().position(|(_, u)| is_ready(&doc, u)) {
            let (source, update) = held.remove(i);
            integrate(&doc, update).map_err(|reason| source.corrupt(room, reason))?;
        }
    }
    let txn = doc.transact();
    let update = txn.encode_state_as_update_v1(&StateVector::default());
    verify(
        room,
        &update,
        &txn.state_vector(),
        txn.has_missing_updates(),
    )?;
    Ok(Merged {
        update,
        held: held.into_iter().map(|(source, _)| source).collect(),
    })
}

/// Whether every client's part of `update` starts at or before what `doc`
/// holds of that client.
fn is_ready(doc: &Doc, update: &Update) -> bool {
    let have = doc.transact().state_vector();
    update
        .state_vector_lower()
        .iter()
        .all(|(client, clock)| *clock <= have.get(client))
}

fn integrate(doc: &Doc, update: Update) -> Result<(), String> {
    let applied = catch_unwind(AssertUnwindSafe(|| {
        let mut txn = doc.transact_mut();
        txn.apply_update(update)
    }));
    match applied {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("the CRDT engine rejected the update".to_owned()),
    }
}

/// Reloads `merged` into a fresh document and compares its state vector and
/// pending status with those of the document it was made from.
fn verify(
    room: &str,
    merged: &[u8],
    expected: &StateVector,
    expected_missing: bool,
) -> Result<(), StoreError> {
    let failed = |reason: String| StoreError::CompactionCheck {
        room: room.to_owned(),
        reason,
    };
    let update = decode(merged).map_err(|e| failed(format!("does not decode: {e}")))?;
    let doc = Doc::new();
    integrate(&doc, update).map_err(|e| failed(format!("does not apply: {e}")))?;
    let txn = doc.transact();
    let got = txn.state_vector();
    if &got != expected {
        return Err(failed(format!(
            "state vector {got:?} differs from the original {expected:?}"
        )));
    }
    if txn.has_missing_updates() != expected_missing {
        return Err(failed(
            "updates waiting for missing ones were lost or gained".to_owned(),
        ));
    }
    Ok(())
}
