//! Fast, offline tests of the installer library: Info.plist rendering, bundle layout from a fake plugin
//! binary and fake runtime, install/uninstall round trips in temporary prefixes, refusal to touch folders we
//! did not install, refusal of wheels whose SHA-256 is not the pinned one, and the demo's clear errors.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use installer::util::TempDir;
use installer::*;

/// A snapshot of a folder: every path below it with the file's bytes (folders map to None).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    if !root.exists() {
        return out;
    }
    for d in util::list_dirs(root).unwrap() {
        out.insert(d, None);
    }
    for f in util::list_files(root).unwrap() {
        out.insert(f.clone(), Some(fs::read(root.join(&f)).unwrap()));
    }
    out
}

/// A source tree with the real template and icon, a LICENSE, a model folder with a MediaPipe licence.
fn fake_workspace(dir: &Path) -> PathBuf {
    let ws = dir.join("ws");
    let real = workspace_root().join("resources");
    fs::create_dir_all(ws.join("resources/icon")).unwrap();
    fs::copy(
        real.join("Info.plist.in"),
        ws.join("resources/Info.plist.in"),
    )
    .unwrap();
    let icon = format!("{PLUGIN_ID}.png");
    fs::copy(
        real.join("icon").join(&icon),
        ws.join("resources/icon").join(&icon),
    )
    .unwrap();
    fs::write(ws.join("LICENSE"), "Apache License 2.0 (test)").unwrap();
    fs::create_dir_all(ws.join("resources/models/mediapipe")).unwrap();
    fs::write(ws.join("resources/models/face_landmark.onnx"), b"onnx").unwrap();
    fs::write(
        ws.join("resources/models/mediapipe/LICENSE"),
        "Apache-2.0 (mediapipe)",
    )
    .unwrap();
    fs::write(ws.join("resources/models/.gitkeep"), b"").unwrap();
    ws
}

/// Runtime files with the real names but fake contents.
fn fake_runtime(dir: &Path) -> RuntimeFiles {
    let rt = dir.join("rt");
    fs::create_dir_all(rt.join("licenses")).unwrap();
    for f in [
        "libonnxruntime.so.1.31.1",
        "libonnxruntime_providers_shared.so",
        "licenses/LICENSE",
        "licenses/ThirdPartyNotices.txt",
    ] {
        fs::write(rt.join(f), f.as_bytes()).unwrap();
    }
    RuntimeFiles {
        flavour: Flavour::Cpu,
        version: ORT_VERSION.into(),
        dir: rt.clone(),
        runtime: rt.join("libonnxruntime.so.1.31.1"),
        providers: vec![rt.join("libonnxruntime_providers_shared.so")],
        licenses: vec![
            rt.join("licenses/LICENSE"),
            rt.join("licenses/ThirdPartyNotices.txt"),
        ],
    }
}

fn fake_bundle(dir: &Path) -> PathBuf {
    let ws = fake_workspace(dir);
    let cdylib = dir.join("libliving_portrait.so");
    fs::write(&cdylib, b"\x7fELF fake plugin").unwrap();
    let opts = BundleOptions {
        profile: Profile::Release,
        gpu: false,
        out_dir: dir.join("out"),
        build: false,
        cdylib: Some(cdylib),
        runtime: Some(fake_runtime(dir)),
        workspace: ws,
        crate_licenses: false,
        packs: Vec::new(),
        link: false,
    };
    build_bundle(&opts).unwrap()
}

#[test]
fn info_plist_names_the_executable() {
    let template = fs::read_to_string(workspace_root().join("resources/Info.plist.in")).unwrap();
    let plist = render_info_plist(&template).unwrap();
    assert!(
        plist.contains("<key>CFBundleExecutable</key>\n\t<string>LivingPortrait.ofx</string>"),
        "{plist}"
    );
    assert!(plist.contains("<string>org.livingportrait.LivingPortrait</string>"));
    assert!(plist.contains("<key>CFBundleVersion</key>\n\t<string>1.0.0</string>"));
    assert!(plist.contains("<key>CFBundleShortVersionString</key>\n\t<string>1.0</string>"));
    assert!(plist.contains("<string>BNDL</string>"));
    assert!(!plist.contains('@'), "placeholder left: {plist}");
    assert!(render_info_plist("<string>@NOT_A_KEY@</string>").is_err());
}

