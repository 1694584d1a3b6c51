//! Generator model packs. A pack is a folder holding `manifest.json` and the ONNX files it names; its `kind` says
//! which generator the plugin builds from it: `warp` (one model that deforms the chosen reference, the built-in
//! default in `<models>/warp`) or `fewshot` (the seed's embedder and generator, driven by a landmark `sketch`).
//! Loading checks the manifest (`manifest`: format, version, roles, paths kept inside the folder, sizes), then each
//! model's SHA-256 against the manifest while its session pool is built, then the model's own tensor names and
//! shapes against the manifest, binding free dimensions consistently across the pack. Every failure is a
//! `PackError` whose `Display` is one sentence naming the pack folder and the file, field or tensor at fault.
//! Loaded packs are shared process-wide per (canonical folder, device), like the session pools below them; a
//! pack changed on disk is seen again only by a new process (or a copy in another folder), which keeps every
//! render of a session on the same models.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use once_cell::sync::{Lazy, OnceCell};
use parking_lot::Mutex;

use crate::inference::{models_dir, DescribedModel, DescribedTensor, Device, InferenceError, SessionPool};
use generator::Generator;

mod fewshot;
pub mod generator;
pub mod liveportrait;
pub mod manifest;
pub mod resample;
pub mod sketch;
mod warp;

pub use fewshot::{FewShotGenerator, EMBEDDING_CACHE_ENTRIES};
pub use manifest::{
    Bindings, Dim, Manifest, ModelEntry, PackKind, TensorDecl, MANIFEST_FILE, MAX_MANIFEST_BYTES, MAX_PACK_MODEL_BYTES,
    PACK_FORMAT, PACK_VERSION,
};
pub use liveportrait::LivePortraitGenerator;
pub use warp::WarpPackGenerator;

/// Environment variable: set to 1 to let the plugin load packs marked `test_only` (random-weight test models).
pub const ALLOW_TEST_PACKS_ENV: &str = "LIVING_PORTRAIT_ALLOW_TEST_PACKS";

/// Why a pack cannot be used. `Display` gives one sentence naming the pack folder and what is at fault.
#[derive(Debug, Clone)]
pub enum PackError {
    /// The folder, its manifest or a file it names cannot be read (or does not exist).
    Unreadable { dir: PathBuf, file: String, reason: String },
    /// A manifest field is missing, of the wrong type, or has a value this reader does not accept.
    Manifest { dir: PathBuf, field: String, reason: String },
    /// A path in the manifest is not a plain relative path inside the pack folder.
    UnsafePath { dir: PathBuf, field: String, file: String, reason: String },
    /// A file is larger than a pack file may be.
    TooLarge { dir: PathBuf, file: String, size: u64, limit: u64 },
    /// A model's bytes do not have the SHA-256 the manifest gives.
    Checksum { dir: PathBuf, file: String, role: String, expected: String, actual: String },
    /// A model's tensor is absent or not of the shape the manifest declares.
    Tensor { dir: PathBuf, file: String, tensor: String, expected: String, actual: String },
    /// A free dimension takes two different values in the pack.
    Symbol {
        dir: PathBuf,
        file: String,
        tensor: String,
        symbol: &'static str,
        value: usize,
        /// Where the symbol took its first value, and that value.
        first: String,
    },
    /// The pack declares something the generator cannot work with (a fixed number of references above one).
    Unsupported { dir: PathBuf, file: String, reason: String },
    /// The pack holds random-weight test models and the caller does not accept those.
    TestOnly { dir: PathBuf, name: String },
    /// ONNX Runtime is missing, or refused a model.
    Inference { dir: PathBuf, file: String, error: Box<InferenceError> },
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = |dir: &Path| format!("The model pack {} cannot be used", dir.display());
        match self {
            PackError::Unreadable { dir, file, reason } if file.is_empty() => write!(f, "{}: {reason}.", head(dir)),
            PackError::Unreadable { dir, file, reason } => write!(f, "{}: {file} {reason}.", head(dir)),
            PackError::Manifest { dir, field, reason } if field.is_empty() => {
                write!(f, "{}: {MANIFEST_FILE} {reason}.", head(dir))
            }
            PackError::Manifest { dir, field, reason } => {
                write!(f, "{}: field '{field}' of {MANIFEST_FILE} {reason}.", head(dir))
            }
            PackError::UnsafePath { dir, field, file, reason } if field.is_empty() => {
                write!(f, "{}: {file} {reason}; a pack may hold only files inside its folder.", head(dir))
            }
            PackError::UnsafePath { dir, field, file, reason } => write!(
                f,
                "{}: field '{field}' of {MANIFEST_FILE} names \"{file}\", which {reason}; a pack may name only plain \
                 relative paths inside its folder.",
                head(dir)
            ),
            PackError::TooLarge { dir, file, size, limit } => {
                write!(f, "{}: {file} is {size} bytes, more than the {limit} bytes allowed.", head(dir))
            }
            PackError::Checksum { dir, file, role, expected, actual } => write!(
                f,
                "{}: {file} is damaged or was replaced (its SHA-256 is {actual}, but field '{role}.sha256' of \
                 {MANIFEST_FILE} gives {expected}).",
                head(dir)
            ),
            PackError::Tensor { dir, file, tensor, expected, actual } => {
                write!(f, "{}: in {file}, tensor '{tensor}' should be {expected} but is {actual}.", head(dir))
            }
            PackError::Symbol { dir, file, tensor, symbol, value, first } => write!(
                f,
                "{}: in {file}, tensor '{tensor}' makes dimension \"{symbol}\" {value}, but {first} (every \"{symbol}\" \
                 of a pack must be the same).",
                head(dir)
            ),
            PackError::Unsupported { dir, file, reason } => write!(f, "{}: {file} {reason}.", head(dir)),
            PackError::TestOnly { dir, name } => write!(
                f,
                "The model pack {} (\"{name}\") holds test models with random weights that make no faces, so the \
                 plugin refuses it (set {ALLOW_TEST_PACKS_ENV}=1 to load it anyway).",
                dir.display()
            ),
            PackError::Inference { dir, file, error } => write!(f, "{} ({file}): {error}", head(dir)),
        }
    }
}

