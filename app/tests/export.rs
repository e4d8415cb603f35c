//! SVG export: every element kind and style exported, the document parsed by
//! an XML parser (roxmltree) and rendered by two independent renderers (resvg
//! here, librsvg's `rsvg-convert` as a program), checked on the render, text
//! surviving the round trip, and line breaks equal to the layout's; the
//! embedded font subset, text as paths, selections, progress. (The renders
//! compared with the GPU's: `export_compare.rs`.)

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use resvg::{tiny_skia, usvg};
use touchpoint_crdt::{
    Align, Anchor, ArrowHead, Board, Body, Color, End, Geometry, Kind, NewElement, ShapeKind,
    StylePatch,
};
use touchpoint_scene::export::{Scope, SvgError, SvgOptions, write_svg};
use touchpoint_scene::geom::Vec2;
use touchpoint_scene::scene::{Item, Scene};
use touchpoint_scene::text::{FONT_BYTES, Fonts, Sizing};

const TITLE: &str = "Journey & <blueprint> \"Q3\" 'draft' 🙂";
const SPECIAL: &str =
    "Fish & chips <b>bold</b> \"quoted\" 'single' 🙂👍🏽 שלום עולם مرحبا\u{1}\u{8}\u{b} end";
const SPECIAL_CLEAN: &str = "Fish & chips <b>bold</b> \"quoted\" 'single' 🙂👍🏽 שלום עולם مرحبا end";
const STICKY_FILL: Color = Color(0xa6, 0xcc, 0xf5);

fn style() -> StylePatch {
    StylePatch::default()
}

struct Fixture {
    board: Board,
    /// Element ids by a name used in the checks.
    ids: BTreeMap<&'static str, String>,
}

