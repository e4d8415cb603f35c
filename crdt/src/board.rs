//! The board: a yrs document with Touchpoint's schema, read through typed
//! snapshots. Edits live in `edit.rs`, change events in `changes.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use yrs::updates::decoder::Decode;
use yrs::{
    Any, ClientID, Doc, Map, MapRef, OffsetKind, Options, Origin, Out, ReadTxn, StateVector,
    Transact, Update, WriteTxn,
};

use crate::element::{Body, Element, End, read_element};
use crate::holdback::{Gap, Holdback, first_gap, lower_bounds};
use crate::origin::{INIT_ORIGIN, REMOTE_ORIGIN};
use crate::schema::{
    Kind, ROOT_ELEMENTS, ROOT_META, ROOT_TIMER, ROOT_VOTES, SCHEMA_VERSION, meta_key,
};
use crate::undo::UndoSteps;
use crate::zbounds::{ZBounds, track_z_bounds};
use crate::zorder;

/// Why a board refuses edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOnly {
    /// Written by a newer Touchpoint: editing could damage fields we do not know.
    NewerSchema { found: u32 },
    /// Joined a shared board with a viewer link: the server refuses this
    /// member's updates, so the board does not make any.
    Viewer,
}

impl ReadOnly {
    /// Whether the local copy may still be written to its file. A viewer's
    /// copy keeps what collaborators did; a newer schema's must stay untouched.
    pub fn allows_saving(&self) -> bool {
        matches!(self, ReadOnly::Viewer)
    }
}

impl std::fmt::Display for ReadOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadOnly::NewerSchema { found } => write!(
                f,
                "board uses schema version {found}, this build understands {SCHEMA_VERSION}: opened read-only"
            ),
            ReadOnly::Viewer => f.write_str("view only: this link lets you watch, not edit"),
        }
    }
}

/// Errors from applying bytes that claim to be a Yjs update.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("not a Yjs update: {0}")]
    Decode(String),
    #[error("update could not be applied: {0}")]
    Apply(String),
    /// yrs panicked while integrating the update (the panic was caught).
    #[error("the CRDT engine rejected the update")]
    EnginePanic,
    /// Refused by [`Board::apply_update_in_order`]: the update starts past
    /// what the board has of one of its clients.
    #[error(
        "the update depends on changes this board does not have (client {} from clock {}, the board has {})",
        .0.client, .0.starts, .0.have
    )]
    OutOfOrder(Gap),
    /// Integrated by [`Board::apply_update_in_order`], but parts of it refer
    /// to items the board does not have, and yrs keeps them pending.
    #[error("the update refers to items this board does not have")]
    Incomplete,
}

impl UpdateError {
    /// Whether the board may hold part of the update after this error (yrs
    /// stopped or panicked mid-integration, or kept a pending remnant): its
    /// owner should discard the in-memory document and reload it from a
    /// trusted copy (storage, the board's file) rather than go on with it.
    pub fn leaves_document_suspect(&self) -> bool {
        matches!(
            self,
            UpdateError::Apply(_) | UpdateError::EnginePanic | UpdateError::Incomplete
        )
    }
}

/// Board-wide fields.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Meta {
    pub title: String,
    pub schema: u32,
    pub template: Option<String>,
}

/// One board document and the local user's view of it (origin, undo history).
pub struct Board {
    pub(crate) doc: Doc,
    pub(crate) elements: MapRef,
    pub(crate) meta: MapRef,
    /// Dot-voting sessions (not tracked by undo; see [`crate::voting`]).
    pub(crate) votes: MapRef,
    /// The shared workshop timer (not tracked by undo; see [`crate::timer`]).
    pub(crate) timer: MapRef,
    /// Origin of this user's own transactions; the undo manager tracks only it.
    pub(crate) origin: Origin,
    pub(crate) undo: UndoSteps,
    pub(crate) read_only: Option<ReadOnly>,
    pub(crate) next_id: u64,
    /// Bound on every `z` seen, so "new on top" costs no scan.
    pub(crate) z_bounds: Arc<Mutex<ZBounds>>,
    /// Problems already logged, so a bad element is reported once, not per frame.
    warned: Mutex<HashSet<String>>,
    /// Updates that arrived before an earlier update of the same client; see
    /// [`Board::apply_update`].
    deferred: Holdback,
}

