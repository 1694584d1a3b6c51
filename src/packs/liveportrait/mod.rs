//! The `liveportrait` pack kind: LivePortrait's seven networks (Guo et al. 2024, "LivePortrait: Efficient
//! Portrait Animation with Stitching and Retargeting Control"; KwaiVGI/LivePortrait, MIT) run as ONNX models the
//! user converts from the public weights (`resources/models/liveportrait/`), driven by everything the node has.
//!
//! Per reference still, once (cached by content, landmarks and working size in a small LRU shared by the render
//! threads; the first thread computes, the others wait): LivePortrait's crop square from our own 68 landmarks in
//! our face crop (`maths::CropSquare`; where it leaves our crop the edge pixels repeat), sampled to 256, then the
//! appearance extractor's 3-D features and the motion extractor's keypoints, pose, expression, scale and
//! translation, and the source keypoints `x_s`.
//!
//! Per frame, the driving keypoints `x_d`: (a) in Driver mode, the driver's frame now and at the motion reference
//! frame (cropped by the render with the pack's convention, their motion cached by content) give LivePortrait's
//! relative motion exactly (`maths::relative_driving`); (b) from landmarks (a track, keys, or expressions alone),
//! the target's head pose against the still's (`crate::face::pose`, a 3-D face model fitted to the 68 points),
//! its translation and scale, with the expression kept; (c) the expression controls' head turn as one more
//! rotation, smile and brow raise as LivePortrait's own expression offsets for them (its image-retargeting
//! controls), and eye and lip openness (the ratios of `maths`, from the target's landmarks) through the retargeting networks, as the change
//! from the still's own openness (from the openness before the controls in Driver mode), so a neutral target adds
//! exactly nothing. Then the stitching network, the warping module and the SPADE generator (512²).
//!
//! The 512 output covers LivePortrait's square, which mostly lies inside our crop: it is resampled (bilinear; at working
//! resolution 1024 that is an upscale of about two) into our crop, with `changed` fading to 0 over the square's
//! outer 8 % so the paste-back blends it into the plate, and the reference's own pixels outside it. The render's
//! hull matte then limits the paste, so pixels outside it stay bit-exact.
//!
//! Several reference stills: the render's choice per frame (the still whose mouth and eyes match best, as for the
//! warp), each still's features and keypoints cached; its generated square is carried into the first still's crop
//! (the frame the render pastes) by the similarity between the two stills' rigid landmarks. LivePortrait's features are a 3-D volume of one face in its
//! own pose; an average of several stills' volumes would blur features that do not line up, so choosing wins.

pub mod maths;

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use super::generator::{CropPixels, DriverCrop, GenerateError, GeneratedCrop, Generator, Planes, Reference, Target};
use super::manifest::{LivePortraitConventions, Manifest};
use super::PackError;
use crate::inference::{DeviceReport, SessionPool, TensorInput, TensorOutput};
use maths::{CropSquare, Mat3, Motion, NUM_KP};

/// Reference stills whose features are kept (about 8 MB each).
pub const SOURCE_CACHE_ENTRIES: usize = 8;
/// Driver frames whose motion is kept (a few hundred bytes each).
pub const MOTION_CACHE_ENTRIES: usize = 512;
/// The fraction of LivePortrait's square over which its output fades into the plate.
const EDGE_FADE: f64 = 0.08;

/// The one-time message on the CPU (figures measured with the published architecture on 2 CPU cores, resources/models/liveportrait/README.md).
pub const CPU_NOTICE: &str = "Living Portrait: the LivePortrait pack runs on the CPU: it is for final renders, not \
scrubbing (~8–20 s per frame, ~3 GB of memory); a GPU makes it interactive.";

/// The seven session pools of a pack, by role.
pub struct LivePortraitModels {
    pub appearance: Arc<SessionPool>,
    pub motion: Arc<SessionPool>,
    pub warping: Arc<SessionPool>,
    pub generator: Arc<SessionPool>,
    pub stitching: Arc<SessionPool>,
    pub retarget_eye: Arc<SessionPool>,
    pub retarget_lip: Arc<SessionPool>,
}

/// What a reference still gives once: its square, features and keypoints, its openness and the retargeting
/// networks' answer to that openness.
pub struct SourceState {
    /// LivePortrait's square in the still's normalised crop coordinates.
    pub square: CropSquare,
    /// The 256² crop fed to the extractors (planar RGB).
    pub crop: Vec<f32>,
    feature: Planes,
    /// The extractor's motion of the still.
    pub motion: Motion,
    /// The source keypoints.
    pub x_s: [[f64; 3]; NUM_KP],
    eyes: [f64; 2],
    lip: f64,
}

