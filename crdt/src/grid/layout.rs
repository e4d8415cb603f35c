//! Grid layout: lanes and stages grown to fit their cells, members placed
//! in a flow in their cell, and settling a layout a merge left stale. Every
//! replica computes the same layout from the same document.

use std::collections::HashMap;

use yrs::{Map, Out, ReadTxn, Transact, TransactionMut};

use super::model::{Axis, CELL_GAP, CELL_PADDING, MAX_TRACK, clamp_size};
use crate::board::Board;
use crate::edit::EditError;
use crate::element::Element;
use crate::schema::key;

/// Origin of [`Board::settle_grids`] transactions: not tracked by undo.
pub const SETTLE_ORIGIN: &str = "touchpoint:settle";

/// One planned write of the layout.
enum Fix {
    Size(Axis, String, f64),
    Pos(String, f64, f64),
}

impl Board {
    /// What the layout of grid `id` needs written: lanes and stages grown to
    /// fit their cells, then every member at its slot.
    fn layout_fixes<T: ReadTxn>(&self, txn: &T, id: &str) -> Vec<Fix> {
        let Some(mut view) = self.grid_view_in(txn, id) else {
            return Vec::new();
        };
        let mut fixes = Vec::new();
        // Member sizes per cell.
        let mut sizes: HashMap<(String, String), Vec<(String, Element)>> = HashMap::new();
        for (cell, ids) in &view.cells {
            let els = ids
                .iter()
                .filter_map(|m| self.read_one(txn, m).map(|e| (m.clone(), e)))
                .collect();
            sizes.insert(cell.clone(), els);
        }
        let slot = |els: &[(String, Element)]| {
            els.iter().fold([0.0f64, 0.0f64], |acc, (_, e)| {
                [acc[0].max(e.geom.w), acc[1].max(e.geom.h)]
            })
        };
        // Stages: wide enough for one column of their widest cell's slot.
        for stage in &mut view.grid.stages {
            let need = view
                .grid
                .lanes
                .iter()
                .filter_map(|l| sizes.get(&(l.id.clone(), stage.id.clone())))
                .map(|els| slot(els)[0] + 2.0 * CELL_PADDING)
                .fold(0.0, f64::max)
                .min(MAX_TRACK);
            if need > stage.width + 1e-6 {
                stage.width = clamp_size(need);
                fixes.push(Fix::Size(Axis::Stage, stage.id.clone(), stage.width));
            }
        }
        // Lanes: tall enough for the rows their fullest cell needs.
        let per_row = |width: f64, slot_w: f64| {
            (((width - 2.0 * CELL_PADDING + CELL_GAP) / (slot_w + CELL_GAP)).floor() as usize)
                .max(1)
        };
        for lane in &mut view.grid.lanes {
            let mut need: f64 = 0.0;
            for stage in &view.grid.stages {
                if let Some(els) = sizes.get(&(lane.id.clone(), stage.id.clone())) {
                    let [sw, sh] = slot(els);
                    let rows = els.len().div_ceil(per_row(stage.width, sw));
                    need = need.max(
                        2.0 * CELL_PADDING
                            + rows as f64 * sh
                            + rows.saturating_sub(1) as f64 * CELL_GAP,
                    );
                }
            }
            // Clamped first, so a cell too full for the largest lane does
            // not ask to be settled again and again.
            let need = need.min(MAX_TRACK);
            if need > lane.height + 1e-6 {
                lane.height = clamp_size(need);
                fixes.push(Fix::Size(Axis::Lane, lane.id.clone(), lane.height));
            }
        }
        // Positions.
        let origin = [view.geom.x, view.geom.y];
        for (li, lane) in view.grid.lanes.iter().enumerate() {
            for (si, stage) in view.grid.stages.iter().enumerate() {
                let Some(els) = sizes.get(&(lane.id.clone(), stage.id.clone())) else {
                    continue;
                };
                let Some(rect) = view.grid.cell_rect(origin, li, si) else {
                    continue;
                };
                let [sw, sh] = slot(els);
                let cols = per_row(stage.width, sw);
                for (i, (mid, e)) in els.iter().enumerate() {
                    let (col, row) = ((i % cols) as f64, (i / cols) as f64);
                    let x = rect.x + CELL_PADDING + col * (sw + CELL_GAP) + (sw - e.geom.w) / 2.0;
                    let y = rect.y + CELL_PADDING + row * (sh + CELL_GAP) + (sh - e.geom.h) / 2.0;
                    if (x - e.geom.x).abs() > 1e-6 || (y - e.geom.y).abs() > 1e-6 {
                        fixes.push(Fix::Pos(mid.clone(), x, y));
                    }
                }
            }
        }
        fixes
    }

    /// Lays out grid `id` inside a transaction: grows tracks, places members.
    pub(crate) fn settle_in(&self, txn: &mut TransactionMut, id: &str) -> bool {
        let fixes = self.layout_fixes(txn, id);
        if fixes.is_empty() {
            return false;
        }
        let Some(Out::YMap(grid)) = self.elements.get(txn, id) else {
            return false;
        };
        for fix in fixes {
            match fix {
                Fix::Size(axis, track, v) => {
                    if let Some(Out::YMap(info)) = grid.get(txn, axis.info_key())
                        && let Some(Out::YMap(f)) = info.get(txn, &track)
                    {
                        f.insert(txn, axis.size_key(), v);
                    }
                }
                Fix::Pos(eid, x, y) => {
                    if let Some(Out::YMap(m)) = self.elements.get(txn, &eid) {
                        m.insert(txn, key::X, x);
                        m.insert(txn, key::Y, y);
                    }
                }
            }
        }
        true
    }

    /// Whether some grid's layout is stale (after merging a collaborator's
    /// concurrent edit, say): a member out of its slot, a lane too short.
    pub fn grids_unsettled(&self) -> bool {
        !self.unsettled_grids().is_empty()
    }

    /// The grids whose layout is stale, in drawing order.
    pub fn unsettled_grids(&self) -> Vec<String> {
        let txn = self.doc.transact();
        self.grid_ids()
            .into_iter()
            .filter(|g| !self.layout_fixes(&txn, g).is_empty())
            .collect()
    }

    /// Recomputes every grid's layout and writes what is out of place. Every
    /// replica computes the same result from the same document, so peers that
    /// settle concurrently write equal values. Not an undo step (it repairs
    /// a merge; it is nobody's gesture). Returns whether anything was written.
    pub fn settle_grids(&mut self) -> Result<bool, EditError> {
        self.writable()?;
        let ids = self.grid_ids();
        let mut txn = self.doc.transact_mut_with(SETTLE_ORIGIN);
        let mut wrote = false;
        for id in ids {
            wrote |= self.settle_in(&mut txn, &id);
        }
        Ok(wrote)
    }

    /// [`Board::settle_grids`] for the grids `ids` only (those a merged
    /// change touched): each costs a pass over the board's elements, so a
    /// change that touches no grid costs nothing here. Ids that are not
    /// grids are skipped. Returns whether anything was written.
    pub fn settle_grids_in<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<bool, EditError> {
        self.writable()?;
        let mut ids = ids.into_iter().peekable();
        if ids.peek().is_none() {
            return Ok(false);
        }
        let mut txn = self.doc.transact_mut_with(SETTLE_ORIGIN);
        let mut wrote = false;
        for id in ids {
            wrote |= self.settle_in(&mut txn, id);
        }
        Ok(wrote)
    }
}
