//! Living Portrait's own landmark track file: 68 iBUG points per frame in image pixels, as JSON. It is what
//! `living-portrait track` writes and what the node's "track file" drive mode reads.
//!
//! # Format, version 1
//!
//! ```json
//! {
//!   "format": "living-portrait-track",
//!   "version": 1,
//!   "landmarks": "ibug68",
//!   "coordinates": "image-pixels-top-left",
//!   "image_size": [1920, 1080],
//!   "fps": 25,
//!   "frames": [
//!     {"frame": 1, "landmarks": [[812.5, 402.25], [813.0, 440.75], "… 68 points in all"]},
//!     {"frame": 2, "missing": true},
//!     {"frame": 3, "landmarks": ["…"], "irises": [[850.0, 410.5], [960.25, 411.0]], "gaze": [12.5, -3.0]}
//!   ]
//! }
//! ```
//!
//! - `format` must be `"living-portrait-track"`, `version` must be `1` (a later, incompatible layout gets a new
//!   number; readers refuse versions they do not know rather than guess).
//! - `landmarks`: the point set, `"ibug68"`: the 68 points of iBUG 300-W in dlib order (jaw 0–16, right brow
//!   17–21, left brow 22–26, nose 27–35, right eye 36–41, left eye 42–47, outer lip 48–59, inner lip 60–67;
//!   right and left are the subject's).
//! - `coordinates`: `"image-pixels-top-left"`: `[x, y]` in pixels of an image of `image_size` = `[width,
//!   height]`, origin at the top-left corner of the image, x right, y down. Points may lie outside the image.
//! - `fps`: optional frames per second of the source (positive).
//! - `frames`: one entry per frame, sorted by `frame` when read. `frame` is a non-negative integer frame number
//!   (from the source's file names, so it need not start at 0 or be contiguous; no number twice). An entry has
//!   either `landmarks` (exactly 68 `[x, y]` pairs of finite numbers) or `"missing": true` (no face that frame).
//! - Optional in a frame with `landmarks` (added within version 1: readers that do not know them ignore them):
//!   `irises`, the iris centres `[[x, y] of the subject's right eye, [x, y] of the left eye]` in the same pixels
//!   (what `living-portrait track` writes from the face mesh model's iris points); `gaze`, `[x, y]` in degrees,
//!   where the eyes look inside the head, x towards the subject's own left, y up, 0 straight ahead (what an
//!   OpenFace CSV's `gaze_angle_*` give, less its head rotation), each within ±90. The node's `gazeFromTrack`
//!   takes `gaze` when the track has any, the irises' offset from the eyes' centres otherwise.
//! - Unknown members are ignored, so tools may add their own (e.g. `"source"`).
//! - Files larger than 64 MiB are refused (a 68-point frame takes about 2 KB, so that is over 30,000 frames).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::json::{self, JsonErrorKind};
use crate::face::IBUG_POINTS;
use crate::landmarks::Landmarks68;

/// The `format` value.
pub const TRACK_FORMAT: &str = "living-portrait-track";
/// The only `version` this code reads and writes.
pub const TRACK_VERSION: u32 = 1;
/// The `landmarks` value.
pub const TRACK_LANDMARKS: &str = "ibug68";
/// The `coordinates` value.
pub const TRACK_COORDINATES: &str = "image-pixels-top-left";
/// Largest track file read.
pub const MAX_TRACK_BYTES: u64 = 64 * 1024 * 1024;

/// One frame of a track.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackFrame {
    /// The frame number.
    pub frame: u32,
    /// The 68 points, or `None` when the frame has no face.
    pub landmarks: Option<Landmarks68>,
}

/// A landmark track: 68 points per frame in the pixels of an image of `image_size`.
#[derive(Clone, Debug, PartialEq)]
pub struct LandmarkTrack {
    pub image_size: [u32; 2],
    pub fps: Option<f64>,
    /// Sorted by frame number, no duplicates.
    pub frames: Vec<TrackFrame>,
    /// The gaze of the frames that carry one (a track file's `gaze`; an OpenFace 2.x CSV's `gaze_angle_x` /
    /// `gaze_angle_y`, taken into the head's frame when it has the head rotation), as
    /// (frame, [x, y] in degrees: towards the subject's own left, up), sorted by frame; empty for other tracks.
    pub gaze: Vec<(u32, [f32; 2])>,
    /// The iris centres of the frames that carry them (a track file's `irises`; MediaPipe 478-point JSON: points
    /// 468 and 473; OpenFace's `eye_lmk_*`: the mean of each eye's 8 iris points), as (frame,
    /// [subject's right eye, left eye]) in the track's pixels, sorted by frame; empty for other tracks.
    pub irises: Vec<(u32, [[f32; 2]; 2])>,
}

