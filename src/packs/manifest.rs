//! The pack manifest: `manifest.json` in the pack folder, read and checked before any model byte is touched.
//! Reading checks everything the manifest alone can tell: the format name and version, the kind, that each role
//! of the kind is there, that every file it names is a plain relative path that stays inside the pack folder once
//! symbolic links are resolved, that files are within the size bounds (and of the size the manifest states), and
//! that every tensor shape fits the role's contract (the tensor names our code feeds and reads, fixed dimensions
//! such as 3 colour channels or 68 points, and the free ones: `S` the crop side, `K` the number of references,
//! `E` the embedding length). What needs the models themselves (their SHA-256, their declared shapes, the values
//! that free dimensions take) is checked by `bind` once the sessions exist. The format is documented in
//! `resources/models/README.md`, "Model packs"; unknown top-level fields are ignored so that a pack may carry
//! notes and later minor additions without breaking version 1 readers.

use std::path::{Component, Path, PathBuf};

use crate::json::Json;
use crate::files::{read_bounded, regular_file_metadata, FileError};
use crate::inference::{ModelTensor, MAX_MODEL_BYTES};

use super::PackError;

/// The manifest's file name inside a pack folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The value of the manifest's `format` field.
pub const PACK_FORMAT: &str = "living-portrait-pack";
/// The newest manifest version this code reads (it reads every version from 1 up to this one). Version 2 adds
/// optional inputs ([`RoleContract::optional_inputs`]) and the `liveportrait` kind, which must be 2; a version 1
/// manifest reads exactly as before.
pub const PACK_VERSION: u32 = 2;
/// The first manifest version in which a role may declare optional inputs.
pub const OPTIONAL_INPUTS_VERSION: u32 = 2;
/// The largest manifest accepted: a manifest is a page of text, so anything larger is not one.
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
/// The largest model file accepted (the inference engine's bound).
pub const MAX_PACK_MODEL_BYTES: u64 = MAX_MODEL_BYTES;
/// The only landmark convention the plugin feeds (`landmarks` field).
pub const LANDMARK_SET: &str = "ibug68";
/// The only sketch style `sketch::draw` draws (`sketch` field of few-shot packs).
pub const SKETCH_STYLE: &str = "polylines-thickness-2-on-black-one-colour-per-part";
/// The only landmark coordinate convention the plugin feeds (`coordinates` field): normalised crop coordinates,
/// GridSample's `align_corners = 0`.
pub const COORDINATES: &str = "normalised-crop-align-corners-false";
/// Largest crop side a pack may declare (`resolutions`, `dims.S`, a shape) or bind `S` to: the largest working
/// resolution the node offers (256, 512, 1024). A larger side costs seconds and gigabytes per frame for no
/// sharper result, since the node never asks for it.
pub const MAX_SIDE: usize = 1024;

/// What a pack's models do, which fixes its roles and their tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PackKind {
    /// One model: (source crop, source landmarks, target landmarks) → (crop, changed mask), or → (resampling
    /// grid, overlay, changed mask), which the plugin evaluates on the full-resolution reference image.
    Warp,
    /// The seed's architecture: an embedder of K references and a generator driven by a landmark sketch.
    FewShot,
    /// LivePortrait's seven networks (Guo et al. 2024, KwaiVGI/LivePortrait): appearance features, implicit
    /// keypoints and pose, a 3-D warp, a SPADE generator, stitching and eye/lip retargeting (`packs/liveportrait.rs`).
    LivePortrait,
}

impl PackKind {
    /// The `kind` field's value.
    pub fn label(self) -> &'static str {
        match self {
            PackKind::Warp => "warp",
            PackKind::FewShot => "fewshot",
            PackKind::LivePortrait => "liveportrait",
        }
    }

    /// The roles this kind needs, in the order they are loaded.
    pub fn roles(self) -> &'static [RoleContract] {
        match self {
            PackKind::Warp => &WARP_ROLES,
            PackKind::FewShot => &FEWSHOT_ROLES,
            PackKind::LivePortrait => &LIVEPORTRAIT_ROLES,
        }
    }
}

/// One dimension in a role's contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractDim {
    /// Must be exactly this.
    Fixed(usize),
    /// A free dimension shared across the pack under this symbol: `S`, `K` or `E`.
    Free(&'static str),
}

/// A tensor a role must have: its name and the dimensions the code relies on.
#[derive(Clone, Copy, Debug)]
pub struct TensorContract {
    pub name: &'static str,
    pub dims: &'static [ContractDim],
}

/// A role of a pack kind: the manifest key and the tensors of its model.
#[derive(Clone, Copy, Debug)]
pub struct RoleContract {
    pub role: &'static str,
    pub inputs: &'static [TensorContract],
    /// Inputs a model may take or not (manifest version 2 on): the manifest declares the ones its model has, and
    /// the plugin feeds exactly those. They come in pairs, `source_X` with `target_X`: a manifest declares both
    /// or neither. A model without them is fed as before, so an old pack keeps its results.
    pub optional_inputs: &'static [TensorContract],
    pub outputs: &'static [TensorContract],
    /// Another accepted set of outputs (empty: none).
    pub alt_outputs: &'static [TensorContract],
}

impl RoleContract {
    /// The output set that `names` (a manifest's or a model's output names) select: the first accepted set that
    /// holds every one of them.
    pub fn outputs_for<'a>(&self, names: impl IntoIterator<Item = &'a str> + Clone) -> &'static [TensorContract] {
        [self.outputs, self.alt_outputs]
            .into_iter()
            .filter(|set| !set.is_empty())
            .find(|set| names.clone().into_iter().all(|n| set.iter().any(|t| t.name == n)))
            .unwrap_or(self.outputs)
    }

    /// The accepted output sets, for messages: `[output, changed] or [grid, overlay, changed]`.
    fn outputs_text(&self) -> String {
        let text = |set: &[TensorContract]| names_text(set.iter().map(|t| t.name));
        if self.alt_outputs.is_empty() {
            text(self.outputs)
        } else {
            format!("{} or {}", text(self.outputs), text(self.alt_outputs))
        }
    }
}

use ContractDim::{Fixed, Free};

