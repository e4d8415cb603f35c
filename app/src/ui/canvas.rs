//! The canvas area of the window: egui input turned into camera moves and
//! tool events, keyboard shortcuts, and the in-place text editor.
//!
//! Panning: space + drag, the middle button, or a two-finger scroll (wheel
//! scroll too). Zoom to the cursor: Ctrl + wheel or pinch. Shortcuts that are
//! not the tools' (copy, paste, duplicate, reorder, zoom) are handled here;
//! the rest go to [`touchpoint_editor::tools`] as [`Input`]s, never while a text field
//! has the keyboard.

use egui::{Event, Key as EKey, Pos2, Sense, Ui};
use touchpoint_crdt::{Align, Reorder};

use crate::ui::overlay::{self, to_points, to_world};
use touchpoint_editor::tools::{HIT_TOLERANCE_PX, Input, Key, Modifiers};
use touchpoint_editor::workspace::Workspace;
use touchpoint_scene::geom::Vec2;
use touchpoint_scene::scene::Item;

/// Wheel zoom per notch-equivalent is egui's; keyboard zoom steps by this.
const KEY_ZOOM_STEP: f64 = 1.25;

/// Pointer state carried between frames.
#[derive(Debug, Default)]
pub struct CanvasInput {
    /// The primary button went down on the canvas (a tool gesture is on).
    pressed: bool,
    /// Panning with space or the middle button.
    panning: bool,
    last_pos: Option<Pos2>,
    /// The text editor's buffer and the element it edits.
    editor: Option<(String, String)>,
}

fn modifiers(m: egui::Modifiers) -> Modifiers {
    Modifiers {
        shift: m.shift,
        ctrl: m.ctrl,
        alt: m.alt,
        meta: m.mac_cmd,
    }
}

fn tool_key(key: EKey) -> Option<Key> {
    Some(match key {
        EKey::Delete => Key::Delete,
        EKey::Backspace => Key::Backspace,
        EKey::Escape => Key::Escape,
        EKey::Enter => Key::Enter,
        k => {
            let name = k.symbol_or_name();
            let mut chars = name.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_alphabetic() => Key::Char(c.to_ascii_lowercase()),
                _ => return None,
            }
        }
    })
}

