//! The `living-portrait` command line, run as a subprocess: each run is its own process, which is also how the
//! once-per-process runtime cases are tested (a missing or unloadable runtime, the CUDA build of the runtime
//! without CUDA). Errors must be exit code 1 with one sentence on stderr.

#[path = "support/face_common.rs"]
mod face_common;

use std::path::Path;
use std::process::{Command, Output};

use face_common::*;
use living_portrait::json::Json;
use living_portrait::track::LandmarkTrack;

fn cli(args: &[&str], ort_lib: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_living-portrait"))
        .args(args)
        .env("LIVING_PORTRAIT_ORT_LIB", ort_lib)
        .env_remove("LIVING_PORTRAIT_MODELS_DIR")
        .output()
        .expect("the CLI runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit code 1 and exactly one line on stderr that contains every `parts`.
fn assert_one_sentence_failure(out: &Output, parts: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected: {err}");
    assert!(err.trim_end().ends_with('.'), "a sentence: {err}");
    for p in parts {
        assert!(err.contains(p), "{p:?} not in: {err}");
    }
}

fn astronaut_path() -> String {
    workspace().join("resources/demo/astronaut.png").display().to_string()
}

#[test]
fn detect_json_gives_68_landmarks_close_to_mediapipe() {
    let out = cli(&["detect", &astronaut_path(), "--json", "--mesh"], &runtime_library());
    assert!(out.status.success(), "{}", stderr(&out));
    let root = Json::parse(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(root.get("coordinates").and_then(Json::as_str), Some("image-pixels-top-left"));
    let faces = root.get("faces").and_then(Json::as_array).unwrap();
    assert_eq!(faces.len(), 1);
    let face = &faces[0];
    assert!(face.get("score").and_then(Json::as_f64).unwrap() >= 0.9);
    let points = |key: &str| -> Vec<[f32; 2]> {
        face.get(key)
            .and_then(Json::as_array)
            .unwrap()
            .iter()
            .map(|p| {
                let p = p.as_array().unwrap();
                [p[0].as_f64().unwrap() as f32, p[1].as_f64().unwrap() as f32]
            })
            .collect()
    };
    let l68 = points("landmarks68");
    assert_eq!(l68.len(), 68);
    assert!(mean_distance(&l68, &reference().ibug68) < 1.5);
    assert_eq!(points("mesh468").len(), 468);
}

#[test]
fn missing_runtime_is_one_clear_sentence() {
    let missing = Path::new("/nonexistent/dir/libonnxruntime.so.1.31.1");
    let out = cli(&["detect", &astronaut_path()], missing);
    assert_one_sentence_failure(
        &out,
        &["ONNX Runtime 1.31.1", "was not found", "/nonexistent/dir/libonnxruntime.so.1.31.1"],
    );
}

#[test]
fn unloadable_runtime_is_one_clear_sentence() {
    let dir = TempDir::new("badlib").expect("a temporary folder");
    let fake = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&fake, b"not a shared library").unwrap();
    let out = cli(&["info"], &fake);
    assert_one_sentence_failure(&out, &["could not be loaded", &fake.display().to_string()]);
}

#[test]
fn unreadable_image_and_no_face_are_errors() {
    let ort = runtime_library();
    let out = cli(&["detect", "/nonexistent/portrait.png"], &ort);
    assert_one_sentence_failure(&out, &["/nonexistent/portrait.png", "could not be read"]);

    let dir = TempDir::new("noface").expect("a temporary folder");
    let blank = dir.path().join("blank.png");
    image::RgbImage::from_pixel(320, 240, image::Rgb([90, 90, 90])).save(&blank).unwrap();
    let out = cli(&["detect", &blank.display().to_string()], &ort);
    assert_one_sentence_failure(&out, &["No face was found", "blank.png"]);

    let out = cli(&["detect"], &ort);
    assert_one_sentence_failure(&out, &["needs an IMAGE"]);
    let out = cli(&["frobnicate"], &ort);
    assert_one_sentence_failure(&out, &["Unknown command"]);
}

#[test]
fn every_command_has_help_and_bad_options_are_one_sentence() {
    let ort = runtime_library();
    for command in ["detect", "track", "matte", "bench", "info"] {
        let out = cli(&[command, "--help"], &ort);
        assert!(out.status.success(), "{command} --help: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("Usage: living-portrait {command}")), "{text}");
    }
    let out = cli(&[], &ort);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Commands:"));
    assert_one_sentence_failure(&cli(&["track", "f_%04d.png", "--fps", "-2"], &ort), &["--fps must be a positive number"]);
    assert_one_sentence_failure(&cli(&["detect", "--frobnicate"], &ort), &["--frobnicate"]);
    assert_one_sentence_failure(&cli(&["info", "--device", "tpu"], &ort), &["--device must be auto, gpu or cpu"]);
}

#[test]
fn detect_reads_a_jpeg_portrait() {
    // `detect` used to refuse JPEG ("The image format Jpeg is not supported").
    let dir = TempDir::new("jpeg").expect("a temporary folder");
    let jpeg = dir.path().join("astronaut.jpg");
    image::open(astronaut_path()).unwrap().to_rgb8().save(&jpeg).unwrap();
    let out = cli(&["detect", &jpeg.display().to_string(), "--json"], &runtime_library());
    assert!(out.status.success(), "{}", stderr(&out));
    let root = Json::parse(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(root.get("faces").and_then(Json::as_array).map(<[Json]>::len), Some(1));
}

#[test]
fn track_marks_frames_without_a_face_missing() {
    let ort = runtime_library();
    let dir = TempDir::new("track").expect("a temporary folder");
    let astronaut = workspace().join("resources/demo/astronaut.png");
    std::fs::copy(&astronaut, dir.path().join("f_0001.png")).unwrap();
    image::RgbImage::from_pixel(512, 512, image::Rgb([0, 0, 0])).save(dir.path().join("f_0002.png")).unwrap();
    std::fs::copy(&astronaut, dir.path().join("f_0010.png")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a frame").unwrap();
    let pattern = dir.path().join("f_%04d.png").display().to_string();
    let out_path = dir.path().join("track.json");
    let out = cli(&["track", &pattern, "--out", &out_path.display().to_string(), "--fps", "24"], &ort);
    assert!(out.status.success(), "{}", stderr(&out));
    let track = LandmarkTrack::read(&out_path).unwrap();
    assert_eq!(track.image_size, [512, 512]);
    assert_eq!(track.fps, Some(24.0));
    let numbers: Vec<u32> = track.frames.iter().map(|f| f.frame).collect();
    assert_eq!(numbers, vec![1, 2, 10]);
    assert!(track.frames[1].landmarks.is_none());
    let first = track.frames[0].landmarks.unwrap();
    assert_eq!(Some(first), track.frames[2].landmarks, "the same image gives the same landmarks");
    assert!(mean_distance(&first, &reference().ibug68) < 1.5);
    // The face mesh model's iris centres ride along (for gazeFromTrack), each inside its eye.
    assert_eq!(track.irises.iter().map(|i| i.0).collect::<Vec<_>>(), vec![1, 10]);
    for (k, eye) in [36..42, 42..48].into_iter().enumerate() {
        let (xs, ys): (Vec<f32>, Vec<f32>) = eye.map(|i| (first[i][0], first[i][1])).unzip();
        let inside = |v: f32, s: &[f32]| v > s.iter().cloned().fold(f32::MAX, f32::min) && v < s.iter().cloned().fold(f32::MIN, f32::max);
        let iris = track.irises[0].1[k];
        assert!(inside(iris[0], &xs) && inside(iris[1], &ys), "iris {k} at {iris:?} is not inside its eye");
    }

    // Frames of different sizes cannot share a track.
    image::RgbImage::from_pixel(100, 100, image::Rgb([0, 0, 0])).save(dir.path().join("f_0003.png")).unwrap();
    let out = cli(&["track", &pattern, "--out", &out_path.display().to_string()], &ort);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("f_0003.png is 100×100"), "{}", stderr(&out));
}

#[test]
fn matte_writes_an_image_of_the_input_size() {
    let dir = TempDir::new("matte").expect("a temporary folder");
    let out_path = dir.path().join("matte.png");
    let out = cli(&["matte", &astronaut_path(), "--out", &out_path.display().to_string()], &runtime_library());
    assert!(out.status.success(), "{}", stderr(&out));
    let matte = image::open(&out_path).unwrap().to_luma8();
    assert_eq!(matte.dimensions(), (512, 512));
    assert!(matte.get_pixel(225, 130).0[0] > 230);
}

/// The CUDA build of the runtime (when the installer's cache has it) on a machine without CUDA: the GPU is
/// asked for, the provider is present but cannot start, and the CPU runs with that reason.
#[test]
fn cuda_runtime_without_cuda_falls_back_with_the_reason() {
    let gpu_runtime = workspace().join("target/onnxruntime-cache/gpu-1.31.1/libonnxruntime.so.1.31.1");
    if !gpu_runtime.is_file() {
        eprintln!("skipped: no GPU runtime in the installer's cache ({})", gpu_runtime.display());
        return;
    }
    let out = cli(&["info", "--device", "gpu"], &gpu_runtime);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    if text.contains("used CUDA") {
        eprintln!("this machine runs CUDA: {text}");
        return;
    }
    assert!(text.contains("requested GPU, used CPU"), "{text}");
    assert!(text.contains("CUDA execution provider failed to start"), "{text}");
}
