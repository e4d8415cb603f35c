//! Tools: pure state machines from input events to board edits.
//!
//! Events come in already in world coordinates ([`Input`]); edits go out as
//! calls on [`Board`], one transaction per gesture. While a gesture is in
//! progress (a drag, a resize, a stroke), its geometry lives here as a
//! [`Preview`] for the renderer (and presence) to draw; the document takes
//! only the end state, at pointer up. Hit tests go through the [`Scene`].
//!
//! Shortcuts follow Miro: V select, N sticky note, S shape, T text, P pen,
//! L connector, F frame; Delete/Backspace removes the selection; Ctrl+Z
//! undoes, Ctrl+Shift+Z (or Ctrl+Y) redoes (Command on macOS); Escape cancels
//! a gesture, then clears the selection. The app must not route keys here
//! while a text editor has focus.

mod input;
mod preview;
pub mod select;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use touchpoint_crdt::{
    Anchor, Board, Body, EditError, End, EndSide, Geometry, Kind, NewElement, ShapeKind,
};

pub use input::{Input, Key, Modifiers};
pub use preview::Preview;
use select::Corner;
use touchpoint_scene::geom::{OrientedRect, Rect, Vec2};
use touchpoint_scene::scene::Scene;

/// How close (screen pixels) the pointer must be to pick an element, a line
/// or an outline.
pub const HIT_TOLERANCE_PX: f64 = 4.0;
/// How close (screen pixels) the pointer must be to a resize handle.
pub const HANDLE_RADIUS_PX: f64 = 8.0;
/// How far (screen pixels) the rotation handle sits above the top edge of
/// the selected element.
pub const ROTATE_HANDLE_OFFSET_PX: f64 = 28.0;
/// With Shift held, rotation snaps to multiples of this many degrees.
pub const ROTATE_SNAP_DEGREES: f64 = 15.0;
/// How far (screen pixels) the pointer must move before a press is a drag.
pub const DRAG_THRESHOLD_PX: f64 = 3.0;
/// Side of a new sticky note, world units.
pub const STICKY_SIZE: f64 = 200.0;
/// Side of a shape placed with a click, world units.
pub const DEFAULT_SHAPE_SIZE: f64 = 100.0;
/// Size of a frame placed with a click, world units (16:9).
pub const DEFAULT_FRAME_SIZE: Vec2 = Vec2::new(800.0, 450.0);
/// Smallest width or height a resize leaves, world units.
pub const MIN_SIZE: f64 = 1.0;
/// Title of a new frame.
pub const NEW_FRAME_TITLE: &str = "Frame";

/// The tool that handles pointer input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    Select,
    Sticky,
    /// Drag out a shape of this outline.
    Shape(ShapeKind),
    Text,
    Pen,
    Connector,
    Frame,
}

/// What a tool works on for one event.
pub struct ToolContext<'a> {
    pub board: &'a mut Board,
    /// The scene of `board` as of the last applied change event.
    pub scene: &'a Scene,
    /// World units per screen pixel ([`touchpoint_scene::camera::Camera::units_per_pixel`]),
    /// so that tolerances stay the same on screen at every zoom.
    pub units_per_pixel: f64,
}

impl ToolContext<'_> {
    fn px(&self, pixels: f64) -> f64 {
        pixels * self.units_per_pixel
    }
}

/// What handling one event did besides editing the board.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The board was edited (or undone/redone).
    pub edited: bool,
    /// Open the text editor on this element (a new sticky or text box, or a
    /// double click on an element that holds text).
    pub edit_text: Option<String>,
}

impl Response {
    fn edited() -> Response {
        Response {
            edited: true,
            edit_text: None,
        }
    }
}