/// Why a track file could not be read or written.
#[derive(Debug, Clone)]
pub enum TrackError {
    /// The file could not be written.
    Io { path: PathBuf, reason: String },
    /// The file could not be read: missing, not a regular file, or larger than `MAX_TRACK_BYTES`.
    File(crate::files::FileError),
    /// The content is not a valid track; `what` says where and why.
    Invalid { what: String },
}

impl std::fmt::Display for TrackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrackError::Io { path, reason } => {
                write!(f, "The track file {} could not be written ({reason}).", path.display())
            }
            TrackError::File(e) => write!(f, "The track file {e}."),
            TrackError::Invalid { what } => write!(f, "The track is not valid: {what}."),
        }
    }
}

impl std::error::Error for TrackError {}

fn invalid(what: impl Into<String>) -> TrackError {
    TrackError::Invalid { what: what.into() }
}

impl LandmarkTrack {
    /// A track with the given frames; they are sorted, and duplicates or bad values are refused.
    pub fn new(
        image_size: [u32; 2],
        fps: Option<f64>,
        mut frames: Vec<TrackFrame>,
    ) -> Result<LandmarkTrack, TrackError> {
        frames.sort_by_key(|f| f.frame);
        let track = LandmarkTrack { image_size, fps, frames, gaze: Vec::new(), irises: Vec::new() };
        track.validate()?;
        Ok(track)
    }

    fn validate(&self) -> Result<(), TrackError> {
        if self.image_size[0] == 0 || self.image_size[1] == 0 {
            return Err(invalid("\"image_size\" must be two positive integers"));
        }
        if let Some(fps) = self.fps {
            if !(fps.is_finite() && fps > 0.0) {
                return Err(invalid("\"fps\" must be a positive number"));
            }
        }
        for pair in self.frames.windows(2) {
            if pair[0].frame == pair[1].frame {
                return Err(invalid(format!("frame {} appears more than once", pair[0].frame)));
            }
        }
        for (f, g) in &self.gaze {
            if !g.iter().all(|v| v.is_finite() && v.abs() <= 90.0) {
                return Err(invalid(format!("frame {f} has a gaze that is not two angles within ±90°")));
            }
        }
        for (f, i) in &self.irises {
            if i.iter().flatten().any(|v| !v.is_finite()) {
                return Err(invalid(format!("frame {f} has an iris centre that is not a finite number")));
            }
        }
        for f in &self.frames {
            if let Some(points) = &f.landmarks {
                if points.iter().flatten().any(|v| !v.is_finite()) {
                    return Err(invalid(format!("frame {} has a landmark that is not a finite number", f.frame)));
                }
            }
        }
        Ok(())
    }

    /// The frame with number `frame`, if the track has it.
    pub fn frame(&self, frame: u32) -> Option<&TrackFrame> {
        self.frames.binary_search_by_key(&frame, |f| f.frame).ok().map(|i| &self.frames[i])
    }

    /// Reads a track file.
    pub fn read(path: &Path) -> Result<LandmarkTrack, TrackError> {
        let bytes = crate::files::read_bounded(path, MAX_TRACK_BYTES).map_err(TrackError::File)?;
        let text = String::from_utf8(bytes).map_err(|_| invalid(format!("{} is not UTF-8 text", path.display())))?;
        LandmarkTrack::parse(&text).map_err(|e| match e {
            TrackError::Invalid { what } => invalid(format!("{}: {what}", path.display())),
            other => other,
        })
    }

