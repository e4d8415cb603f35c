//! How a board file remembers that it is shared: a small JSON file next to
//! it (`BOARD.tpboard.share`), so that reopening the board (after a crash,
//! offline, on the next day) joins the same room again and merges what was
//! done meanwhile. It holds access tokens, so it is written owner-only.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use touchpoint_sync::link::ShareLink;

/// The links of a shared board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareInfo {
    /// The link this app joins with.
    pub link: String,
    /// Links to hand out, when this app knows them (it hosts, or they were
    /// given when sharing through a server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub editor_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer_link: Option<String>,
    /// Served by this app's embedded server.
    #[serde(default)]
    pub hosted: bool,
}

/// Why the share file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ShareFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is damaged ({reason}); delete it and share or join the board again")]
    Damaged { path: PathBuf, reason: String },
}

impl ShareInfo {
    /// The sharing file of `board`.
    pub fn path_for(board: &Path) -> PathBuf {
        let mut name = board.as_os_str().to_owned();
        name.push(".share");
        PathBuf::from(name)
    }

    /// Reads the sharing file of `board`; `Ok(None)` when the board is not shared.
    pub fn load(board: &Path) -> Result<Option<ShareInfo>, ShareFileError> {
        let path = ShareInfo::path_for(board);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ShareFileError::Io { path, source }),
        };
        let info: ShareInfo = serde_json::from_str(&text).map_err(|e| ShareFileError::Damaged {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        info.link
            .parse::<ShareLink>()
            .map_err(|e| ShareFileError::Damaged {
                path,
                reason: e.to_string(),
            })?;
        Ok(Some(info))
    }

    /// Writes it next to `board` (owner-only, replaced atomically).
    pub fn save(&self, board: &Path) -> Result<(), ShareFileError> {
        let path = ShareInfo::path_for(board);
        let io = |source| ShareFileError::Io {
            path: path.clone(),
            source,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        write_private(&tmp, text.as_bytes()).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    /// The link to join with.
    pub fn join_link(&self) -> Option<ShareLink> {
        self.link.parse().ok()
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "touchpoint://127.0.0.1:4433/room?token=AAAA";

    #[test]
    fn round_trips_and_reports_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let board = dir.path().join("b.tpboard");
        assert!(ShareInfo::load(&board).expect("no file is fine").is_none());
        let info = ShareInfo {
            link: LINK.into(),
            editor_link: Some(LINK.into()),
            viewer_link: None,
            hosted: true,
        };
        info.save(&board).expect("save");
        assert_eq!(ShareInfo::load(&board).expect("load"), Some(info));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(ShareInfo::path_for(&board))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "tokens are private: {mode:o}");
        }
        std::fs::write(ShareInfo::path_for(&board), r#"{"link":"http://x"}"#).expect("write");
        let err = ShareInfo::load(&board).expect_err("not a touchpoint link");
        assert!(err.to_string().contains("damaged"), "{err}");
    }
}
