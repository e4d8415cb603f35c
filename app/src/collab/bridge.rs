//! Keeps the window's board and the sync client's replica equal.
//!
//! The sync client applies remote updates to a board it shares behind a
//! mutex with its network task; the window owns its board outright (tools,
//! undo and the scene hold references into it every frame). Rather than put
//! the whole interface behind that lock, each side's transactions are
//! carried to the other as the exact update bytes yrs reports for them:
//! the app's own edits go to the replica (with [`BRIDGE_ORIGIN`], which the
//! client sends on like any local change), updates that arrived from the
//! network go to the app's board as remote changes (so undo never reverts a
//! collaborator and the scene sees ordinary change events). The window
//! calls [`Bridge::exchange`] between frames; neither side waits on the other
//! for more than one update's integration.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use touchpoint_crdt::{Board, UpdateError, UpdateSubscription};
use yrs::block::ClientID;

/// The origin the app's edits carry on the replica.
pub const BRIDGE_ORIGIN: &str = "touchpoint:app";

type Queue = Arc<Mutex<Vec<Vec<u8>>>>;
type Timed = Arc<Mutex<Vec<(Vec<u8>, SystemTime)>>>;

pub struct Bridge {
    replica: Arc<Mutex<Board>>,
    local_client: u64,
    /// Report each pushed edit's clock and commit time (latency tracing).
    trace: bool,
    /// The app's transactions with the time they were committed, not yet
    /// on the replica.
    outgoing: Timed,
    /// Transactions that came from the network, not yet on the app's board.
    incoming: Queue,
    _local: UpdateSubscription,
    _replica: UpdateSubscription,
}

/// What one exchange did.
#[derive(Debug, Default)]
pub struct Exchange {
    /// The app's transactions handed to the sync client.
    pub pushed: usize,
    /// The app's transactions dropped because this member may not write.
    pub dropped: usize,
    /// Remote transactions applied to the app's board.
    pub pulled: usize,
    /// A remote transaction failed on the app's board in a way that may have
    /// left part of it there (`UpdateError::leaves_document_suspect`); the
    /// rest of the queue was dropped. The board must be reloaded.
    pub suspect: Option<UpdateError>,
}

/// One of the app's edits as handed to the sync client, for latency
/// tracing: the app's yrs clock after it, and when it was committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushedEdit {
    pub clock: u32,
    pub committed: SystemTime,
}

/// Why the bridge could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("the board is in the middle of an edit")]
    Busy,
    #[error(transparent)]
    Update(#[from] UpdateError),
}

impl Bridge {
    /// A replica holding everything `local` holds now, with a client id of
    /// its own (it never writes itself), and the observers that carry what
    /// happens next.
    pub fn new(local: &Board) -> Result<Bridge, BridgeError> {
        let replica = Board::from_update(&local.encode())?;
        let outgoing: Timed = Arc::default();
        let incoming: Queue = Arc::default();
        let sink = outgoing.clone();
        let local_sub = local
            .observe_updates(move |update, remote| {
                if !remote && let Ok(mut q) = sink.lock() {
                    q.push((update.to_vec(), SystemTime::now()));
                }
            })
            .ok_or(BridgeError::Busy)?;
        let sink = incoming.clone();
        let replica_sub = replica
            .observe_updates(move |update, remote| {
                if remote {
                    push(&sink, update);
                }
            })
            .ok_or(BridgeError::Busy)?;
        Ok(Bridge {
            replica: Arc::new(Mutex::new(replica)),
            local_client: local.client_id(),
            trace: false,
            outgoing,
            incoming,
            _local: local_sub,
            _replica: replica_sub,
        })
    }

    /// The board to give the sync client.
    pub fn replica(&self) -> &Arc<Mutex<Board>> {
        &self.replica
    }

    /// Makes [`Bridge::exchange`] report each pushed edit ([`PushedEdit`]).
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on;
    }

    /// Carries pending transactions both ways. With `push` false (a viewer)
    /// the app's own transactions are dropped instead of sent: the server
    /// would refuse them and end the session. `traced` receives the pushed
    /// edits when tracing is on.
    pub fn exchange(
        &self,
        local: &mut Board,
        push: bool,
        traced: &mut Vec<PushedEdit>,
    ) -> Exchange {
        let mut done = Exchange::default();
        let outgoing = match self.outgoing.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => Vec::new(),
        };
        if !outgoing.is_empty() {
            if push {
                let mut replica = touchpoint_sync::client::lock(&self.replica);
                for (update, committed) in &outgoing {
                    match replica.apply_update_with_origin(update, BRIDGE_ORIGIN) {
                        Ok(()) => {
                            done.pushed += 1;
                            if self.trace {
                                let clock = replica
                                    .state_vector()
                                    .get(&ClientID::new(self.local_client));
                                traced.push(PushedEdit {
                                    clock,
                                    committed: *committed,
                                });
                            }
                        }
                        // Our own document's bytes: cannot fail short of a
                        // bug, and the next sync step 1/2 would heal it.
                        Err(e) => tracing::warn!("an edit did not reach the sync replica: {e}"),
                    }
                }
            } else {
                done.dropped = outgoing.len();
            }
        }
        (done.pulled, done.suspect) = self.pull(local);
        done
    }

    /// Applies what came from the network to the app's board; returns how
    /// many transactions, and the error that makes the board suspect if one
    /// did (the transactions after it are dropped: the board is to be
    /// reloaded and synced again).
    pub fn pull(&self, local: &mut Board) -> (usize, Option<UpdateError>) {
        let mut pulled = 0;
        for update in take(&self.incoming) {
            match local.apply_update(&update) {
                Ok(()) => pulled += 1,
                Err(e) if e.leaves_document_suspect() => return (pulled, Some(e)),
                Err(e) => tracing::warn!("a collaborator's update did not apply: {e}"),
            }
        }
        (pulled, None)
    }
}

