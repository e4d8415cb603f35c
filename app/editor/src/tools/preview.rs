//! What a gesture in progress looks like. The document takes only a gesture's
//! end state (one transaction); until then the tool holds the in-progress
//! geometry here, for the renderer to draw and for presence to share.

use touchpoint_crdt::{ArrowHead, Body, Element, End, Geometry, Kind, ShapeKind, Style};

use touchpoint_scene::geom::{Rect, Vec2};
use touchpoint_scene::scene::build::{element_items, smooth_polyline};
use touchpoint_scene::scene::{Item, LineCap, LineJoin, PathItem, Rgba, Scene};

/// A gesture in progress.
#[derive(Debug, Clone, PartialEq)]
pub enum Preview {
    /// The selection dragged by `offset` (world units), not yet committed.
    Move { ids: Vec<String>, offset: Vec2 },
    /// One element being resized to `geom`.
    Resize { id: String, geom: Geometry },
    /// A selection rectangle (drawn as interface chrome, not content).
    Marquee { rect: Rect },
    /// A shape, text box or frame being dragged out.
    Create {
        kind: Kind,
        shape: ShapeKind,
        geom: Geometry,
    },
    /// A pen stroke being drawn, in world coordinates.
    Ink { points: Vec<Vec2> },
    /// A connector being dragged; ends already snapped to anchors.
    Connector { from: Vec2, to: Vec2 },
}

impl Preview {
    /// Content items for the preview, built by the same code as the scene so
    /// the preview looks like the result. The marquee has none: it is chrome,
    /// drawn at a fixed screen width by the interface layer.
    pub fn items(&self, scene: &Scene) -> Vec<Item> {
        match self {
            Preview::Move { ids, offset } => ids
                .iter()
                .filter_map(|id| scene.get(id))
                .flat_map(|e| e.items.iter().map(|i| i.translated(*offset)))
                .collect(),
            Preview::Resize { id, geom } => scene.get(id).map_or_else(Vec::new, |e| {
                let el = Element {
                    geom: *geom,
                    ..e.element.clone()
                };
                element_items(&el, None)
            }),
            Preview::Marquee { .. } => Vec::new(),
            Preview::Create { kind, shape, geom } => {
                let body = match kind {
                    Kind::Frame => Body::Frame {
                        title: String::new(),
                    },
                    Kind::Text => Body::Text {
                        text: String::new(),
                    },
                    Kind::Sticky => Body::Sticky {
                        text: String::new(),
                    },
                    _ => Body::Shape {
                        shape: *shape,
                        text: String::new(),
                    },
                };
                element_items(&synthetic(body, *geom), None)
            }
            Preview::Ink { points } => {
                let style = Style::default_for(Kind::Ink);
                vec![Item::Path(PathItem {
                    commands: smooth_polyline(points),
                    fill: None,
                    stroke: style.stroke.map(Rgba::from),
                    stroke_width: style.stroke_width,
                    join: LineJoin::Round,
                    cap: LineCap::Round,
                })]
            }
            Preview::Connector { from, to } => {
                let body = Body::Connector {
                    from: End::free(from.x, from.y),
                    to: End::free(to.x, to.y),
                    arrow_start: ArrowHead::None,
                    arrow_end: ArrowHead::Arrow,
                };
                element_items(&synthetic(body, Geometry::default()), Some([*from, *to]))
            }
        }
    }
}

/// An element that is not on the board, styled as a new one would be.
fn synthetic(body: Body, geom: Geometry) -> Element {
    Element {
        id: String::new(),
        geom,
        z: String::new(),
        parent: None,
        cell: None,
        author: None,
        style: Style::default_for(body.kind()),
        body,
    }
}
