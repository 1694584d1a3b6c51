//! The per-frame render of the node, a pure function of (time, parameters,
//! input images):
//!
//! source landmarks (detected and cached by image content, or the override) →
//! target landmarks at time t (keyframes, a track file or the Driver clip;
//! relative or absolute motion) → the reference still whose mouth and eyes best
//! match the target → its similarity-aligned face crop at the working
//! resolution → the generator (ONNX) → paste back into the full frame through
//! the feathered hull matte × the generator's "changed" mask, so pixels outside
//! the matte are bit-exact copies of the source → host depth and components.
//!
//! A generator that returns a resampling (the built-in warp: two sample points
//! per crop pixel and a painted overlay) is evaluated on the reference's
//! full-resolution image, through the crop's similarity, so the face is
//! resampled once and keeps the plate's resolution; where the reference is the
//! portrait itself the matte fades the sample positions rather than blending
//! two images, so a feathered edge bends instead of showing a double contour.
//! The exact copy of the portrait into the output runs on a second host thread
//! while the generator runs.
//!
//! Caches (analysis, crops, tracks, mattes) are keyed by content, never by
//! render order, so any order of frames or threads gives the same pixels.

pub mod analysis;
pub mod generator;
pub mod geometry;
pub mod plane;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use ofx::plugin::{EffectHandle, Image, ImageLayout, RectI, RenderArgs};
use ofx::{Error, Result};
use parking_lot::Mutex;

use crate::face::track::LandmarkTrack;
use crate::face::FaceAnalyzer;
use crate::inference::{Device, DeviceReport};
use crate::landmarks::{to_f64, Landmarks68};
use crate::motion::transfer_relative;
use crate::params::{clips, DriveMode, OutputMode, Settings};
use crate::pixels;
use crate::profile::StageTimer;
use generator::{CropPixels, Generator, Planes, Reference};
use geometry::{hull_matte, paste_hull, FaceCrop, FaceState};
use analysis::{AnalysisView, ImageSampler, ViewMatte};
use plane::{image_key, image_key_here, Region};

/// Side of the grid the paste-back hull matte is computed on (it is smooth:
/// bilinear sampling of a coarse grid is indistinguishable from the exact one
/// and 16× cheaper than working resolution).
pub const HULL_RES: usize = 128;

/// The paste-back matte in crop space, on the S×S grid of the generator's
/// output: the feathered hull (computed on a coarse grid) times the
/// generator's "changed" mask, made once per frame so that a pixel costs one
/// bilinear tap.
pub struct CropMatte {
    alpha: Vec<f32>,
    size: usize,
    /// Normalised bounding box of the matte's non-zero part: [x1, y1, x2, y2].
    pub bbox: [f64; 4],
}

/// The cell of an S-grid holding a normalised coordinate (clamped to the grid).
fn cell_of(c: f64, size: usize) -> usize {
    (((c + 1.0) * size as f64 / 2.0).floor().max(0.0) as usize).min(size)
}

/// The feathered hull matte resampled onto the crop's S×S grid (inside the
/// hull's box; 0 elsewhere). It depends only on the landmarks, so it is made
/// while the generator runs.
struct HullCells {
    values: Vec<f32>,
    size: usize,
    bbox: [f64; 4],
}

impl HullCells {
    fn new(hull: &[f32], size: usize) -> HullCells {
        let bbox = nonzero_box(hull, HULL_RES);
        let mut values = vec![0.0f32; size * size];
        if bbox[2] > bbox[0] {
            let (u0, u1) = (cell_of(bbox[0], size), (cell_of(bbox[2], size) + 1).min(size));
            let (v0, v1) = (cell_of(bbox[1], size), (cell_of(bbox[3], size) + 1).min(size));
            for v in v0..v1 {
                let ny = (2 * v + 1) as f64 / size as f64 - 1.0;
                for u in u0..u1 {
                    let nx = (2 * u + 1) as f64 / size as f64 - 1.0;
                    values[v * size + u] = Tap::at(HULL_RES, [nx, ny]).sample(hull);
                }
            }
        }
        HullCells { values, size, bbox }
    }
}

/// A bilinear tap on an S×S grid: the top-left cell, the steps to its right
/// and lower neighbours (0 at the edge), and the weights. One tap serves the
/// matte and the three colour planes.
#[derive(Clone, Copy)]
pub(crate) struct Tap {
    i: usize,
    dx: usize,
    dy: usize,
    tx: f32,
    ty: f32,
}

impl Tap {
    #[inline]
    pub(crate) fn at(size: usize, n: [f64; 2]) -> Tap {
        let max = (size - 1) as f32;
        let fx = (((n[0] + 1.0) * size as f64 * 0.5 - 0.5) as f32).clamp(0.0, max);
        let fy = (((n[1] + 1.0) * size as f64 * 0.5 - 0.5) as f32).clamp(0.0, max);
        let (x0, y0) = (fx as i32 as usize, fy as i32 as usize);
        Tap {
            i: y0 * size + x0,
            dx: usize::from(x0 + 1 < size),
            dy: if y0 + 1 < size { size } else { 0 },
            tx: fx - x0 as f32,
            ty: fy - y0 as f32,
        }
    }
    #[inline]
    pub(crate) fn sample(&self, p: &[f32]) -> f32 {
        let a = p[self.i] + (p[self.i + self.dx] - p[self.i]) * self.tx;
        let b = p[self.i + self.dy] + (p[self.i + self.dy + self.dx] - p[self.i + self.dy]) * self.tx;
        a + (b - a) * self.ty
    }
    /// The same tap on four interleaved channels.
    #[inline]
    fn sample4(&self, p: &[[f32; 4]]) -> [f32; 4] {
        let (c00, c10, c01, c11) = (p[self.i], p[self.i + self.dx], p[self.i + self.dy], p[self.i + self.dy + self.dx]);
        let mut out = [0.0f32; 4];
        for k in 0..4 {
            let a = c00[k] + (c10[k] - c00[k]) * self.tx;
            let b = c01[k] + (c11[k] - c01[k]) * self.tx;
            out[k] = a + (b - a) * self.ty;
        }
        out
    }
}

impl CropMatte {
    fn new(hull: Vec<f32>, changed: Option<&[f32]>, size: usize) -> CropMatte {
        CropMatte::from_hull(HullCells::new(&hull, size), changed)
    }

    /// The matte from the hull on the crop's grid and the generator's mask.
    fn from_hull(hull: HullCells, changed: Option<&[f32]>) -> CropMatte {
        let size = hull.size;
        let hb = hull.bbox;
        // The matte is the product: its support is the intersection of the
        // hull's and the changed mask's (often much smaller: only what moved).
        let b = match &changed {
            Some(c) => {
                let cb = nonzero_box(c, size);
                [hb[0].max(cb[0]), hb[1].max(cb[1]), hb[2].min(cb[2]), hb[3].min(cb[3])]
            }
            None => hb,
        };
        let b = if b[0] >= b[2] || b[1] >= b[3] { [0.0; 4] } else { b };
        let mut alpha = vec![0.0f32; size * size];
        if b[2] > b[0] {
            let (u0, u1) = (cell_of(b[0], size), (cell_of(b[2], size) + 1).min(size));
            let (v0, v1) = (cell_of(b[1], size), (cell_of(b[3], size) + 1).min(size));
            for v in v0..v1 {
                let r = v * size;
                let (a, h) = (&mut alpha[r + u0..r + u1], &hull.values[r + u0..r + u1]);
                match &changed {
                    Some(c) => {
                        for ((a, h), c) in a.iter_mut().zip(h).zip(&c[r + u0..r + u1]) {
                            *a = h * c.clamp(0.0, 1.0);
                        }
                    }
                    None => a.copy_from_slice(h),
                }
            }
        }
        CropMatte { alpha, size, bbox: b }
    }

    /// The tap for a point, or None outside the matte's box.
    #[inline]
    fn tap(&self, n: [f64; 2]) -> Option<Tap> {
        if n[0] <= self.bbox[0] || n[0] >= self.bbox[2] || n[1] <= self.bbox[1] || n[1] >= self.bbox[3] {
            return None;
        }
        Some(Tap::at(self.size, n))
    }

    /// The matte at normalised crop coordinates.
    #[inline]
    pub fn at(&self, n: [f64; 2]) -> f32 {
        self.tap(n).map(|t| t.sample(&self.alpha)).unwrap_or(0.0)
    }
}

/// Run `f(row index, row)` for rows `rows` of an image of rows `width` long
/// stored in `data`, on two of the host's threads (in turn when the host
/// offers none): blocks of 16 rows go to whichever thread is free, so a
/// thread that starts late does less.
fn par_rows<T: Send>(data: &mut [T], width: usize, rows: std::ops::Range<usize>, f: impl Fn(usize, &mut [T]) + Sync) {
    const BLOCK: usize = 16;
    let (start, end) = (rows.start.min(rows.end), rows.end);
    let Some(part) = data.get_mut(start * width..end * width) else { return };
    if width == 0 || part.is_empty() {
        return;
    }
    let blocks: Vec<(usize, Mutex<&mut [T]>)> =
        part.chunks_mut(width * BLOCK).enumerate().map(|(b, rows)| (start + b * BLOCK, Mutex::new(rows))).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = |_: u32, _: u32| {
        while let Some((first, rows)) = blocks.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            for (k, row) in rows.lock().chunks_mut(width).enumerate() {
                f(first + k, row);
            }
        }
        Ok(())
    };
    if ofx::plugin::run_threads(2, work).is_err() {
        // Whatever the host did not run: the blocks not yet taken.
        let _ = work(0, 1);
    }
}

