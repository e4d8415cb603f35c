//! Collaboration in the window: the Share and Join dialogs, the name and
//! colour asked once, the participants card (follow, bring everyone), the
//! connection status, and collaborators' cursors and selections on the canvas.
//!
//! Joining another board needs the window (it opens the local copy), so it
//! comes back as a [`CollabCommand`]; the rest acts on [`Collab`] directly.

use egui::{Align2, Color32, FontId, Pos2, RichText, Shape, Stroke, StrokeKind, Ui, vec2};

use crate::collab::Collab;
use crate::collab::presence::Peer;
use crate::collab::session::{Session, Status};
use crate::profile::{self, Profile};
use crate::ui::overlay::to_points;
use touchpoint_editor::workspace::Workspace;

/// What the collaboration panels ask the window to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollabCommand {
    /// Open the local copy of the link's board and join its room.
    Join(String),
}

/// What to do once the user has said who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    Nothing,
    Share,
    Join,
}

/// A dialog asked for from elsewhere (the File menu), opened by [`show`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Share,
    Join,
}

/// Dialog state that outlives a frame.
#[derive(Debug, Default)]
pub struct CollabPanel {
    pub request: Option<Request>,
    pub share_open: bool,
    pub join_open: bool,
    pub join_input: String,
    pub editor_input: String,
    pub viewer_input: String,
    profile_open: bool,
    profile_name: String,
    profile_color: usize,
    then: Option<Then>,
    error: Option<String>,
}

impl CollabPanel {
    /// Opens the Share dialog, asking for a name first if none is known.
    pub fn open_share(&mut self, collab: &Collab) {
        self.error = None;
        if collab.profile().is_none() {
            self.ask_profile(collab, Then::Share);
        } else {
            self.share_open = true;
        }
    }

    pub fn open_join(&mut self, collab: &Collab) {
        self.error = None;
        if collab.profile().is_none() {
            self.ask_profile(collab, Then::Join);
        } else {
            self.join_open = true;
        }
    }

    /// Asks for the name and colour (also from the participants card).
    fn ask_profile(&mut self, collab: &Collab, then: Then) {
        let current = collab.profile().cloned();
        self.profile_name = current
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_else(profile::default_name);
        self.profile_color = current
            .and_then(|p| profile::PALETTE.iter().position(|c| *c == p.rgb()))
            .unwrap_or(4);
        self.profile_open = true;
        self.then = Some(then);
    }

    /// Asks for the name and colour again (the workshop panel's Change…).
    pub fn edit_profile(&mut self, collab: &Collab) {
        self.ask_profile(collab, Then::Nothing);
    }

    /// Asks for a name at start when joining by link without one: the
    /// session runs meanwhile under `$USER`.
    pub fn ask_profile_if_unknown(&mut self, collab: &Collab) {
        if collab.profile().is_none() {
            self.ask_profile(collab, Then::Nothing);
        }
    }
}

/// Draws the collaboration interface; returns what the window must do.
pub fn show(
    ui: &mut Ui,
    ws: &mut Workspace,
    panel: &mut CollabPanel,
    collab: &mut Collab,
) -> Vec<CollabCommand> {
    let mut commands = Vec::new();
    match panel.request.take() {
        Some(Request::Share) => panel.open_share(collab),
        Some(Request::Join) => panel.open_join(collab),
        None => {}
    }
    if let Some(session) = collab.session() {
        paint_peers(ui, ws, session);
    }
    participants(ui, ws, panel, collab);
    follow_banner(ui, collab);
    profile_dialog(ui, panel, collab);
    share_dialog(ui, ws, panel, collab);
    join_dialog(ui, panel, &mut commands);
    commands
}

fn rgb(c: [u8; 3]) -> Color32 {
    Color32::from_rgb(c[0], c[1], c[2])
}

/// The initials shown in a participant's badge.
fn initials(name: &str) -> String {
    let mut words = name.split_whitespace();
    let first = words.next().and_then(|w| w.chars().next());
    let second = words.last().and_then(|w| w.chars().next());
    [first, second]
        .into_iter()
        .flatten()
        .flat_map(char::to_uppercase)
        .collect()
}

/// A participant's round badge; `label` is what screen readers (and tests)
/// read for it.
fn badge(ui: &mut Ui, name: &str, label: &str, color: Color32, ring: bool) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(vec2(26.0, 26.0), egui::Sense::click());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, label));
    let painter = ui.painter();
    painter.circle_filled(rect.center(), 12.0, color);
    if ring {
        painter.circle_stroke(rect.center(), 12.5, Stroke::new(2.0, Color32::BLACK));
    }
    painter.text(
        rect.center(),
        Align2::CENTER_CENTER,
        initials(name),
        FontId::proportional(11.0),
        Color32::WHITE,
    );
    response
}

