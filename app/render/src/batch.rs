//! The CPU half of drawing a frame, with no GPU in sight: culled scene items
//! become shape instances (signed-distance quads), ranges of cached path
//! triangles, and level-of-detail text bars, in drawing order.
//!
//! Kept apart from the wgpu code so it can be tested (and timed) on its own.

use std::collections::HashMap;
use std::ops::Range;

use bytemuck::{Pod, Zeroable};
use touchpoint_crdt::Align;

use touchpoint_scene::camera::Camera;
use touchpoint_scene::geom::{OrientedRect, Rect, Vec2};
use touchpoint_scene::scene::{
    Item, Primitive, Rgba, Scene, SceneElement, ShapeItem, TextItem, VAlign,
};

use super::tess;

/// Instance kinds; keep in step with `shader.wgsl`.
pub const KIND_BOX: u32 = 0;
pub const KIND_ELLIPSE: u32 = 1;
pub const KIND_SHADOW: u32 = 2;

/// Sticky-note shadow: offset down and blurred, all within
/// [`touchpoint_scene::scene::item::SHADOW_EXTENT`] (3 + 8 < 12 world units).
const SHADOW_OFFSET: f64 = 3.0;
const SHADOW_BLUR: f64 = 8.0;
/// Shadows whose blur is narrower than this on screen (physical pixels) are
/// left out: at that size they are a faint fringe under the note.
const SHADOW_MIN_PX: f64 = 1.0;
const SHADOW_COLOR: Rgba = Rgba {
    r: 0,
    g: 0,
    b: 0,
    a: 56,
};

/// Level-of-detail text: line height and average glyph advance as fractions
/// of the font size, bar thickness, and the alpha bars are drawn at.
const LINE_HEIGHT: f64 = 1.3;
const ADVANCE: f64 = 0.5;
const BAR_THICKNESS: f64 = 0.55;
const BAR_ALPHA: f64 = 0.45;
/// Line pitch on screen (physical pixels) under which a text item's bars
/// are merged into one block.
const MERGE_BARS_PX: f64 = 2.0;

/// One signed-distance quad (a shape, a shadow or a text bar). The layout is
/// the vertex buffer layout of the shape pipeline.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct ShapeInstance {
    pub center: [f32; 2],
    pub half_size: [f32; 2],
    pub rotation: f32,
    pub radius: f32,
    pub stroke_width: f32,
    pub kind: u32,
    /// sRGB, straight alpha, as `Unorm8x4`.
    pub fill: [u8; 4],
    pub stroke: [u8; 4],
    pub clip: Clip,
}

/// The frame box an item is clipped to, as vertex data. A negative half
/// size means no clip.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct Clip {
    pub center: [f32; 2],
    pub half_size: [f32; 2],
    pub rotation: f32,
}

impl Clip {
    pub const NONE: Clip = Clip {
        center: [0.0; 2],
        half_size: [-1.0; 2],
        rotation: 0.0,
    };

    pub fn of(clip: Option<&OrientedRect>) -> Clip {
        clip.map_or(Clip::NONE, |c| Clip {
            center: f32x2(c.center),
            half_size: f32x2(c.half_size),
            rotation: c.rotation as f32,
        })
    }
}

/// One vertex of a tessellated path, in world units.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct PathVertex {
    pub position: [f32; 2],
    /// sRGB, straight alpha, as `Unorm8x4`.
    pub color: [u8; 4],
    /// Analytic antialiasing: normal, half width, mode (`tess::MeshVertex`).
    pub aa: [f32; 4],
    pub clip: Clip,
}

/// A run of draws with one pipeline, in drawing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Draw {
    /// Instances of the shape pipeline.
    Shapes(Range<u32>),
    /// Indices into the path index buffer (of the frame's level of detail).
    Paths(Range<u32>),
    /// Indices into [`Frame::gathered`]: the ranges of a path run that are
    /// not contiguous in the cache, copied together to draw as one call.
    Gathered(Range<u32>),
}

/// What a frame draws: instances to upload and draws to issue.
#[derive(Debug, Default)]
pub struct Frame {
    pub instances: Vec<ShapeInstance>,
    pub draws: Vec<Draw>,
    /// Elements that survived culling.
    pub visible_elements: usize,
    /// The path level of detail the `Draw::Paths` ranges index into.
    pub path_level: usize,
    /// Path indices copied per run ([`Draw::Gathered`]).
    pub gathered: Vec<u32>,
}