/// Normalised bounding box [x1, y1, x2, y2] of the non-zero cells of an
/// n×n grid, grown by two cells (bilinear sampling reaches one cell), clamped
/// to the crop; an empty box when all are zero.
fn nonzero_box(grid: &[f32], n: usize) -> [f64; 4] {
    let (mut u0, mut v0, mut u1, mut v1) = (usize::MAX, usize::MAX, 0, 0);
    for v in 0..n {
        let row = &grid[v * n..(v + 1) * n];
        let Some(first) = row.iter().position(|a| *a > 0.0) else { continue };
        let last = row.iter().rposition(|a| *a > 0.0).unwrap_or(first);
        u0 = u0.min(first);
        u1 = u1.max(last);
        v0 = v0.min(v);
        v1 = v1.max(v);
    }
    if u0 == usize::MAX {
        return [0.0; 4];
    }
    let c = |i: usize| (2 * i) as f64 / n as f64 - 1.0;
    let m = 4.0 / n as f64;
    [(c(u0) - m).max(-1.0), (c(v0) - m).max(-1.0), (c(u1 + 1) + m).min(1.0), (c(v1 + 1) + m).min(1.0)]
}

/// Most reference stills used (as in the seed paper: one to 32).
pub const MAX_REFERENCES: usize = 32;

/// One analysed reference still, with its crop at one working size. The
/// full image is not kept (32 references of 1080p float would be a gigabyte).
pub struct PreparedSource {
    /// Landmarks, canonical (y up).
    pub landmarks: Landmarks68<f64>,
    /// Its face crop.
    pub crop: FaceCrop,
    /// Mouth and eye openness.
    pub state: FaceState,
    /// The crop's pixels (planar RGB, `size`²).
    pub pixels: Arc<Vec<f32>>,
    /// Content key of the image.
    pub key: u128,
    /// Size of the image in pixels at the render scale.
    pub image_size: [u32; 2],
    /// Its pixel aspect ratio.
    pub par: f64,
    /// The faces detected on it and which one was taken; `None` when the
    /// landmarks are the override.
    pub faces: Option<FacesSeen>,
}

/// What the face analysis of a reference still found, for the "Faces found"
/// line and the ambiguity warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FacesSeen {
    /// Faces found.
    pub count: usize,
    /// The face taken, counted from the left from 1.
    pub chosen: usize,
    /// The largest was asked for and another face is about as large.
    pub ambiguous: bool,
}

/// How an image's pixels map to canonical coordinates: `canonical x = pixel
/// x / sx`, `canonical y = pixel y / sy`, with `sx = render scale / pixel
/// aspect ratio` and `sy = render scale` (OFX: canonical coordinates are
/// square, full-resolution pixels).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelMap {
    pub sx: f64,
    pub sy: f64,
    pub par: f64,
}

impl PixelMap {
    /// The map of an image at render scale `scale` with pixel aspect `par`.
    pub fn of(scale: f64, par: f64) -> PixelMap {
        let par = if par.is_finite() && (0.1..=10.0).contains(&par) { par } else { 1.0 };
        PixelMap { sx: scale / par, sy: scale, par }
    }
    /// The map of a host image at the render's scale.
    pub fn of_image(img: &Image, scale: f64) -> PixelMap {
        PixelMap::of(scale, img.pixel_aspect())
    }
}

/// Sample the planar RGB crop of `size` from the host's image.
fn crop_pixels(image: &ImageSampler<'_>, crop: &FaceCrop, map: PixelMap, size: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; 3 * size * size];
    for v in 0..size {
        let ny = (2 * v + 1) as f64 / size as f64 - 1.0;
        for u in 0..size {
            let nx = (2 * u + 1) as f64 / size as f64 - 1.0;
            let c = crop.to_canonical([nx, ny]);
            let px = image.sample(c[0] * map.sx, c[1] * map.sy);
            for k in 0..3 {
                out[k * size * size + v * size + u] = px[k].clamp(0.0, 1.0);
            }
        }
    }
    out
}

/// A small least-recently-used cache.
struct Lru<K, V> {
    cap: usize,
    items: Vec<(K, V)>,
}

impl<K: PartialEq + Clone, V: Clone> Lru<K, V> {
    fn new(cap: usize) -> Self {
        Lru { cap, items: Vec::new() }
    }
    fn get(&mut self, k: &K) -> Option<V> {
        let i = self.items.iter().position(|(q, _)| q == k)?;
        let it = self.items.remove(i);
        let v = it.1.clone();
        self.items.push(it);
        Some(v)
    }
    fn put(&mut self, k: K, v: V) {
        self.items.retain(|(q, _)| q != &k);
        if self.items.len() >= self.cap {
            self.items.remove(0);
        }
        self.items.push((k, v));
    }
}

/// Identity of a track file on disk.
#[derive(Clone, PartialEq)]
struct TrackKey {
    path: PathBuf,
    len: u64,
    modified: Option<std::time::SystemTime>,
    size: [u32; 2],
}

/// Generators by (device, pack folder; None: the built-in warp).
type GeneratorCache = HashMap<(Device, Option<PathBuf>), Arc<dyn Generator>>;
/// Analysed sources by (image content, override of the landmarks, working size, face index).
type SourceCache = Lru<(u128, Option<[u64; 2]>, usize, u32), Arc<PreparedSource>>;
/// Face regions of reference images by (image content, pixel rectangle).
type RegionCache = Lru<(u128, [i32; 4]), Arc<Region>>;
/// Output rows (y, bytes) handed to one thread.
type RowChunk<'a> = Mutex<Vec<(i32, &'a mut [u8])>>;

/// The last single reference still a render prepared, so that an unchanged
/// still need not be hashed before the generator starts: the render goes on
/// with it while a second thread hashes the image, and starts again the
/// ordinary way if the content turns out to differ.
struct SourceGuess {
    prepared: Arc<PreparedSource>,
    /// Everything else the source cache key holds: the salt (render scale,
    /// pixel aspect), the landmark override and the working size.
    salt: u64,
    override_key: Option<[u64; 2]>,
    size: usize,
    face_index: u32,
    /// Two renders in a row found this content: only then is it guessed (a
    /// moving Source would otherwise pay for a wasted generator run a frame).
    stable: bool,
}

impl SourceGuess {
    /// Whether it was prepared under the same salt and settings.
    fn fits(&self, salt: u64, s: &Settings) -> bool {
        self.salt == salt && self.override_key == override_key(s) && self.size == s.resolution && self.face_index == s.face_index
    }
}

/// The render state of one node instance: caches only.
pub struct Renderer {
    analyzers: Mutex<HashMap<Device, Arc<FaceAnalyzer>>>,
    generators: Mutex<GeneratorCache>,
    sources: Mutex<SourceCache>,
    drivers: Mutex<Lru<u128, Option<Landmarks68<f64>>>>,
    track: Mutex<Option<(TrackKey, Arc<LandmarkTrack>)>>,
    mattes: Mutex<Lru<u128, Arc<ViewMatte>>>,
    /// Face regions of reference stills at full resolution, by (image
    /// content, pixel rectangle).
    regions: Mutex<RegionCache>,
    device_warned: std::sync::atomic::AtomicBool,
    /// Targets of recently rendered frames, by time, for the overlay.
    drawn_targets: Mutex<Lru<u64, Landmarks68<f64>>>,
    /// The portrait's landmarks of the last render, for the overlay.
    drawn_source: Mutex<Option<Landmarks68<f64>>>,
    guess: Mutex<Option<SourceGuess>>,
    /// The content key of the portrait the "several faces of the same size"
    /// warning was last posted for (posted once per content, not per frame).
    faces_warned: Mutex<Option<u128>>,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer {
            analyzers: Mutex::new(HashMap::new()),
            generators: Mutex::new(HashMap::new()),
            sources: Mutex::new(Lru::new(MAX_REFERENCES + 4)),
            drivers: Mutex::new(Lru::new(256)),
            track: Mutex::new(None),
            mattes: Mutex::new(Lru::new(4)),
            regions: Mutex::new(Lru::new(3)),
            device_warned: false.into(),
            drawn_targets: Mutex::new(Lru::new(64)),
            drawn_source: Mutex::new(None),
            guess: Mutex::new(None),
            faces_warned: Mutex::new(None),
        }
    }
}

fn fail(s: impl Into<String>) -> Error {
    Error::Failed(s.into())
}

/// What besides the bytes makes an image's content key: the render scale and
/// the pixel aspect ratio.
fn content_salt(scale: f64, map: PixelMap) -> u64 {
    scale.to_bits() ^ map.par.to_bits().rotate_left(17)
}

/// The landmark override's part of the source cache key.
fn override_key(settings: &Settings) -> Option<[u64; 2]> {
    settings.source_override.map(|o| {
        let mut h = [0u64; 2];
        for (i, p) in o.iter().enumerate() {
            h[i % 2] = h[i % 2].rotate_left(7) ^ p[0].to_bits() ^ p[1].to_bits().rotate_left(32);
        }
        h
    })
}

/// Why no face was found on an image, as far as we can tell: non-finite
/// pixels, and the smallest face the detector's bounded search finds at this
/// image size; then what to do.
fn no_face_message(what: &str, view: &AnalysisView, bounds: RectI) -> String {
    let (w, h) = (view.image.width, view.image.height);
    let mut why = Vec::new();
    if view.non_finite > 0 {
        let n = view.non_finite;
        why.push(format!("{n} of its pixels {} not finite numbers (NaN or infinity; they are read as black)", if n == 1 { "is" } else { "are" }));
    }
    let smallest = crate::face::smallest_face_found(w, h);
    let scale = bounds.height() as f64 / h as f64;
    let seen = if view.reduced() { format!(", analysed at {w}×{h}") } else { String::new() };
    why.push(format!(
        "in a {}×{} image{seen} the detector finds faces from about {} pixels wide",
        bounds.width(),
        bounds.height(),
        (smallest as f64 * scale).round()
    ));
    format!(
        "no face was found on the {what}: {}; use a portrait with a clearly visible face, or turn on \"Override portrait landmarks\" and place srcLm00…srcLm67 by hand",
        why.join("; ")
    )
}