/// A board with every kind and style: stickies in palette colours (one
/// rotated, one with long text that shrinks), every shape outline with and
/// without fill and stroke, text boxes in every alignment, ink, connectors
/// (bound and free, each arrow-head choice), and a frame whose child pokes
/// out of it (clipped).
fn fixture() -> Fixture {
    let mut board = Board::with_client_id(7);
    board.set_title(TITLE).unwrap();
    let mut ids = BTreeMap::new();
    let mut add = |board: &mut Board, name: &'static str, el: NewElement| {
        let id = board.create(el).unwrap();
        ids.insert(name, id.clone());
        id
    };
    let sticky = add(
        &mut board,
        "sticky",
        NewElement::sticky(0.0, 0.0, "").with_style(StylePatch {
            fill: Some(Some(STICKY_FILL)),
            ..style()
        }),
    );
    add(
        &mut board,
        "sticky_text",
        NewElement::sticky(250.0, 0.0, "What bothers you about today's service?"),
    );
    add(
        &mut board,
        "sticky_long",
        NewElement::sticky(
            500.0,
            0.0,
            "A much longer note that someone typed during the workshop about what bothers \
             them in today's service, with many words, so it has to shrink to fit the note",
        )
        .with_style(StylePatch {
            fill: Some(Some(Color(0xf1, 0x6c, 0x7f))),
            text_color: Some(Color(0xff, 0xff, 0xff)),
            align: Some(Align::Left),
            ..style()
        }),
    );
    add(
        &mut board,
        "sticky_rotated",
        NewElement::sticky(750.0, 0.0, "Rotated").with_geometry(Geometry {
            rot: 15.0,
            ..Geometry::new(750.0, 0.0, 200.0, 200.0)
        }),
    );
    add(
        &mut board,
        "sticky_special",
        NewElement::sticky(1000.0, 0.0, SPECIAL),
    );
    let mut rect = String::new();
    add(
        &mut board,
        "sticky_rtl",
        NewElement::sticky(1250.0, 0.0, "مرحبا بالعالم — שלום!"),
    );
    for (i, shape) in ShapeKind::ALL.iter().enumerate() {
        let x = i as f64 * 220.0;
        let name: &'static str = ["rect", "rounded_rect", "ellipse", "diamond", "triangle"][i];
        let id = add(
            &mut board,
            name,
            NewElement::shape(*shape, Geometry::new(x, 300.0, 180.0, 120.0))
                .with_text(&format!("{name} shape"))
                .with_style(StylePatch {
                    fill: Some(Some(Color(0xd5, 0xf6, 0x92))),
                    stroke: Some(Some(Color(0x22, 0x44, 0x66))),
                    stroke_width: Some(3.0),
                    ..style()
                }),
        );
        if i == 0 {
            rect = id;
        }
        let name2: &'static str = [
            "rect_nofill",
            "rounded_nostroke",
            "ellipse_rot",
            "diamond_rot",
            "triangle_plain",
        ][i];
        let mut geom = Geometry::new(x, 480.0, 180.0, 120.0);
        let mut patch = style();
        match i {
            0 => patch.fill = Some(None),
            1 => patch.stroke = Some(None),
            2 | 3 => geom.rot = 30.0,
            _ => {}
        }
        add(
            &mut board,
            name2,
            NewElement::shape(*shape, geom).with_style(patch),
        );
    }
    for (i, align) in [Align::Left, Align::Center, Align::Right]
        .iter()
        .enumerate()
    {
        let name: &'static str = ["text_left", "text_center", "text_right"][i];
        let mut patch = StylePatch {
            align: Some(*align),
            font_size: Some(18.0),
            text_color: Some(Color(0x33, 0x33, 0x99)),
            ..style()
        };
        if i == 1 {
            patch.fill = Some(Some(Color(0xee, 0xee, 0xee)));
            patch.stroke = Some(Some(Color(0x99, 0x99, 0x99)));
        }
        add(
            &mut board,
            name,
            NewElement::text(
                i as f64 * 240.0,
                700.0,
                "Text that wraps over a few lines\nand a second paragraph",
            )
            .with_geometry(Geometry::new(i as f64 * 240.0, 700.0, 200.0, 120.0))
            .with_style(patch),
        );
    }
    let pts: Vec<[f32; 2]> = (0..24)
        .map(|k| {
            [
                800.0 + k as f32 * 8.0,
                720.0 + ((k as f32) * 0.7).sin() * 30.0,
            ]
        })
        .collect();
    add(
        &mut board,
        "ink",
        NewElement::ink(&pts).with_style(StylePatch {
            stroke: Some(Some(Color(0xe0, 0x31, 0x31))),
            stroke_width: Some(5.0),
            ..style()
        }),
    );
    add(
        &mut board,
        "connector_bound",
        NewElement::connector(
            End::bound(&sticky, Anchor::Bottom),
            End::bound(&rect, Anchor::Top),
        ),
    );
    for (name, start, end, y) in [
        ("connector_both", ArrowHead::Arrow, ArrowHead::Arrow, 900.0),
        ("connector_none", ArrowHead::None, ArrowHead::None, 950.0),
    ] {
        let mut el = NewElement::connector(End::free(0.0, y), End::free(400.0, y + 20.0))
            .with_style(StylePatch {
                stroke: Some(Some(Color(0x00, 0x55, 0xff))),
                stroke_width: Some(4.0),
                ..style()
            });
        if let Body::Connector {
            arrow_start,
            arrow_end,
            ..
        } = &mut el.body
        {
            *arrow_start = start;
            *arrow_end = end;
        }
        add(&mut board, name, el);
    }
    let frame = add(
        &mut board,
        "frame",
        NewElement::frame(
            "Onboarding & <stage 1>",
            Geometry::new(0.0, 1100.0, 600.0, 400.0),
        ),
    );
    add(
        &mut board,
        "frame_child",
        NewElement::sticky(50.0, 1150.0, "Inside the frame").with_parent(&frame),
    );
    // Pokes out of the frame's right edge: the part outside is clipped.
    add(
        &mut board,
        "frame_child_out",
        NewElement::sticky(500.0, 1250.0, "")
            .with_parent(&frame)
            .with_style(StylePatch {
                fill: Some(Some(Color(0x67, 0xc6, 0xc0))),
                ..style()
            }),
    );
    add(
        &mut board,
        "frame_special",
        NewElement::frame(SPECIAL, Geometry::new(800.0, 1100.0, 300.0, 200.0)),
    );
    Fixture { board, ids }
}

