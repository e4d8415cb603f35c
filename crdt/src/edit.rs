//! Typed edits: each public method is one transaction with the board's local
//! origin, and (unless it continues a run of typing) one undo step.

use std::collections::HashSet;

use yrs::{
    Any, GetString, In, Map, MapPrelim, MapRef, Out, Text, TextPrelim, TextRef, Transact,
    TransactionMut,
};

use crate::board::{Board, ReadOnly};
use crate::element::{Body, End, encode_points};
use crate::geometry::Geometry;
use crate::grid::model::grid_fields;
use crate::schema::{Anchor, ArrowHead, Kind, ShapeKind, key, meta_key};
use crate::style::StylePatch;
use crate::undo::Step;
use crate::zorder;

/// Why an edit was refused. Nothing is written when an edit fails.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    #[error("{0}")]
    ReadOnly(ReadOnly),
    #[error("no element {0:?} on this board")]
    NotFound(String),
    #[error("element {id:?} is a {kind}, which {what}")]
    WrongKind {
        id: String,
        kind: Kind,
        what: &'static str,
    },
    #[error("invalid value for {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// Where an element goes in the stacking order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reorder {
    ToFront,
    ToBack,
    /// One step up: above the next element that is not being moved.
    Forward,
    /// One step down.
    Backward,
}

/// Which end of a connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSide {
    From,
    To,
}

impl EndSide {
    fn keys(self) -> [&'static str; 4] {
        match self {
            EndSide::From => [key::FROM_ID, key::FROM_ANCHOR, key::FROM_X, key::FROM_Y],
            EndSide::To => [key::TO_ID, key::TO_ANCHOR, key::TO_X, key::TO_Y],
        }
    }
}

/// Everything needed to create an element. Construct with one of the kind
/// functions, then adjust with the `with_*` setters.
#[derive(Debug, Clone, PartialEq)]
pub struct NewElement {
    pub body: Body,
    /// Geometry; ignored for connectors, whose ends define where they are.
    pub geom: Geometry,
    pub style: StylePatch,
    /// Frame to place the element in. Default: none.
    pub parent: Option<String>,
    /// Who made it (a display name), for sorting by author. Default: none.
    pub author: Option<String>,
}

impl NewElement {
    fn new(body: Body, geom: Geometry) -> NewElement {
        NewElement {
            body,
            geom,
            style: StylePatch::default(),
            parent: None,
            author: None,
        }
    }

    /// A sticky note, 200 x 200 by default.
    pub fn sticky(x: f64, y: f64, text: &str) -> NewElement {
        NewElement::new(
            Body::Sticky {
                text: text.to_owned(),
            },
            Geometry::new(x, y, 200.0, 200.0),
        )
    }

    pub fn shape(shape: ShapeKind, geom: Geometry) -> NewElement {
        NewElement::new(
            Body::Shape {
                shape,
                text: String::new(),
            },
            geom,
        )
    }

    pub fn text(x: f64, y: f64, text: &str) -> NewElement {
        NewElement::new(
            Body::Text {
                text: text.to_owned(),
            },
            Geometry::new(x, y, 200.0, 40.0),
        )
    }

    /// A pen stroke through `points` in world coordinates; stored relative to
    /// the stroke's bounding box.
    pub fn ink(points_in_world: &[[f32; 2]]) -> NewElement {
        let (mut min, mut max) = ([f32::MAX; 2], [f32::MIN; 2]);
        for p in points_in_world {
            for i in 0..2 {
                min[i] = min[i].min(p[i]);
                max[i] = max[i].max(p[i]);
            }
        }
        if points_in_world.is_empty() {
            (min, max) = ([0.0; 2], [0.0; 2]);
        }
        let points = points_in_world
            .iter()
            .map(|p| [p[0] - min[0], p[1] - min[1]])
            .collect();
        NewElement::new(
            Body::Ink { points },
            Geometry::new(
                f64::from(min[0]),
                f64::from(min[1]),
                f64::from(max[0] - min[0]),
                f64::from(max[1] - min[1]),
            ),
        )
    }

    pub fn connector(from: End, to: End) -> NewElement {
        NewElement::new(
            Body::Connector {
                from,
                to,
                arrow_start: ArrowHead::None,
                arrow_end: ArrowHead::Arrow,
            },
            Geometry::default(),
        )
    }

    pub fn frame(title: &str, geom: Geometry) -> NewElement {
        NewElement::new(
            Body::Frame {
                title: title.to_owned(),
            },
            geom,
        )
    }

    pub fn with_geometry(mut self, geom: Geometry) -> Self {
        self.geom = geom;
        self
    }

