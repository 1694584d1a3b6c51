//! Stage 3, with the generator (`generate.rs`), the paste-back matte: the feathered hull of the source and target
//! landmarks, on the crop's grid, times the generator's "changed" mask
//! ([`CropMatte`]), and optionally the portrait segmentation (cached by image
//! content). [`Tap`] is the bilinear tap on a crop grid that the matte and
//! the paste share.

use std::sync::Arc;

use ofx::plugin::Image;
use ofx::Result;

use super::analysis::{AnalysisView, ViewMatte};
use super::plane::PixelMap;
use super::source::PreparedSource;
use super::{fail, Renderer};
use crate::face::FaceAnalyzer;
use crate::packs::generator::Tap;

/// Side of the grid the paste-back hull matte is computed on (it is smooth:
/// bilinear sampling of a coarse grid is indistinguishable from the exact one
/// and 16× cheaper than working resolution).
pub const HULL_RES: usize = 128;

/// The paste-back matte in crop space, on the S×S grid of the generator's
/// output: the feathered hull (computed on a coarse grid) times the
/// generator's "changed" mask, made once per frame so that a pixel costs one
/// bilinear tap.
pub struct CropMatte {
    pub(super) alpha: Vec<f32>,
    pub(super) size: usize,
    /// Normalised bounding box of the matte's non-zero part: [x1, y1, x2, y2].
    pub bbox: [f64; 4],
}

/// The cell of an S-grid holding a normalised coordinate (clamped to the grid).
pub(super) fn cell_of(c: f64, size: usize) -> usize {
    (((c + 1.0) * size as f64 / 2.0).floor().max(0.0) as usize).min(size)
}

/// The feathered hull matte resampled onto the crop's S×S grid (inside the
/// hull's box; 0 elsewhere). It depends only on the landmarks, so it is made
/// while the generator runs.
pub(super) struct HullCells {
    pub(super) values: Vec<f32>,
    pub(super) size: usize,
    pub(super) bbox: [f64; 4],
}

impl HullCells {
    pub(super) fn new(hull: &[f32], size: usize) -> HullCells {
        let bbox = nonzero_box(hull, HULL_RES);
        let mut values = vec![0.0f32; size * size];
        if bbox[2] > bbox[0] {
            let (u0, u1) = (cell_of(bbox[0], size), (cell_of(bbox[2], size) + 1).min(size));
            let (v0, v1) = (cell_of(bbox[1], size), (cell_of(bbox[3], size) + 1).min(size));
            for v in v0..v1 {
                let ny = (2 * v + 1) as f64 / size as f64 - 1.0;
                for u in u0..u1 {
                    let nx = (2 * u + 1) as f64 / size as f64 - 1.0;
                    values[v * size + u] = Tap::at(HULL_RES, [nx, ny]).sample(hull);
                }
            }
        }
        HullCells { values, size, bbox }
    }
}

impl CropMatte {
    pub(super) fn new(hull: Vec<f32>, changed: Option<&[f32]>, size: usize) -> CropMatte {
        CropMatte::from_hull(HullCells::new(&hull, size), changed)
    }

    /// The matte from the hull on the crop's grid and the generator's mask.
    pub(super) fn from_hull(hull: HullCells, changed: Option<&[f32]>) -> CropMatte {
        let size = hull.size;
        let hb = hull.bbox;
        // The matte is the product: its support is the intersection of the
        // hull's and the changed mask's (often much smaller: only what moved).
        let b = match &changed {
            Some(c) => {
                let cb = nonzero_box(c, size);
                [hb[0].max(cb[0]), hb[1].max(cb[1]), hb[2].min(cb[2]), hb[3].min(cb[3])]
            }
            None => hb,
        };
        let b = if b[0] >= b[2] || b[1] >= b[3] { [0.0; 4] } else { b };
        let mut alpha = vec![0.0f32; size * size];
        if b[2] > b[0] {
            let (u0, u1) = (cell_of(b[0], size), (cell_of(b[2], size) + 1).min(size));
            let (v0, v1) = (cell_of(b[1], size), (cell_of(b[3], size) + 1).min(size));
            for v in v0..v1 {
                let r = v * size;
                let (a, h) = (&mut alpha[r + u0..r + u1], &hull.values[r + u0..r + u1]);
                match &changed {
                    Some(c) => {
                        for ((a, h), c) in a.iter_mut().zip(h).zip(&c[r + u0..r + u1]) {
                            *a = h * c.clamp(0.0, 1.0);
                        }
                    }
                    None => a.copy_from_slice(h),
                }
            }
        }
        CropMatte { alpha, size, bbox: b }
    }

    /// The tap for a point, or None outside the matte's box.
    #[inline]
    pub(super) fn tap(&self, n: [f64; 2]) -> Option<Tap> {
        if n[0] <= self.bbox[0] || n[0] >= self.bbox[2] || n[1] <= self.bbox[1] || n[1] >= self.bbox[3] {
            return None;
        }
        Some(Tap::at(self.size, n))
    }

    /// The matte at normalised crop coordinates.
    #[inline]
    pub fn at(&self, n: [f64; 2]) -> f32 {
        self.tap(n).map(|t| t.sample(&self.alpha)).unwrap_or(0.0)
    }
}

/// Normalised bounding box [x1, y1, x2, y2] of the non-zero cells of an
/// n×n grid, grown by two cells (bilinear sampling reaches one cell), clamped
/// to the crop; an empty box when all are zero.
pub(super) fn nonzero_box(grid: &[f32], n: usize) -> [f64; 4] {
    let (mut u0, mut v0, mut u1, mut v1) = (usize::MAX, usize::MAX, 0, 0);
    for v in 0..n {
        let row = &grid[v * n..(v + 1) * n];
        let Some(first) = row.iter().position(|a| *a > 0.0) else { continue };
        let last = row.iter().rposition(|a| *a > 0.0).unwrap_or(first);
        u0 = u0.min(first);
        u1 = u1.max(last);
        v0 = v0.min(v);
        v1 = v1.max(v);
    }
    if u0 == usize::MAX {
        return [0.0; 4];
    }
    let c = |i: usize| (2 * i) as f64 / n as f64 - 1.0;
    let m = 4.0 / n as f64;
    [(c(u0) - m).max(-1.0), (c(v0) - m).max(-1.0), (c(u1 + 1) + m).min(1.0), (c(v1 + 1) + m).min(1.0)]
}

impl Renderer {
    pub(super) fn segmentation(&self, base: &PreparedSource, image: &Image, scale: f64, analyzer: &FaceAnalyzer, abort: &dyn Fn() -> bool) -> Result<Arc<ViewMatte>> {
        if let Some(m) = self.mattes.lock().get(&base.key).cloned() {
            return Ok(m);
        }
        // The matte model sees 256×256: the bounded analysis image is plenty.
        let view = AnalysisView::of(image, PixelMap::of_image(image, scale)).map_err(|e| fail(e.to_string()))?;
        let m = analyzer.portrait_matte_abortable(&view.image, Some(abort)).map_err(|e| fail(e.to_string()))?;
        let matte = Arc::new(view.matte_plane(&m.alpha));
        self.mattes.lock().put(base.key, matte.clone());
        Ok(matte)
    }
}
