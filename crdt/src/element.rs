//! Typed snapshots of elements, read defensively from the document.
//!
//! The document may have been written by any Yjs client, so nothing in it is
//! trusted: a field that is missing or of the wrong type falls back to the kind's
//! default, and the problem is handed to a reporter (the board logs each one once).
//! Only an element without a recognisable `kind` is skipped.

use serde::Serialize;
use yrs::{Any, GetString, Map, MapRef, Out, ReadTxn};

use crate::grid::Grid;
use crate::schema::{Align, Anchor, ArrowHead, Color, Kind, ShapeKind, key};

/// Position and size in world units (1 unit = 1 CSS px at 100% zoom).
/// `x`, `y` is the top-left corner before rotation; `rot` is in degrees,
/// clockwise, about the centre.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Geometry {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub rot: f64,
}

impl Geometry {
    pub fn new(x: f64, y: f64, w: f64, h: f64) -> Self {
        Geometry {
            x,
            y,
            w,
            h,
            rot: 0.0,
        }
    }

    pub fn center(&self) -> [f64; 2] {
        [self.x + self.w / 2.0, self.y + self.h / 2.0]
    }

    /// The world position of a point given relative to the centre in the
    /// element's own (unrotated) frame.
    pub fn world_from_local(&self, local: [f64; 2]) -> [f64; 2] {
        let [cx, cy] = self.center();
        let (s, c) = self.rot.to_radians().sin_cos();
        [
            cx + local[0] * c - local[1] * s,
            cy + local[0] * s + local[1] * c,
        ]
    }

    /// Where a connector anchor sits in world coordinates.
    pub fn anchor_point(&self, anchor: Anchor) -> [f64; 2] {
        let (hw, hh) = (self.w / 2.0, self.h / 2.0);
        let local = match anchor {
            Anchor::Center => [0.0, 0.0],
            Anchor::Top => [0.0, -hh],
            Anchor::Right => [hw, 0.0],
            Anchor::Bottom => [0.0, hh],
            Anchor::Left => [-hw, 0.0],
        };
        self.world_from_local(local)
    }

    /// Axis-aligned bounds of the rotated box: `[min_x, min_y, max_x, max_y]`.
    pub fn bounds(&self) -> [f64; 4] {
        let (hw, hh) = (self.w / 2.0, self.h / 2.0);
        let corners =
            [[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]].map(|c| self.world_from_local(c));
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for [x, y] in corners {
            b[0] = b[0].min(x);
            b[1] = b[1].min(y);
            b[2] = b[2].max(x);
            b[3] = b[3].max(y);
        }
        b
    }
}

/// Visual style. `None` for fill or stroke means "not painted".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Style {
    pub fill: Option<Color>,
    pub stroke: Option<Color>,
    pub stroke_width: f64,
    pub text_color: Color,
    pub font_size: f64,
    pub align: Align,
}

impl Style {
    /// The style an element of `kind` has when its document fields are absent.
    pub fn default_for(kind: Kind) -> Style {
        let base = Style {
            fill: None,
            stroke: None,
            stroke_width: 2.0,
            text_color: Color::BLACK,
            font_size: 16.0,
            align: Align::Center,
        };
        match kind {
            Kind::Sticky => Style {
                fill: Some(Color::STICKY_PALETTE[0]),
                font_size: 20.0,
                ..base
            },
            Kind::Shape => Style {
                fill: Some(Color::WHITE),
                stroke: Some(Color::BLACK),
                ..base
            },
            Kind::Text => Style {
                align: Align::Left,
                ..base
            },
            Kind::Ink => Style {
                stroke: Some(Color::BLACK),
                stroke_width: 3.0,
                ..base
            },
            Kind::Connector => Style {
                stroke: Some(Color::BLACK),
                ..base
            },
            Kind::Frame => Style {
                fill: Some(Color::WHITE),
                stroke: Some(Color(0xc8, 0xc8, 0xc8)),
                stroke_width: 1.0,
                font_size: 14.0,
                align: Align::Left,
                ..base
            },
            Kind::Grid => Style {
                fill: Some(Color::WHITE),
                stroke: Some(Color(0xb4, 0xb4, 0xb4)),
                stroke_width: 1.0,
                font_size: 18.0,
                align: Align::Left,
                ..base
            },
        }
    }
}

/// A change to some style fields; `None` leaves a field as it is.
/// For fill and stroke, `Some(None)` means "no paint" (stored as `"none"`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StylePatch {
    pub fill: Option<Option<Color>>,
    pub stroke: Option<Option<Color>>,
    pub stroke_width: Option<f64>,
    pub text_color: Option<Color>,
    pub font_size: Option<f64>,
    pub align: Option<Align>,
}

impl StylePatch {
    pub fn is_empty(&self) -> bool {
        *self == StylePatch::default()
    }
}

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
            let grid = crate::grid::read_grid(map, txn, r.text(), &mut |f, m| r.problem(f, m));
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

/// A Yjs number as f64 (lib0 sends integral numbers as integers).
pub(crate) fn number_value(n: yrs::Number) -> f64 {
    match n {
        yrs::Number::Int(i) => i as f64,
        yrs::Number::Float(f) => f,
    }
}

/// A short, human description of a value's type for error messages.
pub(crate) fn describe(v: &Out) -> &'static str {
    match v {
        Out::Any(Any::Null) => "null",
        Out::Any(Any::Undefined) => "undefined",
        Out::Any(Any::Bool(_)) => "a boolean",
        Out::Any(Any::Number(_)) => "a number",
        Out::Any(Any::String(_)) => "a string",
        Out::Any(Any::Buffer(_)) => "a byte buffer",
        Out::Any(Any::Array(_)) => "an array",
        Out::Any(Any::Map(_)) => "an object",
        Out::YText(_) => "a Y.Text",
        Out::YArray(_) => "a Y.Array",
        Out::YMap(_) => "a Y.Map",
        Out::YDoc(_) => "a sub-document",
        _ => "an unsupported shared type",
    }
}
