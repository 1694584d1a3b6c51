//! What the face models see of a host image, and the face crop read from it,
//! without a float copy of the whole image.
//!
//! An 8K still as float RGBA is a gigabyte; the face models look at a 128 px
//! detector window, a 192 px mesh crop and a 256 px matte. So the analysis
//! image is 8-bit RGB with square pixels whose long side is at most
//! [`MAX_ANALYSIS_SIDE`] (a box-filtered reduction of larger images), read row
//! by row from the host's buffer, and the generator's crop is sampled from the
//! host's buffer directly ([`ImageSampler`]). Images within the bound are seen
//! exactly as before: same pixels, same landmarks.
//!
//! Non-finite pixels (NaN, ±Inf in float plates) never reach a model: the
//! reduction and the sampler use only the finite values around them, and the
//! view counts them so that "no face was found" can say why.

use ofx::plugin::{Image, ImageLayout, RectI};

use super::plane::{bilinear, PixelMap, Plane};
use crate::face::{FaceError, FaceImage};
use crate::pixels;

/// Longest side, in square pixels, of the image the face models analyse. A face
/// filling a quarter of an 8K frame is still over 1,000 px here, five times the
/// face mesh's 192 px crop, so landmarks lose nothing; the bound keeps the
/// detector's tile search and the analysis copy of huge stills small (48 MB).
pub const MAX_ANALYSIS_SIDE: usize = 4096;

/// The analysis image of a host image and the map from its pixels back to the
/// host image's pixel coordinates.
pub struct AnalysisView {
    /// 8-bit RGB, top row first.
    pub image: FaceImage,
    /// The host image's pixel bounds.
    bounds: RectI,
    /// Analysis pixels per host pixel, along x (pixel aspect × reduction) and y.
    per_pixel: [f64; 2],
    /// How many host pixels held a NaN or an infinity in a colour channel.
    pub non_finite: usize,
}

impl AnalysisView {
    /// The view of `img` as displayed (square pixels), reduced to the bound.
    pub fn of(img: &Image, map: PixelMap) -> Result<AnalysisView, FaceError> {
        let layout = img.layout();
        let b = layout.bounds;
        let (w, h) = (b.width(), b.height());
        let displayed = [(w as f64 * map.par).max(1.0), h as f64];
        let reduce = (MAX_ANALYSIS_SIDE as f64 / displayed[0].max(displayed[1])).min(1.0);
        let per_pixel = [map.par * reduce, reduce];
        let (ow, oh) = (((w as f64 * per_pixel[0]).round() as usize).max(1), ((h as f64 * per_pixel[1]).round() as usize).max(1));
        let (rgb, non_finite) = if reduce < 1.0 {
            box_reduced(img, &layout, [ow, oh], per_pixel)
        } else if (map.par - 1.0).abs() < 1e-6 {
            exact(img, &layout)
        } else {
            // Non-square pixels at full size: resampled to their displayed width.
            let sampler = ImageSampler::new(img);
            let mut rgb = Vec::with_capacity(ow * oh * 3);
            for row in 0..oh {
                let y = b.y2 as f64 - row as f64 - 0.5;
                for u in 0..ow {
                    let p = sampler.sample(b.x1 as f64 + (u as f64 + 0.5) / map.par, y);
                    rgb.extend(p[..3].iter().map(|v| to_u8(*v)));
                }
            }
            (rgb, count_non_finite(img))
        };
        Ok(AnalysisView { image: FaceImage::new(ow as u32, oh as u32, rgb)?, bounds: b, per_pixel, non_finite })
    }

    /// A point of the analysis image (pixels, y down) in canonical coordinates
    /// (y up) of the render scale `map`.
    pub fn to_canonical(&self, p: [f32; 2], map: PixelMap) -> [f64; 2] {
        let x = self.bounds.x1 as f64 + (p[0] as f64 + 0.5) / self.per_pixel[0];
        let y = self.bounds.y2 as f64 - (p[1] as f64 + 0.5) / self.per_pixel[1];
        [x / map.sx, y / map.sy]
    }

