//! Grids: structured lanes by stages (journey maps, service blueprints,
//! kanban and affinity boards), stored in the board document so every client,
//! including a JavaScript Yjs one, knows which sticky sits in which cell.
//!
//! A grid is an element of kind `grid` (see SCHEMA.md, "Grids"). Its stage and
//! lane order are Y.Arrays of ids, so concurrent inserts and moves merge; each
//! id's fields (title, size, role) live in a Y.Map keyed by the id. Reordering
//! deletes the id and inserts it again, so two people moving one stage at the
//! same time can leave it twice in the array: readers keep the first
//! occurrence, and ids without fields (removed ones) are skipped, so every
//! replica reads the same order.
//!
//! An element belongs to a cell by ids, stored on the element (`cell`:
//! `{grid, lane, stage}`), never by position, so reordering stages or lanes
//! never moves a sticky to another cell. Positions follow membership: edits
//! lay a cell's stickies out in a flow (in `(z, id)` order) and grow a lane
//! or a stage to fit what it holds, in the same transaction. After merging a
//! collaborator's concurrent edit the layout may be stale; [`Board::settle_grids`]
//! recomputes it (every replica computes the same positions, and it writes
//! only what is out of place).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use yrs::{
    Any, Array, ArrayPrelim, ArrayRef, In, Map, MapPrelim, MapRef, Out, ReadTxn, Transact,
    TransactionMut,
};

use crate::board::Board;
use crate::edit::{EditError, NewElement, check_finite};
use crate::element::{Body, Element, Geometry, StylePatch, describe, number_value};
use crate::schema::{Color, Kind, LaneRole, grid_key as gk, key};

/// Default width of a new stage, world units.
pub const STAGE_WIDTH: f64 = 320.0;
/// Default height of a new lane.
pub const LANE_HEIGHT: f64 = 240.0;
/// Height of a `line` lane (a blueprint's line of interaction, say).
pub const LINE_HEIGHT: f64 = 48.0;
/// Default width of the lane title column.
pub const HEADER_WIDTH: f64 = 220.0;
/// Default height of the stage title row.
pub const HEADER_HEIGHT: f64 = 64.0;
/// Smallest stage width or lane height.
pub const MIN_TRACK: f64 = 24.0;
/// Largest stage width, lane height or header size read or written.
pub const MAX_TRACK: f64 = 100_000.0;
/// Space between a cell's edge and its stickies.
pub const CELL_PADDING: f64 = 16.0;
/// Space between stickies in a cell.
pub const CELL_GAP: f64 = 12.0;
/// Most stages or lanes a grid reads (a hostile document may hold more).
pub const MAX_TRACKS: usize = 1000;

/// Which of a grid's two directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Axis {
    /// Columns, left to right.
    Stage,
    /// Rows, top to bottom.
    Lane,
}

impl Axis {
    fn order_key(self) -> &'static str {
        match self {
            Axis::Stage => gk::STAGES,
            Axis::Lane => gk::LANES,
        }
    }

    fn info_key(self) -> &'static str {
        match self {
            Axis::Stage => gk::STAGE_INFO,
            Axis::Lane => gk::LANE_INFO,
        }
    }

    fn size_key(self) -> &'static str {
        match self {
            Axis::Stage => gk::WIDTH,
            Axis::Lane => gk::HEIGHT,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Axis::Stage => "stage",
            Axis::Lane => "lane",
        }
    }
}

/// A column of a grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    pub id: String,
    pub title: String,
    pub width: f64,
}

/// A row of a grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lane {
    pub id: String,
    pub title: String,
    pub height: f64,
    pub role: LaneRole,
    /// Header colour; `None`: the grid's default.
    pub color: Option<Color>,
    /// An `emotion` lane's curve: stage id -> value in -1 (low) ..= 1 (high).
    pub points: BTreeMap<String, f64>,
}

/// A grid element's structure, as read (deduplicated, validated).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Grid {
    pub title: String,
    pub header_w: f64,
    pub header_h: f64,
    pub stages: Vec<Stage>,
    pub lanes: Vec<Lane>,
}

