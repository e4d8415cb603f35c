//! The `.tpboard` file: exactly the Yjs update v1 of the whole document, so
//! `Y.applyUpdate(doc, bytes)` in JavaScript opens it unchanged.
//!
//! Saving never leaves a half-written board behind: bytes go to a temporary
//! file in the same directory, are synced, and then renamed over the target.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::board::{Board, UpdateError};

/// Why a board file could not be opened or saved. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is empty: not a Touchpoint board")]
    Empty { path: PathBuf },
    #[error("{path} is not a Touchpoint board (not a Yjs update: {reason})")]
    NotYjs { path: PathBuf, reason: String },
    #[error("{path} is truncated or incomplete: it refers to data it does not contain")]
    Incomplete { path: PathBuf },
    #[error("{path} is a Yjs document but not a Touchpoint board (no meta.schema, no elements)")]
    NotABoard { path: PathBuf },
    #[error("cannot save {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Opens a board file. A board written by a newer schema opens read-only
/// (see [`Board::read_only`]).
pub fn load(path: &Path) -> Result<Board, FileError> {
    let bytes = std::fs::read(path).map_err(|source| FileError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_bytes(&bytes).map_err(|e| e.at(path))
}

/// Why bytes are not a board, before a file name is attached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BytesError {
    #[error("empty")]
    Empty,
    #[error("not a Yjs update: {0}")]
    NotYjs(String),
    #[error("incomplete update")]
    Incomplete,
    #[error("not a Touchpoint board")]
    NotABoard,
}

impl BytesError {
    fn at(self, path: &Path) -> FileError {
        let path = path.to_owned();
        match self {
            BytesError::Empty => FileError::Empty { path },
            BytesError::NotYjs(reason) => FileError::NotYjs { path, reason },
            BytesError::Incomplete => FileError::Incomplete { path },
            BytesError::NotABoard => FileError::NotABoard { path },
        }
    }
}

/// Opens a board from the bytes of a `.tpboard` file.
pub fn load_bytes(bytes: &[u8]) -> Result<Board, BytesError> {
    if bytes.is_empty() {
        return Err(BytesError::Empty);
    }
    let board = Board::from_update(bytes).map_err(|e| match e {
        UpdateError::Decode(r) | UpdateError::Apply(r) => BytesError::NotYjs(r),
        UpdateError::OutOfOrder(_) | UpdateError::Incomplete => BytesError::Incomplete,
        other @ UpdateError::EnginePanic => BytesError::NotYjs(other.to_string()),
    })?;
    if board.has_missing_updates() {
        return Err(BytesError::Incomplete);
    }
    if !board.looks_like_board() {
        return Err(BytesError::NotABoard);
    }
    Ok(board)
}

/// Saves atomically: a crash during save leaves the old file intact.
pub fn save(board: &Board, path: &Path) -> Result<(), FileError> {
    write_atomic(path, &board.encode()).map_err(|source| FileError::Write {
        path: path.to_owned(),
        source,
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::NewElement;

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tpboard");
        let mut board = Board::new();
        board.set_title("Journey").unwrap();
        let id = board.create(NewElement::sticky(1.0, 2.0, "hello")).unwrap();
        save(&board, &path).unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.meta().title, "Journey");
        assert_eq!(loaded.element(&id).unwrap().body.text(), Some("hello"));
        assert_eq!(std::fs::read(&path).unwrap(), board.encode());
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.tpboard");
        let e = load(&missing).unwrap_err().to_string();
        assert!(e.contains("missing.tpboard"), "{e}");

        let empty = dir.path().join("empty.tpboard");
        std::fs::write(&empty, b"").unwrap();
        let e = load(&empty).unwrap_err();
        assert!(matches!(e, FileError::Empty { .. }), "{e}");
        assert!(e.to_string().contains("empty.tpboard"));

        let text = dir.path().join("notes.tpboard");
        std::fs::write(&text, b"hello, this is a text file\n").unwrap();
        let e = load(&text).unwrap_err();
        assert!(e.to_string().contains("notes.tpboard"), "{e}");
        assert_eq!(e.to_string().lines().count(), 1);
    }

    #[test]
    fn truncated_board_is_an_error() {
        let mut board = Board::new();
        for i in 0..20 {
            board
                .create(NewElement::sticky(f64::from(i), 0.0, "some text here"))
                .unwrap();
        }
        let bytes = board.encode();
        for cut in [1, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
            assert!(load_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn other_yjs_documents_are_not_boards() {
        let doc = yrs::Doc::new();
        let text = doc.get_or_insert_text("content");
        {
            use yrs::{Text, Transact};
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, "hello");
        }
        let bytes = {
            use yrs::{ReadTxn, Transact};
            doc.transact()
                .encode_state_as_update_v1(&yrs::StateVector::default())
        };
        assert_eq!(load_bytes(&bytes).err(), Some(BytesError::NotABoard));
    }

    #[test]
    fn newer_schema_opens_read_only() {
        let board = Board::new();
        {
            use yrs::{Map, Transact};
            let meta = board.doc().get_or_insert_map(crate::schema::ROOT_META);
            let mut txn = board.doc().transact_mut();
            meta.insert(&mut txn, crate::schema::meta_key::SCHEMA, 99.0);
        }
        let mut loaded = load_bytes(&board.encode()).unwrap();
        assert!(loaded.read_only().is_some());
        assert!(matches!(
            loaded.create(NewElement::sticky(0.0, 0.0, "x")),
            Err(crate::edit::EditError::ReadOnly(_))
        ));
    }
}
