//! The bundled font for exports: a subset of it to embed as `@font-face`
//! data, and glyph outlines for text drawn as paths.
//!
//! **Subset.** [`subset_for_chars`] keeps only the glyphs that the characters
//! of the exported text map to (plus `.notdef` and the components of composite
//! glyphs). The glyph work is done by the `subsetter` crate (typst's), which
//! is made for PDF and so drops `cmap` and `OS/2`; a viewer that draws the SVG
//! with `@font-face` needs both to map characters to glyphs, so they are added
//! back here: a new `cmap` (formats 4 and 12, for the kept characters and
//! their new glyph ids) and the original `OS/2`. What the subset does not
//! carry: the layout tables (`GSUB`, `GPOS`, `kern`), so a browser drawing it
//! applies no kerning and no contextual forms (Arabic letters show in their
//! isolated forms). Each line is still placed where the canvas puts it; use
//! text as paths for an exact copy of the canvas's glyphs.
//!
//! **Outlines.** [`GlyphOutlines`] reads glyph outlines with skrifa (the
//! version cosmic-text itself uses), unhinted, in font units, cached per
//! glyph id.

use std::collections::{BTreeSet, HashMap};

use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::raw::TableProvider;
use skrifa::{FontRef, GlyphId, MetadataProvider, OutlineGlyphCollection, Tag};
use subsetter::GlyphRemapper;

use crate::text::FONT_BYTES;

/// Why the font could not be subset.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("the bundled font cannot be read: {0}")]
    Read(String),
    #[error("the bundled font cannot be subset: {0}")]
    Subset(String),
}

/// A subset of the bundled font (TrueType bytes) holding the glyphs of
/// `chars`, with a `cmap` for them. Characters the font has no glyph for are
/// left out (a viewer falls back to another font for them, as it would with
/// the whole font).
pub fn subset_for_chars(chars: &BTreeSet<char>) -> Result<Vec<u8>, FontError> {
    subset_font(FONT_BYTES, chars)
}

/// [`subset_for_chars`] for any single TrueType font.
pub fn subset_font(font_bytes: &[u8], chars: &BTreeSet<char>) -> Result<Vec<u8>, FontError> {
    let font = FontRef::new(font_bytes).map_err(|e| FontError::Read(e.to_string()))?;
    let charmap = font.charmap();
    let mut remapper = GlyphRemapper::new();
    let mut mapping: Vec<(u32, u16)> = Vec::with_capacity(chars.len());
    for &c in chars {
        let Some(gid) = charmap.map(c) else { continue };
        let Ok(old) = u16::try_from(gid.to_u32()) else {
            continue;
        };
        if old == 0 {
            continue;
        }
        mapping.push((u32::from(c), remapper.remap(old)));
    }
    let sub = subsetter::subset(font_bytes, 0, &remapper)
        .map_err(|e| FontError::Subset(e.to_string()))?;
    let mut tables = read_tables(&sub).ok_or_else(|| {
        FontError::Subset("the subsetter wrote a font without a table directory".into())
    })?;
    tables.retain(|(tag, _)| tag != b"cmap" && tag != b"OS/2");
    tables.push((*b"cmap", cmap_table(&mapping)));
    if let Some(os2) = font.table_data(Tag::new(b"OS/2")) {
        tables.push((*b"OS/2", os2.as_bytes().to_vec()));
    }
    Ok(write_font(&sub[..4], tables))
}

/// The tables of an sfnt font, in directory order.
fn read_tables(font: &[u8]) -> Option<Vec<([u8; 4], Vec<u8>)>> {
    let u16_at = |at: usize| Some(u16::from_be_bytes(font.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_be_bytes(font.get(at..at + 4)?.try_into().ok()?));
    let count = usize::from(u16_at(4)?);
    let mut tables = Vec::with_capacity(count + 2);
    for i in 0..count {
        let rec = 12 + 16 * i;
        let tag: [u8; 4] = font.get(rec..rec + 4)?.try_into().ok()?;
        let offset = u32_at(rec + 8)? as usize;
        let len = u32_at(rec + 12)? as usize;
        tables.push((tag, font.get(offset..offset.checked_add(len)?)?.to_vec()));
    }
    Some(tables)
}

/// OpenType table checksum: the sum of big-endian u32 words, zero-padded.
fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, word| {
        let mut w = [0u8; 4];
        w[..word.len()].copy_from_slice(word);
        sum.wrapping_add(u32::from_be_bytes(w))
    })
}