impl SourceState {
    /// The appearance extractor's features, [1, 32, 16, 64, 64].
    pub fn feature(&self) -> &[f32] {
        &self.feature
    }
}

type Cell<T> = Arc<OnceCell<Arc<T>>>;
type Lru<T> = lru::LruCache<u128, Cell<T>>;

/// A `liveportrait` pack's generator.
pub struct LivePortraitGenerator {
    models: LivePortraitModels,
    conventions: LivePortraitConventions,
    sources: Mutex<Lru<SourceState>>,
    motions: Mutex<Lru<Motion>>,
    appearance_runs: AtomicU64,
    motion_runs: AtomicU64,
    generator_runs: AtomicU64,
}

impl LivePortraitGenerator {
    pub(super) fn new(manifest: &Manifest, models: LivePortraitModels) -> Result<LivePortraitGenerator, PackError> {
        let conventions = manifest.conventions.ok_or_else(|| PackError::Manifest {
            dir: manifest.dir.clone(),
            field: "conventions".into(),
            reason: "is missing".into(),
        })?;
        let cap = |n: usize| NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN);
        Ok(LivePortraitGenerator {
            models,
            conventions,
            sources: Mutex::new(lru::LruCache::new(cap(SOURCE_CACHE_ENTRIES))),
            motions: Mutex::new(lru::LruCache::new(cap(MOTION_CACHE_ENTRIES))),
            appearance_runs: AtomicU64::new(0),
            motion_runs: AtomicU64::new(0),
            generator_runs: AtomicU64::new(0),
        })
    }

    /// How many times the appearance extractor ran (once per reference still and working size).
    pub fn appearance_runs(&self) -> u64 {
        self.appearance_runs.load(Ordering::Relaxed)
    }

    /// How many times the motion extractor ran (sources and driver frames, each once).
    pub fn motion_runs(&self) -> u64 {
        self.motion_runs.load(Ordering::Relaxed)
    }

    /// How many frames the generator made.
    pub fn generator_runs(&self) -> u64 {
        self.generator_runs.load(Ordering::Relaxed)
    }

    /// The pack's conventions.
    pub fn conventions(&self) -> &LivePortraitConventions {
        &self.conventions
    }

    /// A reference still's state at the working `size`, computed once.
    pub fn source(&self, size: usize, r: &Reference<'_>, abort: Option<&dyn Fn() -> bool>) -> Result<Arc<SourceState>, GenerateError> {
        if r.crop.len() != 3 * size * size {
            return Err(GenerateError::References(format!("the reference crop has {} values, not 3×{size}×{size}", r.crop.len())));
        }
        let key = source_key(r, size);
        let cell = self.sources.lock().get_or_insert(key, Default::default).clone();
        cell.get_or_try_init(|| self.prepare_source(size, r, abort).map(Arc::new)).cloned()
    }

    fn prepare_source(&self, size: usize, r: &Reference<'_>, abort: Option<&dyn Fn() -> bool>) -> Result<SourceState, GenerateError> {
        let c = &self.conventions;
        let points = to_f64(r.landmarks);
        let square = CropSquare::from_landmarks(&points, c.crop.scale, c.crop.vx_ratio, c.crop.vy_ratio);
        let crop = sample_square(r.crop, size, &square, c.input_size);
        self.source_from_crop(crop, square, &points, abort)
    }

    /// A still's state from its LivePortrait crop (`input_size`², planar RGB), the square it was cut from and its
    /// landmarks in the same frame (for the openness ratios).
    pub fn source_from_crop(&self, crop: Vec<f32>, square: CropSquare, points: &[[f64; 2]; 68], abort: Option<&dyn Fn() -> bool>) -> Result<SourceState, GenerateError> {
        let side = self.conventions.input_size;
        if crop.len() != 3 * side * side {
            return Err(GenerateError::References(format!("a source crop has {} values, not 3×{side}×{side}", crop.len())));
        }
        let shape = [1, 3, side, side];
        let outputs = self.models.appearance.run(&[TensorInput { name: "image", shape: &shape, data: &crop }], abort)?;
        self.appearance_runs.fetch_add(1, Ordering::Relaxed);
        let feature = take(outputs, "feature_3d", 32 * 16 * 64 * 64, "appearance")?;
        let motion = self.run_motion(&crop, abort)?;
        let x_s = source_keypoints(&motion);
        Ok(SourceState { square, crop, feature, motion, x_s, eyes: maths::eye_ratios(points), lip: maths::lip_ratio(points) })
    }

    /// The motion extractor on one 256² crop, the pose in degrees.
    pub fn run_motion(&self, crop: &[f32], abort: Option<&dyn Fn() -> bool>) -> Result<Motion, GenerateError> {
        let c = &self.conventions;
        let side = c.input_size;
        if crop.len() != 3 * side * side {
            return Err(GenerateError::References(format!("a motion crop has {} values, not 3×{side}×{side}", crop.len())));
        }
        let shape = [1, 3, side, side];
        let outputs = self.models.motion.run(&[TensorInput { name: "image", shape: &shape, data: crop }], abort)?;
        self.motion_runs.fetch_add(1, Ordering::Relaxed);
        let get = |name: &str, len: usize| -> Result<Vec<f64>, GenerateError> {
            let o = outputs.iter().find(|o| o.name == name && o.data.len() == len).ok_or_else(|| {
                GenerateError::ModelOutput(format!("the LivePortrait motion extractor did not return '{name}' of {len} values"))
            })?;
            if o.data.iter().any(|v| !v.is_finite()) {
                return Err(GenerateError::ModelOutput(format!("the LivePortrait motion extractor returned a non-finite '{name}'")));
            }
            Ok(o.data.iter().map(|&v| v as f64).collect())
        };
        let pose = |name: &str| -> Result<f64, GenerateError> {
            let logits: Vec<f32> = get(name, c.pose_bins)?.iter().map(|&v| v as f32).collect();
            Ok(maths::pose_degrees(&logits, c.bin_degrees, c.bin_offset_degrees))
        };
        let points = |v: Vec<f64>| {
            let mut p = [[0.0; 3]; NUM_KP];
            for (i, q) in p.iter_mut().enumerate() {
                *q = [v[3 * i], v[3 * i + 1], v[3 * i + 2]];
            }
            p
        };
        let t = get("t", 3)?;
        Ok(Motion {
            pitch: pose("pitch")?,
            yaw: pose("yaw")?,
            roll: pose("roll")?,
            t: [t[0], t[1], t[2]],
            exp: points(get("exp", 3 * NUM_KP)?),
            scale: get("scale", 1)?[0],
            kp: points(get("kp", 3 * NUM_KP)?),
        })
    }

    /// A driver frame's motion, computed once per content.
    fn driver_motion(&self, pixels: &[f32], key: u128, abort: Option<&dyn Fn() -> bool>) -> Result<Arc<Motion>, GenerateError> {
        let cell = self.motions.lock().get_or_insert(key, Default::default).clone();
        cell.get_or_try_init(|| self.run_motion(pixels, abort).map(Arc::new)).cloned()
    }

    /// A small network on one flat input, returning `delta` of `len` values.
    fn small(&self, pool: &SessionPool, name: &str, input: &[f32], len: usize, abort: Option<&dyn Fn() -> bool>) -> Result<Vec<f32>, GenerateError> {
        let shape = [1, input.len()];
        let outputs = pool.run(&[TensorInput { name, shape: &shape, data: input }], abort)?;
        let delta = take(outputs, "delta", len, "stitching or retargeting")?;
        if delta.iter().any(|v| !v.is_finite()) {
            return Err(GenerateError::ModelOutput("a LivePortrait stitching or retargeting network returned a non-finite delta".into()));
        }
        Ok(delta.to_vec())
    }

    /// A retargeting network's raw delta (21 × 3, flat): the eye network on `x_s` and (left eye, right eye,
    /// driving eye) openness, or the lip network on `x_s` and (source lip, driving lip) openness.
    pub fn retarget_raw(&self, lip: bool, x_s: &[[f64; 3]; NUM_KP], ratios: &[f64], abort: Option<&dyn Fn() -> bool>) -> Result<Vec<f32>, GenerateError> {
        let mut input = flat(x_s);
        input.extend(ratios.iter().map(|&v| v as f32));
        let pool = if lip { &self.models.retarget_lip } else { &self.models.retarget_eye };
        self.small(pool, "input", &input, 3 * NUM_KP, abort)
    }

    /// The stitching network's correction of driving keypoints `x_d` for the source `x_s`.
    pub fn stitch(&self, x_s: &[[f64; 3]; NUM_KP], x_d: &[[f64; 3]; NUM_KP], abort: Option<&dyn Fn() -> bool>) -> Result<[[f64; 3]; NUM_KP], GenerateError> {
        let mut input = flat(x_s);
        input.extend(flat(x_d));
        let delta = self.small(&self.models.stitching, "kp", &input, 3 * NUM_KP + 2, abort)?;
        let mut out = *x_d;
        maths::apply_stitching(&mut out, &delta);
        Ok(out)
    }

    /// The retargeting delta for a driving openness minus the delta at `rest`, or none when the two are the same
    /// (the common case: nothing changed the eyes or lips).
    fn retarget(&self, lip: bool, src: &SourceState, now: f64, rest: f64, abort: Option<&dyn Fn() -> bool>) -> Result<Option<Vec<f64>>, GenerateError> {
        if (now - rest).abs() < 1e-9 {
            return Ok(None);
        }
        let ratios = |c: f64| if lip { vec![src.lip, c] } else { vec![src.eyes[0], src.eyes[1], c] };
        let a = self.retarget_raw(lip, &src.x_s, &ratios(now), abort)?;
        let b = self.retarget_raw(lip, &src.x_s, &ratios(rest), abort)?;
        Ok(Some(a.iter().zip(&b).map(|(a, b)| (*a - *b) as f64).collect()))
    }

    /// The driving keypoints of one frame, stitched and retargeted, for the still `src` (whose landmarks are
    /// `src_points` in its crop) and the base still's landmarks `base_points` (the target's frame).
    pub fn driving_keypoints(
        &self,
        src: &SourceState,
        base_points: &[[f64; 2]; 68],
        target: &Target<'_>,
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<[[f64; 3]; NUM_KP], GenerateError> {
        let tgt = to_f64(target.landmarks);
        // The expression controls' head turn: degrees → LivePortrait's rotation (its roll turns clockwise on
        // screen, y being down; the controls' roll turns counter-clockwise). Smile and brows: LivePortrait's own
        // expression offsets for them.
        let c = &target.controls;
        let (yaw, pitch, roll) = (c[9], c[10], c[11]);
        let turn = maths::rotation(pitch, yaw, -roll);
        let extra = maths::control_offsets(c[1], (c[6] + c[7]) / 2.0);
        let mut x_d = match &target.driver {
            Some(d) => {
                let now = self.driver_motion(d.now.pixels, d.now.key, abort)?;
                let reference = self.driver_motion(d.reference.pixels, d.reference.key, abort)?;
                maths::relative_driving(&src.motion, &now, &reference, &turn, &extra)
            }
            None => landmark_driving(src, base_points, &tgt, &turn, &extra),
        };
        x_d = self.stitch(&src.x_s, &x_d, abort)?;
        // Openness: the target's against the still's own, or against the same frame before the controls.
        let rest_points = target.before_expressions.map(to_f64);
        let (rest_eye, rest_lip) = match &rest_points {
            Some(p) => (mean2(maths::eye_ratios(p)), maths::lip_ratio(p)),
            None => (mean2(src.eyes), src.lip),
        };
        let deltas = [
            self.retarget(false, src, mean2(maths::eye_ratios(&tgt)), rest_eye, abort)?,
            self.retarget(true, src, maths::lip_ratio(&tgt), rest_lip, abort)?,
        ];
        for delta in deltas.into_iter().flatten() {
            for (i, p) in x_d.iter_mut().enumerate() {
                for j in 0..3 {
                    p[j] += delta[3 * i + j];
                }
            }
        }
        Ok(x_d)
    }

    /// Warping and generator: the 512² RGB image of the still moved to `x_d`.
    pub fn render_keypoints(&self, src: &SourceState, x_d: &[[f64; 3]; NUM_KP], abort: Option<&dyn Fn() -> bool>) -> Result<Planes, GenerateError> {
        let (kp_d, kp_s) = (flat(x_d), flat(&src.x_s));
        let feature_shape = [1, 32, 16, 64, 64];
        let kp_shape = [1, NUM_KP, 3];
        let inputs = [
            TensorInput { name: "feature_3d", shape: &feature_shape, data: &src.feature },
            TensorInput { name: "kp_driving", shape: &kp_shape, data: &kp_d },
            TensorInput { name: "kp_source", shape: &kp_shape, data: &kp_s },
        ];
        let warped = take(self.models.warping.run(&inputs, abort)?, "warped_feature", 256 * 64 * 64, "warping")?;
        let shape = [1, 256, 64, 64];
        let out = self.models.generator.run(&[TensorInput { name: "warped_feature", shape: &shape, data: &warped }], abort)?;
        drop(warped);
        let side = self.conventions.output_size;
        let mut image = take(out, "image", 3 * side * side, "generator")?;
        self.generator_runs.fetch_add(1, Ordering::Relaxed);
        for v in image.iter_mut() {
            *v = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
        }
        Ok(image)
    }
}