fn status_color(status: &Status) -> Color32 {
    match status {
        Status::Connected { .. } => Color32::from_rgb(0x2e, 0x7d, 0x32),
        Status::Connecting | Status::Reconnecting { .. } => Color32::from_rgb(0xb2, 0x6a, 0x00),
        Status::Offline { .. } | Status::Refused { .. } => Color32::from_rgb(0xc0, 0x20, 0x20),
    }
}

/// Top right: connection status, who is here (click to follow), bring
/// everyone, Share.
fn participants(ui: &mut Ui, ws: &mut Workspace, panel: &mut CollabPanel, collab: &mut Collab) {
    let ctx = ui.ctx().clone();
    let me = collab.me();
    egui::Area::new(egui::Id::unique("collab-participants"))
        .anchor(Align2::RIGHT_TOP, vec2(-12.0, 12.0))
        .order(egui::Order::Foreground)
        .show(&ctx, |ui| {
            egui::Frame::popup(ui.style())
                .inner_margin(6.0)
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        let Some(session) = collab.session_mut() else {
                            if ui
                                .button("Share")
                                .on_hover_text("Share this board")
                                .clicked()
                            {
                                panel.open_share(collab);
                            }
                            return;
                        };
                        let status = session.status();
                        ui.label(RichText::new(format!("● {status}")).color(status_color(&status)))
                            .on_hover_text(match &status {
                                Status::Offline { reason, .. } => reason.clone(),
                                _ => session.link().authority(),
                            });
                        if matches!(status, Status::Offline { .. } | Status::Refused { .. })
                            && ui.small_button("Retry").clicked()
                        {
                            session.reconnect();
                        }
                        if ws.board.read_only().is_some() {
                            ui.label(RichText::new("View only").strong());
                        }
                        ui.separator();
                        let you = format!("{} (you) — click to change", me.name);
                        if badge(ui, &me.name, &you, rgb(me.rgb()), false)
                            .on_hover_text(you.clone())
                            .clicked()
                        {
                            panel.ask_profile(collab, Then::Nothing);
                            return;
                        }
                        let Some(session) = collab.session_mut() else {
                            return;
                        };
                        let following = session.following();
                        let peers: Vec<Peer> = session.peers().iter().cloned().collect();
                        for p in &peers {
                            let is_followed = following == Some(p.client);
                            let hint = if is_followed {
                                format!("{} — following; click to stop", p.state.user.name)
                            } else {
                                format!("Follow {}", p.state.user.name)
                            };
                            if badge(ui, &p.state.user.name, &hint, rgb(p.rgb), is_followed)
                                .on_hover_text(hint.clone())
                                .clicked()
                            {
                                session.follow((!is_followed).then_some(p.client));
                            }
                        }
                        ui.label(format!("{}", peers.len() + 1))
                            .on_hover_text("people on this board");
                        if ui
                            .button("Bring everyone")
                            .on_hover_text("Move everyone's view to yours")
                            .clicked()
                        {
                            session.summon_everyone(ws);
                        }
                        if ui.button("Share").clicked() {
                            panel.share_open = true;
                        }
                    });
                    // The participants, by name, for screen readers and for
                    // telling apart two people with the same initials.
                    if let Some(session) = collab.session() {
                        let names: Vec<String> = session
                            .peers()
                            .iter()
                            .map(|p| p.state.user.name.clone())
                            .collect();
                        if !names.is_empty() {
                            ui.label(RichText::new(format!("With {}", names.join(", "))).small());
                        }
                    }
                });
        });
}

/// While following someone: their colour around the window and a way out.
fn follow_banner(ui: &mut Ui, collab: &mut Collab) {
    let Some(session) = collab.session_mut() else {
        return;
    };
    let Some(peer) = session.following().and_then(|c| session.peers().get(c)) else {
        return;
    };
    let color = rgb(peer.rgb);
    let name = peer.state.user.name.clone();
    let ctx = ui.ctx().clone();
    let screen = ctx.content_rect();
    ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::unique("follow-frame"),
    ))
    .rect_stroke(
        screen.shrink(2.0),
        0.0,
        Stroke::new(4.0, color),
        StrokeKind::Inside,
    );
    let mut stop = false;
    egui::Area::new(egui::Id::unique("follow-banner"))
        .anchor(Align2::CENTER_TOP, vec2(0.0, 10.0))
        .order(egui::Order::Foreground)
        .show(&ctx, |ui| {
            egui::Frame::popup(ui.style())
                .fill(color)
                .inner_margin(6.0)
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.label(RichText::new(format!("Following {name}")).color(Color32::WHITE));
                        stop = ui.small_button("Stop").clicked();
                    });
                });
        });
    if stop {
        session.follow(None);
    }
}

