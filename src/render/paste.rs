//! Stage 4 in Full output, the paste: the generated face blended into the full frame through
//! the matte, over an exact copy of the portrait, rows shared out among the
//! host's threads. A generator's resampling ([`Resampling`]) is evaluated on
//! the reference's full-resolution pixels (a cached [`Region`]), so the face
//! is resampled once; where the reference is the portrait itself the matte
//! fades sample positions, not colours.

use std::sync::Arc;

use ofx::plugin::{Image, RectI};
use ofx::Result;
use parking_lot::Mutex;

use super::analysis::ViewMatte;
use super::geometry::FaceCrop;
use super::matte::{cell_of, CropMatte};
use super::plane::{PixelMap, Region};
use super::source::PreparedSource;
use super::generate::Generated;
use crate::packs::generator::{CropPixels, Tap};
use super::output::copy_window;
use super::source::References;
use super::{fail, Frame, Renderer};
use crate::pixels;

/// Run `f(row index, row)` for rows `rows` of an image of rows `width` long
/// stored in `data`, on two of the host's threads (in turn when the host
/// offers none): blocks of 16 rows go to whichever thread is free, so a
/// thread that starts late does less.
pub(super) fn par_rows<T: Send>(data: &mut [T], width: usize, rows: std::ops::Range<usize>, f: impl Fn(usize, &mut [T]) + Sync) {
    const BLOCK: usize = 16;
    let (start, end) = (rows.start.min(rows.end), rows.end);
    let Some(part) = data.get_mut(start * width..end * width) else { return };
    if width == 0 || part.is_empty() {
        return;
    }
    let blocks: Vec<(usize, Mutex<&mut [T]>)> =
        part.chunks_mut(width * BLOCK).enumerate().map(|(b, rows)| (start + b * BLOCK, Mutex::new(rows))).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = |_: u32, _: u32| {
        while let Some((first, rows)) = blocks.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            for (k, row) in rows.lock().chunks_mut(width).enumerate() {
                f(first + k, row);
            }
        }
        Ok(())
    };
    if ofx::plugin::run_threads(2, work).is_err() {
        // Whatever the host did not run: the blocks not yet taken.
        let _ = work(0, 1);
    }
}
/// Output rows (y, bytes) handed to one thread.
pub(super) type RowChunk<'a> = Mutex<Vec<(i32, &'a mut [u8])>>;

/// Where a pixel lies, for [`Resampling::blend`]: its normalised crop
/// position `n`, the crop steps of one pixel `step` (along x, along y), and
/// its centre `own` in the image.
#[derive(Clone, Copy)]
pub(super) struct PixelAt {
    pub(super) n: [f64; 2],
    pub(super) step: [[f64; 2]; 2],
    pub(super) own: [f32; 2],
}

/// What [`paste`] blends into the output: the generated face at crop size
/// `size`, through `matte` (times the segmentation `seg` where it is used),
/// placed by the base still's crop; `map` is the base image's pixel map.
#[derive(Clone, Copy)]
pub(super) struct PasteFace<'a> {
    pub(super) base: &'a PreparedSource,
    pub(super) map: PixelMap,
    pub(super) size: usize,
    pub(super) face: &'a Face<'a>,
    pub(super) matte: &'a CropMatte,
    pub(super) seg: Option<&'a ViewMatte>,
}

/// The generated face as the paste-back reads it.
pub(super) enum Face<'a> {
    /// A planar RGB crop.
    Rgb(&'a [f32]),
    /// A resampling grid and overlay, evaluated on a reference's host image.
    Resample(Resampling<'a>),
}

/// A generator's resampling of a reference still, evaluated at full resolution.
pub(super) struct Resampling<'a> {
    /// Per crop cell, interleaved for one tap: the paste matte, the pixel
    /// position (x, y) in the reference image of the cell's point A, and the
    /// weight of everything else (painted colour and point B).
    pub(super) cells: Vec<[f32; 4]>,
    /// The generator's grids (point B is read from them where it is used)
    /// and overlay, planar S×S.
    pub(super) grid: &'a [f32],
    pub(super) overlay: &'a [f32],
    /// Reference crop's normalised coordinates → its image's pixel coordinates.
    pub(super) to_pixels: [f64; 6],
    pub(super) region: Arc<Region>,
    /// The reference is the base still: the matte then blends positions, not
    /// colours (a warp faded out geometrically shows no double edges).
    pub(super) geometric: bool,
    /// Sub-samples per side where the overlay shows (1: none): where the crop
    /// is finer than the image, its sharp lid and lip edges would alias.
    pub(super) supersample: usize,
}

