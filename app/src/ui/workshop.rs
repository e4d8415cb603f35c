//! The workshop panel (toolbar ◔ or File > Workshop): dot voting, the shared
//! timer and the tidy helpers, all stored in the board document so that
//! every participant sees them once collaboration is on.
//!
//! - Voting: the facilitator (this user's display name) starts a session
//!   with N votes each; each participant puts votes on selected stickies
//!   ("Vote on selection", "Remove my vote") while votes are left; the
//!   facilitator ends it, which reveals the tally here and as badges over
//!   the stickies on the canvas. While a session is open a participant sees
//!   only their own dots.
//! - Timer: start with minutes, pause, resume, stop; the time left shows
//!   large here and in the status bar, repainted every 250 ms while running.
//! - Tidy: the selection into a grid, or into rows by colour or by author
//!   (one undo step each). Stickies in a grid's cell are left to the grid.

use std::time::Duration;

use egui::{Color32, RichText, Ui, vec2};
use touchpoint_crdt::tidy::{self, Placement, SortBy};
use touchpoint_crdt::{Board, EditError, Kind};

use crate::ui::overlay;
use touchpoint_editor::workspace::Workspace;

/// How often the countdown repaints while the timer runs.
pub const TIMER_REPAINT: Duration = Duration::from_millis(250);

/// Votes each, when the panel opens.
pub const DEFAULT_VOTES: u32 = 3;

/// Timer length, when the panel opens (minutes).
pub const DEFAULT_MINUTES: f64 = 5.0;

/// The workshop panel's state between frames.
#[derive(Debug)]
pub struct Workshop {
    pub open: bool,
    /// Votes each for the next session.
    pub votes: u32,
    /// Length of the next timer, minutes.
    pub minutes: f64,
    /// The closed session whose results are shown (panel and badges).
    pub shown: Option<String>,
}

impl Default for Workshop {
    fn default() -> Self {
        Workshop {
            open: false,
            votes: DEFAULT_VOTES,
            minutes: DEFAULT_MINUTES,
            shown: None,
        }
    }
}