/// The crop side.
pub const SYMBOL_SIZE: &str = "S";
/// The number of reference stills.
pub const SYMBOL_REFERENCES: &str = "K";
/// The embedding length.
pub const SYMBOL_EMBEDDING: &str = "E";
/// The number of extra control points (`source_points`, `target_points`); it changes from frame to frame.
pub const SYMBOL_CONTROL_POINTS: &str = "P";

const CROP: &[ContractDim] = &[Fixed(1), Fixed(3), Free(SYMBOL_SIZE), Free(SYMBOL_SIZE)];
const MASK: &[ContractDim] = &[Fixed(1), Fixed(1), Free(SYMBOL_SIZE), Free(SYMBOL_SIZE)];
const POINTS: &[ContractDim] = &[Fixed(1), Fixed(68), Fixed(2)];
const EMBEDDING: &[ContractDim] = &[Fixed(1), Free(SYMBOL_EMBEDDING)];

/// Extra control points (`P` of them), normalised crop coordinates like the landmarks.
const CONTROL_POINTS: &[ContractDim] = &[Fixed(1), Free(SYMBOL_CONTROL_POINTS), Fixed(2)];
/// Two iris centres (x, y).
const IRISES: &[ContractDim] = &[Fixed(1), Fixed(2), Fixed(2)];

const WARP_ROLES: [RoleContract; 1] = [RoleContract {
    role: "generator",
    inputs: &[
        TensorContract { name: "source", dims: CROP },
        TensorContract { name: "source_landmarks", dims: POINTS },
        TensorContract { name: "target_landmarks", dims: POINTS },
    ],
    // Control points beyond the 68 (the turned 3-D face mesh, the head shell, the still body and
    // background); with P = 0 a model must give what it gives without them.
    optional_inputs: &[
        TensorContract { name: "source_points", dims: CONTROL_POINTS },
        TensorContract { name: "target_points", dims: CONTROL_POINTS },
        // The iris centres (the subject's right eye first), normalised crop coordinates; zeros when the
        // frame has no gaze (a model must then give its eyes as without them).
        TensorContract { name: "source_iris", dims: IRISES },
        TensorContract { name: "target_iris", dims: IRISES },
    ],
    outputs: &[TensorContract { name: "output", dims: CROP }, TensorContract { name: "changed", dims: MASK }],
    alt_outputs: &[
        TensorContract { name: "grid", dims: &[Fixed(1), Fixed(4), Free(SYMBOL_SIZE), Free(SYMBOL_SIZE)] },
        TensorContract { name: "overlay", dims: &[Fixed(1), Fixed(5), Free(SYMBOL_SIZE), Free(SYMBOL_SIZE)] },
        TensorContract { name: "changed", dims: MASK },
    ],
}];

const FEWSHOT_ROLES: [RoleContract; 2] = [
    RoleContract {
        role: "embedder",
        inputs: &[TensorContract {
            name: "reference",
            dims: &[Free(SYMBOL_REFERENCES), Fixed(6), Free(SYMBOL_SIZE), Free(SYMBOL_SIZE)],
        }],
        optional_inputs: &[],
        outputs: &[TensorContract { name: "embedding", dims: EMBEDDING }],
        alt_outputs: &[],
    },
    RoleContract {
        role: "generator",
        inputs: &[TensorContract { name: "sketch", dims: CROP }, TensorContract { name: "embedding", dims: EMBEDDING }],
        optional_inputs: &[],
        outputs: &[TensorContract { name: "output", dims: CROP }],
        alt_outputs: &[],
    },
];

// LivePortrait's tensors, every dimension fixed (the published models run at 256 in, 512 out, 21 keypoints).
const LP_IMAGE: &[ContractDim] = &[Fixed(1), Fixed(3), Fixed(256), Fixed(256)];
const LP_FEATURE: &[ContractDim] = &[Fixed(1), Fixed(32), Fixed(16), Fixed(64), Fixed(64)];
const LP_WARPED: &[ContractDim] = &[Fixed(1), Fixed(256), Fixed(64), Fixed(64)];
const LP_KP: &[ContractDim] = &[Fixed(1), Fixed(21), Fixed(3)];
const LP_FLAT_KP: &[ContractDim] = &[Fixed(1), Fixed(63)];
const LP_BINS: &[ContractDim] = &[Fixed(1), Fixed(66)];
const fn lp_role(role: &'static str, inputs: &'static [TensorContract], outputs: &'static [TensorContract]) -> RoleContract {
    RoleContract { role, inputs, outputs, alt_outputs: &[], optional_inputs: &[] }
}
const LIVEPORTRAIT_ROLES: [RoleContract; 7] = [
    lp_role("appearance", &[TensorContract { name: "image", dims: LP_IMAGE }], &[TensorContract { name: "feature_3d", dims: LP_FEATURE }]),
    lp_role(
        "motion",
        &[TensorContract { name: "image", dims: LP_IMAGE }],
        &[
            TensorContract { name: "pitch", dims: LP_BINS },
            TensorContract { name: "yaw", dims: LP_BINS },
            TensorContract { name: "roll", dims: LP_BINS },
            TensorContract { name: "t", dims: &[Fixed(1), Fixed(3)] },
            TensorContract { name: "exp", dims: LP_FLAT_KP },
            TensorContract { name: "scale", dims: &[Fixed(1), Fixed(1)] },
            TensorContract { name: "kp", dims: LP_FLAT_KP },
        ],
    ),
    lp_role(
        "warping",
        &[
            TensorContract { name: "feature_3d", dims: LP_FEATURE },
            TensorContract { name: "kp_driving", dims: LP_KP },
            TensorContract { name: "kp_source", dims: LP_KP },
        ],
        &[TensorContract { name: "warped_feature", dims: LP_WARPED }],
    ),
    lp_role(
        "generator",
        &[TensorContract { name: "warped_feature", dims: LP_WARPED }],
        &[TensorContract { name: "image", dims: &[Fixed(1), Fixed(3), Fixed(512), Fixed(512)] }],
    ),
    lp_role("stitching", &[TensorContract { name: "kp", dims: &[Fixed(1), Fixed(126)] }], &[TensorContract { name: "delta", dims: &[Fixed(1), Fixed(65)] }]),
    lp_role("retarget_eye", &[TensorContract { name: "input", dims: &[Fixed(1), Fixed(66)] }], &[TensorContract { name: "delta", dims: LP_FLAT_KP }]),
    lp_role("retarget_lip", &[TensorContract { name: "input", dims: &[Fixed(1), Fixed(65)] }], &[TensorContract { name: "delta", dims: LP_FLAT_KP }]),
];

