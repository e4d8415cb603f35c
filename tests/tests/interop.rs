//! Interop with JavaScript Yjs (npm `yjs`, pinned by tests/js/package-lock.json):
//!
//! (a) boards written by Rust (committed under tests/fixtures/, and one written
//!     now) open in JavaScript with every element and field;
//! (b) a board written only with JavaScript Yjs, following SCHEMA.md, opens in
//!     Rust: `touchpoint inspect` shows every valid element, skips and
//!     defaults the broken ones, exits 0;
//! (c) concurrent edits made in JavaScript and in Rust on copies of one board
//!     merge to the same state on both sides.
//!
//! Needs `cargo build --workspace` (for target/debug/touchpoint) and `npm ci`
//! in tests/js. Without node or the npm packages these tests fail, unless
//! TOUCHPOINT_SKIP_INTEROP=1. TOUCHPOINT_UPDATE_FIXTURES=1 rewrites the
//! committed fixtures.

// clippy.toml allows unwrap in #[test] functions; the helpers here are test
// code too, where a panic is the assertion.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};
use touchpoint_crdt::{Anchor, Board, Color, End, EndSide, NewElement, Reorder, StylePatch, file};
use touchpoint_tests::fixtures::{self, EveryKindIds};
use touchpoint_tests::json::assert_same;
use touchpoint_tests::schema_model::{self, element, expected_inspect, ids, raw_fields};
use touchpoint_tests::{
    Inspect, inspect, js_available, js_read, node, node_json, updating_fixtures,
};

/// Every element key in SCHEMA.md (and crdt's `schema::key`).
const SCHEMA_KEYS: [&str; 28] = [
    "kind",
    "x",
    "y",
    "w",
    "h",
    "rot",
    "z",
    "parent",
    "author",
    "fill",
    "stroke",
    "stroke_width",
    "text",
    "text_color",
    "font_size",
    "align",
    "shape",
    "points",
    "from_id",
    "from_anchor",
    "from_x",
    "from_y",
    "to_id",
    "to_anchor",
    "to_x",
    "to_y",
    "arrow_start",
    "arrow_end",
];

fn save_fixture(board: &Board, path: &Path) {
    file::save(board, path).unwrap();
    eprintln!("rewrote {}", path.display());
}

/// The committed Rust fixtures hold what the generators in
/// `touchpoint_tests::fixtures` build today (by content: ids, fields, text).
#[test]
fn rust_fixtures_are_current() {
    let (every_kind, _) = fixtures::every_kind();
    for (board, path) in [
        (every_kind, fixtures::every_kind_path()),
        (fixtures::small(), fixtures::small_path()),
    ] {
        if updating_fixtures() {
            save_fixture(&board, &path);
        }
        let committed = file::load(&path).unwrap_or_else(|e| {
            panic!("{e}: regenerate with TOUCHPOINT_UPDATE_FIXTURES=1 cargo test -p touchpoint-tests --test interop")
        });
        assert!(committed.read_only().is_none());
        assert!(
            committed.meta() == board.meta() && committed.elements() == board.elements(),
            "{} no longer matches its generator (tests/src/fixtures.rs): if the change is \
             intended, regenerate with TOUCHPOINT_UPDATE_FIXTURES=1 cargo test -p touchpoint-tests --test interop",
            path.display()
        );
    }
}

