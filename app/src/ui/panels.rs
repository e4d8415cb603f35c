//! The interface around the canvas, in egui: the board menu, the toolbar
//! (with the shape picker), the properties panel, the zoom and status bar,
//! and the path dialog for Open and Save as.
//!
//! Panels float over the canvas as in Miro, so the board fills the window.
//! They edit the [`Workspace`] directly; what needs the window (open another
//! board, quit) comes back as a [`Command`]. Everything here runs in
//! egui_kittest tests with no window.

use std::path::PathBuf;

use egui::{Align2, Color32, RichText, Ui, vec2};
use touchpoint_crdt::{Color, Kind, Reorder, ShapeKind, StylePatch};

use super::collab_ui::{self, CollabPanel};
use super::csv_export::{self, CsvDialog};
use super::export::{self, ExportForm, ExportJob};
use super::grid_panel::{self, GridPanel};
use super::templates_picker::{self, TemplatePicker};
use super::workshop::{self, Workshop};
use touchpoint_editor::tools::ToolKind;
use touchpoint_editor::workspace::Workspace;

/// What a panel asks the window to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    NewBoard,
    Open(PathBuf),
    Quit,
    /// Ask for the user's name and colour (the profile dialog).
    EditProfile,
}

/// Which path dialog is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialog {
    Open,
    SaveAs,
}

/// Panel state that outlives a frame.
#[derive(Default)]
pub struct Panels {
    pub dialog: Option<Dialog>,
    pub path_input: String,
    pub recent: Vec<PathBuf>,
    /// The Export dialog, while open.
    pub export_form: Option<ExportForm>,
    /// The export running in the background, if any.
    pub export_job: Option<ExportJob>,
    pub templates: TemplatePicker,
    pub workshop: Workshop,
    pub grid: GridPanel,
    pub csv: CsvDialog,
    pub collab: CollabPanel,
}

const TOOLS: [(ToolKind, &str, &str); 7] = [
    (ToolKind::Select, "Select", "V"),
    (ToolKind::Sticky, "Sticky note", "N"),
    (ToolKind::Shape(ShapeKind::Rect), "Shape", "S"),
    (ToolKind::Text, "Text", "T"),
    (ToolKind::Pen, "Pen", "P"),
    (ToolKind::Connector, "Connector", "L"),
    (ToolKind::Frame, "Frame", "F"),
];

fn tool_icon(tool: ToolKind) -> &'static str {
    match tool {
        ToolKind::Select => "↖",
        ToolKind::Sticky => "▣",
        ToolKind::Shape(_) => "◻",
        ToolKind::Text => "T",
        ToolKind::Pen => "✏",
        ToolKind::Connector => "↗",
        ToolKind::Frame => "#",
    }
}

fn shape_label(s: ShapeKind) -> &'static str {
    match s {
        ShapeKind::Rect => "Rectangle",
        ShapeKind::RoundedRect => "Rounded rectangle",
        ShapeKind::Ellipse => "Ellipse",
        ShapeKind::Diamond => "Diamond",
        ShapeKind::Triangle => "Triangle",
    }
}

fn same_tool(a: ToolKind, b: ToolKind) -> bool {
    matches!((a, b), (ToolKind::Shape(_), ToolKind::Shape(_))) || a == b
}

fn floating(id: &str, align: Align2, offset: egui::Vec2) -> egui::Area {
    egui::Area::new(egui::Id::unique(id))
        .anchor(align, offset)
        .order(egui::Order::Foreground)
}

fn card(ui: &Ui) -> egui::Frame {
    egui::Frame::popup(ui.style()).inner_margin(6.0)
}

