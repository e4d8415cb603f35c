//! Grids (lanes by stages): structure in the document, membership by ids,
//! concurrent stage and lane edits by two clients, defensive reads.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;

use proptest::prelude::*;
use touchpoint_crdt::grid::CELL_PADDING;
use touchpoint_crdt::{
    Axis, Board, Body, CellRef, LaneRole, NewElement, NewGrid, NewLane, NewStage,
};
use yrs::{Any, Array, ArrayPrelim, Map, MapPrelim, Out, Transact};

fn sync(a: &mut Board, b: &mut Board) {
    let to_b = a.encode_diff(&b.state_vector());
    let to_a = b.encode_diff(&a.state_vector());
    b.apply_update(&to_b).unwrap();
    a.apply_update(&to_a).unwrap();
}

fn journey() -> NewGrid {
    let mut g = NewGrid::new("Journey", 100.0, 50.0);
    g.stages = ["Discover", "Apply", "Wait", "Receive"]
        .iter()
        .map(|t| NewStage::new(t))
        .collect();
    g.lanes = vec![
        NewLane::new("Actions", LaneRole::Cards),
        NewLane::new("Line of interaction", LaneRole::Line),
        NewLane {
            points: vec![Some(0.5), Some(-0.5), None, Some(1.0)],
            ..NewLane::new("Feelings", LaneRole::Emotion)
        },
    ];
    g.contents = vec![
        (0, 0, NewElement::sticky(0.0, 0.0, "search")),
        (0, 1, NewElement::sticky(0.0, 0.0, "fill form")),
        (0, 1, NewElement::sticky(0.0, 0.0, "upload")),
        (2, 3, NewElement::sticky(0.0, 0.0, "relieved")),
    ];
    g
}

/// sticky id -> (lane id, stage id), from the grid view.
fn membership(b: &Board, grid: &str) -> BTreeMap<String, (String, String)> {
    let v = b.grid_view(grid).unwrap();
    let mut out = BTreeMap::new();
    for ((lane, stage), ids) in &v.cells {
        for id in ids {
            assert!(
                out.insert(id.clone(), (lane.clone(), stage.clone()))
                    .is_none(),
                "{id} in two cells"
            );
        }
    }
    out
}

fn titles(b: &Board, grid: &str, axis: Axis) -> Vec<String> {
    let v = b.grid_view(grid).unwrap();
    match axis {
        Axis::Stage => v.grid.stages.iter().map(|s| s.title.clone()).collect(),
        Axis::Lane => v.grid.lanes.iter().map(|l| l.title.clone()).collect(),
    }
}

/// Every member lies inside its cell's rectangle.
fn assert_inside(b: &Board, grid: &str) {
    let v = b.grid_view(grid).unwrap();
    for ((lane, stage), ids) in &v.cells {
        let cell = v.cell_rect(lane, stage).unwrap();
        for id in ids {
            let e = b.element(id).unwrap();
            assert!(
                e.geom.x >= cell.x - 1e-6
                    && e.geom.y >= cell.y - 1e-6
                    && e.geom.x + e.geom.w <= cell.x + cell.w + 1e-6
                    && e.geom.y + e.geom.h <= cell.y + cell.h + 1e-6,
                "{id} at {:?} outside its cell {cell:?}",
                e.geom
            );
        }
    }
}