/// Collaborators' gestures in progress (translucent, as one's own), their
/// selections (outlined in their colour) and cursors (an arrow with their
/// name), under the panels.
fn paint_peers(ui: &Ui, ws: &Workspace, session: &Session) {
    let painter = ui.ctx().layer_painter(egui::LayerId::new(
        egui::Order::Middle,
        egui::Id::unique("peers"),
    ));
    let camera = &ws.camera;
    for p in session.peers().iter() {
        let color = rgb(p.rgb);
        if let Some(preview) = p.state.gesture.as_ref().and_then(|g| g.to_preview()) {
            crate::ui::overlay::paint_preview(&painter, camera, &ws.scene, &preview);
        }
        for id in &p.state.selection {
            let Some(el) = ws.scene.get(id) else { continue };
            let corners: Vec<Pos2> = el
                .rect()
                .corners()
                .iter()
                .map(|c| to_points(camera, *c))
                .collect();
            painter.add(Shape::closed_line(corners, Stroke::new(2.0, color)));
        }
        let Some(c) = p.shown_cursor else { continue };
        let at = to_points(camera, c);
        if !ui.ctx().content_rect().expand(20.0).contains(at) {
            continue;
        }
        let arrow = vec![
            at,
            at + vec2(0.0, 17.0),
            at + vec2(4.5, 13.0),
            at + vec2(8.0, 20.0),
            at + vec2(10.5, 19.0),
            at + vec2(7.0, 12.0),
            at + vec2(12.5, 12.0),
        ];
        painter.add(Shape::convex_polygon(
            arrow,
            color,
            Stroke::new(1.0, Color32::WHITE),
        ));
        let galley = painter.layout_no_wrap(
            p.state.user.name.clone(),
            FontId::proportional(12.0),
            Color32::WHITE,
        );
        let label =
            egui::Rect::from_min_size(at + vec2(12.0, 18.0), galley.size() + vec2(10.0, 4.0));
        painter.rect_filled(label, 4.0, color);
        painter.galley(label.min + vec2(5.0, 2.0), galley, Color32::WHITE);
    }
}

fn profile_dialog(ui: &mut Ui, panel: &mut CollabPanel, collab: &mut Collab) {
    if !panel.profile_open {
        return;
    }
    let ctx = ui.ctx().clone();
    let mut done = false;
    let mut cancel = false;
    egui::Window::new("Who are you?")
        .collapsible(false)
        .resizable(false)
        .anchor(Align2::CENTER_CENTER, vec2(0.0, 0.0))
        .show(&ctx, |ui| {
            ui.label(
                "Others see your cursor, selections and named votes under this name and colour.",
            );
            let label = ui.label("Your name");
            let edit = ui
                .add(egui::TextEdit::singleline(&mut panel.profile_name).desired_width(260.0))
                .labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.horizontal(|ui| {
                for (i, c) in profile::PALETTE.iter().enumerate() {
                    let (rect, response) =
                        ui.allocate_exact_size(vec2(22.0, 22.0), egui::Sense::click());
                    ui.painter().circle_filled(rect.center(), 10.0, rgb(*c));
                    if i == panel.profile_color {
                        ui.painter().circle_stroke(
                            rect.center(),
                            10.5,
                            Stroke::new(2.0, Color32::BLACK),
                        );
                    }
                    if response.on_hover_text(profile::format_color(*c)).clicked() {
                        panel.profile_color = i;
                    }
                }
            });
            ui.horizontal(|ui| {
                let ok = !profile::clean_name(&panel.profile_name).is_empty();
                if ui.add_enabled(ok, egui::Button::new("Continue")).clicked() || (enter && ok) {
                    done = true;
                }
                if ui.button("Cancel").clicked() {
                    cancel = true;
                }
            });
        });
    if cancel {
        panel.profile_open = false;
        panel.then = None;
    }
    if done {
        let chosen = Profile {
            name: profile::clean_name(&panel.profile_name),
            color: profile::format_color(
                profile::PALETTE[panel.profile_color % profile::PALETTE.len()],
            ),
        };
        match collab.set_profile(chosen) {
            Ok(()) => {
                panel.profile_open = false;
                match panel.then.take() {
                    Some(Then::Share) => panel.share_open = true,
                    Some(Then::Join) => panel.join_open = true,
                    _ => {}
                }
            }
            Err(e) => panel.error = Some(e.to_string()),
        }
    }
}