    /// Parses the JSON text of a track.
    pub fn parse(text: &str) -> Result<LandmarkTrack, TrackError> {
        if text.len() as u64 > MAX_TRACK_BYTES {
            return Err(invalid(format!("the text is larger than {MAX_TRACK_BYTES} bytes")));
        }
        let file: TrackFile = json::from_str(text).map_err(|e| match e.kind {
            JsonErrorKind::Syntax => invalid(format!("it is not JSON ({e})")),
            JsonErrorKind::Shape if !text.trim_start().starts_with('{') => invalid("the top level is not a JSON object"),
            JsonErrorKind::Shape => invalid(format!("it does not follow the track format ({e})")),
        })?;
        let string_member = |key: &str, value: &Option<String>, want: &str| -> Result<(), TrackError> {
            match value {
                Some(v) if v == want => Ok(()),
                Some(v) => Err(invalid(format!("\"{key}\" is \"{v}\"; this reader knows only \"{want}\""))),
                None => Err(invalid(format!("\"{key}\" is missing (it must be \"{want}\")"))),
            }
        };
        string_member("format", &file.format, TRACK_FORMAT)?;
        match file.version {
            Some(v) if v == TRACK_VERSION as f64 => {}
            Some(v) => {
                return Err(invalid(format!(
                    "it has version {v}; this reader knows only version {TRACK_VERSION} (a newer Living Portrait may read it)"
                )))
            }
            None => return Err(invalid("\"version\" is missing or not a number")),
        }
        string_member("landmarks", &file.landmarks, TRACK_LANDMARKS)?;
        string_member("coordinates", &file.coordinates, TRACK_COORDINATES)?;
        let dim = |d: f64| (d.fract() == 0.0 && (1.0..=u32::MAX as f64).contains(&d)).then_some(d as u32);
        let image_size = match file.image_size.as_deref() {
            Some(&[w, h]) => match (dim(w), dim(h)) {
                (Some(w), Some(h)) => [w, h],
                _ => return Err(invalid("\"image_size\" must be two positive integers")),
            },
            _ => return Err(invalid("\"image_size\" must be [width, height]")),
        };
        if file.fps.is_some_and(|f| f <= 0.0) {
            return Err(invalid("\"fps\" must be a positive number"));
        }
        let entries = file.frames.ok_or_else(|| invalid("\"frames\" is missing or not an array"))?;
        let mut frames = Vec::with_capacity(entries.len());
        let (mut gaze, mut irises) = (Vec::new(), Vec::new());
        for (i, entry) in entries.into_iter().enumerate() {
            let (frame, g, e) = entry.frame(i)?;
            gaze.extend(g.map(|g| (frame.frame, g)));
            irises.extend(e.map(|e| (frame.frame, e)));
            frames.push(frame);
        }
        let mut track = LandmarkTrack::new(image_size, file.fps, frames)?;
        gaze.sort_by_key(|g| g.0);
        irises.sort_by_key(|i| i.0);
        track.gaze = gaze;
        track.irises = irises;
        track.validate()?;
        Ok(track)
    }

    /// The track as JSON text: one member per line, the frames one per line (so diffs and `grep` stay readable).
    pub fn to_json(&self) -> String {
        let header = TrackHeader {
            format: TRACK_FORMAT,
            version: TRACK_VERSION,
            landmarks: TRACK_LANDMARKS,
            coordinates: TRACK_COORDINATES,
            image_size: self.image_size,
            fps: self.fps,
        };
        let frames: Vec<String> = self
            .frames
            .iter()
            .map(|f| {
                let landmarks = f.landmarks.as_ref().map(|l| &l[..]);
                let has = landmarks.is_some();
                let irises = self.irises.binary_search_by_key(&f.frame, |g| g.0).ok().map(|k| self.irises[k].1).filter(|_| has);
                let gaze = self.gaze.binary_search_by_key(&f.frame, |g| g.0).ok().map(|k| self.gaze[k].1).filter(|_| has);
                json::to_string_lines(&FrameOut { frame: f.frame, landmarks, missing: landmarks.is_none(), irises, gaze }, 0)
            })
            .collect();
        // The header's members one per line, then `frames` after them, where the frames go one per line.
        let header = json::to_string_lines(&header, 1);
        let mut out = String::with_capacity(header.len() + 32 + frames.len() * 1400);
        out.push_str(header.strip_suffix("\n}").unwrap_or(&header));
        out.push_str(",\n  \"frames\": [");
        if !frames.is_empty() {
            out.push_str("\n    ");
            out.push_str(&frames.join(",\n    "));
            out.push_str("\n  ");
        }
        out.push_str("]\n}\n");
        out
    }

    /// Writes the track to `path` (through a temporary file beside it, so a reader never sees half a file).
    pub fn write(&self, path: &Path) -> Result<(), TrackError> {
        self.validate()?;
        let io = |e: std::io::Error| TrackError::Io { path: path.to_path_buf(), reason: e.to_string() };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "track".into());
        let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, self.to_json()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }
}

/// A track file as read, before its values are checked (the checks give the reasons a user can act on).
#[derive(Deserialize)]
#[serde(expecting = "a track: an object with \"format\", \"version\", \"image_size\" and \"frames\"")]
struct TrackFile {
    format: Option<String>,
    version: Option<f64>,
    landmarks: Option<String>,
    coordinates: Option<String>,
    image_size: Option<Vec<f64>>,
    fps: Option<f64>,
    frames: Option<Vec<FrameEntry>>,
}

