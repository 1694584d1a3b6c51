//! Stage 2, the targets: where the portrait's 68 landmarks go at time t, from
//! the drive mode (keyframes, a track file, the Driver clip's face, or none
//! for expressions only), relative or absolute motion, then the expression
//! controls. The host's inputs the drive needs are gathered once into
//! [`DriveInputs`]; tracks are cached by file identity, Driver faces by image
//! content. "Bake to keyframes" runs the same drive over a whole range.

use std::path::PathBuf;
use std::sync::Arc;

use ofx::plugin::{Clip, EffectHandle};
use ofx::{Error, Result};

use super::analysis::{AnalysisView, ImageSampler};
use super::plane::{image_key, PixelMap};
use super::source::{content_salt, PreparedSource};
use super::{fail, Renderer};
use crate::track::LandmarkTrack;
use crate::face::FaceAnalyzer;
use crate::landmarks::{to_f64, Landmarks68};
use crate::motion::transfer_relative;
use crate::packs::generator::DriverCrop;
use crate::params::{clips, DriveMode, Settings};

/// A Driver frame cropped for a neural pack (planar RGB) and its content key.
pub(super) type DriverCropped = (Arc<Vec<f32>>, u128);

/// Identity of a track file on disk.
#[derive(Clone, PartialEq)]
pub(super) struct TrackKey {
    pub(super) path: PathBuf,
    pub(super) len: u64,
    pub(super) modified: Option<std::time::SystemTime>,
    pub(super) size: [u32; 2],
}

/// A Driver frame's face: its landmarks and iris centres (the subject's right eye first), canonical.
pub(super) type DriverFace = (Landmarks68<f64>, [[f64; 2]; 2]);

/// What the drive reads from the host, gathered once per render (or bake)
/// so that no stage below carries the effect handle: the render scale, the
/// Driver clip with its frame range and the project's frame rate (in Driver
/// mode only; the filter context has no Driver input), the face analyzer and
/// abort check, and the portrait the targets are for.
pub(super) struct DriveInputs<'a> {
    pub(super) scale: f64,
    pub(super) driver: Option<Clip>,
    pub(super) driver_range: Option<(f64, f64)>,
    pub(super) fps: f64,
    pub(super) analyzer: &'a FaceAnalyzer,
    pub(super) abort: &'a dyn Fn() -> bool,
    pub(super) base: &'a PreparedSource,
    /// The Source's height in canonical units (absolute tracks count rows from its top).
    pub(super) source_rod_height: f64,
}