/// LivePortrait's crop convention (`conventions.crop`): the square around the landmarks' rotated bounding
/// box, `scale` times its larger side, shifted by `vx_ratio`/`vy_ratio` of that side (LivePortrait's
/// `src/utils/crop.py`, `parse_rect_from_landmark`; its defaults 2.3, 0, −0.125 in `src/config/crop_config.py`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivePortraitCrop {
    pub scale: f64,
    pub vx_ratio: f64,
    pub vy_ratio: f64,
}

/// The `conventions` of a `liveportrait` pack: what the pipeline around the networks must do for them.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
pub struct LivePortraitConventions {
    /// Side of the appearance and motion extractors' input crop.
    #[serde(deserialize_with = "whole_number")]
    pub input_size: usize,
    /// Side of the generator's output.
    #[serde(deserialize_with = "whole_number")]
    pub output_size: usize,
    /// Implicit keypoints.
    #[serde(deserialize_with = "whole_number")]
    pub num_kp: usize,
    /// Always "RGB".
    pub channel_order: ChannelOrder,
    /// Always [0, 1].
    pub value_range: [f64; 2],
    pub crop: LivePortraitCrop,
    /// Bins of the pose logits; a pose is `Σ softmax(logits)_i · i · bin_degrees + bin_offset_degrees`.
    #[serde(deserialize_with = "whole_number")]
    pub pose_bins: usize,
    pub bin_degrees: f64,
    pub bin_offset_degrees: f64,
}

/// A whole number written as JSON writes numbers (the manifest's reader keeps every number as a float).
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let v = <f64 as serde::Deserialize>::deserialize(d)?;
    if v.fract() == 0.0 && (0.0..=(1u64 << 31) as f64).contains(&v) {
        Ok(v as usize)
    } else {
        Err(serde::de::Error::custom(format!("{v} is not a whole number")))
    }
}

/// The channel order of the crops (only RGB is defined).
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
pub enum ChannelOrder {
    #[serde(rename = "RGB")]
    Rgb,
}

impl LivePortraitConventions {
    /// The conventions must agree with the fixed tensor contract; a (field, reason) when they do not.
    fn check(&self) -> Result<(), (&'static str, String)> {
        let fixed = [("input_size", self.input_size, 256), ("output_size", self.output_size, 512), ("num_kp", self.num_kp, 21), ("pose_bins", self.pose_bins, 66)];
        for (field, value, want) in fixed {
            if value != want {
                return Err((field, format!("is {value}, but the liveportrait tensors fix it to {want}")));
            }
        }
        if self.value_range != [0.0, 1.0] {
            return Err(("value_range", "must be [0, 1], the range of every image the plugin feeds and reads".into()));
        }
        let finite = [self.crop.scale, self.crop.vx_ratio, self.crop.vy_ratio, self.bin_degrees, self.bin_offset_degrees];
        if finite.iter().any(|v| !v.is_finite()) || !(0.5..=10.0).contains(&self.crop.scale) {
            return Err(("crop", "needs finite numbers and a scale from 0.5 to 10".into()));
        }
        if self.bin_degrees <= 0.0 {
            return Err(("bin_degrees", "must be a positive number of degrees".into()));
        }
        Ok(())
    }
}

/// A dimension as the manifest writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    Fixed(usize),
    Symbol(String),
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbol(s) => write!(f, "\"{s}\""),
        }
    }
}

/// Formats a manifest shape the way the manifest writes it: `[1, 3, "S", "S"]`.
pub fn shape_text(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// A tensor as the manifest declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorDecl {
    pub name: String,
    pub dims: Vec<Dim>,
}

/// One model of the pack, as the manifest declares it, with its file resolved and size known.
#[derive(Clone, Debug)]
pub struct ModelEntry {
    /// The role (`generator`, `embedder`).
    pub role: &'static str,
    /// The file name as written in the manifest.
    pub file: String,
    /// The file's canonical path, inside the pack folder.
    pub path: PathBuf,
    /// The SHA-256 the file must have, lower-case hex.
    pub sha256: String,
    /// The file's size in bytes.
    pub bytes: u64,
    pub inputs: Vec<TensorDecl>,
    pub outputs: Vec<TensorDecl>,
}

/// Bounds on a free dimension (`dims` field): a range, and optionally the only values allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DimBounds {
    pub min: usize,
    pub max: usize,
    /// The allowed values, sorted, when the manifest lists them.
    pub values: Option<Vec<usize>>,
}

impl DimBounds {
    /// Whether `value` is allowed.
    pub fn allows(&self, value: usize) -> bool {
        value >= self.min && value <= self.max && self.values.as_ref().is_none_or(|v| v.contains(&value))
    }
}

impl std::fmt::Display for DimBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.values, self.max) {
            (Some(values), _) => write!(f, "one of {}", list_text(values)),
            (None, usize::MAX) => write!(f, "values of at least {}", self.min),
            (None, max) => write!(f, "values from {} to {max}", self.min),
        }
    }
}

/// A manifest that passed every check that needs no model.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The pack folder as the caller named it (for messages).
    pub dir: PathBuf,
    /// The pack folder, canonical.
    pub canonical_dir: PathBuf,
    /// The manifest's `version` (1 up to [`PACK_VERSION`]).
    pub version: u32,
    pub kind: PackKind,
    pub name: String,
    pub license: String,
    /// True for packs of random-weight test models (`test_only`): they make no faces.
    pub test_only: bool,
    /// One entry per role, in the kind's role order.
    pub models: Vec<ModelEntry>,
    /// Bounds on free dimensions (`dims`), by symbol.
    pub dims: Vec<(String, DimBounds)>,
    /// The crop sides the models accept (`resolutions`); `None` = any.
    pub resolutions: Option<Vec<usize>>,
    /// The pipeline conventions of a `liveportrait` pack (`conventions`); `None` for other kinds.
    pub conventions: Option<LivePortraitConventions>,
}

