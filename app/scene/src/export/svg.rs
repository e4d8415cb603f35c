//! The SVG writer: a scene (not the board) to an SVG document, streamed to
//! any `impl Write`, so a board of 100,000 elements never exists as one
//! string.
//!
//! What the document holds:
//! - `<title>` (the board's title) and `<desc>`;
//! - in `<defs>`, the bundled font as an `@font-face` with base64 data when
//!   any text is exported as text: a subset holding only the glyphs of the
//!   exported characters ([`super::font`]); and the sticky-note shadow filter;
//! - a background rectangle (optional);
//! - one `<g id="ELEMENT ID" data-kind="KIND">` per element in drawing order,
//!   holding its items: SDF shapes as `<rect>` / `<ellipse>` rotated with a
//!   `transform`, paths (diamonds, triangles, ink, connector lines and their
//!   arrowheads) as `<path>`, and text as one `<text>` whose `<tspan x y>`
//!   lines are exactly the lines of [`crate::text`]'s layout, so line breaks
//!   match the canvas (selectable text). With [`SvgOptions::text_as_paths`],
//!   text is instead a `<g class="tp-text">` per text item holding, per line,
//!   a `<use>` of each glyph the layout placed, at the layout's position;
//!   the glyphs' outlines (skrifa, unhinted, font units) are written once
//!   each as `<path id="tp-g-GLYPH">` in a `<defs>` at the end of the
//!   document (the writer streams, and only then knows which glyphs were
//!   used). No font is needed to view it. Text that overflows its box is
//!   clipped to it.
//! - A frame's group holds the frame, its title, and a group clipped to the
//!   frame's box (`clipPath`) with the frame's elements.
//!
//! Ids the writer makes up (`tp-clip-N`, `tp-shadow`, `tp-g-N`) start with `tp-`; an
//! element id starting with `tp-` is written as `tp-el-ID` so it cannot
//! collide with them. Element text is escaped (`&`, `<`, `>`, quotes); emoji
//! and right-to-left scripts pass through as UTF-8; characters XML 1.0
//! forbids (most C0 controls) are dropped.
//!
//! Scope: the whole board, one frame (with its elements), or a selection of
//! elements ([`Scope::Elements`]; a selected frame brings its elements).

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::io::{self, BufWriter, Write};

use touchpoint_crdt::{Align, Body, Kind};

use crate::geom::{OrientedRect, Rect, Vec2};
use crate::scene::{
    Item, LineCap, LineJoin, PathCmd, PathItem, Primitive, Rgba, Scene, SceneElement, ShapeItem,
    TextItem,
};
use crate::text::{FONT_BYTES, FONT_FAMILY, Fonts, PlacedText, Sizing};

use super::font::{self, FontError, GlyphOutlines, Seg};

/// Default space around the exported content, world units.
pub const DEFAULT_PADDING: f64 = 32.0;
/// Colour of the background rectangle.
pub const BACKGROUND: Rgba = Rgba {
    r: 0xff,
    g: 0xff,
    b: 0xff,
    a: 0xff,
};
/// Id of the sticky-note shadow filter.
const SHADOW_ID: &str = "tp-shadow";
/// Ids of glyph outlines (text as paths): this and the glyph id.
const GLYPH_ID_PREFIX: &str = "tp-g-";
/// Coordinates are written with at most this many decimals.
const DECIMALS: f64 = 1000.0;

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every element.
    Board,
    /// One frame and its elements, named by id or (when no frame has that
    /// id) by its title.
    Frame(String),
    /// These elements (a selection), by id, and the elements of any frame
    /// among them. Every id must exist.
    Elements(Vec<String>),
}

/// Options of [`write_svg`]; start from [`SvgOptions::DEFAULT`].
#[derive(Debug, Clone, PartialEq)]
pub struct SvgOptions {
    /// What to export. Default: the whole board.
    pub scope: Scope,
    /// Space around the content, world units. Default [`DEFAULT_PADDING`].
    pub padding: f64,
    /// Whether to paint a [`BACKGROUND`] rectangle under everything.
    /// Default: true.
    pub background: bool,
    /// The document's `<title>` (the board title). Default: empty.
    pub title: String,
    /// The document's `<desc>`; `None` writes what was exported. Default: `None`.
    pub description: Option<String>,
    /// Embed the bundled font (`@font-face`, base64: a subset with the
    /// glyphs of the exported characters) when there is text exported as
    /// text. Default: true.
    pub embed_font: bool,
    /// Draw text as glyph outlines (`<path>`) instead of `<text>`: looks the
    /// same everywhere, needs no font, but is no longer selectable text.
    /// Default: false.
    pub text_as_paths: bool,
}