/// Draws every panel, with `me` as the user's name in votes and the timer;
/// returns what the window must do.
pub fn show(ui: &mut Ui, ws: &mut Workspace, panels: &mut Panels, me: &str) -> Vec<Command> {
    let mut commands = Vec::new();
    shortcuts(ui, ws, panels, &mut commands);
    menu(ui, ws, panels, &mut commands);
    toolbar(ui, ws, panels);
    properties(ui, ws);
    grid_panel::show(ui, ws, &mut panels.grid);
    if workshop::show(ui, ws, &mut panels.workshop, me) {
        commands.push(Command::EditProfile);
    }
    status(ui, ws);
    dialog(ui, ws, panels, &mut commands);
    export::show(ui, ws, &mut panels.export_form, &mut panels.export_job);
    templates_picker::show(ui, ws, &mut panels.templates);
    csv_export::show(ui, ws, &mut panels.csv);
    commands
}

/// File shortcuts, handled whatever has the keyboard focus.
fn shortcuts(ui: &mut Ui, ws: &mut Workspace, panels: &mut Panels, commands: &mut Vec<Command>) {
    use egui::{Key, KeyboardShortcut, Modifiers};
    let pressed = |ui: &mut Ui, m: Modifiers, k: Key| {
        ui.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(m, k)))
    };
    if pressed(ui, Modifiers::COMMAND, Key::E) {
        panels.export_form = Some(ExportForm::for_workspace(ws));
    }
    if pressed(ui, Modifiers::COMMAND, Key::Q) {
        commands.push(Command::Quit);
    }
    if pressed(ui, Modifiers::COMMAND, Key::N) {
        commands.push(Command::NewBoard);
    }
    if pressed(ui, Modifiers::COMMAND, Key::O) {
        panels.dialog = Some(Dialog::Open);
        panels.path_input.clear();
    }
    if pressed(ui, Modifiers::COMMAND | Modifiers::SHIFT, Key::S) {
        panels.dialog = Some(Dialog::SaveAs);
        panels.path_input = ws.file.path().display().to_string();
    }
}

