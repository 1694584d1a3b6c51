//! Stage 3, the generated face: the targets and references in crop space,
//! the reference whose mouth and eyes best match the target, the model
//! pack's generator (see [`crate::packs`]) and the paste matte made from the
//! hull and the generator's "changed" mask. In Full output the exact copy of
//! the portrait into the output, and the hull's cells, are made on a second
//! host thread while the generator runs; that thread also checks the content
//! of a guessed still as it copies it.

use std::sync::Arc;

use ofx::plugin::{EffectHandle, Image};
use ofx::{Error, Result};
use parking_lot::Mutex;

use crate::packs::generator::{GenerateError, GeneratedCrop, Planes, Reference, Target};
use super::geometry::{convex_hull, hull_matte, paste_hull, FaceState};
use super::head::{chin_fade, control_points, ControlPoints};
use super::matte::{CropMatte, HullCells, HULL_RES};
use super::output::{copy_window, WindowCopy};
use super::plane::{image_key, image_key_here};
use super::source::{PreparedSource, References};
use super::{fail, Frame, Renderer};
use crate::landmarks::Landmarks68;
use crate::params::{OutputMode, Settings};
// lp-rs: the Driver frames a neural pack reads.
use crate::packs::generator::{DriverCropped, DriverFrames};

/// A frame's landmarks in crop space: what the generator and the matte are
/// made from.
pub(super) struct CropLandmarks {
    /// The targets, in the base still's crop.
    pub(super) target: [[f32; 2]; 68],
    /// The targets' mouth and eye openness (to choose a reference).
    pub(super) state: FaceState,
    /// Each reference's own landmarks, in its crop.
    pub(super) references: Vec<[[f32; 2]; 68]>,
    /// The paste-back hull of the base still's landmarks and the targets.
    pub(super) hull: Vec<[f64; 2]>,
    /// The base still's own landmarks in its crop (for the still-body fade).
    pub(super) source: [[f32; 2]; 68],
    /// The extra control points of the head path (`head.rs`), in the base still's crop; empty without a mesh.
    pub(super) points: ControlPoints,
}

impl CropLandmarks {
    /// The landmarks of `targets` and of the reference stills `refs` (the base first).
    pub(super) fn of(refs: &[Arc<PreparedSource>], targets: &Landmarks68<f64>) -> CropLandmarks {
        let base = &refs[0];
        let target = base.crop.normalise_points(targets);
        let source = base.crop.normalise_points(&base.landmarks);
        let points = base.head.as_deref().map(|h| control_points(h, &source, &target)).unwrap_or_default();
        let mut hull = paste_hull(&source, &target);
        if !points.shell.is_empty() {
            // The hair and ears the head shell moves are pasted too.
            hull.extend_from_slice(&points.shell);
            hull = convex_hull(hull);
        }
        let references = refs.iter().map(|r| r.crop.normalise_points(&r.landmarks)).collect();
        CropLandmarks { target, state: FaceState::of(targets), references, hull, source, points }
    }

    /// The feathered paste hull on the hull grid, faded out below the chin line (the body stays).
    pub(super) fn hull_matte(&self, feather: f64) -> Vec<f32> {
        let mut m = hull_matte(&self.hull, HULL_RES, feather);
        chin_fade(&mut m, HULL_RES, &self.source, &self.target);
        m
    }

    /// The reference stills as the generator sees them.
    pub(super) fn generator_references<'a>(&'a self, refs: &'a [Arc<PreparedSource>]) -> Vec<Reference<'a>> {
        refs.iter().zip(&self.references).map(|(r, landmarks)| Reference { crop: &r.pixels, landmarks, key: r.key }).collect()
    }
}

/// lp-rs: what a neural pack reads besides the landmarks (see `Target`): the expression controls' values,
/// in Driver mode the landmarks before the controls (crop coordinates) and the Driver frames cropped for it.
pub(super) struct NeuralDrive {
    pub(super) controls: [f64; 12],
    pub(super) before: Option<[[f32; 2]; 68]>,
    pub(super) crops: Option<[super::drive::DriverCropped; 2]>,
}

/// What the generator stage hands to the paste: the generated crop (none in
/// Matte output, which needs no generator), the paste matte, and whether the
/// output already holds the exact copy of the portrait.
pub(super) struct Generated {
    pub(super) crop: Option<GeneratedCrop>,
    pub(super) matte: CropMatte,
    pub(super) copied: bool,
}

