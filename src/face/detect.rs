//! Face detection with MediaPipe's short-range BlazeFace model, decoded as MediaPipe's own graph does
//! (`face_detection_short_range.pbtxt`: SsdAnchorsCalculator, TensorsToDetectionsCalculator,
//! NonMaxSuppressionCalculator, DetectionLetterboxRemovalCalculator). The whole image is letterboxed into a
//! square and resampled to 128×128 in [-1, 1]; each of the 896 anchors (a 16×16 grid with 2 anchors per cell at
//! stride 8, an 8×8 grid with 6 per cell at stride 16, centred at cell + 0.5, all of size 1) carries a box and six
//! keypoints as offsets in 128-pixel units; scores are the sigmoid of logits clipped to ±100; boxes above 0.5 are
//! merged by weighted non-maximum suppression (IoU 0.3) and mapped back through the letterbox.

use super::image::{to_tensor, warp_rgb, Affine, Border, FaceImage};
use crate::inference::{ModelSpec, TensorInput, TensorSpec};

/// The detector model and its tensors.
pub const DETECTOR_MODEL: ModelSpec = ModelSpec {
    file: "face_detector.onnx",
    inputs: &[TensorSpec { name: "input", shape: &[1, 128, 128, 3] }],
    outputs: &[
        TensorSpec { name: "regressors", shape: &[1, 896, 16] },
        TensorSpec { name: "classificators", shape: &[1, 896, 1] },
    ],
};

pub(crate) const INPUT_SIZE: u32 = 128;
const NUM_ANCHORS: usize = 896;
const NUM_COORDS: usize = 16;
/// Keypoints per detection: right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion
/// (the subject's right and left: the right eye is on the image's left).
pub const NUM_KEYPOINTS: usize = 6;
/// MediaPipe clips raw scores to ±100 before the sigmoid.
const SCORE_CLIP: f32 = 100.0;
/// Detections below this probability are dropped (the graph's min_score_thresh).
pub const MIN_SCORE: f32 = 0.5;
/// Boxes overlapping the best one by more than this IoU are merged into it.
pub(crate) const NMS_IOU: f32 = 0.3;

/// An axis-aligned box in image pixels, origin top-left.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl FaceBox {
    fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    /// Intersection over union; 0 when the boxes do not overlap.
    pub fn iou(&self, other: &FaceBox) -> f32 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.w).min(other.x + other.w);
        let y1 = (self.y + self.h).min(other.y + other.h);
        if x1 <= x0 || y1 <= y0 {
            return 0.0;
        }
        let inter = (x1 - x0) * (y1 - y0);
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

/// One detected face.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceDetection {
    /// The face box in image pixels.
    pub bbox: FaceBox,
    /// Detection probability (0–1).
    pub score: f32,
    /// `[x, y]` in image pixels: right eye, left eye, nose tip, mouth centre, right ear, left ear.
    pub keypoints: [[f32; 2]; NUM_KEYPOINTS],
}

/// Anchor centres in normalised tensor units, in the model's output order.
fn anchors() -> &'static [[f32; 2]; NUM_ANCHORS] {
    static ANCHORS: once_cell::sync::Lazy<[[f32; 2]; NUM_ANCHORS]> = once_cell::sync::Lazy::new(|| {
        let mut out = [[0.0; 2]; NUM_ANCHORS];
        let mut k = 0;
        // SsdAnchorsCalculator with strides [8, 16, 16, 16]: layers of equal stride share one grid, so stride 16
        // has 3 layers × 2 anchors = 6 per cell.
        for (stride, per_cell) in [(8u32, 2usize), (16, 6)] {
            let cells = INPUT_SIZE / stride;
            for y in 0..cells {
                for x in 0..cells {
                    for _ in 0..per_cell {
                        out[k] = [(x as f32 + 0.5) / cells as f32, (y as f32 + 0.5) / cells as f32];
                        k += 1;
                    }
                }
            }
        }
        debug_assert_eq!(k, NUM_ANCHORS);
        out
    });
    &ANCHORS
}

/// The letterbox: the whole image centred in a square of side `max(w, h)`, mapped onto the 128×128 tensor.
pub(crate) fn letterbox(img: &FaceImage) -> (Affine, f64) {
    let side = img.width.max(img.height) as f64;
    let map =
        Affine::from_rect(img.width as f64 / 2.0, img.height as f64 / 2.0, side, side, 0.0, INPUT_SIZE, INPUT_SIZE);
    (map, side)
}