/// Checks one board written by Rust as JavaScript reads it, against
/// `touchpoint inspect`, field by field. Returns the raw JSON.
fn check_rust_board_in_js(path: &Path) -> Value {
    let raw = js_read(path);
    let Inspect { json, stderr } = inspect(path);
    assert_same(
        &json,
        &expected_inspect(&raw),
        &format!(
            "{}: touchpoint inspect vs the JavaScript reading under SCHEMA.md",
            path.display()
        ),
    );
    // Touchpoint writes nothing it would itself complain about.
    assert!(
        !stderr.contains("WARN"),
        "{}: inspect warned about a board Rust wrote:\n{stderr}",
        path.display()
    );
    // Every entry is an element map with a kind, holding only SCHEMA.md keys.
    for e in raw["elements"].as_array().unwrap() {
        assert_eq!(e["type"], "Y.Map", "{e}");
        let fields = e["fields"].as_object().unwrap();
        assert!(fields["kind"].is_string(), "{e}");
        for k in fields.keys() {
            assert!(
                SCHEMA_KEYS.contains(&k.as_str()),
                "{}: element {} has key {k:?}, which SCHEMA.md does not document",
                path.display(),
                e["id"]
            );
        }
    }
    for k in raw["meta"].as_object().unwrap().keys() {
        assert!(
            ["schema", "title", "template"].contains(&k.as_str()),
            "meta key {k:?} is not in SCHEMA.md"
        );
    }
    assert_eq!(raw["meta"]["schema"], json!(1));
    raw
}

