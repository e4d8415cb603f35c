//! The CPU half of drawing a frame, with no GPU in sight: culled scene items
//! become shape instances (signed-distance quads), ranges of cached path
//! triangles, and level-of-detail text bars, in drawing order.
//!
//! Kept apart from the wgpu code so it can be tested (and timed) on its own.

use std::collections::HashMap;
use std::ops::Range;

use bytemuck::{Pod, Zeroable};
use touchpoint_crdt::Align;

use crate::camera::Camera;
use crate::geom::{OrientedRect, Vec2};
use crate::scene::{Item, Primitive, Rgba, Scene, SceneElement, ShapeItem, TextItem, VAlign};

use super::tess::{self, PathMesh};

/// Instance kinds; keep in step with `shader.wgsl`.
pub const KIND_BOX: u32 = 0;
pub const KIND_ELLIPSE: u32 = 1;
pub const KIND_SHADOW: u32 = 2;

/// Sticky-note shadow: offset down and blurred, all within
/// [`crate::scene::item::SHADOW_EXTENT`] (3 + 8 < 12 world units).
const SHADOW_OFFSET: f64 = 3.0;
const SHADOW_BLUR: f64 = 8.0;
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
    pub clip: Clip,
}

/// A run of draws with one pipeline, in drawing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Draw {
    /// Instances of the shape pipeline.
    Shapes(Range<u32>),
    /// Indices into the path index buffer.
    Paths(Range<u32>),
}

/// What a frame draws: instances to upload and draws to issue.
#[derive(Debug, Default)]
pub struct Frame {
    pub instances: Vec<ShapeInstance>,
    pub draws: Vec<Draw>,
    /// Elements that survived culling.
    pub visible_elements: usize,
}

impl Frame {
    fn push_shape(&mut self, instance: ShapeInstance) {
        let i = self.instances.len() as u32;
        self.instances.push(instance);
        match self.draws.last_mut() {
            Some(Draw::Shapes(r)) if r.end == i => r.end = i + 1,
            _ => self.draws.push(Draw::Shapes(i..i + 1)),
        }
    }

    fn push_paths(&mut self, indices: Range<u32>) {
        if indices.is_empty() {
            return;
        }
        match self.draws.last_mut() {
            Some(Draw::Paths(r)) if r.end == indices.start => r.end = indices.end,
            _ => self.draws.push(Draw::Paths(indices)),
        }
    }
}

/// Tessellated paths of the whole scene, cached per `(element id,
/// revision)`, and the vertex and index data they make together.
#[derive(Debug, Default)]
pub struct PathCache {
    meshes: HashMap<String, CachedElement>,
    /// `(elements, highest revision)` of the scene the buffers were built
    /// from. Revisions only grow, so any rebuild raises the highest one and
    /// any removal without a rebuild lowers the count.
    built_for: Option<(usize, u64)>,
    pub vertices: Vec<PathVertex>,
    pub indices: Vec<u32>,
}

#[derive(Debug)]
struct CachedElement {
    revision: u64,
    /// One mesh per path item, in item order.
    meshes: Vec<PathMesh>,
    /// Where each path item's indices sit in `indices`.
    ranges: Vec<Range<u32>>,
}

impl PathCache {
    /// Brings the meshes and buffers up to date with `scene`: tessellates
    /// only elements whose revision changed, and rebuilds the concatenated
    /// buffers only when anything did. Returns whether the buffers changed.
    pub fn update(&mut self, scene: &Scene) -> bool {
        let stamp = (
            scene.len(),
            scene.iter().map(|e| e.revision).max().unwrap_or(0),
        );
        if self.built_for == Some(stamp) {
            return false;
        }
        let mut fresh: HashMap<String, CachedElement> = HashMap::with_capacity(scene.len());
        self.vertices.clear();
        self.indices.clear();
        for el in scene.iter() {
            let has_paths = el.items.iter().any(|i| matches!(i, Item::Path(_)));
            if !has_paths {
                continue;
            }
            let meshes = match self.meshes.remove(el.id()) {
                Some(c) if c.revision == el.revision => c.meshes,
                _ => el
                    .items
                    .iter()
                    .filter_map(|i| match i {
                        Item::Path(p) => Some(tess::tessellate(p)),
                        _ => None,
                    })
                    .collect(),
            };
            let clip = Clip::of(el.clip.as_ref());
            let mut ranges = Vec::with_capacity(meshes.len());
            for mesh in &meshes {
                let base = self.vertices.len() as u32;
                let start = self.indices.len() as u32;
                self.vertices
                    .extend(mesh.vertices.iter().map(|v| PathVertex {
                        position: v.position,
                        color: v.color,
                        clip,
                    }));
                self.indices.extend(mesh.indices.iter().map(|i| i + base));
                ranges.push(start..self.indices.len() as u32);
            }
            fresh.insert(
                el.id().to_owned(),
                CachedElement {
                    revision: el.revision,
                    meshes,
                    ranges,
                },
            );
        }
        self.meshes = fresh;
        self.built_for = Some(stamp);
        true
    }

    /// Index ranges of one element's path items, in item order.
    fn ranges(&self, el: &SceneElement) -> &[Range<u32>] {
        match self.meshes.get(el.id()) {
            Some(c) if c.revision == el.revision => &c.ranges,
            _ => &[],
        }
    }
}

