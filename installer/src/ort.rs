//! ONNX Runtime for the bundle: the PyPI wheels of onnxruntime / onnxruntime-gpu 1.31.1, pinned by file name
//! and SHA-256 below, fetched once with `pip download` (a spinner on a terminal) into `<target>/onnxruntime-cache/`, verified, and the
//! few files the plugin needs (the runtime with its exact versioned name, the provider libraries, the MIT
//! licence and third-party notices) extracted to `<target>/onnxruntime-cache/<cpu|gpu>-1.31.1/`. A stamp file
//! makes later calls instant. Offline machines point `LIVING_PORTRAIT_ORT_WHEEL` at the pinned wheel (or a
//! folder holding it); it is verified against the same pin, so no unverified runtime ever reaches a bundle.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::progress;
use crate::sha256::file_hex_digest;
use crate::util::{replace_dir, TempDir};
use crate::wheel::Wheel;
use crate::InstallError;

/// The ONNX Runtime release the plugin is built and tested against (`ort` 2.0.0-rc.15 with `api-20`).
pub const ORT_VERSION: &str = "1.31.1";
/// Environment variable naming a local copy of the pinned wheel (a file, or a folder that holds it).
pub const ORT_WHEEL_ENV: &str = "LIVING_PORTRAIT_ORT_WHEEL";
/// The Python version whose wheel is pinned; the native libraries inside do not depend on it.
const PYTHON_VERSION: &str = "3.11";

/// CPU-only runtime, or the CUDA build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Cpu,
    Gpu,
}

impl Flavour {
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Cpu => "cpu",
            Flavour::Gpu => "gpu",
        }
    }
}

/// One pinned wheel: where it comes from, its exact bytes, and which members the bundle takes from it.
#[derive(Debug, Clone)]
pub struct WheelPin {
    pub flavour: Flavour,
    /// `std::env::consts::OS` value this wheel is for.
    pub os: &'static str,
    /// `std::env::consts::ARCH` value this wheel is for.
    pub arch: &'static str,
    /// PyPI project name.
    pub package: &'static str,
    /// `pip download --platform` tag that resolves exactly this file.
    pub platform_tag: &'static str,
    pub filename: &'static str,
    /// Lower-case hex SHA-256 of the whole wheel file.
    pub sha256: &'static str,
    /// The runtime library inside the wheel; its file name is kept as-is in the bundle.
    pub runtime: &'static str,
    /// Provider libraries that must sit beside the runtime.
    pub providers: &'static [&'static str],
    /// Licence files, copied to `Resources/licenses/onnxruntime/`.
    pub licenses: &'static [&'static str],
}

const ORT_LICENSES: &[&str] = &["onnxruntime/LICENSE", "onnxruntime/ThirdPartyNotices.txt"];

