//! The Touchpoint app's logic, apart from any window or GPU: the scene
//! (display list) built from the board, the camera, and the tools.
//!
//! The binary (`main.rs`) adds the command line and, later, the winit window,
//! the wgpu renderer and the egui chrome on top. This library must not depend
//! on wgpu, winit or egui: the renderer and the SVG writer both draw from the
//! [`scene`], and tests drive [`tools`] with synthetic events and no window.
//!
//! Data flow: input -> [`camera`] (screen to world) -> [`tools`] (one board
//! edit per gesture) -> board change event -> [`scene::Scene::apply`] ->
//! renderer | SVG writer.

pub mod camera;
pub mod geom;
pub mod scene;
pub mod tools;
