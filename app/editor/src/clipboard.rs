//! Copy, paste and duplicate of elements, within a board, between boards and
//! between app processes.
//!
//! A copy is a small board of its own (a Yjs update holding just the copied
//! elements) in base64 behind [`PREFIX`], so it travels through the system
//! clipboard as text, and pasting it goes through the same validating loader
//! as opening a file: a hostile clipboard is just another untrusted board.
//! Inside a copy, connector ends and frame membership refer to other copied
//! elements; references to anything outside the copy are dropped (a
//! connector end becomes free at its last position, a child leaves its frame).

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use touchpoint_crdt::file::load_bytes;
use touchpoint_crdt::{Board, Body, EditError, Element, End, NewElement, StylePatch};

use touchpoint_scene::geom::{Rect, Vec2};

/// Marks clipboard text as Touchpoint elements (and its format version).
pub const PREFIX: &str = "touchpoint-elements/1:";

/// How far (world units) a duplicate or a repeated paste lands from the original.
pub const DUPLICATE_OFFSET: f64 = 20.0;

/// Why clipboard text could not be pasted.
#[derive(Debug, thiserror::Error)]
pub enum PasteError {
    #[error("the clipboard holds no Touchpoint elements")]
    NotElements,
    #[error("the clipboard's elements are damaged: {0}")]
    Damaged(String),
    #[error(transparent)]
    Edit(#[from] EditError),
}

/// Copied elements, in drawing order, with references among them as `@N`
/// (see [`Board::create_linked`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    elements: Vec<NewElement>,
}

impl Clip {
    /// The selected elements and the children of selected frames, in drawing
    /// order. None when nothing selected exists.
    pub fn copy(board: &Board, selection: &BTreeSet<String>) -> Option<Clip> {
        let all = board.elements(); // drawing order
        let mut chosen: BTreeSet<&str> = selection.iter().map(String::as_str).collect();
        for el in &all {
            if el.parent.as_deref().is_some_and(|p| selection.contains(p)) {
                chosen.insert(&el.id);
            }
        }
        let picked: Vec<&Element> = all
            .iter()
            .filter(|e| chosen.contains(e.id.as_str()))
            .collect();
        if picked.is_empty() {
            return None;
        }
        let index: HashMap<&str, usize> = picked
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.as_str(), i))
            .collect();
        let elements = picked
            .iter()
            .map(|el| {
                let mut new = new_from(el);
                new.parent = el
                    .parent
                    .as_deref()
                    .and_then(|p| index.get(p))
                    .map(|i| format!("@{i}"));
                if let Body::Connector { from, to, .. } = &mut new.body {
                    let points = board.connector_points(el);
                    for (k, end) in [from, to].into_iter().enumerate() {
                        let local = end.binding.as_ref().and_then(|b| index.get(b.id.as_str()));
                        match (local, &mut end.binding) {
                            (Some(i), Some(b)) => b.id = format!("@{i}"),
                            _ => {
                                let p = points.map_or(end.point, |p| p[k]);
                                *end = End::free(p[0], p[1]);
                            }
                        }
                    }
                }
                new
            })
            .collect();
        Some(Clip { elements })
    }

    pub fn len(&self) -> usize {
        self.elements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// The world box the copied elements cover (connectors by their ends).
    pub fn bounds(&self) -> Option<Rect> {
        Rect::bounding(self.elements.iter().flat_map(|n| match &n.body {
            Body::Connector { from, to, .. } => [Vec2::from(from.point), Vec2::from(to.point)],
            _ => [
                Vec2::new(n.geom.x, n.geom.y),
                Vec2::new(n.geom.x + n.geom.w, n.geom.y + n.geom.h),
            ],
        }))
    }

    /// The clip as clipboard text.
    pub fn to_text(&self) -> String {
        let mut board = Board::new();
        // A copy of valid elements always creates: the references are local.
        let written = board.create_linked(self.elements.clone()).is_ok();
        debug_assert!(written, "a clip always writes into an empty board");
        format!("{PREFIX}{}", STANDARD.encode(board.encode()))
    }

    /// Reads clipboard text; anything but a Touchpoint copy is refused.
    pub fn from_text(text: &str) -> Result<Clip, PasteError> {
        let body = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(PasteError::NotElements)?;
        let bytes = STANDARD
            .decode(body)
            .map_err(|e| PasteError::Damaged(e.to_string()))?;
        let board = load_bytes(&bytes).map_err(|e| PasteError::Damaged(e.to_string()))?;
        let clip = Clip::copy(
            &board,
            &board.elements().into_iter().map(|e| e.id).collect(),
        )
        .ok_or(PasteError::NotElements)?;
        // References are re-made from the loaded board (Clip::copy), so a
        // crafted clip cannot point outside itself; points are checked again
        // when pasted (Board::create_linked).
        Ok(clip)
    }

    /// Creates the copied elements on `board` moved by `offset`, in one
    /// transaction (one undo step); returns the new ids.
    pub fn paste(&self, board: &mut Board, offset: Vec2) -> Result<Vec<String>, PasteError> {
        let moved = self
            .elements
            .iter()
            .cloned()
            .map(|mut n| {
                n.geom.x += offset.x;
                n.geom.y += offset.y;
                if let Body::Connector { from, to, .. } = &mut n.body {
                    for end in [from, to] {
                        end.point = [end.point[0] + offset.x, end.point[1] + offset.y];
                    }
                }
                n
            })
            .collect();
        Ok(board.create_linked(moved)?)
    }

    /// The offset that puts the clip's centre at `point`.
    pub fn offset_to_center_at(&self, point: Vec2) -> Vec2 {
        self.bounds().map_or(Vec2::ZERO, |b| point - b.center())
    }
}

