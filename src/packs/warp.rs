//! The `warp` pack kind: one model that deforms the chosen reference crop from its landmarks to the target's and
//! returns the crop with a mask of what moved (the built-in pack in `<models>/warp` is one, built from ONNX ops by
//! `resources/models/warp/build_warp.py`). This is the render's `WarpGenerator` for any pack folder: the tensors
//! are the same, and a model fixed to one crop side (or a pack listing its `resolutions`) is fed a resized crop and
//! its results resized back, since landmarks in normalised coordinates do not depend on the side.

use std::borrow::Cow;
use std::sync::Arc;

use crate::inference::{DeviceReport, SessionPool, TensorInput};
use super::generator::{CropPixels, GenerateError, GeneratedCrop, Generator, IrisTarget, Planes, Reference, Target};

use super::manifest::{Bindings, Manifest};
use super::resample::resize_planar;

/// A `warp` pack's generator.
pub struct WarpPackGenerator {
    pool: Arc<SessionPool>,
    fixed_side: Option<usize>,
    sides: Option<Vec<usize>>,
    /// The model takes `source_points` / `target_points` (a version 2 manifest declares them).
    takes_points: bool,
    /// The model takes `source_iris` / `target_iris` (a version 2 manifest declares them).
    takes_iris: bool,
}

impl WarpPackGenerator {
    pub(super) fn new(manifest: &Manifest, bindings: Bindings, pool: Arc<SessionPool>) -> WarpPackGenerator {
        let takes_points = manifest
            .model("generator")
            .is_some_and(|m| m.inputs.iter().any(|t| t.name == "source_points"));
        let takes_iris =
            manifest.model("generator").is_some_and(|m| m.inputs.iter().any(|t| t.name == "source_iris"));
        WarpPackGenerator { pool, fixed_side: bindings.size, sides: manifest.sides().map(<[usize]>::to_vec), takes_points, takes_iris }
    }

    /// Whether the model takes iris centres (`Target::irises`); without them, a gaze is ignored.
    pub fn takes_iris(&self) -> bool {
        self.takes_iris
    }

    /// Whether the model takes extra control points (`Target::source_points`); without them, they are ignored.
    pub fn takes_points(&self) -> bool {
        self.takes_points
    }

    /// The crop side the model runs at for a working size.
    pub fn model_side(&self, size: usize) -> usize {
        super::model_side(self.fixed_side, self.sides.as_deref(), size)
    }

