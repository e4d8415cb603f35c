//! The GPU renderer: draws a [`Scene`] through a [`Camera`] with wgpu.
//!
//! Three pipelines, drawn in phases like Rerun's re_renderer:
//! 1. background: the pass clears to [`BACKGROUND`] ([`Renderer::clear_color`]),
//!    then the dot grid is drawn as one thin instanced strip per row of dots
//!    (a quad per dot costs more on a software rasteriser: ~3,600 quads at
//!    100%);
//! 2. content, back to front: runs of **instanced signed-distance quads**
//!    (sticky notes with their soft shadow, rects, rounded rects, ellipses,
//!    frame bodies, text bars), antialiased with `fwidth`, and runs of
//!    **tessellated path triangles** (diamonds, triangles, ink, connectors,
//!    arrowheads), strokes antialiased analytically (vertices pushed a pixel
//!    out along their normals, coverage from the distance to the centre
//!    line) and unstroked fills given a one-pixel fringe, so no MSAA is
//!    needed ([`SAMPLE_COUNT`]);
//! 3. (later) overlays: selection, remote cursors.
//!
//! Per frame the scene is culled with its R*-tree ([`Scene::query_rect`]) and
//! only visible items become instance data ([`batch::build_frame`]). Paths
//! are tessellated by lyon once per `(element id, revision)` and their
//! vertex and index buffers are rebuilt only when the scene changed
//! ([`batch::PathCache`]).
//!
//! Zoomed out (at most [`tiles::MAX_TILED_PPU`]), a renderer with
//! [`Renderer::enable_tile_cache`] (the window's) draws the content once into
//! cached tiles and then only places them ([`tiles`], [`tile_cache`]).
//!
//! Text is drawn as real glyphs with glyphon ([`text`]), from the same
//! cosmic-text layout as the SVG export, **after all shapes and paths**
//! (glyphon draws every text area in one call). Rotated text, and text
//! smaller than [`text::MIN_GLYPH_PX`] on screen, is drawn as
//! level-of-detail bars (one rounded bar per estimated line) in scene order.
//!
//! The renderer knows nothing of egui or winit: it draws into any render
//! pass whose target format and sample count it was created for (the window
//! will call [`Renderer::prepare`] and [`Renderer::draw`] from an egui_wgpu
//! paint callback), and [`offscreen`] renders to a texture and a PNG with no
//! window at all (the CLI, tests, benchmarks). The scene holds no GPU types.
//!
//! Modules, each using only those before it: [`look`] (colours, grid),
//! `pipeline` and `buffers` (GPU plumbing), `tess` and [`batch`] (CPU
//! geometry), `text`, [`elements`] (draws elements), [`tiles`] and
//! [`tile_cache`] (zoomed-out views from cached tiles), then this file's
//! [`Renderer`] (tiles and live elements together), [`offscreen`] and
//! [`png`].

pub mod batch;
mod buffers;
pub mod elements;
pub mod look;
pub mod offscreen;
mod pipeline;
pub mod png;
mod tess;
mod text;
pub mod tile_cache;
pub mod tiles;

use touchpoint_scene::camera::Camera;
use touchpoint_scene::scene::{Scene, SceneElement};

pub use elements::{ElementRenderer, FrameStats};
pub use look::{BACKGROUND, GRID_DOT, GRID_MIN_PX, GRID_SPACING, grid_spacing};
pub use offscreen::{FrameTiming, GpuContext, OffscreenTarget};

