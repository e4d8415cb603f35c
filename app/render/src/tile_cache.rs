//! The GPU half of tiled drawing ([`super::tiles`] has the geometry): tile
//! textures, drawn by a second, content-only [`ElementRenderer`] when they are
//! missing or damaged, and one textured quad per visible tile each frame.
//!
//! Tiles hold premultiplied linear colour over transparency in an sRGB
//! texture, so sampling and blending them over the dot grid gives what
//! drawing the elements there directly gives, up to filtering.

use std::collections::{HashMap, HashSet};

use bytemuck::{Pod, Zeroable};

use crate::buffers::GrowingBuffer;
use crate::elements::{ElementRenderer, FrameStats};
use crate::pipeline::{PipelineStages, PipelineTarget, canvas_pipeline};
use crate::tiles::{self, GUTTER_PX, Placed, TILE_PX, TileKey};
use touchpoint_scene::geom::{Rect, Vec2};
use touchpoint_scene::scene::{Scene, SceneStamp};

/// What tile textures are: sampled (filtered) and rendered into.
const TILE_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;
/// Tiles kept across frames (~260 KiB each, ~200 MiB in all), least
/// recently shown dropped first; at least [`tiles::MAX_VISIBLE`] so one
/// frame's tiles always fit.
const MAX_TILES: usize = 768;
/// Drawing into tiles per frame while others can stand in for the rest (a
/// coarser or finer level's tiles, scaled): zooming across a level then
/// sharpens over a few frames instead of stalling one frame for all of
/// them (~270 ms for 10,000 elements on lavapipe). Whichever limit comes
/// first: tiles, or elements drawn into them (what the work scales with; a
/// software rasteriser draws ~1,000 of them in ~10 ms, BENCHMARKS.md).
const RENDERS_PER_FRAME: usize = 3;
const ELEMENTS_PER_FRAME: usize = 1_000;
/// Most elements drawn live over the tiles at once (see
/// [`TileCache::invalidate`]); beyond them changes just redraw tiles.
const MAX_LIVE: usize = 64;
/// Frames an element drawn live must stay unchanged before it goes back
/// into the tiles.
const COOL_FRAMES: u64 = 8;
/// How many levels up (coarser) to look for a stand-in.
const STAND_IN_LEVELS: i32 = 3;

/// One tile on screen: where (physical pixels) and which texels.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct TileInstance {
    screen: [f32; 4],
    uv: [f32; 4],
}

struct Tile {
    view: wgpu::TextureView,
    bind_group: wgpu::BindGroup,
    /// Drawn and not damaged since.
    valid: bool,
    /// Nothing of the scene reaches the tile: it is neither drawn into nor shown.
    empty: bool,
    last_used: u64,
}

/// What [`TileCache::prepare`] did this frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TileStats {
    /// Tiles covering the view (empty ones included).
    pub visible: usize,
    /// Tiles in view drawn into this frame (new or damaged).
    pub rendered: usize,
    /// Tiles around the view drawn into ahead of a pan this frame.
    pub ahead: usize,
    /// Tiles still to draw: in view (shown scaled from another level
    /// meanwhile) or in the ring around it. Draw another frame soon.
    pub pending: usize,
    /// Elements, instances and draws of the tiles drawn this frame.
    pub elements: usize,
    pub instances: usize,
    pub draws: usize,
}

impl TileStats {
    /// Whether this frame has drawn into as many tiles as it may (see
    /// [`RENDERS_PER_FRAME`]).
    fn over_budget(&self) -> bool {
        self.rendered + self.ahead >= RENDERS_PER_FRAME || self.elements >= ELEMENTS_PER_FRAME
    }
}

/// See the module docs.
pub struct TileCache {
    device: wgpu::Device,
    queue: wgpu::Queue,
    content: Box<ElementRenderer>,
    tiles: HashMap<TileKey, Tile>,
    /// The scene state the valid tiles show.
    stamp: Option<SceneStamp>,
    frame: u64,
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    instances: GrowingBuffer,
    /// The tile each of this frame's quads samples, in instance order.
    shown: Vec<TileKey>,
    /// Elements drawn live over the tiles, with the last frame they changed.
    live: HashMap<String, u64>,
    /// Elements changed in the last frame or this one, with that frame.
    recent: HashMap<String, u64>,
}