/// How many distinct data problems a board logs before it stops logging them.
const MAX_WARNINGS: usize = 10_000;

impl Board {
    /// A new, empty board with a random client id.
    pub fn new() -> Board {
        let board = Board::empty(Doc::new().client_id().get());
        board.init_meta();
        board
    }

    /// A new, empty board whose yrs client id is fixed, for deterministic tests.
    pub fn with_client_id(client_id: u64) -> Board {
        let board = Board::empty(client_id);
        board.init_meta();
        board
    }

    /// A board holding the state encoded in `update` (Yjs update v1), with a
    /// fresh client id. Validation of the board itself is left to the caller
    /// (see [`crate::file`]).
    pub fn from_update(update: &[u8]) -> Result<Board, UpdateError> {
        Board::from_update_with_client_id(update, Doc::new().client_id().get())
    }

    pub fn from_update_with_client_id(update: &[u8], client_id: u64) -> Result<Board, UpdateError> {
        let mut board = Board::empty(client_id);
        board.apply_update(update)?;
        board.check_schema();
        Ok(board)
    }

    fn empty(client_id: u64) -> Board {
        let doc = Doc::with_options(Options {
            client_id: ClientID::new(client_id),
            // Yjs counts text positions in UTF-16 units; so do we on the wire.
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        });
        let elements = doc.get_or_insert_map(ROOT_ELEMENTS);
        let meta = doc.get_or_insert_map(ROOT_META);
        let votes = doc.get_or_insert_map(ROOT_VOTES);
        let timer = doc.get_or_insert_map(ROOT_TIMER);
        let origin = Origin::from(format!("touchpoint:local:{client_id}").as_str());
        let undo = UndoSteps::new(&doc, &[&elements, &meta], origin.clone());
        let z_bounds = Arc::new(Mutex::new(ZBounds::default()));
        track_z_bounds(&elements, z_bounds.clone());
        Board {
            doc,
            elements,
            meta,
            votes,
            timer,
            origin,
            undo,
            read_only: None,
            next_id: 0,
            z_bounds,
            warned: Mutex::new(HashSet::new()),
            deferred: Holdback::default(),
        }
    }

    /// Writes the fields every board starts with. Not an undoable edit: undo
    /// must never strip a board of its schema version.
    fn init_meta(&self) {
        let mut txn = self.doc.transact_mut_with(INIT_ORIGIN);
        self.meta.insert(
            &mut txn,
            meta_key::SCHEMA,
            Any::from(f64::from(SCHEMA_VERSION)),
        );
        self.meta
            .insert(&mut txn, meta_key::TITLE, Any::from("Untitled board"));
    }

    fn check_schema(&mut self) {
        let schema = self.meta().schema;
        if schema > SCHEMA_VERSION {
            let reason = ReadOnly::NewerSchema { found: schema };
            tracing::warn!("{reason}");
            self.read_only = Some(reason);
        }
    }

    /// The underlying document, for the sync layer.
    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    /// The origin this board's own edits carry.
    pub fn local_origin(&self) -> &Origin {
        &self.origin
    }

    pub fn client_id(&self) -> u64 {
        self.doc.client_id().get()
    }

    /// `Some(reason)` when edits are refused.
    pub fn read_only(&self) -> Option<&ReadOnly> {
        self.read_only.as_ref()
    }

    /// Makes the board refuse (or accept again) local edits: the sync layer
    /// sets [`ReadOnly::Viewer`] for a viewer link. A board from a newer
    /// schema stays read-only whatever is asked.
    pub fn set_read_only(&mut self, reason: Option<ReadOnly>) {
        if matches!(self.read_only, Some(ReadOnly::NewerSchema { .. })) {
            return;
        }
        self.read_only = reason;
    }

    /// Applies a Yjs update v1 from elsewhere. Bytes that do not decode are
    /// refused whole and the document is left untouched.
    ///
    /// An update that starts past what we have of one of its clients (an
    /// earlier update of that client has not arrived yet) is held back and
    /// applied once the gap is filled, as Yjs does. yrs 0.28 would instead
    /// integrate it behind a "skip" and then count the skipped range as
    /// known, silently discarding the missing update when it arrives; our
    /// convergence property test found this with reordered delivery.
    pub fn apply_update(&mut self, update: &[u8]) -> Result<(), UpdateError> {
        self.apply_update_with_origin(update, REMOTE_ORIGIN)
    }