/// Why rendering failed; one variant per cause.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "no GPU adapter found (backends: {backends}): install mesa-vulkan-drivers for software \
         Vulkan, or set WGPU_BACKEND (vulkan, gl, metal, dx12) to another backend"
    )]
    NoAdapter { backends: String },
    #[error("cannot open the GPU device on {adapter}: {source}")]
    RequestDevice {
        adapter: String,
        #[source]
        source: wgpu::RequestDeviceError,
    },
    #[error("image too large: {width}x{height} pixels, this GPU allows at most {max} on a side")]
    TooLarge { width: u32, height: u32, max: u32 },
    #[error("image size must be at least 1x1, got {width}x{height}")]
    Empty { width: u32, height: u32 },
    #[error("GPU device lost: {0}")]
    DeviceLost(String),
    #[error("GPU error: {0}")]
    Gpu(String),
    #[error("waiting for the GPU failed: {0}")]
    Poll(#[from] wgpu::PollError),
    #[error("cannot read the image back from the GPU: {0}")]
    Readback(String),
    #[error("cannot encode PNG: {0}")]
    Png(#[from] ::png::EncodingError),
}

/// The sample count to create the renderer with: 1, no MSAA. Shapes,
/// strokes and fill edges are antialiased in the shaders; 4x MSAA still
/// works (slightly softer edges) but costs far more than it adds: on
/// lavapipe at 1920x1080 the 4x clear and resolve alone took ~40 ms a frame
/// (BENCHMARKS.md).
pub const SAMPLE_COUNT: u32 = 1;

/// The canvas renderer: elements drawn exactly, or (zoomed out, once
/// [`Renderer::enable_tile_cache`] is called) cached tiles with what is
/// changing drawn live over them.
pub struct Renderer {
    content: ElementRenderer,
    /// Zoomed-out views drawn from cached tiles, when enabled.
    tiles: Option<Box<tile_cache::TileCache>>,
    /// This frame is drawn from tiles.
    tiled: bool,
}

impl Renderer {
    /// Pipelines for drawing into `format` targets with `sample_count`
    /// samples (1 or 4). The device and queue are shared, cheap handles.
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        format: wgpu::TextureFormat,
        sample_count: u32,
    ) -> Renderer {
        Renderer {
            content: ElementRenderer::new(device, queue, format, sample_count),
            tiles: None,
            tiled: false,
        }
    }

    /// Draws zoomed-out views (at most [`tiles::MAX_TILED_PPU`]) from
    /// cached tiles instead of element by element ([`tiles`]): what the
    /// window does. Offscreen renders (PNG export, snapshots) stay exact.
    pub fn enable_tile_cache(&mut self) {
        if self.tiles.is_none() {
            let c = &self.content;
            self.tiles = Some(Box::new(tile_cache::TileCache::new(
                &c.device,
                &c.queue,
                &c.shader,
                &c.globals_layout,
                c.format,
                c.sample_count,
            )));
        }
    }

    /// What the render pass must clear to: the canvas background, in the
    /// linear values wgpu expects for sRGB targets.
    pub fn clear_color() -> wgpu::Color {
        let [r, g, b, a] = look::linear(BACKGROUND).map(f64::from);
        wgpu::Color { r, g, b, a }
    }

    pub fn sample_count(&self) -> u32 {
        self.content.sample_count()
    }

    /// Culls the scene, builds this frame's instances and uploads them with
    /// the camera ([`ElementRenderer::prepare`]); zoomed out with the tile
    /// cache on, places the cached tiles (drawing those missing) and
    /// prepares only the elements changing frame after frame. Call once per
    /// frame before [`Renderer::draw`].
    pub fn prepare(&mut self, scene: &Scene, camera: &Camera) -> FrameStats {
        if let Some(cache) = &mut self.tiles
            && let Some(placed) = tiles::visible(camera)
        {
            self.content.write_globals(camera);
            let t = cache.prepare(scene, &placed, &tiles::around(camera));
            // What changes frame after frame (a note being typed into, or
            // moved live by another client) is left out of the tiles and
            // drawn live over them.
            let view = camera.visible_world_rect();
            let ids: Vec<String> = cache.live_ids().map(str::to_owned).collect();
            let live: Vec<&SceneElement> = scene
                .in_order(ids.iter().map(String::as_str))
                .into_iter()
                .filter(|e| e.bounds.intersects(&view))
                .collect();
            self.tiled = true;
            let drawn = self.content.prepare_elements(scene, camera, live);
            return FrameStats {
                visible_elements: t.elements,
                instances: t.instances,
                draws: t.draws,
                tiles: t.visible,
                tiles_rendered: t.rendered,
                tiles_pending: t.pending,
                live_over_tiles: drawn.visible_elements,
                ..drawn
            };
        }
        self.tiled = false;
        self.content.prepare(scene, camera)
    }

    /// Records the prepared frame into `pass` (grid dots first, then the
    /// tiles, then the content back to front, then all glyph text); the
    /// pass must have cleared to [`Renderer::clear_color`]. The pass's
    /// target must have the format and sample count the renderer was
    /// created with.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>) {
        self.content.draw_background(pass);
        if self.tiled
            && let Some(cache) = &self.tiles
        {
            cache.draw(pass);
        }
        self.content.draw_content(pass);
    }
}