impl Resampling<'_> {
    /// The cells of a generator's grids and overlay under a paste matte;
    /// `to_pixels` maps the reference crop's normalised coordinates to its
    /// image's pixel coordinates.
    pub(super) fn cells(size: usize, matte: &CropMatte, grid: &[f32], overlay: &[f32], to_pixels: [f64; 6]) -> Vec<[f32; 4]> {
        let plane = size * size;
        let a = to_pixels;
        let to_px = |gx: f32, gy: f32| {
            let (gx, gy) = (gx as f64, gy as f64);
            [(a[0] * gx + a[1] * gy + a[2]) as f32, (a[3] * gx + a[4] * gy + a[5]) as f32]
        };
        let mut cells = vec![[0.0f32; 4]; plane];
        // Outside the matte's box no pixel is pasted: those cells stay 0.
        let (u0, u1) = (cell_of(matte.bbox[0], size).saturating_sub(1), (cell_of(matte.bbox[2], size) + 2).min(size));
        let (v0, v1) = (cell_of(matte.bbox[1], size).saturating_sub(1), (cell_of(matte.bbox[3], size) + 2).min(size));
        par_rows(&mut cells, size, v0..v1, |v, row| {
            for (u, c) in row.iter_mut().enumerate().take(u1).skip(u0) {
                let i = v * size + u;
                let pa = to_px(grid[i], grid[plane + i]);
                let rest = overlay[3 * plane + i] + overlay[4 * plane + i];
                *c = [matte.alpha[i], pa[0], pa[1], rest];
            }
        });
        cells
    }

    /// One row of the paste (no segmentation matte): pixel `i` of `row` is
    /// image pixel (`origin[0]` + i, `origin[1]`), at normalised crop position
    /// `n + i·step`. The common pixel (one sample at point A) is done here
    /// with the crop position stepped in crop pixels; the others go to
    /// [`Resampling::blend`].
    pub(super) fn paste_row(&self, matte: &CropMatte, n: [f64; 2], steps: [[f64; 2]; 2], origin: [i32; 2], row: &mut [[f32; 4]], spots: &mut Vec<[f32; 4]>) {
        let step = steps[0];
        let size = matte.size;
        let half = size as f64 * 0.5;
        let max = (size - 1) as f32;
        // Crop pixel coordinates (centres at integers) of pixel 0 and the step.
        let (c0, cd) = ([(n[0] + 1.0) * half - 0.5, (n[1] + 1.0) * half - 0.5], [step[0] * half, step[1] * half]);
        // Pixels strictly inside the matte's box: a run of the row.
        let (lo, hi) = inside_run(n, step, matte.bbox, row.len());
        let oy = origin[1] as f32 + 0.5;
        let cells = &self.cells[..];
        // In f32: at most ~1e-4 crop pixels off for crops up to 1024 and rows up to 8192 pixels.
        let (c0f, cdf) = ([c0[0] as f32, c0[1] as f32], [cd[0] as f32, cd[1] as f32]);
        // Three passes, each a short chain of dependent loads: the cells' tap
        // for every pixel (into `spots`), the faded sample points, then the
        // samples of the image.
        spots.clear();
        for i in lo..hi {
            let fi = i as f32;
            let fx = (c0f[0] + cdf[0] * fi).clamp(0.0, max);
            let fy = (c0f[1] + cdf[1] * fi).clamp(0.0, max);
            // The cell's top-left corner is never on the last row or column
            // (a weight of 1 reaches it from the one before), so both
            // neighbours always exist.
            let (x0, y0) = ((fx as usize).min(size - 2), (fy as usize).min(size - 2));
            let tap = Tap { i: y0 * size + x0, dx: 1, dy: size, tx: fx - x0 as f32, ty: fy - y0 as f32 };
            let c = tap.sample4(cells);
            spots.push(c);
        }
        let geometric = self.geometric;
        for (k, c) in spots.iter_mut().enumerate() {
            // Point A faded by the matte (the pixel's own position where the matte is 0).
            let (ox, m) = ((origin[0] + (lo + k) as i32) as f32 + 0.5, c[0]);
            if geometric && c[3] <= 0.0 {
                c[1] = ox + (c[1] - ox) * m;
                c[2] = oy + (c[2] - oy) * m;
            }
        }
        for (k, c) in spots.iter().enumerate() {
            let i = lo + k;
            let m = c[0];
            if m <= 0.0 {
                continue;
            }
            let p = &mut row[i];
            if c[3] <= 0.0 && self.geometric {
                let s = self.region.sample(c[1], c[2]);
                p[..3].copy_from_slice(&s);
            } else {
                let ox = (origin[0] + i as i32) as f32 + 0.5;
                let nn = [n[0] + step[0] * i as f64, n[1] + step[1] * i as f64];
                self.blend_call(size, *c, PixelAt { n: nn, step: steps, own: [ox, oy] }, m, p);
            }
        }
    }

    /// [`Resampling::blend`] out of line: the rare pixels of [`Resampling::paste_row`]
    /// (lid and lip edges, the cavity) stay out of its tight loop.
    #[inline(never)]
    pub(super) fn blend_call(&self, size: usize, c: [f32; 4], at: PixelAt, m: f32, p: &mut [f32; 4]) {
        self.blend(size, c, at, m, p)
    }

    /// Blend the face into pixel `p` at normalised crop position `n` (one
    /// pixel step `step` = (along x, along y)); `c` is the tap of the cells
    /// there, `m` the matte (with the segmentation) and `own` the pixel's
    /// position in the image.
    #[inline]
    pub(super) fn blend(&self, size: usize, c: [f32; 4], at: PixelAt, m: f32, p: &mut [f32; 4]) {
        let PixelAt { n, step, own } = at;
        // Where the matte fades a warp of the portrait itself, the positions
        // fade (a bend), not the colours (a double contour).
        let fade = |q: [f32; 2]| {
            if self.geometric {
                [own[0] + (q[0] - own[0]) * m, own[1] + (q[1] - own[1]) * m]
            } else {
                q
            }
        };
        if c[3] <= 0.0 {
            // The common case: one sample at point A. (The weights are never
            // negative, so 0 means none at any of the tap's cells.)
            let pa = fade([c[1], c[2]]);
            let s = self.region.sample(pa[0], pa[1]);
            if self.geometric {
                p[..3].copy_from_slice(&s);
            } else {
                for k in 0..3 {
                    p[k] += (s[k] - p[k]) * m;
                }
            }
            return;
        }
        let plane = size * size;
        let tap = Tap::at(size, n);
        let ov_at = |t: &Tap| [0, 1, 2, 3, 4].map(|k| t.sample(&self.overlay[k * plane..(k + 1) * plane]));
        // [r, g, b, painted coverage, weight of B]. The weights have sharp
        // edges in crop pixels (lid and lip lines, the cavity): where the crop
        // is finer than the image they are averaged over the pixel's footprint;
        // the image itself is sampled once per point, unblurred.
        let ov = if self.supersample < 2 {
            ov_at(&tap)
        } else {
            let k = self.supersample;
            let mut sum = [0.0f32; 5];
            for j in 0..k {
                let v = (j as f64 + 0.5) / k as f64 - 0.5;
                for i in 0..k {
                    let u = (i as f64 + 0.5) / k as f64 - 0.5;
                    let ns = [n[0] + step[0][0] * u + step[1][0] * v, n[1] + step[0][1] * u + step[1][1] * v];
                    let o = ov_at(&Tap::at(size, ns));
                    for q in 0..5 {
                        sum[q] += o[q];
                    }
                }
            }
            sum.map(|v| v / (k * k) as f32)
        };
        let pb = {
            let (gx, gy) = (tap.sample(&self.grid[2 * plane..3 * plane]) as f64, tap.sample(&self.grid[3 * plane..4 * plane]) as f64);
            let a = &self.to_pixels;
            [(a[0] * gx + a[1] * gy + a[2]) as f32, (a[3] * gx + a[4] * gy + a[5]) as f32]
        };
        let (mut a, mut b, mut tint) = (ov[3], ov[4], 1.0);
        if self.geometric {
            a *= m;
            b *= m;
            tint = m;
        }
        let w_a = (1.0 - a - b).max(0.0);
        let sa = if w_a > 0.0 {
            let q = fade([c[1], c[2]]);
            self.region.sample(q[0], q[1])
        } else {
            [0.0; 3]
        };
        let sb = if b > 0.0 {
            let q = fade(pb);
            self.region.sample(q[0], q[1])
        } else {
            [0.0; 3]
        };
        for k in 0..3 {
            let colour = w_a * sa[k] + b * sb[k] + tint * ov[k];
            if self.geometric {
                p[k] = colour;
            } else {
                p[k] += (colour - p[k]) * m;
            }
        }
    }
}

