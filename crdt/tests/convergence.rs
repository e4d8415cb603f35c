//! Convergence under concurrency: 3 to 5 replicas make random edits while a
//! simulated network delivers their updates in random order, late, and more
//! than once. Once everything has been delivered, every replica must hold the
//! same elements with the same fields and the same stacking order.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use touchpoint_crdt::{
    Anchor, Board, Color, End, EndSide, Geometry, NewElement, REMOTE_ORIGIN, Reorder, ShapeKind,
    StylePatch,
};
use yrs::Origin;

#[derive(Debug, Clone)]
enum Op {
    CreateSticky {
        x: i16,
        y: i16,
        text: String,
    },
    CreateShape {
        shape: usize,
    },
    CreateFrame,
    /// A connector from one element to another (both picked by index).
    Connect {
        from: usize,
        to: usize,
    },
    Type {
        target: usize,
        at: usize,
        text: String,
    },
    Erase {
        target: usize,
        at: usize,
        len: usize,
    },
    Move {
        targets: Vec<usize>,
        dx: i16,
        dy: i16,
    },
    Resize {
        target: usize,
        w: u16,
        h: u16,
    },
    Restyle {
        target: usize,
        colour: usize,
    },
    Delete {
        target: usize,
    },
    Reorder {
        target: usize,
        how: usize,
    },
    Reparent {
        target: usize,
        frame: Option<usize>,
    },
    Undo,
    Redo,
}

/// One step of the simulation: a replica edits, or the network acts.
#[derive(Debug, Clone)]
enum Step {
    Edit {
        replica: usize,
        op: Op,
    },
    /// Deliver the pending message at this index (mod the pool size); keep a
    /// copy in the pool when `duplicate` is set.
    Deliver {
        pick: usize,
        duplicate: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let text = "[a-z 🌍é]{1,4}";
    prop_oneof![
        (any::<i16>(), any::<i16>(), text).prop_map(|(x, y, text)| Op::CreateSticky { x, y, text }),
        (0..5usize).prop_map(|shape| Op::CreateShape { shape }),
        Just(Op::CreateFrame),
        (any::<usize>(), any::<usize>()).prop_map(|(from, to)| Op::Connect { from, to }),
        (any::<usize>(), 0..12usize, text).prop_map(|(target, at, text)| Op::Type {
            target,
            at,
            text
        }),
        (any::<usize>(), 0..12usize, 1..4usize).prop_map(|(target, at, len)| Op::Erase {
            target,
            at,
            len
        }),
        (
            prop::collection::vec(any::<usize>(), 1..4),
            any::<i16>(),
            any::<i16>()
        )
            .prop_map(|(targets, dx, dy)| Op::Move { targets, dx, dy }),
        (any::<usize>(), 1..500u16, 1..500u16).prop_map(|(target, w, h)| Op::Resize {
            target,
            w,
            h
        }),
        (any::<usize>(), 0..8usize).prop_map(|(target, colour)| Op::Restyle { target, colour }),
        any::<usize>().prop_map(|target| Op::Delete { target }),
        (any::<usize>(), 0..4usize).prop_map(|(target, how)| Op::Reorder { target, how }),
        (any::<usize>(), prop::option::of(any::<usize>()))
            .prop_map(|(target, frame)| Op::Reparent { target, frame }),
        Just(Op::Undo),
        Just(Op::Redo),
    ]
}

fn steps(replicas: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (0..replicas, op()).prop_map(|(replica, op)| Step::Edit { replica, op }),
        2 => (any::<usize>(), prop::bool::weighted(0.2))
            .prop_map(|(pick, duplicate)| Step::Deliver { pick, duplicate }),
    ];
    prop::collection::vec(step, 10..60)
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Step>)> {
    (3..=5usize).prop_flat_map(|n| (Just(n), steps(n)))
}

