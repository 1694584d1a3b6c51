//! Finding and loading ONNX Runtime. The plugin never uses a system or host copy of the runtime: a host such as
//! Resolve may carry its own, and `dlopen` of a bare name would pick up whatever the host's search path finds.
//! So the runtime is loaded once per process by absolute path through `ort::init_from`, from (in this order) the
//! `LIVING_PORTRAIT_ORT_LIB` override, a path set explicitly by a front end (the CLI), or the exact versioned
//! file beside the plugin's own binary. The plugin's binary folder comes from the host (`set_bundle_binary_dir`)
//! or, without unsafe code, from `/proc/self/maps`: the mapped file whose address range holds this very code.
//! The model folder is resolved the same way (`<bundle>/Contents/Resources/models`, an override, or the source
//! tree when running from `target/`). The first successful load wins for the life of the process; a failed one
//! is not remembered, so installing the runtime and trying again works without restarting the host.

use std::path::{Path, PathBuf};

use once_cell::sync::OnceCell;
use parking_lot::{Mutex, RwLock};

use super::InferenceError;

/// The ONNX Runtime release the plugin ships and is tested with.
pub const ORT_RUNTIME_VERSION: &str = "1.31.1";

/// The runtime's file name, with its exact version: the bundle keeps the name the wheel uses, so that a file
/// of another version placed beside the plugin is not picked up by accident.
#[cfg(target_os = "linux")]
pub const ORT_RUNTIME_FILE: &str = "libonnxruntime.so.1.31.1";
#[cfg(target_os = "macos")]
pub const ORT_RUNTIME_FILE: &str = "libonnxruntime.1.31.1.dylib";
#[cfg(target_os = "windows")]
pub const ORT_RUNTIME_FILE: &str = "onnxruntime.dll";
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
pub const ORT_RUNTIME_FILE: &str = "libonnxruntime.so.1.31.1";

/// The oldest runtime `ort` 2.0.0-rc.15 with `api-20` can drive (it needs the 1.20 C API).
pub const ORT_MIN_MINOR_VERSION: u32 = 20;

/// Environment variable: absolute path of the ONNX Runtime library to load (development and tests).
pub const ORT_LIB_ENV: &str = "LIVING_PORTRAIT_ORT_LIB";
/// Environment variable: the folder holding the models and their `SHA256SUMS`.
pub const MODELS_DIR_ENV: &str = "LIVING_PORTRAIT_MODELS_DIR";
/// Environment variable: intra-op threads per session (default 1; a host renders frames on several threads
/// already, so each session stays single-threaded unless asked).
pub const INTRA_THREADS_ENV: &str = "LIVING_PORTRAIT_INTRA_THREADS";

/// The names our own binary has when mapped into a process: the bundle's plugin file and the cdylib as cargo
/// builds it.
const PLUGIN_BINARY_NAMES: &[&str] = &["LivingPortrait.ofx", "libliving_portrait.so"];

/// How sessions use threads. Set it before the first session is created; later changes apply to new sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InferenceSettings {
    /// Threads one session may use inside an operator (ONNX Runtime's intra-op pool). 1 = the calling thread only.
    pub intra_op_threads: usize,
    /// Most sessions one model may have open at once (one per concurrently rendering thread).
    pub max_sessions_per_model: usize,
}

impl Default for InferenceSettings {
    fn default() -> Self {
        let intra = std::env::var(INTRA_THREADS_ENV).ok().and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(1);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        // Each extra session of a face model costs about 7–8 MB (its activation buffers), so the pools stop at 4
        // per model: beyond that, threads wait a few milliseconds for a session instead of holding memory. No
        // more inferences run at once than there are cores (more only share the cores and hold more memory).
        InferenceSettings { intra_op_threads: intra.clamp(1, 16), max_sessions_per_model: cores.clamp(1, 4) }
    }
}

static SETTINGS: once_cell::sync::Lazy<RwLock<InferenceSettings>> =
    once_cell::sync::Lazy::new(|| RwLock::new(InferenceSettings::default()));

