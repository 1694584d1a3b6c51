//! The generator stage: a model pack that turns (reference crops with their
//! landmarks, target landmarks) into the animated crop and a soft mask of what
//! changed. The packs themselves (the built-in `warp` in
//! `resources/models/warp/`, few-shot packs) are loaded and validated by
//! [`crate::packs`].

use std::sync::Arc;

use crate::inference::{Device, DeviceReport, OutputData};

/// Planar float values a generator returns: ONNX Runtime's output buffers as
/// they are (no copy), or vectors; both read as slices.
pub type Planes = OutputData;

/// What a generator produces for one frame.
#[derive(Clone, Debug)]
pub struct GeneratedCrop {
    /// Side of the crop.
    pub size: usize,
    /// The crop's pixels, or how to make them from the reference.
    pub pixels: CropPixels,
    /// Where the output differs from the source, [0, 1], S×S.
    pub changed: Planes,
    /// The reference still a resampling refers to.
    pub reference: usize,
}

/// A generated crop's pixels.
#[derive(Clone, Debug)]
pub enum CropPixels {
    /// RGB, planar (NCHW), [0, 1].
    Rgb(Planes),
    /// A resampling of the reference still: `grid` (planar x_A, y_A, x_B, y_B, S×S each) gives every crop pixel
    /// two points it takes its colour from, in the reference crop's normalised coordinates; `overlay` (planar
    /// premultiplied R, G, B, their coverage a, and the weight b of point B) adds painted colour (a mouth
    /// cavity) and blends in B (soft lid and lip edges). The crop is `(1 − a − b) · sample(reference, A) +
    /// b · sample(reference, B) + overlay.rgb`; the render evaluates it on the full-resolution reference image,
    /// so the face keeps the plate's resolution and is resampled once.
    Resample { grid: Planes, overlay: Planes },
}

impl GeneratedCrop {
    /// The crop as planar RGB at its own resolution (a resampling is evaluated on the reference crop).
    pub fn rgb<'a>(&'a self, references: &[Reference<'_>]) -> std::borrow::Cow<'a, [f32]> {
        match &self.pixels {
            CropPixels::Rgb(rgb) => std::borrow::Cow::Borrowed(rgb),
            CropPixels::Resample { grid, overlay } => {
                let n = self.size * self.size;
                let mut out = vec![0.0f32; 3 * n];
                let Some(r) = references.get(self.reference).filter(|r| r.crop.len() == 3 * n) else {
                    return std::borrow::Cow::Owned(out);
                };
                let plane = |k: usize| &r.crop[k * n..(k + 1) * n];
                for i in 0..n {
                    let a = crate::render::Tap::at(self.size, [grid[i] as f64, grid[n + i] as f64]);
                    let (cover, wb) = (overlay[3 * n + i], overlay[4 * n + i]);
                    for k in 0..3 {
                        let mut v = (1.0 - cover - wb) * a.sample(plane(k)) + overlay[k * n + i];
                        if wb > 0.0 {
                            let b = crate::render::Tap::at(self.size, [grid[2 * n + i] as f64, grid[3 * n + i] as f64]);
                            v += wb * b.sample(plane(k));
                        }
                        out[k * n + i] = v;
                    }
                }
                std::borrow::Cow::Owned(out)
            }
        }
    }
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