// ---------------------------------------------------------------------------
// Level of detail for paths.

/// Path levels of detail: level `k` flattens curves, joins and caps with a
/// tolerance of `TOLERANCE * 4^k` world units.
pub const PATH_LEVELS: usize = 6;
/// The most a level's flattening may stray on screen, in physical pixels.
pub const PATH_MAX_ERROR_PX: f64 = 0.3;

/// Flattening tolerance of path level `level`, in world units.
pub fn path_tolerance(level: usize) -> f32 {
    tess::TOLERANCE * 4f32.powi(level.min(PATH_LEVELS - 1) as i32)
}

/// The coarsest path level whose flattening error stays under
/// [`PATH_MAX_ERROR_PX`] at `pixels_per_unit`; level 0 (the finest, a tenth
/// of a world unit) from 100% up, whatever the error.
pub fn path_level(pixels_per_unit: f64) -> usize {
    let mut level = 0;
    while level + 1 < PATH_LEVELS
        && f64::from(path_tolerance(level + 1)) * pixels_per_unit <= PATH_MAX_ERROR_PX
    {
        level += 1;
    }
    level
}

/// Tessellated paths of one level of detail, appended as elements become
/// visible: per `(element id, revision)` ranges in one vertex and one index
/// array that only grow between compactions, so the GPU copy is updated by
/// writing the new tail, not rebuilt.
#[derive(Debug, Default)]
pub struct PathLevel {
    entries: HashMap<String, CachedElement>,
    pub vertices: Vec<PathVertex>,
    pub indices: Vec<u32>,
    /// Indices (and vertices) no live entry refers to any more.
    garbage_indices: usize,
    garbage_vertices: usize,
    /// What of `vertices` / `indices` the GPU has; reset to 0 when the
    /// arrays were compacted (everything must be uploaded again).
    pub uploaded_vertices: usize,
    pub uploaded_indices: usize,
}

#[derive(Debug)]
struct CachedElement {
    revision: u64,
    vertices: Range<u32>,
    /// Where each path item's indices sit in `indices`, in item order.
    ranges: Vec<Range<u32>>,
}

impl CachedElement {
    fn index_count(&self) -> usize {
        self.ranges.iter().map(|r| r.len()).sum()
    }
}

impl PathLevel {
    /// Index ranges of `el`'s path items at `tolerance`, tessellating them
    /// first when the element is new or changed.
    fn ranges(&mut self, el: &SceneElement, tolerance: f32) -> &[Range<u32>] {
        let fresh = self
            .entries
            .get(el.id())
            .is_some_and(|c| c.revision == el.revision);
        if !fresh {
            if let Some(old) = self.entries.remove(el.id()) {
                self.forget(&old);
            }
            let entry = self.append(el, tolerance);
            self.entries.insert(el.id().to_owned(), entry);
        }
        match self.entries.get(el.id()) {
            Some(c) => &c.ranges,
            None => &[],
        }
    }

    fn forget(&mut self, old: &CachedElement) {
        self.garbage_indices += old.index_count();
        self.garbage_vertices += old.vertices.len();
    }

    fn append(&mut self, el: &SceneElement, tolerance: f32) -> CachedElement {
        let clip = Clip::of(el.clip.as_ref());
        let first_vertex = self.vertices.len() as u32;
        let mut ranges = Vec::new();
        for item in &el.items {
            let Item::Path(p) = item else { continue };
            let mesh = tess::tessellate(p, tolerance);
            let base = self.vertices.len() as u32;
            let start = self.indices.len() as u32;
            self.vertices
                .extend(mesh.vertices.iter().map(|v| PathVertex {
                    position: v.position,
                    color: v.color,
                    aa: v.aa,
                    clip,
                }));
            self.indices.extend(mesh.indices.iter().map(|i| i + base));
            ranges.push(start..self.indices.len() as u32);
        }
        CachedElement {
            revision: el.revision,
            vertices: first_vertex..self.vertices.len() as u32,
            ranges,
        }
    }

