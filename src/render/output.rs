//! Stage 4 in the other output modes, and the copies: the exact copy of the portrait (whole, or a row
//! at a time while its content key is computed), the aligned-crop and matte
//! output modes, and the pass-through of a node that nothing drives yet. All
//! convert to the host's depth and components and write transparent black
//! where the source has no pixels.

use ofx::plugin::{EffectHandle, Image, ImageLayout, RectI};
use ofx::{Error, Result};

use super::analysis::ViewMatte;
use super::matte::CropMatte;
use super::plane::PixelMap;
use super::source::PreparedSource;
use crate::pixels;

/// Bilinear sample of a planar S×S image at normalised crop coordinates.
#[inline]
pub(super) fn sample_planar(img: &[f32], planes: usize, size: usize, n: [f64; 2], out: &mut [f32; 4]) {
    let fx = ((n[0] + 1.0) * size as f64 / 2.0 - 0.5).clamp(0.0, (size - 1) as f64);
    let fy = ((n[1] + 1.0) * size as f64 / 2.0 - 0.5).clamp(0.0, (size - 1) as f64);
    let x0 = fx.floor() as usize;
    let y0 = fy.floor() as usize;
    let x1 = (x0 + 1).min(size - 1);
    let y1 = (y0 + 1).min(size - 1);
    let tx = (fx - x0 as f64) as f32;
    let ty = (fy - y0 as f64) as f32;
    for c in 0..planes {
        let p = &img[c * size * size..(c + 1) * size * size];
        let a = p[y0 * size + x0] + (p[y0 * size + x1] - p[y0 * size + x0]) * tx;
        let b = p[y1 * size + x0] + (p[y1 * size + x1] - p[y1 * size + x0]) * tx;
        out[c] = a + (b - a) * ty;
    }
}

/// Copy the render window of `src` into `out` exactly (transparent black
/// where the source has no pixels).
pub(super) fn copy_window(out: &mut Image, src: &Image, window: RectI) {
    let mut copy = WindowCopy::new(out, Some(src.layout()), window);
    for y in window.y1..window.y2 {
        copy.row(y, src.row(y));
    }
    copy.finish();
}

/// The one copy of a source into the output's render window, a row at a
/// time, rows in any order (a pass that reads the source for another reason,
/// its content key, copies as it goes), converting depth and components;
/// transparent black wherever the source has no pixels.
pub(super) struct WindowCopy<'a> {
    /// The window's output rows, each with whether it has been written.
    rows: Vec<(i32, &'a mut [u8], bool)>,
    dl: ImageLayout,
    /// The source's layout (None: there is no source).
    sl: Option<ImageLayout>,
    win: RectI,
    zeros: Vec<[f32; 4]>,
    scratch: Vec<[f32; 4]>,
}