impl std::error::Error for PackError {}

/// A loaded pack: its manifest, the values its free dimensions took, and the generator built from it.
pub struct Pack {
    pub manifest: Manifest,
    pub bindings: Bindings,
    generator: PackGenerator,
}

enum PackGenerator {
    Warp(Arc<WarpPackGenerator>),
    FewShot(Arc<FewShotGenerator>),
    LivePortrait(Arc<LivePortraitGenerator>),
}

impl Pack {
    /// The generator, as the render uses it.
    pub fn generator(&self) -> Arc<dyn Generator> {
        match &self.generator {
            PackGenerator::Warp(g) => g.clone(),
            PackGenerator::FewShot(g) => g.clone(),
            PackGenerator::LivePortrait(g) => g.clone(),
        }
    }

    /// The LivePortrait generator, for a `liveportrait` pack (its caches' counters).
    pub fn liveportrait(&self) -> Option<&Arc<LivePortraitGenerator>> {
        match &self.generator {
            PackGenerator::LivePortrait(g) => Some(g),
            _ => None,
        }
    }

    /// The few-shot generator, for a `fewshot` pack (its embedding cache and counters).
    pub fn fewshot(&self) -> Option<&Arc<FewShotGenerator>> {
        match &self.generator {
            PackGenerator::FewShot(g) => Some(g),
            _ => None,
        }
    }

    /// The warp generator, for a `warp` pack.
    pub fn warp(&self) -> Option<&Arc<WarpPackGenerator>> {
        match &self.generator {
            PackGenerator::Warp(g) => Some(g),
            _ => None,
        }
    }
}

impl fmt::Debug for Pack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pack").field("manifest", &self.manifest).field("bindings", &self.bindings).finish()
    }
}

/// Loaded packs by (canonical folder, device). As with the session pools, concurrent first users of a pack wait
/// for one load, and a failed load leaves the cell empty so the next call tries again (after the user fixed the
/// pack, say).
type PackCell = Arc<OnceCell<Arc<Pack>>>;
static PACKS: Lazy<Mutex<HashMap<(PathBuf, Device), PackCell>>> = Lazy::new(Default::default);

