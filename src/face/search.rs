//! The search for faces that are small in a large frame. The short-range detector sees the whole image
//! letterboxed into 128×128 pixels and finds face boxes from about 18 to 80 of those pixels wide (measured on the
//! demo portrait: scores 0.8–0.95 across that range, nothing below about 15); in a 3840×2160 frame a 300-pixel
//! face becomes 10 tensor pixels and is missed. When the whole image gives no face, the analyzer looks again at
//! finer scales: square tiles of side T (first half the image's short side, at least 256 pixels, then T/2, …)
//! laid over the image with at least 3/8 overlap, each shrunk to 128×128 and detected on its own. Each scale
//! halves the smallest face found (a box of about 20·T/128 pixels), and since the detector's range spans more
//! than a factor of four, consecutive scales overlap in the sizes they find; the overlap between tiles lets every
//! face of the sizes a scale is for lie wholly inside some tile, with its centre at least 3/16 of a tile from that
//! tile's edges (the detector finds faces centred 20 of 128 pixels from the edge as well as centred ones).
//!
//! Each scale is shrunk once, by averaging f×f blocks (f the whole part of T/128), and its tiles are then
//! resampled bilinearly by the remaining factor (1–2): a box filter before the point-like bilinear sampling
//! keeps fine texture in a large frame from aliasing into the small tensor. The whole-image pass keeps
//! MediaPipe's own sampling, so results on ordinary portraits do not change.
//!
//! The cost is bounded: a scale is searched only when all its tiles fit in what is left of
//! `MAX_DETECTOR_RUNS` (the whole-image run included), so the search stops before scales whose tiles would be
//! too many; scales whose tiles would cover more than half the letterbox are skipped as pointless. A 3840×2160
//! frame gets 1 + 18 + 66 = 85 runs (tiles of 1080 and 540 pixels: face boxes from about 90 pixels up), as do
//! 1920×1080 (tiles of 540 and 270) and 7680×4320 (2160 and 1080). Everything here depends on the image size
//! and pixels only.

use super::detect::INPUT_SIZE;
use super::image::{to_tensor, warp_rgb, Affine, Border, FaceImage};

/// Most detector runs one search may make, the whole-image run included (about 2.3 ms each on a CPU core).
pub const MAX_DETECTOR_RUNS: usize = 96;
/// The smallest tile side searched, in image pixels: faces below a box of about 40 pixels are not looked for.
pub const MIN_TILE_SIDE: u32 = 256;
/// Neighbouring tiles overlap by at least this fraction of their side.
const MIN_OVERLAP: f64 = 0.375;

/// One scale of the search: square tiles of `side` image pixels at `origins` (top-left corners, image pixels;
/// negative or reaching past the image only where the image is narrower than a tile).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TileScale {
    pub side: u32,
    pub origins: Vec<[i64; 2]>,
}

impl TileScale {
    /// The block size the image is averaged by before the tiles are resampled.
    pub fn shrink_factor(&self) -> u32 {
        (self.side / INPUT_SIZE).max(1)
    }

    /// Whether a detection centred at `centre` (image pixels) in the tile at `origin` is kept: only when it lies
    /// in the tile's core, the tile less a margin of half the minimum overlap on each side that borders another
    /// tile rather than the image's edge. The cores still cover the image, so every face is kept from a tile
    /// that holds it with room around it, and faces cut by a tile's edge (boxes and keypoints off, scores lower)
    /// do not pull the merged detection of the face seen whole in the next tile.
    pub fn in_core(&self, origin: [i64; 2], image: [u32; 2], centre: [f32; 2]) -> bool {
        let margin = self.side as f64 * MIN_OVERLAP / 2.0;
        (0..2).all(|a| {
            let start = origin[a] as f64;
            let end = start + self.side as f64;
            let c = centre[a] as f64;
            let lo = if origin[a] <= 0 { f64::NEG_INFINITY } else { start + margin };
            let hi = if end >= image[a] as f64 { f64::INFINITY } else { end - margin };
            c >= lo && c <= hi
        })
    }
}

/// The scales searched in an image of `width`×`height` when at most `runs_left` detector runs remain, coarse
/// to fine.
pub(crate) fn plan(width: u32, height: u32, runs_left: usize) -> Vec<TileScale> {
    let long = width.max(height);
    let mut side = MIN_TILE_SIDE.max(width.min(height) / 2);
    let mut left = runs_left;
    let mut out = Vec::new();
    while side >= MIN_TILE_SIDE && side * 2 <= long {
        let xs = axis(width, side);
        let ys = axis(height, side);
        let count = xs.len() * ys.len();
        if count > left {
            break;
        }
        left -= count;
        let origins = ys.iter().flat_map(|&y| xs.iter().map(move |&x| [x, y])).collect();
        out.push(TileScale { side, origins });
        side /= 2;
    }
    out
}