/// A replica and the updates its own transactions produced, waiting to be sent.
struct Replica {
    board: Board,
    outbox: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Replica {
    fn new(board: Board) -> Replica {
        let outbox = Arc::new(Mutex::new(Vec::new()));
        let sink = outbox.clone();
        let remote = Origin::from(REMOTE_ORIGIN);
        board
            .doc()
            .observe_update_v1("test-outbox", move |txn, event| {
                if txn.origin() != Some(&remote) {
                    sink.lock().unwrap().push(event.update.clone());
                }
            })
            .unwrap();
        Replica { board, outbox }
    }
}

fn pick(ids: &[String], i: usize) -> Option<&str> {
    if ids.is_empty() {
        None
    } else {
        Some(ids[i % ids.len()].as_str())
    }
}

/// Applies one edit. Edits may legitimately fail (the target was deleted
/// concurrently, a frame cannot go into a frame); they must never panic.
fn apply(board: &mut Board, op: &Op) {
    let order = board.z_order();
    let frames: Vec<String> = board
        .elements()
        .into_iter()
        .filter(|e| e.kind() == touchpoint_crdt::Kind::Frame)
        .map(|e| e.id)
        .collect();
    let _ = match op {
        Op::CreateSticky { x, y, text } => board
            .create(NewElement::sticky(f64::from(*x), f64::from(*y), text))
            .map(drop),
        Op::CreateShape { shape } => board
            .create(
                NewElement::shape(ShapeKind::ALL[*shape], Geometry::new(0.0, 0.0, 80.0, 60.0))
                    .with_text("s"),
            )
            .map(drop),
        Op::CreateFrame => board
            .create(NewElement::frame(
                "F",
                Geometry::new(-50.0, -50.0, 400.0, 300.0),
            ))
            .map(drop),
        Op::Connect { from, to } => match (pick(&order, *from), pick(&order, *to)) {
            (Some(a), Some(b)) => board
                .create(NewElement::connector(
                    End::free(0.0, 0.0),
                    End::free(1.0, 1.0),
                ))
                .and_then(|c| {
                    board.set_end(&c, EndSide::From, End::bound(a, Anchor::Right))?;
                    board.set_end(&c, EndSide::To, End::bound(b, Anchor::Left))
                }),
            _ => Ok(()),
        },
        Op::Type { target, at, text } => match pick(&order, *target) {
            Some(id) => board.insert_text(id, *at, text),
            None => Ok(()),
        },
        Op::Erase { target, at, len } => match pick(&order, *target) {
            Some(id) => board.delete_text(id, *at, *len),
            None => Ok(()),
        },
        Op::Move { targets, dx, dy } => {
            let ids: Vec<&str> = targets.iter().filter_map(|t| pick(&order, *t)).collect();
            let mut unique = ids.clone();
            unique.sort();
            unique.dedup();
            board.move_by(&unique, f64::from(*dx), f64::from(*dy))
        }
        Op::Resize { target, w, h } => match pick(&order, *target) {
            Some(id) => {
                board.set_geometry(id, Geometry::new(1.0, 2.0, f64::from(*w), f64::from(*h)))
            }
            None => Ok(()),
        },
        Op::Restyle { target, colour } => match pick(&order, *target) {
            Some(id) => board.restyle(
                &[id],
                StylePatch {
                    fill: Some(Some(Color::STICKY_PALETTE[*colour])),
                    ..StylePatch::default()
                },
            ),
            None => Ok(()),
        },
        Op::Delete { target } => match pick(&order, *target) {
            Some(id) => board.delete(&[id]),
            None => Ok(()),
        },
        Op::Reorder { target, how } => match pick(&order, *target) {
            Some(id) => {
                let how = [
                    Reorder::ToFront,
                    Reorder::ToBack,
                    Reorder::Forward,
                    Reorder::Backward,
                ][*how];
                board.reorder(&[id], how)
            }
            None => Ok(()),
        },
        Op::Reparent { target, frame } => match pick(&order, *target) {
            Some(id) => {
                let frame = frame.and_then(|f| pick(&frames, f));
                board.set_parent(&[id], frame)
            }
            None => Ok(()),
        },
        Op::Undo => {
            board.undo();
            Ok(())
        }
        Op::Redo => {
            board.redo();
            Ok(())
        }
    };
}

fn run(n: usize, steps: &[Step]) -> Result<(), TestCaseError> {
    // Every replica starts from the same initial board, as after a join.
    let origin = Board::with_client_id(1000);
    let mut replicas: Vec<Replica> = (0..n)
        .map(|i| {
            Replica::new(Board::from_update_with_client_id(&origin.encode(), 1 + i as u64).unwrap())
        })
        .collect();
    // (to, update) messages in flight.
    let mut pool: Vec<(usize, Vec<u8>)> = Vec::new();
    let post = |replicas: &mut Vec<Replica>, pool: &mut Vec<(usize, Vec<u8>)>, from: usize| {
        let sent: Vec<Vec<u8>> = std::mem::take(&mut *replicas[from].outbox.lock().unwrap());
        for update in sent {
            for to in 0..replicas.len() {
                if to != from {
                    pool.push((to, update.clone()));
                }
            }
        }
    };
    for step in steps {
        match step {
            Step::Edit { replica, op } => {
                apply(&mut replicas[*replica].board, op);
                post(&mut replicas, &mut pool, *replica);
            }
            Step::Deliver { pick, duplicate } => {
                if pool.is_empty() {
                    continue;
                }
                let i = pick % pool.len();
                let (to, update) = if *duplicate {
                    pool[i].clone()
                } else {
                    pool.remove(i)
                };
                replicas[to].board.apply_update(&update).unwrap();
            }
        }
    }
    // The network eventually delivers everything still in flight.
    while let Some((to, update)) = pool.pop() {
        replicas[to].board.apply_update(&update).unwrap();
    }
    let reference = replicas[0].board.elements();
    for (i, r) in replicas.iter().enumerate() {
        prop_assert_eq!(
            &r.board.elements(),
            &reference,
            "replica {} differs from replica 0",
            i
        );
        prop_assert!(
            !r.board.has_missing_updates(),
            "replica {} is missing updates",
            i
        );
        prop_assert_eq!(r.board.z_order(), replicas[0].board.z_order());
        prop_assert_eq!(r.board.meta(), replicas[0].board.meta());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge((n, steps) in scenario()) {
        run(n, &steps)?;
    }
}
