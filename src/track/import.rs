//! Reading landmark tracks from files, whatever the format, detected by
//! content, not by extension:
//!
//! * the project's own JSON track (see [`super::format`]);
//! * OpenFace 2.x CSV (below);
//! * iBUG 300-W / dlib `.pts` files, one per frame: `trackFile` names a
//!   folder (every `*.pts` in it), a pattern with `%04d`, or one file; the
//!   frame number is the last number in each file name. A `.pts` file is
//!   `version: 1`, `n_points: 68`, then 68 `x y` lines (image pixels) between
//!   `{` and `}`;
//! * MediaPipe 468-point JSON: `{"image_size": [w, h], "frames": [{"frame": n,
//!   "landmarks": [[x, y, z] × 468]}]}` (or the frame list alone; a frame may
//!   also be `{"frame": n, "missing": true}`); coordinates in pixels, or
//!   normalised 0…1 (MediaPipe's own output) when `"normalized": true` —
//!   which needs `image_size`. The 468 points become the 68 with the table in
//!   `resources/models/mesh68.json`.
//!
//! OpenFace 2.x (`FeatureExtraction -2Dfp`) writes one row per frame and face
//! with the columns `frame, face_id, timestamp, confidence, success, …, x_0 …
//! x_67, y_0 … y_67, …` (headers may carry a leading space). `frame` counts from
//! 1; points are image pixels with y down. A row with `success` 0 is a frame
//! without a face. With several faces per frame the lowest `face_id` is used.

use std::path::Path;

use serde::Deserialize;

use super::format::{LandmarkTrack, TrackError, TrackFrame, MAX_TRACK_BYTES};
use crate::landmarks::Landmarks68;
use crate::json;
use crate::files::{list_dir, read_bounded, regular_file_metadata};

/// Why a track could not be loaded; the text is a sentence for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackLoadError(pub String);

impl std::fmt::Display for TrackLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TrackLoadError {}

/// Load a track file of any supported format. `image_size` is used for formats
/// that do not record it (OpenFace CSV): the size of the driving footage, which
/// relative motion does not need, so the portrait's size is a fine default.
/// Every file is read through [`crate::files::read_bounded`]: named pipes,
/// devices and oversized files are refused, never waited on or read whole.
pub fn load_track(path: &Path, image_size: [u32; 2]) -> Result<LandmarkTrack, TrackLoadError> {
    if is_pts_sequence(path) {
        return load_pts_sequence(path, image_size);
    }
    let bytes = read_bounded(path, MAX_TRACK_BYTES).map_err(|e| TrackLoadError(format!("the track file {e}")))?;
    parse_track_bytes(&bytes, image_size)
        .map_err(|e| TrackLoadError(format!("the track file {} is not usable: {e}", path.display())))
}

/// Whether `path` names a `.pts` track: a folder, a `%0Nd` pattern or a `.pts` file.
fn is_pts_sequence(path: &Path) -> bool {
    let name = path.to_string_lossy();
    path.is_dir() || name.contains('%') || name.to_ascii_lowercase().ends_with(".pts")
}

