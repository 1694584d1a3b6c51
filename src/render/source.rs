//! Stage 1, the reference stills: each Source frame used as a reference is
//! analysed (landmarks detected, or the override taken), its face crop cut at
//! the working resolution, and the result cached by image content. A single
//! still that two renders in a row found unchanged is *guessed*: the render
//! goes on with it while a second thread checks its content key (see
//! [`SourceGuess`]). Also here: the "Faces found" line and the warning when
//! two faces are about the same size.

use std::sync::Arc;

use ofx::plugin::{Clip, EffectHandle, Image, RectI};
use ofx::Result;

use super::analysis::{AnalysisView, ImageSampler};
use super::geometry::{FaceCrop, FaceState};
use super::head::HeadGeometry;
use super::plane::{image_key, PixelMap};
use super::{fail, Frame, Renderer};
use crate::face::FaceAnalyzer;
use crate::landmarks::Landmarks68;
use crate::params::{clips, OutputMode, Settings};

/// Most reference stills used (as in the seed paper: one to 32).
pub const MAX_REFERENCES: usize = 32;

/// One analysed reference still, with its crop at one working size. The
/// full image is not kept (32 references of 1080p float would be a gigabyte).
pub struct PreparedSource {
    /// Landmarks, canonical (y up).
    pub landmarks: Landmarks68<f64>,
    /// The iris centres, canonical (the subject's right eye first), from the face mesh model's refined iris
    /// points; `None` when the landmarks are the override.
    pub irises: Option<[[f64; 2]; 2]>,
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
    /// Its 3-D face for head turns (thinned mesh with depth, in the crop's
    /// normalised coordinates); `None` when the landmarks are the override.
    pub head: Option<Arc<HeadGeometry>>,
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

/// A face's 468-point mesh in canonical coordinates (z as the model gives it, in analysis pixels) and the canonical
/// length of one analysis pixel, for the head geometry once the crop is known.
type CanonicalMesh = (Vec<([f64; 2], f32)>, f64);

fn canonical_mesh(face: &crate::face::AnalyzedFace, view: &AnalysisView, map: PixelMap) -> CanonicalMesh {
    let to_canonical = |p: [f32; 2]| view.to_canonical(p, map);
    let mesh = face.mesh.points468.iter().map(|p| (to_canonical([p[0], p[1]]), p[2])).collect();
    let (a, b) = (to_canonical([0.0, 0.0]), to_canonical([1.0, 0.0]));
    (mesh, (b[0] - a[0]).hypot(b[1] - a[1]))
}

/// The mesh of the face the detector finds on a still whose landmarks are overridden, when its 68 points lie
/// within 0.15 eye distances of the override's on average; `None` otherwise (no face, another face).
fn override_mesh(img: &Image, map: PixelMap, settings: &Settings, analyzer: &FaceAnalyzer, abort: &dyn Fn() -> bool, l: &Landmarks68<f64>) -> Option<CanonicalMesh> {
    let view = AnalysisView::of(img, map).ok()?;
    let analysis = analyzer.analyze_abortable(&view.image, Some(abort)).ok()?;
    let face = analysis.choose(settings.face_index).ok()?;
    let iod = crate::landmarks::inter_ocular(l);
    let mean = face.landmarks68.iter().zip(l.iter()).map(|(p, q)| {
        let c = view.to_canonical(*p, map);
        (c[0] - q[0]).hypot(c[1] - q[1])
    }).sum::<f64>() / 68.0;
    (iod > 0.0 && mean < 0.15 * iod).then(|| canonical_mesh(face, &view, map))
}

/// Sample the planar RGB crop of `size` from the host's image.
pub(super) fn crop_pixels(image: &ImageSampler<'_>, crop: &FaceCrop, map: PixelMap, size: usize) -> Vec<f32> {
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

/// The last single reference still a render prepared, so that an unchanged
/// still need not be hashed before the generator starts: the render goes on
/// with it while a second thread hashes the image, and starts again the
/// ordinary way if the content turns out to differ.
pub(super) struct SourceGuess {
    pub(super) prepared: Arc<PreparedSource>,
    /// Everything else the source cache key holds: the salt (render scale,
    /// pixel aspect), the landmark override and the working size.
    pub(super) salt: u64,
    pub(super) override_key: Option<[u64; 2]>,
    pub(super) size: usize,
    pub(super) face_index: u32,
    /// Two renders in a row found this content: only then is it guessed (a
    /// moving Source would otherwise pay for a wasted generator run a frame).
    pub(super) stable: bool,
}

impl SourceGuess {
    /// Whether it was prepared under the same salt and settings.
    pub(super) fn fits(&self, salt: u64, s: &Settings) -> bool {
        self.salt == salt && self.override_key == override_key(s) && self.size == s.resolution && self.face_index == s.face_index
    }
}

/// What besides the bytes makes an image's content key: the render scale and
/// the pixel aspect ratio.
pub(super) fn content_salt(scale: f64, map: PixelMap) -> u64 {
    scale.to_bits() ^ map.par.to_bits().rotate_left(17)
}

/// The landmark override's part of the source cache key.
pub(super) fn override_key(settings: &Settings) -> Option<[u64; 2]> {
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
pub(super) fn no_face_message(what: &str, view: &AnalysisView, bounds: RectI) -> String {
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

/// The Source frames used as reference stills, the base (background) first:
/// one still (the Source at the render time), or frames first..=last (at most
/// [`MAX_REFERENCES`]).
pub(super) fn reference_times(s: &Settings, time: f64) -> Vec<f64> {
    let (first, last) = (s.reference_first.min(s.reference_last), s.reference_first.max(s.reference_last));
    if first == last {
        vec![time]
    } else {
        (first..=last).take(MAX_REFERENCES).map(|f| f as f64).collect()
    }
}

/// The reference stills of one render, the base (background) first.
pub(super) struct References {
    /// Each distinct still, analysed.
    pub(super) prepared: Vec<Arc<PreparedSource>>,
    /// The Source frame each was taken at.
    pub(super) at: Vec<f64>,
    /// The base still's host image: the output's background.
    pub(super) base_image: Image,
    /// The Source clip (a resampling of another reference reads its image).
    pub(super) clip: Clip,
    /// (salt, content key) of a guessed base still, checked beside the generator.
    pub(super) check: Option<(u64, u128)>,
}

impl Renderer {
    /// The reference stills of a render: one (the Source at the render
    /// time), or frames first..=last of Source with the background from the
    /// first. With `speculate`, a single still two renders in a row found
    /// unchanged is taken from the guess, its content to be checked later.
    pub(super) fn references(&self, clip: Clip, frame: &Frame<'_>, s: &Settings, speculate: bool) -> Result<References> {
        let (scale, analyzer, abort) = (frame.scale, frame.analyzer, frame.abort);
        let ref_times = reference_times(s, frame.time);
        let mut refs: Vec<Arc<PreparedSource>> = Vec::with_capacity(ref_times.len());
        let mut refs_at: Vec<f64> = Vec::with_capacity(ref_times.len());
        let mut base_image: Option<Image> = None;
        let mut check: Option<(u64, u128)> = None;
        let single = ref_times.len() == 1;
        for (i, t) in ref_times.iter().enumerate() {
            let img = clip.image(*t, None)?.ok_or_else(|| fail(format!("the Source clip has no image at frame {t}")))?;
            let what = if single { "Source image".to_string() } else { format!("Source reference frame {t}") };
            let guess = if speculate && single && s.output == OutputMode::Full { self.guessed_source(&img, scale, s) } else { None };
            let prepared = match guess {
                Some((p, salt)) => {
                    check = Some((salt, p.key));
                    p
                }
                None => {
                    let p = self.prepare(&img, scale, s, analyzer, abort, &what)?;
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
        Ok(References { prepared: refs, at: refs_at, base_image, clip, check })
    }

    /// Analyse (or take from the cache) one reference image.
    pub(super) fn prepare(&self, img: &Image, scale: f64, settings: &Settings, analyzer: &FaceAnalyzer, abort: &dyn Fn() -> bool, what: &str) -> Result<Arc<PreparedSource>> {
        let size = settings.resolution;
        let map = PixelMap::of_image(img, scale);
        let key = image_key(img, content_salt(scale, map));
        let cache_key = (key, override_key(settings), size, settings.face_index);
        if let Some(p) = self.sources.lock().get(&cache_key).cloned() {
            return Ok(p);
        }
        let (landmarks, faces, mesh, irises) = match settings.source_override {
            // The overridden still's own mesh, when the detector finds a face there that agrees with the
            // override (a point or two corrected, not another face): the head path needs its depth.
            Some(l) => (l, None, override_mesh(img, map, settings, analyzer, abort, &l), None),
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
                let irises = face.mesh.irises.map(|p| view.to_canonical(p, map));
                let seen = FacesSeen { count: analysis.faces.len(), chosen, ambiguous };
                (l, Some(seen), Some(canonical_mesh(face, &view, map)), Some(irises))
            }
        };
        let crop = FaceCrop::from_landmarks(&landmarks);
        // Canonical units per analysis pixel, times normalised units per canonical unit.
        let head = mesh.and_then(|(mesh, unit)| {
            let flat: Vec<[f32; 3]> = mesh.iter().map(|(c, z)| [c[0] as f32, c[1] as f32, *z]).collect();
            HeadGeometry::from_mesh(&flat, |c| crop.to_normalised([c[0] as f64, c[1] as f64]), unit * 2.0 / crop.side)
        });
        let b = img.bounds();
        let prepared = Arc::new(PreparedSource {
            state: FaceState::of(&landmarks),
            pixels: Arc::new(crop_pixels(&ImageSampler::new(img), &crop, map, size)),
            crop,
            landmarks,
            irises,
            key,
            image_size: [b.width() as u32, b.height() as u32],
            par: map.par,
            faces,
            head: head.map(Arc::new),
        });
        self.sources.lock().put(cache_key, prepared.clone());
        Ok(prepared)
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
    pub(super) fn base_source(&self, effect: &EffectHandle, time: f64, scale: f64, s: &Settings) -> Result<(Arc<PreparedSource>, f64)> {
        let clip = effect.clip(clips::SOURCE)?;
        let t = reference_times(s, time)[0];
        let img = clip.image(t, None)?.ok_or_else(|| fail(format!("the Source clip has no image at frame {t}")))?;
        let base = self.prepare(&img, scale, s, &self.analyzer(s.device), &|| false, "Source image")?;
        let rod_h = clip.region_of_definition(t).map(|r| r.y2 - r.y1).unwrap_or(base.image_size[1] as f64 / scale);
        Ok((base, rod_h))
    }

    /// The guessed source for a render's only reference image, when the last
    /// two renders found the same content under the same settings.
    pub(super) fn guessed_source(&self, img: &Image, scale: f64, s: &Settings) -> Option<(Arc<PreparedSource>, u64)> {
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
    pub(super) fn note_source(&self, prepared: &Arc<PreparedSource>, scale: f64, img: &Image, s: &Settings) {
        let salt = content_salt(scale, PixelMap::of_image(img, scale));
        let mut guess = self.guess.lock();
        let stable = guess.as_ref().is_some_and(|g| g.prepared.key == prepared.key && g.fits(salt, s));
        *guess = Some(SourceGuess { prepared: prepared.clone(), salt, override_key: override_key(s), size: s.resolution, face_index: s.face_index, stable });
    }

    /// Warn (persistently, once per portrait content) when the largest face
    /// was asked for and another is about as large; clear that warning when
    /// the choice is no longer ambiguous.
    pub(super) fn warn_faces_once(&self, effect: &EffectHandle, base: &PreparedSource) {
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
}