/// The canvas: fills `ui`, reads input, paints chrome. Call inside a
/// frameless central panel, before the floating panels' areas are shown.
pub fn show(ui: &mut Ui, ws: &mut Workspace, input: &mut CanvasInput) {
    let rect = ui.max_rect();
    let response = ui.allocate_rect(rect, Sense::click_and_drag());
    let ppp = f64::from(ui.ctx().pixels_per_point());
    let (
        pointer,
        space,
        middle,
        primary_pressed,
        primary_released,
        primary_down,
        mods,
        scroll,
        zoom,
    ) = ui.input(|i| {
        (
            i.pointer.latest_pos(),
            i.key_down(EKey::Space),
            i.pointer.middle_down(),
            i.pointer.primary_pressed(),
            i.pointer.primary_released(),
            i.pointer.primary_down(),
            i.modifiers,
            i.smooth_scroll_delta,
            i.zoom_delta(),
        )
    });
    let typing = ui.ctx().egui_wants_keyboard_input();
    let over_canvas = response.hovered() || response.dragged();

    // Camera: pan and zoom never reach the tools.
    if let Some(pos) = pointer {
        let pos_px = Vec2::new(f64::from(pos.x), f64::from(pos.y)) * ppp;
        if over_canvas && (zoom - 1.0).abs() > f32::EPSILON {
            ws.camera.zoom_by_at(pos_px, f64::from(zoom));
        } else if over_canvas && scroll != egui::Vec2::ZERO {
            ws.camera
                .pan_by(Vec2::new(f64::from(scroll.x), f64::from(scroll.y)) * ppp);
        }
        let start_pan =
            over_canvas && (middle || (space && !typing && primary_down && !input.pressed));
        if start_pan || (input.panning && (middle || primary_down)) {
            if let Some(last) = input.last_pos {
                let d = pos - last;
                ws.camera
                    .pan_by(Vec2::new(f64::from(d.x), f64::from(d.y)) * ppp);
            }
            input.panning = true;
        } else {
            input.panning = false;
        }
        input.last_pos = Some(pos);
    }

    // Tools.
    let m = modifiers(mods);
    if let Some(pos) = pointer.filter(|_| !input.panning) {
        let world = to_world(&ws.camera, pos);
        if primary_pressed && response.hovered() && !space {
            if ws.editing.is_some() {
                finish_editing(ws, input);
            }
            input.pressed = true;
            ws.handle(&Input::PointerDown {
                pos: world,
                modifiers: m,
            });
            // A quick click (a touchpad tap, xdotool) can press and release
            // within one frame: end the gesture now, or the next pointer
            // move would drag what was clicked.
            if primary_released {
                input.pressed = false;
                let r = ws.handle(&Input::PointerUp {
                    pos: world,
                    modifiers: m,
                });
                start_editing(ws, input, r.edit_text);
            }
        } else if input.pressed && primary_released {
            input.pressed = false;
            let r = ws.handle(&Input::PointerUp {
                pos: world,
                modifiers: m,
            });
            start_editing(ws, input, r.edit_text);
        } else if input.pressed || response.hovered() {
            ws.handle(&Input::PointerMove {
                pos: world,
                modifiers: m,
            });
        }
        if response.double_clicked() {
            let r = ws.handle(&Input::DoubleClick {
                pos: world,
                modifiers: m,
            });
            start_editing(ws, input, r.edit_text);
        }
    }
    if !typing && ws.editing.is_none() {
        keys(ui, ws, input);
    }

    // Chrome and the text editor.
    let hovered = pointer
        .filter(|_| response.hovered() && !input.pressed)
        .and_then(|p| {
            let w = to_world(&ws.camera, p);
            let tol = HIT_TOLERANCE_PX * ws.camera.units_per_pixel() * ppp;
            ws.scene.topmost_at(w, tol).map(str::to_owned)
        });
    overlay::paint(ui.painter(), ws, hovered.as_deref());
    text_editor(ui, ws, input);
}