/// The run `[lo, hi)` of `i < len` for which `n + i·step` lies strictly inside
/// the box `b` ([x1, y1, x2, y2]): points of a line inside a box are one run.
pub(super) fn inside_run(n: [f64; 2], step: [f64; 2], b: [f64; 4], len: usize) -> (usize, usize) {
    let at = |i: usize, k: usize| n[k] + step[k] * i as f64;
    let inside = |i: usize| (0..2).all(|k| at(i, k) > b[k] && at(i, k) < b[k + 2]);
    let (mut lo, mut hi) = (0.0f64, len as f64);
    for k in 0..2 {
        if step[k] == 0.0 {
            if !(n[k] > b[k] && n[k] < b[k + 2]) {
                return (0, 0);
            }
            continue;
        }
        let (t1, t2) = ((b[k] - n[k]) / step[k], (b[k + 2] - n[k]) / step[k]);
        lo = lo.max(t1.min(t2).floor());
        hi = hi.min(t1.max(t2).ceil() + 1.0);
    }
    if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
        return (0, 0);
    }
    // Rounding at the ends: settle them with the exact test.
    let (mut lo, mut hi) = (lo.max(0.0) as usize, (hi.max(0.0) as usize).min(len));
    while lo < hi && !inside(lo) {
        lo += 1;
    }
    while hi > lo && !inside(hi - 1) {
        hi -= 1;
    }
    (lo, hi)
}