/// Parses the bytes of one track file of any supported format, detected by its
/// content (a single `.pts` file is one frame, number 1). The error is the
/// reason alone, without a prefix: the caller names the file.
pub fn parse_track_bytes(bytes: &[u8], image_size: [u32; 2]) -> Result<LandmarkTrack, String> {
    if bytes.len() as u64 > MAX_TRACK_BYTES {
        return Err(format!("it is larger than {MAX_TRACK_BYTES} bytes, the most a track may have"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not text (not UTF-8)".to_string())?;
    let first = text.trim_start().chars().next();
    match first {
        Some('{') | Some('[') if is_mediapipe_json(text) => parse_mediapipe_json(text, image_size),
        Some('{') => LandmarkTrack::parse(text).map_err(track_reason),
        Some(_) if text.trim_start().starts_with("version:") => parse_pts(text).and_then(|l| {
            LandmarkTrack::new(image_size, None, vec![TrackFrame { frame: 1, landmarks: Some(l) }]).map_err(track_reason)
        }),
        Some(_) if looks_like_openface(text) => parse_openface_csv(text, image_size),
        _ => Err("it is not a Living Portrait JSON track, an OpenFace 2.x CSV file, an iBUG .pts file or MediaPipe 468-point JSON".to_string()),
    }
}

/// The reason in a track error, without the track layer's own prefix (the caller adds one).
fn track_reason(e: TrackError) -> String {
    match e {
        TrackError::Invalid { what } => what,
        other => other.to_string(),
    }
}

/// What the render keys its cached track by: the total size and the latest
/// modification time of the file, or of every `.pts` file of a folder or
/// pattern, so an edited track is read again.
pub fn track_stamp(path: &Path) -> Result<(u64, Option<std::time::SystemTime>), TrackLoadError> {
    let files = if is_pts_sequence(path) {
        pts_files(path).map_err(|e| TrackLoadError(format!("the track {} is not usable: {e}", path.display())))?
    } else {
        vec![path.to_path_buf()]
    };
    let mut total = files.len() as u64;
    let mut latest = None;
    for f in &files {
        let meta = regular_file_metadata(f).map_err(|e| file_error(path, e))?;
        total = total.wrapping_add(meta.len());
        latest = latest.max(meta.modified().ok());
    }
    Ok((total, latest))
}

/// One iBUG `.pts` file's 68 points.
pub fn parse_pts(text: &str) -> Result<Landmarks68, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut n_points = None;
    for line in lines.by_ref() {
        if line == "{" {
            break;
        }
        if let Some(v) = line.strip_prefix("n_points:") {
            n_points = Some(v.trim());
        } else if !line.starts_with("version:") {
            return Err(format!("unexpected header line \"{line}\" (a .pts file starts with version:, n_points: and {{)"));
        }
    }
    match n_points {
        Some(n) if n.parse::<usize>() == Ok(68) => {}
        Some(n) => return Err(format!("n_points is {n}; only the 68-point iBUG layout is supported")),
        None => return Err("there is no n_points line; only the 68-point iBUG layout (n_points: 68) is supported".into()),
    }
    let mut out = [[0.0f32; 2]; 68];
    let mut count = 0;
    for line in lines {
        if line == "}" {
            break;
        }
        let mut it = line.split_whitespace();
        let (Some(x), Some(y), None) = (it.next(), it.next(), it.next()) else {
            return Err(format!("point line \"{line}\" is not \"x y\""));
        };
        let (x, y): (f32, f32) = match (x.parse(), y.parse()) {
            (Ok(x), Ok(y)) => (x, y),
            _ => return Err(format!("point line \"{line}\" has a value that is not a number")),
        };
        if !x.is_finite() || !y.is_finite() {
            return Err(format!("point line \"{line}\" is not finite"));
        }
        if count == 68 {
            return Err("more than 68 points".into());
        }
        out[count] = [x, y];
        count += 1;
    }
    if count != 68 {
        return Err(format!("{count} points instead of 68"));
    }
    Ok(out)
}

/// The frame number in a file name: its last run of digits.
fn frame_number(path: &Path) -> Option<u32> {
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    let digits: String = stem.chars().rev().skip_while(|c| !c.is_ascii_digit()).take_while(|c| c.is_ascii_digit()).collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

/// Largest single `.pts` file read: 68 points are about 1 KB of text.
const MAX_PTS_BYTES: u64 = 1024 * 1024;

/// The files of a `.pts` track, sorted: every `*.pts` in a folder, the files
/// matching a `%0Nd` pattern, or the one file named.
fn pts_files(path: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let mut files: Vec<std::path::PathBuf> = if path.is_dir() {
        list_dir(path)
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pts")))
            .collect()
    } else if path.to_string_lossy().contains('%') {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let bad_pattern = || format!("the pattern {name} is not like name_%04d.pts (one %, digits, then d)");
        let (pre, post) = name.split_once('%').ok_or_else(bad_pattern)?;
        let post = post.trim_start_matches(|c: char| c.is_ascii_digit()).strip_prefix('d').ok_or_else(bad_pattern)?;
        if post.contains('%') {
            return Err(bad_pattern());
        }
        list_dir(dir)
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|p| {
                let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                n.len() > pre.len() + post.len()
                    && n.starts_with(pre)
                    && n.ends_with(post)
                    && n[pre.len()..n.len() - post.len()].chars().all(|c| c.is_ascii_digit())
            })
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    if files.is_empty() {
        return Err("no .pts files were found".into());
    }
    files.sort();
    Ok(files)
}

/// A file of the track `track` could not be read: one sentence, naming the file once.
fn file_error(track: &Path, e: crate::files::FileError) -> TrackLoadError {
    if e.path() == track {
        TrackLoadError(format!("the track file {e}"))
    } else {
        TrackLoadError(format!("the track {} is not usable: {e}", track.display()))
    }
}

/// A track from `.pts` files: a folder, a `%0Nd` pattern, or one file.
fn load_pts_sequence(path: &Path, image_size: [u32; 2]) -> Result<LandmarkTrack, TrackLoadError> {
    let unusable = |e: String| TrackLoadError(format!("the track {} is not usable: {e}", path.display()));
    let files = pts_files(path).map_err(unusable)?;
    let mut frames = Vec::with_capacity(files.len());
    let mut total = 0u64;
    for f in &files {
        let bytes = read_bounded(f, MAX_PTS_BYTES).map_err(|e| file_error(path, e))?;
        total += bytes.len() as u64;
        if total > MAX_TRACK_BYTES {
            return Err(unusable(format!("its .pts files hold more than {MAX_TRACK_BYTES} bytes, the most a track may have")));
        }
        // The file is named once: by the prefix when it is the track itself, here when it is one of several.
        let named = |e: String| unusable(if f == path { e } else { format!("{}: {e}", f.display()) });
        let text = std::str::from_utf8(&bytes).map_err(|_| named("it is not text (not UTF-8)".into()))?;
        let l = parse_pts(text).map_err(named)?;
        let frame = if files.len() == 1 {
            frame_number(f).unwrap_or(1)
        } else {
            frame_number(f).ok_or_else(|| unusable(format!("{} has no frame number in its name", f.display())))?
        };
        frames.push(TrackFrame { frame, landmarks: Some(l) });
    }
    LandmarkTrack::new(image_size, None, frames).map_err(|e| unusable(track_reason(e)))
}

fn is_mediapipe_json(text: &str) -> bool {
    // Cheap check before parsing: a 468-point list has this many numbers.
    !text.contains("living-portrait-track") && (text.contains("\"landmarks\"") || text.starts_with('[')) && text.matches(',').count() > 900
}

/// A MediaPipe 468-point JSON file as read: the object form (the bare frame list is read as `frames`).
#[derive(Deserialize)]
#[serde(expecting = "an object with \"frames\", or a list of frames")]
struct MediaPipeFile {
    image_size: Option<Vec<f64>>,
    normalized: Option<bool>,
    frames: Option<Vec<MediaPipeFrame>>,
}

/// One frame of a MediaPipe file: `landmarks` (468 `[x, y, z]`), or `"missing": true`.
#[derive(Deserialize)]
#[serde(expecting = "a frame: {\"frame\": n, \"landmarks\": [[x, y, z], …]} or {\"frame\": n, \"missing\": true}")]
struct MediaPipeFrame {
    frame: Option<f64>,
    missing: Option<bool>,
    landmarks: Option<Vec<Vec<f64>>>,
}

/// MediaPipe 468-point JSON → a 68-point track.
pub fn parse_mediapipe_json(text: &str, image_size: [u32; 2]) -> Result<LandmarkTrack, String> {
    let shape = |e: json::JsonError| match e.kind {
        json::JsonErrorKind::Syntax => format!("it is not JSON ({e})"),
        json::JsonErrorKind::Shape => format!("it is not MediaPipe 468-point JSON ({e})"),
    };
    let root: MediaPipeFile = if text.trim_start().starts_with('[') {
        MediaPipeFile { image_size: None, normalized: None, frames: Some(json::from_str(text).map_err(shape)?) }
    } else {
        json::from_str(text).map_err(shape)?
    };
    let size = root.image_size.as_deref().and_then(|a| Some([*a.first()? as u32, *a.get(1)? as u32]));
    let normalized = root.normalized.unwrap_or(false);
    if normalized && size.is_none() {
        return Err("\"normalized\": true needs \"image_size\": [width, height]".into());
    }
    let frames_json = root.frames.ok_or("there is no \"frames\" list")?;
    let table = crate::face::Mesh68Table::builtin().map_err(|e| e.to_string())?;
    let mut frames = Vec::with_capacity(frames_json.len());
    let mut irises = Vec::new();
    for (k, f) in frames_json.iter().enumerate() {
        let frame = f.frame.ok_or_else(|| format!("frame entry {k} has no \"frame\" number"))?;
        if frame < 0.0 || frame.fract() != 0.0 || frame > u32::MAX as f64 {
            return Err(format!("frame entry {k}: frame {frame} is not a non-negative whole number"));
        }
        if f.missing == Some(true) {
            frames.push(TrackFrame { frame: frame as u32, landmarks: None });
            continue;
        }
        let pts = f.landmarks.as_ref().ok_or_else(|| format!("frame {frame} has no \"landmarks\""))?;
        // 478 points carry the refined irises (468 the subject's right iris centre, 473 the left).
        if pts.len() != 468 && pts.len() != 478 {
            return Err(format!("frame {frame} has {} landmarks instead of 468 (or 478 with the irises)", pts.len()));
        }
        let (sx, sy) = match (normalized, size) {
            (true, Some(s)) => (s[0] as f64, s[1] as f64),
            _ => (1.0, 1.0),
        };
        let mut mesh = Vec::with_capacity(468);
        for (i, a) in pts.iter().enumerate() {
            let x = *a.first().ok_or_else(|| format!("frame {frame} point {i} has no x"))?;
            let y = *a.get(1).ok_or_else(|| format!("frame {frame} point {i} has no y"))?;
            if !x.is_finite() || !y.is_finite() {
                return Err(format!("frame {frame} point {i} is not finite"));
            }
            mesh.push([(x * sx) as f32, (y * sy) as f32]);
        }
        let mut l = [[0.0f32; 2]; 68];
        for (o, idx) in l.iter_mut().zip(&table.mesh_indices) {
            let n = idx.len() as f32;
            *o = idx.iter().fold([0.0, 0.0], |a, &i| [a[0] + mesh[i][0] / n, a[1] + mesh[i][1] / n]);
        }
        if mesh.len() == 478 {
            irises.push((frame as u32, [mesh[468], mesh[473]]));
        }
        frames.push(TrackFrame { frame: frame as u32, landmarks: Some(l) });
    }
    let mut track = LandmarkTrack::new(size.unwrap_or(image_size), None, frames).map_err(|e| e.to_string())?;
    irises.sort_by_key(|i| i.0);
    irises.dedup_by_key(|i| i.0);
    track.irises = irises;
    Ok(track)
}

fn looks_like_openface(text: &str) -> bool {
    let header = text.lines().next().unwrap_or("");
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    cols.contains(&"frame") && cols.contains(&"x_0") && cols.contains(&"y_67")
}

/// Parse OpenFace 2.x CSV text.
pub fn parse_openface_csv(text: &str, image_size: [u32; 2]) -> Result<LandmarkTrack, String> {
    let mut lines = text.lines().enumerate();
    let (_, header) = lines.next().ok_or("the file is empty")?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| cols.iter().position(|c| *c == name);
    let frame_col = col("frame").ok_or("there is no \"frame\" column")?;
    let success_col = col("success");
    let confidence_col = col("confidence");
    let face_col = col("face_id");
    // OpenFace 2.x's gaze, radians, averaged over both eyes. OpenFace computes them from the mean gaze
    // vector g in its camera coordinates (x to the image's right, y down, z away from the camera) as
    // gaze_angle_x = atan2(g.x, -g.z), gaze_angle_y = atan2(g.y, -g.z) (GazeAnalysis GetGazeAngle; its wiki,
    // "Output Format", says the same in words). So +x looks towards the image's right, the subject's own left in a
    // frontal face, and +y looks down: gazeX = +x, gazeY = -y, in degrees.
    let gaze_cols = col("gaze_angle_x").zip(col("gaze_angle_y"));
    // Those angles are in the camera's frame, so a head turn alone changes them: with OpenFace's head rotation
    // (`pose_Rx`, `pose_Ry`, `pose_Rz`, radians, R = Rx·Ry·Rz taking the face model's axes to the camera's;
    // Utilities::Euler2RotationMatrix) the gaze vector is taken back into the head's frame, R⁻¹·g, and its angles
    // there are what the eyes do inside the head (the 68 points already turn the head).
    let pose_cols = match (col("pose_Rx"), col("pose_Ry"), col("pose_Rz")) {
        (Some(x), Some(y), Some(z)) => Some([x, y, z]),
        _ => None,
    };
    // OpenFace's 56 eye landmarks (`eye_lmk_x_0`…`55`, image pixels): two blocks of 28, one per eye, whose first
    // 8 points ring the iris (GazeAnalysis::GetPupilPosition takes the pupil as their mean). Which block is which
    // eye follows the model file's order, so each block goes to the nearer of the 68 points' eyes.
    let eye_cols: Option<Vec<(usize, usize)>> =
        (0..56).map(|i| col(&format!("eye_lmk_x_{i}")).zip(col(&format!("eye_lmk_y_{i}")))).collect();
    let mut xs = [0usize; 68];
    let mut ys = [0usize; 68];
    for i in 0..68 {
        xs[i] = col(&format!("x_{i}")).ok_or_else(|| format!("there is no \"x_{i}\" column"))?;
        ys[i] = col(&format!("y_{i}")).ok_or_else(|| format!("there is no \"y_{i}\" column"))?;
    }
    // frame -> (face id, landmarks, gaze in degrees: subject's left, up; iris centres: subject's right, left)
    type Row = (i64, Option<Landmarks68>, Option<[f32; 2]>, Option<[[f32; 2]; 2]>);
    let mut frames: std::collections::BTreeMap<u32, Row> = Default::default();
    for (line_no, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let row = line_no + 1;
        if cells.len() != cols.len() {
            return Err(format!("line {row} has {} columns, the header has {}", cells.len(), cols.len()));
        }
        let num = |c: usize, what: &str| -> Result<f64, String> {
            let v: f64 = cells[c].parse().map_err(|_| format!("line {row}: {what} \"{}\" is not a number", cells[c]))?;
            if !v.is_finite() {
                return Err(format!("line {row}: {what} \"{}\" is not a finite number", cells[c]));
            }
            Ok(v)
        };
        let frame = num(frame_col, "frame")?;
        if frame < 0.0 || frame.fract() != 0.0 || frame > u32::MAX as f64 {
            return Err(format!("line {row}: frame {} is not a non-negative whole number", cells[frame_col]));
        }
        let frame = frame as u32;
        let face = match face_col {
            Some(c) => num(c, "face_id")? as i64,
            None => 0,
        };
        let ok = match success_col {
            Some(c) => num(c, "success")? != 0.0,
            None => true,
        } && match confidence_col {
            Some(c) => num(c, "confidence")? > 0.0,
            None => true,
        };
        let gaze = match gaze_cols {
            Some((gx, gy)) if ok => {
                let (x, y) = (num(gx, "gaze_angle_x")?, num(gy, "gaze_angle_y")?);
                let (x, y) = match pose_cols {
                    Some([rx, ry, rz]) => {
                        head_relative_gaze(x, y, [num(rx, "pose_Rx")?, num(ry, "pose_Ry")?, num(rz, "pose_Rz")?])
                    }
                    None => (x, y),
                };
                Some([x.to_degrees().clamp(-90.0, 90.0) as f32, (-y).to_degrees().clamp(-90.0, 90.0) as f32])
            }
            _ => None,
        };
        let landmarks = if ok {
            let mut l = [[0.0f32; 2]; 68];
            for i in 0..68 {
                l[i] = [num(xs[i], "a landmark x")? as f32, num(ys[i], "a landmark y")? as f32];
            }
            Some(l)
        } else {
            None
        };
        let irises = match (&eye_cols, &landmarks) {
            (Some(eye_cols), Some(l)) => {
                let mut blocks = [[0.0f64; 2]; 2];
                for (i, &(cx, cy)) in eye_cols.iter().enumerate() {
                    let (x, y) = (num(cx, "an eye landmark x")?, num(cy, "an eye landmark y")?);
                    if i % 28 < 8 {
                        blocks[i / 28][0] += x / 8.0;
                        blocks[i / 28][1] += y / 8.0;
                    }
                }
                Some(irises_by_eye(l, blocks))
            }
            _ => None,
        };
        match frames.get(&frame) {
            Some((f, ..)) if *f == face => return Err(format!("line {row}: frame {} appears twice", cells[frame_col])),
            Some((f, ..)) if *f < face => {}
            _ => {
                frames.insert(frame, (face, landmarks, gaze, irises));
            }
        }
    }
    if frames.is_empty() {
        return Err("it has no frames".into());
    }
    // Without OpenFace's head rotation its angles include head turns; the eye landmarks, when the file has them,
    // say where the irises sit in the eyes, which is what the eyes do inside the head: they are taken instead.
    let angles_in_head = pose_cols.is_some() || eye_cols.is_none();
    let gaze: Vec<(u32, [f32; 2])> = if angles_in_head {
        frames.iter().filter_map(|(f, (_, _, g, _))| g.map(|g| (*f, g))).collect()
    } else {
        Vec::new()
    };
    let irises: Vec<(u32, [[f32; 2]; 2])> = frames.iter().filter_map(|(f, (_, _, _, i))| i.map(|i| (*f, i))).collect();
    let frames = frames.into_iter().map(|(frame, (_, landmarks, ..))| TrackFrame { frame, landmarks }).collect();
    let mut track = LandmarkTrack::new(image_size, None, frames).map_err(|e| e.to_string())?;
    track.gaze = gaze;
    track.irises = irises;
    Ok(track)
}

/// OpenFace's gaze angles (radians, camera frame: `atan2(g.x, -g.z)`, `atan2(g.y, -g.z)`) taken into the head's
/// frame given by its head rotation (`pose_Rx`, `pose_Ry`, `pose_Rz`: R = Rx·Ry·Rz maps the face model's axes to
/// the camera's; the model looks along -z), as the same two angles.
fn head_relative_gaze(ax: f64, ay: f64, r: [f64; 3]) -> (f64, f64) {
    let (s1, c1) = r[0].sin_cos();
    let (s2, c2) = r[1].sin_cos();
    let (s3, c3) = r[2].sin_cos();
    let m = [
        [c2 * c3, -c2 * s3, s2],
        [c1 * s3 + c3 * s1 * s2, c1 * c3 - s1 * s2 * s3, -c2 * s1],
        [s1 * s3 - c1 * c3 * s2, c3 * s1 + c1 * s2 * s3, c1 * c2],
    ];
    let g = [ax.tan(), ay.tan(), -1.0];
    // Rᵀ·g: column k of R dotted with g.
    let h: [f64; 3] = std::array::from_fn(|k| m[0][k] * g[0] + m[1][k] * g[1] + m[2][k] * g[2]);
    (h[0].atan2(-h[2]), h[1].atan2(-h[2]))
}

/// Two iris centres (any order) as [the subject's right eye's, the left eye's]: each goes to the nearer eye of the
/// 68 points (36–41 right, 42–47 left).
fn irises_by_eye(l: &Landmarks68, blocks: [[f64; 2]; 2]) -> [[f32; 2]; 2] {
    use crate::landmarks::{mean, to_f64, LEFT_EYE, RIGHT_EYE};
    let l = to_f64(l);
    let (re, le) = (mean(&l, RIGHT_EYE), mean(&l, LEFT_EYE));
    let d = |p: [f64; 2], q: [f64; 2]| (p[0] - q[0]).hypot(p[1] - q[1]);
    let [a, b] = blocks;
    let (right, left) = if d(a, re) + d(b, le) <= d(a, le) + d(b, re) { (a, b) } else { (b, a) };
    [[right[0] as f32, right[1] as f32], [left[0] as f32, left[1] as f32]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts_text(shift: f32) -> String {
        let mut s = String::from("version: 1\nn_points:  68\n{\n");
        for i in 0..68 {
            s += &format!("{} {}\n", 10.0 + i as f32 + shift, 20.0 + i as f32);
        }
        s + "}\n"
    }

    #[test]
    fn reads_pts_files_from_a_folder_and_a_pattern() {
        let dir = std::env::temp_dir().join(format!("lp-pts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in [3u32, 1, 2] {
            std::fs::write(dir.join(format!("face_{f:04}.pts")), pts_text(f as f32)).unwrap();
        }
        let t = load_track(&dir, [100, 100]).unwrap();
        assert_eq!(t.frames.iter().map(|f| f.frame).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(t.frame(2).unwrap().landmarks.unwrap()[0], [12.0, 20.0]);
        let t = load_track(&dir.join("face_%04d.pts"), [100, 100]).unwrap();
        assert_eq!(t.frames.len(), 3);
        std::fs::write(dir.join("face_0004.pts"), pts_text(0.0).replace("n_points:  68", "n_points: 5")).unwrap();
        assert!(load_track(&dir, [1, 1]).unwrap_err().0.contains("face_0004.pts"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn reads_mediapipe_json_normalised_or_in_pixels() {
        let mesh: Vec<String> = (0..468).map(|i| format!("[{}, {}, 0.0]", (i % 20) as f64 / 40.0, (i / 20) as f64 / 60.0)).collect();
        let text = format!("{{\"image_size\": [200, 100], \"normalized\": true, \"frames\": [{{\"frame\": 5, \"landmarks\": [{}]}}, {{\"frame\": 6, \"missing\": true}}]}}", mesh.join(", "));
        let t = parse_mediapipe_json(&text, [1, 1]).unwrap();
        assert_eq!(t.image_size, [200, 100]);
        assert!(t.frame(6).unwrap().landmarks.is_none());
        let l = t.frame(5).unwrap().landmarks.unwrap();
        assert!(l.iter().all(|p| (0.0..=100.0).contains(&p[0]) && (0.0..=40.0).contains(&p[1])));
        assert!(parse_mediapipe_json(&text.replace("\"image_size\": [200, 100], ", ""), [1, 1]).is_err());
    }

    fn csv(rows: &[(u32, u32, f64)]) -> String {
        let mut h = vec!["frame".to_string(), " face_id".into(), " timestamp".into(), " confidence".into(), " success".into()];
        h.extend((0..68).map(|i| format!(" x_{i}")));
        h.extend((0..68).map(|i| format!(" y_{i}")));
        let mut s = h.join(",") + "\n";
        for (frame, success, shift) in rows {
            let mut r = vec![frame.to_string(), "0".into(), "0.04".into(), "0.98".into(), success.to_string()];
            r.extend((0..68).map(|i| format!("{}", 100.0 + i as f64 + shift)));
            r.extend((0..68).map(|i| format!("{}", 200.0 + i as f64)));
            s += &(r.join(", ") + "\n");
        }
        s
    }

    #[test]
    fn mediapipe_478_points_carry_the_irises() {
        let frame = |n: usize, shift: f64| {
            let pts: Vec<String> = (0..n).map(|i| format!("[{}, {}, 0]", 100.0 + i as f64 + shift, 50.0 + i as f64)).collect();
            format!("{{\"frame\": 1, \"landmarks\": [{}]}}", pts.join(","))
        };
        let t = parse_mediapipe_json(&format!("[{}]", frame(478, 0.5)), [640, 480]).unwrap();
        assert_eq!(t.irises, vec![(1, [[568.5, 518.0], [573.5, 523.0]])]);
        let t = parse_mediapipe_json(&format!("[{}]", frame(468, 0.0)), [640, 480]).unwrap();
        assert!(t.irises.is_empty());
        assert!(parse_mediapipe_json(&format!("[{}]", frame(470, 0.0)), [640, 480]).unwrap_err().contains("478"));
    }

    #[test]
    fn reads_openface_gaze_in_degrees_subject_left_and_up() {
        // Gaze_angle_x > 0 is the subject's left, gaze_angle_y < 0 is up (OpenFace's camera y is down).
        let base = csv(&[(1, 1, 0.0), (2, 0, 0.0), (3, 1, 0.0)]);
        let mut lines = base.lines();
        let mut text = format!("{}, gaze_angle_x, gaze_angle_y\n", lines.next().unwrap());
        for (line, (gx, gy)) in lines.zip([(0.2, -0.1), (0.5, 0.5), (-0.3, 0.05)]) {
            text += &format!("{line}, {gx}, {gy}\n");
        }
        let t = parse_openface_csv(&text, [640, 480]).unwrap();
        // frame 2 failed: no gaze for it
        assert_eq!(t.gaze.iter().map(|g| g.0).collect::<Vec<_>>(), [1, 3]);
        let g1 = t.gaze[0].1;
        assert!((g1[0] - 0.2f32.to_degrees()).abs() < 1e-3 && (g1[1] - 0.1f32.to_degrees()).abs() < 1e-3, "{g1:?}");
        assert!(t.gaze[1].1[0] < 0.0 && t.gaze[1].1[1] < 0.0);
        // no gaze columns: no gaze
        assert!(parse_openface_csv(&base, [640, 480]).unwrap().gaze.is_empty());
    }

    #[test]
    fn openface_gaze_loses_the_head_turn_when_the_file_has_the_head_pose() {
        // Eyes fixed in a head turned by pose_Ry = 0.3 rad look along R·(0, 0, -1) = (-sin 0.3, 0, -cos 0.3) in the
        // camera frame: gaze_angle_x = -0.3. Inside the head that is straight ahead.
        let (x, y) = head_relative_gaze(-0.3, 0.0, [0.0, 0.3, 0.0]);
        assert!(x.abs() < 1e-9 && y.abs() < 1e-9, "{x} {y}");
        // The same head, eyes turned 0.2 rad further to the camera's left inside it.
        let (x, _) = head_relative_gaze(-0.5, 0.0, [0.0, 0.3, 0.0]);
        assert!((x + 0.2).abs() < 1e-9, "{x}");
        // Nod (pose_Rx) and roll (pose_Rz) together, eyes fixed: the camera-frame gaze is R·(0, 0, -1).
        let r = [0.25f64, -0.15, 0.4];
        let (s1, c1) = r[0].sin_cos();
        let (s2, c2) = r[1].sin_cos();
        let g = [-s2, c2 * s1, -c1 * c2]; // -(third column of R)
        let (x, y) = head_relative_gaze(g[0].atan2(-g[2]), g[1].atan2(-g[2]), r);
        assert!(x.abs() < 1e-9 && y.abs() < 1e-9, "{x} {y}");

        let base = csv(&[(1, 1, 0.0)]);
        let mut lines = base.lines();
        let head = lines.next().unwrap();
        let text = format!("{head}, pose_Rx, pose_Ry, pose_Rz, gaze_angle_x, gaze_angle_y\n{}, 0, 0.3, 0, -0.5, 0\n", lines.next().unwrap());
        let t = parse_openface_csv(&text, [640, 480]).unwrap();
        assert!((t.gaze[0].1[0] + 0.2f32.to_degrees()).abs() < 1e-3, "{:?}", t.gaze);
    }

    #[test]
    fn openface_eye_landmarks_give_the_iris_centres() {
        // Eye landmarks: block 0 rings a point near the 68 points' left eye (42-47), block 1 one near the right
        // (36-41), as a model file listing the eyes the other way round would write them.
        let base = csv(&[(1, 1, 0.0), (2, 0, 0.0)]);
        let t0 = parse_openface_csv(&base, [640, 480]).unwrap();
        let l = t0.frame(1).unwrap().landmarks.unwrap();
        let centre = |r: std::ops::Range<usize>| {
            let n = r.len() as f32;
            r.fold([0.0, 0.0], |a, i| [a[0] + l[i][0] / n, a[1] + l[i][1] / n])
        };
        let (re, le) = (centre(36..42), centre(42..48));
        let mut lines = base.lines();
        let mut head = lines.next().unwrap().to_string();
        for axis in ["x", "y"] {
            for i in 0..56 {
                head += &format!(", eye_lmk_{axis}_{i}");
            }
        }
        let mut text = head + "\n";
        for line in lines {
            let mut cells = vec![line.to_string()];
            for axis in 0..2 {
                for i in 0..56 {
                    let (c, ring) = if i < 28 { (le, i) } else { (re, i - 28) };
                    let v = if ring < 8 {
                        let a = ring as f32 / 8.0 * std::f32::consts::TAU;
                        c[axis] + 1.5 + 3.0 * if axis == 0 { a.cos() } else { a.sin() }
                    } else {
                        c[axis] + 40.0 // lid points: not part of the iris ring
                    };
                    cells.push(format!("{v}"));
                }
            }
            text += &(cells.join(", ") + "\n");
        }
        let t = parse_openface_csv(&text, [640, 480]).unwrap();
        assert_eq!(t.irises.len(), 1, "one iris pair: frame 2 failed");
        let [r, lft] = t.irises[0].1;
        for (got, want) in [(r, re), (lft, le)] {
            assert!((got[0] - want[0] - 1.5).abs() < 1e-3 && (got[1] - want[1] - 1.5).abs() < 1e-3, "{got:?} {want:?}");
        }
        // With gaze angles but no head pose, the eye landmarks win (the angles would include head turns).
        let with_angles: String = text
            .lines()
            .enumerate()
            .map(|(k, line)| if k == 0 { format!("{line}, gaze_angle_x, gaze_angle_y\n") } else { format!("{line}, 0.3, 0\n") })
            .collect();
        let t = parse_openface_csv(&with_angles, [640, 480]).unwrap();
        assert!(t.gaze.is_empty() && t.irises.len() == 1, "{:?}", t.gaze);
    }

    #[test]
    fn reads_openface_rows_and_failed_frames() {
        let t = parse_openface_csv(&csv(&[(1, 1, 0.0), (2, 0, 0.0), (3, 1, 2.5)]), [640, 480]).unwrap();
        assert_eq!(t.frames.len(), 3);
        assert_eq!(t.frame(1).unwrap().landmarks.unwrap()[5], [105.0, 205.0]);
        assert!(t.frame(2).unwrap().landmarks.is_none());
        assert_eq!(t.frame(3).unwrap().landmarks.unwrap()[0], [102.5, 200.0]);
    }

    #[test]
    fn malformed_csv_is_refused_with_the_line() {
        let mut bad = csv(&[(1, 1, 0.0)]);
        bad.push_str("2, 0, 0.1\n");
        assert!(parse_openface_csv(&bad, [1, 1]).unwrap_err().contains("line 3"));
        let nan = csv(&[(1, 1, 0.0)]).replace("105, ", "NaN, ");
        assert!(parse_openface_csv(&nan, [1, 1]).is_err());
        let dup = csv(&[(1, 1, 0.0), (1, 1, 0.0)]);
        assert!(parse_openface_csv(&dup, [1, 1]).unwrap_err().contains("twice"));
        let neg = csv(&[(1, 1, 0.0)]).replacen("\n1,", "\n-1,", 1);
        assert!(parse_openface_csv(&neg, [1, 1]).is_err());
    }
}
