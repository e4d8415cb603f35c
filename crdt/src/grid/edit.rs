//! Editing grids: creating them, adding, moving, resizing and removing
//! stages and lanes, placing elements in cells, and settling the layout
//! after merges (the `impl Board` half of [`super`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use yrs::{
    Any, Array, ArrayRef, In, Map, MapPrelim, MapRef, Out, ReadTxn, Transact, TransactionMut,
};

use super::model::{
    Axis, CELL_GAP, CELL_PADDING, CellRef, Grid, GridView, HEADER_HEIGHT, HEADER_WIDTH,
    LANE_HEIGHT, LINE_HEIGHT, Lane, MAX_TRACK, MAX_TRACKS, STAGE_WIDTH, Stage, cell_any, cell_kind,
    clamp_size, lane_prelim, read_cell, read_order, stage_prelim, str_of,
};
use crate::board::Board;
use crate::edit::{EditError, NewElement, check_finite};
use crate::element::{Body, Element};
use crate::geometry::Geometry;
use crate::schema::{Color, Kind, LaneRole, grid_key as gk, key};
use crate::style::StylePatch;

/// A stage to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStage {
    pub title: String,
    pub width: f64,
}

impl NewStage {
    pub fn new(title: &str) -> NewStage {
        NewStage {
            title: title.to_owned(),
            width: STAGE_WIDTH,
        }
    }
}

/// A lane to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLane {
    pub title: String,
    pub height: f64,
    pub role: LaneRole,
    pub color: Option<Color>,
    /// An emotion lane's curve, by stage index (`None`: no point).
    pub points: Vec<Option<f64>>,
}

impl NewLane {
    pub fn new(title: &str, role: LaneRole) -> NewLane {
        NewLane {
            title: title.to_owned(),
            height: if role == LaneRole::Line {
                LINE_HEIGHT
            } else {
                LANE_HEIGHT
            },
            role,
            color: None,
            points: Vec::new(),
        }
    }
}

/// A grid to create, with stickies (or other elements) already in cells.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGrid {
    pub title: String,
    /// Top-left corner.
    pub x: f64,
    pub y: f64,
    pub header_w: f64,
    pub header_h: f64,
    pub stages: Vec<NewStage>,
    pub lanes: Vec<NewLane>,
    pub style: StylePatch,
    /// (lane index, stage index, element): placed in the cell by the layout.
    pub contents: Vec<(usize, usize, NewElement)>,
}

impl NewGrid {
    pub fn new(title: &str, x: f64, y: f64) -> NewGrid {
        NewGrid {
            title: title.to_owned(),
            x,
            y,
            header_w: HEADER_WIDTH,
            header_h: HEADER_HEIGHT,
            stages: Vec::new(),
            lanes: Vec::new(),
            style: StylePatch::default(),
            contents: Vec::new(),
        }
    }
}

