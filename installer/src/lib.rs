//! The Living Portrait installer as a library: it fetches and verifies the pinned ONNX Runtime wheel
//! (`ensure_onnxruntime`), assembles the OpenFX bundle `LivingPortrait.ofx.bundle` (`build_bundle`), installs
//! and uninstalls it with a manifest that records exactly what was written (`install`, `uninstall`), and
//! renders the demo through an installed bundle (`render_demo`). The binary in `main.rs` is a thin command line
//! over these functions; they live in a library so the root package's integration tests can call them.
//! Every error is an `InstallError` whose message is a whole sentence saying what failed and what to do.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

mod bundle;
mod crate_licenses;
mod demo;
mod install;
mod ort;
pub mod pack;
mod progress;
pub mod sha256;
pub mod util;
pub mod wheel;

pub use bundle::{
    build_bundle, cargo_build, is_runtime_model_file, render_info_plist, BundleOptions, Profile,
};
pub use crate_licenses::{
    collect_crate_licenses, is_notice_file, shipped_crates, shipped_crates_of_workspace,
    ShippedCrate, SHIPPED_PACKAGES,
};
pub use demo::{demo_extra_args, make_gif, render_demo, DemoOptions, DEMO_FRAMES};
pub use install::{
    check_writable, install, uninstall, InstallReport, UninstallReport, MANIFEST_NAME,
};
pub use ort::{
    ensure_onnxruntime, ensure_runtime_from, pinned_wheel, Flavour, RuntimeFiles, WheelPin,
    ORT_VERSION, ORT_WHEEL_ENV, PINNED_WHEELS,
};

/// The OFX plugin identifier; also the icon's file name stem and the bundle's `CFBundleIdentifier`.
pub const PLUGIN_ID: &str = "org.livingportrait.LivingPortrait";
/// Human-readable name written into Info.plist.
pub const PLUGIN_NAME: &str = "Living Portrait";
/// The folder a host scans for.
pub const BUNDLE_NAME: &str = "LivingPortrait.ofx.bundle";
/// The plugin binary inside the architecture folder; Info.plist's `CFBundleExecutable`.
pub const BINARY_NAME: &str = "LivingPortrait.ofx";
/// The workspace version (1.0.0), written into Info.plist.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why an installer step failed. `Display` gives the sentence to show the user.
#[derive(Debug)]
pub enum InstallError {
    /// A file-system operation failed; `what` says which, in words.
    Io { what: String, source: io::Error },
    /// A downloaded or supplied file is not the one pinned in the source.
    HashMismatch {
        file: PathBuf,
        expected: String,
        actual: String,
        /// What to do about it, depending on where the file came from.
        advice: String,
    },
    /// The destination holds a folder with our bundle's name that has no install manifest of ours.
    Foreign { path: PathBuf },
    /// The install folder cannot be written (usually the system folder without root rights).
    NotWritable { dir: PathBuf, source: io::Error },
    /// Anything else, already phrased as a sentence.
    Message(String),
}

impl InstallError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> InstallError {
        InstallError::Io {
            what: what.into(),
            source,
        }
    }
    pub(crate) fn msg(text: impl Into<String>) -> InstallError {
        InstallError::Message(text.into())
    }
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::Io { what, source } => write!(f, "could not {what}: {source}"),
            InstallError::HashMismatch {
                file,
                expected,
                actual,
                advice,
            } => write!(
                f,
                "{} does not have the pinned SHA-256 (expected {expected}, found {actual}); it was refused. {advice}",
                file.display()
            ),
            InstallError::Foreign { path } => write!(
                f,
                "{} already exists but was not installed by this installer (it has no {}); it was left untouched. \
                 Move or delete it yourself, or install into another folder with --prefix DIR",
                path.display(),
                install::MANIFEST_REL
            ),
            InstallError::NotWritable { dir, source } => write!(
                f,
                "cannot write to {} ({source}). Run the installer with administrator rights \
                 (e.g. `installer bundle` as yourself, then \
                 `sudo target/release/installer install --from target/LivingPortrait.ofx.bundle`), or install \
                 into a folder you own with `installer install --prefix DIR` and add DIR to the OFX_PLUGIN_PATH \
                 environment variable so that hosts find the plugin there",
                dir.display()
            ),
            InstallError::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for InstallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InstallError::Io { source, .. } | InstallError::NotWritable { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }
}

/// The workspace root: the parent of this crate's manifest folder, fixed at compile time. The installer is
/// a developer tool run from the source tree (`cargo run -p installer`), so this is where `resources/` is.
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Cargo's target folder: `CARGO_TARGET_DIR` when set (relative values are taken relative to the workspace
/// root, as cargo does when run there), else `<workspace root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// The OFX architecture folder inside `Contents/` for the platform this installer was built for.
pub fn arch_dir() -> &'static str {
    ofx::ARCH_DIR
}

/// The file name cargo gives the plugin's cdylib on this platform.
pub fn cdylib_file_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "libliving_portrait.dylib"
    } else if cfg!(target_os = "windows") {
        "living_portrait.dll"
    } else {
        "libliving_portrait.so"
    }
}

/// The executable suffix (`.exe` on Windows), for `ofx-render`.
pub fn exe_suffix() -> &'static str {
    if cfg!(target_os = "windows") {
        ".exe"
    } else {
        ""
    }
}

/// The standard system-wide OFX plugin folder of the platform this installer was built for.
pub fn system_plugin_dir() -> PathBuf {
    if cfg!(target_os = "macos") {
        PathBuf::from("/Library/OFX/Plugins")
    } else if cfg!(target_os = "windows") {
        // %CommonProgramFiles% is "C:\Program Files\Common Files" unless Windows lives elsewhere.
        let common = std::env::var_os("CommonProgramFiles")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(r"C:\Program Files\Common Files"));
        common.join("OFX").join("Plugins")
    } else {
        PathBuf::from("/usr/OFX/Plugins")
    }
}

/// One row of the `paths` command: a platform's system folder and its architecture folder name.
pub struct PlatformPaths {
    pub os: &'static str,
    pub system_dir: &'static str,
    pub arch_dir: &'static str,
    pub binary_from: &'static str,
}

/// The standard locations on all three platforms, for documentation and the `paths` command.
pub const ALL_PLATFORMS: [PlatformPaths; 3] = [
    PlatformPaths {
        os: "Linux",
        system_dir: "/usr/OFX/Plugins",
        arch_dir: "Linux-x86-64",
        binary_from: "libliving_portrait.so",
    },
    PlatformPaths {
        os: "macOS",
        system_dir: "/Library/OFX/Plugins",
        arch_dir: "MacOS",
        binary_from: "libliving_portrait.dylib",
    },
    PlatformPaths {
        os: "Windows",
        system_dir: r"C:\Program Files\Common Files\OFX\Plugins",
        arch_dir: "Win64",
        binary_from: "living_portrait.dll",
    },
];
