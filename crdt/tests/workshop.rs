//! Workshop tools: dot voting counted the same on every replica (a modified
//! client cannot exceed its votes), the shared timer, tidy and sort helpers.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::collections::HashMap;

use touchpoint_crdt::tidy::{SortBy, sort_into_rows, tidy_grid};
use touchpoint_crdt::{Board, Color, NewElement, StylePatch};
use yrs::{Any, Array, Map, Out, Transact};

fn sync_all(boards: &mut [&mut Board]) {
    for _ in 0..2 {
        for i in 0..boards.len() {
            for j in 0..boards.len() {
                if i != j {
                    let u = boards[i].encode_diff(&boards[j].state_vector());
                    boards[j].apply_update(&u).unwrap();
                }
            }
        }
    }
}

/// What a modified client does: append vote entries straight into the
/// session's Y.Array with the yrs API, skipping every check.
fn raw_votes(b: &Board, session: &str, voter: &str, targets: &[&str], tag: &str) {
    let votes = b.doc().get_or_insert_map("votes");
    let mut txn = b.doc().transact_mut();
    let Some(Out::YMap(s)) = votes.get(&txn, session) else {
        panic!("no session")
    };
    let Some(Out::YArray(entries)) = s.get(&txn, "entries") else {
        panic!("no entries")
    };
    for (i, t) in targets.iter().enumerate() {
        let mut m = HashMap::new();
        m.insert("id".to_owned(), Any::from(format!("{tag}-{i}")));
        m.insert("voter".to_owned(), Any::from(voter));
        m.insert("target".to_owned(), Any::from(*t));
        entries.push_back(&mut txn, Any::from(m));
    }
    // And junk a careless client might write.
    entries.push_back(&mut txn, Any::from("not a vote"));
}

#[test]
fn votes_are_limited_per_person_on_every_replica() {
    let mut fac = Board::with_client_id(1);
    let a = fac.create(NewElement::sticky(0.0, 0.0, "A")).unwrap();
    let b_ = fac.create(NewElement::sticky(300.0, 0.0, "B")).unwrap();
    let session = fac.start_vote("Fay", 3, 1_000.0).unwrap();
    let mut alice = Board::from_update_with_client_id(&fac.encode(), 2).unwrap();
    let mut mallory = Board::from_update_with_client_id(&fac.encode(), 3).unwrap();
    assert_eq!(alice.open_vote().unwrap().id, session);
    assert!(!alice.open_vote().unwrap().revealed());

    // Alice votes within her quota; the fourth is refused.
    for t in [&a, &a, &b_] {
        alice.place_vote(&session, "alice", t).unwrap();
    }
    assert_eq!(alice.votes_left(&session, "alice"), 0);
    assert!(alice.place_vote(&session, "alice", &a).is_err());
    // Taking one back frees it.
    assert!(alice.remove_vote(&session, "alice", &a).unwrap());
    assert_eq!(alice.votes_left(&session, "alice"), 1);
    alice.place_vote(&session, "alice", &b_).unwrap();

    // Mallory's modified client appends 10 votes on A directly, and
    // concurrently votes as alice too.
    raw_votes(&mallory, &session, "mallory", &[a.as_str(); 10], "m");
    raw_votes(&mallory, &session, "alice", &[&a, &a], "forged");
    mallory.place_vote(&session, "carol", &b_).unwrap();

    let boards: &mut [&mut Board] = &mut [&mut fac, &mut alice, &mut mallory];
    sync_all(boards);
    let tallies: Vec<_> = boards
        .iter()
        .map(|b| b.vote_tally(&session).unwrap())
        .collect();
    assert!(
        tallies.windows(2).all(|w| w[0] == w[1]),
        "replicas disagree"
    );
    let t = &tallies[0];
    assert_eq!(t.used("mallory"), 3, "{t:?}");
    assert_eq!(t.used("alice"), 3);
    assert_eq!(t.used("carol"), 1);
    assert_eq!(t.per_target.values().sum::<u32>(), 7);
    for b in boards.iter() {
        assert_eq!(b.votes_left(&session, "mallory"), 0);
    }

    // The facilitator ends it: results revealed; late votes do not count.
    let mut late = Board::from_update_with_client_id(&boards[0].encode(), 4).unwrap();
    assert!(
        boards[1].end_vote(&session, "alice").is_err(),
        "only Fay ends it"
    );
    let result = boards[0].end_vote(&session, "Fay").unwrap();
    late.place_vote(&session, "dave", &a).unwrap(); // has not seen the end
    raw_votes(&late, &session, "erin", &[&b_], "late");
    let boards: &mut [&mut Board] = &mut [&mut fac, &mut alice, &mut mallory, &mut late];
    sync_all(boards);
    for b in boards.iter() {
        assert_eq!(b.vote_tally(&session).unwrap(), result);
        let s = b.vote_sessions().pop().unwrap();
        assert!(s.revealed() && !s.open);
        assert_eq!(b.votes_left(&session, "dave"), 0);
    }
    assert_eq!(result.used("dave"), 0);
    assert!(boards[1].place_vote(&session, "alice", &a).is_err());
    assert_eq!(
        result.ranking()[0].1,
        result.per_target.values().max().copied().unwrap()
    );
}

