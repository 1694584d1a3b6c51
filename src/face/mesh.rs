//! The 468-point face mesh, prepared and projected as MediaPipe's `face_landmark_front_cpu` graph does. From a
//! detection: the crop is centred on the detection box, rotated so the line from keypoint 0 (right eye) to
//! keypoint 1 (left eye) becomes horizontal, made square on the box's long side and enlarged 1.5 times
//! (DetectionsToRectsCalculator + RectTransformationCalculator); it is resampled to 192×192 in [0, 1] with the
//! edge pixels repeated outside the image. The model is MediaPipe's face mesh *with attention* (the one behind
//! `refine_landmarks=True`): it gives 468 × (x, y, z) in crop pixels, refined contours of the lips (80 points)
//! and of each eye with its brow (71 points), the irises (5 points each: the centre, then four points on the
//! iris's edge; MediaPipe's refined points 468–477) and a face-presence logit. As MediaPipe's LandmarksRefinementCalculator does, the refined x, y replace those of the mesh points
//! they belong to (z stays the mesh's); points go back to the image through the same rotation and scale
//! (LandmarkProjectionCalculator), and z, relative depth, is scaled like x.

use super::detect::FaceDetection;
use super::image::{to_tensor, warp_rgb, Affine, Border, FaceImage};
use crate::inference::{ModelSpec, TensorInput, TensorSpec};

/// The mesh model and its tensors.
pub const MESH_MODEL: ModelSpec = ModelSpec {
    file: "face_mesh_attention.onnx",
    inputs: &[TensorSpec { name: "input_1", shape: &[1, 192, 192, 3] }],
    outputs: &[
        TensorSpec { name: "output_mesh_identity", shape: &[1, 1, 1, 1404] },
        TensorSpec { name: "output_lips", shape: &[1, 1, 1, 160] },
        TensorSpec { name: "output_left_eye", shape: &[1, 1, 1, 142] },
        TensorSpec { name: "output_right_eye", shape: &[1, 1, 1, 142] },
        TensorSpec { name: "output_left_iris", shape: &[1, 1, 1, 10] },
        TensorSpec { name: "output_right_iris", shape: &[1, 1, 1, 10] },
        TensorSpec { name: "conv_faceflag", shape: &[1, 1, 1, 1] },
    ],
};

// Which mesh point each refined point replaces: the `indexes_mapping` of MediaPipe 0.10.14's
// TensorsToFaceLandmarksWithAttention subgraph (its LandmarksRefinementCalculator options), the same
// lists as the model's own Landmarks2TransformMatrix subsets. "Left eye" is MediaPipe's name for the eye on the
// image's left (the subject's right, mesh points 33…133).
/// `output_lips` (80 × x, y).
const LIPS_REFINEMENT: [u16; 80] = [
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409, 78, 95, 88, 178, 87, 14,
    317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415, 76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306,
    184, 74, 73, 72, 11, 302, 303, 304, 408, 62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292, 183, 42, 41, 38, 12,
    268, 271, 272, 407,
];
/// `output_left_eye` (71 × x, y): the eye on the image's left and its brow.
const LEFT_EYE_REFINEMENT: [u16; 71] = [
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173, 130, 25, 110, 24, 23, 22, 26, 112,
    243, 247, 30, 29, 27, 28, 56, 190, 226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222, 221, 189,
    35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245, 156, 70, 63, 105, 66, 107, 55, 193,
];
/// `output_right_eye` (71 × x, y): the eye on the image's right and its brow.
const RIGHT_EYE_REFINEMENT: [u16; 71] = [
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398, 359, 255, 339, 254, 253, 252, 256,
    341, 463, 467, 260, 259, 257, 258, 286, 414, 446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444, 443, 442,
    441, 413, 265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465, 383, 300, 293, 334, 296, 336,
    285, 417,
];

/// Points in the mesh.
pub const MESH_POINTS: usize = 468;
const INPUT_SIZE: u32 = 192;
/// The crop's enlargement over the detection box (MediaPipe's scale_x / scale_y).
const CROP_SCALE: f32 = 1.5;
/// Below this presence probability MediaPipe drops the landmarks (its ThresholdingCalculator).
pub const MIN_PRESENCE: f32 = 0.5;

/// The square, rotated region of the image the mesh model saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceCrop {
    /// Centre in image pixels.
    pub center: [f32; 2],
    /// Side in image pixels.
    pub size: f32,
    /// Rotation in radians, clockwise on screen (y down); rotating the image content by −rotation levels the eyes.
    pub rotation: f32,
}

