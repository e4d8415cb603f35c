//! The data directory: created owner-only, and locked while a server uses
//! it. `share` prepares it the same way, so a link can be made before the
//! first start.

use std::path::Path;

use super::error::ServerError;

/// The SQLite database in the data directory.
pub const DATABASE_FILE: &str = "rooms.sqlite3";
/// Held (locked) while a server uses the data directory.
pub const LOCK_FILE: &str = "server.lock";

/// Creates the data directory (owner-only on unix) if needed.
pub(super) fn prepare_data_dir(dir: &Path) -> Result<(), ServerError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| ServerError::DataDir {
        path: dir.to_owned(),
        source,
    })?;
    if !dir.is_dir() {
        return Err(ServerError::DataDir {
            path: dir.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    Ok(())
}

/// Takes the data directory's lock file, so that two servers never serve
/// (and relay) the same rooms.
pub(super) fn lock_data_dir(dir: &Path) -> Result<std::fs::File, ServerError> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| ServerError::DataDir {
            path: dir.to_owned(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(ServerError::Locked {
            path: dir.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(ServerError::DataDir {
            path: path.clone(),
            source,
        }),
    }
}
