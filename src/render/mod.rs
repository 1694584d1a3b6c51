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

pub mod analysis;
mod drive;
pub mod generator;
pub mod geometry;
mod matte;
mod output;
mod paste;
pub mod plane;
mod source;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use ofx::plugin::{EffectHandle, Image, RenderArgs};
use ofx::{Error, Result};
use parking_lot::Mutex;

use crate::face::track::LandmarkTrack;
use crate::face::FaceAnalyzer;
use crate::inference::{Device, DeviceReport};
use crate::landmarks::Landmarks68;
use crate::params::{clips, DriveMode, OutputMode, Settings};
use crate::profile::StageTimer;
use analysis::ViewMatte;
use drive::TrackKey;
use generator::{CropPixels, Generator, Planes, Reference};
use geometry::{hull_matte, paste_hull, FaceState};
use matte::HullCells;
use output::{copy_window, pass_through, write_crop, write_matte, WindowCopy};
use paste::{crop_to_pixels, paste, Face, Resampling};
use plane::{image_key, image_key_here, Region};
use source::{reference_times, SourceGuess};

pub use drive::{track_points, track_target};
pub use matte::{CropMatte, HULL_RES};
pub(crate) use matte::Tap;
pub use plane::PixelMap;
pub use source::{FacesSeen, PreparedSource, MAX_REFERENCES};

/// A small least-recently-used cache.
struct Lru<K, V> {
    cap: usize,
    items: Vec<(K, V)>,
}

