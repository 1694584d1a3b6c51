//! Float RGBA copies of host images and bilinear sampling from them.
//!
//! A [`Plane`] holds pixels in OFX order (rows bottom-up, origin at the bounds'
//! lower-left pixel) as `[f32; 4]`, read once from a host image in any depth
//! and component layout. Sampling positions are pixel coordinates at the
//! image's render scale, with pixel centres at `x + 0.5`.

use ofx::plugin::{Image, ImageLayout, RectI};

use crate::pixels;

/// A float RGBA image in OFX pixel order.
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    /// Pixel bounds.
    pub bounds: RectI,
    /// `width * height` pixels, bottom row first.
    pub data: Vec<[f32; 4]>,
}

impl Plane {
    /// Read a whole host image.
    pub fn from_image(img: &Image) -> Plane {
        let layout = img.layout();
        let b = layout.bounds;
        let w = b.width();
        let mut data = vec![[0.0f32; 4]; w * b.height()];
        for (row, y) in data.chunks_exact_mut(w.max(1)).zip(b.y1..b.y2) {
            if let Some(src) = img.row(y) {
                pixels::row_to_rgba(src, &layout, row);
            }
        }
        Plane { bounds: b, data }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.bounds.width()
    }
    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.bounds.height()
    }

    /// The pixel at (x, y), clamped to the edge.
    #[inline]
    pub fn pixel_clamped(&self, x: i32, y: i32) -> [f32; 4] {
        let b = self.bounds;
        let xi = (x.clamp(b.x1, b.x2 - 1) - b.x1) as usize;
        let yi = (y.clamp(b.y1, b.y2 - 1) - b.y1) as usize;
        self.data[yi * self.width() + xi]
    }

    /// Bilinear sample at continuous pixel coordinates (centres at +0.5),
    /// clamped to the edge.
    #[inline]
    pub fn sample(&self, x: f64, y: f64) -> [f32; 4] {
        if self.data.is_empty() {
            return [0.0; 4];
        }
        bilinear(x, y, |px, py| self.pixel_clamped(px, py)).0
    }

    /// 8-bit RGB, rows top-down (the face analysis convention), and the scale
    /// factor that maps its pixels back: image row `r` is pixel row `y2-1-r`.
    pub fn to_rgb8_top_down(&self) -> Vec<u8> {
        let w = self.width();
        let mut out = Vec::with_capacity(w * self.height() * 3);
        for row in self.data.chunks_exact(w.max(1)).rev() {
            for p in row {
                for &v in &p[..3] {
                    out.push(if v.is_nan() { 0 } else { (v.clamp(0.0, 1.0) * 255.0).round() as u8 });
                }
            }
        }
        out
    }
}

/// Bilinear interpolation at continuous pixel coordinates (centres at +0.5)
/// of the pixels `pixel(x, y)` gives; also the four taps (top-left, right,
/// up, up-right) and the fractions (tx, ty), for callers that look at the
/// taps themselves.
#[inline]
pub(crate) fn bilinear(x: f64, y: f64, pixel: impl Fn(i32, i32) -> [f32; 4]) -> ([f32; 4], [[f32; 4]; 4], [f32; 2]) {
    let (fx, fy) = (x - 0.5, y - 0.5);
    let (x0, y0) = (fx.floor(), fy.floor());
    let (tx, ty) = ((fx - x0) as f32, (fy - y0) as f32);
    let (x0, y0) = (x0 as i32, y0 as i32);
    let taps = [pixel(x0, y0), pixel(x0 + 1, y0), pixel(x0, y0 + 1), pixel(x0 + 1, y0 + 1)];
    let [p00, p10, p01, p11] = taps;
    let mut out = [0.0; 4];
    for c in 0..4 {
        let a = p00[c] + (p10[c] - p00[c]) * tx;
        let b = p01[c] + (p11[c] - p01[c]) * tx;
        out[c] = a + (b - a) * ty;
    }
    (out, taps, [tx, ty])
}