impl SvgOptions {
    pub const DEFAULT: SvgOptions = SvgOptions {
        scope: Scope::Board,
        padding: DEFAULT_PADDING,
        background: true,
        title: String::new(),
        description: None,
        embed_font: true,
        text_as_paths: false,
    };

    pub fn with_scope(mut self, scope: Scope) -> SvgOptions {
        self.scope = scope;
        self
    }

    pub fn with_padding(mut self, padding: f64) -> SvgOptions {
        self.padding = padding;
        self
    }

    pub fn with_background(mut self, background: bool) -> SvgOptions {
        self.background = background;
        self
    }

    pub fn with_title(mut self, title: impl Into<String>) -> SvgOptions {
        self.title = title.into();
        self
    }

    pub fn with_description(mut self, description: impl Into<String>) -> SvgOptions {
        self.description = Some(description.into());
        self
    }

    pub fn with_embed_font(mut self, embed_font: bool) -> SvgOptions {
        self.embed_font = embed_font;
        self
    }

    pub fn with_text_as_paths(mut self, text_as_paths: bool) -> SvgOptions {
        self.text_as_paths = text_as_paths;
        self
    }
}

impl Default for SvgOptions {
    fn default() -> SvgOptions {
        SvgOptions::DEFAULT
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum SvgError {
    #[error("no frame has the id or title {0:?}")]
    FrameNotFound(String),
    #[error("{count} frames are titled {title:?}; name one by id ({ids})")]
    AmbiguousFrame {
        title: String,
        count: usize,
        ids: String,
    },
    #[error("no element has the id {0:?}")]
    ElementNotFound(String),
    #[error("nothing is selected to export")]
    EmptySelection,
    #[error("{0}")]
    Font(#[from] FontError),
    #[error("padding must be a finite number of at least 0, not {0}")]
    BadPadding(f64),
    #[error("cannot write the SVG: {0}")]
    Io(#[from] io::Error),
}

/// What [`write_svg`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportStats {
    /// Elements exported.
    pub elements: usize,
    /// Bytes written.
    pub bytes: u64,
    /// The document's view box, world units.
    pub view_box: Rect,
}

/// Writes `scene` (or the part `options.scope` names) as an SVG document to
/// `out`, laying text out with `fonts`. Streams: memory use does not grow
/// with the document. `out` is buffered here; it is flushed at the end.
pub fn write_svg<W: Write>(
    scene: &Scene,
    fonts: &mut Fonts,
    options: &SvgOptions,
    out: W,
) -> Result<ExportStats, SvgError> {
    write_svg_with_progress(scene, fonts, options, out, &mut |_, _| {})
}

/// Which elements of a scene an export holds.
#[derive(Debug, Clone)]
pub struct Selection<'s> {
    /// `None`: every element.
    ids: Option<HashSet<&'s str>>,
    /// The frame, for [`Scope::Frame`].
    frame: Option<&'s SceneElement>,
}

impl<'s> Selection<'s> {
    pub fn new(scene: &'s Scene, scope: &Scope) -> Result<Selection<'s>, SvgError> {
        match scope {
            Scope::Board => Ok(Selection {
                ids: None,
                frame: None,
            }),
            Scope::Frame(name) => {
                let f = find_frame(scene, name)?;
                let mut ids: HashSet<&str> = HashSet::from([f.id()]);
                ids.extend(
                    scene
                        .children_of(f.id())
                        .filter_map(|c| scene.get(c))
                        .filter(|c| c.clip.is_some())
                        .map(SceneElement::id),
                );
                Ok(Selection {
                    ids: Some(ids),
                    frame: Some(f),
                })
            }
            Scope::Elements(list) => {
                if list.is_empty() {
                    return Err(SvgError::EmptySelection);
                }
                let mut ids = HashSet::new();
                for id in list {
                    let e = scene
                        .get(id)
                        .ok_or_else(|| SvgError::ElementNotFound(id.clone()))?;
                    ids.insert(e.id());
                    if e.kind() == Kind::Frame {
                        ids.extend(
                            scene
                                .children_of(e.id())
                                .filter_map(|c| scene.get(c))
                                .map(SceneElement::id),
                        );
                    }
                }
                Ok(Selection {
                    ids: Some(ids),
                    frame: None,
                })
            }
        }
    }

    pub fn contains(&self, e: &SceneElement) -> bool {
        self.ids.as_ref().is_none_or(|ids| ids.contains(e.id()))
    }

    /// The selected elements, back to front.
    pub fn iter<'a>(&'a self, scene: &'s Scene) -> impl Iterator<Item = &'s SceneElement> + 'a {
        scene.iter().filter(|e| self.contains(e))
    }

    /// Ids of the selected elements (`None`: all).
    pub fn ids(&self) -> Option<&HashSet<&'s str>> {
        self.ids.as_ref()
    }

    /// Union of the selected elements' visible bounds, and how many there are.
    pub fn bounds(&self, scene: &'s Scene) -> (Option<Rect>, usize) {
        let mut bounds: Option<Rect> = None;
        let mut count = 0;
        for e in self.iter(scene) {
            count += 1;
            if let Some(b) = e.visible_bounds() {
                bounds = Some(bounds.map_or(b, |u| u.union(b)));
            }
        }
        (bounds, count)
    }

    /// "board", "frame \"TITLE\"" or "selection", for descriptions.
    pub fn describe(&self) -> String {
        match (self.frame, &self.ids) {
            (Some(f), _) => format!("frame {:?}", frame_title(f)),
            (None, Some(_)) => "selection".to_owned(),
            (None, None) => "board".to_owned(),
        }
    }
}

/// Characters of exported text, for the font subset: a bitmap for ASCII
/// (most of it), a set for the rest.
struct CharSet {
    ascii: [bool; 128],
    other: BTreeSet<char>,
}

impl CharSet {
    fn new() -> CharSet {
        CharSet {
            ascii: [false; 128],
            other: BTreeSet::new(),
        }
    }

