//! Group commit: one writer thread owns the store, takes append requests
//! from any number of producers over a channel, commits whatever is queued in
//! one transaction (one fsync) and acknowledges each request after that
//! commit.
//!
//! There is no timer: while one batch is being committed the next requests
//! queue up, and the next batch takes them all. A lone update is committed at
//! once; under load, batches grow by themselves. The relay path submits an
//! update and relays it from the acknowledgement ("commit before relay").

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Append, RoomStore, StoreError};

/// A committed update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// The update's sequence number in its room's log.
    pub seq: u64,
}

/// What a [`GroupCommit`] writer has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions committed (one fsync each with `Durability::Full`).
    pub batches: u64,
    /// Updates committed in them.
    pub updates: u64,
    /// Rooms compacted automatically (see [`GroupCommitOptions::auto_compact`]).
    pub compactions: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    updates: AtomicU64,
    compactions: AtomicU64,
}

/// Settings of a [`GroupCommit`] writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitOptions {
    /// Most updates committed in one transaction. Default 4,096.
    pub max_batch_updates: usize,
    /// A batch stops taking updates once it holds this many bytes. Default
    /// 16 MiB.
    pub max_batch_bytes: usize,
    /// Compact rooms when an append reports them due (see
    /// [`super::CompactionPolicy`]): on the writer thread after acknowledging
    /// the batch, or on the compactor thread when there is one. Default true.
    pub auto_compact: bool,
    /// After a failed compaction, wait this long before trying that room
    /// again (a corrupt room would otherwise be re-read on every append).
    /// Default 60 s.
    pub compaction_retry: Duration,
}

impl GroupCommitOptions {
    pub const DEFAULT: GroupCommitOptions = GroupCommitOptions {
        max_batch_updates: 4096,
        max_batch_bytes: 16 << 20,
        auto_compact: true,
        compaction_retry: Duration::from_secs(60),
    };

    pub const fn with_max_batch_updates(mut self, updates: usize) -> Self {
        self.max_batch_updates = updates;
        self
    }

    pub const fn with_max_batch_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_bytes = bytes;
        self
    }

    pub const fn with_auto_compact(mut self, on: bool) -> Self {
        self.auto_compact = on;
        self
    }

    pub const fn with_compaction_retry(mut self, wait: Duration) -> Self {
        self.compaction_retry = wait;
        self
    }
}

impl Default for GroupCommitOptions {
    fn default() -> Self {
        GroupCommitOptions::DEFAULT
    }
}

type AckFn = Box<dyn FnOnce(Result<Committed, StoreError>) + Send>;

/// Calls its callback exactly once: with the commit's result, or with
/// [`StoreError::WriterStopped`] if the request is dropped unanswered (the
/// writer stopped, or panicked, with the request still queued).
struct Ack(Option<AckFn>);

impl Ack {
    fn finish(mut self, result: Result<Committed, StoreError>) {
        if let Some(done) = self.0.take() {
            call_back(done, result);
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            call_back(done, Err(StoreError::WriterStopped));
        }
    }
}

/// Runs a producer's callback; one that panics must not take the writer
/// (and every other producer's acknowledgement) down with it.
fn call_back(done: AckFn, result: Result<Committed, StoreError>) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| done(result))).is_err() {
        tracing::error!("a storage acknowledgement callback panicked");
    }
}

struct Pending {
    room: String,
    update: Vec<u8>,
    ack: Ack,
}

type Call = Box<dyn FnOnce(&mut dyn RoomStore) + Send>;

enum Request {
    Append(Pending),
    /// Runs on the writer thread, after every request queued before it.
    Call(Call),
    /// Commit everything queued, flush the store, stop.
    Shutdown(Sender<Result<(), StoreError>>),
}

/// Owns a [`RoomStore`] on a background thread that group-commits appends.
/// Hand [`GroupCommitHandle`]s to producers; call [`GroupCommit::shutdown`]
/// for a graceful stop (dropping it does the same, logging any error).
pub struct GroupCommit {
    handle: GroupCommitHandle,
    writer: Option<JoinHandle<()>>,
}