impl FaceCrop {
    /// The crop MediaPipe takes for a detection.
    pub fn from_detection(det: &FaceDetection) -> FaceCrop {
        let [x0, y0] = det.keypoints[0];
        let [x1, y1] = det.keypoints[1];
        // MediaPipe: rotation = target_angle − atan2(−(y1 − y0), x1 − x0), target 0, normalised to (−π, π].
        let rotation = normalize_radians(-(-(y1 - y0)).atan2(x1 - x0));
        let long_side = det.bbox.w.max(det.bbox.h);
        FaceCrop {
            center: [det.bbox.x + det.bbox.w / 2.0, det.bbox.y + det.bbox.h / 2.0],
            size: long_side * CROP_SCALE,
            rotation,
        }
    }

    /// Tensor pixel → image position.
    pub fn tensor_map(&self) -> Affine {
        Affine::from_rect(
            self.center[0] as f64,
            self.center[1] as f64,
            self.size as f64,
            self.size as f64,
            self.rotation as f64,
            INPUT_SIZE,
            INPUT_SIZE,
        )
    }
}

fn normalize_radians(angle: f32) -> f32 {
    use std::f32::consts::PI;
    angle - 2.0 * PI * ((angle + PI) / (2.0 * PI)).floor()
}

/// The 468-point mesh of one face.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceMesh {
    /// `[x, y, z]` in image pixels (origin top-left); z is relative depth in the same scale as x, smaller is
    /// nearer the camera.
    pub points468: Vec<[f32; 3]>,
    /// Face-presence probability (0–1); below 0.5 MediaPipe would report no face.
    pub presence: f32,
    /// The iris centres `[x, y]` in image pixels: the subject's right eye (iBUG 36–41, on the image's left in a
    /// frontal portrait; MediaPipe's "left iris", point 468) first, then the subject's left (point 473).
    pub irises: [[f32; 2]; 2],
    /// The iris radii in image pixels (mean distance of the four edge points from the centre), same order.
    pub iris_radii: [f32; 2],
    /// The crop the model saw.
    pub crop: FaceCrop,
}

/// The mesh model's input for a crop: 192×192 RGB in [0, 1], NHWC.
pub(crate) fn mesh_input(img: &FaceImage, crop: &FaceCrop) -> Vec<f32> {
    let rgb = warp_rgb(img, &crop.tensor_map(), INPUT_SIZE, INPUT_SIZE, Border::Replicate);
    to_tensor(&rgb, 1.0 / 255.0, 0.0)
}

pub(crate) fn input_tensor(data: &[f32]) -> TensorInput<'_> {
    TensorInput { name: "input_1", shape: &[1, 192, 192, 3], data }
}

/// Replaces the x, y of the mesh points (468 × x, y, z in crop pixels) by the refined lip and eye contours (each
/// n × x, y in crop pixels), as MediaPipe's LandmarksRefinementCalculator does; z stays the mesh's. False when an
/// output has the wrong length.
pub(crate) fn refine(mesh: &mut [f32], lips: &[f32], left_eye: &[f32], right_eye: &[f32]) -> bool {
    if mesh.len() != MESH_POINTS * 3 {
        return false;
    }
    let parts: [(&[f32], &[u16]); 3] =
        [(lips, &LIPS_REFINEMENT), (left_eye, &LEFT_EYE_REFINEMENT), (right_eye, &RIGHT_EYE_REFINEMENT)];
    if parts.iter().any(|(values, map)| values.len() != map.len() * 2) {
        return false;
    }
    for (values, map) in parts {
        for (xy, &i) in values.chunks_exact(2).zip(map) {
            mesh[i as usize * 3] = xy[0];
            mesh[i as usize * 3 + 1] = xy[1];
        }
    }
    true
}