    /// Drops entries of elements no longer in `scene` and, when more than
    /// half of the arrays is garbage, rewrites them without it.
    fn collect(&mut self, scene: &Scene) {
        // Entries only exist for elements with paths: more entries than
        // elements means some were deleted.
        if self.entries.len() > scene.len() {
            let mut gone = Vec::new();
            self.entries.retain(|id, c| {
                let keep = scene.get(id).is_some_and(|e| e.revision == c.revision);
                if !keep {
                    gone.push((c.index_count(), c.vertices.len()));
                }
                keep
            });
            for (i, v) in gone {
                self.garbage_indices += i;
                self.garbage_vertices += v;
            }
        }
        if self.garbage_indices > 1 << 16 && self.garbage_indices * 2 > self.indices.len() {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let mut vertices = Vec::with_capacity(self.vertices.len() - self.garbage_vertices);
        let mut indices = Vec::with_capacity(self.indices.len() - self.garbage_indices);
        // In the order the entries were appended, so ranges of elements
        // drawn one after the other stay contiguous.
        let mut entries: Vec<&mut CachedElement> = self.entries.values_mut().collect();
        entries.sort_by_key(|c| c.vertices.start);
        for c in entries {
            let new_base = vertices.len() as u32;
            vertices.extend_from_slice(
                &self.vertices[c.vertices.start as usize..c.vertices.end as usize],
            );
            for r in &mut c.ranges {
                let start = indices.len() as u32;
                indices.extend(
                    self.indices[r.start as usize..r.end as usize]
                        .iter()
                        .map(|i| i - c.vertices.start + new_base),
                );
                *r = start..indices.len() as u32;
            }
            c.vertices = new_base..vertices.len() as u32;
        }
        self.vertices = vertices;
        self.indices = indices;
        self.garbage_indices = 0;
        self.garbage_vertices = 0;
        self.uploaded_vertices = 0;
        self.uploaded_indices = 0;
    }

    /// Triangles held (live and garbage).
    pub fn triangles(&self) -> usize {
        self.indices.len() / 3
    }
}

/// Tessellated paths per level of detail ([`PathLevel`]), filled lazily
/// with what frames draw.
#[derive(Debug, Default)]
pub struct PathCache {
    pub levels: Vec<PathLevel>,
}

impl PathCache {
    pub fn level(&self, level: usize) -> Option<&PathLevel> {
        self.levels.get(level)
    }

    fn level_mut(&mut self, level: usize) -> &mut PathLevel {
        if self.levels.len() <= level {
            self.levels.resize_with(level + 1, PathLevel::default);
        }
        &mut self.levels[level]
    }

    /// Forgets deleted elements and compacts every level (see
    /// [`PathLevel::collect`]); cheap when nothing was deleted.
    pub fn collect(&mut self, scene: &Scene) {
        for level in &mut self.levels {
            level.collect(scene);
        }
    }

    /// Tessellated triangles held in all levels.
    pub fn triangles(&self) -> usize {
        self.levels.iter().map(PathLevel::triangles).sum()
    }
}

// ---------------------------------------------------------------------------
// Batching: fewer draw runs.

/// Side of the screen tiles that batching tracks overlap with, in pixels.
const TILE_PX: f64 = 32.0;

/// Sorts the frame's items into alternating runs (shapes, paths, shapes,
/// ...) while keeping the drawing order wherever two items may overlap: an
/// element goes into the earliest run of the right kind that comes after
/// every run already drawn in the screen tiles its bounds touch. Elements
/// that do not overlap share runs, so a board of thousands of separate
/// elements needs a handful of draw calls instead of one per alternation.
struct Batcher {
    /// Even runs are shapes, odd runs are paths.
    shapes: Vec<Vec<ShapeInstance>>,
    paths: Vec<Vec<Range<u32>>>,
    /// Per tile: the last run drawn there, plus one (0: none).
    tiles: Vec<u32>,
    columns: usize,
    rows: usize,
    origin: Vec2,
    pixels_per_unit: f64,
}

impl Batcher {
    fn new(camera: &Camera) -> Batcher {
        let size = camera.viewport_px();
        let columns = (size.x / TILE_PX).ceil().max(1.0) as usize;
        let rows = (size.y / TILE_PX).ceil().max(1.0) as usize;
        Batcher {
            shapes: Vec::new(),
            paths: Vec::new(),
            tiles: vec![0; columns * rows],
            columns,
            rows,
            origin: camera.origin_in_world(),
            pixels_per_unit: camera.pixels_per_unit(),
        }
    }

