//! The inference engine: ONNX Runtime loaded once per process from the plugin's own bundle (`runtime`), the
//! choice between CPU and CUDA with an explicit, reported fallback (`device`), model files checked against
//! their `SHA256SUMS` (or against a digest the caller gives, for generator packs) before use (`integrity`), and
//! pools of sessions shared by every instance that uses the same model on the same device (`pool`). Models are
//! described in code (`ModelSpec`, static names) or at run time (`DescribedModel`, owned names read from a pack
//! manifest). Nothing here knows about faces or about the host: callers hand in float tensors by name and get
//! float tensors back, and every failure is an `InferenceError` whose `Display` is a whole sentence that names
//! the file or tensor at fault, fit to show a user.

use std::fmt;
use std::path::PathBuf;

mod device;
mod integrity;
mod pool;
mod runtime;
pub mod sha256;

pub use device::{Device, DeviceReport};
pub use integrity::{verify_model_digest, verify_model_file, MAX_MODEL_BYTES};
pub use pool::{
    DescribedModel, DescribedTensor, ModelSpec, ModelTensor, OutputData, PooledSession, SessionPool, TensorInput, TensorOutput,
    TensorSpec,
};
pub use runtime::{
    inference_settings, loaded_runtime, locate_runtime, models_dir, own_mapped_file, runtime, set_bundle_binary_dir,
    set_inference_settings, set_runtime_library, source_tree_models_dir, InferenceSettings, LoadedRuntime,
    INTRA_THREADS_ENV, MODELS_DIR_ENV, OFX_ARCH_DIR, ORT_LIB_ENV, ORT_MIN_MINOR_VERSION, ORT_RUNTIME_FILE,
    ORT_RUNTIME_VERSION,
};

/// Why inference could not be set up or run. `Display` gives the sentence to show the user.
#[derive(Debug, Clone)]
pub enum InferenceError {
    /// No runtime library at any of the places looked at.
    RuntimeMissing { looked: Vec<PathBuf>, hint: String },
    /// The runtime library exists but could not be loaded (wrong architecture, missing dependencies, not ORT).
    RuntimeUnloadable { path: PathBuf, reason: String },
    /// The runtime is older than the C API we need.
    RuntimeTooOld { path: PathBuf, version: String },
    /// A model file is not there.
    ModelMissing { path: PathBuf },
    /// A model file is larger than any model we ship; refused before reading it.
    ModelTooLarge { path: PathBuf, size: u64 },
    /// A model file could not be read.
    ModelUnreadable { path: PathBuf, reason: String },
    /// The model's folder has no `SHA256SUMS`, or it does not list the model.
    ChecksumUnknown { path: PathBuf, reason: String },
    /// The model's bytes are not the ones listed in `SHA256SUMS` (damaged, truncated or replaced).
    ChecksumMismatch { path: PathBuf, expected: String, actual: String, size: u64 },
    /// The model's bytes do not have the SHA-256 its description (a pack manifest) gives.
    DigestMismatch { path: PathBuf, expected: String, actual: String, size: u64 },
    /// ONNX Runtime refused the model.
    ModelInvalid { path: PathBuf, reason: String },
    /// The model's inputs or outputs are not the ones the code was written for.
    TensorMismatch { path: PathBuf, tensor: String, expected: String, found: String },
    /// A run failed inside ONNX Runtime.
    RunFailed { model: String, reason: String },
    /// The host asked to stop.
    Aborted,
}

impl fmt::Display for InferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InferenceError::RuntimeMissing { looked, hint } => {
                write!(f, "ONNX Runtime {ORT_RUNTIME_VERSION} ({ORT_RUNTIME_FILE}) was not found")?;
                if !looked.is_empty() {
                    let list: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
                    write!(f, " (looked for {})", list.join(", "))?;
                }
                write!(f, "; {hint}.")
            }
            InferenceError::RuntimeUnloadable { path, reason } => {
                write!(f, "The ONNX Runtime library {} could not be loaded: {reason}.", path.display())
            }
            InferenceError::RuntimeTooOld { path, version } => write!(
                f,
                "The ONNX Runtime library {} is version {version}, but Living Portrait needs 1.{ORT_MIN_MINOR_VERSION} \
                 or newer (it ships {ORT_RUNTIME_VERSION}); reinstall the plugin so that its own runtime is used.",
                path.display()
            ),
            InferenceError::ModelMissing { path } => {
                write!(f, "The model file {} does not exist; reinstall the plugin.", path.display())
            }
            InferenceError::ModelTooLarge { path, size } => write!(
                f,
                "The model file {} is {size} bytes, more than the {MAX_MODEL_BYTES} bytes a model may have; it was \
                 refused.",
                path.display()
            ),
            InferenceError::ModelUnreadable { path, reason } => {
                write!(f, "The model file {} could not be read: {reason}.", path.display())
            }
            InferenceError::ChecksumUnknown { path, reason } => {
                write!(f, "The model file {} cannot be verified: {reason}; it was refused.", path.display())
            }
            InferenceError::ChecksumMismatch { path, expected, actual, size } => write!(
                f,
                "The model file {} is damaged or was replaced: its SHA-256 is {actual} ({size} bytes) but SHA256SUMS \
                 lists {expected}; it was refused, reinstall the plugin.",
                path.display()
            ),
            InferenceError::DigestMismatch { path, expected, actual, size } => write!(
                f,
                "The model file {} is damaged or was replaced: its SHA-256 is {actual} ({size} bytes) but {expected} \
                 was expected; it was refused.",
                path.display()
            ),
            InferenceError::ModelInvalid { path, reason } => {
                write!(f, "ONNX Runtime could not load the model {}: {reason}.", path.display())
            }
            InferenceError::TensorMismatch { path, tensor, expected, found } => write!(
                f,
                "The model {} does not match what Living Portrait expects: tensor '{tensor}' should be {expected} \
                 but is {found}.",
                path.display()
            ),
            InferenceError::RunFailed { model, reason } => {
                write!(f, "Running the model {model} failed: {reason}.")
            }
            InferenceError::Aborted => write!(f, "Inference was stopped because the host aborted the render."),
        }
    }
}

impl std::error::Error for InferenceError {}
