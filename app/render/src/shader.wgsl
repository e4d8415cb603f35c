// Touchpoint's canvas shaders: the background dot grid, instanced
// signed-distance shapes, and tessellated paths. World units in, physical
// pixels out; colours arrive as sRGB with straight alpha and leave as linear
// premultiplied (the target is an sRGB format, so blending is in linear light).

struct Globals {
    // Viewport size in physical pixels.
    viewport_px: vec2<f32>,
    // The world point at the viewport's top-left corner.
    origin_in_world: vec2<f32>,
    // Physical pixels per world unit.
    pixels_per_unit: f32,
    // Spacing of the background dots in world units (already chosen for the zoom).
    grid_spacing: f32,
    // Grid points per row on screen, and rows (as floats).
    grid_columns: f32,
    grid_rows: f32,
    // Linear colours (converted on the CPU once, not per pixel).
    background: vec4<f32>,
    grid_color: vec4<f32>,
};

@group(0) @binding(0) var<uniform> globals: Globals;

fn clip_from_world(p: vec2<f32>) -> vec4<f32> {
    let px = (p - globals.origin_in_world) * globals.pixels_per_unit;
    let ndc = px / globals.viewport_px * vec2<f32>(2.0, -2.0) + vec2<f32>(-1.0, 1.0);
    return vec4<f32>(ndc, 0.0, 1.0);
}

fn linear_from_srgb(c: vec4<f32>) -> vec4<f32> {
    let lo = c.rgb / 12.92;
    let hi = pow((c.rgb + vec3<f32>(0.055)) / 1.055, vec3<f32>(2.4));
    let rgb = select(hi, lo, c.rgb <= vec3<f32>(0.04045));
    return vec4<f32>(rgb, c.a);
}

fn premultiplied(c: vec4<f32>, coverage: f32) -> vec4<f32> {
    let a = c.a * coverage;
    return vec4<f32>(c.rgb * a, a);
}

// A world point in a (rotated) box's own frame.
fn local_in(p: vec2<f32>, center: vec2<f32>, rotation: f32) -> vec2<f32> {
    let d = p - center;
    let c = cos(rotation);
    let s = sin(rotation);
    // Inverse of a clockwise-on-screen rotation (y points down).
    return vec2<f32>(c * d.x + s * d.y, -s * d.x + c * d.y);
}

// Coverage of the clip box at a point given in the clip box's frame: 1 inside,
// 0 outside, antialiased over about a pixel. A negative half size: no clip.
fn clip_coverage(local: vec2<f32>, half: vec2<f32>) -> f32 {
    if (half.x < 0.0) {
        return 1.0;
    }
    let q = abs(local) - half;
    let d = max(q.x, q.y);
    let w = max(fwidth(d), 1e-5);
    return clamp(0.5 - d / w, 0.0, 1.0);
}

// ---------------------------------------------------------------------------
// Background dots: the pass clears to the background colour, then one thin
// strip per row of grid points on screen (instance i is row i), as wide as
// the viewport and a dot high; the fragment finds its nearest column. Far
// cheaper than shading every pixel, and than a quad per dot (thousands of
// tiny primitives), on a software rasteriser.

struct DotOut {
    @builtin(position) position: vec4<f32>,
    // x: the fragment's x on screen; y: offset from the row's centre line,
    // both in physical pixels.
    @location(0) offset_px: vec2<f32>,
    @location(1) @interpolate(flat) radius_px: f32,
};

@vertex
fn dot_vs(@builtin(vertex_index) v: u32, @builtin(instance_index) i: u32) -> DotOut {
    let spacing = globals.grid_spacing;
    let first = floor(globals.origin_in_world.y / spacing);
    let row_px = ((first + f32(i)) * spacing - globals.origin_in_world.y) * globals.pixels_per_unit;
    let radius = max(1.0, 1.2 * min(globals.pixels_per_unit, 2.0));
    let corner = vec2<f32>(f32(v & 1u), f32((v >> 1u) & 1u)) * 2.0 - vec2<f32>(1.0);
    let x = select(-radius - 1.0, globals.viewport_px.x + radius + 1.0, corner.x > 0.0);
    let y = corner.y * (radius + 1.0);
    let px = vec2<f32>(x, row_px + y);
    var out: DotOut;
    out.position = vec4<f32>(px / globals.viewport_px * vec2<f32>(2.0, -2.0) + vec2<f32>(-1.0, 1.0), 0.0, 1.0);
    out.offset_px = vec2<f32>(x, y);
    out.radius_px = radius;
    return out;
}

