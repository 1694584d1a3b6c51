//! The generator stage: an ONNX model that turns (source crop, source
//! landmarks, target landmarks) into the animated crop and a soft mask of what
//! changed. The built-in `warp` pack's graph is in `resources/models/warp/`.

use std::sync::Arc;

use crate::inference::{models_dir, Device, DeviceReport, ModelSpec, SessionPool, TensorInput, TensorSpec};

/// What a generator produces for one frame.
#[derive(Clone, Debug)]
pub struct GeneratedCrop {
    /// Side of the crop.
    pub size: usize,
    /// RGB, planar (NCHW), [0, 1].
    pub rgb: Vec<f32>,
    /// Where the output differs from the source, [0, 1], S×S.
    pub changed: Vec<f32>,
}

/// One reference still as the generator sees it.
#[derive(Clone, Copy)]
pub struct Reference<'a> {
    /// Planar RGB S×S crop in [0, 1].
    pub crop: &'a [f32],
    /// Its landmarks in normalised crop coordinates.
    pub landmarks: &'a [[f32; 2]; 68],
    /// Content key of the crop (for caches such as few-shot embeddings).
    pub key: u128,
}

/// A generator model pack: turns reference crops and target landmarks into the
/// animated crop. Renders call it from many threads at once.
pub trait Generator: Send + Sync {
    /// Animate one frame. `chosen` is the reference whose mouth and eyes best
    /// match the target (the warp uses it; a few-shot model may use all).
    fn generate(
        &self,
        size: usize,
        references: &[Reference<'_>],
        chosen: usize,
        target: &[[f32; 2]; 68],
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<GeneratedCrop, String>;
    /// Which device runs it.
    fn device_report(&self) -> &DeviceReport;
}

impl Generator for WarpGenerator {
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

/// The warp generator's tensors (`resources/models/warp/README.md`).
pub const WARP_SPEC: ModelSpec = ModelSpec {
    file: "warp_generator.onnx",
    inputs: &[
        TensorSpec { name: "source", shape: &[1, 3, -1, -1] },
        TensorSpec { name: "source_landmarks", shape: &[1, 68, 2] },
        TensorSpec { name: "target_landmarks", shape: &[1, 68, 2] },
    ],
    outputs: &[
        TensorSpec { name: "output", shape: &[1, 3, -1, -1] },
        TensorSpec { name: "changed", shape: &[1, 1, -1, -1] },
    ],
};

/// The built-in landmark-driven warp.
pub struct WarpGenerator {
    pool: Arc<SessionPool>,
}

impl WarpGenerator {
    /// The warp pack from the models folder, on `device`.
    pub fn load(device: Device) -> Result<WarpGenerator, String> {
        let dir = models_dir().join("warp");
        let pool = SessionPool::get(&dir, WARP_SPEC, device).map_err(|e| e.to_string())?;
        Ok(WarpGenerator { pool })
    }

    /// Animate one crop. `source` is planar RGB S×S; landmarks are normalised
    /// crop coordinates.
    pub fn run(
        &self,
        size: usize,
        source: &[f32],
        source_landmarks: &[[f32; 2]; 68],
        target_landmarks: &[[f32; 2]; 68],
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<GeneratedCrop, String> {
        let src_lm: Vec<f32> = source_landmarks.iter().flatten().copied().collect();
        let tgt_lm: Vec<f32> = target_landmarks.iter().flatten().copied().collect();
        let shape_img = [1, 3, size, size];
        let shape_lm = [1, 68, 2];
        let inputs = [
            TensorInput { name: "source", shape: &shape_img, data: source },
            TensorInput { name: "source_landmarks", shape: &shape_lm, data: &src_lm },
            TensorInput { name: "target_landmarks", shape: &shape_lm, data: &tgt_lm },
        ];
        let outputs = self.pool.run(&inputs, abort).map_err(|e| e.to_string())?;
        let mut rgb = None;
        let mut changed = None;
        for o in outputs {
            match o.name.as_str() {
                "output" if o.data.len() == 3 * size * size => rgb = Some(o.data),
                "changed" if o.data.len() == size * size => changed = Some(o.data),
                _ => {}
            }
        }
        match (rgb, changed) {
            (Some(rgb), Some(changed)) => Ok(GeneratedCrop { size, rgb, changed }),
            _ => Err(format!("the warp generator did not return a {size}×{size} output and mask")),
        }
    }
}

/// The generator of the model pack in `pack_dir`, or of the built-in warp pack for `None`, on `device`: checked
/// and loaded on first use, then shared process-wide (see `crate::packs`). Packs of random-weight test models
/// are refused unless `LIVING_PORTRAIT_ALLOW_TEST_PACKS=1`.
pub fn load_generator(pack_dir: Option<&std::path::Path>, device: Device) -> Result<Arc<dyn Generator>, String> {
    crate::packs::load_generator(pack_dir, device).map_err(|e| e.to_string())
}