impl<'a> DriveInputs<'a> {
    /// Read the host's side of the drive once.
    pub(super) fn gather(effect: &EffectHandle, drive: DriveMode, scale: f64, analyzer: &'a FaceAnalyzer, abort: &'a dyn Fn() -> bool, base: (&'a PreparedSource, f64)) -> Self {
        let driver = if drive == DriveMode::Driver { effect.clip(clips::DRIVER).ok() } else { None };
        let driver_range = driver.as_ref().and_then(|c| c.frame_range());
        let fps = if driver.is_some() { effect.properties().get_double(c"OfxImageEffectPropFrameRate", 0).unwrap_or(24.0).max(1.0) } else { 24.0 };
        DriveInputs { scale, driver, driver_range, fps, analyzer, abort, base: base.0, source_rod_height: base.1 }
    }

    /// The Driver clip, connected.
    fn driver(&self) -> Result<&Clip> {
        let clip = self.driver.as_ref().ok_or_else(|| fail("Drive mode is \"Driver clip\", which needs the general context (a Driver input)"))?;
        if !clip.connected() {
            return Err(fail("Drive mode is \"Driver clip\" but nothing is connected to the Driver input"));
        }
        Ok(clip)
    }
}

/// Mirror y (image rows down → a y-up frame) for relative motion, whose
/// maths needs a consistent orientation, not a particular origin.
pub(super) fn flip_y(l: &Landmarks68<f64>) -> Landmarks68<f64> {
    let mut p = *l;
    for q in p.iter_mut() {
        q[1] = -q[1];
    }
    p
}

/// The track's landmarks at `frame` (image pixels, origin top-left): the
/// frame's own when it has a face; otherwise, with `interpolate`, linear
/// between the nearest faces before and after, else the nearest earlier face
/// (hold), else the nearest later one.
pub fn track_points(track: &LandmarkTrack, frame: i64, interpolate: bool) -> Option<Landmarks68<f64>> {
    let f = frame.clamp(0, u32::MAX as i64) as u32;
    let idx = track.frames.partition_point(|x| x.frame < f);
    if let Some(x) = track.frames.get(idx) {
        if x.frame == f && frame >= 0 {
            if let Some(l) = &x.landmarks {
                return Some(to_f64(l));
            }
        }
    }
    let before = track.frames[..idx].iter().rev().find_map(|x| x.landmarks.as_ref().map(|l| (x.frame, l)));
    let after = track.frames[idx..].iter().find_map(|x| x.landmarks.as_ref().map(|l| (x.frame, l)));
    match (before, after) {
        (Some((fa, a)), Some((fb, b))) if interpolate && fb > fa => {
            let t = (frame as f64 - fa as f64) / (fb as f64 - fa as f64);
            let (a, b) = (to_f64(a), to_f64(b));
            let mut out = a;
            for i in 0..68 {
                for k in 0..2 {
                    out[i][k] = a[i][k] + (b[i][k] - a[i][k]) * t;
                }
            }
            Some(out)
        }
        (Some((_, a)), _) => Some(to_f64(a)),
        (None, Some((_, b))) => Some(to_f64(b)),
        (None, None) => None,
    }
}

/// The driving landmarks of a track at `frame`, smoothed when asked: the One
/// Euro filter runs over the window of frames before (a pure function of the
/// track).
pub fn track_target(track: &LandmarkTrack, frame: i64, s: &Settings) -> Option<Landmarks68<f64>> {
    let Some(filter) = s.smoothing else {
        return track_points(track, frame, s.interpolate_missing);
    };
    let fps = track.fps.unwrap_or(24.0);
    let first = track.frames.first()?.frame as i64;
    let start = (frame - crate::smoothing::WINDOW as i64 + 1).max(first).min(frame);
    let samples: Vec<(f64, Landmarks68<f64>)> =
        (start..=frame).filter_map(|f| track_points(track, f, s.interpolate_missing).map(|p| (f as f64 / fps, p))).collect();
    filter.filter_last(&samples)
}

impl Renderer {
    pub(super) fn load_track(&self, settings: &Settings, size: [u32; 2]) -> Result<Arc<LandmarkTrack>> {
        if settings.track_file.trim().is_empty() {
            return Err(fail("Drive mode is \"Track file\" but no track file is set: choose one in Track file"));
        }
        let path = PathBuf::from(settings.track_file.trim());
        let (len, modified) = crate::track_import::track_stamp(&path).map_err(|e| fail(e.to_string()))?;
        let key = TrackKey { path: path.clone(), len, modified, size };
        if let Some((k, t)) = self.track.lock().as_ref() {
            if *k == key {
                return Ok(t.clone());
            }
        }
        let t = Arc::new(crate::track_import::load_track(&path, size).map_err(|e| fail(e.to_string()))?);
        *self.track.lock() = Some((key, t.clone()));
        Ok(t)
    }

    /// Landmarks of the Driver clip at `time` (None: no face that frame).
    fn driver_points(&self, host: &DriveInputs<'_>, time: f64) -> Result<Option<Landmarks68<f64>>> {
        Ok(self.driver_face(host, time)?.map(|f| f.0))
    }