/// A gesture in progress.
#[derive(Debug, Clone, PartialEq)]
enum Gesture {
    Idle,
    /// Pressed on a (now) selected element: a click, or a move once dragged.
    Move {
        start: Vec2,
        current: Vec2,
        ids: Vec<String>,
        dragging: bool,
    },
    Resize {
        id: String,
        corner: Corner,
        /// From the press to the exact corner: the corner keeps this offset
        /// from the pointer, so grabbing a handle off-centre does not jump.
        grab: Vec2,
        original: Geometry,
        geom: Geometry,
    },
    /// Dragging one end of a selected connector to another element (it
    /// binds to the nearest anchor) or to empty canvas (it comes free).
    MoveEnd {
        id: String,
        side: EndSide,
        /// The other end, which stays where it is.
        fixed: Vec2,
        /// The other end's element, which this end must not bind to.
        fixed_id: Option<String>,
        start: Vec2,
        current: Vec2,
    },
    /// Dragging the rotation handle: the element turns about its centre.
    Rotate {
        id: String,
        original: Geometry,
        geom: Geometry,
    },
    Marquee {
        start: Vec2,
        current: Vec2,
        /// The selection the marquee adds to (Shift), else empty.
        base: BTreeSet<String>,
    },
    /// Sticky, shape, text or frame tool: a click places, a drag spans a box.
    Place {
        start: Vec2,
        current: Vec2,
        dragging: bool,
        square: bool,
    },
    Ink {
        points: Vec<Vec2>,
    },
    Connect {
        /// Where the press was.
        start: Vec2,
        from: End,
        /// Where the `from` end sits (its anchor when bound).
        from_pos: Vec2,
        current: Vec2,
    },
}

/// The tool box: active tool, selection and gesture state.
#[derive(Debug, Clone)]
pub struct Tools {
    tool: ToolKind,
    /// The outline the S shortcut picks: the last one chosen.
    shape: ShapeKind,
    selection: BTreeSet<String>,
    gesture: Gesture,
}

impl Default for Tools {
    fn default() -> Self {
        Tools::new()
    }
}

impl Tools {
    pub fn new() -> Tools {
        Tools {
            tool: ToolKind::Select,
            shape: ShapeKind::Rect,
            selection: BTreeSet::new(),
            gesture: Gesture::Idle,
        }
    }

    pub fn tool(&self) -> ToolKind {
        self.tool
    }

    /// Switches tool, dropping any gesture in progress.
    pub fn set_tool(&mut self, tool: ToolKind) {
        if let ToolKind::Shape(s) = tool {
            self.shape = s;
        }
        self.tool = tool;
        self.gesture = Gesture::Idle;
    }

    pub fn selection(&self) -> &BTreeSet<String> {
        &self.selection
    }

    pub fn set_selection(&mut self, ids: impl IntoIterator<Item = String>) {
        self.selection = ids.into_iter().collect();
    }

    /// Drops selected ids that left the scene (deleted by a collaborator, or
    /// by undo). Call after applying change events.
    pub fn prune_selection(&mut self, scene: &Scene) {
        self.selection.retain(|id| scene.get(id).is_some());
    }

    /// Whether no gesture is in progress.
    pub fn is_idle(&self) -> bool {
        self.gesture == Gesture::Idle
    }

    /// Drops the gesture in progress without editing anything. A marquee
    /// gives back the selection it started from.
    pub fn cancel(&mut self) {
        if let Gesture::Marquee { base, .. } = std::mem::replace(&mut self.gesture, Gesture::Idle) {
            self.selection = base;
        }
    }

