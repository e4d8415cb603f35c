//! A board owned outright and driven by its owner (as the app does on its
//! UI thread): [`Driver`] over a [`Transport`], against the real server
//! binary, with a headless [`Client`] as the collaborator. The board exists
//! once; these tests check that edits cross both ways exactly once, that
//! undo stays the owner's, and that a viewer's edits never leave.

#![allow(clippy::unwrap_used)] // tests: a panic is a failed test

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{ServerProc, WAIT, sticky};
use touchpoint_crdt::Board;
use touchpoint_crdt::protocol::{Hello, Limits, Role};
use touchpoint_sync::client::{
    Client, ClientOptions, ConnectionState, Connector, Driver, TransportOptions, lock,
};
use touchpoint_sync::link::ShareLink;

/// The owner's side: the board and its driver, pumped by hand.
struct Owner {
    board: Board,
    driver: Driver,
    /// Remote transactions that brought something, integrated into the board.
    remote_updates: Arc<Mutex<usize>>,
    _sub: touchpoint_crdt::UpdateSubscription,
}

impl Owner {
    fn join(link: &ShareLink, board: Board) -> Owner {
        let transport = Connector::new()
            .unwrap()
            .transport(link.clone(), TransportOptions::default())
            .unwrap();
        let hello = Hello::new(link.room.clone(), link.token.clone(), "owner");
        let driver = Driver::new(transport, &board, hello, Limits::DEFAULT).unwrap();
        let remote_updates = Arc::new(Mutex::new(0));
        let counter = remote_updates.clone();
        let sub = board
            .observe_updates(move |update, remote| {
                // (A peer's empty sync step 2, relayed, is two zero bytes.)
                if remote && update.len() > 2 {
                    *counter.lock().unwrap() += 1;
                }
            })
            .unwrap();
        Owner {
            board,
            driver,
            remote_updates,
            _sub: sub,
        }
    }

    /// Handles what arrives (and writes local edits) until `done` holds.
    async fn pump_until(&mut self, what: &str, done: impl Fn(&Owner) -> bool) {
        let deadline = Instant::now() + WAIT;
        self.driver.flush();
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {what}");
            let wait = left.min(Duration::from_millis(50));
            if let Ok(Some(message)) =
                tokio::time::timeout(wait, self.driver.transport_mut().recv()).await
            {
                self.driver.handle(message, &mut self.board);
            }
            self.driver.flush();
        }
    }

    fn synced(&self) -> bool {
        self.driver.state().is_synced()
    }
}

async fn peer_until(peer: &Client, what: &str, done: impl Fn(&Board) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done(&lock(peer.board())) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn has_text(board: &Board, text: &str) -> usize {
    board
        .elements()
        .iter()
        .filter(|e| e.body.text() == Some(text))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_cross_both_ways_exactly_once_and_undo_stays_the_owners() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &[]);
    let link = server.link("one-board", "editor");

    let mut before = Board::new();
    before.create(sticky("made offline")).unwrap();
    let mut owner = Owner::join(&link, before);
    owner.pump_until("the owner to sync", Owner::synced).await;

    let peer = Client::connect(
        link.clone(),
        Arc::new(Mutex::new(Board::new())),
        ClientOptions::default(),
    )
    .unwrap();
    peer.wait_for(ConnectionState::is_synced).await;
    peer_until(&peer, "the offline edit", |b| {
        has_text(b, "made offline") == 1
    })
    .await;

    owner.board.create(sticky("from the owner")).unwrap();
    owner.driver.flush();
    peer_until(&peer, "the owner's edit", |b| {
        has_text(b, "from the owner") == 1
    })
    .await;

    // Count from here: the peer's own sync (its board's meta) has reached
    // the owner.
    let peer_sv = lock(peer.board()).state_vector();
    owner
        .pump_until("the peer's sync", |o| {
            peer_sv
                .iter()
                .all(|(c, clock)| o.board.state_vector().get(c) >= *clock)
        })
        .await;
    *owner.remote_updates.lock().unwrap() = 0;
    lock(peer.board()).create(sticky("from the peer")).unwrap();
    owner
        .pump_until("the peer's edit", |o| {
            has_text(&o.board, "from the peer") == 1
        })
        .await;
    assert_eq!(
        *owner.remote_updates.lock().unwrap(),
        1,
        "the peer's one transaction is integrated once, as a remote change"
    );
    assert_eq!(owner.board.elements().len(), 3);

    // Undo reverts the owner's own steps and never the collaborator's.
    while owner.board.undo() {}
    assert_eq!(has_text(&owner.board, "from the peer"), 1);
    assert_eq!(has_text(&owner.board, "from the owner"), 0);
    owner.driver.flush();
    peer_until(&peer, "the undo", |b| has_text(b, "from the owner") == 0).await;
    assert_eq!(has_text(&lock(peer.board()), "from the peer"), 1);

    peer.shutdown().await;
    owner.driver.into_transport().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewers_edits_never_leave_and_the_stream_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(dir.path(), &[]);
    let editor = server.link("viewing", "editor");
    let viewer = server.link("viewing", "viewer");

    let peer = Client::connect(
        editor,
        Arc::new(Mutex::new(Board::new())),
        ClientOptions::default(),
    )
    .unwrap();
    peer.wait_for(ConnectionState::is_synced).await;
    lock(peer.board())
        .create(sticky("shown to viewers"))
        .unwrap();

    let mut owner = Owner::join(&viewer, Board::new());
    owner
        .pump_until("the viewer to sync", |o| {
            o.synced() && has_text(&o.board, "shown to viewers") == 1
        })
        .await;
    assert!(matches!(
        owner.driver.state(),
        ConnectionState::Synced {
            role: Role::Viewer,
            ..
        }
    ));

    // The app makes a viewer's board read-only; a local edit that slips
    // through anyway is kept, counted, and never sent.
    owner.board.create(sticky("kept to myself")).unwrap();
    owner.driver.local_changed();
    owner.driver.flush();
    assert_eq!(owner.driver.pending_local_changes(), 1);
    lock(peer.board()).create(sticky("later")).unwrap();
    owner
        .pump_until("a later edit", |o| has_text(&o.board, "later") == 1)
        .await;
    assert!(owner.synced(), "the server never saw a write to refuse");
    assert_eq!(has_text(&lock(peer.board()), "kept to myself"), 0);

    peer.shutdown().await;
    owner.driver.into_transport().shutdown().await;
}
