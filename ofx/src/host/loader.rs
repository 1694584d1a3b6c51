//! Finding and opening plugin binaries: `*.ofx.bundle` discovery along a plugin
//! path, the platform binary inside a bundle
//! (`Contents/Linux-x86-64/<Name>.ofx`), and opening it with `libloading` to
//! reach the OFX entry points (`OfxSetHost` first when exported, then
//! `OfxGetNumberOfPlugins` / `OfxGetPlugin`). Every failure becomes a
//! [`HostError`] naming the file.

use std::ffi::CStr;
use std::os::raw::c_int;
use std::path::{Path, PathBuf};

use openfx::sys::generic::core::*;

use super::error::{HostError, HostResult};
use super::host::PluginInfo;

/// Name of the per-platform binary directory inside a bundle.
pub use crate::ARCH_DIR;

/// Bundle discovery helpers.
pub struct Bundle;

impl Bundle {
    /// Every `*.ofx.bundle` directory at or below the given paths (a few
    /// levels deep, like hosts scanning their plugin path), sorted, without
    /// descending into bundles. Paths that do not exist are skipped.
    pub fn discover(plugin_path: &[PathBuf]) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for p in plugin_path {
            scan(p, 0, &mut out);
        }
        out.sort();
        out.dedup();
        out
    }

    /// True when the path names a bundle directory.
    pub fn is_bundle(p: &Path) -> bool {
        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".ofx.bundle"))
    }

    /// The binary of a bundle for this platform.
    pub fn binary(bundle: &Path) -> HostResult<PathBuf> {
        if !bundle.is_dir() {
            return Err(HostError::BundleNotFound(bundle.to_path_buf()));
        }
        let dir_name = bundle.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let name = dir_name.strip_suffix(".ofx.bundle").unwrap_or(dir_name);
        let expected = bundle.join("Contents").join(ARCH_DIR).join(format!("{name}.ofx"));
        if expected.is_file() {
            return Ok(expected);
        }
        Err(HostError::BinaryMissing {
            bundle: bundle.to_path_buf(),
            expected,
        })
    }
}

fn scan(p: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if Bundle::is_bundle(p) && p.is_dir() {
        out.push(p.to_path_buf());
        return;
    }
    if depth > 4 || !p.is_dir() {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(p) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                scan(&e.path(), depth + 1, out);
            }
        }
    }
}

/// The binaries to try for the given paths: a bundle gives its binary, a
/// file is taken as is, another directory is searched for bundles.
pub fn candidate_binaries(paths: &[PathBuf]) -> HostResult<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(HostError::BundleNotFound(p.clone()));
        }
        if p.is_file() {
            out.push(p.clone());
        } else if Bundle::is_bundle(p) {
            out.push(Bundle::binary(p)?);
        } else {
            for b in Bundle::discover(std::slice::from_ref(p)) {
                // A broken bundle beside good ones should not hide them; it
                // surfaces only if nothing else matches (see PluginShared::load).
                match Bundle::binary(&b) {
                    Ok(bin) => out.push(bin),
                    Err(_) => continue,
                }
            }
        }
    }
    Ok(out)
}

type GetNumberOfPlugins = unsafe extern "C" fn() -> c_int;
type GetPlugin = unsafe extern "C" fn(c_int) -> *mut OfxPlugin;
type SetHost = unsafe extern "C" fn(*const OfxHost) -> OfxStatus;

/// An opened plugin binary and the plugin structs it exports.
pub struct Binary {
    /// Path the binary was opened from.
    pub path: PathBuf,
    plugins: Vec<PluginPtr>,
    // Declared last so it is dropped (dlclose) after everything else; None
    // for plugins linked into the running program.
    _lib: Option<libloading::Library>,
}

/// A pointer to a plugin struct inside a loaded binary.
#[derive(Clone, Copy)]
pub struct PluginPtr(pub *const OfxPlugin);
// SAFETY: the struct lives in the loaded library, is never written by the host
// and stays valid while the `Binary` is alive.
unsafe impl Send for PluginPtr {}
// SAFETY: see above.
unsafe impl Sync for PluginPtr {}

