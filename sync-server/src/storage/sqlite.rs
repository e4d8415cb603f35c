//! [`RoomStore`] on SQLite: one database file per server, in WAL mode.
//!
//! Schema (version 1, kept in `PRAGMA user_version`):
//!
//! ```sql
//! rooms(id, name UNIQUE, snapshot BLOB NULL, snapshot_seq, last_seq, log_count, log_bytes)
//! updates(room_id, seq, data BLOB, PRIMARY KEY (room_id, seq))
//! ```
//!
//! `snapshot` holds the room's state through update `snapshot_seq` (NULL
//! before the first compaction); `updates` holds the log after it, and the
//! rare updates compaction could not fold (see [`RoomStore::compact`]). `last_seq`,
//! `log_count` and `log_bytes` are kept up to date by every append and
//! compaction, so sizes and the compaction policy cost no scan. Room ids are
//! never reused (`AUTOINCREMENT`), so a compaction racing a deletion cannot
//! touch a new room of the same name.
//!
//! Several [`SqliteStore`]s may open the same file (say, the group-commit
//! writer and a compaction or load thread): WAL lets readers run beside the
//! writer, write transactions are `BEGIN IMMEDIATE` and wait up to the busy
//! timeout for each other.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::merge::{self, Source};
use super::{
    Append, AppendReceipt, Compacted, CompactionPolicy, RoomState, RoomStats, RoomStore, StoreError,
};

/// How hard a commit pushes data to the disk before it returns.
///
/// The requirement: no update that any client has received is lost when the
/// server is killed with SIGKILL. In WAL mode a commit writes its pages to the
/// write-ahead log with `write(2)` before it returns, under both settings
/// below; once written, the data is in the kernel's page cache and survives
/// the death of the process, however abrupt. SIGKILL is therefore covered by
/// either. They differ on an operating-system crash or power cut:
///
/// - [`Durability::Full`] (`synchronous=FULL`, the default) also fsyncs the
///   log on every commit, so a commit that returned survives power loss.
/// - [`Durability::Normal`] (`synchronous=NORMAL`) fsyncs only at checkpoints:
///   the database stays consistent, but the last commits before a power cut
///   may be rolled back, though clients may already have seen them (they
///   would resend them on their next sync, from their own copies).
///
/// Full is the default because "durable before relayed" should mean durable,
/// and group commit (see [`super::GroupCommit`]) pays one fsync per batch, not
/// per update. Normal is for disposable servers and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Full,
    Normal,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

/// Settings of a [`SqliteStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// What a commit guarantees. Default [`Durability::Full`].
    pub durability: Durability,
    /// How long a statement waits for another connection's write lock before
    /// failing with "database is locked". Default 5 s.
    pub busy_timeout: Duration,
    /// When a room's log is due for compaction. Default
    /// [`CompactionPolicy::DEFAULT`].
    pub compaction: CompactionPolicy,
}

impl SqliteOptions {
    pub const DEFAULT: SqliteOptions = SqliteOptions {
        durability: Durability::Full,
        busy_timeout: Duration::from_secs(5),
        compaction: CompactionPolicy::DEFAULT,
    };

    pub const fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    pub const fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    pub const fn with_compaction(mut self, policy: CompactionPolicy) -> Self {
        self.compaction = policy;
        self
    }
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions::DEFAULT
    }
}

/// Schema migrations; migration `i` takes the database from version `i` to
/// `i + 1`. Append new ones, never edit old ones.
const MIGRATIONS: &[&str] = &[
    // 1: rooms with a snapshot, and their update logs.
    "CREATE TABLE rooms (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        snapshot BLOB,
        snapshot_seq INTEGER NOT NULL DEFAULT 0,
        last_seq INTEGER NOT NULL DEFAULT 0,
        log_count INTEGER NOT NULL DEFAULT 0,
        log_bytes INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE TABLE updates (
        room_id INTEGER NOT NULL REFERENCES rooms (id),
        seq INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (room_id, seq)
    ) STRICT;",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Rooms in one SQLite database file. See the module docs.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    options: SqliteOptions,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Engine(Box::new(e))
    }
}