    pub fn with_text(mut self, new_text: &str) -> Self {
        match &mut self.body {
            Body::Sticky { text } | Body::Shape { text, .. } | Body::Text { text } => {
                *text = new_text.to_owned()
            }
            Body::Frame { title } => *title = new_text.to_owned(),
            Body::Grid(grid) => grid.title = new_text.to_owned(),
            Body::Ink { .. } | Body::Connector { .. } => {}
        }
        self
    }

    pub fn with_style(mut self, style: StylePatch) -> Self {
        self.style = style;
        self
    }

    pub fn with_parent(mut self, frame: &str) -> Self {
        self.parent = Some(frame.to_owned());
        self
    }

    pub fn with_author(mut self, author: &str) -> Self {
        self.author = Some(author.to_owned());
        self
    }

    /// The document fields of this element (all but `z`).
    pub(crate) fn fields(&self) -> Vec<(&'static str, In)> {
        let num = |v: f64| In::Any(Any::from(v));
        let string = |s: &str| In::Any(Any::from(s));
        let mut f = vec![(key::KIND, string(self.body.kind().as_str()))];
        if self.body.kind() != Kind::Connector {
            f.extend([
                (key::X, num(self.geom.x)),
                (key::Y, num(self.geom.y)),
                (key::W, num(self.geom.w)),
                (key::H, num(self.geom.h)),
                (key::ROT, num(self.geom.rot)),
            ]);
        }
        if let Some(p) = &self.parent {
            f.push((key::PARENT, string(p)));
        }
        if let Some(a) = &self.author {
            f.push((key::AUTHOR, string(a)));
        }
        f.extend(style_fields(&self.style));
        match &self.body {
            Body::Sticky { text } | Body::Text { text } | Body::Frame { title: text } => {
                f.push((key::TEXT, In::from(TextPrelim::new(text.as_str()))));
            }
            Body::Shape { shape, text } => {
                f.push((key::SHAPE, string(shape.as_str())));
                f.push((key::TEXT, In::from(TextPrelim::new(text.as_str()))));
            }
            Body::Ink { points } => {
                f.push((key::POINTS, In::Any(Any::from(encode_points(points)))));
            }
            Body::Connector {
                from,
                to,
                arrow_start,
                arrow_end,
            } => {
                for (side, end) in [(EndSide::From, from), (EndSide::To, to)] {
                    let [id, anchor, x, y] = side.keys();
                    if let Some(b) = &end.binding {
                        f.push((id, string(&b.id)));
                        f.push((anchor, string(b.anchor.as_str())));
                    }
                    f.push((x, num(end.point[0])));
                    f.push((y, num(end.point[1])));
                }
                f.push((key::ARROW_START, string(arrow_start.as_str())));
                f.push((key::ARROW_END, string(arrow_end.as_str())));
            }
            Body::Grid(grid) => {
                f.push((key::TEXT, In::from(TextPrelim::new(grid.title.as_str()))));
                f.extend(grid_fields(grid));
            }
        }
        f
    }
}

fn style_fields(style: &StylePatch) -> Vec<(&'static str, In)> {
    let paint = |p: Option<crate::schema::Color>| {
        In::Any(Any::from(
            p.map_or_else(|| "none".to_owned(), |c| c.to_string()),
        ))
    };
    let mut f = Vec::new();
    if let Some(fill) = style.fill {
        f.push((key::FILL, paint(fill)));
    }
    if let Some(stroke) = style.stroke {
        f.push((key::STROKE, paint(stroke)));
    }
    if let Some(w) = style.stroke_width {
        f.push((key::STROKE_WIDTH, In::Any(Any::from(w))));
    }
    if let Some(c) = style.text_color {
        f.push((key::TEXT_COLOR, In::Any(Any::from(c.to_string()))));
    }
    if let Some(s) = style.font_size {
        f.push((key::FONT_SIZE, In::Any(Any::from(s))));
    }
    if let Some(a) = style.align {
        f.push((key::ALIGN, In::Any(Any::from(a.as_str()))));
    }
    f
}

pub(crate) fn check_finite(field: &'static str, values: &[f64]) -> Result<(), EditError> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(EditError::Invalid {
            field,
            reason: "not a finite number".to_owned(),
        })
    }
}

pub(crate) fn get_number(map: &MapRef, txn: &TransactionMut, field: &str) -> f64 {
    match map.get(txn, field) {
        Some(Out::Any(Any::Number(n))) => {
            let v = crate::value::number_value(n);
            if v.is_finite() { v } else { 0.0 }
        }
        _ => 0.0,
    }
}

pub(crate) fn get_string(map: &MapRef, txn: &TransactionMut, field: &str) -> Option<String> {
    match map.get(txn, field) {
        Some(Out::Any(Any::String(s))) => Some(s.to_string()),
        _ => None,
    }
}

