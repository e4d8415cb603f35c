//! Exports drawn from the scene (the same display list the GPU renderer
//! draws), so what you export is what you see.
//!
//! - [`svg`] holds a streaming SVG writer (whole board or one frame).
//!
//! PNG export is not built yet; it will come from the GPU renderer's
//! offscreen path (`touchpoint render`).

pub mod csv;
pub mod svg;

pub use svg::{ExportError, ExportStats, Scope, SvgOptions, write_svg};