/// A fast 128-bit key of a host image's raw bytes and layout: renders of the
/// same pixels share cached analysis, crops and mattes, whatever the frame.
/// The two halves of the rows are hashed on two of the host's threads.
pub fn image_key(img: &Image, extra: u64) -> u128 {
    let halves = row_halves(img);
    let lanes: [parking_lot::Mutex<[u64; 4]>; 2] = Default::default();
    let hashed = ofx::plugin::run_threads(2, |i, _| {
        if let (Some(rows), Some(out)) = (halves.get(i as usize), lanes.get(i as usize)) {
            *out.lock() = hash_rows(img, rows.clone());
        }
        Ok(())
    });
    if hashed.is_err() {
        for (rows, out) in halves.iter().zip(&lanes) {
            *out.lock() = hash_rows(img, rows.clone());
        }
    }
    let (a, b) = (*lanes[0].lock(), *lanes[1].lock());
    combine_key(img, a, b, extra)
}

/// [`image_key`] computed on the calling thread alone (for a thread that is
/// itself one of the host's: those must not start more), handing every row
/// it reads to `visit` (row y, its bytes) so that a copy made in the same
/// pass reads the image once.
pub fn image_key_here(img: &Image, extra: u64, mut visit: impl FnMut(i32, &[u8])) -> u128 {
    let [first, second] = row_halves(img);
    let a = hash_rows_visiting(img, first, &mut visit);
    let b = hash_rows_visiting(img, second, &mut visit);
    combine_key(img, a, b, extra)
}

fn row_halves(img: &Image) -> [std::ops::Range<i32>; 2] {
    let b = img.layout().bounds;
    let mid = b.y1 + (b.height() / 2) as i32;
    [b.y1..mid, mid..b.y2]
}

/// The key from the two halves' hash lanes and the image's layout.
fn combine_key(img: &Image, a: [u64; 4], b: [u64; 4], extra: u64) -> u128 {
    let l: ImageLayout = img.layout();
    let layout = [
        extra,
        (l.bounds.x1 as u64) << 32 ^ l.bounds.y1 as u32 as u64,
        (l.bounds.x2 as u64) << 32 ^ l.bounds.y2 as u32 as u64,
        (l.depth.bytes() as u64) << 8 ^ l.components.count() as u64,
    ];
    let fin = crate::face::fmix64;
    let mix = |k: usize| fin(a[k] ^ fin(b[k] ^ layout[k]).rotate_left(17));
    let (m0, m1, m2, m3) = (mix(0), mix(1), mix(2), mix(3));
    let hi = fin(m0 ^ m2.rotate_left(13));
    let lo = fin(m1 ^ m3.rotate_left(41));
    (hi as u128) << 64 | lo as u128
}

/// Four 64-bit hash lanes over the raw bytes of rows `rows` of an image.
fn hash_rows(img: &Image, rows: std::ops::Range<i32>) -> [u64; 4] {
    hash_rows_visiting(img, rows, &mut |_, _| {})
}

/// [`hash_rows`], handing each row to `visit` after hashing it.
fn hash_rows_visiting(img: &Image, rows: std::ops::Range<i32>, visit: &mut dyn FnMut(i32, &[u8])) -> [u64; 4] {
    const P1: u64 = 0x9E37_79B9_7F4A_7C15;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    let mut lanes = [0x243F_6A88_85A3_08D3u64, 0x1319_8A2E_0370_7344, 0xA409_3822_299F_31D0, 0x082E_FA98_EC4E_6C89];
    for y in rows {
        let Some(row) = img.row(y) else { continue };
        let row: &[u8] = row;
        let mut chunks = row.chunks_exact(32);
        for c in &mut chunks {
            for (k, lane) in lanes.iter_mut().enumerate() {
                let w = u64::from_le_bytes(c[k * 8..k * 8 + 8].try_into().unwrap_or([0; 8]));
                *lane = (*lane ^ w).wrapping_mul(P1).rotate_left(31);
            }
        }
        let mut tail = [0u8; 32];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        for (k, lane) in lanes.iter_mut().enumerate() {
            let w = u64::from_le_bytes(tail[k * 8..k * 8 + 8].try_into().unwrap_or([0; 8]));
            *lane = (*lane ^ w ^ y as u64).wrapping_mul(P2).rotate_left(27);
        }
        visit(y, row);
    }
    lanes
}