/// A producer's end of a [`GroupCommit`]: cheap to clone, usable from any
/// thread. Requests are handled in the order they are sent.
#[derive(Clone)]
pub struct GroupCommitHandle {
    tx: Sender<Request>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for GroupCommitHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitHandle").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("running", &self.writer.is_some())
            .finish()
    }
}

impl GroupCommit {
    /// Starts the writer thread with `store`. Due compactions (when
    /// `options.auto_compact`) run on the writer thread, between batches.
    pub fn spawn(
        store: impl RoomStore + 'static,
        options: GroupCommitOptions,
    ) -> Result<GroupCommit, StoreError> {
        GroupCommit::start(Box::new(store), None, options)
    }

    /// Starts the writer thread with `store`, and a compactor thread with
    /// `compactor` (a second store on the same database, e.g.
    /// [`super::SqliteStore::reopen`]), so that compaction does not hold up
    /// appends.
    pub fn spawn_with_compactor(
        store: impl RoomStore + 'static,
        compactor: impl RoomStore + 'static,
        options: GroupCommitOptions,
    ) -> Result<GroupCommit, StoreError> {
        GroupCommit::start(Box::new(store), Some(Box::new(compactor)), options)
    }

    fn start(
        store: Box<dyn RoomStore>,
        compactor_store: Option<Box<dyn RoomStore>>,
        options: GroupCommitOptions,
    ) -> Result<GroupCommit, StoreError> {
        let counters = Arc::new(Counters::default());
        let compactor = match compactor_store {
            Some(store) => Some(CompactorQueue::spawn(
                store,
                options.compaction_retry,
                counters.clone(),
            )?),
            None => None,
        };
        let (tx, rx) = mpsc::channel();
        let in_writer = counters.clone();
        let writer = std::thread::Builder::new()
            .name("storage-writer".to_owned())
            .spawn(move || Writer::new(store, options, compactor, in_writer).run(rx))
            .map_err(StoreError::Thread)?;
        Ok(GroupCommit {
            handle: GroupCommitHandle { tx, counters },
            writer: Some(writer),
        })
    }

    /// A handle for a producer.
    pub fn handle(&self) -> GroupCommitHandle {
        self.handle.clone()
    }

    /// Commits everything submitted before this call, flushes the store (see
    /// [`RoomStore::flush`]) and stops the threads. Requests submitted later
    /// fail with [`StoreError::WriterStopped`].
    pub fn shutdown(mut self) -> Result<(), StoreError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), StoreError> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let (done_tx, done_rx) = mpsc::channel();
        let result = match self.handle.tx.send(Request::Shutdown(done_tx)) {
            Ok(()) => done_rx.recv().unwrap_or(Err(StoreError::WriterStopped)),
            Err(_) => Err(StoreError::WriterStopped),
        };
        if writer.join().is_err() {
            return Err(StoreError::WriterStopped);
        }
        result
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!("storage shutdown: {e}");
        }
    }
}

impl GroupCommitHandle {
    /// Queues `update` for `room`. `done` is called exactly once: on the
    /// writer thread once the update is committed (or its commit failed), or
    /// at once on this thread if the writer has stopped. Relay the update from
    /// `done`, never before. It must be quick (it holds up the acknowledgement
    /// of the rest of the batch): complete a oneshot channel, wake a task.
    pub fn submit(
        &self,
        room: impl Into<String>,
        update: Vec<u8>,
        done: impl FnOnce(Result<Committed, StoreError>) + Send + 'static,
    ) {
        let pending = Pending {
            room: room.into(),
            update,
            ack: Ack(Some(Box::new(done))),
        };
        // A failed send hands the request back; dropping it answers
        // `WriterStopped` through the `Ack`.
        drop(self.tx.send(Request::Append(pending)));
    }

