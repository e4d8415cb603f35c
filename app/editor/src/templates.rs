//! Board templates: JSON files in `assets/templates/` (the format is
//! documented in `assets/templates/README.md`), validated here and inserted
//! into a board in one transaction, so one undo removes the whole template.
//!
//! The built-in templates are compiled into the binary, so `touchpoint new
//! --template NAME` works wherever the binary is; a path to a `.json` file
//! loads any other template in the same format.
//!
//! A template file is outside data: every field is checked, and a bad one is
//! reported with its JSON path (`grids[0].lanes[3].role: unknown lane role
//! "feelings"`), never a panic.

use std::path::Path;

use serde_json::{Map, Value};
use touchpoint_crdt::grid::{HEADER_HEIGHT, HEADER_WIDTH, MAX_TRACK, MAX_TRACKS, STAGE_WIDTH};
use touchpoint_crdt::{
    Align, Board, Color, CreatedGrid, EditError, Geometry, LaneRole, NewElement, NewGrid, NewLane,
    NewStage, ShapeKind, StylePatch,
};

/// The template file format this build reads.
pub const FORMAT: u64 = 1;

/// Most elements (free ones plus grid contents) a template may hold.
pub const MAX_ELEMENTS: usize = 5_000;

/// Largest coordinate a template may use, in world units.
pub const MAX_COORD: f64 = 1.0e6;

/// The built-in templates: (name, JSON source).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "journey-map",
        include_str!("../../../assets/templates/journey-map.json"),
    ),
    (
        "service-blueprint",
        include_str!("../../../assets/templates/service-blueprint.json"),
    ),
    (
        "empathy-map",
        include_str!("../../../assets/templates/empathy-map.json"),
    ),
    (
        "workshop",
        include_str!("../../../assets/templates/workshop.json"),
    ),
    (
        "kanban",
        include_str!("../../../assets/templates/kanban.json"),
    ),
    (
        "affinity",
        include_str!("../../../assets/templates/affinity.json"),
    ),
];

/// Why a template cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("no template named {name:?}; built in: {}", builtin_names().join(", "))]
    Unknown { name: String },
    #[error("cannot read template {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("template is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("template {at}: {reason}")]
    Invalid { at: String, reason: String },
    #[error("cannot insert the template: {0}")]
    Edit(#[from] EditError),
}

/// A validated template, ready to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub name: String,
    pub title: String,
    pub description: String,
    /// Free elements, positions relative to the template's origin.
    pub elements: Vec<NewElement>,
    /// Grids with their stickies, positions relative to the template's origin.
    pub grids: Vec<NewGrid>,
}

/// The names of the built-in templates.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// A built-in template by name, or a template file when `name` ends in
/// `.json`.
pub fn load(name: &str) -> Result<Template, TemplateError> {
    if name.ends_with(".json") {
        let src =
            std::fs::read_to_string(Path::new(name)).map_err(|source| TemplateError::Read {
                path: name.to_owned(),
                source,
            })?;
        return Template::parse(&src);
    }
    let (_, src) =
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| TemplateError::Unknown {
                name: name.to_owned(),
            })?;
    Template::parse(src)
}

/// Every built-in template, parsed (the template picker's list).
pub fn builtin() -> Result<Vec<Template>, TemplateError> {
    BUILTIN
        .iter()
        .map(|(_, src)| Template::parse(src))
        .collect()
}

/// What inserting a template created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    /// Free elements, in template order.
    pub elements: Vec<String>,
    pub grids: Vec<CreatedGrid>,
}

