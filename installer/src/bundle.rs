//! Assembly of `LivingPortrait.ofx.bundle`: optionally builds the plugin and the headless renderer with cargo,
//! then lays out `Contents/Info.plist`, the plugin binary renamed to `LivingPortrait.ofx` with the ONNX Runtime
//! libraries beside it in the architecture folder, and `Resources/` (icon, models, licences). Everything is
//! written into a hidden staging folder next to the destination and renamed into place at the end, so a
//! failure at any step leaves either the previous bundle or none, never a partial one a host could load.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ort::{ensure_onnxruntime, RuntimeFiles};
use crate::util::{copy_file, copy_tree, copy_tree_filtered, link_or_copy_file, list_files, replace_dir, TempDir};
use crate::{
    arch_dir, cdylib_file_name, InstallError, BINARY_NAME, BUNDLE_NAME, PLUGIN_ID, PLUGIN_NAME,
    VERSION,
};

/// Cargo profile to build and take the binaries from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Release,
    Debug,
}

impl Profile {
    /// The folder cargo writes this profile's outputs to, under the target folder.
    pub fn dir_name(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Debug => "debug",
        }
    }
}

/// What `build_bundle` should do.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    pub profile: Profile,
    /// Ship the CUDA build of ONNX Runtime (onnxruntime-gpu) instead of the CPU one.
    pub gpu: bool,
    /// The bundle is created as `<out_dir>/LivingPortrait.ofx.bundle`.
    pub out_dir: PathBuf,
    /// Run `cargo build -p living-portrait -p ofx` first.
    pub build: bool,
    /// Use this plugin binary instead of `<target>/<profile>/libliving_portrait.so` (tests, packagers).
    pub cdylib: Option<PathBuf>,
    /// Use these runtime files instead of calling `ensure_onnxruntime` (tests, custom runtimes).
    pub runtime: Option<RuntimeFiles>,
    /// The source tree holding `resources/` and `LICENSE` (defaults to the workspace root).
    pub workspace: PathBuf,
    /// Gather the licence notices of the Rust crates in the plugin and ofx-render with `cargo metadata` (on by
    /// default; tests with fake binaries turn it off).
    pub crate_licenses: bool,
    /// Model pack folders to check and copy beside the built-in one, each under its folder name
    /// (`--pack DIR`, see `pack.rs`).
    pub packs: Vec<PathBuf>,
    /// Hard-link the plugin binary and the runtime libraries into the bundle instead of copying them (a copy
    /// where a link cannot be made, e.g. across file systems). Test suites assemble one bundle per test
    /// executable: with a debug plugin of ~140 MB, copies cost gigabytes of disk on a CI machine.
    pub link: bool,
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            profile: Profile::Release,
            gpu: false,
            out_dir: crate::target_dir(),
            build: true,
            cdylib: None,
            runtime: None,
            workspace: crate::workspace_root(),
            crate_licenses: true,
            packs: Vec::new(),
            link: false,
        }
    }
}

/// Fills the `@KEY@` placeholders of the Info.plist template. Unknown or leftover placeholders are an error,
/// so a template edit cannot silently ship a literal `@EXECUTABLE@` to a host that looks the binary up there.
pub fn render_info_plist(template: &str) -> Result<String, InstallError> {
    let short_version: String = VERSION.split('.').take(2).collect::<Vec<_>>().join(".");
    let values = [
        ("@EXECUTABLE@", BINARY_NAME.to_string()),
        ("@IDENTIFIER@", PLUGIN_ID.to_string()),
        ("@NAME@", PLUGIN_NAME.to_string()),
        ("@VERSION@", VERSION.to_string()),
        ("@SHORT_VERSION@", short_version),
    ];
    let mut out = template.to_string();
    for (key, value) in &values {
        out = out.replace(key, &xml_escape(value));
    }
    if let Some(start) = out.find('@') {
        let rest = &out[start + 1..];
        if let Some(end) = rest.find('@') {
            let key = &rest[..end];
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                return Err(InstallError::msg(format!(
                    "the Info.plist template uses an unknown placeholder @{key}@"
                )));
            }
        }
    }
    Ok(out)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Runs `cargo build [--release] -p <package>...` in the workspace, with the cargo that runs us (`CARGO`).
