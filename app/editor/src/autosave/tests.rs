//! The journal and the compactor on real files, through the workspace the
//! window uses.

use std::path::{Path, PathBuf};
use std::time::Instant;

use touchpoint_crdt::{Board, Kind, NewElement, file};

use super::disk::{self, journal_path};
use super::journal::{self, HEADER};
use super::{DiskStore, JournalOptions, Persist};
use crate::workspace::{AUTOSAVE_DELAY, Workspace};

fn board_at(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("b.tpboard")
}

/// Runs the autosave tick as the window does once the deadline has passed.
fn tick(ws: &mut Workspace) {
    ws.sync();
    let due = ws.autosave_deadline().expect("something to save");
    assert!(ws.autosave(due));
    assert!(!ws.file.is_dirty());
}

fn sticky_texts(board: &Board) -> Vec<String> {
    let mut t: Vec<String> = board
        .elements()
        .into_iter()
        .filter(|e| e.kind() == Kind::Sticky)
        .filter_map(|e| e.body.text().map(str::to_owned))
        .collect();
    t.sort();
    t
}

fn records_in(path: &Path) -> usize {
    let bytes = std::fs::read(journal_path(path)).unwrap_or_default();
    journal::parse(&bytes).records.len()
}

#[test]
fn edits_reach_the_journal_and_survive_reopening_without_a_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = board_at(&dir);
    let mut ws = Workspace::open_or_create(&path).unwrap();
    let file_before = std::fs::read(&path).unwrap();
    let id = ws.board.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
    ws.set_text(&id, "first");
    tick(&mut ws);
    ws.board
        .create(NewElement::sticky(300.0, 0.0, "second"))
        .unwrap();
    ws.board.set_title("Journey").unwrap();
    tick(&mut ws);
    assert!(records_in(&path) >= 3);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        file_before,
        "the autosave does not rewrite the board file"
    );
    // As after a crash: no close, no compaction.
    drop(ws);
    let reopened = Workspace::open_or_create(&path).unwrap();
    assert_eq!(sticky_texts(&reopened.board), ["first", "second"]);
    assert_eq!(reopened.board.meta().title, "Journey");
    // The command line reads the journal too.
    assert_eq!(disk::load(&path).unwrap().len(), 2);
}

#[test]
fn a_torn_last_record_is_ignored_and_the_next_append_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = board_at(&dir);
    let mut ws = Workspace::open_or_create(&path).unwrap();
    ws.board
        .create(NewElement::sticky(0.0, 0.0, "kept"))
        .unwrap();
    tick(&mut ws);
    let whole = std::fs::metadata(journal_path(&path)).unwrap().len();
    ws.board
        .create(NewElement::sticky(300.0, 0.0, "torn"))
        .unwrap();
    tick(&mut ws);
    drop(ws);
    // The crash cut the last write short.
    let jpath = journal_path(&path);
    let len = std::fs::metadata(&jpath).unwrap().len();
    assert!(len > whole + 10);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&jpath)
        .unwrap()
        .set_len(len - 3)
        .unwrap();

    let mut ws = Workspace::open_or_create(&path).unwrap();
    assert_eq!(sticky_texts(&ws.board), ["kept"]);
    assert!(ws.message.is_none(), "opens like any board");
    // A record appended now is not lost behind the torn bytes.
    let valid = journal::parse(&std::fs::read(&jpath).unwrap()).valid_len as u64;
    assert_eq!(valid, whole);
    ws.board
        .create(NewElement::sticky(0.0, 300.0, "after"))
        .unwrap();
    tick(&mut ws);
    assert_eq!(
        std::fs::metadata(&jpath).unwrap().len(),
        valid + ws.store().bytes_written(),
        "the torn bytes were cut before appending"
    );
    drop(ws);
    let reopened = Workspace::open_or_create(&path).unwrap();
    assert_eq!(sticky_texts(&reopened.board), ["after", "kept"]);
}

#[test]
fn a_crash_between_the_rename_and_the_journal_cleanup_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = board_at(&dir);
    let mut ws = Workspace::open_or_create(&path).unwrap();
    let id = ws.board.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
    for text in ["Wait", "Wait at", "Wait at counter"] {
        ws.set_text(&id, text);
        tick(&mut ws);
    }
    ws.board
        .create(NewElement::sticky(300.0, 0.0, "other"))
        .unwrap();
    tick(&mut ws);
    let journal_len = std::fs::metadata(journal_path(&path)).unwrap().len();
    // The compactor's step, then the process stops before the cleanup.
    assert_eq!(disk::fold_journal(&path, journal_len).unwrap(), journal_len);
    drop(ws);
    assert!(records_in(&path) >= 5, "the journal is still all there");
    let alone = file::load(&path).unwrap();
    assert_eq!(sticky_texts(&alone), ["Wait at counter", "other"]);

    let mut ws = Workspace::open_or_create(&path).unwrap();
    assert_eq!(ws.board.len(), 2);
    assert_eq!(sticky_texts(&ws.board), ["Wait at counter", "other"]);
    // And it goes on from there.
    ws.set_text(&id, "Wait at counter 3");
    tick(&mut ws);
    ws.close().unwrap();
    assert!(!journal_path(&path).exists());
    assert_eq!(
        sticky_texts(&file::load(&path).unwrap()),
        ["Wait at counter 3", "other"]
    );
}

