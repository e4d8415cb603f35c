//! Every built-in template loads, validates against the board schema (the
//! board it makes reloads through the file loader with every element and
//! every cell intact), renders as scene items, exports to SVG and renders on
//! the GPU through `touchpoint new` / `export` / `render`.

// Test code: a panic is the assertion (clippy.toml allows unwrap only in #[test] fns).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use touchpoint_crdt::{Board, Body, Kind, LaneRole, file};
use touchpoint_editor::templates::{self, BUILTIN, Template};
use touchpoint_scene::scene::Scene;
use touchpoint_scene::scene::item::Item;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_touchpoint"));
    cmd.env_remove("RUST_LOG");
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        cmd.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    cmd
}

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    bin().args(args).output().expect("run touchpoint")
}

#[test]
fn every_template_inserts_in_one_step_and_reloads_intact() {
    for (name, _) in BUILTIN {
        let t = templates::load(name).unwrap();
        let mut board = Board::with_client_id(7);
        let at = [5_000.0, -3_000.0];
        let inserted = t.insert(&mut board, Some(at)).unwrap();
        let expected = t.elements.len()
            + t.grids.len()
            + t.grids.iter().map(|g| g.contents.len()).sum::<usize>();
        assert_eq!(board.len(), expected, "{name}");

        // Validates: every stored entry reads as a known element, and the
        // board goes through the file loader unchanged.
        let elements = board.elements();
        assert_eq!(elements.len(), expected, "{name}: some entries do not read");
        let reloaded = file::load_bytes(&board.encode()).unwrap();
        assert_eq!(reloaded.snapshot(), board.snapshot(), "{name}");

        // Centred where asked.
        let b = elements
            .iter()
            .map(|e| e.geom.bounds())
            .reduce(|a, b| {
                [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ]
            })
            .unwrap();
        let c = [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0];
        assert!(
            (c[0] - at[0]).abs() < 1.0 && (c[1] - at[1]).abs() < 200.0,
            "{name}: centre {c:?}"
        );

        // Grids: structure and cells as the template says.
        for (g, created) in t.grids.iter().zip(&inserted.grids) {
            let view = reloaded.grid_view(&created.id).unwrap();
            assert_eq!(view.grid.stages.len(), g.stages.len(), "{name}");
            assert_eq!(view.grid.lanes.len(), g.lanes.len(), "{name}");
            for (sticky, (lane, stage, _)) in created.contents.iter().zip(&g.contents) {
                assert_eq!(
                    view.cell(&created.lanes[*lane], &created.stages[*stage])
                        .iter()
                        .filter(|id| *id == sticky)
                        .count(),
                    1,
                    "{name}: {sticky} not in its cell"
                );
            }
        }
        assert!(!board.grids_unsettled(), "{name}: layout not settled");

        // One undo step removes the whole template.
        assert!(board.undo());
        assert!(board.is_empty(), "{name}: undo left elements");
    }
}

#[test]
fn grids_render_as_ordinary_scene_items() {
    let t = templates::load("service-blueprint").unwrap();
    let mut board = Board::with_client_id(3);
    let ins = t.insert(&mut board, None).unwrap();
    let scene = Scene::build(&board);
    let grid = scene
        .get(&ins.grids[0].id)
        .expect("the grid is in the scene");
    assert_eq!(grid.element.kind(), Kind::Grid);
    let Body::Grid(g) = &grid.element.body else {
        panic!("not a grid body")
    };
    let texts: Vec<&str> = grid
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Text(t) => Some(t.text.as_str()),
            _ => None,
        })
        .collect();
    for s in &g.stages {
        assert!(texts.contains(&s.title.as_str()), "stage {:?}", s.title);
    }
    for l in &g.lanes {
        assert!(texts.contains(&l.title.as_str()), "lane {:?}", l.title);
    }
    // Three labelled lines, each a horizontal path across the grid.
    let lines: Vec<&Item> = grid
        .items
        .iter()
        .filter(|i| matches!(i, Item::Path(p) if p.commands.len() == 2 && p.stroke_width == 3.0))
        .collect();
    assert_eq!(
        lines.len(),
        g.lanes.iter().filter(|l| l.role == LaneRole::Line).count()
    );
    assert_eq!(lines.len(), 3);
    // The grid's bounds cover its size; stickies are drawn above it.
    let vb = grid
        .items
        .iter()
        .map(Item::bounds)
        .reduce(|a, b| a.union(b))
        .unwrap();
    assert!(vb.width() >= grid.element.geom.w - 1e-6);
    let order: Vec<&str> = scene.iter().map(|e| e.element.id.as_str()).collect();
    let gi = order.iter().position(|id| *id == ins.grids[0].id).unwrap();
    for s in &ins.grids[0].contents {
        assert!(order.iter().position(|id| id == s).unwrap() > gi);
    }

    // The journey map's emotion lane draws a curve with a point per value.
    let t = templates::load("journey-map").unwrap();
    let mut board = Board::with_client_id(4);
    let ins = t.insert(&mut board, None).unwrap();
    let scene = Scene::build(&board);
    let grid = scene.get(&ins.grids[0].id).unwrap();
    let dots = grid
        .items
        .iter()
        .filter(|i| matches!(i, Item::Shape(s) if s.primitive == touchpoint_scene::scene::item::Primitive::Ellipse))
        .count();
    let points: usize = t.grids[0]
        .lanes
        .iter()
        .map(|l| l.points.iter().flatten().count())
        .sum();
    assert_eq!(dots, points);
    assert!(points > 0);
}