/// Changes the thread settings for sessions created from now on.
pub fn set_inference_settings(settings: InferenceSettings) {
    *SETTINGS.write() = InferenceSettings {
        intra_op_threads: settings.intra_op_threads.clamp(1, 64),
        max_sessions_per_model: settings.max_sessions_per_model.clamp(1, 64),
    };
}

/// The thread settings in force.
pub fn inference_settings() -> InferenceSettings {
    *SETTINGS.read()
}

/// The folder of the plugin binary as the host told us (kOfxPluginPropFilePath), or as found in the maps.
static BUNDLE_BINARY_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);
/// A runtime path chosen by a front end (the CLI's own search); the env override still wins.
static EXPLICIT_RUNTIME: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Tells the engine where the plugin binary lives. Takes what the host gives in kOfxPluginPropFilePath (the
/// bundle folder `…/LivingPortrait.ofx.bundle`), or the bundle's `Contents` folder, the architecture folder
/// holding `LivingPortrait.ofx`, or the binary itself; the runtime is looked for in the architecture folder and
/// the models in `Contents/Resources/models`. The plugin calls this at load; without it the folder is found in
/// `/proc/self/maps`.
pub fn set_bundle_binary_dir(path: PathBuf) {
    *BUNDLE_BINARY_DIR.lock() = Some(binary_dir_of(&path));
}

/// The OFX architecture folder inside `Contents/` for this build.
pub const OFX_ARCH_DIR: &str = ofx::ARCH_DIR;

/// The folder holding the plugin binary, from a bundle, `Contents`, architecture folder or binary path.
fn binary_dir_of(path: &Path) -> PathBuf {
    if path.is_file() {
        return path.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    if path.join("Contents").is_dir() {
        return path.join("Contents").join(OFX_ARCH_DIR);
    }
    if path.file_name().is_some_and(|n| n == "Contents") {
        return path.join(OFX_ARCH_DIR);
    }
    path.to_path_buf()
}

/// Names the runtime library to load (absolute path), for front ends that search for it themselves.
/// `LIVING_PORTRAIT_ORT_LIB` still takes precedence.
pub fn set_runtime_library(path: PathBuf) {
    *EXPLICIT_RUNTIME.lock() = Some(path);
}

/// The loaded runtime: where it came from and what it is.
#[derive(Debug)]
pub struct LoadedRuntime {
    /// Absolute path of the library that was loaded.
    pub path: PathBuf,
    /// Its version, e.g. "1.31.1" (from the build info, or the file name when that says nothing).
    pub version: String,
    pub(crate) environment: ort::environment::Environment,
}

static RUNTIME: OnceCell<LoadedRuntime> = OnceCell::new();
/// Serialises load attempts so two threads never race `init_from` with different paths.
static LOAD_LOCK: Mutex<()> = Mutex::new(());

/// The process's ONNX Runtime, loaded on first call. Every use of `ort` goes through here first: `ort` would
/// otherwise load a runtime by bare name from the system search path on its first API call.
pub fn runtime() -> Result<&'static LoadedRuntime, InferenceError> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let _guard = LOAD_LOCK.lock();
    RUNTIME.get_or_try_init(|| {
        let path = locate_runtime()?;
        load_runtime(&path)
    })
}

/// The runtime, if one has been loaded already (without trying to load it).
pub fn loaded_runtime() -> Option<&'static LoadedRuntime> {
    RUNTIME.get()
}

