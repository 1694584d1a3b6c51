//! The per-frame render of the node, a pure function of (time, parameters,
//! input images):
//!
//! source landmarks (detected and cached by image content, or the override) →
//! target landmarks at time t (keyframes, a track file or the Driver clip;
//! relative or absolute motion) → the reference still whose mouth and eyes best
//! match the target → its similarity-aligned face crop at the working
//! resolution → the generator (ONNX) → paste back into the full frame through
//! the feathered hull matte × the generator's "changed" mask, so pixels outside
//! the matte are bit-exact copies of the source → host depth and components.
//!
//! A generator that returns a resampling (the built-in warp: two sample points
//! per crop pixel and a painted overlay) is evaluated on the reference's
//! full-resolution image, through the crop's similarity, so the face is
//! resampled once and keeps the plate's resolution; where the reference is the
//! portrait itself the matte fades the sample positions rather than blending
//! two images, so a feathered edge bends instead of showing a double contour.
//! The exact copy of the portrait into the output runs on a second host thread
//! while the generator runs.
//!
//! Caches (analysis, crops, tracks, mattes) are keyed by content, never by
//! render order, so any order of frames or threads gives the same pixels.
//!
//! [`Renderer`]'s `render_with` runs the stages in this order, one file each:
//! 1. `source.rs`: the reference stills, analysed and cached (or guessed);
//! 2. `drive.rs`: the targets from keys, a track or the Driver clip, then the
//!    expression controls, from inputs gathered once (`DriveInputs`);
//! 3. `generate.rs`: the pack's generator beside the copy of the portrait,
//!    and the paste matte of `matte.rs`;
//! 4. `paste.rs` (Full output) or `output.rs` (crop, matte, pass-through).
//!
//! Beside them: `analysis.rs` (the bounded image the face models see),
//! `plane.rs` (content keys, float planes, the pixel map), `geometry.rs`
//! (the face crop, the hull, the mouth and eye state) and `head.rs` (the
//! portrait's 3-D face turned by the pose change into the warp's extra
//! control points, and the still-body fade of the paste matte).

pub mod analysis;
mod drive;
mod generate;
pub mod geometry;
pub mod head;
mod matte;
mod output;
mod paste;
pub mod plane;
mod source;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use ofx::plugin::{Clip, EffectHandle, Image, RectI, RenderArgs};
use ofx::{Error, Result};
use parking_lot::Mutex;

use crate::track::LandmarkTrack;
use crate::face::FaceAnalyzer;
use crate::inference::{Device, DeviceReport};
use crate::landmarks::Landmarks68;
use crate::params::{clips, DriveMode, OutputMode, Settings};
use crate::profile::StageTimer;
use analysis::ViewMatte;
use drive::{DriveInputs, TrackKey};
use generate::CropLandmarks;
use crate::packs::generator::Generator;
use output::{pass_through, write_crop, write_matte};
use plane::Region;
use source::SourceGuess;

pub use drive::{track_points, track_target};
pub use matte::{CropMatte, HULL_RES};
pub use plane::PixelMap;
pub use source::{FacesSeen, PreparedSource, MAX_REFERENCES};

/// The render's caches: least-recently-used, keyed by content.
type Lru<K, V> = lru::LruCache<K, V>;

/// An empty cache of `cap` entries (at least one).
fn lru<K: std::hash::Hash + Eq, V>(cap: usize) -> Lru<K, V> {
    Lru::new(std::num::NonZeroUsize::new(cap).unwrap_or(std::num::NonZeroUsize::MIN))
}

/// Generators by (device, pack folder; None: the built-in warp).
type GeneratorCache = HashMap<(Device, Option<PathBuf>), Arc<dyn Generator>>;
/// Analysed sources by (image content, override of the landmarks, working size, face index).
type SourceCache = Lru<(u128, Option<[u64; 2]>, usize, u32), Arc<PreparedSource>>;
/// Face regions of reference images by (image content, pixel rectangle).
type RegionCache = Lru<(u128, [i32; 4]), Arc<Region>>;

