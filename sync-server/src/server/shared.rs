//! State every task of a server shares, and the counters and guards that
//! let shutdown wait for them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::config::ServerOptions;
use super::member::RoomMsg;
use crate::storage::{GroupCommitHandle, SqliteStore};
use crate::token::TokenKey;

/// Server state shared by every task.
pub(crate) struct Shared {
    pub(super) options: ServerOptions,
    pub(super) tokens: TokenKey,
    pub(super) commit: GroupCommitHandle,
    /// A second store on the database, for room loads beside the writer.
    pub(super) loader: Mutex<SqliteStore>,
    rooms: Mutex<HashMap<String, RoomHandle>>,
    pub(super) next_room_generation: AtomicU64,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    pub(super) next_member: AtomicU64,
    pub(super) shutdown: watch::Receiver<bool>,
    pub(super) room_tasks: TaskCounter,
    pub(super) stream_tasks: TaskCounter,
}

/// A loaded (or loading) room's inbox.
#[derive(Clone)]
pub(crate) struct RoomHandle {
    pub(super) tx: mpsc::Sender<RoomMsg>,
    pub(super) generation: u64,
}

impl Shared {
    pub(super) fn new(
        options: ServerOptions,
        tokens: TokenKey,
        commit: GroupCommitHandle,
        loader: SqliteStore,
        shutdown: watch::Receiver<bool>,
    ) -> Shared {
        Shared {
            options,
            tokens,
            commit,
            loader: Mutex::new(loader),
            rooms: Mutex::new(HashMap::new()),
            next_room_generation: AtomicU64::new(1),
            per_ip: Mutex::new(HashMap::new()),
            next_member: AtomicU64::new(1),
            shutdown,
            room_tasks: TaskCounter::new(),
            stream_tasks: TaskCounter::new(),
        }
    }

    /// Locks a map; a panic elsewhere while it was held does not make the
    /// data wrong (every critical section is a single insert or remove).
    pub(super) fn rooms(&self) -> MutexGuard<'_, HashMap<String, RoomHandle>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn per_ip(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.per_ip.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets a room task's entry (if it is still that task's).
    pub(super) fn remove_room(&self, name: &str, generation: u64) {
        let mut rooms = self.rooms();
        if rooms.get(name).is_some_and(|h| h.generation == generation) {
            rooms.remove(name);
        }
    }

    /// Counts a connection from `ip`; the count before it is returned with
    /// the guard that takes it back.
    pub(super) fn count_connection(self: &Arc<Self>, ip: IpAddr) -> (IpGuard, usize) {
        let mut per_ip = self.per_ip();
        let count = per_ip.entry(ip).or_default();
        let before = *count;
        *count += 1;
        (
            IpGuard {
                shared: self.clone(),
                ip,
            },
            before,
        )
    }
}

/// Takes back one connection from the per-address count when dropped.
pub(crate) struct IpGuard {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for IpGuard {
    fn drop(&mut self) {
        let mut per_ip = self.shared.per_ip();
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// Counts running tasks of one kind, so that shutdown can wait for them.
pub(crate) struct TaskCounter(watch::Sender<usize>);

/// Counts as one running task until dropped.
pub(crate) struct TaskGuard(watch::Sender<usize>);

impl TaskCounter {
    fn new() -> TaskCounter {
        TaskCounter(watch::Sender::new(0))
    }

    pub(super) fn guard(&self) -> TaskGuard {
        self.0.send_modify(|n| *n += 1);
        TaskGuard(self.0.clone())
    }

    /// Waits until no task is running, or `timeout`; whether they all ended.
    pub(super) async fn wait_idle(&self, timeout: Duration) -> bool {
        let mut rx = self.0.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Completes once shutdown has begun.
pub(crate) async fn shutdown_begun(rx: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, not held by the caller.
    drop(rx.wait_for(|stop| *stop).await);
}