    /// The iris shift the Driver clip's gaze asks for at `time` (face frame: towards the subject's
    /// left, towards the chin; inter-ocular distances), when `gazeFromTrack` is on and the drive is the Driver:
    /// its irises' offset from its eyes' centres now, less at the motion reference frame (the clip's first frame
    /// when none is set). None when either frame has no face.
    pub(super) fn driver_gaze(&self, s: &Settings, host: &DriveInputs<'_>, time: f64) -> Result<Option<[f64; 2]>> {
        if !s.gaze_from_track || s.drive != DriveMode::Driver {
            return Ok(None);
        }
        let offset = |f: Option<DriverFace>| {
            let (l, i) = f?;
            // canonical is y up: flip to the image's y down, where the offset's second axis points to the chin
            let l32: [[f32; 2]; 68] = l.map(|p| [p[0] as f32, -p[1] as f32]);
            super::geometry::iris_offset(&l32, &i.map(|p| [p[0] as f32, -p[1] as f32]))
        };
        let Some(now) = offset(self.driver_face(host, time)?) else { return Ok(None) };
        let ref_time = if s.motion_reference_frame >= 0 {
            s.motion_reference_frame as f64
        } else {
            host.driver()?.frame_range().map(|r| r.0).unwrap_or(time)
        };
        Ok(offset(self.driver_face(host, ref_time)?).map(|r| [now[0] - r[0], now[1] - r[1]]))
    }

    /// The Driver clip's face at `time`: landmarks and iris centres, canonical (cached by image content).
    fn driver_face(&self, host: &DriveInputs<'_>, time: f64) -> Result<Option<DriverFace>> {
        let (scale, analyzer, abort) = (host.scale, host.analyzer, host.abort);
        let clip = host.driver()?;
        let Some(img) = clip.image(time, None)? else { return Ok(None) };
        let map = PixelMap::of_image(&img, scale);
        let key = image_key(&img, content_salt(scale, map));
        if let Some(p) = self.drivers.lock().get(&key).copied() {
            return Ok(p);
        }
        let view = AnalysisView::of(&img, map).map_err(|e| fail(format!("the Driver frame {time} cannot be analysed: {e}")))?;
        drop(img);
        let analysis = analyzer.analyze_abortable(&view.image, Some(abort)).map_err(|e| fail(e.to_string()))?;
        let points = analysis.face.as_ref().map(|f| {
            let mut l = [[0.0; 2]; 68];
            for (o, p) in l.iter_mut().zip(f.landmarks68.iter()) {
                *o = view.to_canonical(*p, map);
            }
            (l, f.mesh.irises.map(|p| view.to_canonical(p, map)))
        });
        self.drivers.lock().put(key, points);
        Ok(points)
    }

    /// Target landmarks at `time` (canonical, y up), before the expression
    /// controls.
    fn drive_targets(&self, s: &Settings, host: &DriveInputs<'_>, time: f64) -> Result<Landmarks68<f64>> {
        let (base, source_rod_height) = (host.base, host.source_rod_height);
        match s.drive {
            DriveMode::Keyframes => {
                // Landmarks never set (still at the origin) follow the
                // portrait, so an artist can key only the points that move.
                let mut t = base.landmarks;
                if let Some(k) = s.keyframes {
                    for (o, p) in t.iter_mut().zip(k.iter()) {
                        if p[0] != 0.0 || p[1] != 0.0 {
                            *o = *p;
                        }
                    }
                }
                Ok(t)
            }
            DriveMode::Expressions => Ok(base.landmarks),
            DriveMode::TrackFile => {
                let track = self.load_track(s, base.image_size)?;
                let frame = time.round() as i64 + s.track_frame_offset as i64;
                let now = track_target(&track, frame, s)
                    .ok_or_else(|| fail(format!("the track file {} has no frame with a face", s.track_file)))?;
                if s.relative {
                    let reference = if s.motion_reference_frame >= 0 {
                        track_points(&track, s.motion_reference_frame as i64, s.interpolate_missing)
                    } else {
                        track.frames.iter().find_map(|f| f.landmarks.as_ref()).map(to_f64)
                    }
                    .ok_or_else(|| fail("the track has no frame with a face to measure motion from"))?;
                    Ok(transfer_relative(&base.landmarks, &flip_y(&reference), &flip_y(&now)))
                } else {
                    // Absolute: the track's points are portrait pixels (origin top-left,
                    // pixel centres at integers).
                    let mut p = now;
                    for q in p.iter_mut() {
                        *q = [(q[0] + 0.5) * base.par, source_rod_height - (q[1] + 0.5)];
                    }
                    Ok(p)
                }
            }
            DriveMode::Driver => {
                let now = match s.smoothing {
                    None => self.driver_points(host, time)?,
                    Some(filter) => {
                        let fps = host.fps;
                        let first = host.driver()?.frame_range().map(|r| r.0).unwrap_or(time);
                        let mut samples = Vec::new();
                        let start = (time - crate::smoothing::WINDOW as f64 + 1.0).max(first);
                        let mut t = start;
                        while t <= time + 1e-9 {
                            if let Some(p) = self.driver_points(host, t)? {
                                samples.push((t / fps, p));
                            }
                            t += 1.0;
                        }
                        filter.filter_last(&samples)
                    }
                };
                let Some(now) = now else {
                    return Ok(base.landmarks);
                };
                if !s.relative {
                    return Ok(now);
                }
                let ref_time = if s.motion_reference_frame >= 0 {
                    s.motion_reference_frame as f64
                } else {
                    host.driver()?.frame_range().map(|r| r.0).unwrap_or(time)
                };
                let reference = self
                    .driver_points(host, ref_time)?
                    .ok_or_else(|| fail(format!("the Driver clip has no face at its reference frame {ref_time}; set Motion reference frame to a frame with a face")))?;
                Ok(transfer_relative(&base.landmarks, &reference, &now))
            }
        }
    }

