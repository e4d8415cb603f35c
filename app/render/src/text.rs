//! Real glyphs with glyphon, from the very cosmic-text buffers whose layout
//! the SVG writer uses ([`Fonts::layout_item_buffer`]), so line breaks and
//! font sizes agree with the export.
//!
//! - Buffers are laid out in world units (as the SVG writer's layout) and
//!   drawn scaled by the camera's pixels per unit, so zooming and panning
//!   never re-shape: a buffer is cached per `(element id, revision, item,
//!   font size at layout)` and only text that survived culling is laid out.
//! - glyphon cannot rotate: text of rotated elements (and text clipped by a
//!   rotated frame) stays level-of-detail bars (`batch::push_text_bars`).
//! - Where glyphs would be smaller than [`MIN_GLYPH_PX`] on screen the bars
//!   are drawn instead.
//! - Text is clipped to its box and to its frame's box (glyphon's
//!   `TextBounds`, in whole pixels).
//! - Drawing order: glyphon draws all its text areas in one draw call, so
//!   **all glyph text is drawn after all shapes and paths** of the frame
//!   (always above its own element's shapes; above later elements' shapes
//!   too where they overlap). The level-of-detail bars keep scene order.

use std::collections::HashMap;

use glyphon::{
    Buffer, Cache, Color, Resolution, SwashCache, TextArea, TextAtlas, TextBounds, TextRenderer,
    Viewport,
};

use touchpoint_scene::camera::Camera;
use touchpoint_scene::geom::Vec2;
use touchpoint_scene::scene::{SceneElement, TextItem};
use touchpoint_scene::text::{Fonts, Sizing};

/// Below this glyph size (the laid-out font size on screen, physical
/// pixels) text is drawn as level-of-detail bars.
pub const MIN_GLYPH_PX: f64 = 4.0;
/// Cached buffers beyond which those not used this frame are dropped.
const CACHE_KEEP: usize = 4096;

struct Slot {
    /// Where the layout's top-left sits relative to the box's top-left.
    origin: Vec2,
    /// Font size the layout ended up at (shrunk to fit for sticky notes).
    font_size: f64,
    buffer: Buffer,
}

struct ElementText {
    revision: u64,
    last_used: u64,
    /// `(item index, font size bits, slot)`.
    items: Vec<(usize, u64, usize)>,
}

struct Area {
    slot: usize,
    left: f32,
    top: f32,
    bounds: TextBounds,
    color: Color,
}

/// glyphon's state and the buffer cache; owned by the renderer.
pub(super) struct GlyphText {
    fonts: Fonts,
    swash: SwashCache,
    viewport: Viewport,
    atlas: TextAtlas,
    renderer: TextRenderer,
    elements: HashMap<String, ElementText>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    live: usize,
    areas: Vec<Area>,
    frame: u64,
    /// Buffers shaped this frame.
    shaped: usize,
}