/// An element as a creation request with its full style.
fn new_from(el: &Element) -> NewElement {
    NewElement {
        body: el.body.clone(),
        geom: el.geom,
        style: StylePatch {
            fill: Some(el.style.fill),
            stroke: Some(el.style.stroke),
            stroke_width: Some(el.style.stroke_width),
            text_color: Some(el.style.text_color),
            font_size: Some(el.style.font_size),
            align: Some(el.style.align),
        },
        parent: None,
        author: el.author.clone(),
    }
}

#[cfg(test)]
mod tests {
    use touchpoint_crdt::{Anchor, Geometry, Kind, ShapeKind};

    use super::*;

    fn sample() -> (Board, Vec<String>) {
        let mut b = Board::with_client_id(3);
        let frame = b
            .create(NewElement::frame(
                "Stage",
                Geometry::new(0.0, 0.0, 600.0, 400.0),
            ))
            .unwrap();
        let s = b
            .create(NewElement::sticky(20.0, 20.0, "Wait & <see>").with_parent(&frame))
            .unwrap();
        let r = b
            .create(NewElement::shape(
                ShapeKind::Ellipse,
                Geometry::new(900.0, 0.0, 100.0, 80.0),
            ))
            .unwrap();
        let c = b
            .create(NewElement::connector(
                End::bound(&s, Anchor::Right),
                End::bound(&r, Anchor::Left),
            ))
            .unwrap();
        (b, vec![frame, s, r, c])
    }

    #[test]
    fn copying_a_frame_takes_its_children_and_rebinds_inside_the_copy() {
        let (board, ids) = sample();
        let clip = Clip::copy(&board, &BTreeSet::from([ids[0].clone(), ids[3].clone()])).unwrap();
        // Frame, its sticky, and the connector; the ellipse stays behind.
        assert_eq!(clip.len(), 3);
        let mut other = Board::with_client_id(4);
        let new = Clip::from_text(&clip.to_text())
            .unwrap()
            .paste(&mut other, Vec2::new(1000.0, 0.0))
            .unwrap();
        assert_eq!(other.len(), 3);
        let els: HashMap<String, Element> = other
            .elements()
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect();
        let sticky = els.values().find(|e| e.kind() == Kind::Sticky).unwrap();
        assert_eq!(sticky.body.text(), Some("Wait & <see>"));
        assert_eq!(sticky.geom.x, 1020.0);
        assert!(
            new.contains(sticky.parent.as_ref().unwrap()),
            "parent is the pasted frame"
        );
        let conn = els.values().find(|e| e.kind() == Kind::Connector).unwrap();
        let Body::Connector { from, to, .. } = &conn.body else {
            unreachable!()
        };
        assert_eq!(from.binding.as_ref().unwrap().id, sticky.id);
        assert!(
            to.binding.is_none(),
            "the ellipse was not copied: end is free"
        );
        assert_eq!(to.point, [1900.0, 40.0], "free end moved with the paste");
    }

    #[test]
    fn paste_is_one_undo_step() {
        let (mut board, ids) = sample();
        let clip = Clip::copy(&board, &BTreeSet::from([ids[1].clone()])).unwrap();
        clip.paste(&mut board, Vec2::splat(DUPLICATE_OFFSET))
            .unwrap();
        assert_eq!(board.len(), 5);
        assert!(board.undo());
        assert_eq!(board.len(), 4);
    }

    #[test]
    fn foreign_or_damaged_text_is_refused() {
        assert!(matches!(
            Clip::from_text("hello"),
            Err(PasteError::NotElements)
        ));
        assert!(matches!(
            Clip::from_text(&format!("{PREFIX}!!!")),
            Err(PasteError::Damaged(_))
        ));
        let junk = format!("{PREFIX}{}", STANDARD.encode([1u8, 2, 3, 200, 7]));
        assert!(matches!(
            Clip::from_text(&junk),
            Err(PasteError::Damaged(_))
        ));
    }

    #[test]
    fn centre_offset_puts_the_copy_under_the_pointer() {
        let (board, ids) = sample();
        let clip = Clip::copy(&board, &BTreeSet::from([ids[2].clone()])).unwrap();
        let off = clip.offset_to_center_at(Vec2::new(0.0, 0.0));
        assert_eq!(off, Vec2::new(-950.0, -40.0));
    }
}
