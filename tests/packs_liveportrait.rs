//! The `liveportrait` pack kind on the real ONNX Runtime (CPU), with the stand-in pack of
//! `resources/models/liveportrait_test` (tiny random models of the real tensor names and shapes): the pipeline's
//! maths against the golden numbers of its `expected.json` (numpy maths, `make_expected.py`) to 1e-4; the
//! generator's caching, determinism and frame-order independence; the manifest's and models' errors as
//! sentences; and the node through the headless host: driven by a track file, by the expression controls and by
//! a Driver clip, pixels outside the matte exact, the one-time CPU notice.

#[path = "support/common.rs"]
mod common;
#[path = "support/face_common.rs"]
mod face_common;
#[path = "support/packs.rs"]
mod support;

use living_portrait::inference::Device;
use living_portrait::json::Json;
use living_portrait::packs::generator::{Generator, Reference, Target};
use living_portrait::packs::liveportrait::maths::{self, CropSquare, Motion, NUM_KP};
use living_portrait::packs::liveportrait::{self as lp, LivePortraitGenerator};
use living_portrait::packs::{self, load_pack};
use serde_json::Value;
use std::sync::Arc;

fn standin() -> std::path::PathBuf {
    support::workspace().join("resources/models/liveportrait_test")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(standin().join("expected.json")).unwrap()).unwrap()
}

fn generator(dir: &std::path::Path) -> Arc<LivePortraitGenerator> {
    support::runtime();
    let pack = load_pack(dir, Device::Cpu).unwrap_or_else(|e| panic!("{e}"));
    pack.liveportrait().expect("a liveportrait pack").clone()
}

fn nums(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(nums).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not numbers: {other}"),
    }
}

fn assert_close(what: &str, ours: &[f64], theirs: &[f64], tol: f64) {
    assert_eq!(ours.len(), theirs.len(), "{what}: length");
    let worst = ours.iter().zip(theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst <= tol, "{what}: off by {worst} (tolerance {tol})");
}

fn flat3(kp: &[[f64; 3]; NUM_KP]) -> Vec<f64> {
    kp.iter().flatten().copied().collect()
}

/// `expected.json`'s crops: 256² windows of the demo portrait, RGB / 255, planar; mirrored left-right on request.
fn window(left: usize, top: usize, mirrored: bool) -> Vec<f32> {
    let img = face_common::astronaut();
    let (w, n) = (img.width as usize, 256 * 256);
    let mut out = vec![0.0f32; 3 * n];
    for y in 0..256 {
        for x in 0..256 {
            let sx = if mirrored { left + 255 - x } else { left + x };
            for k in 0..3 {
                out[k * n + y * 256 + x] = img.rgb[3 * ((top + y) * w + sx) + k] as f32 / 255.0;
            }
        }
    }
    out
}

fn crop_of(e: &Value, name: &str) -> Vec<f32> {
    let c = &e["crops"][name];
    window(c["left"].as_u64().unwrap() as usize, c["top"].as_u64().unwrap() as usize, c["mirrored"].as_bool().unwrap())
}

fn check_motion(what: &str, m: &Motion, e: &Value) {
    assert_close(&format!("{what} pitch"), &[m.pitch], &nums(&e["pitch"]), 1e-4);
    assert_close(&format!("{what} yaw"), &[m.yaw], &nums(&e["yaw"]), 1e-4);
    assert_close(&format!("{what} roll"), &[m.roll], &nums(&e["roll"]), 1e-4);
    assert_close(&format!("{what} t"), &m.t, &nums(&e["t"]), 1e-4);
    assert_close(&format!("{what} scale"), &[m.scale], &nums(&e["scale"]), 1e-4);
    assert_close(&format!("{what} exp"), &flat3(&m.exp), &nums(&e["exp"]), 1e-4);
    assert_close(&format!("{what} kp"), &flat3(&m.kp), &nums(&e["kp"]), 1e-4);
    let r = maths::rotation(m.pitch, m.yaw, m.roll);
    assert_close(&format!("{what} R"), &r.iter().flatten().copied().collect::<Vec<_>>(), &nums(&e["R"]), 1e-4);
}