    /// Queues `update` for `room` and waits for its commit.
    pub fn append(
        &self,
        room: impl Into<String>,
        update: Vec<u8>,
    ) -> Result<Committed, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(room, update, move |result| {
            // The waiter may have gone; nothing to tell it then.
            drop(tx.send(result));
        });
        rx.recv().unwrap_or(Err(StoreError::WriterStopped))
    }

    /// Runs `f` with the store on the writer thread, after every request sent
    /// before it, and waits for its result: loads, compaction, sizes and
    /// deletions see every update acknowledged before the call.
    pub fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn RoomStore) -> R + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let call: Call = Box::new(move |store| {
            drop(tx.send(f(store)));
        });
        self.tx
            .send(Request::Call(call))
            .map_err(|_| StoreError::WriterStopped)?;
        rx.recv().map_err(|_| StoreError::WriterStopped)
    }

    /// Batches and updates committed so far.
    pub fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            updates: self.counters.updates.load(Ordering::Relaxed),
            compactions: self.counters.compactions.load(Ordering::Relaxed),
        }
    }

    /// Waits until everything sent before this call is committed, then
    /// flushes the store (see [`RoomStore::flush`]).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.call(|store| store.flush())?
    }
}

/// The compactor thread and its queue, deduplicated: a room already queued
/// is not queued again.
struct CompactorQueue {
    tx: Sender<String>,
    queued: Arc<Mutex<HashSet<String>>>,
    /// Set at shutdown: skip what is still queued (it will be due again).
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl CompactorQueue {
    fn spawn(
        mut store: Box<dyn RoomStore>,
        retry: Duration,
        counters: Arc<Counters>,
    ) -> Result<CompactorQueue, StoreError> {
        let (tx, rx) = mpsc::channel::<String>();
        let queued = Arc::new(Mutex::new(HashSet::new()));
        let stopping = Arc::new(AtomicBool::new(false));
        let (in_queued, in_stopping) = (queued.clone(), stopping.clone());
        let thread = std::thread::Builder::new()
            .name("storage-compactor".to_owned())
            .spawn(move || {
                let mut compactions = Compactions::new(retry, counters);
                for room in rx {
                    if !in_stopping.load(Ordering::Relaxed) {
                        compactions.run(&mut *store, &room);
                    }
                    if let Ok(mut queued) = in_queued.lock() {
                        queued.remove(&room);
                    }
                }
            })
            .map_err(StoreError::Thread)?;
        Ok(CompactorQueue {
            tx,
            queued,
            stopping,
            thread,
        })
    }

    /// Queues `room` unless it is queued already.
    fn push(&self, room: String) {
        let fresh = self
            .queued
            .lock()
            .map(|mut q| q.insert(room.clone()))
            .unwrap_or(false);
        if fresh {
            drop(self.tx.send(room));
        }
    }

    /// Lets the compaction in progress finish, skips the rest, and waits.
    fn stop(self) {
        self.stopping.store(true, Ordering::Relaxed);
        drop(self.tx);
        if self.thread.join().is_err() {
            tracing::error!("the storage compactor thread panicked");
        }
    }
}

/// Runs compactions, holding back a room whose last attempt failed.
struct Compactions {
    retry_after: Duration,
    failed_at: HashMap<String, Instant>,
    counters: Arc<Counters>,
}

impl Compactions {
    fn new(retry_after: Duration, counters: Arc<Counters>) -> Compactions {
        Compactions {
            retry_after,
            failed_at: HashMap::new(),
            counters,
        }
    }

    fn run(&mut self, store: &mut dyn RoomStore, room: &str) {
        if let Some(at) = self.failed_at.get(room)
            && at.elapsed() < self.retry_after
        {
            return;
        }
        let started = Instant::now();
        match store.compact(room) {
            Ok(Some(c)) => {
                self.failed_at.remove(room);
                self.counters.compactions.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    room,
                    through_seq = c.through_seq,
                    folded = c.folded_updates,
                    bytes_before = c.bytes_before,
                    bytes_after = c.bytes_after,
                    ms = started.elapsed().as_secs_f64() * 1e3,
                    "compacted"
                );
            }
            Ok(None) => {
                self.failed_at.remove(room);
            }
            Err(e) => {
                tracing::warn!(
                    "compaction failed, retrying in {} s at the earliest: {e}",
                    self.retry_after.as_secs()
                );
                self.failed_at.insert(room.to_owned(), Instant::now());
            }
        }
    }
}

