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
//!
//! Files, each using only those before it: [`model`] (the types and how
//! they are stored), [`view`] (reading grids off a board), [`layout`]
//! (growing tracks, placing members, settling), [`edit`] (the board's grid
//! edits, which lay out in their own transaction).

pub mod edit;
pub mod layout;
pub mod model;
pub mod view;

pub use edit::{CreatedGrid, NewGrid, NewLane, NewStage};
pub use layout::SETTLE_ORIGIN;
pub use model::{
    Axis, CELL_GAP, CELL_PADDING, CellRef, Grid, GridView, HEADER_HEIGHT, HEADER_WIDTH,
    LANE_HEIGHT, LINE_HEIGHT, Lane, MAX_TRACK, MAX_TRACKS, MIN_TRACK, STAGE_WIDTH, Stage,
};