fn check_image(what: &str, image: &[f32], e: &Value) {
    let n = 512 * 512;
    let mean = image.iter().map(|&v| v as f64).sum::<f64>() / image.len() as f64;
    assert_close(&format!("{what} image mean"), &[mean], &nums(&e["mean"]), 1e-4);
    let channels: Vec<f64> = (0..3).map(|k| image[k * n..(k + 1) * n].iter().map(|&v| v as f64).sum::<f64>() / n as f64).collect();
    assert_close(&format!("{what} channel means"), &channels, &nums(&e["channel_means"]), 1e-4);
    for s in e["samples"].as_array().unwrap() {
        let s = nums(s);
        let (c, y, x) = (s[0] as usize, s[1] as usize, s[2] as usize);
        assert_close(&format!("{what} pixel {c},{y},{x}"), &[image[c * n + y * 512 + x] as f64], &[s[3]], 1e-4);
    }
}

#[test]
fn golden_maths_match_expected_json() {
    let g = generator(&standin());
    let e = expected();
    let none = [[0.0; 2]; 68];
    let square = CropSquare { centre: [0.0, 0.0], size: 2.0, ux: [1.0, 0.0], uy: [0.0, 1.0] };
    let src = g.source_from_crop(crop_of(&e, "source"), square, &none, None).unwrap();
    // Appearance features.
    let f = src.feature();
    let mean = f.iter().map(|&v| v as f64).sum::<f64>() / f.len() as f64;
    assert_close("feature mean", &[mean], &nums(&e["feature_3d"]["mean"]), 1e-4);
    for s in e["feature_3d"]["samples"].as_array().unwrap() {
        let s = nums(s);
        let i = (((s[0] as usize * 16 + s[1] as usize) * 64 + s[2] as usize) * 64) + s[3] as usize;
        assert_close("feature sample", &[f[i] as f64], &[s[4]], 1e-4);
    }
    // Source motion and keypoints.
    check_motion("source", &src.motion, &e["source"]);
    assert_close("x_s", &flat3(&src.x_s), &nums(&e["source"]["x_s"]), 1e-4);
    // Drivers: motion, own keypoints, relative motion against driver0, stitching.
    let reference = g.run_motion(&crop_of(&e, "driver0"), None).unwrap();
    let identity = maths::rotation(0.0, 0.0, 0.0);
    let mut stitched_driver1 = None;
    for name in ["driver0", "driver1", "driver2"] {
        let d = &e["drivers"][name];
        let m = g.run_motion(&crop_of(&e, name), None).unwrap();
        check_motion(name, &m, d);
        assert_close(&format!("{name} x_d"), &flat3(&lp::source_keypoints(&m)), &nums(&d["x_d"]), 1e-4);
        let rel = maths::relative_driving(&src.motion, &m, &reference, &identity, &[[0.0; 3]; NUM_KP]);
        assert_close(&format!("{name} x_d_relative"), &flat3(&rel), &nums(&d["x_d_relative"]), 1e-4);
        let stitched = g.stitch(&src.x_s, &rel, None).unwrap();
        assert_close(&format!("{name} x_d_stitched"), &flat3(&stitched), &nums(&d["x_d_stitched"]), 1e-4);
        if name == "driver1" {
            stitched_driver1 = Some(stitched);
        }
    }
    // Retargeting: the raw deltas of both networks, then stitched.
    let r = &e["retarget"];
    let se = nums(&r["source_eye_ratios"]);
    let eye = g.retarget_raw(false, &src.x_s, &[se[0], se[1], nums(&r["driving_eye_ratio"])[0]], None).unwrap();
    let lip = g.retarget_raw(true, &src.x_s, &[nums(&r["source_lip_ratio"])[0], nums(&r["driving_lip_ratio"])[0]], None).unwrap();
    let as64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    assert_close("eye_delta", &as64(&eye), &nums(&r["eye_delta"]), 1e-4);
    assert_close("lip_delta", &as64(&lip), &nums(&r["lip_delta"]), 1e-4);
    let mut ret = src.x_s;
    for (i, p) in ret.iter_mut().enumerate() {
        for j in 0..3 {
            p[j] += (eye[3 * i + j] + lip[3 * i + j]) as f64;
        }
    }
    assert_close("x_d_retargeted", &flat3(&ret), &nums(&r["x_d_retargeted"]), 1e-4);
    let ret_stitched = g.stitch(&src.x_s, &ret, None).unwrap();
    assert_close("retarget x_d_stitched", &flat3(&ret_stitched), &nums(&r["x_d_stitched"]), 1e-4);
    // Warping and generator.
    let runs = &e["warp_runs"];
    check_image("source_identity", &g.render_keypoints(&src, &src.x_s, None).unwrap(), &runs["source_identity"]["image"]);
    check_image("driver1", &g.render_keypoints(&src, &stitched_driver1.unwrap(), None).unwrap(), &runs["driver1"]["image"]);
    check_image("retarget", &g.render_keypoints(&src, &ret_stitched, None).unwrap(), &runs["retarget"]["image"]);
}