    /// The gesture in progress, for the renderer to draw.
    pub fn preview(&self) -> Option<Preview> {
        match &self.gesture {
            Gesture::Idle => None,
            Gesture::Move {
                start,
                current,
                ids,
                dragging,
            } => dragging.then(|| Preview::Move {
                ids: ids.clone(),
                offset: *current - *start,
            }),
            Gesture::Resize { id, geom, .. } | Gesture::Rotate { id, geom, .. } => {
                Some(Preview::Resize {
                    id: id.clone(),
                    geom: *geom,
                })
            }
            Gesture::Marquee { start, current, .. } => Some(Preview::Marquee {
                rect: Rect::from_corners(*start, *current),
            }),
            Gesture::Place {
                start,
                current,
                dragging,
                square,
            } => {
                let kind = match self.tool {
                    ToolKind::Frame => Kind::Frame,
                    ToolKind::Text => Kind::Text,
                    ToolKind::Shape(_) => Kind::Shape,
                    _ => return None,
                };
                dragging.then(|| Preview::Create {
                    kind,
                    shape: self.shape,
                    geom: box_geometry(*start, *current, *square),
                })
            }
            Gesture::Ink { points } => Some(Preview::Ink {
                points: points.clone(),
            }),
            Gesture::Connect {
                from_pos, current, ..
            } => Some(Preview::Connector {
                from: *from_pos,
                to: *current,
            }),
            Gesture::MoveEnd {
                side,
                fixed,
                current,
                ..
            } => Some(match side {
                EndSide::From => Preview::Connector {
                    from: *current,
                    to: *fixed,
                },
                EndSide::To => Preview::Connector {
                    from: *fixed,
                    to: *current,
                },
            }),
        }
    }

    /// Handles one event. An edit the board refuses (a read-only board, an
    /// element deleted meanwhile) ends the gesture and is returned; nothing
    /// is written then.
    pub fn handle(
        &mut self,
        input: &Input,
        ctx: &mut ToolContext<'_>,
    ) -> Result<Response, EditError> {
        match *input {
            Input::Key { key, modifiers } => self.key(key, modifiers, ctx),
            Input::PointerDown { pos, modifiers } => {
                self.pointer_down(pos, modifiers, ctx);
                Ok(Response::default())
            }
            Input::PointerMove { pos, modifiers } => {
                self.pointer_move(pos, modifiers, ctx);
                Ok(Response::default())
            }
            Input::PointerUp { pos, modifiers } => self.pointer_up(pos, modifiers, ctx),
            Input::DoubleClick { pos, .. } => Ok(self.double_click(pos, ctx)),
        }
    }

    fn key(
        &mut self,
        key: Key,
        m: Modifiers,
        ctx: &mut ToolContext<'_>,
    ) -> Result<Response, EditError> {
        let letter = match key {
            Key::Char(c) => Some(c.to_ascii_lowercase()),
            _ => None,
        };
        if m.command() && !m.alt {
            let edited = match letter {
                Some('z') if m.shift => self.redo(ctx),
                Some('z') => self.undo(ctx),
                Some('y') => self.redo(ctx),
                Some('a') => {
                    self.cancel();
                    self.selection = ctx.scene.iter().map(|e| e.id().to_owned()).collect();
                    false
                }
                _ => false,
            };
            return Ok(Response {
                edited,
                edit_text: None,
            });
        }
        match key {
            Key::Delete | Key::Backspace if self.is_idle() => self.delete_selection(ctx),
            Key::Escape => {
                if self.is_idle() {
                    self.selection.clear();
                    self.tool = ToolKind::Select;
                } else {
                    self.cancel();
                }
                Ok(Response::default())
            }
            Key::Char(_) if m.is_plain() => {
                let tool = match letter {
                    Some('v') => Some(ToolKind::Select),
                    Some('n') => Some(ToolKind::Sticky),
                    Some('s') => Some(ToolKind::Shape(self.shape)),
                    Some('t') => Some(ToolKind::Text),
                    Some('p') => Some(ToolKind::Pen),
                    Some('l') => Some(ToolKind::Connector),
                    Some('f') => Some(ToolKind::Frame),
                    _ => None,
                };
                if let Some(t) = tool {
                    self.set_tool(t);
                }
                Ok(Response::default())
            }
            Key::Enter if self.is_idle() && self.selection.len() == 1 => {
                let id = self.selection.iter().next().cloned();
                let has_text = id
                    .as_deref()
                    .and_then(|id| ctx.scene.get(id))
                    .is_some_and(|e| e.element.body.text().is_some());
                Ok(Response {
                    edited: false,
                    edit_text: id.filter(|_| has_text),
                })
            }
            _ => Ok(Response::default()),
        }
    }

