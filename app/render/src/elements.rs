//! Drawing elements: culled, batched into instanced quads and path
//! triangles, then glyph text, into one target format (module docs of the
//! crate). Used directly for exact renders and by the tile cache to draw
//! tiles; [`crate::Renderer`] puts the tiles and the live elements together.

use std::collections::HashSet;
use std::num::NonZeroU64;

use crate::batch::{self, Draw, Frame, PathCache, PathVertex, ShapeInstance};
use crate::buffers::{GrowingBuffer, PathBuffers, write_growing};
use crate::look::{BACKGROUND, GRID_DOT, grid_spacing, linear};
use crate::pipeline::{Globals, PipelineStages, PipelineTarget, canvas_pipeline};
use crate::text;
use touchpoint_scene::camera::Camera;
use touchpoint_scene::scene::{Scene, SceneElement};

/// What the last [`crate::Renderer::prepare`] did, for logs and benchmarks.
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
    /// Drawn from cached tiles ([`crate::Renderer::enable_tile_cache`]): the tiles
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

/// Draws elements: owns the pipelines, the instance and path buffers and
/// the glyph text of one target format.
pub struct ElementRenderer {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) sample_count: u32,
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
    pub(crate) grid_on: bool,
    text: text::GlyphText,
    pub(crate) shader: wgpu::ShaderModule,
    pub(crate) globals_layout: wgpu::BindGroupLayout,
    pub(crate) format: wgpu::TextureFormat,
    /// Elements not to draw (a tile renderer leaves out what is drawn live
    /// over the tiles).
    pub(crate) skip: HashSet<String>,
}

impl ElementRenderer {
    /// Pipelines for drawing into `format` targets with `sample_count`
    /// samples (1 or 4). The device and queue are shared, cheap handles.
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        format: wgpu::TextureFormat,
        sample_count: u32,
    ) -> ElementRenderer {
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
        ElementRenderer {
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
            skip: HashSet::new(),
        }
    }

    pub fn sample_count(&self) -> u32 {
        self.sample_count
    }

    /// Culls the scene, builds this frame's instances and uploads them with
    /// the camera. Paths are tessellated at the zoom's level of detail when
    /// an element is first drawn at that level or has changed since (a new
    /// revision from [`Scene::apply`]), and only those new triangles are
    /// uploaded. Call once per frame before [`ElementRenderer::draw`].
    pub fn prepare(&mut self, scene: &Scene, camera: &Camera) -> FrameStats {
        self.write_globals(camera);
        let mut visible = batch::cull(scene, camera);
        if !self.skip.is_empty() {
            visible.retain(|e| !self.skip.contains(e.id()));
        }
        self.prepare_elements(scene, camera, visible)
    }

    /// Builds and uploads the instances, paths and text of `visible` (back
    /// to front) for this frame.
    pub(crate) fn prepare_elements(
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
    pub(crate) fn write_globals(&mut self, camera: &Camera) {
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
    /// [`crate::Renderer::clear_color`]. The pass's target must have the format and
    /// sample count the renderer was created with.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>) {
        self.draw_background(pass);
        self.draw_content(pass);
    }

    /// The dot grid (and the camera's bind group, which what follows uses).
    pub(crate) fn draw_background(&self, pass: &mut wgpu::RenderPass<'_>) {
        pass.set_bind_group(0, &self.bind_group, &[]);
        if self.grid_on && self.dots > 0 {
            pass.set_pipeline(&self.grid);
            pass.draw(0..4, 0..self.dots);
        }
    }

    /// The prepared elements, back to front, then their glyph text.
    pub(crate) fn draw_content(&self, pass: &mut wgpu::RenderPass<'_>) {
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