#[test]
fn crop_convention_matches_expected_json() {
    let e = expected();
    let c = &e["crop_from_landmarks"];
    let track: Value = serde_json::from_str(&std::fs::read_to_string(support::workspace().join("resources/demo/track.json")).unwrap()).unwrap();
    let pts = nums(&track["frames"][0]["landmarks"]);
    let mut p = [[0.0; 2]; 68];
    for (i, q) in p.iter_mut().enumerate() {
        *q = [pts[2 * i], pts[2 * i + 1]];
    }
    let conv = *generator(&standin()).conventions();
    let sq = CropSquare::from_landmarks(&p, conv.crop.scale, conv.crop.vx_ratio, conv.crop.vy_ratio);
    // The image → crop matrix of the 256 crop, from pixel_of (an affine map): its columns and offset.
    let o = sq.pixel_of([0.0, 0.0], 256);
    let x = sq.pixel_of([1.0, 0.0], 256);
    let y = sq.pixel_of([0.0, 1.0], 256);
    let ours = [x[0] - o[0], y[0] - o[0], o[0], x[1] - o[1], y[1] - o[1], o[1]];
    assert_close("matrix_256", &ours, &nums(&c["matrix_256"]), 1e-4);
}

/// Reference stills for the generator: the synthetic face over a colourful crop.
fn still(size: usize, seed: u32) -> (Vec<f32>, [[f32; 2]; 68]) {
    (support::crop(size, seed), support::face())
}