pub fn cargo_build(profile: Profile, packages: &[&str]) -> Result<(), InstallError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(crate::workspace_root()).arg("build");
    for p in packages {
        cmd.args(["-p", p]);
    }
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    eprintln!(
        "installer: building {} ({})",
        packages.join(", "),
        profile.dir_name()
    );
    let status = cmd.status().map_err(|e| {
        InstallError::msg(format!(
            "could not run {}: {e}; install Rust (cargo) or set CARGO",
            cargo.to_string_lossy()
        ))
    })?;
    if !status.success() {
        return Err(InstallError::msg(format!(
            "cargo build of {} failed ({status}); the errors are printed above",
            packages.join(", ")
        )));
    }
    Ok(())
}

/// Builds (optionally) and assembles the bundle; returns the path of `LivingPortrait.ofx.bundle`.
pub fn build_bundle(opts: &BundleOptions) -> Result<PathBuf, InstallError> {
    // A damaged pack is reported before a long build.
    for pack in &opts.packs {
        crate::pack::check_pack(pack)?;
    }
    if opts.build {
        cargo_build(opts.profile, &["living-portrait", "ofx"])?;
    }
    let cdylib = opts.cdylib.clone().unwrap_or_else(|| {
        crate::target_dir()
            .join(opts.profile.dir_name())
            .join(cdylib_file_name())
    });
    if !cdylib.is_file() {
        return Err(InstallError::msg(format!(
            "the plugin binary {} does not exist; build it with `cargo build{} -p living-portrait` \
             (or run the installer without --no-build)",
            cdylib.display(),
            if opts.profile == Profile::Release { " --release" } else { "" }
        )));
    }
    let resources = opts.workspace.join("resources");
    let template_path = resources.join("Info.plist.in");
    let icon = resources.join("icon").join(format!("{PLUGIN_ID}.png"));
    let own_license = opts.workspace.join("LICENSE");
    for (what, path) in [
        ("Info.plist template", &template_path),
        ("plugin icon", &icon),
        ("project licence", &own_license),
    ] {
        if !path.is_file() {
            return Err(InstallError::msg(format!(
                "the {what} {} is missing from the source tree",
                path.display()
            )));
        }
    }
    let template = fs::read_to_string(&template_path)
        .map_err(|e| InstallError::io(format!("read {}", template_path.display()), e))?;
    let plist = render_info_plist(&template)?;
    let runtime = match &opts.runtime {
        Some(r) => r.clone(),
        None => ensure_onnxruntime(opts.gpu)?,
    };

    fs::create_dir_all(&opts.out_dir).map_err(|e| {
        InstallError::io(
            format!("create the output folder {}", opts.out_dir.display()),
            e,
        )
    })?;
    let staging =
        TempDir::new_in(&opts.out_dir, &format!(".{BUNDLE_NAME}.staging")).map_err(|e| {
            InstallError::io(
                format!("create a staging folder in {}", opts.out_dir.display()),
                e,
            )
        })?;
    let contents = staging.path().join("Contents");
    let bin_dir = contents.join(arch_dir());
    let res_dir = contents.join("Resources");
    let licenses = res_dir.join("licenses");
    let copy = |from: &Path, to: &Path| -> Result<(), InstallError> {
        copy_file(from, to)
            .map(|_| ())
            .map_err(|e| InstallError::io(format!("copy {} to the bundle", from.display()), e))
    };
    let place = |from: &Path, to: &Path| -> Result<(), InstallError> {
        if opts.link {
            link_or_copy_file(from, to)
                .map_err(|e| InstallError::io(format!("link {} into the bundle", from.display()), e))
        } else {
            copy(from, to)
        }
    };

    let write = |path: &Path, text: &str| -> Result<(), InstallError> {
        fs::create_dir_all(path.parent().expect("bundle paths have parents"))
            .and_then(|_| fs::write(path, text))
            .map_err(|e| InstallError::io(format!("write {}", path.display()), e))
    };
    write(&contents.join("Info.plist"), &plist)?;

    place(&cdylib, &bin_dir.join(BINARY_NAME))?;
    // The plugin loads the runtime by absolute path from its own folder, under the exact versioned name;
    // the provider libraries must sit beside it because ONNX Runtime looks for them next to itself.
    for lib in std::iter::once(&runtime.runtime).chain(&runtime.providers) {
        let name = lib
            .file_name()
            .ok_or_else(|| InstallError::msg(format!("{} has no file name", lib.display())))?;
        place(lib, &bin_dir.join(name))?;
    }

    copy(&icon, &res_dir.join(format!("{PLUGIN_ID}.png")))?;

    let models = resources.join("models");
    if models.is_dir() {
        copy_tree_filtered(&models, &res_dir.join("models"), &is_runtime_model_file).map_err(|e| {
            InstallError::io(format!("copy {} into the bundle", models.display()), e)
        })?;
        copy_model_licenses(&models, &licenses)?;
        for pack in &opts.packs {
            let (checked, dest) = crate::pack::copy_pack_into(pack, &res_dir.join("models"))?;
            let note = if checked.test_only { " (test models: the plugin refuses them unless LIVING_PORTRAIT_ALLOW_TEST_PACKS=1)" } else { "" };
            println!("model pack \"{}\" ({}): {}{note}", checked.name, checked.kind, dest.display());
        }
    } else {
        eprintln!(
            "installer: warning: {} does not exist; the bundle has no face-analysis models",
            models.display()
        );
    }

    copy(
        &own_license,
        &licenses.join("LivingPortrait").join("LICENSE"),
    )?;
    for lic in &runtime.licenses {
        let name = lic
            .file_name()
            .ok_or_else(|| InstallError::msg(format!("{} has no file name", lic.display())))?;
        copy(lic, &licenses.join("onnxruntime").join(name))?;
    }
    if opts.crate_licenses {
        // A release bundle without these notices would break the crates' licences, so this is not optional.
        crate::crate_licenses::collect_crate_licenses(
            &opts.workspace,
            &licenses.join("rust-crates"),
        )?;
    }
    // Hand-maintained notices (resources/licenses/<component>/...) go in as they are.
    let extra = resources.join("licenses");
    if extra.is_dir() {
        copy_tree(&extra, &licenses).map_err(|e| {
            InstallError::io(format!("copy {} into the bundle", extra.display()), e)
        })?;
    }

    let info = format!(
        "{PLUGIN_NAME} {VERSION}\nplugin {PLUGIN_ID}\nonnxruntime {} {}\nprofile {}\n",
        runtime.version,
        runtime.flavour.name(),
        opts.profile.dir_name()
    );
    write(&res_dir.join("bundle-info.txt"), &info)?;

    let dest = opts.out_dir.join(BUNDLE_NAME);
    let staged = staging.disarm();
    replace_dir(&staged, &dest).map_err(|e| {
        let _ = fs::remove_dir_all(&staged);
        InstallError::io(
            format!("move the assembled bundle to {}", dest.display()),
            e,
        )
    })?;
    Ok(dest)
}