fn menu(ui: &mut Ui, ws: &mut Workspace, panels: &mut Panels, commands: &mut Vec<Command>) {
    let ctx = ui.ctx().clone();
    floating("menu", Align2::LEFT_TOP, vec2(12.0, 12.0)).show(&ctx, |ui| {
        card(ui).show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.menu_button("File", |ui| {
                    if ui.button("New board\tCtrl+N").clicked() {
                        commands.push(Command::NewBoard);
                        ui.close();
                    }
                    if ui.button("Open…\tCtrl+O").clicked() {
                        panels.dialog = Some(Dialog::Open);
                        panels.path_input.clear();
                        ui.close();
                    }
                    ui.menu_button("Open recent", |ui| {
                        if panels.recent.is_empty() {
                            ui.label("No recent boards");
                        }
                        for p in panels.recent.clone() {
                            if ui.button(p.display().to_string()).clicked() {
                                commands.push(Command::Open(p));
                                ui.close();
                            }
                        }
                    });
                    ui.separator();
                    if ui.button("Save\tCtrl+S").clicked() {
                        if let Err(e) = ws.save() {
                            ws.message = Some(e);
                        }
                        ui.close();
                    }
                    if ui.button("Save as…\tCtrl+Shift+S").clicked() {
                        panels.dialog = Some(Dialog::SaveAs);
                        panels.path_input = ws.file.path().display().to_string();
                        ui.close();
                    }
                    if ui.button("Export…\tCtrl+E").clicked() {
                        panels.export_form = Some(ExportForm::for_workspace(ws));
                        ui.close();
                    }
                    toolkit_menu_items(ui, ws, panels);
                    ui.separator();
                    if ui.button("Share…").clicked() {
                        panels.collab.request = Some(collab_ui::Request::Share);
                        ui.close();
                    }
                    if ui.button("Join…").clicked() {
                        panels.collab.request = Some(collab_ui::Request::Join);
                        ui.close();
                    }
                    ui.separator();
                    if ui.button("Quit\tCtrl+Q").clicked() {
                        commands.push(Command::Quit);
                        ui.close();
                    }
                });
                ui.menu_button("Edit", |ui| {
                    let has_sel = !ws.tools.selection().is_empty();
                    if ui
                        .add_enabled(ws.board.can_undo(), egui::Button::new("Undo\tCtrl+Z"))
                        .clicked()
                    {
                        ws.tools.cancel();
                        ws.board.undo();
                        ws.sync();
                    }
                    if ui
                        .add_enabled(ws.board.can_redo(), egui::Button::new("Redo\tCtrl+Shift+Z"))
                        .clicked()
                    {
                        ws.tools.cancel();
                        ws.board.redo();
                        ws.sync();
                    }
                    ui.separator();
                    if ui
                        .add_enabled(has_sel, egui::Button::new("Copy\tCtrl+C"))
                        .clicked()
                    {
                        if let Some(t) = ws.copy() {
                            ui.ctx().copy_text(t);
                        }
                        ui.close();
                    }
                    if ui.button("Paste\tCtrl+V").clicked() {
                        if let Err(e) = ws.paste(None) {
                            ws.message = Some(e.to_string());
                        }
                        ui.close();
                    }
                    if ui
                        .add_enabled(has_sel, egui::Button::new("Duplicate\tCtrl+D"))
                        .clicked()
                    {
                        ws.duplicate();
                        ui.close();
                    }
                    if ui
                        .add_enabled(has_sel, egui::Button::new("Delete\tDel"))
                        .clicked()
                    {
                        ws.delete_selection();
                        ui.close();
                    }
                    ui.separator();
                    if ui
                        .add_enabled(has_sel, egui::Button::new("Bring to front\tPgUp"))
                        .clicked()
                    {
                        ws.reorder(Reorder::ToFront);
                    }
                    if ui
                        .add_enabled(has_sel, egui::Button::new("Send to back\tPgDn"))
                        .clicked()
                    {
                        ws.reorder(Reorder::ToBack);
                    }
                });
                ui.menu_button("View", |ui| {
                    if ui.button("Zoom to fit\tShift+1").clicked() {
                        ws.zoom_to_fit();
                        ui.close();
                    }
                    if ui.button("Zoom to selection\tShift+2").clicked() {
                        ws.zoom_to_selection();
                        ui.close();
                    }
                    if ui.button("Zoom to 100%\tShift+0").clicked() {
                        ws.camera.zoom_to_100();
                        ui.close();
                    }
                });
                ui.separator();
                ui.label(RichText::new(ws.file.display_name()).strong());
            });
        });
    });
}