#[test]
fn features_are_computed_once_and_frames_are_pure() {
    let size = 256;
    let (crop, lms) = still(size, 1);
    let refs = [Reference { crop: &crop, landmarks: &lms, key: 42 }];
    let targets: Vec<[[f32; 2]; 68]> = [0.0f32, 0.6, 1.0].iter().map(|&a| support::expressive(a)).collect();
    let render = |g: &LivePortraitGenerator, order: &[usize]| -> Vec<(usize, Vec<f32>, Vec<f32>)> {
        order
            .iter()
            .map(|&i| {
                let mut t = Target::new(&targets[i]);
                t.controls[9] = 4.0 * i as f64;
                let out = g.generate(size, &refs, 0, &t, None).unwrap();
                (i, out.rgb(&refs).into_owned(), out.changed.to_vec())
            })
            .collect()
    };
    let pack = support::copy_pack(&standin(), "lp-order-a");
    let g = generator(pack.path());
    let forward = render(&g, &[0, 1, 2, 1]);
    assert_eq!(g.appearance_runs(), 1, "the still's features are computed once across frames");
    assert_eq!(g.motion_runs(), 1, "and its motion once");
    assert_eq!(g.generator_runs(), 4);
    assert_eq!(forward[1].1, forward[3].1, "the same frame twice: the same pixels");
    assert!(support::max_diff(&forward[0].1, &forward[2].1) > 1e-3, "different targets: different pixels");
    // A fresh pack (its own caches) rendering the frames backwards gives the same pixels.
    let pack_b = support::copy_pack(&standin(), "lp-order-b");
    let backward = render(&generator(pack_b.path()), &[2, 1, 0]);
    for (i, rgb, changed) in &backward {
        let f = forward.iter().find(|f| f.0 == *i).unwrap();
        assert_eq!(&f.1, rgb, "frame {i}: order does not matter");
        assert_eq!(&f.2, changed);
    }
    // A small face: LivePortrait's square lies inside our crop; outside it the crop is the reference's, bit for
    // bit, and not marked changed; inside it is generated.
    let small = lms.map(|p| [p[0] * 0.5, p[1] * 0.5]);
    let small_refs = [Reference { crop: &crop, landmarks: &small, key: 42 }];
    let out = g.generate(size, &small_refs, 0, &Target::new(&small), None).unwrap();
    let (rgb, changed) = (out.rgb(&small_refs), &out.changed);
    assert_eq!((changed[0], rgb[0]), (0.0, crop[0]));
    let outside = (0..size * size).filter(|&i| changed[i] == 0.0).count();
    assert!(outside > size * size / 4, "{outside} pixels outside the square");
    assert!((0..size * size).all(|i| changed[i] > 0.0 || (0..3).all(|k| rgb[k * size * size + i] == crop[k * size * size + i])));
    let centre = size / 2 * size + size / 2;
    assert_eq!(changed[centre], 1.0);
    assert_ne!(rgb[centre], crop[centre]);
    // Another working size is another entry (features again), the first stays cached.
    let (crop512, _) = still(512, 1);
    let refs512 = [Reference { crop: &crop512, landmarks: &lms, key: 42 }];
    g.generate(512, &refs512, 0, &Target::new(&targets[0]), None).unwrap();
    render(&g, &[0]);
    assert_eq!(g.appearance_runs(), 3, "the small face, then 512: one each; 256 stays cached");
}

#[test]
fn driver_frames_drive_by_their_own_motion_computed_once() {
    use living_portrait::packs::generator::{DriverCropped, DriverFrames};
    let size = 256;
    let (crop, lms) = still(size, 4);
    let refs = [Reference { crop: &crop, landmarks: &lms, key: 9 }];
    let pack = support::copy_pack(&standin(), "lp-driver");
    let g = generator(pack.path());
    let (d0, d1) = (support::crop(256, 10), support::crop(256, 11));
    let frames = |now: &[f32], now_key: u128| -> (Vec<f32>, Vec<f32>) {
        let mut t = Target::new(&lms);
        let before = lms;
        t.before_expressions = Some(&before);
        t.driver = Some(DriverFrames { now: DriverCropped { pixels: now, key: now_key }, reference: DriverCropped { pixels: &d0, key: 100 } });
        let out = g.generate(size, &refs, 0, &t, None).unwrap();
        (out.rgb(&refs).into_owned(), out.changed.to_vec())
    };
    // The reference frame itself: the still as it is (relative motion zero), as without a driver.
    let (at_reference, _) = frames(&d0, 100);
    let still_frame = g.generate(size, &refs, 0, &Target::new(&lms), None).unwrap().rgb(&refs).into_owned();
    assert!(support::max_diff(&at_reference, &still_frame) < 1e-5, "no motion at the reference frame");
    let runs = g.motion_runs();
    let (moved, _) = frames(&d1, 101);
    assert_eq!(g.motion_runs(), runs + 1, "one new driver frame, one motion run (the reference's is cached)");
    assert!(support::max_diff(&moved, &at_reference) > 1e-3, "another driver frame moves the face");
    let (again, _) = frames(&d1, 101);
    assert_eq!(g.motion_runs(), runs + 1, "a frame seen before is not run again");
    assert_eq!(moved, again);
}