    fn add(&mut self, s: &str) {
        for b in s.bytes() {
            if b < 128 {
                self.ascii[usize::from(b)] = true;
            }
        }
        if !s.is_ascii() {
            self.other.extend(s.chars().filter(|c| !c.is_ascii()));
        }
    }

    fn chars(&self) -> BTreeSet<char> {
        let mut all = self.other.clone();
        all.extend(
            (0u8..128)
                .filter(|&b| self.ascii[usize::from(b)])
                .map(char::from)
                .filter(|c| !c.is_ascii_control()),
        );
        all
    }
}

/// [`write_svg`], calling `progress(written, total)` as elements are written
/// (every 256 elements and once at the end).
pub fn write_svg_with_progress<W: Write>(
    scene: &Scene,
    fonts: &mut Fonts,
    options: &SvgOptions,
    out: W,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ExportStats, SvgError> {
    if !options.padding.is_finite() || options.padding < 0.0 {
        return Err(SvgError::BadPadding(options.padding));
    }
    let selection = Selection::new(scene, &options.scope)?;
    let embed = options.embed_font && !options.text_as_paths;

    // One pass for what the header needs: bounds, count, whether any text
    // (and which characters, for the font subset).
    let mut bounds: Option<Rect> = None;
    let mut count = 0;
    let mut has_text = false;
    let mut has_shadow = false;
    let mut chars = CharSet::new();
    for e in selection.iter(scene) {
        count += 1;
        if let Some(b) = e.visible_bounds() {
            bounds = Some(bounds.map_or(b, |u| u.union(b)));
        }
        for item in &e.items {
            match item {
                Item::Text(t) => {
                    has_text = true;
                    if embed {
                        chars.add(&t.text);
                    }
                }
                Item::Shape(s) if s.shadow => has_shadow = true,
                _ => {}
            }
        }
    }
    let content = bounds.unwrap_or_else(|| Rect::point(Vec2::ZERO));
    let view_box = content.expand(options.padding);
    let font = if embed && has_text {
        match font::subset_for_chars(&chars.chars()) {
            Ok(bytes) => Some(std::borrow::Cow::Owned(bytes)),
            Err(e) => {
                tracing::warn!("{e}; embedding the whole font");
                Some(std::borrow::Cow::Borrowed(FONT_BYTES))
            }
        }
    } else {
        None
    };

    let mut w = Writer {
        out: BufWriter::with_capacity(64 * 1024, out),
        bytes: 0,
        next_clip: 0,
        outlines: if options.text_as_paths && has_text {
            Some(GlyphOutlines::new()?)
        } else {
            None
        },
        used_glyphs: BTreeSet::new(),
    };
    w.header(view_box, w.outlines.is_some())?;
    w.raw("<title>")?;
    w.text(&options.title)?;
    w.raw("</title>\n<desc>")?;
    match &options.description {
        Some(d) => w.text(d)?,
        None => {
            let what = selection.describe();
            w.text(&format!(
                "Touchpoint export of the {what}: {count} elements. 1 unit = 1 px at 100% zoom."
            ))?;
        }
    }
    w.raw("</desc>\n")?;
    w.defs(font.as_deref(), has_shadow)?;
    if options.background {
        w.raw("<rect class=\"tp-background\" x=\"")?;
        w.num(view_box.min.x)?;
        w.raw("\" y=\"")?;
        w.num(view_box.min.y)?;
        w.raw("\" width=\"")?;
        w.num(view_box.width())?;
        w.raw("\" height=\"")?;
        w.num(view_box.height())?;
        w.raw("\" ")?;
        w.paint("fill", Some(BACKGROUND))?;
        w.raw("/>\n")?;
    }

    // The frame whose clipped children group is open.
    let mut open_frame: Option<&str> = None;
    let mut written = 0;
    progress(0, count);
    for e in selection.iter(scene) {
        let child_of_open =
            e.clip.is_some() && open_frame.is_some() && e.element.parent.as_deref() == open_frame;
        if !child_of_open && open_frame.take().is_some() {
            w.raw("</g></g>\n")?;
        }
        written += 1;
        if written % 256 == 0 {
            progress(written, count);
        }
        w.element_open(e)?;
        match (e.kind(), &e.clip) {
            (Kind::Frame, _) => {
                w.items(fonts, e)?;
                let clip = w.clip_path(&e.rect())?;
                w.raw("<g clip-path=\"url(#")?;
                w.raw(&clip)?;
                w.raw(")\">\n")?;
                open_frame = Some(e.id());
                // Closed by the next element outside the frame.
                continue;
            }
            (_, Some(clip)) if !child_of_open => {
                // A clipped element outside its frame's group (not in drawing
                // order, or selected without its frame); clip it on its own.
                let id = w.clip_path(clip)?;
                w.raw("<g clip-path=\"url(#")?;
                w.raw(&id)?;
                w.raw(")\">")?;
                w.items(fonts, e)?;
                w.raw("</g>")?;
            }
            _ => w.items(fonts, e)?,
        }
        w.raw("</g>\n")?;
    }
    if open_frame.is_some() {
        w.raw("</g></g>\n")?;
    }
    w.glyph_defs()?;
    w.raw("</svg>\n")?;
    w.out.flush()?;
    progress(count, count);
    Ok(ExportStats {
        elements: count,
        bytes: w.bytes,
        view_box,
    })
}

fn frame_title(e: &SceneElement) -> &str {
    match &e.element.body {
        Body::Frame { title } => title,
        _ => "",
    }
}

/// The frame named by id, or else by title (which must then be unique).
fn find_frame<'s>(scene: &'s Scene, name: &str) -> Result<&'s SceneElement, SvgError> {
    if let Some(e) = scene.get(name).filter(|e| e.kind() == Kind::Frame) {
        return Ok(e);
    }
    let titled: Vec<&SceneElement> = scene
        .iter()
        .filter(|e| e.kind() == Kind::Frame && frame_title(e) == name)
        .collect();
    match titled.as_slice() {
        [] => Err(SvgError::FrameNotFound(name.to_owned())),
        [one] => Ok(one),
        many => Err(SvgError::AmbiguousFrame {
            title: name.to_owned(),
            count: many.len(),
            ids: many.iter().map(|e| e.id()).collect::<Vec<_>>().join(", "),
        }),
    }
}

