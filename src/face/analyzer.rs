//! `FaceAnalyzer`: the face models of one models folder on one device, with the per-image work cached. A node's
//! source portrait is a still that every render of every frame needs landmarks of; analysing it once and keying
//! the result by a hash of the pixels (and size) makes later frames free and needs no state tied to render order:
//! the same pixels always give the same cached answer, and different pixels a new one. The caches are bounded
//! LRUs (analyses are small; mattes are full-size float images, so only a few are kept). Sessions come from the
//! process-wide pools, so many analyzers (one per node instance) share the models' sessions.
//!
//! When the whole image, letterboxed into the detector's 128×128 input, gives no face that the mesh model
//! confirms, the analysis searches finer scales tile by tile (see `search`): a face of 300 pixels in a 4K frame
//! is 10 detector pixels in the letterbox, too small for the short-range detector, but 35 in a 1080-pixel tile.
//! The mesh crop is then taken from the full image around the tile's detection as for any detection.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use super::detect::{self, FaceDetection, DETECTOR_MODEL};
use super::ibug::{landmarks68, Landmarks68};
use super::image::{ContentKey, FaceImage};
use super::matte::{self, Matte, MATTE_MODEL};
use super::mesh::{self, FaceCrop, FaceMesh, MESH_MODEL, MIN_PRESENCE};
use super::search::{self, MAX_DETECTOR_RUNS};
use super::FaceError;
use crate::inference::{models_dir, Device, DeviceReport, InferenceError, ModelSpec, SessionPool};

/// Analyses kept per analyzer (each is a few kilobytes).
pub const ANALYSIS_CACHE_ENTRIES: usize = 64;
/// Mattes kept per analyzer (each is a full-size float image: 8 MB at 1080p).
pub const MATTE_CACHE_ENTRIES: usize = 4;
/// Most mesh runs spent confirming detections found in tiles (about 10 ms each on a CPU core).
const MAX_TILE_MESH_RUNS: usize = 6;
/// Most mesh runs spent confirming the whole image's detections: every face of a group is confirmed, not only
/// the best-scoring one.
const MAX_WHOLE_MESH_RUNS: usize = 8;
/// Two faces whose detection boxes' sides are within this ratio are "the same size": choosing the largest
/// between them is a coin toss the user should settle.
pub const AMBIGUOUS_SIZE_RATIO: f32 = 0.85;
/// `detect_faces` searches tiles unless the whole image gives a detection at least this sure (a clear portrait
/// scores about 0.9; false detections seen on backgrounds and clothing score just above the 0.5 threshold).
pub const CONFIDENT_SCORE: f32 = 0.75;

/// The abort check a host render passes down: returns true when the render should stop.
pub type AbortCheck<'a> = Option<&'a dyn Fn() -> bool>;

/// One face of an image: its detection, mesh and 68 points.
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
    /// Every face the mesh model confirms (presence ≥ 0.5), ordered left to right by the centre of its
    /// detection box (then top to bottom). Faces are confirmed at the scale the first one is found at: the whole
    /// image, or else the first tile scale that gives one (see `search`).
    pub faces: Vec<AnalyzedFace>,
    /// The largest of `faces` (the default choice; see `FaceAnalysis::choose`), if any.
    pub face: Option<AnalyzedFace>,
    /// Detector runs the analysis made: 1 when the whole image gave the face, up to `MAX_DETECTOR_RUNS` when
    /// tiles were searched.
    pub detector_runs: usize,
    /// The side, in image pixels, of the tiles the face was found in; `None` when it was found in the whole
    /// image, or not found.
    pub tile_side: Option<u32>,
}

impl FaceAnalysis {
    /// The face, or the "no face" error for callers that cannot go on without one.
    pub fn require_face(&self) -> Result<&AnalyzedFace, FaceError> {
        self.face.as_ref().ok_or(FaceError::NoFace)
    }