#[test]
fn after_save_and_close_the_board_file_alone_holds_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = board_at(&dir);
    let mut ws = Workspace::open_or_create(&path).unwrap();
    let a = ws.board.create(NewElement::sticky(0.0, 0.0, "a")).unwrap();
    tick(&mut ws);
    ws.board
        .create(NewElement::sticky(300.0, 0.0, "b"))
        .unwrap();
    ws.sync();
    // Save folds in the background; edits keep coming meanwhile.
    ws.save().unwrap();
    ws.set_text(&a, "a, edited while compacting");
    ws.board.delete(&[&a]).unwrap();
    ws.board
        .create(NewElement::sticky(0.0, 300.0, "c"))
        .unwrap();
    tick(&mut ws);
    ws.close().unwrap();
    assert!(!journal_path(&path).exists(), "nothing left to replay");
    let alone = file::load(&path).unwrap();
    assert_eq!(sticky_texts(&alone), ["b", "c"]);
    assert_eq!(alone.state_vector(), ws.board.state_vector());
    // No temporary file left behind either.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["b.tpboard"]);
}

/// Each transaction's update from `edits` on `board`, as the workspace
/// collects them.
fn updates_of(board: &mut Board, edits: impl FnOnce(&mut Board)) -> Vec<Vec<u8>> {
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    let sub = board
        .observe_updates(move |u, _| sink.lock().unwrap().push(u.to_vec()))
        .unwrap();
    edits(board);
    drop(sub);
    got.lock().unwrap().clone()
}

#[test]
fn records_appended_during_a_compaction_stay_in_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = board_at(&dir);
    file::save(&Board::new(), &path).unwrap();
    let (mut board, mut store) = DiskStore::open(&path, JournalOptions::DEFAULT).unwrap();
    let first = updates_of(&mut board, |b| {
        b.create(NewElement::sticky(0.0, 0.0, "folded")).unwrap();
    });
    store.append(&first).unwrap();
    let folded = store.journal_len();
    store.compact();
    assert!(store.is_busy());
    // The compactor has its prefix; this record comes after it, whether
    // the compactor has finished by now or not (only poll cleans up).
    let second = updates_of(&mut board, |b| {
        b.create(NewElement::sticky(0.0, 300.0, "kept")).unwrap();
    });
    store.append(&second).unwrap();
    while store.is_busy() {
        if let Some(r) = store.poll() {
            r.unwrap();
        }
        std::thread::yield_now();
    }
    assert_eq!(records_in(&path), 1, "only the later record is left");
    assert_eq!(second.len(), 1);
    let kept = HEADER.len() + journal::RECORD_OVERHEAD + second[0].len();
    assert_eq!(store.journal_len(), kept as u64);
    assert!(store.journal_len() < folded + kept as u64);
    assert_eq!(sticky_texts(&file::load(&path).unwrap()), ["folded"]);
    drop(store);
    assert_eq!(
        sticky_texts(&disk::load(&path).unwrap()),
        ["folded", "kept"]
    );
}

#[test]
fn the_autosave_tick_writes_the_edit_not_the_board() {
    let dir = tempfile::tempdir().unwrap();
    let path = board_at(&dir);
    let (board, ids) = touchpoint_scene::sample::grid_board(20_000, 7).unwrap();
    file::save(&board, &path).unwrap();
    let board_bytes = std::fs::metadata(&path).unwrap().len();
    assert!(board_bytes > 1_000_000, "{board_bytes}");
    drop(board);
    let mut ws = Workspace::open_or_create(&path).unwrap();
    let before = ws.store().bytes_written();
    let sticky = ids
        .iter()
        .find(|id| {
            ws.board
                .element(id)
                .is_some_and(|e| e.kind() == Kind::Sticky)
        })
        .unwrap()
        .clone();
    ws.set_text(&sticky, "Note 0 about the service, edited");
    let at = Instant::now();
    ws.sync();
    assert!(ws.autosave(at + AUTOSAVE_DELAY));
    let written = ws.store().bytes_written() - before;
    assert!(
        written > 0 && written < 512,
        "one small edit wrote {written} bytes on a {board_bytes}-byte board"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), board_bytes);
    drop(ws);
    let reopened = disk::load(&path).unwrap();
    assert_eq!(
        reopened.element(&sticky).unwrap().body.text(),
        Some("Note 0 about the service, edited")
    );
}

