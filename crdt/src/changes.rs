//! Change events: which elements a transaction created, changed or deleted.
//!
//! A renderer keeps per-element caches (instances, meshes, text layouts) and
//! needs to know what to rebuild after each transaction, local or remote. yrs
//! reports deep events per transaction; this module folds them into id sets.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use yrs::types::{EntryChange, Event, PathSegment};
use yrs::{DeepObservable, Doc, MapRef, Origin, TransactionMut};

use crate::board::Board;
use crate::origin::{REMOTE_ORIGIN, observer_key};

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOrigin {
    /// This board's user, including their undo and redo.
    Local,
    /// Anyone else: a collaborator's update, a merged file.
    Remote,
}

/// The element ids one transaction touched. Each id is in at most one set:
/// an element created and then edited in one transaction is only "created".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    pub origin: ChangeOrigin,
    pub created: BTreeSet<String>,
    pub changed: BTreeSet<String>,
    pub deleted: BTreeSet<String>,
}

impl Changes {
    fn new(origin: ChangeOrigin) -> Changes {
        Changes {
            origin,
            created: BTreeSet::new(),
            changed: BTreeSet::new(),
            deleted: BTreeSet::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.changed.is_empty() && self.deleted.is_empty()
    }
}

/// Keeps an observer alive; dropping it stops the callbacks.
pub struct Subscription {
    // Holding the document keeps the observed branch alive until we unobserve.
    _doc: Doc,
    map: MapRef,
    key: Origin,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.map.unobserve_deep(self.key.clone());
    }
}

/// Keeps an update observer ([`Board::observe_updates`]) alive.
pub struct UpdateSubscription {
    doc: Doc,
    key: Origin,
}

impl Drop for UpdateSubscription {
    fn drop(&mut self) {
        // Fails only inside a transaction; the callback then stays registered
        // on a document nobody else holds.
        let _ = self.doc.unobserve_update_v1(self.key.clone());
    }
}

impl Board {
    /// Calls `f` after every transaction that touches elements, local or remote.
    pub fn observe<F>(&self, f: F) -> Subscription
    where
        F: Fn(&Changes) + Send + Sync + 'static,
    {
        let local = [self.origin.clone(), self.undo.origin()];
        let key = observer_key("observer");
        self.elements.observe_deep(key.clone(), move |txn, events| {
            let origin = match txn.origin() {
                Some(o) if local.contains(o) => ChangeOrigin::Local,
                _ => ChangeOrigin::Remote,
            };
            let changes = collect(txn, events, origin);
            if !changes.is_empty() {
                f(&changes);
            }
        });
        Subscription {
            _doc: self.doc.clone(),
            map: self.elements.clone(),
            key,
        }
    }

    /// Calls `f` with each committed transaction's update (Yjs update v1)
    /// and whether it came from elsewhere ([`REMOTE_ORIGIN`]): the
    /// exact bytes to carry the same change to another replica. `None`
    /// while a transaction is open.
    pub fn observe_updates<F>(&self, f: F) -> Option<UpdateSubscription>
    where
        F: Fn(&[u8], bool) + Send + Sync + 'static,
    {
        let remote = Origin::from(REMOTE_ORIGIN);
        let key = observer_key("updates");
        self.doc
            .observe_update_v1(key.clone(), move |txn, event| {
                f(&event.update, txn.origin() == Some(&remote));
            })
            .ok()?;
        Some(UpdateSubscription {
            doc: self.doc.clone(),
            key,
        })
    }

    /// Collects change events into a shared queue, for a frame loop to drain.
    pub fn change_queue(&self) -> (Subscription, Arc<Mutex<Vec<Changes>>>) {
        let queue = Arc::new(Mutex::new(Vec::new()));
        let sink = queue.clone();
        let sub = self.observe(move |c| {
            if let Ok(mut q) = sink.lock() {
                q.push(c.clone());
            }
        });
        (sub, queue)
    }
}

fn collect(txn: &TransactionMut, events: &yrs::types::Events, origin: ChangeOrigin) -> Changes {
    let mut changes = Changes::new(origin);
    for event in events.iter() {
        let path = event.path();
        match path.front() {
            // An event on the root map itself: entries added, replaced, removed.
            None => {
                if let Event::Map(map_event) = event {
                    for (id, change) in map_event.keys(txn) {
                        let id = id.to_string();
                        match change {
                            EntryChange::Inserted(_) => {
                                changes.created.insert(id);
                            }
                            EntryChange::Updated(_, _) => {
                                changes.changed.insert(id);
                            }
                            EntryChange::Removed(_) => {
                                changes.deleted.insert(id);
                            }
                        }
                    }
                }
            }
            // Inside an element (its map, or its text).
            Some(PathSegment::Key(id)) => {
                changes.changed.insert(id.to_string());
            }
            Some(PathSegment::Index(_)) => {}
        }
    }
    let Changes {
        created,
        changed,
        deleted,
        ..
    } = &mut changes;
    changed.retain(|id| !created.contains(id) && !deleted.contains(id));
    changes
}