    /// Index into `faces` of the largest face (by its detection box's side; of equal ones, the leftmost).
    pub fn largest_index(&self) -> Option<usize> {
        largest(&self.faces)
    }

    /// The face a node's `faceIndex` names: 0 the largest, n ≥ 1 the n-th from the left. Errors: no face at
    /// all, or n beyond the number of faces (the error names the count).
    pub fn choose(&self, index: u32) -> Result<&AnalyzedFace, FaceError> {
        if self.faces.is_empty() {
            return Err(FaceError::NoFace);
        }
        match index {
            0 => self.require_face(),
            n => self.faces.get(n as usize - 1).ok_or(FaceError::NoSuchFace { index: n, count: self.faces.len() }),
        }
    }

    /// Whether "the largest face" is a guess: another face's box side is within `AMBIGUOUS_SIZE_RATIO` of it.
    pub fn is_ambiguous(&self) -> bool {
        let Some(big) = self.largest_index() else { return false };
        let side = self.faces[big].detection.bbox.w;
        self.faces.iter().enumerate().any(|(i, f)| i != big && f.detection.bbox.w >= side * AMBIGUOUS_SIZE_RATIO)
    }
}

impl FaceAnalysis {
    /// The node's "Faces found" line for the choice `index` (0 the largest, n the n-th from the left), e.g.
    /// "2 faces found; animating the largest (face 2 from the left)".
    pub fn summary(&self, index: u32) -> String {
        let n = self.faces.len();
        match (n, index) {
            (0, _) => "no face found".into(),
            (1, 0 | 1) => "1 face found".into(),
            (_, 0) => {
                let big = self.largest_index().unwrap_or(0) + 1;
                let tie = if self.is_ambiguous() { "; another is about as large: choose one with Face" } else { "" };
                format!("{n} faces found; animating the largest (face {big} from the left){tie}")
            }
            (_, i) if i as usize <= n => format!("{n} faces found; animating face {i} from the left"),
            (_, i) => format!("{n} face{} found; there is no face {i} (choose 0 for the largest, or 1 to {n})", if n == 1 { "" } else { "s" }),
        }
    }
}

/// The largest face's index (first of equals).
fn largest(faces: &[AnalyzedFace]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, f) in faces.iter().enumerate() {
        if best.is_none_or(|b| f.detection.bbox.w > faces[b].detection.bbox.w) {
            best = Some(i);
        }
    }
    best
}

/// The analyzer's caches: least-recently-used, keyed by image content.
type ContentCache<V> = lru::LruCache<ContentKey, V>;

/// A cache of `capacity` entries (at least one).
fn content_cache<V>(capacity: usize) -> ContentCache<V> {
    lru::LruCache::new(std::num::NonZeroUsize::new(capacity.max(1)).unwrap_or(std::num::NonZeroUsize::MIN))
}

/// The face models of one folder on one device, with caches keyed by image content.
pub struct FaceAnalyzer {
    models_dir: PathBuf,
    device: Device,
    detector: OnceCell<Arc<SessionPool>>,
    mesh: OnceCell<Arc<SessionPool>>,
    matte: OnceCell<Arc<SessionPool>>,
    analyses: Mutex<ContentCache<Arc<FaceAnalysis>>>,
    mattes: Mutex<ContentCache<Arc<Matte>>>,
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
            analyses: Mutex::new(content_cache(ANALYSIS_CACHE_ENTRIES)),
            mattes: Mutex::new(content_cache(MATTE_CACHE_ENTRIES)),
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

    /// All faces in the image, best first; none (not an error) when there is no face. The whole image first, as
    /// MediaPipe does; when that gives no detection scoring at least `CONFIDENT_SCORE`, also the finer scales of
    /// the tile search, stopping at the first scale that gives any detection. (Without the mesh model a weak
    /// whole-image detection may as well be a false one; `analyze` decides with the mesh model instead.)
    pub fn detect_faces(&self, img: &FaceImage) -> Result<Vec<FaceDetection>, FaceError> {
        self.detect_faces_abortable(img, None)
    }