/// The ids given to a created grid and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedGrid {
    pub id: String,
    pub stages: Vec<String>,
    pub lanes: Vec<String>,
    /// The contents' ids, in the order given.
    pub contents: Vec<String>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> EditError {
    EditError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn check_size(field: &'static str, v: f64) -> Result<f64, EditError> {
    check_finite(field, &[v])?;
    if v < 0.0 {
        return Err(invalid(field, "negative size"));
    }
    Ok(clamp_size(v))
}

/// One planned write of the layout.
enum Fix {
    Size(Axis, String, f64),
    Pos(String, f64, f64),
}

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

    /// Creates a grid with its contents in one transaction (one undo step).
    pub fn create_grid(&mut self, grid: NewGrid) -> Result<CreatedGrid, EditError> {
        let (_, mut grids) = self.insert_content(Vec::new(), vec![grid])?;
        grids.pop().ok_or_else(|| invalid("grid", "not created"))
    }

    /// Creates free elements and grids (with the elements in their cells) in
    /// one transaction: one undo step, as a template insertion is. Free
    /// elements are stacked first, then each grid and its contents above it.
    pub fn insert_content(
        &mut self,
        elements: Vec<NewElement>,
        grids: Vec<NewGrid>,
    ) -> Result<(Vec<String>, Vec<CreatedGrid>), EditError> {
        self.writable()?;
        for n in &elements {
            check_new(n)?;
        }
        for g in &grids {
            check_finite("grid", &[g.x, g.y, g.header_w, g.header_h])?;
            for s in &g.stages {
                check_size("stage width", s.width)?;
            }
            for l in &g.lanes {
                check_size("lane height", l.height)?;
                if l.points.iter().flatten().any(|v| !v.is_finite()) {
                    return Err(invalid("points", "not a finite number"));
                }
            }
            for (li, si, n) in &g.contents {
                check_new(n)?;
                let lane = g
                    .lanes
                    .get(*li)
                    .ok_or_else(|| invalid("cell", format!("no lane {li}")))?;
                if lane.role == LaneRole::Line || *si >= g.stages.len() {
                    return Err(invalid("cell", format!("no cell at lane {li}, stage {si}")));
                }
            }
            if g.lanes.len() > MAX_TRACKS || g.stages.len() > MAX_TRACKS {
                return Err(invalid(
                    "grid",
                    format!("more than {MAX_TRACKS} lanes or stages"),
                ));
            }
        }
        // Ids and bodies first (fresh_id needs &mut self), then one transaction.
        let free_ids: Vec<String> = elements.iter().map(|_| self.fresh_id()).collect();
        let mut planned = Vec::new();
        for g in grids {
            let id = self.fresh_id();
            let stages: Vec<Stage> = g
                .stages
                .iter()
                .map(|s| Stage {
                    id: self.fresh_id(),
                    title: s.title.clone(),
                    width: clamp_size(s.width),
                })
                .collect();
            let lanes: Vec<Lane> = g
                .lanes
                .iter()
                .map(|l| Lane {
                    id: self.fresh_id(),
                    title: l.title.clone(),
                    height: clamp_size(l.height),
                    role: l.role,
                    color: l.color,
                    points: l
                        .points
                        .iter()
                        .zip(&stages)
                        .filter_map(|(p, s)| p.map(|v| (s.id.clone(), v.clamp(-1.0, 1.0))))
                        .collect(),
                })
                .collect();
            let content_ids: Vec<String> = g.contents.iter().map(|_| self.fresh_id()).collect();
            planned.push((id, stages, lanes, content_ids, g));
        }
        let mut z = self.top_z();
        let elements_map = self.elements.clone();
        self.begin_edit()?;
        let mut txn = self.txn();
        let mut put = |txn: &mut TransactionMut, id: &str, fields: Vec<(&'static str, In)>| {
            let key_z = crate::zorder::key_between(z.as_deref(), None);
            let mut prelim: MapPrelim = fields.into_iter().collect();
            prelim.insert(key::Z.into(), In::Any(Any::from(key_z.as_str())));
            elements_map.insert(txn, id, prelim);
            z = Some(key_z);
        };
        for (id, n) in free_ids.iter().zip(&elements) {
            put(&mut txn, id, n.fields());
        }
        let mut created = Vec::new();
        for (id, stages, lanes, content_ids, g) in planned {
            let grid_el = NewElement::grid_body(
                Grid {
                    title: g.title.clone(),
                    header_w: g.header_w.clamp(0.0, MAX_TRACK),
                    header_h: g.header_h.clamp(0.0, MAX_TRACK),
                    stages: stages.clone(),
                    lanes: lanes.clone(),
                },
                g.x,
                g.y,
            )
            .with_style(g.style);
            put(&mut txn, &id, grid_el.fields());
            for (cid, (li, si, n)) in content_ids.iter().zip(&g.contents) {
                let mut fields = n.fields();
                fields.push((
                    key::CELL,
                    In::Any(cell_any(&CellRef {
                        grid: id.clone(),
                        lane: lanes[*li].id.clone(),
                        stage: stages[*si].id.clone(),
                    })),
                ));
                put(&mut txn, cid, fields);
            }
            created.push(CreatedGrid {
                id,
                stages: stages.into_iter().map(|s| s.id).collect(),
                lanes: lanes.into_iter().map(|l| l.id).collect(),
                contents: content_ids,
            });
        }
        for c in &created {
            self.settle_in(&mut txn, &c.id);
        }
        Ok((free_ids, created))
    }

    /// The grid map, its order array and info map for `axis`, checked.
    fn track_refs<T: ReadTxn>(
        &self,
        txn: &T,
        grid: &str,
        axis: Axis,
    ) -> Result<(MapRef, ArrayRef, MapRef), EditError> {
        let map = match self.elements.get(txn, grid) {
            Some(Out::YMap(m)) => m,
            _ => return Err(EditError::NotFound(grid.to_owned())),
        };
        let kind = str_of(map.get(txn, key::KIND)).and_then(|k| k.parse::<Kind>().ok());
        if kind != Some(Kind::Grid) {
            return Err(EditError::WrongKind {
                id: grid.to_owned(),
                kind: kind.unwrap_or(Kind::Shape),
                what: "is not a grid",
            });
        }
        let order = match map.get(txn, axis.order_key()) {
            Some(Out::YArray(a)) => a,
            _ => return Err(invalid("grid", format!("no {} order array", axis.name()))),
        };
        let info = match map.get(txn, axis.info_key()) {
            Some(Out::YMap(m)) => m,
            _ => return Err(invalid("grid", format!("no {} fields map", axis.name()))),
        };
        Ok((map, order, info))
    }

    /// The fields map of one stage or lane, which must be in the grid's order.
    fn track_fields<T: ReadTxn>(
        &self,
        txn: &T,
        grid: &str,
        axis: Axis,
        id: &str,
    ) -> Result<MapRef, EditError> {
        let (map, _, _) = self.track_refs(txn, grid, axis)?;
        read_order(&map, txn, axis, &mut |_, _| {})
            .into_iter()
            .find(|(t, _)| t == id)
            .map(|(_, f)| f)
            .ok_or_else(|| EditError::NotFound(id.to_owned()))
    }

    /// Adds a stage at `index` (clamped; `usize::MAX`: at the end).
    pub fn add_stage(
        &mut self,
        grid: &str,
        index: usize,
        title: &str,
    ) -> Result<String, EditError> {
        let id = self.fresh_id();
        let stage = Stage {
            id: id.clone(),
            title: title.to_owned(),
            width: STAGE_WIDTH,
        };
        self.add_track(grid, Axis::Stage, index, &id, stage_prelim(&stage))?;
        Ok(id)
    }

    /// Adds a lane at `index` (clamped; `usize::MAX`: at the end).
    pub fn add_lane(
        &mut self,
        grid: &str,
        index: usize,
        title: &str,
        role: LaneRole,
    ) -> Result<String, EditError> {
        let id = self.fresh_id();
        let new = NewLane::new(title, role);
        let lane = Lane {
            id: id.clone(),
            title: new.title,
            height: new.height,
            role,
            color: None,
            points: BTreeMap::new(),
        };
        self.add_track(grid, Axis::Lane, index, &id, lane_prelim(&lane))?;
        Ok(id)
    }

    fn add_track(
        &mut self,
        grid: &str,
        axis: Axis,
        index: usize,
        id: &str,
        fields: MapPrelim,
    ) -> Result<(), EditError> {
        self.writable()?;
        self.track_refs(&self.doc.transact(), grid, axis)?;
        self.begin_edit()?;
        let mut txn = self.txn();
        let (map, order, info) = self.track_refs(&txn, grid, axis)?;
        info.insert(&mut txn, id, fields);
        let at = raw_index(&map, &txn, axis, &order, index);
        order.insert(&mut txn, at, Any::from(id));
        self.settle_in(&mut txn, grid);
        Ok(())
    }

    /// Renames a stage or lane.
    pub fn rename_track(
        &mut self,
        grid: &str,
        axis: Axis,
        id: &str,
        title: &str,
    ) -> Result<(), EditError> {
        self.writable()?;
        self.begin_edit()?;
        let mut txn = self.txn();
        let f = self.track_fields(&txn, grid, axis, id)?;
        f.insert(&mut txn, gk::TITLE, title);
        Ok(())
    }

    /// Sets a stage's width or a lane's height; never below what its cells'
    /// contents need (the layout grows it back).
    pub fn resize_track(
        &mut self,
        grid: &str,
        axis: Axis,
        id: &str,
        size: f64,
    ) -> Result<(), EditError> {
        let size = check_size("size", size)?;
        self.writable()?;
        self.begin_edit()?;
        let mut txn = self.txn();
        let f = self.track_fields(&txn, grid, axis, id)?;
        f.insert(&mut txn, axis.size_key(), size);
        self.settle_in(&mut txn, grid);
        Ok(())
    }

    /// Moves a stage or lane to position `to` (clamped) of the current order:
    /// deletes its id and inserts it again. Cell membership is by id, so the
    /// stickies travel with their cells.
    pub fn move_track(
        &mut self,
        grid: &str,
        axis: Axis,
        id: &str,
        to: usize,
    ) -> Result<(), EditError> {
        self.writable()?;
        self.begin_edit()?;
        let mut txn = self.txn();
        self.track_fields(&txn, grid, axis, id)?;
        let (map, order, _) = self.track_refs(&txn, grid, axis)?;
        remove_all(&mut txn, &order, id);
        let at = raw_index(&map, &txn, axis, &order, to);
        order.insert(&mut txn, at, Any::from(id));
        self.settle_in(&mut txn, grid);
        Ok(())
    }

    /// Removes a stage or lane, and deletes the elements in its cells (as
    /// deleting a frame deletes its contents; one undo step brings all back).
    pub fn remove_track(&mut self, grid: &str, axis: Axis, id: &str) -> Result<(), EditError> {
        self.writable()?;
        let doomed: Vec<String> = {
            let view = self
                .grid_view(grid)
                .ok_or_else(|| EditError::NotFound(grid.to_owned()))?;
            view.cells
                .iter()
                .filter(|((l, s), _)| match axis {
                    Axis::Lane => l == id,
                    Axis::Stage => s == id,
                })
                .flat_map(|(_, ids)| ids.iter().cloned())
                .collect()
        };
        self.begin_edit()?;
        let mut txn = self.txn();
        self.track_fields(&txn, grid, axis, id)?;
        let (_, order, info) = self.track_refs(&txn, grid, axis)?;
        remove_all(&mut txn, &order, id);
        info.remove(&mut txn, id);
        for d in doomed {
            self.elements.remove(&mut txn, &d);
        }
        self.settle_in(&mut txn, grid);
        Ok(())
    }

    /// Sets an emotion lane's point for one stage (`None` removes it); values
    /// are clamped to -1 (low) ..= 1 (high).
    pub fn set_emotion(
        &mut self,
        grid: &str,
        lane: &str,
        stage: &str,
        value: Option<f64>,
    ) -> Result<(), EditError> {
        if let Some(v) = value {
            check_finite("emotion", &[v])?;
        }
        self.writable()?;
        self.begin_edit()?;
        let mut txn = self.txn();
        self.track_fields(&txn, grid, Axis::Stage, stage)?;
        let f = self.track_fields(&txn, grid, Axis::Lane, lane)?;
        let points = match f.get(&txn, gk::POINTS) {
            Some(Out::YMap(p)) => p,
            _ => f.insert(&mut txn, gk::POINTS, MapPrelim::default()),
        };
        match value {
            Some(v) => {
                points.insert(&mut txn, stage, v.clamp(-1.0, 1.0));
            }
            None => {
                points.remove(&mut txn, stage);
            }
        }
        Ok(())
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

    /// Creates an element directly in a cell (the sticky tool used inside a
    /// grid): one undo step.
    pub fn create_in_cell(&mut self, new: NewElement, cell: &CellRef) -> Result<String, EditError> {
        self.check_cell(cell)?;
        let id = self.create(new)?;
        // Same undo step as the creation: no new `begin_edit`.
        let mut txn = self.txn();
        self.set_cell_in(&mut txn, &[&id], Some(cell))?;
        Ok(id)
    }

    fn check_cell(&self, c: &CellRef) -> Result<(), EditError> {
        let view = self
            .grid_view(&c.grid)
            .ok_or_else(|| EditError::NotFound(c.grid.clone()))?;
        let lane = view
            .grid
            .lanes
            .iter()
            .find(|l| l.id == c.lane)
            .ok_or_else(|| EditError::NotFound(c.lane.clone()))?;
        if lane.role == LaneRole::Line {
            return Err(invalid("cell", "a line lane holds no stickies"));
        }
        view.grid
            .stage_index(&c.stage)
            .ok_or_else(|| EditError::NotFound(c.stage.clone()))?;
        Ok(())
    }

    /// Puts elements into a cell (or takes them out of any with `None`) and
    /// lays the grid out: the app calls this when stickies are dropped.
    pub fn set_cell(&mut self, ids: &[&str], cell: Option<&CellRef>) -> Result<(), EditError> {
        self.writable()?;
        if let Some(c) = cell {
            self.check_cell(c)?;
        }
        self.begin_edit()?;
        let mut txn = self.txn();
        self.set_cell_in(&mut txn, ids, cell)
    }

    fn set_cell_in(
        &self,
        txn: &mut TransactionMut,
        ids: &[&str],
        cell: Option<&CellRef>,
    ) -> Result<(), EditError> {
        let mut grids = HashSet::new();
        for id in ids {
            let map = match self.elements.get(txn, id) {
                Some(Out::YMap(m)) => m,
                _ => return Err(EditError::NotFound((*id).to_owned())),
            };
            let kind = str_of(map.get(txn, key::KIND)).and_then(|k| k.parse::<Kind>().ok());
            if !kind.is_some_and(cell_kind) {
                return Err(EditError::WrongKind {
                    id: (*id).to_owned(),
                    kind: kind.unwrap_or(Kind::Grid),
                    what: "cannot sit in a grid cell",
                });
            }
            if let Some(old) = read_cell(&map, txn) {
                grids.insert(old.grid);
            }
            match cell {
                Some(c) => {
                    map.insert(txn, key::CELL, cell_any(c));
                    grids.insert(c.grid.clone());
                }
                None => {
                    map.remove(txn, key::CELL);
                }
            }
        }
        let mut grids: Vec<String> = grids.into_iter().collect();
        grids.sort();
        for g in grids {
            self.settle_in(txn, &g);
        }
        Ok(())
    }

    /// A drag's end: moves elements by `(dx, dy)` and then puts each one that
    /// can sit in a cell into the cell under its centre (topmost grid), or
    /// out of its cell when it was dropped outside every grid. One undo step.
    pub fn move_and_drop(&mut self, ids: &[&str], dx: f64, dy: f64) -> Result<(), EditError> {
        self.move_by(ids, dx, dy)?;
        // Same undo step: no new `begin_edit`.
        let grids: Vec<GridView> = self
            .grid_ids()
            .iter()
            .rev()
            .filter_map(|g| self.grid_view(g))
            .collect();
        let mut txn = self.txn();
        for id in ids {
            let Some(el) = self.read_one(&txn, id) else {
                continue;
            };
            if !cell_kind(el.kind()) {
                continue;
            }
            let c = el.geom.center();
            let target = grids.iter().find_map(|g| {
                g.cell_at(c).map(|(lane, stage)| CellRef {
                    grid: g.id.clone(),
                    lane,
                    stage,
                })
            });
            let current = {
                let map = match self.elements.get(&txn, id) {
                    Some(Out::YMap(m)) => m,
                    _ => continue,
                };
                read_cell(&map, &txn)
            };
            if target != current || target.is_some() {
                self.set_cell_in(&mut txn, &[id], target.as_ref())?;
            }
        }
        Ok(())
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

/// Origin of [`Board::settle_grids`] transactions: not tracked by undo.
pub const SETTLE_ORIGIN: &str = "touchpoint:settle";

fn check_new(n: &NewElement) -> Result<(), EditError> {
    check_finite(
        "geometry",
        &[n.geom.x, n.geom.y, n.geom.w, n.geom.h, n.geom.rot],
    )?;
    if matches!(n.body, Body::Connector { .. }) {
        return Err(invalid("elements", "templates cannot hold connectors"));
    }
    if n.parent.is_some() {
        return Err(invalid("parent", "inserted content cannot name a frame"));
    }
    Ok(())
}

/// Deletes every occurrence of `id` from an order array.
fn remove_all(txn: &mut TransactionMut, order: &ArrayRef, id: &str) {
    let hits: Vec<u32> = order
        .iter(txn)
        .enumerate()
        .filter(|(_, v)| matches!(v, Out::Any(Any::String(s)) if s.as_ref() == id))
        .map(|(i, _)| i as u32)
        .collect();
    for i in hits.into_iter().rev() {
        order.remove(txn, i);
    }
}

/// The raw array index at which to insert so the id lands at position `to`
/// of the order as read (deduplicated, removed ids skipped).
fn raw_index<T: ReadTxn>(map: &MapRef, txn: &T, axis: Axis, order: &ArrayRef, to: usize) -> u32 {
    let visible: Vec<String> = read_order(map, txn, axis, &mut |_, _| {})
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let Some(before) = visible.get(to) else {
        return order.len(txn);
    };
    // The first raw occurrence of that id.
    order
        .iter(txn)
        .position(|v| matches!(&v, Out::Any(Any::String(s)) if s.as_ref() == before))
        .map_or(order.len(txn), |i| i as u32)
}

impl NewElement {
    /// A grid element with the given structure at top-left `(x, y)`. Use
    /// [`Board::create_grid`] or [`Board::insert_content`] to add one with
    /// fresh ids; this is for building one from a known structure.
    pub fn grid_body(grid: Grid, x: f64, y: f64) -> NewElement {
        let [w, h] = grid.size();
        NewElement {
            body: Body::Grid(grid),
            geom: Geometry::new(x, y, w, h),
            style: StylePatch::default(),
            parent: None,
            author: None,
        }
    }
}