    fn undo(&mut self, ctx: &mut ToolContext<'_>) -> bool {
        self.cancel();
        ctx.board.undo()
    }

    fn redo(&mut self, ctx: &mut ToolContext<'_>) -> bool {
        self.cancel();
        ctx.board.redo()
    }

    fn delete_selection(&mut self, ctx: &mut ToolContext<'_>) -> Result<Response, EditError> {
        let ids: Vec<&str> = self
            .selection
            .iter()
            .map(String::as_str)
            .filter(|id| ctx.board.element(id).is_some())
            .collect();
        if ids.is_empty() {
            self.selection.clear();
            return Ok(Response::default());
        }
        let result = ctx.board.delete(&ids);
        self.selection.clear();
        result.map(|()| Response::edited())
    }

    fn pointer_down(&mut self, pos: Vec2, m: Modifiers, ctx: &mut ToolContext<'_>) {
        self.gesture = match self.tool {
            ToolKind::Select => self.select_down(pos, m, ctx),
            ToolKind::Sticky | ToolKind::Shape(_) | ToolKind::Text | ToolKind::Frame => {
                Gesture::Place {
                    start: pos,
                    current: pos,
                    dragging: false,
                    square: m.shift,
                }
            }
            ToolKind::Pen => Gesture::Ink { points: vec![pos] },
            ToolKind::Connector => {
                let from = match connectable_at(ctx, pos, None) {
                    Some((id, anchor)) => End::bound(id, anchor),
                    None => End::free(pos.x, pos.y),
                };
                let from_pos = end_position(ctx, &from, pos);
                Gesture::Connect {
                    start: pos,
                    from,
                    from_pos,
                    current: pos,
                }
            }
        };
    }

    fn select_down(&mut self, pos: Vec2, m: Modifiers, ctx: &ToolContext<'_>) -> Gesture {
        // Handles sit on top of everything.
        if let Some(g) = self.connector_end_at(pos, ctx) {
            return g;
        }
        if self.selection.len() == 1
            && let Some(id) = self.selection.iter().next()
            && let Some(el) = ctx.scene.get(id)
            && select::resizable(el)
            && select::rotate_handle(&el.rect(), ctx.px(ROTATE_HANDLE_OFFSET_PX)).distance(pos)
                <= ctx.px(HANDLE_RADIUS_PX)
        {
            return Gesture::Rotate {
                id: id.clone(),
                original: el.element.geom,
                geom: el.element.geom,
            };
        }
        if self.selection.len() == 1
            && let Some(id) = self.selection.iter().next()
            && let Some(el) = ctx.scene.get(id)
            && select::resizable(el)
            && let Some(corner) = select::handle_at(&el.rect(), pos, ctx.px(HANDLE_RADIUS_PX))
        {
            return Gesture::Resize {
                id: id.clone(),
                corner,
                grab: corner.position(&el.rect()) - pos,
                original: el.element.geom,
                geom: el.element.geom,
            };
        }
        match ctx.scene.topmost_at(pos, ctx.px(HIT_TOLERANCE_PX)) {
            Some(id) if m.shift => {
                if !self.selection.remove(id) {
                    self.selection.insert(id.to_owned());
                }
                Gesture::Idle
            }
            Some(id) => {
                if !self.selection.contains(id) {
                    self.selection = BTreeSet::from([id.to_owned()]);
                }
                Gesture::Move {
                    start: pos,
                    current: pos,
                    ids: self.selection.iter().cloned().collect(),
                    dragging: false,
                }
            }
            None => {
                let base = if m.shift {
                    self.selection.clone()
                } else {
                    BTreeSet::new()
                };
                self.selection = base.clone();
                Gesture::Marquee {
                    start: pos,
                    current: pos,
                    base,
                }
            }
        }
    }