/// The affine map from a crop's normalised coordinates to an image's pixel
/// coordinates (centres at +0.5): `[a, b, c, d, e, f]` with x = a·u + b·v + c,
/// y = d·u + e·v + f.
pub(super) fn crop_to_pixels(crop: &FaceCrop, map: PixelMap) -> [f64; 6] {
    let o = crop.to_canonical([0.0, 0.0]);
    let u = crop.to_canonical([1.0, 0.0]);
    let v = crop.to_canonical([0.0, 1.0]);
    [
        (u[0] - o[0]) * map.sx,
        (v[0] - o[0]) * map.sx,
        o[0] * map.sx,
        (u[1] - o[1]) * map.sy,
        (v[1] - o[1]) * map.sy,
        o[1] * map.sy,
    ]
}

/// The pixels the matte can touch: its bounding box mapped to the base
/// image's pixels, grown by a pixel.
fn matte_pixels(base: &PreparedSource, map: PixelMap, matte: &CropMatte) -> RectI {
    let corners = [[matte.bbox[0], matte.bbox[1]], [matte.bbox[2], matte.bbox[1]], [matte.bbox[2], matte.bbox[3]], [matte.bbox[0], matte.bbox[3]]]
        .map(|n| base.crop.to_canonical(n));
    RectI {
        x1: (corners.iter().map(|c| c[0]).fold(f64::MAX, f64::min) * map.sx).floor() as i32 - 1,
        y1: (corners.iter().map(|c| c[1]).fold(f64::MAX, f64::min) * map.sy).floor() as i32 - 1,
        x2: (corners.iter().map(|c| c[0]).fold(f64::MIN, f64::max) * map.sx).ceil() as i32 + 1,
        y2: (corners.iter().map(|c| c[1]).fold(f64::MIN, f64::max) * map.sy).ceil() as i32 + 1,
    }
}

/// Output rows in blocks of 8, taken in turn by whichever thread is free: a
/// thread the host starts late (a sleeping CPU takes milliseconds to wake on
/// a VM) leaves its share to the other instead of finishing last.
fn row_blocks<'a>(rows: impl Iterator<Item = (i32, &'a mut [u8])>) -> Vec<RowChunk<'a>> {
    let mut chunks: Vec<RowChunk<'a>> = Vec::new();
    for (i, r) in rows.enumerate() {
        if i % 8 == 0 {
            chunks.push(Mutex::new(Vec::with_capacity(8)));
        }
        if let Some(c) = chunks.last_mut() {
            c.get_mut().push(r);
        }
    }
    chunks
}