/// About the smallest face (its box's side, in image pixels) the search finds in a `width`×`height` image: a box
/// of about 20 of the detector's 128 input pixels, in the finest tile searched or in the letterboxed whole image.
pub fn smallest_face_found(width: u32, height: u32) -> u32 {
    let finest = plan(width, height, MAX_DETECTOR_RUNS - 1).last().map(|s| s.side).unwrap_or(width.max(height));
    (finest as f64 * 20.0 / INPUT_SIZE as f64).round() as u32
}

/// Tile starts along one axis of length `len`: evenly spread from 0 to `len − side` with steps of at most
/// `side·(1 − MIN_OVERLAP)`; one centred tile when the axis is not longer than a tile.
fn axis(len: u32, side: u32) -> Vec<i64> {
    let (len, side) = (len as i64, side as i64);
    if len <= side {
        return vec![(len - side).div_euclid(2)];
    }
    let span = len - side;
    let max_step = side as f64 * (1.0 - MIN_OVERLAP);
    let steps = (span as f64 / max_step).ceil().max(1.0) as i64;
    (0..=steps).map(|i| (i * span + steps / 2) / steps).collect()
}

/// `img` averaged over `f`×`f` blocks (partial blocks at the right and bottom edges average what they hold).
/// Block (i, j) stands for image position (f·i + (f − 1)/2, f·j + (f − 1)/2).
pub(crate) fn shrink(img: &FaceImage, f: u32) -> FaceImage {
    if f <= 1 {
        return img.clone();
    }
    let (w, h) = (img.width as usize, img.height as usize);
    let f = f as usize;
    let (sw, sh) = (w.div_ceil(f), h.div_ceil(f));
    let mut rgb = vec![0u8; sw * sh * 3];
    let mut sums = vec![0u32; sw * 3];
    for by in 0..sh {
        sums.iter_mut().for_each(|s| *s = 0);
        let y0 = by * f;
        let y1 = (y0 + f).min(h);
        for y in y0..y1 {
            let row = &img.rgb[y * w * 3..(y + 1) * w * 3];
            for (block, sum) in row.chunks(f * 3).zip(sums.chunks_exact_mut(3)) {
                for px in block.chunks_exact(3) {
                    sum[0] += px[0] as u32;
                    sum[1] += px[1] as u32;
                    sum[2] += px[2] as u32;
                }
            }
        }
        let rows = (y1 - y0) as u32;
        for bx in 0..sw {
            let cols = ((bx * f + f).min(w) - bx * f) as u32;
            let n = rows * cols;
            for c in 0..3 {
                rgb[(by * sw + bx) * 3 + c] = ((sums[bx * 3 + c] + n / 2) / n) as u8;
            }
        }
    }
    FaceImage { width: sw as u32, height: sh as u32, rgb }
}

/// A tile's detector input, read from the image shrunk by `factor` (`shrunk`), and the map from tensor pixel to
/// image position that takes its detections back into the image. The tile is the square [x, x + side] ×
/// [y, y + side] in the image's coordinates (the convention of the whole-image letterbox); outside the image is
/// black, as in the letterbox.
pub(crate) fn tile_input(shrunk: &FaceImage, factor: u32, origin: [i64; 2], side: u32) -> (Vec<f32>, Affine) {
    let (to_shrunk, to_image) = tile_maps(factor, origin, side);
    let rgb = warp_rgb(shrunk, &to_shrunk, INPUT_SIZE, INPUT_SIZE, Border::Zero);
    (to_tensor(&rgb, 1.0 / 127.5, -1.0), to_image)
}