/// A rectangle of a host image as float RGB (any depth and components),
/// read once and sampled many times: the part of a reference still its face
/// crop covers, which the paste-back resamples at full resolution. Compact
/// rows keep the samples in cache, and the region is cached across frames.
pub struct Region {
    /// RGB, rows bottom-up, `rect.width() * rect.height() * 3` values.
    data: Vec<f32>,
    /// Lower-left corner shifted by the half-pixel centre; last column and row.
    origin: [f32; 2],
    last_f: [f32; 2],
    last: [usize; 2],
}

impl Region {
    /// The pixels of `img` inside `rect` (clipped to the image's bounds).
    pub fn from_image(img: &Image, rect: RectI) -> Region {
        let layout = img.layout();
        let r = rect.intersect(&layout.bounds);
        let (w, h) = (r.width(), r.height());
        let mut data = vec![0.0f32; w * h * 3];
        let mut px = vec![[0.0f32; 4]; w];
        let pb = layout.pixel_bytes();
        for (j, y) in (r.y1..r.y2).enumerate() {
            let Some(row) = img.row(y) else { continue };
            let o = (r.x1 - layout.bounds.x1) as usize * pb;
            pixels::row_to_rgba(&row[o..], &layout, &mut px);
            for (i, p) in px.iter().enumerate() {
                data[(j * w + i) * 3..(j * w + i) * 3 + 3].copy_from_slice(&p[..3]);
            }
        }
        fill_non_finite(&mut data, w, h);
        Region::from_rgb([r.x1, r.y1], w, h, data)
    }

    /// A region from RGB values (rows bottom-up) whose lower-left pixel is
    /// `origin`.
    pub fn from_rgb(origin: [i32; 2], width: usize, height: usize, data: Vec<f32>) -> Region {
        let (w, h) = if data.len() == width * height * 3 { (width, height) } else { (0, 0) };
        let last = [w.max(1) - 1, h.max(1) - 1];
        Region {
            data: if w * h > 0 { data } else { Vec::new() },
            origin: [origin[0] as f32 + 0.5, origin[1] as f32 + 0.5],
            last_f: [last[0] as f32, last[1] as f32],
            last,
        }
    }

    /// Bilinear RGB at continuous pixel coordinates (centres at +0.5),
    /// clamped to the region's edge pixels; black for an empty region.
    #[inline(always)]
    pub fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        if self.last[0] == 0 || self.last[1] == 0 {
            return self.sample_thin(x, y);
        }
        let (fx, fy) = (x - self.origin[0], y - self.origin[1]);
        // Clamped to the edge pixels (NaN goes to the first); the cell is
        // never the last column or row, so the four taps need no checks.
        let fx = if fx > 0.0 { fx.min(self.last_f[0]) } else { 0.0 };
        let fy = if fy > 0.0 { fy.min(self.last_f[1]) } else { 0.0 };
        let (x0, y0) = ((fx as i32 as usize).min(self.last[0] - 1), (fy as i32 as usize).min(self.last[1] - 1));
        let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
        let w3 = (self.last[0] + 1) * 3;
        let i = y0 * w3 + x0 * 3;
        let (lo, hi) = (&self.data[i..i + 6], &self.data[i + w3..i + w3 + 6]);
        let mut out = [0.0; 3];
        for k in 0..3 {
            let a = lo[k] + (lo[k + 3] - lo[k]) * tx;
            let c = hi[k] + (hi[k + 3] - hi[k]) * tx;
            out[k] = a + (c - a) * ty;
        }
        out
    }

    /// [`Region::sample`] for regions one pixel wide or high (or empty).
    fn sample_thin(&self, x: f32, y: f32) -> [f32; 3] {
        if self.data.is_empty() {
            return [0.0; 3];
        }
        let (fx, fy) = (x - self.origin[0], y - self.origin[1]);
        let fx = if fx > 0.0 { fx.min(self.last_f[0]) } else { 0.0 };
        let fy = if fy > 0.0 { fy.min(self.last_f[1]) } else { 0.0 };
        let (x0, y0) = (fx as usize, fy as usize);
        let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
        let w = self.last[0] + 1;
        let at = |x: usize, y: usize, k: usize| self.data[(y.min(self.last[1]) * w + x.min(self.last[0])) * 3 + k];
        [0, 1, 2].map(|k| {
            let a = at(x0, y0, k) + (at(x0 + 1, y0, k) - at(x0, y0, k)) * tx;
            let c = at(x0, y0 + 1, k) + (at(x0 + 1, y0 + 1, k) - at(x0, y0 + 1, k)) * tx;
            a + (c - a) * ty
        })
    }
}