/// Where the runtime would be loaded from, without loading it.
pub fn locate_runtime() -> Result<PathBuf, InferenceError> {
    if let Some(v) = std::env::var_os(ORT_LIB_ENV).filter(|v| !v.is_empty()) {
        let path = absolute(Path::new(&v));
        if !path.is_file() {
            return Err(InferenceError::RuntimeMissing {
                looked: vec![path],
                hint: format!("{ORT_LIB_ENV} names a file that does not exist"),
            });
        }
        return Ok(path);
    }
    if let Some(path) = EXPLICIT_RUNTIME.lock().clone() {
        let path = absolute(&path);
        if !path.is_file() {
            return Err(InferenceError::RuntimeMissing {
                looked: vec![path],
                hint: "the path given does not exist".into(),
            });
        }
        return Ok(path);
    }
    let mut looked = Vec::new();
    for dir in plugin_binary_dirs() {
        let candidate = dir.join(ORT_RUNTIME_FILE);
        if candidate.is_file() {
            return Ok(candidate);
        }
        looked.push(candidate);
    }
    Err(InferenceError::RuntimeMissing {
        looked,
        hint: format!("the plugin bundle must hold {ORT_RUNTIME_FILE} beside its binary (reinstall the plugin)"),
    })
}

/// Folders our binary may live in: the one the host gave, then the one found in the process's memory maps.
fn plugin_binary_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = BUNDLE_BINARY_DIR.lock().clone() {
        dirs.push(dir);
    }
    if let Some(file) = own_mapped_file() {
        if let Some(dir) = file.parent() {
            if !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_path_buf());
            }
        }
    }
    dirs
}

/// The file this code was mapped from (the plugin, or the executable when linked statically into the CLI or a
/// test). Found by the address of a function of ours, looked up in `/proc/self/maps`; no unsafe needed.
pub fn own_mapped_file() -> Option<PathBuf> {
    let marker = own_mapped_file as fn() -> Option<PathBuf> as usize;
    // The kernel's own text (reported size 0), still read through the one bounded reader.
    let maps = crate::files::read_bounded(Path::new("/proc/self/maps"), 64 * 1024 * 1024).ok()?;
    let maps = String::from_utf8_lossy(&maps);
    let mut fallback = None;
    for line in maps.lines() {
        // "start-end perms offset dev inode   /path/with maybe spaces"; the first five fields hold no '/', so the
        // path starts at the first '/'. Pseudo entries ([heap], [vdso]) have none and are skipped.
        let Some(slash) = line.find('/') else { continue };
        let path = line[slash..].trim_end().trim_end_matches(" (deleted)");
        let Some((start, end)) = line.split_whitespace().next().and_then(|r| r.split_once('-')) else { continue };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) else { continue };
        if (start..end).contains(&marker) {
            return Some(PathBuf::from(path));
        }
        if fallback.is_none() && PLUGIN_BINARY_NAMES.iter().any(|n| path.ends_with(n)) {
            fallback = Some(PathBuf::from(path));
        }
    }
    fallback
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    }
}

fn load_runtime(path: &Path) -> Result<LoadedRuntime, InferenceError> {
    let builder = ort::init_from(path).map_err(|e| match e {
        ort::LoadDynamicError::BadVersion { version_str, path } => {
            InferenceError::RuntimeTooOld { path, version: version_str }
        }
        ort::LoadDynamicError::Dlopen { error, path } => {
            InferenceError::RuntimeUnloadable { path, reason: error.to_string() }
        }
        ort::LoadDynamicError::MissingApi { path } => InferenceError::RuntimeUnloadable {
            path,
            reason: "it does not export OrtGetApiBase, so it is not an ONNX Runtime library".into(),
        },
        ort::LoadDynamicError::InvalidVersionString => InferenceError::RuntimeUnloadable {
            path: path.to_path_buf(),
            reason: "it reports a malformed version string".into(),
        },
    })?;
    // A library loaded earlier in this process (by `init_from` with another path) would win silently inside
    // `ort`; we only ever call `init_from` from here, under the load lock, so the path is the one loaded.
    let environment = builder
        .with_name("living-portrait")
        .with_telemetry(false)
        .build()
        .map_err(|e| InferenceError::RuntimeUnloadable { path: path.to_path_buf(), reason: e.to_string() })?;
    let version = version_from_build_info(ort::info())
        .or_else(|| version_from_file_name(path))
        .unwrap_or_else(|| "unknown".to_string());
    Ok(LoadedRuntime { path: path.to_path_buf(), version, environment })
}