#[test]
fn a_malformed_session_counts_nothing_and_never_panics() {
    let mut b = Board::with_client_id(1);
    let s = b.start_vote("Fay", 2, 0.0).unwrap();
    {
        let votes = b.doc().get_or_insert_map("votes");
        let mut txn = b.doc().transact_mut();
        votes.insert(&mut txn, "junk", "not a session");
        let Some(Out::YMap(m)) = votes.get(&txn, &s) else {
            panic!()
        };
        m.insert(&mut txn, "votes_per_person", "lots");
        m.insert(&mut txn, "entries", 5.0);
    }
    assert_eq!(b.vote_tally(&s).unwrap().counted.len(), 0);
    assert_eq!(b.votes_left(&s, "x"), 0);
    assert_eq!(b.vote_sessions().len(), 1);
    assert!(b.vote_tally("junk").is_none());
    assert!(b.start_vote("Fay", 0, 0.0).is_err());
    assert!(b.start_vote("Fay", 3, f64::NAN).is_err());
}

#[test]
fn the_timer_is_shared_and_counts_down_locally() {
    let mut a = Board::with_client_id(1);
    let mut b = Board::from_update_with_client_id(&a.encode(), 2).unwrap();
    assert!(a.timer().is_none());
    a.start_timer(300_000.0, 1_000_000.0, "Fay").unwrap();
    let u = a.encode_diff(&b.state_vector());
    b.apply_update(&u).unwrap();
    let t = b.timer().unwrap();
    assert_eq!(t.by, "Fay");
    assert_eq!(t.remaining_ms(1_060_000.0), 240_000.0);
    assert_eq!(t.remaining_ms(2_000_000.0), 0.0);
    assert!(t.is_finished(1_300_000.0));
    // B pauses at 100 s in; A sees the pause; A resumes later.
    b.pause_timer(1_100_000.0).unwrap();
    let u = b.encode_diff(&a.state_vector());
    a.apply_update(&u).unwrap();
    let t = a.timer().unwrap();
    assert!(t.is_paused());
    assert_eq!(t.remaining_ms(5_000_000.0), 200_000.0);
    a.resume_timer(5_000_000.0).unwrap();
    assert_eq!(a.timer().unwrap().remaining_ms(5_050_000.0), 150_000.0);
    a.stop_timer().unwrap();
    assert!(a.timer().is_none());
    assert!(a.start_timer(-1.0, 0.0, "x").is_err());
    // A malformed timer reads as none.
    {
        let timer = a.doc().get_or_insert_map("timer");
        let mut txn = a.doc().transact_mut();
        timer.insert(&mut txn, "current", "soon");
    }
    assert!(a.timer().is_none());
}

#[test]
fn tidy_and_sort_place_a_selection_in_one_step() {
    let mut b = Board::with_client_id(1);
    let colours = [
        Color::STICKY_PALETTE[4],
        Color::STICKY_PALETTE[0],
        Color::STICKY_PALETTE[4],
        Color(1, 2, 3),
        Color::STICKY_PALETTE[0],
    ];
    let authors = [Some("Zoe"), Some("amir"), None, Some("Zoe"), Some("amir")];
    let mut ids = Vec::new();
    for (i, (c, a)) in colours.iter().zip(authors).enumerate() {
        let mut n = NewElement::sticky(1000.0 - 170.0 * i as f64, 37.0 * i as f64, &i.to_string())
            .with_style(StylePatch {
                fill: Some(Some(*c)),
                ..StylePatch::default()
            });
        if let Some(a) = a {
            n = n.with_author(a);
        }
        ids.push(b.create(n).unwrap());
    }
    let els: Vec<_> = ids.iter().map(|id| b.element(id).unwrap()).collect();

    let grid = tidy_grid(&els, None);
    assert_eq!(grid.len(), 5);
    let xs: std::collections::BTreeSet<i64> = grid.iter().map(|p| p.x as i64).collect();
    assert_eq!(xs.len(), 3, "three columns for five");
    b.set_positions(&grid).unwrap();
    let after: Vec<_> = ids.iter().map(|id| b.element(id).unwrap().geom).collect();
    for (i, g) in after.iter().enumerate() {
        for h in &after[i + 1..] {
            let apart = (g.x - h.x).abs() >= g.w || (g.y - h.y).abs() >= g.h;
            assert!(apart, "overlap after tidy");
        }
    }
    assert!(b.undo());
    assert_eq!(b.element(&ids[0]).unwrap().geom, els[0].geom);

    // By colour: yellow row (palette 0), light blue row (palette 4), other.
    let rows = sort_into_rows(&els, SortBy::Colour);
    let row_of = |id: &str| rows.iter().find(|p| p.id == id).unwrap().y;
    assert_eq!(row_of(&ids[1]), row_of(&ids[4]));
    assert_eq!(row_of(&ids[0]), row_of(&ids[2]));
    assert!(row_of(&ids[1]) < row_of(&ids[0]));
    assert!(row_of(&ids[0]) < row_of(&ids[3]));
    // By author: amir, Zoe, then no author.
    let rows = sort_into_rows(&els, SortBy::Author);
    let row_of = |id: &str| rows.iter().find(|p| p.id == id).unwrap().y;
    assert_eq!(row_of(&ids[1]), row_of(&ids[4]));
    assert_eq!(row_of(&ids[0]), row_of(&ids[3]));
    assert!(row_of(&ids[1]) < row_of(&ids[0]) && row_of(&ids[0]) < row_of(&ids[2]));
    assert!(
        b.set_positions(&[touchpoint_crdt::tidy::Placement {
            id: "missing".into(),
            x: 0.0,
            y: 0.0
        }])
        .is_err()
    );
}

