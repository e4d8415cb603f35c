//! CSV export of a grid: the file `touchpoint export BOARD -o OUT.csv` writes
//! holds the board's lanes by stages, cell by cell, after edits that add,
//! move and rename stages; awkward text survives the quoting.

// Test code: a panic is the assertion (clippy.toml allows unwrap only in #[test] fns).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use touchpoint_crdt::{Axis, Board, CellRef, LaneRole, NewElement, file};
use touchpoint_editor::templates;
use touchpoint_scene::export::csv::{choose_grid, grid_table};

/// A small RFC 4180 reader, independent of the writer.
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            c => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "no final line end");
    rows
}

fn export(board: &Path, out: &Path, frame: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_touchpoint"));
    cmd.arg("export").arg(board).arg("-o").arg(out);
    if let Some(f) = frame {
        cmd.arg("--frame").arg(f);
    }
    cmd.output().unwrap()
}

#[test]
fn the_csv_matches_the_board() {
    let mut board = Board::with_client_id(9);
    let t = templates::load("service-blueprint").unwrap();
    let ins = t.insert(&mut board, None).unwrap();
    let g = &ins.grids[0];
    let awkward = "Says \"no\", then\nleaves";
    for (lane, stage, text) in [
        (1, 0, awkward),
        (1, 0, "second note"),
        (3, 4, "=HYPERLINK(\"x\")"),
        (7, 1, "ünïcödé ✓"),
    ] {
        let s = board.create(NewElement::sticky(0.0, 0.0, text)).unwrap();
        board
            .set_cell(
                &[&s],
                Some(&CellRef {
                    grid: g.id.clone(),
                    lane: g.lanes[lane].clone(),
                    stage: g.stages[stage].clone(),
                }),
            )
            .unwrap();
    }
    let new_stage = board.add_stage(&g.id, 2, "Appeal").unwrap();
    board
        .move_track(&g.id, Axis::Stage, &g.stages[0], 5)
        .unwrap();
    board
        .rename_track(&g.id, Axis::Lane, &g.lanes[1], "Customer, actions")
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bp.tpboard");
    file::save(&board, &path).unwrap();
    let csv_path = dir.path().join("bp.csv");
    let out = export(&path, &csv_path, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv_path).unwrap();
    assert!(text.contains("\r\n"));
    let rows = parse_csv(&text);

    // Compare with the board itself.
    let view = board.grid_view(&g.id).unwrap();
    let mut header = vec![String::new()];
    header.extend(view.grid.stages.iter().map(|s| s.title.clone()));
    assert_eq!(rows[0], header);
    assert_eq!(rows[0][2], "Appeal");
    assert_eq!(rows[0][6], "Find out");
    assert!(view.grid.stage_index(&new_stage).is_some());
    let lanes: Vec<_> = view
        .grid
        .lanes
        .iter()
        .filter(|l| l.role != LaneRole::Line)
        .collect();
    assert_eq!(rows.len(), 1 + lanes.len());
    for (row, lane) in rows[1..].iter().zip(&lanes) {
        assert_eq!(row[0], lane.title);
        for (cell, stage) in row[1..].iter().zip(&view.grid.stages) {
            let texts: Vec<String> = view
                .cell(&lane.id, &stage.id)
                .iter()
                .map(|id| board.element(id).unwrap().body.text().unwrap().to_owned())
                .collect();
            let expected = texts.join("\n");
            let expected = if expected.starts_with('=') {
                format!("'{expected}")
            } else {
                expected
            };
            assert_eq!(cell, &expected, "lane {} stage {}", lane.title, stage.title);
        }
    }
    // The awkward note came through whole, in the moved "Find out" column.
    assert_eq!(rows[2][0], "Customer, actions");
    assert_eq!(rows[2][6], format!("{awkward}\nsecond note"));
    assert_eq!(rows[3][5], "'=HYPERLINK(\"x\")");
    // The library's table is what the file holds.
    assert_eq!(grid_table(&board, &choose_grid(&board, None).unwrap()), {
        let mut r = rows.clone();
        r[3][5] = "=HYPERLINK(\"x\")".to_owned();
        r
    });
}

#[test]
fn a_journey_map_exports_its_emotion_curve() {
    let mut board = Board::with_client_id(2);
    templates::load("journey-map")
        .unwrap()
        .insert(&mut board, None)
        .unwrap();
    let view = choose_grid(&board, None).unwrap();
    let rows = grid_table(&board, &view);
    let curve = rows.iter().find(|r| r[0] == "Feelings (emotion)").unwrap();
    assert_eq!(curve[1..], ["0.4", "-0.2", "-0.7", "0.3", "0.6"]);
}

#[test]
fn which_grid_to_export() {
    let dir = tempfile::tempdir().unwrap();
    let mut board = Board::with_client_id(5);
    let path = dir.path().join("b.tpboard");
    let csv = dir.path().join("b.csv");
    file::save(&board, &path).unwrap();
    let out = export(&path, &csv, None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no grid"));
    assert!(!csv.exists());

    let a = templates::load("kanban")
        .unwrap()
        .insert(&mut board, None)
        .unwrap();
    let b = templates::load("affinity")
        .unwrap()
        .insert(&mut board, Some([5000.0, 0.0]))
        .unwrap();
    file::save(&board, &path).unwrap();
    let out = export(&path, &csv, None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--frame") && err.trim().lines().count() == 1,
        "{err}"
    );
    let out = export(&path, &csv, Some(&b.grids[0].id));
    assert!(out.status.success());
    assert!(std::fs::read_to_string(&csv).unwrap().contains("Unsorted"));
    assert_eq!(
        choose_grid(&board, Some(&a.grids[0].id)).unwrap().id,
        a.grids[0].id
    );
    assert!(choose_grid(&board, Some("nothing")).is_err());
}