/// A number as SVG writes it: at most three decimals, no exponent, `0` for
/// anything not finite.
struct Num(f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.0.is_finite() {
            (self.0.clamp(-1e12, 1e12) * DECIMALS).round() / DECIMALS
        } else {
            0.0
        };
        // No "-0".
        if v == 0.0 {
            f.write_str("0")
        } else {
            write!(f, "{v}")
        }
    }
}

/// Whether XML 1.0 allows `c` in a document.
fn xml_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

struct Writer<W: Write> {
    out: BufWriter<W>,
    bytes: u64,
    next_clip: u64,
    /// Set when text is drawn as paths.
    outlines: Option<GlyphOutlines>,
    /// Glyphs drawn as paths so far (their outlines go in a `<defs>` at the
    /// end of the document).
    used_glyphs: BTreeSet<u16>,
}

impl<W: Write> Writer<W> {
    fn raw(&mut self, s: &str) -> io::Result<()> {
        self.bytes += s.len() as u64;
        self.out.write_all(s.as_bytes())
    }

    fn num(&mut self, v: f64) -> io::Result<()> {
        // Written through a small stack buffer to count bytes.
        let mut buf = [0u8; 32];
        let mut cursor = io::Cursor::new(&mut buf[..]);
        write!(cursor, "{}", Num(v))?;
        let len = cursor.position() as usize;
        self.bytes += len as u64;
        self.out.write_all(&buf[..len])
    }