/// Projects the model's output back into the image: the 468 points (x, y, z in crop pixels), the two irises
/// (`output_left_iris`, `output_right_iris`: 5 × x, y each, centre first) and the presence logit.
pub(crate) fn decode(crop: &FaceCrop, landmarks: &[f32], irises: [&[f32]; 2], presence_logit: f32) -> Option<FaceMesh> {
    if landmarks.len() != MESH_POINTS * 3 || landmarks.iter().any(|v| !v.is_finite()) {
        return None;
    }
    if irises.iter().any(|i| i.len() != 10 || i.iter().any(|v| !v.is_finite())) {
        return None;
    }
    let (s, c) = crop.rotation.sin_cos();
    let size = crop.size;
    let n = INPUT_SIZE as f32;
    let project = |x: f32, y: f32| {
        let (x, y) = (x / n - 0.5, y / n - 0.5);
        [(c * x - s * y) * size + crop.center[0], (s * x + c * y) * size + crop.center[1]]
    };
    let points468 = landmarks
        .chunks_exact(3)
        .map(|p| {
            let [x, y] = project(p[0], p[1]);
            [x, y, p[2] / n * size]
        })
        .collect();
    let mut centres = [[0.0f32; 2]; 2];
    let mut radii = [0.0f32; 2];
    for (k, iris) in irises.iter().enumerate() {
        let pts: Vec<[f32; 2]> = iris.chunks_exact(2).map(|p| project(p[0], p[1])).collect();
        centres[k] = pts[0];
        radii[k] = pts[1..].iter().map(|p| (p[0] - pts[0][0]).hypot(p[1] - pts[0][1])).sum::<f32>() / 4.0;
    }
    let presence = if presence_logit.is_finite() { 1.0 / (1.0 + (-presence_logit).exp()) } else { 0.0 };
    Some(FaceMesh { points468, presence, irises: centres, iris_radii: radii, crop: *crop })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::detect::FaceBox;

    fn detection(eye_dy: f32) -> FaceDetection {
        let mut keypoints = [[0.0; 2]; 6];
        keypoints[0] = [40.0, 50.0];
        keypoints[1] = [60.0, 50.0 + eye_dy];
        FaceDetection { bbox: FaceBox { x: 30.0, y: 30.0, w: 40.0, h: 30.0 }, score: 0.9, keypoints }
    }

    #[test]
    fn crop_is_square_enlarged_and_levels_the_eyes() {
        let crop = FaceCrop::from_detection(&detection(0.0));
        assert_eq!(crop.center, [50.0, 45.0]);
        assert_eq!(crop.size, 60.0);
        assert_eq!(crop.rotation, 0.0);
        // Left eye lower on screen (y down) → positive (clockwise) rotation.
        let crop = FaceCrop::from_detection(&detection(20.0));
        assert!((crop.rotation - std::f32::consts::FRAC_PI_4).abs() < 1e-6);
        // The crop's x axis runs from the right eye to the left eye.
        let map = crop.tensor_map();
        let (x0, y0) = map.apply(0.0, 96.0);
        let (x1, y1) = map.apply(192.0, 96.0);
        assert!(((y1 - y0) / (x1 - x0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn projection_inverts_the_crop() {
        let crop = FaceCrop::from_detection(&detection(7.0));
        let map = crop.tensor_map();
        let mut raw = vec![0.0f32; MESH_POINTS * 3];
        raw[0] = 10.0;
        raw[1] = 150.0;
        raw[2] = 19.2;
        let iris: Vec<f32> = [96.0, 96.0, 100.0, 96.0, 96.0, 100.0, 92.0, 96.0, 96.0, 92.0].to_vec();
        let mesh = decode(&crop, &raw, [&iris, &iris], 3.0).unwrap();
        let (x, y) = map.apply(10.0, 150.0);
        assert!((mesh.points468[0][0] as f64 - x).abs() < 1e-3 && (mesh.points468[0][1] as f64 - y).abs() < 1e-3);
        assert!((mesh.points468[0][2] - 0.1 * crop.size).abs() < 1e-4);
        assert!(mesh.presence > 0.95);
        // The iris centre is the crop's centre; its radius, 4 tensor pixels, scales like x.
        assert!((mesh.irises[0][0] - crop.center[0]).abs() < 1e-3 && (mesh.irises[1][1] - crop.center[1]).abs() < 1e-3);
        assert!((mesh.iris_radii[0] - 4.0 / 192.0 * crop.size).abs() < 1e-3);
        assert!(decode(&crop, &raw[3..], [&iris, &iris], 0.0).is_none());
        assert!(decode(&crop, &raw, [&iris[2..], &iris], 0.0).is_none());
    }

    #[test]
    fn refinement_replaces_x_and_y_of_the_mapped_points() {
        let mut mesh = vec![-1.0f32; MESH_POINTS * 3];
        let lips: Vec<f32> = (0..160).map(|k| k as f32).collect();
        let left: Vec<f32> = (0..142).map(|k| 1000.0 + k as f32).collect();
        let right: Vec<f32> = (0..142).map(|k| 2000.0 + k as f32).collect();
        assert!(refine(&mut mesh, &lips, &left, &right));
        // lips[0] → point 61 (left mouth corner), left eye[8] → 133 (inner corner), right eye[0] → 263
        assert_eq!(&mesh[61 * 3..61 * 3 + 3], &[0.0, 1.0, -1.0]);
        assert_eq!(&mesh[133 * 3..133 * 3 + 3], &[1016.0, 1017.0, -1.0]);
        assert_eq!(&mesh[263 * 3..263 * 3 + 3], &[2000.0, 2001.0, -1.0]);
        // 80 + 71 + 71 distinct points, every other point untouched
        let changed = mesh.chunks_exact(3).filter(|p| p[0] != -1.0).count();
        assert_eq!(changed, 80 + 71 + 71);
        assert!(!refine(&mut mesh, &lips[2..], &left, &right));
    }
}
