//! File > Export CSV…: a grid's lanes by stages as a CSV file
//! ([`crate::export::csv::write_csv`]). The dialog asks for the path (the
//! board's, with `.csv`) and, when the board holds several grids, which one
//! (the selected grid first). The file is written next to its destination
//! and renamed into place, so a failed export never leaves half a file; an
//! error goes to the status line.

use std::path::{Path, PathBuf};

use egui::{Align2, Ui, vec2};
use touchpoint_crdt::{Board, Kind};

use touchpoint_editor::workspace::Workspace;
use touchpoint_scene::export::csv;

/// The CSV dialog's state, while it is open.
#[derive(Debug, Default)]
pub struct CsvDialog {
    pub open: bool,
    pub path: String,
    /// The grid to export (id); `None`: the board's only grid.
    pub grid: Option<String>,
}

impl CsvDialog {
    /// The dialog open, with the board's path as `.csv` and the selected
    /// grid (else the first) chosen.
    pub fn for_workspace(ws: &Workspace) -> CsvDialog {
        let grids = ws.board.grid_ids();
        let selected = ws
            .tools
            .selection()
            .iter()
            .find(|id| ws.scene.get(id).is_some_and(|e| e.kind() == Kind::Grid))
            .cloned();
        CsvDialog {
            open: true,
            path: ws.file.path().with_extension("csv").display().to_string(),
            grid: selected.or_else(|| grids.first().cloned()),
        }
    }
}

/// Writes the grid `grid` (or the only one) of `board` as CSV to `path`:
/// into a temporary file beside it, renamed into place.
pub fn export_csv(board: &Board, grid: Option<&str>, path: &Path) -> Result<(), String> {
    let mut name = path
        .file_name()
        .ok_or_else(|| format!("{} is not a file name", path.display()))?
        .to_os_string();
    name.push(".part");
    let tmp: PathBuf = path.with_file_name(name);
    let fail = |e: &dyn std::fmt::Display| format!("cannot export {}: {e}", path.display());
    let file = std::fs::File::create(&tmp).map_err(|e| fail(&e))?;
    let mut out = std::io::BufWriter::new(file);
    let written = csv::write_csv(board, grid, &mut out)
        .map_err(|e| fail(&e))
        .and_then(|()| {
            out.into_inner()
                .map_err(|e| fail(&e.into_error()))?
                .sync_all()
                .map_err(|e| fail(&e))
        })
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| fail(&e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn grid_label(board: &Board, id: &str) -> String {
    match board.grid_view(id) {
        Some(v) if !v.grid.title.is_empty() => v.grid.title,
        _ => id.to_owned(),
    }
}

/// The dialog, while open.
pub fn show(ui: &mut Ui, ws: &mut Workspace, d: &mut CsvDialog) {
    if !d.open {
        return;
    }
    let ctx = ui.ctx().clone();
    let mut open = true;
    let mut done = false;
    egui::Window::new("Export CSV")
        .collapsible(false)
        .resizable(false)
        .anchor(Align2::CENTER_CENTER, vec2(0.0, 0.0))
        .open(&mut open)
        .show(&ctx, |ui| {
            let grids = ws.board.grid_ids();
            if grids.is_empty() {
                ui.label("The board has no grid (journey map, blueprint, board of columns).");
                if ui.button("Close").clicked() {
                    done = true;
                }
                return;
            }
            if grids.len() > 1 {
                ui.horizontal(|ui| {
                    let l = ui.label("Grid");
                    let current = d
                        .grid
                        .as_deref()
                        .map_or_else(String::new, |g| grid_label(&ws.board, g));
                    egui::ComboBox::from_id_salt("csv grid")
                        .selected_text(current)
                        .show_ui(ui, |ui| {
                            for g in &grids {
                                ui.selectable_value(
                                    &mut d.grid,
                                    Some(g.clone()),
                                    grid_label(&ws.board, g),
                                );
                            }
                        })
                        .response
                        .labelled_by(l.id);
                });
            }
            let label = ui.label("Path of the .csv file");
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut d.path)
                        .desired_width(360.0)
                        .hint_text("/home/me/journey.csv"),
                )
                .labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.horizontal(|ui| {
                if ui.button("Export").clicked() || enter {
                    let path = PathBuf::from(d.path.trim());
                    if path.as_os_str().is_empty() {
                        return;
                    }
                    let grid = d.grid.as_deref().filter(|g| grids.iter().any(|x| x == g));
                    ws.message = Some(match export_csv(&ws.board, grid, &path) {
                        Ok(()) => format!("Exported CSV to {}", path.display()),
                        Err(e) => e,
                    });
                    done = true;
                }
                if ui.button("Cancel").clicked() {
                    done = true;
                }
            });
        });
    if done || !open {
        d.open = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_writes_what_write_csv_writes_and_leaves_no_part_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Board::new();
        touchpoint_editor::templates::load("journey-map")
            .unwrap()
            .insert(&mut b, None)
            .unwrap();
        let path = dir.path().join("j.csv");
        export_csv(&b, None, &path).unwrap();
        let mut expected = Vec::new();
        csv::write_csv(&b, None, &mut expected).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A board with no grid: an error, and nothing left behind.
        let err = export_csv(&Board::new(), None, &dir.path().join("none.csv")).unwrap_err();
        assert!(err.contains("no grid"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let err = export_csv(&b, None, &dir.path().join("no/dir/x.csv")).unwrap_err();
        assert!(err.contains("cannot export"), "{err}");
    }
}