impl TileCache {
    /// Tiles composited into passes of `format` and `sample_count`, with
    /// the globals bind group (group 0) of the renderer that owns the cache.
    pub(crate) fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        shader: &wgpu::ShaderModule,
        globals_layout: &wgpu::BindGroupLayout,
        format: wgpu::TextureFormat,
        sample_count: u32,
    ) -> TileCache {
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("tile texture"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("tiles"),
            bind_group_layouts: &[Some(globals_layout), Some(&layout)],
            immediate_size: 0,
        });
        let attrs = wgpu::vertex_attr_array![0 => Float32x4, 1 => Float32x4];
        let pipeline = canvas_pipeline(
            device,
            &pipeline_layout,
            shader,
            PipelineTarget {
                format,
                sample_count,
            },
            PipelineStages {
                label: "tiles",
                vs: "tile_vs",
                fs: "tile_fs",
                buffers: &[Some(wgpu::VertexBufferLayout {
                    array_stride: std::mem::size_of::<TileInstance>() as u64,
                    step_mode: wgpu::VertexStepMode::Instance,
                    attributes: &attrs,
                })],
                topology: wgpu::PrimitiveTopology::TriangleStrip,
            },
        );
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("tiles"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        let mut content = ElementRenderer::new(device, queue, TILE_FORMAT, 1);
        content.grid_on = false;
        TileCache {
            device: device.clone(),
            queue: queue.clone(),
            content: Box::new(content),
            tiles: HashMap::new(),
            stamp: None,
            frame: 0,
            pipeline,
            layout,
            sampler,
            instances: GrowingBuffer::default(),
            shown: Vec::new(),
            live: HashMap::new(),
            recent: HashMap::new(),
        }
    }

    /// Brings the tiles in `placed` up to date with `scene` (drawing the
    /// missing and damaged ones now, each in its own submission) and
    /// uploads where they go on screen; then, while the frame's budget
    /// lasts, draws the tiles `ahead` (the ring around the view).
    pub fn prepare(&mut self, scene: &Scene, placed: &[Placed], ahead: &[TileKey]) -> TileStats {
        self.frame += 1;
        self.invalidate(scene);
        let mut stats = TileStats {
            visible: placed.len(),
            ..TileStats::default()
        };
        let mut quads = Vec::with_capacity(placed.len());
        self.shown.clear();
        for p in placed {
            if stats.over_budget()
                && !self.is_valid(&p.key)
                && let Some(parts) = self.stand_in(p.key)
            {
                stats.pending += 1;
                let world = p.key.world_rect();
                let scale = p.screen.width() / world.width();
                let to_screen = |w: Vec2| p.screen.min + (w - world.min) * scale;
                for (key, uv, part) in parts {
                    if let Some(t) = self.tiles.get_mut(&key) {
                        t.last_used = self.frame;
                    }
                    let screen = Rect::from_corners(to_screen(part.min), to_screen(part.max));
                    quads.push(TileInstance::new(screen, uv));
                    self.shown.push(key);
                }
                continue;
            }
            if let Some(drawn) = self.refresh(scene, p.key) {
                stats.rendered += 1;
                stats.elements += drawn.visible_elements;
                stats.instances += drawn.instances;
                stats.draws += drawn.draws;
            }
            if self.tiles.get(&p.key).is_none_or(|t| t.empty) {
                continue;
            }
            quads.push(TileInstance::new(p.screen, content_uv()));
            self.shown.push(p.key);
        }
        for (i, key) in ahead.iter().enumerate() {
            if stats.over_budget() {
                stats.pending += ahead[i..].iter().filter(|k| !self.is_valid(k)).count();
                break;
            }
            if let Some(drawn) = self.refresh(scene, *key) {
                stats.ahead += 1;
                stats.elements += drawn.visible_elements;
            }
        }
        // Live elements go back into the tiles only in frames drawn later.
        stats.pending += self.live.len();
        self.evict();
        self.instances.write_tail(
            &self.device,
            &self.queue,
            "tile quads",
            wgpu::BufferUsages::VERTEX,
            bytemuck::cast_slice(&quads),
            0,
        );
        stats
    }

    fn is_valid(&self, key: &TileKey) -> bool {
        self.tiles.get(key).is_some_and(|t| t.valid)
    }

    /// Makes sure `key` has a tile, marks it used this frame, and draws it
    /// when it is new or damaged: what drawing it did, if it was drawn.
    fn refresh(&mut self, scene: &Scene, key: TileKey) -> Option<FrameStats> {
        if !self.tiles.contains_key(&key) {
            let tile = self.new_tile();
            self.tiles.insert(key, tile);
        }
        let tile = self.tiles.get_mut(&key)?;
        tile.last_used = self.frame;
        if tile.valid {
            return None;
        }
        Some(draw_tile(
            &self.device,
            &self.queue,
            &mut self.content,
            scene,
            key,
            tile,
        ))
    }

    /// Marks the tiles the scene's changes since the last frame touch (all
    /// of them for another scene, or one that moved on too far), and keeps
    /// track of what changes frame after frame: an element changed in two
    /// frames in a row is "live", left out of the tiles and drawn over them
    /// each frame, so dragging it redraws no tile; once it has been still
    /// for [`COOL_FRAMES`] frames its tiles are drawn again with it. (The
    /// app's own drag commits once, on release; streams of edits come from
    /// typing and from other clients.)
    fn invalidate(&mut self, scene: &Scene) {
        let frame = self.frame;
        let mut damaged: Vec<Rect> = Vec::new();
        match self.stamp.and_then(|s| scene.damage_since(s)) {
            Some(damage) => {
                let live_before: HashSet<&str> = self.live.keys().map(String::as_str).collect();
                let mut now_live: Vec<String> = Vec::new();
                for d in damage {
                    if live_before.contains(d.id.as_str()) {
                        // Not in any tile: nothing to redraw.
                        now_live.push(d.id.clone());
                        continue;
                    }
                    // Tiles drop (or take) it this once.
                    damaged.push(d.bounds);
                    let again = self.recent.get(&d.id).is_some_and(|&f| f + 1 == frame);
                    if again && live_before.len() + now_live.len() < MAX_LIVE {
                        now_live.push(d.id.clone());
                    }
                    self.recent.insert(d.id.clone(), frame);
                }
                for id in now_live {
                    self.live.insert(id, frame);
                }
            }
            None => {
                for tile in self.tiles.values_mut() {
                    tile.valid = false;
                }
                self.live.clear();
                self.recent.clear();
            }
        }
        // Still long enough: back into the tiles where it is now.
        let cooled: Vec<String> = self
            .live
            .iter()
            .filter(|(_, f)| frame - **f > COOL_FRAMES)
            .map(|(id, _)| id.clone())
            .collect();
        for id in cooled {
            self.live.remove(&id);
            if let Some(el) = scene.get(&id) {
                damaged.push(el.bounds);
            }
        }
        self.recent.retain(|_, f| *f + 1 >= frame);
        if !damaged.is_empty() {
            for (key, tile) in &mut self.tiles {
                if tile.valid && damaged.iter().any(|r| tiles::is_damaged(key, r)) {
                    tile.valid = false;
                }
            }
        }
        if self.content.skip.len() != self.live.len()
            || self.live.keys().any(|id| !self.content.skip.contains(id))
        {
            self.content.skip = self.live.keys().cloned().collect();
        }
        self.stamp = Some(scene.stamp());
    }

    /// Ids of the elements drawn live over the tiles this frame.
    pub fn live_ids(&self) -> impl Iterator<Item = &str> {
        self.live.keys().map(String::as_str)
    }

    /// What can be shown in place of `key` until it is drawn: the part of a
    /// valid coarser tile over it, or its four finer tiles when all are
    /// valid; as (tile, texture rect, world rect) quads. `None`: nothing
    /// cached covers it.
    fn stand_in(&self, key: TileKey) -> Option<Vec<(TileKey, Rect, Rect)>> {
        let placed = key.world_rect();
        let valid = |k: &TileKey| self.tiles.get(k).is_some_and(|t| t.valid);
        let shown = |k: &TileKey| self.tiles.get(k).is_some_and(|t| !t.empty);
        for up in 1..=STAND_IN_LEVELS {
            let coarse = TileKey {
                level: key.level - up,
                x: key.x.div_euclid(1 << up),
                y: key.y.div_euclid(1 << up),
            };
            if valid(&coarse) {
                if !shown(&coarse) {
                    return Some(Vec::new());
                }
                let world = coarse.world_rect();
                let side = f64::from(tiles::texture_px());
                let to_uv = |p: Vec2| {
                    (Vec2::splat(f64::from(GUTTER_PX)) + (p - world.min) * coarse.pixels_per_unit())
                        / side
                };
                let uv = Rect::from_corners(to_uv(placed.min), to_uv(placed.max));
                return Some(vec![(coarse, uv, placed)]);
            }
        }
        let children: Vec<TileKey> = (0..4)
            .map(|i| TileKey {
                level: key.level + 1,
                x: key.x * 2 + (i & 1),
                y: key.y * 2 + (i >> 1),
            })
            .collect();
        if children.iter().all(valid) {
            return Some(
                children
                    .into_iter()
                    .filter(|k| shown(k))
                    .map(|k| (k, content_uv(), k.world_rect()))
                    .collect(),
            );
        }
        None
    }

    fn new_tile(&self) -> Tile {
        let side = tiles::texture_px();
        let texture = self.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("tile"),
            size: wgpu::Extent3d {
                width: side,
                height: side,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: TILE_FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        });
        let view = texture.create_view(&Default::default());
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("tile"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&view),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::Sampler(&self.sampler),
                },
            ],
        });
        Tile {
            view,
            bind_group,
            valid: false,
            empty: true,
            last_used: 0,
        }
    }

    /// Drops the least recently shown tiles beyond [`MAX_TILES`], never one
    /// shown this frame.
    fn evict(&mut self) {
        if self.tiles.len() <= MAX_TILES {
            return;
        }
        let mut old: Vec<(u64, TileKey)> = self
            .tiles
            .iter()
            .filter(|(_, t)| t.last_used < self.frame)
            .map(|(k, t)| (t.last_used, *k))
            .collect();
        old.sort_unstable();
        let excess = self.tiles.len() - MAX_TILES;
        for (_, key) in old.into_iter().take(excess) {
            self.tiles.remove(&key);
        }
    }

    /// Draws this frame's tiles into `pass`, whose group 0 is already bound.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>) {
        let Some(quads) = &self.instances.buffer else {
            return;
        };
        pass.set_pipeline(&self.pipeline);
        pass.set_vertex_buffer(0, quads.slice(..));
        for (i, key) in self.shown.iter().enumerate() {
            let Some(tile) = self.tiles.get(key) else {
                continue;
            };
            pass.set_bind_group(1, &tile.bind_group, &[]);
            let i = i as u32;
            pass.draw(0..4, i..i + 1);
        }
    }
}

/// The texture coordinates of a tile's content (inside the gutter).
fn content_uv() -> Rect {
    let side = f64::from(tiles::texture_px());
    Rect::from_corners(
        Vec2::splat(f64::from(GUTTER_PX) / side),
        Vec2::splat(f64::from(GUTTER_PX + TILE_PX) / side),
    )
}

impl TileInstance {
    fn new(screen: Rect, uv: Rect) -> TileInstance {
        let f = |r: Rect| {
            [
                r.min.x as f32,
                r.min.y as f32,
                r.max.x as f32,
                r.max.y as f32,
            ]
        };
        TileInstance {
            screen: f(screen),
            uv: f(uv),
        }
    }
}

/// Draws the scene into one tile with the content-only renderer.
fn draw_tile(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    content: &mut ElementRenderer,
    scene: &Scene,
    key: TileKey,
    tile: &mut Tile,
) -> FrameStats {
    let stats = content.prepare(scene, &key.camera());
    tile.valid = true;
    tile.empty = stats.visible_elements == 0;
    if tile.empty {
        return stats;
    }
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("tile"),
    });
    {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("tile"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &tile.view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        content.draw(&mut pass);
    }
    queue.submit(std::iter::once(encoder.finish()));
    stats
}
