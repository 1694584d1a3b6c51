//! Reading landmark tracks from files, whatever the format: the project's own
//! JSON track (see [`crate::face::track`]) and OpenFace 2.x CSV, detected by
//! content, not by extension.
//!
//! OpenFace 2.x (`FeatureExtraction -2Dfp`) writes one row per frame and face
//! with the columns `frame, face_id, timestamp, confidence, success, …, x_0 …
//! x_67, y_0 … y_67, …` (headers may carry a leading space). `frame` counts from
//! 1; points are image pixels with y down. A row with `success` 0 is a frame
//! without a face. With several faces per frame the lowest `face_id` is used.

use std::path::Path;

use crate::face::track::{LandmarkTrack, TrackFrame, MAX_TRACK_BYTES};
use crate::face::Landmarks68;

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
pub fn load_track(path: &Path, image_size: [u32; 2]) -> Result<LandmarkTrack, TrackLoadError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| TrackLoadError(format!("cannot read the track file {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(TrackLoadError(format!("the track file {} is not a file", path.display())));
    }
    if meta.len() > MAX_TRACK_BYTES {
        return Err(TrackLoadError(format!(
            "the track file {} is {} bytes; tracks larger than {} bytes are refused",
            path.display(),
            meta.len(),
            MAX_TRACK_BYTES
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| TrackLoadError(format!("cannot read the track file {}: {e}", path.display())))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| TrackLoadError(format!("the track file {} is not text (not UTF-8)", path.display())))?;
    let first = text.trim_start().chars().next();
    let r = match first {
        Some('{') => LandmarkTrack::parse(&text).map_err(|e| e.to_string()),
        Some(_) if looks_like_openface(&text) => parse_openface_csv(&text, image_size),
        _ => Err("it is neither a Living Portrait JSON track nor an OpenFace 2.x CSV file".to_string()),
    };
    r.map_err(|e| TrackLoadError(format!("the track file {} is not usable: {e}", path.display())))
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
    let mut xs = [0usize; 68];
    let mut ys = [0usize; 68];
    for i in 0..68 {
        xs[i] = col(&format!("x_{i}")).ok_or_else(|| format!("there is no \"x_{i}\" column"))?;
        ys[i] = col(&format!("y_{i}")).ok_or_else(|| format!("there is no \"y_{i}\" column"))?;
    }
    // frame -> (face id, landmarks)
    let mut frames: std::collections::BTreeMap<u32, (i64, Option<Landmarks68>)> = Default::default();
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
                return Err(format!("line {row}: {what} is not a finite number"));
            }
            Ok(v)
        };
        let frame = num(frame_col, "frame")?;
        if frame < 0.0 || frame.fract() != 0.0 || frame > u32::MAX as f64 {
            return Err(format!("line {row}: frame {frame} is not a non-negative whole number"));
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
        let landmarks = if ok {
            let mut l = [[0.0f32; 2]; 68];
            for i in 0..68 {
                l[i] = [num(xs[i], "a landmark x")? as f32, num(ys[i], "a landmark y")? as f32];
            }
            Some(l)
        } else {
            None
        };
        match frames.get(&frame) {
            Some((f, _)) if *f == face => return Err(format!("line {row}: frame {frame} appears twice")),
            Some((f, _)) if *f < face => {}
            _ => {
                frames.insert(frame, (face, landmarks));
            }
        }
    }
    if frames.is_empty() {
        return Err("it has no frames".into());
    }
    let frames = frames.into_iter().map(|(frame, (_, landmarks))| TrackFrame { frame, landmarks }).collect();
    LandmarkTrack::new(image_size, None, frames).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
