//! One open board in the app: the document, its scene, the tools, the camera
//! and the file it autosaves to, with the commands the interface offers
//! (copy, paste, restyle, zoom...). No window types: the window translates its
//! events into calls here, and tests drive a workspace with no window at all.
//!
//! Every board lives in a file from the moment it is opened or created (a new
//! board gets one in the data directory), and any change is stored within
//! [`AUTOSAVE_DELAY`]: a crash loses at most that much work. What is stored
//! is the updates made since the last tick, handed to the board's
//! [`Persist`] (on the desktop, appended to a journal beside the file and
//! folded into it in the background: [`crate::autosave`]), so the tick
//! costs the size of the edits, not of the board.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use web_time::Instant;

use touchpoint_crdt::{
    Board, CellRef, ChangeOrigin, Changes, EditError, Element, Kind, Reorder, StylePatch,
    Subscription, UpdateSubscription,
};

use crate::autosave::{DiskStore, JournalOptions, Persist, PersistError};
use crate::clipboard::{Clip, DUPLICATE_OFFSET, PasteError};
use crate::templates::Template;
use crate::tools::{Input, Response, ToolContext, Tools};
use touchpoint_scene::camera::Camera;
use touchpoint_scene::geom::{Rect, Vec2};
use touchpoint_scene::scene::Scene;

/// How long after the first unsaved change the board is stored.
pub const AUTOSAVE_DELAY: Duration = Duration::from_millis(500);

/// How often a running compaction is looked at, for its outcome.
const STORE_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Margin (logical points) around content when zooming to fit.
pub const FIT_PADDING_PT: f64 = 48.0;

/// The board's file and whether it holds the latest state.
#[derive(Debug)]
pub struct BoardFile {
    path: PathBuf,
    /// When the first change not yet stored was made (or, after a failed
    /// save, when to count the next try from).
    dirty_since: Option<Instant>,
    /// The last save's error, cleared by the next good save.
    error: Option<String>,
}

impl BoardFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty_since.is_some()
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The file name without extension, for the window title.
    pub fn display_name(&self) -> String {
        self.path
            .file_stem()
            .map_or_else(|| "Untitled".into(), |s| s.to_string_lossy().into_owned())
    }
}

/// An open board and everything the interface needs to work on it.
pub struct Workspace {
    pub board: Board,
    pub scene: Scene,
    pub tools: Tools,
    pub camera: Camera,
    pub file: BoardFile,
    /// The element whose text is being edited in place, if any.
    pub editing: Option<String>,
    /// Where the pointer is on the board (world units), for paste.
    pub pointer: Option<Vec2>,
    /// What the user should read next (an edit refused, a save failed).
    pub message: Option<String>,
    /// A copy kept in the process, for when the system clipboard is unavailable.
    clip: Option<Clip>,
    queue: Arc<Mutex<Vec<Changes>>>,
    _sub: Subscription,
    /// Where the board is kept: its file and journal on the desktop.
    store: Box<dyn Persist>,
    /// Every transaction's update (local and remote) since the last save,
    /// in order: what the next save hands to `store`.
    unsaved: Arc<Mutex<Vec<Vec<u8>>>>,
    /// None only if the board could not be observed: saves are then whole.
    _unsaved_sub: Option<UpdateSubscription>,
}

impl Workspace {
    /// Opens `path` (the file, then its journal), or starts a new board
    /// there when the file does not exist yet (written at once, so the
    /// board is in its file from the start).
    pub fn open_or_create(path: &Path) -> Result<Workspace, PersistError> {
        if path.exists() {
            let (board, store) = DiskStore::open(path, JournalOptions::DEFAULT)?;
            let mut ws = Workspace::with_store(board, path.to_owned(), Box::new(store));
            if let Some(ro) = ws.board.read_only() {
                ws.message = Some(ro.to_string());
            }
            ws.zoom_to_fit();
            Ok(ws)
        } else {
            let board = Board::new();
            let mut store = DiskStore::unwritten(path, JournalOptions::DEFAULT);
            store.write_full(&board.encode())?;
            Ok(Workspace::with_store(
                board,
                path.to_owned(),
                Box::new(store),
            ))
        }
    }

    /// A board that already lives in memory (a template, a test, a joined
    /// room's local copy): its file is written whole at the first save.
    pub fn with_board(board: Board, path: PathBuf) -> Workspace {
        let store = DiskStore::unwritten(&path, JournalOptions::DEFAULT);
        Workspace::with_store(board, path, Box::new(store))
    }