@fragment
fn dot_fs(in: DotOut) -> @location(0) vec4<f32> {
    let spacing = globals.grid_spacing;
    let ppu = globals.pixels_per_unit;
    let world_x = globals.origin_in_world.x + in.offset_px.x / ppu;
    let dx = (world_x - round(world_x / spacing) * spacing) * ppu;
    let coverage = clamp(in.radius_px + 0.5 - length(vec2<f32>(dx, in.offset_px.y)), 0.0, 1.0);
    return globals.grid_color * coverage;
}

// ---------------------------------------------------------------------------
// Signed-distance shapes, one instance per shape (and per text bar, per shadow).

// Instance kinds (keep in step with `batch.rs`).
const KIND_BOX: u32 = 0u;      // rect or rounded rect (radius)
const KIND_ELLIPSE: u32 = 1u;
const KIND_SHADOW: u32 = 2u;   // soft shadow of a rounded rect; `stroke_width` is the blur

struct ShapeIn {
    @location(0) center: vec2<f32>,
    @location(1) half_size: vec2<f32>,
    @location(2) rotation: f32,
    @location(3) radius: f32,
    @location(4) stroke_width: f32,
    @location(5) kind: u32,
    @location(6) fill: vec4<f32>,
    @location(7) stroke: vec4<f32>,
    @location(8) clip_center: vec2<f32>,
    @location(9) clip_half: vec2<f32>,
    @location(10) clip_rotation: f32,
};

struct ShapeOut {
    @builtin(position) position: vec4<f32>,
    @location(0) local: vec2<f32>,
    @location(1) @interpolate(flat) half_size: vec2<f32>,
    @location(2) @interpolate(flat) params: vec2<f32>, // radius, stroke width
    @location(3) @interpolate(flat) kind: u32,
    @location(4) @interpolate(flat) fill: vec4<f32>,
    @location(5) @interpolate(flat) stroke: vec4<f32>,
    @location(6) clip_local: vec2<f32>,
    @location(7) @interpolate(flat) clip_half: vec2<f32>,
};

@vertex
fn shape_vs(@builtin(vertex_index) i: u32, inst: ShapeIn) -> ShapeOut {
    // A quad around the box, grown by half the stroke, the blur, and two
    // pixels for the antialiased edge.
    let corner = vec2<f32>(f32(i & 1u), f32((i >> 1u) & 1u)) * 2.0 - vec2<f32>(1.0);
    var grow = 2.0 / globals.pixels_per_unit;
    if (inst.kind == KIND_SHADOW) {
        grow += inst.stroke_width;
    } else {
        grow += inst.stroke_width * 0.5;
    }
    let local = corner * (inst.half_size + vec2<f32>(grow));
    let c = cos(inst.rotation);
    let s = sin(inst.rotation);
    let world = inst.center + vec2<f32>(c * local.x - s * local.y, s * local.x + c * local.y);
    var out: ShapeOut;
    out.position = clip_from_world(world);
    out.local = local;
    out.half_size = inst.half_size;
    out.params = vec2<f32>(inst.radius, inst.stroke_width);
    out.kind = inst.kind;
    out.fill = linear_from_srgb(inst.fill);
    out.stroke = linear_from_srgb(inst.stroke);
    out.clip_local = local_in(world, inst.clip_center, inst.clip_rotation);
    out.clip_half = inst.clip_half;
    return out;
}

fn box_sdf(p: vec2<f32>, half: vec2<f32>, radius: f32) -> f32 {
    let r = clamp(radius, 0.0, min(half.x, half.y));
    let q = abs(p) - half + vec2<f32>(r);
    return length(max(q, vec2<f32>(0.0))) + min(max(q.x, q.y), 0.0) - r;
}

// Inigo Quilez's ellipse approximation: the implicit function over its
// gradient; good near the outline, which is all antialiasing needs.
fn ellipse_sdf(p: vec2<f32>, half: vec2<f32>) -> f32 {
    let r = max(half, vec2<f32>(1e-4));
    let k0 = length(p / r);
    let k1 = length(p / (r * r));
    if (k1 == 0.0) {
        return -min(r.x, r.y);
    }
    return k0 * (k0 - 1.0) / k1;
}

@fragment
fn shape_fs(in: ShapeOut) -> @location(0) vec4<f32> {
    let clip = clip_coverage(in.clip_local, in.clip_half);
    let radius = in.params.x;
    let stroke_width = in.params.y;
    if (in.kind == KIND_SHADOW) {
        let d = box_sdf(in.local, in.half_size, radius);
        let blur = max(stroke_width, 1e-3);
        let a = 1.0 - smoothstep(-blur, blur, d);
        return premultiplied(in.fill, a * clip);
    }
    var d: f32;
    if (in.kind == KIND_ELLIPSE) {
        d = ellipse_sdf(in.local, in.half_size);
    } else {
        d = box_sdf(in.local, in.half_size, radius);
    }
    // World units per pixel along the distance field: the antialiasing width.
    let w = max(fwidth(d), 1e-5);
    let fill_cov = clamp(0.5 - d / w, 0.0, 1.0);
    var color = premultiplied(in.fill, fill_cov);
    if (in.stroke.a > 0.0 && stroke_width > 0.0) {
        // Strokes thinner than a pixel keep a pixel's width and fade instead.
        let sw = max(stroke_width, w);
        let fade = stroke_width / sw;
        let stroke_cov = clamp(0.5 - (abs(d) - sw * 0.5) / w, 0.0, 1.0) * fade;
        let s = premultiplied(in.stroke, stroke_cov);
        color = s + color * (1.0 - s.a);
    }
    return color * clip;
}