    /// Whether the image was reduced for analysis.
    pub fn reduced(&self) -> bool {
        self.per_pixel[1] < 1.0
    }

    /// A matte made on the analysis image (values top row first), sampled at the
    /// host image's pixel coordinates.
    pub fn matte_plane(&self, alpha: &[f32]) -> ViewMatte {
        let (w, h) = (self.image.width as usize, self.image.height as usize);
        let mut data = vec![[0.0f32; 4]; w * h];
        for y in 0..h {
            for x in 0..w {
                let a = alpha.get((h - 1 - y) * w + x).copied().unwrap_or(0.0);
                data[y * w + x] = [a, a, a, a];
            }
        }
        let bounds = RectI { x1: 0, y1: 0, x2: w as i32, y2: h as i32 };
        ViewMatte { plane: Plane { bounds, data }, origin: [self.bounds.x1 as f64, self.bounds.y1 as f64], per_pixel: self.per_pixel }
    }
}

/// A matte on an analysis image's grid, read at host pixel coordinates.
pub struct ViewMatte {
    plane: Plane,
    origin: [f64; 2],
    per_pixel: [f64; 2],
}

impl ViewMatte {
    /// Bilinear value at host pixel coordinates (centres at +0.5).
    pub fn sample(&self, x: f64, y: f64) -> [f32; 4] {
        self.plane.sample((x - self.origin[0]) * self.per_pixel[0], (y - self.origin[1]) * self.per_pixel[1])
    }
}

