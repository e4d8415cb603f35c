//! A board on the desktop: `NAME.tpboard` (a whole Yjs update, what
//! JavaScript Yjs opens) and `NAME.tpboard.journal` (the updates made since,
//! see [`super::journal`]).
//!
//! The UI thread only appends to the journal and syncs it. Once the journal
//! passes [`JournalOptions::compact_at`], or on Save and on close, a
//! background thread merges the file's bytes with the journal's records
//! (`yrs::merge_updates_v1`), writes the result to a temporary file, syncs
//! it and renames it over the board file. The UI thread then drops the
//! records that were folded in, keeping any appended meanwhile. A crash at
//! any point loses nothing: until the rename the old file and the whole
//! journal are there; after it, replaying records the file already holds
//! changes nothing.
//!
//! Only the UI thread touches the journal; the compactor reads a prefix of
//! it that the UI thread has already synced and will not change until the
//! compactor is done, and is the only writer of the board file meanwhile.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use touchpoint_crdt::{Board, file, panics};

use super::journal::{self, HEADER};
use super::{Persist, PersistError};

/// When the journal is folded into the board file on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalOptions {
    /// Journal size (bytes) from which a compaction starts after an append.
    /// Default 1 MiB: a few thousand edits, replayed in well under a second
    /// when the board is next opened.
    pub compact_at: u64,
}

impl JournalOptions {
    pub const DEFAULT: JournalOptions = JournalOptions {
        compact_at: 1 << 20,
    };

    pub fn with_compact_at(self, bytes: u64) -> JournalOptions {
        JournalOptions { compact_at: bytes }
    }
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions::DEFAULT
    }
}

/// The journal beside `board`: its file name with `.journal` added.
pub fn journal_path(board: &Path) -> PathBuf {
    let mut name = board.file_name().unwrap_or_default().to_owned();
    name.push(".journal");
    board.with_file_name(name)
}

/// Opens a board for reading only (the command line): the file, then the
/// journal's records. Writes nothing, even past a torn record.
pub fn load(path: &Path) -> Result<Board, PersistError> {
    read(path).map(|r| r.board)
}

/// Starts a new board file at `path`, discarding any journal left there
/// by a board of the same name that is gone.
pub fn write_new(path: &Path, state: &[u8]) -> Result<(), PersistError> {
    DiskStore::unwritten(path, JournalOptions::DEFAULT).write_full(state)
}

struct Loaded {
    board: Board,
    /// Journal bytes that are whole records the board took.
    kept: u64,
    /// Journal bytes on disk (more than `kept` after a torn write).
    on_disk: u64,
}

fn read(path: &Path) -> Result<Loaded, PersistError> {
    let mut board = file::load(path)?;
    let jpath = journal_path(path);
    let bytes = match std::fs::read(&jpath) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(PersistError::Read {
                path: jpath,
                source,
            });
        }
    };
    let parsed = journal::parse(&bytes);
    if parsed.ignored > 0 {
        tracing::warn!(
            "{}: ignored its last {} bytes, not a whole record (a write cut short); the {} records before them are loaded",
            jpath.display(),
            parsed.ignored,
            parsed.records.len()
        );
    }
    let replayed = journal::replay(&mut board, &parsed.records);
    let kept = match parsed.records.get(replayed.applied) {
        Some(refused) => {
            tracing::warn!(
                "{}: ignored {} records from byte {}, which the board refused",
                jpath.display(),
                replayed.refused,
                refused.offset
            );
            refused.offset
        }
        None => parsed.valid_len,
    };
    if board.has_missing_updates() {
        return Err(PersistError::Incomplete { path: jpath });
    }
    Ok(Loaded {
        board,
        kept: kept as u64,
        on_disk: bytes.len() as u64,
    })
}

/// Folds the journal's first `upto` bytes into the board file: the
/// compactor's work, on its own thread. Returns how many journal bytes the
/// file now holds (those can be dropped from the journal).
pub fn fold_journal(board: &Path, upto: u64) -> Result<u64, PersistError> {
    let jpath = journal_path(board);
    let base = std::fs::read(board).map_err(|source| PersistError::Read {
        path: board.to_owned(),
        source,
    })?;
    let mut prefix = Vec::new();
    File::open(&jpath)
        .and_then(|f| f.take(upto).read_to_end(&mut prefix))
        .map_err(|source| PersistError::Read {
            path: jpath.clone(),
            source,
        })?;
    let parsed = journal::parse(&prefix);
    let updates = std::iter::once(base.as_slice()).chain(parsed.records.iter().map(|r| r.payload));
    let merged = match panics::catch(|| yrs::merge_updates_v1(updates)) {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return Err(compact_error(board, e.to_string())),
        Err(caught) => return Err(compact_error(board, caught.to_string())),
    };
    write_atomic(board, &merged).map_err(|source| PersistError::Write {
        path: board.to_owned(),
        source,
    })?;
    Ok(parsed.valid_len as u64)
}

