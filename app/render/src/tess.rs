//! lyon tessellation of path items into world-space triangles.
//!
//! About 6 us per simple path on one core (DESIGN.md): done once per element
//! revision and cached by [`super::batch::PathCache`], never per frame.

use lyon::math::point;
use lyon::path::Path;
use lyon::tessellation::{
    BuffersBuilder, FillOptions, FillTessellator, FillVertex, StrokeOptions, StrokeTessellator,
    StrokeVertex, VertexBuffers,
};

use touchpoint_scene::scene::item::MITER_LIMIT;
use touchpoint_scene::scene::{LineCap, LineJoin, PathCmd, PathItem, Rgba};

/// How far (world units) flattened curves may stray from the true curve at
/// the finest level of detail: a tenth of a pixel at 100%, under a pixel at
/// the 800% maximum zoom. Coarser levels (`batch::path_tolerance`) use
/// multiples of it when zoomed out, which also makes round joins and caps a
/// triangle or two.
pub const TOLERANCE: f32 = 0.1;

/// A vertex before it is given its element's clip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshVertex {
    pub position: [f32; 2],
    /// sRGB, straight alpha.
    pub color: [u8; 4],
    /// Analytic antialiasing (see `shader.wgsl`, `path_vs`): the stroke's
    /// normal at this vertex (x, y; the vertex is `half width * normal`
    /// from the centre line), the half width in world units, and a mode:
    /// 0 no antialiasing (fills), +-1 a stroke's two sides, +-2 the sides of
    /// a fill's edge fringe (a hairline that softens the fill's outline).
    pub aa: [f32; 4],
}

/// One path item's triangles: the fill first, then the stroke over it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PathMesh {
    pub vertices: Vec<MeshVertex>,
    pub indices: Vec<u32>,
}

fn lyon_path(commands: &[PathCmd]) -> Path {
    let mut b = Path::builder();
    let mut open = false;
    let p = |v: touchpoint_scene::geom::Vec2| point(v.x as f32, v.y as f32);
    let mut last = point(0.0, 0.0);
    for cmd in commands {
        match *cmd {
            PathCmd::MoveTo(to) => {
                if open {
                    b.end(false);
                }
                last = p(to);
                b.begin(last);
                open = true;
            }
            PathCmd::LineTo(to) => {
                if !open {
                    b.begin(last);
                    open = true;
                }
                last = p(to);
                b.line_to(last);
            }
            PathCmd::CubicTo(c1, c2, to) => {
                if !open {
                    b.begin(last);
                    open = true;
                }
                last = p(to);
                b.cubic_bezier_to(p(c1), p(c2), last);
            }
            PathCmd::Close => {
                if open {
                    b.end(true);
                    open = false;
                }
            }
        }
    }
    if open {
        b.end(false);
    }
    b.build()
}

/// Width lyon is given for a fill's fringe; the shader draws it a pixel wide.
const FRINGE_WIDTH: f32 = 1e-3;

fn stroke_vertex(v: &StrokeVertex, color: [u8; 4], mode: f32) -> MeshVertex {
    let side = match v.side() {
        lyon::path::Side::Positive => 1.0,
        lyon::path::Side::Negative => -1.0,
    };
    let normal = v.normal();
    MeshVertex {
        position: v.position().to_array(),
        color,
        aa: [normal.x, normal.y, v.line_width() / 2.0, side * mode],
    }
}

fn rgba(c: Rgba) -> [u8; 4] {
    [c.r, c.g, c.b, c.a]
}

