//! The reference boards written by Rust and committed under `tests/fixtures/`,
//! which the JavaScript side reads (as yrs keeps byte fixtures written by
//! JavaScript). They are built with the crdt crate's public API only, with
//! fixed client ids so that ids and content are the same on every run; the
//! bytes are not (yrs' internal item order may differ), so compare content.
//!
//! Regenerate with `TOUCHPOINT_UPDATE_FIXTURES=1 cargo test -p touchpoint-tests
//! --test interop`.

use std::path::PathBuf;

use touchpoint_crdt::{
    Align, Anchor, ArrowHead, Board, Body, Color, End, EndSide, Geometry, NewElement, Reorder,
    ShapeKind, StylePatch,
};

/// `tests/fixtures/every-kind.tpboard`.
pub fn every_kind_path() -> PathBuf {
    crate::fixtures_dir().join("every-kind.tpboard")
}

/// `tests/fixtures/small.tpboard`.
pub fn small_path() -> PathBuf {
    crate::fixtures_dir().join("small.tpboard")
}

/// `tests/fixtures/js-written.tpboard`, written by `tests/js/write_board.mjs`.
pub fn js_written_path() -> PathBuf {
    crate::fixtures_dir().join("js-written.tpboard")
}

/// Ids of the elements of the every-kind board.
#[derive(Debug, Clone)]
pub struct EveryKindIds {
    pub frame: String,
    /// A yellow sticky inside the frame, edited after creation.
    pub sticky: String,
    /// A rotated, restyled sticky in right-to-left scripts, inside the frame.
    pub sticky_rtl: String,
    /// One shape per outline, in `ShapeKind::ALL` order.
    pub shapes: Vec<String>,
    pub text: String,
    pub ink: String,
    /// Both ends bound, with anchors and arrow heads on both ends.
    pub connector_bound: String,
    /// One end bound, the other free.
    pub connector_free_end: String,
    /// Both ends free.
    pub connector_free: String,
}

const EVERY_KIND_CLIENT: u64 = 0x7e57;
const SMALL_CLIENT: u64 = 0x5a11;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("building the fixture: {what}: {e}"))
}