/// Builds the frame for `camera`: culls with the scene's spatial index, then
/// turns each visible item, back to front, into instances or path ranges.
/// `paths` must be up to date with `scene` ([`PathCache::update`]).
pub fn build_frame(scene: &Scene, camera: &Camera, paths: &PathCache) -> Frame {
    build_frame_with(scene, camera, paths, |_, _, _| false)
}

/// [`build_frame`], offering each visible text item to `glyphs` (element,
/// item index, item) first: when it returns true the item is drawn as
/// glyphs by the caller and gets no level-of-detail bars here.
pub fn build_frame_with(
    scene: &Scene,
    camera: &Camera,
    paths: &PathCache,
    mut glyphs: impl FnMut(&SceneElement, usize, &TextItem) -> bool,
) -> Frame {
    let mut frame = Frame::default();
    let visible = scene.query_rect(&camera.visible_world_rect());
    frame.visible_elements = visible.len();
    let units_per_pixel = camera.units_per_pixel();
    for el in visible {
        let clip = Clip::of(el.clip.as_ref());
        let mut path_ranges = paths.ranges(el).iter();
        for (index, item) in el.items.iter().enumerate() {
            match item {
                Item::Shape(s) => push_shape_item(&mut frame, s, clip),
                Item::Path(_) => {
                    if let Some(r) = path_ranges.next() {
                        frame.push_paths(r.clone());
                    }
                }
                Item::Text(t) => {
                    if !glyphs(el, index, t) {
                        push_text_bars(&mut frame, t, clip, units_per_pixel);
                    }
                }
            }
        }
    }
    frame
}

fn f32x2(v: Vec2) -> [f32; 2] {
    [v.x as f32, v.y as f32]
}

fn rgba(c: Option<Rgba>) -> [u8; 4] {
    c.map_or([0; 4], |c| [c.r, c.g, c.b, c.a])
}

fn push_shape_item(frame: &mut Frame, s: &ShapeItem, clip: Clip) {
    let (kind, radius) = match s.primitive {
        Primitive::Rect => (KIND_BOX, 0.0),
        Primitive::RoundedRect { radius } => (KIND_BOX, radius),
        Primitive::Ellipse => (KIND_ELLIPSE, 0.0),
    };
    if s.shadow {
        frame.push_shape(ShapeInstance {
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
    frame.push_shape(ShapeInstance {
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
pub(super) fn push_text_bars(frame: &mut Frame, t: &TextItem, clip: Clip, units_per_pixel: f64) {
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
    for (i, width) in lines.iter().enumerate() {
        let y = top + line_height * (i as f64 + 0.5);
        // Lines outside the box are clipped away, as text beyond it is.
        if y - thickness / 2.0 < -half.y - 1e-6 || y + thickness / 2.0 > half.y + 1e-6 {
            continue;
        }
        let width = width.min(half.x * 2.0).max(0.0);
        if width <= 0.0 {
            continue;
        }
        let x = match t.align {
            Align::Left => -half.x + width / 2.0,
            Align::Center => 0.0,
            Align::Right => half.x - width / 2.0,
        };
        let center = t.rect.world_from_local(Vec2::new(x, y));
        frame.push_shape(ShapeInstance {
            center: f32x2(center),
            half_size: [(width / 2.0) as f32, (thickness / 2.0) as f32],
            rotation: t.rect.rotation as f32,
            radius: (thickness / 2.0) as f32,
            stroke_width: 0.0,
            kind: KIND_BOX,
            fill: rgba(Some(color)),
            stroke: [0; 4],
            clip,
        });
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
        let b = board();
        let scene = Scene::build(&b);
        let mut cache = PathCache::default();
        assert!(cache.update(&scene));
        assert!(!cache.indices.is_empty());
        assert!(!cache.update(&scene), "unchanged scene rebuilt the buffers");
        let mut cam = Camera::new(Vec2::new(800.0, 600.0), 1.0);
        cam.zoom_to_fit(scene.world_bounds().unwrap(), 20.0);
        let frame = build_frame(&scene, &cam, &cache);
        assert_eq!(frame.visible_elements, 3);
        // Shadow, note, text bar; then the diamond and the connector paths.
        assert!(frame.instances.len() >= 3);
        assert!(frame.draws.iter().any(|d| matches!(d, Draw::Paths(_))));
    }

    #[test]
    fn culling_drops_what_is_off_screen() {
        let b = board();
        let scene = Scene::build(&b);
        let mut cache = PathCache::default();
        cache.update(&scene);
        let mut cam = Camera::new(Vec2::new(100.0, 100.0), 1.0);
        cam.pan_by(Vec2::new(5000.0, 5000.0));
        let frame = build_frame(&scene, &cam, &cache);
        assert_eq!(frame.visible_elements, 0);
        assert!(frame.draws.is_empty());
    }

    #[test]
    fn text_lines_wrap_at_the_box_width() {
        let t = TextItem {
            rect: OrientedRect::axis_aligned(crate::geom::Rect::from_min_size(
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
        let mut frame = Frame::default();
        push_text_bars(&mut frame, &t, Clip::NONE, 1.0);
        // 3 lines of 26 fit in 100.
        assert_eq!(frame.instances.len(), 3);
        assert_eq!(frame.draws, vec![Draw::Shapes(0..3)]);
    }
}