/// One entry of `frames` as read.
#[derive(Deserialize)]
#[serde(expecting = "a frame: {\"frame\": n, \"landmarks\": [[x, y], …]} or {\"frame\": n, \"missing\": true}")]
struct FrameEntry {
    frame: Option<f64>,
    missing: Option<bool>,
    landmarks: Option<Vec<Vec<f64>>>,
    irises: Option<Vec<Vec<f64>>>,
    gaze: Option<Vec<f64>>,
}

impl FrameEntry {
    /// The frame with its gaze and iris centres when it has them, checked; `index` is its place in `frames`, for
    /// messages.
    #[allow(clippy::type_complexity)]
    fn frame(self, index: usize) -> Result<(TrackFrame, Option<[f32; 2]>, Option<[[f32; 2]; 2]>), TrackError> {
        let at = |what: &str| invalid(format!("frames[{index}] {what}"));
        let frame = match self.frame {
            Some(n) if n < 0.0 => return Err(at(&format!("has a negative frame number ({n})"))),
            Some(n) if n.fract() == 0.0 && n <= u32::MAX as f64 => n as u32,
            Some(n) => return Err(at(&format!("has a frame number that is not a whole number in range ({n})"))),
            None => return Err(at("has no \"frame\" number")),
        };
        let pair = |v: &[f64], what: &str| -> Result<[f32; 2], TrackError> {
            match v {
                &[x, y] if (x as f32).is_finite() && (y as f32).is_finite() => Ok([x as f32, y as f32]),
                _ => Err(at(&format!("(frame {frame}) {what} is not [x, y] of finite numbers"))),
            }
        };
        let gaze = match &self.gaze {
            Some(g) => {
                let g = pair(g, "\"gaze\"")?;
                if g.iter().any(|v| v.abs() > 90.0) {
                    return Err(at(&format!("(frame {frame}) \"gaze\" is not two angles within ±90°")));
                }
                Some(g)
            }
            None => None,
        };
        let irises = match self.irises.as_deref() {
            Some([r, l]) => Some([pair(r, "an iris centre")?, pair(l, "an iris centre")?]),
            Some(_) => return Err(at(&format!("(frame {frame}) \"irises\" is not two [x, y] centres (right eye, left eye)"))),
            None => None,
        };
        if (gaze.is_some() || irises.is_some()) && self.landmarks.is_none() {
            return Err(at(&format!("(frame {frame}) has a gaze or irises but no landmarks")));
        }
        let frame_of = |landmarks| Ok((TrackFrame { frame, landmarks }, gaze, irises));
        match (self.landmarks, self.missing.unwrap_or(false)) {
            (Some(_), true) => Err(at("has both \"landmarks\" and \"missing\": true")),
            (None, true) => frame_of(None),
            (None, false) => Err(at("has neither \"landmarks\" nor \"missing\": true")),
            (Some(points), false) => {
                if points.len() != IBUG_POINTS {
                    return Err(at(&format!("(frame {frame}) has {} landmarks instead of {IBUG_POINTS}", points.len())));
                }
                let mut out = [[0.0f32; 2]; IBUG_POINTS];
                for (k, p) in points.iter().enumerate() {
                    let &[x, y] = p.as_slice() else {
                        return Err(at(&format!("(frame {frame}) landmark {k} is not [x, y]")));
                    };
                    let (xf, yf) = (x as f32, y as f32);
                    if !xf.is_finite() || !yf.is_finite() {
                        return Err(at(&format!("(frame {frame}) landmark {k} is not a finite number")));
                    }
                    out[k] = [xf, yf];
                }
                frame_of(Some(out))
            }
        }
    }
}

