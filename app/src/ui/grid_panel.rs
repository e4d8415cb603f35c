//! The grid panel: while one grid (journey map, blueprint, board of columns)
//! is selected, a floating panel to add stages and lanes (at the end, or
//! after the one chosen), and to rename, move, resize and remove the chosen
//! one; for an emotion lane, a slider per stage sets the curve (-1 low to 1
//! high). Every change is one undo step: sliders and sizes are written when
//! the drag ends, not at every frame of it.

use egui::{Align2, RichText, Ui, vec2};
use touchpoint_crdt::{Axis, Grid, Kind, LaneRole};

use touchpoint_editor::workspace::Workspace;

/// Title of a stage or lane added from the panel (renamed right after).
pub const NEW_STAGE: &str = "New stage";
pub const NEW_LANE: &str = "New lane";

/// The grid panel's state between frames.
#[derive(Debug)]
pub struct GridPanel {
    /// The grid the rest refers to.
    grid: Option<String>,
    /// The stage or lane chosen in the panel.
    pub chosen: Option<(Axis, String)>,
    /// The title field's text, for `chosen`.
    pub title: String,
    /// Role of the next lane added.
    pub new_role: LaneRole,
    /// A value being dragged (size or emotion), by widget key: written to
    /// the board when the drag ends.
    pending: Option<(String, f64)>,
}

impl Default for GridPanel {
    fn default() -> Self {
        GridPanel {
            grid: None,
            chosen: None,
            title: String::new(),
            new_role: LaneRole::Cards,
            pending: None,
        }
    }
}

impl GridPanel {
    fn choose(&mut self, grid: &Grid, axis: Axis, id: String) {
        self.title = track_title(grid, axis, &id).unwrap_or_default();
        self.chosen = Some((axis, id));
        self.pending = None;
    }
}

fn track_title(grid: &Grid, axis: Axis, id: &str) -> Option<String> {
    match axis {
        Axis::Stage => grid
            .stages
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.title.clone()),
        Axis::Lane => grid
            .lanes
            .iter()
            .find(|l| l.id == id)
            .map(|l| l.title.clone()),
    }
}

/// Where a new stage or lane goes: just after the chosen one of the same
/// axis, else at the end.
pub fn insert_index(grid: &Grid, chosen: Option<&(Axis, String)>, axis: Axis) -> usize {
    let at = match chosen {
        Some((a, id)) if *a == axis => match axis {
            Axis::Stage => grid.stage_index(id),
            Axis::Lane => grid.lane_index(id),
        },
        _ => None,
    };
    at.map_or(usize::MAX, |i| i + 1)
}

/// The index a stage or lane at `index` moves to one step `forward` (right
/// or down) or back, or `None` at either end.
pub fn step(index: usize, len: usize, forward: bool) -> Option<usize> {
    if forward {
        (index + 1 < len).then_some(index + 1)
    } else {
        index.checked_sub(1)
    }
}

fn role_name(r: LaneRole) -> &'static str {
    match r {
        LaneRole::Cards => "Cards",
        LaneRole::Emotion => "Emotion curve",
        LaneRole::Line => "Line",
    }
}

/// A drag value or slider that writes once, when the drag (or typing) ends.
/// Returns the value to write, if it differs from `current`.
fn on_release(
    pending: &mut Option<(String, f64)>,
    key: &str,
    current: f64,
    widget: impl FnOnce(&mut f64) -> egui::Response,
) -> Option<f64> {
    let mut v = match pending {
        Some((k, v)) if k == key => *v,
        _ => current,
    };
    let resp = widget(&mut v);
    let busy = resp.dragged() || resp.has_focus();
    if busy {
        *pending = Some((key.to_owned(), v));
    }
    let done = resp.drag_stopped() || resp.lost_focus() || (resp.changed() && !busy);
    if done {
        if pending.as_ref().is_some_and(|(k, _)| k == key) {
            *pending = None;
        }
        if (v - current).abs() > 1e-9 {
            return Some(v);
        }
    }
    None
}

