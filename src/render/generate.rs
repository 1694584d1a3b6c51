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

use crate::packs::generator::{GenerateError, GeneratedCrop, IrisTarget, Planes, Reference, Target};
use super::geometry::{convex_hull, hull_matte, paste_hull, FaceState};
use super::head::{chin_fade, control_points, jaw_line_moved, ControlPoints};
use super::matte::{CropMatte, HullCells, HULL_RES};
use super::output::{copy_window, WindowCopy};
use super::plane::{image_key, image_key_here};
use super::source::{PreparedSource, References};
use super::{fail, Frame, Renderer};
use crate::landmarks::Landmarks68;
use crate::params::{OutputMode, Settings};
// The Driver frames a neural pack reads.
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
    /// The iris shift the Driver clip's gaze asks for (set by the render when it has one).
    pub(super) drive_gaze: Option<[f64; 2]>,
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
        CropLandmarks { target, state: FaceState::of(targets), references, hull, source, points, drive_gaze: None }
    }

    /// The feathered paste hull on the hull grid, faded out below the chin line (the body stays).
    pub(super) fn hull_matte(&self, feather: f64) -> Vec<f32> {
        let mut m = hull_matte(&self.hull, HULL_RES, feather);
        // The body below the chin can only move when the jaw line or the head does.
        if jaw_line_moved(&self.source, &self.target) || !self.points.source.is_empty() {
            chin_fade(&mut m, HULL_RES, &self.source, &self.target);
        }
        m
    }

    /// The reference stills as the generator sees them.
    pub(super) fn generator_references<'a>(&'a self, refs: &'a [Arc<PreparedSource>]) -> Vec<Reference<'a>> {
        refs.iter().zip(&self.references).map(|(r, landmarks)| Reference { crop: &r.pixels, landmarks, key: r.key }).collect()
    }
}

/// What a neural pack reads besides the landmarks (see `Target`): the expression controls' values,
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
        let drive_gaze = match lms.drive_gaze {
            Some(g) => Some(g),
            None => self.drive_gaze(s, refs.prepared[0].image_size, frame.time)?,
        };
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
        target.irises = gaze_irises(s, drive_gaze, &refs.prepared, lms, chosen);
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

// The gaze.
impl Renderer {
    /// The iris shift the track's gaze asks for at `time` (face frame: towards the subject's left, towards the
    /// chin; inter-ocular distances), when `gazeFromTrack` is on and the drive is a track that carries a gaze: an
    /// OpenFace gaze angle θ gives `GAZE_RADIUS_IOD · sin θ`, MediaPipe 478-point irises their offset from the
    /// eye's centre. The nearest earlier frame's (held), less the motion reference frame's in relative motion (the
    /// track's first such frame when no reference frame is set, and for iris points in absolute motion).
    fn drive_gaze(&self, s: &Settings, image_size: [u32; 2], time: f64) -> Result<Option<[f64; 2]>> {
        if !s.gaze_from_track || s.drive != crate::params::DriveMode::TrackFile {
            return Ok(None);
        }
        let track = self.load_track(s, image_size)?;
        let r = crate::expressions::GAZE_RADIUS_IOD;
        let from_angles: Vec<(u32, [f64; 2])> = track
            .gaze
            .iter()
            .map(|(f, g)| (*f, [r * (g[0] as f64).to_radians().sin(), -r * (g[1] as f64).to_radians().sin()]))
            .collect();
        let from_irises: Vec<(u32, [f64; 2])> = track
            .irises
            .iter()
            .filter_map(|(f, i)| Some((*f, super::geometry::iris_offset(track.frame(*f)?.landmarks.as_ref()?, i)?)))
            .collect();
        // OpenFace's angles are absolute (0 looks into the camera); iris offsets are measured from the first frame
        let angles = !from_angles.is_empty();
        let series = if angles { from_angles } else { from_irises };
        let at = |frame: i64| -> Option<[f64; 2]> {
            let f = frame.clamp(0, u32::MAX as i64) as u32;
            let i = series.partition_point(|g| g.0 <= f);
            Some(if i > 0 { series[i - 1].1 } else { series.first()?.1 })
        };
        let Some(now) = at(time.round() as i64 + s.track_frame_offset as i64) else { return Ok(None) };
        if angles && !s.relative {
            return Ok(Some(now));
        }
        let reference = if s.relative && s.motion_reference_frame >= 0 {
            at(s.motion_reference_frame as i64)
        } else {
            series.first().map(|g| g.1)
        };
        Ok(reference.map(|r| [now[0] - r[0], now[1] - r[1]]))
    }
}


/// Largest distance of an iris centre from the eye's centre along the eye, in eye half-widths (the iris's radius is
/// about 0.4 of them: a wider gaze would push it under the corner).
const IRIS_MAX_U: f64 = 0.55;
/// The same across the eye (up and down), in eye half-widths.
const IRIS_MAX_T: f64 = 0.35;

