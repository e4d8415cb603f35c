//! The template picker: File > Insert template… (or the toolbar's template
//! button) opens a window listing the built-in templates (title and
//! description); choosing one inserts it at the centre of the viewport in
//! one undo step, selects it and zooms to it
//! ([`Workspace::insert_template`]).

use egui::{Align2, RichText, Ui, vec2};

use touchpoint_editor::templates::{self, Template};
use touchpoint_editor::workspace::Workspace;

/// The picker's state between frames.
#[derive(Debug, Default)]
pub struct TemplatePicker {
    pub open: bool,
    /// The built-in templates, parsed once (or why they could not be).
    list: Option<Result<Vec<Template>, String>>,
}

impl TemplatePicker {
    fn templates(&mut self) -> &Result<Vec<Template>, String> {
        self.list
            .get_or_insert_with(|| templates::builtin().map_err(|e| e.to_string()))
    }
}

/// The picker window, while open.
pub fn show(ui: &mut Ui, ws: &mut Workspace, picker: &mut TemplatePicker) {
    if !picker.open {
        return;
    }
    let ctx = ui.ctx().clone();
    let mut open = true;
    let mut chosen = None;
    egui::Window::new("Insert template")
        .collapsible(false)
        .resizable(false)
        .anchor(Align2::CENTER_CENTER, vec2(0.0, 0.0))
        .open(&mut open)
        .show(&ctx, |ui| {
            ui.set_max_width(420.0);
            match picker.templates() {
                Err(e) => {
                    ui.label(format!("The templates cannot be read: {e}"));
                }
                Ok(list) => {
                    ui.label("Inserted at the centre of the view; Ctrl+Z removes it.");
                    ui.separator();
                    for (i, t) in list.iter().enumerate() {
                        let b = ui.add(
                            egui::Button::new(RichText::new(&t.title).strong())
                                .min_size(vec2(400.0, 0.0)),
                        );
                        if !t.description.is_empty() {
                            ui.label(RichText::new(&t.description).small());
                        }
                        ui.add_space(4.0);
                        if b.clicked() {
                            chosen = Some(i);
                        }
                    }
                }
            }
        });
    if let Some(i) = chosen
        && let Ok(list) = picker.templates()
        && let Some(t) = list.get(i).cloned()
    {
        if let Err(e) = ws.insert_template(&t) {
            ws.message = Some(e);
        }
        picker.open = false;
        return;
    }
    if !open {
        picker.open = false;
    }
}
