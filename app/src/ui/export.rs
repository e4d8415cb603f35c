//! File > Export: SVG or PNG of the whole board, the selection or one frame,
//! written on a worker thread so the canvas stays live, with its progress in
//! the status bar.
//!
//! The worker gets a copy of the board (its encoded state, loaded again) and
//! builds its own scene, so the user keeps editing while a large board
//! exports; the file holds the board as it was when Export was pressed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use egui::{Align2, Ui, vec2};
use touchpoint_crdt::file::load_bytes;

use crate::export::{ExportRequest, ExportStats, Scope, export_to_file};
use touchpoint_editor::workspace::Workspace;
use touchpoint_scene::scene::Scene;

/// What the dialog exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Board,
    Selection,
}

/// The Export dialog's fields.
#[derive(Debug, Clone)]
pub struct ExportForm {
    pub path: String,
    pub what: What,
    pub scale: f64,
    pub text_as_paths: bool,
    pub background: bool,
}

impl ExportForm {
    /// Next to the board's file, with the board's name.
    pub fn for_workspace(ws: &Workspace) -> ExportForm {
        let svg = ws.file.path().with_extension("svg");
        ExportForm {
            path: svg.display().to_string(),
            what: if ws.tools.selection().is_empty() {
                What::Board
            } else {
                What::Selection
            },
            scale: 1.0,
            text_as_paths: false,
            background: true,
        }
    }

    pub fn request(&self, ws: &Workspace) -> ExportRequest {
        let mut req = ExportRequest::new(PathBuf::from(self.path.trim()));
        req.scope = match self.what {
            What::Board => Scope::Board,
            What::Selection => Scope::Elements(ws.tools.selection().iter().cloned().collect()),
        };
        req.scale = self.scale;
        req.text_as_paths = self.text_as_paths;
        req.background = self.background;
        req
    }
}

/// An export running on its worker thread.
pub struct ExportJob {
    pub output: PathBuf,
    done: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
    result: Arc<Mutex<Option<Result<ExportStats, String>>>>,
    handle: Option<JoinHandle<()>>,
}

impl ExportJob {
    pub fn start(ws: &Workspace, request: ExportRequest) -> ExportJob {
        let bytes = ws.board.encode();
        let done = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        let result = Arc::new(Mutex::new(None));
        let output = request.output.clone();
        let (d, t, r) = (done.clone(), total.clone(), result.clone());
        let handle = std::thread::spawn(move || {
            let outcome = load_bytes(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|board| {
                    let scene = Scene::build(&board);
                    export_to_file(&board, &scene, &request, &mut |done, total| {
                        d.store(done, Ordering::Relaxed);
                        t.store(total, Ordering::Relaxed);
                    })
                    .map_err(|e| e.to_string())
                });
            if let Ok(mut slot) = r.lock() {
                *slot = Some(outcome);
            }
        });
        ExportJob {
            output,
            done,
            total,
            result,
            handle: Some(handle),
        }
    }

    /// Progress as a fraction, when the worker has said how much there is.
    pub fn progress(&self) -> Option<f32> {
        let total = self.total.load(Ordering::Relaxed);
        (total > 0).then(|| self.done.load(Ordering::Relaxed) as f32 / total as f32)
    }

    /// The outcome once the worker has finished (taken once).
    pub fn finished(&mut self) -> Option<Result<ExportStats, String>> {
        let outcome = self.result.lock().ok().and_then(|mut r| r.take())?;
        if let Some(h) = self.handle.take() {
            // The worker has stored its result: it is returning.
            let _ = h.join();
        }
        Some(outcome)
    }

    /// Waits for the worker (quitting mid-export, tests).
    pub fn wait(&mut self) -> Option<Result<ExportStats, String>> {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.result.lock().ok().and_then(|mut r| r.take())
    }
}

