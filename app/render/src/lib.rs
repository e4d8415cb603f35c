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

pub mod batch;
pub mod offscreen;
pub mod png;
mod tess;
mod text;
pub mod tile_cache;
pub mod tiles;

use std::collections::HashSet;
use std::num::NonZeroU64;

use bytemuck::{Pod, Zeroable};

use batch::{Draw, Frame, PathCache, PathVertex, ShapeInstance};
use touchpoint_scene::camera::Camera;
use touchpoint_scene::scene::{Scene, SceneElement};

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

/// Colours of the canvas itself (sRGB).
pub const BACKGROUND: [u8; 4] = [0xf7, 0xf7, 0xf5, 0xff];
pub const GRID_DOT: [u8; 4] = [0xc4, 0xc4, 0xc4, 0xff];
/// Dot spacing at 100% in world units; multiplied by 5 while dots would be
/// closer than [`GRID_MIN_PX`] physical pixels.
pub const GRID_SPACING: f64 = 24.0;
pub const GRID_MIN_PX: f64 = 12.0;

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct Globals {
    viewport_px: [f32; 2],
    origin_in_world: [f32; 2],
    pixels_per_unit: f32,
    grid_spacing: f32,
    grid_columns: f32,
    grid_rows: f32,
    background: [f32; 4],
    grid_color: [f32; 4],
}

/// An sRGB colour as linear light (what the shaders blend in).
fn linear(c: [u8; 4]) -> [f32; 4] {
    let channel = |v: u8| {
        let v = f32::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    [
        channel(c[0]),
        channel(c[1]),
        channel(c[2]),
        f32::from(c[3]) / 255.0,
    ]
}

/// Grid spacing in world units for a zoom: never denser than
/// [`GRID_MIN_PX`] on screen.
pub fn grid_spacing(pixels_per_unit: f64) -> f64 {
    let mut spacing = GRID_SPACING;
    while spacing * pixels_per_unit < GRID_MIN_PX && spacing < 1e9 {
        spacing *= 5.0;
    }
    spacing
}

/// What the last [`Renderer::prepare`] did, for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    pub visible_elements: usize,
    pub instances: usize,
    pub draws: usize,
    /// Whether path triangles were uploaded this frame (elements drawn for
    /// the first time at this level of detail, or changed).
    pub paths_rebuilt: bool,
    /// Triangles held in the path caches, all levels of detail together
    /// (what has been drawn so far, not only this frame).
    pub path_triangles: usize,
    /// Text items drawn as glyphs.
    pub text_areas: usize,
    /// Text items laid out (shaped) this frame: not cached yet.
    pub text_shaped: usize,
    /// Drawn from cached tiles ([`Renderer::enable_tile_cache`]): the tiles
    /// covering the view, and those drawn into this frame. The element,
    /// instance and draw counts above are then those of the tiles drawn.
    pub tiles: usize,
    pub tiles_rendered: usize,
    /// Tiles not drawn yet (in view, shown scaled from another level, or
    /// around the view, drawn ahead for a pan): the caller should draw
    /// another frame soon.
    pub tiles_pending: usize,
    /// Elements drawn live over the tiles: those changing frame after frame.
    pub live_over_tiles: usize,
}

