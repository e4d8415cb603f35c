//! The service design toolkit's panels, driven through the accessibility
//! tree with egui_kittest (no window): the template picker, the grid panel,
//! dot voting, the timer and CSV export.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use touchpoint::ui::panels::{self, Panels};
use touchpoint_crdt::{Axis, NewElement};
use touchpoint_editor::workspace::Workspace;

struct State {
    ws: Workspace,
    panels: Panels,
    /// The user's name (the profile's, in the window).
    me: String,
    dir: tempfile::TempDir,
}

fn state() -> State {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_create(&dir.path().join("workshop.tpboard")).unwrap();
    State {
        ws,
        panels: Panels::default(),
        me: "Me".to_owned(),
        dir,
    }
}

fn harness(state: State) -> Harness<'static, State> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .with_context_setup(touchpoint::ui::setup_egui)
        .build_ui_state(
            |ui, s: &mut State| {
                panels::show(ui, &mut s.ws, &mut s.panels, &s.me);
            },
            state,
        )
}

/// A board with a journey map inserted (not through the UI).
fn with_journey_map(s: &mut State) -> String {
    let t = touchpoint_editor::templates::load("journey-map").unwrap();
    let ins = t.insert(&mut s.ws.board, None).unwrap();
    s.ws.sync();
    ins.grids[0].id.clone()
}

#[test]
fn the_template_picker_inserts_a_journey_map_in_one_undo_step() {
    let mut h = harness(state());
    h.run();
    h.get_by_label("Templates").click();
    h.run();
    assert!(h.query_by_label("Service blueprint").is_some(), "listed");
    h.get_by_label("User journey map").click();
    h.run();
    let s = h.state();
    let grids = s.ws.board.grid_ids();
    assert_eq!(grids.len(), 1, "one grid inserted");
    let view = s.ws.board.grid_view(&grids[0]).unwrap();
    assert_eq!(view.grid.stages[0].title, "Discover");
    assert!(s.ws.tools.selection().contains(&grids[0]), "selected");
    assert!(!s.panels.templates.open, "the picker closes");
    // It landed in view.
    let g = view.geom;
    let mid = touchpoint_scene::geom::Vec2::new(g.x + g.w / 2.0, g.y + g.h / 2.0);
    assert!(s.ws.camera.visible_world_rect().contains(mid));
    // One undo removes all of it.
    h.get_by_label("Undo").click();
    h.run();
    assert_eq!(h.state().ws.board.len(), 0);
}

#[test]
fn the_grid_panel_adds_and_renames_a_stage() {
    let mut s = state();
    let grid = with_journey_map(&mut s);
    s.ws.tools.set_selection([grid.clone()]);
    let stages_before = s.ws.board.grid_view(&grid).unwrap().grid.stages.len();
    let mut h = harness(s);
    h.run();
    h.get_by_label("Add stage").click();
    h.run();
    let stages = h.state().ws.board.grid_view(&grid).unwrap().grid.stages;
    assert_eq!(stages.len(), stages_before + 1);
    assert_eq!(stages.last().unwrap().title, "New stage");
    // The new stage is chosen with its title ready to type over.
    h.get_by_label("Title").focus();
    h.run();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run();
    h.get_by_label("Title").type_text("Pay");
    h.run();
    h.get_by_label("Rename").click();
    h.run();
    let stages = h.state().ws.board.grid_view(&grid).unwrap().grid.stages;
    assert_eq!(stages.last().unwrap().title, "Pay");
    // Moved one step left.
    h.get_by_label("◀ Move left").click();
    h.run();
    let stages = h.state().ws.board.grid_view(&grid).unwrap().grid.stages;
    assert_eq!(stages[stages.len() - 2].title, "Pay");
    // Removed again; a lane is added after that.
    h.get_by_label("Remove stage").click();
    h.run();
    let view = h.state().ws.board.grid_view(&grid).unwrap();
    assert_eq!(view.grid.stages.len(), stages_before);
    let lanes = view.grid.lanes.len();
    h.get_by_label("Add lane").click();
    h.run();
    let view = h.state().ws.board.grid_view(&grid).unwrap();
    assert_eq!(view.grid.lanes.len(), lanes + 1);
    let (axis, _) = h.state().panels.grid.chosen.clone().unwrap();
    assert_eq!(axis, Axis::Lane);
}

