//! What the canvas itself looks like: its background, the dot grid's colour
//! and spacing, and sRGB to the linear light the shaders blend in. Shared
//! by the renderer and the PNG export (which draws the same grid).

/// Colours of the canvas itself (sRGB).
pub const BACKGROUND: [u8; 4] = [0xf7, 0xf7, 0xf5, 0xff];
pub const GRID_DOT: [u8; 4] = [0xc4, 0xc4, 0xc4, 0xff];
/// Dot spacing at 100% in world units; multiplied by 5 while dots would be
/// closer than [`GRID_MIN_PX`] physical pixels.
pub const GRID_SPACING: f64 = 24.0;
pub const GRID_MIN_PX: f64 = 12.0;

/// An sRGB colour as linear light (what the shaders blend in).
pub(crate) fn linear(c: [u8; 4]) -> [f32; 4] {
    let channel = |v: u8| {
        let v = f32::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    [
        channel(c[0]),
        channel(c[1]),
        channel(c[2]),
        f32::from(c[3]) / 255.0,
    ]
}

/// Grid spacing in world units for a zoom: never denser than
/// [`GRID_MIN_PX`] on screen.
pub fn grid_spacing(pixels_per_unit: f64) -> f64 {
    let mut spacing = GRID_SPACING;
    while spacing * pixels_per_unit < GRID_MIN_PX && spacing < 1e9 {
        spacing *= 5.0;
    }
    spacing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_never_denser_than_the_minimum() {
        assert_eq!(grid_spacing(1.0), GRID_SPACING);
        for ppu in [0.02, 0.1, 0.3, 1.0, 2.0, 8.0, 16.0] {
            let px = grid_spacing(ppu) * ppu;
            assert!(px >= GRID_MIN_PX, "{ppu}: {px} px");
            // And no sparser than needed: one step finer would be too dense.
            if grid_spacing(ppu) > GRID_SPACING {
                assert!(grid_spacing(ppu) / 5.0 * ppu < GRID_MIN_PX);
            }
        }
    }

    #[test]
    fn srgb_to_linear_endpoints_and_midpoint() {
        assert_eq!(linear([0, 0, 0, 255]), [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(linear([255, 255, 255, 0]), [1.0, 1.0, 1.0, 0.0]);
        // sRGB 50% grey is about 21.4% linear light.
        assert!((linear([128, 128, 128, 255])[0] - 0.2158).abs() < 1e-3);
    }
}