impl Template {
    /// Parses and validates a template file's text.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let root: Value = serde_json::from_str(src)?;
        let root = Obj::new(&root, "")?;
        let format = root.req_num("format")?;
        if format != FORMAT as f64 {
            return Err(root.bad(
                "format",
                format!("format {format} is not supported (this build reads {FORMAT})"),
            ));
        }
        let name = root.req_str("name")?.to_owned();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(root.bad("name", "use lowercase letters, digits and '-'"));
        }
        let title = root.opt_str("title")?.unwrap_or(&name).to_owned();
        let description = root.opt_str("description")?.unwrap_or("").to_owned();
        let mut elements = Vec::new();
        for (i, v) in root.opt_array("elements")?.iter().enumerate() {
            elements.push(element(&Obj::new(v, &format!("elements[{i}]"))?)?);
        }
        let mut grids = Vec::new();
        for (i, v) in root.opt_array("grids")?.iter().enumerate() {
            grids.push(grid(&Obj::new(v, &format!("grids[{i}]"))?)?);
        }
        let count = elements.len() + grids.iter().map(|g| g.contents.len()).sum::<usize>();
        if count > MAX_ELEMENTS {
            return Err(TemplateError::Invalid {
                at: "elements".to_owned(),
                reason: format!("{count} elements; at most {MAX_ELEMENTS}"),
            });
        }
        if elements.is_empty() && grids.is_empty() {
            return Err(TemplateError::Invalid {
                at: "elements".to_owned(),
                reason: "the template holds nothing".to_owned(),
            });
        }
        Ok(Template {
            name,
            title,
            description,
            elements,
            grids,
        })
    }

    /// The template's extent, relative to its origin: `[min_x, min_y, max_x, max_y]`.
    pub fn bounds(&self) -> [f64; 4] {
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        let mut add = |x: f64, y: f64, w: f64, h: f64| {
            b = [b[0].min(x), b[1].min(y), b[2].max(x + w), b[3].max(y + h)];
        };
        for e in &self.elements {
            add(e.geom.x, e.geom.y, e.geom.w, e.geom.h);
        }
        for g in &self.grids {
            let w = g.header_w + g.stages.iter().map(|s| s.width).sum::<f64>();
            let h = g.header_h + g.lanes.iter().map(|l| l.height).sum::<f64>();
            add(g.x, g.y, w, h);
        }
        if b[0] > b[2] { [0.0; 4] } else { b }
    }

    /// Inserts the template with the centre of its extent at `center` (the
    /// viewport's centre, say), or where it was authored when `None`. One
    /// transaction, one undo step.
    pub fn insert(
        &self,
        board: &mut Board,
        center: Option<[f64; 2]>,
    ) -> Result<Inserted, TemplateError> {
        let (dx, dy) = match center {
            Some([cx, cy]) => {
                if !(cx.is_finite() && cy.is_finite()) {
                    return Err(TemplateError::Invalid {
                        at: "insertion point".to_owned(),
                        reason: "not a finite point".to_owned(),
                    });
                }
                let b = self.bounds();
                (cx - (b[0] + b[2]) / 2.0, cy - (b[1] + b[3]) / 2.0)
            }
            None => (0.0, 0.0),
        };
        let shift = |g: Geometry| Geometry {
            x: g.x + dx,
            y: g.y + dy,
            ..g
        };
        let elements = self
            .elements
            .iter()
            .map(|e| e.clone().with_geometry(shift(e.geom)))
            .collect();
        let grids = self
            .grids
            .iter()
            .map(|g| NewGrid {
                x: g.x + dx,
                y: g.y + dy,
                ..g.clone()
            })
            .collect();
        let (elements, grids) = board.insert_content(elements, grids)?;
        Ok(Inserted { elements, grids })
    }
}

/// A JSON object being validated, with its path for messages.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    at: String,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, at: &str) -> Result<Obj<'a>, TemplateError> {
        match v {
            Value::Object(map) => Ok(Obj {
                map,
                at: at.to_owned(),
            }),
            _ => Err(TemplateError::Invalid {
                at: if at.is_empty() {
                    "(root)".to_owned()
                } else {
                    at.to_owned()
                },
                reason: "expected an object".to_owned(),
            }),
        }
    }

    fn path(&self, key: &str) -> String {
        if self.at.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.at)
        }
    }

    fn bad(&self, key: &str, reason: impl Into<String>) -> TemplateError {
        TemplateError::Invalid {
            at: self.path(key),
            reason: reason.into(),
        }
    }

    fn check_keys(&self, allowed: &[&str]) -> Result<(), TemplateError> {
        match self
            .map
            .keys()
            .find(|k| !k.starts_with('_') && !allowed.contains(&k.as_str()))
        {
            Some(k) => Err(self.bad(k, format!("unknown field (known: {})", allowed.join(", ")))),
            None => Ok(()),
        }
    }

    fn opt_num(&self, key: &str) -> Result<Option<f64>, TemplateError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) if v.is_finite() && v.abs() <= MAX_COORD => Ok(Some(v)),
                _ => Err(self.bad(key, format!("number out of range (at most {MAX_COORD})"))),
            },
            Some(_) => Err(self.bad(key, "expected a number")),
        }
    }

    fn req_num(&self, key: &str) -> Result<f64, TemplateError> {
        self.opt_num(key)?.ok_or_else(|| self.bad(key, "missing"))
    }

    fn size(&self, key: &str, default: f64) -> Result<f64, TemplateError> {
        let v = self.opt_num(key)?.unwrap_or(default);
        if !(0.0..=MAX_TRACK).contains(&v) {
            return Err(self.bad(key, format!("a size from 0 to {MAX_TRACK}")));
        }
        Ok(v)
    }

    fn opt_str(&self, key: &str) -> Result<Option<&'a str>, TemplateError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.bad(key, "expected a string")),
        }
    }

    fn req_str(&self, key: &str) -> Result<&'a str, TemplateError> {
        self.opt_str(key)?.ok_or_else(|| self.bad(key, "missing"))
    }

    fn parsed<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, TemplateError>
    where
        T::Err: std::fmt::Display,
    {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|e: T::Err| self.bad(key, e.to_string())),
        }
    }

    fn paint(&self, key: &str) -> Result<Option<Option<Color>>, TemplateError> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some("none") => Ok(Some(None)),
            Some(_) => Ok(self.parsed::<Color>(key)?.map(Some)),
        }
    }

    fn opt_array(&self, key: &str) -> Result<&'a [Value], TemplateError> {
        match self.map.get(key) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(self.bad(key, "expected an array")),
        }
    }

    fn style(&self) -> Result<StylePatch, TemplateError> {
        let font_size = self.opt_num("font_size")?;
        if font_size.is_some_and(|s| s <= 0.0) {
            return Err(self.bad("font_size", "must be positive"));
        }
        let stroke_width = self.opt_num("stroke_width")?;
        if stroke_width.is_some_and(|s| s < 0.0) {
            return Err(self.bad("stroke_width", "must not be negative"));
        }
        Ok(StylePatch {
            fill: self.paint("fill")?,
            stroke: self.paint("stroke")?,
            stroke_width,
            text_color: self.parsed("text_color")?,
            font_size,
            align: self.parsed::<Align>("align")?,
        })
    }
}

