//! The headless owner: a task that drives a [`Driver`] against a board
//! behind a mutex, for code with no thread of its own to do it.

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc, watch};
use touchpoint_crdt::Board;
use touchpoint_crdt::protocol::Hello;
use yrs::sync::AwarenessUpdate;
use yrs::{Origin, TransactionMut};

use super::driver::Driver;
use super::transport::Transport;
use super::{ClientOptions, ConnectionState, Event, Waker, lock};

/// Instructions from the handle to the headless task.
#[derive(Debug)]
pub(super) enum Command {
    Presence {
        update: AwarenessUpdate,
        reliable: bool,
    },
    SetOnline(bool),
    Reconnect,
    Shutdown,
}

/// The handle's ends of the task's channels.
pub(super) struct Channels {
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub state: watch::Sender<ConnectionState>,
    pub events: mpsc::Sender<Event>,
}

/// Wakes the task when someone edits the board, so local changes go out at
/// once; unregisters its observer when dropped.
struct LocalNotify {
    doc: yrs::Doc,
    key: Origin,
}

impl LocalNotify {
    fn new(board: &Board, notify: Arc<Notify>) -> Option<LocalNotify> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let key = Origin::from(
            format!(
                "touchpoint:sync-client:{}",
                NEXT.fetch_add(1, Ordering::Relaxed)
            )
            .as_str(),
        );
        let remote = Origin::from(touchpoint_crdt::REMOTE_ORIGIN);
        board
            .doc()
            .observe_update_v1(key.clone(), move |txn: &TransactionMut, _| {
                if txn.origin() != Some(&remote) {
                    notify.notify_one();
                }
            })
            .ok()?;
        Some(LocalNotify {
            doc: board.doc().clone(),
            key,
        })
    }
}

impl Drop for LocalNotify {
    fn drop(&mut self) {
        // Fails only while a transaction is open; the observer then only
        // pokes a Notify nobody waits on.
        let _ = self.doc.unobserve_update_v1(self.key.clone());
    }
}

pub(super) struct Task {
    driver: Driver,
    board: Arc<Mutex<Board>>,
    local: Arc<Notify>,
    _local_watch: LocalNotify,
    channels: Channels,
    waker: Option<Waker>,
}

impl Task {
    /// `None` when the board is inside a transaction.
    pub(super) fn new(
        transport: Transport,
        board: &Board,
        shared: Arc<Mutex<Board>>,
        hello: Hello,
        options: &ClientOptions,
        channels: Channels,
    ) -> Option<Task> {
        let driver = Driver::new(transport, board, hello, options.limits).ok()?;
        let local = Arc::new(Notify::new());
        let local_watch = LocalNotify::new(board, local.clone())?;
        Some(Task {
            driver,
            board: shared,
            local,
            _local_watch: local_watch,
            channels,
            waker: options.waker.clone(),
        })
    }

    pub(super) async fn run(mut self) {
        let mut leaving = false;
        let room = self.driver.transport().room();
        loop {
            let held_back = self.driver.is_held_back();
            tokio::select! {
                message = self.driver.transport_mut().recv() => match message {
                    Some(message) => {
                        let mut board = lock(&self.board);
                        self.driver.handle(message, &mut board);
                    }
                    None => break,
                },
                _ = self.local.notified() => {
                    // The notifying observer may run before the session's
                    // own observer has queued the change; both run while the
                    // editor holds the board's lock, so taking it once
                    // means the change is queued. Without this, an edit
                    // could wait for the next one to be sent.
                    drop(lock(&self.board));
                    self.driver.local_changed();
                    self.driver.flush();
                }
                _ = room.wait(), if held_back => self.driver.flush(),
                cmd = self.channels.commands.recv(), if !leaving => match cmd {
                    None | Some(Command::Shutdown) => {
                        leaving = true;
                        self.driver.transport().request_shutdown();
                    }
                    Some(Command::Presence { update, reliable }) => {
                        self.driver.publish_presence(update, reliable);
                    }
                    Some(Command::SetOnline(online)) => self.driver.transport().set_online(online),
                    Some(Command::Reconnect) => self.driver.transport().reconnect(),
                },
            }
            self.forward();
        }
        if *self.channels.state.borrow() != ConnectionState::Closed {
            self.channels.state.send_replace(ConnectionState::Closed);
        }
    }

    /// Hands the driver's events to the handle.
    fn forward(&mut self) {
        let mut any = false;
        while let Some(event) = self.driver.poll_event() {
            any = true;
            if let Event::State(state) = &event {
                self.channels.state.send_replace(state.clone());
            }
            if self.channels.events.try_send(event).is_err() {
                tracing::debug!("sync client: event buffer full; event dropped");
            }
        }
        if any && let Some(w) = &self.waker {
            w.wake();
        }
    }
}