    /// Escaped text, for element content and attribute values alike.
    fn text(&mut self, s: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in s.char_indices() {
            let replacement = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&apos;",
                c if !xml_allowed(c) => "",
                _ => continue,
            };
            self.raw(&s[start..i])?;
            self.raw(replacement)?;
            start = i + c.len_utf8();
        }
        self.raw(&s[start..])
    }

    fn header(&mut self, view_box: Rect, xlink: bool) -> io::Result<()> {
        self.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
        self.raw("<svg xmlns=\"http://www.w3.org/2000/svg\"")?;
        if xlink {
            self.raw(" xmlns:xlink=\"http://www.w3.org/1999/xlink\"")?;
        }
        self.raw(" version=\"1.1\" width=\"")?;
        self.num(view_box.width())?;
        self.raw("\" height=\"")?;
        self.num(view_box.height())?;
        self.raw("\" viewBox=\"")?;
        self.num(view_box.min.x)?;
        self.raw(" ")?;
        self.num(view_box.min.y)?;
        self.raw(" ")?;
        self.num(view_box.width())?;
        self.raw(" ")?;
        self.num(view_box.height())?;
        self.raw("\">\n")
    }

    fn defs(&mut self, font: Option<&[u8]>, shadow: bool) -> io::Result<()> {
        if font.is_none() && !shadow {
            return Ok(());
        }
        self.raw("<defs>\n")?;
        if let Some(font) = font {
            self.raw("<style>@font-face{font-family:\"")?;
            self.raw(FONT_FAMILY)?;
            self.raw("\";src:url(data:font/ttf;base64,")?;
            self.base64(font)?;
            self.raw(") format(\"truetype\");}</style>\n")?;
        }
        if shadow {
            // Blur 3 and offset 2 reach 11 units: inside SHADOW_EXTENT.
            self.raw("<filter id=\"")?;
            self.raw(SHADOW_ID)?;
            self.raw(
                "\" x=\"-20%\" y=\"-20%\" width=\"140%\" height=\"140%\">\
                 <feGaussianBlur in=\"SourceAlpha\" stdDeviation=\"3\"/>\
                 <feOffset dy=\"2\" result=\"tp-blur\"/>\
                 <feFlood flood-color=\"#000000\" flood-opacity=\"0.18\"/>\
                 <feComposite in2=\"tp-blur\" operator=\"in\"/>\
                 <feMerge><feMergeNode/><feMergeNode in=\"SourceGraphic\"/></feMerge>\
                 </filter>\n",
            )?;
        }
        self.raw("</defs>\n")
    }

    /// Standard base64 (RFC 4648, with padding), streamed in chunks.
    fn base64(&mut self, data: &[u8]) -> io::Result<()> {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut buf = Vec::with_capacity(4096);
        for chunk in data.chunks(3 * 1024) {
            buf.clear();
            for group in chunk.chunks(3) {
                let b = [
                    group[0],
                    group.get(1).copied().unwrap_or(0),
                    group.get(2).copied().unwrap_or(0),
                ];
                let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
                for (k, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
                    if k <= group.len() {
                        buf.push(ALPHABET[((n >> shift) & 63) as usize]);
                    } else {
                        buf.push(b'=');
                    }
                }
            }
            self.bytes += buf.len() as u64;
            self.out.write_all(&buf)?;
        }
        Ok(())
    }

    fn element_open(&mut self, e: &SceneElement) -> io::Result<()> {
        self.raw("<g id=\"")?;
        if e.id().starts_with("tp-") {
            self.raw("tp-el-")?;
        }
        self.text(e.id())?;
        self.raw("\" data-kind=\"")?;
        self.raw(e.kind().as_str())?;
        self.raw("\">")
    }

    fn items(&mut self, fonts: &mut Fonts, e: &SceneElement) -> io::Result<()> {
        for item in &e.items {
            match item {
                Item::Shape(s) => self.shape(s)?,
                Item::Path(p) => self.path(p)?,
                Item::Text(t) => {
                    let placed = fonts.layout_item(t, Sizing::for_kind(e.kind()));
                    if self.outlines.is_some() {
                        self.text_paths(t, &placed)?;
                    } else {
                        self.text_item(t, &placed)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// ` fill="#rrggbb"` (or `none`), with an opacity when not opaque.
    fn paint(&mut self, attr: &str, color: Option<Rgba>) -> io::Result<()> {
        self.raw(attr)?;
        match color {
            None => self.raw("=\"none\""),
            Some(c) => {
                let hex = format!("=\"#{:02x}{:02x}{:02x}\"", c.r, c.g, c.b);
                self.raw(&hex)?;
                if c.a < 255 {
                    self.raw(" ")?;
                    self.raw(attr)?;
                    self.raw("-opacity=\"")?;
                    self.num(f64::from(c.a) / 255.0)?;
                    self.raw("\"")?;
                }
                Ok(())
            }
        }
    }

    fn stroke(&mut self, color: Option<Rgba>, width: f64) -> io::Result<()> {
        if color.is_none() || width <= 0.0 || !width.is_finite() {
            return Ok(());
        }
        self.raw(" ")?;
        self.paint("stroke", color)?;
        self.raw(" stroke-width=\"")?;
        self.num(width)?;
        self.raw("\"")
    }

    /// ` transform="rotate(DEG CX CY)"` when rotated.
    fn rotation(&mut self, rect: &OrientedRect) -> io::Result<()> {
        if rect.rotation == 0.0 || !rect.rotation.is_finite() {
            return Ok(());
        }
        self.raw(" transform=\"rotate(")?;
        self.num(rect.rotation.to_degrees())?;
        self.raw(" ")?;
        self.num(rect.center.x)?;
        self.raw(" ")?;
        self.num(rect.center.y)?;
        self.raw(")\"")
    }

    /// `x y width height` attributes of a box before rotation.
    fn box_attrs(&mut self, rect: &OrientedRect) -> io::Result<()> {
        let min = rect.center - rect.half_size;
        self.raw(" x=\"")?;
        self.num(min.x)?;
        self.raw("\" y=\"")?;
        self.num(min.y)?;
        self.raw("\" width=\"")?;
        self.num(rect.half_size.x * 2.0)?;
        self.raw("\" height=\"")?;
        self.num(rect.half_size.y * 2.0)?;
        self.raw("\"")
    }

    fn shape(&mut self, s: &ShapeItem) -> io::Result<()> {
        let r = &s.rect;
        match s.primitive {
            Primitive::Ellipse => {
                self.raw("<ellipse cx=\"")?;
                self.num(r.center.x)?;
                self.raw("\" cy=\"")?;
                self.num(r.center.y)?;
                self.raw("\" rx=\"")?;
                self.num(r.half_size.x)?;
                self.raw("\" ry=\"")?;
                self.num(r.half_size.y)?;
                self.raw("\"")?;
            }
            Primitive::Rect | Primitive::RoundedRect { .. } => {
                self.raw("<rect")?;
                self.box_attrs(r)?;
                if let Primitive::RoundedRect { radius } = s.primitive {
                    let radius = radius.clamp(0.0, r.half_size.x.min(r.half_size.y));
                    self.raw(" rx=\"")?;
                    self.num(radius)?;
                    self.raw("\"")?;
                }
            }
        }
        self.rotation(r)?;
        self.raw(" ")?;
        self.paint("fill", s.fill)?;
        self.stroke(s.stroke, s.stroke_width)?;
        if s.shadow {
            self.raw(" filter=\"url(#")?;
            self.raw(SHADOW_ID)?;
            self.raw(")\"")?;
        }
        self.raw("/>")
    }

    fn path(&mut self, p: &PathItem) -> io::Result<()> {
        if p.commands.is_empty() {
            return Ok(());
        }
        self.raw("<path d=\"")?;
        for (i, cmd) in p.commands.iter().enumerate() {
            if i > 0 {
                self.raw(" ")?;
            }
            match *cmd {
                PathCmd::MoveTo(a) => {
                    self.raw("M")?;
                    self.point(a)?;
                }
                PathCmd::LineTo(a) => {
                    self.raw("L")?;
                    self.point(a)?;
                }
                PathCmd::CubicTo(a, b, c) => {
                    self.raw("C")?;
                    self.point(a)?;
                    self.raw(" ")?;
                    self.point(b)?;
                    self.raw(" ")?;
                    self.point(c)?;
                }
                PathCmd::Close => self.raw("Z")?,
            }
        }
        self.raw("\" ")?;
        self.paint("fill", p.fill)?;
        self.stroke(p.stroke, p.stroke_width)?;
        if p.stroke.is_some() {
            self.raw(match p.join {
                LineJoin::Miter => "",
                LineJoin::Round => " stroke-linejoin=\"round\"",
            })?;
            self.raw(match p.cap {
                LineCap::Butt => "",
                LineCap::Round => " stroke-linecap=\"round\"",
            })?;
        }
        self.raw("/>")
    }

    fn point(&mut self, p: Vec2) -> io::Result<()> {
        self.num(p.x)?;
        self.raw(",")?;
        self.num(p.y)
    }

    /// A `<clipPath>` holding the (rotated) box; returns its id.
    fn clip_path(&mut self, rect: &OrientedRect) -> io::Result<String> {
        self.next_clip += 1;
        let id = format!("tp-clip-{}", self.next_clip);
        self.raw("<clipPath id=\"")?;
        self.raw(&id)?;
        self.raw("\"><rect")?;
        self.box_attrs(rect)?;
        self.rotation(rect)?;
        self.raw("/></clipPath>")?;
        Ok(id)
    }

    /// Opens a group clipped to the text's box when the text overflows it;
    /// returns whether it did (close it with `</g>`).
    fn open_text_clip(&mut self, t: &TextItem, placed: &PlacedText) -> io::Result<bool> {
        if !placed.overflows {
            return Ok(false);
        }
        let id = self.clip_path(&t.rect)?;
        self.raw("<g clip-path=\"url(#")?;
        self.raw(&id)?;
        self.raw(")\">")?;
        Ok(true)
    }

    /// Text as one `<path>` holding the outline of every glyph the layout
    /// placed, at the layout's positions (no font needed to view it).
    fn text_paths(&mut self, t: &TextItem, placed: &PlacedText) -> io::Result<()> {
        let Some(mut outlines) = self.outlines.take() else {
            return Ok(());
        };
        let result = self.text_paths_with(&mut outlines, t, placed);
        self.outlines = Some(outlines);
        result
    }

    fn text_paths_with(
        &mut self,
        outlines: &mut GlyphOutlines,
        t: &TextItem,
        placed: &PlacedText,
    ) -> io::Result<()> {
        let layout = &placed.layout;
        let has_ink = layout
            .lines
            .iter()
            .flat_map(|l| &l.glyphs)
            .any(|g| !outlines.outline(g.glyph_id).is_empty());
        if !has_ink {
            return Ok(());
        }
        let clip = self.open_text_clip(t, placed)?;
        let origin = t.rect.center - t.rect.half_size + placed.origin;
        let scale = layout.font_size / outlines.units_per_em();
        self.raw("<g class=\"tp-text\"")?;
        self.rotation(&t.rect)?;
        self.raw(" ")?;
        self.paint("fill", Some(t.color))?;
        self.raw(">")?;
        for line in &layout.lines {
            let inked: Vec<_> = line
                .glyphs
                .iter()
                .filter(|g| !outlines.outline(g.glyph_id).is_empty())
                .collect();
            if inked.is_empty() {
                continue;
            }
            // Font units, y up, with the origin on the line's baseline.
            // The scale in full: three decimals would misplace glyphs.
            let scale_text = format!("{}", scale as f32);
            self.raw("<g transform=\"matrix(")?;
            self.raw(&scale_text)?;
            self.raw(" 0 0 -")?;
            self.raw(&scale_text)?;
            self.raw(" ")?;
            self.point(Vec2::new(origin.x, origin.y + line.baseline))?;
            self.raw(")\">")?;
            for g in inked {
                self.used_glyphs.insert(g.glyph_id);
                self.raw("<use xlink:href=\"#")?;
                self.raw(GLYPH_ID_PREFIX)?;
                self.raw(&g.glyph_id.to_string())?;
                self.raw("\" x=\"")?;
                self.num(g.x / f64::from(scale as f32))?;
                self.raw("\"/>")?;
            }
            self.raw("</g>")?;
        }
        self.raw("</g>")?;
        if clip {
            self.raw("</g>")?;
        }
        Ok(())
    }

    /// The outlines of the glyphs `<use>`d by text drawn as paths, in font
    /// units (y up), each once.
    fn glyph_defs(&mut self) -> io::Result<()> {
        let Some(mut outlines) = self.outlines.take() else {
            return Ok(());
        };
        let used = std::mem::take(&mut self.used_glyphs);
        if !used.is_empty() {
            self.raw("<defs class=\"tp-glyphs\">\n")?;
            for id in used {
                self.raw("<path id=\"")?;
                self.raw(GLYPH_ID_PREFIX)?;
                self.raw(&id.to_string())?;
                self.raw("\" d=\"")?;
                for (i, seg) in outlines.outline(id).iter().enumerate() {
                    if i > 0 {
                        self.raw(" ")?;
                    }
                    let p = |x: f32, y: f32| Vec2::new(f64::from(x), f64::from(y));
                    match *seg {
                        Seg::Move(x, y) => {
                            self.raw("M")?;
                            self.point(p(x, y))?;
                        }
                        Seg::Line(x, y) => {
                            self.raw("L")?;
                            self.point(p(x, y))?;
                        }
                        Seg::Quad(cx, cy, x, y) => {
                            self.raw("Q")?;
                            self.point(p(cx, cy))?;
                            self.raw(" ")?;
                            self.point(p(x, y))?;
                        }
                        Seg::Cubic(ax, ay, bx, by, x, y) => {
                            self.raw("C")?;
                            self.point(p(ax, ay))?;
                            self.raw(" ")?;
                            self.point(p(bx, by))?;
                            self.raw(" ")?;
                            self.point(p(x, y))?;
                        }
                        Seg::Close => self.raw("Z")?,
                    }
                }
                self.raw("\"/>\n")?;
            }
            self.raw("</defs>\n")?;
        }
        self.outlines = Some(outlines);
        Ok(())
    }

    /// One `<text>` with a `<tspan>` per non-blank layout line, positioned
    /// where the layout puts it; anchored by alignment so that a viewer whose
    /// shaping differs by a hair still aligns the line as the canvas does.
    /// Lines of right-to-left paragraphs carry `direction="rtl"`.
    fn text_item(&mut self, t: &TextItem, placed: &PlacedText) -> io::Result<()> {
        let layout = &placed.layout;
        if layout.lines.iter().all(|l| l.range.is_empty()) {
            return Ok(());
        }
        let clip = self.open_text_clip(t, placed)?;
        let origin = t.rect.center - t.rect.half_size + placed.origin;
        self.raw("<text")?;
        self.rotation(&t.rect)?;
        self.raw(" font-family=\"'")?;
        self.raw(FONT_FAMILY)?;
        self.raw("', sans-serif\" font-size=\"")?;
        self.num(layout.font_size)?;
        self.raw("\" ")?;
        self.paint("fill", Some(t.color))?;
        self.raw(match t.align {
            Align::Left => "",
            Align::Center => " text-anchor=\"middle\"",
            Align::Right => " text-anchor=\"end\"",
        })?;
        self.raw(" xml:space=\"preserve\">")?;
        for line in &layout.lines {
            let Some(s) = t.text.get(line.range.clone()).filter(|s| !s.is_empty()) else {
                continue;
            };
            // A right-to-left paragraph's line is embedded right to left, as
            // the layout ordered it (a viewer's base direction is left to
            // right), and centred, since `start` and `end` swap sides there.
            let anchor = if line.rtl { Align::Center } else { t.align };
            let x = origin.x
                + line.x
                + match anchor {
                    Align::Left => 0.0,
                    Align::Center => line.width / 2.0,
                    Align::Right => line.width,
                };
            self.raw("<tspan x=\"")?;
            self.num(x)?;
            self.raw("\" y=\"")?;
            self.num(origin.y + line.baseline)?;
            self.raw("\"")?;
            if line.rtl {
                self.raw(" direction=\"rtl\" unicode-bidi=\"embed\"")?;
                if t.align != Align::Center {
                    self.raw(" text-anchor=\"middle\"")?;
                }
            }
            self.raw(">")?;
            self.text(s)?;
            self.raw("</tspan>")?;
        }
        self.raw("</text>")?;
        if clip {
            self.raw("</g>")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut w = Writer {
            out: BufWriter::new(Vec::new()),
            bytes: 0,
            next_clip: 0,
            outlines: None,
            used_glyphs: BTreeSet::new(),
        };
        w.text(s).unwrap();
        String::from_utf8(w.out.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn escapes_and_strips_forbidden_characters() {
        assert_eq!(
            escaped("a & b < c > \"d\" 'e'"),
            "a &amp; b &lt; c &gt; &quot;d&quot; &apos;e&apos;"
        );
        assert_eq!(escaped("x\u{0}y\u{1b}z\u{fffe}\tok"), "xyz\tok");
        assert_eq!(escaped("🙂 שלום"), "🙂 שלום");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(Num(1.0).to_string(), "1");
        assert_eq!(Num(-0.0001).to_string(), "0");
        assert_eq!(Num(12.34567).to_string(), "12.346");
        assert_eq!(Num(f64::NAN).to_string(), "0");
        assert_eq!(Num(1e300).to_string(), "1000000000000");
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut w = Writer {
                out: BufWriter::new(Vec::new()),
                bytes: 0,
                next_clip: 0,
                outlines: None,
                used_glyphs: BTreeSet::new(),
            };
            w.base64(input.as_bytes()).unwrap();
            assert_eq!(w.bytes as usize, want.len());
            assert_eq!(
                String::from_utf8(w.out.into_inner().unwrap()).unwrap(),
                want
            );
        }
    }
}