    fn pointer_move(&mut self, pos: Vec2, m: Modifiers, ctx: &ToolContext<'_>) {
        let threshold = ctx.px(DRAG_THRESHOLD_PX);
        match &mut self.gesture {
            Gesture::Idle => {}
            Gesture::Move {
                start,
                current,
                dragging,
                ..
            }
            | Gesture::Place {
                start,
                current,
                dragging,
                ..
            } => {
                *current = pos;
                *dragging |= start.distance(pos) > threshold;
                if let Gesture::Place { square, .. } = &mut self.gesture {
                    *square = m.shift;
                }
            }
            Gesture::Resize {
                corner,
                grab,
                original,
                geom,
                ..
            } => {
                *geom = select::resized(original, *corner, pos + *grab, m.shift, MIN_SIZE);
            }
            Gesture::Rotate { original, geom, .. } => {
                geom.rot = select::rotation_towards(original, pos, m.shift, ROTATE_SNAP_DEGREES);
            }
            Gesture::Marquee {
                start,
                current,
                base,
            } => {
                *current = pos;
                // Live: the renderer highlights what the marquee would pick.
                let rect = Rect::from_corners(*start, pos);
                let mut picked = base.clone();
                picked.extend(select::marquee_hits(ctx.scene, &rect));
                self.selection = picked;
            }
            Gesture::Ink { points } => {
                // Skip points closer than half a pixel: they add nothing.
                let step = ctx.px(0.5);
                if points.last().is_none_or(|p| p.distance(pos) >= step) {
                    points.push(pos);
                }
            }
            Gesture::Connect { current, .. } | Gesture::MoveEnd { current, .. } => *current = pos,
        }
    }

    fn pointer_up(
        &mut self,
        pos: Vec2,
        m: Modifiers,
        ctx: &mut ToolContext<'_>,
    ) -> Result<Response, EditError> {
        self.pointer_move(pos, m, ctx);
        let gesture = std::mem::replace(&mut self.gesture, Gesture::Idle);
        match gesture {
            Gesture::Idle => Ok(Response::default()),
            Gesture::Move {
                start,
                current,
                ids,
                dragging,
            } => {
                if !dragging {
                    return Ok(Response::default());
                }
                let d = current - start;
                let ids: Vec<&str> = ids
                    .iter()
                    .map(String::as_str)
                    .filter(|id| ctx.board.element(id).is_some())
                    .collect();
                if ids.is_empty() {
                    return Ok(Response::default());
                }
                // Stickies join the cell they are dropped in (or leave
                // their grid), in the same transaction as the move.
                ctx.board.move_and_drop(&ids, d.x, d.y)?;
                Ok(Response::edited())
            }
            Gesture::Resize {
                id, original, geom, ..
            }
            | Gesture::Rotate {
                id, original, geom, ..
            } => {
                if geom == original {
                    return Ok(Response::default());
                }
                ctx.board.set_geometry(&id, geom)?;
                Ok(Response::edited())
            }
            Gesture::Marquee { .. } => Ok(Response::default()),
            Gesture::Place {
                start,
                current,
                dragging,
                square,
            } => self.place(start, current, dragging, square, ctx),
            Gesture::Ink { points } => {
                let points: Vec<[f32; 2]> =
                    points.iter().map(|p| [p.x as f32, p.y as f32]).collect();
                ctx.board.create(NewElement::ink(&points))?;
                Ok(Response::edited())
            }
            Gesture::Connect {
                start,
                from,
                current,
                ..
            } => {
                // A click (no drag) makes no connector.
                if start.distance(current) <= ctx.px(DRAG_THRESHOLD_PX) {
                    return Ok(Response::default());
                }
                let from_id = from.binding.as_ref().map(|b| b.id.clone());
                let to = match connectable_at(ctx, current, from_id.as_deref()) {
                    Some((id, anchor)) => End::bound(id, anchor),
                    None => End::free(current.x, current.y),
                };
                let id = ctx.board.create(NewElement::connector(from, to))?;
                Ok(self.created(id, false))
            }
            Gesture::MoveEnd {
                id,
                side,
                fixed_id,
                start,
                current,
                ..
            } => {
                if start.distance(current) <= ctx.px(DRAG_THRESHOLD_PX) {
                    return Ok(Response::default());
                }
                let end = match connectable_at(ctx, current, fixed_id.as_deref()) {
                    Some((target, anchor)) if target != id => End::bound(target, anchor),
                    _ => End::free(current.x, current.y),
                };
                ctx.board.set_end(&id, side, end)?;
                Ok(Response::edited())
            }
        }
    }