/// What JavaScript must see in the every-kind board, stated from the generator.
fn check_every_kind_raw(raw: &Value, ids: &EveryKindIds) {
    // Every key of SCHEMA.md is written somewhere on this board.
    let written: BTreeSet<&str> = raw["elements"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["fields"].as_object().unwrap().keys())
        .map(String::as_str)
        .collect();
    let all: BTreeSet<&str> = SCHEMA_KEYS.into_iter().collect();
    assert_eq!(written, all, "keys written by Rust vs SCHEMA.md's keys");
    let kinds: BTreeSet<&str> = raw["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fields"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 6, "{kinds:?}");

    let f = |id: &str| raw_fields(raw, id).unwrap_or_else(|| panic!("JS does not see {id}"));
    assert_eq!(raw["meta"]["title"], "Every kind — Rust fixture ✅");
    assert_eq!(raw["meta"]["template"], "service-blueprint");
    let sticky = f(&ids.sticky);
    assert_eq!(sticky["text"], "» Café ☕ résumé, naïve 👩🏽‍💻 «");
    assert_eq!(sticky["parent"], json!(ids.frame));
    assert_eq!(sticky["author"], "Ngozi");
    assert_eq!(f(&ids.sticky_rtl)["text"], "مرحبا بالعالم — שלום עולם");
    assert_eq!(f(&ids.sticky_rtl)["fill"], "#a6ccf5");
    assert_eq!(f(&ids.sticky_rtl)["stroke"], "none");
    assert_eq!(f(&ids.frame)["text"], "Stage 1: aware 🔍");
    let outlines: Vec<&str> = ids
        .shapes
        .iter()
        .map(|id| f(id)["shape"].as_str().unwrap())
        .collect();
    assert_eq!(
        outlines,
        ["rect", "rounded_rect", "ellipse", "diamond", "triangle"]
    );
    assert_eq!(f(&ids.shapes[0])["text"], "rect ∑ 日本語");
    let ink = f(&ids.ink);
    let points: Vec<[f32; 2]> = ink["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| [p[0].as_f64().unwrap() as f32, p[1].as_f64().unwrap() as f32])
        .collect();
    let expected = [
        [0.0, 0.0],
        [10.5, 5.25],
        [1225.1f32 - 1200.0, 619.9f32 - 600.0],
        [50.0, 20.0],
    ];
    assert_eq!(points, expected);
    assert_eq!(ink["x"].as_f64(), Some(1200.0));
    let bound = f(&ids.connector_bound);
    assert_eq!(bound["from_id"], json!(ids.sticky));
    assert_eq!(bound["from_anchor"], "right");
    assert_eq!(bound["to_id"], json!(ids.shapes[3]));
    assert_eq!(bound["to_anchor"], "top");
    assert_eq!(bound["arrow_start"], "arrow");
    // set_end stored the anchor's position: the sticky's right edge midpoint.
    assert_eq!(bound["from_x"].as_f64(), Some(200.0));
    assert_eq!(bound["from_y"].as_f64(), Some(100.0));
    let half = f(&ids.connector_free_end);
    assert!(half.get("to_id").is_none(), "{half:?}");
    assert_eq!(half["to_x"].as_f64(), Some(180.25));
    assert_eq!(half["arrow_end"], "none");
    let free = f(&ids.connector_free);
    assert!(free.get("from_id").is_none() && free.get("to_id").is_none());
    // The text element was moved to the top of the stack.
    assert_eq!(
        schema_model::ids(raw).last().map(String::as_str),
        Some(ids.text.as_str())
    );
}

/// (a) Boards written by Rust open in JavaScript with every element and field.
#[test]
fn rust_boards_open_in_javascript() {
    if !js_available("rust_boards_open_in_javascript") {
        return;
    }
    let (fresh, ids) = fixtures::every_kind();
    let dir = tempfile::tempdir().unwrap();
    let fresh_path = dir.path().join("every-kind-now.tpboard");
    file::save(&fresh, &fresh_path).unwrap();

    // The committed fixtures (written by an earlier build) and one written now.
    let raw = check_rust_board_in_js(&fixtures::every_kind_path());
    check_every_kind_raw(&raw, &ids);
    let raw_now = check_rust_board_in_js(&fresh_path);
    check_every_kind_raw(&raw_now, &ids);
    // Same content, whatever the bytes.
    assert_same(&raw_now, &raw, "every-kind written now vs committed");

    let small = check_rust_board_in_js(&fixtures::small_path());
    assert_eq!(small["meta"]["title"], "Small board");
    let elements = small["elements"].as_array().unwrap();
    assert_eq!(elements.len(), 1);
    assert_eq!(elements[0]["fields"]["text"], "Hello from Rust 👋");
    assert_eq!(elements[0]["fields"]["kind"], "sticky");
}

/// Ids write_board.mjs gives its valid elements, in drawing order.
const JS_VALID_IDS: [&str; 18] = [
    "odd-mistyped", // z is a number: sorts as ""
    "odd-frame-in-frame",
    "frame-journey",
    "sticky-yellow",
    "sticky-rtl",
    "shape-rect",
    "shape-rounded_rect",
    "shape-ellipse",
    "shape-diamond",
    "shape-triangle",
    "text-notes",
    "ink-stroke",
    "connector-bound",
    "connector-free-end",
    "connector-centre",
    "odd-shape",
    "odd-parent-not-frame",
    "odd-connector",
];
/// ... and the entries a reader must skip.
const JS_SKIPPED_IDS: [&str; 4] = [
    "odd-unknown-kind",
    "odd-no-kind",
    "odd-kind-number",
    "odd-not-a-map",
];

/// What Rust must read from write_board.mjs's board, stated value by value.
fn check_js_board_in_rust(ins: &Value) {
    let mut valid: Vec<&str> = JS_VALID_IDS.to_vec();
    valid.push("odd-ink");
    // odd-ink sorts last ("d").
    assert_eq!(ids(ins), valid);
    let e = |id: &str| element(ins, id).unwrap_or_else(|| panic!("inspect lacks {id}"));
    assert_eq!(
        ins["meta"],
        json!({"title": "Passport renewal — service blueprint ✈️", "schema": 1, "template": "service-blueprint"})
    );
    assert_eq!(ins["read_only"], Value::Null);

    let sticky = e("sticky-yellow");
    assert_eq!(sticky["text"], "» Café ☕ résumé, naïve 👩🏽‍💻 «");
    assert_eq!(sticky["parent"], "frame-journey");
    assert_eq!(sticky["author"], "Ngozi");
    let rtl = e("sticky-rtl");
    assert_eq!(rtl["text"], "مرحبا بالعالم — שלום עולם");
    assert_eq!(rtl["fill"], "#a6ccf5", "colours are read in any case");
    assert_eq!(rtl["stroke"], "none");
    assert_eq!(rtl["rot"], json!(-3.5));
    assert_eq!(rtl["align"], "right");
    let frame = e("frame-journey");
    assert_eq!(frame["text"], "Journey: renew a passport 🛂");
    assert_eq!(frame["fill"], "#f7f7f7");
    assert_eq!(frame["y"], json!(-60.5));
    for (i, outline) in ["rect", "rounded_rect", "ellipse", "diamond", "triangle"]
        .iter()
        .enumerate()
    {
        let s = e(&format!("shape-{outline}"));
        assert_eq!(s["shape"], *outline);
        assert_eq!(s["text_color"], "#0a0b0c");
        assert_eq!(s["stroke_width"], json!(2.5 + i as f64));
        let text = if i % 2 == 0 {
            format!("{outline} ∑ 日本語")
        } else {
            String::new()
        };
        assert_eq!(s["text"], json!(text));
    }
    assert_eq!(e("shape-ellipse")["fill"], "none");
    assert_eq!(e("shape-triangle")["stroke"], "none");
    assert_eq!(e("shape-rect")["parent"], "frame-journey");
    assert_eq!(
        e("text-notes")["text"],
        "Line one\nline \"two\"\twith a tab, Ελληνικά, 🙂"
    );
    let ink = e("ink-stroke");
    assert_eq!(
        ink["points"],
        json!([[0.0, 0.0], [10.5, 5.25], [25.1f32, 19.9f32], [50.0, 20.0]])
    );
    assert_eq!(ink["stroke"], "#e03131");

    let bound = e("connector-bound");
    assert_eq!(bound["from"]["id"], "sticky-yellow");
    assert_eq!(bound["from"]["anchor"], "right");
    assert_eq!(bound["from"]["resolved"], json!([200.0, 100.0]));
    assert_eq!(bound["to"]["anchor"], "top");
    assert_eq!(bound["arrow_start"], "arrow");
    let half = e("connector-free-end");
    assert_eq!(half["to"]["id"], Value::Null);
    assert_eq!(half["to"]["resolved"], json!([180.25, 820.75]));
    assert_eq!(half["arrow_end"], "none");
    let centre = e("connector-centre");
    assert_eq!(
        centre["from"]["anchor"], "center",
        "anchor defaults to center"
    );
    assert_eq!(centre["from"]["resolved"], json!([300.0, 740.0]));
    assert_eq!(centre["arrow_end"], "arrow", "arrow_end defaults to arrow");

    // Broken fields take their defaults.
    let odd = e("odd-mistyped");
    for (k, v) in [
        ("x", json!(0.0)),                // NaN
        ("y", json!(2f64.powi(40))),      // large, written as float32 by lib0
        ("w", json!(0.0)),                // a string
        ("h", json!(0.0)),                // negative
        ("rot", json!(0.0)),              // a string
        ("z", json!("")),                 // a number
        ("parent", Value::Null),          // a number
        ("author", Value::Null),          // an array
        ("fill", json!("#fff9b1")),       // not a colour
        ("stroke", json!("none")),        // a malformed colour
        ("stroke_width", json!(2.0)),     // a string
        ("text_color", json!("#1a1a1a")), // a boolean
        ("font_size", json!(12.0)),       // a bigint: read as a number
        ("align", json!("center")),       // unknown value
        ("text", json!("a plain string (tolerated)")),
    ] {
        assert_eq!(odd[k], v, "odd-mistyped.{k}");
    }
    let shape = e("odd-shape");
    assert_eq!(shape["shape"], "rect");
    assert_eq!(shape["font_size"], json!(16.0));
    assert_eq!(shape["stroke_width"], json!(0.0));
    assert_eq!(shape["text"], "");
    assert_eq!(e("odd-parent-not-frame")["parent"], Value::Null);
    assert_eq!(e("odd-frame-in-frame")["parent"], Value::Null);
    let conn = e("odd-connector");
    assert_eq!(conn["from"]["id"], "no-such-element");
    assert_eq!(conn["from"]["anchor"], "center");
    assert_eq!(conn["from"]["resolved"], json!([1.0, 2.0]));
    assert_eq!(
        conn["to"]["resolved"],
        json!([3.0, 4.0]),
        "a connector is no anchor"
    );
    assert_eq!(conn["arrow_start"], "none");
    assert_eq!(e("odd-ink")["points"], json!([]));
    for id in JS_SKIPPED_IDS.iter().chain(&["deleted-later"]) {
        assert!(element(ins, id).is_none(), "{id} should be skipped");
    }
}

/// (b) A board written only with JavaScript Yjs opens in Rust.
#[test]
fn js_written_board_opens_in_rust() {
    if !js_available("js_written_board_opens_in_rust") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("js-written.tpboard");
    node("write_board.mjs", &[&path]);
    let Inspect { json: ins, stderr } = inspect(&path);
    check_js_board_in_rust(&ins);

    // Field by field against SCHEMA.md's rules applied to what JavaScript wrote.
    let raw = js_read(&path);
    assert_same(
        &ins,
        &expected_inspect(&raw),
        "touchpoint inspect vs SCHEMA.md applied to the JavaScript-written board",
    );

    // Each skipped entry and each broken field is reported once.
    for id in JS_SKIPPED_IDS {
        let n = stderr.matches(&format!("\"{id}\"")).count();
        assert_eq!(n, 1, "{id} reported {n} times:\n{stderr}");
    }
    for field in [
        "x", "w", "rot", "z", "parent", "author", "fill", "stroke", "align",
    ] {
        let n = stderr
            .lines()
            .filter(|l| l.contains("\"odd-mistyped\"") && l.contains(&format!("field=\"{field}\"")))
            .count();
        assert_eq!(n, 1, "odd-mistyped.{field} reported {n} times:\n{stderr}");
    }
    assert!(stderr.contains("\"odd-parent-not-frame\""), "{stderr}");

    // The committed copy is this script's output.
    let committed = fixtures::js_written_path();
    if updating_fixtures() {
        // Atomically, as other tests read it meanwhile.
        let tmp = committed.with_extension("tpboard.tmp");
        std::fs::copy(&path, &tmp).unwrap();
        std::fs::rename(&tmp, &committed).unwrap();
        eprintln!("rewrote {}", committed.display());
    }
    assert_same(
        &inspect(&committed).json,
        &ins,
        &format!(
            "{} vs tests/js/write_board.mjs now (regenerate with TOUCHPOINT_UPDATE_FIXTURES=1)",
            committed.display()
        ),
    );
}

/// The committed JavaScript-written board opens through the crdt API, node or not.
#[test]
fn committed_js_board_opens_with_crdt() {
    let board = file::load(&fixtures::js_written_path()).unwrap();
    assert!(board.read_only().is_none());
    assert_eq!(
        board.meta().title,
        "Passport renewal — service blueprint ✈️"
    );
    let ids: Vec<String> = board.elements().into_iter().map(|e| e.id).collect();
    let mut expected: Vec<&str> = JS_VALID_IDS.to_vec();
    expected.push("odd-ink");
    assert_eq!(ids, expected);
    let sticky = board.element("sticky-yellow").unwrap();
    assert_eq!(sticky.body.text(), Some("» Café ☕ résumé, naïve 👩🏽‍💻 «"));
    assert_eq!(sticky.parent.as_deref(), Some("frame-journey"));
    assert_eq!(board.element("odd-mistyped").unwrap().geom.w, 0.0);
    assert!(board.element("odd-unknown-kind").is_none());
    // And Rust can edit it: typing into JavaScript's Y.Text and its plain string.
    let mut board = board;
    board.insert_text("sticky-rtl", 0, "✓ ").unwrap();
    board.insert_text("odd-mistyped", 0, "✓ ").unwrap();
    assert_eq!(
        board.element("odd-mistyped").unwrap().body.text(),
        Some("✓ a plain string (tolerated)")
    );
}

/// (c) Concurrent edits in JavaScript and in Rust on copies of one board merge
/// to the same state on both sides.
#[test]
fn concurrent_edits_merge_the_same_in_javascript_and_rust() {
    if !js_available("concurrent_edits_merge_the_same_in_javascript_and_rust") {
        return;
    }
    let (_, ids) = fixtures::every_kind();
    let base_path = fixtures::every_kind_path();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let [rect, _, ellipse, _, triangle] = <[String; 5]>::try_from(ids.shapes.clone()).unwrap();

    // Rust's copy.
    let mut rust = file::load(&base_path).unwrap();
    let base_sv = rust.state_vector();
    let base_text = rust
        .element(&ids.sticky)
        .unwrap()
        .body
        .text()
        .unwrap()
        .to_owned();
    let ellipse_before = rust.element(&ellipse).unwrap().geom;
    rust.insert_text(&ids.sticky, 0, "Rust✓ ").unwrap();
    rust.move_by(&[&ellipse], 15.0, 25.0).unwrap();
    rust.restyle(
        &[&ids.sticky_rtl],
        StylePatch {
            fill: Some(Some(Color::STICKY_PALETTE[6])),
            ..StylePatch::default()
        },
    )
    .unwrap();
    rust.delete(&[&ids.text]).unwrap();
    rust.move_by(&[&triangle], 100.0, 0.0).unwrap();
    rust.set_end(
        &ids.connector_free_end,
        EndSide::To,
        End::bound(ids.ink.as_str(), Anchor::Left),
    )
    .unwrap();
    rust.reorder(&[&rect], Reorder::ToFront).unwrap();
    rust.set_title("Merged board").unwrap();
    let rust_new = rust
        .create(NewElement::sticky(500.0, 1000.0, "Made in Rust 🦀"))
        .unwrap();
    let rust_update = out.join("rust.update");
    std::fs::write(&rust_update, rust.encode_diff(&base_sv)).unwrap();

    // JavaScript's copy, edited without seeing Rust's edits.
    let before_end = base_text.chars().count() - 2; // before " «", after the emoji
    let plan = json!([
        {"op": "insert_text", "id": ids.sticky, "at": before_end, "text": "JS✓"},
        {"op": "set", "id": ellipse, "fields": {"x": 900, "y": 450}},
        {"op": "set", "id": ids.sticky_rtl, "fields": {"fill": "#67c6c0", "align": "left"}},
        {"op": "insert_text", "id": ids.text, "at": 0, "text": "typing into a note Rust deletes"},
        {"op": "delete", "id": triangle},
        {"op": "delete_text", "id": rect, "at": 5, "len": 2},
        {"op": "set", "id": ids.connector_bound, "fields": {"arrow_start": "none"}},
        {"op": "set", "id": ids.connector_free, "fields": {
            "from_id": ids.text, "from_anchor": "top", "from_x": 7.5, "from_y": 8.5}},
        {"op": "create", "id": "js-created", "text": "Made in JavaScript 🟨", "fields": {
            "kind": "sticky", "x": 600, "y": 1000, "w": 200, "h": 200, "rot": 0,
            "z": "zz", "fill": "#ea94bb", "author": "JS"}},
        {"op": "create", "id": "js-ink", "fields": {
            "kind": "ink", "x": 10, "y": 20, "w": 3, "h": 4, "z": "zy",
            "points": [[0, 0], [1.5, 2.25], [3, 4]], "parent": ids.frame}},
    ]);
    let plan_path = out.join("plan.json");
    std::fs::write(&plan_path, plan.to_string()).unwrap();
    let js_raw = node_json(
        "merge.mjs",
        &[
            base_path.as_os_str(),
            plan_path.as_os_str(),
            rust_update.as_os_str(),
            out.as_os_str(),
        ],
    );

    // Rust takes JavaScript's update.
    let js_update = std::fs::read(out.join("js.update")).unwrap();
    rust.apply_update(&js_update).unwrap();
    assert!(!rust.has_missing_updates());
    let rust_merged = out.join("rust-merged.tpboard");
    file::save(&rust, &rust_merged).unwrap();
    let js_merged = out.join("js-merged.tpboard");

    // Same content on both sides, as each side reads both files.
    let rust_view = inspect(&rust_merged).json;
    assert_same(
        &inspect(&js_merged).json,
        &rust_view,
        "inspect: JS merge vs Rust merge",
    );
    assert_same(
        &js_read(&rust_merged),
        &js_raw,
        "read_board: Rust merge vs JS merge",
    );
    assert_same(
        &rust_view,
        &expected_inspect(&js_raw),
        "inspect of the Rust merge vs SCHEMA.md applied to the JS merge",
    );
    // Delivery order does not matter: JavaScript's update first, then Rust's.
    let mut other = file::load(&base_path).unwrap();
    other.apply_update(&js_update).unwrap();
    other
        .apply_update(&std::fs::read(&rust_update).unwrap())
        .unwrap();
    assert!(other.elements() == rust.elements() && other.meta() == rust.meta());

    // And the merge is what both sides meant.
    let e = |id: &str| element(&rust_view, id).unwrap_or_else(|| panic!("merge lacks {id}"));
    let mut chars: Vec<char> = base_text.chars().collect();
    chars.splice(before_end..before_end, "JS✓".chars());
    let merged_text = format!("Rust✓ {}", chars.into_iter().collect::<String>());
    assert_eq!(
        e(&ids.sticky)["text"],
        json!(merged_text),
        "both insertions kept"
    );
    assert!(element(&rust_view, &ids.text).is_none(), "deleted by Rust");
    assert!(
        element(&rust_view, &triangle).is_none(),
        "deleted by JavaScript"
    );
    assert_eq!(e(&rect)["text"], "rect 日本語");
    assert_eq!(e(&rust_new)["text"], "Made in Rust 🦀");
    assert_eq!(e("js-created")["text"], "Made in JavaScript 🟨");
    assert_eq!(e("js-created")["fill"], "#ea94bb");
    assert_eq!(
        e("js-ink")["points"],
        json!([[0.0, 0.0], [1.5, 2.25], [3.0, 4.0]])
    );
    assert_eq!(e("js-ink")["parent"], json!(ids.frame));
    assert_eq!(rust_view["meta"]["title"], "Merged board");
    // Concurrent writes of one key: one side wins, the same on both sides,
    // and x and y come from the same side.
    let at = [
        e(&ellipse)["x"].as_f64().unwrap(),
        e(&ellipse)["y"].as_f64().unwrap(),
    ];
    assert!(
        at == [900.0, 450.0] || at == [ellipse_before.x + 15.0, ellipse_before.y + 25.0],
        "{at:?}"
    );
    assert!(["#67c6c0", "#f16c7f"].contains(&e(&ids.sticky_rtl)["fill"].as_str().unwrap()));
    assert_eq!(e(&ids.sticky_rtl)["align"], "left");
    assert_eq!(e(&ids.connector_bound)["arrow_start"], "none");
    let half = e(&ids.connector_free_end);
    assert_eq!(half["to"]["id"], json!(ids.ink));
    assert_eq!(half["to"]["anchor"], "left");
    // Bound by JavaScript to the element Rust deleted: drawn at its stored point.
    let free = e(&ids.connector_free);
    assert_eq!(free["from"]["id"], json!(ids.text));
    assert_eq!(free["from"]["resolved"], json!([7.5, 8.5]));
}