/// Replace every non-finite value of RGB `data` (`w`×`h`, 3 values a pixel,
/// rows in order) by finite ones from the same channel: along its row, the
/// linear blend of the nearest finite values to the left and right (the one
/// there is at a row's end); a row with none takes the nearest row that has
/// some; 0 when the channel has no finite value at all. Linear in the size,
/// free when all are finite. Sampling a region then never spreads a NaN or
/// an infinity to a pixel that had a finite value.
pub(crate) fn fill_non_finite(data: &mut [f32], w: usize, h: usize) {
    if w == 0 || data.iter().all(|v| v.is_finite()) {
        return;
    }
    for k in 0..3 {
        let at = |x: usize, y: usize| (y * w + x) * 3 + k;
        let mut has_finite = vec![false; h];
        for (y, any) in has_finite.iter_mut().enumerate() {
            let mut last: Option<usize> = None;
            let mut x = 0;
            while x < w {
                if data[at(x, y)].is_finite() {
                    last = Some(x);
                    x += 1;
                    continue;
                }
                let end = (x..w).find(|&e| data[at(e, y)].is_finite());
                match (last, end) {
                    (Some(a), Some(b)) => {
                        let (va, vb) = (data[at(a, y)], data[at(b, y)]);
                        for m in x..b {
                            let t = (m - a) as f32 / (b - a) as f32;
                            data[at(m, y)] = va + (vb - va) * t;
                        }
                    }
                    (Some(a), None) => (x..w).for_each(|m| data[at(m, y)] = data[at(a, y)]),
                    (None, Some(b)) => (x..b).for_each(|m| data[at(m, y)] = data[at(b, y)]),
                    (None, None) => break,
                }
                x = end.unwrap_or(w);
            }
            *any = last.is_some();
        }
        // Rows with no finite value: the nearest row above or below that had one.
        let source_row = |y: usize| {
            let up = (y + 1..h).find(|&r| has_finite[r]);
            let down = (0..y).rev().find(|&r| has_finite[r]);
            match (down, up) {
                (Some(d), Some(u)) => Some(if y - d <= u - y { d } else { u }),
                (d, u) => d.or(u),
            }
        };
        for y in (0..h).filter(|&y| !has_finite[y]) {
            let from = source_row(y);
            for x in 0..w {
                data[at(x, y)] = from.map_or(0.0, |r| data[at(x, r)]);
            }
        }
        // Blends of two huge finite values can overflow.
        for y in 0..h {
            for x in 0..w {
                if !data[at(x, y)].is_finite() {
                    data[at(x, y)] = 0.0;
                }
            }
        }
    }
}

/// How an image's pixels map to canonical coordinates: `canonical x = pixel
/// x / sx`, `canonical y = pixel y / sy`, with `sx = render scale / pixel
/// aspect ratio` and `sy = render scale` (OFX: canonical coordinates are
/// square, full-resolution pixels).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelMap {
    pub sx: f64,
    pub sy: f64,
    pub par: f64,
}