/// The folder of the built-in warp pack.
pub fn builtin_warp_dir() -> PathBuf {
    models_dir().join("warp")
}

/// The generator of the pack in `pack_dir` on `device`, loaded and checked on first use and shared afterwards.
pub fn load(pack_dir: &Path, device: Device) -> Result<Arc<dyn Generator>, PackError> {
    load_pack(pack_dir, device).map(|p| p.generator())
}

/// The pack in `pack_dir` on `device` (manifest, bindings and generator), loaded on first use.
pub fn load_pack(pack_dir: &Path, device: Device) -> Result<Arc<Pack>, PackError> {
    let Ok(canonical) = std::fs::canonicalize(pack_dir) else {
        // Let the manifest reader word the error.
        return Manifest::read(pack_dir).and_then(|_| Err(missing(pack_dir)));
    };
    let cell = PACKS.lock().entry((canonical, device)).or_default().clone();
    cell.get_or_try_init(|| build(pack_dir, device).map(Arc::new)).cloned()
}

/// The folder `modelPack` names: a path to a pack folder, or the name of a pack installed beside the built-in
/// one (`installer install --pack DIR` puts it in `<models>/<name>`): a bare name that is not a folder here.
pub fn resolve_pack(value: &Path) -> PathBuf {
    let bare = value.components().count() == 1 && matches!(value.components().next(), Some(std::path::Component::Normal(_)));
    if bare && !value.is_dir() {
        let installed = models_dir().join(value);
        if installed.is_dir() {
            return installed;
        }
    }
    value.to_path_buf()
}

fn missing(dir: &Path) -> PackError {
    PackError::Unreadable { dir: dir.to_path_buf(), file: String::new(), reason: "the folder does not exist".into() }
}

/// What the plugin calls: the pack in `pack_dir`, or the built-in warp pack for `None`. Packs marked `test_only`
/// are refused unless `LIVING_PORTRAIT_ALLOW_TEST_PACKS=1`: their random weights make colourful noise, and a user
/// who picked one by mistake should be told rather than shown it.
pub fn load_generator(pack_dir: Option<&Path>, device: Device) -> Result<Arc<dyn Generator>, PackError> {
    let dir = pack_dir.map(resolve_pack).unwrap_or_else(builtin_warp_dir);
    let pack = load_pack(&dir, device)?;
    let allowed = std::env::var(ALLOW_TEST_PACKS_ENV).is_ok_and(|v| v.trim() == "1");
    if pack.manifest.test_only && !allowed {
        return Err(PackError::TestOnly { dir, name: pack.manifest.name.clone() });
    }
    Ok(pack.generator())
}

fn build(pack_dir: &Path, device: Device) -> Result<Pack, PackError> {
    let manifest = Manifest::read(pack_dir)?;
    let mut pools = Vec::with_capacity(manifest.models.len());
    for entry in &manifest.models {
        pools.push(open_model(&manifest, entry, device)?);
    }
    let declared: Vec<(&str, &[_], &[_])> =
        manifest.models.iter().zip(&pools).map(|(m, p)| (m.role, p.model_inputs(), p.model_outputs())).collect();
    let bindings = manifest::bind(&manifest, &declared)?;
    let pool = |role: &str| {
        let i = manifest.models.iter().position(|m| m.role == role).expect("the manifest reader checked the roles");
        pools[i].clone()
    };
    let generator = match manifest.kind {
        PackKind::Warp => PackGenerator::Warp(Arc::new(WarpPackGenerator::new(&manifest, bindings, pool("generator")))),
        PackKind::FewShot => PackGenerator::FewShot(Arc::new(FewShotGenerator::new(
            &manifest,
            bindings,
            pool("embedder"),
            pool("generator"),
        )?)),
        PackKind::LivePortrait => PackGenerator::LivePortrait(Arc::new(LivePortraitGenerator::new(
            &manifest,
            liveportrait::LivePortraitModels {
                appearance: pool("appearance"),
                motion: pool("motion"),
                warping: pool("warping"),
                generator: pool("generator"),
                stitching: pool("stitching"),
                retarget_eye: pool("retarget_eye"),
                retarget_lip: pool("retarget_lip"),
            },
        )?)),
    };
    Ok(Pack { manifest, bindings, generator })
}