/// Every pinned wheel. The hashes were computed from the files PyPI served for 1.31.1; the Linux ones are
/// exercised here, the macOS and Windows ones make the same code right on those platforms. TensorRT provider
/// libraries present in the GPU wheels are left out on purpose: the plugin registers CUDA or CPU only.
pub const PINNED_WHEELS: &[WheelPin] = &[
    WheelPin {
        flavour: Flavour::Cpu,
        os: "linux",
        arch: "x86_64",
        package: "onnxruntime",
        platform_tag: "manylinux_2_28_x86_64",
        filename: "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl",
        sha256: "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f",
        runtime: "onnxruntime/capi/libonnxruntime.so.1.31.1",
        providers: &["onnxruntime/capi/libonnxruntime_providers_shared.so"],
        licenses: ORT_LICENSES,
    },
    WheelPin {
        flavour: Flavour::Gpu,
        os: "linux",
        arch: "x86_64",
        package: "onnxruntime-gpu",
        platform_tag: "manylinux_2_28_x86_64",
        filename: "onnxruntime_gpu-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl",
        sha256: "e26c475fe361b2015f45b4b824bd13f0bb20204e59b62814e6f0acd5f3d491a6",
        runtime: "onnxruntime/capi/libonnxruntime.so.1.31.1",
        providers: &[
            "onnxruntime/capi/libonnxruntime_providers_shared.so",
            "onnxruntime/capi/libonnxruntime_providers_cuda.so",
        ],
        licenses: ORT_LICENSES,
    },
    WheelPin {
        flavour: Flavour::Cpu,
        os: "macos",
        arch: "aarch64",
        package: "onnxruntime",
        platform_tag: "macosx_14_0_arm64",
        filename: "onnxruntime-1.31.1-cp311-cp311-macosx_14_0_arm64.whl",
        sha256: "60b6b69bfe580eab576cacc5d132a0e9cf2a37fcfd18d46dd191042b1d1ed0d7",
        runtime: "onnxruntime/capi/libonnxruntime.1.31.1.dylib",
        providers: &[],
        licenses: ORT_LICENSES,
    },
    WheelPin {
        flavour: Flavour::Cpu,
        os: "windows",
        arch: "x86_64",
        package: "onnxruntime",
        platform_tag: "win_amd64",
        filename: "onnxruntime-1.31.1-cp311-cp311-win_amd64.whl",
        sha256: "c3d91b5de31e2fc82d71bd65b2b22bddee8b49057a3a36338e9a868e0ea90c05",
        runtime: "onnxruntime/capi/onnxruntime.dll",
        providers: &["onnxruntime/capi/onnxruntime_providers_shared.dll"],
        licenses: ORT_LICENSES,
    },
    WheelPin {
        flavour: Flavour::Gpu,
        os: "windows",
        arch: "x86_64",
        package: "onnxruntime-gpu",
        platform_tag: "win_amd64",
        filename: "onnxruntime_gpu-1.31.1-cp311-cp311-win_amd64.whl",
        sha256: "fd98341ba71c093153f0dcfc53eb69d57f706866fb45e94e5b0cde5d97a50dbf",
        runtime: "onnxruntime/capi/onnxruntime.dll",
        providers: &[
            "onnxruntime/capi/onnxruntime_providers_shared.dll",
            "onnxruntime/capi/onnxruntime_providers_cuda.dll",
        ],
        licenses: ORT_LICENSES,
    },
];

/// The extracted runtime, ready to be copied into a bundle.
#[derive(Debug, Clone)]
pub struct RuntimeFiles {
    pub flavour: Flavour,
    pub version: String,
    /// The extraction folder (`<target>/onnxruntime-cache/<cpu|gpu>-1.31.1`).
    pub dir: PathBuf,
    /// The runtime library with its exact versioned file name (`libonnxruntime.so.1.31.1` on Linux).
    pub runtime: PathBuf,
    /// Provider libraries to place beside the runtime (`libonnxruntime_providers_shared.so`, CUDA's for GPU).
    pub providers: Vec<PathBuf>,
    /// LICENSE and ThirdPartyNotices.txt.
    pub licenses: Vec<PathBuf>,
}

