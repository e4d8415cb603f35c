//! Where the app keeps its own files: new boards, the recent-boards list.
//!
//! The data directory is `$TOUCHPOINT_DATA_DIR` when set (tests use it to
//! stay out of the user's home), else the platform's data directory
//! (`~/.local/share/touchpoint` on Linux).

use std::path::{Path, PathBuf};

/// How many boards the File > Open recent menu lists.
pub const RECENT_LIMIT: usize = 10;
const RECENT_FILE: &str = "recent.txt";

#[derive(Debug, Clone)]
pub struct Settings {
    data_dir: PathBuf,
    recent: Vec<PathBuf>,
}

impl Settings {
    pub fn load() -> Settings {
        let data_dir = std::env::var_os("TOUCHPOINT_DATA_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs::data_dir().map(|d| d.join("touchpoint")))
            .unwrap_or_else(|| PathBuf::from(".touchpoint"));
        Settings::in_dir(data_dir)
    }

    pub fn in_dir(data_dir: PathBuf) -> Settings {
        let recent = std::fs::read_to_string(data_dir.join(RECENT_FILE))
            .map(|s| {
                s.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(PathBuf::from)
                    .take(RECENT_LIMIT)
                    .collect()
            })
            .unwrap_or_default();
        Settings { data_dir, recent }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn recent(&self) -> &[PathBuf] {
        &self.recent
    }

    /// Puts `path` first in the recent list and writes the list; a failure
    /// to write is logged, never fatal.
    pub fn add_recent(&mut self, path: &Path) {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        self.recent.retain(|p| *p != path);
        self.recent.insert(0, path);
        self.recent.truncate(RECENT_LIMIT);
        let text: String = self
            .recent
            .iter()
            .map(|p| format!("{}\n", p.display()))
            .collect();
        let result = std::fs::create_dir_all(&self.data_dir)
            .and_then(|()| std::fs::write(self.data_dir.join(RECENT_FILE), text));
        if let Err(e) = result {
            tracing::warn!(
                "cannot write the recent boards list in {}: {e}",
                self.data_dir.display()
            );
        }
    }

    /// A fresh file for a new board: `boards/Untitled N.tpboard`.
    pub fn new_board_path(&self) -> std::io::Result<PathBuf> {
        let dir = self.data_dir.join("boards");
        std::fs::create_dir_all(&dir)?;
        let mut n = 1;
        loop {
            let p = dir.join(format!("Untitled {n}.tpboard"));
            if !p.exists() {
                return Ok(p);
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_boards_are_most_recent_first_without_duplicates_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::in_dir(dir.path().to_owned());
        for i in 0..12 {
            s.add_recent(&dir.path().join(format!("{i}.tpboard")));
        }
        s.add_recent(&dir.path().join("5.tpboard"));
        assert_eq!(s.recent().len(), RECENT_LIMIT);
        assert!(s.recent()[0].ends_with("5.tpboard"));
        assert_eq!(
            s.recent()
                .iter()
                .filter(|p| p.ends_with("5.tpboard"))
                .count(),
            1
        );
        let again = Settings::in_dir(dir.path().to_owned());
        assert_eq!(again.recent(), s.recent());
    }

    #[test]
    fn new_board_paths_do_not_collide() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::in_dir(dir.path().to_owned());
        let a = s.new_board_path().unwrap();
        std::fs::write(&a, b"x").unwrap();
        let b = s.new_board_path().unwrap();
        assert_ne!(a, b);
        assert!(b.ends_with("boards/Untitled 2.tpboard"));
    }
}