/// The session pool of one model: digest, tensors and the model's loadability checked, errors reworded for the pack.
fn open_model(manifest: &Manifest, entry: &ModelEntry, device: Device) -> Result<Arc<SessionPool>, PackError> {
    let described = |decls: &[TensorDecl]| -> Vec<DescribedTensor> {
        decls
            .iter()
            .map(|t| DescribedTensor {
                name: t.name.clone(),
                shape: t
                    .dims
                    .iter()
                    .map(|d| match d {
                        Dim::Fixed(n) => *n as i64,
                        Dim::Symbol(_) => -1,
                    })
                    .collect(),
            })
            .collect()
    };
    let model = DescribedModel {
        path: entry.path.clone(),
        sha256: entry.sha256.clone(),
        inputs: described(&entry.inputs),
        outputs: described(&entry.outputs),
    };
    let pool = SessionPool::get_described(&model, device).map_err(|error| {
        let dir = manifest.dir.clone();
        let file = entry.file.clone();
        match error {
            InferenceError::DigestMismatch { expected, actual, .. } => {
                PackError::Checksum { dir, file, role: entry.role.to_string(), expected, actual }
            }
            InferenceError::ModelTooLarge { size, .. } => {
                PackError::TooLarge { dir, file, size, limit: MAX_PACK_MODEL_BYTES }
            }
            InferenceError::TensorMismatch { tensor, found, .. } => {
                let decl = entry.inputs.iter().chain(&entry.outputs).find(|t| t.name == tensor);
                let expected = match decl {
                    Some(t) => format!("float32 {} (from {MANIFEST_FILE})", manifest::shape_text(&t.dims)),
                    None => "present".to_string(),
                };
                PackError::Tensor { dir, file, tensor, expected, actual: found }
            }
            error => PackError::Inference { dir, file, error: Box::new(error) },
        }
    })?;
    // The model's inputs must all be fed: an input the manifest does not declare would fail every run.
    if let Some(extra) = pool.model_inputs().iter().find(|t| !entry.inputs.iter().any(|d| d.name == t.name)) {
        let declared: Vec<&str> = entry.inputs.iter().map(|t| t.name.as_str()).collect();
        return Err(PackError::Tensor {
            dir: manifest.dir.clone(),
            file: entry.file.clone(),
            tensor: extra.name.clone(),
            expected: format!("absent (the {} role's inputs are {})", entry.role, manifest::names_text(declared)),
            actual: format!("an input of the model, of shape {}", manifest::list_text(&extra.shape)),
        });
    }
    Ok(pool)
}

/// The crop side a pack's model runs at for the working `size`: the side its models are fixed to, else the working
/// size when the pack lists it among its `resolutions` (or lists none), else the nearest listed side above it (the
/// largest when none is above).
fn model_side(fixed: Option<usize>, resolutions: Option<&[usize]>, size: usize) -> usize {
    if let Some(side) = fixed {
        return side;
    }
    match resolutions {
        None => size,
        Some(sides) if sides.contains(&size) => size,
        Some(sides) => {
            sides.iter().copied().find(|&s| s > size).or_else(|| sides.iter().copied().max()).unwrap_or(size)
        }
    }
}

#[cfg(test)]
mod resolve_tests {
    use super::*;

    #[test]
    fn a_bare_name_selects_an_installed_pack() {
        // "warp" is no folder of the working directory, but the built-in pack's name beside the models.
        assert!(!Path::new("warp").is_dir());
        assert_eq!(resolve_pack(Path::new("warp")), builtin_warp_dir());
        // A name with no installed pack, and any path, stay as they are (the loader words the error).
        assert_eq!(resolve_pack(Path::new("no_such_pack")), PathBuf::from("no_such_pack"));
        assert_eq!(resolve_pack(Path::new("/somewhere/warp")), PathBuf::from("/somewhere/warp"));
        assert_eq!(resolve_pack(Path::new("sub/warp")), PathBuf::from("sub/warp"));
    }
}