/// Owns the pipelines and buffers; see the module docs.
pub struct Renderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    sample_count: u32,
    globals: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    grid: wgpu::RenderPipeline,
    shapes: wgpu::RenderPipeline,
    paths: wgpu::RenderPipeline,
    instance_buffer: Option<wgpu::Buffer>,
    /// Per path level of detail: the GPU copy of its vertex and index arrays.
    path_buffers: Vec<PathBuffers>,
    path_cache: PathCache,
    /// The level this frame's path draws index into.
    path_level: usize,
    /// This frame's gathered path indices (`Draw::Gathered`).
    gathered: GrowingBuffer,
    draws: Vec<Draw>,
    /// Rows of grid dots on screen this frame.
    dots: u32,
    /// Whether to draw the dot grid (not into tiles).
    grid_on: bool,
    text: text::GlyphText,
    shader: wgpu::ShaderModule,
    globals_layout: wgpu::BindGroupLayout,
    format: wgpu::TextureFormat,
    /// Zoomed-out views drawn from cached tiles, when enabled.
    tiles: Option<Box<tile_cache::TileCache>>,
    /// This frame is drawn from tiles.
    tiled: bool,
    /// Elements not to draw (a tile renderer leaves out what is drawn live
    /// over the tiles).
    skip: HashSet<String>,
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
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("touchpoint canvas"),
            source: wgpu::ShaderSource::Wgsl(include_str!("shader.wgsl").into()),
        });
        let globals = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("globals"),
            size: std::mem::size_of::<Globals>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("globals"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: NonZeroU64::new(std::mem::size_of::<Globals>() as u64),
                },
                count: None,
            }],
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("globals"),
            layout: &layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: globals.as_entire_binding(),
            }],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("canvas"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let target = PipelineTarget {
            format,
            sample_count,
        };
        let pipeline = |label: &str,
                        vs: &str,
                        fs: &str,
                        buffers: &[Option<wgpu::VertexBufferLayout>],
                        topology: wgpu::PrimitiveTopology| {
            canvas_pipeline(
                device,
                &pipeline_layout,
                &shader,
                target,
                PipelineStages {
                    label,
                    vs,
                    fs,
                    buffers,
                    topology,
                },
            )
        };
        let grid = pipeline(
            "grid dots",
            "dot_vs",
            "dot_fs",
            &[],
            wgpu::PrimitiveTopology::TriangleStrip,
        );
        let shape_attrs = wgpu::vertex_attr_array![
            0 => Float32x2, 1 => Float32x2, 2 => Float32, 3 => Float32, 4 => Float32,
            5 => Uint32, 6 => Unorm8x4, 7 => Unorm8x4, 8 => Float32x2, 9 => Float32x2,
            10 => Float32
        ];
        let shapes = pipeline(
            "shapes",
            "shape_vs",
            "shape_fs",
            &[Some(wgpu::VertexBufferLayout {
                array_stride: std::mem::size_of::<ShapeInstance>() as u64,
                step_mode: wgpu::VertexStepMode::Instance,
                attributes: &shape_attrs,
            })],
            wgpu::PrimitiveTopology::TriangleStrip,
        );
        let path_attrs = wgpu::vertex_attr_array![
            0 => Float32x2, 1 => Unorm8x4, 2 => Float32x4, 3 => Float32x2, 4 => Float32x2,
            5 => Float32
        ];
        let paths = pipeline(
            "paths",
            "path_vs",
            "path_fs",
            &[Some(wgpu::VertexBufferLayout {
                array_stride: std::mem::size_of::<PathVertex>() as u64,
                step_mode: wgpu::VertexStepMode::Vertex,
                attributes: &path_attrs,
            })],
            wgpu::PrimitiveTopology::TriangleList,
        );
        Renderer {
            device: device.clone(),
            queue: queue.clone(),
            sample_count,
            globals,
            bind_group,
            grid,
            shapes,
            paths,
            instance_buffer: None,
            path_buffers: Vec::new(),
            path_cache: PathCache::default(),
            path_level: 0,
            gathered: GrowingBuffer::default(),
            draws: Vec::new(),
            dots: 0,
            grid_on: true,
            text: text::GlyphText::new(device, queue, format, sample_count),
            shader,
            globals_layout: layout,
            format,
            tiles: None,
            tiled: false,
            skip: HashSet::new(),
        }
    }

    /// Draws zoomed-out views (at most [`tiles::MAX_TILED_PPU`]) from
    /// cached tiles instead of element by element ([`tiles`]): what the
    /// window does. Offscreen renders (PNG export, snapshots) stay exact.
    pub fn enable_tile_cache(&mut self) {
        if self.tiles.is_none() {
            self.tiles = Some(Box::new(tile_cache::TileCache::new(
                &self.device,
                &self.queue,
                &self.shader,
                &self.globals_layout,
                self.format,
                self.sample_count,
            )));
        }
    }

    /// What the render pass must clear to: the canvas background, in the
    /// linear values wgpu expects for sRGB targets.
    pub fn clear_color() -> wgpu::Color {
        let [r, g, b, a] = linear(BACKGROUND).map(f64::from);
        wgpu::Color { r, g, b, a }
    }

    pub fn sample_count(&self) -> u32 {
        self.sample_count
    }

    /// Culls the scene, builds this frame's instances and uploads them with
    /// the camera. Paths are tessellated at the zoom's level of detail when
    /// an element is first drawn at that level or has changed since (a new
    /// revision from [`Scene::apply`]), and only those new triangles are
    /// uploaded. Call once per frame before [`Renderer::draw`].
    pub fn prepare(&mut self, scene: &Scene, camera: &Camera) -> FrameStats {
        self.write_globals(camera);
        if let Some(cache) = &mut self.tiles
            && let Some(placed) = tiles::visible(camera)
        {
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
            let drawn = self.prepare_elements(scene, camera, live);
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
        let mut visible = batch::cull(scene, camera);
        if !self.skip.is_empty() {
            visible.retain(|e| !self.skip.contains(e.id()));
        }
        self.prepare_elements(scene, camera, visible)
    }

    /// Builds and uploads the instances, paths and text of `visible` (back
    /// to front) for this frame.
    fn prepare_elements(
        &mut self,
        scene: &Scene,
        camera: &Camera,
        visible: Vec<&SceneElement>,
    ) -> FrameStats {
        self.path_cache.collect(scene);
        let Frame {
            instances,
            draws,
            visible_elements,
            path_level,
            gathered,
        } = {
            let text = &mut self.text;
            text.begin();
            batch::build_frame_of(visible, camera, &mut self.path_cache, |el, index, item| {
                text.offer(el, index, item, camera)
            })
        };
        let paths_rebuilt = self.upload_paths(path_level);
        self.gathered.write_tail(
            &self.device,
            &self.queue,
            "gathered path indices",
            wgpu::BufferUsages::INDEX,
            bytemuck::cast_slice(&gathered),
            0,
        );
        let (text_areas, text_shaped) = self.text.prepare(&self.device, &self.queue, camera);
        write_growing(
            &self.device,
            &self.queue,
            &mut self.instance_buffer,
            "shape instances",
            wgpu::BufferUsages::VERTEX,
            bytemuck::cast_slice(&instances),
        );
        let stats = FrameStats {
            visible_elements,
            instances: instances.len(),
            draws: draws.len(),
            paths_rebuilt,
            path_triangles: self.path_cache.triangles(),
            text_areas,
            text_shaped,
            ..FrameStats::default()
        };
        self.draws = draws;
        self.path_level = path_level;
        stats
    }

    /// Uploads the camera and the dot grid's spacing for this frame.
    fn write_globals(&mut self, camera: &Camera) {
        let ppu = camera.pixels_per_unit();
        let spacing = grid_spacing(ppu);
        let cells = camera.viewport_px() / (spacing * ppu);
        let (columns, rows) = (cells.x.ceil() + 2.0, cells.y.ceil() + 2.0);
        // One strip per row of dots (see `dot_vs`).
        self.dots = rows as u32;
        let globals = Globals {
            viewport_px: [camera.viewport_px().x as f32, camera.viewport_px().y as f32],
            origin_in_world: [
                camera.origin_in_world().x as f32,
                camera.origin_in_world().y as f32,
            ],
            pixels_per_unit: ppu as f32,
            grid_spacing: spacing as f32,
            grid_columns: columns as f32,
            grid_rows: rows as f32,
            background: linear(BACKGROUND),
            grid_color: linear(GRID_DOT),
        };
        self.queue
            .write_buffer(&self.globals, 0, bytemuck::bytes_of(&globals));
    }

    /// Brings the GPU copy of path level `level` up to date: writes only
    /// what was appended since the last upload, or everything into new
    /// (doubled) buffers when it does not fit or the level was compacted.
    /// Returns whether anything was written.
    fn upload_paths(&mut self, level: usize) -> bool {
        let Some(cpu) = self.path_cache.levels.get_mut(level) else {
            return false;
        };
        if self.path_buffers.len() <= level {
            self.path_buffers
                .resize_with(level + 1, PathBuffers::default);
        }
        let gpu = &mut self.path_buffers[level];
        let vertices = gpu.vertices.write_tail(
            &self.device,
            &self.queue,
            "path vertices",
            wgpu::BufferUsages::VERTEX,
            bytemuck::cast_slice(&cpu.vertices),
            std::mem::size_of::<PathVertex>() * cpu.uploaded_vertices,
        );
        let indices = gpu.indices.write_tail(
            &self.device,
            &self.queue,
            "path indices",
            wgpu::BufferUsages::INDEX,
            bytemuck::cast_slice(&cpu.indices),
            std::mem::size_of::<u32>() * cpu.uploaded_indices,
        );
        cpu.uploaded_vertices = cpu.vertices.len();
        cpu.uploaded_indices = cpu.indices.len();
        vertices || indices
    }

    /// Records the prepared frame into `pass` (grid dots first, then the
    /// content back to front, then all glyph text); the pass must have cleared to
    /// [`Renderer::clear_color`]. The pass's target must have the format and
    /// sample count the renderer was created with.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>) {
        pass.set_bind_group(0, &self.bind_group, &[]);
        if self.grid_on && self.dots > 0 {
            pass.set_pipeline(&self.grid);
            pass.draw(0..4, 0..self.dots);
        }
        if self.tiled
            && let Some(cache) = &self.tiles
        {
            cache.draw(pass);
        }
        // What is bound: 1 shapes, 2 cached paths, 3 gathered paths.
        let mut bound = 0;
        for draw in &self.draws {
            match draw {
                Draw::Shapes(range) => {
                    let Some(buf) = &self.instance_buffer else {
                        continue;
                    };
                    if bound != 1 {
                        pass.set_pipeline(&self.shapes);
                        pass.set_vertex_buffer(0, buf.slice(..));
                        bound = 1;
                    }
                    pass.draw(0..4, range.clone());
                }
                Draw::Paths(range) | Draw::Gathered(range) => {
                    let gathered = matches!(draw, Draw::Gathered(_));
                    let Some(PathBuffers {
                        vertices: GrowingBuffer { buffer: Some(v) },
                        indices: GrowingBuffer { buffer: Some(i) },
                    }) = self.path_buffers.get(self.path_level)
                    else {
                        continue;
                    };
                    let i = if gathered {
                        let Some(g) = &self.gathered.buffer else {
                            continue;
                        };
                        g
                    } else {
                        i
                    };
                    let want = if gathered { 3 } else { 2 };
                    if bound != want {
                        if bound != 2 && bound != 3 {
                            pass.set_pipeline(&self.paths);
                            pass.set_vertex_buffer(0, v.slice(..));
                        }
                        pass.set_index_buffer(i.slice(..), wgpu::IndexFormat::Uint32);
                        bound = want;
                    }
                    pass.draw_indexed(range.clone(), 0, 0..1);
                }
            }
        }
        // All glyph text last: glyphon draws it in one call (module docs).
        self.text.draw(pass);
    }
}