    /// A board kept by `store`, which already holds what `board` holds
    /// unless [`Persist::needs_full`]. `path` names it (title, exports).
    pub fn with_store(board: Board, path: PathBuf, store: Box<dyn Persist>) -> Workspace {
        let (sub, queue) = board.change_queue();
        let unsaved = Arc::new(Mutex::new(Vec::new()));
        let sink = unsaved.clone();
        let unsaved_sub = board.observe_updates(move |update, _remote| {
            if let Ok(mut q) = sink.lock() {
                q.push(update.to_vec());
            }
        });
        if unsaved_sub.is_none() {
            tracing::warn!("cannot observe the board's updates: every save writes it whole");
        }
        Workspace {
            scene: Scene::build(&board),
            board,
            tools: Tools::new(),
            camera: Camera::new(Vec2::new(1280.0, 800.0), 1.0),
            file: BoardFile {
                path,
                dirty_since: None,
                error: None,
            },
            editing: None,
            pointer: None,
            message: None,
            clip: None,
            queue,
            _sub: sub,
            store,
            unsaved,
            _unsaved_sub: unsaved_sub,
        }
    }

    /// Brings the scene up to date with every change since the last call
    /// (local edits and, later, collaborators'), marks the file dirty, and
    /// drops selected or edited elements that no longer exist. Returns
    /// whether anything changed.
    pub fn sync(&mut self) -> bool {
        let pending: Vec<Changes> = match self.queue.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => Vec::new(),
        };
        if pending.is_empty() {
            return false;
        }
        // A merged collaborator's edit may leave a grid's layout stale; the
        // grids it touched get their stickies put back in their slots (not
        // an undo step). Local edits lay grids out in their own transaction.
        let remote: Vec<&Changes> = pending
            .iter()
            .filter(|c| c.origin == ChangeOrigin::Remote)
            .collect();
        let before = layout_keys(&self.scene, &remote);
        for c in &pending {
            self.scene.apply(&self.board, c);
        }
        if !remote.is_empty() {
            let after = layout_keys(&self.scene, &remote);
            self.settle_grids(&touched_grids(&before, &after));
        }
        self.tools.prune_selection(&self.scene);
        if self
            .editing
            .as_deref()
            .is_some_and(|id| self.scene.get(id).is_none())
        {
            self.editing = None;
        }
        if self.file.dirty_since.is_none() {
            self.file.dirty_since = Some(Instant::now());
        }
        true
    }

    /// Re-lays out `grids` where their layout is stale, when the board may
    /// be written; applies the result to the scene.
    fn settle_grids(&mut self, grids: &BTreeSet<String>) {
        if grids.is_empty() || self.board.read_only().is_some() {
            return;
        }
        if let Err(e) = self.board.settle_grids_in(grids.iter().map(String::as_str)) {
            self.message = Some(e.to_string());
        }
        let more: Vec<Changes> = match self.queue.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => Vec::new(),
        };
        for c in &more {
            self.scene.apply(&self.board, c);
        }
    }

    /// Marks the board as changed for autosave: for edits outside the
    /// elements (votes, the timer), which raise no change events.
    pub fn mark_dirty(&mut self) {
        if self.file.dirty_since.is_none() {
            self.file.dirty_since = Some(Instant::now());
        }
    }

    /// Inserts `template` centred on the viewport (one undo step), selects
    /// what it created and zooms to it. Returns how many elements it made.
    pub fn insert_template(&mut self, template: &Template) -> Result<usize, String> {
        let c = self.camera.visible_world_rect().center();
        let inserted = template
            .insert(&mut self.board, Some([c.x, c.y]))
            .map_err(|e| e.to_string())?;
        self.stop_editing();
        self.tools.cancel();
        self.sync();
        let count = inserted.elements.len()
            + inserted
                .grids
                .iter()
                .map(|g| 1 + g.contents.len())
                .sum::<usize>();
        // The grids carry their stickies: selecting the grids is enough.
        let ids = inserted
            .elements
            .into_iter()
            .chain(inserted.grids.into_iter().map(|g| g.id));
        self.tools.set_selection(ids);
        self.zoom_to_selection();
        Ok(count)
    }

    /// Sends one input event to the tools; a refused edit becomes the message.
    pub fn handle(&mut self, input: &Input) -> Response {
        if let Input::PointerMove { pos, .. } | Input::PointerDown { pos, .. } = input {
            self.pointer = Some(*pos);
        }
        let mut ctx = ToolContext {
            board: &mut self.board,
            scene: &self.scene,
            units_per_pixel: self.camera.units_per_pixel(),
        };
        let response = match self.tools.handle(input, &mut ctx) {
            Ok(r) => r,
            Err(e) => {
                self.message = Some(e.to_string());
                Response::default()
            }
        };
        self.sync();
        if let Some(id) = &response.edit_text {
            self.editing = Some(id.clone());
        }
        response
    }

    /// When the next autosave is due, if anything is unsaved.
    pub fn autosave_deadline(&self) -> Option<Instant> {
        if !self.may_save() {
            return None;
        }
        self.file.dirty_since.map(|t| t + AUTOSAVE_DELAY)
    }

    /// Stores what changed if the autosave deadline has passed (appends
    /// the new updates: the cost follows the edits, not the board), and
    /// takes the outcome of background saving. Returns whether the status
    /// line has something new to say.
    pub fn autosave(&mut self, now: Instant) -> bool {
        let mut news = self.poll_store();
        if !self.may_save() {
            // Never stored: a board from a newer schema stays untouched.
            self.take_unsaved();
        } else if self.file.dirty_since.is_none() && self.has_unsaved() {
            // Changes that raise no element event (the title, say).
            self.file.dirty_since = Some(now);
        }
        match self.autosave_deadline() {
            Some(due) if now >= due => news |= self.store_unsaved(now).is_ok(),
            _ => {}
        }
        news
    }

    /// Stores the board now (Save): what changed goes to its store at once
    /// and the board file is brought up to date in the background.
    pub fn save(&mut self) -> Result<(), String> {
        self.store_unsaved(Instant::now())?;
        self.store.compact();
        Ok(())
    }

    /// Stores what changed and leaves the board file whole, waiting for it
    /// (the window closes, another board opens). The workspace can still be
    /// used afterwards. A board never changed is not written.
    pub fn close(&mut self) -> Result<(), String> {
        if self.may_save() && (self.file.is_dirty() || self.has_unsaved()) {
            self.store_unsaved(Instant::now())?;
        }
        self.store.close().map_err(|e| {
            let msg = e.to_string();
            tracing::warn!("{msg}");
            msg
        })
    }

    /// Forgets the changes not stored yet: the board is to be reopened from
    /// its file because it may hold a damaged update.
    pub fn discard_unsaved(&mut self) {
        self.take_unsaved();
        self.file.dirty_since = None;
    }

    /// Writes the board whole to `path` and makes that its file from now
    /// on; the old file is left whole too. Costs the board's size (an
    /// explicit command, not the autosave).
    pub fn save_as(&mut self, path: &Path) -> Result<(), String> {
        if same_file(path, &self.file.path) {
            return self.save();
        }
        if let Some(ro) = self.board.read_only().filter(|ro| !ro.allows_saving()) {
            return Err(ro.to_string());
        }
        let mut store = DiskStore::unwritten(path, JournalOptions::DEFAULT);
        if let Err(e) = store.write_full(&self.board.encode()) {
            return Err(self.save_failed(&e));
        }
        // All of it is in the new file.
        self.take_unsaved();
        let mut old = std::mem::replace(&mut self.store, Box::new(store));
        if let Err(e) = old.close() {
            tracing::warn!("{e}");
        }
        self.file.path = path.to_owned();
        self.file.dirty_since = None;
        self.file.error = None;
        Ok(())
    }

    /// When to look at the store's background work again (a compaction
    /// running), so that its outcome shows and its cleanup happens without
    /// waiting for the next input.
    pub fn store_poll_at(&self, now: Instant) -> Option<Instant> {
        self.store.is_busy().then(|| now + STORE_POLL_INTERVAL)
    }

    /// The board's store, for what it can say about itself.
    pub fn store(&self) -> &dyn Persist {
        self.store.as_ref()
    }

    fn may_save(&self) -> bool {
        // A viewer's local copy still keeps what collaborators did.
        self.board.read_only().is_none_or(|ro| ro.allows_saving())
    }

    fn take_unsaved(&self) -> Vec<Vec<u8>> {
        match self.unsaved.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => Vec::new(),
        }
    }

    fn has_unsaved(&self) -> bool {
        self.unsaved.lock().is_ok_and(|q| !q.is_empty())
    }

    /// Hands the updates made since the last save to the store (the whole
    /// board when the store does not have it yet).
    fn store_unsaved(&mut self, now: Instant) -> Result<(), String> {
        if let Some(ro) = self.board.read_only().filter(|ro| !ro.allows_saving()) {
            return Err(ro.to_string());
        }
        let updates = self.take_unsaved();
        let stored = if self.store.needs_full() || self._unsaved_sub.is_none() {
            self.store.write_full(&self.board.encode())
        } else {
            self.store.append(&updates)
        };
        match stored {
            Ok(()) => {
                self.file.dirty_since = None;
                self.file.error = None;
                Ok(())
            }
            Err(e) => {
                // Kept for the next try, ahead of any made since.
                if let Ok(mut q) = self.unsaved.lock() {
                    q.splice(0..0, updates);
                }
                // The next try after another delay, not at every frame.
                self.file.dirty_since = Some(now);
                Err(self.save_failed(&e))
            }
        }
    }

    fn save_failed(&mut self, e: &PersistError) -> String {
        let msg = e.to_string();
        tracing::warn!("{msg}");
        self.file.error = Some(msg.clone());
        msg
    }

    /// Takes the outcome of the store's background work: a failed
    /// compaction loses nothing (the journal keeps the edits), so it is a
    /// message, not "Not saved".
    fn poll_store(&mut self) -> bool {
        match self.store.poll() {
            Some(Err(e)) => {
                self.message = Some(e.to_string());
                true
            }
            Some(Ok(())) | None => false,
        }
    }

    /// Edits the text of `id` to read `new`, as character-level edits of its
    /// Y.Text (only the differing middle is deleted and inserted, so a
    /// collaborator's concurrent typing elsewhere in the text survives).
    pub fn set_text(&mut self, id: &str, new: &str) {
        let current = self
            .board
            .element(id)
            .and_then(|e| e.body.text().map(str::to_owned));
        if current.as_deref() == Some(new) {
            return;
        }
        if let Err(e) = self.board.set_text(id, new) {
            self.message = Some(e.to_string());
        }
        self.sync();
    }

    /// Ends in-place text editing (the word being typed ends its undo step).
    pub fn stop_editing(&mut self) {
        if self.editing.take().is_some() {
            self.board.end_undo_step();
        }
    }

    fn selected_ids(&self) -> Vec<String> {
        self.tools
            .selection()
            .iter()
            .filter(|id| self.scene.get(id).is_some())
            .cloned()
            .collect()
    }

    fn edit(&mut self, f: impl FnOnce(&mut Board, &[&str]) -> Result<(), EditError>) {
        let ids = self.selected_ids();
        if ids.is_empty() {
            return;
        }
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        if let Err(e) = f(&mut self.board, &refs) {
            self.message = Some(e.to_string());
        }
        self.sync();
    }

    /// Applies a style change to every selected element.
    pub fn restyle(&mut self, patch: StylePatch) {
        self.edit(|b, ids| b.restyle(ids, patch));
    }

    pub fn reorder(&mut self, how: Reorder) {
        self.edit(|b, ids| b.reorder(ids, how));
    }

    pub fn delete_selection(&mut self) {
        self.edit(|b, ids| b.delete(ids));
    }

    /// Copies the selection; returns the clipboard text (also kept here).
    pub fn copy(&mut self) -> Option<String> {
        let clip = Clip::copy(&self.board, self.tools.selection())?;
        let text = clip.to_text();
        self.clip = Some(clip);
        Some(text)
    }

    /// Copies the selection and deletes it.
    pub fn cut(&mut self) -> Option<String> {
        let text = self.copy()?;
        self.delete_selection();
        Some(text)
    }

    /// Pastes clipboard text (or, with None, the last copy made here), with
    /// its centre under the pointer, and selects what was pasted.
    pub fn paste(&mut self, text: Option<&str>) -> Result<usize, PasteError> {
        let clip = match text {
            Some(t) => Clip::from_text(t)?,
            None => self.clip.clone().ok_or(PasteError::NotElements)?,
        };
        let target = self
            .pointer
            .filter(|p| self.camera.visible_world_rect().contains(*p))
            .unwrap_or_else(|| self.camera.visible_world_rect().center());
        let ids = clip.paste(&mut self.board, clip.offset_to_center_at(target))?;
        self.sync();
        let n = ids.len();
        self.tools.set_selection(ids);
        Ok(n)
    }

    /// Copies the selection next to itself and selects the copy.
    pub fn duplicate(&mut self) {
        let Some(clip) = Clip::copy(&self.board, self.tools.selection()) else {
            return;
        };
        match clip.paste(&mut self.board, Vec2::splat(DUPLICATE_OFFSET)) {
            Ok(ids) => {
                self.sync();
                self.tools.set_selection(ids);
            }
            Err(e) => self.message = Some(e.to_string()),
        }
    }

    /// The viewport changed size or scale factor (physical pixels).
    pub fn set_viewport(&mut self, viewport_px: Vec2, scale_factor: f64) {
        if (scale_factor - self.camera.scale_factor()).abs() > f64::EPSILON {
            self.camera.set_scale_factor(scale_factor, viewport_px);
        } else {
            self.camera.set_viewport_px(viewport_px);
        }
    }

    pub fn zoom_to_fit(&mut self) {
        if let Some(r) = self.scene.world_bounds() {
            let pad = FIT_PADDING_PT * self.camera.scale_factor();
            self.camera.zoom_to_fit(r, pad);
        }
    }

    pub fn zoom_to_selection(&mut self) {
        let bounds = self
            .selected_ids()
            .iter()
            .filter_map(|id| self.scene.get(id).and_then(|e| e.visible_bounds()))
            .reduce(Rect::union);
        match bounds {
            Some(r) => {
                let pad = FIT_PADDING_PT * self.camera.scale_factor();
                self.camera.zoom_to_fit(r, pad);
            }
            None => self.zoom_to_fit(),
        }
    }

    /// The one selected element, when exactly one is selected.
    pub fn single_selection(&self) -> Option<&touchpoint_scene::scene::SceneElement> {
        let sel: &BTreeSet<String> = self.tools.selection();
        if sel.len() != 1 {
            return None;
        }
        sel.iter().next().and_then(|id| self.scene.get(id))
    }

    /// Kinds among the selection, for the properties panel.
    pub fn selected_kinds(&self) -> BTreeSet<Kind> {
        self.tools
            .selection()
            .iter()
            .filter_map(|id| self.scene.get(id).map(|e| e.kind()))
            .collect()
    }
}