    pub fn detect_faces_abortable(
        &self,
        img: &FaceImage,
        abort: AbortCheck<'_>,
    ) -> Result<Vec<FaceDetection>, FaceError> {
        let started = Instant::now();
        let mut detections = self.detect_whole(img, abort)?;
        if detections.iter().any(|d| d.score >= CONFIDENT_SCORE) {
            return Ok(detections);
        }
        let mut side = None;
        let tile_runs = self.search_tiles(img, abort, |tile, found| {
            let stop = !found.is_empty();
            if stop {
                side = Some(tile);
            }
            add_detections(&mut detections, found, &[]);
            Ok(stop)
        })?;
        detections.sort_by(|a, b| b.score.total_cmp(&a.score));
        profile(img, "detection", 1 + tile_runs, 0, side, side.is_some(), started);
        Ok(detections)
    }

    /// The detector on the whole image, letterboxed as MediaPipe does.
    fn detect_whole(&self, img: &FaceImage, abort: AbortCheck<'_>) -> Result<Vec<FaceDetection>, FaceError> {
        let pool = self.pool(&self.detector, DETECTOR_MODEL)?;
        let input = detect::detector_input(img);
        let (regressors, classificators) = run_detector(&pool, &input, abort)?;
        Ok(detect::decode(img, &regressors, &classificators))
    }

    /// The tile search (see `search`): scale by scale, coarse to fine, the detections of all of a scale's tiles
    /// in image pixels, merged by weighted non-maximum suppression, go to `visit` with the tile side; `visit`
    /// returns true to stop. Returns the detector runs made. The abort check is consulted before every run.
    fn search_tiles(
        &self,
        img: &FaceImage,
        abort: AbortCheck<'_>,
        mut visit: impl FnMut(u32, Vec<FaceDetection>) -> Result<bool, FaceError>,
    ) -> Result<usize, FaceError> {
        let scales = search::plan(img.width, img.height, MAX_DETECTOR_RUNS - 1);
        if scales.is_empty() {
            return Ok(0);
        }
        let pool = self.pool(&self.detector, DETECTOR_MODEL)?;
        let mut runs = 0;
        for scale in &scales {
            check_abort(abort)?;
            let factor = scale.shrink_factor();
            let shrunk = search::shrink(img, factor);
            let mut candidates = Vec::new();
            for &origin in &scale.origins {
                check_abort(abort)?;
                let (input, to_image) = search::tile_input(&shrunk, factor, origin, scale.side);
                let (regressors, classificators) = run_detector(&pool, &input, abort)?;
                runs += 1;
                candidates.extend(
                    detect::candidates(&regressors, &classificators)
                        .iter()
                        .map(|d| detect::map_detection(d, &to_image))
                        .filter(|d| {
                            let centre = [d.bbox.x + d.bbox.w / 2.0, d.bbox.y + d.bbox.h / 2.0];
                            scale.in_core(origin, [img.width, img.height], centre)
                        }),
                );
            }
            if visit(scale.side, detect::weighted_nms(candidates))? {
                break;
            }
        }
        Ok(runs)
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
        let [points, lips, left_eye, right_eye, left_iris, right_iris, presence] = out.as_slice() else {
            return Err(FaceError::ModelOutput("the face mesh model gave an unexpected number of outputs".into()));
        };
        let mut points = points.data.clone();
        if !mesh::refine(&mut points, &lips.data, &left_eye.data, &right_eye.data) {
            return Err(FaceError::ModelOutput("the face mesh model gave refined contours of the wrong size".into()));
        }
        let logit = presence.data.first().copied().unwrap_or(f32::NEG_INFINITY);
        mesh::decode(&crop, &points, [&left_iris.data, &right_iris.data], logit)
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
        let probs = out.first().map(|o| &o.data[..]).unwrap_or(&[]);
        matte::decode(img, probs)
            .ok_or_else(|| FaceError::ModelOutput("the segmentation model gave an output of the wrong size".into()))
    }