fn toolbar(ui: &mut Ui, ws: &mut Workspace, panels: &mut Panels) {
    let ctx = ui.ctx().clone();
    let read_only = ws.board.read_only().is_some();
    floating("toolbar", Align2::LEFT_CENTER, vec2(12.0, 0.0)).show(&ctx, |ui| {
        card(ui).show(ui, |ui| {
            ui.vertical(|ui| {
                ui.spacing_mut().item_spacing = vec2(2.0, 4.0);
                for (tool, name, key) in TOOLS {
                    let current = ws.tools.tool();
                    let tool = match (tool, current) {
                        (ToolKind::Shape(_), ToolKind::Shape(s)) => ToolKind::Shape(s),
                        _ => tool,
                    };
                    let enabled = !read_only || tool == ToolKind::Select;
                    let button = egui::Button::selectable(
                        same_tool(current, tool),
                        RichText::new(tool_icon(tool)).size(18.0),
                    )
                    .min_size(vec2(32.0, 32.0));
                    let resp = ui
                        .add_enabled(enabled, button)
                        .on_hover_text(format!("{name} ({key})"));
                    // The icon is not a name: screen readers (and tests) get one.
                    resp.widget_info(|| {
                        egui::WidgetInfo::selected(
                            egui::Role::Button,
                            enabled,
                            same_tool(current, tool),
                            name,
                        )
                    });
                    if resp.clicked() {
                        ws.stop_editing();
                        ws.tools.set_tool(tool);
                    }
                    if let ToolKind::Shape(_) = tool {
                        resp.context_menu(|ui| shape_picker(ui, ws));
                    }
                }
                if let ToolKind::Shape(current) = ws.tools.tool() {
                    ui.separator();
                    for s in ShapeKind::ALL {
                        let r = ui
                            .selectable_label(*s == current, shape_symbol(*s))
                            .on_hover_text(shape_label(*s));
                        r.widget_info(|| {
                            egui::WidgetInfo::selected(
                                egui::Role::Button,
                                true,
                                *s == current,
                                shape_label(*s),
                            )
                        });
                        if r.clicked() {
                            ws.tools.set_tool(ToolKind::Shape(*s));
                        }
                    }
                }
                ui.separator();
                if ui
                    .add_enabled(ws.board.can_undo(), egui::Button::new("↶"))
                    .on_hover_text("Undo (Ctrl+Z)")
                    .labelled("Undo")
                    .clicked()
                {
                    ws.tools.cancel();
                    ws.board.undo();
                    ws.sync();
                }
                if ui
                    .add_enabled(ws.board.can_redo(), egui::Button::new("↷"))
                    .on_hover_text("Redo (Ctrl+Shift+Z)")
                    .labelled("Redo")
                    .clicked()
                {
                    ws.tools.cancel();
                    ws.board.redo();
                    ws.sync();
                }
                ui.separator();
                toolkit_buttons(ui, ws, panels);
            });
        });
    });
}

/// File menu entries: Insert template…, Export CSV…, Workshop.
fn toolkit_menu_items(ui: &mut Ui, ws: &mut Workspace, panels: &mut Panels) {
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
        panels.csv = CsvDialog::for_workspace(ws);
        ui.close();
    }
    if ui.button("Workshop (voting, timer, tidy)").clicked() {
        panels.workshop.open = !panels.workshop.open;
        ui.close();
    }
}

/// The toolbar's buttons for the toolkit: templates and the workshop panel.
fn toolkit_buttons(ui: &mut Ui, ws: &Workspace, panels: &mut Panels) {
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

/// An accessible name for icon-only buttons.
trait Labelled {
    fn labelled(self, name: &str) -> Self;
}

impl Labelled for egui::Response {
    fn labelled(self, name: &str) -> Self {
        let enabled = self.enabled();
        self.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, enabled, name));
        self
    }
}

fn shape_symbol(s: ShapeKind) -> &'static str {
    match s {
        ShapeKind::Rect => "▭",
        ShapeKind::RoundedRect => "▢",
        ShapeKind::Ellipse => "◯",
        ShapeKind::Diamond => "◇",
        ShapeKind::Triangle => "△",
    }
}

fn shape_picker(ui: &mut Ui, ws: &mut Workspace) {
    for s in ShapeKind::ALL {
        if ui.button(shape_label(*s)).clicked() {
            ws.tools.set_tool(ToolKind::Shape(*s));
            ui.close();
        }
    }
}

fn to_color32(c: Color) -> Color32 {
    Color32::from_rgb(c.0, c.1, c.2)
}

