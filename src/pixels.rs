//! Pixel formats and conversions between the host's depths and components.
//!
//! The render works in linear `f32` RGBA; host images come as byte, short or
//! float with RGBA or RGB. A row is converted once per format pair (the runtime
//! enum is matched once per row, not per pixel). Conversions are exact for
//! same-format copies: byte → f32 → byte and short → f32 → short round-trip
//! bit for bit (`v / max` then `round(v * max)`).

use ofx::plugin::{BitDepth, Components, ImageLayout};

/// Read `n` pixels from a host row into RGBA f32 (alpha 1 for RGB).
pub fn row_to_rgba(src: &[u8], layout: &ImageLayout, out: &mut [[f32; 4]]) {
    let n = out.len();
    let c = layout.components.count();
    match layout.depth {
        BitDepth::Byte => {
            for (i, px) in out.iter_mut().enumerate().take(n) {
                let s = &src[i * c..i * c + c];
                *px = expand(c, |k| s[k] as f32 / 255.0);
            }
        }
        BitDepth::Short => {
            for (i, px) in out.iter_mut().enumerate().take(n) {
                let base = i * c * 2;
                *px = expand(c, |k| {
                    u16::from_ne_bytes([src[base + 2 * k], src[base + 2 * k + 1]]) as f32 / 65535.0
                });
            }
        }
        BitDepth::Float if c == 4 => {
            // RGBA float: a straight copy, written so that it compiles to one.
            for (px, b) in out.iter_mut().zip(src.chunks_exact(16)) {
                *px = std::array::from_fn(|k| f32::from_ne_bytes([b[4 * k], b[4 * k + 1], b[4 * k + 2], b[4 * k + 3]]));
            }
        }
        BitDepth::Float => {
            for (i, px) in out.iter_mut().enumerate().take(n) {
                let base = i * c * 4;
                *px = expand(c, |k| {
                    let b = &src[base + 4 * k..base + 4 * k + 4];
                    f32::from_ne_bytes([b[0], b[1], b[2], b[3]])
                });
            }
        }
    }
}

#[inline(always)]
fn expand(c: usize, get: impl Fn(usize) -> f32) -> [f32; 4] {
    match c {
        4 => [get(0), get(1), get(2), get(3)],
        3 => [get(0), get(1), get(2), 1.0],
        _ => {
            let a = get(0);
            [a, a, a, a]
        }
    }
}

/// Write RGBA f32 pixels into a host row (RGB drops alpha, Alpha keeps alpha).
pub fn rgba_to_row(px: &[[f32; 4]], layout: &ImageLayout, dst: &mut [u8]) {
    let c = layout.components.count();
    let pick = |p: &[f32; 4], k: usize| -> f32 {
        if layout.components == Components::Alpha {
            p[3]
        } else {
            p[k]
        }
    };
    match layout.depth {
        BitDepth::Byte => {
            for (i, p) in px.iter().enumerate() {
                for k in 0..c {
                    dst[i * c + k] = (pick(p, k).clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            }
        }
        BitDepth::Short => {
            for (i, p) in px.iter().enumerate() {
                for k in 0..c {
                    let v = (pick(p, k).clamp(0.0, 1.0) * 65535.0).round() as u16;
                    dst[(i * c + k) * 2..(i * c + k) * 2 + 2].copy_from_slice(&v.to_ne_bytes());
                }
            }
        }
        BitDepth::Float if c == 4 => {
            for (p, d) in px.iter().zip(dst.chunks_exact_mut(16)) {
                for (k, v) in p.iter().enumerate() {
                    d[4 * k..4 * k + 4].copy_from_slice(&v.to_ne_bytes());
                }
            }
        }
        BitDepth::Float => {
            for (i, p) in px.iter().enumerate() {
                for k in 0..c {
                    dst[(i * c + k) * 4..(i * c + k) * 4 + 4].copy_from_slice(&pick(p, k).to_ne_bytes());
                }
            }
        }
    }
}

/// Copy `n` pixels between rows of possibly different formats. Same format is
/// a plain byte copy (bit exact, also for float NaNs).
pub fn convert_row(src: &[u8], src_layout: &ImageLayout, dst: &mut [u8], dst_layout: &ImageLayout, scratch: &mut Vec<[f32; 4]>, n: usize) {
    if src_layout.depth == dst_layout.depth && src_layout.components == dst_layout.components {
        let bytes = n * src_layout.pixel_bytes();
        dst[..bytes].copy_from_slice(&src[..bytes]);
        return;
    }
    scratch.resize(n, [0.0; 4]);
    row_to_rgba(src, src_layout, &mut scratch[..n]);
    rgba_to_row(&scratch[..n], dst_layout, dst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ofx::plugin::RectI;

    fn layout(depth: BitDepth, components: Components) -> ImageLayout {
        ImageLayout { bounds: RectI { x1: 0, y1: 0, x2: 256, y2: 1 }, row_bytes: 0, depth, components }
    }

    #[test]
    fn byte_and_short_round_trip_through_f32_exactly() {
        let l8 = layout(BitDepth::Byte, Components::Rgba);
        let src: Vec<u8> = (0..=255u8).flat_map(|v| [v, 255 - v, v / 2, 255]).collect();
        let mut px = vec![[0.0; 4]; 256];
        row_to_rgba(&src, &l8, &mut px);
        let mut back = vec![0u8; src.len()];
        rgba_to_row(&px, &l8, &mut back);
        assert_eq!(src, back);

        let l16 = layout(BitDepth::Short, Components::Rgb);
        let vals: Vec<u16> = (0..256u32).map(|i| (i * 257) as u16 ^ 0x0101).collect();
        let src16: Vec<u8> = vals.iter().flat_map(|v| [*v, *v, *v]).flat_map(|v| v.to_ne_bytes()).collect();
        let mut px = vec![[0.0; 4]; 256];
        row_to_rgba(&src16, &l16, &mut px);
        let mut back16 = vec![0u8; src16.len()];
        rgba_to_row(&px, &l16, &mut back16);
        assert_eq!(src16, back16);
    }

    #[test]
    fn float_rows_round_trip_bit_for_bit_in_every_component_layout() {
        // HDR, negative, NaN-free odd values; RGBA float takes the plain-copy path.
        let vals: Vec<f32> = (0..256 * 4).map(|i| (i as f32 - 300.0) * 0.0173).collect();
        for comps in [Components::Rgba, Components::Rgb, Components::Alpha] {
            let l = layout(BitDepth::Float, comps);
            let c = comps.count();
            let src: Vec<u8> = vals[..256 * c].iter().flat_map(|v| v.to_ne_bytes()).collect();
            let mut px = vec![[0.0; 4]; 256];
            row_to_rgba(&src, &l, &mut px);
            if comps == Components::Rgba {
                assert_eq!(px[7], [vals[28], vals[29], vals[30], vals[31]]);
            }
            let mut back = vec![0u8; src.len()];
            rgba_to_row(&px, &l, &mut back);
            assert_eq!(src, back, "{comps:?}");
        }
    }

    #[test]
    fn rgb_to_rgba_sets_opaque_alpha() {
        let src = [10u8, 20, 30];
        let mut dst = [0u8; 4];
        let mut scratch = Vec::new();
        convert_row(&src, &layout(BitDepth::Byte, Components::Rgb), &mut dst, &layout(BitDepth::Byte, Components::Rgba), &mut scratch, 1);
        assert_eq!(dst, [10, 20, 30, 255]);
    }
}
