//! Where a board's edits go to last, at a cost that follows the edits, not
//! the board.
//!
//! The [`Workspace`](crate::workspace::Workspace) collects every
//! transaction's update (local and remote) and, at each autosave tick, hands
//! the new ones to its [`Persist`]. On the desktop that is a [`DiskStore`]:
//! the updates are appended to a journal beside the `.tpboard` file and
//! synced, and a background thread now and then folds the journal into the
//! file (Yjs updates merged as bytes, never the live document, whose lock
//! the UI thread holds).
//!
//! Layering: [`Persist`] and [`journal`] (record framing and replay) are
//! pure and build for wasm32 (no files, no threads), so that the workspace
//! can move into an editor crate and a web build persist to IndexedDB;
//! [`disk`] is the desktop's files and compactor thread.

pub mod disk;
pub mod journal;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use disk::{DiskStore, JournalOptions};

/// Why a board's edits could not be stored or read back. Every message
/// names the file.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error(transparent)]
    Open(#[from] touchpoint_crdt::file::FileError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot save {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot fold the journal into {path}: {reason}")]
    Compact { path: PathBuf, reason: String },
    #[error("{path} refers to changes that neither it nor the board file holds")]
    Incomplete { path: PathBuf },
}

/// A board's storage, as the workspace sees it. The autosave tick runs on
/// the UI thread, so [`Persist::append`] must cost about the size of the
/// updates it is given; anything that grows with the board belongs in
/// [`Persist::compact`], which does it elsewhere when it can.
pub trait Persist {
    /// Whether the board is not in this store yet (a board that began in
    /// memory: a template, a joined room's local copy), so the next save
    /// must be [`Persist::write_full`].
    fn needs_full(&self) -> bool;

    /// Replaces what is stored by `state`, a whole board as one Yjs update
    /// v1. Costs the board's size: for a board's first save only.
    fn write_full(&mut self, state: &[u8]) -> Result<(), PersistError>;

    /// Stores `updates` (Yjs updates v1, one per transaction, in the order
    /// they were made) after what is stored, durably before it returns.
    fn append(&mut self, updates: &[Vec<u8>]) -> Result<(), PersistError>;

    /// Asks for what is stored to become one whole board (Save); the work
    /// happens in the background, its outcome comes from [`Persist::poll`].
    fn compact(&mut self);

    /// Finishes background work that has ended, and says how it went
    /// (`None`: nothing ended since the last call). Cheap: call every tick.
    fn poll(&mut self) -> Option<Result<(), PersistError>>;

    /// Whether background work is running, whose outcome a later
    /// [`Persist::poll`] will take.
    fn is_busy(&self) -> bool;

    /// Leaves what is stored as one whole board and waits for it: the
    /// board is being closed. The store can still be used afterwards.
    fn close(&mut self) -> Result<(), PersistError>;

    /// Bytes this store has written on the caller's thread (appends, a
    /// first save, journal upkeep), not counting background work: what
    /// autosave costs the UI thread.
    fn bytes_written(&self) -> u64;
}
