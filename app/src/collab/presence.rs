//! Presence: who else is on the board, where their cursor is, what they
//! have selected, what they are looking at.
//!
//! Each participant publishes one JSON state through the y-protocols
//! awareness messages the sync server relays (the same bytes y-websocket
//! sends, so a Yjs peer reads `user.name` and `user.color` as usual). A state
//! replaces the previous one of its client when its clock is higher; `null`
//! removes it. Everything received is untrusted: names are cut, colours
//! parsed, ids and coordinates checked, so a hostile peer can at worst show
//! a strange cursor.
//!
//! No egui here: the window draws [`Peers`] and feeds [`LocalPresence`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use yrs::block::ClientID;
use yrs::sync::AwarenessUpdate;
use yrs::sync::awareness::AwarenessUpdateEntry;

use touchpoint_crdt::{Geometry, Kind, ShapeKind};

use crate::profile::{PALETTE, Profile, clean_name, format_color, parse_color};
use touchpoint_editor::tools::Preview;
use touchpoint_scene::geom::{Rect, Vec2};

/// Most selected ids published (and read), and ids in a drag's preview:
/// enough to outline a workshop's worth of stickies, while a drag of a full
/// selection (both lists) stays under half the server's 16 KiB per-state
/// bound even with the longest ids a board makes.
pub const MAX_SELECTION: usize = 100;

/// A rectangle of the board someone is looking at, in world units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct View {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl View {
    pub fn from_rect(r: Rect) -> View {
        View {
            x: r.min.x,
            y: r.min.y,
            w: r.width(),
            h: r.height(),
        }
    }

    pub fn rect(&self) -> Rect {
        Rect::from_min_size(Vec2::new(self.x, self.y), Vec2::new(self.w, self.h))
    }

    fn is_sane(&self) -> bool {
        [self.x, self.y, self.w, self.h]
            .iter()
            .all(|v| v.is_finite() && v.abs() < 1e9)
            && self.w > 0.0
            && self.h > 0.0
    }
}

/// "Bring everyone to me": a facilitator's view, numbered so that each
/// request moves the others once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summon {
    pub seq: u64,
    pub view: View,
}

/// Points of a pen stroke in progress sent to others (the stroke is
/// thinned evenly beyond this).
pub const MAX_GESTURE_POINTS: usize = 200;

/// A gesture in progress (a drag, a resize, a shape or stroke being drawn),
/// as collaborators see it: DESIGN.md has gestures travel as presence and
/// the document take only the end state, one transaction per gesture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Gesture {
    Move {
        ids: Vec<String>,
        dx: f64,
        dy: f64,
    },
    Resize {
        id: String,
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        rot: f64,
    },
    Create {
        kind: String,
        shape: String,
        x: f64,
        y: f64,
        w: f64,
        h: f64,
    },
    Ink {
        points: Vec<[f64; 2]>,
    },
    Connector {
        from: [f64; 2],
        to: [f64; 2],
    },
    Marquee {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
    },
}

impl Gesture {
    pub fn from_preview(p: &Preview) -> Gesture {
        match p {
            Preview::Move { ids, offset } => Gesture::Move {
                ids: ids.iter().take(MAX_SELECTION).cloned().collect(),
                dx: round(offset.x),
                dy: round(offset.y),
            },
            Preview::Resize { id, geom } => Gesture::Resize {
                id: id.clone(),
                x: round(geom.x),
                y: round(geom.y),
                w: round(geom.w),
                h: round(geom.h),
                rot: geom.rot,
            },
            Preview::Create { kind, shape, geom } => Gesture::Create {
                kind: kind.as_str().to_owned(),
                shape: shape.as_str().to_owned(),
                x: round(geom.x),
                y: round(geom.y),
                w: round(geom.w),
                h: round(geom.h),
            },
            Preview::Ink { points } => {
                let step = points.len().div_ceil(MAX_GESTURE_POINTS).max(1);
                let mut kept: Vec<[f64; 2]> = points
                    .iter()
                    .step_by(step)
                    .map(|p| [round(p.x), round(p.y)])
                    .collect();
                if let Some(last) = points.last()
                    && step > 1
                {
                    kept.push([round(last.x), round(last.y)]);
                }
                Gesture::Ink { points: kept }
            }
            Preview::Connector { from, to } => Gesture::Connector {
                from: [round(from.x), round(from.y)],
                to: [round(to.x), round(to.y)],
            },
            Preview::Marquee { rect } => Gesture::Marquee {
                x: round(rect.min.x),
                y: round(rect.min.y),
                w: round(rect.width()),
                h: round(rect.height()),
            },
        }
    }

