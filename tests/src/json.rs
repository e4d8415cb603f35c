//! Comparing JSON documents from different writers (serde_json, JavaScript's
//! `JSON.stringify`) by content: numbers by value (`1`, `1.0` and `-0` agree),
//! ink points at f32 precision (what the document stores), and resolved
//! connector ends (computed with trigonometry) within a small tolerance.

use serde_json::Value;

/// Every difference between `actual` and `expected`, one line each, naming
/// the path (`elements[3](sticky-1).fill`). Empty when they agree.
pub fn differences(actual: &Value, expected: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff(actual, expected, "$", &mut out);
    out
}

/// Panics listing the differences (the first 40) when the two disagree.
#[track_caller]
pub fn assert_same(actual: &Value, expected: &Value, what: &str) {
    let diffs = differences(actual, expected);
    if !diffs.is_empty() {
        let shown: Vec<&str> = diffs.iter().take(40).map(String::as_str).collect();
        panic!(
            "{what}: {} difference(s) (actual vs expected):\n  {}\n\nactual:\n{}\n\nexpected:\n{}",
            diffs.len(),
            shown.join("\n  "),
            pretty(actual),
            pretty(expected)
        );
    }
}

pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn diff(a: &Value, e: &Value, path: &str, out: &mut Vec<String>) {
    match (a, e) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            if !numbers_agree(path, x, y) {
                out.push(format!("{path}: {x} vs {y}"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(av), Some(ev)) => diff(av, ev, &p, out),
                    (Some(av), None) => out.push(format!("{p}: unexpected {av}")),
                    (None, Some(ev)) => out.push(format!("{p}: missing, expected {ev}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!(
                    "{path}: {} items vs {}{}",
                    x.len(),
                    y.len(),
                    id_lists(x, y)
                ));
                return;
            }
            for (i, (av, ev)) in x.iter().zip(y).enumerate() {
                let label = match av.get("id").and_then(Value::as_str) {
                    Some(id) => format!("{path}[{i}]({id})"),
                    None => format!("{path}[{i}]"),
                };
                diff(av, ev, &label, out);
            }
        }
        _ if a == e => {}
        _ => out.push(format!("{path}: {a} vs {e}")),
    }
}

/// For arrays of elements, the two id lists, which say more than the lengths.
fn id_lists(x: &[Value], y: &[Value]) -> String {
    let ids = |v: &[Value]| -> Option<Vec<String>> {
        v.iter()
            .map(|e| e.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    match (ids(x), ids(y)) {
        (Some(a), Some(b)) => format!(": ids {a:?} vs {b:?}"),
        _ => String::new(),
    }
}

fn numbers_agree(path: &str, x: f64, y: f64) -> bool {
    if path.contains(".points[") {
        // Stored as f32: serde prints the shortest f32, JavaScript the exact
        // f64 widening of it.
        return (x as f32) == (y as f32);
    }
    if path.contains(".resolved[") {
        return (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
    }
    x == y
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(differences(&json!({"a": 1.0, "b": -0.0}), &json!({"a": 1, "b": 0})).is_empty());
        assert_eq!(differences(&json!({"a": 1.5}), &json!({"a": 1})).len(), 1);
        let f32_text = json!({"e": {"points": [[0.1, 2.0]]}});
        let f64_widened = json!({"e": {"points": [[f64::from(0.1f32), 2]]}});
        assert!(differences(&f32_text, &f64_widened).is_empty());
    }

    #[test]
    fn differences_name_the_path() {
        let d = differences(
            &json!({"elements": [{"id": "a", "fill": "#ffffff"}]}),
            &json!({"elements": [{"id": "a", "fill": "#000000"}]}),
        );
        assert_eq!(d, [r##"$.elements[0](a).fill: "#ffffff" vs "#000000""##]);
    }
}