/// This machine's clock, unix milliseconds (the timer and votes' clock).
pub fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Time left as `mm:ss` (`h:mm:ss` from an hour), seconds rounded up, so a
/// five-minute timer reads 05:00 when it starts and 00:00 only at the end.
pub fn format_remaining(ms: f64) -> String {
    let total = (ms.max(0.0) / 1000.0).ceil() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// Places one of `voter`'s votes on each target, in order, while votes are
/// left (never more: the rest are skipped). Returns how many were placed.
pub fn vote_on(
    board: &mut Board,
    session: &str,
    voter: &str,
    targets: &[String],
) -> Result<usize, EditError> {
    let mut placed = 0;
    for t in targets {
        if board.votes_left(session, voter) == 0 {
            break;
        }
        board.place_vote(session, voter, t)?;
        placed += 1;
    }
    Ok(placed)
}

/// Takes back one of `voter`'s votes from each target that has one.
/// Returns how many were removed.
pub fn unvote(
    board: &mut Board,
    session: &str,
    voter: &str,
    targets: &[String],
) -> Result<usize, EditError> {
    let mut removed = 0;
    for t in targets {
        if board.remove_vote(session, voter, t)? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// The selected stickies, in id order (what votes go on).
fn selected_stickies(ws: &Workspace) -> Vec<String> {
    ws.tools
        .selection()
        .iter()
        .filter(|id| ws.scene.get(id).is_some_and(|e| e.kind() == Kind::Sticky))
        .cloned()
        .collect()
}

/// How a tidy button arranges the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tidy {
    Grid,
    Sort(SortBy),
}

/// New positions for the elements `ids` (those on the board and not in a
/// grid's cell: the grid lays those out itself).
pub fn tidy_placements(board: &Board, ids: &[String], how: Tidy) -> Vec<Placement> {
    let els: Vec<_> = ids
        .iter()
        .filter(|id| board.cell_of(id).is_none())
        .filter_map(|id| board.element(id))
        .collect();
    match how {
        Tidy::Grid => tidy::tidy_grid(&els, None),
        Tidy::Sort(by) => tidy::sort_into_rows(&els, by),
    }
}

/// Tidies the selection in one undo step; a refusal becomes the message.
pub fn tidy_selection(ws: &mut Workspace, how: Tidy) {
    let ids: Vec<String> = ws.tools.selection().iter().cloned().collect();
    let placements = tidy_placements(&ws.board, &ids, how);
    if placements.is_empty() {
        ws.message = Some("Select stickies outside grids to tidy".to_owned());
        return;
    }
    if let Err(e) = ws.board.set_positions(&placements) {
        ws.message = Some(e.to_string());
    }
    ws.sync();
}

/// A sticky's text for the results list: its first line, shortened.
fn label_of(ws: &Workspace, id: &str) -> String {
    let text = ws
        .board
        .element(id)
        .and_then(|e| e.body.text().map(str::to_owned));
    match text {
        None => "(deleted)".to_owned(),
        Some(t) => {
            let line = t.lines().next().unwrap_or("").trim();
            if line.is_empty() {
                "(empty)".to_owned()
            } else if line.chars().count() > 40 {
                format!("{}…", line.chars().take(39).collect::<String>())
            } else {
                line.to_owned()
            }
        }
    }
}

const RESULT: Color32 = Color32::from_rgb(0xd9, 0x3a, 0x2b);
const OWN: Color32 = Color32::from_rgb(0x42, 0x62, 0xff);

fn report(ws: &mut Workspace, r: Result<(), EditError>) {
    match r {
        Ok(()) => ws.mark_dirty(),
        Err(e) => ws.message = Some(e.to_string()),
    }
}

/// The workshop panel (when open), the vote badges on the canvas and the
/// timer's repaints.
pub fn show(ui: &mut Ui, ws: &mut Workspace, state: &mut Workshop, me: &str) -> bool {
    let mut change_name = false;
    let open_vote = ws.board.open_vote();
    // Badges: the revealed results, or (while voting) this user's own dots.
    let badges: Vec<(String, u32, Color32)> = if let Some(s) = &open_vote {
        ws.board
            .vote_tally(&s.id)
            .and_then(|t| t.per_voter.get(me).cloned())
            .unwrap_or_default()
            .into_iter()
            .map(|(id, n)| (id, n, OWN))
            .collect()
    } else if let Some(shown) = &state.shown {
        ws.board
            .vote_tally(shown)
            .map(|t| t.per_target)
            .unwrap_or_default()
            .into_iter()
            .map(|(id, n)| (id, n, RESULT))
            .collect()
    } else {
        Vec::new()
    };
    if !badges.is_empty() {
        // On the canvas's own layer, after its chrome: under every panel.
        let painter = ui.ctx().layer_painter(egui::LayerId::background());
        overlay::vote_badges(&painter, &ws.camera, &ws.scene, &badges);
    }
    let now = now_ms();
    if ws
        .board
        .timer()
        .is_some_and(|t| !t.is_paused() && !t.is_finished(now))
    {
        ui.ctx().request_repaint_after(TIMER_REPAINT);
    }
    if !state.open {
        return false;
    }
    let ctx = ui.ctx().clone();
    let mut open = true;
    egui::Window::new("Workshop")
        .collapsible(true)
        .resizable(false)
        .default_pos(ctx.content_rect().right_bottom() - vec2(300.0, 560.0))
        .open(&mut open)
        .show(&ctx, |ui| {
            ui.set_width(260.0);
            ui.horizontal(|ui| {
                // The one name of this user: the same the others see beside
                // the cursor (crate::profile).
                ui.label("You are");
                ui.label(RichText::new(me).strong());
                if ui
                    .small_button("Change…")
                    .on_hover_text("Your name and colour, for votes and for the others")
                    .clicked()
                {
                    change_name = true;
                }
            });
            ui.separator();
            voting(ui, ws, state, me, open_vote.as_ref());
            ui.separator();
            timer(ui, ws, state, me, now);
            ui.separator();
            ui.label(RichText::new("Tidy").strong());
            let several = ws.tools.selection().len() >= 2;
            ui.horizontal_wrapped(|ui| {
                if ui
                    .add_enabled(several, egui::Button::new("Tidy into a grid"))
                    .clicked()
                {
                    tidy_selection(ws, Tidy::Grid);
                }
                if ui
                    .add_enabled(several, egui::Button::new("Sort by colour"))
                    .clicked()
                {
                    tidy_selection(ws, Tidy::Sort(SortBy::Colour));
                }
                if ui
                    .add_enabled(several, egui::Button::new("Sort by author"))
                    .clicked()
                {
                    tidy_selection(ws, Tidy::Sort(SortBy::Author));
                }
            });
        });
    if !open {
        state.open = false;
    }
    change_name
}

fn voting(
    ui: &mut Ui,
    ws: &mut Workspace,
    state: &mut Workshop,
    me: &str,
    open_vote: Option<&touchpoint_crdt::voting::VoteSession>,
) {
    ui.label(RichText::new("Dot voting").strong());
    let writable = ws.board.read_only().is_none();
    match open_vote {
        Some(s) => {
            ui.label(format!(
                "Voting is open: {} votes each (facilitator: {})",
                s.votes_per_person, s.facilitator
            ));
            let left = ws.board.votes_left(&s.id, me);
            ui.label(RichText::new(format!("Votes left: {left}")).size(16.0));
            let targets = selected_stickies(ws);
            ui.horizontal(|ui| {
                let vote = ui
                    .add_enabled(
                        writable && left > 0 && !targets.is_empty(),
                        egui::Button::new("Vote on selection"),
                    )
                    .on_hover_text("One vote on each selected sticky");
                if vote.clicked() {
                    let r = vote_on(&mut ws.board, &s.id, me, &targets).map(|_| ());
                    report(ws, r);
                }
                if ui
                    .add_enabled(
                        writable && !targets.is_empty(),
                        egui::Button::new("Remove my vote"),
                    )
                    .clicked()
                {
                    let r = unvote(&mut ws.board, &s.id, me, &targets).map(|_| ());
                    report(ws, r);
                }
            });
            if targets.is_empty() {
                ui.label(RichText::new("Select stickies to vote on them.").weak());
            }
            let facilitator = s.facilitator == me;
            let end = ui
                .add_enabled(writable && facilitator, egui::Button::new("End vote"))
                .on_disabled_hover_text(format!("Only {} can end this vote", s.facilitator));
            if end.clicked() {
                match ws.board.end_vote(&s.id, me) {
                    Ok(_) => {
                        ws.mark_dirty();
                        state.shown = Some(s.id.clone());
                    }
                    Err(e) => ws.message = Some(e.to_string()),
                }
            }
        }
        None => {
            ui.horizontal(|ui| {
                let l = ui.label("Votes each");
                ui.add(
                    egui::DragValue::new(&mut state.votes)
                        .range(1..=touchpoint_crdt::voting::MAX_VOTES_PER_PERSON),
                )
                .labelled_by(l.id);
                if ui
                    .add_enabled(writable, egui::Button::new("Start vote"))
                    .clicked()
                {
                    match ws.board.start_vote(me, state.votes, now_ms()) {
                        Ok(_) => {
                            ws.mark_dirty();
                            state.shown = None;
                        }
                        Err(e) => ws.message = Some(e.to_string()),
                    }
                }
            });
            let last_closed = ws
                .board
                .vote_sessions()
                .into_iter()
                .rev()
                .find(|s| s.revealed());
            match (&state.shown, last_closed) {
                (Some(shown), _) => {
                    let shown = shown.clone();
                    results(ui, ws, &shown);
                    if ui.button("Hide results").clicked() {
                        state.shown = None;
                    }
                }
                (None, Some(last)) => {
                    if ui.button("Show last results").clicked() {
                        state.shown = Some(last.id);
                    }
                }
                (None, None) => {}
            }
        }
    }
}

fn results(ui: &mut Ui, ws: &mut Workspace, session: &str) {
    let Some(tally) = ws.board.vote_tally(session) else {
        return;
    };
    let ranking = tally.ranking();
    ui.label(RichText::new("Results").strong());
    if ranking.is_empty() {
        ui.label("No votes were placed.");
        return;
    }
    egui::Grid::new("vote results")
        .striped(true)
        .show(ui, |ui| {
            for (id, n) in ranking.iter().take(20) {
                let l = ui.label(label_of(ws, id));
                ui.label(RichText::new(n.to_string()).strong().color(RESULT));
                if l.clicked() {
                    ws.tools.set_selection([id.clone()]);
                }
                ui.end_row();
            }
        });
    if ranking.len() > 20 {
        ui.label(format!("and {} more", ranking.len() - 20));
    }
}

fn timer(ui: &mut Ui, ws: &mut Workspace, state: &mut Workshop, me: &str, now: f64) {
    ui.label(RichText::new("Timer").strong());
    let writable = ws.board.read_only().is_none();
    match ws.board.timer() {
        None => {
            ui.horizontal(|ui| {
                let l = ui.label("Minutes");
                ui.add(
                    egui::DragValue::new(&mut state.minutes)
                        .range(0.5..=24.0 * 60.0)
                        .speed(0.5),
                )
                .labelled_by(l.id);
                if ui
                    .add_enabled(writable, egui::Button::new("Start timer"))
                    .clicked()
                {
                    let ms = state.minutes * 60_000.0;
                    let r = ws.board.start_timer(ms, now_ms(), me);
                    report(ws, r);
                }
            });
        }
        Some(t) => {
            let left = t.remaining_ms(now);
            let text = if t.is_finished(now) {
                "Time's up".to_owned()
            } else {
                format_remaining(left)
            };
            ui.label(RichText::new(text).size(36.0).monospace());
            ui.horizontal(|ui| {
                if t.is_paused() {
                    if ui
                        .add_enabled(writable, egui::Button::new("Resume"))
                        .clicked()
                    {
                        let r = ws.board.resume_timer(now_ms());
                        report(ws, r);
                    }
                } else if !t.is_finished(now)
                    && ui
                        .add_enabled(writable, egui::Button::new("Pause"))
                        .clicked()
                {
                    let r = ws.board.pause_timer(now_ms());
                    report(ws, r);
                }
                if ui
                    .add_enabled(writable, egui::Button::new("Stop"))
                    .clicked()
                {
                    let r = ws.board.stop_timer();
                    report(ws, r);
                }
            });
            if !t.by.is_empty() {
                ui.label(RichText::new(format!("Started by {}", t.by)).weak());
            }
        }
    }
}

/// The timer in the status bar, while there is one.
pub fn status_timer(ui: &mut Ui, ws: &Workspace) {
    let Some(t) = ws.board.timer() else { return };
    let now = now_ms();
    ui.separator();
    let text = if t.is_finished(now) {
        "Timer: time's up".to_owned()
    } else if t.is_paused() {
        format!("Timer {} (paused)", format_remaining(t.remaining_ms(now)))
    } else {
        format!("Timer {}", format_remaining(t.remaining_ms(now)))
    };
    ui.label(RichText::new(text).strong().monospace());
}

#[cfg(test)]
mod tests {
    use touchpoint_crdt::{Color, NewElement, StylePatch};

    use super::*;

    #[test]
    fn remaining_time_rounds_up_to_the_second() {
        assert_eq!(format_remaining(300_000.0), "05:00");
        assert_eq!(format_remaining(299_001.0), "05:00");
        assert_eq!(format_remaining(299_000.0), "04:59");
        assert_eq!(format_remaining(1.0), "00:01");
        assert_eq!(format_remaining(0.0), "00:00");
        assert_eq!(format_remaining(-5.0), "00:00");
        assert_eq!(format_remaining(3_600_000.0 + 61_000.0), "1:01:01");
    }

    #[test]
    fn votes_on_a_selection_stop_at_the_quota_and_come_back() {
        let mut b = Board::new();
        let ids: Vec<String> = (0..4)
            .map(|i| {
                b.create(NewElement::sticky(f64::from(i) * 300.0, 0.0, "x"))
                    .unwrap()
            })
            .collect();
        let s = b.start_vote("Ana", 3, 0.0).unwrap();
        assert_eq!(vote_on(&mut b, &s, "Bo", &ids).unwrap(), 3);
        assert_eq!(b.votes_left(&s, "Bo"), 0);
        assert_eq!(vote_on(&mut b, &s, "Bo", &ids).unwrap(), 0, "none left");
        assert_eq!(unvote(&mut b, &s, "Bo", &ids[..1]).unwrap(), 1);
        assert_eq!(
            unvote(&mut b, &s, "Bo", &ids[3..]).unwrap(),
            0,
            "none there"
        );
        assert_eq!(b.votes_left(&s, "Bo"), 1);
        let tally = b.end_vote(&s, "Ana").unwrap();
        assert_eq!(tally.used("Bo"), 2);
    }

    #[test]
    fn tidy_leaves_stickies_in_cells_and_sorts_the_others() {
        let mut b = Board::new();
        let t = touchpoint_editor::templates::load("kanban").unwrap();
        let ins = t.insert(&mut b, Some([0.0, -2000.0])).unwrap();
        let in_cell = ins.grids[0].contents.clone();
        let mut free = Vec::new();
        for (i, c) in [0usize, 1, 0, 1].iter().enumerate() {
            let id = b
                .create(NewElement::sticky(f64::from(i as u32) * 250.0, 0.0, "n"))
                .unwrap();
            b.restyle(
                &[&id],
                StylePatch {
                    fill: Some(Some(Color::STICKY_PALETTE[*c])),
                    ..StylePatch::default()
                },
            )
            .unwrap();
            free.push(id);
        }
        let mut all = free.clone();
        all.extend(in_cell.iter().cloned());
        let p = tidy_placements(&b, &all, Tidy::Sort(SortBy::Colour));
        assert_eq!(p.len(), free.len(), "cell members are left alone");
        // Two rows, one per colour.
        let ys: std::collections::BTreeSet<i64> = p.iter().map(|p| p.y as i64).collect();
        assert_eq!(ys.len(), 2);
        assert_eq!(tidy_placements(&b, &all, Tidy::Grid).len(), 4);
    }
}