/// Full-frame output, over an exact copy of the base image ([`copy_window`]):
/// the generated face blended in where the matte is above zero; every other
/// pixel keeps the source's bytes. Face rows are shared out among the host's
/// threads.
pub(super) fn paste(out: &mut Image, src: &Image, window: RectI, what: &PasteFace<'_>) -> Result<()> {
    let PasteFace { base, map, size, face: face_px, matte, seg } = *what;
    let dl = out.layout();
    let sl = src.layout();
    let win = window.intersect(&dl.bounds);
    if win.is_empty() {
        return Ok(());
    }
    let face = matte_pixels(base, map, matte).intersect(&win);
    let dpb = dl.pixel_bytes();
    let spb = sl.pixel_bytes();
    // Normalised coordinates are affine in pixel coordinates: step them.
    let n0 = base.crop.to_normalised([0.5 / map.sx, 0.5 / map.sy]);
    let nx = base.crop.to_normalised([1.5 / map.sx, 0.5 / map.sy]);
    let ny = base.crop.to_normalised([0.5 / map.sx, 1.5 / map.sy]);
    let (dx, dy) = ([nx[0] - n0[0], nx[1] - n0[1]], [ny[0] - n0[0], ny[1] - n0[1]]);
    if face.is_empty() {
        return Ok(());
    }
    let chunks = row_blocks(out.rows_mut().into_iter().filter(|(y, _)| *y >= face.y1 && *y < face.y2));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = |_index: u32, _count: u32| -> Result<()> {
        let mut row_px = vec![[0.0f32; 4]; face.width()];
        let mut spots = Vec::with_capacity(face.width());
        while let Some(chunk) = chunks.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            let mut chunk = chunk.lock();
            for (y, row) in chunk.iter_mut() {
                let y = *y;
                let dst = &mut row[(win.x1 - dl.bounds.x1) as usize * dpb..(win.x2 - dl.bounds.x1) as usize * dpb];
                let srow = src.row(y);
                // The face's span of the row, in float RGBA, blended, written back.
                for p in row_px.iter_mut() {
                    *p = [0.0; 4];
                }
                let fspan = face.intersect(&RectI { x1: sl.bounds.x1, y1: y, x2: sl.bounds.x2, y2: y + 1 });
                if let (Some(sr), false) = (srow, fspan.is_empty()) {
                    let so = (fspan.x1 - sl.bounds.x1) as usize * spb;
                    let o = (fspan.x1 - face.x1) as usize;
                    pixels::row_to_rgba(&sr[so..], &sl, &mut row_px[o..o + fspan.width()]);
                }
                let fy = y as f64;
                let fx = face.x1 as f64;
                let mut n = [n0[0] + dx[0] * fx + dy[0] * fy, n0[1] + dx[1] * fx + dy[1] * fy];
                if let (Face::Resample(r), None) = (face_px, seg) {
                    r.paste_row(matte, n, [dx, dy], [face.x1, y], &mut row_px, &mut spots);
                    let dofs = (face.x1 - win.x1) as usize * dpb;
                    pixels::rgba_to_row(&row_px, &dl, &mut dst[dofs..dofs + face.width() * dpb]);
                    continue;
                }
                for (i, p) in row_px.iter_mut().enumerate() {
                    if let Some(tap) = matte.tap(n) {
                        let x = face.x1 + i as i32;
                        // The matte, times the segmentation where it is used.
                        let with_seg = |m: f32| match seg {
                            Some(seg) if m > 0.0 => m * seg.sample(x as f64 + 0.5, y as f64 + 0.5)[0],
                            _ => m,
                        };
                        match face_px {
                            Face::Resample(r) => {
                                let c = tap.sample4(&r.cells);
                                let m = with_seg(c[0]);
                                if m > 0.0 {
                                    r.blend(size, c, PixelAt { n, step: [dx, dy], own: [x as f32 + 0.5, y as f32 + 0.5] }, m, p);
                                }
                            }
                            Face::Rgb(rgb) => {
                                let m = with_seg(tap.sample(&matte.alpha));
                                if m > 0.0 {
                                    let plane = size * size;
                                    for k in 0..3 {
                                        p[k] += (tap.sample(&rgb[k * plane..(k + 1) * plane]) - p[k]) * m;
                                    }
                                }
                            }
                        }
                    }
                    n[0] += dx[0];
                    n[1] += dx[1];
                }
                let dofs = (face.x1 - win.x1) as usize * dpb;
                pixels::rgba_to_row(&row_px, &dl, &mut dst[dofs..dofs + face.width() * dpb]);
            }
        }
        Ok(())
    };
    ofx::plugin::run_threads(2.min(chunks.len()).max(1) as u32, work)
}

