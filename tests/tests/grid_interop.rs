//! JavaScript Yjs reads a service blueprint written by Rust: its stages, its
//! lanes (with the lines between them and an emotion curve) and which sticky
//! sits in which cell, following SCHEMA.md alone (tests/js/grid.mjs); and a
//! stage moved plus a sticky placed by JavaScript read back the same in Rust.
//!
//! Needs node and `npm ci` in tests/js, unless TOUCHPOINT_SKIP_INTEROP=1.

#![allow(clippy::unwrap_used)] // test code: a panic is the assertion

use std::path::Path;

use serde_json::{Map, Value, json};
use touchpoint_crdt::{
    Axis, Board, CellRef, LaneRole, NewElement, NewGrid, NewLane, NewStage, file,
};
use touchpoint_tests::{js_available, node_json};

/// The Rust view of every grid, in the JSON shape grid.mjs prints.
fn rust_view(board: &Board) -> Value {
    let grids: Vec<Value> = board
        .grid_ids()
        .iter()
        .map(|id| {
            let v = board.grid_view(id).unwrap();
            let mut cells = Map::new();
            for ((lane, stage), ids) in &v.cells {
                let texts: Vec<String> = ids
                    .iter()
                    .map(|i| {
                        board
                            .element(i)
                            .and_then(|e| e.body.text().map(str::to_owned))
                            .unwrap_or_default()
                    })
                    .collect();
                let row = cells
                    .entry(lane.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                row.as_object_mut()
                    .unwrap()
                    .insert(stage.clone(), json!(texts));
            }
            json!({
                "id": id,
                "title": v.grid.title,
                "stages": v.grid.stages.iter().map(|s| json!({
                    "id": s.id, "title": s.title, "width": s.width,
                })).collect::<Vec<_>>(),
                "lanes": v.grid.lanes.iter().map(|l| json!({
                    "id": l.id, "title": l.title, "height": l.height,
                    "role": l.role.as_str(), "points": l.points,
                })).collect::<Vec<_>>(),
                "cells": cells,
            })
        })
        .collect();
    json!({ "grids": grids })
}

fn blueprint() -> NewGrid {
    let mut g = NewGrid::new("Renew a licence", 0.0, 0.0);
    g.stages = ["Find out", "Apply", "Pay", "Wait", "Receive"]
        .iter()
        .map(|t| NewStage::new(t))
        .collect();
    g.lanes = vec![
        NewLane::new("Physical evidence", LaneRole::Cards),
        NewLane::new("Customer actions", LaneRole::Cards),
        NewLane::new("Line of interaction", LaneRole::Line),
        NewLane::new("Frontstage actions", LaneRole::Cards),
        NewLane::new("Line of visibility", LaneRole::Line),
        NewLane::new("Backstage actions", LaneRole::Cards),
        NewLane::new("Line of internal interaction", LaneRole::Line),
        NewLane::new("Support processes", LaneRole::Cards),
        NewLane {
            points: vec![Some(0.5), Some(-0.25), None, Some(-1.0), Some(1.0)],
            ..NewLane::new("Feelings", LaneRole::Emotion)
        },
    ];
    g.contents = vec![
        (0, 1, NewElement::sticky(0.0, 0.0, "Online form")),
        (1, 1, NewElement::sticky(0.0, 0.0, "Fills in the form")),
        (
            1,
            1,
            NewElement::sticky(0.0, 0.0, "Uploads a photo, \"passport style\""),
        ),
        (3, 2, NewElement::sticky(0.0, 0.0, "Card payment page")),
        (
            5,
            3,
            NewElement::sticky(0.0, 0.0, "Caseworker checks ünïcödé"),
        ),
        (7, 3, NewElement::sticky(0.0, 0.0, "Licensing database")),
        (8, 3, NewElement::sticky(0.0, 0.0, "Anxious")),
    ];
    g
}

#[test]
fn javascript_reads_a_blueprints_lanes_and_cells() {
    if !js_available("javascript_reads_a_blueprints_lanes_and_cells") {
        return;
    }
    let mut board = Board::with_client_id(0x51);
    let g = board.create_grid(blueprint()).unwrap();
    // Some history: a stage added and moved, a lane renamed, a sticky moved
    // to another cell, a concurrent double move of one stage merged in.
    let mut other = Board::from_update_with_client_id(&board.encode(), 0x52).unwrap();
    board.add_stage(&g.id, 2, "Check eligibility").unwrap();
    board
        .move_track(&g.id, Axis::Stage, &g.stages[4], 0)
        .unwrap();
    other
        .move_track(&g.id, Axis::Stage, &g.stages[4], 3)
        .unwrap();
    other
        .rename_track(&g.id, Axis::Lane, &g.lanes[1], "Customer actions (online)")
        .unwrap();
    let diff = other.encode_diff(&board.state_vector());
    board.apply_update(&diff).unwrap();
    board
        .set_cell(
            &[&g.contents[0]],
            Some(&CellRef {
                grid: g.id.clone(),
                lane: g.lanes[0].clone(),
                stage: g.stages[0].clone(),
            }),
        )
        .unwrap();
    board.settle_grids().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blueprint.tpboard");
    file::save(&board, &path).unwrap();
    let js = node_json("grid.mjs", &[Path::new("read"), &path]);
    assert_eq!(
        norm(&js),
        norm(&rust_view(&board)),
        "JavaScript vs Rust reading of the grid"
    );
    // Spot checks, so the comparison is not of two empty things.
    let grid = &js["grids"][0];
    assert_eq!(grid["stages"].as_array().unwrap().len(), 6);
    assert_eq!(grid["lanes"].as_array().unwrap().len(), 9);
    assert_eq!(grid["lanes"][2]["role"], "line");
    assert_eq!(grid["lanes"][1]["title"], "Customer actions (online)");
    assert_eq!(
        grid["cells"][&g.lanes[1]][&g.stages[1]],
        json!(["Fills in the form", "Uploads a photo, \"passport style\""])
    );
    assert_eq!(
        grid["cells"][&g.lanes[0]][&g.stages[0]],
        json!(["Online form"])
    );
    assert_eq!(
        grid["lanes"][8]["points"][&g.stages[3]].as_f64(),
        Some(-1.0)
    );

    // JavaScript moves a stage and drops a sticky into a cell; Rust reads it.
    let out = dir.path().join("edited.tpboard");
    node_json_or_empty(&[
        "edit",
        path.to_str().unwrap(),
        out.to_str().unwrap(),
        &g.id,
        &g.stages[1],
        "0",
        &g.lanes[3],
    ]);
    let edited = file::load(&out).unwrap();
    let v = edited.grid_view(&g.id).unwrap();
    assert_eq!(v.grid.stages[0].id, g.stages[1]);
    assert_eq!(
        edited.cell_of("js-1"),
        Some(CellRef {
            grid: g.id.clone(),
            lane: g.lanes[3].clone(),
            stage: g.stages[1].clone(),
        })
    );
    // The stickies already there kept their cells.
    assert_eq!(v.cells, {
        let mut before = board.grid_view(&g.id).unwrap().cells;
        before
            .entry((g.lanes[3].clone(), g.stages[1].clone()))
            .or_default()
            .push("js-1".to_owned());
        before
    });
    let js = node_json("grid.mjs", &[Path::new("read"), &out]);
    assert_eq!(
        norm(&js),
        norm(&rust_view(&edited)),
        "JavaScript vs Rust after the JavaScript edit"
    );
}

/// Every number as a float, so JavaScript's `240` equals Rust's `240.0`.
fn norm(v: &Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), norm(v))).collect()),
        other => other.clone(),
    }
}

/// Runs grid.mjs for its side effect (it prints nothing on `edit`).
fn node_json_or_empty(args: &[&str]) {
    let out = touchpoint_tests::node("grid.mjs", args);
    assert!(out.trim().is_empty(), "{out}");
}