/// Which cell an element belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CellRef {
    pub grid: String,
    pub lane: String,
    pub stage: String,
}

impl Grid {
    /// Total size: the header column and row plus every stage and lane.
    pub fn size(&self) -> [f64; 2] {
        [
            self.header_w + self.stages.iter().map(|s| s.width).sum::<f64>(),
            self.header_h + self.lanes.iter().map(|l| l.height).sum::<f64>(),
        ]
    }

    pub fn stage_index(&self, id: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.id == id)
    }

    pub fn lane_index(&self, id: &str) -> Option<usize> {
        self.lanes.iter().position(|l| l.id == id)
    }

    /// Left edge of each stage, relative to the grid's left edge.
    pub fn stage_lefts(&self) -> Vec<f64> {
        let mut x = self.header_w;
        self.stages
            .iter()
            .map(|s| {
                let left = x;
                x += s.width;
                left
            })
            .collect()
    }

    /// Top edge of each lane, relative to the grid's top edge.
    pub fn lane_tops(&self) -> Vec<f64> {
        let mut y = self.header_h;
        self.lanes
            .iter()
            .map(|l| {
                let top = y;
                y += l.height;
                top
            })
            .collect()
    }

    /// The cell at lane index `lane` and stage index `stage`, for a grid whose
    /// top-left corner is `origin`.
    pub fn cell_rect(&self, origin: [f64; 2], lane: usize, stage: usize) -> Option<Geometry> {
        let s = self.stages.get(stage)?;
        let l = self.lanes.get(lane)?;
        let left = self.stage_lefts()[stage];
        let top = self.lane_tops()[lane];
        Some(Geometry::new(
            origin[0] + left,
            origin[1] + top,
            s.width,
            l.height,
        ))
    }

    /// The cell (lane index, stage index) under world point `p`: only lanes
    /// that hold stickies (not `line` lanes).
    pub fn cell_at(&self, origin: [f64; 2], p: [f64; 2]) -> Option<(usize, usize)> {
        let (x, y) = (p[0] - origin[0], p[1] - origin[1]);
        let stage = self
            .stage_lefts()
            .iter()
            .zip(&self.stages)
            .position(|(left, s)| x >= *left && x < left + s.width)?;
        let lane = self
            .lane_tops()
            .iter()
            .zip(&self.lanes)
            .position(|(top, l)| y >= *top && y < top + l.height)?;
        (self.lanes[lane].role != LaneRole::Line).then_some((lane, stage))
    }
}

/// A grid with its cells' contents: what the CSV export, the JavaScript
/// interop test and the app's drop logic read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridView {
    pub id: String,
    /// Top-left corner and total size (no rotation).
    pub geom: Geometry,
    pub grid: Grid,
    /// (lane id, stage id) -> ids of the elements in the cell, in `(z, id)`
    /// order. Cells without elements are absent.
    pub cells: BTreeMap<(String, String), Vec<String>>,
}