    /// Target landmarks at `time`: the drive, then the expression controls.
    pub(super) fn targets(&self, s: &Settings, host: &DriveInputs<'_>, time: f64) -> Result<Landmarks68<f64>> {
        let t = self.drive_targets(s, host, time)?;
        Ok(s.expressions.apply(&t))
    }

    /// For a generator that takes the head turn as angles: the targets with the expression controls but
    /// without their head turn, and the targets before the controls.
    pub(super) fn targets_without_turn(&self, s: &Settings, host: &DriveInputs<'_>, time: f64) -> Result<(Landmarks68<f64>, Landmarks68<f64>)> {
        let before = self.drive_targets(s, host, time)?;
        let e = crate::expressions::Expressions { head_yaw: 0.0, head_pitch: 0.0, head_roll: 0.0, ..s.expressions };
        Ok((e.apply(&before), before))
    }

    /// The Driver frame at `time` and at the motion reference frame, cropped with a neural pack's
    /// convention (LivePortrait's square about the driver's own landmarks), each with its content key; `None`
    /// when either frame has no face (the still's own motion is used then).
    pub(super) fn driver_crops(&self, s: &Settings, host: &DriveInputs<'_>, time: f64, crop: DriverCrop) -> Result<Option<[DriverCropped; 2]>> {
        let ref_time = if s.motion_reference_frame >= 0 {
            s.motion_reference_frame as f64
        } else {
            host.driver()?.frame_range().map(|r| r.0).unwrap_or(time)
        };
        let (Some(now), Some(reference)) = (self.driver_crop(host, time, crop)?, self.driver_crop(host, ref_time, crop)?) else {
            return Ok(None);
        };
        Ok(Some([now, reference]))
    }

