//! Typed snapshots of elements, read defensively from the document.
//!
//! The document may have been written by any Yjs client, so nothing in it is
//! trusted: a field that is missing or of the wrong type falls back to the kind's
//! default, and the problem is handed to a reporter (the board logs each one once).
//! Only an element without a recognisable `kind` is skipped.

use serde::Serialize;
use yrs::{Any, GetString, Map, MapRef, Out, ReadTxn};

use crate::geometry::Geometry;
use crate::grid::model::{CellRef, Grid, read_cell, read_grid};
use crate::schema::{Anchor, ArrowHead, Color, Kind, ShapeKind, key};
use crate::style::Style;
use crate::value::{describe, number_value};

/// Where a connector end is attached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Binding {
    pub id: String,
    pub anchor: Anchor,
}

/// One end of a connector: bound to an element, or free at `point`. For a bound
/// end `point` is the last known position, used when the element is gone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct End {
    pub binding: Option<Binding>,
    pub point: [f64; 2],
}

impl End {
    pub fn free(x: f64, y: f64) -> End {
        End {
            binding: None,
            point: [x, y],
        }
    }

    pub fn bound(id: impl Into<String>, anchor: Anchor) -> End {
        End {
            binding: Some(Binding {
                id: id.into(),
                anchor,
            }),
            point: [0.0, 0.0],
        }
    }
}

/// What distinguishes the kinds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Sticky {
        text: String,
    },
    Shape {
        shape: ShapeKind,
        text: String,
    },
    Text {
        text: String,
    },
    /// Points relative to the element's `x`, `y`, so moving a stroke writes two numbers.
    Ink {
        points: Vec<[f32; 2]>,
    },
    Connector {
        from: End,
        to: End,
        arrow_start: ArrowHead,
        arrow_end: ArrowHead,
    },
    Frame {
        title: String,
    },
    /// A table of lanes by stages; see [`crate::grid`].
    Grid(Grid),
}

impl Body {
    pub fn kind(&self) -> Kind {
        match self {
            Body::Sticky { .. } => Kind::Sticky,
            Body::Shape { .. } => Kind::Shape,
            Body::Text { .. } => Kind::Text,
            Body::Ink { .. } => Kind::Ink,
            Body::Connector { .. } => Kind::Connector,
            Body::Frame { .. } => Kind::Frame,
            Body::Grid(_) => Kind::Grid,
        }
    }

    /// The element's text (a frame's title), if its kind has any.
    pub fn text(&self) -> Option<&str> {
        match self {
            Body::Sticky { text } | Body::Shape { text, .. } | Body::Text { text } => Some(text),
            Body::Frame { title } => Some(title),
            Body::Grid(grid) => Some(&grid.title),
            Body::Ink { .. } | Body::Connector { .. } => None,
        }
    }
}

/// A validated, owned copy of one element at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Element {
    pub id: String,
    pub geom: Geometry,
    /// Fractional-index stacking key; see [`crate::zorder`].
    pub z: String,
    /// The frame this element sits in, if that frame exists.
    pub parent: Option<String>,
    /// The grid cell this element claims (its `cell` field), whether or not
    /// that cell exists: what decides which grid's layout it affects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<CellRef>,
    pub author: Option<String>,
    pub style: Style,
    pub body: Body,
}

impl Element {
    pub fn kind(&self) -> Kind {
        self.body.kind()
    }
}

/// Receives one problem found while reading: the field (or "" for the whole
/// element) and a description.
pub type Report<'a> = dyn FnMut(&str, String) + 'a;

/// Reads one element map. Returns `None` (after reporting) when the element
/// cannot be interpreted at all: no `kind`, or a kind this build does not know.
pub fn read_element<T: ReadTxn>(
    id: &str,
    map: &MapRef,
    txn: &T,
    report: &mut Report<'_>,
) -> Option<Element> {
    let kind = match map.get(txn, key::KIND) {
        Some(Out::Any(Any::String(s))) => match s.parse::<Kind>() {
            Ok(k) => k,
            Err(e) => {
                report("", format!("skipped: {e}"));
                return None;
            }
        },
        Some(other) => {
            report("", format!("skipped: kind is {}", describe(&other)));
            return None;
        }
        None => {
            report("", "skipped: no kind".to_owned());
            return None;
        }
    };
    let r = Reader {
        map,
        txn,
        report: std::cell::RefCell::new(report),
    };
    let defaults = Style::default_for(kind);
    let mut geom = Geometry {
        x: r.number(key::X).unwrap_or(0.0),
        y: r.number(key::Y).unwrap_or(0.0),
        w: r.number(key::W).map_or(0.0, |w| w.max(0.0)),
        h: r.number(key::H).map_or(0.0, |h| h.max(0.0)),
        rot: r.number(key::ROT).unwrap_or(0.0),
    };
    let style = Style {
        fill: r.paint(key::FILL).unwrap_or(defaults.fill),
        stroke: r.paint(key::STROKE).unwrap_or(defaults.stroke),
        stroke_width: r
            .number(key::STROKE_WIDTH)
            .map_or(defaults.stroke_width, |w| w.max(0.0)),
        text_color: r.parsed(key::TEXT_COLOR).unwrap_or(defaults.text_color),
        font_size: r
            .number(key::FONT_SIZE)
            .filter(|s| *s > 0.0)
            .unwrap_or(defaults.font_size),
        align: r.parsed(key::ALIGN).unwrap_or(defaults.align),
    };
    let body = match kind {
        Kind::Sticky => Body::Sticky { text: r.text() },
        Kind::Shape => Body::Shape {
            shape: r.parsed(key::SHAPE).unwrap_or(ShapeKind::Rect),
            text: r.text(),
        },
        Kind::Text => Body::Text { text: r.text() },
        Kind::Ink => Body::Ink { points: r.points() },
        Kind::Connector => Body::Connector {
            from: r.end(key::FROM_ID, key::FROM_ANCHOR, key::FROM_X, key::FROM_Y),
            to: r.end(key::TO_ID, key::TO_ANCHOR, key::TO_X, key::TO_Y),
            arrow_start: r.parsed(key::ARROW_START).unwrap_or(ArrowHead::None),
            arrow_end: r.parsed(key::ARROW_END).unwrap_or(ArrowHead::Arrow),
        },
        Kind::Frame => Body::Frame { title: r.text() },
        Kind::Grid => {
            let grid = read_grid(map, txn, r.text(), &mut |f, m| r.problem(f, m));
            // A grid's size is its lanes' and stages'; it does not turn.
            let [w, h] = grid.size();
            (geom.w, geom.h, geom.rot) = (w, h, 0.0);
            Body::Grid(grid)
        }
    };
    Some(Element {
        id: id.to_owned(),
        geom,
        z: r.string(key::Z).unwrap_or_default(),
        parent: r.string(key::PARENT).filter(|p| !p.is_empty()),
        cell: read_cell(map, txn),
        author: r.string(key::AUTHOR),
        style,
        body,
    })
}