#[test]
fn a_grid_holds_its_structure_and_cells() {
    let mut b = Board::with_client_id(1);
    let created = b.create_grid(journey()).unwrap();
    let v = b.grid_view(&created.id).unwrap();
    assert_eq!(
        titles(&b, &created.id, Axis::Stage),
        ["Discover", "Apply", "Wait", "Receive"]
    );
    assert_eq!(v.grid.lanes[1].role, LaneRole::Line);
    assert_eq!(v.grid.lanes[2].points.len(), 3);
    assert_eq!(v.grid.lanes[2].points[&created.stages[1]], -0.5);
    assert_eq!(
        v.cell(&created.lanes[0], &created.stages[1]),
        [created.contents[1].clone(), created.contents[2].clone()]
    );
    assert_eq!(
        b.cell_of(&created.contents[3]),
        Some(CellRef {
            grid: created.id.clone(),
            lane: created.lanes[2].clone(),
            stage: created.stages[3].clone(),
        })
    );
    assert_inside(&b, &created.id);
    // The grid element's size is its tracks'.
    let el = b.element(&created.id).unwrap();
    let Body::Grid(g) = &el.body else { panic!() };
    assert_eq!([el.geom.w, el.geom.h], g.size());
    assert!(!b.grids_unsettled());
    // One undo step removes the grid and its stickies.
    assert!(b.undo());
    assert!(b.is_empty());
}

#[test]
fn cells_grow_with_their_contents() {
    let mut b = Board::with_client_id(1);
    let mut g = journey();
    g.contents.clear();
    for i in 0..7 {
        g.contents
            .push((0, 2, NewElement::sticky(0.0, 0.0, &format!("note {i}"))));
    }
    let c = b.create_grid(g).unwrap();
    let v = b.grid_view(&c.id).unwrap();
    // 320 wide fits one 200-wide sticky per row: seven rows.
    let need = 2.0 * CELL_PADDING + 7.0 * 200.0 + 6.0 * 12.0;
    assert!(v.grid.lanes[0].height >= need - 1e-6);
    assert_inside(&b, &c.id);
    // Widening the stage lays them out in two columns; a lane cannot shrink
    // below its contents.
    b.resize_track(&c.id, Axis::Stage, &c.stages[2], 500.0)
        .unwrap();
    b.resize_track(&c.id, Axis::Lane, &c.lanes[0], 10.0)
        .unwrap();
    let v = b.grid_view(&c.id).unwrap();
    assert!(v.grid.lanes[0].height >= 2.0 * CELL_PADDING + 4.0 * 200.0 + 3.0 * 12.0 - 1e-6);
    assert_inside(&b, &c.id);
}

#[test]
fn stages_and_lanes_are_added_renamed_moved_and_removed() {
    let mut b = Board::with_client_id(1);
    let c = b.create_grid(journey()).unwrap();
    let before = membership(&b, &c.id);
    let new = b.add_stage(&c.id, 1, "Compare").unwrap();
    b.rename_track(&c.id, Axis::Stage, &c.stages[0], "Find")
        .unwrap();
    b.move_track(&c.id, Axis::Stage, &c.stages[0], 3).unwrap();
    assert_eq!(
        titles(&b, &c.id, Axis::Stage),
        ["Compare", "Apply", "Wait", "Find", "Receive"]
    );
    b.move_track(&c.id, Axis::Stage, &new, usize::MAX).unwrap();
    assert_eq!(
        titles(&b, &c.id, Axis::Stage),
        ["Apply", "Wait", "Find", "Receive", "Compare"]
    );
    let lane = b.add_lane(&c.id, 0, "Channels", LaneRole::Cards).unwrap();
    b.move_track(&c.id, Axis::Lane, &lane, 2).unwrap();
    assert_eq!(
        titles(&b, &c.id, Axis::Lane),
        ["Actions", "Line of interaction", "Channels", "Feelings"]
    );
    assert_eq!(membership(&b, &c.id), before);
    assert_inside(&b, &c.id);
    // Removing a stage deletes what its cells hold; undo brings it back.
    b.remove_track(&c.id, Axis::Stage, &c.stages[1]).unwrap();
    assert!(b.element(&c.contents[1]).is_none());
    assert_eq!(titles(&b, &c.id, Axis::Stage).len(), 4);
    assert!(b.undo());
    assert_eq!(membership(&b, &c.id), before);
    // Emotion points.
    b.set_emotion(&c.id, &c.lanes[2], &c.stages[2], Some(3.0))
        .unwrap();
    let v = b.grid_view(&c.id).unwrap();
    let feelings = &v.grid.lanes[v.grid.lane_index(&c.lanes[2]).unwrap()];
    assert_eq!(feelings.points[&c.stages[2]], 1.0);
    assert!(
        b.set_emotion(&c.id, &c.lanes[2], "nope", Some(0.0))
            .is_err()
    );
}