/// Whether `a` and `b` name one file (an existing one, by its canonical path).
fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// What of an element decides a grid's layout: for a grid, the grid
/// itself (its tracks and header); for anything else, the cell it claims
/// and its box. Text and style are left out, so typing into a sticky in a
/// cell touches no grid.
#[derive(Debug, PartialEq)]
enum LayoutKey {
    Grid(String),
    Member {
        grid: String,
        cell: CellRef,
        geom: [u64; 4],
    },
}

fn layout_key(e: &Element) -> Option<LayoutKey> {
    if e.kind() == Kind::Grid {
        return Some(LayoutKey::Grid(e.id.clone()));
    }
    let cell = e.cell.clone()?;
    let g = e.geom;
    Some(LayoutKey::Member {
        grid: cell.grid.clone(),
        cell,
        geom: [g.x, g.y, g.w, g.h].map(f64::to_bits),
    })
}

/// The layout keys of the elements named by `changes`, as `scene` has them.
fn layout_keys(scene: &Scene, changes: &[&Changes]) -> Vec<(String, Option<LayoutKey>)> {
    let mut ids: BTreeSet<&String> = BTreeSet::new();
    for c in changes {
        ids.extend(c.created.iter().chain(&c.changed).chain(&c.deleted));
    }
    ids.into_iter()
        .map(|id| {
            (
                id.clone(),
                scene.get(id).and_then(|e| layout_key(&e.element)),
            )
        })
        .collect()
}