/// "ORT Build Info: git-branch=rel-1.31.1, git-commit-id=…" → "1.31.1".
fn version_from_build_info(info: &str) -> Option<String> {
    let branch = info
        .split(',')
        .find_map(|part| part.trim().strip_prefix("ORT Build Info: git-branch="))
        .or_else(|| info.split(',').find_map(|part| part.trim().strip_prefix("git-branch=")))?;
    let version = branch.trim_start_matches("rel-").trim_start_matches('v');
    let is_version = version.split('.').count() >= 2 && version.split('.').all(|p| p.parse::<u32>().is_ok());
    is_version.then(|| version.to_string())
}

/// "libonnxruntime.so.1.31.1" → "1.31.1".
fn version_from_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let tail = name
        .split_once(".so.")
        .map(|(_, v)| v)
        .or_else(|| name.strip_prefix("libonnxruntime.").and_then(|rest| rest.strip_suffix(".dylib")))?;
    tail.split('.').all(|p| p.parse::<u32>().is_ok()).then(|| tail.to_string())
}

/// The folder the models are read from: `LIVING_PORTRAIT_MODELS_DIR`, else `<bundle>/Contents/Resources/models`
/// beside the plugin binary, else the source tree's `resources/models` (tests and the CLI under `target/`).
pub fn models_dir() -> PathBuf {
    if let Some(v) = std::env::var_os(MODELS_DIR_ENV).filter(|v| !v.is_empty()) {
        return absolute(Path::new(&v));
    }
    for dir in plugin_binary_dirs() {
        // <bundle>/Contents/<arch>/LivingPortrait.ofx → <bundle>/Contents/Resources/models
        if let Some(contents) = dir.parent() {
            let models = contents.join("Resources").join("models");
            if models.is_dir() {
                return models;
            }
        }
        // A flat layout (the CLI shipped beside a `models` folder).
        let models = dir.join("models");
        if models.join("SHA256SUMS").is_file() {
            return models;
        }
    }
    source_tree_models_dir()
}

/// `<workspace>/resources/models`, the committed models in the source tree.
pub fn source_tree_models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("resources").join("models")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_parsed() {
        assert_eq!(
            version_from_build_info("ORT Build Info: git-branch=rel-1.31.1, git-commit-id=abc, build type=Release"),
            Some("1.31.1".to_string())
        );
        assert_eq!(version_from_build_info("ORT Build Info: git-branch=main, git-commit-id=abc"), None);
        assert_eq!(version_from_file_name(Path::new("/x/libonnxruntime.so.1.31.1")), Some("1.31.1".to_string()));
        assert_eq!(version_from_file_name(Path::new("/x/libonnxruntime.so")), None);
    }

    #[test]
    fn own_binary_is_found_in_the_maps() {
        let file = own_mapped_file().expect("the test binary is mapped");
        assert!(file.is_file(), "{}", file.display());
    }

    #[test]
    fn bundle_paths_resolve_to_the_binary_folder() {
        let root = std::env::temp_dir().join(format!("lp-bundle-{}", std::process::id()));
        let arch = root.join("LivingPortrait.ofx.bundle").join("Contents").join(OFX_ARCH_DIR);
        std::fs::create_dir_all(&arch).unwrap();
        std::fs::write(arch.join("LivingPortrait.ofx"), b"").unwrap();
        let bundle = root.join("LivingPortrait.ofx.bundle");
        assert_eq!(binary_dir_of(&bundle), arch);
        assert_eq!(binary_dir_of(&bundle.join("Contents")), arch);
        assert_eq!(binary_dir_of(&arch), arch);
        assert_eq!(binary_dir_of(&arch.join("LivingPortrait.ofx")), arch);
        let _ = std::fs::remove_dir_all(&root);
    }
}