fn properties(ui: &mut Ui, ws: &mut Workspace) {
    let kinds = ws.selected_kinds();
    if kinds.is_empty() || ws.board.read_only().is_some() {
        return;
    }
    // The first selected element's style stands for the selection.
    let Some(first) = ws
        .tools
        .selection()
        .iter()
        .find_map(|id| ws.scene.get(id))
        .map(|e| e.element.clone())
    else {
        return;
    };
    let ctx = ui.ctx().clone();
    // Below the participants card (collab_ui.rs), which holds the top right.
    floating("properties", Align2::RIGHT_TOP, vec2(-12.0, 80.0)).show(&ctx, |ui| {
        card(ui).show(ui, |ui| {
            ui.set_max_width(220.0);
            ui.label(RichText::new(format!("{} selected", ws.tools.selection().len())).strong());
            let mut patch = StylePatch::default();
            if kinds.contains(&Kind::Sticky) {
                ui.label("Sticky colour");
                ui.horizontal_wrapped(|ui| {
                    for c in Color::STICKY_PALETTE {
                        let selected = first.style.fill == Some(c);
                        let (rect, resp) =
                            ui.allocate_exact_size(vec2(22.0, 22.0), egui::Sense::click());
                        ui.painter().rect_filled(rect, 3.0, to_color32(c));
                        if selected {
                            ui.painter().rect_stroke(
                                rect,
                                3.0,
                                egui::Stroke::new(2.0, crate::ui::overlay::SELECTION),
                                egui::StrokeKind::Outside,
                            );
                        }
                        let name = format!("Sticky colour #{:02x}{:02x}{:02x}", c.0, c.1, c.2);
                        resp.widget_info(|| {
                            egui::WidgetInfo::selected(egui::Role::Button, true, selected, &name)
                        });
                        if resp.on_hover_text(&name).clicked() {
                            patch.fill = Some(Some(c));
                        }
                    }
                });
            }
            if kinds.iter().any(|k| matches!(k, Kind::Shape | Kind::Frame)) {
                ui.horizontal(|ui| {
                    ui.label("Fill");
                    let mut rgb = first
                        .style
                        .fill
                        .map_or([255, 255, 255], |c| [c.0, c.1, c.2]);
                    if ui.color_edit_button_srgb(&mut rgb).changed() {
                        patch.fill = Some(Some(Color(rgb[0], rgb[1], rgb[2])));
                    }
                    if ui.small_button("None").clicked() {
                        patch.fill = Some(None);
                    }
                });
            }
            if kinds
                .iter()
                .any(|k| matches!(k, Kind::Shape | Kind::Frame | Kind::Ink | Kind::Connector))
            {
                ui.horizontal(|ui| {
                    let label = ui.label("Stroke");
                    let mut rgb = first.style.stroke.map_or([26, 26, 26], |c| [c.0, c.1, c.2]);
                    if ui
                        .color_edit_button_srgb(&mut rgb)
                        .labelled_by(label.id)
                        .changed()
                    {
                        patch.stroke = Some(Some(Color(rgb[0], rgb[1], rgb[2])));
                    }
                    let width = ui.label("Width");
                    let mut w = first.style.stroke_width;
                    if ui
                        .add(
                            egui::DragValue::new(&mut w)
                                .range(0.0..=64.0)
                                .speed(0.2)
                                .suffix(" px"),
                        )
                        .labelled_by(width.id)
                        .changed()
                    {
                        patch.stroke_width = Some(w);
                    }
                });
            }
            if kinds
                .iter()
                .any(|k| matches!(k, Kind::Sticky | Kind::Shape | Kind::Text | Kind::Frame))
            {
                ui.horizontal(|ui| {
                    let label = ui.label("Font size");
                    let mut size = first.style.font_size;
                    if ui
                        .add(
                            egui::DragValue::new(&mut size)
                                .range(4.0..=400.0)
                                .speed(0.5),
                        )
                        .labelled_by(label.id)
                        .changed()
                    {
                        patch.font_size = Some(size);
                    }
                    ui.label("Text");
                    let mut rgb = [
                        first.style.text_color.0,
                        first.style.text_color.1,
                        first.style.text_color.2,
                    ];
                    if ui.color_edit_button_srgb(&mut rgb).changed() {
                        patch.text_color = Some(Color(rgb[0], rgb[1], rgb[2]));
                    }
                });
            }
            if !patch.is_empty() {
                ws.restyle(patch);
            }
            ui.separator();
            ui.horizontal(|ui| {
                if ui
                    .button("Front")
                    .on_hover_text("Bring to front (PgUp)")
                    .clicked()
                {
                    ws.reorder(Reorder::ToFront);
                }
                if ui
                    .button("Back")
                    .on_hover_text("Send to back (PgDn)")
                    .clicked()
                {
                    ws.reorder(Reorder::ToBack);
                }
                if ui.button("Duplicate").on_hover_text("Ctrl+D").clicked() {
                    ws.duplicate();
                }
                if ui.button("Delete").on_hover_text("Del").clicked() {
                    ws.delete_selection();
                }
            });
        });
    });
}

