//! Tidying helpers for a selection of stickies (or any boxes): lay them out
//! in a grid, or sort them into rows by colour or by author. Pure functions
//! from element snapshots to new positions; [`Board::set_positions`] writes
//! the result as one gesture (one undo step).

use std::collections::BTreeMap;

use yrs::{Map, Out};

use crate::board::Board;
use crate::edit::{EditError, check_finite};
use crate::element::Element;
use crate::schema::{Color, Kind, key};

/// Space between tidied elements, world units.
pub const TIDY_GAP: f64 = 24.0;

/// A new top-left corner for one element.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub id: String,
    pub x: f64,
    pub y: f64,
}

/// How to group a selection into rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    /// One row per fill colour, in the sticky palette's order, then others by
    /// hex value, then unfilled.
    Colour,
    /// One row per author, by name; elements without an author last.
    Author,
}

/// Reading order: top to bottom, then left to right (by centre), then id.
fn reading_order(a: &Element, b: &Element) -> std::cmp::Ordering {
    let (ca, cb) = (a.geom.center(), b.geom.center());
    ca[1]
        .total_cmp(&cb[1])
        .then(ca[0].total_cmp(&cb[0]))
        .then_with(|| a.id.cmp(&b.id))
}

/// Top-left corner of the selection's bounds.
fn origin(els: &[&Element]) -> [f64; 2] {
    els.iter().fold([f64::MAX, f64::MAX], |o, e| {
        let b = e.geom.bounds();
        [o[0].min(b[0]), o[1].min(b[1])]
    })
}

fn movable(e: &Element) -> bool {
    !matches!(e.kind(), Kind::Connector | Kind::Grid | Kind::Frame)
}

/// Lays `elements` out in a grid of `columns` (default: about square), in
/// reading order, from the selection's top-left corner; each slot as big as
/// the largest element. Connectors, frames and grids stay where they are.
pub fn tidy_grid(elements: &[Element], columns: Option<usize>) -> Vec<Placement> {
    let mut els: Vec<&Element> = elements.iter().filter(|e| movable(e)).collect();
    if els.is_empty() {
        return Vec::new();
    }
    els.sort_by(|a, b| reading_order(a, b));
    let cols = columns
        .unwrap_or_else(|| (els.len() as f64).sqrt().ceil() as usize)
        .max(1);
    let rows: Vec<Vec<&Element>> = els.chunks(cols).map(<[&Element]>::to_vec).collect();
    place_rows(&rows, origin(&els))
}

/// Sorts `elements` into rows, one per colour or author, each row in
/// reading order, from the selection's top-left corner.
pub fn sort_into_rows(elements: &[Element], by: SortBy) -> Vec<Placement> {
    let mut els: Vec<&Element> = elements.iter().filter(|e| movable(e)).collect();
    if els.is_empty() {
        return Vec::new();
    }
    els.sort_by(|a, b| reading_order(a, b));
    let start = origin(&els);
    let mut groups: BTreeMap<(u8, String), Vec<&Element>> = BTreeMap::new();
    for e in els {
        let k = match by {
            SortBy::Colour => match e.style.fill {
                Some(c) => match Color::STICKY_PALETTE.iter().position(|p| *p == c) {
                    Some(i) => (0, format!("{i:02}")),
                    None => (1, c.to_string()),
                },
                None => (2, String::new()),
            },
            SortBy::Author => match &e.author {
                Some(a) if !a.is_empty() => (0, a.to_lowercase() + "\u{0}" + a),
                _ => (1, String::new()),
            },
        };
        groups.entry(k).or_default().push(e);
    }
    let rows: Vec<Vec<&Element>> = groups.into_values().collect();
    place_rows(&rows, start)
}

fn place_rows(rows: &[Vec<&Element>], start: [f64; 2]) -> Vec<Placement> {
    let all = rows.iter().flatten();
    let slot = all.fold([0.0f64, 0.0f64], |s, e| {
        [s[0].max(e.geom.w), s[1].max(e.geom.h)]
    });
    let mut out = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        for (c, e) in row.iter().enumerate() {
            out.push(Placement {
                id: e.id.clone(),
                x: start[0] + c as f64 * (slot[0] + TIDY_GAP) + (slot[0] - e.geom.w) / 2.0,
                y: start[1] + r as f64 * (slot[1] + TIDY_GAP) + (slot[1] - e.geom.h) / 2.0,
            });
        }
    }
    out
}

impl Board {
    /// Moves elements to new top-left corners in one transaction (one undo
    /// step): the result of [`tidy_grid`] or [`sort_into_rows`].
    pub fn set_positions(&mut self, placements: &[Placement]) -> Result<(), EditError> {
        for p in placements {
            check_finite("position", &[p.x, p.y])?;
        }
        let elements = self.elements.clone();
        {
            // Nothing is written when an id is missing.
            let txn = yrs::Transact::transact(&self.doc);
            if let Some(p) = placements
                .iter()
                .find(|p| !matches!(elements.get(&txn, &p.id), Some(Out::YMap(_))))
            {
                return Err(EditError::NotFound(p.id.clone()));
            }
        }
        self.begin_edit()?;
        let mut txn = self.txn();
        for p in placements {
            let Some(Out::YMap(m)) = elements.get(&txn, &p.id) else {
                return Err(EditError::NotFound(p.id.clone()));
            };
            m.insert(&mut txn, key::X, p.x);
            m.insert(&mut txn, key::Y, p.y);
        }
        Ok(())
    }
}