#[test]
fn bundle_has_the_ofx_layout() {
    let tmp = TempDir::new("lp-bundle").unwrap();
    let bundle = fake_bundle(tmp.path());
    assert_eq!(bundle, tmp.path().join("out").join(BUNDLE_NAME));
    let c = bundle.join("Contents");
    let arch = arch_dir();
    for f in [
        "Info.plist".to_string(),
        format!("{arch}/LivingPortrait.ofx"),
        format!("{arch}/libonnxruntime.so.1.31.1"),
        format!("{arch}/libonnxruntime_providers_shared.so"),
        format!("Resources/{PLUGIN_ID}.png"),
        "Resources/models/face_landmark.onnx".into(),
        "Resources/models/mediapipe/LICENSE".into(),
        "Resources/licenses/LivingPortrait/LICENSE".into(),
        "Resources/licenses/onnxruntime/LICENSE".into(),
        "Resources/licenses/onnxruntime/ThirdPartyNotices.txt".into(),
        "Resources/licenses/mediapipe/LICENSE".into(),
    ] {
        assert!(c.join(&f).is_file(), "missing {f}");
    }
    assert_eq!(
        fs::read(c.join(arch).join("LivingPortrait.ofx")).unwrap(),
        b"\x7fELF fake plugin"
    );
    assert!(
        !c.join("Resources/models/.gitkeep").exists(),
        "hidden files are not bundled"
    );
    // Nothing but the bundle is left in the output folder (no staging folders).
    let names: Vec<_> = fs::read_dir(tmp.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from(BUNDLE_NAME)]);
}

#[test]
fn linked_bundles_share_the_binaries_and_copied_ones_do_not() {
    use std::os::unix::fs::MetadataExt;
    let tmp = TempDir::new("lp-bundle-link").unwrap();
    let cdylib = tmp.path().join("libliving_portrait.so");
    fs::write(&cdylib, b"\x7fELF fake plugin").unwrap();
    let runtime = fake_runtime(tmp.path());
    let ort = runtime.runtime.clone();
    let inode = |p: &Path| fs::metadata(p).unwrap().ino();
    for link in [true, false] {
        let opts = BundleOptions {
            out_dir: tmp.path().join(format!("out-{link}")),
            build: false,
            cdylib: Some(cdylib.clone()),
            runtime: Some(runtime.clone()),
            workspace: fake_workspace(tmp.path()),
            crate_licenses: false,
            link,
            ..Default::default()
        };
        let bin = build_bundle(&opts).unwrap().join("Contents").join(arch_dir());
        assert_eq!(fs::read(bin.join(BINARY_NAME)).unwrap(), fs::read(&cdylib).unwrap());
        assert_eq!(inode(&bin.join(BINARY_NAME)) == inode(&cdylib), link, "plugin binary, link = {link}");
        assert_eq!(inode(&bin.join(ort.file_name().unwrap())) == inode(&ort), link, "runtime, link = {link}");
    }
}

#[test]
fn failed_bundle_leaves_the_previous_one_intact() {
    let tmp = TempDir::new("lp-bundle-fail").unwrap();
    let bundle = fake_bundle(tmp.path());
    let before = snapshot(&bundle);
    let mut runtime = fake_runtime(tmp.path());
    runtime.providers.push(tmp.path().join("does-not-exist.so"));
    let opts = BundleOptions {
        out_dir: tmp.path().join("out"),
        build: false,
        cdylib: Some(tmp.path().join("libliving_portrait.so")),
        runtime: Some(runtime),
        workspace: tmp.path().join("ws"),
        crate_licenses: false,
        packs: Vec::new(),
        ..Default::default()
    };
    let err = build_bundle(&opts).unwrap_err().to_string();
    assert!(err.contains("does-not-exist.so"), "{err}");
    assert_eq!(snapshot(&bundle), before);
    assert_eq!(
        fs::read_dir(tmp.path().join("out")).unwrap().count(),
        1,
        "staging folder left behind"
    );
}

