//! A service blueprint workshop with remote participants, from an empty
//! app: the facilitator's interface (egui_kittest, through its
//! accessibility tree, on a real session) picks the template and hosts the
//! board with the embedded sync server on loopback; two remote participants
//! (sync clients over QUIC, each with its own replica) add stickies into
//! the "Customer actions" lane; the facilitator starts a dot vote and the
//! timer, which the participants see; they vote (one tries past the quota);
//! the facilitator ends the vote and reads the tally; the board exports to
//! SVG and, from the File menu, to CSV with the participants' stickies in
//! their lane.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod collab_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use collab_support::{harness, run_until, shut_down, state};
use egui_kittest::kittest::Queryable;
use touchpoint::collab::share_file::ShareInfo;
use touchpoint::profile::Profile;
use touchpoint_crdt::{Board, CellRef, NewElement};
use touchpoint_sync::client::{Client, ClientOptions};

/// A facilitator called "Facilitator" (name known: Share asks nothing),
/// voting with two votes each, on a new empty board.
fn facilitator() -> egui_kittest::Harness<'static, collab_support::State> {
    let mut s = state("blueprint");
    s.collab
        .set_profile(Profile {
            name: "Facilitator".into(),
            color: "#e53935".into(),
        })
        .unwrap();
    s.panels.workshop.votes = 2;
    harness(s)
}

/// A remote participant: a sync client with its own replica.
struct Participant {
    name: &'static str,
    client: Client,
    board: Arc<Mutex<Board>>,
}

impl Participant {
    fn join(rt: &tokio::runtime::Runtime, link: &str, name: &'static str) -> Participant {
        let board = Arc::new(Mutex::new(Board::from_update(&[0, 0]).unwrap()));
        let _g = rt.enter();
        let client = Client::connect(
            link.parse().unwrap(),
            board.clone(),
            ClientOptions::default().with_name(name),
        )
        .unwrap();
        Participant {
            name,
            client,
            board,
        }
    }

    fn wait(&self, what: &str, ok: impl Fn(&Board) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(self.client.state().is_synced() && ok(&self.board.lock().unwrap())) {
            assert!(
                Instant::now() < deadline,
                "{} timed out waiting for {what}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The blueprint's "Customer actions" lane by its first stage.
fn customer_actions_cell(board: &Board) -> Option<CellRef> {
    let id = board.grid_ids().into_iter().next()?;
    let view = board.grid_view(&id)?;
    let lane = view
        .grid
        .lanes
        .iter()
        .find(|l| l.title == "Customer actions")?;
    Some(CellRef {
        grid: id,
        lane: lane.id.clone(),
        stage: view.grid.stages.first()?.id.clone(),
    })
}

#[test]
fn a_facilitator_runs_a_blueprint_workshop_with_remote_participants() {
    let mut h = facilitator();
    h.run();
    // From an empty app: pick the template.
    h.get_by_label("Templates").click();
    h.run();
    h.get_by_label("Service blueprint").click();
    h.run();
    assert!(customer_actions_cell(&h.state().ws.board).is_some());

    // Share it from this app.
    h.get_by_label("Share").click();
    h.run();
    h.run(); // a new window's first frame only measures it
    h.get_by_label("Host on this computer").click();
    run_until(&mut h, "the session", |h| {
        h.state()
            .collab
            .session()
            .is_some_and(|x| x.status().is_connected())
    });
    h.state_mut().panels.collab.share_open = false;
    let link = ShareInfo::load(h.state().ws.file.path())
        .unwrap()
        .unwrap()
        .editor_link
        .unwrap();

    // Remote participants add stickies into the Customer actions lane.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let people = [
        Participant::join(&rt, &link, "Remote Ana"),
        Participant::join(&rt, &link, "Remote Ben"),
    ];
    let mut ideas = Vec::new();
    for (p, text) in people.iter().zip(["Forms ask twice", "No reply for weeks"]) {
        p.wait("the blueprint", |b| customer_actions_cell(b).is_some());
        let mut board = p.board.lock().unwrap();
        let cell = customer_actions_cell(&board).unwrap();
        ideas.push(
            board
                .create_in_cell(NewElement::sticky(0.0, 0.0, text), &cell)
                .unwrap(),
        );
    }
    run_until(&mut h, "the participants' stickies in the lane", |h| {
        let s = h.state();
        let cell = customer_actions_cell(&s.ws.board).unwrap();
        ideas
            .iter()
            .all(|id| s.ws.board.cell_of(id).as_ref() == Some(&cell))
    });

    // A dot vote (2 each) and the timer, which the participants see.
    h.get_by_label("Workshop").click();
    h.run();
    h.get_by_label("Start vote").click();
    h.run();
    h.get_by_label("Start timer").click();
    h.run();
    for p in &people {
        p.wait("the vote and the timer", |b| {
            b.open_vote().is_some() && b.timer().is_some_and(|t| !t.is_paused())
        });
    }
    let session = h.state().ws.board.open_vote().unwrap().id;
    {
        // Ana puts both her votes on Ben's idea and tries a third.
        let mut board = people[0].board.lock().unwrap();
        board.place_vote(&session, "Remote Ana", &ideas[1]).unwrap();
        board.place_vote(&session, "Remote Ana", &ideas[1]).unwrap();
        assert!(board.place_vote(&session, "Remote Ana", &ideas[0]).is_err());
    }
    people[1]
        .board
        .lock()
        .unwrap()
        .place_vote(&session, "Remote Ben", &ideas[0])
        .unwrap();
    run_until(&mut h, "the votes", |h| {
        h.state()
            .ws
            .board
            .vote_tally(&session)
            .is_some_and(|t| t.per_target.values().sum::<u32>() == 3)
    });
    h.get_by_label("End vote").click();
    h.run();
    assert!(h.query_by_label("Results").is_some());
    let tally = h.state().ws.board.vote_tally(&session).unwrap();
    assert_eq!(tally.per_target.get(&ideas[1]), Some(&2));
    assert_eq!(tally.per_target.get(&ideas[0]), Some(&1));
    for p in &people {
        p.wait("the closed vote", |b| b.open_vote().is_none());
    }

    // Export: SVG (the library call the Export dialog makes) and CSV from
    // the File menu.
    let svg = h.state().dir.path().join("workshop.svg");
    {
        let s = h.state();
        touchpoint::export::export_to_file(
            &s.ws.board,
            &s.ws.scene,
            &touchpoint::export::ExportRequest::new(&svg),
            &mut |_, _| {},
        )
        .unwrap();
    }
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    // Sticky text wraps into one tspan per line: look for single words.
    for word in ["Forms", "twice", "reply", "weeks"] {
        assert!(svg_text.contains(word), "{word} missing from the SVG");
    }
    let csv = h.state().dir.path().join("workshop.csv");
    h.get_by_label("File").click();
    h.run();
    h.get_by_label("Export CSV…").click();
    h.run();
    h.state_mut().panels.csv.path = csv.display().to_string();
    h.run();
    h.get_by_label("Export").click();
    h.run();
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    // The lane's first cell holds both stickies, one per line (quoted).
    let start = csv_text
        .find("Customer actions,\"")
        .unwrap_or_else(|| panic!("no Customer actions row in {csv_text}"))
        + "Customer actions,\"".len();
    let len = csv_text[start..].find('"').unwrap();
    let mut cell: Vec<&str> = csv_text[start..start + len].lines().collect();
    cell.sort_unstable();
    assert_eq!(
        cell,
        ["Forms ask twice", "No reply for weeks"],
        "{csv_text}"
    );

    for p in people {
        rt.block_on(p.client.shutdown());
    }
    shut_down(&mut h);
}
