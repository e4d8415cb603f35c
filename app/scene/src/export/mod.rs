//! Exports drawn from the scene (the same display list the GPU renderer
//! draws), so what you export is what you see. PNG is the renderer's
//! (`touchpoint-render`); choosing the format from a file name is the app's.
//!
//! - [`svg`]: a streaming SVG writer (whole board, one frame, or a
//!   selection); text as selectable `<text>` with an embedded font subset,
//!   or as glyph outlines.
//! - [`csv`]: a grid's cells as CSV.
//! - [`font`]: the font subset and glyph outlines the SVG writer uses.

pub mod csv;
pub mod font;
pub mod svg;

pub use svg::{ExportStats, Scope, SvgError, SvgOptions, write_svg, write_svg_with_progress};