    /// One Driver frame cropped for a neural pack, cached by (content, crop convention).
    fn driver_crop(&self, host: &DriveInputs<'_>, time: f64, crop: DriverCrop) -> Result<Option<(Arc<Vec<f32>>, u128)>> {
        let Some(points) = self.driver_points(host, time)? else { return Ok(None) };
        let clip = host.driver()?;
        let Some(img) = clip.image(time, None)? else { return Ok(None) };
        let map = PixelMap::of_image(&img, host.scale);
        let convention = [crop.scale, crop.vx_ratio, crop.vy_ratio].iter().fold(crop.side as u64, |h, v| h.rotate_left(13) ^ v.to_bits());
        let key = image_key(&img, content_salt(host.scale, map) ^ convention.rotate_left(7));
        if let Some(c) = self.driver_crops.lock().get(&key) {
            return Ok(Some((c.clone(), key)));
        }
        // LivePortrait works in image coordinates (y down): mirror canonical y, crop, mirror back to sample.
        let square = crate::packs::liveportrait::maths::CropSquare::from_landmarks(&flip_y(&points), crop.scale, crop.vx_ratio, crop.vy_ratio);
        let sampler = ImageSampler::new(&img);
        let side = crop.side;
        let mut out = vec![0.0f32; 3 * side * side];
        for y in 0..side {
            for x in 0..side {
                let p = square.source_of(x as f64, y as f64, side);
                let px = sampler.sample(p[0] * map.sx, -p[1] * map.sy);
                for k in 0..3 {
                    out[k * side * side + y * side + x] = px[k].clamp(0.0, 1.0);
                }
            }
        }
        let out = Arc::new(out);
        self.driver_crops.lock().put(key, out.clone());
        Ok(Some((out, key)))
    }

    /// The driving targets (before the expression controls) at every frame the
    /// current track covers, as (timeline time, landmarks in canonical
    /// coordinates): what "Bake to keyframes" writes. `progress(done, total)`
    /// returns false to stop.
    pub fn bake(&self, effect: &EffectHandle, time: f64, scale: f64, s: &Settings, progress: &dyn Fn(usize, usize) -> bool) -> Result<Vec<(f64, Landmarks68<f64>)>> {
        let (base, rod_h) = self.base_source(effect, time, scale, s)?;
        let analyzer = self.analyzer(s.device);
        let abort = || false;
        let host = DriveInputs::gather(effect, s.drive, scale, &analyzer, &abort, (&base, rod_h));
        let times: Vec<f64> = match s.drive {
            DriveMode::TrackFile => {
                let track = self.load_track(s, base.image_size)?;
                track.frames.iter().map(|f| f.frame as f64 - s.track_frame_offset as f64).collect()
            }
            DriveMode::Driver => {
                let (a, b) = host
                    .driver_range
                    .ok_or_else(|| fail("the Driver clip has no frame range to bake"))?;
                let mut v = Vec::new();
                let mut f = a.ceil();
                while f <= b + 1e-9 {
                    v.push(f);
                    f += 1.0;
                }
                v
            }
            _ => return Err(fail("Bake to keyframes needs Drive mode \"Track file\" or \"Driver\"")),
        };
        let mut out = Vec::with_capacity(times.len());
        for (i, &t) in times.iter().enumerate() {
            if !progress(i, times.len()) {
                return Err(Error::Aborted);
            }
            out.push((t, self.drive_targets(s, &host, t)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::TrackFrame;

    fn track() -> LandmarkTrack {
        let l = |v: f32| Some([[v, 2.0 * v]; 68]);
        let frames = vec![
            TrackFrame { frame: 1, landmarks: l(10.0) },
            TrackFrame { frame: 2, landmarks: None },
            TrackFrame { frame: 3, landmarks: None },
            TrackFrame { frame: 4, landmarks: l(40.0) },
        ];
        LandmarkTrack::new([100, 100], Some(24.0), frames).unwrap()
    }

    /// Paste-row throughput on a synthetic 512 crop over a 540×540 region
    /// (`cargo test --release --lib paste_row_speed -- --ignored --nocapture`).
    #[test]
    fn missing_frames_hold_or_interpolate() {
        let t = track();
        assert_eq!(track_points(&t, 1, false).unwrap()[0], [10.0, 20.0]);
        assert_eq!(track_points(&t, 3, false).unwrap()[0], [10.0, 20.0], "hold");
        assert_eq!(track_points(&t, 3, true).unwrap()[0], [30.0, 60.0], "interpolate");
        assert_eq!(track_points(&t, 9, true).unwrap()[0], [40.0, 80.0], "after the end: hold the last");
        assert_eq!(track_points(&t, -5, true).unwrap()[0], [10.0, 20.0], "before the start: the first");
    }
}
