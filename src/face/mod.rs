//! Face analysis on plain images, with no host types: find faces (`detect_faces`), fit MediaPipe's 468-point
//! mesh to one (`face_landmarks`), reduce it to the 68 iBUG points the rest of the plugin works with
//! (`landmarks68`), and matte the person (`portrait_matte`). The models are MediaPipe's (Apache-2.0, converted
//! to ONNX, see `resources/models/README.md`) and the pre- and post-processing reproduces MediaPipe's graphs, so
//! results match MediaPipe's own to a small fraction of a pixel. Faces too small for the detector in the whole
//! image (a 300-pixel face in a 4K frame) are searched for in tiles at finer scales (`search`). Coordinates are image pixels, origin at the
//! top-left corner, x right, y down. `FaceAnalyzer` holds the models of one folder on one device and caches
//! results per image content; the free functions use a shared CPU analyzer on the default models folder. The
//! landmark track file format lives in `crate::track`. Every failure is a `FaceError` whose `Display` is a sentence; an
//! image without a face is not an error for detection (an empty list), only for calls that need a face.

use std::fmt;
use std::path::PathBuf;

use once_cell::sync::Lazy;

mod analyzer;
mod detect;
mod ibug;
mod image;
mod matte;
mod mesh;
pub mod pose;
mod search;
pub use search::smallest_face_found;

pub use self::analyzer::{
    AbortCheck, AnalyzedFace, FaceAnalysis, FaceAnalyzer, AMBIGUOUS_SIZE_RATIO, ANALYSIS_CACHE_ENTRIES, CONFIDENT_SCORE,
    MATTE_CACHE_ENTRIES,
};
pub use self::detect::{FaceBox, FaceDetection, DETECTOR_MODEL, MIN_SCORE, NUM_KEYPOINTS};
pub use self::ibug::{landmarks68, Landmarks68, Mesh68Table, IBUG_POINTS};
pub use self::image::{warp_rgb, Affine, Border, ContentKey, FaceImage, MAX_IMAGE_SIDE};
pub(crate) use self::image::fmix64;
pub use self::matte::{Matte, MATTE_MODEL};
pub use self::mesh::{FaceCrop, FaceMesh, MESH_MODEL, MESH_POINTS, MIN_PRESENCE};
pub use self::pose::{head_pose, Pose};
pub use self::search::{MAX_DETECTOR_RUNS, MIN_TILE_SIDE};
use crate::inference::{Device, InferenceError};

/// Why face analysis failed. `Display` gives the sentence to show the user.
#[derive(Debug, Clone)]
pub enum FaceError {
    /// The models or the runtime could not be used.
    Inference(InferenceError),
    /// The image holds no face (for calls that need one).
    NoFace,
    /// Face `index` (counted from the left, from 1) was asked for, but the image holds only `count` faces.
    NoSuchFace { index: u32, count: usize },
    /// The image given is not usable (empty, inconsistent size).
    InvalidImage(String),
    /// An image file could not be read.
    Unreadable { path: PathBuf, reason: String },
    /// A mesh given to `landmarks68` is not a 468-point mesh, or a detection is degenerate.
    InvalidMesh(String),
    /// The built-in 468 → 68 table is broken (a build problem).
    Table(String),
    /// A model produced output of an unexpected form.
    ModelOutput(String),
}

impl fmt::Display for FaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaceError::Inference(e) => write!(f, "{e}"),
            FaceError::NoFace => write!(f, "No face was found in the image."),
            FaceError::NoSuchFace { index, count } => write!(
                f,
                "Face {index} from the left was asked for, but the image has only {count} face{}; choose 0 (the largest) or 1 to {count}.",
                if *count == 1 { "" } else { "s" }
            ),
            FaceError::InvalidImage(why) => write!(f, "The image cannot be analysed: {why}."),
            FaceError::Unreadable { path, reason } => {
                write!(f, "The image {} could not be read: {reason}.", path.display())
            }
            FaceError::InvalidMesh(why) => write!(f, "The face landmarks cannot be computed: {why}."),
            FaceError::Table(why) => write!(f, "The built-in landmark table is invalid: {why}."),
            FaceError::ModelOutput(why) => write!(f, "Face analysis failed: {why}."),
        }
    }
}

impl std::error::Error for FaceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FaceError::Inference(e) => Some(e),
            _ => None,
        }
    }
}

impl From<InferenceError> for FaceError {
    fn from(e: InferenceError) -> Self {
        FaceError::Inference(e)
    }
}

/// The analyzer behind the free functions: CPU (the face models are small; a GPU round trip would cost more
/// than it saves), default models folder, created at first use.
static SHARED: Lazy<FaceAnalyzer> = Lazy::new(|| FaceAnalyzer::new(Device::Cpu));

/// The shared CPU analyzer used by the free functions.
pub fn shared_analyzer() -> &'static FaceAnalyzer {
    &SHARED
}

/// All faces in the image, best first; an empty list when there is none.
pub fn detect_faces(img: &FaceImage) -> Result<Vec<FaceDetection>, FaceError> {
    SHARED.detect_faces(img)
}

/// The 468-point mesh of the face `detection` found in `img`.
pub fn face_landmarks(img: &FaceImage, detection: &FaceDetection) -> Result<FaceMesh, FaceError> {
    SHARED.face_landmarks(img, detection)
}

/// The person matte of the whole image, at the image's size.
pub fn portrait_matte(img: &FaceImage) -> Result<Matte, FaceError> {
    SHARED.portrait_matte(img)
}

/// Detection, mesh and 68 points of the image's faces (cached by content); `face`, the largest, is `None`
/// without one.
pub fn analyze(img: &FaceImage) -> Result<std::sync::Arc<FaceAnalysis>, FaceError> {
    SHARED.analyze(img)
}