impl Manifest {
    /// The model of a role.
    pub fn model(&self, role: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.role == role)
    }

    /// The bounds on a free dimension, if the manifest gives any.
    pub fn bounds(&self, symbol: &str) -> Option<&DimBounds> {
        self.dims.iter().find(|(s, _)| s == symbol).map(|(_, r)| r)
    }

    /// The crop sides the models accept, when the manifest restricts them (`resolutions`, else `dims.S.values`).
    pub fn sides(&self) -> Option<&[usize]> {
        self.resolutions.as_deref().or_else(|| self.bounds(SYMBOL_SIZE).and_then(|b| b.values.as_deref()))
    }

    /// Reads and checks `<pack_dir>/manifest.json` and the files it names (their place and size, not their
    /// contents).
    pub fn read(pack_dir: &Path) -> Result<Manifest, PackError> {
        let dir = pack_dir.to_path_buf();
        let canonical_dir = match std::fs::canonicalize(pack_dir) {
            Ok(d) if d.is_dir() => d,
            Ok(_) => {
                return Err(PackError::Unreadable { dir, file: String::new(), reason: "it is not a folder".into() })
            }
            Err(e) => {
                let reason = if e.kind() == std::io::ErrorKind::NotFound {
                    "the folder does not exist".to_string()
                } else {
                    format!("the folder cannot be read ({e})")
                };
                return Err(PackError::Unreadable { dir, file: String::new(), reason });
            }
        };
        let unreadable = |reason: String| PackError::Unreadable {
            dir: pack_dir.to_path_buf(),
            file: MANIFEST_FILE.to_string(),
            reason,
        };
        let manifest_path = canonical_dir.join(MANIFEST_FILE);
        if std::fs::symlink_metadata(&manifest_path).is_err() {
            return Err(unreadable("does not exist (every pack folder holds one)".into()));
        }
        let manifest_path = resolve_inside(pack_dir, &canonical_dir, "", MANIFEST_FILE)?;
        let bytes = read_bounded(&manifest_path, MAX_MANIFEST_BYTES).map_err(|e| match e {
            FileError::TooLarge { .. } => PackError::TooLarge {
                dir: pack_dir.to_path_buf(),
                file: MANIFEST_FILE.into(),
                // The size the file system reports, at least what was read.
                size: std::fs::metadata(&manifest_path).map_or(0, |m| m.len()).max(MAX_MANIFEST_BYTES + 1),
                limit: MAX_MANIFEST_BYTES,
            },
            other => unreadable(other.reason()),
        })?;
        Manifest::parse_in(pack_dir, &canonical_dir, &bytes)
    }

    /// Checks the bytes of a manifest as if read from `pack_dir` (whose canonical path is `canonical_dir`): the
    /// files it names are looked up there. For tools and fuzzing; `read` is this after reading the file.
    pub fn parse_in(pack_dir: &Path, canonical_dir: &Path, bytes: &[u8]) -> Result<Manifest, PackError> {
        let unreadable = |reason: String| PackError::Unreadable {
            dir: pack_dir.to_path_buf(),
            file: MANIFEST_FILE.to_string(),
            reason,
        };
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(PackError::TooLarge {
                dir: pack_dir.to_path_buf(),
                file: MANIFEST_FILE.into(),
                size: bytes.len() as u64,
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| unreadable("is not UTF-8 text".into()))?;
        let root = Json::parse(text).map_err(|e| unreadable(format!("is not valid JSON ({e})")))?;
        Reader { dir: pack_dir, canonical_dir }.manifest(&root)
    }
}

/// Reads the parsed manifest; holds the folder for messages and path checks.
struct Reader<'a> {
    dir: &'a Path,
    canonical_dir: &'a Path,
}