fn keys(ui: &mut Ui, ws: &mut Workspace, input: &mut CanvasInput) {
    let events = ui.input(|i| i.events.clone());
    for event in events {
        match event {
            Event::Copy => {
                if let Some(t) = ws.copy() {
                    ui.ctx().copy_text(t);
                }
            }
            Event::Cut => {
                if let Some(t) = ws.cut() {
                    ui.ctx().copy_text(t);
                }
            }
            Event::Paste(text) => {
                // Ours from any process, else the last copy made here.
                let result = ws.paste(Some(&text)).or_else(|_| ws.paste(None));
                if let Err(e) = result {
                    ws.message = Some(e.to_string());
                }
            }
            Event::Key {
                key,
                pressed: true,
                modifiers: mods,
                ..
            } => {
                let m = modifiers(mods);
                let viewport_centre = ws.camera.viewport_px() / 2.0;
                match key {
                    EKey::D if m.command() => ws.duplicate(),
                    EKey::S if m.command() => {
                        if let Err(e) = ws.save() {
                            ws.message = Some(e);
                        }
                    }
                    EKey::PageUp => ws.reorder(Reorder::ToFront),
                    EKey::PageDown => ws.reorder(Reorder::ToBack),
                    EKey::Num1 | EKey::Exclamationmark if m.shift => ws.zoom_to_fit(),
                    EKey::Num2 if m.shift => ws.zoom_to_selection(),
                    EKey::Num0 if m.shift => ws.camera.zoom_to_100(),
                    EKey::Plus | EKey::Equals if m.command() => {
                        ws.camera.zoom_by_at(viewport_centre, KEY_ZOOM_STEP)
                    }
                    EKey::Minus if m.command() => {
                        ws.camera.zoom_by_at(viewport_centre, 1.0 / KEY_ZOOM_STEP)
                    }
                    EKey::C | EKey::V | EKey::X if m.command() => {}
                    _ => {
                        if let Some(k) = tool_key(key) {
                            let r = ws.handle(&Input::Key {
                                key: k,
                                modifiers: m,
                            });
                            start_editing(ws, input, r.edit_text);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn start_editing(ws: &mut Workspace, input: &mut CanvasInput, id: Option<String>) {
    let Some(id) = id else { return };
    let text = ws
        .board
        .element(&id)
        .and_then(|e| e.body.text().map(str::to_owned))
        .unwrap_or_default();
    ws.editing = Some(id.clone());
    input.editor = Some((id, text));
}

fn finish_editing(ws: &mut Workspace, input: &mut CanvasInput) {
    ws.stop_editing();
    input.editor = None;
}

/// The in-place editor: an egui text field over the element, in its colours
/// and at its zoomed font size. Every change becomes character-level edits
/// of the element's Y.Text ([`Workspace::set_text`]); a collaborator's edit
/// to the same text shows up here when the field has no unsaved change.
fn text_editor(ui: &mut Ui, ws: &mut Workspace, input: &mut CanvasInput) {
    let Some(id) = ws.editing.clone() else {
        input.editor = None;
        return;
    };
    let Some(el) = ws.scene.get(&id) else {
        finish_editing(ws, input);
        return;
    };
    let element = el.element.clone();
    let text_rect = el
        .items
        .iter()
        .find_map(|i| match i {
            Item::Text(t) => Some(t.rect),
            _ => None,
        })
        .unwrap_or_else(|| el.rect());
    let current = element.body.text().unwrap_or_default().to_owned();
    let (_, buffer) = input
        .editor
        .get_or_insert_with(|| (id.clone(), current.clone()));
    if *buffer != current {
        // Either our own edit already applied (equal) or a remote one: take it.
        *buffer = current;
    }
    let camera = &ws.camera;
    let b = text_rect.bounds();
    let min = to_points(camera, b.min);
    let max = to_points(camera, b.max);
    let zoom = camera.zoom() as f32;
    let font = egui::FontId::proportional((element.style.font_size as f32 * zoom).max(6.0));
    let fill = element.style.fill.map_or(egui::Color32::WHITE, |c| {
        egui::Color32::from_rgb(c.0, c.1, c.2)
    });
    let tc = element.style.text_color;
    let align = match element.style.align {
        Align::Left => egui::Align::Min,
        Align::Center => egui::Align::Center,
        Align::Right => egui::Align::Max,
    };
    let size = (max - min).max(egui::vec2(40.0, 20.0));
    let mut changed = None;
    let mut done = false;
    egui::Area::new(egui::Id::unique("text editor"))
        .fixed_pos(min)
        .order(egui::Order::Middle)
        .show(ui.ctx(), |ui| {
            egui::Frame::NONE.fill(fill).show(ui, |ui| {
                ui.set_min_size(size);
                let edit = egui::TextEdit::multiline(buffer)
                    .font(font)
                    .text_color(egui::Color32::from_rgb(tc.0, tc.1, tc.2))
                    .align(egui::Align2([align, egui::Align::Min]))
                    .frame(egui::Frame::NONE)
                    .desired_width(size.x)
                    .desired_rows(1)
                    .id(egui::Id::unique(("text editor field", id.as_str())));
                let resp = ui.add_sized(size, edit);
                if !resp.has_focus() && !resp.lost_focus() {
                    resp.request_focus();
                }
                if resp.changed() {
                    changed = Some(buffer.clone());
                }
                let escape = ui.input(|i| i.key_pressed(EKey::Escape));
                if escape || resp.lost_focus() {
                    done = true;
                }
            });
        });
    if let Some(text) = changed {
        ws.set_text(&id, &text);
    }
    if done {
        finish_editing(ws, input);
    }
}