impl Binary {
    /// Opens a binary: `OfxSetHost` (if exported) is called first with `host`.
    pub fn open(path: &Path, host: &OfxHost) -> HostResult<Binary> {
        if !path.exists() {
            return Err(HostError::BundleNotFound(path.to_path_buf()));
        }
        // SAFETY: loading a library runs its initialisers; that is the point
        // of hosting a plugin and cannot be made safe by the host.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| HostError::NotLoadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        // SAFETY: the symbol types are those of the OFX specification.
        let num: Option<GetNumberOfPlugins> = unsafe { lib.get::<GetNumberOfPlugins>(b"OfxGetNumberOfPlugins\0") }.ok().map(|s| *s);
        // SAFETY: as above.
        let get: Option<GetPlugin> = unsafe { lib.get::<GetPlugin>(b"OfxGetPlugin\0") }.ok().map(|s| *s);
        // SAFETY: as above.
        let set_host: Option<SetHost> = unsafe { lib.get::<SetHost>(b"OfxSetHost\0") }.ok().map(|s| *s);
        let (num, get) = match (num, get) {
            (Some(n), Some(g)) => (n, g),
            (n, g) => {
                let mut missing = Vec::new();
                if n.is_none() {
                    missing.push("OfxGetNumberOfPlugins");
                }
                if g.is_none() {
                    missing.push("OfxGetPlugin");
                }
                return Err(HostError::NoEntryPoints {
                    path: path.to_path_buf(),
                    missing: missing.join(" and "),
                });
            }
        };
        if let Some(set_host) = set_host {
            // SAFETY: `host` outlives the binary (it belongs to the host,
            // which every loaded plugin keeps alive).
            let st = unsafe { set_host(host) };
            if st != kOfxStatOK && st != kOfxStatReplyDefault {
                return Err(HostError::ActionFailed {
                    action: "OfxSetHost".into(),
                    status: st,
                });
            }
        }
        // SAFETY: entry point of the loaded library, no arguments.
        let n = unsafe { num() }.max(0);
        let mut plugins = Vec::new();
        for i in 0..n {
            // SAFETY: i is within the count the plugin reported.
            let p = unsafe { get(i) };
            if !p.is_null() {
                plugins.push(PluginPtr(p));
            }
        }
        Ok(Binary {
            path: path.to_path_buf(),
            plugins,
            _lib: Some(lib),
        })
    }

    /// A plugin linked into the running program (no library to load).
    pub fn linked(plugin: &'static OfxPlugin) -> Binary {
        Binary {
            path: PathBuf::from("<linked into this program>"),
            plugins: vec![PluginPtr(plugin)],
            _lib: None,
        }
    }

    /// Identifier and version of every image-effect plugin in the binary.
    pub fn plugin_infos(&self) -> Vec<PluginInfo> {
        self.plugins
            .iter()
            .filter_map(|p| {
                let (id, major, minor) = describe_ptr(*p)?;
                Some(PluginInfo {
                    id,
                    version: (major, minor),
                    binary: self.path.clone(),
                })
            })
            .collect()
    }

    /// The plugin struct with this identifier.
    pub fn find(&self, id: &str) -> Option<PluginPtr> {
        self.plugins
            .iter()
            .copied()
            .find(|p| describe_ptr(*p).is_some_and(|(pid, _, _)| pid == id))
    }
}

/// Identifier and version of an image-effect plugin struct (None for other APIs).
fn describe_ptr(p: PluginPtr) -> Option<(String, u32, u32)> {
    // SAFETY: non-null pointer returned by OfxGetPlugin, valid while loaded.
    let plugin = unsafe { &*p.0 };
    if plugin.pluginApi.is_null() || plugin.pluginIdentifier.is_null() {
        return None;
    }
    // SAFETY: both are NUL-terminated strings per the OFX specification.
    let api = unsafe { CStr::from_ptr(plugin.pluginApi) };
    if api != openfx::sys::image_effect_v1::image_effect::kOfxImageEffectPluginApi {
        return None;
    }
    // SAFETY: as above.
    let id = unsafe { CStr::from_ptr(plugin.pluginIdentifier) }.to_string_lossy().into_owned();
    Some((id, plugin.pluginVersionMajor, plugin.pluginVersionMinor))
}