/// Tensor pixel → position in the image shrunk by `factor`, and tensor pixel → image position, for one tile.
fn tile_maps(factor: u32, origin: [i64; 2], side: u32) -> (Affine, Affine) {
    let half = side as f64 / 2.0;
    let (cx, cy) = (origin[0] as f64 + half, origin[1] as f64 + half);
    let f = factor.max(1) as f64;
    // Shrunk position s stands for image position f·s + (f − 1)/2.
    let offset = (f - 1.0) / 2.0;
    let to_image = Affine::from_rect(cx, cy, side as f64, side as f64, 0.0, INPUT_SIZE, INPUT_SIZE);
    let to_shrunk = Affine::from_rect(
        (cx - offset) / f,
        (cy - offset) / f,
        side as f64 / f,
        side as f64 / f,
        0.0,
        INPUT_SIZE,
        INPUT_SIZE,
    );
    (to_shrunk, to_image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_stay_within_the_budget() {
        let uhd = plan(3840, 2160, MAX_DETECTOR_RUNS - 1);
        let sides: Vec<(u32, usize)> = uhd.iter().map(|s| (s.side, s.origins.len())).collect();
        assert_eq!(sides, vec![(1080, 18), (540, 66)]);
        let hd = plan(1920, 1080, MAX_DETECTOR_RUNS - 1);
        assert_eq!(hd.iter().map(|s| (s.side, s.origins.len())).collect::<Vec<_>>(), vec![(540, 18), (270, 66)]);
        for (w, h) in [(3840, 2160), (7680, 4320), (6016, 4016), (1280, 720), (640, 360), (20000, 300), (300, 300)] {
            let total: usize = plan(w, h, MAX_DETECTOR_RUNS - 1).iter().map(|s| s.origins.len()).sum();
            assert!(total < MAX_DETECTOR_RUNS, "{w}×{h}: {total}");
        }
        // Tiles are at most half the letterbox: small images get none, the whole-image pass sees them at that
        // scale already.
        assert_eq!(plan(512, 512, 95).iter().map(|s| (s.side, s.origins.len())).collect::<Vec<_>>(), vec![(256, 9)]);
        assert!(plan(500, 500, 95).is_empty());
        assert!(plan(300, 37, 95).is_empty());
        assert!(plan(3840, 2160, 10).is_empty());
    }

    #[test]
    fn tiles_cover_the_image_with_overlap() {
        for (len, side) in [(3840u32, 540u32), (2160, 1080), (1000, 256), (257, 256), (100, 256)] {
            let xs = axis(len, side);
            if len < side {
                assert_eq!(xs, vec![-78]);
            } else {
                assert_eq!(xs[0], 0);
                assert_eq!(*xs.last().unwrap(), (len - side) as i64, "{len} {side}");
                for pair in xs.windows(2) {
                    let step = pair[1] - pair[0];
                    assert!(step > 0 && step as f64 <= side as f64 * (1.0 - MIN_OVERLAP) + 0.5, "{xs:?}");
                }
            }
        }
    }

    #[test]
    fn tile_cores_cover_the_image() {
        let scale = &plan(3840, 2160, 95)[1];
        let image = [3840, 2160];
        for y in (0..2160).step_by(7) {
            for x in (0..3840).step_by(5) {
                let c = [x as f32 + 0.5, y as f32 + 0.5];
                assert!(scale.origins.iter().any(|&o| scale.in_core(o, image, c)), "{c:?}");
            }
        }
        // Interior edges are excluded, the image's own edges are not.
        let o = scale.origins[1];
        assert!(o[0] > 0 && o[1] == 0);
        assert!(!scale.in_core(o, image, [o[0] as f32 + 10.0, 10.0]));
        assert!(scale.in_core(o, image, [o[0] as f32 + 270.0, 1.0]));
        assert!(scale.in_core(o, image, [o[0] as f32 + 270.0, -5.0]));
    }

    #[test]
    fn shrink_averages_blocks_and_keeps_positions() {
        let rgb: Vec<u8> = (0..5 * 3).flat_map(|i| [(i % 5) as u8 * 10, (i / 5) as u8 * 20, 7]).collect();
        let img = FaceImage::new(5, 3, rgb).unwrap();
        let s = shrink(&img, 2);
        assert_eq!((s.width, s.height), (3, 2));
        // Block (0, 0): x 0–1, y 0–1 → R (0 + 10)/2 = 5, G (0 + 20)/2 = 10.
        assert_eq!(&s.rgb[..3], &[5, 10, 7]);
        // Block (2, 1): only pixel (4, 2).
        assert_eq!(&s.rgb[15..18], &[40, 40, 7]);
        // A tile's two maps agree: shrunk position s is image position 2·s + 0.5.
        for (factor, origin, side) in [(2, [1, 0], 4), (8, [2760, 1080], 1080), (4, [-78, 3], 600)] {
            let (to_shrunk, to_image) = tile_maps(factor, origin, side);
            for (u, v) in [(0.0, 0.0), (64.0, 64.0), (127.0, 3.5)] {
                let (sx, sy) = to_shrunk.apply(u, v);
                let (ix, iy) = to_image.apply(u, v);
                let f = factor as f64;
                assert!((f * sx + (f - 1.0) / 2.0 - ix).abs() < 1e-9 && (f * sy + (f - 1.0) / 2.0 - iy).abs() < 1e-9);
            }
        }
        let (_, to_image) = tile_maps(2, [1, 0], 4);
        assert_eq!(to_image.apply(64.0, 64.0), (3.0, 2.0));
    }
}