fn export(scene: &Scene, options: &SvgOptions) -> String {
    let mut out = Vec::new();
    let mut fonts = Fonts::new();
    write_svg(scene, &mut fonts, options, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn options(board: &Board) -> SvgOptions {
    SvgOptions::DEFAULT.with_title(board.meta().title)
}

/// The group of element `id`.
fn group<'a, 'i>(doc: &'a roxmltree::Document<'i>, id: &str) -> roxmltree::Node<'a, 'i> {
    doc.descendants()
        .find(|n| n.has_tag_name("g") && n.attribute("id") == Some(id))
        .unwrap_or_else(|| panic!("no group for {id}"))
}

/// The text of each `<tspan>` of an element's group (not of the elements
/// nested in it, as a frame's are).
fn tspans(g: roxmltree::Node) -> Vec<String> {
    g.descendants()
        .filter(|n| n.has_tag_name("tspan"))
        .filter(|n| n.ancestors().find(|a| a.attribute("data-kind").is_some()) == Some(g))
        .map(|n| n.text().unwrap_or("").to_owned())
        .collect()
}

fn view_box(doc: &roxmltree::Document) -> [f64; 4] {
    let vb: Vec<f64> = doc
        .root_element()
        .attribute("viewBox")
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    [vb[0], vb[1], vb[2], vb[3]]
}

fn render_resvg(svg: &str) -> tiny_skia::Pixmap {
    let mut opt = usvg::Options::default();
    opt.fontdb_mut().load_font_data(FONT_BYTES.to_vec());
    let tree = usvg::Tree::from_str(svg, &opt).expect("resvg parses the export");
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap
}

/// The rendered pixel at a world point, as straight RGBA.
fn pixel_at(pixmap: &tiny_skia::Pixmap, vb: [f64; 4], world: Vec2) -> [u8; 4] {
    let x = (world.x - vb[0]).floor() as u32;
    let y = (world.y - vb[1]).floor() as u32;
    let c = pixmap.pixel(x, y).unwrap().demultiply();
    [c.red(), c.green(), c.blue(), c.alpha()]
}

fn near(a: [u8; 4], b: [u8; 4]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 3)
}

fn rgba(c: Color) -> [u8; 4] {
    [c.0, c.1, c.2, 255]
}

#[test]
fn every_kind_and_style_exports_as_groups() {
    let fx = fixture();
    let scene = Scene::build(&fx.board);
    let svg = export(&scene, &options(&fx.board));
    let doc = roxmltree::Document::parse(&svg).expect("the export is well-formed XML");
    let root = doc.root_element();
    assert!(root.has_tag_name(("http://www.w3.org/2000/svg", "svg")));
    let title = root.children().find(|n| n.has_tag_name("title")).unwrap();
    assert_eq!(title.text(), Some(TITLE));
    assert!(root.children().any(|n| n.has_tag_name("desc")));
    let style = doc.descendants().find(|n| n.has_tag_name("style")).unwrap();
    assert!(
        style
            .text()
            .unwrap()
            .contains("@font-face{font-family:\"DejaVu Sans\";src:url(data:font/ttf;base64,AAEAAA")
    );

    // One group per element, in drawing order, with its kind.
    let groups: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("data-kind").is_some())
        .map(|n| {
            (
                n.attribute("id").unwrap().to_owned(),
                n.attribute("data-kind").unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = scene
        .iter()
        .map(|e| (e.id().to_owned(), e.kind().as_str().to_owned()))
        .collect();
    assert_eq!(groups, expected);
    for kind in Kind::ALL {
        assert!(
            groups.iter().any(|(_, k)| k == kind.as_str()),
            "no {kind:?} exported"
        );
    }

    // Shapes: SDF primitives as rect/ellipse, polygons as paths; styles.
    let rect = group(&doc, &fx.ids["rect"]);
    let r = rect.children().find(|n| n.has_tag_name("rect")).unwrap();
    assert_eq!(r.attribute("fill"), Some("#d5f692"));
    assert_eq!(r.attribute("stroke"), Some("#224466"));
    assert_eq!(r.attribute("stroke-width"), Some("3"));
    let nofill = group(&doc, &fx.ids["rect_nofill"]);
    let r = nofill.children().find(|n| n.has_tag_name("rect")).unwrap();
    assert_eq!(r.attribute("fill"), Some("none"));
    let nostroke = group(&doc, &fx.ids["rounded_nostroke"]);
    let r = nostroke
        .children()
        .find(|n| n.has_tag_name("rect"))
        .unwrap();
    assert!(r.attribute("rx").is_some() && r.attribute("stroke").is_none());
    let ell = group(&doc, &fx.ids["ellipse_rot"]);
    let e = ell.children().find(|n| n.has_tag_name("ellipse")).unwrap();
    assert!(e.attribute("transform").unwrap().starts_with("rotate(30 "));
    for name in ["diamond", "triangle", "diamond_rot"] {
        let g = group(&doc, &fx.ids[name]);
        let d = g.children().find(|n| n.has_tag_name("path")).unwrap();
        assert!(d.attribute("d").unwrap().ends_with('Z'), "{name}");
    }
    let sticky = group(&doc, &fx.ids["sticky_rotated"]);
    let r = sticky.children().find(|n| n.has_tag_name("rect")).unwrap();
    assert!(r.attribute("transform").unwrap().starts_with("rotate(15 "));
    assert_eq!(r.attribute("filter"), Some("url(#tp-shadow)"));
    let t = sticky.children().find(|n| n.has_tag_name("text")).unwrap();
    assert!(t.attribute("transform").unwrap().starts_with("rotate(15 "));

    // Ink and connectors.
    let ink = group(&doc, &fx.ids["ink"]);
    let p = ink.children().find(|n| n.has_tag_name("path")).unwrap();
    assert_eq!(p.attribute("stroke-linecap"), Some("round"));
    assert_eq!(p.attribute("stroke"), Some("#e03131"));
    assert!(p.attribute("d").unwrap().contains('C'));
    let heads = |name: &str| {
        group(&doc, &fx.ids[name])
            .children()
            .filter(|n| n.has_tag_name("path") && n.attribute("fill") != Some("none"))
            .count()
    };
    assert_eq!(heads("connector_both"), 2);
    assert_eq!(heads("connector_none"), 0);
    assert_eq!(heads("connector_bound"), 1);

    // The frame: a group with its outline, title, and a clipped group of
    // its children.
    let frame = group(&doc, &fx.ids["frame"]);
    assert_eq!(tspans(frame)[0], "Onboarding & <stage 1>");
    let clip = frame
        .children()
        .find(|n| n.has_tag_name("clipPath"))
        .unwrap();
    let clipped = frame
        .children()
        .find(|n| n.has_tag_name("g") && n.attribute("clip-path").is_some())
        .unwrap();
    assert_eq!(
        clipped.attribute("clip-path").unwrap(),
        format!("url(#{})", clip.attribute("id").unwrap())
    );
    let inside: Vec<&str> = clipped
        .children()
        .filter_map(|n| n.attribute("id"))
        .collect();
    assert_eq!(
        inside.len(),
        2,
        "children of the frame inside its clip: {inside:?}"
    );
    assert!(inside.contains(&fx.ids["frame_child"].as_str()));
    assert!(inside.contains(&fx.ids["frame_child_out"].as_str()));
}

#[test]
fn special_characters_survive_the_xml_round_trip() {
    let fx = fixture();
    let scene = Scene::build(&fx.board);
    let svg = export(&scene, &options(&fx.board));
    let doc = roxmltree::Document::parse(&svg).unwrap();
    for name in ["sticky_special", "frame_special"] {
        let lines = tspans(group(&doc, &fx.ids[name]));
        assert_eq!(lines.join(" "), SPECIAL_CLEAN, "{name}");
    }
    let title = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("title"))
        .unwrap();
    assert_eq!(title.text(), Some(TITLE));

    // A right-to-left paragraph's lines are embedded right to left.
    let rtl = group(&doc, &fx.ids["sticky_rtl"]);
    let spans: Vec<_> = rtl
        .descendants()
        .filter(|n| n.has_tag_name("tspan"))
        .collect();
    assert!(!spans.is_empty());
    for span in spans {
        assert_eq!(span.attribute("direction"), Some("rtl"));
    }
    assert_eq!(tspans(rtl).join(" "), "مرحبا بالعالم — שלום!");
}

#[test]
fn line_breaks_and_sizes_equal_the_layout() {
    let fx = fixture();
    let scene = Scene::build(&fx.board);
    let svg = export(&scene, &options(&fx.board));
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let mut fonts = Fonts::new();
    let mut checked = 0;
    for e in scene.iter() {
        for item in &e.items {
            let Item::Text(t) = item else { continue };
            let placed = fonts.layout_item(t, Sizing::for_kind(e.kind()));
            let want: Vec<String> = placed
                .layout
                .line_texts(&t.text)
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.chars()
                        .filter(|c| !c.is_control() || *c == '\t')
                        .collect()
                })
                .collect();
            let g = group(&doc, e.id());
            assert_eq!(tspans(g), want, "{}", e.id());
            let text = g.descendants().find(|n| n.has_tag_name("text")).unwrap();
            let size: f64 = text.attribute("font-size").unwrap().parse().unwrap();
            assert!((size - placed.layout.font_size).abs() < 1e-3);
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked}");
    // The wrapped text boxes really wrap, and the long sticky shrank.
    let lines = tspans(group(&doc, &fx.ids["text_left"]));
    assert!(lines.len() >= 3, "{lines:?}");
    assert_eq!(lines.last().unwrap(), "paragraph");
    let long = group(&doc, &fx.ids["sticky_long"]);
    let size: f64 = long
        .descendants()
        .find(|n| n.has_tag_name("text"))
        .unwrap()
        .attribute("font-size")
        .unwrap()
        .parse()
        .unwrap();
    assert!(size < 20.0, "{size}");
}

#[test]
fn resvg_renders_the_export_as_the_scene_says() {
    let fx = fixture();
    let scene = Scene::build(&fx.board);
    let svg = export(&scene, &options(&fx.board));
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let vb = view_box(&doc);
    let pixmap = render_resvg(&svg);
    assert_eq!(pixmap.width() as f64, vb[2].ceil());

    // The sticky's fill at its position (away from text), the background
    // around it.
    assert!(near(
        pixel_at(&pixmap, vb, Vec2::new(100.0, 100.0)),
        rgba(STICKY_FILL)
    ));
    assert!(near(
        pixel_at(&pixmap, vb, Vec2::new(vb[0] + 2.0, vb[1] + 2.0)),
        [255, 255, 255, 255]
    ));
    // A shape's fill inside it, its stroke on its edge.
    assert!(near(
        pixel_at(&pixmap, vb, Vec2::new(10.0, 310.0)),
        [0xd5, 0xf6, 0x92, 255]
    ));
    let edge = pixel_at(&pixmap, vb, Vec2::new(20.0, 300.0));
    assert!(near(edge, [0x22, 0x44, 0x66, 255]), "{edge:?} {vb:?}");
    // The frame clips its child: teal inside the frame, not outside it.
    let teal = [0x67, 0xc6, 0xc0, 255];
    assert!(near(pixel_at(&pixmap, vb, Vec2::new(560.0, 1400.0)), teal));
    assert!(!near(pixel_at(&pixmap, vb, Vec2::new(660.0, 1400.0)), teal));
    // Text drew glyphs: dark pixels in the text sticky's middle band.
    let dark = (260..440)
        .flat_map(|x| (80..120).map(move |y| (x, y)))
        .filter(|&(x, y)| {
            let p = pixel_at(&pixmap, vb, Vec2::new(f64::from(x), f64::from(y)));
            p[0] < 100 && p[1] < 100 && p[2] < 100
        })
        .count();
    assert!(dark > 50, "text pixels: {dark}");

    // resvg's glyphs of a left-aligned line span what the layout says (the
    // same font; kerning and rounding allow a pixel or two).
    let el = scene.get(&fx.ids["text_left"]).unwrap();
    let Some(Item::Text(t)) = el.items.last() else {
        panic!("no text item")
    };
    let placed = Fonts::new().layout_item(t, Sizing::Fixed);
    let line = &placed.layout.lines[0];
    let origin = t.rect.center - t.rect.half_size + placed.origin;
    let baseline = origin.y + line.baseline;
    let ink: Vec<f64> = ((origin.x as i64 - 10)..(origin.x as i64 + 220))
        .map(|x| x as f64 + 0.5)
        .filter(|&x| {
            ((baseline - 14.0) as i64..(baseline + 4.0) as i64).any(|y| {
                let p = pixel_at(&pixmap, vb, Vec2::new(x, y as f64 + 0.5));
                i32::from(p[2]) - i32::from(p[0]) > 40
            })
        })
        .collect();
    let (left, right) = (ink[0], ink[ink.len() - 1]);
    let (want_left, want_right) = (origin.x + line.x, origin.x + line.x + line.width);
    assert!((left - want_left).abs() < 3.0, "{left} vs {want_left}");
    assert!((right - want_right).abs() < 3.0, "{right} vs {want_right}");

    // Without a background, the corners are transparent.
    let svg = export(&scene, &options(&fx.board).with_background(false));
    let pixmap = render_resvg(&svg);
    assert_eq!(
        pixel_at(&pixmap, vb, Vec2::new(vb[0] + 1.0, vb[1] + 1.0))[3],
        0
    );
}

/// Renders with librsvg's `rsvg-convert`; fails when it is missing unless
/// TOUCHPOINT_SKIP_RSVG=1.
fn rsvg_convert(svg_path: &Path, png_path: &Path) -> bool {
    let which = Command::new("rsvg-convert").arg("--version").output();
    if which.is_err() {
        if std::env::var("TOUCHPOINT_SKIP_RSVG").as_deref() == Ok("1") {
            eprintln!("skipped: rsvg-convert is missing and TOUCHPOINT_SKIP_RSVG=1");
            return false;
        }
        panic!(
            "rsvg-convert is missing: install librsvg2-bin (scripts/test does) or set TOUCHPOINT_SKIP_RSVG=1"
        );
    }
    let out = Command::new("rsvg-convert")
        .arg("-o")
        .arg(png_path)
        .arg(svg_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rsvg-convert failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "rsvg-convert complained: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(png_path).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 1000);
    true
}

#[test]
fn rsvg_convert_renders_the_exports() {
    let fx = fixture();
    let scene = Scene::build(&fx.board);
    let dir = tempfile::tempdir().unwrap();
    for (name, opts) in [
        ("board.svg", options(&fx.board)),
        (
            "frame.svg",
            options(&fx.board).with_scope(Scope::Frame(fx.ids["frame"].clone())),
        ),
        (
            "bare.svg",
            options(&fx.board).with_background(false).with_padding(0.0),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, export(&scene, &opts)).unwrap();
        if !rsvg_convert(&path, &dir.path().join(format!("{name}.png"))) {
            return;
        }
    }
}

#[test]
fn one_frame_by_id_or_title() {
    let fx = fixture();
    let scene = Scene::build(&fx.board);
    let by_id = export(
        &scene,
        &options(&fx.board).with_scope(Scope::Frame(fx.ids["frame"].clone())),
    );
    let by_title = export(
        &scene,
        &options(&fx.board).with_scope(Scope::Frame("Onboarding & <stage 1>".into())),
    );
    assert_eq!(by_id, by_title);
    let doc = roxmltree::Document::parse(&by_id).unwrap();
    let ids: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("data-kind").is_some())
        .map(|n| n.attribute("id").unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            fx.ids["frame"].as_str(),
            fx.ids["frame_child"].as_str(),
            fx.ids["frame_child_out"].as_str()
        ]
    );
    // The view box is the frame (with its title band and stroke) plus padding.
    let frame = scene.get(&fx.ids["frame"]).unwrap();
    let b = frame.visible_bounds().unwrap();
    let vb = view_box(&doc);
    assert!((vb[0] - (b.min.x - 32.0)).abs() < 1e-3);
    assert!((vb[2] - (b.width() + 64.0)).abs() < 1e-3);
    // The child's sticking-out part is outside the view box.
    assert!(vb[0] + vb[2] < 700.0);

    let mut fonts = Fonts::new();
    let err = write_svg(
        &scene,
        &mut fonts,
        &SvgOptions::DEFAULT.with_scope(Scope::Frame("nope".into())),
        Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(err, SvgError::FrameNotFound(_)), "{err}");
}