#[test]
fn missing_plugin_binary_is_a_clear_error() {
    let tmp = TempDir::new("lp-bundle-nobin").unwrap();
    let opts = BundleOptions {
        out_dir: tmp.path().join("out"),
        build: false,
        cdylib: Some(tmp.path().join("nope.so")),
        runtime: Some(fake_runtime(tmp.path())),
        workspace: fake_workspace(tmp.path()),
        crate_licenses: false,
        packs: Vec::new(),
        ..Default::default()
    };
    let err = build_bundle(&opts).unwrap_err().to_string();
    assert!(
        err.contains("does not exist") && err.contains("cargo build"),
        "{err}"
    );
    assert!(!tmp.path().join("out").join(BUNDLE_NAME).exists());
}

#[test]
fn install_then_uninstall_leaves_the_prefix_as_it_was() {
    let tmp = TempDir::new("lp-install").unwrap();
    let bundle = fake_bundle(tmp.path());
    let prefix = tmp.path().join("plugins");
    fs::create_dir_all(prefix.join("Other.ofx.bundle/Contents")).unwrap();
    fs::write(
        prefix.join("Other.ofx.bundle/Contents/Info.plist"),
        "other plugin",
    )
    .unwrap();
    fs::write(prefix.join("notes.txt"), "keep me").unwrap();
    let before = snapshot(&prefix);

    let report = install(&bundle, &prefix).unwrap();
    assert!(!report.replaced);
    assert!(report.manifest.is_file());
    let manifest = fs::read_to_string(&report.manifest).unwrap();
    assert!(manifest.contains("LivingPortrait.ofx.bundle/Contents/Info.plist"));
    assert!(manifest.contains(&format!(
        "LivingPortrait.ofx.bundle/Contents/Resources/{MANIFEST_NAME}"
    )));
    assert_eq!(
        fs::read(report.bundle.join("Contents/Info.plist")).unwrap(),
        fs::read(bundle.join("Contents/Info.plist")).unwrap()
    );
    // Exactly one new entry in the prefix: the bundle.
    assert_eq!(fs::read_dir(&prefix).unwrap().count(), 3);

    // Installing again replaces our own installation.
    let again = install(&bundle, &prefix).unwrap();
    assert!(again.replaced);

    let un = uninstall(&prefix).unwrap();
    assert!(un.was_installed && un.left.is_empty());
    assert_eq!(un.removed_files, report.files);
    assert_eq!(snapshot(&prefix), before);
    // A second uninstall has nothing to do.
    assert!(!uninstall(&prefix).unwrap().was_installed);
}

#[test]
fn uninstall_removes_folders_install_created_and_keeps_user_files() {
    let tmp = TempDir::new("lp-install-nested").unwrap();
    let bundle = fake_bundle(tmp.path());
    let prefix = tmp.path().join("a/b/OFX/Plugins");
    install(&bundle, &prefix).unwrap();
    uninstall(&prefix).unwrap();
    assert!(
        !tmp.path().join("a").exists(),
        "folders created by install must go again"
    );

    install(&bundle, &prefix).unwrap();
    let user_file = prefix
        .join(BUNDLE_NAME)
        .join("Contents/Resources/my-preset.txt");
    fs::write(&user_file, "mine").unwrap();
    let report = uninstall(&prefix).unwrap();
    assert_eq!(report.left, vec![user_file.clone()]);
    assert_eq!(fs::read_to_string(&user_file).unwrap(), "mine");
    assert!(!prefix
        .join(BUNDLE_NAME)
        .join("Contents/Info.plist")
        .exists());
}