impl GlyphText {
    pub(super) fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        format: wgpu::TextureFormat,
        sample_count: u32,
    ) -> GlyphText {
        let cache = Cache::new(device);
        let mut atlas = TextAtlas::new(device, queue, &cache, format);
        let renderer = TextRenderer::new(
            &mut atlas,
            device,
            wgpu::MultisampleState {
                count: sample_count,
                ..Default::default()
            },
            None,
        );
        GlyphText {
            fonts: Fonts::new(),
            swash: SwashCache::new(),
            viewport: Viewport::new(device, &cache),
            atlas,
            renderer,
            elements: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            areas: Vec::new(),
            frame: 0,
            shaped: 0,
        }
    }

    /// Starts a frame: forgets the previous frame's text areas.
    pub(super) fn begin(&mut self) {
        self.frame += 1;
        self.areas.clear();
        self.shaped = 0;
    }

    /// Offers a visible text item: returns true when it will be drawn as
    /// glyphs (or is entirely clipped away), false when the caller must
    /// draw level-of-detail bars (rotated, or too small on screen).
    pub(super) fn offer(
        &mut self,
        el: &SceneElement,
        index: usize,
        t: &TextItem,
        camera: &Camera,
    ) -> bool {
        let ppu = camera.pixels_per_unit();
        // glyphon cannot rotate glyphs: rotated text keeps its bars.
        let rotated = |r: f64| r.rem_euclid(std::f64::consts::TAU).abs() > 1e-9;
        if rotated(t.rect.rotation) || el.clip.as_ref().is_some_and(|c| rotated(c.rotation)) {
            return false;
        }
        if t.font_size * ppu < MIN_GLYPH_PX {
            return false;
        }
        let slot = self.buffer_for(el, index, t);
        let Some(cached) = self.slots.get(slot).and_then(Option::as_ref) else {
            return false;
        };
        if cached.font_size * ppu < MIN_GLYPH_PX {
            return false;
        }
        let box_min = t.rect.center - t.rect.half_size;
        let box_max = t.rect.center + t.rect.half_size;
        let pos = camera.screen_from_world(box_min + cached.origin);
        let mut lo = camera.screen_from_world(box_min);
        let mut hi = camera.screen_from_world(box_max);
        if let Some(c) = &el.clip {
            lo = lo.max(camera.screen_from_world(c.center - c.half_size));
            hi = hi.min(camera.screen_from_world(c.center + c.half_size));
        }
        let bounds = TextBounds {
            left: lo.x.round() as i32,
            top: lo.y.round() as i32,
            right: hi.x.round() as i32,
            bottom: hi.y.round() as i32,
        };
        if bounds.right > bounds.left && bounds.bottom > bounds.top {
            self.areas.push(Area {
                slot,
                left: pos.x as f32,
                top: pos.y as f32,
                bounds,
                color: Color::rgba(t.color.r, t.color.g, t.color.b, t.color.a),
            });
        }
        true
    }

    /// The slot of the cached buffer of `el`'s item `index`, laid out now if
    /// the element changed or the item was never laid out.
    fn buffer_for(&mut self, el: &SceneElement, index: usize, t: &TextItem) -> usize {
        let size_bits = t.font_size.to_bits();
        if !self.elements.contains_key(el.id()) {
            self.elements.insert(
                el.id().to_owned(),
                ElementText {
                    revision: el.revision,
                    last_used: self.frame,
                    items: Vec::new(),
                },
            );
        }
        let Some(entry) = self.elements.get_mut(el.id()) else {
            unreachable!("inserted above")
        };
        entry.last_used = self.frame;
        if entry.revision != el.revision {
            for (_, _, slot) in entry.items.drain(..) {
                self.slots[slot] = None;
                self.free.push(slot);
                self.live -= 1;
            }
            entry.revision = el.revision;
        }
        if let Some(&(_, _, slot)) = entry
            .items
            .iter()
            .find(|(i, bits, _)| *i == index && *bits == size_bits)
        {
            return slot;
        }
        let (placed, buffer) = self
            .fonts
            .layout_item_buffer(t, Sizing::for_kind(el.kind()));
        self.shaped += 1;
        let data = Slot {
            origin: placed.origin,
            font_size: placed.layout.font_size,
            buffer,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = Some(data);
                s
            }
            None => {
                self.slots.push(Some(data));
                self.slots.len() - 1
            }
        };
        self.live += 1;
        entry.items.push((index, size_bits, slot));
        slot
    }

    /// Uploads this frame's glyphs (rasterising new ones into the atlas);
    /// then drops cached buffers not used this frame if there are too many.
    /// Returns `(text areas, buffers shaped this frame)`.
    pub(super) fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        camera: &Camera,
    ) -> (usize, usize) {
        let size = camera.viewport_px();
        self.viewport.update(
            queue,
            Resolution {
                width: size.x.max(1.0) as u32,
                height: size.y.max(1.0) as u32,
            },
        );
        self.atlas.trim();
        let scale = camera.pixels_per_unit() as f32;
        let slots = &self.slots;
        let areas = self.areas.iter().filter_map(|a| {
            let slot = slots.get(a.slot)?.as_ref()?;
            Some(TextArea {
                buffer: &slot.buffer,
                left: a.left,
                top: a.top,
                scale,
                bounds: a.bounds,
                default_color: a.color,
                custom_glyphs: &[],
            })
        });
        if let Err(e) = self.renderer.prepare(
            device,
            queue,
            self.fonts.font_system(),
            &mut self.atlas,
            &self.viewport,
            areas,
            &mut self.swash,
        ) {
            tracing::warn!("text not drawn this frame: {e}");
        }
        if self.live > CACHE_KEEP {
            let frame = self.frame;
            let (slots, free, live) = (&mut self.slots, &mut self.free, &mut self.live);
            self.elements.retain(|_, e| {
                if e.last_used == frame {
                    return true;
                }
                for &(_, _, slot) in &e.items {
                    slots[slot] = None;
                    free.push(slot);
                    *live -= 1;
                }
                false
            });
        }
        (self.areas.len(), self.shaped)
    }

    /// Draws the prepared glyphs into `pass`.
    pub(super) fn draw(&self, pass: &mut wgpu::RenderPass<'_>) {
        if let Err(e) = self.renderer.render(&self.atlas, &self.viewport, pass) {
            tracing::warn!("text not drawn: {e}");
        }
    }
}