fn compact_error(board: &Path, reason: String) -> PersistError {
    PersistError::Compact {
        path: board.to_owned(),
        reason,
    }
}

/// A board file and its journal; see the module doc.
#[derive(Debug)]
pub struct DiskStore {
    board: PathBuf,
    journal: PathBuf,
    options: JournalOptions,
    /// Journal bytes up to the end of its last whole record (header
    /// included); 0 when there is no journal yet. The next record goes here.
    len: u64,
    /// The journal file may hold bytes past `len` (a torn record found on
    /// opening, a failed write): cut them before appending.
    stale_tail: bool,
    /// The journal, open for appending, once something was appended.
    handle: Option<File>,
    needs_full: bool,
    running: Option<Compaction>,
    /// Save asked for a compaction while one was running (which may not
    /// hold the latest records): start another when it ends.
    again: bool,
    /// Journal length from which an append starts a compaction.
    compact_from: u64,
    /// Trouble from starting background work, for the next poll.
    failed: Option<PersistError>,
    written: u64,
}

#[derive(Debug)]
struct Compaction {
    handle: JoinHandle<Result<u64, PersistError>>,
}

impl DiskStore {
    /// Opens the board at `path` (its file, then its journal's records).
    /// A record cut short by a crash is ignored with a warning; it is cut
    /// off the journal on the first append, not before (a read-only board
    /// never writes).
    pub fn open(path: &Path, options: JournalOptions) -> Result<(Board, DiskStore), PersistError> {
        let read = read(path)?;
        let mut store = DiskStore::unwritten(path, options);
        store.needs_full = false;
        store.len = read.kept;
        store.stale_tail = read.on_disk > read.kept;
        Ok((read.board, store))
    }

    /// A store for a board not on disk yet: the first save writes it whole.
    /// Touches no file until then.
    pub fn unwritten(path: &Path, options: JournalOptions) -> DiskStore {
        DiskStore {
            board: path.to_owned(),
            journal: journal_path(path),
            options,
            len: 0,
            stale_tail: false,
            handle: None,
            needs_full: true,
            running: None,
            again: false,
            compact_from: options.compact_at,
            failed: None,
            written: 0,
        }
    }

    /// The journal's length in whole records (0: no journal), in bytes.
    pub fn journal_len(&self) -> u64 {
        self.len
    }

    fn write_error(&self, path: &Path, source: std::io::Error) -> PersistError {
        PersistError::Write {
            path: path.to_owned(),
            source,
        }
    }

    fn write_records(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let creating = self.len == 0;
        let file = match &mut self.handle {
            Some(f) => f,
            None => self.handle.insert(
                OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .read(true)
                    .write(true)
                    .open(&self.journal)?,
            ),
        };
        if self.stale_tail || creating {
            file.set_len(self.len)?;
            self.stale_tail = false;
        }
        file.seek(SeekFrom::Start(self.len))?;
        file.write_all(bytes)?;
        file.sync_data()?;
        if creating {
            sync_dir(&self.journal);
        }
        Ok(())
    }

    fn start_compaction(&mut self) {
        if self.running.is_some() {
            self.again = true;
            return;
        }
        if self.len <= HEADER.len() as u64 {
            return;
        }
        let (board, upto) = (self.board.clone(), self.len);
        let spawned = std::thread::Builder::new()
            .name("touchpoint-compact".into())
            .spawn(move || fold_journal(&board, upto));
        match spawned {
            Ok(handle) => self.running = Some(Compaction { handle }),
            Err(e) => {
                self.compact_from = self.len + self.options.compact_at;
                self.failed = Some(compact_error(
                    &self.board,
                    format!("cannot start a thread: {e}"),
                ));
            }
        }
    }

    /// Waits for the running compaction, if any, and drops what it folded.
    fn finish_compaction(&mut self) -> Option<Result<(), PersistError>> {
        let running = self.running.take()?;
        let folded = running
            .handle
            .join()
            .unwrap_or_else(|_| Err(compact_error(&self.board, "the compactor panicked".into())));
        let result = folded.and_then(|upto| self.drop_folded(upto));
        match &result {
            Ok(()) if std::mem::take(&mut self.again) => self.start_compaction(),
            Ok(()) => {}
            // Not again at every append: after the journal has grown as
            // much once more (or on Save, or on close).
            Err(_) => {
                self.again = false;
                self.compact_from = self.len + self.options.compact_at;
            }
        }
        Some(result)
    }