/// An sfnt font from its tables (sorted by tag here), with the `head`
/// table's checksum adjustment set.
fn write_font(version: &[u8], mut tables: Vec<([u8; 4], Vec<u8>)>) -> Vec<u8> {
    tables.sort_by_key(|(tag, _)| *tag);
    let count = tables.len() as u16;
    let selector = 15 - count.max(1).leading_zeros() as u16;
    let search_range = (1u16 << selector) * 16;
    let mut out = Vec::new();
    out.extend_from_slice(version);
    for v in [count, search_range, selector, count * 16 - search_range] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    let mut offset = 12 + 16 * tables.len();
    let mut head_at = None;
    for (tag, data) in &mut tables {
        if tag == b"head" && data.len() >= 12 {
            data[8..12].fill(0);
            head_at = Some(offset + 8);
        }
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum(data).to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        offset += data.len().next_multiple_of(4);
    }
    for (_, data) in &tables {
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    if let Some(at) = head_at {
        let adjust = 0xB1B0_AFBAu32.wrapping_sub(checksum(&out));
        out[at..at + 4].copy_from_slice(&adjust.to_be_bytes());
    }
    out
}

/// A `cmap` table with a format 4 subtable (Windows, BMP) and a format 12
/// subtable (Windows, full repertoire) for `mapping` (characters ascending).
fn cmap_table(mapping: &[(u32, u16)]) -> Vec<u8> {
    let be16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_be_bytes());
    let be32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_be_bytes());

    // Format 4: one segment per run of consecutive characters whose glyph
    // ids are consecutive too, then the required 0xFFFF segment.
    let mut segments: Vec<(u16, u16, u16)> = Vec::new(); // start, end, first glyph
    for &(c, g) in mapping.iter().filter(|(c, _)| *c < 0xFFFF) {
        let c = c as u16;
        match segments.last_mut() {
            Some((start, end, first)) if *end + 1 == c && first.wrapping_add(c - *start) == g => {
                *end = c
            }
            _ => segments.push((c, c, g)),
        }
    }
    segments.push((0xFFFF, 0xFFFF, 0));
    let seg_count = segments.len() as u16;
    let selector = 15 - seg_count.leading_zeros() as u16;
    let search_range = 2 * (1u16 << selector);
    let mut f4 = Vec::new();
    be16(&mut f4, 4);
    be16(&mut f4, 16 + 8 * seg_count);
    be16(&mut f4, 0); // language
    be16(&mut f4, seg_count * 2);
    be16(&mut f4, search_range);
    be16(&mut f4, selector);
    be16(&mut f4, seg_count * 2 - search_range);
    for (_, end, _) in &segments {
        be16(&mut f4, *end);
    }
    be16(&mut f4, 0); // reservedPad
    for (start, _, _) in &segments {
        be16(&mut f4, *start);
    }
    for (start, _, first) in &segments {
        // The last segment maps 0xFFFF to glyph 0: delta 1.
        let delta = if *start == 0xFFFF {
            1
        } else {
            first.wrapping_sub(*start)
        };
        be16(&mut f4, delta);
    }
    for _ in &segments {
        be16(&mut f4, 0); // idRangeOffset
    }

    // Format 12: the same runs over the whole repertoire.
    let mut groups: Vec<(u32, u32, u32)> = Vec::new();
    for &(c, g) in mapping {
        let g = u32::from(g);
        match groups.last_mut() {
            Some((start, end, first)) if *end + 1 == c && *first + (c - *start) == g => *end = c,
            _ => groups.push((c, c, g)),
        }
    }
    let mut f12 = Vec::new();
    be16(&mut f12, 12);
    be16(&mut f12, 0);
    be32(&mut f12, 16 + 12 * groups.len() as u32);
    be32(&mut f12, 0); // language
    be32(&mut f12, groups.len() as u32);
    for (start, end, first) in &groups {
        be32(&mut f12, *start);
        be32(&mut f12, *end);
        be32(&mut f12, *first);
    }

    let mut cmap = Vec::new();
    be16(&mut cmap, 0); // version
    be16(&mut cmap, 2);
    let f4_at = 4 + 2 * 8;
    for (platform, encoding, offset) in [(3, 1, f4_at), (3, 10, f4_at + f4.len())] {
        be16(&mut cmap, platform);
        be16(&mut cmap, encoding);
        be32(&mut cmap, offset as u32);
    }
    cmap.extend_from_slice(&f4);
    cmap.extend_from_slice(&f12);
    cmap
}