#[test]
fn foreign_folder_is_never_clobbered() {
    let tmp = TempDir::new("lp-foreign").unwrap();
    let bundle = fake_bundle(tmp.path());
    let prefix = tmp.path().join("plugins");
    let foreign = prefix.join(BUNDLE_NAME);
    fs::create_dir_all(foreign.join("Contents")).unwrap();
    fs::write(foreign.join("Contents/Info.plist"), "someone else's").unwrap();
    let before = snapshot(&prefix);

    let err = install(&bundle, &prefix).unwrap_err();
    assert!(matches!(err, InstallError::Foreign { .. }), "{err}");
    assert!(
        err.to_string().contains("not installed by this installer"),
        "{err}"
    );
    let err = uninstall(&prefix).unwrap_err();
    assert!(matches!(err, InstallError::Foreign { .. }), "{err}");
    assert_eq!(snapshot(&prefix), before);
}

#[test]
fn tampered_manifest_removes_nothing() {
    let tmp = TempDir::new("lp-tamper").unwrap();
    let bundle = fake_bundle(tmp.path());
    let prefix = tmp.path().join("plugins");
    fs::create_dir_all(&prefix).unwrap();
    fs::write(tmp.path().join("victim.txt"), "do not delete").unwrap();
    let report = install(&bundle, &prefix).unwrap();
    let mut manifest = fs::read_to_string(&report.manifest).unwrap();
    manifest.push_str("file - - LivingPortrait.ofx.bundle/../../victim.txt\n");
    fs::write(&report.manifest, manifest).unwrap();
    let before = snapshot(tmp.path());
    assert!(uninstall(&prefix).is_err());
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn unwritable_prefix_names_the_alternatives() {
    let err = InstallError::NotWritable {
        dir: PathBuf::from("/usr/OFX/Plugins"),
        source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
    }
    .to_string();
    assert!(
        err.contains("--prefix DIR") && err.contains("OFX_PLUGIN_PATH"),
        "{err}"
    );
}

fn leaked_pin(sha256: String, filename: &str) -> WheelPin {
    WheelPin {
        flavour: Flavour::Cpu,
        os: "test",
        arch: "test",
        package: "onnxruntime",
        platform_tag: "test",
        filename: Box::leak(filename.to_string().into_boxed_str()),
        sha256: Box::leak(sha256.into_boxed_str()),
        runtime: "onnxruntime/capi/libonnxruntime.so.1.31.1",
        providers: &["onnxruntime/capi/libonnxruntime_providers_shared.so"],
        licenses: &["onnxruntime/LICENSE", "onnxruntime/ThirdPartyNotices.txt"],
    }
}

fn fake_wheel_bytes() -> Vec<u8> {
    use std::io::Write;
    let mut w = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in [
        ("onnxruntime/capi/libonnxruntime.so.1.31.1", &b"runtime"[..]),
        (
            "onnxruntime/capi/libonnxruntime_providers_shared.so",
            b"shared",
        ),
        ("onnxruntime/LICENSE", b"MIT"),
        ("onnxruntime/ThirdPartyNotices.txt", b"notices"),
    ] {
        let opts = ::zip::write::SimpleFileOptions::default()
            .compression_method(::zip::CompressionMethod::Stored);
        w.start_file(name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A wheel whose bytes carry the pinned hash but whose member does not match its CRC-32 (damaged before it was
/// pinned, or a pin made from a bad download) is refused with a sentence, and nothing reaches the cache.
#[test]
fn wheel_with_bad_crc_is_refused() {
    let tmp = TempDir::new("lp-crc").unwrap();
    let mut bytes = fake_wheel_bytes();
    // The stored data "runtime" follows its member's name in the local header.
    let at = bytes
        .windows(13)
        .position(|w| w == b"1.31.1runtime")
        .unwrap()
        + 6;
    bytes[at] = b'R';
    let wheel = tmp.path().join("onnxruntime-fake.whl");
    fs::write(&wheel, &bytes).unwrap();
    let pin = leaked_pin(sha256::hex_digest(&bytes), "onnxruntime-fake.whl");
    let cache = tmp.path().join("cache");
    let err = ensure_runtime_from(&pin, &cache, Some(&wheel))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("libonnxruntime.so.1.31.1") && err.contains("the wheel is damaged"),
        "{err}"
    );
    assert!(!cache.join(format!("cpu-{ORT_VERSION}")).exists());
    assert_eq!(
        fs::read_dir(&cache).unwrap().count(),
        0,
        "staging folder left behind"
    );
}

#[test]
fn wheel_with_wrong_hash_is_refused() {
    let tmp = TempDir::new("lp-hash").unwrap();
    let wheel = tmp.path().join("onnxruntime-fake.whl");
    fs::write(&wheel, fake_wheel_bytes()).unwrap();
    let pin = leaked_pin("0".repeat(64), "onnxruntime-fake.whl");
    let cache = tmp.path().join("cache");

    // Supplied through the offline override...
    let err = ensure_runtime_from(&pin, &cache, Some(&wheel)).unwrap_err();
    assert!(matches!(err, InstallError::HashMismatch { .. }), "{err}");
    assert!(err.to_string().contains("pinned SHA-256"), "{err}");
    // ...or found in the cache: refused either way, and nothing is extracted.
    fs::create_dir_all(&cache).unwrap();
    fs::copy(&wheel, cache.join("onnxruntime-fake.whl")).unwrap();
    let err = ensure_runtime_from(&pin, &cache, None).unwrap_err();
    assert!(matches!(err, InstallError::HashMismatch { .. }), "{err}");
    assert!(!cache.join(format!("cpu-{ORT_VERSION}")).exists());
}

#[test]
fn wheel_with_pinned_hash_is_extracted_once() {
    let tmp = TempDir::new("lp-wheel").unwrap();
    let bytes = fake_wheel_bytes();
    let wheel = tmp.path().join("onnxruntime-fake.whl");
    fs::write(&wheel, &bytes).unwrap();
    let pin = leaked_pin(sha256::hex_digest(&bytes), "onnxruntime-fake.whl");
    let cache = tmp.path().join("cache");
    // The override may also name the folder that holds the wheel.
    let files = ensure_runtime_from(&pin, &cache, Some(tmp.path())).unwrap();
    assert_eq!(
        files.runtime,
        cache.join(format!("cpu-{ORT_VERSION}/libonnxruntime.so.1.31.1"))
    );
    assert_eq!(fs::read(&files.runtime).unwrap(), b"runtime");
    assert_eq!(fs::read(&files.providers[0]).unwrap(), b"shared");
    assert_eq!(fs::read(&files.licenses[1]).unwrap(), b"notices");
    // Cached: works without any wheel at all.
    fs::remove_file(&wheel).unwrap();
    let again = ensure_runtime_from(&pin, &cache, None).unwrap();
    assert_eq!(again.runtime, files.runtime);
}

#[test]
fn every_pin_is_well_formed() {
    for pin in PINNED_WHEELS {
        assert_eq!(pin.sha256.len(), 64, "{}", pin.filename);
        assert!(pin
            .sha256
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(pin.filename.contains(ORT_VERSION) && pin.filename.ends_with(".whl"));
        assert!(pin.filename.contains(pin.platform_tag));
        assert!(pin.runtime.contains(ORT_VERSION) || pin.runtime.ends_with(".dll"));
    }
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        assert!(pinned_wheel(false)
            .unwrap()
            .runtime
            .ends_with("libonnxruntime.so.1.31.1"));
        assert!(pinned_wheel(true)
            .unwrap()
            .providers
            .iter()
            .any(|p| p.ends_with("libonnxruntime_providers_cuda.so")));
    }
}

#[test]
fn demo_without_portrait_is_a_clear_error() {
    let tmp = TempDir::new("lp-demo").unwrap();
    let opts = DemoOptions {
        plugin_dir: tmp.path().to_path_buf(),
        renderer: tmp.path().join("ofx-render"),
        workspace: tmp.path().to_path_buf(),
        out_dir: tmp.path().join("demo"),
    };
    let err = render_demo(&opts).unwrap_err().to_string();
    assert!(
        err.contains("astronaut.png") && err.contains("does not exist"),
        "{err}"
    );
    assert!(demo_extra_args(tmp.path()).is_empty());
}

#[test]
fn preview_gif_is_written() {
    let tmp = TempDir::new("lp-gif").unwrap();
    let mut frames = Vec::new();
    for i in 0..3u8 {
        let img =
            image::RgbaImage::from_fn(16, 8, |x, _| image::Rgba([x as u8 * 16, i * 80, 0, 255]));
        let p = tmp.path().join(format!("frame_{i:04}.png"));
        img.save(&p).unwrap();
        frames.push(p);
    }
    let gif = tmp.path().join("preview.gif");
    make_gif(&frames, &gif, 24).unwrap();
    let bytes = fs::read(&gif).unwrap();
    assert!(bytes.starts_with(b"GIF89a"));
    assert!(make_gif(&[], &gif, 24).is_err());
}

/// The demo end to end with a stand-in for ofx-render (a shell script that copies the input to every
/// frame and records its arguments): checks the command line the demo builds and the GIF it writes.
#[cfg(unix)]
#[test]
fn demo_renders_through_the_given_plugin_folder() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = TempDir::new("lp-demo-run").unwrap();
    let bundle = fake_bundle(tmp.path());
    let ws = tmp.path().join("ws");
    fs::create_dir_all(ws.join("resources/demo")).unwrap();
    image::RgbaImage::from_pixel(8, 8, image::Rgba([200, 150, 100, 255]))
        .save(ws.join("resources/demo/astronaut.png"))
        .unwrap();
    let script = tmp.path().join("fake-ofx-render");
    let log = tmp.path().join("args.txt");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nsrc=''; out=''\n\
             while [ $# -gt 0 ]; do case \"$1\" in --input) src=\"${{2#Source=}}\"; shift;; --out) out=\"$2\"; shift;; esac; shift; done\n\
             for i in $(seq {} {}); do f=$(printf \"$out\" \"$i\"); cp \"$src\" \"$f\"; done\n",
            log.display(),
            DEMO_FRAMES.0,
            DEMO_FRAMES.1
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let opts = DemoOptions {
        plugin_dir: bundle.parent().unwrap().to_path_buf(),
        renderer: script,
        workspace: ws.clone(),
        out_dir: tmp.path().join("demo"),
    };
    let gif = render_demo(&opts).unwrap();
    assert_eq!(gif, tmp.path().join("demo/preview.gif"));
    assert!(fs::read(&gif).unwrap().starts_with(b"GIF89a"));
    assert!(tmp
        .path()
        .join(format!("demo/frame_{:04}.png", DEMO_FRAMES.1))
        .is_file());
    let args: Vec<String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let expect_after = |flag: &str| args[args.iter().position(|a| a == flag).unwrap() + 1].clone();
    assert_eq!(
        expect_after("--plugin-path"),
        opts.plugin_dir.display().to_string()
    );
    assert_eq!(expect_after("--plugin"), PLUGIN_ID);
    assert_eq!(
        expect_after("--frames"),
        format!("{}-{}", DEMO_FRAMES.0, DEMO_FRAMES.1)
    );
    assert!(expect_after("--input").starts_with("Source=/"));
    assert!(expect_after("--out").ends_with("demo/frame_%04d.png"));
}

#[test]
fn writability_check_leaves_nothing_behind() {
    let tmp = TempDir::new("lp-writable").unwrap();
    let before = snapshot(tmp.path());
    check_writable(tmp.path()).unwrap();
    check_writable(&tmp.path().join("not/yet/there")).unwrap();
    assert_eq!(snapshot(tmp.path()), before);
    fs::write(tmp.path().join("file"), "x").unwrap();
    let err = check_writable(&tmp.path().join("file/sub")).unwrap_err();
    assert!(matches!(err, InstallError::NotWritable { .. }), "{err}");
}

/// Every crate that `cargo tree` says is compiled into the plugin or ofx-render (normal dependencies, proc
/// macros' own dependencies left out) must have its licence in the bundle's notices: a licence or notice file
/// of its own, or DECLARED.txt when it publishes none. A new dependency is picked up without editing a list;
/// this fails when one is missed.
#[test]
fn every_shipped_crate_has_its_licence() {
    let tmp = TempDir::new("lp-crates").unwrap();
    let dest = tmp.path().join("rust-crates");
    let n = match collect_crate_licenses(&workspace_root(), &dest) {
        Ok(n) => n,
        // Without cargo (a test binary run by hand) there is nothing to check.
        Err(e)
            if e.to_string().contains("could not run cargo metadata")
                && std::env::var_os("CARGO").is_none() =>
        {
            return
        }
        Err(e) => panic!("{e}"),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "tree",
            "-p",
            "living-portrait",
            "-p",
            "ofx",
            "-e",
            "normal,no-proc-macro",
        ])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = fs::read_to_string(dest.join("CRATES.txt")).unwrap();
    let mut expected = std::collections::BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let line = line.trim_end_matches(" (*)");
        // Workspace members (`ofx v1.0.0 (/path)`) are covered by our own LICENSE.
        if line.trim().is_empty() || line.contains(" (/") || line.contains(":\\") {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (name, version) = (
            parts.next().unwrap(),
            parts.next().unwrap().trim_start_matches('v'),
        );
        expected.insert(format!("{name}-{version}"));
        let folder = dest.join(format!("{name}-{version}"));
        let files: Vec<String> = fs::read_dir(&folder)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            files.iter().any(|f| is_notice_file(f) || f == "DECLARED.txt"),
            "{name} {version} ships in the plugin or ofx-render but the bundle has no licence for it ({files:?})"
        );
        assert!(
            list.contains(&format!("\n{name} {version}  ")),
            "{name} {version} is not in CRATES.txt"
        );
    }
    assert!(
        expected.iter().any(|c| c.starts_with("image-")),
        "{expected:?}"
    );
    // cargo metadata unifies features across the workspace, so a few extra crates are fine; fewer are not.
    assert!(n >= expected.len(), "{n} listed, {} shipped:\n{list}", expected.len());
    assert!(
        !list
            .lines()
            .any(|l| l.starts_with("living-portrait ") || l.starts_with("ofx ")),
        "workspace members are covered by our own LICENSE"
    );
}

#[test]
fn only_runtime_model_files_go_into_the_bundle() {
    use std::path::Path;
    for (p, keep) in [
        ("face_mesh_attention.onnx", true),
        ("SHA256SUMS", true),
        ("mesh68.json", true),
        ("warp/manifest.json", true),
        ("README.md", true),
        ("LICENSE-mediapipe.txt", true),
        ("NOTICE", true),
        ("convert.py", false),
        ("requirements-convert.txt", false),
        ("warp/check/jaw.png", false),
        ("warp/build_warp.py", false),
        ("fewshot_test/embedder.onnx", false),
    ] {
        assert_eq!(installer::is_runtime_model_file(Path::new(p)), keep, "{p}");
    }
}

/// A pip that fails (here a stand-in script: a line on stdout, the reason on stderr, exit 1) is reported as one
/// sentence that carries pip's reason, whether or not a spinner is showing pip's output.
#[cfg(unix)]
#[test]
fn failed_pip_download_is_a_sentence() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = TempDir::new("lp-pip").unwrap();
    let script = tmp.path().join("fake-python");
    fs::write(
        &script,
        "#!/bin/sh\necho 'Collecting onnxruntime==1.31.1'\necho 'ERROR: no network here' >&2\nexit 1\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    // Only the download reads this variable, and no other test downloads.
    std::env::set_var("LIVING_PORTRAIT_PYTHON", &script);
    let pin = leaked_pin("0".repeat(64), "onnxruntime-fake.whl");
    let cache = tmp.path().join("cache");
    let err = ensure_runtime_from(&pin, &cache, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("could not download onnxruntime==1.31.1 with pip")
            && err.contains("ERROR: no network here"),
        "{err}"
    );
    assert_eq!(
        fs::read_dir(&cache).unwrap().count(),
        0,
        "download folder left behind"
    );
}