    /// [`Board::apply_update`] with another transaction origin. The app's
    /// sync replica takes the app's own edits this way, so the sync client
    /// (which sends every change not from [`REMOTE_ORIGIN`]) sends them on.
    pub fn apply_update_with_origin(
        &mut self,
        update: &[u8],
        origin: &'static str,
    ) -> Result<(), UpdateError> {
        let len = update.len();
        let update = decode_update(update)?;
        let lower = lower_bounds(&update);
        if let Some(gap) = first_gap(&lower, &self.state_vector()) {
            let dropped = self.deferred.hold(update, origin, len, lower, gap);
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    held = self.deferred.len(),
                    bytes = self.deferred.bytes(),
                    "too many out-of-order updates held back; dropped the oldest"
                );
            }
            return Ok(());
        }
        self.integrate(update, origin)?;
        while !self.deferred.is_empty() {
            let ready = self.deferred.release(&self.state_vector());
            if ready.is_empty() {
                break;
            }
            for (next, origin) in ready {
                if let Err(e) = self.integrate(next, origin) {
                    tracing::warn!("dropped a held-back update: {e}");
                }
            }
        }
        Ok(())
    }

    /// Applies an update only if it can be integrated now, as the sync
    /// server does: an update that starts past what the board has of one of
    /// its clients is refused whole ([`UpdateError::OutOfOrder`], nothing
    /// applied), and one that leaves a pending remnant in yrs (it refers to
    /// items the board does not have) is reported as
    /// [`UpdateError::Incomplete`] after integration. Nothing is held back.
    pub fn apply_update_in_order(&mut self, update: &[u8]) -> Result<(), UpdateError> {
        let update = decode_update(update)?;
        if let Some(gap) = first_gap(&lower_bounds(&update), &self.state_vector()) {
            return Err(UpdateError::OutOfOrder(gap));
        }
        self.integrate(update, REMOTE_ORIGIN)?;
        if self.doc.transact().has_missing_updates() {
            return Err(UpdateError::Incomplete);
        }
        Ok(())
    }

    /// Drops whatever waits for changes that never arrived: the held-back
    /// updates and yrs' pending structs and deletions. Returns how many
    /// bytes of held-back updates that was (yrs' pending part is not
    /// measured). The server calls it after loading a room, so that
    /// [`Board::apply_update_in_order`] starts from a document with nothing
    /// pending.
    pub fn discard_unintegrated(&mut self) -> usize {
        let bytes = self.deferred.bytes();
        self.deferred.clear();
        let mut txn = self.doc.transact_mut_with(REMOTE_ORIGIN);
        drop(txn.prune_pending());
        bytes
    }

    fn integrate(&mut self, update: Update, origin: &'static str) -> Result<(), UpdateError> {
        // yrs asserts on some malformed input instead of returning an error;
        // a hostile peer must not take the process down with it.
        let doc = &self.doc;
        let applied = crate::panics::catch_mut(|| {
            let mut txn = doc.transact_mut_with(origin);
            txn.apply_update(update)
        });
        match applied {
            Ok(result) => result.map_err(|e| UpdateError::Apply(e.to_string())),
            Err(crate::panics::Caught) => Err(UpdateError::EnginePanic),
        }
    }

    /// Whether some received update is waiting for updates it depends on.
    pub fn has_missing_updates(&self) -> bool {
        !self.deferred.is_empty() || self.doc.transact().has_missing_updates()
    }

    /// The whole document as a Yjs update v1: exactly the `.tpboard` file format.
    pub fn encode(&self) -> Vec<u8> {
        self.doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    pub fn state_vector(&self) -> StateVector {
        self.doc.transact().state_vector()
    }

    /// What a peer with state vector `sv` is missing.
    pub fn encode_diff(&self, sv: &StateVector) -> Vec<u8> {
        self.doc.transact().encode_diff_v1(sv)
    }

    pub fn meta(&self) -> Meta {
        let txn = self.doc.transact();
        let title = match self.meta.get(&txn, meta_key::TITLE) {
            Some(Out::Any(Any::String(s))) => s.to_string(),
            _ => String::new(),
        };
        let schema = match self.meta.get(&txn, meta_key::SCHEMA) {
            Some(Out::Any(Any::Number(n))) => {
                let v = crate::value::number_value(n);
                if v.is_finite() && v >= 0.0 {
                    v.min(f64::from(u32::MAX)) as u32
                } else {
                    SCHEMA_VERSION
                }
            }
            _ => SCHEMA_VERSION,
        };
        let template = match self.meta.get(&txn, meta_key::TEMPLATE) {
            Some(Out::Any(Any::String(s))) => Some(s.to_string()),
            _ => None,
        };
        Meta {
            title,
            schema,
            template,
        }
    }

    /// Whether the document has any of the roots a board is made of. An update
    /// that decodes but has neither is some other Yjs document.
    /// Writes the schema version and default title if the document has
    /// none: a shared room starts as an empty document, and whichever
    /// editor syncs first makes it a board (concurrent writers write the
    /// same values). Returns whether it wrote. Not an undoable edit.
    pub fn ensure_meta(&self) -> bool {
        let missing = self
            .meta
            .get(&self.doc.transact(), meta_key::SCHEMA)
            .is_none();
        if missing && self.read_only.is_none() {
            self.init_meta();
            return true;
        }
        false
    }

    pub fn looks_like_board(&self) -> bool {
        let txn = self.doc.transact();
        self.meta.get(&txn, meta_key::SCHEMA).is_some() || self.elements.len(&txn) > 0
    }

    pub fn len(&self) -> usize {
        self.elements.len(&self.doc.transact()) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One element, validated, or `None` if absent or uninterpretable.
    pub fn element(&self, id: &str) -> Option<Element> {
        let txn = self.doc.transact();
        let mut el = self.read_one(&txn, id)?;
        if let Some(parent) = &el.parent {
            let is_frame = self
                .read_one(&txn, parent)
                .is_some_and(|p| p.kind() == Kind::Frame);
            if !is_frame || el.kind() == Kind::Frame {
                el.parent = None;
            }
        }
        Some(el)
    }

    /// Every interpretable element, in drawing order (back to front).
    pub fn elements(&self) -> Vec<Element> {
        let txn = self.doc.transact();
        let mut out: Vec<Element> = self
            .elements
            .iter(&txn)
            .filter_map(|(id, value)| match value {
                Out::YMap(map) => self.read_map(&txn, id, &map),
                other => {
                    self.warn_once(
                        id,
                        "",
                        format!(
                            "skipped: expected a Y.Map, found {}",
                            crate::value::describe(&other)
                        ),
                    );
                    None
                }
            })
            .collect();
        out.sort_by(|a, b| zorder::cmp_order(&a.z, &a.id, &b.z, &b.id));
        // A parent must be an existing frame; frames themselves are top level.
        let frames: HashSet<&str> = out
            .iter()
            .filter(|e| e.kind() == Kind::Frame)
            .map(|e| e.id.as_str())
            .collect();
        let dangling: Vec<usize> = out
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.parent
                    .as_deref()
                    .is_some_and(|p| e.kind() == Kind::Frame || !frames.contains(p))
            })
            .map(|(i, _)| i)
            .collect();
        for i in dangling {
            let e = &mut out[i];
            if e.kind() != Kind::Frame {
                let p = e.parent.clone().unwrap_or_default();
                self.warn_once(
                    &e.id,
                    "parent",
                    format!("parent {p:?} is not a frame on this board"),
                );
            }
            e.parent = None;
        }
        out
    }

    /// Ids in drawing order, without building full snapshots.
    pub fn z_order(&self) -> Vec<String> {
        let txn = self.doc.transact();
        let mut keyed: Vec<(String, String)> = self
            .elements
            .iter(&txn)
            .filter_map(|(id, value)| match value {
                Out::YMap(map) => {
                    let z = match map.get(&txn, crate::schema::key::Z) {
                        Some(Out::Any(Any::String(s))) => s.to_string(),
                        _ => String::new(),
                    };
                    Some((z, id.to_owned()))
                }
                _ => None,
            })
            .collect();
        keyed.sort_by(|a, b| zorder::cmp_order(&a.0, &a.1, &b.0, &b.1));
        keyed.into_iter().map(|(_, id)| id).collect()
    }

    /// Where a connector end is now: on its bound element's anchor, or at its
    /// stored point when free or when the bound element is gone.
    pub fn resolve_end(&self, end: &End) -> [f64; 2] {
        let txn = self.doc.transact();
        self.resolve_end_in(&txn, end)
    }

    pub(crate) fn resolve_end_in<T: ReadTxn>(&self, txn: &T, end: &End) -> [f64; 2] {
        let Some(binding) = &end.binding else {
            return end.point;
        };
        match self.read_one(txn, &binding.id) {
            Some(target) if target.kind() != Kind::Connector => {
                target.geom.anchor_point(binding.anchor)
            }
            _ => end.point,
        }
    }

    /// Both resolved end points of a connector element.
    pub fn connector_points(&self, el: &Element) -> Option<[[f64; 2]; 2]> {
        match &el.body {
            Body::Connector { from, to, .. } => {
                let txn = self.doc.transact();
                Some([
                    self.resolve_end_in(&txn, from),
                    self.resolve_end_in(&txn, to),
                ])
            }
            _ => None,
        }
    }

    pub(crate) fn read_one<T: ReadTxn>(&self, txn: &T, id: &str) -> Option<Element> {
        match self.elements.get(txn, id)? {
            Out::YMap(map) => self.read_map(txn, id, &map),
            _ => None,
        }
    }

    fn read_map<T: ReadTxn>(&self, txn: &T, id: &str, map: &MapRef) -> Option<Element> {
        read_element(id, map, txn, &mut |field, msg| {
            self.warn_once(id, field, msg)
        })
    }

    /// Logs a problem with remote data the first time it is seen.
    fn warn_once(&self, id: &str, field: &str, msg: String) {
        let key = format!("{id}\u{0}{field}\u{0}{msg}");
        // Bounded: a hostile document must not grow this set without limit.
        // Past the bound, further distinct problems are not logged.
        let first = self
            .warned
            .lock()
            .map(|mut w| w.len() < MAX_WARNINGS && w.insert(key))
            .unwrap_or(false);
        if first {
            if field.is_empty() {
                tracing::warn!(element = id, "{msg}");
            } else {
                tracing::warn!(element = id, field, "{msg}");
            }
        }
    }

    /// Children of each frame, for cascades (frame moves and deletes).
    pub(crate) fn children_of<T: ReadTxn>(&self, txn: &T, frames: &HashSet<String>) -> Vec<String> {
        if frames.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (id, value) in self.elements.iter(txn) {
            if let Out::YMap(map) = value
                && let Some(Out::Any(Any::String(p))) = map.get(txn, crate::schema::key::PARENT)
                && frames.contains(p.as_ref())
                && !frames.contains(id)
            {
                out.push(id.to_owned());
            }
        }
        out.sort();
        out
    }

    /// Snapshot of every element keyed by id, for comparisons in tests and tools.
    pub fn snapshot(&self) -> HashMap<String, Element> {
        self.elements()
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect()
    }
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board")
            .field("client_id", &self.client_id())
            .field("elements", &self.len())
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl Default for Board {
    fn default() -> Self {
        Board::new()
    }
}

/// Decodes a Yjs update v1 after the structural check of [`crate::wire_check`],
/// turning yrs' decode errors (and, defensively, any panic inside the decoder
/// on hostile bytes) into an error.
pub(crate) fn decode_update(bytes: &[u8]) -> Result<Update, UpdateError> {
    crate::wire_check::check_update_v1(bytes).map_err(|e| UpdateError::Decode(e.to_string()))?;
    match crate::panics::catch(|| Update::decode_v1(bytes)) {
        Ok(Ok(update)) => Ok(update),
        Ok(Err(e)) => Err(UpdateError::Decode(e.to_string())),
        Err(crate::panics::Caught) => {
            Err(UpdateError::Decode("decoder rejected the bytes".to_owned()))
        }
    }
}