/// The panel, while exactly one grid is selected on a writable board.
pub fn show(ui: &mut Ui, ws: &mut Workspace, p: &mut GridPanel) {
    let Some(id) = ws
        .single_selection()
        .filter(|e| e.kind() == Kind::Grid)
        .map(|e| e.id().to_owned())
    else {
        return;
    };
    if ws.board.read_only().is_some() {
        return;
    }
    let Some(view) = ws.board.grid_view(&id) else {
        return;
    };
    if p.grid.as_deref() != Some(id.as_str()) {
        *p = GridPanel {
            grid: Some(id.clone()),
            new_role: p.new_role,
            ..GridPanel::default()
        };
    }
    let grid = view.grid;
    // The chosen track may have gone (undo, a collaborator).
    if let Some((axis, t)) = &p.chosen
        && track_title(&grid, *axis, t).is_none()
    {
        p.chosen = None;
    }
    let ctx = ui.ctx().clone();
    let mut result = Ok(());
    egui::Area::new(egui::Id::unique("grid panel"))
        .anchor(Align2::RIGHT_TOP, vec2(-12.0, 120.0))
        .order(egui::Order::Foreground)
        .show(&ctx, |ui| {
            egui::Frame::popup(ui.style())
                .inner_margin(8.0)
                .show(ui, |ui| {
                    ui.set_max_width(300.0);
                    result = contents(ui, ws, p, &id, &grid);
                });
        });
    if let Err(e) = result {
        ws.message = Some(e.to_string());
    }
    ws.sync();
}

