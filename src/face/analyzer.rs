//! `FaceAnalyzer`: the face models of one models folder on one device, with the per-image work cached. A node's
//! source portrait is a still that every render of every frame needs landmarks of; analysing it once and keying
//! the result by a hash of the pixels (and size) makes later frames free and needs no state tied to render order:
//! the same pixels always give the same cached answer, and different pixels a new one. The caches are bounded
//! LRUs (analyses are small; mattes are full-size float images, so only a few are kept). Sessions come from the
//! process-wide pools, so many analyzers (one per node instance) share the models' sessions.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use super::detect::{self, FaceDetection, DETECTOR_MODEL};
use super::ibug::{landmarks68, Landmarks68};
use super::image::{ContentKey, FaceImage};
use super::matte::{self, Matte, MATTE_MODEL};
use super::mesh::{self, FaceCrop, FaceMesh, MESH_MODEL, MIN_PRESENCE};
use super::FaceError;
use crate::inference::{models_dir, Device, DeviceReport, ModelSpec, SessionPool};

/// Analyses kept per analyzer (each is a few kilobytes).
pub const ANALYSIS_CACHE_ENTRIES: usize = 64;
/// Mattes kept per analyzer (each is a full-size float image: 8 MB at 1080p).
pub const MATTE_CACHE_ENTRIES: usize = 4;

/// The abort check a host render passes down: returns true when the render should stop.
pub type AbortCheck<'a> = Option<&'a dyn Fn() -> bool>;

/// The best face of an image: its detection, mesh and 68 points.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalyzedFace {
    pub detection: FaceDetection,
    pub mesh: FaceMesh,
    pub landmarks68: Landmarks68,
}

/// Everything the analyzer found in one image.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceAnalysis {
    /// Width and height of the analysed image.
    pub image_size: [u32; 2],
    /// All detected faces, best first.
    pub detections: Vec<FaceDetection>,
    /// The best face that the mesh model confirms (presence ≥ 0.5), if any.
    pub face: Option<AnalyzedFace>,
}

impl FaceAnalysis {
    /// The face, or the "no face" error for callers that cannot go on without one.
    pub fn require_face(&self) -> Result<&AnalyzedFace, FaceError> {
        self.face.as_ref().ok_or(FaceError::NoFace)
    }
}

/// A small least-recently-used map; linear scans are fine at these sizes.
struct Lru<V> {
    capacity: usize,
    /// Most recently used last.
    entries: Vec<(ContentKey, V)>,
}

impl<V: Clone> Lru<V> {
    fn new(capacity: usize) -> Self {
        Lru { capacity, entries: Vec::new() }
    }

    fn get(&mut self, key: &ContentKey) -> Option<V> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        let entry = self.entries.remove(pos);
        let value = entry.1.clone();
        self.entries.push(entry);
        Some(value)
    }

    fn put(&mut self, key: ContentKey, value: V) {
        self.entries.retain(|(k, _)| *k != key);
        if self.entries.len() >= self.capacity {
            self.entries.remove(0);
        }
        self.entries.push((key, value));
    }
}

/// The face models of one folder on one device, with caches keyed by image content.
pub struct FaceAnalyzer {
    models_dir: PathBuf,
    device: Device,
    detector: OnceCell<Arc<SessionPool>>,
    mesh: OnceCell<Arc<SessionPool>>,
    matte: OnceCell<Arc<SessionPool>>,
    analyses: Mutex<Lru<Arc<FaceAnalysis>>>,
    mattes: Mutex<Lru<Arc<Matte>>>,
}

impl std::fmt::Debug for FaceAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceAnalyzer").field("models_dir", &self.models_dir).field("device", &self.device).finish()
    }
}

impl FaceAnalyzer {
    /// An analyzer for the default models folder (see `inference::models_dir`). Nothing is loaded until first use.
    pub fn new(device: Device) -> FaceAnalyzer {
        FaceAnalyzer::with_models_dir(models_dir(), device)
    }