#[test]
fn dropping_a_sticky_puts_it_in_the_cell_under_it() {
    let mut b = Board::with_client_id(1);
    let c = b.create_grid(journey()).unwrap();
    let v = b.grid_view(&c.id).unwrap();
    let target = v.cell_rect(&c.lanes[0], &c.stages[2]).unwrap();
    let s = b
        .create(NewElement::sticky(-1000.0, -1000.0, "new"))
        .unwrap();
    let e = b.element(&s).unwrap();
    let (dx, dy) = (
        target.x + target.w / 2.0 - (e.geom.x + e.geom.w / 2.0),
        target.y + target.h / 2.0 - (e.geom.y + e.geom.h / 2.0),
    );
    b.move_and_drop(&[&s], dx, dy).unwrap();
    assert_eq!(b.cell_of(&s).unwrap().stage, c.stages[2]);
    assert_inside(&b, &c.id);
    // A line lane takes nothing; outside every grid the cell is cleared.
    let line = v.cell_rect(&c.lanes[1], &c.stages[0]).unwrap();
    assert!(v.cell_at([line.x + 5.0, line.y + 5.0]).is_none());
    b.move_and_drop(&[&s], 10_000.0, 0.0).unwrap();
    assert_eq!(b.cell_of(&s), None);
    // One undo step per drop.
    assert!(b.undo());
    assert_eq!(b.cell_of(&s).unwrap().stage, c.stages[2]);
    assert!(
        b.set_cell(
            &[&s],
            Some(&CellRef {
                grid: c.id.clone(),
                lane: c.lanes[1].clone(),
                stage: c.stages[0].clone(),
            })
        )
        .is_err()
    );
}

#[test]
fn concurrent_stage_edits_keep_every_sticky_in_its_cell() {
    let mut a = Board::with_client_id(1);
    let c = a.create_grid(journey()).unwrap();
    let mut b = Board::from_update_with_client_id(&a.encode(), 2).unwrap();
    let before = membership(&a, &c.id);

    // A: inserts a stage and moves the first stage to the end.
    a.add_stage(&c.id, 1, "Compare").unwrap();
    a.move_track(&c.id, Axis::Stage, &c.stages[0], usize::MAX)
        .unwrap();
    // B, concurrently: moves the same stage elsewhere, renames a lane, moves
    // a lane, and adds a sticky to a cell.
    b.move_track(&c.id, Axis::Stage, &c.stages[0], 2).unwrap();
    b.rename_track(&c.id, Axis::Lane, &c.lanes[0], "User actions")
        .unwrap();
    b.move_track(&c.id, Axis::Lane, &c.lanes[2], 0).unwrap();
    let s = b.create(NewElement::sticky(0.0, 0.0, "late note")).unwrap();
    let cell = CellRef {
        grid: c.id.clone(),
        lane: c.lanes[0].clone(),
        stage: c.stages[3].clone(),
    };
    b.set_cell(&[&s], Some(&cell)).unwrap();

    sync(&mut a, &mut b);
    assert_eq!(a.grid_view(&c.id), b.grid_view(&c.id), "replicas disagree");
    let mut expected = before;
    expected.insert(s.clone(), (cell.lane.clone(), cell.stage.clone()));
    assert_eq!(membership(&a, &c.id), expected);
    // The stage moved twice appears once; the new one is there.
    let stages = titles(&a, &c.id, Axis::Stage);
    assert_eq!(stages.len(), 5, "{stages:?}");
    assert_eq!(stages.iter().filter(|t| *t == "Discover").count(), 1);
    assert_eq!(titles(&a, &c.id, Axis::Lane)[0], "Feelings");
    assert_eq!(titles(&a, &c.id, Axis::Lane)[1], "User actions");

    // Both settle (positions may be stale after the merge) and agree.
    a.settle_grids().unwrap();
    b.settle_grids().unwrap();
    sync(&mut a, &mut b);
    assert_eq!(a.snapshot(), b.snapshot());
    assert!(!a.grids_unsettled() && !b.grids_unsettled());
    assert_inside(&a, &c.id);
    assert_eq!(membership(&b, &c.id), expected);
}