/// The dialog (when open) and the running job's progress; call every frame.
pub fn show(
    ui: &mut Ui,
    ws: &mut Workspace,
    form: &mut Option<ExportForm>,
    job: &mut Option<ExportJob>,
) {
    if let Some(j) = job {
        match j.finished() {
            Some(Ok(stats)) => {
                ws.message = Some(format!(
                    "Exported {} elements to {}",
                    stats.elements,
                    j.output.display()
                ));
                *job = None;
            }
            Some(Err(e)) => {
                ws.message = Some(format!("Export failed: {e}"));
                *job = None;
            }
            None => ui.ctx().request_repaint_after(Duration::from_millis(100)),
        }
    }
    if let Some(j) = job {
        let ctx = ui.ctx().clone();
        egui::Area::new(egui::Id::unique("export progress"))
            .anchor(Align2::CENTER_BOTTOM, vec2(0.0, -16.0))
            .order(egui::Order::Foreground)
            .show(&ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.label(format!("Exporting {}", j.output.display()));
                    let bar = egui::ProgressBar::new(j.progress().unwrap_or(0.0))
                        .desired_width(260.0)
                        .show_percentage();
                    ui.add(bar);
                });
            });
    }
    let Some(f) = form else { return };
    let ctx = ui.ctx().clone();
    let mut open = true;
    let mut close = false;
    egui::Window::new("Export")
        .collapsible(false)
        .resizable(false)
        .anchor(Align2::CENTER_CENTER, vec2(0.0, 0.0))
        .open(&mut open)
        .show(&ctx, |ui| {
            let label = ui.label("File (.svg or .png)");
            ui.add(egui::TextEdit::singleline(&mut f.path).desired_width(360.0))
                .labelled_by(label.id);
            ui.horizontal(|ui| {
                ui.radio_value(&mut f.what, What::Board, "Whole board");
                let has_sel = !ws.tools.selection().is_empty();
                ui.add_enabled_ui(has_sel, |ui| {
                    ui.radio_value(&mut f.what, What::Selection, "Selection");
                });
            });
            let png = f.path.trim().to_ascii_lowercase().ends_with(".png");
            ui.horizontal(|ui| {
                let label = ui.label("PNG scale");
                ui.add_enabled(
                    png,
                    egui::DragValue::new(&mut f.scale)
                        .range(0.05..=8.0)
                        .speed(0.05)
                        .suffix("×"),
                )
                .labelled_by(label.id);
            });
            ui.add_enabled(
                !png,
                egui::Checkbox::new(&mut f.text_as_paths, "Text as paths (SVG)"),
            );
            ui.checkbox(&mut f.background, "Background");
            ui.horizontal(|ui| {
                let busy = job.is_some();
                if ui.add_enabled(!busy, egui::Button::new("Export")).clicked() {
                    if f.what == What::Selection && ws.tools.selection().is_empty() {
                        f.what = What::Board;
                    }
                    *job = Some(ExportJob::start(ws, f.request(ws)));
                    close = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
    if close || !open {
        *form = None;
    }
}

#[cfg(test)]
mod tests {
    use touchpoint_crdt::NewElement;

    use super::*;

    #[test]
    fn an_export_job_writes_the_board_as_it_was_when_started() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open_or_create(&dir.path().join("b.tpboard")).unwrap();
        ws.board
            .create(NewElement::sticky(0.0, 0.0, "Before"))
            .unwrap();
        ws.sync();
        let out = dir.path().join("b.svg");
        let mut job = ExportJob::start(&ws, ExportRequest::new(&out));
        // Edits after the start do not reach the file.
        ws.board
            .create(NewElement::sticky(300.0, 0.0, "After"))
            .unwrap();
        let stats = job.wait().unwrap().unwrap();
        assert_eq!(stats.elements, 1);
        let svg = std::fs::read_to_string(&out).unwrap();
        assert!(svg.contains("Before") && !svg.contains("After"));
        assert_eq!(job.progress(), Some(1.0));
    }

    #[test]
    fn a_bad_path_is_reported_not_panicked() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open_or_create(&dir.path().join("b.tpboard")).unwrap();
        let mut job = ExportJob::start(&ws, ExportRequest::new(dir.path().join("b.docx")));
        let err = job.wait().unwrap().unwrap_err();
        assert!(err.contains("docx") || err.contains(".svg"), "{err}");
    }
}