#[test]
fn smile_and_brow_controls_change_the_face() {
    let size = 256;
    let (crop, lms) = still(size, 6);
    let refs = [Reference { crop: &crop, landmarks: &lms, key: 13 }];
    let g = generator(&standin());
    let frame = |index: usize, value: f64| {
        let mut t = Target::new(&lms);
        t.controls[index] = value;
        if index == 6 {
            t.controls[7] = value;
        }
        g.generate(size, &refs, 0, &t, None).unwrap().rgb(&refs).into_owned()
    };
    let neutral = frame(1, 0.0);
    let d = support::max_diff(&frame(1, 1.0), &neutral);
    assert!(d > 1e-3, "a smile changes the generated face ({d})");
    // The brows move LivePortrait's keypoints 1 and 2 (the stand-in's colour field barely shows it): compare the
    // driving keypoints.
    let src = g.source(size, &refs[0], None).unwrap();
    let base = lms.map(|p| [p[0] as f64, p[1] as f64]);
    let keypoints = |brow: f64| {
        let mut t = Target::new(&lms);
        t.controls[6] = brow;
        t.controls[7] = brow;
        g.driving_keypoints(&src, &base, &t, None).unwrap()
    };
    let (up, rest) = (keypoints(1.0), keypoints(0.0));
    let moved = (up[1][1] - rest[1][1]).abs();
    assert!(moved > 0.01 && (up[1][1] - rest[1][1]).signum() != (up[2][1] - rest[2][1]).signum(), "brow raise moves keypoints 1 and 2 apart: {moved}");
}

#[test]
fn another_still_is_animated_in_the_first_stills_frame() {
    let size = 256;
    let n = size * size;
    let lms = support::face().map(|p| [p[0] * 0.5, p[1] * 0.5]);
    let (a, b) = (support::crop(size, 1), support::crop(size, 2));
    let pack = support::copy_pack(&standin(), "lp-stills");
    let g = generator(pack.path());
    // The same still twice (under another key): choosing the second gives the first's frame exactly.
    let twice = [Reference { crop: &a, landmarks: &lms, key: 1 }, Reference { crop: &a, landmarks: &lms, key: 2 }];
    let t = Target::new(&lms);
    let first = g.generate(size, &twice, 0, &t, None).unwrap();
    let second = g.generate(size, &twice, 1, &t, None).unwrap();
    assert_eq!(first.rgb(&twice), second.rgb(&twice));
    assert_eq!(g.appearance_runs(), 2, "each still's features once");
    // Another still: its face, in the first still's crop (outside the square: the first still's pixels).
    let two = [Reference { crop: &a, landmarks: &lms, key: 1 }, Reference { crop: &b, landmarks: &lms, key: 3 }];
    let other = g.generate(size, &two, 1, &t, None).unwrap();
    let rgb = other.rgb(&two);
    assert!((0..n).filter(|&i| other.changed[i] == 0.0).all(|i| (0..3).all(|k| rgb[k * n + i] == a[k * n + i])));
    assert!(support::max_diff(&rgb, &first.rgb(&twice)) > 1e-3, "the other still's face");
}

