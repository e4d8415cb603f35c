//! What a board looks like, with no GPU, window or runtime: the part of the
//! app a browser build, the command line and the SVG writer share.
//!
//! - [`geom`]: points, rectangles, oriented rectangles, hit tests.
//! - [`camera`]: screen to world and back, zoom limits.
//! - [`scene`]: the display list built from the board and kept up to date
//!   from its change events, with an R*-tree for culling and hit testing.
//! - [`text`]: text layout (cosmic-text, the bundled font), shared by the GPU
//!   text and the SVG writer so lines break alike.
//! - [`export`]: the SVG writer, CSV of grids, the font subset.
//! - [`sample`]: synthetic boards for benchmarks and tests.
//!
//! Data flow: board change event -> [`scene::Scene::apply`] -> renderer
//! (`touchpoint-render`) | SVG writer ([`export::svg`]).

pub mod camera;
pub mod export;
pub mod geom;
pub mod sample;
pub mod scene;
pub mod text;
