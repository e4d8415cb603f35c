//! The collaboration interface driven through its accessibility tree with
//! egui_kittest (no window), on a real session: Share asks for a name once
//! (remembered in the data directory), hosts the board with the embedded
//! sync server on loopback and shows its editor and viewer links; a
//! headless participant joining with the editor link appears in the
//! participants card, can be followed (this view moves to theirs), is moved
//! by "Bring everyone", and disappears when it leaves.
//!
//! The test pumps the session before each frame, as the window does.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod collab_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use collab_support::{State, harness, run_until, shut_down, state};
use egui_kittest::kittest::Queryable;
use touchpoint::collab::presence::{LocalPresence, Peers};
use touchpoint::collab::share_file::ShareInfo;
use touchpoint::profile::Profile;
use touchpoint_crdt::{Board, NewElement};
use touchpoint_scene::geom::{Rect, Vec2};
use touchpoint_sync::client::{Client, ClientOptions, Event};

/// Runs frames until the session is connected.
fn run_until_connected(h: &mut egui_kittest::Harness<'static, State>) {
    run_until(h, "the connection", |h| {
        h.state()
            .collab
            .session()
            .is_some_and(|s| s.status().is_connected())
    });
}

/// A board with one sticky.
fn harness_with_a_sticky() -> egui_kittest::Harness<'static, State> {
    let mut s = state("workshop");
    s.ws.board
        .create(NewElement::sticky(0.0, 0.0, "Long queue"))
        .unwrap();
    s.ws.sync();
    harness(s)
}