/// The pin for this platform and flavour, or a sentence saying there is none.
pub fn pinned_wheel(gpu: bool) -> Result<&'static WheelPin, InstallError> {
    let flavour = if gpu { Flavour::Gpu } else { Flavour::Cpu };
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    PINNED_WHEELS.iter().find(|p| p.flavour == flavour && p.os == os && p.arch == arch).ok_or_else(|| {
        InstallError::msg(format!(
            "there is no pinned onnxruntime {ORT_VERSION} {} wheel for {os}/{arch}; the pinned platforms are {}",
            flavour.name(),
            PINNED_WHEELS.iter().map(|p| format!("{}/{} {}", p.os, p.arch, p.flavour.name())).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// Fetches (if needed), verifies and extracts the pinned ONNX Runtime wheel for this platform into the cache
/// under the target folder. Honours `LIVING_PORTRAIT_ORT_WHEEL`. Fast when already extracted.
pub fn ensure_onnxruntime(gpu: bool) -> Result<RuntimeFiles, InstallError> {
    let pin = pinned_wheel(gpu)?;
    let cache = crate::target_dir().join("onnxruntime-cache");
    let local = std::env::var_os(ORT_WHEEL_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    ensure_runtime_from(pin, &cache, local.as_deref())
}

/// The work of `ensure_onnxruntime` with everything explicit: the pin, the cache folder, and an optional local
/// wheel (file or folder). Tests call it with fake pins and fake wheels.
pub fn ensure_runtime_from(
    pin: &WheelPin,
    cache: &Path,
    local_wheel: Option<&Path>,
) -> Result<RuntimeFiles, InstallError> {
    let dest = cache.join(format!("{}-{ORT_VERSION}", pin.flavour.name()));
    let files = runtime_files(pin, &dest);
    // The stamp holds the wheel's hash: a cache extracted from another pin is redone, not trusted.
    let stamp = dest.join(".complete");
    if fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == pin.sha256) && all_exist(&files) {
        return Ok(files);
    }
    fs::create_dir_all(cache)
        .map_err(|e| InstallError::io(format!("create the cache folder {}", cache.display()), e))?;
    let wheel = locate_wheel(pin, cache, local_wheel)?;

    let staging =
        TempDir::new_in(cache, &format!(".extract-{}", pin.flavour.name())).map_err(|e| {
            InstallError::io(format!("create a staging folder in {}", cache.display()), e)
        })?;
    let mut archive = Wheel::open(&wheel)?;
    let members = std::iter::once((pin.runtime, ""))
        .chain(pin.providers.iter().map(|m| (*m, "")))
        .chain(pin.licenses.iter().map(|m| (*m, "licenses")));
    for (member, sub) in members {
        let out_dir = staging.path().join(sub);
        fs::create_dir_all(&out_dir)
            .map_err(|e| InstallError::io(format!("create {}", out_dir.display()), e))?;
        let out = archive.extract(member, &out_dir)?;
        if sub.is_empty() {
            make_executable(&out)?;
        }
    }
    fs::write(staging.path().join(".complete"), pin.sha256)
        .map_err(|e| InstallError::io("write the cache stamp", e))?;
    let staged = staging.disarm();
    if let Err(e) = replace_dir(&staged, &dest) {
        let _ = fs::remove_dir_all(&staged);
        // Another process may have finished the same extraction first; its result is as good as ours.
        if fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == pin.sha256) && all_exist(&files) {
            return Ok(files);
        }
        return Err(InstallError::io(
            format!("move the extracted runtime to {}", dest.display()),
            e,
        ));
    }
    Ok(files)
}

fn base_name(member: &str) -> &str {
    member.rsplit('/').next().unwrap_or(member)
}

fn runtime_files(pin: &WheelPin, dest: &Path) -> RuntimeFiles {
    RuntimeFiles {
        flavour: pin.flavour,
        version: ORT_VERSION.to_string(),
        dir: dest.to_path_buf(),
        runtime: dest.join(base_name(pin.runtime)),
        providers: pin
            .providers
            .iter()
            .map(|m| dest.join(base_name(m)))
            .collect(),
        licenses: pin
            .licenses
            .iter()
            .map(|m| dest.join("licenses").join(base_name(m)))
            .collect(),
    }
}

fn all_exist(files: &RuntimeFiles) -> bool {
    std::iter::once(&files.runtime)
        .chain(&files.providers)
        .chain(&files.licenses)
        .all(|p| p.is_file())
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), InstallError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(|e| InstallError::io(format!("make {} executable", path.display()), e))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), InstallError> {
    Ok(())
}

/// Checks a wheel file against the pin's SHA-256; `advice` ends the error message.
pub(crate) fn verify(pin: &WheelPin, wheel: &Path, advice: String) -> Result<(), InstallError> {
    let actual = file_hex_digest(wheel)
        .map_err(|e| InstallError::io(format!("read {}", wheel.display()), e))?;
    if actual != pin.sha256 {
        return Err(InstallError::HashMismatch {
            file: wheel.to_path_buf(),
            expected: pin.sha256.into(),
            actual,
            advice,
        });
    }
    Ok(())
}

/// Finds a verified copy of the pinned wheel: the local override, else the cache, else a fresh pip download.
fn locate_wheel(
    pin: &WheelPin,
    cache: &Path,
    local: Option<&Path>,
) -> Result<PathBuf, InstallError> {
    if let Some(local) = local {
        let wheel = if local.is_dir() {
            local.join(pin.filename)
        } else {
            local.to_path_buf()
        };
        if !wheel.is_file() {
            return Err(InstallError::msg(format!(
                "{ORT_WHEEL_ENV} points at {}, but {} is not there; it must name the wheel {} or a folder holding it",
                local.display(),
                wheel.display(),
                pin.filename
            )));
        }
        let advice = format!(
            "{ORT_WHEEL_ENV} must name the pinned wheel {} (or a folder holding it), downloaded unchanged from PyPI",
            pin.filename
        );
        verify(pin, &wheel, advice)?;
        return Ok(wheel);
    }
    let cached = cache.join(pin.filename);
    if cached.is_file() {
        let advice = "Delete it and run the command again to download a fresh copy".to_string();
        verify(pin, &cached, advice)?;
        return Ok(cached);
    }
    download(pin, cache)?;
    Ok(cached)
}

/// `pip download` into a private folder inside the cache; only a verified wheel is moved to its cached name,
/// so a refused file is deleted with the folder and never picked up later.
fn download(pin: &WheelPin, cache: &Path) -> Result<(), InstallError> {
    let spec = format!("{}=={ORT_VERSION}", pin.package);
    let tmp = TempDir::new_in(cache, ".download").map_err(|e| {
        InstallError::io(
            format!("create a download folder in {}", cache.display()),
            e,
        )
    })?;
    let hint = format!(
        "check that PyPI is reachable, or put the wheel {} into {} (or point {ORT_WHEEL_ENV} at it)",
        pin.filename,
        cache.display()
    );
    eprintln!(
        "installer: downloading {spec} ({}) with pip into {}",
        pin.filename,
        cache.display()
    );
    let mut last_err = String::new();
    let mut ran = false;
    // On a terminal a spinner shows pip's latest line; elsewhere pip's output goes straight to ours, as it is.
    let spinner = progress::spinner(format!("downloading {spec} with pip"));
    for python in python_candidates() {
        let child = Command::new(&python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
            ])
            .args([
                "--platform",
                pin.platform_tag,
                "--python-version",
                PYTHON_VERSION,
                "-d",
            ])
            .arg(tmp.path())
            .arg(&spec)
            .stdin(Stdio::null())
            .stdout(if progress::enabled() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .stderr(Stdio::piped())
            .spawn();
        match child {
            Err(e) => last_err = format!("could not start {python}: {e}"),
            Ok(mut child) => {
                ran = true;
                let lines = child.stdout.take().map(|stdout| {
                    let spinner = spinner.clone();
                    std::thread::spawn(move || {
                        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                            if !line.trim().is_empty() {
                                spinner.set_message(format!("pip: {}", line.trim()));
                            }
                        }
                    })
                });
                let out = child.wait_with_output();
                if let Some(lines) = lines {
                    let _ = lines.join();
                }
                spinner.finish_and_clear();
                let out = out.map_err(|e| {
                    InstallError::msg(format!(
                        "could not wait for {python} (pip download): {e}; {hint}"
                    ))
                })?;
                if !out.status.success() {
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    let stderr = if stderr.trim().is_empty() {
                        "(no message)".into()
                    } else {
                        stderr
                    };
                    return Err(InstallError::msg(format!(
                        "could not download {spec} with pip ({python} exited with {}): {}; {hint}",
                        out.status,
                        stderr.trim()
                    )));
                }
                break;
            }
        }
    }
    spinner.finish_and_clear();
    if !ran {
        return Err(InstallError::msg(format!(
            "could not download {spec}: no Python with pip was found ({last_err}); {hint}"
        )));
    }
    let got = tmp.path().join(pin.filename);
    if !got.is_file() {
        let names: Vec<String> = fs::read_dir(tmp.path())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        return Err(InstallError::msg(format!(
            "pip resolved {spec} to {names:?}, not the pinned {}; {hint}",
            pin.filename
        )));
    }
    if let Err(e) = verify(pin, &got, String::new()) {
        // The refused file goes with the temporary folder, so it can never be mistaken for a good cache entry.
        return Err(InstallError::msg(format!(
            "PyPI served a different file than the pinned one, so it was deleted: {e}"
        )));
    }
    fs::rename(&got, cache.join(pin.filename)).map_err(|e| {
        InstallError::io(
            format!("move the downloaded wheel into {}", cache.display()),
            e,
        )
    })?;
    Ok(())
}

fn python_candidates() -> Vec<String> {
    if let Some(p) = std::env::var_os("LIVING_PORTRAIT_PYTHON").filter(|v| !v.is_empty()) {
        return vec![p.to_string_lossy().into_owned()];
    }
    if cfg!(windows) {
        vec!["python".into(), "py".into(), "python3".into()]
    } else {
        vec!["python3".into(), "python".into()]
    }
}