impl Renderer {
    /// Run the generator (not in Matte output) and make the paste matte; in
    /// Full output copy the portrait into `out` meanwhile. `Ok(None)`: the
    /// guessed still turned out to differ, and nothing is final.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn generate(&self, effect: &EffectHandle, s: &Settings, frame: &Frame<'_>, refs: &References, lms: &CropLandmarks, neural: Option<&NeuralDrive>, out: &mut Image) -> Result<Option<Generated>> {
        let size = s.resolution;
        let feather = s.feather * 0.5; // eye distance ≈ 0.5 normalised units
        let make_hull = || lms.hull_matte(feather);
        if s.output == OutputMode::Matte {
            return Ok(Some(Generated { crop: None, matte: CropMatte::new(make_hull(), None, size), copied: false }));
        }
        let chosen = refs
            .prepared
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.state.distance(&lms.state).total_cmp(&b.1.state.distance(&lms.state)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let generator = self.generator(s.device, s.model_pack.as_deref())?;
        self.warn_device_once(effect, generator.device_report());
        self.notice_once(effect, generator.notice());
        let references = lms.generator_references(&refs.prepared);
        let mut target = Target::new(&lms.target);
        // The control points are made on the base still: they go with it only.
        if chosen == 0 {
            target.source_points = &lms.points.source;
            target.target_points = &lms.points.target;
        }
        if let Some(n) = neural {
            target.controls = n.controls;
            target.before_expressions = n.before.as_ref();
            target.driver = n.crops.as_ref().map(|[now, reference]| DriverFrames {
                now: DriverCropped { pixels: &now.0, key: now.1 },
                reference: DriverCropped { pixels: &reference.0, key: reference.1 },
            });
        }
        let generate = || generator.generate(size, &references, chosen, &target, Some(frame.abort));
        let (result, hull_cells, copied) = if s.output == OutputMode::Full {
            let beside = BesideCopy { refs, frame, make_hull: &|| HullCells::new(&make_hull(), size) };
            match beside.run(&generate, out)? {
                Some((result, cells)) => (result, cells, true),
                None => {
                    *self.guess.lock() = None;
                    return Ok(None);
                }
            }
        } else {
            (generate(), None, false)
        };
        let mut g = result.map_err(|e| if (frame.abort)() { Error::Aborted } else { fail(e.to_string()) })?;
        let hull = hull_cells.unwrap_or_else(|| HullCells::new(&make_hull(), size));
        let matte = CropMatte::from_hull(hull, Some(&g.changed));
        // The mask is in the matte now: its buffer goes back.
        g.changed = Planes::default();
        Ok(Some(Generated { crop: Some(g), matte, copied }))
    }
}

/// A generator's answer.
type Generation = std::result::Result<GeneratedCrop, GenerateError>;

/// Full output's second host thread: the exact copy of the base still into
/// the output (hashing it as it goes when it was guessed), then the hull's
/// cells.
struct BesideCopy<'a> {
    refs: &'a References,
    frame: &'a Frame<'a>,
    make_hull: &'a (dyn Fn() -> HullCells + Sync),
}

impl BesideCopy<'_> {
    /// Run `generate` on one host thread and the copy on another; None when a
    /// guessed still's content differs.
    fn run(&self, generate: &(dyn Fn() -> Generation + Sync), out: &mut Image) -> Result<Option<(Generation, Option<HullCells>)>> {
        let (base_image, window, check) = (&self.refs.base_image, self.frame.window, self.refs.check);
        let slot = Mutex::new(None);
        let target = Mutex::new(out);
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
                        let mut copy = WindowCopy::new(&mut out, Some(base_image.layout()), window);
                        let same = image_key_here(base_image, salt, |y, row| copy.row(y, Some(row))) == key;
                        copy.finish();
                        *checked.lock() = Some(same);
                    }
                    None => copy_window(&mut out, base_image, window),
                }
                drop(out);
                *hull_slot.lock() = Some((self.make_hull)());
            }
            Ok(())
        })?;
        let checked = match (check, checked.into_inner()) {
            (None, _) => true,
            (Some(_), Some(same)) => same,
            // The second thread did not run (a host without threads runs them in turn, so this is rare).
            (Some((salt, key)), None) => image_key(base_image, salt) == key,
        };
        if !checked {
            return Ok(None);
        }
        let result = slot.into_inner().unwrap_or(Err(GenerateError::NotRun));
        Ok(Some((result, hull_slot.into_inner())))
    }
}