/// What of `resources/models/` the plugin needs at run time: the ONNX files, their checksums, the pack
/// manifests and tables (JSON), the READMEs and the licence notices — not the conversion and check scripts,
/// their requirement lists or the check images, which stay in the source tree; nor the random-weight test
/// pack `fewshot_test/` (the plugin refuses it anyway), nor the LivePortrait stand-in `liveportrait_test/` and
/// converter folder `liveportrait/` (a user's converted pack goes in with `--pack DIR`).
pub fn is_runtime_model_file(rel: &Path) -> bool {
    if ["fewshot_test", "liveportrait_test", "liveportrait"].iter().any(|d| rel.starts_with(d)) {
        return false;
    }
    let name = rel.file_name().map(|n| n.to_string_lossy().to_ascii_uppercase()).unwrap_or_default();
    let ext = rel.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    matches!(ext.as_str(), "onnx" | "json" | "md")
        || name == "SHA256SUMS"
        || ["LICENSE", "LICENCE", "NOTICE", "COPYING"].iter().any(|p| name.starts_with(p))
}

/// Licence files shipped with the models (LICENSE*, LICENCE*, NOTICE*, COPYING*) are also gathered under
/// `Resources/licenses/`. The top level of `resources/models/` holds the MediaPipe-derived face models, so
/// its notices (and any path naming mediapipe) go to `mediapipe/`; a model pack in a subfolder keeps its own
/// under `models/<its path>`.
fn copy_model_licenses(models: &Path, licenses: &Path) -> Result<(), InstallError> {
    let files = list_files(models)
        .map_err(|e| InstallError::io(format!("list {}", models.display()), e))?;
    for rel in files {
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().to_uppercase())
            .unwrap_or_default();
        let is_license = ["LICENSE", "LICENCE", "NOTICE", "COPYING"]
            .iter()
            .any(|p| name.starts_with(p));
        if !is_license
            || rel
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let top_level = rel.components().count() == 1;
        let dest = if top_level || rel.to_string_lossy().to_lowercase().contains("mediapipe") {
            licenses
                .join("mediapipe")
                .join(rel.file_name().expect("listed files have names"))
        } else {
            licenses.join("models").join(&rel)
        };
        copy_file(&models.join(&rel), &dest)
            .map_err(|e| InstallError::io(format!("copy {} into the bundle", rel.display()), e))?;
    }
    Ok(())
}