impl Renderer {
    /// The face analyzer for a device.
    pub fn analyzer(&self, device: Device) -> Arc<FaceAnalyzer> {
        self.analyzers.lock().entry(device).or_insert_with(|| Arc::new(FaceAnalyzer::new(device))).clone()
    }

    /// The generator of a model pack (None: the built-in warp) on a device,
    /// loaded and validated on first use.
    pub fn generator(&self, device: Device, pack: Option<&std::path::Path>) -> Result<Arc<dyn Generator>> {
        let key = (device, pack.map(|p| p.to_path_buf()));
        if let Some(g) = self.generators.lock().get(&key) {
            return Ok(g.clone());
        }
        let g = generator::load_generator(pack, device).map_err(|e| fail(format!("the generator cannot be used: {e}")))?;
        self.generators.lock().insert(key, g.clone());
        Ok(g)
    }

    /// Which device inference runs on (loads the runtime and the built-in generator).
    pub fn device_report(&self, device: Device) -> Result<DeviceReport> {
        Ok(self.generator(device, None)?.device_report().clone())
    }

    /// Analyse (or take from the cache) one reference image.
    #[allow(clippy::too_many_arguments)]
    fn prepare(&self, img: &Image, scale: f64, size: usize, settings: &Settings, analyzer: &FaceAnalyzer, abort: &dyn Fn() -> bool, what: &str) -> Result<Arc<PreparedSource>> {
        let map = PixelMap::of_image(img, scale);
        let key = image_key(img, content_salt(scale, map));
        let cache_key = (key, override_key(settings), size, settings.face_index);
        if let Some(p) = self.sources.lock().get(&cache_key) {
            return Ok(p);
        }
        let (landmarks, faces) = match settings.source_override {
            Some(l) => (l, None),
            None => {
                let view = AnalysisView::of(img, map).map_err(|e| fail(format!("the {what} cannot be analysed: {e}")))?;
                let analysis = analyzer.analyze_abortable(&view.image, Some(abort)).map_err(|e| fail(e.to_string()))?;
                let face = analysis.choose(settings.face_index).map_err(|e| match e {
                    crate::face::FaceError::NoSuchFace { index, count } => fail(format!(
                        "Face is {index}, but the {what} has only {count} face{}: set Face to 0 for the largest, or to 1…{count} to count from the left",
                        if count == 1 { "" } else { "s" }
                    )),
                    _ => fail(no_face_message(what, &view, img.bounds())),
                })?;
                let mut l = [[0.0; 2]; 68];
                for (o, p) in l.iter_mut().zip(face.landmarks68.iter()) {
                    *o = view.to_canonical(*p, map);
                }
                let chosen = analysis.faces.iter().position(|f| f == face).unwrap_or(0) + 1;
                let ambiguous = settings.face_index == 0 && analysis.is_ambiguous();
                (l, Some(FacesSeen { count: analysis.faces.len(), chosen, ambiguous }))
            }
        };
        let crop = FaceCrop::from_landmarks(&landmarks);
        let b = img.bounds();
        let prepared = Arc::new(PreparedSource {
            state: FaceState::of(&landmarks),
            pixels: Arc::new(crop_pixels(&ImageSampler::new(img), &crop, map, size)),
            crop,
            landmarks,
            key,
            image_size: [b.width() as u32, b.height() as u32],
            par: map.par,
            faces,
        });
        self.sources.lock().put(cache_key, prepared.clone());
        Ok(prepared)
    }

    fn load_track(&self, settings: &Settings, size: [u32; 2]) -> Result<Arc<LandmarkTrack>> {
        if settings.track_file.trim().is_empty() {
            return Err(fail("Drive mode is \"Track file\" but no track file is set: choose one in Track file"));
        }
        let path = PathBuf::from(settings.track_file.trim());
        let meta = std::fs::metadata(&path).map_err(|e| fail(format!("cannot read the track file {}: {e}", path.display())))?;
        let key = TrackKey { path: path.clone(), len: meta.len(), modified: meta.modified().ok(), size };
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
    fn driver_points(&self, effect: &EffectHandle, time: f64, scale: f64, analyzer: &FaceAnalyzer, abort: &dyn Fn() -> bool) -> Result<Option<Landmarks68<f64>>> {
        let clip = effect.clip(clips::DRIVER).map_err(|_| fail("Drive mode is \"Driver clip\", which needs the general context (a Driver input)"))?;
        if !clip.connected() {
            return Err(fail("Drive mode is \"Driver clip\" but nothing is connected to the Driver input"));
        }
        let Some(img) = clip.image(time, None)? else { return Ok(None) };
        let map = PixelMap::of_image(&img, scale);
        let key = image_key(&img, content_salt(scale, map));
        if let Some(p) = self.drivers.lock().get(&key) {
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
            l
        });
        self.drivers.lock().put(key, points);
        Ok(points)
    }

    /// Target landmarks at `time` (canonical, y up), before the expression
    /// controls.
    #[allow(clippy::too_many_arguments)]
    fn drive_targets(&self, effect: &EffectHandle, time: f64, s: &Settings, base: &PreparedSource, source_rod_height: f64, scale: f64, analyzer: &FaceAnalyzer, abort: &dyn Fn() -> bool) -> Result<Landmarks68<f64>> {
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
                    None => self.driver_points(effect, time, scale, analyzer, abort)?,
                    Some(filter) => {
                        let fps = effect.properties().get_double(c"OfxImageEffectPropFrameRate", 0).unwrap_or(24.0).max(1.0);
                        let first = effect.clip(clips::DRIVER)?.frame_range().map(|r| r.0).unwrap_or(time);
                        let mut samples = Vec::new();
                        let start = (time - crate::smoothing::WINDOW as f64 + 1.0).max(first);
                        let mut t = start;
                        while t <= time + 1e-9 {
                            if let Some(p) = self.driver_points(effect, t, scale, analyzer, abort)? {
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
                    effect.clip(clips::DRIVER)?.frame_range().map(|r| r.0).unwrap_or(time)
                };
                let reference = self
                    .driver_points(effect, ref_time, scale, analyzer, abort)?
                    .ok_or_else(|| fail(format!("the Driver clip has no face at its reference frame {ref_time}; set Motion reference frame to a frame with a face")))?;
                Ok(transfer_relative(&base.landmarks, &reference, &now))
            }
        }
    }

    /// Target landmarks at `time`: the drive, then the expression controls.
    #[allow(clippy::too_many_arguments)]
    fn targets(&self, effect: &EffectHandle, time: f64, s: &Settings, base: &PreparedSource, source_rod_height: f64, scale: f64, analyzer: &FaceAnalyzer, abort: &dyn Fn() -> bool) -> Result<Landmarks68<f64>> {
        let t = self.drive_targets(effect, time, s, base, source_rod_height, scale, analyzer, abort)?;
        Ok(s.expressions.apply(&t))
    }

    /// Targets the last render at `time` computed (for the overlay).
    pub fn last_targets(&self, time: f64) -> Option<Landmarks68<f64>> {
        self.drawn_targets.lock().get(&time.to_bits())
    }

    /// The portrait's landmarks of the last render (for the overlay).
    pub fn last_source(&self) -> Option<Landmarks68<f64>> {
        *self.drawn_source.lock()
    }

    /// The portrait (the Source at `time`, or the first reference frame)
    /// analysed at render scale `scale`: its landmarks in canonical
    /// coordinates. For the Detect button and baking.
    pub fn source_landmarks(&self, effect: &EffectHandle, time: f64, scale: f64, s: &Settings) -> Result<Landmarks68<f64>> {
        let mut detect_only = s.clone();
        detect_only.source_override = None;
        Ok(self.base_source(effect, time, scale, &detect_only)?.0.landmarks)
    }

    /// The base reference still analysed, and the Source's height in
    /// canonical units (for absolute tracks, origin top-left).
    fn base_source(&self, effect: &EffectHandle, time: f64, scale: f64, s: &Settings) -> Result<(Arc<PreparedSource>, f64)> {
        let clip = effect.clip(clips::SOURCE)?;
        let t = reference_times(s, time)[0];
        let img = clip.image(t, None)?.ok_or_else(|| fail(format!("the Source clip has no image at frame {t}")))?;
        let base = self.prepare(&img, scale, s.resolution, s, &self.analyzer(s.device), &|| false, "Source image")?;
        let rod_h = clip.region_of_definition(t).map(|r| r.y2 - r.y1).unwrap_or(base.image_size[1] as f64 / scale);
        Ok((base, rod_h))
    }