impl Generator for LivePortraitGenerator {
    fn generate(
        &self,
        size: usize,
        references: &[Reference<'_>],
        chosen: usize,
        target: &Target<'_>,
        abort: Option<&dyn Fn() -> bool>,
    ) -> Result<GeneratedCrop, GenerateError> {
        let r = references.get(chosen).ok_or_else(|| GenerateError::References("no reference still to animate".into()))?;
        let b = &references[0];
        if b.crop.len() != 3 * size * size {
            return Err(GenerateError::References(format!("the first reference crop has {} values, not 3×{size}×{size}", b.crop.len())));
        }
        let base = to_f64(b.landmarks);
        let src = self.source(size, r, abort)?;
        let x_d = self.driving_keypoints(&src, &base, target, abort)?;
        let image = self.render_keypoints(&src, &x_d, abort)?;
        // The crop is the first still's (the render pastes it through that still's crop): another still's square
        // is carried over by the similarity between the two stills' rigid points.
        let square = if chosen == 0 { src.square } else { carry_square(&src.square, &to_f64(r.landmarks), &base) };
        let (rgb, changed) = paste_square(&image, self.conventions.output_size, &square, b.crop, size);
        Ok(GeneratedCrop { size, pixels: CropPixels::Rgb(rgb.into()), changed: changed.into(), reference: 0 })
    }

    fn device_report(&self) -> &DeviceReport {
        self.models.generator.device_report()
    }

    fn driver_crop(&self) -> Option<DriverCrop> {
        let c = &self.conventions;
        Some(DriverCrop { side: c.input_size, scale: c.crop.scale, vx_ratio: c.crop.vx_ratio, vy_ratio: c.crop.vy_ratio })
    }

    fn takes_controls(&self) -> bool {
        true
    }

    fn notice(&self) -> Option<String> {
        (self.device_report().used == "CPU").then(|| CPU_NOTICE.to_string())
    }
}

/// The driving keypoints from landmarks: the target's head pose (`crate::face::pose`, a 3-D face model fitted to
/// the 68 points), translation and scale against the base still's (the target is in the base's crop frame),
/// the still's expression kept; then `turn`.
fn landmark_driving(src: &SourceState, base: &[[f64; 2]; 68], tgt: &[[f64; 2]; 68], turn: &Mat3, extra: &[[f64; 3]; NUM_KP]) -> [[f64; 3]; NUM_KP] {
    let m = &src.motion;
    let rel = match (head_rotation(base), head_rotation(tgt)) {
        (Some(b), Some(t)) => maths::matmul(turn, &maths::matmul(&t, &maths::transpose(&b))),
        _ => *turn,
    };
    let r_new = maths::matmul(&rel, &maths::rotation(m.pitch, m.yaw, m.roll));
    let (cb, sb) = rigid_frame(base);
    let (ct, st) = rigid_frame(tgt);
    let scale = if sb > 1e-9 { m.scale * st / sb } else { m.scale };
    // LivePortrait's keypoints span [-1, 1] over its square, x and y along the square's axes.
    let k = 2.0 / src.square.size.max(1e-9);
    let d = [ct[0] - cb[0], ct[1] - cb[1]];
    let (ux, uy) = (src.square.ux, src.square.uy);
    let t = [m.t[0] + k * (d[0] * ux[0] + d[1] * ux[1]), m.t[1] + k * (d[0] * uy[0] + d[1] * uy[1]), 0.0];
    let mut exp = m.exp;
    maths::add(&mut exp, extra);
    maths::transform(&m.kp, &r_new, &exp, scale, t)
}

/// The head pose of 68 points (y down), fitted to the points that move with the skull (so a jaw drop or a smile
/// is no nod), as a LivePortrait rotation: our roll turns counter-clockwise on screen,
/// LivePortrait's clockwise (its y is down too); yaw and pitch keep their signs.
fn head_rotation(p: &[[f64; 2]; 68]) -> Option<Mat3> {
    let points = p.map(|q| [q[0] as f32, q[1] as f32]);
    crate::face::pose::head_pose_of(&points, &crate::face::pose::RIGID_POINTS).map(|pose| maths::rotation(pose.pitch, pose.yaw, -pose.roll))
}

/// The square `sq` of a still with landmarks `from`, carried into the frame of landmarks `to` by the
/// least-squares similarity between their rigid points (`crate::face::pose::RIGID_POINTS`).
fn carry_square(sq: &CropSquare, from: &[[f64; 2]; 68], to: &[[f64; 2]; 68]) -> CropSquare {
    let (cf, _) = rigid_frame(from);
    let (ct, _) = rigid_frame(to);
    // z_to − c_to = (a + i b)(z_from − c_from), least squares over the rigid points.
    let (mut num_a, mut num_b, mut den) = (0.0, 0.0, 0.0);
    for &i in crate::face::pose::RIGID_POINTS.iter() {
        let (x, y) = (from[i][0] - cf[0], from[i][1] - cf[1]);
        let (u, v) = (to[i][0] - ct[0], to[i][1] - ct[1]);
        num_a += x * u + y * v;
        num_b += x * v - y * u;
        den += x * x + y * y;
    }
    if den <= 1e-12 || !den.is_finite() {
        return *sq;
    }
    let (a, b) = (num_a / den, num_b / den);
    let map = |p: [f64; 2]| [a * p[0] - b * p[1], b * p[0] + a * p[1]];
    let d = map([sq.centre[0] - cf[0], sq.centre[1] - cf[1]]);
    let k = a.hypot(b);
    let turn = |v: [f64; 2]| {
        let w = map(v);
        [w[0] / k, w[1] / k]
    };
    CropSquare { centre: [ct[0] + d[0], ct[1] + d[1]], size: sq.size * k, ux: turn(sq.ux), uy: turn(sq.uy) }
}

/// The centre and RMS spread of the points that move with the skull (`crate::face::pose::RIGID_POINTS`).
fn rigid_frame(p: &[[f64; 2]; 68]) -> ([f64; 2], f64) {
    use crate::face::pose::RIGID_POINTS as RIGID;
    let n = RIGID.len() as f64;
    let c = [RIGID.iter().map(|&i| p[i][0]).sum::<f64>() / n, RIGID.iter().map(|&i| p[i][1]).sum::<f64>() / n];
    let spread = (RIGID.iter().map(|&i| (p[i][0] - c[0]).powi(2) + (p[i][1] - c[1]).powi(2)).sum::<f64>() / n).sqrt();
    (c, spread)
}

/// The source keypoints `x_s = scale · (kp · R_s + exp) + t` (t's x and y).
pub fn source_keypoints(m: &Motion) -> [[f64; 3]; NUM_KP] {
    maths::transform(&m.kp, &maths::rotation(m.pitch, m.yaw, m.roll), &m.exp, m.scale, m.t)
}

fn mean2(v: [f64; 2]) -> f64 {
    (v[0] + v[1]) / 2.0
}

fn flat(kp: &[[f64; 3]; NUM_KP]) -> Vec<f32> {
    kp.iter().flatten().map(|&v| v as f32).collect()
}

fn to_f64(p: &[[f32; 2]; 68]) -> [[f64; 2]; 68] {
    p.map(|q| [q[0] as f64, q[1] as f64])
}

/// The output named `name` with `len` values.
fn take(outputs: Vec<TensorOutput>, name: &str, len: usize, what: &str) -> Result<Planes, GenerateError> {
    outputs
        .into_iter()
        .find(|o| o.name == name && o.data.len() == len)
        .map(|o| o.data)
        .ok_or_else(|| GenerateError::ModelOutput(format!("the LivePortrait {what} network did not return '{name}' of {len} values")))
}

/// What a still's cached state depends on: its content, its landmarks (an override changes the crop) and the
/// working size.
fn source_key(r: &Reference<'_>, size: usize) -> u128 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in r.landmarks.iter().flatten().map(|v| v.to_bits() as u64).chain([size as u64]) {
        for b in v.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    r.key ^ ((h as u128) << 64 | h.rotate_left(29) as u128)
}

/// Bilinear sample of one plane of a `size`² image at pixel coordinates (centres at whole numbers), edges
/// repeated.
fn bilinear(plane: &[f32], size: usize, x: f64, y: f64) -> f32 {
    let max = (size - 1) as f64;
    let (x, y) = (x.clamp(0.0, max), y.clamp(0.0, max));
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(size - 1), (y0 + 1).min(size - 1));
    let (tx, ty) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
    let at = |xx: usize, yy: usize| plane[yy * size + xx];
    let a = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * tx;
    let b = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * tx;
    a + (b - a) * ty
}