    /// The person matte, cached by image content.
    pub fn portrait_matte_cached(&self, img: &FaceImage, abort: AbortCheck<'_>) -> Result<Arc<Matte>, FaceError> {
        let key = img.content_key();
        if let Some(hit) = self.mattes.lock().get(&key).cloned() {
            return Ok(hit);
        }
        let matte = Arc::new(self.portrait_matte_abortable(img, abort)?);
        self.mattes.lock().put(key, matte.clone());
        Ok(matte)
    }

    /// Detection, mesh and 68 points of every face, and which is the largest, cached by image content: a still
    /// source is analysed once. An image without a face gives an analysis with no faces (also cached). When the
    /// whole image gives no face the mesh model confirms, the tile search looks for small ones (at most
    /// `MAX_DETECTOR_RUNS` detector runs, the abort check consulted before each).
    pub fn analyze(&self, img: &FaceImage) -> Result<Arc<FaceAnalysis>, FaceError> {
        self.analyze_abortable(img, None)
    }

    pub fn analyze_abortable(&self, img: &FaceImage, abort: AbortCheck<'_>) -> Result<Arc<FaceAnalysis>, FaceError> {
        let key = img.content_key();
        if let Some(hit) = self.analyses.lock().get(&key).cloned() {
            return Ok(hit);
        }
        // Computed outside the lock: two threads on the same new image both compute (identically) rather than
        // one blocking every other image's lookups.
        let analysis = Arc::new(self.analyze_uncached(img, abort)?);
        self.analyses.lock().put(key, analysis.clone());
        Ok(analysis)
    }

    fn analyze_uncached(&self, img: &FaceImage, abort: AbortCheck<'_>) -> Result<FaceAnalysis, FaceError> {
        let started = Instant::now();
        let mut detections = self.detect_whole(img, abort)?;
        let mut mesh_runs = 0;
        let mut faces = self.confirm(img, &detections, MAX_WHOLE_MESH_RUNS, &mut mesh_runs, abort)?;
        let mut detector_runs = 1;
        let mut tile_side = None;
        if faces.is_empty() {
            // Faces too small for the whole-image pass: search finer scales, stopping at the first one with a
            // face the mesh model confirms (all of that scale's faces are kept).
            let mut tile_mesh_runs = 0;
            detector_runs += self.search_tiles(img, abort, |side, found| {
                let confirmed = self.confirm(img, &found, MAX_TILE_MESH_RUNS, &mut tile_mesh_runs, abort)?;
                let confirmed_detections: Vec<FaceDetection> = confirmed.iter().map(|f| f.detection.clone()).collect();
                add_detections(&mut detections, found, &confirmed_detections);
                let stop = !confirmed.is_empty();
                if stop {
                    faces = confirmed;
                    tile_side = Some(side);
                }
                Ok(stop)
            })?;
            mesh_runs += tile_mesh_runs;
            detections.sort_by(|a, b| b.score.total_cmp(&a.score));
        }
        // Left to right (then top to bottom): the order `faceIndex` counts in.
        let centre = |f: &AnalyzedFace| {
            let b = f.detection.bbox;
            (b.x + b.w / 2.0, b.y + b.h / 2.0)
        };
        faces.sort_by(|a, b| {
            let (ca, cb) = (centre(a), centre(b));
            ca.0.total_cmp(&cb.0).then(ca.1.total_cmp(&cb.1))
        });
        let face = largest(&faces).map(|i| faces[i].clone());
        profile(img, "analysis", detector_runs, mesh_runs, tile_side, face.is_some(), started);
        Ok(FaceAnalysis { image_size: [img.width, img.height], detections, faces, face, detector_runs, tile_side })
    }