/// The detector's input tensor for `img`: letterboxed, 128×128, NHWC, values in [-1, 1], black padding.
pub(crate) fn detector_input(img: &FaceImage) -> Vec<f32> {
    let (map, _) = letterbox(img);
    let rgb = warp_rgb(img, &map, INPUT_SIZE, INPUT_SIZE, Border::Zero);
    to_tensor(&rgb, 1.0 / 127.5, -1.0)
}

/// The input in the form the session pool takes.
pub(crate) fn input_tensor(data: &[f32]) -> TensorInput<'_> {
    TensorInput { name: "input", shape: &[1, 128, 128, 3], data }
}

/// Decodes the raw outputs into detections in image pixels, best first.
pub(crate) fn decode(img: &FaceImage, regressors: &[f32], classificators: &[f32]) -> Vec<FaceDetection> {
    let merged = weighted_nms(candidates(regressors, classificators));
    // Letterbox removal: normalised tensor position t → image position centre + (t − 0.5)·side.
    let (_, side) = letterbox(img);
    let side = side as f32;
    let (cx, cy) = (img.width as f32 / 2.0, img.height as f32 / 2.0);
    let to_x = |t: f32| cx + (t - 0.5) * side;
    let to_y = |t: f32| cy + (t - 0.5) * side;
    merged
        .into_iter()
        .map(|d| FaceDetection {
            bbox: FaceBox { x: to_x(d.bbox.x), y: to_y(d.bbox.y), w: d.bbox.w * side, h: d.bbox.h * side },
            score: d.score,
            keypoints: d.keypoints.map(|[x, y]| [to_x(x), to_y(y)]),
        })
        .collect()
}

/// Every anchor's detection above the score threshold, in normalised tensor coordinates (0–1 across the
/// 128-pixel input), in anchor order, not yet merged. Empty when the outputs have the wrong size.
pub(crate) fn candidates(regressors: &[f32], classificators: &[f32]) -> Vec<FaceDetection> {
    if regressors.len() != NUM_ANCHORS * NUM_COORDS || classificators.len() != NUM_ANCHORS {
        return Vec::new();
    }
    let anchors = anchors();
    let scale = INPUT_SIZE as f32;
    let mut candidates: Vec<FaceDetection> = Vec::new();
    for (i, anchor) in anchors.iter().enumerate() {
        let logit = classificators[i];
        if !logit.is_finite() {
            continue;
        }
        let score = 1.0 / (1.0 + (-logit.clamp(-SCORE_CLIP, SCORE_CLIP)).exp());
        if score < MIN_SCORE {
            continue;
        }
        let r = &regressors[i * NUM_COORDS..(i + 1) * NUM_COORDS];
        if r.iter().any(|v| !v.is_finite()) {
            continue;
        }
        let cx = r[0] / scale + anchor[0];
        let cy = r[1] / scale + anchor[1];
        let w = r[2] / scale;
        let h = r[3] / scale;
        let mut keypoints = [[0.0; 2]; NUM_KEYPOINTS];
        for (k, kp) in keypoints.iter_mut().enumerate() {
            *kp = [r[4 + 2 * k] / scale + anchor[0], r[5 + 2 * k] / scale + anchor[1]];
        }
        candidates.push(FaceDetection { bbox: FaceBox { x: cx - w / 2.0, y: cy - h / 2.0, w, h }, score, keypoints });
    }
    candidates
}

/// A detection in normalised tensor coordinates mapped into the image through `map` (tensor pixel → image
/// position), which must be axis-aligned with a positive scale, as a tile's is.
pub(crate) fn map_detection(d: &FaceDetection, map: &Affine) -> FaceDetection {
    let n = INPUT_SIZE as f64;
    let at = |p: [f32; 2]| {
        let (x, y) = map.apply(p[0] as f64 * n, p[1] as f64 * n);
        [x as f32, y as f32]
    };
    let [x, y] = at([d.bbox.x, d.bbox.y]);
    let [x1, y1] = at([d.bbox.x + d.bbox.w, d.bbox.y + d.bbox.h]);
    FaceDetection { bbox: FaceBox { x, y, w: x1 - x, h: y1 - y }, score: d.score, keypoints: d.keypoints.map(at) }
}

