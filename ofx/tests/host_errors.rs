//! Loading failures of the headless host, through the Rust API and through
//! `ofx-render`: a missing bundle, a bundle without its binary, a `.ofx` that
//! is not a shared library, and a shared library without the OFX entry points.
//! Each must give one clear sentence (and a non-zero exit for the CLI).

use std::path::{Path, PathBuf};
use std::process::Command;

use ofx::host::{Bundle, Host, HostError, HostOptions};

/// A fresh empty directory under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ofx_host_errors_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `<dir>/<name>.ofx.bundle/Contents/Linux-x86-64/<name>.ofx` containing `bytes`.
fn fake_bundle(dir: &Path, name: &str, bytes: Option<&[u8]>) -> PathBuf {
    let bundle = dir.join(format!("{name}.ofx.bundle"));
    let bin_dir = bundle.join("Contents").join(ofx::host::loader::ARCH_DIR);
    std::fs::create_dir_all(&bin_dir).unwrap();
    if let Some(b) = bytes {
        std::fs::write(bin_dir.join(format!("{name}.ofx")), b).unwrap();
    }
    bundle
}

/// Bytes of a real shared library without OFX entry points (libm), if found.
fn plain_shared_library() -> Option<Vec<u8>> {
    [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/lib64/libm.so.6",
        "/usr/lib64/libm.so.6",
        "/lib/aarch64-linux-gnu/libm.so.6",
        "/usr/lib/libm.so.6",
    ]
    .iter()
    .find_map(|p| std::fs::read(p).ok())
}

fn load_err(path: &Path) -> HostError {
    match Host::new(HostOptions::default()).load(path, "org.example.Nothing") {
        Ok(_) => panic!("loading {} should fail", path.display()),
        Err(e) => e,
    }
}

fn assert_sentence(msg: &str) {
    assert!(msg.ends_with('.'), "not a sentence: {msg}");
    assert!(msg.chars().next().is_some_and(|c| c.is_uppercase()), "not a sentence: {msg}");
    assert!(!msg.contains('\n'), "more than one line: {msg}");
}

#[test]
fn missing_bundle_is_reported() {
    let dir = temp_dir("missing");
    let e = load_err(&dir.join("Nope.ofx.bundle"));
    assert!(matches!(e, HostError::BundleNotFound(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("Nope.ofx.bundle") && msg.contains("does not exist"), "{msg}");
    assert_sentence(&msg);
}

#[test]
fn bundle_without_binary_is_reported() {
    let dir = temp_dir("nobinary");
    let bundle = fake_bundle(&dir, "Empty", None);
    let e = load_err(&bundle);
    assert!(matches!(e, HostError::BinaryMissing { .. }), "{e:?}");
    assert!(e.to_string().contains("Empty.ofx"), "{e}");
    assert_sentence(&e.to_string());
    // Discovery still finds the bundle.
    assert_eq!(Bundle::discover(std::slice::from_ref(&dir)), vec![bundle]);
}

#[test]
fn non_library_is_reported() {
    let dir = temp_dir("text");
    let bundle = fake_bundle(&dir, "Text", Some(b"this is not an ELF file\n"));
    let e = load_err(&bundle);
    assert!(matches!(e, HostError::NotLoadable { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("could not be loaded as a shared library"), "{msg}");
    assert_sentence(&msg);
}

#[test]
fn library_without_entry_points_is_reported() {
    let Some(lib) = plain_shared_library() else {
        eprintln!("no libm found to stand in for a non-OFX library; skipped");
        return;
    };
    let dir = temp_dir("noentry");
    let bundle = fake_bundle(&dir, "Plain", Some(&lib));
    let e = load_err(&bundle);
    match &e {
        HostError::NoEntryPoints { missing, .. } => {
            assert!(missing.contains("OfxGetPlugin") && missing.contains("OfxGetNumberOfPlugins"), "{missing}")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(e.to_string().contains("is not an OFX plugin"), "{e}");
    assert_sentence(&e.to_string());
    // Searching a directory that only holds broken bundles reports the failure too.
    let e = load_err(&dir);
    assert!(matches!(e, HostError::NoEntryPoints { .. }), "{e:?}");
}

fn ofx_render(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ofx-render"))
        .args(args)
        .env_remove("OFX_PLUGIN_PATH")
        .output()
        .expect("ofx-render runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn cli_reports_loading_errors_in_one_sentence() {
    let dir = temp_dir("cli");
    let missing = dir.join("Missing.ofx.bundle");
    let missing = missing.to_str().unwrap();
    let (code, err) = ofx_render(&["--plugin-path", missing, "--plugin", "a.b", "--frames", "1", "--out", "x.png"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("ofx-render: The OFX plugin bundle or file") && err.contains("does not exist"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let bundle = fake_bundle(&dir, "Text", Some(b"nope"));
    let (code, err) = ofx_render(&["--plugin-path", bundle.to_str().unwrap(), "--list"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("could not be loaded as a shared library"), "{err}");

    let (code, err) = ofx_render(&["--frames", "1-2", "--no-such-option"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Unknown option '--no-such-option'"), "{err}");

    let (code, err) = ofx_render(&["--plugin", "a.b", "--frames", "1", "--out", "x.png"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("No plugin path"), "{err}");
}
