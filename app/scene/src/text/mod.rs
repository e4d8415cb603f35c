//! Text layout with cosmic-text, shared by the GPU renderer and the SVG
//! writer so both break lines in the same places.
//!
//! Deterministic: the [`Fonts`] hold only the bundled font (loaded from the
//! bytes compiled into the binary, never the system's fonts) and a fixed
//! locale, so the same text lays out the same way on every machine. Units are
//! world units (1 unit = 1 CSS px at 100% zoom); layout is done unhinted, so
//! it does not depend on zoom.
//!
//! - [`Fonts::layout`] gives the lines (byte range, baseline, width, glyph positions)
//!   of a text at a font size, wrapped at a width.
//! - [`Fonts::fit`] is for sticky notes, which shrink their text to fit the note, as Miro
//!   does: it finds the largest size up to the element's font size at which the text
//!   fits the box (binary search).
//! - [`Fonts::layout_item`] is what the renderer and the SVG writer call for a
//!   scene [`TextItem`]: it gives the layout and where it sits in the item's box.

use std::ops::Range;

use cosmic_text::{Attrs, Buffer, Family, FontSystem, Metrics, Shaping, Wrap};
use touchpoint_crdt::{Align, Kind};

use crate::geom::Vec2;
use crate::scene::{TextItem, VAlign};

/// The bundled font: DejaVu Sans (see `assets/fonts/LICENSE-DejaVu.txt`).
pub const FONT_BYTES: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");
/// The bundled font's family name, as exports name it.
pub const FONT_FAMILY: &str = "DejaVu Sans";
/// Line height as a multiple of the font size.
pub const LINE_HEIGHT: f64 = 1.3;
/// The smallest size [`Fonts::fit`] shrinks text to, world units. Text that
/// does not fit even at this size is wrapped inside words and clipped.
pub const MIN_FIT_FONT_SIZE: f64 = 4.0;
/// Font sizes [`Fonts::fit`] tries below the element's size are multiples of
/// this (world units), so the renderer and the SVG writer land on one size.
pub const FIT_STEP: f64 = 0.25;
/// Slack (world units) when comparing a laid-out width or height to a box.
const FIT_SLACK: f64 = 0.01;

/// One laid-out glyph.
#[derive(Debug, Clone, PartialEq)]
pub struct Glyph {
    /// Bytes of the laid-out text this glyph draws.
    pub range: Range<usize>,
    /// Left edge from the layout box's left edge, world units.
    pub x: f64,
    /// Advance width, world units.
    pub width: f64,
    /// Glyph index in the bundled font (0: the font has no glyph for it).
    pub glyph_id: u16,
}

/// One visual line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Bytes of the laid-out text on this line, without the line break and
    /// without trailing white space at a wrap. Empty for a blank line.
    pub range: Range<usize>,
    /// Baseline, from the top of the layout, world units.
    pub baseline: f64,
    /// Left edge of the line's ink (its first glyph in visual order), from
    /// the layout box's left edge, world units.
    pub x: f64,
    /// Width of the line without trailing white space, world units.
    pub width: f64,
    /// Whether the line's paragraph runs right to left.
    pub rtl: bool,
    /// Glyphs in visual order (trailing white space at a wrap included).
    pub glyphs: Vec<Glyph>,
}

/// Laid-out text.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub lines: Vec<Line>,
    /// Font size used, world units.
    pub font_size: f64,
    /// Distance between baselines, world units.
    pub line_height: f64,
    /// Width that alignment is relative to: the wrap width, or the widest
    /// line without wrapping; world units.
    pub width: f64,
    /// Total height of the lines, world units.
    pub height: f64,
}

impl Layout {
    /// Widest line, world units.
    pub fn max_line_width(&self) -> f64 {
        self.lines.iter().map(|l| l.width).fold(0.0, f64::max)
    }