#[test]
fn a_large_journal_is_folded_in_the_background_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = board_at(&dir);
    file::save(&Board::new(), &path).unwrap();
    let (board, store) =
        DiskStore::open(&path, JournalOptions::DEFAULT.with_compact_at(64)).unwrap();
    let mut ws = Workspace::with_store(board, path.clone(), Box::new(store));
    ws.board
        .create(NewElement::sticky(0.0, 0.0, "long enough to pass 64 bytes"))
        .unwrap();
    tick(&mut ws);
    // The compaction runs on another thread; closing waits for it.
    ws.close().unwrap();
    assert!(!journal_path(&path).exists());
    assert_eq!(file::load(&path).unwrap().len(), 1);
}

#[test]
fn save_as_writes_the_whole_board_and_ignores_an_old_journal_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = board_at(&dir);
    let target = dir.path().join("copy.tpboard");
    // A journal left by some other board of that name.
    let mut stale = HEADER.to_vec();
    journal::frame(&Board::with_client_id(9).encode(), &mut stale).unwrap();
    std::fs::write(journal_path(&target), &stale).unwrap();

    let mut ws = Workspace::open_or_create(&path).unwrap();
    ws.board
        .create(NewElement::sticky(0.0, 0.0, "mine"))
        .unwrap();
    tick(&mut ws);
    ws.board
        .create(NewElement::sticky(0.0, 300.0, "unsaved"))
        .unwrap();
    ws.sync();
    ws.save_as(&target).unwrap();
    assert!(!journal_path(&target).exists());
    assert_eq!(
        sticky_texts(&file::load(&target).unwrap()),
        ["mine", "unsaved"]
    );
    // The old board was left whole, with what it had stored.
    assert!(!journal_path(&path).exists());
    assert_eq!(sticky_texts(&file::load(&path).unwrap()), ["mine"]);
    // From now on the edits go to the new board's journal.
    ws.board
        .create(NewElement::sticky(0.0, 600.0, "later"))
        .unwrap();
    tick(&mut ws);
    assert_eq!(records_in(&target), 1);
    assert_eq!(
        sticky_texts(&disk::load(&target).unwrap()),
        ["later", "mine", "unsaved"]
    );
}

#[test]
fn a_board_from_a_newer_schema_gets_no_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = board_at(&dir);
    let newer = Board::new();
    {
        use yrs::{Map, Transact};
        let meta = newer
            .doc()
            .get_or_insert_map(touchpoint_crdt::schema::ROOT_META);
        let mut txn = newer.doc().transact_mut();
        meta.insert(&mut txn, touchpoint_crdt::schema::meta_key::SCHEMA, 99.0);
    }
    file::save(&newer, &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let mut ws = Workspace::open_or_create(&path).unwrap();
    assert!(ws.board.read_only().is_some());
    // A collaborator's change arrives.
    let other = Board::from_update(&newer.encode()).unwrap();
    {
        use yrs::{Map, Transact};
        let meta = other
            .doc()
            .get_or_insert_map(touchpoint_crdt::schema::ROOT_META);
        let mut txn = other.doc().transact_mut();
        meta.insert(
            &mut txn,
            touchpoint_crdt::schema::meta_key::TITLE,
            "renamed",
        );
    }
    ws.board
        .apply_update(&other.encode_diff(&ws.board.state_vector()))
        .unwrap();
    assert_eq!(ws.board.meta().title, "renamed");
    ws.sync();
    assert!(ws.autosave_deadline().is_none());
    assert!(!ws.autosave(Instant::now() + AUTOSAVE_DELAY * 4));
    assert!(ws.save().is_err());
    ws.close().unwrap();
    assert!(!journal_path(&path).exists());
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_local_copy_that_never_changed_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = board_at(&dir);
    let board = Board::from_update(&[0, 0]).unwrap();
    let mut ws = Workspace::with_board(board, path.clone());
    assert!(!ws.autosave(Instant::now() + AUTOSAVE_DELAY));
    ws.close().unwrap();
    assert!(!path.exists());
    assert!(!journal_path(&path).exists());
}

#[test]
fn a_failed_append_keeps_the_updates_for_the_next_try() {
    let dir = tempfile::tempdir().unwrap();
    let path = board_at(&dir);
    let mut ws = Workspace::open_or_create(&path).unwrap();
    // A directory where the journal should go makes the append fail.
    std::fs::create_dir(journal_path(&path)).unwrap();
    ws.board
        .create(NewElement::sticky(0.0, 0.0, "waits"))
        .unwrap();
    ws.sync();
    let due = ws.autosave_deadline().unwrap();
    assert!(!ws.autosave(due));
    let err = ws.file.error().unwrap().to_owned();
    assert!(
        err.contains("cannot save") && err.contains("b.tpboard.journal"),
        "{err}"
    );
    let retry = ws.autosave_deadline().unwrap();
    assert!(retry > due, "the next try waits another delay");
    std::fs::remove_dir(journal_path(&path)).unwrap();
    assert!(ws.autosave(retry));
    assert!(ws.file.error().is_none());
    drop(ws);
    assert_eq!(sticky_texts(&disk::load(&path).unwrap()), ["waits"]);
}