    /// Drops the journal's first `upto` bytes, which the board file now
    /// holds, keeping records appended since. Costs those records' size.
    fn drop_folded(&mut self, upto: u64) -> Result<(), PersistError> {
        if upto >= self.len {
            self.handle = None;
            match std::fs::remove_file(&self.journal) {
                Ok(()) => sync_dir(&self.journal),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.write_error(&self.journal, e)),
            }
            self.len = 0;
            self.stale_tail = false;
        } else {
            let mut kept = HEADER.to_vec();
            let tail = self.read_journal(upto.max(HEADER.len() as u64))?;
            kept.extend_from_slice(&tail);
            self.handle = None;
            write_atomic(&self.journal, &kept).map_err(|e| self.write_error(&self.journal, e))?;
            self.written += kept.len() as u64;
            self.len = kept.len() as u64;
            self.stale_tail = false;
        }
        self.compact_from = self.len + self.options.compact_at;
        Ok(())
    }

    /// The journal's bytes from `from` to `len`.
    fn read_journal(&mut self, from: u64) -> Result<Vec<u8>, PersistError> {
        let mut tail = Vec::new();
        File::open(&self.journal)
            .and_then(|mut f| {
                f.seek(SeekFrom::Start(from))?;
                f.take(self.len - from).read_to_end(&mut tail)
            })
            .map_err(|source| PersistError::Read {
                path: self.journal.clone(),
                source,
            })?;
        Ok(tail)
    }
}

impl Persist for DiskStore {
    fn needs_full(&self) -> bool {
        self.needs_full
    }

    fn write_full(&mut self, state: &[u8]) -> Result<(), PersistError> {
        if let Some(Err(e)) = self.finish_compaction() {
            // What it would have folded is in `state` too.
            tracing::debug!("{e}");
        }
        // The journal goes first: after a crash between the two, the old
        // file alone is left, never the old journal on the new board.
        self.handle = None;
        match std::fs::remove_file(&self.journal) {
            Ok(()) => sync_dir(&self.journal),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.write_error(&self.journal, e)),
        }
        self.len = 0;
        self.stale_tail = false;
        write_atomic(&self.board, state).map_err(|e| self.write_error(&self.board, e))?;
        self.written += state.len() as u64;
        self.needs_full = false;
        self.compact_from = self.options.compact_at;
        Ok(())
    }

    fn append(&mut self, updates: &[Vec<u8>]) -> Result<(), PersistError> {
        if updates.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::new();
        if self.len == 0 {
            bytes.extend_from_slice(HEADER);
        }
        for u in updates {
            journal::frame(u, &mut bytes).map_err(|e| {
                self.write_error(
                    &self.journal,
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                )
            })?;
        }
        if let Err(e) = self.write_records(&bytes) {
            // Part of it may be on disk: cut it before the next try.
            self.stale_tail = true;
            return Err(self.write_error(&self.journal, e));
        }
        self.written += bytes.len() as u64;
        self.len += bytes.len() as u64;
        if self.len >= self.compact_from {
            self.start_compaction();
        }
        Ok(())
    }

    fn compact(&mut self) {
        self.start_compaction();
    }

    fn poll(&mut self) -> Option<Result<(), PersistError>> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        if self.running.as_ref()?.handle.is_finished() {
            return self.finish_compaction();
        }
        None
    }

    fn is_busy(&self) -> bool {
        self.running.is_some()
    }

    fn close(&mut self) -> Result<(), PersistError> {
        self.again = false;
        let earlier = self.finish_compaction().unwrap_or(Ok(()));
        if self.len <= HEADER.len() as u64 {
            return earlier;
        }
        let upto = fold_journal(&self.board, self.len)?;
        self.drop_folded(upto)
    }

    fn bytes_written(&self) -> u64 {
        self.written
    }
}

impl Drop for DiskStore {
    /// Never leaves a compactor writing the file behind: the board may be
    /// opened again at once.
    fn drop(&mut self) {
        if let Some(Err(e)) = self.finish_compaction() {
            tracing::warn!("{e}");
        }
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames
/// it over `path`: a crash leaves the old file or the new one, whole.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(
        path.file_name().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name")
        })?,
    );
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(path);
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Makes a rename, creation or removal in `path`'s directory durable. Best
/// effort: some platforms cannot open a directory.
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
