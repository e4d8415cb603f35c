//! The Touchpoint board document: a Yjs-compatible CRDT (yrs) with the board
//! schema, typed and validated reads, typed edits, per-user undo, change events
//! and the `.tpboard` file format.
//!
//! This crate is the shared language of every other part: the app edits and
//! draws through it, the sync server stores and relays its updates, and a
//! JavaScript Yjs client can read and write the same document by following
//! SCHEMA.md. It must not depend on sockets, async runtimes, windows or GPUs;
//! time and randomness come in as parameters so its tests are deterministic.

pub mod board;
pub mod changes;
pub mod edit;
pub mod element;
pub mod file;
pub mod geometry;
pub mod grid;
mod holdback;
pub mod origin;
pub mod panics;
pub mod protocol;
pub mod schema;
pub mod style;
pub mod test_vectors;
pub mod tidy;
pub mod timer;
mod undo;
pub(crate) mod value;
pub mod voting;
pub mod wire_check;
mod zbounds;
pub mod zorder;

pub use board::{Board, Meta, ReadOnly, UpdateError};
pub use changes::{ChangeOrigin, Changes, Subscription, UpdateSubscription};
pub use edit::{EditError, EndSide, NewElement, Reorder};
pub use element::{Binding, Body, Element, End};
pub use geometry::Geometry;
pub use grid::{
    Axis, CellRef, CreatedGrid, Grid, GridView, Lane, NewGrid, NewLane, NewStage, Stage,
};
pub use holdback::Gap;
pub use origin::REMOTE_ORIGIN;
pub use schema::{Align, Anchor, ArrowHead, Color, Kind, LaneRole, SCHEMA_VERSION, ShapeKind};
pub use style::{Style, StylePatch};

#[cfg(test)]
mod tests;