struct Writer {
    store: Box<dyn RoomStore>,
    options: GroupCommitOptions,
    compactor: Option<CompactorQueue>,
    compactions: Compactions,
    counters: Arc<Counters>,
}

impl Writer {
    fn new(
        store: Box<dyn RoomStore>,
        options: GroupCommitOptions,
        compactor: Option<CompactorQueue>,
        counters: Arc<Counters>,
    ) -> Writer {
        Writer {
            store,
            options,
            compactor,
            compactions: Compactions::new(options.compaction_retry, counters.clone()),
            counters,
        }
    }

    fn run(mut self, rx: Receiver<Request>) {
        let mut next: Option<Request> = None;
        loop {
            let request = match next.take() {
                Some(request) => request,
                // Every handle gone (the owner included): nothing more can come.
                None => match rx.recv() {
                    Ok(request) => request,
                    Err(_) => break,
                },
            };
            match request {
                Request::Append(first) => {
                    let mut bytes = first.update.len();
                    let mut batch = vec![first];
                    while batch.len() < self.options.max_batch_updates
                        && bytes < self.options.max_batch_bytes
                    {
                        match rx.try_recv() {
                            Ok(Request::Append(pending)) => {
                                bytes += pending.update.len();
                                batch.push(pending);
                            }
                            Ok(other) => {
                                next = Some(other);
                                break;
                            }
                            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                        }
                    }
                    self.commit(batch);
                }
                Request::Call(call) => call(&mut *self.store),
                Request::Shutdown(done) => {
                    // Everything sent before the shutdown request has been
                    // handled (the channel is FIFO). Later requests are
                    // answered `WriterStopped` when `rx` drops with them.
                    drop(done.send(self.finish()));
                    return;
                }
            }
        }
        if let Err(e) = self.finish() {
            tracing::error!("storage flush at shutdown: {e}");
        }
    }

    /// Stops the compactor, then flushes, so that the flush comes last.
    fn finish(&mut self) -> Result<(), StoreError> {
        if let Some(compactor) = self.compactor.take() {
            compactor.stop();
        }
        self.store.flush()
    }

    /// Commits `batch` in one transaction and acknowledges every request. If
    /// the transaction fails, each request is retried alone, so that one bad
    /// update does not fail the others and each gets its own error.
    fn commit(&mut self, batch: Vec<Pending>) {
        let appends: Vec<Append<'_>> = batch
            .iter()
            .map(|p| Append {
                room: &p.room,
                update: &p.update,
            })
            .collect();
        let result = self.store.append_batch(&appends);
        drop(appends);
        let mut due = Vec::new();
        match result {
            Ok(receipt) => {
                self.count(receipt.seqs.len());
                due = receipt.compaction_due;
                for (pending, seq) in batch.into_iter().zip(receipt.seqs) {
                    pending.ack.finish(Ok(Committed { seq }));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(pending) = batch.into_iter().next() {
                    pending.ack.finish(Err(e));
                }
            }
            Err(e) => {
                tracing::warn!(
                    "group commit of {} updates failed ({e}); committing them one by one",
                    batch.len()
                );
                for pending in batch {
                    let one = [Append {
                        room: &pending.room,
                        update: &pending.update,
                    }];
                    match self.store.append_batch(&one) {
                        Ok(receipt) => {
                            self.count(1);
                            due.extend(receipt.compaction_due);
                            let seq = receipt.seqs.first().copied().unwrap_or_default();
                            pending.ack.finish(Ok(Committed { seq }));
                        }
                        Err(e) => pending.ack.finish(Err(e)),
                    }
                }
                due.sort();
                due.dedup();
            }
        }
        if self.options.auto_compact {
            for room in due {
                self.compact_later(room);
            }
        }
    }

    fn count(&self, updates: usize) {
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters
            .updates
            .fetch_add(updates as u64, Ordering::Relaxed);
    }

    fn compact_later(&mut self, room: String) {
        match &self.compactor {
            Some(queue) => queue.push(room),
            None => self.compactions.run(&mut *self.store, &room),
        }
    }
}