impl<K: PartialEq + Clone, V: Clone> Lru<K, V> {
    fn new(cap: usize) -> Self {
        Lru { cap, items: Vec::new() }
    }
    fn get(&mut self, k: &K) -> Option<V> {
        let i = self.items.iter().position(|(q, _)| q == k)?;
        let it = self.items.remove(i);
        let v = it.1.clone();
        self.items.push(it);
        Some(v)
    }
    fn put(&mut self, k: K, v: V) {
        self.items.retain(|(q, _)| q != &k);
        if self.items.len() >= self.cap {
            self.items.remove(0);
        }
        self.items.push((k, v));
    }
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
    drivers: Mutex<Lru<u128, Option<Landmarks68<f64>>>>,
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
            sources: Mutex::new(Lru::new(MAX_REFERENCES + 4)),
            drivers: Mutex::new(Lru::new(256)),
            track: Mutex::new(None),
            mattes: Mutex::new(Lru::new(4)),
            regions: Mutex::new(Lru::new(3)),
            device_warned: false.into(),
            drawn_targets: Mutex::new(Lru::new(64)),
            drawn_source: Mutex::new(None),
            guess: Mutex::new(None),
            faces_warned: Mutex::new(None),
        }
    }
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
        let g = generator::load_generator(pack, device).map_err(|e| fail(format!("the generator cannot be used: {e}")))?;
        self.generators.lock().insert(key, g.clone());
        Ok(g)
    }

    /// Which device inference runs on (loads the runtime and the built-in generator).
    pub fn device_report(&self, device: Device) -> Result<DeviceReport> {
        Ok(self.generator(device, None)?.device_report().clone())
    }

    /// Targets the last render at `time` computed (for the overlay).
    pub fn last_targets(&self, time: f64) -> Option<Landmarks68<f64>> {
        self.drawn_targets.lock().get(&time.to_bits())
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
        let scale = args.render_scale.0.max(1e-6);
        let abort = || effect.aborted();
        let mut timer = StageTimer::new();
        let source_clip = effect.clip(clips::SOURCE)?;
        let out_clip = effect.clip(clips::OUTPUT)?;
        let undriven = match s.drive {
            DriveMode::Keyframes => s.keyframes.is_none(),
            DriveMode::Expressions => true,
            _ => false,
        };
        if undriven && s.expressions.is_neutral() && s.output == OutputMode::Full {
            // Nothing drives the face yet (a new node): the portrait, untouched.
            let mut out = out_clip
                .image(args.time, None)?
                .ok_or_else(|| fail(format!("the host gave no output image at frame {}", args.time)))?;
            let src = source_clip.image(args.time, None)?;
            return pass_through(src.as_ref(), &mut out, args.window, effect).map(|_| true);
        }
        let analyzer = self.analyzer(s.device);
        // References: one still (the Source at the render time), or frames
        // first..=last of Source with the background from the first.
        let ref_times = reference_times(s, args.time);
        let mut refs: Vec<Arc<PreparedSource>> = Vec::with_capacity(ref_times.len());
        let mut refs_at: Vec<f64> = Vec::with_capacity(ref_times.len());
        let mut base_image: Option<Image> = None;
        // (salt, key) of a guessed source, checked beside the generator.
        let mut check: Option<(u64, u128)> = None;
        let single = ref_times.len() == 1;
        for (i, t) in ref_times.iter().enumerate() {
            let img = source_clip
                .image(*t, None)?
                .ok_or_else(|| fail(format!("the Source clip has no image at frame {t}")))?;
            let what = if single { "Source image".to_string() } else { format!("Source reference frame {t}") };
            let guess = if speculate && single && s.output == OutputMode::Full { self.guessed_source(&img, scale, s) } else { None };
            let prepared = match guess {
                Some((p, salt)) => {
                    *guessed = true;
                    check = Some((salt, p.key));
                    p
                }
                None => {
                    let p = self.prepare(&img, scale, s.resolution, s, &analyzer, &abort, &what)?;
                    if single {
                        self.note_source(&p, scale, &img, s);
                    }
                    p
                }
            };
            if !refs.iter().any(|r| r.key == prepared.key) {
                refs.push(prepared);
                refs_at.push(*t);
            }
            if i == 0 {
                base_image = Some(img);
            }
        }
        let base_image = base_image.ok_or_else(|| fail("no Source image"))?;
        timer.mark("sources");
        let base = refs[0].clone();
        self.warn_faces_once(effect, &base);
        let rod_h = source_clip.region_of_definition(ref_times[0]).map(|r| r.y2 - r.y1).unwrap_or(base.image_size[1] as f64 / scale);
        let targets = self.targets(effect, args.time, s, &base, rod_h, scale, &analyzer, &abort)?;
        if abort() {
            return Err(Error::Aborted);
        }
        timer.mark("targets");
        self.drawn_targets.lock().put(args.time.to_bits(), targets);
        *self.drawn_source.lock() = Some(base.landmarks);
        let size = s.resolution;
        let target_n = base.crop.normalise_points(&targets);
        let source_n = base.crop.normalise_points(&base.landmarks);
        let feather = s.feather * 0.5; // eye distance ≈ 0.5 normalised units
        let hull = paste_hull(&source_n, &target_n);
        // The hull matte depends on the landmarks only: in Full output it is
        // made on the second thread while the generator runs.
        let make_hull = || hull_matte(&hull, HULL_RES, feather);
        timer.mark("hull");

        let ref_lms: Vec<[[f32; 2]; 68]> = refs.iter().map(|r| r.crop.normalise_points(&r.landmarks)).collect();
        let references: Vec<Reference<'_>> = refs
            .iter()
            .enumerate()
            .map(|(i, r)| Reference { crop: &r.pixels, landmarks: &ref_lms[i], key: r.key })
            .collect();
        let mut out = out_clip
            .image(args.time, None)?
            .ok_or_else(|| fail(format!("the host gave no output image at frame {}", args.time)))?;
        timer.mark("output image");
        // Full output starts as an exact copy of the portrait (the face is
        // pasted over it afterwards); the copy runs on a second thread while
        // the generator runs on the first.
        let mut copied = false;
        let mut hull_cells: Option<HullCells> = None;
        // Matte mode needs no generator.
        let (gen, alpha) = if s.output == OutputMode::Matte {
            (None, CropMatte::new(make_hull(), None, size))
        } else {
            let state = FaceState::of(&targets);
            let chosen = refs
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.state.distance(&state).total_cmp(&b.1.state.distance(&state)))
                .map(|(i, _)| i)
                .unwrap_or(0);
            let generator = self.generator(s.device, s.model_pack.as_deref())?;
            self.warn_device_once(effect, generator.device_report());
            let generate = || generator.generate(size, &references, chosen, &target_n, Some(&abort));
            let result = if s.output == OutputMode::Full {
                let slot = Mutex::new(None);
                let target = Mutex::new(&mut out);
                let hull_slot = Mutex::new(None);
                let checked = Mutex::new(None);
                ofx::plugin::run_threads(2, |index, _| {
                    if index == 0 {
                        *slot.lock() = Some(generate());
                    } else {
                        let mut out = target.lock();
                        match check {
                            // This is one of the host's threads: hash here,
                            // copying each row as it is read.
                            Some((salt, key)) => {
                                let mut copy = WindowCopy::new(&mut out, base_image.layout(), args.window);
                                let same = image_key_here(&base_image, salt, |y, row| copy.row(y, Some(row))) == key;
                                copy.finish();
                                *checked.lock() = Some(same);
                            }
                            None => copy_window(&mut out, &base_image, args.window),
                        }
                        drop(out);
                        *hull_slot.lock() = Some(HullCells::new(&make_hull(), size));
                    }
                    Ok(())
                })?;
                let checked = match (check, checked.into_inner()) {
                    (None, _) => true,
                    (Some(_), Some(same)) => same,
                    // The second thread did not run (a host without threads runs them in turn, so this is rare).
                    (Some((salt, key)), None) => image_key(&base_image, salt) == key,
                };
                if !checked {
                    *self.guess.lock() = None;
                    return Ok(false);
                }
                copied = true;
                hull_cells = hull_slot.into_inner();
                slot.into_inner().unwrap_or_else(|| Err("the generator did not run".into()))
            } else {
                generate()
            };
            let mut g = result.map_err(|e| if abort() { Error::Aborted } else { fail(e) })?;
            timer.mark("generator");
            let hull = hull_cells.take().unwrap_or_else(|| HullCells::new(&make_hull(), size));
            let matte = CropMatte::from_hull(hull, Some(&g.changed));
            // The mask is in the matte now: its buffer goes back.
            g.changed = Planes::default();
            (Some(g), matte)
        };
        let seg = if s.use_segmentation && s.output != OutputMode::Crop {
            Some(self.segmentation(&base, &base_image, scale, &analyzer, &abort)?)
        } else {
            None
        };

        timer.mark("alpha");
        let out_map = PixelMap::of_image(&out, scale);
        let base_map = PixelMap::of_image(&base_image, scale);
        match s.output {
            OutputMode::Crop => {
                let rgb = gen.as_ref().map(|g| g.rgb(&references));
                write_crop(&mut out, args.window, out_map, size, rgb.as_deref())
            }
            OutputMode::Matte => write_matte(&mut out, args.window, &base, base_map, &alpha, seg.as_deref()),
            OutputMode::Full => {
                // A resampling is evaluated on the chosen reference's own image (the base's, or fetched).
                let other_image = match gen.as_ref().map(|g| (&g.pixels, g.reference)) {
                    Some((CropPixels::Resample { .. }, r)) if r > 0 => {
                        let t = *refs_at.get(r).ok_or_else(|| fail("the generator named an unknown reference"))?;
                        Some(
                            source_clip
                                .image(t, None)?
                                .ok_or_else(|| fail(format!("the Source clip has no image at frame {t}")))?,
                        )
                    }
                    _ => None,
                };
                let g = gen.as_ref().ok_or_else(|| fail("the full output needs a generated face"))?;
                let face = match &g.pixels {
                        CropPixels::Rgb(rgb) => Face::Rgb(rgb),
                        CropPixels::Resample { grid, overlay } => {
                            let image = other_image.as_ref().unwrap_or(&base_image);
                            let r = refs.get(g.reference).unwrap_or(&base);
                            let to_pixels = crop_to_pixels(&r.crop, PixelMap::of_image(image, scale));
                            // Crop pixels per image pixel, along the crop's x axis.
                            let fine = size as f64 / 2.0 / to_pixels[0].hypot(to_pixels[3]).max(1e-9);
                            let cells = Resampling::cells(size, &alpha, grid, overlay, to_pixels);
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
                if !copied {
                    copy_window(&mut out, &base_image, args.window);
                }
                timer.mark("cells");
                paste(&mut out, &base_image, args.window, &base, base_map, size, &face, &alpha, seg.as_deref())?
            }
        }
        timer.mark("write");
        timer.report(args.time);
        Ok(true)
    }

    fn warn_device_once(&self, effect: &EffectHandle, report: &DeviceReport) {
        if report.is_gpu_fallback() && !self.device_warned.swap(true, std::sync::atomic::Ordering::AcqRel) {
            let _ = effect.set_persistent_message(
                ofx::plugin::MessageLevel::Warning,
                &format!("Living Portrait: GPU was requested but inference runs on {}: {}", report.used, report.reason.clone().unwrap_or_default()),
            );
        }
    }
}