/// One segment of a glyph outline, font units, y up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seg {
    Move(f32, f32),
    Line(f32, f32),
    Quad(f32, f32, f32, f32),
    Cubic(f32, f32, f32, f32, f32, f32),
    Close,
}

#[derive(Default)]
struct Collect(Vec<Seg>);

impl OutlinePen for Collect {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.push(Seg::Move(x, y));
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.push(Seg::Line(x, y));
    }
    fn quad_to(&mut self, cx0: f32, cy0: f32, x: f32, y: f32) {
        self.0.push(Seg::Quad(cx0, cy0, x, y));
    }
    fn curve_to(&mut self, cx0: f32, cy0: f32, cx1: f32, cy1: f32, x: f32, y: f32) {
        self.0.push(Seg::Cubic(cx0, cy0, cx1, cy1, x, y));
    }
    fn close(&mut self) {
        self.0.push(Seg::Close);
    }
}

/// Outlines of the bundled font's glyphs, cached per glyph id.
pub struct GlyphOutlines {
    glyphs: OutlineGlyphCollection<'static>,
    units_per_em: f64,
    cache: HashMap<u16, Vec<Seg>>,
}

impl std::fmt::Debug for GlyphOutlines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlyphOutlines")
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl GlyphOutlines {
    /// The bundled font's outlines.
    pub fn new() -> Result<GlyphOutlines, FontError> {
        let font = FontRef::new(FONT_BYTES).map_err(|e| FontError::Read(e.to_string()))?;
        let units_per_em = font
            .head()
            .map(|h| f64::from(h.units_per_em()))
            .map_err(|e| FontError::Read(e.to_string()))?;
        Ok(GlyphOutlines {
            glyphs: font.outline_glyphs(),
            units_per_em: if units_per_em > 0.0 {
                units_per_em
            } else {
                2048.0
            },
            cache: HashMap::new(),
        })
    }

    /// Font units per em: a glyph at font size `s` is its outline scaled by
    /// `s / units_per_em`.
    pub fn units_per_em(&self) -> f64 {
        self.units_per_em
    }

    /// The outline of glyph `id` (empty for a blank glyph or one the font
    /// cannot draw).
    pub fn outline(&mut self, id: u16) -> &[Seg] {
        let glyphs = &self.glyphs;
        self.cache.entry(id).or_insert_with(|| {
            let mut pen = Collect::default();
            if let Some(glyph) = glyphs.get(GlyphId::new(u32::from(id))) {
                let settings = DrawSettings::unhinted(Size::unscaled(), LocationRef::default());
                if glyph.draw(settings, &mut pen).is_err() {
                    pen.0.clear();
                }
            }
            pen.0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_maps_its_characters_and_is_small() {
        let chars: BTreeSet<char> = "Hello, wörld! שלום".chars().collect();
        let sub = subset_for_chars(&chars).unwrap();
        assert!(sub.len() < 40_000, "{} bytes", sub.len());
        let font = FontRef::new(&sub).unwrap();
        let full = FontRef::new(FONT_BYTES).unwrap();
        let mut outlines_sub = font.outline_glyphs();
        let _ = &mut outlines_sub;
        for c in chars {
            let g = font
                .charmap()
                .map(c)
                .unwrap_or_else(|| panic!("{c:?} unmapped"));
            assert_ne!(g.to_u32(), 0, "{c:?}");
            // Same advance as in the whole font.
            let adv = |f: &FontRef, g| {
                f.glyph_metrics(Size::unscaled(), LocationRef::default())
                    .advance_width(g)
            };
            let g_full = full.charmap().map(c).unwrap();
            assert_eq!(adv(&font, g), adv(&full, g_full), "{c:?}");
        }
        assert!(font.charmap().map('Z').is_none());
        assert!(font.table_data(Tag::new(b"OS/2")).is_some());
        // Table checksums and the whole-font checksum hold.
        assert_eq!(checksum(&sub), 0xB1B0_AFBA);
    }

    #[test]
    fn outlines_are_cached_and_blank_for_space() {
        let mut o = GlyphOutlines::new().unwrap();
        let font = FontRef::new(FONT_BYTES).unwrap();
        let a = font.charmap().map('a').unwrap().to_u32() as u16;
        let space = font.charmap().map(' ').unwrap().to_u32() as u16;
        assert!(o.outline(a).len() > 5);
        assert!(matches!(o.outline(a)[0], Seg::Move(..)));
        assert!(o.outline(space).is_empty());
        assert_eq!(o.units_per_em(), 2048.0);
    }
}