#[test]
fn ambiguous_titles_and_empty_boards() {
    let mut board = Board::with_client_id(3);
    for x in [0.0, 500.0] {
        board
            .create(NewElement::frame(
                "Same",
                Geometry::new(x, 0.0, 100.0, 100.0),
            ))
            .unwrap();
    }
    let scene = Scene::build(&board);
    let mut fonts = Fonts::new();
    let err = write_svg(
        &scene,
        &mut fonts,
        &SvgOptions::DEFAULT.with_scope(Scope::Frame("Same".into())),
        Vec::new(),
    )
    .unwrap_err();
    assert!(
        matches!(err, SvgError::AmbiguousFrame { count: 2, .. }),
        "{err}"
    );

    let empty = Scene::build(&Board::with_client_id(4));
    let svg = export(&empty, &SvgOptions::DEFAULT);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(view_box(&doc), [-32.0, -32.0, 64.0, 64.0]);
    // No text: no font embedded.
    assert!(!svg.contains("@font-face"));
    render_resvg(&svg);
}

#[test]
fn cli_exports_a_board_file() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let board_path = dir.path().join("journey.tpboard");
    touchpoint_crdt::file::save(&fx.board, &board_path).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_touchpoint"))
            .arg("export")
            .arg(&board_path)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let out_path = dir.path().join("out.svg");
    let out = run(&["-o", out_path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&out_path).unwrap();
    let scene = Scene::build(&fx.board);
    assert_eq!(svg, export(&scene, &options(&fx.board)));

    let frame_path = dir.path().join("frame.svg");
    let out = run(&[
        "-o",
        frame_path.to_str().unwrap(),
        "--frame",
        "Onboarding & <stage 1>",
        "--padding",
        "0",
        "--no-background",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&frame_path).unwrap();
    assert!(!svg.contains("tp-background"));
    assert!(roxmltree::Document::parse(&svg).is_ok());

    for (args, needle) in [
        (
            vec!["-o", "x.gif"],
            "name the output file .svg, .png or .csv",
        ),
        (vec!["-o", "x.png", "--scale", "0"], "scale"),
        (vec!["-o", "x.svg", "--select", "nope"], "nope"),
        (
            vec!["-o", "x.png", "--text-as-paths"],
            "--text-as-paths is for SVG",
        ),
        (vec!["-o", "x.svg", "--frame", "missing"], "missing"),
        (vec!["-o", "x.svg", "--padding=-3"], "padding"),
    ] {
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // A failed export leaves no file behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 3, "{leftovers:?}");
}

/// The `@font-face` data of an export, decoded.
fn embedded_font(svg: &str) -> Vec<u8> {
    let start = svg.find("base64,").expect("a font is embedded") + "base64,".len();
    let end = start + svg[start..].find(')').unwrap();
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in svg[start..end].bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn render_with_fonts(svg: &str, fonts: &[&[u8]]) -> tiny_skia::Pixmap {
    let mut opt = usvg::Options::default();
    for f in fonts {
        opt.fontdb_mut().load_font_data(f.to_vec());
    }
    let tree = usvg::Tree::from_str(svg, &opt).unwrap();
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap
}

/// Mean absolute difference per channel of two renders of one size.
fn mean_diff(a: &tiny_skia::Pixmap, b: &tiny_skia::Pixmap) -> f64 {
    assert_eq!((a.width(), a.height()), (b.width(), b.height()));
    let sum: u64 = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.data().len() as f64
}

#[test]
fn the_embedded_font_is_a_working_subset() {
    use skrifa::MetadataProvider;
    let fx = fixture();
    let scene = Scene::build(&fx.board);
    let svg = export(&scene, &options(&fx.board));
    let font = embedded_font(&svg);
    // A small part of the 740 KB font.
    assert!(
        font.len() * 10 < FONT_BYTES.len(),
        "{} bytes embedded",
        font.len()
    );
    let sub = skrifa::FontRef::new(&font).expect("the subset parses");
    let full = skrifa::FontRef::new(FONT_BYTES).unwrap();
    // Every character of the exported text that the font has is mapped.
    let mut text = String::new();
    for (_, item) in scene.items() {
        if let Item::Text(t) = item {
            text.push_str(&t.text);
        }
    }
    let mut mapped = 0;
    for c in text.chars().filter(|c| !c.is_control()) {
        if full.charmap().map(c).is_some() {
            assert!(sub.charmap().map(c).is_some(), "{c:?} is not in the subset");
            mapped += 1;
        }
    }
    assert!(mapped > 100);
    // Characters not exported are not in it.
    assert!(sub.charmap().map('Q').is_none() || text.contains('Q'));

    // A renderer that has only the subset draws the text as with the whole
    // font, and far from drawing no text at all. (Not identically: the
    // subset has no kerning and no contextual forms, so the Arabic note
    // and the kerned pairs differ a little. Measured: 0.25 against 0.91.)
    let with_subset = render_with_fonts(&svg, &[&font]);
    let with_full = render_with_fonts(&svg, &[FONT_BYTES]);
    let without = render_with_fonts(&svg, &[]);
    let close = mean_diff(&with_subset, &with_full);
    let far = mean_diff(&without, &with_full);
    eprintln!("subset vs whole font: {close:.3}; no font vs whole font: {far:.3}");
    assert!(close * 3.0 < far, "subset {close}, none {far}");

    // With text as paths, no font is embedded at all.
    let paths = export(&scene, &options(&fx.board).with_text_as_paths(true));
    assert!(!paths.contains("@font-face"));
    // Without embedding, neither.
    let bare = export(&scene, &options(&fx.board).with_embed_font(false));
    assert!(!bare.contains("@font-face"));
    assert!(svg.len() < 200_000, "{} bytes", svg.len());
}

#[test]
fn text_as_paths_draws_the_layout_glyphs() {
    let fx = fixture();
    let scene = Scene::build(&fx.board);
    let text_svg = export(&scene, &options(&fx.board));
    let path_svg = export(&scene, &options(&fx.board).with_text_as_paths(true));
    let doc = roxmltree::Document::parse(&path_svg).unwrap();
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("text") || n.has_tag_name("tspan"))
            .count(),
        0
    );
    // Every element whose text exports as <text> has a glyph path instead.
    let text_doc = roxmltree::Document::parse(&text_svg).unwrap();
    for g in text_doc
        .descendants()
        .filter(|n| n.attribute("data-kind").is_some())
    {
        let has_text = g
            .children()
            .any(|c| c.has_tag_name("text") || c.descendants().any(|d| d.has_tag_name("text")));
        if !has_text || tspans(g).iter().all(|t| t.trim().is_empty()) {
            continue;
        }
        let id = g.attribute("id").unwrap();
        let pg = group(&doc, id);
        let glyphs = pg
            .descendants()
            .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("tp-text"))
            .flat_map(|n| n.descendants().filter(|u| u.has_tag_name("use")))
            .count();
        assert!(glyphs > 0, "{id} has no glyphs");
    }
    // Each glyph used is defined once, as a path.
    let defs: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("path"))
        .filter_map(|n| n.attribute("id"))
        .filter(|id| id.starts_with("tp-g-"))
        .collect();
    let unique: std::collections::BTreeSet<&str> = defs.iter().copied().collect();
    assert_eq!(defs.len(), unique.len());
    assert!(defs.len() > 50, "{} glyphs", defs.len());
    for u in doc.descendants().filter(|n| n.has_tag_name("use")) {
        let href = u
            .attribute(("http://www.w3.org/1999/xlink", "href"))
            .unwrap();
        assert!(unique.contains(href.trim_start_matches('#')), "{href}");
    }
    // Rendered, the outlines land where resvg puts the text's glyphs: the
    // two renders differ only by rasterisation (and the glyphs resvg lacks:
    // emoji and CJK are drawn as the font's missing-glyph box, as on the
    // canvas).
    let a = render_resvg(&text_svg);
    let b = render_resvg(&path_svg);
    let d = mean_diff(&a, &b);
    let none = mean_diff(
        &render_with_fonts(&text_svg, &[]),
        &render_with_fonts(&text_svg, &[FONT_BYTES]),
    );
    eprintln!("text vs paths: {d:.3}; no text at all: {none:.3}");
    assert!(d * 3.0 < none, "text vs paths {d}, text missing {none}");
    // And librsvg draws it too.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paths.svg");
    std::fs::write(&path, &path_svg).unwrap();
    rsvg_convert(&path, &dir.path().join("paths.png"));
}

