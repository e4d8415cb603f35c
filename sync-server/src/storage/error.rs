//! Storage errors, in a file of their own so that the parts of storage
//! (the trait in mod.rs, the merge, the engines) can all return them
//! without importing each other.

/// Storage errors. Messages name the room (and the update's sequence number)
/// where one is involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A stored log update does not decode: damaged on disk or written by
    /// something other than this store. The row is left in place.
    #[error(
        "room {room:?}: stored update {seq} is corrupt ({reason}); the room cannot be loaded until it is repaired"
    )]
    CorruptUpdate {
        room: String,
        seq: u64,
        reason: String,
    },
    /// A room's snapshot does not decode.
    #[error(
        "room {room:?}: stored snapshot (through update {through_seq}) is corrupt ({reason}); the room cannot be loaded until it is repaired"
    )]
    CorruptSnapshot {
        room: String,
        through_seq: u64,
        reason: String,
    },
    /// An update offered for appending is not a Yjs update v1.
    #[error(
        "room {room:?}: update {index} of the batch is not a Yjs update ({reason}); nothing of the batch was stored"
    )]
    InvalidUpdate {
        room: String,
        index: usize,
        reason: String,
    },
    /// Compaction produced bytes that do not reload to the room's state; the
    /// log was kept. A bug in the merge, never expected.
    #[error("room {room:?}: compaction was abandoned, the merged state does not reload ({reason})")]
    CompactionCheck { room: String, reason: String },
    /// The database was written by a newer build.
    #[error(
        "database {path}: schema version {found} is newer than this build understands ({supported}); use a newer touchpoint-server"
    )]
    NewerSchema {
        path: String,
        found: i64,
        supported: i64,
    },
    /// The database could not be opened or set up.
    #[error("database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The storage engine failed (I/O error, disk full, locked too long).
    #[error("storage engine: {0}")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The group-commit writer has shut down (or failed) and takes no more
    /// requests.
    #[error("the storage writer has stopped")]
    WriterStopped,
    /// The group-commit writer thread could not be started.
    #[error("could not start the storage writer thread: {0}")]
    Thread(#[source] std::io::Error),
}