// ---------------------------------------------------------------------------
// Tessellated paths: world-space triangles, one colour per vertex.

struct PathIn {
    @location(0) position: vec2<f32>,
    @location(1) color: vec4<f32>,
    // Normal (xy), half width in world units (z), mode (w): 0 no
    // antialiasing (fills), +-1 the two sides of a stroke, +-2 the sides of a
    // fill's hairline fringe.
    @location(2) aa: vec4<f32>,
    @location(3) clip_center: vec2<f32>,
    @location(4) clip_half: vec2<f32>,
    @location(5) clip_rotation: f32,
};

struct PathOut {
    @builtin(position) position: vec4<f32>,
    @location(0) @interpolate(flat) color: vec4<f32>,
    @location(1) clip_local: vec2<f32>,
    @location(2) @interpolate(flat) clip_half: vec2<f32>,
    // Signed distance from the centre line in pixels, interpolated across
    // the stroke.
    @location(3) across: f32,
    // Half width in pixels (negative: no antialiasing) and the alpha of
    // strokes thinner than a pixel.
    @location(4) @interpolate(flat) stroke: vec2<f32>,
};

// Strokes are antialiased analytically (no MSAA needed): each outline vertex
// moves one pixel further out along its normal, and the fragment's coverage
// comes from its distance to the centre line. Strokes thinner than a pixel
// are drawn a pixel wide and fade instead, as the SDF shapes' outlines do.
@vertex
fn path_vs(v: PathIn) -> PathOut {
    var out: PathOut;
    var world = v.position;
    out.across = 0.0;
    out.stroke = vec2<f32>(-1.0, 1.0);
    let mode = v.aa.w;
    if (mode != 0.0) {
        let ppu = globals.pixels_per_unit;
        let pixel = 1.0 / ppu;
        let half = v.aa.z;
        var drawn = 0.0;
        var fade = 1.0;
        if (abs(mode) < 1.5) {
            drawn = max(half, 0.5 * pixel);
            fade = half / drawn;
        }
        world = v.position + v.aa.xy * (drawn + pixel - half);
        out.across = sign(mode) * (drawn * ppu + 1.0);
        out.stroke = vec2<f32>(drawn * ppu, fade);
    }
    out.position = clip_from_world(world);
    out.color = linear_from_srgb(v.color);
    out.clip_local = local_in(world, v.clip_center, v.clip_rotation);
    out.clip_half = v.clip_half;
    return out;
}

@fragment
fn path_fs(in: PathOut) -> @location(0) vec4<f32> {
    var coverage = 1.0;
    if (in.stroke.x >= 0.0) {
        coverage = clamp(in.stroke.x + 0.5 - abs(in.across), 0.0, 1.0) * in.stroke.y;
    }
    return premultiplied(in.color, coverage * clip_coverage(in.clip_local, in.clip_half));
}

// ---------------------------------------------------------------------------
// Cached tiles (zoomed out; see `tiles.rs`): one textured quad per tile,
// holding premultiplied linear colour, placed in physical pixels.

@group(1) @binding(0) var tile_texture: texture_2d<f32>;
@group(1) @binding(1) var tile_sampler: sampler;

struct TileIn {
    // Screen rect (min xy, max xy) and texture rect (min uv, max uv).
    @location(0) screen: vec4<f32>,
    @location(1) uv: vec4<f32>,
};

struct TileOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn tile_vs(@builtin(vertex_index) v: u32, inst: TileIn) -> TileOut {
    let corner = vec2<f32>(f32(v & 1u), f32((v >> 1u) & 1u));
    let px = mix(inst.screen.xy, inst.screen.zw, corner);
    var out: TileOut;
    out.position = vec4<f32>(px / globals.viewport_px * vec2<f32>(2.0, -2.0) + vec2<f32>(-1.0, 1.0), 0.0, 1.0);
    out.uv = mix(inst.uv.xy, inst.uv.zw, corner);
    return out;
}

@fragment
fn tile_fs(in: TileOut) -> @location(0) vec4<f32> {
    return textureSample(tile_texture, tile_sampler, in.uv);
}