fn link_row(ui: &mut Ui, title: &str, link: &str) {
    let label = ui.label(RichText::new(title).strong());
    ui.horizontal(|ui| {
        // Selectable for copying by hand; edits to it are thrown away.
        let mut shown = link.to_owned();
        ui.add(
            egui::TextEdit::singleline(&mut shown)
                .desired_width(420.0)
                .font(egui::TextStyle::Monospace),
        )
        .labelled_by(label.id);
        if ui.button("Copy").clicked() {
            ui.ctx().copy_text(link.to_owned());
        }
    });
}

fn share_dialog(ui: &mut Ui, ws: &mut Workspace, panel: &mut CollabPanel, collab: &mut Collab) {
    if !panel.share_open {
        return;
    }
    let ctx = ui.ctx().clone();
    let mut open = true;
    egui::Window::new("Share board")
        .collapsible(false)
        .resizable(false)
        .anchor(Align2::CENTER_CENTER, vec2(0.0, 0.0))
        .open(&mut open)
        .show(&ctx, |ui| {
            if let Some(session) = collab.session() {
                let info = session.info().clone();
                ui.label(format!("Status: {}", session.status()));
                if info.hosted {
                    ui.label(
                        "This app is the server: collaborators are connected while it is open.",
                    );
                }
                match (&info.editor_link, &info.viewer_link) {
                    (None, None) => {
                        ui.label("You joined with a link; ask whoever shared it for more links.");
                    }
                    (editor, viewer) => {
                        if let Some(l) = editor {
                            link_row(ui, "Editor link: can edit", l);
                        }
                        if let Some(l) = viewer {
                            link_row(ui, "Viewer link: can only watch", l);
                        }
                    }
                }
                return;
            }
            ui.label("Collaborators join with a link, in the app (File › Join…) or with");
            ui.monospace("touchpoint join LINK");
            ui.add_space(6.0);
            if ui
                .button("Host on this computer")
                .on_hover_text("Runs the sync server inside this app")
                .clicked()
            {
                match collab.host(ws) {
                    Ok(_) => panel.error = None,
                    Err(e) => panel.error = Some(e.to_string()),
                }
            }
            ui.add_space(6.0);
            ui.separator();
            ui.label(
                "Or through a sync server: paste the room's links from `touchpoint-server share`.",
            );
            let l = ui.label("Editor link");
            ui.add(
                egui::TextEdit::singleline(&mut panel.editor_input)
                    .desired_width(420.0)
                    .hint_text("touchpoint://host:4433/room?fp=…&token=…"),
            )
            .labelled_by(l.id);
            let l = ui.label("Viewer link (optional)");
            ui.add(egui::TextEdit::singleline(&mut panel.viewer_input).desired_width(420.0))
                .labelled_by(l.id);
            if ui
                .add_enabled(
                    !panel.editor_input.trim().is_empty(),
                    egui::Button::new("Share through server"),
                )
                .clicked()
            {
                let viewer = panel.viewer_input.clone();
                match collab.share_via(ws, &panel.editor_input, Some(&viewer)) {
                    Ok(_) => panel.error = None,
                    Err(e) => panel.error = Some(e.to_string()),
                }
            }
            if let Some(e) = &panel.error {
                ui.label(RichText::new(e).color(Color32::from_rgb(0xc0, 0x20, 0x20)));
            }
        });
    if !open {
        panel.share_open = false;
    }
}

fn join_dialog(ui: &mut Ui, panel: &mut CollabPanel, commands: &mut Vec<CollabCommand>) {
    if !panel.join_open {
        return;
    }
    let ctx = ui.ctx().clone();
    let mut open = true;
    let mut done = false;
    egui::Window::new("Join a board")
        .collapsible(false)
        .resizable(false)
        .anchor(Align2::CENTER_CENTER, vec2(0.0, 0.0))
        .open(&mut open)
        .show(&ctx, |ui| {
            let label = ui.label("Paste the link you were given");
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut panel.join_input)
                        .desired_width(420.0)
                        .hint_text("touchpoint://…"),
                )
                .labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let link = panel.join_input.trim();
            let parsed = link.parse::<touchpoint_sync::link::ShareLink>();
            if let (Err(e), false) = (&parsed, link.is_empty()) {
                ui.label(RichText::new(e.to_string()).color(Color32::from_rgb(0xc0, 0x20, 0x20)));
            }
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(parsed.is_ok(), egui::Button::new("Join"))
                    .clicked()
                    || (enter && parsed.is_ok())
                {
                    commands.push(CollabCommand::Join(link.to_owned()));
                    done = true;
                }
                if ui.button("Cancel").clicked() {
                    done = true;
                }
            });
        });
    if done || !open {
        panel.join_open = false;
        panel.join_input.clear();
    }
}
