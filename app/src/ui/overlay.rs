//! Interface chrome drawn over the canvas with egui's painter: selection
//! outlines and handles, the hover highlight, the marquee, and the preview
//! of a gesture in progress. Chrome keeps its screen size at every zoom, so
//! it is drawn in screen space rather than by the canvas renderer.

use egui::{Color32, Painter, Pos2, Shape, Stroke, StrokeKind};

use touchpoint_editor::tools::{self, Preview, select};
use touchpoint_editor::workspace::Workspace;
use touchpoint_scene::camera::Camera;
use touchpoint_scene::geom::{OrientedRect, Vec2};
use touchpoint_scene::scene::{Item, Primitive, Rgba, Scene};

/// Miro's selection blue.
pub const SELECTION: Color32 = Color32::from_rgb(0x42, 0x62, 0xff);
const HOVER: Color32 = Color32::from_rgba_premultiplied(0x42, 0x62, 0xff, 0x90);
const HANDLE_SIZE_PT: f32 = 8.0;

/// World to egui points.
pub fn to_points(camera: &Camera, p: Vec2) -> Pos2 {
    let s = camera.screen_from_world(p) / camera.scale_factor();
    Pos2::new(s.x as f32, s.y as f32)
}

/// egui points to world.
pub fn to_world(camera: &Camera, p: Pos2) -> Vec2 {
    camera.world_from_screen(camera.screen_from_points(Vec2::new(f64::from(p.x), f64::from(p.y))))
}

fn outline(camera: &Camera, rect: &OrientedRect) -> Vec<Pos2> {
    rect.corners()
        .iter()
        .map(|c| to_points(camera, *c))
        .collect()
}

/// Draws all chrome for this frame.
pub fn paint(painter: &Painter, ws: &Workspace, hovered: Option<&str>) {
    let camera = &ws.camera;
    let preview = ws.tools.preview();
    if let Some(p) = &preview {
        paint_preview(painter, camera, &ws.scene, p);
    }
    if let Some(id) = hovered.filter(|id| !ws.tools.selection().contains(*id))
        && let Some(el) = ws.scene.get(id)
    {
        painter.add(Shape::closed_line(
            outline(camera, &el.rect()),
            Stroke::new(1.5, HOVER),
        ));
    }
    if let Some(Preview::Move { ids, offset }) = &preview {
        paint_drop_targets(painter, ws, ids, *offset);
    }
    let moving = matches!(preview, Some(Preview::Move { .. } | Preview::Resize { .. }));
    for id in ws.tools.selection() {
        let Some(el) = ws.scene.get(id) else { continue };
        // A connector is outlined along its line, with its two ends marked.
        if el.kind() == touchpoint_crdt::Kind::Connector {
            if let Some([a, b]) = ws.board.connector_points(&el.element) {
                let (a, b) = (
                    to_points(camera, Vec2::from(a)),
                    to_points(camera, Vec2::from(b)),
                );
                painter.line_segment([a, b], Stroke::new(3.0, HOVER));
                for p in [a, b] {
                    painter.circle(
                        p,
                        HANDLE_SIZE_PT / 2.0,
                        Color32::WHITE,
                        Stroke::new(1.5, SELECTION),
                    );
                }
            }
            continue;
        }
        painter.add(Shape::closed_line(
            outline(camera, &el.rect()),
            Stroke::new(1.5, SELECTION),
        ));
    }
    if !moving
        && ws.editing.is_none()
        && let Some(el) = ws.single_selection()
        && select::resizable(el)
    {
        let rect = el.rect();
        let upp = camera.units_per_pixel() * camera.scale_factor();
        let top = rect.world_from_local(Vec2::new(0.0, -rect.half_size.y));
        let knob = select::rotate_handle(&rect, tools::ROTATE_HANDLE_OFFSET_PX * upp);
        painter.line_segment(
            [to_points(camera, top), to_points(camera, knob)],
            Stroke::new(1.0, SELECTION),
        );
        painter.circle(
            to_points(camera, knob),
            HANDLE_SIZE_PT / 2.0 + 1.0,
            Color32::WHITE,
            Stroke::new(1.5, SELECTION),
        );
        for c in select::Corner::ALL {
            let p = to_points(camera, c.position(&rect));
            let r = egui::Rect::from_center_size(p, egui::vec2(HANDLE_SIZE_PT, HANDLE_SIZE_PT));
            painter.rect(
                r,
                1.0,
                Color32::WHITE,
                Stroke::new(1.5, SELECTION),
                StrokeKind::Middle,
            );
        }
    }
}