/// A track file's members before `frames`, as written, in the documented order.
#[derive(Serialize)]
struct TrackHeader {
    format: &'static str,
    version: u32,
    landmarks: &'static str,
    coordinates: &'static str,
    image_size: [u32; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    fps: Option<f64>,
}

/// One frame as written: `landmarks`, or `"missing": true`.
#[derive(Serialize)]
struct FrameOut<'a> {
    frame: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    landmarks: Option<&'a [[f32; 2]]>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    missing: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    irises: Option<[[f32; 2]; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gaze: Option<[f32; 2]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(seed: f32) -> Landmarks68 {
        let mut p = [[0.0f32; 2]; 68];
        for (i, q) in p.iter_mut().enumerate() {
            *q = [seed + i as f32 * 1.25, seed * 0.5 - i as f32 / 3.0];
        }
        p
    }

    fn sample() -> LandmarkTrack {
        LandmarkTrack::new(
            [640, 480],
            Some(25.0),
            vec![
                TrackFrame { frame: 7, landmarks: Some(points(3.0)) },
                TrackFrame { frame: 2, landmarks: Some(points(1.1)) },
                TrackFrame { frame: 5, landmarks: None },
            ],
        )
        .unwrap()
    }

    #[test]
    fn round_trip_is_exact() {
        let track = sample();
        assert_eq!(track.frames.iter().map(|f| f.frame).collect::<Vec<_>>(), vec![2, 5, 7]);
        let text = track.to_json();
        let back = LandmarkTrack::parse(&text).unwrap();
        assert_eq!(back, track);
        assert!(back.frame(5).unwrap().landmarks.is_none());
        assert!(back.frame(6).is_none());
        let empty = LandmarkTrack::new([1, 1], None, vec![]).unwrap();
        assert_eq!(LandmarkTrack::parse(&empty.to_json()).unwrap(), empty);
    }

    #[test]
    fn irises_and_gaze_round_trip_and_bad_ones_are_refused() {
        let mut track = sample();
        track.irises = vec![(2, [[10.5, 20.25], [30.0, 20.0]]), (7, [[11.0, 21.0], [31.0, 21.5]])];
        track.gaze = vec![(7, [12.5, -3.0])];
        let text = track.to_json();
        assert!(text.contains("\"gaze\": [12.5, -3]"), "{text}");
        let back = LandmarkTrack::parse(&text).unwrap();
        assert_eq!(back, track);
        // A version 1 track without them still reads, with none.
        assert!(LandmarkTrack::parse(&sample().to_json()).unwrap().irises.is_empty());
        let cases = [
            (text.replace("[12.5, -3]", "[120, -3]"), "within ±90"),
            (text.replace("[12.5, -3]", "[12.5]"), "\"gaze\" is not [x, y]"),
            (text.replacen("[[10.5, 20.25], [30, 20]]", "[[10.5, 20.25]]", 1), "not two [x, y] centres"),
            (text.replacen("[[10.5, 20.25], [30, 20]]", "[[10.5, 1e39], [30, 20]]", 1), "iris centre is not"),
            (text.replace("\"missing\": true", "\"missing\": true, \"gaze\": [1, 2]"), "no landmarks"),
        ];
        for (bad, expected) in cases {
            assert_ne!(bad, text, "{expected}: the case did not change the text");
            let err = LandmarkTrack::parse(&bad).expect_err(expected).to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }

    #[test]
    fn file_round_trip() {
        let path = std::env::temp_dir().join(format!("lp-track-{}.json", std::process::id()));
        sample().write(&path).unwrap();
        assert_eq!(LandmarkTrack::read(&path).unwrap(), sample());
        let _ = std::fs::remove_file(&path);
        let err = LandmarkTrack::read(&path).unwrap_err();
        assert_eq!(err.to_string(), format!("The track file {} does not exist.", path.display()));
    }

    #[test]
    fn invalid_tracks_are_refused_with_reasons() {
        let good = sample().to_json();
        let cases = [
            (good.replace("\"version\": 1", "\"version\": 2"), "version 2"),
            (good.replace("living-portrait-track", "other"), "\"format\""),
            (good.replace("ibug68", "mp468"), "\"landmarks\" is \"mp468\""),
            (good.replace("\"frame\": 5", "\"frame\": 7"), "frame 7 appears more than once"),
            (good.replace("\"frame\": 5", "\"frame\": -5"), "negative frame"),
            (good.replace("\"frame\": 5", "\"frame\": 5.5"), "not a whole number"),
            (good.replace("[640, 480]", "[0, 480]"), "image_size"),
            (good.replace("\"missing\": true", "\"missing\": false"), "neither"),
            (good.replacen("[3, 1.5], ", "", 1), "67 landmarks"),
            (good.replacen("[3, 1.5]", "[3]", 1), "landmark 0 is not [x, y]"),
            (good.replacen("[3, 1.5]", "[3, \"x\"]", 1), "invalid type: string \"x\", expected f64 at line 11, column 38"),
            (good.replacen("[3, 1.5]", "[3, 1e39]", 1), "finite"),
            ("[1]".to_string(), "not a JSON object"),
            ("{".to_string(), "not JSON"),
        ];
        for (text, expected) in cases {
            let err = LandmarkTrack::parse(&text).expect_err(expected).to_string();
            assert!(err.contains(expected), "expected {expected:?} in: {err}");
        }
    }
}