#[test]
fn a_removed_stage_stays_removed_when_moved_concurrently() {
    let mut a = Board::with_client_id(1);
    let c = a.create_grid(journey()).unwrap();
    let mut b = Board::from_update_with_client_id(&a.encode(), 2).unwrap();
    a.remove_track(&c.id, Axis::Stage, &c.stages[2]).unwrap();
    b.move_track(&c.id, Axis::Stage, &c.stages[2], 0).unwrap();
    b.rename_track(&c.id, Axis::Stage, &c.stages[2], "renamed")
        .unwrap();
    sync(&mut a, &mut b);
    assert_eq!(a.grid_view(&c.id), b.grid_view(&c.id));
    assert_eq!(
        titles(&a, &c.id, Axis::Stage),
        ["Discover", "Apply", "Receive"]
    );
}

#[test]
fn a_hostile_grid_reads_without_panicking() {
    let b = Board::with_client_id(1);
    {
        let elements = b.doc().get_or_insert_map("elements");
        let mut txn = b.doc().transact_mut();
        let g: MapPrelim = [
            ("kind", yrs::In::Any(Any::from("grid"))),
            ("x", yrs::In::Any(Any::from("left"))),
            ("header_w", yrs::In::Any(Any::from(f64::NAN))),
            ("stages", yrs::In::Any(Any::from(3.0))),
            ("lane_info", yrs::In::Any(Any::from("nope"))),
        ]
        .into_iter()
        .collect();
        elements.insert(&mut txn, "g1", g);
        let g: MapPrelim = [("kind", yrs::In::Any(Any::from("grid")))]
            .into_iter()
            .collect();
        let g2 = elements.insert(&mut txn, "g2", g);
        let order = g2.insert(
            &mut txn,
            "stages",
            ArrayPrelim::from([
                Any::from("s1"),
                Any::from(5.0),
                Any::from("s1"),
                Any::from("ghost"),
            ]),
        );
        let _ = order.len(&txn);
        let info = g2.insert(&mut txn, "stage_info", MapPrelim::default());
        let s1: MapPrelim = [
            ("title", yrs::In::Any(Any::from(7.0))),
            ("width", yrs::In::Any(Any::from(-1e300))),
        ]
        .into_iter()
        .collect();
        info.insert(&mut txn, "s1", s1);
        info.insert(&mut txn, "ghost", "not a map");
        // A sticky whose cell is malformed, and one naming a missing grid.
        let s: MapPrelim = [
            ("kind", yrs::In::Any(Any::from("sticky"))),
            ("cell", yrs::In::Any(Any::from("g2"))),
        ]
        .into_iter()
        .collect();
        elements.insert(&mut txn, "s", s);
    }
    let v1 = b.grid_view("g1").unwrap();
    assert!(v1.grid.stages.is_empty() && v1.grid.lanes.is_empty());
    let v2 = b.grid_view("g2").unwrap();
    assert_eq!(v2.grid.stages.len(), 1);
    assert_eq!(v2.grid.stages[0].width, touchpoint_crdt::grid::MIN_TRACK);
    assert!(b.cell_of("s").is_none());
    assert_eq!(b.grid_ids(), ["g1", "g2"]);
    let mut b = b;
    b.settle_grids().unwrap();
    // Edits on a malformed grid fail cleanly.
    assert!(b.add_stage("g1", 0, "x").is_err());
    assert!(b.add_stage("s", 0, "x").is_err());
    assert!(b.add_stage("g2", 0, "x").is_ok());
    match b
        .doc()
        .get_or_insert_map("elements")
        .get(&b.doc().transact(), "g2")
    {
        Some(Out::YMap(_)) => {}
        _ => panic!(),
    }
}

