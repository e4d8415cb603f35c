//! Editing grids: creating them, adding, moving, resizing and removing
//! stages and lanes, placing elements in cells. Each edit lays its grid
//! out in the same transaction ([`super::layout`]).

use std::collections::{BTreeMap, HashSet};

use yrs::{
    Any, Array, ArrayRef, In, Map, MapPrelim, MapRef, Out, ReadTxn, Transact, TransactionMut,
};

use super::model::{
    Axis, CellRef, Grid, GridView, HEADER_HEIGHT, HEADER_WIDTH, LANE_HEIGHT, LINE_HEIGHT, Lane,
    MAX_TRACK, MAX_TRACKS, STAGE_WIDTH, Stage, cell_any, cell_kind, clamp_size, lane_prelim,
    read_cell, read_order, stage_prelim, str_of,
};
use crate::board::Board;
use crate::edit::{EditError, NewElement, check_finite};
use crate::element::Body;
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

impl Board {
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
