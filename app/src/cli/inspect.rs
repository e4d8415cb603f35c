//! `touchpoint inspect`: a board as JSON, for scripts, tests and debugging.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};
use touchpoint_crdt::{Board, Body, Element, End};
use touchpoint_editor::autosave::disk;

pub fn run(path: &Path) -> anyhow::Result<()> {
    let board = disk::load(path)?;
    let json = board_json(&board);
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &json).context("cannot write to stdout")?;
    writeln!(out).context("cannot write to stdout")?;
    Ok(())
}

/// The whole board as JSON: `{ meta, read_only, elements: [...] }`, elements
/// in drawing order. Field names follow SCHEMA.md.
pub fn board_json(board: &Board) -> Value {
    let meta = board.meta();
    let elements: Vec<Value> = board
        .elements()
        .iter()
        .map(|e| element_json(board, e))
        .collect();
    json!({
        "meta": {
            "title": meta.title,
            "schema": meta.schema,
            "template": meta.template,
        },
        "read_only": board.read_only().map(|r| r.to_string()),
        "elements": elements,
    })
}

fn paint(p: Option<touchpoint_crdt::Color>) -> Value {
    p.map_or_else(|| json!("none"), |c| json!(c.to_string()))
}

fn element_json(board: &Board, e: &Element) -> Value {
    let mut v = json!({
        "id": e.id,
        "kind": e.kind().as_str(),
        "z": e.z,
        "parent": e.parent,
        "author": e.author,
        "fill": paint(e.style.fill),
        "stroke": paint(e.style.stroke),
        "stroke_width": e.style.stroke_width,
        "text_color": e.style.text_color.to_string(),
        "font_size": e.style.font_size,
        "align": e.style.align.as_str(),
    });
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    if !matches!(e.body, Body::Connector { .. }) {
        for (k, n) in [
            ("x", e.geom.x),
            ("y", e.geom.y),
            ("w", e.geom.w),
            ("h", e.geom.h),
            ("rot", e.geom.rot),
        ] {
            obj.insert(k.into(), json!(n));
        }
    }
    match &e.body {
        Body::Sticky { text } | Body::Text { text } | Body::Frame { title: text } => {
            obj.insert("text".into(), json!(text));
        }
        Body::Shape { shape, text } => {
            obj.insert("shape".into(), json!(shape.as_str()));
            obj.insert("text".into(), json!(text));
        }
        Body::Ink { points } => {
            obj.insert("points".into(), json!(points));
        }
        Body::Connector {
            from,
            to,
            arrow_start,
            arrow_end,
        } => {
            obj.insert("from".into(), end_json(board, from));
            obj.insert("to".into(), end_json(board, to));
            obj.insert("arrow_start".into(), json!(arrow_start.as_str()));
            obj.insert("arrow_end".into(), json!(arrow_end.as_str()));
        }
        Body::Grid(grid) => {
            obj.insert("grid".into(), json!(grid));
        }
    }
    v
}

fn end_json(board: &Board, end: &End) -> Value {
    json!({
        "id": end.binding.as_ref().map(|b| b.id.clone()),
        "anchor": end.binding.as_ref().map(|b| b.anchor.as_str()),
        "x": end.point[0],
        "y": end.point[1],
        "resolved": board.resolve_end(end),
    })
}
