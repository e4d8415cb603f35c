//! An independent reading of SCHEMA.md: from the raw document a JavaScript
//! client sees (`tests/js/read_board.mjs`), what `touchpoint inspect` must
//! print. It shares no code with the crdt crate, so a disagreement points at
//! the crate, at SCHEMA.md, or at this model, never at a shared mistake.
//!
//! Rules applied (SCHEMA.md, "Fields", "Per kind", "Connectors", "Frames",
//! "Untrusted data"): an entry that is not a Y.Map, has no string `kind`, or an
//! unknown kind is skipped; a missing or mistyped field takes its default;
//! colours are `#rrggbb` in any case, printed lowercase; `w`, `h` and
//! `stroke_width` are at least 0, `font_size` positive; a `parent` must name a
//! frame and frames have none; a bound connector end resolves to the anchor
//! of its element's rotated box unless that element is missing or a
//! connector; elements are ordered by `(z, id)` bytewise.
//!
//! One leniency follows yrs rather than SCHEMA.md: a JavaScript bigint is read
//! as a number (yrs decodes lib0's bigint into the same number type).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

const KINDS: [&str; 6] = ["sticky", "shape", "text", "ink", "connector", "frame"];
const SHAPES: [&str; 5] = ["rect", "rounded_rect", "ellipse", "diamond", "triangle"];
const ANCHORS: [&str; 5] = ["center", "top", "right", "bottom", "left"];
const ALIGNS: [&str; 3] = ["left", "center", "right"];
const ARROWS: [&str; 2] = ["none", "arrow"];

/// The schema version this model follows.
pub const SCHEMA_VERSION: u64 = 1;

/// Default style of a kind, from SCHEMA.md's "Per kind" table and the common
/// fields' defaults (stroke width 2, text colour `#1a1a1a`, font 16, centred,
/// unpainted, where the kind says nothing else).
struct Style {
    fill: &'static str,
    stroke: &'static str,
    stroke_width: f64,
    font_size: f64,
    align: &'static str,
}

fn default_style(kind: &str) -> Style {
    let base = Style {
        fill: "none",
        stroke: "none",
        stroke_width: 2.0,
        font_size: 16.0,
        align: "center",
    };
    match kind {
        "sticky" => Style {
            fill: "#fff9b1",
            font_size: 20.0,
            ..base
        },
        "shape" => Style {
            fill: "#ffffff",
            stroke: "#1a1a1a",
            ..base
        },
        "text" => Style {
            align: "left",
            ..base
        },
        "ink" => Style {
            stroke: "#1a1a1a",
            stroke_width: 3.0,
            ..base
        },
        "connector" => Style {
            stroke: "#1a1a1a",
            ..base
        },
        "frame" => Style {
            fill: "#ffffff",
            stroke: "#c8c8c8",
            stroke_width: 1.0,
            font_size: 14.0,
            align: "left",
        },
        _ => base,
    }
}

/// A finite number, or a bigint (see the module note).
fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::Object(o) => o
            .get("$bigint")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<i64>().ok())
            .map(|i| i as f64),
        _ => None,
    }
}

fn string(v: Option<&Value>) -> Option<&str> {
    v?.as_str()
}