    /// The driving targets (before the expression controls) at every frame the
    /// current track covers, as (timeline time, landmarks in canonical
    /// coordinates): what "Bake to keyframes" writes. `progress(done, total)`
    /// returns false to stop.
    pub fn bake(&self, effect: &EffectHandle, time: f64, scale: f64, s: &Settings, progress: &dyn Fn(usize, usize) -> bool) -> Result<Vec<(f64, Landmarks68<f64>)>> {
        let (base, rod_h) = self.base_source(effect, time, scale, s)?;
        let analyzer = self.analyzer(s.device);
        let abort = || false;
        let times: Vec<f64> = match s.drive {
            DriveMode::TrackFile => {
                let track = self.load_track(s, base.image_size)?;
                track.frames.iter().map(|f| f.frame as f64 - s.track_frame_offset as f64).collect()
            }
            DriveMode::Driver => {
                let (a, b) = effect
                    .clip(clips::DRIVER)
                    .ok()
                    .and_then(|c| c.frame_range())
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
            out.push((t, self.drive_targets(effect, t, s, &base, rod_h, scale, &analyzer, &abort)?));
        }
        Ok(out)
    }

    /// Render one window of one frame.
    pub fn render(&self, effect: &EffectHandle, args: &RenderArgs, s: &Settings) -> Result<()> {
        let mut guessed = false;
        match self.render_with(effect, args, s, true, &mut guessed) {
            Ok(true) => Ok(()),
            // The guessed source was not the image (or failed before it was
            // checked): forget it, and render the ordinary way.
            Ok(false) => self.render_with(effect, args, s, false, &mut guessed).map(|_| ()),
            Err(e) if guessed && !matches!(e, Error::Aborted) => {
                *self.guess.lock() = None;
                self.render_with(effect, args, s, false, &mut guessed).map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// The guessed source for a render's only reference image, when the last
    /// two renders found the same content under the same settings.
    fn guessed_source(&self, img: &Image, scale: f64, s: &Settings) -> Option<(Arc<PreparedSource>, u64)> {
        let salt = content_salt(scale, PixelMap::of_image(img, scale));
        let guess = self.guess.lock();
        let g = guess.as_ref()?;
        let same = g.stable && g.fits(salt, s);
        // The size is at the render scale (the key covers the layout too).
        let [w, h] = g.prepared.image_size;
        let bounds = img.layout().bounds;
        (same && bounds.width() == w as usize && bounds.height() == h as usize).then(|| (g.prepared.clone(), salt))
    }

    /// Remember the only reference a render prepared (hashed): stable once two
    /// renders in a row find the same content.
    fn note_source(&self, prepared: &Arc<PreparedSource>, scale: f64, img: &Image, s: &Settings) {
        let salt = content_salt(scale, PixelMap::of_image(img, scale));
        let mut guess = self.guess.lock();
        let stable = guess.as_ref().is_some_and(|g| g.prepared.key == prepared.key && g.fits(salt, s));
        *guess = Some(SourceGuess { prepared: prepared.clone(), salt, override_key: override_key(s), size: s.resolution, face_index: s.face_index, stable });
    }

    /// One render; with `speculate`, an unchanged still's analysis may be
    /// reused before its content key is checked (on a second thread, beside
    /// the generator): `Ok(false)` when the check failed and nothing is
    /// final. `guessed` says whether a guess was used.
    fn render_with(&self, effect: &EffectHandle, args: &RenderArgs, s: &Settings, speculate: bool, guessed: &mut bool) -> Result<bool> {
        *guessed = false;
        let scale = args.render_scale.0.max(1e-6);
        let abort = || effect.aborted();
        let mut timer = StageTimer::new();
        let source_clip = effect.clip(clips::SOURCE)?;
        let out_clip = effect.clip(clips::OUTPUT)?;
        let undriven = match s.drive {
            DriveMode::Keyframes => s.keyframes.is_none(),
            DriveMode::Expressions => true,
            _ => false,
        };
        if undriven && s.expressions.is_neutral() && s.output == OutputMode::Full {
            // Nothing drives the face yet (a new node): the portrait, untouched.
            let mut out = out_clip
                .image(args.time, None)?
                .ok_or_else(|| fail(format!("the host gave no output image at frame {}", args.time)))?;
            let src = source_clip.image(args.time, None)?;
            return pass_through(src.as_ref(), &mut out, args.window, effect).map(|_| true);
        }
        let analyzer = self.analyzer(s.device);
        // References: one still (the Source at the render time), or frames
        // first..=last of Source with the background from the first.
        let ref_times = reference_times(s, args.time);
        let mut refs: Vec<Arc<PreparedSource>> = Vec::with_capacity(ref_times.len());
        let mut refs_at: Vec<f64> = Vec::with_capacity(ref_times.len());
        let mut base_image: Option<Image> = None;
        // (salt, key) of a guessed source, checked beside the generator.
        let mut check: Option<(u64, u128)> = None;
        let single = ref_times.len() == 1;
        for (i, t) in ref_times.iter().enumerate() {
            let img = source_clip
                .image(*t, None)?
                .ok_or_else(|| fail(format!("the Source clip has no image at frame {t}")))?;
            let what = if single { "Source image".to_string() } else { format!("Source reference frame {t}") };
            let guess = if speculate && single && s.output == OutputMode::Full { self.guessed_source(&img, scale, s) } else { None };
            let prepared = match guess {
                Some((p, salt)) => {
                    *guessed = true;
                    check = Some((salt, p.key));
                    p
                }
                None => {
                    let p = self.prepare(&img, scale, s.resolution, s, &analyzer, &abort, &what)?;
                    if single {
                        self.note_source(&p, scale, &img, s);
                    }
                    p
                }
            };
            if !refs.iter().any(|r| r.key == prepared.key) {
                refs.push(prepared);
                refs_at.push(*t);
            }
            if i == 0 {
                base_image = Some(img);
            }
        }
        let base_image = base_image.ok_or_else(|| fail("no Source image"))?;
        timer.mark("sources");
        let base = refs[0].clone();
        self.warn_faces_once(effect, &base);
        let rod_h = source_clip.region_of_definition(ref_times[0]).map(|r| r.y2 - r.y1).unwrap_or(base.image_size[1] as f64 / scale);
        let targets = self.targets(effect, args.time, s, &base, rod_h, scale, &analyzer, &abort)?;
        if abort() {
            return Err(Error::Aborted);
        }
        timer.mark("targets");
        self.drawn_targets.lock().put(args.time.to_bits(), targets);
        *self.drawn_source.lock() = Some(base.landmarks);
        let size = s.resolution;
        let target_n = base.crop.normalise_points(&targets);
        let source_n = base.crop.normalise_points(&base.landmarks);
        let feather = s.feather * 0.5; // eye distance ≈ 0.5 normalised units
        let hull = paste_hull(&source_n, &target_n);
        // The hull matte depends on the landmarks only: in Full output it is
        // made on the second thread while the generator runs.
        let make_hull = || hull_matte(&hull, HULL_RES, feather);
        timer.mark("hull");

        let ref_lms: Vec<[[f32; 2]; 68]> = refs.iter().map(|r| r.crop.normalise_points(&r.landmarks)).collect();
        let references: Vec<Reference<'_>> = refs
            .iter()
            .enumerate()
            .map(|(i, r)| Reference { crop: &r.pixels, landmarks: &ref_lms[i], key: r.key })
            .collect();
        let mut out = out_clip
            .image(args.time, None)?
            .ok_or_else(|| fail(format!("the host gave no output image at frame {}", args.time)))?;
        timer.mark("output image");
        // Full output starts as an exact copy of the portrait (the face is
        // pasted over it afterwards); the copy runs on a second thread while
        // the generator runs on the first.
        let mut copied = false;
        let mut hull_cells: Option<HullCells> = None;
        // Matte mode needs no generator.
        let (gen, alpha) = if s.output == OutputMode::Matte {
            (None, CropMatte::new(make_hull(), None, size))
        } else {
            let state = FaceState::of(&targets);
            let chosen = refs
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.state.distance(&state).total_cmp(&b.1.state.distance(&state)))
                .map(|(i, _)| i)
                .unwrap_or(0);
            let generator = self.generator(s.device, s.model_pack.as_deref())?;
            self.warn_device_once(effect, generator.device_report());
            let generate = || generator.generate(size, &references, chosen, &target_n, Some(&abort));
            let result = if s.output == OutputMode::Full {
                let slot = Mutex::new(None);
                let target = Mutex::new(&mut out);
                let hull_slot = Mutex::new(None);
                let checked = Mutex::new(None);
                ofx::plugin::run_threads(2, |index, _| {
                    if index == 0 {
                        *slot.lock() = Some(generate());
                    } else {
                        let mut out = target.lock();
                        match check {
                            // This is one of the host's threads: hash here,
                            // copying each row as it is read.
                            Some((salt, key)) => {
                                let mut copy = WindowCopy::new(&mut out, base_image.layout(), args.window);
                                let same = image_key_here(&base_image, salt, |y, row| copy.row(y, Some(row))) == key;
                                copy.finish();
                                *checked.lock() = Some(same);
                            }
                            None => copy_window(&mut out, &base_image, args.window),
                        }
                        drop(out);
                        *hull_slot.lock() = Some(HullCells::new(&make_hull(), size));
                    }
                    Ok(())
                })?;
                let checked = match (check, checked.into_inner()) {
                    (None, _) => true,
                    (Some(_), Some(same)) => same,
                    // The second thread did not run (a host without threads runs them in turn, so this is rare).
                    (Some((salt, key)), None) => image_key(&base_image, salt) == key,
                };
                if !checked {
                    *self.guess.lock() = None;
                    return Ok(false);
                }
                copied = true;
                hull_cells = hull_slot.into_inner();
                slot.into_inner().unwrap_or_else(|| Err("the generator did not run".into()))
            } else {
                generate()
            };
            let mut g = result.map_err(|e| if abort() { Error::Aborted } else { fail(e) })?;
            timer.mark("generator");
            let hull = hull_cells.take().unwrap_or_else(|| HullCells::new(&make_hull(), size));
            let matte = CropMatte::from_hull(hull, Some(&g.changed));
            // The mask is in the matte now: its buffer goes back.
            g.changed = Planes::default();
            (Some(g), matte)
        };
        let seg = if s.use_segmentation && s.output != OutputMode::Crop {
            Some(self.segmentation(&base, &base_image, scale, &analyzer, &abort)?)
        } else {
            None
        };

        timer.mark("alpha");
        let out_map = PixelMap::of_image(&out, scale);
        let base_map = PixelMap::of_image(&base_image, scale);
        match s.output {
            OutputMode::Crop => {
                let rgb = gen.as_ref().map(|g| g.rgb(&references));
                write_crop(&mut out, args.window, out_map, size, rgb.as_deref())
            }
            OutputMode::Matte => write_matte(&mut out, args.window, &base, base_map, &alpha, seg.as_deref()),
            OutputMode::Full => {
                // A resampling is evaluated on the chosen reference's own image (the base's, or fetched).
                let other_image = match gen.as_ref().map(|g| (&g.pixels, g.reference)) {
                    Some((CropPixels::Resample { .. }, r)) if r > 0 => {
                        let t = *refs_at.get(r).ok_or_else(|| fail("the generator named an unknown reference"))?;
                        Some(
                            source_clip
                                .image(t, None)?
                                .ok_or_else(|| fail(format!("the Source clip has no image at frame {t}")))?,
                        )
                    }
                    _ => None,
                };
                let g = gen.as_ref().ok_or_else(|| fail("the full output needs a generated face"))?;
                let face = match &g.pixels {
                        CropPixels::Rgb(rgb) => Face::Rgb(rgb),
                        CropPixels::Resample { grid, overlay } => {
                            let image = other_image.as_ref().unwrap_or(&base_image);
                            let r = refs.get(g.reference).unwrap_or(&base);
                            let to_pixels = crop_to_pixels(&r.crop, PixelMap::of_image(image, scale));
                            // Crop pixels per image pixel, along the crop's x axis.
                            let fine = size as f64 / 2.0 / to_pixels[0].hypot(to_pixels[3]).max(1e-9);
                            let cells = Resampling::cells(size, &alpha, grid, overlay, to_pixels);
                            Face::Resample(Resampling {
                                cells,
                                grid,
                                overlay,
                                to_pixels,
                                region: self.region(r, image, scale),
                                geometric: other_image.is_none(),
                                // A crop within a quarter of the image's resolution
                                // (its soft edges about a pixel wide) needs none.
                                supersample: ((fine - 0.25).ceil() as usize).clamp(1, 4),
                            })
                        }
                };
                if !copied {
                    copy_window(&mut out, &base_image, args.window);
                }
                timer.mark("cells");
                paste(&mut out, &base_image, args.window, &base, base_map, size, &face, &alpha, seg.as_deref())?
            }
        }
        timer.mark("write");
        timer.report(args.time);
        Ok(true)
    }

    /// The part of a reference's image under its face crop (plus a pixel),
    /// as float RGB: what a generator's resampling reads.
    fn region(&self, r: &PreparedSource, image: &Image, scale: f64) -> Arc<Region> {
        let map = PixelMap::of_image(image, scale);
        let b = r.crop.bounds();
        let rect = RectI {
            x1: (b[0] * map.sx).floor() as i32 - 2,
            y1: (b[1] * map.sy).floor() as i32 - 2,
            x2: (b[2] * map.sx).ceil() as i32 + 2,
            y2: (b[3] * map.sy).ceil() as i32 + 2,
        }
        .intersect(&image.bounds());
        let key = (r.key, [rect.x1, rect.y1, rect.x2, rect.y2]);
        if let Some(region) = self.regions.lock().get(&key) {
            return region;
        }
        let region = Arc::new(Region::from_image(image, rect));
        self.regions.lock().put(key, region.clone());
        region
    }

    fn segmentation(&self, base: &PreparedSource, image: &Image, scale: f64, analyzer: &FaceAnalyzer, abort: &dyn Fn() -> bool) -> Result<Arc<ViewMatte>> {
        if let Some(m) = self.mattes.lock().get(&base.key) {
            return Ok(m);
        }
        // The matte model sees 256×256: the bounded analysis image is plenty.
        let view = AnalysisView::of(image, PixelMap::of_image(image, scale)).map_err(|e| fail(e.to_string()))?;
        let m = analyzer.portrait_matte_abortable(&view.image, Some(abort)).map_err(|e| fail(e.to_string()))?;
        let matte = Arc::new(view.matte_plane(&m.alpha));
        self.mattes.lock().put(base.key, matte.clone());
        Ok(matte)
    }

    /// Warn (persistently, once per portrait content) when the largest face
    /// was asked for and another is about as large; clear that warning when
    /// the choice is no longer ambiguous.
    fn warn_faces_once(&self, effect: &EffectHandle, base: &PreparedSource) {
        let ambiguous = base.faces.is_some_and(|f| f.ambiguous);
        let mut warned = self.faces_warned.lock();
        match (ambiguous, *warned) {
            (true, Some(k)) if k == base.key => {}
            (true, _) => {
                let f = base.faces.unwrap_or(FacesSeen { count: 0, chosen: 0, ambiguous });
                let _ = effect.set_persistent_message(
                    ofx::plugin::MessageLevel::Warning,
                    &format!(
                        "Living Portrait: the portrait has {} faces and at least two are about the same size; animating face {} from the left as the largest. Set Face (faceIndex) to choose one: 1 is the leftmost.",
                        f.count, f.chosen
                    ),
                );
                *warned = Some(base.key);
            }
            (false, Some(_)) => {
                effect.clear_persistent_message();
                *warned = None;
            }
            (false, None) => {}
        }
    }

    /// The "Faces found" line for the portrait (the Source at `time`, or the
    /// first reference frame) at render scale `scale`: how many faces, which
    /// one `s.face_index` takes.
    pub fn faces_line(&self, effect: &EffectHandle, time: f64, scale: f64, s: &Settings) -> Result<String> {
        let clip = effect.clip(clips::SOURCE)?;
        if !clip.connected() {
            return Ok("no Source connected".into());
        }
        let t = reference_times(s, time)[0];
        let Some(img) = clip.image(t, None)? else { return Ok(format!("no Source image at frame {t}")) };
        let view = AnalysisView::of(&img, PixelMap::of_image(&img, scale)).map_err(|e| fail(e.to_string()))?;
        let analysis = self.analyzer(s.device).analyze(&view.image).map_err(|e| fail(e.to_string()))?;
        Ok(analysis.summary(s.face_index))
    }

    fn warn_device_once(&self, effect: &EffectHandle, report: &DeviceReport) {
        if report.is_gpu_fallback() && !self.device_warned.swap(true, std::sync::atomic::Ordering::AcqRel) {
            let _ = effect.set_persistent_message(
                ofx::plugin::MessageLevel::Warning,
                &format!("Living Portrait: GPU was requested but inference runs on {}: {}", report.used, report.reason.clone().unwrap_or_default()),
            );
        }
    }
}

/// The Source frames used as reference stills, the base (background) first:
/// one still (the Source at the render time), or frames first..=last (at most
/// [`MAX_REFERENCES`]).
fn reference_times(s: &Settings, time: f64) -> Vec<f64> {
    let (first, last) = (s.reference_first.min(s.reference_last), s.reference_first.max(s.reference_last));
    if first == last {
        vec![time]
    } else {
        (first..=last).take(MAX_REFERENCES).map(|f| f as f64).collect()
    }
}

/// Mirror y (image rows down → a y-up frame) for relative motion, whose
/// maths needs a consistent orientation, not a particular origin.
fn flip_y(l: &Landmarks68<f64>) -> Landmarks68<f64> {
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

/// Bilinear sample of a planar S×S image at normalised crop coordinates.
#[inline]
fn sample_planar(img: &[f32], planes: usize, size: usize, n: [f64; 2], out: &mut [f32; 4]) {
    let fx = ((n[0] + 1.0) * size as f64 / 2.0 - 0.5).clamp(0.0, (size - 1) as f64);
    let fy = ((n[1] + 1.0) * size as f64 / 2.0 - 0.5).clamp(0.0, (size - 1) as f64);
    let x0 = fx.floor() as usize;
    let y0 = fy.floor() as usize;
    let x1 = (x0 + 1).min(size - 1);
    let y1 = (y0 + 1).min(size - 1);
    let tx = (fx - x0 as f64) as f32;
    let ty = (fy - y0 as f64) as f32;
    for c in 0..planes {
        let p = &img[c * size * size..(c + 1) * size * size];
        let a = p[y0 * size + x0] + (p[y0 * size + x1] - p[y0 * size + x0]) * tx;
        let b = p[y1 * size + x0] + (p[y1 * size + x1] - p[y1 * size + x0]) * tx;
        out[c] = a + (b - a) * ty;
    }
}

/// The generated face as the paste-back reads it.
enum Face<'a> {
    /// A planar RGB crop.
    Rgb(&'a [f32]),
    /// A resampling grid and overlay, evaluated on a reference's host image.
    Resample(Resampling<'a>),
}

/// A generator's resampling of a reference still, evaluated at full resolution.
struct Resampling<'a> {
    /// Per crop cell, interleaved for one tap: the paste matte, the pixel
    /// position (x, y) in the reference image of the cell's point A, and the
    /// weight of everything else (painted colour and point B).
    cells: Vec<[f32; 4]>,
    /// The generator's grids (point B is read from them where it is used)
    /// and overlay, planar S×S.
    grid: &'a [f32],
    overlay: &'a [f32],
    /// Reference crop's normalised coordinates → its image's pixel coordinates.
    to_pixels: [f64; 6],
    region: Arc<Region>,
    /// The reference is the base still: the matte then blends positions, not
    /// colours (a warp faded out geometrically shows no double edges).
    geometric: bool,
    /// Sub-samples per side where the overlay shows (1: none): where the crop
    /// is finer than the image, its sharp lid and lip edges would alias.
    supersample: usize,
}

impl Resampling<'_> {
    /// The cells of a generator's grids and overlay under a paste matte;
    /// `to_pixels` maps the reference crop's normalised coordinates to its
    /// image's pixel coordinates.
    fn cells(size: usize, matte: &CropMatte, grid: &[f32], overlay: &[f32], to_pixels: [f64; 6]) -> Vec<[f32; 4]> {
        let plane = size * size;
        let a = to_pixels;
        let to_px = |gx: f32, gy: f32| {
            let (gx, gy) = (gx as f64, gy as f64);
            [(a[0] * gx + a[1] * gy + a[2]) as f32, (a[3] * gx + a[4] * gy + a[5]) as f32]
        };
        let mut cells = vec![[0.0f32; 4]; plane];
        // Outside the matte's box no pixel is pasted: those cells stay 0.
        let (u0, u1) = (cell_of(matte.bbox[0], size).saturating_sub(1), (cell_of(matte.bbox[2], size) + 2).min(size));
        let (v0, v1) = (cell_of(matte.bbox[1], size).saturating_sub(1), (cell_of(matte.bbox[3], size) + 2).min(size));
        par_rows(&mut cells, size, v0..v1, |v, row| {
            for (u, c) in row.iter_mut().enumerate().take(u1).skip(u0) {
                let i = v * size + u;
                let pa = to_px(grid[i], grid[plane + i]);
                let rest = overlay[3 * plane + i] + overlay[4 * plane + i];
                *c = [matte.alpha[i], pa[0], pa[1], rest];
            }
        });
        cells
    }

    /// One row of the paste (no segmentation matte): pixel `i` of `row` is
    /// image pixel (`origin[0]` + i, `origin[1]`), at normalised crop position
    /// `n + i·step`. The common pixel (one sample at point A) is done here
    /// with the crop position stepped in crop pixels; the others go to
    /// [`Resampling::blend`].
    fn paste_row(&self, matte: &CropMatte, n: [f64; 2], steps: [[f64; 2]; 2], origin: [i32; 2], row: &mut [[f32; 4]], spots: &mut Vec<[f32; 4]>) {
        let step = steps[0];
        let size = matte.size;
        let half = size as f64 * 0.5;
        let max = (size - 1) as f32;
        // Crop pixel coordinates (centres at integers) of pixel 0 and the step.
        let (c0, cd) = ([(n[0] + 1.0) * half - 0.5, (n[1] + 1.0) * half - 0.5], [step[0] * half, step[1] * half]);
        // Pixels strictly inside the matte's box: a run of the row.
        let (lo, hi) = inside_run(n, step, matte.bbox, row.len());
        let oy = origin[1] as f32 + 0.5;
        let cells = &self.cells[..];
        // In f32: at most ~1e-4 crop pixels off for crops up to 1024 and rows up to 8192 pixels.
        let (c0f, cdf) = ([c0[0] as f32, c0[1] as f32], [cd[0] as f32, cd[1] as f32]);
        // Three passes, each a short chain of dependent loads: the cells' tap
        // for every pixel (into `spots`), the faded sample points, then the
        // samples of the image.
        spots.clear();
        for i in lo..hi {
            let fi = i as f32;
            let fx = (c0f[0] + cdf[0] * fi).clamp(0.0, max);
            let fy = (c0f[1] + cdf[1] * fi).clamp(0.0, max);
            // The cell's top-left corner is never on the last row or column
            // (a weight of 1 reaches it from the one before), so both
            // neighbours always exist.
            let (x0, y0) = ((fx as usize).min(size - 2), (fy as usize).min(size - 2));
            let tap = Tap { i: y0 * size + x0, dx: 1, dy: size, tx: fx - x0 as f32, ty: fy - y0 as f32 };
            let c = tap.sample4(cells);
            spots.push(c);
        }
        let geometric = self.geometric;
        for (k, c) in spots.iter_mut().enumerate() {
            // Point A faded by the matte (the pixel's own position where the matte is 0).
            let (ox, m) = ((origin[0] + (lo + k) as i32) as f32 + 0.5, c[0]);
            if geometric && c[3] <= 0.0 {
                c[1] = ox + (c[1] - ox) * m;
                c[2] = oy + (c[2] - oy) * m;
            }
        }
        for (k, c) in spots.iter().enumerate() {
            let i = lo + k;
            let m = c[0];
            if m <= 0.0 {
                continue;
            }
            let p = &mut row[i];
            if c[3] <= 0.0 && self.geometric {
                let s = self.region.sample(c[1], c[2]);
                p[..3].copy_from_slice(&s);
            } else {
                let ox = (origin[0] + i as i32) as f32 + 0.5;
                let nn = [n[0] + step[0] * i as f64, n[1] + step[1] * i as f64];
                self.blend_call(size, *c, nn, steps, m, [ox, oy], p);
            }
        }
    }

    /// [`Resampling::blend`] out of line: the rare pixels of [`Resampling::paste_row`]
    /// (lid and lip edges, the cavity) stay out of its tight loop.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn blend_call(&self, size: usize, c: [f32; 4], n: [f64; 2], step: [[f64; 2]; 2], m: f32, own: [f32; 2], p: &mut [f32; 4]) {
        self.blend(size, c, n, step, m, own, p)
    }

    /// Blend the face into pixel `p` at normalised crop position `n` (one
    /// pixel step `step` = (along x, along y)); `c` is the tap of the cells
    /// there, `m` the matte (with the segmentation) and `own` the pixel's
    /// position in the image.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn blend(&self, size: usize, c: [f32; 4], n: [f64; 2], step: [[f64; 2]; 2], m: f32, own: [f32; 2], p: &mut [f32; 4]) {
        // Where the matte fades a warp of the portrait itself, the positions
        // fade (a bend), not the colours (a double contour).
        let fade = |q: [f32; 2]| {
            if self.geometric {
                [own[0] + (q[0] - own[0]) * m, own[1] + (q[1] - own[1]) * m]
            } else {
                q
            }
        };
        if c[3] <= 0.0 {
            // The common case: one sample at point A. (The weights are never
            // negative, so 0 means none at any of the tap's cells.)
            let pa = fade([c[1], c[2]]);
            let s = self.region.sample(pa[0], pa[1]);
            if self.geometric {
                p[..3].copy_from_slice(&s);
            } else {
                for k in 0..3 {
                    p[k] += (s[k] - p[k]) * m;
                }
            }
            return;
        }
        let plane = size * size;
        let tap = Tap::at(size, n);
        let ov_at = |t: &Tap| [0, 1, 2, 3, 4].map(|k| t.sample(&self.overlay[k * plane..(k + 1) * plane]));
        // [r, g, b, painted coverage, weight of B]. The weights have sharp
        // edges in crop pixels (lid and lip lines, the cavity): where the crop
        // is finer than the image they are averaged over the pixel's footprint;
        // the image itself is sampled once per point, unblurred.
        let ov = if self.supersample < 2 {
            ov_at(&tap)
        } else {
            let k = self.supersample;
            let mut sum = [0.0f32; 5];
            for j in 0..k {
                let v = (j as f64 + 0.5) / k as f64 - 0.5;
                for i in 0..k {
                    let u = (i as f64 + 0.5) / k as f64 - 0.5;
                    let ns = [n[0] + step[0][0] * u + step[1][0] * v, n[1] + step[0][1] * u + step[1][1] * v];
                    let o = ov_at(&Tap::at(size, ns));
                    for q in 0..5 {
                        sum[q] += o[q];
                    }
                }
            }
            sum.map(|v| v / (k * k) as f32)
        };
        let pb = {
            let (gx, gy) = (tap.sample(&self.grid[2 * plane..3 * plane]) as f64, tap.sample(&self.grid[3 * plane..4 * plane]) as f64);
            let a = &self.to_pixels;
            [(a[0] * gx + a[1] * gy + a[2]) as f32, (a[3] * gx + a[4] * gy + a[5]) as f32]
        };
        let (mut a, mut b, mut tint) = (ov[3], ov[4], 1.0);
        if self.geometric {
            a *= m;
            b *= m;
            tint = m;
        }
        let w_a = (1.0 - a - b).max(0.0);
        let sa = if w_a > 0.0 {
            let q = fade([c[1], c[2]]);
            self.region.sample(q[0], q[1])
        } else {
            [0.0; 3]
        };
        let sb = if b > 0.0 {
            let q = fade(pb);
            self.region.sample(q[0], q[1])
        } else {
            [0.0; 3]
        };
        for k in 0..3 {
            let colour = w_a * sa[k] + b * sb[k] + tint * ov[k];
            if self.geometric {
                p[k] = colour;
            } else {
                p[k] += (colour - p[k]) * m;
            }
        }
    }
}

/// The run `[lo, hi)` of `i < len` for which `n + i·step` lies strictly inside
/// the box `b` ([x1, y1, x2, y2]): points of a line inside a box are one run.
fn inside_run(n: [f64; 2], step: [f64; 2], b: [f64; 4], len: usize) -> (usize, usize) {
    let at = |i: usize, k: usize| n[k] + step[k] * i as f64;
    let inside = |i: usize| (0..2).all(|k| at(i, k) > b[k] && at(i, k) < b[k + 2]);
    let (mut lo, mut hi) = (0.0f64, len as f64);
    for k in 0..2 {
        if step[k] == 0.0 {
            if !(n[k] > b[k] && n[k] < b[k + 2]) {
                return (0, 0);
            }
            continue;
        }
        let (t1, t2) = ((b[k] - n[k]) / step[k], (b[k + 2] - n[k]) / step[k]);
        lo = lo.max(t1.min(t2).floor());
        hi = hi.min(t1.max(t2).ceil() + 1.0);
    }
    if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
        return (0, 0);
    }
    // Rounding at the ends: settle them with the exact test.
    let (mut lo, mut hi) = (lo.max(0.0) as usize, (hi.max(0.0) as usize).min(len));
    while lo < hi && !inside(lo) {
        lo += 1;
    }
    while hi > lo && !inside(hi - 1) {
        hi -= 1;
    }
    (lo, hi)
}