fn push(queue: &Queue, update: &[u8]) {
    if let Ok(mut q) = queue.lock() {
        q.push(update.to_vec());
    }
}

fn take(queue: &Queue) -> Vec<Vec<u8>> {
    match queue.lock() {
        Ok(mut q) => std::mem::take(&mut *q),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use touchpoint_crdt::NewElement;

    fn sticky(board: &mut Board, text: &str) -> String {
        board
            .create(NewElement::sticky(0.0, 0.0, text))
            .expect("create")
    }

    #[test]
    fn edits_cross_both_ways_exactly_once() {
        let mut app = Board::new();
        let a = sticky(&mut app, "before the bridge");
        let bridge = Bridge::new(&app).expect("bridge");
        assert!(
            touchpoint_sync::client::lock(bridge.replica())
                .element(&a)
                .is_some()
        );

        let b = sticky(&mut app, "made in the app");
        app.delete(&[a.as_str()]).expect("delete");
        let sent = bridge.exchange(&mut app, true, &mut Vec::new());
        assert_eq!(sent.pushed, 2);
        {
            let replica = touchpoint_sync::client::lock(bridge.replica());
            assert!(replica.element(&b).is_some());
            assert!(
                replica.element(&a).is_none(),
                "a delete moves no clock, still crosses"
            );
        }
        // Nothing echoes back.
        let echo = bridge.exchange(&mut app, true, &mut Vec::new());
        assert_eq!((echo.pushed, echo.pulled, echo.dropped), (0, 0, 0));
        assert!(echo.suspect.is_none());

        // A collaborator's update arriving on the replica (as the sync
        // client applies it) reaches the app as a remote change.
        let mut peer = Board::from_update(&app.encode()).expect("peer");
        let c = sticky(&mut peer, "from a collaborator");
        let diff =
            peer.encode_diff(&touchpoint_sync::client::lock(bridge.replica()).state_vector());
        touchpoint_sync::client::lock(bridge.replica())
            .apply_update(&diff)
            .expect("apply");
        let got = bridge.exchange(&mut app, true, &mut Vec::new());
        assert_eq!(got.pulled, 1);
        assert_eq!(got.pushed, 0, "the remote update is not sent back");
        assert_eq!(
            app.element(&c)
                .and_then(|e| e.body.text().map(str::to_owned))
                .as_deref(),
            Some("from a collaborator")
        );
        // Undo reverts the app's own last step (the delete), never the
        // collaborator's sticky.
        while app.undo() {}
        assert!(
            app.element(&c).is_some(),
            "undo does not revert a collaborator"
        );
        assert!(app.element(&b).is_none(), "the app's own steps are undone");
    }

    #[test]
    fn a_viewer_sends_nothing() {
        let mut app = Board::new();
        let bridge = Bridge::new(&app).expect("bridge");
        let id = sticky(&mut app, "local only");
        let done = bridge.exchange(&mut app, false, &mut Vec::new());
        assert_eq!(done.dropped, 1);
        assert!(
            touchpoint_sync::client::lock(bridge.replica())
                .element(&id)
                .is_none()
        );
    }

    #[test]
    fn a_remote_update_that_leaves_the_board_suspect_stops_the_pull() {
        let mut app = Board::with_client_id(1);
        let bridge = Bridge::new(&app).expect("bridge");
        push(
            &bridge.incoming,
            touchpoint_crdt::test_vectors::HALF_INTEGRATED,
        );
        push(&bridge.incoming, &Board::with_client_id(2).encode());
        let done = bridge.exchange(&mut app, true, &mut Vec::new());
        let e = done
            .suspect
            .expect("the half-integrated update is reported");
        assert!(e.leaves_document_suspect(), "{e}");
        assert_eq!(done.pulled, 0, "nothing after it is applied");
        assert!(
            take(&bridge.incoming).is_empty(),
            "the rest of the queue is dropped"
        );
    }
}