#[derive(Debug, Clone)]
enum Op {
    AddStage(usize),
    MoveStage(usize, usize),
    AddLane(usize),
    MoveLane(usize, usize),
    RenameLane(usize),
    ResizeStage(usize, u16),
    AddSticky(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..6usize).prop_map(Op::AddStage),
        (0..6usize, 0..6usize).prop_map(|(a, b)| Op::MoveStage(a, b)),
        (0..6usize).prop_map(Op::AddLane),
        (0..6usize, 0..6usize).prop_map(|(a, b)| Op::MoveLane(a, b)),
        (0..6usize).prop_map(Op::RenameLane),
        (0..6usize, 50..600u16).prop_map(|(a, w)| Op::ResizeStage(a, w)),
        (0..6usize, 0..6usize).prop_map(|(a, b)| Op::AddSticky(a, b)),
    ]
}

fn apply(b: &mut Board, grid: &str, op: &Op) {
    let v = b.grid_view(grid).unwrap();
    let stage = |i: usize| v.grid.stages[i % v.grid.stages.len()].id.clone();
    let lane = |i: usize| v.grid.lanes[i % v.grid.lanes.len()].id.clone();
    match op {
        Op::AddStage(i) => drop(b.add_stage(grid, *i, "new").unwrap()),
        Op::MoveStage(i, to) => b.move_track(grid, Axis::Stage, &stage(*i), *to).unwrap(),
        Op::AddLane(i) => drop(b.add_lane(grid, *i, "lane", LaneRole::Cards).unwrap()),
        Op::MoveLane(i, to) => b.move_track(grid, Axis::Lane, &lane(*i), *to).unwrap(),
        Op::RenameLane(i) => b
            .rename_track(grid, Axis::Lane, &lane(*i), &format!("lane {i}"))
            .unwrap(),
        Op::ResizeStage(i, w) => b
            .resize_track(grid, Axis::Stage, &stage(*i), f64::from(*w))
            .unwrap(),
        Op::AddSticky(l, s) => {
            let l = v
                .grid
                .lanes
                .iter()
                .filter(|l| l.role != LaneRole::Line)
                .nth(l % 2)
                .unwrap()
                .id
                .clone();
            let id = b.create(NewElement::sticky(0.0, 0.0, "p")).unwrap();
            b.set_cell(
                &[&id],
                Some(&CellRef {
                    grid: grid.to_owned(),
                    lane: l,
                    stage: stage(*s),
                }),
            )
            .unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Two clients edit the structure concurrently in rounds; after each
    /// exchange they read the same grid, and no sticky ever changes cell.
    #[test]
    fn two_clients_converge_and_keep_membership(
        rounds in prop::collection::vec((prop::collection::vec(op(), 0..4), prop::collection::vec(op(), 0..4)), 1..4)
    ) {
        let mut a = Board::with_client_id(1);
        let c = a.create_grid(journey()).unwrap();
        let mut b = Board::from_update_with_client_id(&a.encode(), 2).unwrap();
        let mut expected = membership(&a, &c.id);
        for (ops_a, ops_b) in &rounds {
            for o in ops_a { apply(&mut a, &c.id, o); }
            for o in ops_b { apply(&mut b, &c.id, o); }
            sync(&mut a, &mut b);
            prop_assert_eq!(a.grid_view(&c.id), b.grid_view(&c.id));
            let now = membership(&a, &c.id);
            for (id, cell) in &expected {
                prop_assert_eq!(now.get(id), Some(cell), "{} changed cell", id);
            }
            expected = now;
            a.settle_grids().unwrap();
            b.settle_grids().unwrap();
            sync(&mut a, &mut b);
            prop_assert_eq!(a.snapshot(), b.snapshot());
            prop_assert!(!a.grids_unsettled());
        }
        assert_inside(&a, &c.id);
    }
}

#[test]
fn moving_a_grid_carries_its_stickies_and_deleting_it_deletes_them() {
    let mut b = Board::with_client_id(1);
    let c = b.create_grid(journey()).unwrap();
    let free = b.create(NewElement::sticky(5000.0, 0.0, "free")).unwrap();
    let before = b.element(&c.contents[0]).unwrap().geom;
    b.move_by(&[&c.id], 100.0, -50.0).unwrap();
    let after = b.element(&c.contents[0]).unwrap().geom;
    assert_eq!((after.x, after.y), (before.x + 100.0, before.y - 50.0));
    assert!(!b.grids_unsettled());
    b.delete(&[&c.id]).unwrap();
    assert_eq!(b.len(), 1);
    assert!(b.element(&free).is_some());
    assert!(b.undo());
    assert_eq!(membership(&b, &c.id).len(), c.contents.len());
}

#[test]
fn creating_in_a_cell_and_finding_the_cell_under_a_point() {
    let mut b = Board::with_client_id(1);
    let c = b.create_grid(journey()).unwrap();
    let cell = CellRef {
        grid: c.id.clone(),
        lane: c.lanes[0].clone(),
        stage: c.stages[3].clone(),
    };
    let s = b
        .create_in_cell(NewElement::sticky(0.0, 0.0, "in place"), &cell)
        .unwrap();
    assert_eq!(b.cell_of(&s), Some(cell.clone()));
    let center = b.element(&s).unwrap().geom.center();
    assert_eq!(b.cell_at(center), Some(cell));
    assert_eq!(b.cell_at([-10_000.0, 0.0]), None);
    // One undo step removes the sticky.
    assert!(b.undo());
    assert!(b.element(&s).is_none());
    let line = CellRef {
        grid: c.id.clone(),
        lane: c.lanes[1].clone(),
        stage: c.stages[0].clone(),
    };
    let n = b.len();
    assert!(
        b.create_in_cell(NewElement::sticky(0.0, 0.0, "x"), &line)
            .is_err()
    );
    assert_eq!(b.len(), n, "nothing written on a refused edit");
}

#[test]
fn an_overfull_cell_settles_once() {
    let mut b = Board::with_client_id(1);
    let mut g = journey();
    g.contents = vec![(
        0,
        0,
        NewElement::sticky(0.0, 0.0, "huge").with_geometry(touchpoint_crdt::Geometry::new(
            0.0, 0.0, 150_000.0, 150_000.0,
        )),
    )];
    let c = b.create_grid(g).unwrap();
    assert!(!b.grids_unsettled());
    assert!(!b.settle_grids().unwrap());
    let v = b.grid_view(&c.id).unwrap();
    assert_eq!(v.grid.lanes[0].height, touchpoint_crdt::grid::MAX_TRACK);
}

#[test]
fn a_grid_is_not_resized_as_a_box() {
    let mut b = Board::with_client_id(1);
    let c = b.create_grid(journey()).unwrap();
    let g = b.element(&c.id).unwrap().geom;
    assert!(
        b.set_geometry(&c.id, touchpoint_crdt::Geometry::new(0.0, 0.0, 10.0, 10.0))
            .is_err()
    );
    assert_eq!(b.element(&c.id).unwrap().geom, g);
    // Its title is its text.
    b.set_text(&c.id, "Renamed journey").unwrap();
    assert_eq!(b.grid_view(&c.id).unwrap().grid.title, "Renamed journey");
}
