//! The Touchpoint desktop app: the window (winit, egui around the GPU
//! canvas), live collaboration (sharing, joining, presence, the sync
//! session driven on the UI thread), and exporting to a file.
//!
//! The layers below are crates of their own, and their dependencies say
//! what each may use (ARCHITECTURE.md lists them):
//! `touchpoint-scene` (geometry, camera, scene, text, SVG and CSV; no GPU,
//! window or runtime), `touchpoint-editor` (tools, clipboard, templates,
//! the workspace and autosave; same constraints), `touchpoint-render` (the
//! wgpu renderer and PNG; no window). The binary (`main.rs`) adds the
//! command line.
//!
//! Data flow: winit event -> [`ui`] -> camera (screen to world) -> tools
//! (one board edit per gesture) -> board change event -> scene ->
//! renderer | SVG writer; [`collab`] moves the board's updates to and
//! from the sync server.

pub mod collab;
pub mod export;
pub mod profile;
pub mod ui;