    /// A press on an end of the one selected connector starts dragging it.
    fn connector_end_at(&self, pos: Vec2, ctx: &ToolContext<'_>) -> Option<Gesture> {
        if self.selection.len() != 1 {
            return None;
        }
        let id = self.selection.iter().next()?;
        let el = ctx.scene.get(id)?;
        let Body::Connector { from, to, .. } = &el.element.body else {
            return None;
        };
        let [a, b] = ctx.board.connector_points(&el.element)?;
        let (a, b) = (Vec2::from(a), Vec2::from(b));
        let radius = ctx.px(HANDLE_RADIUS_PX);
        let bound = |e: &End| e.binding.as_ref().map(|b| b.id.clone());
        let (side, fixed, fixed_id) = if pos.distance(a) <= radius {
            (EndSide::From, b, bound(to))
        } else if pos.distance(b) <= radius {
            (EndSide::To, a, bound(from))
        } else {
            return None;
        };
        Some(Gesture::MoveEnd {
            id: id.clone(),
            side,
            fixed,
            fixed_id,
            start: pos,
            current: pos,
        })
    }

    /// Ends a sticky, shape, text or frame gesture: creates the element.
    fn place(
        &mut self,
        start: Vec2,
        end: Vec2,
        dragging: bool,
        square: bool,
        ctx: &mut ToolContext<'_>,
    ) -> Result<Response, EditError> {
        let centred =
            |size: Vec2| Geometry::new(end.x - size.x / 2.0, end.y - size.y / 2.0, size.x, size.y);
        let spanned = dragging.then(|| box_geometry(start, end, square));
        match self.tool {
            ToolKind::Sticky => {
                let g = centred(Vec2::splat(STICKY_SIZE));
                let new = NewElement::sticky(g.x, g.y, "");
                // Placed in a grid's cell, the sticky belongs to it.
                let id = match ctx.board.cell_at([end.x, end.y]) {
                    Some(cell) => ctx.board.create_in_cell(new, &cell)?,
                    None => ctx.board.create(new)?,
                };
                Ok(self.created(id, true))
            }
            ToolKind::Shape(shape) => {
                let g = spanned.unwrap_or_else(|| centred(Vec2::splat(DEFAULT_SHAPE_SIZE)));
                let id = ctx.board.create(NewElement::shape(shape, g))?;
                Ok(self.created(id, false))
            }
            ToolKind::Text => {
                let new = NewElement::text(end.x, end.y, "");
                // A click puts the first line's middle at the pointer.
                let g = spanned.unwrap_or(Geometry {
                    y: end.y - new.geom.h / 2.0,
                    ..new.geom
                });
                let id = ctx.board.create(new.with_geometry(g))?;
                Ok(self.created(id, true))
            }
            ToolKind::Frame => {
                let g = spanned.unwrap_or_else(|| centred(DEFAULT_FRAME_SIZE));
                // Adopt what lies wholly inside, in the same transaction.
                let inside = contents_of(ctx.scene, &OrientedRect::from_geometry(&g).bounds());
                let inside: Vec<&str> = inside.iter().map(String::as_str).collect();
                let frame = ctx
                    .board
                    .create_frame_around(NewElement::frame(NEW_FRAME_TITLE, g), &inside)?;
                Ok(self.created(frame, false))
            }
            ToolKind::Select | ToolKind::Pen | ToolKind::Connector => Ok(Response::default()),
        }
    }