    /// Every one of `detections` (best first) that the mesh model confirms, trying those for which `*mesh_runs`
    /// stays within `max_mesh_runs`. MediaPipe keeps the best detection; here every detection is tried, so that
    /// all faces of a group are found. A detection centred inside a face already confirmed is that face seen
    /// again (a larger or shifted box around it) and is skipped without a mesh run.
    fn confirm(
        &self,
        img: &FaceImage,
        detections: &[FaceDetection],
        max_mesh_runs: usize,
        mesh_runs: &mut usize,
        abort: AbortCheck<'_>,
    ) -> Result<Vec<AnalyzedFace>, FaceError> {
        let mut faces: Vec<AnalyzedFace> = Vec::new();
        for detection in detections {
            if *mesh_runs >= max_mesh_runs {
                break;
            }
            let b = detection.bbox;
            let (cx, cy) = (b.x + b.w / 2.0, b.y + b.h / 2.0);
            let inside = |f: &AnalyzedFace| {
                let o = f.detection.bbox;
                cx >= o.x && cx <= o.x + o.w && cy >= o.y && cy <= o.y + o.h
            };
            if faces.iter().any(inside) {
                continue;
            }
            *mesh_runs += 1;
            let mesh = self.face_landmarks_abortable(img, detection, abort)?;
            if mesh.presence >= MIN_PRESENCE {
                let landmarks68 = landmarks68(&mesh)?;
                faces.push(AnalyzedFace { detection: detection.clone(), mesh, landmarks68 });
            }
        }
        Ok(faces)
    }

    /// Forgets every cached analysis and matte.
    pub fn clear_cache(&self) {
        self.analyses.lock().clear();
        self.mattes.lock().clear();
    }
}

/// Runs the detector once on a prepared input; its two raw outputs (regressors, classificators).
fn run_detector(pool: &SessionPool, input: &[f32], abort: AbortCheck<'_>) -> Result<(Vec<f32>, Vec<f32>), FaceError> {
    let out = pool.run(&[detect::input_tensor(input)], abort)?;
    match <[_; 2]>::try_from(out) {
        Ok([regressors, classificators]) => Ok((regressors.data.into_vec(), classificators.data.into_vec())),
        Err(_) => Err(FaceError::ModelOutput("the face detector gave an unexpected number of outputs".into())),
    }
}

fn check_abort(abort: AbortCheck<'_>) -> Result<(), FaceError> {
    if abort.is_some_and(|f| f()) {
        return Err(FaceError::Inference(InferenceError::Aborted));
    }
    Ok(())
}

/// Adds a finer scale's detections to the list: one overlapping a listed detection (IoU above the merging
/// threshold) is the same face seen again and is left out, except the confirmed faces', which replace the
/// detections they overlap so that the list holds the detections the faces came from.
fn add_detections(list: &mut Vec<FaceDetection>, found: Vec<FaceDetection>, confirmed: &[FaceDetection]) {
    let overlaps = |a: &FaceDetection, b: &FaceDetection| a.bbox.iou(&b.bbox) > detect::NMS_IOU;
    for d in found {
        if confirmed.contains(&d) {
            list.retain(|e| !overlaps(e, &d));
            list.push(d);
        } else if !list.iter().any(|e| overlaps(e, &d)) {
            list.push(d);
        }
    }
}

/// With `LIVING_PORTRAIT_PROFILE=1`, one line on stderr per uncached detection or analysis: its cost and where
/// the face was found.
fn profile(img: &FaceImage, what: &str, runs: usize, mesh_runs: usize, side: Option<u32>, found: bool, t: Instant) {
    if !crate::profile::profiling() {
        return;
    }
    let place = match (found, side) {
        (false, _) => "no face".to_string(),
        (true, None) => "face in the whole image".to_string(),
        (true, Some(side)) => format!("face in tiles of {side} px"),
    };
    eprintln!(
        "face {what} {}×{}: {runs} detector run(s), {mesh_runs} mesh run(s), {:.1} ms, {place}",
        img.width,
        img.height,
        t.elapsed().as_secs_f64() * 1e3
    );
}

