//! Resizing planar float images between the working resolution and a pack's native one (a few-shot pack made for
//! 256 px crops used at 512 or 1024, or back). Separable linear interpolation with pixel centres aligned as in
//! ONNX `Resize` with `half_pixel` (the crop's normalised coordinates stay valid at every size); when shrinking the
//! tent is widened to the scale factor so every source pixel contributes, which keeps a 1024 → 256 reduction
//! free of the aliasing plain bilinear sampling gives. Taps beyond the edges are dropped.

/// Resizes a planar image of `channels` square planes from `from`×`from` to `to`×`to`.
pub fn resize_planar(src: &[f32], channels: usize, from: usize, to: usize) -> Vec<f32> {
    assert_eq!(src.len(), channels * from * from, "resize_planar: {channels} planes of {from}x{from} expected");
    if from == to {
        return src.to_vec();
    }
    let taps = taps(from, to);
    let mut out = vec![0.0f32; channels * to * to];
    // Rows first (from×from → from×to), then columns (→ to×to); one scratch plane reused across channels.
    let mut rows = vec![0.0f32; from * to];
    for c in 0..channels {
        let plane = &src[c * from * from..(c + 1) * from * from];
        for y in 0..from {
            let line = &plane[y * from..(y + 1) * from];
            for (x, tap) in taps.iter().enumerate() {
                rows[y * to + x] = tap.apply(|i| line[i]);
            }
        }
        let dst = &mut out[c * to * to..(c + 1) * to * to];
        for (y, tap) in taps.iter().enumerate() {
            for x in 0..to {
                dst[y * to + x] = tap.apply(|i| rows[i * to + x]);
            }
        }
    }
    out
}

/// The source pixels and weights of one output pixel.
struct Tap {
    first: usize,
    weights: Vec<f32>,
}

impl Tap {
    fn apply(&self, at: impl Fn(usize) -> f32) -> f32 {
        self.weights.iter().enumerate().map(|(k, w)| w * at(self.first + k)).sum()
    }
}

/// The taps of every output pixel along one axis.
fn taps(from: usize, to: usize) -> Vec<Tap> {
    let scale = from as f64 / to as f64;
    let support = scale.max(1.0);
    (0..to)
        .map(|o| {
            let centre = (o as f64 + 0.5) * scale - 0.5;
            // Taps beyond the edge are dropped and the rest renormalised: the border pixel then stands for the
            // missing ones without being counted twice.
            let lo = ((centre - support).floor() as i64 + 1).max(0);
            let hi = ((centre + support).ceil() as i64 - 1).min(from as i64 - 1);
            let weights: Vec<f64> = (lo..=hi).map(|i| (1.0 - ((i as f64 - centre) / support).abs()).max(0.0)).collect();
            let total: f64 = weights.iter().sum();
            let weights = weights.iter().map(|w| (w / total) as f32).collect();
            let first = lo as usize;
            Tap { first, weights }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_constant() {
        let src: Vec<f32> = (0..2 * 16 * 16).map(|i| i as f32 * 0.01).collect();
        assert_eq!(resize_planar(&src, 2, 16, 16), src);
        let flat = vec![0.25f32; 3 * 10 * 10];
        for to in [3, 7, 10, 23, 40] {
            let out = resize_planar(&flat, 3, 10, to);
            assert_eq!(out.len(), 3 * to * to);
            assert!(out.iter().all(|v| (v - 0.25).abs() < 1e-6), "{to}");
        }
    }

    #[test]
    fn enlarging_is_bilinear_with_half_pixel_centres() {
        // A horizontal ramp 0, 1, 2, 3 doubled: centres at (o + 0.5) / 2 - 0.5.
        let src: Vec<f32> = (0..4).flat_map(|_| (0..4).map(|x| x as f32)).collect();
        let out = resize_planar(&src, 1, 4, 8);
        let row: Vec<f32> = out[..8].to_vec();
        let want = [0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0];
        for (a, b) in row.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{row:?}");
        }
    }

    #[test]
    fn shrinking_averages_every_source_pixel() {
        // A one-pixel checkerboard reduced 4× becomes flat grey (plain bilinear sampling would alias).
        let n = 32;
        let src: Vec<f32> = (0..n * n).map(|i| ((i / n + i % n) % 2) as f32).collect();
        let m = n / 4;
        let out = resize_planar(&src, 1, n, m);
        for y in 1..m - 1 {
            for x in 1..m - 1 {
                assert!((out[y * m + x] - 0.5).abs() < 1e-5, "{out:?}");
            }
        }
        assert!(out.iter().all(|v| (v - 0.5).abs() < 0.1), "{out:?}");
    }
}