/// Field accessors that default and report instead of failing.
struct Reader<'a, 'r, T> {
    map: &'a MapRef,
    txn: &'a T,
    report: std::cell::RefCell<&'a mut Report<'r>>,
}

impl<T: ReadTxn> Reader<'_, '_, T> {
    fn problem(&self, field: &str, msg: String) {
        (self.report.borrow_mut())(field, msg);
    }

    fn number(&self, field: &str) -> Option<f64> {
        match self.map.get(self.txn, field)? {
            Out::Any(Any::Number(n)) => {
                let v = number_value(n);
                if v.is_finite() {
                    Some(v)
                } else {
                    self.problem(field, format!("not a finite number ({v})"));
                    None
                }
            }
            other => {
                self.problem(
                    field,
                    format!("expected a number, found {}", describe(&other)),
                );
                None
            }
        }
    }

    fn string(&self, field: &str) -> Option<String> {
        match self.map.get(self.txn, field)? {
            Out::Any(Any::String(s)) => Some(s.to_string()),
            other => {
                self.problem(
                    field,
                    format!("expected a string, found {}", describe(&other)),
                );
                None
            }
        }
    }

    fn parsed<V: std::str::FromStr>(&self, field: &str) -> Option<V>
    where
        V::Err: std::fmt::Display,
    {
        let s = self.string(field)?;
        match s.parse() {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(field, e.to_string());
                None
            }
        }
    }

    /// A colour or `"none"`; `None` when absent or invalid (use the default).
    fn paint(&self, field: &str) -> Option<Option<Color>> {
        let s = self.string(field)?;
        if s == "none" {
            return Some(None);
        }
        match s.parse() {
            Ok(c) => Some(Some(c)),
            Err(e) => {
                self.problem(field, e.to_string());
                None
            }
        }
    }

    fn text(&self) -> String {
        match self.map.get(self.txn, key::TEXT) {
            None => String::new(),
            Some(Out::YText(t)) => t.get_string(self.txn),
            // Tolerated so hand-written boards work; edits convert it to Y.Text.
            Some(Out::Any(Any::String(s))) => s.to_string(),
            Some(other) => {
                self.problem(
                    key::TEXT,
                    format!("expected Y.Text, found {}", describe(&other)),
                );
                String::new()
            }
        }
    }

    fn points(&self) -> Vec<[f32; 2]> {
        let bytes = match self.map.get(self.txn, key::POINTS) {
            None => return Vec::new(),
            Some(Out::Any(Any::Buffer(b))) => b,
            Some(other) => {
                self.problem(
                    key::POINTS,
                    format!("expected a byte buffer, found {}", describe(&other)),
                );
                return Vec::new();
            }
        };
        let chunks = bytes.chunks_exact(8);
        if !chunks.remainder().is_empty() {
            self.problem(
                key::POINTS,
                format!("{} bytes is not a whole number of f32 pairs", bytes.len()),
            );
        }
        let mut dropped = 0usize;
        let points = chunks
            .filter_map(|c| {
                let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                let y = f32::from_le_bytes([c[4], c[5], c[6], c[7]]);
                if x.is_finite() && y.is_finite() {
                    Some([x, y])
                } else {
                    dropped += 1;
                    None
                }
            })
            .collect();
        if dropped > 0 {
            self.problem(key::POINTS, format!("dropped {dropped} non-finite points"));
        }
        points
    }

    fn end(&self, id: &str, anchor: &str, x: &str, y: &str) -> End {
        let binding = self.string(id).filter(|s| !s.is_empty()).map(|id| Binding {
            id,
            anchor: self.parsed(anchor).unwrap_or(Anchor::Center),
        });
        End {
            binding,
            point: [self.number(x).unwrap_or(0.0), self.number(y).unwrap_or(0.0)],
        }
    }
}

/// Encodes ink points as the document stores them: little-endian f32 pairs.
pub fn encode_points(points: &[[f32; 2]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(points.len() * 8);
    for [x, y] in points {
        out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(&y.to_le_bytes());
    }
    out
}