#[test]
fn odd_grid_values_build_without_panicking() {
    use touchpoint_crdt::{Element, Geometry, Grid, Lane, Stage, Style};
    use touchpoint_scene::scene::build::element_items;
    let lane = |role, h: f64| Lane {
        id: format!("l{h}"),
        title: "lane".into(),
        height: h,
        role,
        color: None,
        points: [("s0".to_owned(), f64::NAN), ("s1".to_owned(), 5.0)]
            .into_iter()
            .collect(),
    };
    let grid = Grid {
        title: "t".into(),
        header_w: 0.0,
        header_h: 0.0,
        stages: vec![
            Stage {
                id: "s0".into(),
                title: String::new(),
                width: 0.0,
            },
            Stage {
                id: "s1".into(),
                title: "x".into(),
                width: f64::INFINITY,
            },
        ],
        lanes: vec![
            lane(LaneRole::Emotion, 0.0),
            lane(LaneRole::Line, -3.0),
            lane(LaneRole::Cards, 1.0),
        ],
    };
    let el = Element {
        id: "g".into(),
        geom: Geometry::new(0.0, 0.0, 0.0, 0.0),
        z: String::new(),
        parent: None,
        cell: None,
        author: None,
        style: Style::default_for(Kind::Grid),
        body: Body::Grid(grid),
    };
    let _ = element_items(&el, None);
    let empty = Element {
        body: Body::Grid(Grid::default()),
        ..el
    };
    assert!(!element_items(&empty, None).is_empty());
}

fn out_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

#[test]
fn new_export_and_render_every_template_from_the_command_line() {
    let dir = out_dir();
    let empty = path(dir.path(), "empty.tpboard");
    let out = run(&["new".as_ref(), empty.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = file::load(&empty).unwrap();
    assert!(b.is_empty());
    // Refuses to overwrite, with one line.
    let out = run(&["new".as_ref(), empty.as_os_str()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--force"));
    let out = run(&[
        "new".as_ref(),
        "--template".as_ref(),
        "nope".as_ref(),
        path(dir.path(), "x.tpboard").as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("journey-map"));

    let mut gpu = true;
    for (name, _) in BUILTIN {
        let board = path(dir.path(), &format!("{name}.tpboard"));
        let out = run(&[
            "new".as_ref(),
            "--template".as_ref(),
            name.as_ref(),
            board.as_os_str(),
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let loaded = file::load(&board).unwrap();
        assert_eq!(loaded.meta().template.as_deref(), Some(*name));
        assert_eq!(
            loaded.meta().title,
            Template::parse(BUILTIN.iter().find(|(n, _)| n == name).unwrap().1)
                .unwrap()
                .title
        );

        let svg = path(dir.path(), &format!("{name}.svg"));
        let out = run(&[
            "export".as_ref(),
            board.as_os_str(),
            "-o".as_ref(),
            svg.as_os_str(),
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&svg).unwrap();
        let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
        let grids = doc
            .descendants()
            .filter(|n| n.attribute("data-kind") == Some("grid"))
            .count();
        assert_eq!(grids, loaded.grid_ids().len(), "{name}");
        // resvg draws it.
        let tree = resvg::usvg::Tree::from_str(&text, &resvg::usvg::Options::default()).unwrap();
        assert!(tree.size().width() > 100.0);

        if gpu {
            let png = path(dir.path(), &format!("{name}.png"));
            let out = run(&[
                "render".as_ref(),
                board.as_os_str(),
                "-o".as_ref(),
                png.as_os_str(),
            ]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success()
                && stderr.contains("no GPU adapter")
                && std::env::var("TOUCHPOINT_SKIP_GPU").as_deref() == Ok("1")
            {
                eprintln!("skipped GPU renders: {}", stderr.trim());
                gpu = false;
                continue;
            }
            assert!(out.status.success(), "{name}: {stderr}");
            assert!(std::fs::metadata(&png).unwrap().len() > 1000);
        }
    }
}