impl Renderer {
    /// Full output: the generated face pasted over the exact copy of the
    /// base still (made here unless the generator stage made it).
    pub(super) fn paste_full(&self, frame: &Frame<'_>, size: usize, refs: &References, generated: &Generated, seg: Option<&ViewMatte>, out: &mut Image) -> Result<()> {
        let (scale, base, base_image) = (frame.scale, &refs.prepared[0], &refs.base_image);
        let g = generated.crop.as_ref().ok_or_else(|| fail("the full output needs a generated face"))?;
        // A resampling is evaluated on the chosen reference's own image (the base's, or fetched).
        let other_image = match (&g.pixels, g.reference) {
            (CropPixels::Resample { .. }, r) if r > 0 => {
                let t = *refs.at.get(r).ok_or_else(|| fail("the generator named an unknown reference"))?;
                Some(refs.clip.image(t, None)?.ok_or_else(|| fail(format!("the Source clip has no image at frame {t}")))?)
            }
            _ => None,
        };
        let face = match &g.pixels {
            CropPixels::Rgb(rgb) => Face::Rgb(rgb),
            CropPixels::Resample { grid, overlay } => {
                let image = other_image.as_ref().unwrap_or(base_image);
                let r = refs.prepared.get(g.reference).unwrap_or(base);
                let to_pixels = crop_to_pixels(&r.crop, PixelMap::of_image(image, scale));
                // Crop pixels per image pixel, along the crop's x axis.
                let fine = size as f64 / 2.0 / to_pixels[0].hypot(to_pixels[3]).max(1e-9);
                let cells = Resampling::cells(size, &generated.matte, grid, overlay, to_pixels);
                Face::Resample(Resampling {
                    cells,
                    grid,
                    overlay,
                    to_pixels,
                    region: self.region(r, image, scale),
                    geometric: other_image.is_none(),
                    // A crop within a quarter of the image's resolution
                    // (its soft edges about a pixel wide) needs none.
                    supersample: ((fine - 0.25).ceil() as usize).clamp(1, 4),
                })
            }
        };
        if !generated.copied {
            copy_window(out, base_image, frame.window);
        }
        let base_map = PixelMap::of_image(base_image, scale);
        let what = PasteFace { base, map: base_map, size, face: &face, matte: &generated.matte, seg };
        paste(out, base_image, frame.window, &what)
    }