/// Sequence numbers and sizes are `u64` in the API and INTEGER (i64) in SQL;
/// none comes near 2^63.
fn to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_sql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, SqliteOptions::DEFAULT)
    }

    /// Opens (creating if needed) the database at `path`: WAL mode, the
    /// chosen durability and busy timeout, schema migrated to this build's
    /// version. A database from a newer build is refused.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        let open_err = |source: rusqlite::Error| StoreError::Open {
            path: shown.clone(),
            source: Box::new(source),
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(options.busy_timeout).map_err(open_err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: shown,
                source: format!("could not switch to WAL mode (journal_mode is {mode})").into(),
            });
        }
        conn.pragma_update(None, "synchronous", options.durability.pragma())
            .map_err(open_err)?;
        // After a checkpoint, truncate a WAL that a burst grew past 64 MiB
        // rather than keep it at its largest.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .map_err(open_err)?;
        migrate(&mut conn, &shown)?;
        Ok(SqliteStore {
            conn,
            path,
            options,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn options(&self) -> &SqliteOptions {
        &self.options
    }

    /// A second store on the same file with the same options, for a thread
    /// that loads or compacts beside the writer.
    pub fn reopen(&self) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(&self.path, self.options)
    }

    /// A pragma's value on this store's connection, for tests.
    #[cfg(test)]
    pub(crate) fn pragma(&self, name: &str) -> Result<i64, StoreError> {
        Ok(self.conn.pragma_query_value(None, name, |row| row.get(0))?)
    }

    /// `(id, snapshot_seq)` of `room`, if it exists.
    fn room_row(conn: &Connection, room: &str) -> Result<Option<(i64, i64)>, StoreError> {
        Ok(conn
            .prepare_cached("SELECT id, snapshot_seq FROM rooms WHERE name = ?1")?
            .query_row([room], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?)
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction.
fn migrate(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let done = usize::try_from(found).unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.execute_batch(sql).map_err(|e| StoreError::Open {
            path: path.to_owned(),
            source: format!("schema migration to version {} failed: {e}", i + 1).into(),
        })?;
    }
    if found != SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}

/// Where a room's log stands while a batch is appended.
struct Cursor {
    id: i64,
    last_seq: u64,
    added: u64,
    added_bytes: u64,
}

impl RoomStore for SqliteStore {
    fn load(&mut self, room: &str) -> Result<RoomState, StoreError> {
        // One read transaction: the snapshot and the log tail agree.
        let tx = self.conn.transaction()?;
        let row: Option<(i64, Option<Vec<u8>>, i64)> = tx
            .prepare_cached("SELECT id, snapshot, snapshot_seq FROM rooms WHERE name = ?1")?
            .query_row([room], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?;
        let Some((id, snapshot, snapshot_seq)) = row else {
            return Ok(RoomState::default());
        };
        let mut state = RoomState {
            updates: Vec::new(),
            last_seq: from_sql(snapshot_seq),
        };
        if let Some(snapshot) = snapshot {
            merge::check_update(&snapshot).map_err(|reason| {
                Source::Snapshot {
                    through_seq: state.last_seq,
                }
                .corrupt(room, reason)
            })?;
            state.updates.push(snapshot);
        }
        // Every row of the log, those the snapshot left behind included.
        let mut stmt =
            tx.prepare_cached("SELECT seq, data FROM updates WHERE room_id = ?1 ORDER BY seq")?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            let seq = from_sql(row.get(0)?);
            let data: Vec<u8> = row.get(1)?;
            merge::check_update(&data)
                .map_err(|reason| Source::Log { seq }.corrupt(room, reason))?;
            state.updates.push(data);
            state.last_seq = state.last_seq.max(seq);
        }
        Ok(state)
    }

    fn append_batch(&mut self, batch: &[Append<'_>]) -> Result<AppendReceipt, StoreError> {
        for (index, append) in batch.iter().enumerate() {
            merge::check_update(append.update)
                .map_err(|reason| Source::Given { index }.corrupt(append.room, reason))?;
        }
        if batch.is_empty() {
            return Ok(AppendReceipt::default());
        }
        let policy = self.options.compaction;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut cursors: HashMap<&str, Cursor> = HashMap::new();
        let mut seqs = Vec::with_capacity(batch.len());
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO updates (room_id, seq, data) VALUES (?1, ?2, ?3)")?;
            for append in batch {
                let cursor = match cursors.entry(append.room) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => {
                        tx.prepare_cached(
                            "INSERT INTO rooms (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
                        )?
                        .execute([append.room])?;
                        let (id, last_seq): (i64, i64) = tx
                            .prepare_cached("SELECT id, last_seq FROM rooms WHERE name = ?1")?
                            .query_row([append.room], |row| Ok((row.get(0)?, row.get(1)?)))?;
                        e.insert(Cursor {
                            id,
                            last_seq: from_sql(last_seq),
                            added: 0,
                            added_bytes: 0,
                        })
                    }
                };
                cursor.last_seq += 1;
                cursor.added += 1;
                cursor.added_bytes += append.update.len() as u64;
                insert.execute(params![cursor.id, to_sql(cursor.last_seq), append.update])?;
                seqs.push(cursor.last_seq);
            }
        }
        let mut compaction_due = Vec::new();
        {
            let mut bump = tx.prepare_cached(
                "UPDATE rooms SET last_seq = ?2, log_count = log_count + ?3, log_bytes = log_bytes + ?4
                 WHERE id = ?1 RETURNING log_count, log_bytes",
            )?;
            for (room, cursor) in &cursors {
                let (count, bytes): (i64, i64) = bump.query_row(
                    params![
                        cursor.id,
                        to_sql(cursor.last_seq),
                        to_sql(cursor.added),
                        to_sql(cursor.added_bytes)
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?;
                if policy.is_due(from_sql(count), from_sql(bytes)) {
                    compaction_due.push((*room).to_owned());
                }
            }
        }
        tx.commit()?;
        compaction_due.sort();
        Ok(AppendReceipt {
            seqs,
            compaction_due,
        })
    }

    fn compact(&mut self, room: &str) -> Result<Option<Compacted>, StoreError> {
        // Read (no write lock: appends go on meanwhile) ...
        let tx = self.conn.transaction()?;
        let row: Option<(i64, Option<Vec<u8>>, i64)> = tx
            .prepare_cached("SELECT id, snapshot, snapshot_seq FROM rooms WHERE name = ?1")?
            .query_row([room], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?;
        let Some((id, snapshot, snapshot_seq)) = row else {
            return Ok(None);
        };
        let log: Vec<(i64, Vec<u8>)> = tx
            .prepare_cached("SELECT seq, data FROM updates WHERE room_id = ?1 ORDER BY seq")?
            .query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        tx.commit()?;
        let Some(through_seq) = log.iter().map(|(seq, _)| *seq).max() else {
            return Ok(None);
        };

        // ... merge and check, outside any transaction ...
        let mut parts: Vec<(Source, &[u8])> = Vec::with_capacity(log.len() + 1);
        if let Some(snapshot) = &snapshot {
            parts.push((
                Source::Snapshot {
                    through_seq: from_sql(snapshot_seq),
                },
                snapshot,
            ));
        }
        parts.extend(log.iter().map(|(seq, data)| {
            (
                Source::Log {
                    seq: from_sql(*seq),
                },
                data.as_slice(),
            )
        }));
        let merged = merge::merge_parts(room, &parts)?;
        let mut kept: Vec<i64> = Vec::with_capacity(merged.held.len());
        for source in &merged.held {
            match *source {
                Source::Log { seq } => kept.push(to_sql(seq)),
                other => {
                    return Err(StoreError::CompactionCheck {
                        room: room.to_owned(),
                        reason: format!("{other:?} does not integrate"),
                    });
                }
            }
        }
        let folded: Vec<i64> = log
            .iter()
            .map(|(seq, _)| *seq)
            .filter(|seq| !kept.contains(seq))
            .collect();
        if folded.is_empty() {
            // Only updates that still wait for missing ones: nothing to gain.
            return Ok(None);
        }
        let bytes_before = snapshot.as_ref().map_or(0, Vec::len) as u64
            + log
                .iter()
                .filter(|(seq, _)| !kept.contains(seq))
                .map(|(_, d)| d.len() as u64)
                .sum::<u64>();

        // ... then swap, if nobody compacted or deleted the room meanwhile.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if SqliteStore::room_row(&tx, room)? != Some((id, snapshot_seq)) {
            return Ok(None);
        }
        if kept.is_empty() {
            tx.prepare_cached("DELETE FROM updates WHERE room_id = ?1 AND seq <= ?2")?
                .execute(params![id, through_seq])?;
        } else {
            let mut delete =
                tx.prepare_cached("DELETE FROM updates WHERE room_id = ?1 AND seq = ?2")?;
            for seq in &folded {
                delete.execute(params![id, seq])?;
            }
        }
        tx.prepare_cached(
            "UPDATE rooms SET snapshot = ?2, snapshot_seq = ?3,
                log_count = (SELECT count(*) FROM updates WHERE room_id = ?1),
                log_bytes = (SELECT coalesce(sum(length(data)), 0) FROM updates WHERE room_id = ?1)
             WHERE id = ?1",
        )?
        .execute(params![id, merged.update, through_seq])?;
        tx.commit()?;
        if !kept.is_empty() {
            tracing::warn!(
                room,
                kept = kept.len(),
                "compaction left updates in the log: they wait for earlier updates of their client that never arrived"
            );
        }
        Ok(Some(Compacted {
            through_seq: from_sql(through_seq),
            folded_updates: folded.len() as u64,
            kept_updates: kept.len() as u64,
            bytes_before,
            bytes_after: merged.update.len() as u64,
        }))
    }

    fn rooms(&mut self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT name FROM rooms ORDER BY name")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?)
    }

    fn room_stats(&mut self, room: &str) -> Result<Option<RoomStats>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT coalesce(length(snapshot), 0), log_count, log_bytes, last_seq
                 FROM rooms WHERE name = ?1",
            )?
            .query_row([room], |row| {
                Ok(RoomStats {
                    snapshot_bytes: from_sql(row.get(0)?),
                    log_updates: from_sql(row.get(1)?),
                    log_bytes: from_sql(row.get(2)?),
                    last_seq: from_sql(row.get(3)?),
                })
            })
            .optional()?)
    }

    fn delete_room(&mut self, room: &str) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some((id, _)) = SqliteStore::room_row(&tx, room)? else {
            return Ok(false);
        };
        tx.prepare_cached("DELETE FROM updates WHERE room_id = ?1")?
            .execute([id])?;
        tx.prepare_cached("DELETE FROM rooms WHERE id = ?1")?
            .execute([id])?;
        tx.commit()?;
        Ok(true)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        // TRUNCATE: copy the WAL into the database file, fsync it, empty the
        // WAL. `busy` is 1 when another connection's reader kept part of the
        // log in use; the data is durable in the WAL regardless.
        let (busy, log_frames, checkpointed): (i64, i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
        if busy != 0 {
            tracing::debug!(
                log_frames,
                checkpointed,
                "checkpoint incomplete: another connection is reading"
            );
        }
        Ok(())
    }
}