fn one_of(v: Option<&Value>, allowed: &[&'static str]) -> Option<&'static str> {
    let s = string(v)?;
    allowed.iter().copied().find(|a| *a == s)
}

fn colour(v: Option<&Value>) -> Option<String> {
    let s = string(v)?;
    let hex = s.strip_prefix('#')?;
    (hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("#{}", hex.to_ascii_lowercase()))
}

fn paint(v: Option<&Value>) -> Option<String> {
    match string(v) {
        Some("none") => Some("none".to_owned()),
        _ => colour(v),
    }
}

/// An element as the model reads it, before parents and ends are resolved.
struct Read {
    id: String,
    kind: &'static str,
    fields: Map<String, Value>,
    geom: [f64; 5],
    json: Map<String, Value>,
}

fn read_element(id: &str, fields: &Map<String, Value>) -> Option<Read> {
    let kind = one_of(fields.get("kind"), &KINDS)?;
    let f = |k: &str| fields.get(k);
    let d = default_style(kind);
    let geom = [
        number(f("x")).unwrap_or(0.0),
        number(f("y")).unwrap_or(0.0),
        number(f("w")).map_or(0.0, |w| w.max(0.0)),
        number(f("h")).map_or(0.0, |h| h.max(0.0)),
        number(f("rot")).unwrap_or(0.0),
    ];
    let mut json = Map::new();
    json.insert("id".into(), json!(id));
    json.insert("kind".into(), json!(kind));
    json.insert("z".into(), json!(string(f("z")).unwrap_or("")));
    json.insert(
        "parent".into(),
        json!(string(f("parent")).filter(|p| !p.is_empty())),
    );
    json.insert("author".into(), json!(string(f("author"))));
    json.insert(
        "fill".into(),
        json!(paint(f("fill")).unwrap_or_else(|| d.fill.to_owned())),
    );
    json.insert(
        "stroke".into(),
        json!(paint(f("stroke")).unwrap_or_else(|| d.stroke.to_owned())),
    );
    json.insert(
        "stroke_width".into(),
        json!(number(f("stroke_width")).map_or(d.stroke_width, |w| w.max(0.0))),
    );
    json.insert(
        "text_color".into(),
        json!(colour(f("text_color")).unwrap_or_else(|| "#1a1a1a".to_owned())),
    );
    json.insert(
        "font_size".into(),
        json!(
            number(f("font_size"))
                .filter(|s| *s > 0.0)
                .unwrap_or(d.font_size)
        ),
    );
    json.insert(
        "align".into(),
        json!(one_of(f("align"), &ALIGNS).unwrap_or(d.align)),
    );
    if kind != "connector" {
        for (k, v) in ["x", "y", "w", "h", "rot"].into_iter().zip(geom) {
            json.insert(k.into(), json!(v));
        }
    }
    // read_board.mjs prints Y.Text (and the tolerated plain string) as a string.
    let text = || json!(string(f("text")).unwrap_or(""));
    match kind {
        "sticky" | "text" | "frame" => {
            json.insert("text".into(), text());
        }
        "shape" => {
            json.insert(
                "shape".into(),
                json!(one_of(f("shape"), &SHAPES).unwrap_or("rect")),
            );
            json.insert("text".into(), text());
        }
        "ink" => {
            json.insert("points".into(), Value::Array(points(f("points"))));
        }
        _ => {
            json.insert(
                "arrow_start".into(),
                json!(one_of(f("arrow_start"), &ARROWS).unwrap_or("none")),
            );
            json.insert(
                "arrow_end".into(),
                json!(one_of(f("arrow_end"), &ARROWS).unwrap_or("arrow")),
            );
        }
    }
    Some(Read {
        id: id.to_owned(),
        kind,
        fields: fields.clone(),
        geom,
        json,
    })
}

/// Whole finite pairs; anything that is not a list of pairs (a buffer whose
/// length is not a multiple of 8 included) reads as no points.
fn points(v: Option<&Value>) -> Vec<Value> {
    let Some(Value::Array(pairs)) = v else {
        return Vec::new();
    };
    pairs
        .iter()
        .filter_map(|p| {
            let p = p.as_array()?;
            let (x, y) = (number(p.first())?, number(p.get(1))?);
            (p.len() == 2).then(|| json!([x, y]))
        })
        .collect()
}

/// `[x, y]` of an anchor on a rotated box `[x, y, w, h, rot]`.
pub fn anchor_point(geom: [f64; 5], anchor: &str) -> [f64; 2] {
    let [x, y, w, h, rot] = geom;
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let (lx, ly) = match anchor {
        "top" => (0.0, -h / 2.0),
        "right" => (w / 2.0, 0.0),
        "bottom" => (0.0, h / 2.0),
        "left" => (-w / 2.0, 0.0),
        _ => (0.0, 0.0),
    };
    let (s, c) = rot.to_radians().sin_cos();
    [cx + lx * c - ly * s, cy + lx * s + ly * c]
}

fn end_json(fields: &Map<String, Value>, side: &str, targets: &HashMap<&str, &Read>) -> Value {
    let f = |k: &str| fields.get(&format!("{side}_{k}"));
    let id = string(f("id")).filter(|s| !s.is_empty());
    let anchor = id.map(|_| one_of(f("anchor"), &ANCHORS).unwrap_or("center"));
    let point = [number(f("x")).unwrap_or(0.0), number(f("y")).unwrap_or(0.0)];
    let resolved = match (id.and_then(|i| targets.get(i)), anchor) {
        (Some(t), Some(a)) if t.kind != "connector" => anchor_point(t.geom, a),
        _ => point,
    };
    json!({
        "id": id,
        "anchor": anchor,
        "x": point[0],
        "y": point[1],
        "resolved": resolved,
    })
}

fn meta_json(meta: Option<&Value>) -> (Value, u64) {
    let f = |k: &str| meta.and_then(|m| m.get(k));
    let schema = match number(f("schema")) {
        Some(v) if v >= 0.0 => v.min(f64::from(u32::MAX)) as u64,
        _ => SCHEMA_VERSION,
    };
    (
        json!({
            "title": string(f("title")).unwrap_or(""),
            "schema": schema,
            "template": string(f("template")),
        }),
        schema,
    )
}

/// What `touchpoint inspect` must print for a board whose raw content (the
/// output of `tests/js/read_board.mjs`) is `raw`.
pub fn expected_inspect(raw: &Value) -> Value {
    let (meta, schema) = meta_json(raw.get("meta"));
    let mut read: Vec<Read> = raw
        .get("elements")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| {
            let id = e.get("id")?.as_str()?;
            let fields = e.get("fields")?.as_object()?;
            (e.get("type")?.as_str()? == "Y.Map").then_some(())?;
            read_element(id, fields)
        })
        .collect();
    read.sort_by(|a, b| {
        let z = |r: &Read| r.json["z"].as_str().unwrap_or("").as_bytes().to_vec();
        z(a).cmp(&z(b))
            .then_with(|| a.id.as_bytes().cmp(b.id.as_bytes()))
    });
    let by_id: HashMap<&str, &Read> = read.iter().map(|r| (r.id.as_str(), r)).collect();
    let elements: Vec<Value> = read
        .iter()
        .map(|r| {
            let mut json = r.json.clone();
            let parent_ok = r.kind != "frame"
                && json["parent"]
                    .as_str()
                    .and_then(|p| by_id.get(p))
                    .is_some_and(|p| p.kind == "frame");
            if !parent_ok {
                json.insert("parent".into(), Value::Null);
            }
            if r.kind == "connector" {
                json.insert("from".into(), end_json(&r.fields, "from", &by_id));
                json.insert("to".into(), end_json(&r.fields, "to", &by_id));
            }
            Value::Object(json)
        })
        .collect();
    let read_only = (schema > SCHEMA_VERSION).then(|| {
        format!(
            "board uses schema version {schema}, this build understands {SCHEMA_VERSION}: opened read-only"
        )
    });
    json!({
        "meta": meta,
        "read_only": read_only,
        "elements": elements,
    })
}

/// The raw fields of element `id` in a raw board, if it is a Y.Map.
pub fn raw_fields<'a>(raw: &'a Value, id: &str) -> Option<&'a Map<String, Value>> {
    raw.get("elements")?
        .as_array()?
        .iter()
        .find(|e| e.get("id").and_then(Value::as_str) == Some(id))?
        .get("fields")?
        .as_object()
}