    /// An analyzer for the models in `models_dir` (which must hold their `SHA256SUMS`).
    pub fn with_models_dir(models_dir: PathBuf, device: Device) -> FaceAnalyzer {
        FaceAnalyzer {
            models_dir,
            device,
            detector: OnceCell::new(),
            mesh: OnceCell::new(),
            matte: OnceCell::new(),
            analyses: Mutex::new(Lru::new(ANALYSIS_CACHE_ENTRIES)),
            mattes: Mutex::new(Lru::new(MATTE_CACHE_ENTRIES)),
        }
    }

    pub fn models_dir(&self) -> &Path {
        &self.models_dir
    }

    pub fn device(&self) -> Device {
        self.device
    }

    fn pool(&self, cell: &OnceCell<Arc<SessionPool>>, spec: ModelSpec) -> Result<Arc<SessionPool>, FaceError> {
        cell.get_or_try_init(|| SessionPool::get(&self.models_dir, spec, self.device))
            .cloned()
            .map_err(FaceError::Inference)
    }

    /// Loads the runtime and the detector's first session now (instead of at the first image) and says what runs
    /// it: the node's device line.
    pub fn device_report(&self) -> Result<DeviceReport, FaceError> {
        Ok(self.pool(&self.detector, DETECTOR_MODEL)?.device_report().clone())
    }

    /// Loads all three models now (verifying them), so that errors show at setup rather than at first render.
    pub fn preload(&self) -> Result<(), FaceError> {
        self.pool(&self.detector, DETECTOR_MODEL)?;
        self.pool(&self.mesh, MESH_MODEL)?;
        self.pool(&self.matte, MATTE_MODEL)?;
        Ok(())
    }

    /// All faces in the image, best first; none (not an error) when there is no face.
    pub fn detect_faces(&self, img: &FaceImage) -> Result<Vec<FaceDetection>, FaceError> {
        self.detect_faces_abortable(img, None)
    }

    pub fn detect_faces_abortable(
        &self,
        img: &FaceImage,
        abort: AbortCheck<'_>,
    ) -> Result<Vec<FaceDetection>, FaceError> {
        let pool = self.pool(&self.detector, DETECTOR_MODEL)?;
        let input = detect::detector_input(img);
        let out = pool.run(&[detect::input_tensor(&input)], abort)?;
        let (regressors, classificators) = match out.as_slice() {
            [r, c] => (&r.data, &c.data),
            _ => return Err(FaceError::ModelOutput("the face detector gave an unexpected number of outputs".into())),
        };
        Ok(detect::decode(img, regressors, classificators))
    }

    /// The 468-point mesh of the face found by `detection`.
    pub fn face_landmarks(&self, img: &FaceImage, detection: &FaceDetection) -> Result<FaceMesh, FaceError> {
        self.face_landmarks_abortable(img, detection, None)
    }

    pub fn face_landmarks_abortable(
        &self,
        img: &FaceImage,
        detection: &FaceDetection,
        abort: AbortCheck<'_>,
    ) -> Result<FaceMesh, FaceError> {
        let pool = self.pool(&self.mesh, MESH_MODEL)?;
        let crop = FaceCrop::from_detection(detection);
        if !(crop.size.is_finite() && crop.size > 0.0 && crop.center.iter().all(|v| v.is_finite())) {
            return Err(FaceError::InvalidMesh("the detection's box is empty".into()));
        }
        let input = mesh::mesh_input(img, &crop);
        let out = pool.run(&[mesh::input_tensor(&input)], abort)?;
        let [points, presence] = out.as_slice() else {
            return Err(FaceError::ModelOutput("the face mesh model gave an unexpected number of outputs".into()));
        };
        let logit = presence.data.first().copied().unwrap_or(f32::NEG_INFINITY);
        mesh::decode(&crop, &points.data, logit)
            .ok_or_else(|| FaceError::ModelOutput("the face mesh model gave non-finite or missing points".into()))
    }

