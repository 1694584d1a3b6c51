//! Shared set-up for the pack tests (`tests/packs_*.rs` include this file with `#[path]`): ONNX Runtime through
//! the installer's verified cache or the `LIVING_PORTRAIT_ORT_LIB` override, the pack folders, copies of packs to
//! damage in temporary folders, manifest edits through the crate's JSON reader, a synthetic face and crops.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use living_portrait::json::Json;

/// Points ONNX Runtime at the CPU runtime before the first inference call
/// (the face tests' helper: the env override, else the installer's cache).
pub fn runtime() -> PathBuf {
    crate::face_common::runtime_library()
}

pub use crate::face_common::workspace;

/// The built-in warp pack of the source tree.
pub fn builtin_warp() -> PathBuf {
    workspace().join("resources/models/warp")
}

/// The random-weight few-shot pack of the source tree.
pub fn fewshot_test() -> PathBuf {
    workspace().join("resources/models/fewshot_test")
}

/// One of the tiny packs in `tests/data/packs`.
pub fn test_pack(name: &str) -> PathBuf {
    workspace().join("tests/data/packs").join(name)
}

/// A fresh, empty temporary folder, removed when dropped (the installer's).
pub use installer::util::TempDir;

/// Copies the files of a pack folder into a new temporary folder (a pack of its own: its own cache entry).
pub fn copy_pack(src: &Path, tag: &str) -> TempDir {
    let dir = TempDir::new(tag).expect("a temporary folder");
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    dir
}

/// Reads `<dir>/manifest.json`, lets `edit` change it, writes it back.
pub fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut Json)) {
    let path = dir.join("manifest.json");
    let mut root = Json::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut root);
    std::fs::write(&path, json_text(&root)).unwrap();
}

/// The member at `path` (object keys), which must exist.
pub fn member<'a>(root: &'a mut Json, path: &[&str]) -> &'a mut Json {
    let mut at = root;
    for key in path {
        let Json::Object(members) = at else { panic!("{key}: not inside an object") };
        at = &mut members.iter_mut().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no member {key}")).1;
    }
    at
}

/// Sets the member at `path` (the last key is added when absent).
pub fn set(root: &mut Json, path: &[&str], value: Json) {
    let (last, parents) = path.split_last().unwrap();
    let Json::Object(members) = member(root, parents) else { panic!("not an object") };
    match members.iter_mut().find(|(k, _)| k == last) {
        Some(m) => m.1 = value,
        None => members.push((last.to_string(), value)),
    }
}

/// Removes the member at `path`.
pub fn remove(root: &mut Json, path: &[&str]) {
    let (last, parents) = path.split_last().unwrap();
    let Json::Object(members) = member(root, parents) else { panic!("not an object") };
    members.retain(|(k, _)| k != last);
}

/// A shape as the manifest writes it, from numbers and symbols: `shape(&["1", "3", "S", "S"])`.
pub fn shape(dims: &[&str]) -> Json {
    Json::Array(
        dims.iter()
            .map(|d| match d.parse::<f64>() {
                Ok(n) => Json::Number(n),
                Err(_) => Json::String(d.to_string()),
            })
            .collect(),
    )
}

/// JSON text of a value (the crate reads JSON; the tests also need to write it).
pub fn json_text(v: &Json) -> String {
    v.to_text()
}

/// A synthetic frontal face in normalised crop coordinates, iBUG-68 order: jaw arc, arched brows, nose bridge and
/// base, almond eyes, lips slightly parted. Large enough that each eye is about 26 px wide at 256.
pub fn face() -> [[f32; 2]; 68] {
    let mut p = [[0.0f32; 2]; 68];
    for (i, q) in p[0..17].iter_mut().enumerate() {
        let t = std::f32::consts::PI * i as f32 / 16.0;
        *q = [-0.55 * t.cos(), -0.1 + 0.6 * t.sin()];
    }
    for i in 0..5 {
        let t = i as f32 / 4.0;
        let arch = -0.35 - 0.05 * (std::f32::consts::PI * t).sin();
        p[17 + i] = [-0.45 + 0.35 * t, arch];
        p[22 + i] = [0.1 + 0.35 * t, arch];
    }
    for i in 0..4 {
        p[27 + i] = [0.0, -0.25 + 0.1 * i as f32];
    }
    for i in 0..5 {
        let x = -0.12 + 0.06 * i as f32;
        p[31 + i] = [x, 0.12 + 0.03 * (1.0 - (x / 0.12).powi(2))];
    }
    let eye = |cx: f32| {
        [
            [cx - 0.1, -0.2],
            [cx - 0.035, -0.245],
            [cx + 0.035, -0.245],
            [cx + 0.1, -0.2],
            [cx + 0.035, -0.155],
            [cx - 0.035, -0.155],
        ]
    };
    p[36..42].copy_from_slice(&eye(-0.28));
    p[42..48].copy_from_slice(&eye(0.28));
    for j in 0..12 {
        let t = std::f32::consts::PI + std::f32::consts::TAU * j as f32 / 12.0;
        p[48 + j] = [0.2 * t.cos(), 0.3 + 0.08 * t.sin()];
    }
    for j in 0..8 {
        let t = std::f32::consts::PI + std::f32::consts::TAU * j as f32 / 8.0;
        p[60 + j] = [0.14 * t.cos(), 0.3 + 0.02 * t.sin()];
    }
    p
}

/// The face with the mouth opened by `amount` (normalised units) and the eyes half closed.
pub fn expressive(amount: f32) -> [[f32; 2]; 68] {
    let mut p = face();
    for i in [56, 57, 58, 65, 66, 67] {
        p[i][1] += amount;
    }
    // The chin follows the jaw down.
    for q in &mut p[5..12] {
        q[1] += amount * 0.5;
    }
    for i in [37, 38, 43, 44] {
        p[i][1] += 0.02;
    }
    p
}

/// A smooth, colourful planar RGB crop in [0, 1]; `seed` shifts the pattern.
pub fn crop(size: usize, seed: u32) -> Vec<f32> {
    let plane = size * size;
    let mut rgb = vec![0.0f32; 3 * plane];
    let s = seed as f32 * 0.37;
    for y in 0..size {
        for x in 0..size {
            let u = (x as f32 + 0.5) / size as f32;
            let v = (y as f32 + 0.5) / size as f32;
            rgb[y * size + x] = 0.5 + 0.4 * (6.0 * u + s).sin() * (4.0 * v).cos();
            rgb[plane + y * size + x] = 0.5 + 0.4 * (5.0 * v - s).sin();
            rgb[2 * plane + y * size + x] = 0.2 + 0.6 * u * v;
        }
    }
    rgb
}

/// The largest absolute difference of two equally long slices.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