fn error_of(dir: &std::path::Path) -> String {
    support::runtime();
    match load_pack(dir, Device::Cpu) {
        Ok(_) => panic!("the pack {} should be refused", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn broken_packs_are_named_in_a_sentence() {
    // A missing model file.
    let p = support::copy_pack(&standin(), "lp-missing");
    std::fs::remove_file(p.path().join("stitching.onnx")).unwrap();
    let m = error_of(p.path());
    assert!(m.contains("stitching.onnx") && m.contains("does not exist") && m.ends_with('.'), "{m}");
    // A shape the contract does not allow.
    let p = support::copy_pack(&standin(), "lp-shape");
    support::edit_manifest(p.path(), |root| support::set(root, &["motion", "outputs", "kp"], support::shape(&["1", "60"])));
    let m = error_of(p.path());
    assert!(m.contains("motion.outputs.kp") && m.contains("63"), "{m}");
    // A model replaced by another (the digest no longer matches).
    let p = support::copy_pack(&standin(), "lp-digest");
    std::fs::copy(p.path().join("retarget_lip.onnx"), p.path().join("retarget_eye.onnx")).unwrap();
    support::edit_manifest(p.path(), |root| support::remove(root, &["retarget_eye", "bytes"]));
    let m = error_of(p.path());
    assert!(m.contains("retarget_eye.onnx") && m.contains("damaged or was replaced"), "{m}");
    // Version 1 cannot describe a liveportrait pack.
    let p = support::copy_pack(&standin(), "lp-version");
    support::edit_manifest(p.path(), |root| support::set(root, &["version"], Json::Number(1.0)));
    let m = error_of(p.path());
    assert!(m.contains("'version'") && m.contains("needs version 2"), "{m}");
    // Conventions that contradict the tensors.
    let p = support::copy_pack(&standin(), "lp-conventions");
    support::edit_manifest(p.path(), |root| support::set(root, &["conventions", "num_kp"], Json::Number(15.0)));
    let m = error_of(p.path());
    assert!(m.contains("conventions.num_kp") && m.contains("21"), "{m}");
    // A model file whose own tensors differ from the manifest (the lip network in the eye network's place).
    let p = support::copy_pack(&standin(), "lp-tensor");
    std::fs::copy(p.path().join("retarget_lip.onnx"), p.path().join("retarget_eye.onnx")).unwrap();
    let (bytes, sum) = file_sum(&p.path().join("retarget_eye.onnx"));
    support::edit_manifest(p.path(), |root| {
        support::set(root, &["retarget_eye", "bytes"], Json::Number(bytes as f64));
        support::set(root, &["retarget_eye", "sha256"], Json::String(sum));
    });
    let m = error_of(p.path());
    assert!(m.contains("retarget_eye.onnx") && m.contains("'input'"), "{m}");
    // An operator ONNX Runtime does not have (the appearance model's Tanh renamed).
    let p = support::copy_pack(&standin(), "lp-op");
    let model = p.path().join("appearance_feature_extractor.onnx");
    let bytes = std::fs::read(&model).unwrap();
    let at = bytes.windows(4).position(|w| w == b"Tanh").expect("the stand-in's appearance model has a Tanh");
    let mut patched = bytes.clone();
    patched[at..at + 4].copy_from_slice(b"Tanq");
    std::fs::write(&model, &patched).unwrap();
    let (bytes, sum) = file_sum(&model);
    support::edit_manifest(p.path(), |root| {
        support::set(root, &["appearance", "bytes"], Json::Number(bytes as f64));
        support::set(root, &["appearance", "sha256"], Json::String(sum));
    });
    let m = error_of(p.path());
    println!("{m}");
    assert!(m.contains("appearance_feature_extractor.onnx") && m.contains("Tanq"), "{m}");
    let _ = packs::ALLOW_TEST_PACKS_ENV;
}

fn file_sum(path: &std::path::Path) -> (u64, String) {
    use sha2::Digest;
    let bytes = std::fs::read(path).unwrap();
    (bytes.len() as u64, sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

mod node {
    //! Through the headless host: the node with `modelPack` set to the stand-in.
    use super::common::*;
    use ofx::host::*;

    fn standin_param() -> ParamValue {
        ParamValue::String(super::standin().display().to_string())
    }

    #[test]
    fn the_node_renders_from_a_track_expressions_and_a_driver_clip() {
        // Before the plugin is loaded (see test_env): the stand-in is a test pack.
        std::env::set_var("LIVING_PORTRAIT_ALLOW_TEST_PACKS", "1");
        let (_h, plugin) = load(HostOptions { threads: 2, ..HostOptions::default() });
        let src = astronaut();
        // A track file.
        let mut inst = instance_with(&plugin, src.clone());
        inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
        let track = installer::workspace_root().join("resources/demo/track.json");
        inst.set_param("trackFile", ParamValue::String(track.display().to_string())).unwrap();
        inst.set_param("modelPack", standin_param()).unwrap();
        std::fs::create_dir_all(installer::target_dir().join("test-output/packs_liveportrait")).unwrap();
        let a = inst.render_frame(9.0, &RenderRequest::default()).expect("renders from a track");
        let msg = inst.persistent_message().expect("the one-time CPU notice").text;
        assert!(msg.contains("final renders, not scrubbing") && msg.contains("8–20 s"), "{msg}");
        assert!(max_diff(&src, &a).0 > 0.02, "the face is generated");
        let b = inst.render_frame(20.0, &RenderRequest::default()).unwrap();
        assert!(max_diff(&a, &b).0 > 1e-3, "another frame of the track: another face");
        // Pixels outside the matte are the portrait's, exactly (corners and the bottom rows).
        let r = src.bounds();
        for (x, y) in [(r.x1 + 2, r.y1 + 2), (r.x2 - 3, r.y1 + 1), (r.x1 + 1, r.y2 - 2), (r.x2 - 1, r.y2 - 1)] {
            assert_eq!(a.pixel(x, y), src.pixel(x, y), "pixel ({x}, {y}) outside the matte");
        }
        // Frame order: frame 9 again after 20 gives the same pixels.
        assert_eq!(max_diff(&a, &inst.render_frame(9.0, &RenderRequest::default()).unwrap()), (0.0, true));
        a.save(&installer::target_dir().join("test-output/packs_liveportrait/track_9.png"), Depth::Byte).ok();

        // Expression controls alone.
        let mut ex = instance_with(&plugin, src.clone());
        ex.set_param("driveMode", ParamValue::ChoiceByOption("expressions".into())).unwrap();
        ex.set_param("modelPack", standin_param()).unwrap();
        ex.set_param("jawOpen", ParamValue::Double(0.8)).unwrap();
        let jaw = ex.render_frame(1.0, &RenderRequest::default()).expect("renders from expressions");
        ex.set_param("jawOpen", ParamValue::Double(0.0)).unwrap();
        ex.set_param("headYaw", ParamValue::Double(15.0)).unwrap();
        let yaw = ex.render_frame(1.0, &RenderRequest::default()).unwrap();
        assert!(max_diff(&jaw, &yaw).0 > 1e-3, "jaw and head turn differ");
        assert!(max_diff(&src, &yaw).0 > 0.02);

        // A Driver clip: the portrait and the portrait moved by the warp.
        let mut maker = instance_with(&plugin, src.clone());
        maker.set_param("driveMode", ParamValue::ChoiceByOption("expressions".into())).unwrap();
        maker.set_param("jawOpen", ParamValue::Double(0.7)).unwrap();
        maker.set_param("headRoll", ParamValue::Double(6.0)).unwrap();
        let moved = maker.render_frame(1.0, &RenderRequest::default()).unwrap();
        let driver: std::collections::BTreeMap<i32, HostImage> = [(1, src.clone()), (2, moved)].into_iter().collect();
        let mut dr = plugin.create_instance(Context::General).unwrap();
        dr.set_input("Source", ClipInput::Still(src.clone())).unwrap();
        dr.set_input("Driver", ClipInput::Sequence(driver)).unwrap();
        dr.set_param("driveMode", ParamValue::ChoiceByOption("driver".into())).unwrap();
        dr.set_param("modelPack", standin_param()).unwrap();
        let d1 = dr.render_frame(1.0, &RenderRequest::default()).expect("renders from a driver clip");
        let d2 = dr.render_frame(2.0, &RenderRequest::default()).unwrap();
        assert!(max_diff(&d1, &d2).0 > 1e-3, "the driver's motion moves the face");
        assert_eq!(d2.pixel(r.x1 + 2, r.y1 + 2), src.pixel(r.x1 + 2, r.y1 + 2));
        d2.save(&installer::target_dir().join("test-output/packs_liveportrait/driver_2.png"), Depth::Byte).ok();
    }
}

#[test]
fn installer_pack_round_trip() {
    // A converted pack as a user has it: a folder with its own name.
    let tmp = support::TempDir::new("lp-install").unwrap();
    let user_pack = tmp.path().join("my_liveportrait");
    std::fs::create_dir(&user_pack).unwrap();
    for f in std::fs::read_dir(standin()).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), user_pack.join(f.file_name())).unwrap();
    }
    let opts = installer::BundleOptions {
        profile: installer::Profile::Debug,
        out_dir: tmp.path().join("out"),
        build: false,
        cdylib: Some(common::cdylib()),
        crate_licenses: false,
        packs: vec![user_pack.clone()],
        link: true,
        ..Default::default()
    };
    let bundle = installer::build_bundle(&opts).unwrap_or_else(|e| panic!("{e}"));
    let prefix = tmp.path().join("prefix");
    std::fs::create_dir(&prefix).unwrap();
    let report = installer::install(&bundle, &prefix).unwrap_or_else(|e| panic!("{e}"));
    let models = report.bundle.join("Contents/Resources/models");
    let installed = models.join("my_liveportrait");
    // The manifest, the seven models and the README went in; the build scripts and golden numbers did not; the
    // stand-in and the converter folder of the source tree are not in the bundle.
    assert!(installed.join("manifest.json").is_file() && installed.join("README.md").is_file());
    assert_eq!(std::fs::read_dir(&installed).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "onnx")).count(), 7);
    assert!(!installed.join("build_standin.py").exists() && !installed.join("expected.json").exists());
    assert!(!models.join("liveportrait_test").exists() && !models.join("liveportrait").exists());
    assert!(models.join("warp/manifest.json").is_file(), "the built-in pack is there too");
    // The plugin's own check accepts the installed copy, and it renders.
    let g = generator(&installed);
    let (crop, lms) = still(256, 3);
    let refs = [Reference { crop: &crop, landmarks: &lms, key: 7 }];
    g.generate(256, &refs, 0, &Target::new(&lms), None).unwrap();
    // A damaged pack is refused before anything is built, with a sentence naming the file.
    let stitching = user_pack.join("stitching.onnx");
    let mut bytes = std::fs::read(&stitching).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&stitching, &bytes).unwrap();
    let again = installer::BundleOptions { out_dir: tmp.path().join("out2"), ..opts.clone() };
    let e = installer::build_bundle(&again).unwrap_err().to_string();
    assert!(e.contains("stitching.onnx") && e.contains("SHA-256") && e.contains("damaged or replaced"), "{e}");
    std::fs::write(&stitching, b"not a model").unwrap();
    let e = installer::build_bundle(&again).unwrap_err().to_string();
    assert!(e.contains("stitching.onnx") && e.contains("incomplete download"), "{e}");
    assert!(!tmp.path().join("out2").exists(), "nothing was built");
    installer::uninstall(&prefix).unwrap();
}