    /// The preview to draw for a peer's gesture; `None` when anything in it
    /// is out of range (untrusted input).
    pub fn to_preview(&self) -> Option<Preview> {
        let ok = |v: &[f64]| v.iter().all(|v| v.is_finite() && v.abs() < 1e9);
        let size_ok = |w: f64, h: f64| w >= 0.0 && h >= 0.0;
        Some(match self {
            Gesture::Move { ids, dx, dy } if ok(&[*dx, *dy]) => Preview::Move {
                ids: ids.iter().take(MAX_SELECTION).cloned().collect(),
                offset: Vec2::new(*dx, *dy),
            },
            Gesture::Resize {
                id,
                x,
                y,
                w,
                h,
                rot,
            } if ok(&[*x, *y, *w, *h, *rot]) && size_ok(*w, *h) => Preview::Resize {
                id: id.clone(),
                geom: Geometry {
                    rot: *rot,
                    ..Geometry::new(*x, *y, *w, *h)
                },
            },
            Gesture::Create {
                kind,
                shape,
                x,
                y,
                w,
                h,
            } if ok(&[*x, *y, *w, *h]) && size_ok(*w, *h) => Preview::Create {
                kind: kind.parse::<Kind>().ok()?,
                shape: shape.parse::<ShapeKind>().unwrap_or(ShapeKind::Rect),
                geom: Geometry::new(*x, *y, *w, *h),
            },
            Gesture::Ink { points } if points.iter().all(|p| ok(p)) => Preview::Ink {
                points: points
                    .iter()
                    .take(MAX_GESTURE_POINTS + 1)
                    .map(|[x, y]| Vec2::new(*x, *y))
                    .collect(),
            },
            Gesture::Connector { from, to } if ok(from) && ok(to) => Preview::Connector {
                from: Vec2::from(*from),
                to: Vec2::from(*to),
            },
            Gesture::Marquee { x, y, w, h } if ok(&[*x, *y, *w, *h]) && size_ok(*w, *h) => {
                Preview::Marquee {
                    rect: Rect::from_min_size(Vec2::new(*x, *y), Vec2::new(*w, *h)),
                }
            }
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub color: String,
}

/// One participant's published state (the awareness JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceState {
    pub user: User,
    /// Pointer on the board, world units; `None` while outside the canvas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selection: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<View>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summon: Option<Summon>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gesture: Option<Gesture>,
}

impl PresenceState {
    /// Reads a peer's JSON, keeping only what is sane. `None`: not a
    /// Touchpoint presence (or not one worth showing).
    pub fn parse(json: &str) -> Option<PresenceState> {
        let mut s: PresenceState = serde_json::from_str(json).ok()?;
        s.user.name = clean_name(&s.user.name);
        if s.user.name.is_empty() {
            s.user.name = "Guest".to_owned();
        }
        if parse_color(&s.user.color).is_none() {
            s.user.color = "#546e7a".to_owned();
        }
        if s.cursor
            .is_some_and(|c| !c.iter().all(|v| v.is_finite() && v.abs() < 1e9))
        {
            s.cursor = None;
        }
        s.selection.truncate(MAX_SELECTION);
        s.selection.retain(|id| id.len() <= 64);
        if s.view.is_some_and(|v| !v.is_sane()) {
            s.view = None;
        }
        if s.summon.is_some_and(|m| !m.view.is_sane()) {
            s.summon = None;
        }
        if s.gesture.as_ref().is_some_and(|g| g.to_preview().is_none()) {
            s.gesture = None;
        }
        Some(s)
    }
}

/// This user's presence: what to publish, and when.
#[derive(Debug)]
pub struct LocalPresence {
    client: u64,
    clock: u32,
    state: PresenceState,
    /// What was last published, to send only changes.
    sent: Option<PresenceState>,
    last_sent: Option<Instant>,
    next_summon: u64,
}

/// Cursor motion is sent at most this often (about 30 per second): smooth
/// enough with the receiver's easing, and well inside the server's rate limit.
pub const SEND_INTERVAL: Duration = Duration::from_millis(33);

/// An unchanged state is published again this often: Yjs clients drop a
/// peer's state not renewed for 30 s (y-protocols' awareness timeout), so an
/// idle Touchpoint user would vanish from a browser participant's view.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(15);

impl LocalPresence {
    /// `client` is the awareness client id: the board's own client id, as
    /// Yjs does.
    pub fn new(client: u64, profile: &Profile) -> LocalPresence {
        LocalPresence {
            client,
            clock: 0,
            state: PresenceState {
                user: User {
                    name: clean_name(&profile.name),
                    color: format_color(profile.rgb()),
                },
                cursor: None,
                selection: Vec::new(),
                view: None,
                summon: None,
                gesture: None,
            },
            sent: None,
            last_sent: None,
            next_summon: 1,
        }
    }

    pub fn client(&self) -> u64 {
        self.client
    }

    pub fn state(&self) -> &PresenceState {
        &self.state
    }

    pub fn set_profile(&mut self, profile: &Profile) {
        self.state.user = User {
            name: clean_name(&profile.name),
            color: format_color(profile.rgb()),
        };
    }

    pub fn set_cursor(&mut self, cursor: Option<Vec2>) {
        self.state.cursor = cursor.map(|c| [round(c.x), round(c.y)]);
    }

    pub fn set_selection<'a>(&mut self, ids: impl IntoIterator<Item = &'a String>) {
        self.state.selection = ids.into_iter().take(MAX_SELECTION).cloned().collect();
    }

    pub fn set_view(&mut self, view: Rect) {
        let v = View::from_rect(view);
        self.state.view = Some(View {
            x: round(v.x),
            y: round(v.y),
            w: round(v.w),
            h: round(v.h),
        });
    }

    /// The gesture in progress (`None` once it ends).
    pub fn set_gesture(&mut self, preview: Option<&Preview>) {
        self.state.gesture = preview.map(Gesture::from_preview);
    }

    /// Asks every participant to move to this user's view.
    pub fn summon(&mut self) {
        if let Some(view) = self.state.view {
            self.state.summon = Some(Summon {
                seq: self.next_summon,
                view,
            });
            self.next_summon += 1;
        }
    }

    /// The update to publish now, if the state changed and the last one
    /// went out at least [`SEND_INTERVAL`] ago (or `force`, after a
    /// reconnect or for what must not wait).
    pub fn poll(&mut self, now: Instant, force: bool) -> Option<AwarenessUpdate> {
        let stale = self.last_sent.is_some_and(|t| now >= t + RENEW_INTERVAL);
        if !force && !stale && self.sent.as_ref() == Some(&self.state) {
            return None;
        }
        if !force && self.last_sent.is_some_and(|t| now < t + SEND_INTERVAL) {
            return None;
        }
        let json = serde_json::to_string(&self.state).ok()?;
        self.clock = self.clock.wrapping_add(1);
        self.sent = Some(self.state.clone());
        self.last_sent = Some(now);
        Some(entry_update(self.client, self.clock, json.into()))
    }

    /// When a throttled change, or the renewal of an unchanged state, is
    /// due to be sent.
    pub fn due(&self) -> Option<Instant> {
        if self.sent.as_ref() == Some(&self.state) {
            return self.last_sent.map(|t| t + RENEW_INTERVAL);
        }
        Some(
            self.last_sent
                .map_or_else(Instant::now, |t| t + SEND_INTERVAL),
        )
    }

    /// The removal sent when leaving (y-protocols: a `null` state).
    pub fn leave(&mut self) -> AwarenessUpdate {
        self.clock = self.clock.wrapping_add(1);
        self.sent = None;
        entry_update(self.client, self.clock, Arc::from("null"))
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn entry_update(client: u64, clock: u32, json: Arc<str>) -> AwarenessUpdate {
    let mut update = AwarenessUpdate {
        clients: Default::default(),
    };
    update
        .clients
        .insert(ClientID::new(client), AwarenessUpdateEntry { clock, json });
    update
}

/// A collaborator as the canvas shows them.
#[derive(Debug, Clone)]
pub struct Peer {
    pub client: u64,
    pub state: PresenceState,
    pub rgb: [u8; 3],
    /// Where the cursor is drawn: eases toward `state.cursor`.
    pub shown_cursor: Option<Vec2>,
    clock: u32,
}

/// What applying an update changed, for the window to act on.
#[derive(Debug, Default, PartialEq)]
pub struct PresenceChanges {
    pub joined: Vec<u64>,
    pub left: Vec<u64>,
    /// Views that "bring everyone to me" asked for.
    pub summons: Vec<View>,
}

/// Everyone else's presence.
#[derive(Debug, Default)]
pub struct Peers {
    peers: BTreeMap<u64, Peer>,
    /// Highest summon seen per client: each request moves us once, not
    /// again when the state is re-sent after a reconnect.
    summons_seen: BTreeMap<u64, u64>,
}

impl Peers {
    /// Merges an awareness update by the y-protocols rule (a higher clock
    /// wins; equal clocks with `null` remove). `own` is skipped: the server
    /// echoes nothing, but a peer could replay our id.
    pub fn apply(&mut self, update: &AwarenessUpdate, own: u64) -> PresenceChanges {
        let mut changes = PresenceChanges::default();
        for (client, entry) in &update.clients {
            let client = client.get();
            if client == own {
                continue;
            }
            let known = self.peers.get(&client).map(|p| p.clock);
            let removal = &*entry.json == "null";
            let newer = match known {
                Some(clock) => entry.clock > clock || (entry.clock == clock && removal),
                None => true,
            };
            if !newer {
                continue;
            }
            let parsed = if removal {
                None
            } else {
                PresenceState::parse(&entry.json)
            };
            match parsed {
                None => {
                    if self.peers.remove(&client).is_some() {
                        changes.left.push(client);
                    }
                }
                Some(state) => {
                    if let Some(summon) = state.summon {
                        let seen = self.summons_seen.entry(client).or_insert(0);
                        // A summon from before we joined is history, not a
                        // request to us.
                        if known.is_some() && summon.seq > *seen {
                            changes.summons.push(summon.view);
                        }
                        *seen = (*seen).max(summon.seq);
                    }
                    let rgb = parse_color(&state.user.color).unwrap_or(PALETTE[9]);
                    match self.peers.get_mut(&client) {
                        Some(p) => {
                            p.clock = entry.clock;
                            p.rgb = rgb;
                            if p.shown_cursor.is_none() {
                                p.shown_cursor = state.cursor.map(|[x, y]| Vec2::new(x, y));
                            }
                            p.state = state;
                        }
                        None => {
                            changes.joined.push(client);
                            self.peers.insert(
                                client,
                                Peer {
                                    client,
                                    shown_cursor: state.cursor.map(|[x, y]| Vec2::new(x, y)),
                                    state,
                                    rgb,
                                    clock: entry.clock,
                                },
                            );
                        }
                    }
                }
            }
        }
        changes
    }

    /// Forgets everyone: the connection is gone, and the server sends the
    /// current states again on the next join.
    pub fn clear(&mut self) {
        self.peers.clear();
    }

    pub fn get(&self, client: u64) -> Option<&Peer> {
        self.peers.get(&client)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values()
    }

    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Eases each shown cursor toward its target over `dt` (about 90% of
    /// the way in 100 ms: motion arrives ~30 times a second and should look
    /// continuous, not jump). Returns whether any cursor is still moving.
    pub fn animate(&mut self, dt: Duration, units_per_pixel: f64) -> bool {
        let t = 1.0 - (-dt.as_secs_f64() * 23.0).exp();
        let mut moving = false;
        for p in self.peers.values_mut() {
            let target = p.state.cursor.map(|[x, y]| Vec2::new(x, y));
            p.shown_cursor = match (p.shown_cursor, target) {
                (Some(shown), Some(target)) => {
                    let next = shown + (target - shown) * t;
                    if (target - next).length() < 0.5 * units_per_pixel {
                        Some(target)
                    } else {
                        moving = true;
                        Some(next)
                    }
                }
                (_, target) => target,
            };
        }
        moving
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::MAX_NAME_CHARS;

    /// The largest states this app publishes stay well inside the server's
    /// per-state bound (PROTOCOL.md, "Presence is bounded"), or its own
    /// participants would be refused for drawing or selecting.
    #[test]
    fn the_largest_states_fit_the_servers_presence_bound() {
        let limit = touchpoint_crdt::protocol::Limits::DEFAULT.max_presence_bytes;
        // A 40-character name of 4-byte characters, coordinates far out.
        let mut me = LocalPresence::new(u64::MAX >> 11, &profile(&"😀".repeat(60)));
        me.set_cursor(Some(Vec2::new(-1_234_567.89, 9_876_543.21)));
        me.set_view(Rect::from_corners(
            Vec2::new(-1_234_567.0, -7_654_321.0),
            Vec2::new(1_234_567.0, 7_654_321.0),
        ));
        me.summon();
        // The longest ids Board makes: a 53-bit client id and a 64-bit counter.
        let ids: Vec<String> = (0..1000u64)
            .map(|i| format!("{:x}-{:x}", (1u64 << 53) - 1, u64::MAX - i))
            .collect();
        me.set_selection(&ids);
        let moving = Preview::Move {
            ids: ids.clone(),
            offset: Vec2::new(-123_456.78, 876_543.21),
        };
        me.set_gesture(Some(&moving));
        let t0 = Instant::now();
        let update = me.poll(t0, true).expect("a state");
        let (_, entry) = one(&update);
        assert!(
            entry.json.len() * 3 / 2 < limit,
            "a drag of a full selection is {} bytes, the bound {limit}",
            entry.json.len()
        );
        // A long pen stroke far from the origin, thinned to 200 points.
        let stroke = Preview::Ink {
            points: (0..10_000)
                .map(|i| Vec2::new(-1_234_567.89 + f64::from(i) * 0.37, 7_654_321.01))
                .collect(),
        };
        me.set_gesture(Some(&stroke));
        let update = me.poll(t0 + Duration::from_secs(1), true).expect("a state");
        let (_, entry) = one(&update);
        assert!(
            entry.json.len() * 3 / 2 < limit,
            "a pen stroke with a full selection is {} bytes, the bound {limit}",
            entry.json.len()
        );
    }

    fn profile(name: &str) -> Profile {
        Profile {
            name: name.into(),
            color: "#1e88e5".into(),
        }
    }

    fn one(update: &AwarenessUpdate) -> (u64, &AwarenessUpdateEntry) {
        let (c, e) = update.clients.iter().next().expect("one entry");
        (c.get(), e)
    }

    #[test]
    fn an_unchanged_state_is_renewed_before_yjs_clients_drop_it() {
        let mut me = LocalPresence::new(7, &profile("Ana"));
        let t0 = Instant::now();
        let first = me.poll(t0, false).expect("first state goes out");
        assert_eq!(me.due(), Some(t0 + RENEW_INTERVAL));
        assert!(me.poll(t0 + RENEW_INTERVAL / 2, false).is_none());
        let renewed = me
            .poll(t0 + RENEW_INTERVAL, false)
            .expect("renewed after the interval");
        assert!(one(&renewed).1.clock > one(&first).1.clock);
        assert_eq!(one(&renewed).1.json, one(&first).1.json);
        // Under y-protocols' 30 s timeout, with room to spare.
        assert!(RENEW_INTERVAL * 2 <= Duration::from_secs(30));
    }

    #[test]
    fn publishes_changes_only_and_throttles_motion() {
        let mut me = LocalPresence::new(7, &profile("Ana"));
        let t0 = Instant::now();
        let first = me.poll(t0, false).expect("first state goes out");
        let (client, entry) = one(&first);
        assert_eq!(client, 7);
        assert_eq!(entry.clock, 1);
        assert!(me.poll(t0, false).is_none(), "nothing changed");
        me.set_cursor(Some(Vec2::new(10.0, 20.0)));
        assert!(me.poll(t0 + Duration::from_millis(5), false).is_none());
        assert!(me.due().is_some());
        let moved = me
            .poll(t0 + SEND_INTERVAL, false)
            .expect("due after the interval");
        let state = PresenceState::parse(&one(&moved).1.json).expect("parses");
        assert_eq!(state.cursor, Some([10.0, 20.0]));
        assert_eq!(state.user.name, "Ana");
        assert_eq!(one(&me.leave()).1.json.as_ref(), "null");
    }

    #[test]
    fn peers_join_update_and_leave_by_clock() {
        let mut ana = LocalPresence::new(1, &profile("Ana"));
        let mut peers = Peers::default();
        let t = Instant::now();
        let joined = peers.apply(&ana.poll(t, true).expect("state"), 99);
        assert_eq!(joined.joined, vec![1]);
        ana.set_cursor(Some(Vec2::new(5.0, 5.0)));
        let newer = ana.poll(t, true).expect("state");
        let older_again = {
            let mut u = newer.clone();
            for e in u.clients.values_mut() {
                e.clock = 1;
                e.json = Arc::from(r##"{"user":{"name":"Old","color":"#000000"}}"##);
            }
            u
        };
        peers.apply(&newer, 99);
        peers.apply(&older_again, 99);
        let p = peers.get(1).expect("present");
        assert_eq!(p.state.user.name, "Ana", "an older clock does not win");
        assert_eq!(p.state.cursor, Some([5.0, 5.0]));
        let left = peers.apply(&ana.leave(), 99);
        assert_eq!(left.left, vec![1]);
        assert!(peers.is_empty());
    }

    #[test]
    fn own_state_and_hostile_states_are_contained() {
        let mut peers = Peers::default();
        let hostile = entry_update(
            5,
            1,
            Arc::from(
                r##"{"user":{"name":"\u0007Eve\u0000 with a very long name that goes on and on and on","color":"red"},
                 "cursor":[1e300, 0], "selection":["a"], "view":{"x":0,"y":0,"w":-1,"h":5}}"##,
            ),
        );
        peers.apply(&hostile, 1);
        let p = peers.get(5).expect("shown, sanitised");
        assert_eq!(p.state.user.name.chars().count(), MAX_NAME_CHARS);
        assert!(p.state.user.name.starts_with("Eve"));
        assert_eq!(p.state.cursor, None);
        assert_eq!(p.state.view, None);
        assert_eq!(p.rgb, PALETTE[9]);
        let garbage = entry_update(6, 1, Arc::from("[1,2,3]"));
        assert!(peers.apply(&garbage, 1).joined.is_empty());
        let mine = entry_update(
            1,
            9,
            Arc::from(r##"{"user":{"name":"Me","color":"#000000"}}"##),
        );
        assert!(peers.apply(&mine, 1).joined.is_empty());
        assert_eq!(peers.len(), 1);
    }

    #[test]
    fn each_summon_moves_once() {
        let mut host = LocalPresence::new(1, &profile("Facilitator"));
        host.set_view(Rect::from_min_size(
            Vec2::new(0.0, 0.0),
            Vec2::new(100.0, 50.0),
        ));
        let mut peers = Peers::default();
        let t = Instant::now();
        assert!(
            peers
                .apply(&host.poll(t, true).expect("s"), 2)
                .summons
                .is_empty()
        );
        host.summon();
        let asked = peers.apply(&host.poll(t, true).expect("s"), 2);
        assert_eq!(asked.summons.len(), 1);
        assert_eq!(asked.summons[0].w, 100.0);
        // The same state again (a reconnect re-sends it) moves no one.
        host.set_cursor(Some(Vec2::new(1.0, 1.0)));
        assert!(
            peers
                .apply(&host.poll(t, true).expect("s"), 2)
                .summons
                .is_empty()
        );
        // A newcomer does not jump to a summon made before it joined.
        let mut late = Peers::default();
        assert!(
            late.apply(&host.poll(t, true).expect("s"), 3)
                .summons
                .is_empty()
        );
    }

    #[test]
    fn gestures_round_trip_and_hostile_ones_are_dropped() {
        let ink: Vec<Vec2> = (0..1000).map(|i| Vec2::new(f64::from(i), 0.0)).collect();
        let previews = [
            Preview::Move {
                ids: vec!["a".into()],
                offset: Vec2::new(5.0, -3.0),
            },
            Preview::Create {
                kind: Kind::Shape,
                shape: ShapeKind::Ellipse,
                geom: Geometry::new(1.0, 2.0, 30.0, 40.0),
            },
            Preview::Connector {
                from: Vec2::new(0.0, 0.0),
                to: Vec2::new(9.0, 9.0),
            },
        ];
        for p in &previews {
            let json = serde_json::to_string(&Gesture::from_preview(p)).expect("json");
            let back: Gesture = serde_json::from_str(&json).expect("parse");
            assert_eq!(back.to_preview().as_ref(), Some(p), "{json}");
        }
        let thinned = Gesture::from_preview(&Preview::Ink { points: ink });
        let Some(Preview::Ink { points }) = thinned.to_preview() else {
            panic!("ink");
        };
        assert!(points.len() <= MAX_GESTURE_POINTS + 1);
        assert_eq!(
            points.last(),
            Some(&Vec2::new(999.0, 0.0)),
            "the tip is kept"
        );
        let hostile = Arc::from(
            r##"{"user":{"name":"E","color":"#000000"},"gesture":{"type":"resize","id":"x","x":0,"y":0,"w":-5,"h":1e308,"rot":0}}"##,
        );
        let mut peers = Peers::default();
        peers.apply(&entry_update(4, 1, hostile), 1);
        assert_eq!(peers.get(4).expect("peer").state.gesture, None);
    }

    #[test]
    fn cursors_ease_toward_their_target() {
        let mut peers = Peers::default();
        let mut ana = LocalPresence::new(1, &profile("Ana"));
        ana.set_cursor(Some(Vec2::new(0.0, 0.0)));
        let t = Instant::now();
        peers.apply(&ana.poll(t, true).expect("s"), 2);
        ana.set_cursor(Some(Vec2::new(100.0, 0.0)));
        peers.apply(&ana.poll(t, true).expect("s"), 2);
        assert!(peers.animate(Duration::from_millis(16), 1.0));
        let x = peers.get(1).and_then(|p| p.shown_cursor).expect("cursor").x;
        assert!(x > 0.0 && x < 100.0, "part of the way: {x}");
        for _ in 0..60 {
            peers.animate(Duration::from_millis(16), 1.0);
        }
        assert_eq!(
            peers.get(1).and_then(|p| p.shown_cursor),
            Some(Vec2::new(100.0, 0.0))
        );
        assert!(!peers.animate(Duration::from_millis(16), 1.0));
    }
}