/// A colour value as an 8-bit channel: clamped, NaN as black.
fn to_u8(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Pixels with a non-finite colour channel (float images only: bytes and
/// shorts are always finite).
fn count_non_finite(img: &Image) -> usize {
    let layout = img.layout();
    if layout.depth != ofx::plugin::BitDepth::Float {
        return 0;
    }
    let c = layout.components.count();
    let b = layout.bounds;
    (b.y1..b.y2)
        .filter_map(|y| img.row(y))
        .map(|row| {
            row.chunks_exact(4 * c)
                .filter(|px| px.chunks_exact(4).take(3).any(|v| !f32::from_ne_bytes([v[0], v[1], v[2], v[3]]).is_finite()))
                .count()
        })
        .sum()
}

/// The image as it is, top row first, and its count of non-finite pixels.
fn exact(img: &Image, layout: &ImageLayout) -> (Vec<u8>, usize) {
    let b = layout.bounds;
    let w = b.width();
    let mut rgb = Vec::with_capacity(w * b.height() * 3);
    let mut px = vec![[0.0f32; 4]; w];
    let mut non_finite = 0;
    for y in (b.y1..b.y2).rev() {
        match img.row(y) {
            Some(row) => pixels::row_to_rgba(row, layout, &mut px),
            None => px.iter_mut().for_each(|p| *p = [0.0; 4]),
        }
        non_finite += px.iter().filter(|p| !(p[0] + p[1] + p[2]).is_finite()).count();
        for p in &px {
            rgb.extend(p[..3].iter().map(|v| to_u8(*v)));
        }
    }
    (rgb, non_finite)
}

/// The half-open range of host pixels `[lo, hi)` (at least one) an analysis
/// pixel `i` covers at `per` analysis pixels per host pixel.
fn footprint(i: usize, per: f64, len: usize) -> (usize, usize) {
    let lo = ((i as f64 / per).floor() as usize).min(len - 1);
    let hi = (((i + 1) as f64 / per).floor() as usize).clamp(lo + 1, len);
    (lo, hi)
}

/// A box-filtered reduction to `out` pixels (top row first): each analysis
/// pixel is the mean of the finite host pixels it covers; also the count of
/// non-finite pixels. One pass over the image, one row at a time.
fn box_reduced(img: &Image, layout: &ImageLayout, out: [usize; 2], per_pixel: [f64; 2]) -> (Vec<u8>, usize) {
    let b = layout.bounds;
    let (w, h) = (b.width(), b.height());
    let columns: Vec<(usize, usize)> = (0..out[0]).map(|u| footprint(u, per_pixel[0], w)).collect();
    let mut rgb = Vec::with_capacity(out[0] * out[1] * 3);
    let mut px = vec![[0.0f32; 4]; w];
    // Per analysis column: the sums of the finite pixels (RGB) and their count.
    let mut sum = vec![[0.0f32; 4]; out[0]];
    let mut non_finite = 0;
    for r in 0..out[1] {
        let (t0, t1) = footprint(r, per_pixel[1], h);
        sum.iter_mut().for_each(|s| *s = [0.0; 4]);
        for t in t0..t1 {
            // Row t from the top.
            let Some(row) = img.row(b.y2 - 1 - t as i32) else { continue };
            pixels::row_to_rgba(row, layout, &mut px);
            for (acc, &(x0, x1)) in sum.iter_mut().zip(&columns) {
                for p in &px[x0..x1] {
                    // A pixel with any non-finite channel is left out whole (a sum is not finite
                    // when a term is not).
                    if (p[0] + p[1] + p[2]).is_finite() {
                        *acc = [acc[0] + p[0], acc[1] + p[1], acc[2] + p[2], acc[3] + 1.0];
                    } else {
                        non_finite += 1;
                    }
                }
            }
        }
        for acc in &sum {
            let n = acc[3];
            for v in &acc[..3] {
                rgb.push(if n == 0.0 { 0 } else { to_u8(v / n) });
            }
        }
    }
    (rgb, non_finite)
}

/// Bilinear sampling straight from a host image's buffer (any depth and
/// layout), clamped to its edge, for the few hundred thousand taps of a face
/// crop: no float copy of the image. A tap's non-finite values are left out
/// and the rest re-weighted (all four non-finite: 0), so a NaN in the plate
/// never becomes a NaN in a crop.
pub struct ImageSampler<'a> {
    img: &'a Image,
    layout: ImageLayout,
}

impl<'a> ImageSampler<'a> {
    pub fn new(img: &'a Image) -> ImageSampler<'a> {
        ImageSampler { img, layout: img.layout() }
    }

    /// The pixel at (x, y) clamped to the bounds (transparent black for a row
    /// the host did not give).
    #[inline]
    fn pixel(&self, x: i32, y: i32) -> [f32; 4] {
        let b = self.layout.bounds;
        if b.x2 <= b.x1 || b.y2 <= b.y1 {
            return [0.0; 4];
        }
        let (x, y) = (x.clamp(b.x1, b.x2 - 1), y.clamp(b.y1, b.y2 - 1));
        let pb = self.layout.pixel_bytes();
        let mut px = [[0.0f32; 4]; 1];
        if let Some(row) = self.img.row(y) {
            let o = (x - b.x1) as usize * pb;
            pixels::row_to_rgba(&row[o..o + pb], &self.layout, &mut px);
        }
        px[0]
    }

    /// Bilinear sample at continuous pixel coordinates (centres at +0.5); the
    /// same arithmetic as [`Plane::sample`] when the four taps are finite.
    pub fn sample(&self, x: f64, y: f64) -> [f32; 4] {
        let (mut out, [p00, p10, p01, p11], [tx, ty]) = bilinear(x, y, |px, py| self.pixel(px, py));
        for c in 0..4 {
            if !out[c].is_finite() {
                out[c] = finite_mean([(p00[c], (1.0 - tx) * (1.0 - ty)), (p10[c], tx * (1.0 - ty)), (p01[c], (1.0 - tx) * ty), (p11[c], tx * ty)]);
            }
        }
        out
    }
}

/// The weighted mean of the finite values among `taps` (0 when none is; the
/// plain mean of the finite ones when their weights are all zero).
pub(crate) fn finite_mean(taps: [(f32, f32); 4]) -> f32 {
    let (mut s, mut w, mut plain, mut n) = (0.0f32, 0.0f32, 0.0f32, 0u32);
    for (v, wt) in taps {
        if v.is_finite() {
            s += v * wt;
            w += wt;
            plain += v;
            n += 1;
        }
    }
    if w > 0.0 {
        s / w
    } else if n > 0 {
        plain / n as f32
    } else {
        0.0
    }
}