/// What a canvas pipeline draws into.
#[derive(Clone, Copy)]
struct PipelineTarget {
    format: wgpu::TextureFormat,
    sample_count: u32,
}

/// Which entry points of the canvas shader a pipeline runs, on what.
struct PipelineStages<'a> {
    label: &'a str,
    vs: &'a str,
    fs: &'a str,
    buffers: &'a [Option<wgpu::VertexBufferLayout<'a>>],
    topology: wgpu::PrimitiveTopology,
}

/// A pipeline of the canvas shader: every canvas pipeline (grid, shapes,
/// paths, tiles) blends premultiplied colour the same way.
fn canvas_pipeline(
    device: &wgpu::Device,
    layout: &wgpu::PipelineLayout,
    shader: &wgpu::ShaderModule,
    target: PipelineTarget,
    stages: PipelineStages<'_>,
) -> wgpu::RenderPipeline {
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(stages.label),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module: shader,
            entry_point: Some(stages.vs),
            compilation_options: Default::default(),
            buffers: stages.buffers,
        },
        primitive: wgpu::PrimitiveState {
            topology: stages.topology,
            ..Default::default()
        },
        depth_stencil: None,
        multisample: wgpu::MultisampleState {
            count: target.sample_count,
            ..Default::default()
        },
        fragment: Some(wgpu::FragmentState {
            module: shader,
            entry_point: Some(stages.fs),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format: target.format,
                blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    })
}