    /// The part of a reference's image under its face crop (plus a pixel),
    /// as float RGB: what a generator's resampling reads.
    pub(super) fn region(&self, r: &PreparedSource, image: &Image, scale: f64) -> Arc<Region> {
        let map = PixelMap::of_image(image, scale);
        let b = r.crop.bounds();
        let rect = RectI {
            x1: (b[0] * map.sx).floor() as i32 - 2,
            y1: (b[1] * map.sy).floor() as i32 - 2,
            x2: (b[2] * map.sx).ceil() as i32 + 2,
            y2: (b[3] * map.sy).ceil() as i32 + 2,
        }
        .intersect(&image.bounds());
        let key = (r.key, [rect.x1, rect.y1, rect.x2, rect.y2]);
        if let Some(region) = self.regions.lock().get(&key).cloned() {
            return region;
        }
        let region = Arc::new(Region::from_image(image, rect));
        self.regions.lock().put(key, region.clone());
        region
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore]
    fn paste_row_speed() {
        let size = 512;
        let plane = size * size;
        let mut grid = vec![0.0f32; 4 * plane];
        for v in 0..size {
            for u in 0..size {
                let (x, y) = ((2 * u + 1) as f32 / size as f32 - 1.0, (2 * v + 1) as f32 / size as f32 - 1.0);
                let i = v * size + u;
                grid[i] = x + 0.01 * (3.0 * y).sin();
                grid[plane + i] = y + 0.01 * (2.0 * x).cos();
                grid[2 * plane + i] = grid[i];
                grid[3 * plane + i] = grid[plane + i];
            }
        }
        let overlay = vec![0.0f32; 5 * plane];
        // The crop covers image pixels 10..522 at a slight rotation.
        let (c, sn) = (0.09f64.cos(), 0.09f64.sin());
        let to_pixels = [256.0 * c, -256.0 * sn, 266.0, 256.0 * sn, 256.0 * c, 266.0];
        let matte = CropMatte { alpha: vec![1.0; plane], size, bbox: [-0.95, -0.95, 0.95, 0.95] };
        let data: Vec<f32> = (0..540 * 540 * 3).map(|i| (i % 97) as f32 / 97.0).collect();
        let region = Arc::new(Region::from_rgb([0, 0], 540, 540, data));
        let r = Resampling {
            cells: Resampling::cells(size, &matte, &grid, &overlay, to_pixels),
            grid: &grid,
            overlay: &overlay,
            to_pixels,
            region,
            geometric: true,
            supersample: 1,
        };
        // Image pixel → normalised crop: the inverse of to_pixels.
        let det = to_pixels[0] * to_pixels[4] - to_pixels[1] * to_pixels[3];
        let inv = |x: f64, y: f64| {
            let (dx, dy) = (x - to_pixels[2], y - to_pixels[5]);
            [(to_pixels[4] * dx - to_pixels[1] * dy) / det, (-to_pixels[3] * dx + to_pixels[0] * dy) / det]
        };
        let n0 = inv(0.5, 0.5);
        let sx = inv(1.5, 0.5);
        let sy = inv(0.5, 1.5);
        let steps = [[sx[0] - n0[0], sx[1] - n0[1]], [sy[0] - n0[0], sy[1] - n0[1]]];
        let mut row = vec![[0.5f32; 4]; 540];
        let mut spots = Vec::new();
        let mut best = f64::MAX;
        let mut checksum = 0.0f32;
        for _ in 0..30 {
            let t = std::time::Instant::now();
            for y in 0..540 {
                let n = [n0[0] + steps[1][0] * y as f64, n0[1] + steps[1][1] * y as f64];
                r.paste_row(&matte, n, steps, [0, y], &mut row, &mut spots);
                checksum += row[270][0];
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("paste_row: {:.2} ms for 540×540 pixels ({:.1} ns a pixel); checksum {checksum}", best * 1e3, best * 1e9 / (540.0 * 540.0));
    }

    #[test]
    fn inside_run_is_the_run_a_pixel_by_pixel_test_finds() {
        let b = [-0.4, -0.3, 0.5, 0.6];
        let inside = |n: [f64; 2], s: [f64; 2], i: usize| {
            let (x, y) = (n[0] + s[0] * i as f64, n[1] + s[1] * i as f64);
            x > b[0] && x < b[2] && y > b[1] && y < b[3]
        };
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        for case in 0..2000 {
            let n = [rnd() * 1.2, rnd() * 1.2];
            // Steps along and across the row, a few exactly axis-aligned.
            let mut s = [rnd() * 0.01, rnd() * 0.01];
            if case % 7 == 0 {
                s[1] = 0.0;
            }
            if case % 11 == 0 {
                s[0] = 0.0;
            }
            let len = 400;
            let want: Vec<usize> = (0..len).filter(|&i| inside(n, s, i)).collect();
            let (lo, hi) = inside_run(n, s, b, len);
            let got: Vec<usize> = (lo..hi).collect();
            assert_eq!(got, want, "case {case}: n {n:?} step {s:?}");
        }
    }

    #[test]
    fn row_halves_cover_every_row_once() {
        // Outside a host (no multithread suite) the halves run in turn.
        let (w, h) = (5, 9);
        let mut data = vec![0u32; w * h];
        par_rows(&mut data, w, 2..8, |y, row| {
            for (x, v) in row.iter_mut().enumerate() {
                *v += (y * 100 + x) as u32 + 1;
            }
        });
        for y in 0..h {
            for x in 0..w {
                let want = if (2..8).contains(&y) { (y * 100 + x) as u32 + 1 } else { 0 };
                assert_eq!(data[y * w + x], want, "({x}, {y})");
            }
        }
        let (from, to) = (7, 3);
        par_rows(&mut data, w, from..to, |_, _| panic!("an empty range runs nothing"));
    }
}
