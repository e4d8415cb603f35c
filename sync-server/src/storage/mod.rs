//! Durable storage of rooms: an append-only log of Yjs updates per room,
//! folded into a snapshot as it grows.
//!
//! The server commits every document update here *before* relaying it, so an
//! update any client has seen survives a crash of the server (`kill -9`). To
//! keep throughput under load without an fsync per update, appends go through
//! [`GroupCommit`]: one writer thread commits whatever is queued in one
//! transaction and acknowledges each update after that commit.
//!
//! [`RoomStore`] is the seam between the server and the engine. It is
//! synchronous (the server calls it from the writer thread or
//! `spawn_blocking`) and speaks only room names, sequence numbers and opaque
//! Yjs update v1 bytes, so a PostgreSQL (or Redis/NATS) implementation can take
//! the place of [`SqliteStore`] when rooms shard across servers.
//!
//! Storage does not interpret documents beyond what compaction needs: it
//! decodes updates (to refuse garbage and to name the room and row of a
//! corrupt one) and merges them with yrs. It does not know the board schema.

mod error;
mod group_commit;
mod merge;
pub mod sqlite;

#[cfg(test)]
mod tests;

pub use error::StoreError;
pub use group_commit::{
    Committed, GroupCommit, GroupCommitHandle, GroupCommitOptions, GroupCommitStats,
};
pub use merge::{check_update, merge_updates};
pub use sqlite::{Durability, SqliteOptions, SqliteStore};

/// One update to append to a room's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Append<'a> {
    /// The room's name, as the server names it.
    pub room: &'a str,
    /// A Yjs update v1, as received from a client.
    pub update: &'a [u8],
}

/// What a committed batch of appends produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendReceipt {
    /// The sequence number given to each update of the batch, in batch order.
    /// Sequence numbers count from 1 per room and only grow (compaction keeps
    /// them), so `(room, seq)` names one update for good.
    pub seqs: Vec<u64>,
    /// Rooms whose log, after this batch, has grown past the store's
    /// [`CompactionPolicy`], sorted by name. The caller decides when to run
    /// [`RoomStore::compact`] on them.
    pub compaction_due: Vec<String>,
}

/// A room as stored: the updates that rebuild its document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomState {
    /// Yjs update v1 blobs: the snapshot (when the room has been compacted)
    /// first, then the log in sequence order. Apply them in this order, with
    /// a loader that holds back updates that arrive before earlier ones of
    /// the same client (`Board::apply_update` does). Every one has been
    /// checked to decode. Empty for an unknown room.
    pub updates: Vec<Vec<u8>>,
    /// The sequence number of the last update included (0 for none).
    pub last_seq: u64,
}

impl RoomState {
    /// The whole state as a single Yjs update v1 (see [`merge_updates`]).
    pub fn merged(&self, room: &str) -> Result<Vec<u8>, StoreError> {
        let parts: Vec<&[u8]> = self.updates.iter().map(Vec::as_slice).collect();
        merge_updates(room, &parts)
    }
}

/// Sizes of a stored room, in bytes of Yjs update v1 encoding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoomStats {
    /// Length of the snapshot (0 before the first compaction).
    pub snapshot_bytes: u64,
    /// Updates in the log after the snapshot.
    pub log_updates: u64,
    /// Total length of those updates.
    pub log_bytes: u64,
    /// Sequence number of the room's last update (0 for none).
    pub last_seq: u64,
}

impl RoomStats {
    /// Everything stored for the room: snapshot plus log. An upper bound of
    /// the document's encoded size (the log repeats what later updates
    /// overwrite); compaction brings it down to the document itself. This is
    /// the number to hold against a per-room document-size limit.
    pub fn total_bytes(&self) -> u64 {
        self.snapshot_bytes + self.log_bytes
    }
}

/// The result of folding a room's log into its snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// The snapshot now covers every update up to and including this one.
    pub through_seq: u64,
    /// Log updates folded into the snapshot (and deleted from the log).
    pub folded_updates: u64,
    /// Log updates left in the log because they wait for an earlier update
    /// of their client that is not stored (see [`merge_updates`]); usually 0.
    pub kept_updates: u64,
    /// Snapshot plus folded updates, before.
    pub bytes_before: u64,
    /// The new snapshot's length.
    pub bytes_after: u64,
}

/// When a room's log is folded into its snapshot: as soon as either limit
/// is passed. A long log makes loading a room slow (every update is applied)
/// and the stored size overstate the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// Compact once the log holds more than this many updates. Default 1,000.
    pub max_log_updates: u64,
    /// Compact once the log holds more than this many bytes. Default 1 MiB.
    pub max_log_bytes: u64,
}