fn contents(
    ui: &mut Ui,
    ws: &mut Workspace,
    p: &mut GridPanel,
    id: &str,
    grid: &Grid,
) -> Result<(), touchpoint_crdt::EditError> {
    let b = &mut ws.board;
    let title = if grid.title.is_empty() {
        "Grid"
    } else {
        grid.title.as_str()
    };
    ui.label(RichText::new(title).strong());
    ui.label("Stages");
    ui.horizontal_wrapped(|ui| {
        for s in &grid.stages {
            let on = p.chosen.as_ref() == Some(&(Axis::Stage, s.id.clone()));
            if ui.selectable_label(on, &s.title).clicked() {
                p.choose(grid, Axis::Stage, s.id.clone());
            }
        }
    });
    ui.label("Lanes");
    ui.horizontal_wrapped(|ui| {
        for l in &grid.lanes {
            let on = p.chosen.as_ref() == Some(&(Axis::Lane, l.id.clone()));
            if ui.selectable_label(on, &l.title).clicked() {
                p.choose(grid, Axis::Lane, l.id.clone());
            }
        }
    });
    ui.separator();
    let mut added = None;
    ui.horizontal(|ui| {
        if ui.button("Add stage").clicked() {
            let at = insert_index(grid, p.chosen.as_ref(), Axis::Stage);
            added = Some((Axis::Stage, b.add_stage(id, at, NEW_STAGE)));
        }
        if ui.button("Add lane").clicked() {
            let at = insert_index(grid, p.chosen.as_ref(), Axis::Lane);
            added = Some((Axis::Lane, b.add_lane(id, at, NEW_LANE, p.new_role)));
        }
        let l = ui.label("as");
        egui::ComboBox::from_id_salt("new lane role")
            .selected_text(role_name(p.new_role))
            .show_ui(ui, |ui| {
                for r in [LaneRole::Cards, LaneRole::Emotion, LaneRole::Line] {
                    ui.selectable_value(&mut p.new_role, r, role_name(r));
                }
            })
            .response
            .labelled_by(l.id);
    });
    if let Some((axis, r)) = added {
        let new = r?;
        // Chosen at once, its title ready to type over.
        p.chosen = Some((axis, new));
        p.title = if axis == Axis::Stage {
            NEW_STAGE
        } else {
            NEW_LANE
        }
        .to_owned();
        return Ok(());
    }
    let Some((axis, track)) = p.chosen.clone() else {
        ui.label(RichText::new("Choose a stage or lane to edit it.").weak());
        return Ok(());
    };
    ui.separator();
    let (index, len, size) = match axis {
        Axis::Stage => (
            grid.stage_index(&track),
            grid.stages.len(),
            grid.stages.iter().find(|s| s.id == track).map(|s| s.width),
        ),
        Axis::Lane => (
            grid.lane_index(&track),
            grid.lanes.len(),
            grid.lanes.iter().find(|l| l.id == track).map(|l| l.height),
        ),
    };
    let (Some(index), Some(size)) = (index, size) else {
        return Ok(());
    };
    let what = if axis == Axis::Stage { "stage" } else { "lane" };
    ui.horizontal(|ui| {
        let l = ui.label("Title");
        let edit = ui
            .add(egui::TextEdit::singleline(&mut p.title).desired_width(150.0))
            .labelled_by(l.id);
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let current = track_title(grid, axis, &track).unwrap_or_default();
        if (ui.button("Rename").clicked() || enter) && p.title != current {
            b.rename_track(id, axis, &track, p.title.trim())
        } else {
            Ok(())
        }
    })
    .inner?;
    let (back, fwd) = match axis {
        Axis::Stage => ("◀ Move left", "Move right ▶"),
        Axis::Lane => ("▲ Move up", "Move down ▼"),
    };
    let mut to = None;
    ui.horizontal(|ui| {
        let prev = step(index, len, false);
        if ui
            .add_enabled(prev.is_some(), egui::Button::new(back))
            .clicked()
        {
            to = prev;
        }
        let next = step(index, len, true);
        if ui
            .add_enabled(next.is_some(), egui::Button::new(fwd))
            .clicked()
        {
            to = next;
        }
    });
    if let Some(to) = to {
        b.move_track(id, axis, &track, to)?;
    }
    let new_size = ui
        .horizontal(|ui| {
            let l = ui.label(if axis == Axis::Stage {
                "Width"
            } else {
                "Height"
            });
            let key = format!("size {track}");
            on_release(&mut p.pending, &key, size, |v| {
                ui.add(
                    egui::DragValue::new(v)
                        .range(touchpoint_crdt::grid::MIN_TRACK..=4000.0)
                        .speed(2.0),
                )
                .labelled_by(l.id)
            })
        })
        .inner;
    if let Some(s) = new_size {
        b.resize_track(id, axis, &track, s)?;
    }
    if let Some(lane) = grid
        .lanes
        .iter()
        .find(|l| axis == Axis::Lane && l.id == track && l.role == LaneRole::Emotion)
    {
        ui.label("Emotion per stage (-1 low, 1 high)");
        for s in &grid.stages {
            let current = lane.points.get(&s.id).copied();
            let key = format!("emotion {} {}", lane.id, s.id);
            let set = ui
                .horizontal(|ui| {
                    let l = ui.label(&s.title);
                    let v = on_release(&mut p.pending, &key, current.unwrap_or(0.0), |v| {
                        ui.add(egui::Slider::new(v, -1.0..=1.0).step_by(0.1))
                            .labelled_by(l.id)
                    });
                    let clear = current.is_some()
                        && ui
                            .small_button("Clear")
                            .on_hover_text("No point at this stage")
                            .clicked();
                    if clear { Some(None) } else { v.map(Some) }
                })
                .inner;
            if let Some(v) = set {
                // Slider steps of 0.1 as written, not 0.9000000000000001.
                let v = v.map(|v| (v * 100.0).round() / 100.0);
                b.set_emotion(id, &lane.id, &s.id, v)?;
            }
        }
    }
    let remove = ui
        .button(format!("Remove {what}"))
        .on_hover_text("Deletes the stickies in its cells too (Ctrl+Z brings all back)");
    if remove.clicked() {
        b.remove_track(id, axis, &track)?;
        p.chosen = None;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use touchpoint_crdt::{NewStage, Stage};

    use super::*;

    fn grid(stages: usize) -> Grid {
        Grid {
            stages: (0..stages)
                .map(|i| Stage {
                    id: format!("s{i}"),
                    title: NewStage::new("x").title,
                    width: 320.0,
                })
                .collect(),
            ..Grid::default()
        }
    }

    #[test]
    fn new_tracks_go_after_the_chosen_one_or_at_the_end() {
        let g = grid(3);
        assert_eq!(insert_index(&g, None, Axis::Stage), usize::MAX);
        let chosen = (Axis::Stage, "s1".to_owned());
        assert_eq!(insert_index(&g, Some(&chosen), Axis::Stage), 2);
        // A chosen stage says nothing about where a lane goes.
        assert_eq!(insert_index(&g, Some(&chosen), Axis::Lane), usize::MAX);
        let gone = (Axis::Stage, "s9".to_owned());
        assert_eq!(insert_index(&g, Some(&gone), Axis::Stage), usize::MAX);
    }

    #[test]
    fn steps_stop_at_both_ends() {
        assert_eq!(step(0, 3, false), None);
        assert_eq!(step(0, 3, true), Some(1));
        assert_eq!(step(2, 3, true), None);
        assert_eq!(step(2, 3, false), Some(1));
        assert_eq!(step(0, 1, true), None);
    }
}