impl GridView {
    /// The ids in one cell (empty when none).
    pub fn cell(&self, lane: &str, stage: &str) -> &[String] {
        self.cells
            .get(&(lane.to_owned(), stage.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// The world rectangle of the cell at (lane id, stage id).
    pub fn cell_rect(&self, lane: &str, stage: &str) -> Option<Geometry> {
        self.grid.cell_rect(
            [self.geom.x, self.geom.y],
            self.grid.lane_index(lane)?,
            self.grid.stage_index(stage)?,
        )
    }

    /// The (lane id, stage id) of the cell under world point `p`.
    pub fn cell_at(&self, p: [f64; 2]) -> Option<(String, String)> {
        let (l, s) = self.grid.cell_at([self.geom.x, self.geom.y], p)?;
        Some((
            self.grid.lanes[l].id.clone(),
            self.grid.stages[s].id.clone(),
        ))
    }
}

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

// ---------------------------------------------------------------- reading

fn clamp_size(v: f64) -> f64 {
    v.clamp(MIN_TRACK, MAX_TRACK)
}

fn num_of(v: Option<Out>) -> Option<f64> {
    match v {
        Some(Out::Any(Any::Number(n))) => Some(number_value(n)).filter(|v| v.is_finite()),
        _ => None,
    }
}

fn str_of(v: Option<Out>) -> Option<String> {
    match v {
        Some(Out::Any(Any::String(s))) => Some(s.to_string()),
        _ => None,
    }
}

/// The ids of an order array: strings only, first occurrence kept, only ids
/// that have a fields map.
fn read_order<T: ReadTxn>(
    map: &MapRef,
    txn: &T,
    axis: Axis,
    report: &mut dyn FnMut(&str, String),
) -> Vec<(String, MapRef)> {
    let order = match map.get(txn, axis.order_key()) {
        Some(Out::YArray(a)) => a,
        None => return Vec::new(),
        Some(other) => {
            report(
                axis.order_key(),
                format!("expected a Y.Array, found {}", describe(&other)),
            );
            return Vec::new();
        }
    };
    let info = match map.get(txn, axis.info_key()) {
        Some(Out::YMap(m)) => Some(m),
        None => None,
        Some(other) => {
            report(
                axis.info_key(),
                format!("expected a Y.Map, found {}", describe(&other)),
            );
            None
        }
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for v in order.iter(txn) {
        let Out::Any(Any::String(id)) = v else {
            report(
                axis.order_key(),
                format!("skipped an entry that is {}", describe(&v)),
            );
            continue;
        };
        if !seen.insert(id.to_string()) {
            continue; // A concurrent move left it twice: the first one counts.
        }
        if let Some(Out::YMap(fields)) = info.as_ref().and_then(|i| i.get(txn, &id)) {
            out.push((id.to_string(), fields));
            if out.len() >= MAX_TRACKS {
                report(
                    axis.order_key(),
                    format!("more than {MAX_TRACKS}: rest skipped"),
                );
                break;
            }
        }
    }
    out
}

/// Reads a grid element's structure; never fails (bad fields take defaults).
pub(crate) fn read_grid<T: ReadTxn>(
    map: &MapRef,
    txn: &T,
    title: String,
    report: &mut dyn FnMut(&str, String),
) -> Grid {
    let header = |k: &str, default: f64| {
        num_of(map.get(txn, k)).map_or(default, |v| v.clamp(0.0, MAX_TRACK))
    };
    let header_w = header(gk::HEADER_W, HEADER_WIDTH);
    let header_h = header(gk::HEADER_H, HEADER_HEIGHT);
    let stages = read_order(map, txn, Axis::Stage, report)
        .into_iter()
        .map(|(id, f)| Stage {
            title: str_of(f.get(txn, gk::TITLE)).unwrap_or_default(),
            width: num_of(f.get(txn, gk::WIDTH)).map_or(STAGE_WIDTH, clamp_size),
            id,
        })
        .collect::<Vec<_>>();
    let stage_ids: HashSet<&str> = stages.iter().map(|s| s.id.as_str()).collect();
    let lanes = read_order(map, txn, Axis::Lane, report)
        .into_iter()
        .map(|(id, f)| {
            let role = str_of(f.get(txn, gk::ROLE))
                .and_then(|r| r.parse().ok())
                .unwrap_or(LaneRole::Cards);
            let default_h = if role == LaneRole::Line {
                LINE_HEIGHT
            } else {
                LANE_HEIGHT
            };
            let mut points = BTreeMap::new();
            if let Some(Out::YMap(p)) = f.get(txn, gk::POINTS) {
                for (stage, v) in p.iter(txn) {
                    if let Out::Any(Any::Number(n)) = v {
                        let v = number_value(n);
                        if v.is_finite() && stage_ids.contains(stage) {
                            points.insert(stage.to_owned(), v.clamp(-1.0, 1.0));
                        }
                    }
                }
            }
            Lane {
                title: str_of(f.get(txn, gk::TITLE)).unwrap_or_default(),
                height: num_of(f.get(txn, gk::HEIGHT)).map_or(default_h, clamp_size),
                role,
                color: str_of(f.get(txn, gk::COLOR)).and_then(|c| c.parse().ok()),
                points,
                id,
            }
        })
        .collect();
    Grid {
        title,
        header_w,
        header_h,
        stages,
        lanes,
    }
}

/// An element's `cell` field, if it is a well-formed object.
pub(crate) fn read_cell<T: ReadTxn>(map: &MapRef, txn: &T) -> Option<CellRef> {
    let Some(Out::Any(Any::Map(m))) = map.get(txn, key::CELL) else {
        return None;
    };
    let s = |k: &str| match m.get(k) {
        Some(Any::String(s)) if !s.is_empty() => Some(s.to_string()),
        _ => None,
    };
    Some(CellRef {
        grid: s(gk::CELL_GRID)?,
        lane: s(gk::CELL_LANE)?,
        stage: s(gk::CELL_STAGE)?,
    })
}

fn cell_any(cell: &CellRef) -> Any {
    let mut m = HashMap::new();
    m.insert(gk::CELL_GRID.to_owned(), Any::from(cell.grid.as_str()));
    m.insert(gk::CELL_LANE.to_owned(), Any::from(cell.lane.as_str()));
    m.insert(gk::CELL_STAGE.to_owned(), Any::from(cell.stage.as_str()));
    Any::from(m)
}

/// Whether an element of this kind may sit in a cell.
fn cell_kind(kind: Kind) -> bool {
    !matches!(kind, Kind::Grid | Kind::Frame | Kind::Connector)
}

// ---------------------------------------------------------------- writing

fn stage_prelim(s: &Stage) -> MapPrelim {
    [
        (gk::TITLE, In::Any(Any::from(s.title.as_str()))),
        (gk::WIDTH, In::Any(Any::from(s.width))),
    ]
    .into_iter()
    .collect()
}

fn lane_prelim(l: &Lane) -> MapPrelim {
    let mut f: Vec<(&str, In)> = vec![
        (gk::TITLE, In::Any(Any::from(l.title.as_str()))),
        (gk::HEIGHT, In::Any(Any::from(l.height))),
        (gk::ROLE, In::Any(Any::from(l.role.as_str()))),
    ];
    if let Some(c) = l.color {
        f.push((gk::COLOR, In::Any(Any::from(c.to_string()))));
    }
    if l.role == LaneRole::Emotion {
        let points: MapPrelim = l
            .points
            .iter()
            .map(|(s, v)| (s.as_str(), In::Any(Any::from(*v))))
            .collect();
        f.push((gk::POINTS, In::Map(points)));
    }
    f.into_iter().collect()
}

/// The fields of a grid element beyond the common ones and `text`.
pub(crate) fn grid_fields(grid: &Grid) -> Vec<(&'static str, In)> {
    let ids = |ids: Vec<&str>| In::Array(ArrayPrelim::from(ids.into_iter().map(Any::from)));
    let stage_info: MapPrelim = grid
        .stages
        .iter()
        .map(|s| (s.id.as_str(), In::Map(stage_prelim(s))))
        .collect();
    let lane_info: MapPrelim = grid
        .lanes
        .iter()
        .map(|l| (l.id.as_str(), In::Map(lane_prelim(l))))
        .collect();
    vec![
        (gk::HEADER_W, In::Any(Any::from(grid.header_w))),
        (gk::HEADER_H, In::Any(Any::from(grid.header_h))),
        (
            gk::STAGES,
            ids(grid.stages.iter().map(|s| s.id.as_str()).collect()),
        ),
        (
            gk::LANES,
            ids(grid.lanes.iter().map(|l| l.id.as_str()).collect()),
        ),
        (gk::STAGE_INFO, In::Map(stage_info)),
        (gk::LANE_INFO, In::Map(lane_info)),
    ]
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
        let txn = self.doc.transact();
        self.grid_ids()
            .iter()
            .any(|g| !self.layout_fixes(&txn, g).is_empty())
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