/// The grids whose layout a change may have made stale: a grid that changed
/// or appeared, and the grids an element left, joined or moved or resized
/// in.
fn touched_grids(
    before: &[(String, Option<LayoutKey>)],
    after: &[(String, Option<LayoutKey>)],
) -> BTreeSet<String> {
    let mut grids = BTreeSet::new();
    for ((_, old), (_, new)) in before.iter().zip(after) {
        let is_grid = matches!(new, Some(LayoutKey::Grid(_)));
        if old == new && !is_grid {
            continue;
        }
        for key in [old, new].into_iter().flatten() {
            let (LayoutKey::Grid(g) | LayoutKey::Member { grid: g, .. }) = key;
            grids.insert(g.clone());
        }
    }
    grids
}

#[cfg(test)]
mod tests {
    use touchpoint_crdt::{Color, NewElement, file};

    use super::*;

    fn workspace() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open_or_create(&dir.path().join("b.tpboard")).unwrap();
        (dir, ws)
    }

    #[test]
    fn a_new_board_is_on_disk_at_once_and_autosaves_after_a_change() {
        let (dir, mut ws) = workspace();
        let path = dir.path().join("b.tpboard");
        assert!(path.exists());
        assert!(ws.autosave_deadline().is_none());
        ws.board.create(NewElement::sticky(0.0, 0.0, "hi")).unwrap();
        assert!(ws.sync());
        let due = ws.autosave_deadline().unwrap();
        assert!(
            !ws.autosave(due - Duration::from_millis(1)),
            "not before the delay"
        );
        assert!(ws.autosave(due));
        assert!(!ws.file.is_dirty());
        // In the journal until a compaction; reopening reads both.
        assert!(file::load(&path).unwrap().is_empty());
        let reopened = Workspace::open_or_create(&path).unwrap();
        assert_eq!(reopened.board.len(), 1);
    }

    #[test]
    fn save_as_moves_the_board_and_a_failed_save_keeps_the_old_path() {
        let (dir, mut ws) = workspace();
        let other = dir.path().join("copy.tpboard");
        ws.save_as(&other).unwrap();
        assert_eq!(ws.file.path(), other);
        let bad = dir.path().join("no/such/dir/x.tpboard");
        let err = ws.save_as(&bad).unwrap_err();
        assert!(err.contains("cannot save"), "{err}");
        assert_eq!(ws.file.path(), other);
        assert!(ws.file.error().is_some());
    }

    #[test]
    fn copy_paste_and_duplicate_select_the_new_elements() {
        let (_dir, mut ws) = workspace();
        let id = ws.board.create(NewElement::sticky(0.0, 0.0, "a")).unwrap();
        ws.sync();
        ws.tools.set_selection([id.clone()]);
        let text = ws.copy().unwrap();
        ws.pointer = Some(ws.camera.visible_world_rect().center());
        assert_eq!(ws.paste(Some(&text)).unwrap(), 1);
        assert_eq!(ws.board.len(), 2);
        assert!(!ws.tools.selection().contains(&id));
        ws.duplicate();
        assert_eq!(ws.board.len(), 3);
        assert!(ws.paste(Some("plain words")).is_err());
        assert_eq!(ws.board.len(), 3);
    }

    #[test]
    fn restyle_applies_to_the_selection_and_set_text_is_undoable() {
        let (_dir, mut ws) = workspace();
        let id = ws.board.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
        ws.sync();
        ws.tools.set_selection([id.clone()]);
        let pink = Color(0xff, 0xc0, 0xcb);
        ws.restyle(StylePatch {
            fill: Some(Some(pink)),
            ..StylePatch::default()
        });
        assert_eq!(ws.board.element(&id).unwrap().style.fill, Some(pink));
        ws.editing = Some(id.clone());
        ws.set_text(&id, "Queue");
        ws.set_text(&id, "Queue at desk");
        ws.stop_editing();
        assert_eq!(
            ws.board.element(&id).unwrap().body.text(),
            Some("Queue at desk")
        );
        assert!(ws.board.undo());
        assert_ne!(
            ws.board.element(&id).unwrap().body.text(),
            Some("Queue at desk")
        );
    }
    #[test]
    fn a_template_lands_in_the_viewport_selected_and_undoes_in_one_step() {
        let (_dir, mut ws) = workspace();
        ws.camera.pan_by(Vec2::new(5000.0, -3000.0));
        let centre = ws.camera.visible_world_rect().center();
        let t = crate::templates::load("journey-map").unwrap();
        let n = ws.insert_template(&t).unwrap();
        assert!(n > 1);
        assert_eq!(ws.board.len(), n);
        let grids = ws.board.grid_ids();
        assert_eq!(grids.len(), 1);
        assert!(ws.tools.selection().contains(&grids[0]));
        let g = ws.board.grid_view(&grids[0]).unwrap().geom;
        let mid = Vec2::new(g.x + g.w / 2.0, g.y + g.h / 2.0);
        assert!(mid.distance(centre) < g.w.max(g.h), "{mid:?} vs {centre:?}");
        // Zoomed so that the grid is in view.
        assert!(ws.camera.visible_world_rect().contains(mid));
        assert!(ws.board.undo());
        ws.sync();
        assert_eq!(ws.board.len(), 0);
    }

    /// On `board`, four new stickies join the first lane's second stage of
    /// the grid `view` shows.
    fn four_stickies_join_a_cell(board: &mut Board, view: &touchpoint_crdt::GridView) {
        let cell = touchpoint_crdt::CellRef {
            grid: view.id.clone(),
            lane: view.grid.lanes[0].id.clone(),
            stage: view.grid.stages[1].id.clone(),
        };
        for i in 0..4 {
            let s = board
                .create(NewElement::sticky(0.0, 0.0, &format!("late {i}")))
                .unwrap();
            board.set_cell(&[&s], Some(&cell)).unwrap();
        }
    }

    /// Two kanban grids, both with a stale layout: in each, the first stage
    /// moved last while, concurrently, four stickies joined a cell.
    fn two_stale_grids() -> Board {
        use touchpoint_crdt::Axis;
        let t = crate::templates::load("kanban").unwrap();
        let mut base = Board::with_client_id(5);
        t.insert(&mut base, Some([0.0, 0.0])).unwrap();
        t.insert(&mut base, Some([0.0, 5000.0])).unwrap();
        let mut other = Board::from_update_with_client_id(&base.encode(), 77).unwrap();
        for g in base.grid_ids() {
            let view = base.grid_view(&g).unwrap();
            let first = view.grid.stages[0].id.clone();
            base.move_track(&g, Axis::Stage, &first, usize::MAX)
                .unwrap();
            four_stickies_join_a_cell(&mut other, &view);
        }
        base.apply_update(&other.encode_diff(&base.state_vector()))
            .unwrap();
        assert_eq!(base.unsettled_grids().len(), 2);
        base
    }

    #[test]
    fn a_merged_change_settles_only_the_grids_it_touched() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::with_board(two_stale_grids(), dir.path().join("b.tpboard"));
        ws.sync();
        let grids = ws.board.grid_ids();
        // Typing into a sticky in a cell touches no grid: nothing is settled
        // (and no grid is read, which costs a pass over the board).
        let member = ws
            .board
            .grid_view(&grids[0])
            .unwrap()
            .cells
            .values()
            .next()
            .unwrap()[0]
            .clone();
        let mut remote = Board::from_update_with_client_id(&ws.board.encode(), 88).unwrap();
        remote.set_text(&member, "typed elsewhere").unwrap();
        ws.board
            .apply_update(&remote.encode_diff(&ws.board.state_vector()))
            .unwrap();
        assert!(ws.sync());
        assert_eq!(ws.board.unsettled_grids(), grids, "typing settles nothing");
        // Moving that sticky touches its grid only.
        remote.move_by(&[&member], 40.0, 0.0).unwrap();
        ws.board
            .apply_update(&remote.encode_diff(&ws.board.state_vector()))
            .unwrap();
        assert!(ws.sync());
        assert_eq!(ws.board.unsettled_grids(), grids[1..].to_vec());
    }

    #[test]
    fn a_merged_concurrent_edit_leaves_every_grid_settled() {
        use touchpoint_crdt::Axis;
        let (_dir, mut ws) = workspace();
        let t = crate::templates::load("kanban").unwrap();
        t.insert(&mut ws.board, None).unwrap();
        ws.sync();
        let g = ws.board.grid_ids()[0].clone();
        let view = ws.board.grid_view(&g).unwrap();
        let mut other = Board::from_update_with_client_id(&ws.board.encode(), 77).unwrap();
        // Here: a stage moves; there, concurrently: stickies join a cell.
        let first = view.grid.stages[0].id.clone();
        ws.board
            .move_track(&g, Axis::Stage, &first, usize::MAX)
            .unwrap();
        ws.sync();
        four_stickies_join_a_cell(&mut other, &view);
        ws.board
            .apply_update(&other.encode_diff(&ws.board.state_vector()))
            .unwrap();
        assert!(
            ws.board.grids_unsettled(),
            "the merge leaves a stale layout"
        );
        assert!(ws.sync());
        assert!(!ws.board.grids_unsettled());
        // Settling is not an undo step: one undo takes back the stage move.
        assert!(ws.board.undo());
        ws.sync();
        let stages = ws.board.grid_view(&g).unwrap().grid.stages;
        assert_eq!(stages[0].id, first);
    }
}
