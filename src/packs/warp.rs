//! The `warp` pack kind: one model that deforms the chosen reference crop from its landmarks to the target's and
//! returns the crop with a mask of what moved (the built-in pack in `<models>/warp` is one, built from ONNX ops by
//! `resources/models/warp/build_warp.py`). This is the render's `WarpGenerator` for any pack folder: the tensors
//! are the same, and a model fixed to one crop side (or a pack listing its `resolutions`) is fed a resized crop and
//! its results resized back, since landmarks in normalised coordinates do not depend on the side.

use std::borrow::Cow;
use std::sync::Arc;

use crate::inference::{DeviceReport, SessionPool, TensorInput};
use crate::render::generator::{GeneratedCrop, Generator, Reference};

use super::manifest::{Bindings, Manifest};
use super::resample::resize_planar;

/// A `warp` pack's generator.
pub struct WarpPackGenerator {
    pool: Arc<SessionPool>,
    fixed_side: Option<usize>,
    sides: Option<Vec<usize>>,
}

impl WarpPackGenerator {
    pub(super) fn new(manifest: &Manifest, bindings: Bindings, pool: Arc<SessionPool>) -> WarpPackGenerator {
        WarpPackGenerator { pool, fixed_side: bindings.size, sides: manifest.sides().map(<[usize]>::to_vec) }
    }

    /// The crop side the model runs at for a working size.
    pub fn model_side(&self, size: usize) -> usize {
        super::model_side(self.fixed_side, self.sides.as_deref(), size)
    }

    /// Animates one crop: `source` is planar RGB `size`×`size` in [0, 1], landmarks are normalised crop
    /// coordinates.
    pub fn run(
        &self,
        size: usize,
        source: &[f32],
        source_landmarks: &[[f32; 2]; 68],
        target_landmarks: &[[f32; 2]; 68],
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<GeneratedCrop, String> {
        if source.len() != 3 * size * size {
            return Err(format!("the reference crop has {} values, not 3×{size}×{size}", source.len()));
        }
        let side = self.model_side(size);
        let source: Cow<[f32]> =
            if side == size { Cow::Borrowed(source) } else { Cow::Owned(resize_planar(source, 3, size, side)) };
        let src_lm: Vec<f32> = source_landmarks.iter().flatten().copied().collect();
        let tgt_lm: Vec<f32> = target_landmarks.iter().flatten().copied().collect();
        let shape_img = [1, 3, side, side];
        let shape_lm = [1, 68, 2];
        let inputs = [
            TensorInput { name: "source", shape: &shape_img, data: &source },
            TensorInput { name: "source_landmarks", shape: &shape_lm, data: &src_lm },
            TensorInput { name: "target_landmarks", shape: &shape_lm, data: &tgt_lm },
        ];
        let outputs = self.pool.run(&inputs, abort).map_err(|e| e.to_string())?;
        let mut rgb = None;
        let mut changed = None;
        for o in outputs {
            match o.name.as_str() {
                "output" if o.data.len() == 3 * side * side => rgb = Some(o.data),
                "changed" if o.data.len() == side * side => changed = Some(o.data),
                _ => {}
            }
        }
        let (Some(rgb), Some(changed)) = (rgb, changed) else {
            return Err(format!("the warp generator did not return a {side}×{side} output and mask"));
        };
        if side == size {
            return Ok(GeneratedCrop { size, rgb, changed });
        }
        Ok(GeneratedCrop {
            size,
            rgb: resize_planar(&rgb, 3, side, size),
            changed: resize_planar(&changed, 1, side, size),
        })
    }
}

impl Generator for WarpPackGenerator {
    fn generate(
        &self,
        size: usize,
        references: &[Reference<'_>],
        chosen: usize,
        target: &[[f32; 2]; 68],
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<GeneratedCrop, String> {
        let r = references.get(chosen).ok_or("no reference still to animate")?;
        self.run(size, r.crop, r.landmarks, target, abort)
    }

    fn device_report(&self) -> &DeviceReport {
        self.pool.device_report()
    }
}
