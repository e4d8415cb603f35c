//! Reading grids off a board: a grid with its cells' contents, the grids
//! in drawing order, the cell an element belongs to or a point falls in.

use std::collections::{BTreeMap, HashSet};

use yrs::{Map, Out, ReadTxn, Transact};

use super::model::{CellRef, GridView, cell_kind, read_cell, str_of};
use crate::board::Board;
use crate::element::Body;
use crate::schema::{Kind, LaneRole, key};

impl Board {
    /// The grid element `id` with its cells' contents, or `None` when there is
    /// no such grid.
    pub fn grid_view(&self, id: &str) -> Option<GridView> {
        let txn = self.doc.transact();
        self.grid_view_in(&txn, id)
    }

    /// Every grid on the board, in drawing order.
    pub fn grid_ids(&self) -> Vec<String> {
        // Raw maps, not snapshots: the app calls this after remote updates.
        let txn = self.doc.transact();
        let mut keyed: Vec<(String, String)> = self
            .elements
            .iter(&txn)
            .filter_map(|(id, v)| match v {
                Out::YMap(m)
                    if str_of(m.get(&txn, key::KIND)).as_deref() == Some(Kind::Grid.as_str()) =>
                {
                    Some((
                        str_of(m.get(&txn, key::Z)).unwrap_or_default(),
                        id.to_owned(),
                    ))
                }
                _ => None,
            })
            .collect();
        keyed.sort_by(|a, b| crate::zorder::cmp_order(&a.0, &a.1, &b.0, &b.1));
        keyed.into_iter().map(|(_, id)| id).collect()
    }

    /// The cell an element belongs to, when that cell exists (its grid, lane
    /// and stage are on the board and the lane holds stickies).
    pub fn cell_of(&self, id: &str) -> Option<CellRef> {
        let txn = self.doc.transact();
        let Some(Out::YMap(map)) = self.elements.get(&txn, id) else {
            return None;
        };
        let cell = read_cell(&map, &txn)?;
        let view = self.grid_view_in(&txn, &cell.grid)?;
        view.cell(&cell.lane, &cell.stage)
            .iter()
            .any(|m| m == id)
            .then_some(cell)
    }

    pub(crate) fn grid_view_in<T: ReadTxn>(&self, txn: &T, id: &str) -> Option<GridView> {
        let el = self.read_one(txn, id)?;
        let Body::Grid(grid) = el.body else {
            return None;
        };
        let lanes: HashSet<&str> = grid
            .lanes
            .iter()
            .filter(|l| l.role != LaneRole::Line)
            .map(|l| l.id.as_str())
            .collect();
        let stages: HashSet<&str> = grid.stages.iter().map(|s| s.id.as_str()).collect();
        let mut members: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
        for (eid, value) in self.elements.iter(txn) {
            let Out::YMap(map) = value else { continue };
            let Some(cell) = read_cell(&map, txn) else {
                continue;
            };
            if cell.grid != id
                || !lanes.contains(cell.lane.as_str())
                || !stages.contains(cell.stage.as_str())
            {
                continue;
            }
            let kind = str_of(map.get(txn, key::KIND)).and_then(|k| k.parse::<Kind>().ok());
            if !kind.is_some_and(cell_kind) {
                continue;
            }
            let z = str_of(map.get(txn, key::Z)).unwrap_or_default();
            members
                .entry((cell.lane, cell.stage))
                .or_default()
                .push((z, eid.to_owned()));
        }
        let cells = members
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by(|a, b| crate::zorder::cmp_order(&a.0, &a.1, &b.0, &b.1));
                (k, v.into_iter().map(|(_, id)| id).collect())
            })
            .collect();
        Some(GridView {
            id: id.to_owned(),
            geom: el.geom,
            grid,
            cells,
        })
    }

    /// The cell under world point `p` in the topmost grid there, if any (for
    /// highlighting the drop target while dragging).
    pub fn cell_at(&self, p: [f64; 2]) -> Option<CellRef> {
        self.grid_ids().iter().rev().find_map(|g| {
            let view = self.grid_view(g)?;
            let (lane, stage) = view.cell_at(p)?;
            Some(CellRef {
                grid: g.clone(),
                lane,
                stage,
            })
        })
    }
}

impl Board {
    /// The grid ids among `ids`.
    pub(crate) fn grids_among<'a, T: ReadTxn>(
        &self,
        txn: &T,
        ids: impl Iterator<Item = &'a str>,
    ) -> HashSet<String> {
        ids.filter(|id| {
            matches!(self.elements.get(txn, id), Some(Out::YMap(m))
                if str_of(m.get(txn, key::KIND)).as_deref() == Some(Kind::Grid.as_str()))
        })
        .map(str::to_owned)
        .collect()
    }

    /// Elements whose `cell` names one of `grids` (whether or not the cell
    /// still exists), sorted: what moves and is deleted with a grid.
    pub(crate) fn grid_members<T: ReadTxn>(&self, txn: &T, grids: &HashSet<String>) -> Vec<String> {
        if grids.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<String> = self
            .elements
            .iter(txn)
            .filter_map(|(id, v)| match v {
                Out::YMap(m) => read_cell(&m, txn)
                    .filter(|c| grids.contains(&c.grid) && !grids.contains(id))
                    .map(|_| id.to_owned()),
                _ => None,
            })
            .collect();
        out.sort();
        out
    }
}