    /// Tiles (column and row ranges) that `bounds` (world) touch.
    fn tile_span(&self, bounds: &Rect) -> (Range<usize>, Range<usize>) {
        let to_tile = |world: f64, origin: f64, n: usize| {
            let t = ((world - origin) * self.pixels_per_unit / TILE_PX).floor();
            t.clamp(0.0, (n - 1) as f64) as usize
        };
        let c0 = to_tile(bounds.min.x, self.origin.x, self.columns);
        let c1 = to_tile(bounds.max.x, self.origin.x, self.columns);
        let r0 = to_tile(bounds.min.y, self.origin.y, self.rows);
        let r1 = to_tile(bounds.max.y, self.origin.y, self.rows);
        (c0..c1 + 1, r0..r1 + 1)
    }

    /// The first run an element with `bounds` may be drawn in.
    fn floor(&self, span: &(Range<usize>, Range<usize>)) -> usize {
        let mut run = 0;
        for r in span.1.clone() {
            for c in span.0.clone() {
                run = run.max(self.tiles[r * self.columns + c]);
            }
        }
        // Stored plus one; the run itself may be reused.
        run.saturating_sub(1) as usize
    }

    fn mark(&mut self, span: &(Range<usize>, Range<usize>), run: usize) {
        let stored = run as u32 + 1;
        for r in span.1.clone() {
            for c in span.0.clone() {
                let t = &mut self.tiles[r * self.columns + c];
                *t = (*t).max(stored);
            }
        }
    }

    /// The run at or after `at` holding `paths` (odd) or shapes (even).
    fn run_for(at: usize, paths: bool) -> usize {
        if (at % 2 == 1) == paths { at } else { at + 1 }
    }

    fn push_shape(&mut self, at: &mut usize, instance: ShapeInstance) {
        *at = Batcher::run_for(*at, false);
        let slot = *at / 2;
        if self.shapes.len() <= slot {
            self.shapes.resize_with(slot + 1, Vec::new);
        }
        self.shapes[slot].push(instance);
    }

    fn push_paths(&mut self, at: &mut usize, indices: Range<u32>) {
        if indices.is_empty() {
            return;
        }
        *at = Batcher::run_for(*at, true);
        let slot = *at / 2;
        if self.paths.len() <= slot {
            self.paths.resize_with(slot + 1, Vec::new);
        }
        let ranges = &mut self.paths[slot];
        match ranges.last_mut() {
            Some(r) if r.end == indices.start => r.end = indices.end,
            _ => ranges.push(indices),
        }
    }

    fn finish(self, frame: &mut Frame, level: &PathLevel) {
        let runs = (self.shapes.len() * 2).max(self.paths.len() * 2);
        let mut shapes = self.shapes.into_iter();
        let mut paths = self.paths.into_iter();
        for run in 0..runs {
            if run % 2 == 0 {
                let Some(instances) = shapes.next() else {
                    continue;
                };
                if instances.is_empty() {
                    continue;
                }
                let start = frame.instances.len() as u32;
                frame.instances.extend(instances);
                frame
                    .draws
                    .push(Draw::Shapes(start..frame.instances.len() as u32));
            } else {
                let Some(ranges) = paths.next() else { continue };
                if let [range] = ranges.as_slice() {
                    frame.draws.push(Draw::Paths(range.clone()));
                } else if !ranges.is_empty() {
                    // Many pieces: one draw call over a copy of their indices
                    // costs less than one call per piece.
                    let start = frame.gathered.len() as u32;
                    for r in ranges {
                        frame
                            .gathered
                            .extend_from_slice(&level.indices[r.start as usize..r.end as usize]);
                    }
                    frame
                        .draws
                        .push(Draw::Gathered(start..frame.gathered.len() as u32));
                }
            }
        }
    }
}

/// Builds the frame for `camera`: culls with the scene's spatial index, then
/// turns each visible item into instances or path ranges, batched into as
/// few runs as the drawing order allows (`Batcher`). Paths are tessellated
/// here, at the camera's level of detail, for elements that are new or
/// changed since they were last drawn.
pub fn build_frame(scene: &Scene, camera: &Camera, paths: &mut PathCache) -> Frame {
    build_frame_of(cull(scene, camera), camera, paths, |_, _, _| false)
}

/// What `camera` sees of `scene`, back to front. The view is grown by the
/// two pixels antialiased edges reach past an element's bounds, so an
/// element just outside still draws its fringe (tiles meet at such edges).
pub fn cull<'a>(scene: &'a Scene, camera: &Camera) -> Vec<&'a SceneElement> {
    scene.query_rect(
        &camera
            .visible_world_rect()
            .expand(2.0 * camera.units_per_pixel()),
    )
}