    /// The text of each line (`text` is what was laid out).
    pub fn line_texts<'t>(&self, text: &'t str) -> Vec<&'t str> {
        self.lines
            .iter()
            .map(|l| text.get(l.range.clone()).unwrap_or(""))
            .collect()
    }
}

/// How a text item's size is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizing {
    /// At the element's font size; what does not fit is clipped.
    Fixed,
    /// Shrunk to fit its box ([`Fonts::fit`]): sticky notes.
    ShrinkToFit,
}

impl Sizing {
    /// The sizing policy of an element kind's text.
    pub fn for_kind(kind: Kind) -> Sizing {
        match kind {
            Kind::Sticky => Sizing::ShrinkToFit,
            _ => Sizing::Fixed,
        }
    }
}

/// A text item laid out and placed in its box.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedText {
    pub layout: Layout,
    /// Where the layout's top-left corner sits, in the item box's unrotated
    /// frame: world units, relative to the box's top-left corner.
    pub origin: Vec2,
    /// Whether some text reaches beyond the box (it must be clipped to it).
    pub overflows: bool,
}

/// The font system: the bundled font and nothing else. Create one and reuse
/// it (it caches shaped fonts).
pub struct Fonts {
    system: FontSystem,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fonts").finish_non_exhaustive()
    }
}

impl Default for Fonts {
    fn default() -> Fonts {
        Fonts::new()
    }
}

impl Fonts {
    /// Fonts holding only the bundled font, with a fixed locale.
    pub fn new() -> Fonts {
        let mut db = cosmic_text::fontdb::Database::new();
        db.load_font_data(FONT_BYTES.to_vec());
        db.set_sans_serif_family(FONT_FAMILY);
        db.set_serif_family(FONT_FAMILY);
        db.set_monospace_family(FONT_FAMILY);
        Fonts {
            system: FontSystem::new_with_locale_and_db("en-US".to_owned(), db),
        }
    }

    /// Lays out `text` at `font_size` (world units), wrapping at word
    /// boundaries (and inside a word too long for a line) at `wrap_width`,
    /// or not at all when it is `None`. `align` places lines within the wrap
    /// width (within the widest line without wrapping).
    pub fn layout(
        &mut self,
        text: &str,
        font_size: f64,
        wrap_width: Option<f64>,
        align: Align,
    ) -> Layout {
        self.layout_with(text, font_size, wrap_width, align, Wrap::WordOrGlyph)
    }

    fn layout_with(
        &mut self,
        text: &str,
        font_size: f64,
        wrap_width: Option<f64>,
        align: Align,
        wrap: Wrap,
    ) -> Layout {
        self.shape(text, font_size, wrap_width, align, wrap).0
    }

    /// The bundled-font system, for the GPU text renderer (glyphon) to
    /// rasterise glyphs of the buffers [`Fonts::layout_item_buffer`] gives.
    pub fn font_system(&mut self) -> &mut FontSystem {
        &mut self.system
    }