    /// After a creating gesture: select the new element and go back to the
    /// select tool, as Miro does.
    fn created(&mut self, id: String, edit_text: bool) -> Response {
        self.selection = BTreeSet::from([id.clone()]);
        self.tool = ToolKind::Select;
        Response {
            edited: true,
            edit_text: edit_text.then_some(id),
        }
    }

    fn double_click(&mut self, pos: Vec2, ctx: &ToolContext<'_>) -> Response {
        if self.tool != ToolKind::Select {
            return Response::default();
        }
        self.cancel();
        let Some(id) = ctx.scene.topmost_at(pos, ctx.px(HIT_TOLERANCE_PX)) else {
            return Response::default();
        };
        let has_text = ctx
            .scene
            .get(id)
            .is_some_and(|e| e.element.body.text().is_some());
        self.selection = BTreeSet::from([id.to_owned()]);
        Response {
            edited: false,
            edit_text: has_text.then(|| id.to_owned()),
        }
    }
}

/// The box spanned by a drag; with `square`, a square on the larger side,
/// growing from `start` towards the pointer.
fn box_geometry(start: Vec2, end: Vec2, square: bool) -> Geometry {
    let mut d = end - start;
    if square {
        let side = d.x.abs().max(d.y.abs());
        d = Vec2::new(side.copysign(d.x), side.copysign(d.y));
    }
    let r = Rect::from_corners(start, start + d);
    Geometry::new(r.min.x, r.min.y, r.width(), r.height())
}

/// The element a connector end would bind to at `pos` (topmost, not a
/// connector, not `except`) and the anchor nearest to `pos`.
fn connectable_at(
    ctx: &ToolContext<'_>,
    pos: Vec2,
    except: Option<&str>,
) -> Option<(String, Anchor)> {
    let id = ctx
        .scene
        .hit_test(pos, ctx.px(HIT_TOLERANCE_PX))
        .into_iter()
        .find(|id| {
            Some(*id) != except
                && ctx
                    .scene
                    .get(id)
                    .is_some_and(|e| e.kind() != Kind::Connector)
        })?;
    let geom = ctx.scene.get(id)?.element.geom;
    Some((id.to_owned(), nearest_anchor(&geom, pos)))
}

/// The side anchor (top, right, bottom, left) of `geom` nearest to `pos`.
pub fn nearest_anchor(geom: &Geometry, pos: Vec2) -> Anchor {
    [Anchor::Top, Anchor::Right, Anchor::Bottom, Anchor::Left]
        .into_iter()
        .min_by(|a, b| {
            let da = Vec2::from(geom.anchor_point(*a)).distance(pos);
            let db = Vec2::from(geom.anchor_point(*b)).distance(pos);
            da.total_cmp(&db)
        })
        .unwrap_or(Anchor::Center)
}

/// Where an end sits now: its anchor for a bound end, else `free`.
fn end_position(ctx: &ToolContext<'_>, end: &End, free: Vec2) -> Vec2 {
    match &end.binding {
        Some(b) => ctx
            .scene
            .get(&b.id)
            .map_or(free, |e| Vec2::from(e.element.geom.anchor_point(b.anchor))),
        None => free,
    }
}

/// Elements a new frame over `rect` adopts: everything but frames whose
/// footprint lies wholly inside, sorted.
fn contents_of(scene: &Scene, rect: &Rect) -> Vec<String> {
    scene
        .query_rect(rect)
        .into_iter()
        .filter(|e| e.kind() != Kind::Frame && rect.contains_rect(&select::footprint(e)))
        .map(|e| e.id().to_owned())
        .collect()
}
