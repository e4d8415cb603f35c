//! `touchpoint new [--template NAME] OUT.tpboard`: a new board file, empty or
//! from a template (a built-in name or a `.json` file), saved atomically
//! (and without the journal of a board it replaces).

use std::path::Path;

use anyhow::bail;
use touchpoint_crdt::Board;
use touchpoint_editor::autosave::disk;
use touchpoint_editor::templates;

pub fn run(output: &Path, template: Option<&str>, force: bool) -> anyhow::Result<()> {
    if output.extension().and_then(|e| e.to_str()) != Some("tpboard") {
        bail!(
            "{} should end in .tpboard: name the board file OUT.tpboard",
            output.display()
        );
    }
    if output.exists() && !force {
        bail!(
            "{} already exists: choose another name, or pass --force to replace it",
            output.display()
        );
    }
    let mut board = Board::new();
    if let Some(name) = template {
        let t = templates::load(name)?;
        t.insert(&mut board, None)?;
        board.set_title(&t.title)?;
        board.set_template(&t.name)?;
    }
    // A journal left by a board of that name would be replayed on this one.
    // Its error names the file.
    Ok(disk::write_new(output, &board.encode())?)
}