/// Most dragged elements whose target cells are highlighted.
const DROP_TARGET_LIMIT: usize = 64;

/// While stickies are dragged: the grid cells they would join, tinted.
fn paint_drop_targets(painter: &Painter, ws: &Workspace, ids: &[String], offset: Vec2) {
    let camera = &ws.camera;
    let cells = select::drop_cells(&ws.board, &ws.scene, ids, offset, DROP_TARGET_LIMIT);
    for g in cells {
        let r = egui::Rect::from_two_pos(
            to_points(camera, Vec2::new(g.x, g.y)),
            to_points(camera, Vec2::new(g.x + g.w, g.y + g.h)),
        );
        painter.rect(
            r,
            2.0,
            Color32::from_rgba_unmultiplied(0x42, 0x62, 0xff, 0x22),
            Stroke::new(2.0, SELECTION),
            StrokeKind::Inside,
        );
    }
}

/// Vote counts as round badges on the top-right corner of each element:
/// `(element id, count, colour)`. Elements not in the scene are skipped.
pub fn vote_badges(
    painter: &Painter,
    camera: &Camera,
    scene: &Scene,
    badges: &[(String, u32, Color32)],
) {
    for (id, n, fill) in badges {
        let Some(el) = scene.get(id) else { continue };
        let corner = to_points(camera, select::Corner::TopRight.position(&el.rect()));
        let text = n.to_string();
        let radius = 11.0 + 3.0 * (text.len().saturating_sub(1)) as f32;
        painter.circle(corner, radius, *fill, Stroke::new(1.5, Color32::WHITE));
        painter.text(
            corner,
            egui::Align2::CENTER_CENTER,
            text,
            egui::FontId::proportional(13.0),
            Color32::WHITE,
        );
    }
}

fn color(c: Option<Rgba>, alpha: f32) -> Option<Color32> {
    c.map(|c| {
        Color32::from_rgba_unmultiplied(c.r, c.g, c.b, (f32::from(c.a) * alpha).round() as u8)
    })
}

/// A gesture in progress, drawn translucent from the same items the scene
/// would hold (text left out: it is laid out once the element exists).
/// A gesture's translucent preview (this user's, or a collaborator's from
/// their presence).
pub fn paint_preview(painter: &Painter, camera: &Camera, scene: &Scene, preview: &Preview) {
    if let Preview::Marquee { rect } = preview {
        let r = egui::Rect::from_two_pos(to_points(camera, rect.min), to_points(camera, rect.max));
        painter.rect(
            r,
            0.0,
            Color32::from_rgba_unmultiplied(0x42, 0x62, 0xff, 0x18),
            Stroke::new(1.0, SELECTION),
            StrokeKind::Inside,
        );
        return;
    }
    let ppu = camera.pixels_per_unit() / camera.scale_factor();
    for item in preview.items(scene) {
        match item {
            Item::Shape(s) => {
                let points: Vec<Pos2> = match s.primitive {
                    Primitive::Ellipse => (0..48)
                        .map(|i| {
                            let a = f64::from(i) / 48.0 * std::f64::consts::TAU;
                            let local = Vec2::new(
                                a.cos() * s.rect.half_size.x,
                                a.sin() * s.rect.half_size.y,
                            );
                            to_points(camera, s.rect.world_from_local(local))
                        })
                        .collect(),
                    Primitive::Rect | Primitive::RoundedRect { .. } => outline(camera, &s.rect),
                };
                let stroke = color(s.stroke, 0.7).map_or(Stroke::NONE, |c| {
                    Stroke::new((s.stroke_width * ppu).max(1.0) as f32, c)
                });
                let fill = color(s.fill, 0.6).unwrap_or(Color32::TRANSPARENT);
                painter.add(Shape::convex_polygon(points, fill, stroke));
            }
            Item::Path(p) => {
                let width = (p.stroke_width * ppu).max(1.0) as f32;
                for line in p.flatten(0.5 / ppu.max(1e-6)) {
                    let pts: Vec<Pos2> =
                        line.points.iter().map(|q| to_points(camera, *q)).collect();
                    if let Some(fill) = color(p.fill, 0.6).filter(|_| line.closed) {
                        painter.add(Shape::convex_polygon(pts.clone(), fill, Stroke::NONE));
                    }
                    if let Some(c) = color(p.stroke, 0.7) {
                        let stroke = Stroke::new(width, c);
                        painter.add(if line.closed {
                            Shape::closed_line(pts, stroke)
                        } else {
                            Shape::line(pts, stroke)
                        });
                    }
                }
            }
            Item::Text(_) => {}
        }
    }
}