#[test]
fn a_selection_exports_its_elements_and_their_frames_contents() {
    let fx = fixture();
    let scene = Scene::build(&fx.board);
    let ids = |svg: &str| -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .filter(|n| n.attribute("data-kind").is_some())
            .map(|n| n.attribute("id").unwrap().to_owned())
            .collect()
    };
    let picked = vec![fx.ids["ink"].clone(), fx.ids["sticky_rtl"].clone()];
    let svg = export(
        &scene,
        &options(&fx.board).with_scope(Scope::Elements(picked.clone())),
    );
    let mut got = ids(&svg);
    got.sort();
    let mut want = picked.clone();
    want.sort();
    assert_eq!(got, want);
    assert!(svg.contains("selection: 2 elements"));
    // The view box is the selection's.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let vb = view_box(&doc);
    let ink = scene.get(&fx.ids["ink"]).unwrap().visible_bounds().unwrap();
    let rtl = scene
        .get(&fx.ids["sticky_rtl"])
        .unwrap()
        .visible_bounds()
        .unwrap();
    let b = ink.union(rtl);
    assert!((vb[0] - (b.min.x - 32.0)).abs() < 1e-3);
    assert!((vb[3] - (b.height() + 64.0)).abs() < 1e-3);

    // A selected frame brings its elements, clipped as in a frame export.
    let svg = export(
        &scene,
        &options(&fx.board).with_scope(Scope::Elements(vec![fx.ids["frame"].clone()])),
    );
    let frame_only = export(
        &scene,
        &options(&fx.board).with_scope(Scope::Frame(fx.ids["frame"].clone())),
    );
    assert_eq!(ids(&svg), ids(&frame_only));
    assert!(svg.contains("clip-path"));
    // A frame's child alone is still clipped to its frame.
    let svg = export(
        &scene,
        &options(&fx.board).with_scope(Scope::Elements(vec![fx.ids["frame_child_out"].clone()])),
    );
    assert_eq!(ids(&svg), [fx.ids["frame_child_out"].clone()]);
    assert!(svg.contains("clip-path"));

    let mut fonts = Fonts::new();
    for (scope, want) in [
        (Scope::Elements(vec![]), "nothing is selected"),
        (
            Scope::Elements(vec![fx.ids["ink"].clone(), "nope".into()]),
            "\"nope\"",
        ),
    ] {
        let err = write_svg(
            &scene,
            &mut fonts,
            &SvgOptions::DEFAULT.with_scope(scope),
            Vec::new(),
        )
        .unwrap_err();
        assert!(
            matches!(err, SvgError::EmptySelection | SvgError::ElementNotFound(_)),
            "{err}"
        );
        assert!(err.to_string().contains(want), "{err}");
    }
}

