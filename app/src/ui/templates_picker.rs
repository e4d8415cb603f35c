//! The template picker: File > Insert template… (or the toolbar's template
//! button) opens a window listing the built-in templates (title and
//! description); choosing one inserts it at the centre of the viewport in
//! one undo step, selects it and zooms to it
//! ([`Workspace::insert_template`]).
//!
//! Also the File menu entries of the service design toolkit (insert a
//! template, export CSV, the workshop panel), so the shared menu code gets
//! one line.

use egui::{Align2, RichText, Ui, vec2};

use crate::templates::{self, Template};
use crate::ui::panels::Panels;
use crate::workspace::Workspace;

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

/// File menu entries: Insert template…, Export CSV…, Workshop.
pub fn file_menu_items(ui: &mut Ui, ws: &mut Workspace, panels: &mut Panels) {
    ui.separator();
    let writable = ws.board.read_only().is_none();
    if ui
        .add_enabled(writable, egui::Button::new("Insert template…"))
        .clicked()
    {
        panels.templates.open = true;
        ui.close();
    }
    if ui.button("Export CSV…").clicked() {
        super::csv_export::open(ws, panels);
        ui.close();
    }
    if ui.button("Workshop (voting, timer, tidy)").clicked() {
        panels.workshop.open = !panels.workshop.open;
        ui.close();
    }
}

/// The toolbar's buttons for the toolkit: templates and the workshop panel.
pub fn toolbar_buttons(ui: &mut Ui, ws: &Workspace, panels: &mut Panels) {
    let writable = ws.board.read_only().is_none();
    let t = ui
        .add_enabled(
            writable,
            egui::Button::selectable(panels.templates.open, RichText::new("▦").size(18.0))
                .min_size(vec2(32.0, 32.0)),
        )
        .on_hover_text("Insert a template");
    t.widget_info(|| {
        egui::WidgetInfo::selected(
            egui::Role::Button,
            writable,
            panels.templates.open,
            "Templates",
        )
    });
    if t.clicked() {
        panels.templates.open = !panels.templates.open;
    }
    let w = ui
        .add(
            egui::Button::selectable(panels.workshop.open, RichText::new("◔").size(18.0))
                .min_size(vec2(32.0, 32.0)),
        )
        .on_hover_text("Workshop: voting, timer, tidy");
    w.widget_info(|| {
        egui::WidgetInfo::selected(egui::Role::Button, true, panels.workshop.open, "Workshop")
    });
    if w.clicked() {
        panels.workshop.open = !panels.workshop.open;
    }
}

/// The picker window, while open.
pub fn show(ui: &mut Ui, ws: &mut Workspace, panels: &mut Panels) {
    if !panels.templates.open {
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
            match panels.templates.templates() {
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
        && let Ok(list) = panels.templates.templates()
        && let Some(t) = list.get(i).cloned()
    {
        if let Err(e) = ws.insert_template(&t) {
            ws.message = Some(e);
        }
        panels.templates.open = false;
        return;
    }
    if !open {
        panels.templates.open = false;
    }
}