/// The irises of this frame when it has a gaze (the `gazeX` / `gazeY` controls, or the drive's), wide eyes
/// (`eyeWide…`) or eyes opening wider than the chosen reference's (both need the eye model so as not to stretch
/// the iris): the chosen reference's iris
/// centres carried by each eye's motion (their place relative to the eye's corners kept), then moved by the
/// gaze in the target face's frame, and kept inside the eye. `None` without a gaze or without the reference's
/// irises (overridden landmarks), so a frame without them asks the generator for nothing new.
fn gaze_irises(s: &Settings, drive: Option<[f64; 2]>, refs: &[Arc<PreparedSource>], lms: &CropLandmarks, chosen: usize) -> Option<IrisTarget> {
    let d = drive.unwrap_or([0.0, 0.0]);
    let e = &s.expressions;
    let c = e.gaze_shift();
    let shift = [c[0] + d[0], c[1] + d[1]];
    let wider = eyes_open_wider(lms.references.get(chosen)?, &lms.target);
    if shift == [0.0, 0.0] && e.eye_wide_left == 0.0 && e.eye_wide_right == 0.0 && !wider {
        return None;
    }
    let r = refs.get(chosen)?;
    let irises = r.irises?;
    let source = irises.map(|p| {
        let n = r.crop.to_normalised(p);
        [n[0] as f32, n[1] as f32]
    });
    let target = move_irises(&lms.references[chosen], source, &lms.target, shift);
    Some(IrisTarget { source, target })
}

/// Share by which an eye's opening (lid gap over eye width) may grow before the eye model takes the frame.
const WIDER_EYE: f32 = 0.04;

/// Whether either eye of `to` opens wider than in `from` (a track or a Driver opening the eyes wider than the
/// portrait's): such frames go through the eye model, which shows more sclera around a round iris instead of
/// stretching the iris with the lids.
fn eyes_open_wider(from: &[[f32; 2]; 68], to: &[[f32; 2]; 68]) -> bool {
    let d = |l: &[[f32; 2]; 68], a: usize, b: usize| (l[a][0] - l[b][0]).hypot(l[a][1] - l[b][1]);
    let open = |l: &[[f32; 2]; 68], [c0, u0, u1, c1, l1, l0]: [usize; 6]| (d(l, u0, l0) + d(l, u1, l1)) / (2.0 * d(l, c0, c1).max(1e-6));
    [[36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47]].into_iter().any(|eye| {
        let (a, b) = (open(from, eye), open(to, eye));
        b > a * (1.0 + WIDER_EYE) && b - a > 0.01
    })
}

/// Where irises at `source` (normalised crop coordinates) go when the eyes move from `from` to `to` and the gaze
/// shifts them by `shift` (face frame: towards the subject's left eye and towards the chin, inter-ocular
/// distances of `to`).
pub(crate) fn move_irises(from: &[[f32; 2]; 68], source: [[f32; 2]; 2], to: &[[f32; 2]; 68], shift: [f64; 2]) -> [[f32; 2]; 2] {
    let p = |l: &[[f32; 2]; 68], i: usize| [l[i][0] as f64, l[i][1] as f64];
    let mean = |l: &[[f32; 2]; 68], r: std::ops::Range<usize>| {
        let n = r.len() as f64;
        r.fold([0.0, 0.0], |a, i| [a[0] + l[i][0] as f64 / n, a[1] + l[i][1] as f64 / n])
    };
    // The target face's frame (crop coordinates, y down): ex along the eyes, ey towards the chin.
    let (re, le) = (mean(to, 36..42), mean(to, 42..48));
    let d = [le[0] - re[0], le[1] - re[1]];
    let iod = d[0].hypot(d[1]).max(1e-9);
    let ex = [d[0] / iod, d[1] / iod];
    let ey = [-ex[1], ex[0]];
    let frame = |l: &[[f32; 2]; 68], a: usize, b: usize| {
        let (c0, c1) = (p(l, a), p(l, b));
        let m = [(c0[0] + c1[0]) / 2.0, (c0[1] + c1[1]) / 2.0];
        let h = ((c1[0] - c0[0]).hypot(c1[1] - c0[1]) / 2.0).max(1e-9);
        let ax = [(c1[0] - c0[0]) / (2.0 * h), (c1[1] - c0[1]) / (2.0 * h)];
        (m, ax, [-ax[1], ax[0]], h)
    };
    let mut out = [[0.0f32; 2]; 2];
    for (k, (a, b)) in [(36, 39), (42, 45)].into_iter().enumerate() {
        let (ms, axs, ns, hs) = frame(from, a, b);
        let q = [source[k][0] as f64 - ms[0], source[k][1] as f64 - ms[1]];
        let (u, t) = ((q[0] * axs[0] + q[1] * axs[1]) / hs, (q[0] * ns[0] + q[1] * ns[1]) / hs);
        let (mt, axt, nt, ht) = frame(to, a, b);
        let g = [shift[0] * iod, shift[1] * iod];
        let v = [g[0] * ex[0] + g[1] * ey[0], g[0] * ex[1] + g[1] * ey[1]];
        // The gaze in the target eye's own frame, added, and the centre kept inside the eye.
        // (an iris the portrait already shows farther out may stay where it is)
        let (lu, lt) = (IRIS_MAX_U.max(u.abs()), IRIS_MAX_T.max(t.abs()));
        let u2 = (u + (v[0] * axt[0] + v[1] * axt[1]) / ht).clamp(-lu, lu);
        let t2 = (t + (v[0] * nt[0] + v[1] * nt[1]) / ht).clamp(-lt, lt);
        out[k] = [(mt[0] + ht * (u2 * axt[0] + t2 * nt[0])) as f32, (mt[1] + ht * (u2 * axt[1] + t2 * nt[1])) as f32];
    }
    out
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