    /// Shapes `text` into a cosmic-text buffer and reads its layout back;
    /// the buffer is what the GPU draws, the layout what the SVG writes.
    fn shape(
        &mut self,
        text: &str,
        font_size: f64,
        wrap_width: Option<f64>,
        align: Align,
        wrap: Wrap,
    ) -> (Layout, Buffer) {
        let font_size = if font_size.is_finite() && font_size > 0.0 {
            font_size
        } else {
            1.0
        };
        let line_height = font_size * LINE_HEIGHT;
        let wrap_width = wrap_width.filter(|w| w.is_finite()).map(|w| w.max(0.0));
        let mut buffer = Buffer::new(
            &mut self.system,
            Metrics::new(font_size as f32, line_height as f32),
        );
        buffer.set_wrap(if wrap_width.is_some() {
            wrap
        } else {
            Wrap::None
        });
        buffer.set_size(wrap_width.map(|w| w as f32), None);
        let attrs = Attrs::new().family(Family::Name(FONT_FAMILY));
        buffer.set_text(text, &attrs, Shaping::Advanced, Some(cosmic_align(align)));
        buffer.shape_until_scroll(&mut self.system, false);

        // Byte offset of each paragraph (buffer line) in `text`.
        let mut paragraph_starts = Vec::with_capacity(buffer.lines.len());
        let mut offset = 0;
        for line in &buffer.lines {
            paragraph_starts.push(offset);
            offset += line.text().len() + line.ending().as_str().len();
        }

        let mut lines: Vec<Line> = Vec::new();
        let mut tops = Vec::new();
        let mut height: f64 = 0.0;
        for run in buffer.layout_runs() {
            let base = paragraph_starts.get(run.line_i).copied().unwrap_or(0);
            let glyphs: Vec<Glyph> = run
                .glyphs
                .iter()
                .map(|g| Glyph {
                    range: base + g.start..base + g.end,
                    x: f64::from(g.x),
                    width: f64::from(g.w),
                    glyph_id: g.glyph_id,
                })
                .collect();
            // Ink: glyphs that are not trailing white space at a wrap.
            let para = run.text;
            let is_space = |g: &Glyph| {
                para.get(g.range.start - base..g.range.end - base)
                    .is_some_and(|s| s.chars().all(char::is_whitespace))
            };
            let start = run.glyphs.iter().map(|g| g.start).min().unwrap_or(0);
            let end = run.glyphs.iter().map(|g| g.end).max().unwrap_or(0);
            let trimmed_end = start + para.get(start..end).map_or(0, |s| s.trim_end().len());
            let ink: Vec<&Glyph> = glyphs
                .iter()
                .filter(|g| g.range.start - base < trimmed_end || !is_space(g))
                .collect();
            let (x, width) = if ink.is_empty() {
                (0.0, 0.0)
            } else {
                let left = ink.iter().map(|g| g.x).fold(f64::INFINITY, f64::min);
                let right = ink
                    .iter()
                    .map(|g| g.x + g.width)
                    .fold(f64::NEG_INFINITY, f64::max);
                (left, right - left)
            };
            height = height.max(f64::from(run.line_top) + f64::from(run.line_height));
            tops.push(f64::from(run.line_top));
            lines.push(Line {
                range: base + start..base + trimmed_end.max(start),
                baseline: f64::from(run.line_y),
                x,
                width,
                rtl: run.rtl,
                glyphs,
            });
        }
        // cosmic-text puts a blank line's baseline elsewhere; give it the
        // offset from its top that lines with glyphs have.
        let offset = lines
            .iter()
            .zip(&tops)
            .find(|(l, _)| !l.glyphs.is_empty())
            .map_or(line_height * 0.75, |(l, top)| l.baseline - top);
        for (line, top) in lines.iter_mut().zip(&tops) {
            if line.glyphs.is_empty() {
                line.baseline = top + offset;
            }
        }
        let widest = lines.iter().map(|l| l.width).fold(0.0, f64::max);
        let layout = Layout {
            lines,
            font_size,
            line_height,
            width: wrap_width.unwrap_or(widest),
            height,
        };
        (layout, buffer)
    }

    /// Sticky-note sizing: the largest font size up to `max_size` (at
    /// `max_size` itself, else a multiple of [`FIT_STEP`], at least
    /// [`MIN_FIT_FONT_SIZE`]) at which `text`, wrapped at word boundaries at
    /// `box_size.x`, fits `box_size` without breaking a word. Binary search,
    /// so about eight layouts when the text does not fit at `max_size`, one
    /// when it does. When nothing fits, the smallest size wrapped inside
    /// words too (the caller clips what still overflows).
    pub fn fit(&mut self, text: &str, max_size: f64, box_size: Vec2, align: Align) -> Layout {
        self.fit_buffer(text, max_size, box_size, align).0
    }