/// [`build_frame`] for elements already chosen (back to front: what is
/// left after culling, or the few drawn live over cached tiles), offering
/// each text item to `glyphs` (element, item index, item) first: when it
/// returns true the item is drawn as glyphs by the caller and gets no
/// level-of-detail bars here.
pub fn build_frame_of(
    visible: Vec<&SceneElement>,
    camera: &Camera,
    paths: &mut PathCache,
    mut glyphs: impl FnMut(&SceneElement, usize, &TextItem) -> bool,
) -> Frame {
    let mut frame = Frame {
        visible_elements: visible.len(),
        ..Frame::default()
    };
    let units_per_pixel = camera.units_per_pixel();
    let level = path_level(camera.pixels_per_unit());
    frame.path_level = level;
    let tolerance = path_tolerance(level);
    let cache = paths.level_mut(level);
    // Shadows thinner than this on screen are not drawn (nor seen).
    let shadows = SHADOW_BLUR * camera.pixels_per_unit() >= SHADOW_MIN_PX;
    let mut batcher = Batcher::new(camera);
    for el in visible {
        // The bounds are not grown by the antialiased fringe (SDF quads and
        // strokes reach a pixel or two further): growing them chained
        // neighbours at fit zoom into ten times the draw calls (38 -> 388 at
        // 10,000 elements), and at worst a fringe pixel at a tile's edge is
        // drawn below a later element instead of above it.
        let span = batcher.tile_span(&el.visible_bounds().unwrap_or(el.bounds));
        let mut at = batcher.floor(&span);
        let clip = Clip::of(el.clip.as_ref());
        let mut path_ranges = 0;
        for (index, item) in el.items.iter().enumerate() {
            match item {
                Item::Shape(s) => {
                    push_shape_item(s, clip, shadows, |i| batcher.push_shape(&mut at, i))
                }
                Item::Path(_) => {
                    if let Some(r) = cache.ranges(el, tolerance).get(path_ranges) {
                        batcher.push_paths(&mut at, r.clone());
                    }
                    path_ranges += 1;
                }
                Item::Text(t) => {
                    if !glyphs(el, index, t) {
                        push_text_bars(t, clip, units_per_pixel, |i| {
                            batcher.push_shape(&mut at, i)
                        });
                    }
                }
            }
        }
        batcher.mark(&span, at);
    }
    batcher.finish(&mut frame, cache);
    frame
}

fn f32x2(v: Vec2) -> [f32; 2] {
    [v.x as f32, v.y as f32]
}

fn rgba(c: Option<Rgba>) -> [u8; 4] {
    c.map_or([0; 4], |c| [c.r, c.g, c.b, c.a])
}

fn push_shape_item(s: &ShapeItem, clip: Clip, shadows: bool, mut emit: impl FnMut(ShapeInstance)) {
    let (kind, radius) = match s.primitive {
        Primitive::Rect => (KIND_BOX, 0.0),
        Primitive::RoundedRect { radius } => (KIND_BOX, radius),
        Primitive::Ellipse => (KIND_ELLIPSE, 0.0),
    };
    if s.shadow && shadows {
        emit(ShapeInstance {
            center: f32x2(s.rect.center + Vec2::new(0.0, SHADOW_OFFSET)),
            // Slightly smaller than the note so the blur stays tucked under it.
            half_size: f32x2((s.rect.half_size - Vec2::splat(2.0)).max(Vec2::ZERO)),
            rotation: s.rect.rotation as f32,
            radius: radius as f32,
            stroke_width: SHADOW_BLUR as f32,
            kind: KIND_SHADOW,
            fill: rgba(Some(SHADOW_COLOR)),
            stroke: [0; 4],
            clip,
        });
    }
    emit(ShapeInstance {
        center: f32x2(s.rect.center),
        half_size: f32x2(s.rect.half_size),
        rotation: s.rect.rotation as f32,
        radius: radius as f32,
        stroke_width: if s.stroke.is_some() {
            s.stroke_width as f32
        } else {
            0.0
        },
        kind,
        fill: rgba(s.fill),
        stroke: rgba(s.stroke),
        clip,
    });
}