/// Peak and current resident memory of this process in MB (Linux; 0 elsewhere).
fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// A real-size pack (e.g. `convert.py --random` output) through the generator at working resolution 256: load,
/// first frame, steady frames, memory. `LIVING_PORTRAIT_LP_BENCH_PACK=DIR cargo test -p living-portrait --test
/// packs_liveportrait lp_bench -- --ignored --nocapture`.
#[test]
#[ignore]
fn lp_bench() {
    let Some(dir) = std::env::var_os("LIVING_PORTRAIT_LP_BENCH_PACK") else {
        eprintln!("set LIVING_PORTRAIT_LP_BENCH_PACK to a real-size liveportrait pack folder");
        return;
    };
    support::runtime();
    let before = rss_mb();
    let t = std::time::Instant::now();
    let g = generator(std::path::Path::new(&dir));
    let load = t.elapsed();
    let size = 256;
    let (crop, lms) = still(size, 5);
    let refs = [Reference { crop: &crop, landmarks: &lms, key: 11 }];
    let targets: Vec<[[f32; 2]; 68]> = [0.0f32, 0.5, 1.0].iter().map(|&a| support::expressive(a)).collect();
    let mut times = Vec::new();
    for t_lms in &targets {
        let t = std::time::Instant::now();
        g.generate(size, &refs, 0, &Target::new(t_lms), None).unwrap();
        times.push(t.elapsed().as_millis());
    }
    let (peak, now) = rss_mb();
    println!(
        "liveportrait bench: load {:.1} s, first frame {} ms, steady {:?} ms, peak RSS {:.0} MB ({:.0} MB before loading), RSS now {:.0} MB, ORT intra threads default, {} CPUs visible",
        load.as_secs_f64(),
        times[0],
        &times[1..],
        peak,
        before.0,
        now,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}