impl PixelMap {
    /// The map of an image at render scale `scale` with pixel aspect `par`.
    pub fn of(scale: f64, par: f64) -> PixelMap {
        let par = if par.is_finite() && (0.1..=10.0).contains(&par) { par } else { 1.0 };
        PixelMap { sx: scale / par, sy: scale, par }
    }
    /// The map of a host image at the render's scale.
    pub fn of_image(img: &Image, scale: f64) -> PixelMap {
        PixelMap::of(scale, img.pixel_aspect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A region whose red channel is 10·x + y at pixel (x, y), green 1, blue the pixel index.
    fn ramp(origin: [i32; 2], w: usize, h: usize) -> Region {
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&[10.0 * (origin[0] + x as i32) as f32 + (origin[1] + y as i32) as f32, 1.0, (y * w + x) as f32]);
            }
        }
        Region::from_rgb(origin, w, h, data)
    }

    #[test]
    fn region_samples_pixel_centres_exactly_and_interpolates_linearly() {
        let r = ramp([5, -3], 6, 4);
        // The centre of pixel (7, -2) is (7.5, -1.5).
        assert_eq!(r.sample(7.5, -1.5), [68.0, 1.0, 8.0]);
        // Half way to the right and up: a linear ramp stays linear.
        let v = r.sample(8.0, -1.0);
        assert!((v[0] - 73.5).abs() < 1e-4 && (v[1] - 1.0).abs() < 1e-6, "{v:?}");
    }

    #[test]
    fn non_finite_values_are_filled_from_their_finite_neighbours() {
        let (w, h) = (5, 4);
        let mut data: Vec<f32> = (0..w * h * 3).map(|i| i as f32).collect();
        let original = data.clone();
        // A NaN inside a row, an infinity at a row's end, a row with none finite in channel 0.
        data[(w + 2) * 3] = f32::NAN;
        data[(2 * w - 1) * 3 + 1] = f32::INFINITY;
        for x in 0..w {
            data[(2 * w + x) * 3] = f32::NEG_INFINITY;
        }
        fill_non_finite(&mut data, w, h);
        assert!(data.iter().all(|v| v.is_finite()));
        // Between (1,1) and (3,1): their mean. At the row's end: its left neighbour.
        assert_eq!(data[(w + 2) * 3], (original[(w + 1) * 3] + original[(w + 3) * 3]) / 2.0);
        assert_eq!(data[(2 * w - 1) * 3 + 1], original[(2 * w - 2) * 3 + 1]);
        // Row 2 of channel 0 takes the nearest row (row 1, as filled; a tie goes down).
        for x in 0..w {
            assert_eq!(data[(2 * w + x) * 3], data[(w + x) * 3]);
        }
        // Every finite value is untouched.
        for (i, v) in original.iter().enumerate() {
            let filled = [(w + 2) * 3, (2 * w - 1) * 3 + 1].contains(&i) || (2 * w * 3..3 * w * 3).contains(&i) && i % 3 == 0;
            if !filled {
                assert_eq!(data[i], *v, "value {i}");
            }
        }
        let mut none = vec![f32::NAN; 2 * 2 * 3];
        fill_non_finite(&mut none, 2, 2);
        assert_eq!(none, vec![0.0; 12]);
    }

    #[test]
    fn region_clamps_to_its_edge_pixels() {
        let r = ramp([0, 0], 3, 2);
        assert_eq!(r.sample(-40.0, 0.5), r.sample(0.5, 0.5));
        assert_eq!(r.sample(99.0, 99.0), r.sample(2.5, 1.5));
        assert_eq!(r.sample(f32::NAN, f32::NAN), r.sample(0.5, 0.5));
        // One pixel wide or high, and empty.
        let thin = ramp([2, 2], 1, 3);
        assert_eq!(thin.sample(0.0, 3.5), [23.0, 1.0, 1.0], "pixel (2, 3)");
        let flat = ramp([0, 0], 4, 1);
        let v = flat.sample(2.0, 0.5);
        assert!((v[0] - 15.0).abs() < 1e-4, "{v:?}");
        assert_eq!(Region::from_rgb([0, 0], 0, 0, Vec::new()).sample(1.0, 1.0), [0.0; 3]);
        assert_eq!(Region::from_rgb([0, 0], 3, 3, vec![1.0; 5]).sample(1.0, 1.0), [0.0; 3], "mismatched data is empty");
    }
}