/// A line of laid-out text as the bars see it: its width in world units.
pub fn estimate_lines(t: &TextItem) -> Vec<f64> {
    let advance = t.font_size * ADVANCE;
    let mut lines = Vec::new();
    for paragraph in t.text.split('\n') {
        let width = paragraph.trim_end().chars().count() as f64 * advance;
        match t.wrap_width {
            Some(wrap) if wrap > advance && width > wrap => {
                let mut left = width;
                while left > 0.0 {
                    lines.push(left.min(wrap));
                    left -= wrap;
                }
            }
            _ => lines.push(width),
        }
    }
    lines
}

/// Text drawn as level of detail: one rounded bar per estimated line, in the
/// text colour at reduced alpha, aligned and clipped to the text box like the
/// real text would be.
///
/// Drawn where glyphs are not: where they would be too small to read, and
/// for rotated text (glyphon cannot rotate); see `super::text`.
pub(super) fn push_text_bars(
    t: &TextItem,
    clip: Clip,
    units_per_pixel: f64,
    mut emit: impl FnMut(ShapeInstance),
) {
    let lines = estimate_lines(t);
    let line_height = t.font_size * LINE_HEIGHT;
    let half = t.rect.half_size;
    let total = line_height * lines.len() as f64;
    let top = match t.valign {
        VAlign::Top => -half.y,
        VAlign::Middle => -total / 2.0,
        VAlign::Bottom => half.y - total,
    };
    // Bars thinner than a pixel would vanish at low zoom: keep one pixel.
    let thickness = (t.font_size * BAR_THICKNESS).max(units_per_pixel);
    let color = t.color.with_alpha((f64::from(t.color.a) * BAR_ALPHA) as u8);
    // The lines that show: (centre y, width) in the box's frame.
    let shown: Vec<(f64, f64)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, width)| {
            let y = top + line_height * (i as f64 + 0.5);
            // Lines outside the box are clipped away, as text beyond it is.
            if y - thickness / 2.0 < -half.y - 1e-6 || y + thickness / 2.0 > half.y + 1e-6 {
                return None;
            }
            let width = width.min(half.x * 2.0).max(0.0);
            (width > 0.0).then_some((y, width))
        })
        .collect();
    let mut bar = |y: f64, width: f64, height: f64| {
        let x = match t.align {
            Align::Left => -half.x + width / 2.0,
            Align::Center => 0.0,
            Align::Right => half.x - width / 2.0,
        };
        let center = t.rect.world_from_local(Vec2::new(x, y));
        emit(ShapeInstance {
            center: f32x2(center),
            half_size: [(width / 2.0) as f32, (height / 2.0) as f32],
            rotation: t.rect.rotation as f32,
            radius: (thickness / 2.0) as f32,
            stroke_width: 0.0,
            kind: KIND_BOX,
            fill: rgba(Some(color)),
            stroke: [0; 4],
            clip,
        });
    };
    match (shown.first(), shown.last()) {
        // Lines closer than MERGE_BARS_PX on screen would blur into one
        // another: one bar for the block costs one instance, not one a line.
        (Some(first), Some(last))
            if shown.len() > 1 && line_height < MERGE_BARS_PX * units_per_pixel =>
        {
            let width = shown.iter().map(|l| l.1).fold(0.0, f64::max);
            let height = last.0 - first.0 + thickness;
            bar((first.0 + last.0) / 2.0, width, height);
        }
        _ => {
            for &(y, width) in &shown {
                bar(y, width, thickness);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use touchpoint_crdt::{Board, End, Geometry, NewElement, ShapeKind};

    fn board() -> Board {
        let mut b = Board::new();
        let s = b.create(NewElement::sticky(0.0, 0.0, "hello")).unwrap();
        b.create(NewElement::shape(
            ShapeKind::Diamond,
            Geometry::new(400.0, 0.0, 100.0, 100.0),
        ))
        .unwrap();
        b.create(NewElement::connector(
            End::bound(s, touchpoint_crdt::Anchor::Right),
            End::free(400.0, 50.0),
        ))
        .unwrap();
        b
    }

    #[test]
    fn paths_are_cached_until_the_scene_changes() {
        let mut b = board();
        let scene = Scene::build(&b);
        let mut cache = PathCache::default();
        let mut cam = Camera::new(Vec2::new(800.0, 600.0), 1.0);
        cam.zoom_to_fit(scene.world_bounds().unwrap(), 20.0);
        let frame = build_frame(&scene, &cam, &mut cache);
        assert_eq!(frame.visible_elements, 3);
        // Shadow, note, text bar; then the diamond and the connector paths.
        assert!(frame.instances.len() >= 3);
        assert!(frame.draws.iter().any(|d| !matches!(d, Draw::Shapes(_))));
        let level = cache.level(frame.path_level).unwrap();
        let (vertices, indices) = (level.vertices.len(), level.indices.len());
        assert!(indices > 0);
        let again = build_frame(&scene, &cam, &mut cache);
        assert_eq!(again.draws, frame.draws);
        let level = cache.level(frame.path_level).unwrap();
        assert_eq!(
            (level.vertices.len(), level.indices.len()),
            (vertices, indices),
            "an unchanged scene was tessellated again"
        );
        // Moving the diamond re-tessellates it (and its connector) only, by
        // appending; the old triangles become garbage.
        let mut scene = scene;
        let diamond = scene
            .iter()
            .find(|e| e.kind() == touchpoint_crdt::Kind::Shape)
            .unwrap()
            .id()
            .to_owned();
        let (_sub, queue) = b.change_queue();
        b.move_by(&[diamond.as_str()], 10.0, 0.0).unwrap();
        for changes in queue.lock().unwrap().drain(..) {
            scene.apply(&b, &changes);
        }
        let moved = build_frame(&scene, &cam, &mut cache);
        let level = cache.level(moved.path_level).unwrap();
        assert!(level.indices.len() > indices, "appended");
        assert!(level.garbage_indices > 0);
    }

    #[test]
    fn path_level_of_detail_follows_the_zoom() {
        assert_eq!(path_level(1.0), 0);
        assert_eq!(path_level(8.0), 0);
        let mut last = 0;
        for ppu in [0.8, 0.5, 0.2, 0.1, 0.04, 0.02] {
            let level = path_level(ppu);
            assert!(level >= last, "coarser as the zoom falls");
            last = level;
            // The level's error stays under the limit on screen, and the next
            // level would not.
            assert!(f64::from(path_tolerance(level)) * ppu <= PATH_MAX_ERROR_PX || level == 0);
            if level + 1 < PATH_LEVELS {
                assert!(f64::from(path_tolerance(level + 1)) * ppu > PATH_MAX_ERROR_PX);
            }
        }
        assert!(path_level(0.04) >= 2, "{}", path_level(0.04));
        assert_eq!(path_level(1e-6), PATH_LEVELS - 1);
    }

    #[test]
    fn coarse_levels_have_fewer_triangles() {
        let b = board();
        let scene = Scene::build(&b);
        let mut cache = PathCache::default();
        let mut near = Camera::new(Vec2::new(800.0, 600.0), 1.0);
        near.zoom_to_fit(scene.world_bounds().unwrap(), 20.0);
        near.zoom_at(Vec2::new(400.0, 300.0), 1.0);
        let mut far = near;
        far.zoom_at(Vec2::new(400.0, 300.0), 0.05);
        let a = build_frame(&scene, &far, &mut cache);
        let b = build_frame(&scene, &near, &mut cache);
        assert!(a.path_level > b.path_level);
        let coarse = cache.level(a.path_level).unwrap().indices.len();
        let fine = cache.level(b.path_level).unwrap().indices.len();
        assert!(coarse > 0 && coarse < fine, "{coarse} vs {fine}");
    }

    #[test]
    fn separate_elements_share_runs_and_overlapping_ones_keep_their_order() {
        // Ten rows of (sticky, diamond): drawn as shapes, paths, shapes...
        // per element, but none overlaps another, so two runs suffice.
        let mut b = Board::new();
        for i in 0..10 {
            let y = f64::from(i) * 300.0;
            b.create(NewElement::sticky(0.0, y, "")).unwrap();
            b.create(NewElement::shape(
                ShapeKind::Diamond,
                Geometry::new(400.0, y, 100.0, 100.0),
            ))
            .unwrap();
        }
        let scene = Scene::build(&b);
        let mut cam = Camera::new(Vec2::new(800.0, 600.0), 1.0);
        cam.zoom_to_fit(scene.world_bounds().unwrap(), 20.0);
        let frame = build_frame(&scene, &cam, &mut PathCache::default());
        let runs: Vec<bool> = frame
            .draws
            .iter()
            .map(|d| !matches!(d, Draw::Shapes(_)))
            .collect();
        assert_eq!(runs.first(), Some(&false));
        assert_eq!(runs.iter().filter(|p| !**p).count(), 1, "{:?}", frame.draws);

        // A sticky over a diamond must come after it.
        let mut b = Board::new();
        b.create(NewElement::shape(
            ShapeKind::Diamond,
            Geometry::new(0.0, 0.0, 200.0, 200.0),
        ))
        .unwrap();
        b.create(NewElement::sticky(50.0, 50.0, "")).unwrap();
        let scene = Scene::build(&b);
        let mut cam = Camera::new(Vec2::new(800.0, 600.0), 1.0);
        cam.zoom_to_fit(scene.world_bounds().unwrap(), 20.0);
        let frame = build_frame(&scene, &cam, &mut PathCache::default());
        let last_paths = frame
            .draws
            .iter()
            .rposition(|d| !matches!(d, Draw::Shapes(_)))
            .unwrap();
        let last_shapes = frame
            .draws
            .iter()
            .rposition(|d| matches!(d, Draw::Shapes(_)))
            .unwrap();
        assert!(last_shapes > last_paths, "{:?}", frame.draws);
    }

    #[test]
    fn deleted_elements_are_collected() {
        let mut b = board();
        let mut scene = Scene::build(&b);
        let mut cache = PathCache::default();
        let mut cam = Camera::new(Vec2::new(800.0, 600.0), 1.0);
        cam.zoom_to_fit(scene.world_bounds().unwrap(), 20.0);
        let frame = build_frame(&scene, &cam, &mut cache);
        let ids: Vec<String> = scene.iter().map(|e| e.id().to_owned()).collect();
        let (_sub, queue) = b.change_queue();
        b.delete(&ids.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap();
        for changes in queue.lock().unwrap().drain(..) {
            scene.apply(&b, &changes);
        }
        cache.collect(&scene);
        assert_eq!(cache.level(frame.path_level).unwrap().entries.len(), 0);
    }

    #[test]
    fn culling_drops_what_is_off_screen() {
        let b = board();
        let scene = Scene::build(&b);
        let mut cache = PathCache::default();
        let mut cam = Camera::new(Vec2::new(100.0, 100.0), 1.0);
        cam.pan_by(Vec2::new(5000.0, 5000.0));
        let frame = build_frame(&scene, &cam, &mut cache);
        assert_eq!(frame.visible_elements, 0);
        assert!(frame.draws.is_empty());
    }

    #[test]
    fn text_lines_wrap_at_the_box_width() {
        let t = TextItem {
            rect: OrientedRect::axis_aligned(touchpoint_scene::geom::Rect::from_min_size(
                Vec2::ZERO,
                Vec2::new(100.0, 100.0),
            )),
            text: "aaaaaaaaaaaaaaaaaaaa\nbb".into(),
            font_size: 20.0,
            color: Rgba::opaque(touchpoint_crdt::Color::BLACK),
            align: Align::Left,
            valign: VAlign::Top,
            wrap_width: Some(100.0),
        };
        // 20 chars x 10 = 200 -> two lines of 100; then 20.
        assert_eq!(estimate_lines(&t), vec![100.0, 100.0, 20.0]);
        let mut bars = Vec::new();
        push_text_bars(&t, Clip::NONE, 1.0, |i| bars.push(i));
        // 3 lines of 26 fit in 100.
        assert_eq!(bars.len(), 3);
        // Zoomed out until the 26-unit lines are under 2 px apart: one
        // block from the first line's top to the last line's bottom, as wide
        // as the widest line.
        let mut block = Vec::new();
        push_text_bars(&t, Clip::NONE, 20.0, |i| block.push(i));
        assert_eq!(block.len(), 1);
        let thickness = 20.0; // one pixel at 20 units per pixel
        assert_eq!(block[0].half_size[0], 50.0);
        assert!((f64::from(block[0].half_size[1]) - (2.0 * 26.0 + thickness) / 2.0).abs() < 1e-3);
    }
}
