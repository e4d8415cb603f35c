//! `touchpoint export BOARD.tpboard -o OUT.csv [--frame GRID-OR-FRAME]`: a
//! grid's lanes by stages as CSV (see [`touchpoint::export::csv`]), written
//! to a temporary file and renamed into place.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Context;
use touchpoint_editor::autosave::disk;
use touchpoint_scene::export::csv::write_csv;

/// Whether `output` names a CSV file.
pub fn is_csv(output: &Path) -> bool {
    output
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

pub fn run(board: &Path, output: &Path, grid: Option<&str>) -> anyhow::Result<()> {
    let board = disk::load(board)?;
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = File::create(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))
        .and_then(|f| {
            write_csv(&board, grid, BufWriter::new(f))
                .with_context(|| format!("cannot export {}", output.display()))
        })
        .and_then(|_| {
            std::fs::rename(&tmp, output)
                .with_context(|| format!("cannot write {}", output.display()))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