/// The affine map from a crop's normalised coordinates to an image's pixel
/// coordinates (centres at +0.5): `[a, b, c, d, e, f]` with x = a·u + b·v + c,
/// y = d·u + e·v + f.
fn crop_to_pixels(crop: &FaceCrop, map: PixelMap) -> [f64; 6] {
    let o = crop.to_canonical([0.0, 0.0]);
    let u = crop.to_canonical([1.0, 0.0]);
    let v = crop.to_canonical([0.0, 1.0]);
    [
        (u[0] - o[0]) * map.sx,
        (v[0] - o[0]) * map.sx,
        o[0] * map.sx,
        (u[1] - o[1]) * map.sy,
        (v[1] - o[1]) * map.sy,
        o[1] * map.sy,
    ]
}

/// Full-frame output, over an exact copy of the base image ([`copy_window`]):
/// the generated face blended in where the matte is above zero; every other
/// pixel keeps the source's bytes. Face rows are shared out among the host's
/// threads.
#[allow(clippy::too_many_arguments)]
fn paste(out: &mut Image, src: &Image, window: RectI, base: &PreparedSource, map: PixelMap, size: usize, face_px: &Face<'_>, matte: &CropMatte, seg: Option<&ViewMatte>) -> Result<()> {
    let dl = out.layout();
    let sl = src.layout();
    let win = window.intersect(&dl.bounds);
    if win.is_empty() {
        return Ok(());
    }
    // Pixels the matte can touch: the matte's bounding box mapped to pixels.
    let corners = [[matte.bbox[0], matte.bbox[1]], [matte.bbox[2], matte.bbox[1]], [matte.bbox[2], matte.bbox[3]], [matte.bbox[0], matte.bbox[3]]]
        .map(|n| base.crop.to_canonical(n));
    let face = RectI {
        x1: (corners.iter().map(|c| c[0]).fold(f64::MAX, f64::min) * map.sx).floor() as i32 - 1,
        y1: (corners.iter().map(|c| c[1]).fold(f64::MAX, f64::min) * map.sy).floor() as i32 - 1,
        x2: (corners.iter().map(|c| c[0]).fold(f64::MIN, f64::max) * map.sx).ceil() as i32 + 1,
        y2: (corners.iter().map(|c| c[1]).fold(f64::MIN, f64::max) * map.sy).ceil() as i32 + 1,
    }
    .intersect(&win);
    let dpb = dl.pixel_bytes();
    let spb = sl.pixel_bytes();
    // Normalised coordinates are affine in pixel coordinates: step them.
    let n0 = base.crop.to_normalised([0.5 / map.sx, 0.5 / map.sy]);
    let nx = base.crop.to_normalised([1.5 / map.sx, 0.5 / map.sy]);
    let ny = base.crop.to_normalised([0.5 / map.sx, 1.5 / map.sy]);
    let (dx, dy) = ([nx[0] - n0[0], nx[1] - n0[1]], [ny[0] - n0[0], ny[1] - n0[1]]);
    if face.is_empty() {
        return Ok(());
    }
    let rows: Vec<(i32, &mut [u8])> = out.rows_mut().into_iter().filter(|(y, _)| *y >= face.y1 && *y < face.y2).collect();
    // Blocks of 8 rows, taken in turn by whichever thread is free: a thread
    // the host starts late (a sleeping CPU takes milliseconds to wake on a
    // VM) leaves its share to the other instead of finishing last.
    let mut chunks: Vec<RowChunk<'_>> = Vec::new();
    for (i, r) in rows.into_iter().enumerate() {
        if i % 8 == 0 {
            chunks.push(Mutex::new(Vec::with_capacity(8)));
        }
        if let Some(c) = chunks.last_mut() {
            c.get_mut().push(r);
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = |_index: u32, _count: u32| -> Result<()> {
        let mut row_px = vec![[0.0f32; 4]; face.width()];
        let mut spots = Vec::with_capacity(face.width());
        while let Some(chunk) = chunks.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            let mut chunk = chunk.lock();
            for (y, row) in chunk.iter_mut() {
                let y = *y;
                let dst = &mut row[(win.x1 - dl.bounds.x1) as usize * dpb..(win.x2 - dl.bounds.x1) as usize * dpb];
                let srow = src.row(y);
                // The face's span of the row, in float RGBA, blended, written back.
                for p in row_px.iter_mut() {
                    *p = [0.0; 4];
                }
                let fspan = face.intersect(&RectI { x1: sl.bounds.x1, y1: y, x2: sl.bounds.x2, y2: y + 1 });
                if let (Some(sr), false) = (srow, fspan.is_empty()) {
                    let so = (fspan.x1 - sl.bounds.x1) as usize * spb;
                    let o = (fspan.x1 - face.x1) as usize;
                    pixels::row_to_rgba(&sr[so..], &sl, &mut row_px[o..o + fspan.width()]);
                }
                let fy = y as f64;
                let fx = face.x1 as f64;
                let mut n = [n0[0] + dx[0] * fx + dy[0] * fy, n0[1] + dx[1] * fx + dy[1] * fy];
                if let (Face::Resample(r), None) = (face_px, seg) {
                    r.paste_row(matte, n, [dx, dy], [face.x1, y], &mut row_px, &mut spots);
                    let dofs = (face.x1 - win.x1) as usize * dpb;
                    pixels::rgba_to_row(&row_px, &dl, &mut dst[dofs..dofs + face.width() * dpb]);
                    continue;
                }
                for (i, p) in row_px.iter_mut().enumerate() {
                    if let Some(tap) = matte.tap(n) {
                        let x = face.x1 + i as i32;
                        // The matte, times the segmentation where it is used.
                        let with_seg = |m: f32| match seg {
                            Some(seg) if m > 0.0 => m * seg.sample(x as f64 + 0.5, y as f64 + 0.5)[0],
                            _ => m,
                        };
                        match face_px {
                            Face::Resample(r) => {
                                let c = tap.sample4(&r.cells);
                                let m = with_seg(c[0]);
                                if m > 0.0 {
                                    r.blend(size, c, n, [dx, dy], m, [x as f32 + 0.5, y as f32 + 0.5], p);
                                }
                            }
                            Face::Rgb(rgb) => {
                                let m = with_seg(tap.sample(&matte.alpha));
                                if m > 0.0 {
                                    let plane = size * size;
                                    for k in 0..3 {
                                        p[k] += (tap.sample(&rgb[k * plane..(k + 1) * plane]) - p[k]) * m;
                                    }
                                }
                            }
                        }
                    }
                    n[0] += dx[0];
                    n[1] += dx[1];
                }
                let dofs = (face.x1 - win.x1) as usize * dpb;
                pixels::rgba_to_row(&row_px, &dl, &mut dst[dofs..dofs + face.width() * dpb]);
            }
        }
        Ok(())
    };
    ofx::plugin::run_threads(2.min(chunks.len()).max(1) as u32, work)
}

/// Copy the render window of `src` into `out` exactly (transparent black
/// where the source has no pixels).
fn copy_window(out: &mut Image, src: &Image, window: RectI) {
    let mut copy = WindowCopy::new(out, src.layout(), window);
    for y in window.y1..window.y2 {
        copy.row(y, src.row(y));
    }
    copy.finish();
}

/// [`copy_window`] a row at a time, rows in any order: a pass that reads the
/// source for another reason (its content key) copies as it goes.
struct WindowCopy<'a> {
    /// The window's output rows, each with whether it has been written.
    rows: Vec<(i32, &'a mut [u8], bool)>,
    dl: ImageLayout,
    sl: ImageLayout,
    win: RectI,
    zeros: Vec<[f32; 4]>,
    scratch: Vec<[f32; 4]>,
}

impl<'a> WindowCopy<'a> {
    fn new(out: &'a mut Image, sl: ImageLayout, window: RectI) -> WindowCopy<'a> {
        let dl = out.layout();
        let win = window.intersect(&dl.bounds);
        let mut rows: Vec<_> = out.rows_mut().into_iter().filter(|(y, _)| *y >= win.y1 && *y < win.y2).map(|(y, r)| (y, r, false)).collect();
        rows.sort_by_key(|r| r.0);
        WindowCopy { rows, dl, sl, win, zeros: vec![[0.0f32; 4]; win.width()], scratch: Vec::new() }
    }

    /// Copy source row `y` (None: the source has no such row) into the window.
    fn row(&mut self, y: i32, src: Option<&[u8]>) {
        let (dl, sl, win) = (&self.dl, &self.sl, self.win);
        if win.is_empty() || y < win.y1 || y >= win.y2 {
            return;
        }
        let Ok(i) = self.rows.binary_search_by_key(&y, |r| r.0) else { return };
        let (_, row, done) = &mut self.rows[i];
        let (dpb, spb) = (dl.pixel_bytes(), sl.pixel_bytes());
        let dst = &mut row[(win.x1 - dl.bounds.x1) as usize * dpb..(win.x2 - dl.bounds.x1) as usize * dpb];
        let span = win.intersect(&RectI { x1: sl.bounds.x1, y1: y, x2: sl.bounds.x2, y2: y + 1 });
        if span.width() != win.width() {
            pixels::rgba_to_row(&self.zeros, dl, dst);
        }
        if let (Some(sr), false) = (src, span.is_empty()) {
            let so = (span.x1 - sl.bounds.x1) as usize * spb;
            let dofs = (span.x1 - win.x1) as usize * dpb;
            pixels::convert_row(&sr[so..], sl, &mut dst[dofs..], dl, &mut self.scratch, span.width());
        }
        *done = true;
    }

    /// Rows no source row reached: transparent black.
    fn finish(mut self) {
        let missing: Vec<i32> = self.rows.iter().filter(|r| !r.2).map(|r| r.0).collect();
        for y in missing {
            self.row(y, None);
        }
    }
}

/// Aligned-crop output: the generator's crop, over a region of definition of
/// S×S canonical pixels at the origin.
fn write_crop(out: &mut Image, window: RectI, map: PixelMap, size: usize, gen: Option<&[f32]>) {
    let dl = out.layout();
    let win = window.intersect(&dl.bounds);
    let (side_x, side_y) = (size as f64 * map.sx, size as f64 * map.sy);
    let mut row_px = vec![[0.0f32; 4]; win.width()];
    for (y, row) in out.rows_mut() {
        if y < win.y1 || y >= win.y2 {
            continue;
        }
        for (i, p) in row_px.iter_mut().enumerate() {
            let x = win.x1 + i as i32;
            let n = [2.0 * (x as f64 + 0.5) / side_x - 1.0, 1.0 - 2.0 * (y as f64 + 0.5) / side_y];
            let mut v = [0.0f32; 4];
            if n[0].abs() < 1.0 && n[1].abs() < 1.0 {
                if let Some(g) = gen {
                    sample_planar(g, 3, size, n, &mut v);
                }
                v[3] = 1.0;
            }
            *p = v;
        }
        let dpb = dl.pixel_bytes();
        let dst = &mut row[(win.x1 - dl.bounds.x1) as usize * dpb..(win.x2 - dl.bounds.x1) as usize * dpb];
        pixels::rgba_to_row(&row_px, &dl, dst);
    }
}

/// Matte output: the paste-back matte (hull × segmentation), grey in RGB and A.
fn write_matte(out: &mut Image, window: RectI, base: &PreparedSource, map: PixelMap, matte: &CropMatte, seg: Option<&ViewMatte>) {
    let dl = out.layout();
    let win = window.intersect(&dl.bounds);
    let mut row_px = vec![[0.0f32; 4]; win.width()];
    for (y, row) in out.rows_mut() {
        if y < win.y1 || y >= win.y2 {
            continue;
        }
        for (i, p) in row_px.iter_mut().enumerate() {
            let x = win.x1 + i as i32;
            let n = base.crop.to_normalised([(x as f64 + 0.5) / map.sx, (y as f64 + 0.5) / map.sy]);
            let mut m = matte.at(n);
            if m > 0.0 {
                if let Some(seg) = seg {
                    m *= seg.sample(x as f64 + 0.5, y as f64 + 0.5)[0];
                }
            }
            *p = [m, m, m, m];
        }
        let dpb = dl.pixel_bytes();
        let dst = &mut row[(win.x1 - dl.bounds.x1) as usize * dpb..(win.x2 - dl.bounds.x1) as usize * dpb];
        pixels::rgba_to_row(&row_px, &dl, dst);
    }
}

/// Copy the render window of `src` into `out`, converting formats; pixels the
/// source does not cover are transparent black.
fn pass_through(src: Option<&Image>, out: &mut Image, window: RectI, effect: &EffectHandle) -> Result<()> {
    let dst_layout = out.layout();
    let win = window.intersect(&dst_layout.bounds);
    if win.is_empty() {
        return Ok(());
    }
    let src_layout = src.map(|s| s.layout());
    let mut scratch = Vec::new();
    let zero = vec![[0.0f32; 4]; win.width()];
    for (y, row) in out.rows_mut() {
        if y < win.y1 || y >= win.y2 {
            continue;
        }
        if (y - win.y1) % 64 == 0 && effect.aborted() {
            return Err(Error::Aborted);
        }
        let dpb = dst_layout.pixel_bytes();
        let dst_off = (win.x1 - dst_layout.bounds.x1) as usize * dpb;
        let dst = &mut row[dst_off..dst_off + win.width() * dpb];
        let srow = src.and_then(|s| s.row(y));
        let span = match (srow.is_some(), src_layout) {
            (true, Some(sl)) => win.intersect(&RectI { x1: sl.bounds.x1, y1: y, x2: sl.bounds.x2, y2: y + 1 }),
            _ => RectI::default(),
        };
        if span.width() != win.width() {
            // Transparent black where the source has no pixels.
            pixels::rgba_to_row(&zero, &dst_layout, dst);
        }
        let (Some(srow), Some(sl)) = (srow, src_layout) else { continue };
        if span.is_empty() {
            continue;
        }
        let spb = sl.pixel_bytes();
        let s_off = (span.x1 - sl.bounds.x1) as usize * spb;
        let d_off = (span.x1 - win.x1) as usize * dpb;
        pixels::convert_row(&srow[s_off..], &sl, &mut dst[d_off..], &dst_layout, &mut scratch, span.width());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::track::TrackFrame;

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
    #[ignore]
    fn paste_row_speed() {
        let size = 512;
        let plane = size * size;
        let mut grid = vec![0.0f32; 4 * plane];
        for v in 0..size {
            for u in 0..size {
                let (x, y) = ((2 * u + 1) as f32 / size as f32 - 1.0, (2 * v + 1) as f32 / size as f32 - 1.0);
                let i = v * size + u;
                grid[i] = x + 0.01 * (3.0 * y).sin();
                grid[plane + i] = y + 0.01 * (2.0 * x).cos();
                grid[2 * plane + i] = grid[i];
                grid[3 * plane + i] = grid[plane + i];
            }
        }
        let overlay = vec![0.0f32; 5 * plane];
        // The crop covers image pixels 10..522 at a slight rotation.
        let (c, sn) = (0.09f64.cos(), 0.09f64.sin());
        let to_pixels = [256.0 * c, -256.0 * sn, 266.0, 256.0 * sn, 256.0 * c, 266.0];
        let matte = CropMatte { alpha: vec![1.0; plane], size, bbox: [-0.95, -0.95, 0.95, 0.95] };
        let data: Vec<f32> = (0..540 * 540 * 3).map(|i| (i % 97) as f32 / 97.0).collect();
        let region = Arc::new(Region::from_rgb([0, 0], 540, 540, data));
        let r = Resampling {
            cells: Resampling::cells(size, &matte, &grid, &overlay, to_pixels),
            grid: &grid,
            overlay: &overlay,
            to_pixels,
            region,
            geometric: true,
            supersample: 1,
        };
        // Image pixel → normalised crop: the inverse of to_pixels.
        let det = to_pixels[0] * to_pixels[4] - to_pixels[1] * to_pixels[3];
        let inv = |x: f64, y: f64| {
            let (dx, dy) = (x - to_pixels[2], y - to_pixels[5]);
            [(to_pixels[4] * dx - to_pixels[1] * dy) / det, (-to_pixels[3] * dx + to_pixels[0] * dy) / det]
        };
        let n0 = inv(0.5, 0.5);
        let sx = inv(1.5, 0.5);
        let sy = inv(0.5, 1.5);
        let steps = [[sx[0] - n0[0], sx[1] - n0[1]], [sy[0] - n0[0], sy[1] - n0[1]]];
        let mut row = vec![[0.5f32; 4]; 540];
        let mut spots = Vec::new();
        let mut best = f64::MAX;
        let mut checksum = 0.0f32;
        for _ in 0..30 {
            let t = std::time::Instant::now();
            for y in 0..540 {
                let n = [n0[0] + steps[1][0] * y as f64, n0[1] + steps[1][1] * y as f64];
                r.paste_row(&matte, n, steps, [0, y], &mut row, &mut spots);
                checksum += row[270][0];
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("paste_row: {:.2} ms for 540×540 pixels ({:.1} ns a pixel); checksum {checksum}", best * 1e3, best * 1e9 / (540.0 * 540.0));
    }

    #[test]
    fn inside_run_is_the_run_a_pixel_by_pixel_test_finds() {
        let b = [-0.4, -0.3, 0.5, 0.6];
        let inside = |n: [f64; 2], s: [f64; 2], i: usize| {
            let (x, y) = (n[0] + s[0] * i as f64, n[1] + s[1] * i as f64);
            x > b[0] && x < b[2] && y > b[1] && y < b[3]
        };
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        for case in 0..2000 {
            let n = [rnd() * 1.2, rnd() * 1.2];
            // Steps along and across the row, a few exactly axis-aligned.
            let mut s = [rnd() * 0.01, rnd() * 0.01];
            if case % 7 == 0 {
                s[1] = 0.0;
            }
            if case % 11 == 0 {
                s[0] = 0.0;
            }
            let len = 400;
            let want: Vec<usize> = (0..len).filter(|&i| inside(n, s, i)).collect();
            let (lo, hi) = inside_run(n, s, b, len);
            let got: Vec<usize> = (lo..hi).collect();
            assert_eq!(got, want, "case {case}: n {n:?} step {s:?}");
        }
    }

    #[test]
    fn row_halves_cover_every_row_once() {
        // Outside a host (no multithread suite) the halves run in turn.
        let (w, h) = (5, 9);
        let mut data = vec![0u32; w * h];
        par_rows(&mut data, w, 2..8, |y, row| {
            for (x, v) in row.iter_mut().enumerate() {
                *v += (y * 100 + x) as u32 + 1;
            }
        });
        for y in 0..h {
            for x in 0..w {
                let want = if (2..8).contains(&y) { (y * 100 + x) as u32 + 1 } else { 0 };
                assert_eq!(data[y * w + x], want, "({x}, {y})");
            }
        }
        let (from, to) = (7, 3);
        par_rows(&mut data, w, from..to, |_, _| panic!("an empty range runs nothing"));
    }

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