/// The render state of one node instance: caches only.
pub struct Renderer {
    analyzers: Mutex<HashMap<Device, Arc<FaceAnalyzer>>>,
    generators: Mutex<GeneratorCache>,
    sources: Mutex<SourceCache>,
    /// Driver faces by image content: landmarks and iris centres, canonical.
    drivers: Mutex<Lru<u128, Option<drive::DriverFace>>>,
    /// Driver frames cropped for a neural pack, by (content, crop convention).
    driver_crops: Mutex<Lru<u128, Arc<Vec<f32>>>>,
    /// Whether the generator's one-time notice was posted.
    notice_posted: std::sync::atomic::AtomicBool,
    track: Mutex<Option<(TrackKey, Arc<LandmarkTrack>)>>,
    mattes: Mutex<Lru<u128, Arc<ViewMatte>>>,
    /// Face regions of reference stills at full resolution, by (image
    /// content, pixel rectangle).
    regions: Mutex<RegionCache>,
    device_warned: std::sync::atomic::AtomicBool,
    /// Targets of recently rendered frames, by time, for the overlay.
    drawn_targets: Mutex<Lru<u64, Landmarks68<f64>>>,
    /// The portrait's landmarks of the last render, for the overlay.
    drawn_source: Mutex<Option<Landmarks68<f64>>>,
    guess: Mutex<Option<SourceGuess>>,
    /// The content key of the portrait the "several faces of the same size"
    /// warning was last posted for (posted once per content, not per frame).
    faces_warned: Mutex<Option<u128>>,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer {
            analyzers: Mutex::new(HashMap::new()),
            generators: Mutex::new(HashMap::new()),
            sources: Mutex::new(lru(MAX_REFERENCES + 4)),
            drivers: Mutex::new(lru(256)),
            driver_crops: Mutex::new(lru(8)),
            notice_posted: false.into(),
            track: Mutex::new(None),
            mattes: Mutex::new(lru(4)),
            regions: Mutex::new(lru(3)),
            device_warned: false.into(),
            drawn_targets: Mutex::new(lru(64)),
            drawn_source: Mutex::new(None),
            guess: Mutex::new(None),
            faces_warned: Mutex::new(None),
        }
    }
}

/// What every stage of one render reads, gathered once: the frame's time,
/// the render scale and window, the face analyzer of the chosen device and
/// the host's abort check.
struct Frame<'a> {
    time: f64,
    scale: f64,
    window: RectI,
    analyzer: &'a FaceAnalyzer,
    abort: &'a (dyn Fn() -> bool + Sync),
}

/// Whether nothing drives the face yet (a new node: no keys, no track, no
/// expression), so that Full output is the portrait untouched.
fn nothing_drives(s: &Settings) -> bool {
    let undriven = match s.drive {
        DriveMode::Keyframes => s.keyframes.is_none(),
        DriveMode::Expressions => true,
        _ => false,
    };
    undriven && s.expressions.is_neutral() && s.output == OutputMode::Full
}

/// The host's output image at `time`.
fn output_image(clip: &Clip, time: f64) -> Result<Image> {
    clip.image(time, None)?.ok_or_else(|| fail(format!("the host gave no output image at frame {time}")))
}

fn fail(s: impl Into<String>) -> Error {
    Error::Failed(s.into())
}

impl Renderer {
    /// The face analyzer for a device.
    pub fn analyzer(&self, device: Device) -> Arc<FaceAnalyzer> {
        self.analyzers.lock().entry(device).or_insert_with(|| Arc::new(FaceAnalyzer::new(device))).clone()
    }

    /// The generator of a model pack (None: the built-in warp) on a device,
    /// loaded and validated on first use.
    pub fn generator(&self, device: Device, pack: Option<&std::path::Path>) -> Result<Arc<dyn Generator>> {
        let key = (device, pack.map(|p| p.to_path_buf()));
        if let Some(g) = self.generators.lock().get(&key) {
            return Ok(g.clone());
        }
        let g = crate::packs::load_generator(pack, device).map_err(|e| fail(format!("the generator cannot be used: {e}")))?;
        self.generators.lock().insert(key, g.clone());
        Ok(g)
    }

    /// Which device inference runs on (loads the runtime and the built-in generator).
    pub fn device_report(&self, device: Device) -> Result<DeviceReport> {
        Ok(self.generator(device, None)?.device_report().clone())
    }

    /// Targets the last render at `time` computed (for the overlay).
    pub fn last_targets(&self, time: f64) -> Option<Landmarks68<f64>> {
        self.drawn_targets.lock().get(&time.to_bits()).copied()
    }

    /// The portrait's landmarks of the last render (for the overlay).
    pub fn last_source(&self) -> Option<Landmarks68<f64>> {
        *self.drawn_source.lock()
    }