    /// [`Fonts::fit`], with the cosmic-text buffer of the chosen layout.
    fn fit_buffer(
        &mut self,
        text: &str,
        max_size: f64,
        box_size: Vec2,
        align: Align,
    ) -> (Layout, Buffer) {
        let fits = |l: &Layout| {
            l.height <= box_size.y + FIT_SLACK && l.max_line_width() <= box_size.x + FIT_SLACK
        };
        let max_size = if max_size.is_finite() && max_size > 0.0 {
            max_size
        } else {
            1.0
        };
        let first = self.shape(text, max_size, Some(box_size.x), align, Wrap::Word);
        let min_size = MIN_FIT_FONT_SIZE.min(max_size);
        if fits(&first.0) || max_size <= min_size {
            return first;
        }
        // Sizes lo_step * FIT_STEP.. below max_size; invariant: hi fails.
        let mut lo = (min_size / FIT_STEP).ceil() as i64;
        let mut hi = ((max_size / FIT_STEP).ceil() as i64).max(lo + 1);
        let mut best: Option<(Layout, Buffer)> = None;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let layout = self.shape(
                text,
                mid as f64 * FIT_STEP,
                Some(box_size.x),
                align,
                Wrap::Word,
            );
            if fits(&layout.0) {
                best = Some(layout);
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        best.unwrap_or_else(|| {
            self.shape(text, min_size, Some(box_size.x), align, Wrap::WordOrGlyph)
        })
    }

    /// Lays out a scene text item and places it in its box: the item's font
    /// size and wrap width (shrunk to fit for [`Sizing::ShrinkToFit`]),
    /// aligned horizontally by the layout and vertically by `valign`.
    pub fn layout_item(&mut self, item: &TextItem, sizing: Sizing) -> PlacedText {
        self.layout_item_buffer(item, sizing).0
    }

    /// [`Fonts::layout_item`], with the cosmic-text buffer the layout was
    /// read from (world units: font size and wrap width as laid out), for
    /// the GPU renderer to draw with glyphon: the very same line breaks and
    /// sizes as the SVG export.
    pub fn layout_item_buffer(&mut self, item: &TextItem, sizing: Sizing) -> (PlacedText, Buffer) {
        let box_size = item.rect.half_size * 2.0;
        let (layout, buffer) = match (sizing, item.wrap_width) {
            (Sizing::ShrinkToFit, Some(w)) => self.fit_buffer(
                &item.text,
                item.font_size,
                Vec2::new(w, box_size.y),
                item.align,
            ),
            _ => self.shape(
                &item.text,
                item.font_size,
                item.wrap_width,
                item.align,
                Wrap::WordOrGlyph,
            ),
        };
        // Without wrapping, the layout is as wide as its widest line: align
        // that within the box.
        let slack = box_size.x - layout.width;
        let x = match (item.wrap_width, item.align) {
            (Some(_), _) | (None, Align::Left) => 0.0,
            (None, Align::Center) => slack / 2.0,
            (None, Align::Right) => slack,
        };
        let y = match item.valign {
            VAlign::Top => 0.0,
            VAlign::Middle => (box_size.y - layout.height) / 2.0,
            VAlign::Bottom => box_size.y - layout.height,
        };
        let overflows = layout.height > box_size.y + FIT_SLACK
            || layout
                .lines
                .iter()
                .any(|l| x + l.x < -FIT_SLACK || x + l.x + l.width > box_size.x + FIT_SLACK);
        let placed = PlacedText {
            layout,
            origin: Vec2::new(x, y),
            overflows,
        };
        (placed, buffer)
    }
}

fn cosmic_align(align: Align) -> cosmic_text::Align {
    match align {
        Align::Left => cosmic_text::Align::Left,
        Align::Center => cosmic_text::Align::Center,
        Align::Right => cosmic_text::Align::Right,
    }
}

#[cfg(test)]
mod tests;