/// LivePortrait's `side`² crop of the square, sampled from our `size`² crop (normalised coordinates; where the
/// square leaves our crop, the edge pixels repeat).
pub fn sample_square(crop: &[f32], size: usize, square: &CropSquare, side: usize) -> Vec<f32> {
    let n = size * size;
    let mut out = vec![0.0f32; 3 * side * side];
    for y in 0..side {
        for x in 0..side {
            let p = square.source_of(x as f64, y as f64, side);
            // Normalised → our pixel coordinates (pixel u's centre at (2u + 1)/S − 1).
            let (px, py) = ((p[0] + 1.0) * size as f64 / 2.0 - 0.5, (p[1] + 1.0) * size as f64 / 2.0 - 0.5);
            for k in 0..3 {
                out[k * side * side + y * side + x] = bilinear(&crop[k * n..(k + 1) * n], size, px, py);
            }
        }
    }
    out
}

/// The generator's `out_side`² image of the square, resampled into our `size`² crop over `crop`, and the mask of
/// where it is used (1 inside, fading to 0 over the square's outer `EDGE_FADE`, 0 outside).
pub fn paste_square(image: &[f32], out_side: usize, square: &CropSquare, crop: &[f32], size: usize) -> (Vec<f32>, Vec<f32>) {
    let n = size * size;
    let m = out_side * out_side;
    let mut rgb = crop.to_vec();
    let mut changed = vec![0.0f32; n];
    // The output is the 256 crop's square at twice the pixels: 256-pixel x ↔ output pixel 2x + 0.5.
    let in_side = out_side / 2;
    for v in 0..size {
        for u in 0..size {
            let p = [(2 * u + 1) as f64 / size as f64 - 1.0, (2 * v + 1) as f64 / size as f64 - 1.0];
            let q = square.pixel_of(p, in_side);
            // Distance to the square's edge (it spans −0.5 … side − 0.5 in crop pixels), as a fraction of its side.
            let edge = [q[0] + 0.5, in_side as f64 - 0.5 - q[0], q[1] + 0.5, in_side as f64 - 0.5 - q[1]]
                .into_iter()
                .fold(f64::MAX, f64::min)
                / in_side as f64;
            if edge <= 0.0 {
                continue;
            }
            let t = (edge / EDGE_FADE).min(1.0);
            let w = (t * t * (3.0 - 2.0 * t)) as f32;
            let (x, y) = (2.0 * q[0] + 0.5, 2.0 * q[1] + 0.5);
            let i = v * size + u;
            changed[i] = w;
            for k in 0..3 {
                rgb[k * n + i] = bilinear(&image[k * m..(k + 1) * m], out_side, x, y);
            }
        }
    }
    (rgb, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> CropSquare {
        CropSquare { centre: [0.05, -0.1], size: 1.2, ux: [1.0, 0.0], uy: [0.0, 1.0] }
    }

    #[test]
    fn sampling_a_square_of_a_ramp_is_the_ramp() {
        let size = 64;
        let n = size * size;
        let mut crop = vec![0.0f32; 3 * n];
        for i in 0..n {
            crop[i] = (i % size) as f32 / size as f32;
            crop[n + i] = (i / size) as f32 / size as f32;
        }
        let sq = square();
        let out = sample_square(&crop, size, &sq, 32);
        // Pixel (16, 16) is the square's centre.
        let (px, py) = ((sq.centre[0] + 1.0) * 32.0 - 0.5, (sq.centre[1] + 1.0) * 32.0 - 0.5);
        assert!((out[16 * 32 + 16] - px as f32 / 64.0).abs() < 1e-5);
        assert!((out[32 * 32 + 16 * 32 + 16] - py as f32 / 64.0).abs() < 1e-5);
    }

    /// Crop → LivePortrait's square (256) → its 512 output → back into our crop is the identity: on a linear
    /// image, where bilinear sampling is exact, any half-pixel or axis slip would show as an offset.
    #[test]
    fn the_square_round_trip_is_exact_on_a_linear_image() {
        let size = 200;
        let n = size * size;
        let f = |x: f64, y: f64| (0.1 + 0.002 * x + 0.0013 * y) as f32;
        let mut crop = vec![0.0f32; 3 * n];
        for i in 0..n {
            let v = f((i % size) as f64, (i / size) as f64);
            for k in 0..3 {
                crop[k * n + i] = v + 0.1 * k as f32;
            }
        }
        // A turned square well inside the crop.
        let (c, s) = (0.3f64.cos(), 0.3f64.sin());
        let sq = CropSquare { centre: [0.05, -0.08], size: 1.1, ux: [c, s], uy: [-s, c] };
        let lp = sample_square(&crop, size, &sq, 256);
        // The generator's 512 output of an unchanged face: the 256 crop at twice the pixels (512 pixel X shows
        // the 256 crop at (X − 0.5) / 2), bilinear.
        let mut out = vec![0.0f32; 3 * 512 * 512];
        for k in 0..3 {
            let plane = &lp[k * 256 * 256..(k + 1) * 256 * 256];
            for y in 0..512 {
                for x in 0..512 {
                    out[k * 512 * 512 + y * 512 + x] = bilinear(plane, 256, (x as f64 - 0.5) / 2.0, (y as f64 - 0.5) / 2.0);
                }
            }
        }
        let (rgb, changed) = paste_square(&out, 512, &sq, &crop, size);
        let mut checked = 0;
        for i in 0..n {
            if changed[i] == 1.0 {
                for k in 0..3 {
                    assert!((rgb[k * n + i] - crop[k * n + i]).abs() < 2e-5, "pixel {i}: {} vs {}", rgb[k * n + i], crop[k * n + i]);
                }
                checked += 1;
            }
        }
        assert!(checked > n / 5, "{checked} pixels checked");
    }

    #[test]
    fn a_square_is_carried_by_the_similarity_of_the_stills() {
        let mut from = [[0.0; 2]; 68];
        for (i, p) in from.iter_mut().enumerate() {
            *p = [((i * 37) % 23) as f64 / 20.0 - 0.5, ((i * 11) % 19) as f64 / 18.0 - 0.5];
        }
        // The second still: the first turned by 0.2 rad, scaled by 1.1 and moved.
        let (c, s) = (1.1 * 0.2f64.cos(), 1.1 * 0.2f64.sin());
        let to = from.map(|p| [c * p[0] - s * p[1] + 0.05, s * p[0] + c * p[1] - 0.02]);
        let sq = square();
        let carried = carry_square(&sq, &from, &to);
        let want = [c * sq.centre[0] - s * sq.centre[1] + 0.05, s * sq.centre[0] + c * sq.centre[1] - 0.02];
        assert!((carried.centre[0] - want[0]).abs() < 1e-9 && (carried.centre[1] - want[1]).abs() < 1e-9);
        assert!((carried.size - 1.1 * sq.size).abs() < 1e-9);
        assert!((carried.ux[0] - 0.2f64.cos()).abs() < 1e-9 && (carried.ux[1] - 0.2f64.sin()).abs() < 1e-9);
        // The same still: the same square.
        let same = carry_square(&sq, &from, &from);
        assert!((same.centre[0] - sq.centre[0]).abs() < 1e-12 && (same.size - sq.size).abs() < 1e-12);
    }

    #[test]
    fn paste_keeps_pixels_outside_the_square_and_fades_its_edge() {
        let size = 64;
        let n = size * size;
        let crop: Vec<f32> = (0..3 * n).map(|i| (i % 7) as f32 / 7.0).collect();
        let image = vec![0.5f32; 3 * 64 * 64];
        let sq = CropSquare { centre: [0.0, 0.0], size: 1.0, ux: [1.0, 0.0], uy: [0.0, 1.0] };
        let (rgb, changed) = paste_square(&image, 64, &sq, &crop, size);
        // Corners lie outside the square: untouched, bit for bit, and not changed.
        assert_eq!(rgb[0], crop[0]);
        assert_eq!(changed[0], 0.0);
        // The centre: the generated value, fully.
        let c = 32 * size + 32;
        assert_eq!(changed[c], 1.0);
        assert!((rgb[c] - 0.5).abs() < 1e-6);
        // Every mask value is in [0, 1], and some lie strictly between (the fade).
        assert!(changed.iter().all(|w| (0.0..=1.0).contains(w)));
        assert!(changed.iter().any(|w| *w > 0.0 && *w < 1.0));
    }
}