fn status(ui: &mut Ui, ws: &mut Workspace) {
    let ctx = ui.ctx().clone();
    floating("status", Align2::LEFT_BOTTOM, vec2(12.0, -12.0)).show(&ctx, |ui| {
        card(ui).show(ui, |ui| {
            ui.horizontal(|ui| {
                let saved = if let Some(e) = ws.file.error() {
                    RichText::new(format!("Not saved: {e}"))
                        .color(Color32::from_rgb(0xc0, 0x20, 0x20))
                } else if ws.board.read_only().is_some() {
                    RichText::new("Read-only")
                } else if ws.file.is_dirty() {
                    RichText::new("Saving…")
                } else {
                    RichText::new("Saved")
                };
                ui.label(saved);
                ui.separator();
                if ui.small_button("−").on_hover_text("Zoom out").clicked() {
                    let c = ws.camera.viewport_px() / 2.0;
                    ws.camera.zoom_by_at(c, 1.0 / 1.25);
                }
                ui.label(format!("{:.0}%", ws.camera.zoom() * 100.0));
                if ui.small_button("+").on_hover_text("Zoom in").clicked() {
                    let c = ws.camera.viewport_px() / 2.0;
                    ws.camera.zoom_by_at(c, 1.25);
                }
                if ui
                    .small_button("Fit")
                    .on_hover_text("Zoom to fit (Shift+1)")
                    .clicked()
                {
                    ws.zoom_to_fit();
                }
                workshop::status_timer(ui, ws);
                if let Some(m) = &ws.message {
                    ui.separator();
                    ui.label(RichText::new(m).color(Color32::from_rgb(0xc0, 0x20, 0x20)));
                    if ui.small_button("✕").clicked() {
                        ws.message = None;
                    }
                }
            });
        });
    });
}

fn dialog(ui: &mut Ui, ws: &mut Workspace, panels: &mut Panels, commands: &mut Vec<Command>) {
    let Some(which) = panels.dialog else { return };
    let title = match which {
        Dialog::Open => "Open board",
        Dialog::SaveAs => "Save board as",
    };
    let ctx = ui.ctx().clone();
    let mut open = true;
    let mut done = false;
    egui::Window::new(title)
        .collapsible(false)
        .resizable(false)
        .anchor(Align2::CENTER_CENTER, vec2(0.0, 0.0))
        .open(&mut open)
        .show(&ctx, |ui| {
            let label = ui.label("Path of the .tpboard file");
            let edit = ui.add(
                egui::TextEdit::singleline(&mut panels.path_input)
                    .desired_width(360.0)
                    .hint_text("/home/me/boards/journey.tpboard"),
            );
            let edit = edit.labelled_by(label.id);
            edit.request_focus();
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.horizontal(|ui| {
                let go = ui.button(if which == Dialog::Open {
                    "Open"
                } else {
                    "Save"
                });
                if go.clicked() || enter {
                    let path = PathBuf::from(panels.path_input.trim());
                    if path.as_os_str().is_empty() {
                        return;
                    }
                    match which {
                        Dialog::Open => commands.push(Command::Open(path)),
                        Dialog::SaveAs => {
                            if let Err(e) = ws.save_as(&path) {
                                ws.message = Some(e);
                            }
                        }
                    }
                    done = true;
                }
                if ui.button("Cancel").clicked() {
                    done = true;
                }
            });
        });
    if done || !open {
        panels.dialog = None;
    }
}