#[derive(Debug, Clone)]
enum VoteOp {
    /// Replica, voter, target.
    Place(usize, usize, usize),
    /// Replica, voter, target.
    Remove(usize, usize, usize),
    /// Replica, voter, how many raw entries past the checks.
    Raw(usize, usize, usize),
    /// From, to: deliver what `to` lacks from `from`.
    Sync(usize, usize),
    /// The facilitator (replica 0) ends the vote.
    End,
}

fn vote_op() -> impl proptest::strategy::Strategy<Value = VoteOp> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (0..3usize, 0..3usize, 0..3usize).prop_map(|(r, v, t)| VoteOp::Place(r, v, t)),
        1 => (0..3usize, 0..3usize, 0..3usize).prop_map(|(r, v, t)| VoteOp::Remove(r, v, t)),
        2 => (0..3usize, 0..3usize, 1..6usize).prop_map(|(r, v, n)| VoteOp::Raw(r, v, n)),
        3 => (0..3usize, 0..3usize).prop_map(|(a, b)| VoteOp::Sync(a, b)),
        1 => Just(VoteOp::End),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// Random honest and raw votes on three replicas, delivered in random
    /// order: once all have everything, every replica counts the same votes
    /// and nobody has more than their quota.
    #[test]
    fn every_replica_counts_the_same_votes(ops in proptest::collection::vec(vote_op(), 1..40)) {
        let mut first = Board::with_client_id(1);
        let targets: Vec<String> = (0..3)
            .map(|i| first.create(NewElement::sticky(f64::from(i) * 300.0, 0.0, "t")).unwrap())
            .collect();
        let session = first.start_vote("fac", 2, 0.0).unwrap();
        let mut boards = [first, Board::with_client_id(2), Board::with_client_id(3)];
        let all = boards[0].encode();
        for b in &mut boards[1..] {
            b.apply_update(&all).unwrap();
        }
        let voters = ["ann", "bob", "mal"];
        for (n, op) in ops.iter().enumerate() {
            match op {
                VoteOp::Place(r, v, t) => {
                    let _ = boards[*r].place_vote(&session, voters[*v], &targets[*t]);
                }
                VoteOp::Remove(r, v, t) => {
                    let _ = boards[*r].remove_vote(&session, voters[*v], &targets[*t]);
                }
                VoteOp::Raw(r, v, k) => {
                    let ts: Vec<&str> = (0..*k).map(|i| targets[i % 3].as_str()).collect();
                    raw_votes(&boards[*r], &session, voters[*v], &ts, &format!("raw{n}-{r}"));
                }
                VoteOp::Sync(a, b) if a != b => {
                    let u = boards[*a].encode_diff(&boards[*b].state_vector());
                    boards[*b].apply_update(&u).unwrap();
                }
                VoteOp::Sync(..) => {}
                VoteOp::End => {
                    let _ = boards[0].end_vote(&session, "fac");
                }
            }
        }
        let mut refs: Vec<&mut Board> = boards.iter_mut().collect();
        sync_all(&mut refs);
        let tallies: Vec<_> = boards.iter().map(|b| b.vote_tally(&session).unwrap()).collect();
        proptest::prop_assert!(tallies.windows(2).all(|w| w[0] == w[1]), "replicas disagree");
        for v in voters {
            proptest::prop_assert!(tallies[0].used(v) <= 2);
        }
    }
}