#[test]
fn share_hosts_shows_links_and_participants_follow_and_summon() {
    let mut h = harness_with_a_sticky();
    h.run();
    h.get_by_label("Share").click();
    h.run();
    // Asked once for a name and colour.
    assert!(h.query_by_label("Your name").is_some());
    h.get_by_label("Your name").click();
    h.run();
    h.get_by_label("Your name").type_text(" (facilitator)");
    h.run();
    h.get_by_label("Continue").click();
    h.run();
    let saved = std::fs::read_to_string(h.state().dir.path().join("data/profile.json")).unwrap();
    assert!(saved.contains("(facilitator)"), "{saved}");
    h.get_by_label("Host on this computer").click();
    run_until(&mut h, "the links", |h| {
        h.query_by_label("Editor link: can edit").is_some()
            && h.query_by_label("Viewer link: can only watch").is_some()
    });
    let info = ShareInfo::load(h.state().ws.file.path()).unwrap().unwrap();
    assert!(info.hosted);
    let editor = info.editor_link.clone().unwrap();
    assert!(editor.starts_with("touchpoint://127.0.0.1:"), "{editor}");
    run_until_connected(&mut h);
    // Closing the dialog leaves the session running.
    h.state_mut().panels.collab.share_open = false;
    h.run();

    // A participant joins with the editor link and gets the board.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let board = Arc::new(Mutex::new(Board::from_update(&[0, 0]).unwrap()));
    let mut client = {
        let _g = rt.enter();
        Client::connect(
            editor.parse().unwrap(),
            board.clone(),
            ClientOptions::default(),
        )
        .unwrap()
    };
    let own = board.lock().unwrap().client_id();
    let mut remote = LocalPresence::new(
        own,
        &Profile {
            name: "Remote Kim".into(),
            color: "#8e24aa".into(),
        },
    );
    let far = Rect::from_min_size(Vec2::new(5000.0, 5000.0), Vec2::new(400.0, 300.0));
    remote.set_view(far);
    remote.set_cursor(Some(Vec2::new(5100.0, 5100.0)));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(client.state().is_synced() && board.lock().unwrap().len() == 1) {
        assert!(
            Instant::now() < deadline,
            "the participant did not get the board"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    client.send_presence_reliably(remote.poll(Instant::now(), true).unwrap());
    run_until(&mut h, "the participant in the card", |h| {
        h.query_by_label_contains("With Remote Kim").is_some()
    });

    // Follow: this view moves to theirs.
    h.get_by_label("Follow Remote Kim").click();
    run_until(&mut h, "the view to follow", |h| {
        h.state()
            .ws
            .camera
            .visible_world_rect()
            .contains(Vec2::new(5200.0, 5150.0))
    });
    assert!(h.query_by_label_contains("Following Remote Kim").is_some());
    h.get_by_label("Stop").click();
    h.run();
    assert!(h.state().collab.session().unwrap().following().is_none());

    // Bring everyone: the participant is asked to move to this view.
    h.get_by_label("Bring everyone").click();
    let mut peers = Peers::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    let summoned = loop {
        h.run();
        let mut asked = None;
        while let Some(e) = client.try_next_event() {
            if let Event::Presence(u) = e {
                let changes = peers.apply(&u, own);
                asked = asked.or(changes.summons.last().copied());
            }
        }
        if let Some(v) = asked {
            break v;
        }
        assert!(Instant::now() < deadline, "no summon arrived");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mine = h.state().ws.camera.visible_world_rect();
    assert!((summoned.rect().center() - mine.center()).length() < 1.0);

    // The participant leaves: gone from the card.
    client.send_presence_reliably(remote.leave());
    rt.block_on(client.shutdown());
    run_until(&mut h, "the participant to leave", |h| {
        h.query_by_label_contains("With Remote Kim").is_none()
    });
    shut_down(&mut h);
}

#[test]
fn offline_edits_are_counted_in_the_status() {
    let mut h = harness_with_a_sticky();
    // A link to a port where nothing listens: the session stays offline.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let link = format!(
        "touchpoint://127.0.0.1:{port}/room?fp={}&token=AAAA",
        "0".repeat(64)
    );
    {
        let State { collab, ws, .. } = h.state_mut();
        collab.join(ws, link.parse().unwrap()).unwrap();
    }
    run_until(&mut h, "offline", |h| {
        h.query_by_label_contains("Offline").is_some()
    });
    h.state_mut()
        .ws
        .board
        .create(NewElement::sticky(300.0, 0.0, "Written offline"))
        .unwrap();
    run_until(&mut h, "the unsent change", |h| {
        h.query_by_label_contains("Offline — 1 unsent change")
            .is_some()
    });
    assert!(h.query_by_label("Retry").is_some());
    shut_down(&mut h);
}

#[test]
fn the_join_dialog_checks_the_link_before_joining() {
    let mut s = state("join");
    s.collab
        .set_profile(Profile {
            name: "Kim".into(),
            color: "#3f51b5".into(),
        })
        .unwrap();
    let mut h = harness(s);
    h.run();
    h.get_by_label("File").click();
    h.run();
    h.get_by_label("Join…").click();
    h.run();
    h.run(); // a new window's first frame only measures it
    h.get_by_label("Paste the link you were given").click();
    h.run();
    h.get_by_label("Paste the link you were given")
        .type_text("https://example.com/board");
    h.run();
    assert!(
        h.query_by_label_contains("not a Touchpoint link").is_some(),
        "a wrong link is explained"
    );
    h.get_by_label("Join").click();
    h.run();
    assert!(h.state().commands.is_empty(), "a wrong link joins nothing");
    let link = format!(
        "touchpoint://10.0.0.7:4433/team%20board?fp={}&token=AAAA",
        "ab".repeat(32)
    );
    h.state_mut().panels.collab.join_input = link.clone();
    h.run();
    h.get_by_label("Join").click();
    h.run();
    assert_eq!(
        h.state().commands,
        [touchpoint::ui::collab_ui::CollabCommand::Join(link)]
    );
    assert!(
        h.query_by_label("Paste the link you were given").is_none(),
        "closed"
    );
}

/// One identity: the name in the workshop panel, on this user's votes and
/// in the presence the others see is the profile's, and changing it from
/// the workshop panel changes all of them (it used to be two names).
#[test]
fn votes_and_presence_carry_one_name_changed_in_one_place() {
    let mut h = harness_with_a_sticky();
    h.state_mut()
        .collab
        .set_profile(Profile {
            name: "Ana".into(),
            color: "#e53935".into(),
        })
        .unwrap();
    h.run();
    h.get_by_label("Share").click();
    h.run();
    h.get_by_label("Host on this computer").click();
    run_until_connected(&mut h);
    h.state_mut().panels.collab.share_open = false;
    h.get_by_label("Workshop").click();
    h.run();
    assert!(
        h.query_by_label("Ana").is_some(),
        "the panel names the user"
    );
    h.get_by_label("Change…").click();
    h.run();
    h.get_by_label("Your name").click();
    h.run();
    h.get_by_label("Your name").type_text(" Kim");
    h.run();
    h.get_by_label("Continue").click();
    h.run();
    assert!(h.query_by_label("Ana Kim").is_some());

    h.get_by_label("Start vote").click();
    h.run();
    let sticky = h.state().ws.board.elements()[0].id.clone();
    h.state_mut().ws.tools.set_selection([sticky.clone()]);
    h.run();
    h.get_by_label("Vote on selection").click();
    h.run();
    let s = h.state();
    let session = s.ws.board.open_vote().unwrap().id;
    let tally = s.ws.board.vote_tally(&session).unwrap();
    let voters: Vec<&String> = tally.per_voter.keys().collect();
    assert_eq!(voters, ["Ana Kim"]);
    let shown = &s.collab.session().unwrap().presence().state().user.name;
    assert_eq!(shown, "Ana Kim", "the others see the name the vote carries");
    assert_eq!(s.collab.me().name, "Ana Kim");
    shut_down(&mut h);
}