/// UTF-16 offset of the `chars`-th character of `s` (clamped to the end).
fn utf16_offset(s: &str, chars: usize) -> u32 {
    s.chars().take(chars).map(|c| c.len_utf16() as u32).sum()
}

impl Board {
    pub(crate) fn writable(&self) -> Result<(), EditError> {
        match &self.read_only {
            Some(r) => Err(EditError::ReadOnly(r.clone())),
            None => Ok(()),
        }
    }

    /// Checks the board is writable and starts a new undo step for an edit.
    pub(crate) fn begin_edit(&mut self) -> Result<(), EditError> {
        self.writable()?;
        self.undo.begin(Step::Edit, false);
        Ok(())
    }

    /// A transaction carrying this user's origin.
    pub(crate) fn txn(&self) -> TransactionMut<'_> {
        self.doc.transact_mut_with(self.origin.clone())
    }

    fn element_map(&self, txn: &TransactionMut, id: &str) -> Result<MapRef, EditError> {
        match self.elements.get(txn, id) {
            Some(Out::YMap(m)) => Ok(m),
            _ => Err(EditError::NotFound(id.to_owned())),
        }
    }

    fn kind_of(&self, txn: &TransactionMut, map: &MapRef) -> Option<Kind> {
        get_string(map, txn, key::KIND).and_then(|k| k.parse().ok())
    }

    pub(crate) fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:x}-{:x}", self.doc.client_id().get(), self.next_id)
    }

    pub(crate) fn top_z(&self) -> Option<String> {
        self.z_bounds.lock().ok().and_then(|b| b.top.clone())
    }

    /// Creates one element on top of the stack and returns its id.
    pub fn create(&mut self, new: NewElement) -> Result<String, EditError> {
        let mut ids = self.create_many(vec![new])?;
        Ok(ids.pop().unwrap_or_default())
    }

    /// Creates several elements in one transaction (one undo step), stacked in
    /// the order given, above everything else.
    pub fn create_many(&mut self, mut news: Vec<NewElement>) -> Result<Vec<String>, EditError> {
        for n in &mut news {
            check_finite(
                "geometry",
                &[n.geom.x, n.geom.y, n.geom.w, n.geom.h, n.geom.rot],
            )?;
            if let Some(frame) = &n.parent {
                self.check_frame(frame)?;
            }
            if let Body::Connector { from, to, .. } = &mut n.body {
                from.point = self.bind_point(from)?;
                to.point = self.bind_point(to)?;
            }
        }
        let ids: Vec<String> = news.iter().map(|_| self.fresh_id()).collect();
        self.insert_on_top(&ids, &news)?;
        Ok(ids)
    }

    /// Writes checked elements under `ids` above everything else, stacked
    /// in the order given, in one transaction.
    fn insert_on_top(&mut self, ids: &[String], news: &[NewElement]) -> Result<(), EditError> {
        let mut z = self.top_z();
        let elements = self.elements.clone();
        self.begin_edit()?;
        let mut txn = self.txn();
        for (id, new) in ids.iter().zip(news) {
            let key_z = zorder::key_between(z.as_deref(), None);
            let mut prelim: MapPrelim = new.fields().into_iter().collect();
            prelim.insert(key::Z.into(), In::Any(Any::from(key_z.as_str())));
            elements.insert(&mut txn, id.as_str(), prelim);
            z = Some(key_z);
        }
        Ok(())
    }

    /// Creates several elements that refer to each other, in one transaction
    /// (one undo step): a paste or a template. A connector end bound to, or
    /// a parent named, `@N` means the N-th element of `news` (its id is not
    /// known before it is created); other references must exist on the board.
    pub fn create_linked(&mut self, mut news: Vec<NewElement>) -> Result<Vec<String>, EditError> {
        let ids: Vec<String> = news.iter().map(|_| self.fresh_id()).collect();
        let local = |r: &str| -> Result<Option<usize>, EditError> {
            match r.strip_prefix('@') {
                None => Ok(None),
                Some(n) => match n.parse::<usize>() {
                    Ok(i) if i < ids.len() => Ok(Some(i)),
                    _ => Err(EditError::Invalid {
                        field: "reference",
                        reason: format!("{r:?} names no element of this batch"),
                    }),
                },
            }
        };
        let geoms: Vec<(Kind, Geometry)> = news.iter().map(|n| (n.body.kind(), n.geom)).collect();
        for n in &mut news {
            check_finite(
                "geometry",
                &[n.geom.x, n.geom.y, n.geom.w, n.geom.h, n.geom.rot],
            )?;
            if let Some(frame) = n.parent.clone() {
                match local(&frame)? {
                    Some(i) if geoms[i].0 == Kind::Frame => n.parent = Some(ids[i].clone()),
                    Some(_) => {
                        return Err(EditError::Invalid {
                            field: "parent",
                            reason: format!("{frame:?} is not a frame"),
                        });
                    }
                    None => self.check_frame(&frame)?,
                }
            }
            if let Body::Connector { from, to, .. } = &mut n.body {
                for end in [from, to] {
                    let target = end.binding.as_ref().map(|b| (local(&b.id), b.anchor));
                    match target {
                        Some((Ok(Some(i)), anchor)) if geoms[i].0 != Kind::Connector => {
                            end.point = geoms[i].1.anchor_point(anchor);
                            if let Some(b) = &mut end.binding {
                                b.id = ids[i].clone();
                            }
                        }
                        Some((Ok(Some(_)), _)) => {
                            return Err(EditError::Invalid {
                                field: "connector end",
                                reason: "a connector cannot hold a connector end".into(),
                            });
                        }
                        Some((Err(e), _)) => return Err(e),
                        Some((Ok(None), _)) | None => end.point = self.bind_point(end)?,
                    }
                }
            }
        }
        self.insert_on_top(&ids, &news)?;
        Ok(ids)
    }

    /// Creates a frame and puts `children` into it in one transaction (one
    /// undo step), as the frame tool does when drawn around elements. Frames
    /// among `children` stay top level.
    pub fn create_frame_around(
        &mut self,
        frame: NewElement,
        children: &[&str],
    ) -> Result<String, EditError> {
        if frame.body.kind() != Kind::Frame {
            return Err(EditError::WrongKind {
                id: String::new(),
                kind: frame.body.kind(),
                what: "is not a frame",
            });
        }
        {
            let txn = self.doc.transact();
            for id in children {
                if !matches!(self.elements.get(&txn, id), Some(Out::YMap(_))) {
                    return Err(EditError::NotFound((*id).to_owned()));
                }
            }
        }
        let id = self.fresh_id();
        let z = zorder::key_between(self.top_z().as_deref(), None);
        let mut prelim: MapPrelim = frame.fields().into_iter().collect();
        prelim.insert(key::Z.into(), In::Any(Any::from(z.as_str())));
        let elements = self.elements.clone();
        self.begin_edit()?;
        let mut txn = self.txn();
        elements.insert(&mut txn, id.as_str(), prelim);
        for child in children {
            let Some(Out::YMap(map)) = elements.get(&txn, child) else {
                continue;
            };
            if get_string(&map, &txn, key::KIND).as_deref() != Some(Kind::Frame.as_str()) {
                map.insert(&mut txn, key::PARENT, id.as_str());
            }
        }
        Ok(id)
    }

    fn check_frame(&self, frame: &str) -> Result<(), EditError> {
        match self.element(frame) {
            Some(f) if f.kind() == Kind::Frame => Ok(()),
            Some(f) => Err(EditError::WrongKind {
                id: frame.to_owned(),
                kind: f.kind(),
                what: "cannot contain elements",
            }),
            None => Err(EditError::NotFound(frame.to_owned())),
        }
    }

    /// Moves elements by `(dx, dy)` world units in one transaction: a drag of
    /// a selection. A moved frame carries its children; a connector's free ends
    /// move with it while bound ends stay on their elements.
    pub fn move_by(&mut self, ids: &[&str], dx: f64, dy: f64) -> Result<(), EditError> {
        check_finite("offset", &[dx, dy])?;
        let elements = self.elements.clone();
        self.begin_edit()?;
        let mut txn = self.txn();
        let mut frames = HashSet::new();
        let mut targets: Vec<(String, MapRef)> = Vec::new();
        for id in ids {
            let map = match elements.get(&txn, id) {
                Some(Out::YMap(m)) => m,
                _ => return Err(EditError::NotFound((*id).to_owned())),
            };
            if get_string(&map, &txn, key::KIND).as_deref() == Some(Kind::Frame.as_str()) {
                frames.insert((*id).to_owned());
            }
            targets.push(((*id).to_owned(), map));
        }
        let mut seen: HashSet<String> = targets.iter().map(|(id, _)| id.clone()).collect();
        for child in self.children_of(&txn, &frames) {
            if seen.insert(child.clone())
                && let Some(Out::YMap(m)) = elements.get(&txn, &child)
            {
                targets.push((child, m));
            }
        }
        // A moved grid (perhaps inside a moved frame) carries its cells' elements.
        let grids = self.grids_among(&txn, targets.iter().map(|(id, _)| id.as_str()));
        for member in self.grid_members(&txn, &grids) {
            if seen.insert(member.clone())
                && let Some(Out::YMap(m)) = elements.get(&txn, &member)
            {
                targets.push((member, m));
            }
        }
        for (_, map) in targets {
            if get_string(&map, &txn, key::KIND).as_deref() == Some(Kind::Connector.as_str()) {
                for side in [EndSide::From, EndSide::To] {
                    let [id, _, x, y] = side.keys();
                    if get_string(&map, &txn, id).is_none_or(|s| s.is_empty()) {
                        let (nx, ny) = (
                            get_number(&map, &txn, x) + dx,
                            get_number(&map, &txn, y) + dy,
                        );
                        map.insert(&mut txn, x, nx);
                        map.insert(&mut txn, y, ny);
                    }
                }
            } else {
                let (nx, ny) = (
                    get_number(&map, &txn, key::X) + dx,
                    get_number(&map, &txn, key::Y) + dy,
                );
                map.insert(&mut txn, key::X, nx);
                map.insert(&mut txn, key::Y, ny);
            }
        }
        Ok(())
    }

    /// Sets position and size (a resize gesture). An ink stroke's points are
    /// scaled with its box.
    pub fn set_geometry(&mut self, id: &str, geom: Geometry) -> Result<(), EditError> {
        check_finite("geometry", &[geom.x, geom.y, geom.w, geom.h, geom.rot])?;
        if geom.w < 0.0 || geom.h < 0.0 {
            return Err(EditError::Invalid {
                field: "geometry",
                reason: "negative size".to_owned(),
            });
        }
        let old = self
            .element(id)
            .ok_or_else(|| EditError::NotFound(id.to_owned()))?;
        if old.kind() == Kind::Connector {
            return Err(EditError::WrongKind {
                id: id.to_owned(),
                kind: Kind::Connector,
                what: "is placed by its ends",
            });
        }
        if old.kind() == Kind::Grid {
            return Err(EditError::WrongKind {
                id: id.to_owned(),
                kind: Kind::Grid,
                what: "is sized by its stages and lanes (resize_track) and moved with move_by",
            });
        }
        self.begin_edit()?;
        let mut txn = self.txn();
        let map = self.element_map(&txn, id)?;
        for (k, v) in [
            (key::X, geom.x),
            (key::Y, geom.y),
            (key::W, geom.w),
            (key::H, geom.h),
            (key::ROT, geom.rot),
        ] {
            map.insert(&mut txn, k, v);
        }
        if let Body::Ink { points } = &old.body {
            let sx = if old.geom.w > 0.0 {
                geom.w / old.geom.w
            } else {
                1.0
            };
            let sy = if old.geom.h > 0.0 {
                geom.h / old.geom.h
            } else {
                1.0
            };
            if sx != 1.0 || sy != 1.0 {
                let scaled: Vec<[f32; 2]> = points
                    .iter()
                    .map(|p| [(f64::from(p[0]) * sx) as f32, (f64::from(p[1]) * sy) as f32])
                    .collect();
                map.insert(&mut txn, key::POINTS, Any::from(encode_points(&scaled)));
            }
        }
        Ok(())
    }

    /// Sets rotation in degrees, clockwise about the centre.
    pub fn rotate(&mut self, id: &str, degrees: f64) -> Result<(), EditError> {
        check_finite("rot", &[degrees])?;
        self.begin_edit()?;
        let mut txn = self.txn();
        let map = self.element_map(&txn, id)?;
        map.insert(&mut txn, key::ROT, degrees.rem_euclid(360.0));
        Ok(())
    }

    /// Changes style fields of several elements in one step.
    pub fn restyle(&mut self, ids: &[&str], patch: StylePatch) -> Result<(), EditError> {
        if let Some(w) = patch.stroke_width {
            check_finite("stroke_width", &[w])?;
        }
        if let Some(s) = patch.font_size {
            check_finite("font_size", &[s])?;
            if s <= 0.0 {
                return Err(EditError::Invalid {
                    field: "font_size",
                    reason: "must be positive".to_owned(),
                });
            }
        }
        self.begin_edit()?;
        let mut txn = self.txn();
        let maps = ids
            .iter()
            .map(|id| self.element_map(&txn, id))
            .collect::<Result<Vec<_>, _>>()?;
        for map in maps {
            for (k, v) in style_fields(&patch) {
                map.insert(&mut txn, k, v);
            }
        }
        Ok(())
    }

    /// Sets a shape element's outline.
    pub fn set_shape(&mut self, id: &str, shape: ShapeKind) -> Result<(), EditError> {
        self.begin_edit()?;
        let mut txn = self.txn();
        let map = self.element_map(&txn, id)?;
        match self.kind_of(&txn, &map) {
            Some(Kind::Shape) => {
                map.insert(&mut txn, key::SHAPE, shape.as_str());
                Ok(())
            }
            kind => Err(EditError::WrongKind {
                id: id.to_owned(),
                kind: kind.unwrap_or(Kind::Shape),
                what: "has no outline to choose",
            }),
        }
    }

    /// Sets the arrow heads of a connector.
    pub fn set_arrows(
        &mut self,
        id: &str,
        start: ArrowHead,
        end: ArrowHead,
    ) -> Result<(), EditError> {
        self.begin_edit()?;
        let mut txn = self.txn();
        let map = self.element_map(&txn, id)?;
        map.insert(&mut txn, key::ARROW_START, start.as_str());
        map.insert(&mut txn, key::ARROW_END, end.as_str());
        Ok(())
    }

    /// The element's Y.Text, created (from a plain string if a foreign client
    /// wrote one) when missing.
    fn text_ref(&self, txn: &mut TransactionMut, id: &str) -> Result<TextRef, EditError> {
        let map = self.element_map(txn, id)?;
        match self.kind_of(txn, &map) {
            Some(Kind::Ink | Kind::Connector) | None => {
                return Err(EditError::WrongKind {
                    id: id.to_owned(),
                    kind: self.kind_of(txn, &map).unwrap_or(Kind::Ink),
                    what: "holds no text",
                });
            }
            _ => {}
        }
        match map.get(txn, key::TEXT) {
            Some(Out::YText(t)) => Ok(t),
            Some(Out::Any(Any::String(s))) => {
                Ok(map.insert(txn, key::TEXT, TextPrelim::new(s.as_ref())))
            }
            _ => Ok(map.insert(txn, key::TEXT, TextPrelim::new(""))),
        }
    }

    /// Inserts `s` at character index `at` (clamped) of the element's text, as
    /// a character-level Y.Text change so concurrent typing interleaves. Typing
    /// within a word joins the previous undo step.
    pub fn insert_text(&mut self, id: &str, at: usize, s: &str) -> Result<(), EditError> {
        self.writable()?;
        let joins_word = !s.starts_with(char::is_whitespace);
        self.undo
            .begin(Step::Typing { id: id.to_owned() }, joins_word);
        let mut txn = self.txn();
        let text = self.text_ref(&mut txn, id)?;
        let current = text.get_string(&txn);
        text.insert(&mut txn, utf16_offset(&current, at), s);
        Ok(())
    }

    /// Deletes `len` characters from character index `at` (both clamped).
    pub fn delete_text(&mut self, id: &str, at: usize, len: usize) -> Result<(), EditError> {
        self.writable()?;
        self.undo.begin(Step::Erasing { id: id.to_owned() }, false);
        let mut txn = self.txn();
        let text = self.text_ref(&mut txn, id)?;
        let current = text.get_string(&txn);
        let start = utf16_offset(&current, at);
        let end = utf16_offset(&current, at.saturating_add(len));
        if end > start {
            text.remove_range(&mut txn, start, end - start);
        }
        Ok(())
    }

    /// Replaces the whole text with the shortest change (common prefix and
    /// suffix kept), so concurrent edits elsewhere in the text survive.
    pub fn set_text(&mut self, id: &str, new: &str) -> Result<(), EditError> {
        self.begin_edit()?;
        let mut txn = self.txn();
        let text = self.text_ref(&mut txn, id)?;
        let old = text.get_string(&txn);
        let prefix: usize = old
            .chars()
            .zip(new.chars())
            .take_while(|(a, b)| a == b)
            .count();
        let (old_rest, new_rest): (Vec<char>, Vec<char>) = (
            old.chars().skip(prefix).collect(),
            new.chars().skip(prefix).collect(),
        );
        let suffix = old_rest
            .iter()
            .rev()
            .zip(new_rest.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let removed: u32 = old_rest[..old_rest.len() - suffix]
            .iter()
            .map(|c| c.len_utf16() as u32)
            .sum();
        let inserted: String = new_rest[..new_rest.len() - suffix].iter().collect();
        let start = utf16_offset(&old, prefix);
        if removed > 0 {
            text.remove_range(&mut txn, start, removed);
        }
        if !inserted.is_empty() {
            text.insert(&mut txn, start, &inserted);
        }
        Ok(())
    }

    /// The point to store for a connector end: the anchor's current position
    /// for a bound end (its last known point, should the element go), the
    /// given point for a free one.
    fn bind_point(&self, end: &End) -> Result<[f64; 2], EditError> {
        check_finite("point", &end.point)?;
        let Some(b) = &end.binding else {
            return Ok(end.point);
        };
        let target = self
            .element(&b.id)
            .ok_or_else(|| EditError::NotFound(b.id.clone()))?;
        if target.kind() == Kind::Connector {
            return Err(EditError::WrongKind {
                id: b.id.clone(),
                kind: Kind::Connector,
                what: "cannot hold a connector end",
            });
        }
        Ok(target.geom.anchor_point(b.anchor))
    }

    /// Binds or frees one end of a connector. Binding records the anchor's
    /// current position as the last known point.
    pub fn set_end(&mut self, id: &str, side: EndSide, end: End) -> Result<(), EditError> {
        let point = self.bind_point(&end)?;
        self.begin_edit()?;
        let mut txn = self.txn();
        let map = self.element_map(&txn, id)?;
        if self.kind_of(&txn, &map) != Some(Kind::Connector) {
            return Err(EditError::WrongKind {
                id: id.to_owned(),
                kind: self.kind_of(&txn, &map).unwrap_or(Kind::Shape),
                what: "has no ends",
            });
        }
        let [k_id, k_anchor, k_x, k_y] = side.keys();
        match &end.binding {
            Some(b) => {
                map.insert(&mut txn, k_id, b.id.as_str());
                map.insert(&mut txn, k_anchor, b.anchor.as_str());
            }
            None => {
                map.remove(&mut txn, k_id);
                map.remove(&mut txn, k_anchor);
            }
        }
        map.insert(&mut txn, k_x, point[0]);
        map.insert(&mut txn, k_y, point[1]);
        Ok(())
    }

    /// Puts elements into a frame, or takes them out (`None`). Frames are top
    /// level and cannot be put into frames.
    pub fn set_parent(&mut self, ids: &[&str], frame: Option<&str>) -> Result<(), EditError> {
        if let Some(f) = frame {
            self.check_frame(f)?;
        }
        self.begin_edit()?;
        let mut txn = self.txn();
        let maps = ids
            .iter()
            .map(|id| self.element_map(&txn, id))
            .collect::<Result<Vec<_>, _>>()?;
        for (id, map) in ids.iter().zip(maps) {
            if self.kind_of(&txn, &map) == Some(Kind::Frame) && frame.is_some() {
                return Err(EditError::WrongKind {
                    id: (*id).to_owned(),
                    kind: Kind::Frame,
                    what: "cannot be put inside another frame",
                });
            }
            match frame {
                Some(f) => {
                    map.insert(&mut txn, key::PARENT, f);
                }
                None => {
                    map.remove(&mut txn, key::PARENT);
                }
            }
        }
        Ok(())
    }

    /// Deletes elements. Deleting a frame deletes the elements inside it.
    /// Connectors bound to a deleted element stay, their end left at the
    /// anchor's last position.
    pub fn delete(&mut self, ids: &[&str]) -> Result<(), EditError> {
        let elements = self.elements.clone();
        self.begin_edit()?;
        let mut txn = self.txn();
        let mut doomed: HashSet<String> = HashSet::new();
        let mut frames = HashSet::new();
        for id in ids {
            let map = match elements.get(&txn, id) {
                Some(Out::YMap(m)) => m,
                _ => return Err(EditError::NotFound((*id).to_owned())),
            };
            if get_string(&map, &txn, key::KIND).as_deref() == Some(Kind::Frame.as_str()) {
                frames.insert((*id).to_owned());
            }
            doomed.insert((*id).to_owned());
        }
        doomed.extend(self.children_of(&txn, &frames));
        // Deleting a grid deletes the elements in its cells, as for frames.
        let grids = self.grids_among(&txn, doomed.iter().map(String::as_str));
        doomed.extend(self.grid_members(&txn, &grids));
        // Connector ends bound to a doomed element keep its anchor's position
        // as their last known point. Only the binding fields are read, so a
        // delete on a large board costs one pass over raw maps, not a snapshot.
        let mut bound: Vec<(MapRef, EndSide, String, Anchor)> = Vec::new();
        for (id, value) in elements.iter(&txn) {
            let Out::YMap(map) = value else { continue };
            if doomed.contains(id)
                || get_string(&map, &txn, key::KIND).as_deref() != Some(Kind::Connector.as_str())
            {
                continue;
            }
            for side in [EndSide::From, EndSide::To] {
                let [k_id, k_anchor, _, _] = side.keys();
                if let Some(target) = get_string(&map, &txn, k_id)
                    && doomed.contains(&target)
                {
                    let anchor = get_string(&map, &txn, k_anchor)
                        .and_then(|a| a.parse().ok())
                        .unwrap_or(Anchor::Center);
                    bound.push((map.clone(), side, target, anchor));
                }
            }
        }
        for (map, side, target, anchor) in bound {
            let Some(target) = self.read_one(&txn, &target) else {
                continue;
            };
            let [_, _, kx, ky] = side.keys();
            let p = target.geom.anchor_point(anchor);
            map.insert(&mut txn, kx, p[0]);
            map.insert(&mut txn, ky, p[1]);
        }
        let mut doomed: Vec<String> = doomed.into_iter().collect();
        doomed.sort();
        for id in doomed {
            elements.remove(&mut txn, &id);
        }
        Ok(())
    }

    /// Changes stacking order. Only the moved elements get new `z` keys.
    pub fn reorder(&mut self, ids: &[&str], how: Reorder) -> Result<(), EditError> {
        self.writable()?;
        let order = self.z_order();
        let moving: HashSet<&str> = ids.iter().copied().collect();
        for id in ids {
            if !order.iter().any(|o| o == id) {
                return Err(EditError::NotFound((*id).to_owned()));
            }
        }
        let new_order: Vec<String> = match how {
            Reorder::ToFront | Reorder::ToBack => {
                let (moved, rest): (Vec<String>, Vec<String>) = order
                    .iter()
                    .cloned()
                    .partition(|id| moving.contains(id.as_str()));
                if how == Reorder::ToFront {
                    rest.into_iter().chain(moved).collect()
                } else {
                    moved.into_iter().chain(rest).collect()
                }
            }
            Reorder::Forward => step_forward(&order, &moving),
            Reorder::Backward => {
                let reversed: Vec<String> = order.iter().rev().cloned().collect();
                let mut stepped = step_forward(&reversed, &moving);
                stepped.reverse();
                stepped
            }
        };
        // Current keys of the elements that stay put.
        let txn = self.doc.transact();
        let z_of = |id: &str| -> String {
            match self.elements.get(&txn, id) {
                Some(Out::YMap(m)) => match m.get(&txn, key::Z) {
                    Some(Out::Any(Any::String(s))) => s.to_string(),
                    _ => String::new(),
                },
                _ => String::new(),
            }
        };
        let mut new_keys: Vec<(String, String)> = Vec::new();
        let mut prev: Option<String> = None;
        for (i, id) in new_order.iter().enumerate() {
            if !moving.contains(id.as_str()) {
                prev = Some(z_of(id));
                continue;
            }
            let next_fixed = new_order[i + 1..]
                .iter()
                .find(|n| !moving.contains(n.as_str()))
                .map(|n| z_of(n));
            let k = zorder::key_between(prev.as_deref(), next_fixed.as_deref());
            new_keys.push((id.clone(), k.clone()));
            prev = Some(k);
        }
        drop(txn);
        self.begin_edit()?;
        let mut txn = self.txn();
        for (id, k) in new_keys {
            let map = self.element_map(&txn, &id)?;
            map.insert(&mut txn, key::Z, k);
        }
        Ok(())
    }

    pub fn set_title(&mut self, title: &str) -> Result<(), EditError> {
        let meta = self.meta.clone();
        self.begin_edit()?;
        let mut txn = self.txn();
        meta.insert(&mut txn, meta_key::TITLE, title);
        Ok(())
    }

    pub fn set_template(&mut self, template: &str) -> Result<(), EditError> {
        let meta = self.meta.clone();
        self.begin_edit()?;
        let mut txn = self.txn();
        meta.insert(&mut txn, meta_key::TEMPLATE, template);
        Ok(())
    }

    /// Ends the current undo step (a text editor losing focus, say).
    pub fn end_undo_step(&mut self) {
        self.undo.end();
    }

    /// Reverts this user's last step. Collaborators' edits are never reverted.
    pub fn undo(&mut self) -> bool {
        self.read_only.is_none() && self.undo.undo()
    }

    pub fn redo(&mut self) -> bool {
        self.read_only.is_none() && self.undo.redo()
    }

    pub fn can_undo(&self) -> bool {
        self.undo.can_undo()
    }

    pub fn can_redo(&self) -> bool {
        self.undo.can_redo()
    }
}

/// Moves each selected id above the next unselected one, keeping the relative
/// order of the selection.
fn step_forward(order: &[String], moving: &HashSet<&str>) -> Vec<String> {
    let mut out: Vec<String> = order.to_vec();
    let mut i = out.len();
    // Walk from the top down so a block of selected ids moves together.
    while i > 0 {
        i -= 1;
        if !moving.contains(out[i].as_str()) {
            continue;
        }
        // Find the extent of this selected run.
        let mut start = i;
        while start > 0 && moving.contains(out[start - 1].as_str()) {
            start -= 1;
        }
        if i + 1 < out.len() {
            let above = out.remove(i + 1);
            out.insert(start, above);
        }
        i = start;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_forward_moves_blocks() {
        let order: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let sel: HashSet<&str> = ["b"].into_iter().collect();
        assert_eq!(step_forward(&order, &sel), ["a", "c", "b", "d"]);
        let sel: HashSet<&str> = ["a", "b"].into_iter().collect();
        assert_eq!(step_forward(&order, &sel), ["c", "a", "b", "d"]);
        let sel: HashSet<&str> = ["d"].into_iter().collect();
        assert_eq!(step_forward(&order, &sel), ["a", "b", "c", "d"]);
    }
}
