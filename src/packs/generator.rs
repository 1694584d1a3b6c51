//! The generator contract: what a model pack's generator is given (reference
//! crops with their landmarks, target landmarks), what it returns (the
//! animated crop, or a resampling of a reference, and a soft mask of what
//! changed), and why it may fail ([`GenerateError`]). The packs implementing
//! it (the built-in `warp` in `resources/models/warp/`, few-shot packs) are
//! loaded and validated by the rest of [`crate::packs`]; the render calls it
//! in `src/render/generate.rs`.

use std::fmt;

use crate::inference::{DeviceReport, InferenceError, OutputData};

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
                    let a = Tap::at(self.size, [grid[i] as f64, grid[n + i] as f64]);
                    let (cover, wb) = (overlay[3 * n + i], overlay[4 * n + i]);
                    for k in 0..3 {
                        let mut v = (1.0 - cover - wb) * a.sample(plane(k)) + overlay[k * n + i];
                        if wb > 0.0 {
                            let b = Tap::at(self.size, [grid[2 * n + i] as f64, grid[3 * n + i] as f64]);
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

/// A bilinear tap on an S×S grid: the top-left cell, the steps to its right
/// and lower neighbours (0 at the edge), and the weights. One tap serves the
/// matte and the three colour planes.
#[derive(Clone, Copy)]
pub(crate) struct Tap {
    pub(crate) i: usize,
    pub(crate) dx: usize,
    pub(crate) dy: usize,
    pub(crate) tx: f32,
    pub(crate) ty: f32,
}

impl Tap {
    #[inline]
    pub(crate) fn at(size: usize, n: [f64; 2]) -> Tap {
        let max = (size - 1) as f32;
        let fx = (((n[0] + 1.0) * size as f64 * 0.5 - 0.5) as f32).clamp(0.0, max);
        let fy = (((n[1] + 1.0) * size as f64 * 0.5 - 0.5) as f32).clamp(0.0, max);
        let (x0, y0) = (fx as i32 as usize, fy as i32 as usize);
        Tap {
            i: y0 * size + x0,
            dx: usize::from(x0 + 1 < size),
            dy: if y0 + 1 < size { size } else { 0 },
            tx: fx - x0 as f32,
            ty: fy - y0 as f32,
        }
    }
    #[inline]
    pub(crate) fn sample(&self, p: &[f32]) -> f32 {
        let a = p[self.i] + (p[self.i + self.dx] - p[self.i]) * self.tx;
        let b = p[self.i + self.dy] + (p[self.i + self.dy + self.dx] - p[self.i + self.dy]) * self.tx;
        a + (b - a) * self.ty
    }
    /// The same tap on four interleaved channels.
    #[inline]
    pub(crate) fn sample4(&self, p: &[[f32; 4]]) -> [f32; 4] {
        let (c00, c10, c01, c11) = (p[self.i], p[self.i + self.dx], p[self.i + self.dy], p[self.i + self.dy + self.dx]);
        let mut out = [0.0f32; 4];
        for k in 0..4 {
            let a = c00[k] + (c10[k] - c00[k]) * self.tx;
            let b = c01[k] + (c11[k] - c01[k]) * self.tx;
            out[k] = a + (b - a) * self.ty;
        }
        out
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

/// What one frame asks a generator for: the driving landmarks and, as the
/// generators grow, the motion they cannot carry (each field says when it is
/// set). `Target::new` is the landmarks alone.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// The driving iBUG-68 landmarks in the base reference's normalised crop
    /// coordinates.
    pub landmarks: &'a [[f32; 2]; 68],
    // ---- Motion a neural (LivePortrait) pack reads besides the landmarks; neutral in `Target::new`. ----
    /// The expression controls' values, in `crate::expressions::NAMES` order (jawOpen, smile, …, headYaw,
    /// headPitch, headRoll), for a generator whose `takes_controls` is true: its `landmarks` then carry every
    /// control but the head turn, which it applies itself (as it may smile and brows). Zeros otherwise.
    pub controls: [f64; 12],
    /// In Driver mode, the landmarks before the expression controls: a generator that reads the driver's motion
    /// from its frames (`driver`) adds only what the controls change. `None` otherwise.
    pub before_expressions: Option<&'a [[f32; 2]; 68]>,
    /// In Driver mode, for a generator with a `driver_crop`: the Driver frame now and at the motion reference
    /// frame, cropped with that convention. `None` otherwise.
    pub driver: Option<DriverFrames<'a>>,
    // Control points beyond the 68, for packs whose manifest (version 2) declares the optional inputs
    // `source_points` / `target_points`; packs without them ignore these.
    /// Extra control points in the chosen reference's normalised crop coordinates (points of the portrait's
    /// 3-D face mesh, of a head shell around it, and fixed points of the body and background); empty for none.
    pub source_points: &'a [[f32; 2]],
    /// Where each of `source_points` goes this frame, same coordinates; as long as `source_points`.
    pub target_points: &'a [[f32; 2]],
    // The irises (gaze).
    /// The gaze, when this frame has one: where the chosen reference's irises are and where they should be.
    /// `None` (the default): the irises go where the eyes' motion carries them, and a pack that takes iris
    /// inputs is given zeros (its eyes as before the eye model), so frames are what they were before gaze existed.
    pub irises: Option<IrisTarget>,
}

/// The iris centres of one frame, normalised crop coordinates, the subject's right eye (iBUG 36–41)
/// first. A warp pack whose manifest declares the optional inputs `source_iris` / `target_iris` (float32
/// `[1, 2, 2]`) gets them; another pack ignores them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IrisTarget {
    /// The iris centres in the chosen reference's crop.
    pub source: [[f32; 2]; 2],
    /// Where they should be in the generated crop.
    pub target: [[f32; 2]; 2],
}

impl<'a> Target<'a> {
    /// A target given by its 68 landmarks only.
    pub fn new(landmarks: &'a [[f32; 2]; 68]) -> Target<'a> {
        Target {
            landmarks,
            controls: [0.0; 12],
            before_expressions: None,
            driver: None,
            source_points: &[],
            target_points: &[],
            irises: None,
        }
    }
}

/// A driving frame as a neural pack's motion extractor sees it: planar RGB in [0, 1], `side`×`side`
/// (the pack's `driver_crop`), with the content key its motion is cached by.
#[derive(Clone, Copy)]
pub struct DriverCropped<'a> {
    pub pixels: &'a [f32],
    pub key: u128,
}

/// The Driver frame now and at the motion reference frame (relative motion is now − reference).
#[derive(Clone, Copy)]
pub struct DriverFrames<'a> {
    pub now: DriverCropped<'a>,
    pub reference: DriverCropped<'a>,
}

/// How a generator wants Driver frames cropped: LivePortrait's square about the landmarks' rotated
/// bounding box (`scale` times its larger side, shifted by `vx_ratio`, `vy_ratio` of it), `side` pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DriverCrop {
    pub side: usize,
    pub scale: f64,
    pub vx_ratio: f64,
    pub vy_ratio: f64,
}