impl Reader<'_> {
    fn error(&self, field: &str, reason: String) -> PackError {
        PackError::Manifest { dir: self.dir.to_path_buf(), field: field.to_string(), reason }
    }

    fn string<'j>(&self, root: &'j Json, field: &str) -> Result<&'j str, PackError> {
        match root.get(field) {
            Some(Json::String(s)) => Ok(s),
            Some(other) => Err(self.error(field, format!("is {}, not a string", other.kind()))),
            None => Err(self.error(field, "is missing".into())),
        }
    }

    fn manifest(&self, root: &Json) -> Result<Manifest, PackError> {
        if root.as_object().is_none() {
            return Err(self.error("", format!("is {}, not a JSON object", root.kind())));
        }
        let format = self.string(root, "format")?;
        if format != PACK_FORMAT {
            return Err(self.error("format", format!("is \"{format}\", not \"{PACK_FORMAT}\"")));
        }
        let version = match root.get("version") {
            Some(Json::Number(n)) if n.fract() == 0.0 && *n >= 0.0 => *n,
            Some(other) => return Err(self.error("version", format!("is {}, not a whole number", other.kind()))),
            None => return Err(self.error("version", "is missing".into())),
        };
        if !(1.0..=PACK_VERSION as f64).contains(&version) {
            return Err(self.error(
                "version",
                format!("is {version}, but this Living Portrait reads versions 1 to {PACK_VERSION} only (a newer pack needs a newer Living Portrait)"),
            ));
        }
        let version = version as u32;
        let kind_text = self.string(root, "kind")?;
        let kind = match kind_text {
            "warp" => PackKind::Warp,
            "fewshot" => PackKind::FewShot,
            "liveportrait" => PackKind::LivePortrait,
            other => {
                return Err(self.error("kind", format!("is \"{other}\", not \"warp\", \"fewshot\" or \"liveportrait\"")))
            }
        };
        // A LivePortrait pack carries its pipeline conventions, which only version 2 defines.
        let conventions = match kind {
            PackKind::LivePortrait => Some(self.liveportrait_conventions(root, version)?),
            _ => None,
        };
        let name = self.string(root, "name")?.to_string();
        let license = self.string(root, "license")?.to_string();
        let test_only = match root.get("test_only") {
            None => false,
            Some(Json::Bool(b)) => *b,
            Some(other) => return Err(self.error("test_only", format!("is {}, not true or false", other.kind()))),
        };
        if let Some(v) = root.get("landmarks") {
            if v.as_str() != Some(LANDMARK_SET) {
                return Err(self
                    .error("landmarks", format!("is {}, but the plugin feeds \"{LANDMARK_SET}\" only", json_text(v))));
            }
        }
        if let Some(v) = root.get("sketch") {
            if v.as_str() != Some(SKETCH_STYLE) {
                return Err(
                    self.error("sketch", format!("is {}, but the plugin draws \"{SKETCH_STYLE}\" only", json_text(v)))
                );
            }
        }
        if let Some(v) = root.get("coordinates") {
            if v.as_str() != Some(COORDINATES) {
                return Err(self.error(
                    "coordinates",
                    format!("is {}, but the plugin feeds \"{COORDINATES}\" only", json_text(v)),
                ));
            }
        }
        if let Some(v) = root.get("value_range") {
            let range: Option<Vec<f64>> = v.as_array().map(|a| a.iter().filter_map(Json::as_f64).collect());
            if range.as_deref() != Some(&[0.0, 1.0][..]) {
                return Err(self.error(
                    "value_range",
                    "must be [0, 1], the range of every image the plugin feeds and reads".into(),
                ));
            }
        }
        let mut models = Vec::new();
        for contract in kind.roles() {
            let Some(entry) = root.get(contract.role) else {
                let hint = if root.get("models").is_some() {
                    " (roles are top-level fields of the manifest, not members of \"models\")"
                } else {
                    ""
                };
                return Err(self.error(
                    contract.role,
                    format!("is missing: a {} pack needs the role \"{}\"{hint}", kind.label(), contract.role),
                ));
            };
            models.push(self.model(contract, entry, version)?);
        }
        self.sides_in_shapes(kind, &models)?;
        let dims = self.dims(root, &models)?;
        if let Some((_, b)) = dims.iter().find(|(s, _)| s == SYMBOL_SIZE) {
            let too_large = b.values.as_ref().and_then(|v| v.iter().find(|&&x| x > MAX_SIDE)).or((b.min > MAX_SIDE).then_some(&b.min));
            if let Some(side) = too_large {
                return Err(self.error(&format!("dims.{SYMBOL_SIZE}"), format!("allows a crop side of {side}, {}", side_limit())));
            }
        }
        let resolutions = self.resolutions(root)?;
        let size_bounds = dims.iter().find(|(s, _)| s == SYMBOL_SIZE).map(|(_, b)| b);
        if let (Some(sides), Some(bounds)) = (&resolutions, size_bounds) {
            if let Some(side) = sides.iter().find(|&&side| !bounds.allows(side)) {
                return Err(
                    self.error("resolutions", format!("lists {side}, but dims.{SYMBOL_SIZE} allows {bounds} only"))
                );
            }
        }
        Ok(Manifest {
            dir: self.dir.to_path_buf(),
            canonical_dir: self.canonical_dir.to_path_buf(),
            version,
            kind,
            name,
            license,
            test_only,
            models,
            dims,
            resolutions,
            conventions,
        })
    }

    fn model(&self, contract: &RoleContract, entry: &Json, version: u32) -> Result<ModelEntry, PackError> {
        let role = contract.role;
        if entry.as_object().is_none() {
            return Err(self.error(role, format!("is {}, not an object", entry.kind())));
        }
        let field = |name: &str| format!("{role}.{name}");
        let file = match entry.get("file") {
            Some(Json::String(s)) => s.clone(),
            Some(other) => return Err(self.error(&field("file"), format!("is {}, not a string", other.kind()))),
            None => return Err(self.error(&field("file"), "is missing".into())),
        };
        let sha256 = match entry.get("sha256") {
            Some(Json::String(s)) => s.trim().to_ascii_lowercase(),
            Some(other) => return Err(self.error(&field("sha256"), format!("is {}, not a string", other.kind()))),
            None => return Err(self.error(&field("sha256"), "is missing".into())),
        };
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.error(&field("sha256"), "is not a SHA-256 digest (64 hexadecimal digits)".into()));
        }
        let path = resolve_inside(self.dir, self.canonical_dir, &field("file"), &file)?;
        let bytes = regular_file_metadata(&path)
            .map_err(|e| PackError::Unreadable { dir: self.dir.to_path_buf(), file: file.clone(), reason: e.reason() })?
            .len();
        if bytes > MAX_PACK_MODEL_BYTES {
            return Err(PackError::TooLarge {
                dir: self.dir.to_path_buf(),
                file,
                size: bytes,
                limit: MAX_PACK_MODEL_BYTES,
            });
        }
        match entry.get("bytes") {
            None => {}
            Some(Json::Number(n)) if *n == bytes as f64 => {}
            Some(Json::Number(n)) => {
                return Err(PackError::Manifest {
                    dir: self.dir.to_path_buf(),
                    field: field("bytes"),
                    reason: format!("is {n}, but {file} has {bytes} bytes (the file is truncated or was replaced)"),
                })
            }
            Some(other) => return Err(self.error(&field("bytes"), format!("is {}, not a number", other.kind()))),
        }
        let inputs = self.inputs(contract, entry.get("inputs"), version)?;
        let declared = entry.get("outputs");
        let names: Vec<&str> =
            declared.and_then(Json::as_object).map(|m| m.iter().map(|(n, _)| n.as_str()).collect()).unwrap_or_default();
        let set = contract.outputs_for(names.iter().copied());
        let outputs = self.tensors(role, "outputs", declared, set, Some(contract.outputs_text()))?;
        Ok(ModelEntry { role, file, path, sha256, bytes, inputs, outputs })
    }

    /// The `inputs` of a role: its required inputs, then the optional ones the manifest declares (version 2 on;
    /// in pairs), each shape fitting the contract.
    fn inputs(&self, contract: &RoleContract, value: Option<&Json>, version: u32) -> Result<Vec<TensorDecl>, PackError> {
        let role = contract.role;
        let declared = |name: &str| value.and_then(Json::as_object).is_some_and(|m| m.iter().any(|(n, _)| n == name));
        let optional: Vec<TensorContract> =
            contract.optional_inputs.iter().filter(|t| declared(t.name)).copied().collect();
        if let Some(first) = optional.first() {
            if version < OPTIONAL_INPUTS_VERSION {
                return Err(self.error(
                    &format!("{role}.inputs.{}", first.name),
                    format!(
                        "is an optional input, which manifest version {OPTIONAL_INPUTS_VERSION} introduced, but the manifest says version {version}"
                    ),
                ));
            }
        }
        for t in &optional {
            let partner = match (t.name.strip_prefix("source_"), t.name.strip_prefix("target_")) {
                (Some(rest), _) => format!("target_{rest}"),
                (_, Some(rest)) => format!("source_{rest}"),
                _ => continue,
            };
            if contract.optional_inputs.iter().any(|o| o.name == partner) && !declared(&partner) {
                return Err(self.error(
                    &format!("{role}.inputs.{}", t.name),
                    format!("is declared without '{partner}': the two are fed together, so declare both or neither"),
                ));
            }
        }
        let all: Vec<TensorContract> = contract.inputs.iter().copied().chain(optional).collect();
        let accepted = (!contract.optional_inputs.is_empty()).then(|| {
            format!(
                "{}, and optionally {}",
                names_text(contract.inputs.iter().map(|t| t.name)),
                names_text(contract.optional_inputs.iter().map(|t| t.name))
            )
        });
        let decls = self.tensors(role, "inputs", value, &all, accepted)?;
        // The number of control points changes from frame to frame: a shape that fixes it could not be fed.
        for d in decls.iter().filter(|d| contract.optional_inputs.iter().any(|t| t.name == d.name)) {
            for (axis, (dim, rule)) in d.dims.iter().zip(contract.optional_inputs.iter().find(|t| t.name == d.name).map_or(&[][..], |t| t.dims)).enumerate() {
                if let (Dim::Fixed(n), Free(symbol)) = (dim, rule) {
                    return Err(self.error(
                        &format!("{role}.inputs.{}", d.name),
                        format!("has {n} as dimension {axis}, but \"{symbol}\" changes from frame to frame: write \"{symbol}\""),
                    ));
                }
            }
        }
        Ok(decls)
    }

    /// The `inputs` or `outputs` of a role: exactly the contract's tensors, each shape fitting the contract.
    fn tensors(
        &self,
        role: &str,
        group: &str,
        value: Option<&Json>,
        contract: &[TensorContract],
        accepted: Option<String>,
    ) -> Result<Vec<TensorDecl>, PackError> {
        let field = format!("{role}.{group}");
        let members = match value {
            Some(Json::Object(m)) => m,
            Some(other) => return Err(self.error(&field, format!("is {}, not an object", other.kind()))),
            None => return Err(self.error(&field, "is missing".into())),
        };
        let names: Vec<&str> = contract.iter().map(|t| t.name).collect();
        for (name, _) in members {
            if !names.contains(&name.as_str()) {
                return Err(self.error(
                    &format!("{field}.{name}"),
                    format!(
                        "is not a tensor of the {role} role (its {group} are {})",
                        accepted.clone().unwrap_or_else(|| names_text(names.iter().copied()))
                    ),
                ));
            }
        }
        let mut out = Vec::new();
        for want in contract {
            let tensor_field = format!("{field}.{}", want.name);
            let Some((_, shape)) = members.iter().find(|(n, _)| n == want.name) else {
                return Err(self.error(&tensor_field, format!("is missing: the {role} role needs the tensor")));
            };
            let Some(items) = shape.as_array() else {
                return Err(self.error(&tensor_field, format!("is {}, not a shape (an array)", shape.kind())));
            };
            let wanted = contract_text(want.dims);
            if items.len() != want.dims.len() {
                return Err(self.error(
                    &tensor_field,
                    format!("has {} dimensions, but tensor '{}' must be {wanted}", items.len(), want.name),
                ));
            }
            let mut dims = Vec::with_capacity(items.len());
            for (axis, (item, rule)) in items.iter().zip(want.dims).enumerate() {
                let dim = match item {
                    Json::Number(n) if n.fract() == 0.0 && *n >= 1.0 && *n <= (1u64 << 31) as f64 => {
                        Dim::Fixed(*n as usize)
                    }
                    Json::String(s) => Dim::Symbol(s.clone()),
                    other => {
                        return Err(self.error(
                            &tensor_field,
                            format!(
                                "has {} as dimension {axis}, not a positive whole number or a symbol",
                                other.kind()
                            ),
                        ))
                    }
                };
                let fits = match (rule, &dim) {
                    (Fixed(n), Dim::Fixed(m)) => n == m,
                    (Fixed(_), Dim::Symbol(_)) => false,
                    (Free(_), Dim::Fixed(_)) => true,
                    (Free(sym), Dim::Symbol(s)) => s == sym,
                };
                if !fits {
                    return Err(self.error(
                        &tensor_field,
                        format!("has {dim} as dimension {axis}, but tensor '{}' must be {wanted}", want.name),
                    ));
                }
                dims.push(dim);
            }
            out.push(TensorDecl { name: want.name.to_string(), dims });
        }
        Ok(out)
    }

    /// The `conventions` of a `liveportrait` pack (version 2 only), typed and checked against the contract.
    fn liveportrait_conventions(&self, root: &Json, version: u32) -> Result<LivePortraitConventions, PackError> {
        if version < 2 {
            return Err(self.error(
                "version",
                format!("is {version}, but a \"liveportrait\" pack needs version 2 (its conventions are version 2's)"),
            ));
        }
        let value = root.get("conventions").ok_or_else(|| self.error("conventions", "is missing: a liveportrait pack states its crop and pose conventions".into()))?;
        let value = serde_json::to_value(value).map_err(|e| self.error("conventions", format!("cannot be read ({e})")))?;
        let c: LivePortraitConventions =
            serde_json::from_value(value).map_err(|e| self.error("conventions", format!("is not of the expected form ({e})")))?;
        c.check().map_err(|(field, why)| self.error(&format!("conventions.{field}"), why))?;
        Ok(c)
    }

    /// The optional `dims` field: bounds on free dimensions that the tensors use (`min`, `max`, `values`).
    fn dims(&self, root: &Json, models: &[ModelEntry]) -> Result<Vec<(String, DimBounds)>, PackError> {
        let Some(value) = root.get("dims") else { return Ok(Vec::new()) };
        let Some(members) = value.as_object() else {
            return Err(self.error("dims", format!("is {}, not an object", value.kind())));
        };
        let used = |symbol: &str| {
            models
                .iter()
                .flat_map(|m| m.inputs.iter().chain(&m.outputs))
                .any(|t| t.dims.iter().any(|d| matches!(d, Dim::Symbol(s) if s == symbol)))
        };
        let mut out = Vec::new();
        for (symbol, range) in members {
            let field = format!("dims.{symbol}");
            if !used(symbol) {
                return Err(self.error(&field, format!("describes \"{symbol}\", which no tensor of the pack uses")));
            }
            let whole = |v: &Json| match v {
                Json::Number(n) if n.fract() == 0.0 && *n >= 1.0 && *n <= (1u64 << 31) as f64 => Some(*n as usize),
                _ => None,
            };
            let bound = |key: &str, default: usize| -> Result<usize, PackError> {
                match range.get(key) {
                    None => Ok(default),
                    Some(v) => whole(v).ok_or_else(|| {
                        self.error(&format!("{field}.{key}"), format!("is {}, not a positive whole number", v.kind()))
                    }),
                }
            };
            if range.as_object().is_none() {
                return Err(self.error(&field, format!("is {}, not an object (min, max, values)", range.kind())));
            }
            let values = match range.get("values") {
                None => None,
                Some(v) => {
                    let list: Option<Vec<usize>> = v.as_array().and_then(|a| a.iter().map(whole).collect());
                    match list {
                        Some(mut list) if !list.is_empty() => {
                            list.sort_unstable();
                            list.dedup();
                            Some(list)
                        }
                        _ => {
                            return Err(self.error(
                                &format!("{field}.values"),
                                "must be a non-empty list of positive whole numbers".into(),
                            ))
                        }
                    }
                }
            };
            let r = DimBounds { min: bound("min", 1)?, max: bound("max", usize::MAX)?, values };
            if r.min > r.max {
                return Err(self.error(&field, format!("has min {} above max {}", r.min, r.max)));
            }
            if r.values.as_ref().is_some_and(|v| !v.iter().any(|&x| x >= r.min && x <= r.max)) {
                return Err(self.error(&field, "lists no value between its min and max".into()));
            }
            out.push((symbol.clone(), r));
        }
        Ok(out)
    }

    /// A whole number written in a shape where the contract has `S` must be a side the node can ask for.
    fn sides_in_shapes(&self, kind: PackKind, models: &[ModelEntry]) -> Result<(), PackError> {
        for (contract, model) in kind.roles().iter().zip(models) {
            let contracts = contract.inputs.iter().chain(contract.outputs).chain(contract.alt_outputs);
            for (group, decl) in model.inputs.iter().map(|t| ("inputs", t)).chain(model.outputs.iter().map(|t| ("outputs", t))) {
                let Some(c) = contracts.clone().find(|c| c.name == decl.name) else { continue };
                for (d, cd) in decl.dims.iter().zip(c.dims) {
                    if let (Dim::Fixed(n), Free(SYMBOL_SIZE)) = (d, cd) {
                        if *n > MAX_SIDE {
                            return Err(self.error(
                                &format!("{}.{group}.{}", model.role, decl.name),
                                format!("fixes the crop side \"{SYMBOL_SIZE}\" to {n}, {}", side_limit()),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The optional `resolutions` field: the crop sides the models accept.
    fn resolutions(&self, root: &Json) -> Result<Option<Vec<usize>>, PackError> {
        let Some(value) = root.get("resolutions") else { return Ok(None) };
        let bad = || self.error("resolutions", format!("must be a non-empty list of crop sides from 1 to {MAX_SIDE}"));
        let items = value.as_array().ok_or_else(bad)?;
        let mut sides = Vec::with_capacity(items.len());
        for item in items {
            match item.as_f64() {
                Some(n) if n.fract() == 0.0 && n >= 1.0 && n <= MAX_SIDE as f64 => sides.push(n as usize),
                Some(n) if n.fract() == 0.0 && n > MAX_SIDE as f64 => {
                    return Err(self.error("resolutions", format!("lists {}, {}", json_text(item), side_limit())))
                }
                _ => return Err(bad()),
            }
        }
        if sides.is_empty() {
            return Err(bad());
        }
        sides.sort_unstable();
        sides.dedup();
        Ok(Some(sides))
    }
}

/// A list for messages, as JSON writes it: `[256, 512]`.
pub fn list_text<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let parts: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Tensor names for messages, as JSON writes them: `["output", "changed"]`.
pub fn names_text<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    list_text(names.into_iter().map(|n| format!("\"{n}\"")))
}

/// Why a crop side above `MAX_SIDE` is refused, for messages.
fn side_limit() -> String {
    format!("but a crop side may be at most {MAX_SIDE}, the largest working resolution the node offers (256, 512 or 1024)")
}

/// A short text of a JSON value for messages: strings quoted, numbers as they are, anything else by kind.
fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => format!("\"{s}\""),
        Json::Number(n) => n.to_string(),
        Json::Bool(b) => b.to_string(),
        other => other.kind().to_string(),
    }
}

/// A contract shape in the manifest's notation: `[1, 3, "S", "S"]`.
fn contract_text(dims: &[ContractDim]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| match d {
            Fixed(n) => n.to_string(),
            // The control-point count changes from frame to frame, so only the symbol fits.
            Free(s) if *s == SYMBOL_CONTROL_POINTS => format!("\"{s}\""),
            Free(s) => format!("\"{s}\" (or a whole number)"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Resolves a file name from the manifest to a canonical path inside the pack folder. Only plain relative paths
/// (normal components, `/` as separator) are accepted, and the resolved path, symbolic links followed, must still
/// lie inside the folder: a pack copied from elsewhere must not read files outside itself.
fn resolve_inside(dir: &Path, canonical_dir: &Path, field: &str, name: &str) -> Result<PathBuf, PackError> {
    let unsafe_path = |reason: &str| PackError::UnsafePath {
        dir: dir.to_path_buf(),
        field: field.to_string(),
        file: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(unsafe_path("is empty"));
    }
    // Backslashes and drive letters mean something only on Windows; refusing them everywhere keeps a pack's
    // meaning the same on every system.
    if name.contains('\\') || name.contains(':') || name.contains('\0') {
        return Err(unsafe_path("contains a backslash, colon or NUL character"));
    }
    let path = Path::new(name);
    if path.is_absolute() || name.starts_with('/') {
        return Err(unsafe_path("is an absolute path"));
    }
    for component in path.components() {
        match component {
            Component::Normal(_) => {}
            Component::ParentDir => return Err(unsafe_path("goes up out of the folder with \"..\"")),
            Component::CurDir => return Err(unsafe_path("contains a \".\" component")),
            Component::RootDir | Component::Prefix(_) => return Err(unsafe_path("is an absolute path")),
        }
    }
    let joined = canonical_dir.join(path);
    let resolved = match std::fs::canonicalize(&joined) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let reason = if std::fs::symlink_metadata(&joined).is_ok() {
                "is a symbolic link to nothing".to_string()
            } else {
                "does not exist".to_string()
            };
            return Err(PackError::Unreadable { dir: dir.to_path_buf(), file: name.to_string(), reason });
        }
        Err(e) => {
            return Err(PackError::Unreadable {
                dir: dir.to_path_buf(),
                file: name.to_string(),
                reason: format!("cannot be resolved ({e})"),
            })
        }
    };
    if !resolved.starts_with(canonical_dir) {
        return Err(PackError::UnsafePath {
            dir: dir.to_path_buf(),
            field: field.to_string(),
            file: name.to_string(),
            reason: format!("resolves to {}, outside the pack folder (through a symbolic link)", resolved.display()),
        });
    }
    if let Err(e) = regular_file_metadata(&resolved) {
        return Err(PackError::Unreadable { dir: dir.to_path_buf(), file: name.to_string(), reason: e.reason() });
    }
    Ok(resolved)
}

/// The values the pack's free dimensions take, once the models' own shapes are known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bindings {
    /// `S`: the crop side the models are fixed to, if they are.
    pub size: Option<usize>,
    /// `K`: the number of references the embedder is fixed to, if it is.
    pub references: Option<usize>,
    /// `E`: the embedding length, if fixed.
    pub embedding: Option<usize>,
}

/// Binds the free dimensions: every whole number the manifest writes at a free position and every dimension the
/// model itself fixes there must agree across the whole pack (all `S` the same, the embedder's `E` the
/// generator's). `declared` gives, per role, the model's own inputs and outputs. Also checks that a bound `S` is
/// one of the `resolutions` and within the `dims` bounds.
pub fn bind(manifest: &Manifest, declared: &[(&str, &[ModelTensor], &[ModelTensor])]) -> Result<Bindings, PackError> {
    // (symbol, value, where it was bound first)
    let mut bound: Vec<(&'static str, usize, String)> = Vec::new();
    for contract in manifest.kind.roles() {
        let Some(entry) = manifest.model(contract.role) else { continue };
        let (_, model_inputs, model_outputs) =
            declared.iter().find(|(r, _, _)| *r == contract.role).copied().unwrap_or((contract.role, &[], &[]));
        let inputs: Vec<TensorContract> = contract.inputs.iter().chain(contract.optional_inputs).copied().collect();
        let groups = [
            (inputs.as_slice(), &entry.inputs, model_inputs),
            (contract.outputs_for(entry.outputs.iter().map(|t| t.name.as_str())), &entry.outputs, model_outputs),
        ];
        for (rules, decls, model) in groups {
            for decl in decls.iter() {
                let Some(rule) = rules.iter().find(|r| r.name == decl.name) else { continue };
                let model_shape = model.iter().find(|t| t.name == decl.name).map(|t| t.shape.as_slice());
                for (axis, (dim_rule, dim)) in rule.dims.iter().zip(&decl.dims).enumerate() {
                    let Free(symbol) = *dim_rule else { continue };
                    let from_model = model_shape.and_then(|s| s.get(axis)).copied().filter(|&d| d > 0);
                    let value = match (dim, from_model) {
                        (Dim::Fixed(n), _) => *n,
                        (Dim::Symbol(_), Some(d)) => d as usize,
                        (Dim::Symbol(_), None) => continue,
                    };
                    let here = format!("{} tensor '{}' dimension {axis}", entry.file, decl.name);
                    match bound.iter().find(|(s, _, _)| *s == symbol) {
                        Some((_, first, first_at)) if *first != value => {
                            return Err(PackError::Symbol {
                                dir: manifest.dir.clone(),
                                file: entry.file.clone(),
                                tensor: decl.name.clone(),
                                symbol,
                                value,
                                first: format!("{first_at} makes it {first}"),
                            })
                        }
                        Some(_) => {}
                        None => bound.push((symbol, value, here)),
                    }
                }
            }
        }
    }
    let get = |symbol: &str| bound.iter().find(|(s, _, _)| *s == symbol).map(|(_, v, _)| *v);
    let bindings =
        Bindings { size: get(SYMBOL_SIZE), references: get(SYMBOL_REFERENCES), embedding: get(SYMBOL_EMBEDDING) };
    for (symbol, value, at) in &bound {
        if let Some(bounds) = manifest.bounds(symbol) {
            if !bounds.allows(*value) {
                return Err(PackError::Manifest {
                    dir: manifest.dir.clone(),
                    field: format!("dims.{symbol}"),
                    reason: format!("allows {bounds}, but {at} fixes \"{symbol}\" to {value}"),
                });
            }
        }
    }
    if let (Some(size), Some(sides)) = (bindings.size, &manifest.resolutions) {
        if !sides.contains(&size) {
            return Err(PackError::Manifest {
                dir: manifest.dir.clone(),
                field: "resolutions".into(),
                reason: format!("lists {}, but the models fix the crop side \"S\" to {size}", list_text(sides)),
            });
        }
    }
    if let Some(size) = bindings.size {
        if size > MAX_SIDE {
            return Err(PackError::Manifest {
                dir: manifest.dir.clone(),
                field: "S".into(),
                reason: format!("is bound to {size}, {}", side_limit()),
            });
        }
    }
    Ok(bindings)
}