#[test]
fn export_to_file_reports_progress_and_writes_atomically() {
    use touchpoint::export::{ExportRequest, export_to_file};
    let (board, _) = touchpoint_scene::sample::grid_board(2_000, 5).unwrap();
    let scene = Scene::build(&board);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.svg");
    let mut calls = Vec::new();
    let stats = export_to_file(&board, &scene, &ExportRequest::new(&out), &mut |d, t| {
        calls.push((d, t))
    })
    .unwrap();
    assert_eq!(stats.elements, scene.len());
    assert_eq!(std::fs::metadata(&out).unwrap().len(), stats.bytes);
    assert_eq!(calls.first(), Some(&(0, scene.len())));
    assert_eq!(calls.last(), Some(&(scene.len(), scene.len())));
    assert!(calls.len() >= 8, "{} calls", calls.len());
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
    roxmltree::Document::parse(&std::fs::read_to_string(&out).unwrap()).unwrap();

    // Unknown formats and bad scopes fail before any file is made.
    for (name, scope) in [
        ("x.jpeg", Scope::Board),
        ("x.svg", Scope::Frame("nope".into())),
        ("x.png", Scope::Elements(vec!["nope".into()])),
    ] {
        let req = ExportRequest {
            scope,
            ..ExportRequest::new(dir.path().join(name))
        };
        assert!(export_to_file(&board, &scene, &req, &mut |_, _| {}).is_err());
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}