/// MediaPipe's weighted non-maximum suppression: take the best remaining detection, average it with every
/// remaining one that overlaps it by more than the IoU threshold (weighted by score; box and keypoints), keep
/// the best one's score, and repeat on what did not overlap.
pub(crate) fn weighted_nms(mut candidates: Vec<FaceDetection>) -> Vec<FaceDetection> {
    // Stable sort: equal scores keep anchor order, so the result does not depend on sort internals.
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    let mut remaining = candidates;
    while let Some(best) = remaining.first().cloned() {
        let (overlapping, rest): (Vec<FaceDetection>, Vec<FaceDetection>) =
            remaining.into_iter().partition(|d| d.bbox.iou(&best.bbox) > NMS_IOU);
        let mut merged = best.clone();
        let total: f32 = overlapping.iter().map(|d| d.score).sum();
        if !overlapping.is_empty() && total > 0.0 {
            let (mut x0, mut y0, mut x1, mut y1) = (0.0, 0.0, 0.0, 0.0);
            let mut kps = [[0.0f32; 2]; NUM_KEYPOINTS];
            for d in &overlapping {
                x0 += d.bbox.x * d.score;
                y0 += d.bbox.y * d.score;
                x1 += (d.bbox.x + d.bbox.w) * d.score;
                y1 += (d.bbox.y + d.bbox.h) * d.score;
                for (acc, kp) in kps.iter_mut().zip(&d.keypoints) {
                    acc[0] += kp[0] * d.score;
                    acc[1] += kp[1] * d.score;
                }
            }
            let (x0, y0, x1, y1) = (x0 / total, y0 / total, x1 / total, y1 / total);
            merged.bbox = FaceBox { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
            merged.keypoints = kps.map(|[x, y]| [x / total, y / total]);
        }
        out.push(merged);
        // The best one always overlaps itself, so `rest` is strictly smaller: the loop ends.
        remaining = rest;
        if overlapping.is_empty() {
            // Only possible for a degenerate (zero-area) best box, which is still first: drop it so the loop
            // always progresses.
            remaining.remove(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_mediapipe_layout() {
        let a = anchors();
        assert_eq!(a[0], [0.5 / 16.0, 0.5 / 16.0]);
        assert_eq!(a[1], a[0]);
        assert_eq!(a[2], [1.5 / 16.0, 0.5 / 16.0]);
        assert_eq!(a[512], [0.5 / 8.0, 0.5 / 8.0]);
        assert_eq!(a[517], a[512]);
        assert_eq!(a[518], [1.5 / 8.0, 0.5 / 8.0]);
        assert_eq!(a[895], [7.5 / 8.0, 7.5 / 8.0]);
    }

    fn det(x: f32, score: f32) -> FaceDetection {
        FaceDetection { bbox: FaceBox { x, y: 0.0, w: 1.0, h: 1.0 }, score, keypoints: [[x, 0.0]; 6] }
    }

    #[test]
    fn weighted_nms_merges_overlaps() {
        let out = weighted_nms(vec![det(0.0, 0.6), det(0.1, 0.9), det(5.0, 0.7)]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        let expected_x = (0.1 * 0.9 + 0.0 * 0.6) / 1.5;
        assert!((out[0].bbox.x - expected_x).abs() < 1e-6);
        assert_eq!(out[1].bbox.x, 5.0);
        // Degenerate boxes do not loop forever.
        let zero =
            FaceDetection { bbox: FaceBox { x: 0.0, y: 0.0, w: 0.0, h: 0.0 }, score: 0.8, keypoints: [[0.0; 2]; 6] };
        assert_eq!(weighted_nms(vec![zero.clone(), zero]).len(), 2);
    }

    #[test]
    fn blank_outputs_give_no_faces() {
        let img = FaceImage::filled(64, 32, [0, 0, 0]).unwrap();
        let reg = vec![0.0; NUM_ANCHORS * NUM_COORDS];
        let cls = vec![-10.0; NUM_ANCHORS];
        assert!(decode(&img, &reg, &cls).is_empty());
        assert!(decode(&img, &reg[1..], &cls).is_empty());
    }
}