    /// The person matte of the whole image (not cached; see `portrait_matte_cached`).
    pub fn portrait_matte(&self, img: &FaceImage) -> Result<Matte, FaceError> {
        self.portrait_matte_abortable(img, None)
    }

    pub fn portrait_matte_abortable(&self, img: &FaceImage, abort: AbortCheck<'_>) -> Result<Matte, FaceError> {
        let pool = self.pool(&self.matte, MATTE_MODEL)?;
        let input = matte::matte_input(img);
        let out = pool.run(&[matte::input_tensor(&input)], abort)?;
        let probs = out.first().map(|o| o.data.as_slice()).unwrap_or(&[]);
        matte::decode(img, probs)
            .ok_or_else(|| FaceError::ModelOutput("the segmentation model gave an output of the wrong size".into()))
    }

    /// The person matte, cached by image content.
    pub fn portrait_matte_cached(&self, img: &FaceImage, abort: AbortCheck<'_>) -> Result<Arc<Matte>, FaceError> {
        let key = img.content_key();
        if let Some(hit) = self.mattes.lock().get(&key) {
            return Ok(hit);
        }
        let matte = Arc::new(self.portrait_matte_abortable(img, abort)?);
        self.mattes.lock().put(key, matte.clone());
        Ok(matte)
    }

    /// Detection, mesh and 68 points of the best face, cached by image content: a still source is analysed
    /// once. An image without a face gives an analysis with `face: None` (also cached).
    pub fn analyze(&self, img: &FaceImage) -> Result<Arc<FaceAnalysis>, FaceError> {
        self.analyze_abortable(img, None)
    }

    pub fn analyze_abortable(&self, img: &FaceImage, abort: AbortCheck<'_>) -> Result<Arc<FaceAnalysis>, FaceError> {
        let key = img.content_key();
        if let Some(hit) = self.analyses.lock().get(&key) {
            return Ok(hit);
        }
        // Computed outside the lock: two threads on the same new image both compute (identically) rather than
        // one blocking every other image's lookups.
        let analysis = Arc::new(self.analyze_uncached(img, abort)?);
        self.analyses.lock().put(key, analysis.clone());
        Ok(analysis)
    }

    fn analyze_uncached(&self, img: &FaceImage, abort: AbortCheck<'_>) -> Result<FaceAnalysis, FaceError> {
        let detections = self.detect_faces_abortable(img, abort)?;
        let mut face = None;
        // MediaPipe keeps the best detection; when the mesh model says that one is not a face, try the next.
        for detection in &detections {
            let mesh = self.face_landmarks_abortable(img, detection, abort)?;
            if mesh.presence >= MIN_PRESENCE {
                let landmarks68 = landmarks68(&mesh)?;
                face = Some(AnalyzedFace { detection: detection.clone(), mesh, landmarks68 });
                break;
            }
        }
        Ok(FaceAnalysis { image_size: [img.width, img.height], detections, face })
    }

    /// Forgets every cached analysis and matte.
    pub fn clear_cache(&self) {
        self.analyses.lock().entries.clear();
        self.mattes.lock().entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let mut lru = Lru::new(2);
        lru.put(ContentKey(1), 1);
        lru.put(ContentKey(2), 2);
        assert_eq!(lru.get(&ContentKey(1)), Some(1));
        lru.put(ContentKey(3), 3);
        assert_eq!(lru.get(&ContentKey(2)), None);
        assert_eq!(lru.get(&ContentKey(1)), Some(1));
        assert_eq!(lru.get(&ContentKey(3)), Some(3));
        lru.put(ContentKey(3), 4);
        assert_eq!(lru.entries.len(), 2);
        assert_eq!(lru.get(&ContentKey(3)), Some(4));
    }
}
