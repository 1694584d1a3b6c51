//! The generator stage: a model pack that turns (reference crops with their
//! landmarks, target landmarks) into the animated crop and a soft mask of what
//! changed. The packs themselves (the built-in `warp` in
//! `resources/models/warp/`, few-shot packs) are loaded and validated by
//! [`crate::packs`].

use std::sync::Arc;

use crate::inference::{Device, DeviceReport};

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

/// The generator of the model pack in `pack_dir`, or of the built-in warp pack for `None`, on `device`: checked
/// and loaded on first use, then shared process-wide (see `crate::packs`). Packs of random-weight test models
/// are refused unless `LIVING_PORTRAIT_ALLOW_TEST_PACKS=1`.
pub fn load_generator(pack_dir: Option<&std::path::Path>, device: Device) -> Result<Arc<dyn Generator>, String> {
    crate::packs::load_generator(pack_dir, device).map_err(|e| e.to_string())
}