    /// Render one window of one frame.
    pub fn render(&self, effect: &EffectHandle, args: &RenderArgs, s: &Settings) -> Result<()> {
        let mut guessed = false;
        match self.render_with(effect, args, s, true, &mut guessed) {
            Ok(true) => Ok(()),
            // The guessed source was not the image (or failed before it was
            // checked): forget it, and render the ordinary way.
            Ok(false) => self.render_with(effect, args, s, false, &mut guessed).map(|_| ()),
            Err(e) if guessed && !matches!(e, Error::Aborted) => {
                *self.guess.lock() = None;
                self.render_with(effect, args, s, false, &mut guessed).map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// One render; with `speculate`, an unchanged still's analysis may be
    /// reused before its content key is checked (on a second thread, beside
    /// the generator): `Ok(false)` when the check failed and nothing is
    /// final. `guessed` says whether a guess was used.
    fn render_with(&self, effect: &EffectHandle, args: &RenderArgs, s: &Settings, speculate: bool, guessed: &mut bool) -> Result<bool> {
        *guessed = false;
        let abort = || effect.aborted();
        let mut timer = StageTimer::new();
        let source_clip = effect.clip(clips::SOURCE)?;
        let out_clip = effect.clip(clips::OUTPUT)?;
        if nothing_drives(s) {
            // A new node: the portrait, untouched.
            let src = source_clip.image(args.time, None)?;
            return pass_through(src.as_ref(), &mut output_image(&out_clip, args.time)?, args.window, effect).map(|_| true);
        }
        let analyzer = self.analyzer(s.device);
        let frame = Frame { time: args.time, scale: args.render_scale.0.max(1e-6), window: args.window, analyzer: &analyzer, abort: &abort };

        // 1. The reference stills, analysed (source.rs).
        let refs = self.references(source_clip, &frame, s, speculate)?;
        *guessed = refs.check.is_some();
        let base = refs.prepared[0].clone();
        self.warn_faces_once(effect, &base);
        timer.mark("sources");

        // 2. The targets: drive, then expressions (drive.rs).
        let rod_h = refs.clip.region_of_definition(refs.at[0]).map(|r| r.y2 - r.y1).unwrap_or(base.image_size[1] as f64 / frame.scale);
        let host = DriveInputs::gather(effect, s.drive, frame.scale, &analyzer, &abort, (&base, rod_h));
        // A generator that takes the head turn as angles gets landmarks without it (and, in Driver mode,
        // the Driver frames cropped for its own motion extractor).
        let neural = match &s.model_pack {
            Some(pack) if s.output != OutputMode::Matte => Some(self.generator(s.device, Some(pack))?).filter(|g| g.takes_controls() || g.driver_crop().is_some()),
            _ => None,
        };
        let (targets, neural_drive) = match &neural {
            None => (self.targets(s, &host, args.time)?, None),
            Some(g) => {
                let (targets, before) = self.targets_without_turn(s, &host, args.time)?;
                let crops = match (s.drive, g.driver_crop()) {
                    (DriveMode::Driver, Some(c)) if s.relative => self.driver_crops(s, &host, args.time, c)?,
                    _ => None,
                };
                // (the first 12 controls, jawOpen … headRoll; the eye controls act through the warp only)
                let v = s.expressions.values();
                let controls: [f64; 12] = if g.takes_controls() { std::array::from_fn(|i| v[i]) } else { [0.0; 12] };
                let before = (s.drive == DriveMode::Driver).then(|| base.crop.normalise_points(&before));
                (targets, Some(generate::NeuralDrive { controls, before, crops }))
            }
        };
        if abort() {
            return Err(Error::Aborted);
        }
        self.drawn_targets.lock().put(args.time.to_bits(), targets);
        *self.drawn_source.lock() = Some(base.landmarks);
        let mut lms = CropLandmarks::of(&refs.prepared, &targets);
        lms.drive_gaze = self.driver_gaze(s, &host, args.time)?;
        let mut out = output_image(&out_clip, args.time)?;
        timer.mark("targets");

        // 3. The generated face and the paste matte, the portrait copied meanwhile (generate.rs, matte.rs).
        let Some(generated) = self.generate(effect, s, &frame, &refs, &lms, neural_drive.as_ref(), &mut out)? else { return Ok(false) };
        timer.mark("generator");
        let seg = if s.use_segmentation && s.output != OutputMode::Crop {
            Some(self.segmentation(&base, &refs.base_image, frame.scale, &analyzer, &abort)?)
        } else {
            None
        };
        timer.mark("alpha");

        // 4. The output: the paste (paste.rs), or the crop or the matte (output.rs).
        match s.output {
            OutputMode::Full => self.paste_full(&frame, s.resolution, &refs, &generated, seg.as_deref(), &mut out)?,
            OutputMode::Crop => {
                let references = lms.generator_references(&refs.prepared);
                let rgb = generated.crop.as_ref().map(|g| g.rgb(&references));
                let out_map = PixelMap::of_image(&out, frame.scale);
                write_crop(&mut out, args.window, out_map, s.resolution, rgb.as_deref())
            }
            OutputMode::Matte => {
                let base_map = PixelMap::of_image(&refs.base_image, frame.scale);
                write_matte(&mut out, args.window, &base, base_map, &generated.matte, seg.as_deref())
            }
        }
        timer.mark("write");
        timer.report(args.time);
        Ok(true)
    }

    /// A generator's one-time notice (the CPU time of a neural pack), posted once per node.
    fn notice_once(&self, effect: &EffectHandle, notice: Option<String>) {
        if let Some(notice) = notice {
            if !self.notice_posted.swap(true, std::sync::atomic::Ordering::AcqRel) {
                let _ = effect.set_persistent_message(ofx::plugin::MessageLevel::Warning, &notice);
            }
        }
    }

    fn warn_device_once(&self, effect: &EffectHandle, report: &DeviceReport) {
        if let Some(warning) = report.fallback_warning() {
            if !self.device_warned.swap(true, std::sync::atomic::Ordering::AcqRel) {
                let _ = effect.set_persistent_message(ofx::plugin::MessageLevel::Warning, &warning);
            }
        }
    }
}
