//! Shared set-up for the face tests: ONNX Runtime through the installer's verified cache (or the
//! `LIVING_PORTRAIT_ORT_LIB` override), the demo portrait, MediaPipe's reference results, and temporary folders.
//! Each test binary includes this file as a module; not every binary uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use living_portrait::json::Json;
use living_portrait::face::FaceImage;
use living_portrait::inference::{self, ORT_LIB_ENV};

/// Points ONNX Runtime at the CPU runtime: the env override when set, else the installer's cache (fetched and
/// verified on first use). Returns the library's path.
pub fn runtime_library() -> PathBuf {
    static FOUND: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            if let Some(v) = std::env::var_os(ORT_LIB_ENV).filter(|v| !v.is_empty()) {
                return PathBuf::from(v);
            }
            let files = installer::ensure_onnxruntime(false)
                .unwrap_or_else(|e| panic!("the face tests need ONNX Runtime: {e}"));
            inference::set_runtime_library(files.runtime.clone());
            files.runtime
        })
        .clone()
}

pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn astronaut() -> FaceImage {
    FaceImage::open(&workspace().join("resources/demo/astronaut.png")).expect("the demo portrait loads")
}

pub fn models_dir() -> PathBuf {
    workspace().join("resources/models")
}

/// MediaPipe's own results on the astronaut (tests/data/astronaut_reference.json).
pub struct Reference {
    pub score: f32,
    pub box_xywh: [f32; 4],
    pub keypoints: Vec<[f32; 2]>,
    pub mesh: Vec<[f32; 3]>,
    pub ibug68: Vec<[f32; 2]>,
}

fn numbers(v: &Json) -> Vec<f32> {
    v.as_array().expect("an array").iter().map(|n| n.as_f64().expect("a number") as f32).collect()
}

pub fn reference() -> Reference {
    let text = std::fs::read_to_string(workspace().join("tests/data/astronaut_reference.json")).unwrap();
    let root = Json::parse(&text).unwrap();
    let det = root.get("detection").unwrap();
    let b = numbers(det.get("box_xywh").unwrap());
    let pairs = |v: &Json| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let n = numbers(p);
                [n[0], n[1]]
            })
            .collect()
    };
    Reference {
        score: det.get("score").unwrap().as_f64().unwrap() as f32,
        box_xywh: [b[0], b[1], b[2], b[3]],
        keypoints: pairs(det.get("keypoints").unwrap()),
        mesh: root
            .get("mesh")
            .and_then(|m| m.get("points_xyz"))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let n = numbers(p);
                [n[0], n[1], n[2]]
            })
            .collect(),
        ibug68: pairs(root.get("ibug68").and_then(|m| m.get("points_xy")).unwrap()),
    }
}

/// A fresh, empty temporary folder, removed when dropped (the installer's).
pub use installer::util::TempDir;

/// Copies the three models and their SHA256SUMS into a temporary folder, to be damaged by a test.
pub fn copy_models(tag: &str) -> TempDir {
    let dir = TempDir::new(tag).expect("a temporary folder");
    for name in ["face_detector.onnx", "face_mesh_attention.onnx", "selfie_segmentation.onnx", "SHA256SUMS"] {
        std::fs::copy(models_dir().join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// Mean Euclidean distance between two point lists (x, y only).
pub fn mean_distance(a: &[[f32; 2]], b: &[[f32; 2]]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1])).sum::<f32>() / a.len() as f32
}

/// `src` resized to `side`×`side` (Catmull-Rom).
pub fn resized(src: &FaceImage, side: u32) -> FaceImage {
    let buf = image::RgbImage::from_raw(src.width, src.height, src.rgb.clone()).unwrap();
    let s = image::imageops::resize(&buf, side, side, image::imageops::FilterType::CatmullRom);
    FaceImage::new(side, side, s.into_raw()).unwrap()
}

/// Copies `src` into `canvas` with its top-left pixel at `at` (wholly inside).
pub fn paste(canvas: &mut FaceImage, src: &FaceImage, at: (u32, u32)) {
    let row = src.width as usize * 3;
    for y in 0..src.height as usize {
        let d = ((at.1 as usize + y) * canvas.width as usize + at.0 as usize) * 3;
        canvas.rgb[d..d + row].copy_from_slice(&src.rgb[y * row..(y + 1) * row]);
    }
}
