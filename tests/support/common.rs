//! Shared support for the integration tests: a real bundle of the built plugin
//! (the cdylib cargo just built for these tests, with the pinned ONNX Runtime
//! beside it when a test needs one), loaded by the headless host through its C
//! entry points, plus test images.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ofx::host::*;

/// The plugin identifier.
pub const ID: &str = "org.livingportrait.LivingPortrait";

/// The cargo profile folder the test executable lives in (`target/debug`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash>
    exe.parent().and_then(Path::parent).expect("profile dir").to_path_buf()
}

/// Build the plugin cdylib and `ofx-render` for this test run's profile, once
/// per test process. `cargo test` builds the library only as an rlib for the
/// tests, so without this the tests would load a stale (or missing) plugin.
fn build_artifacts() {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let profile_args: &[&str] = if profile_dir().ends_with("release") { &["--release"] } else { &[] };
        let st = std::process::Command::new(cargo)
            .args(["build", "-p", "living-portrait", "--lib", "-p", "ofx", "--bin", "ofx-render"])
            .args(profile_args)
            .current_dir(installer::workspace_root())
            .status()
            .expect("run cargo build for the plugin and ofx-render");
        assert!(st.success(), "could not build the plugin and ofx-render");
    });
}

/// The plugin cdylib built for this test run.
pub fn cdylib() -> PathBuf {
    build_artifacts();
    let p = profile_dir().join(installer::cdylib_file_name());
    assert!(p.is_file(), "the plugin library {} was not built", p.display());
    p
}

/// The `ofx-render` executable built for this test run.
pub fn ofx_render() -> PathBuf {
    build_artifacts();
    profile_dir().join(format!("ofx-render{}", std::env::consts::EXE_SUFFIX))
}

/// A folder holding a freshly assembled `LivingPortrait.ofx.bundle` made from the
/// test build of the plugin, with the pinned CPU ONNX Runtime (fetched and cached
/// on first use) and the models. One per test executable.
pub fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let stem = exe.file_stem().unwrap().to_string_lossy().into_owned();
        let out = installer::target_dir().join("test-bundles").join(stem);
        let opts = installer::BundleOptions {
            profile: installer::Profile::Debug,
            gpu: false,
            out_dir: out.clone(),
            build: false,
            cdylib: Some(cdylib()),
            runtime: None,
            workspace: installer::workspace_root(),
            crate_licenses: false,
            packs: Vec::new(),
            link: true,
        };
        installer::build_bundle(&opts).unwrap_or_else(|e| panic!("could not assemble the test bundle: {e}"));
        out
    })
}

/// The bundle folder itself.
pub fn bundle() -> PathBuf {
    plugin_dir().join("LivingPortrait.ofx.bundle")
}

/// The file whose first line the Browse button's dialog command prints (a
/// missing or empty file is a cancelled dialog).
pub fn browse_answer_file() -> PathBuf {
    installer::target_dir().join("test-output").join(format!("browse-answer-{}.txt", std::process::id()))
}

/// The environment the plugin reads, set once per test process before any
/// plugin is loaded: the cached ONNX Runtime (fetched on first use) and a
/// Browse dialog stand-in that answers from [`browse_answer_file`]. Setting
/// variables while plugin threads read the environment would race (the
/// plugin has its own copy of the standard library's environment lock), so
/// tests change files, never variables, after this.
pub fn test_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let files = installer::ensure_onnxruntime(false).unwrap_or_else(|e| panic!("the tests need ONNX Runtime: {e}"));
        let answer = browse_answer_file();
        std::fs::create_dir_all(answer.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&answer);
        std::env::set_var("LIVING_PORTRAIT_ORT_LIB", &files.runtime);
        std::env::set_var(
            "LIVING_PORTRAIT_BROWSE_COMMAND",
            format!("f='{}'; test -s \"$f\" && head -n 1 \"$f\" || exit 1", answer.display()),
        );
    });
}