/// A GPU buffer mirroring a CPU array that only grows (between compactions).
#[derive(Default)]
struct GrowingBuffer {
    buffer: Option<wgpu::Buffer>,
}

impl GrowingBuffer {
    /// Writes `contents[uploaded..]`, or all of `contents` into a new buffer
    /// (the next power of two) when it does not fit. `uploaded` is 0 after
    /// a compaction. Returns whether anything was written.
    fn write_tail(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        label: &str,
        usage: wgpu::BufferUsages,
        contents: &[u8],
        uploaded: usize,
    ) -> bool {
        let needed = contents.len() as u64;
        if needed == 0 {
            return false;
        }
        let mut from = uploaded.min(contents.len());
        if self.buffer.as_ref().is_none_or(|b| b.size() < needed) {
            self.buffer = Some(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: needed.next_power_of_two().max(4096),
                usage: usage | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
            from = 0;
        }
        // Copies must be a multiple of 4 bytes; every element here is.
        match &self.buffer {
            Some(buf) if from < contents.len() => {
                queue.write_buffer(buf, from as u64, &contents[from..]);
                true
            }
            _ => false,
        }
    }
}

#[derive(Default)]
struct PathBuffers {
    vertices: GrowingBuffer,
    indices: GrowingBuffer,
}

/// Writes `contents` into `slot`, replacing the buffer with a larger one
/// (the next power of two) when it does not fit.
fn write_growing(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    slot: &mut Option<wgpu::Buffer>,
    label: &str,
    usage: wgpu::BufferUsages,
    contents: &[u8],
) {
    if contents.is_empty() {
        return;
    }
    let needed = contents.len() as u64;
    if slot.as_ref().is_none_or(|b| b.size() < needed) {
        *slot = Some(device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: needed.next_power_of_two().max(4096),
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }));
    }
    if let Some(buf) = slot {
        queue.write_buffer(buf, 0, contents);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_never_denser_than_the_minimum() {
        assert_eq!(grid_spacing(1.0), GRID_SPACING);
        for ppu in [0.02, 0.1, 0.3, 1.0, 2.0, 8.0, 16.0] {
            let px = grid_spacing(ppu) * ppu;
            assert!(px >= GRID_MIN_PX, "{ppu}: {px} px");
            // And no sparser than needed: one step finer would be too dense.
            if grid_spacing(ppu) > GRID_SPACING {
                assert!(grid_spacing(ppu) / 5.0 * ppu < GRID_MIN_PX);
            }
        }
    }

    #[test]
    fn srgb_to_linear_endpoints_and_midpoint() {
        assert_eq!(linear([0, 0, 0, 255]), [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(linear([255, 255, 255, 0]), [1.0, 1.0, 1.0, 0.0]);
        // sRGB 50% grey is about 21.4% linear light.
        assert!((linear([128, 128, 128, 255])[0] - 0.2158).abs() < 1e-3);
    }
}