/// Tessellates one path item, flattening within `tolerance` world units. A
/// path lyon cannot tessellate (it should not happen for finite input) is
/// drawn as nothing and logged.
pub fn tessellate(item: &PathItem, tolerance: f32) -> PathMesh {
    let path = lyon_path(&item.commands);
    let mut buffers: VertexBuffers<MeshVertex, u32> = VertexBuffers::new();
    if let Some(fill) = item.fill {
        let color = rgba(fill);
        let result = FillTessellator::new().tessellate_path(
            &path,
            &FillOptions::non_zero().with_tolerance(tolerance),
            &mut BuffersBuilder::new(&mut buffers, |v: FillVertex| MeshVertex {
                position: v.position().to_array(),
                color,
                aa: [0.0; 4],
            }),
        );
        if let Err(e) = result {
            tracing::debug!("path fill not tessellated: {e:?}");
        }
    }
    let stroked = item.stroke.is_some() && item.stroke_width > 0.0;
    if let (Some(fill), false) = (item.fill, stroked) {
        // Without MSAA a fill's edge would be jagged: a hairline fringe in
        // the fill colour, antialiased by the shader, softens it.
        let color = rgba(fill);
        let options = StrokeOptions::tolerance(tolerance)
            .with_line_width(FRINGE_WIDTH)
            .with_line_join(lyon::tessellation::LineJoin::Miter)
            .with_miter_limit(MITER_LIMIT as f32);
        let result = StrokeTessellator::new().tessellate_path(
            &path,
            &options,
            &mut BuffersBuilder::new(&mut buffers, |v: StrokeVertex| {
                stroke_vertex(&v, color, 2.0)
            }),
        );
        if let Err(e) = result {
            tracing::debug!("path fringe not tessellated: {e:?}");
        }
    }
    if let Some(stroke) = item.stroke
        && item.stroke_width > 0.0
    {
        let color = rgba(stroke);
        // Round joins and caps flattened more coarsely than a quarter of
        // the width lose their triangles (a dot would vanish): at such levels
        // of detail the stroke is under a pixel or two on screen, and bevels
        // and square caps look the same there.
        let coarse = f64::from(tolerance) > item.stroke_width * 0.25;
        let options = StrokeOptions::tolerance(tolerance)
            .with_line_width(item.stroke_width as f32)
            .with_line_join(match item.join {
                LineJoin::Miter => lyon::tessellation::LineJoin::Miter,
                LineJoin::Round if coarse => lyon::tessellation::LineJoin::Bevel,
                LineJoin::Round => lyon::tessellation::LineJoin::Round,
            })
            .with_line_cap(match item.cap {
                LineCap::Butt => lyon::tessellation::LineCap::Butt,
                LineCap::Round if coarse => lyon::tessellation::LineCap::Square,
                LineCap::Round => lyon::tessellation::LineCap::Round,
            })
            .with_miter_limit(MITER_LIMIT as f32);
        let result = StrokeTessellator::new().tessellate_path(
            &path,
            &options,
            &mut BuffersBuilder::new(&mut buffers, |v: StrokeVertex| {
                stroke_vertex(&v, color, 1.0)
            }),
        );
        if let Err(e) = result {
            tracing::debug!("path stroke not tessellated: {e:?}");
        }
    }
    PathMesh {
        vertices: buffers.vertices,
        indices: buffers.indices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use touchpoint_crdt::Color;
    use touchpoint_scene::geom::Vec2;

    #[test]
    fn filled_and_stroked_triangle() {
        let item = PathItem {
            commands: vec![
                PathCmd::MoveTo(Vec2::new(0.0, 0.0)),
                PathCmd::LineTo(Vec2::new(100.0, 0.0)),
                PathCmd::LineTo(Vec2::new(50.0, 80.0)),
                PathCmd::Close,
            ],
            fill: Some(Rgba::opaque(Color::WHITE)),
            stroke: Some(Rgba::opaque(Color::BLACK)),
            stroke_width: 2.0,
            join: LineJoin::Miter,
            cap: LineCap::Butt,
        };
        let mesh = tessellate(&item, TOLERANCE);
        assert_eq!(mesh.indices.len() % 3, 0);
        // One fill triangle plus a stroke ring; the fill is not
        // antialiased (the stroke covers its edge), the stroke is.
        assert!(mesh.vertices.iter().any(|v| v.aa[3] == 0.0));
        assert!(mesh.vertices.iter().any(|v| v.aa[3] == 1.0));
        assert!(mesh.vertices.iter().any(|v| v.aa[3] == -1.0));
        assert!(!mesh.vertices.iter().any(|v| v.aa[3].abs() == 2.0));
        assert!(mesh.indices.len() > 3);
        assert!(mesh.vertices.iter().any(|v| v.color == [255; 4]));
        assert!(
            mesh.vertices
                .iter()
                .any(|v| v.color == [0x1a, 0x1a, 0x1a, 255])
        );
    }

    #[test]
    fn an_unstroked_fill_gets_an_antialiased_fringe() {
        let item = PathItem {
            commands: vec![
                PathCmd::MoveTo(Vec2::new(0.0, 0.0)),
                PathCmd::LineTo(Vec2::new(10.0, 0.0)),
                PathCmd::LineTo(Vec2::new(5.0, 8.0)),
                PathCmd::Close,
            ],
            fill: Some(Rgba::opaque(Color::BLACK)),
            stroke: None,
            stroke_width: 0.0,
            join: LineJoin::Miter,
            cap: LineCap::Butt,
        };
        let mesh = tessellate(&item, TOLERANCE);
        let fringe: Vec<&MeshVertex> = mesh
            .vertices
            .iter()
            .filter(|v| v.aa[3].abs() == 2.0)
            .collect();
        assert!(!fringe.is_empty());
        // Normals of unit length or more (miters), pointing out of the
        // centre line.
        assert!(fringe.iter().all(|v| v.aa[0].hypot(v.aa[1]) >= 0.99));
    }

    #[test]
    fn an_ink_dot_has_triangles() {
        let item = PathItem {
            commands: vec![
                PathCmd::MoveTo(Vec2::new(5.0, 5.0)),
                PathCmd::LineTo(Vec2::new(5.0, 5.0)),
            ],
            fill: None,
            stroke: Some(Rgba::opaque(Color::BLACK)),
            stroke_width: 4.0,
            join: LineJoin::Round,
            cap: LineCap::Round,
        };
        assert!(!tessellate(&item, TOLERANCE).indices.is_empty());
        // Also at the coarsest level of detail.
        assert!(!tessellate(&item, TOLERANCE * 1024.0).indices.is_empty());
    }
}