impl CompactionPolicy {
    /// 1,000 updates or 1 MiB of log, whichever comes first. Folding 1,000
    /// small updates into a snapshot costs a few milliseconds; a room loads
    /// from its snapshot plus at most that much log.
    pub const DEFAULT: CompactionPolicy = CompactionPolicy {
        max_log_updates: 1_000,
        max_log_bytes: 1 << 20,
    };

    /// Never due: compaction runs only when called explicitly.
    pub const NEVER: CompactionPolicy = CompactionPolicy {
        max_log_updates: u64::MAX,
        max_log_bytes: u64::MAX,
    };

    pub const fn with_max_log_updates(mut self, updates: u64) -> Self {
        self.max_log_updates = updates;
        self
    }

    pub const fn with_max_log_bytes(mut self, bytes: u64) -> Self {
        self.max_log_bytes = bytes;
        self
    }

    /// Whether a log of `updates` updates totalling `bytes` bytes should be
    /// compacted.
    pub fn is_due(&self, updates: u64, bytes: u64) -> bool {
        updates > self.max_log_updates || bytes > self.max_log_bytes
    }
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        CompactionPolicy::DEFAULT
    }
}

/// Durable storage of rooms. Implementations must make [`append_batch`]
/// atomic and durable on return (the caller relays the updates next), and
/// [`compact`] atomic (a crash leaves either the old snapshot and log or the
/// new snapshot and the shorter log).
///
/// Methods take `&mut self`: one instance is used by one thread at a time
/// (the group-commit writer owns one). An implementation may let several
/// instances share a database (SQLite in WAL mode does), so that loads and
/// compaction can run beside the writer.
///
/// [`append_batch`]: RoomStore::append_batch
/// [`compact`]: RoomStore::compact
pub trait RoomStore: Send {
    /// The updates that rebuild `room`'s document: snapshot, then the log
    /// after it. An unknown room is empty, not an error. A stored update that
    /// does not decode is an error naming the room and the update; nothing
    /// is deleted.
    fn load(&mut self, room: &str) -> Result<RoomState, StoreError>;

    /// Appends every update of `batch` (any mix of rooms) in ONE transaction:
    /// all are committed, or none. Updates are checked to decode first; one
    /// that does not fails the whole batch with [`StoreError::InvalidUpdate`].
    /// Rooms are created on their first update.
    fn append_batch(&mut self, batch: &[Append<'_>]) -> Result<AppendReceipt, StoreError>;

    /// Appends `updates` to one room, in one transaction.
    fn append(&mut self, room: &str, updates: &[&[u8]]) -> Result<AppendReceipt, StoreError> {
        let batch: Vec<Append<'_>> = updates
            .iter()
            .map(|update| Append { room, update })
            .collect();
        self.append_batch(&batch)
    }

    /// Folds `room`'s log into its snapshot: the merged state replaces the
    /// snapshot and the log rows it covers are deleted, atomically. The merged
    /// bytes are checked to reload to the same state before anything is
    /// deleted. An update that starts past what the rest holds of its client
    /// (one of the client's updates never arrived) is left in the log, since
    /// yrs would drop it from a merged update. `None` when there was nothing
    /// to fold, or the room changed under us (deleted, or compacted by another
    /// instance) and this attempt was abandoned harmlessly.
    fn compact(&mut self, room: &str) -> Result<Option<Compacted>, StoreError>;

    /// Every stored room, sorted by name.
    fn rooms(&mut self) -> Result<Vec<String>, StoreError>;

    /// Sizes of `room`, or `None` for an unknown room.
    fn room_stats(&mut self, room: &str) -> Result<Option<RoomStats>, StoreError>;

    /// Bytes stored for `room` (snapshot plus log; 0 for an unknown room), for
    /// per-room document-size limits. See [`RoomStats::total_bytes`].
    fn room_size(&mut self, room: &str) -> Result<u64, StoreError> {
        Ok(self
            .room_stats(room)?
            .map_or(0, |stats| stats.total_bytes()))
    }

    /// Deletes `room` and everything stored for it. Returns whether it existed.
    fn delete_room(&mut self, room: &str) -> Result<bool, StoreError>;

    /// Makes storage self-contained for a graceful shutdown or a backup (for
    /// SQLite: checkpoint the write-ahead log into the database file).
    /// Committed appends are already durable without it.
    fn flush(&mut self) -> Result<(), StoreError>;
}