/// The element `id` of an inspect (or model) JSON.
pub fn element<'a>(inspect: &'a Value, id: &str) -> Option<&'a Value> {
    inspect
        .get("elements")?
        .as_array()?
        .iter()
        .find(|e| e.get("id").and_then(Value::as_str) == Some(id))
}

/// The ids of an inspect (or raw) JSON's elements, in their order.
pub fn ids(board: &Value) -> Vec<String> {
    board
        .get("elements")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_rotation() {
        let g = [0.0, 0.0, 100.0, 50.0, 90.0];
        let [x, y] = anchor_point(g, "right");
        assert!(
            (x - 50.0).abs() < 1e-9 && (y - 75.0).abs() < 1e-9,
            "{x} {y}"
        );
        assert_eq!(anchor_point(g, "center"), [50.0, 25.0]);
    }

    #[test]
    fn defaults_and_skips() {
        let raw = json!({
            "meta": {},
            "elements": [
                {"id": "b", "type": "Y.Map", "fields": {"kind": "sticky", "w": "x", "fill": "#ABCDEF"}},
                {"id": "a", "type": "Y.Map", "fields": {"kind": "blob"}},
                {"id": "c", "type": "string"},
            ]
        });
        let e = expected_inspect(&raw);
        assert_eq!(ids(&e), ["b"]);
        let b = element(&e, "b").unwrap();
        assert_eq!(b["w"], json!(0.0));
        assert_eq!(b["fill"], json!("#abcdef"));
        assert_eq!(b["font_size"], json!(20.0));
        assert_eq!(e["meta"]["schema"], json!(1));
    }
}