/// The face analyzer on the repository's models, with the cached ONNX Runtime (to read rendered frames).
pub fn analyzer() -> living_portrait::face::FaceAnalyzer {
    test_env();
    living_portrait::face::FaceAnalyzer::with_models_dir(
        installer::workspace_root().join("resources/models"),
        living_portrait::inference::Device::Cpu,
    )
}

/// A host image (bottom-up RGBA float) as the analyzer's top-down RGB8 image.
pub fn to_face_image(img: &HostImage) -> living_portrait::face::FaceImage {
    let (w, h) = (img.width as usize, img.height as usize);
    let mut rgb = Vec::with_capacity(w * h * 3);
    for row in (0..h).rev() {
        for x in 0..w {
            let i = (row * w + x) * 4;
            for c in 0..3 {
                rgb.push((img.pixels[i + c].clamp(0.0, 1.0) * 255.0).round() as u8);
            }
        }
    }
    living_portrait::face::FaceImage::new(w as u32, h as u32, rgb).unwrap()
}

/// A host with the given options, the plugin loaded.
pub fn load(options: HostOptions) -> (Host, Plugin) {
    test_env();
    let host = Host::new(options);
    let plugin = host.load(&bundle(), ID).unwrap_or_else(|e| panic!("load failed: {e}"));
    (host, plugin)
}

/// A filter-context instance with `Source` set to `img`.
pub fn instance_with(plugin: &Plugin, img: HostImage) -> Instance {
    let mut inst = plugin.create_instance(Context::Filter).expect("create instance");
    inst.set_input("Source", ClipInput::Still(img)).expect("set input");
    inst
}

/// Quantise a value to what a depth can hold exactly.
pub fn quantise(v: f32, depth: Depth) -> f32 {
    match depth {
        Depth::Byte => (v * 255.0).round() / 255.0,
        Depth::Short => (v * 65535.0).round() / 65535.0,
        Depth::Float => v,
    }
}

/// A deterministic test image whose values are exactly representable at `depth`
/// (a gradient plus a hash pattern, so any pixel shift or channel swap shows).
pub fn pattern(width: u32, height: u32, components: Components, depth: Depth) -> HostImage {
    let mut img = HostImage::new(width, height, components);
    let mut state: u32 = 0x9e37_79b9;
    for y in 0..height as i32 {
        for x in 0..width as i32 {
            let mut px = [0.0f32; 4];
            for (c, v) in px.iter_mut().enumerate() {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let noise = (state % 1000) as f32 / 1000.0;
                let grad = (x as f32 / width as f32 + y as f32 / height as f32 + c as f32 * 0.25) % 1.0;
                *v = quantise(0.5 * grad + 0.5 * noise, depth);
            }
            if components == Components::Rgb {
                px[3] = 1.0;
            }
            img.set_pixel(x, y, px);
        }
    }
    img
}

/// The demo portrait.
pub fn astronaut() -> HostImage {
    HostImage::load(&installer::workspace_root().join("resources/demo/astronaut.png")).expect("astronaut.png")
}

/// Largest absolute difference of two images over their common bounds, and
/// whether their bounds agree.
pub fn max_diff(a: &HostImage, b: &HostImage) -> (f32, bool) {
    let same = a.bounds() == b.bounds();
    let r = a.bounds().intersect(&b.bounds());
    let mut m = 0.0f32;
    for y in r.y1..r.y2 {
        for x in r.x1..r.x2 {
            let (p, q) = (a.pixel(x, y).unwrap(), b.pixel(x, y).unwrap());
            for c in 0..4 {
                let d = (p[c] - q[c]).abs();
                if d.is_nan() || d > m {
                    m = if d.is_nan() { f32::INFINITY } else { d };
                }
            }
        }
    }
    (m, same)
}

/// Distance between the eye centres of 68 landmarks (the face's natural unit), as the plugin computes it.
pub fn iod(l: &living_portrait::landmarks::Landmarks68) -> f32 {
    living_portrait::landmarks::inter_ocular(&living_portrait::landmarks::to_f64(l)) as f32
}