const STYLE_KEYS: [&str; 6] = [
    "fill",
    "stroke",
    "stroke_width",
    "text_color",
    "font_size",
    "align",
];

fn keys(extra: &[&'static str]) -> Vec<&'static str> {
    STYLE_KEYS.iter().chain(extra).copied().collect()
}

/// A free element: `sticky`, `shape` or `text`.
fn element(o: &Obj) -> Result<NewElement, TemplateError> {
    o.check_keys(&keys(&[
        "kind", "x", "y", "w", "h", "rot", "text", "shape", "author",
    ]))?;
    let kind = o.req_str("kind")?;
    let text = o.opt_str("text")?.unwrap_or("");
    let (x, y) = (o.req_num("x")?, o.req_num("y")?);
    let base = match kind {
        "sticky" => NewElement::sticky(x, y, text),
        "text" => NewElement::text(x, y, text),
        "shape" => NewElement::shape(
            o.parsed::<ShapeKind>("shape")?.unwrap_or(ShapeKind::Rect),
            Geometry::new(x, y, 200.0, 200.0),
        )
        .with_text(text),
        other => {
            return Err(o.bad(
                "kind",
                format!("{other:?} cannot be in a template (sticky, shape or text)"),
            ));
        }
    };
    if kind != "shape" && o.map.contains_key("shape") {
        return Err(o.bad("shape", "only shapes have an outline"));
    }
    let geom = Geometry {
        x,
        y,
        w: o.size("w", base.geom.w)?,
        h: o.size("h", base.geom.h)?,
        rot: o.opt_num("rot")?.unwrap_or(0.0),
    };
    let mut e = base.with_geometry(geom).with_style(o.style()?);
    if let Some(a) = o.opt_str("author")? {
        e = e.with_author(a);
    }
    Ok(e)
}

fn grid(o: &Obj) -> Result<NewGrid, TemplateError> {
    o.check_keys(&keys(&[
        "x",
        "y",
        "title",
        "header_width",
        "header_height",
        "stages",
        "lanes",
        "stickies",
    ]))?;
    let mut g = NewGrid::new(
        o.opt_str("title")?.unwrap_or(""),
        o.req_num("x")?,
        o.req_num("y")?,
    );
    g.header_w = o.size("header_width", HEADER_WIDTH)?;
    g.header_h = o.size("header_height", HEADER_HEIGHT)?;
    g.style = o.style()?;
    for (i, v) in o.opt_array("stages")?.iter().enumerate() {
        let at = format!("{}[{i}]", o.path("stages"));
        g.stages.push(match v {
            Value::String(t) => NewStage::new(t),
            v => {
                let s = Obj::new(v, &at)?;
                s.check_keys(&["title", "width"])?;
                NewStage {
                    title: s.opt_str("title")?.unwrap_or("").to_owned(),
                    width: s.size("width", STAGE_WIDTH)?,
                }
            }
        });
    }
    let stages = g.stages.len();
    for (i, v) in o.opt_array("lanes")?.iter().enumerate() {
        let at = format!("{}[{i}]", o.path("lanes"));
        let l = Obj::new(v, &at)?;
        l.check_keys(&["title", "height", "role", "color", "points"])?;
        let role = l.parsed::<LaneRole>("role")?.unwrap_or(LaneRole::Cards);
        let mut lane = NewLane::new(l.opt_str("title")?.unwrap_or(""), role);
        lane.height = l.size("height", lane.height)?;
        lane.color = l.parsed("color")?;
        let points = l.opt_array("points")?;
        if !points.is_empty() && role != LaneRole::Emotion {
            return Err(l.bad("points", "only an emotion lane has points"));
        }
        if points.len() > stages {
            return Err(l.bad(
                "points",
                format!("{} points for {stages} stages", points.len()),
            ));
        }
        for (j, p) in points.iter().enumerate() {
            lane.points.push(match p {
                Value::Null => None,
                Value::Number(n) => match n.as_f64() {
                    Some(v) if (-1.0..=1.0).contains(&v) => Some(v),
                    _ => return Err(l.bad(&format!("points[{j}]"), "a number from -1 to 1")),
                },
                _ => return Err(l.bad(&format!("points[{j}]"), "a number from -1 to 1, or null")),
            });
        }
        g.lanes.push(lane);
    }
    if g.stages.len() > MAX_TRACKS || g.lanes.len() > MAX_TRACKS {
        return Err(o.bad("stages", format!("at most {MAX_TRACKS} stages and lanes")));
    }
    for (i, v) in o.opt_array("stickies")?.iter().enumerate() {
        let s = Obj::new(v, &format!("{}[{i}]", o.path("stickies")))?;
        s.check_keys(&keys(&["lane", "stage", "text", "w", "h", "author"]))?;
        let index = |key: &str, len: usize| -> Result<usize, TemplateError> {
            let v = s.req_num(key)?;
            if v.fract() != 0.0 || v < 0.0 || v >= len as f64 {
                return Err(s.bad(key, format!("an index from 0 to {}", len.saturating_sub(1))));
            }
            Ok(v as usize)
        };
        let lane = index("lane", g.lanes.len())?;
        let stage = index("stage", g.stages.len())?;
        if g.lanes[lane].role == LaneRole::Line {
            return Err(s.bad("lane", "a line lane holds no stickies"));
        }
        let mut sticky = NewElement::sticky(0.0, 0.0, s.opt_str("text")?.unwrap_or(""));
        let geom = Geometry::new(0.0, 0.0, s.size("w", 200.0)?, s.size("h", 200.0)?);
        sticky = sticky.with_geometry(geom).with_style(s.style()?);
        if let Some(a) = s.opt_str("author")? {
            sticky = sticky.with_author(a);
        }
        g.contents.push((lane, stage, sticky));
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses() {
        for (name, src) in BUILTIN {
            let t = Template::parse(src).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&t.name, name);
        }
    }

    #[test]
    fn bad_templates_say_where() {
        let err = |src: &str| Template::parse(src).unwrap_err().to_string();
        assert!(err("{").contains("not valid JSON"));
        assert!(err(r#"{"format": 2, "name": "x"}"#).contains("format"));
        let e = err(
            r#"{"format": 1, "name": "x", "grids": [{"x": 0, "y": 0, "stages": ["a"],
              "lanes": [{"title": "l", "role": "feelings"}]}]}"#,
        );
        assert!(e.contains("grids[0].lanes[0].role"), "{e}");
        let e = err(
            r#"{"format": 1, "name": "x", "grids": [{"x": 0, "y": 0, "stages": ["a"],
              "lanes": [{"title": "l"}], "stickies": [{"lane": 0, "stage": 3}]}]}"#,
        );
        assert!(e.contains("grids[0].stickies[0].stage"), "{e}");
        let e = err(r#"{"format": 1, "name": "x", "elements": [{"kind": "ink", "x": 0, "y": 0}]}"#);
        assert!(e.contains("elements[0].kind"), "{e}");
        let e = err(
            r#"{"format": 1, "name": "x", "elements": [{"kind": "sticky", "x": 1e300, "y": 0}]}"#,
        );
        assert!(e.contains("elements[0].x"), "{e}");
        let e = err(
            r#"{"format": 1, "name": "x", "elements": [{"kind": "sticky", "x": 0, "y": 0, "fill": "red"}]}"#,
        );
        assert!(e.contains("elements[0].fill"), "{e}");
        assert!(
            load("nope")
                .unwrap_err()
                .to_string()
                .contains("journey-map")
        );
    }
}