impl<'a> WindowCopy<'a> {
    pub(super) fn new(out: &'a mut Image, sl: Option<ImageLayout>, window: RectI) -> WindowCopy<'a> {
        let dl = out.layout();
        let win = window.intersect(&dl.bounds);
        let mut rows: Vec<_> = out.rows_mut().into_iter().filter(|(y, _)| *y >= win.y1 && *y < win.y2).map(|(y, r)| (y, r, false)).collect();
        rows.sort_by_key(|r| r.0);
        WindowCopy { rows, dl, sl, win, zeros: vec![[0.0f32; 4]; win.width()], scratch: Vec::new() }
    }

    /// Copy source row `y` (None: the source has no such row) into the window.
    pub(super) fn row(&mut self, y: i32, src: Option<&[u8]>) {
        let (dl, win) = (&self.dl, self.win);
        if win.is_empty() || y < win.y1 || y >= win.y2 {
            return;
        }
        let Ok(i) = self.rows.binary_search_by_key(&y, |r| r.0) else { return };
        let (_, row, done) = &mut self.rows[i];
        let dpb = dl.pixel_bytes();
        let dst = &mut row[(win.x1 - dl.bounds.x1) as usize * dpb..(win.x2 - dl.bounds.x1) as usize * dpb];
        let source = src.zip(self.sl);
        let span = match source {
            Some((_, sl)) => win.intersect(&RectI { x1: sl.bounds.x1, y1: y, x2: sl.bounds.x2, y2: y + 1 }),
            None => RectI::default(),
        };
        if span.width() != win.width() {
            pixels::rgba_to_row(&self.zeros, dl, dst);
        }
        if let (Some((sr, sl)), false) = (source, span.is_empty()) {
            let so = (span.x1 - sl.bounds.x1) as usize * sl.pixel_bytes();
            let dofs = (span.x1 - win.x1) as usize * dpb;
            pixels::convert_row(&sr[so..], &sl, &mut dst[dofs..], dl, &mut self.scratch, span.width());
        }
        *done = true;
    }

    /// Rows no source row reached: transparent black.
    pub(super) fn finish(mut self) {
        let missing: Vec<i32> = self.rows.iter().filter(|r| !r.2).map(|r| r.0).collect();
        for y in missing {
            self.row(y, None);
        }
    }
}

/// Aligned-crop output: the generator's crop, over a region of definition of
/// S×S canonical pixels at the origin.
pub(super) fn write_crop(out: &mut Image, window: RectI, map: PixelMap, size: usize, gen: Option<&[f32]>) {
    let (side_x, side_y) = (size as f64 * map.sx, size as f64 * map.sy);
    write_window(out, window, |x, y| {
        let n = [2.0 * (x as f64 + 0.5) / side_x - 1.0, 1.0 - 2.0 * (y as f64 + 0.5) / side_y];
        let mut v = [0.0f32; 4];
        if n[0].abs() < 1.0 && n[1].abs() < 1.0 {
            if let Some(g) = gen {
                sample_planar(g, 3, size, n, &mut v);
            }
            v[3] = 1.0;
        }
        v
    });
}

/// Matte output: the paste-back matte (hull × segmentation), grey in RGB and A.
pub(super) fn write_matte(out: &mut Image, window: RectI, base: &PreparedSource, map: PixelMap, matte: &CropMatte, seg: Option<&ViewMatte>) {
    write_window(out, window, |x, y| {
        let n = base.crop.to_normalised([(x as f64 + 0.5) / map.sx, (y as f64 + 0.5) / map.sy]);
        let mut m = matte.at(n);
        if m > 0.0 {
            if let Some(seg) = seg {
                m *= seg.sample(x as f64 + 0.5, y as f64 + 0.5)[0];
            }
        }
        [m, m, m, m]
    });
}

/// Every pixel of the render window set to `pixel(x, y)` (RGBA float,
/// converted to the output's depth and components a row at a time).
fn write_window(out: &mut Image, window: RectI, mut pixel: impl FnMut(i32, i32) -> [f32; 4]) {
    let dl = out.layout();
    let win = window.intersect(&dl.bounds);
    let mut row_px = vec![[0.0f32; 4]; win.width()];
    let dpb = dl.pixel_bytes();
    for (y, row) in out.rows_mut() {
        if y < win.y1 || y >= win.y2 {
            continue;
        }
        for (i, p) in row_px.iter_mut().enumerate() {
            *p = pixel(win.x1 + i as i32, y);
        }
        let dst = &mut row[(win.x1 - dl.bounds.x1) as usize * dpb..(win.x2 - dl.bounds.x1) as usize * dpb];
        pixels::rgba_to_row(&row_px, &dl, dst);
    }
}

/// The pass-through of a node nothing drives: the render window of `src`
/// copied into `out` ([`WindowCopy`]), stopping when the host aborts.
pub(super) fn pass_through(src: Option<&Image>, out: &mut Image, window: RectI, effect: &EffectHandle) -> Result<()> {
    let mut copy = WindowCopy::new(out, src.map(|s| s.layout()), window);
    let win = copy.win;
    for y in win.y1..win.y2 {
        if (y - win.y1) % 64 == 0 && effect.aborted() {
            return Err(Error::Aborted);
        }
        copy.row(y, src.and_then(|s| s.row(y)));
    }
    copy.finish();
    Ok(())
}
