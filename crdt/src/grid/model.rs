//! How a grid is stored: its types, and reading and writing its structure
//! in the document (SCHEMA.md, "Grids"). Nothing here edits a board; that
//! is [`super::edit`].

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use yrs::{Any, Array, ArrayPrelim, In, Map, MapPrelim, MapRef, Out, ReadTxn};

use crate::geometry::Geometry;
use crate::schema::{Color, Kind, LaneRole, grid_key as gk, key};
use crate::value::{describe, number_value};

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
    pub(super) fn order_key(self) -> &'static str {
        match self {
            Axis::Stage => gk::STAGES,
            Axis::Lane => gk::LANES,
        }
    }

    pub(super) fn info_key(self) -> &'static str {
        match self {
            Axis::Stage => gk::STAGE_INFO,
            Axis::Lane => gk::LANE_INFO,
        }
    }

    pub(super) fn size_key(self) -> &'static str {
        match self {
            Axis::Stage => gk::WIDTH,
            Axis::Lane => gk::HEIGHT,
        }
    }

    pub(super) fn name(self) -> &'static str {
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

// ---------------------------------------------------------------- reading

pub(super) fn clamp_size(v: f64) -> f64 {
    v.clamp(MIN_TRACK, MAX_TRACK)
}

pub(super) fn num_of(v: Option<Out>) -> Option<f64> {
    match v {
        Some(Out::Any(Any::Number(n))) => Some(number_value(n)).filter(|v| v.is_finite()),
        _ => None,
    }
}

pub(super) fn str_of(v: Option<Out>) -> Option<String> {
    match v {
        Some(Out::Any(Any::String(s))) => Some(s.to_string()),
        _ => None,
    }
}

/// The ids of an order array: strings only, first occurrence kept, only ids
/// that have a fields map.
pub(super) fn read_order<T: ReadTxn>(
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

pub(super) fn cell_any(cell: &CellRef) -> Any {
    let mut m = HashMap::new();
    m.insert(gk::CELL_GRID.to_owned(), Any::from(cell.grid.as_str()));
    m.insert(gk::CELL_LANE.to_owned(), Any::from(cell.lane.as_str()));
    m.insert(gk::CELL_STAGE.to_owned(), Any::from(cell.stage.as_str()));
    Any::from(m)
}

/// Whether an element of this kind may sit in a cell.
pub(super) fn cell_kind(kind: Kind) -> bool {
    !matches!(kind, Kind::Grid | Kind::Frame | Kind::Connector)
}

// ---------------------------------------------------------------- writing

pub(super) fn stage_prelim(s: &Stage) -> MapPrelim {
    [
        (gk::TITLE, In::Any(Any::from(s.title.as_str()))),
        (gk::WIDTH, In::Any(Any::from(s.width))),
    ]
    .into_iter()
    .collect()
}

pub(super) fn lane_prelim(l: &Lane) -> MapPrelim {
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
