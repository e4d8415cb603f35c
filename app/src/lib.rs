//! The Touchpoint app's logic: the scene (display list) built from the
//! board, the camera, the tools, and the GPU renderer that draws the scene.
//!
//! The binary (`main.rs`) adds the command line and, later, the winit window
//! and the egui chrome on top. Nothing here depends on winit or egui. Only
//! [`render`] touches wgpu, and nothing else here depends on [`render`]: the
//! renderer and the SVG writer both draw from the [`scene`], which holds no
//! GPU types, and tests drive [`tools`] with synthetic events and no window.
//!
//! Data flow: input -> [`camera`] (screen to world) -> [`tools`] (one board
//! edit per gesture) -> board change event -> [`scene::Scene::apply`] ->
//! [`render::Renderer`] | SVG writer.

pub mod autosave;
pub mod camera;
pub mod clipboard;
pub mod collab;
pub mod export;
pub mod geom;
pub mod render;
pub mod sample;
pub mod scene;
pub mod templates;
pub mod text;
pub mod tools;
pub mod ui;
pub mod workspace;