/// A board with every element kind and shape outline, every style field,
/// a frame with children, connectors bound (with anchors) and free, ink, text
/// in several scripts, and edits after creation (typing, a move, a reorder,
/// a deleted element), so its update carries deletions too.
pub fn every_kind() -> (Board, EveryKindIds) {
    let mut b = Board::with_client_id(EVERY_KIND_CLIENT);
    ok(b.set_title("Every kind — Rust fixture ✅"), "title");
    ok(b.set_template("service-blueprint"), "template");

    let frame = ok(
        b.create(
            NewElement::frame(
                "Stage 1: aware 🔍",
                Geometry {
                    x: -20.0,
                    y: -40.5,
                    w: 1400.0,
                    h: 800.0,
                    rot: 0.0,
                },
            )
            .with_author("Søren")
            .with_style(StylePatch {
                fill: Some(Some(Color(0xf7, 0xf7, 0xf7))),
                ..StylePatch::default()
            }),
        ),
        "frame",
    );
    let sticky = ok(
        b.create(
            NewElement::sticky(0.0, 0.0, "Café ☕ résumé, naïve 👩🏽‍💻")
                .with_parent(&frame)
                .with_author("Ngozi"),
        ),
        "sticky",
    );
    let sticky_rtl = ok(
        b.create(
            NewElement::sticky(240.0, 0.0, "مرحبا بالعالم — שלום עולם")
                .with_geometry(Geometry {
                    x: 240.0,
                    y: 0.0,
                    w: 220.0,
                    h: 180.0,
                    rot: 356.5,
                })
                .with_parent(&frame)
                .with_style(StylePatch {
                    fill: Some(Some(Color::STICKY_PALETTE[4])),
                    stroke: Some(None),
                    text_color: Some(Color(0x10, 0x20, 0x30)),
                    align: Some(Align::Right),
                    ..StylePatch::default()
                }),
        ),
        "rtl sticky",
    );
    let mut shapes = Vec::new();
    for (i, shape) in ShapeKind::ALL.iter().enumerate() {
        let i_f = i as f64;
        let mut new = NewElement::shape(
            *shape,
            Geometry {
                x: 100.0 + 180.0 * i_f,
                y: 400.0,
                w: 160.0,
                h: 100.0 + 10.0 * i_f,
                rot: if *shape == ShapeKind::Diamond {
                    30.0
                } else {
                    0.0
                },
            },
        )
        .with_style(StylePatch {
            fill: Some((*shape != ShapeKind::Ellipse).then_some(Color(0xd5, 0xf6, 0x92))),
            stroke: Some((*shape != ShapeKind::Triangle).then_some(Color(0x33, 0x33, 0x33))),
            stroke_width: Some(2.5 + i_f),
            text_color: Some(Color(0x0a, 0x0b, 0x0c)),
            font_size: Some(12.0 + i_f),
            align: Some([Align::Left, Align::Center, Align::Right][i % 3]),
        });
        if i % 2 == 0 {
            new = new.with_text(&format!("{shape} ∑ 日本語"));
        }
        if *shape == ShapeKind::Rect {
            new = new.with_parent(&frame);
        }
        shapes.push(ok(b.create(new), "shape"));
    }
    let text = ok(
        b.create(
            NewElement::text(
                100.0,
                700.0,
                "Line one\nline \"two\"\twith a tab, Ελληνικά 🙂",
            )
            .with_style(StylePatch {
                font_size: Some(24.0),
                align: Some(Align::Center),
                text_color: Some(Color(0x33, 0x33, 0x33)),
                ..StylePatch::default()
            }),
        ),
        "text",
    );
    let ink = ok(
        b.create(
            NewElement::ink(&[
                [1200.0, 600.0],
                [1210.5, 605.25],
                [1225.1, 619.9],
                [1250.0, 620.0],
            ])
            .with_style(StylePatch {
                stroke: Some(Some(Color(0xe0, 0x31, 0x31))),
                stroke_width: Some(4.0),
                ..StylePatch::default()
            }),
        ),
        "ink",
    );
    let diamond = shapes[ShapeKind::ALL
        .iter()
        .position(|s| *s == ShapeKind::Diamond)
        .unwrap_or(0)]
    .clone();
    let connector_bound = ok(
        b.create(NewElement {
            body: Body::Connector {
                from: End::bound(sticky.as_str(), Anchor::Right),
                to: End::bound(diamond.as_str(), Anchor::Top),
                arrow_start: ArrowHead::Arrow,
                arrow_end: ArrowHead::Arrow,
            },
            ..NewElement::connector(End::free(0.0, 0.0), End::free(0.0, 0.0)).with_style(
                StylePatch {
                    stroke: Some(Some(Color(0x00, 0x55, 0xff))),
                    stroke_width: Some(3.0),
                    ..StylePatch::default()
                },
            )
        }),
        "bound connector",
    );
    // Binding through set_end stores the anchor's position as the last known point.
    ok(
        b.set_end(
            &connector_bound,
            EndSide::From,
            End::bound(sticky.as_str(), Anchor::Right),
        ),
        "bind from",
    );
    ok(
        b.set_end(
            &connector_bound,
            EndSide::To,
            End::bound(diamond.as_str(), Anchor::Top),
        ),
        "bind to",
    );
    let connector_free_end = ok(
        b.create(NewElement::connector(
            End::bound(shapes[0].as_str(), Anchor::Bottom),
            End::free(180.25, 820.75),
        )),
        "half-bound connector",
    );
    ok(
        b.set_arrows(&connector_free_end, ArrowHead::None, ArrowHead::None),
        "arrows",
    );
    let connector_free = ok(
        b.create(
            NewElement::connector(End::free(-10.0, 900.0), End::free(300.5, 950.0))
                .with_author("Amélie"),
        ),
        "free connector",
    );

    // Edits after creation.
    ok(b.insert_text(&sticky, 0, "» "), "typing");
    ok(
        b.insert_text(&sticky, usize::MAX, " «"),
        "typing at the end",
    );
    ok(b.move_by(&[&text], 5.0, -2.5), "move");
    ok(b.reorder(&[&text], Reorder::ToFront), "reorder");
    let doomed = ok(b.create(NewElement::sticky(0.0, 0.0, "gone")), "temporary");
    ok(b.delete(&[&doomed]), "delete");

    let ids = EveryKindIds {
        frame,
        sticky,
        sticky_rtl,
        shapes,
        text,
        ink,
        connector_bound,
        connector_free_end,
        connector_free,
    };
    (b, ids)
}

/// The smallest useful board: a title and one sticky.
pub fn small() -> Board {
    let mut b = Board::with_client_id(SMALL_CLIENT);
    ok(b.set_title("Small board"), "title");
    ok(
        b.create(NewElement::sticky(10.0, 20.0, "Hello from Rust 👋")),
        "sticky",
    );
    b
}