#[test]
fn voting_starts_takes_votes_up_to_the_quota_and_reveals_a_tally() {
    let mut s = state();
    let a =
        s.ws.board
            .create(NewElement::sticky(0.0, 0.0, "Queue at desk"))
            .unwrap();
    let b =
        s.ws.board
            .create(NewElement::sticky(300.0, 0.0, "Lost form"))
            .unwrap();
    s.ws.sync();
    s.me = "Ana".to_owned();
    s.panels.workshop.votes = 1;
    let mut h = harness(s);
    h.run();
    h.get_by_label("Workshop").click();
    h.run();
    h.get_by_label("Start vote").click();
    h.run();
    assert!(h.query_by_label("Votes left: 1").is_some());
    // Both selected, one vote each: only one vote is left to place.
    h.state_mut().ws.tools.set_selection([a.clone(), b.clone()]);
    h.run();
    h.get_by_label("Vote on selection").click();
    h.run();
    assert!(h.query_by_label("Votes left: 0").is_some());
    // Disabled now: another click places nothing, and the count stays 0.
    h.get_by_label("Vote on selection").click();
    h.run();
    assert!(h.query_by_label("Votes left: 0").is_some());
    let session = h.state().ws.board.open_vote().unwrap().id;
    assert_eq!(h.state().ws.board.votes_left(&session, "Ana"), 0);
    // Taking it back and voting on one sticky only.
    h.state_mut().ws.tools.set_selection([a.clone(), b.clone()]);
    h.get_by_label("Remove my vote").click();
    h.run();
    assert!(h.query_by_label("Votes left: 1").is_some());
    h.state_mut().ws.tools.set_selection([b.clone()]);
    h.run();
    h.get_by_label("Vote on selection").click();
    h.run();
    h.get_by_label("End vote").click();
    h.run();
    assert!(h.query_by_label("Results").is_some());
    assert!(
        h.query_by_label("Lost form").is_some(),
        "tally names the sticky"
    );
    let tally = h.state().ws.board.vote_tally(&session).unwrap();
    assert_eq!(tally.per_target.get(&b), Some(&1));
    assert_eq!(tally.per_target.get(&a), None);
    assert_eq!(
        h.state().panels.workshop.shown.as_deref(),
        Some(session.as_str())
    );
    assert!(
        h.query_by_label("Start vote").is_some(),
        "ready for the next"
    );
}

#[test]
fn the_timer_counts_down_in_the_panel_and_the_status_bar() {
    let mut s = state();
    s.panels.workshop.open = true;
    s.panels.workshop.minutes = 2.0;
    let mut h = harness(s);
    h.run();
    h.get_by_label("Start timer").click();
    h.run();
    let shown = ["02:00", "01:59"]
        .iter()
        .any(|t| h.query_by_label(t).is_some());
    assert!(shown, "the countdown is shown");
    assert!(
        h.query_by_label_contains("Timer 0").is_some(),
        "and in the status bar"
    );
    assert!(h.state().ws.board.timer().is_some());
    h.get_by_label("Pause").click();
    h.run();
    assert!(h.state().ws.board.timer().unwrap().is_paused());
    assert!(h.query_by_label_contains("(paused)").is_some());
    h.get_by_label("Resume").click();
    h.run();
    assert!(!h.state().ws.board.timer().unwrap().is_paused());
    h.get_by_label("Stop").click();
    h.run();
    assert!(h.state().ws.board.timer().is_none());
    assert!(h.query_by_label("Start timer").is_some());
}

#[test]
fn csv_export_from_the_file_menu_writes_what_write_csv_writes() {
    let mut s = state();
    with_journey_map(&mut s);
    let out = s.dir.path().join("journey.csv");
    let mut h = harness(s);
    h.run();
    h.get_by_label("File").click();
    h.run();
    h.get_by_label("Export CSV…").click();
    h.run();
    assert!(h.state().panels.csv.open);
    h.state_mut().panels.csv.path = out.display().to_string();
    h.run();
    h.get_by_label("Export").click();
    h.run();
    let mut expected = Vec::new();
    touchpoint_scene::export::csv::write_csv(&h.state().ws.board, None, &mut expected).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), expected);
    assert!(!h.state().panels.csv.open);
    let message = h.state().ws.message.clone().unwrap_or_default();
    assert!(message.starts_with("Exported CSV"), "{message}");
}