    /// Animates one crop: `source` is planar RGB `size`×`size` in [0, 1], landmarks and points are normalised
    /// crop coordinates. `points` (source and target, the same length) are fed when the model takes them
    /// (none: zero of them) and ignored otherwise.
    pub fn run(
        &self,
        size: usize,
        source: &[f32],
        source_landmarks: &[[f32; 2]; 68],
        target_landmarks: &[[f32; 2]; 68],
        points: (&[[f32; 2]], &[[f32; 2]]),
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<GeneratedCrop, GenerateError> {
        self.run_with_irises(size, source, source_landmarks, target_landmarks, points, None, abort)
    }

    /// [`Self::run`] with the irises of a gaze, fed when the model takes them (zeros without a gaze: the
    /// model's eyes as before).
    #[allow(clippy::too_many_arguments)]
    pub fn run_with_irises(
        &self,
        size: usize,
        source: &[f32],
        source_landmarks: &[[f32; 2]; 68],
        target_landmarks: &[[f32; 2]; 68],
        points: (&[[f32; 2]], &[[f32; 2]]),
        irises: Option<IrisTarget>,
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<GeneratedCrop, GenerateError> {
        if points.0.len() != points.1.len() {
            return Err(GenerateError::References(format!(
                "{} source control points but {} target points",
                points.0.len(),
                points.1.len()
            )));
        }
        if source.len() != 3 * size * size {
            return Err(GenerateError::References(format!("the reference crop has {} values, not 3×{size}×{size}", source.len())));
        }
        let side = self.model_side(size);
        let source: Cow<[f32]> =
            if side == size { Cow::Borrowed(source) } else { Cow::Owned(resize_planar(source, 3, size, side)) };
        let src_lm: Vec<f32> = source_landmarks.iter().flatten().copied().collect();
        let tgt_lm: Vec<f32> = target_landmarks.iter().flatten().copied().collect();
        let shape_img = [1, 3, side, side];
        let shape_lm = [1, 68, 2];
        let src_pts: Vec<f32> = points.0.iter().flatten().copied().collect();
        let tgt_pts: Vec<f32> = points.1.iter().flatten().copied().collect();
        let shape_pts = [1, points.0.len(), 2];
        let mut inputs = vec![
            TensorInput { name: "source", shape: &shape_img, data: &source },
            TensorInput { name: "source_landmarks", shape: &shape_lm, data: &src_lm },
            TensorInput { name: "target_landmarks", shape: &shape_lm, data: &tgt_lm },
        ];
        if self.takes_points {
            inputs.push(TensorInput { name: "source_points", shape: &shape_pts, data: &src_pts });
            inputs.push(TensorInput { name: "target_points", shape: &shape_pts, data: &tgt_pts });
        }
        let (src_iris, tgt_iris): (Vec<f32>, Vec<f32>) = match irises {
            Some(i) => (i.source.iter().flatten().copied().collect(), i.target.iter().flatten().copied().collect()),
            None => (vec![0.0; 4], vec![0.0; 4]),
        };
        let shape_iris = [1, 2, 2];
        if self.takes_iris {
            inputs.push(TensorInput { name: "source_iris", shape: &shape_iris, data: &src_iris });
            inputs.push(TensorInput { name: "target_iris", shape: &shape_iris, data: &tgt_iris });
        }
        let outputs = self.pool.run(&inputs, abort)?;
        let n = side * side;
        let mut outputs = outputs;
        let mut take = |name: &str, planes: usize| {
            let i = outputs.iter().position(|o| o.name == name && o.data.len() == planes * n)?;
            Some(outputs.swap_remove(i).data)
        };
        let changed = take("changed", 1);
        let pixels = match (take("output", 3), take("grid", 4), take("overlay", 5)) {
            (Some(rgb), _, _) => Some(CropPixels::Rgb(rgb)),
            (None, Some(grid), Some(overlay)) => Some(CropPixels::Resample { grid, overlay }),
            _ => None,
        };
        let (Some(pixels), Some(changed)) = (pixels, changed) else {
            return Err(GenerateError::ModelOutput(format!(
                "the warp generator did not return a {side}×{side} output (or grid and overlay) and changed mask"
            )));
        };
        let (pixels, changed) = sanitise(side, pixels, changed);
        if side == size {
            return Ok(GeneratedCrop { size, pixels, changed, reference: 0 });
        }
        let pixels = match pixels {
            CropPixels::Rgb(rgb) => CropPixels::Rgb(resize_planar(&rgb, 3, side, size).into()),
            // Normalised coordinates do not depend on the side: the grid resizes like an image.
            CropPixels::Resample { grid, overlay } => CropPixels::Resample {
                grid: resize_planar(&grid, 4, side, size).into(),
                overlay: resize_planar(&overlay, 5, side, size).into(),
            },
        };
        Ok(GeneratedCrop { size, pixels, changed: resize_planar(&changed, 1, side, size).into(), reference: 0 })
    }
}

impl Generator for WarpPackGenerator {
    fn generate(
        &self,
        size: usize,
        references: &[Reference<'_>],
        chosen: usize,
        target: &Target<'_>,
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<GeneratedCrop, GenerateError> {
        let r = references.get(chosen).ok_or_else(|| GenerateError::References("no reference still to animate".into()))?;
        let points = (target.source_points, target.target_points);
        let mut out = self.run_with_irises(size, r.crop, r.landmarks, target.landmarks, points, target.irises, abort)?;
        out.reference = chosen;
        Ok(out)
    }

    fn device_report(&self) -> &DeviceReport {
        self.pool.device_report()
    }
}

/// Whether `test` holds for every value: chunks checked without early exits
/// inside them (so the compiler vectorises the test), stopping at the first
/// chunk that fails.
#[inline]
fn all_chunks(v: &[f32], test: impl Fn(f32) -> bool) -> bool {
    v.chunks(256).all(|c| c.iter().fold(true, |ok, &x| ok & test(x)))
}

/// A pack's outputs made safe to composite: colours, weights and the mask in [0, 1], the weights adding up to at
/// most one, grid points finite (a non-finite one samples the pixel itself), so that a model's NaN never reaches
/// the host's image. Each plane is checked in one fast pass and fixed only when it needs it.
fn sanitise(side: usize, pixels: CropPixels, mut changed: Planes) -> (CropPixels, Planes) {
    fn unit(v: &mut [f32]) {
        if !all_chunks(v, |x| (0.0..=1.0).contains(&x)) {
            v.iter_mut().for_each(|x| *x = if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.0 });
        }
    }
    unit(&mut changed);
    let n = side * side;
    let pixels = match pixels {
        CropPixels::Rgb(mut rgb) => {
            unit(&mut rgb);
            CropPixels::Rgb(rgb)
        }
        CropPixels::Resample { mut grid, mut overlay } => {
            if !all_chunks(&grid, f32::is_finite) {
                for (i, v) in grid.iter_mut().enumerate() {
                    if !v.is_finite() {
                        let (axis, p) = (i / n, i % n);
                        let k = if axis % 2 == 0 { p % side } else { p / side };
                        *v = (2 * k + 1) as f32 / side as f32 - 1.0;
                    }
                }
            }
            if !all_chunks(&overlay[..3 * n], f32::is_finite) {
                overlay[..3 * n].iter_mut().for_each(|v| *v = if v.is_finite() { *v } else { 0.0 });
            }
            unit(&mut overlay[3 * n..]);
            // The weights of the painted colour and of point B must leave A a weight of at least 0.
            let (weights, _) = overlay[3 * n..].split_at(2 * n);
            let (a, b) = weights.split_at(n);
            let within = a.chunks(256).zip(b.chunks(256)).all(|(a, b)| a.iter().zip(b).fold(true, |ok, (a, b)| ok & (a + b <= 1.0)));
            if !within {
                for i in 0..n {
                    let total = overlay[3 * n + i] + overlay[4 * n + i];
                    if total > 1.0 {
                        for k in 0..5 {
                            overlay[k * n + i] /= total;
                        }
                    }
                }
            }
            CropPixels::Resample { grid, overlay }
        }
    };
    (pixels, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resample(pixels: &CropPixels) -> (&[f32], &[f32]) {
        match pixels {
            CropPixels::Resample { grid, overlay } => (&grid[..], &overlay[..]),
            CropPixels::Rgb(_) => panic!("a resampling"),
        }
    }

    #[test]
    fn sanitise_keeps_good_outputs_and_fixes_bad_ones() {
        let side = 20;
        let n = side * side;
        let grid: Vec<f32> = (0..4 * n).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect();
        let overlay: Vec<f32> = (0..5 * n).map(|i| if i < 3 * n { 0.2 } else { 0.25 }).collect();
        let changed: Vec<f32> = (0..n).map(|i| (i % 3) as f32 * 0.5).collect();
        // Good values come back bit for bit.
        let (p, c) = sanitise(side, CropPixels::Resample { grid: grid.clone().into(), overlay: overlay.clone().into() }, changed.clone().into());
        assert_eq!(resample(&p), (&grid[..], &overlay[..]));
        assert_eq!(c[..], changed[..]);
        // Bad ones, placed past the first check chunk and in the last one.
        let (mut g2, mut o2, mut c2) = (grid.clone(), overlay.clone(), changed.clone());
        let (x, y) = (13, 17);
        g2[y * side + x] = f32::NAN; // x of point A at pixel (13, 17)
        g2[n + y * side + x] = f32::INFINITY; // its y
        o2[2 * n - 1] = f32::NAN; // a colour
        o2[3 * n + 300] = 0.9; // a + b = 1.15 there
        c2[n - 1] = 7.0;
        c2[299] = f32::NEG_INFINITY;
        let (p, c) = sanitise(side, CropPixels::Resample { grid: g2.into(), overlay: o2.into() }, c2.into());
        let (g, o) = resample(&p);
        let centre = |k: usize| (2 * k + 1) as f32 / side as f32 - 1.0;
        assert_eq!((g[y * side + x], g[n + y * side + x]), (centre(x), centre(y)));
        assert_eq!(o[2 * n - 1], 0.0);
        assert!((o[3 * n + 300] + o[4 * n + 300] - 1.0).abs() < 1e-6);
        assert!((o[3 * n + 300] - 0.9 / 1.15).abs() < 1e-6 && (o[300] - 0.2 / 1.15).abs() < 1e-6);
        assert_eq!((c[n - 1], c[299]), (1.0, 0.0));
        assert!(g.iter().chain(o).chain(c.iter()).all(|v| v.is_finite()));
    }
}