/// A generator model pack: turns reference crops and a target into the
/// animated crop. Renders call it from many threads at once.
pub trait Generator: Send + Sync {
    /// Animate one frame. `chosen` is the reference whose mouth and eyes best
    /// match the target (the warp uses it; a few-shot model may use all).
    fn generate(
        &self,
        size: usize,
        references: &[Reference<'_>],
        chosen: usize,
        target: &Target<'_>,
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<GeneratedCrop, GenerateError>;
    /// Which device runs it.
    fn device_report(&self) -> &DeviceReport;
    /// How Driver frames are to be cropped for the generator's own motion extractor (`Target::driver`);
    /// `None` (the default): the generator reads the drive from landmarks only.
    fn driver_crop(&self) -> Option<DriverCrop> {
        None
    }
    /// Whether the expression controls are given as values (`Target::controls`) and the head turn kept
    /// out of the landmarks. Default false.
    fn takes_controls(&self) -> bool {
        false
    }
    /// A message the node shows once (a persistent warning), such as the time a frame takes on the CPU.
    fn notice(&self) -> Option<String> {
        None
    }
}

/// Why a generator could not animate a frame. `Display` gives the sentence
/// shown to the user.
#[derive(Debug, Clone)]
pub enum GenerateError {
    /// The reference stills given do not fit the pack or the working size
    /// (none, too many, a crop of the wrong size).
    References(String),
    /// ONNX Runtime failed, or the host aborted the run.
    Inference(InferenceError),
    /// A model returned output of an unexpected form.
    ModelOutput(String),
    /// The host ran none of the render's threads, so the generator never ran.
    NotRun,
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenerateError::References(why) | GenerateError::ModelOutput(why) => write!(f, "{why}"),
            GenerateError::Inference(e) => write!(f, "{e}"),
            GenerateError::NotRun => write!(f, "the generator did not run"),
        }
    }
}

impl std::error::Error for GenerateError {}

impl From<InferenceError> for GenerateError {
    fn from(e: InferenceError) -> Self {
        GenerateError::Inference(e)
    }
}
