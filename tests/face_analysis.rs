//! Face analysis on the real models with the real ONNX Runtime (CPU), no mocks: MediaPipe's own results on the
//! demo portrait are the reference; a blank image has no face and does not panic; damaged models are refused
//! with the file named; eight threads at once give exactly the single-thread answer; asking for the GPU on a
//! CPU-only runtime runs on the CPU and says why.

#[path = "support/face_common.rs"]
mod face_common;

use std::sync::Arc;

use face_common::*;
use living_portrait::face::{self, FaceAnalyzer, FaceError, FaceImage};
use living_portrait::inference::{Device, InferenceError, SessionPool};

#[test]
fn astronaut_has_one_face_matching_mediapipe() {
    runtime_library();
    let img = astronaut();
    let reference = reference();
    let faces = face::detect_faces(&img).unwrap();
    assert_eq!(faces.len(), 1, "{faces:?}");
    let det = &faces[0];
    assert!(det.score >= 0.9, "score {}", det.score);
    assert!((det.score - reference.score).abs() < 1e-4, "score {} vs {}", det.score, reference.score);
    let b = det.bbox;
    for (ours, theirs) in [b.x, b.y, b.w, b.h].iter().zip(reference.box_xywh) {
        assert!((ours - theirs).abs() < 0.01, "box {b:?} vs {:?}", reference.box_xywh);
    }
    let kp: Vec<[f32; 2]> = det.keypoints.to_vec();
    assert!(mean_distance(&kp, &reference.keypoints) < 0.01);

    let mesh = face::face_landmarks(&img, det).unwrap();
    assert!(mesh.presence > 0.9, "presence {}", mesh.presence);
    assert_eq!(mesh.points468.len(), 468);
    let ours: Vec<[f32; 2]> = mesh.points468.iter().map(|p| [p[0], p[1]]).collect();
    let theirs: Vec<[f32; 2]> = reference.mesh.iter().map(|p| [p[0], p[1]]).collect();
    let mesh_error = mean_distance(&ours, &theirs);
    let z_error = mesh.points468.iter().zip(&reference.mesh).map(|(a, b)| (a[2] - b[2]).abs()).sum::<f32>() / 468.0;

    let l68 = face::landmarks68(&mesh).unwrap();
    let ibug_error = mean_distance(&l68, &reference.ibug68);
    let max_ibug = l68.iter().zip(&reference.ibug68).map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1])).fold(0.0, f32::max);
    eprintln!(
        "astronaut vs MediaPipe 0.10.14: 68 points mean {ibug_error:.5} px (max {max_ibug:.5}), 468 mesh mean \
         {mesh_error:.5} px, z mean {z_error:.5} px"
    );
    assert!(ibug_error <= 1.5, "68-point mean error {ibug_error} px");
    // Much tighter than the brief's 1.5 px: the pipeline reproduces MediaPipe's, so a larger error means a
    // regression in sampling or projection.
    assert!(mesh_error < 0.05, "mesh mean error {mesh_error} px");
    assert!(z_error < 0.05, "mesh z mean error {z_error} px");

    // The cached analysis gives the same face.
    let analysis = face::analyze(&img).unwrap();
    let found = analysis.require_face().unwrap();
    assert_eq!(found.landmarks68, l68);
    assert!(Arc::ptr_eq(&analysis, &face::analyze(&img.clone()).unwrap()), "second call must hit the cache");
}

#[test]
fn blank_and_noise_images_have_no_face() {
    runtime_library();
    for img in [
        FaceImage::filled(640, 360, [0, 0, 0]).unwrap(),
        FaceImage::filled(1, 1, [255, 255, 255]).unwrap(),
        FaceImage::filled(37, 500, [128, 128, 128]).unwrap(),
        FaceImage::new(97, 61, (0..97 * 61 * 3).map(|i: u32| (i.wrapping_mul(2654435761) >> 24) as u8).collect())
            .unwrap(),
    ] {
        assert!(face::detect_faces(&img).unwrap().is_empty(), "{img:?}");
        let analysis = face::analyze(&img).unwrap();
        assert!(analysis.face.is_none());
        let err = analysis.require_face().unwrap_err();
        assert!(matches!(err, FaceError::NoFace));
        assert_eq!(err.to_string(), "No face was found in the image.");
        let matte = face::portrait_matte(&img).unwrap();
        assert_eq!((matte.width, matte.height), (img.width, img.height));
    }
    assert!(FaceImage::new(0, 10, vec![]).is_err());
    assert!(FaceImage::new(2, 2, vec![0; 11]).is_err());
}

#[test]
fn matte_covers_the_astronaut() {
    runtime_library();
    let img = astronaut();
    let matte = face::portrait_matte(&img).unwrap();
    assert_eq!((matte.width, matte.height), (512, 512));
    assert!(matte.alpha.iter().all(|a| (0.0..=1.0).contains(a)));
    // Face centre (from the reference box) is person; the top-right corner (flag and wall) is not.
    assert!(matte.at(225, 130) > 0.9, "face {}", matte.at(225, 130));
    assert!(matte.at(500, 10) < 0.5, "corner {}", matte.at(500, 10));
}

fn damaged_model_error(tag: &str, damage: impl FnOnce(&std::path::Path)) -> FaceError {
    runtime_library();
    let dir = copy_models(tag);
    damage(dir.path());
    let analyzer = FaceAnalyzer::with_models_dir(dir.path().to_path_buf(), Device::Cpu);
    analyzer.detect_faces(&astronaut()).unwrap_err()
}

#[test]
fn truncated_model_is_refused_with_its_name() {
    let err = damaged_model_error("truncated", |dir| {
        let path = dir.join("face_detector.onnx");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    });
    let text = err.to_string();
    assert!(matches!(err, FaceError::Inference(InferenceError::ChecksumMismatch { .. })), "{text}");
    assert!(text.contains("face_detector.onnx") && text.contains("damaged"), "{text}");
    assert!(text.contains("211171 bytes"), "{text}");
}

#[test]
fn tampered_model_is_refused_with_its_name() {
    let err = damaged_model_error("tampered", |dir| {
        let path = dir.join("face_detector.onnx");
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
    });
    assert!(err.to_string().contains("face_detector.onnx"), "{err}");
    assert!(matches!(err, FaceError::Inference(InferenceError::ChecksumMismatch { .. })), "{err}");
}

#[test]
fn wrong_checksum_list_is_refused() {
    let err = damaged_model_error("wrongsum", |dir| {
        let path = dir.join("SHA256SUMS");
        let text = std::fs::read_to_string(&path).unwrap();
        let fixed: String = text
            .lines()
            .map(|l| {
                if l.ends_with("face_detector.onnx") {
                    format!("{}{}\n", "0".repeat(64), &l[64..])
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&path, fixed).unwrap();
    });
    let text = err.to_string();
    assert!(text.contains("face_detector.onnx") && text.contains(&"0".repeat(64)), "{text}");

    let err = damaged_model_error("nosums", |dir| std::fs::remove_file(dir.join("SHA256SUMS")).unwrap());
    assert!(err.to_string().contains("cannot be verified"), "{err}");

    let err = damaged_model_error("missing", |dir| std::fs::remove_file(dir.join("face_detector.onnx")).unwrap());
    assert!(matches!(err, FaceError::Inference(InferenceError::ModelMissing { .. })), "{err}");
    assert!(err.to_string().contains("face_detector.onnx does not exist"), "{err}");

    // An intact model listed correctly but not an ONNX file: checked by ONNX Runtime, named in the error.
    let err = damaged_model_error("garbage", |dir| {
        let garbage = b"this is not an onnx model".to_vec();
        std::fs::write(dir.join("face_detector.onnx"), &garbage).unwrap();
        let sum = living_portrait::inference::sha256::hex_digest(&garbage);
        let text = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
        let fixed: String = text
            .lines()
            .map(|l| {
                if l.ends_with("face_detector.onnx") {
                    format!("{sum}  face_detector.onnx\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(dir.join("SHA256SUMS"), fixed).unwrap();
    });
    assert!(matches!(err, FaceError::Inference(InferenceError::ModelInvalid { .. })), "{err}");
    assert!(err.to_string().contains("face_detector.onnx"), "{err}");

    // A model with other tensors than the code expects: the tensor is named.
    let err = damaged_model_error("swapped", |dir| {
        std::fs::copy(dir.join("face_mesh_attention.onnx"), dir.join("face_detector.onnx")).unwrap();
        let text = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
        let mesh_sum = text.lines().find(|l| l.ends_with("face_mesh_attention.onnx")).unwrap()[..64].to_string();
        let fixed: String = text
            .lines()
            .map(|l| {
                if l.ends_with("face_detector.onnx") {
                    format!("{mesh_sum}  face_detector.onnx\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(dir.join("SHA256SUMS"), fixed).unwrap();
    });
    assert!(matches!(err, FaceError::Inference(InferenceError::TensorMismatch { .. })), "{err}");
    assert!(err.to_string().contains("tensor 'input'"), "{err}");
}

#[test]
fn eight_threads_give_the_single_thread_answer() {
    runtime_library();
    let img = astronaut();
    // A second image (mirrored portrait) so the threads do not all do the same thing at once.
    let mut mirrored = img.clone();
    for row in mirrored.rgb.chunks_exact_mut(512 * 3) {
        let pixels: Vec<[u8; 3]> = row.chunks_exact(3).rev().map(|p| [p[0], p[1], p[2]]).collect();
        row.copy_from_slice(&pixels.concat());
    }
    // No caching: every call really runs the models.
    let analyzer = FaceAnalyzer::new(Device::Cpu);
    let expected: Vec<_> = [&img, &mirrored]
        .iter()
        .map(|im| {
            let det = analyzer.detect_faces(im).unwrap().remove(0);
            let mesh = analyzer.face_landmarks(im, &det).unwrap();
            (det, mesh)
        })
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (analyzer, images, expected) = (&analyzer, [&img, &mirrored], &expected);
                s.spawn(move || {
                    for round in 0..4 {
                        let k = (t + round) % 2;
                        let det = analyzer.detect_faces(images[k]).unwrap().remove(0);
                        let mesh = analyzer.face_landmarks(images[k], &det).unwrap();
                        assert_eq!(det, expected[k].0, "thread {t} round {round}");
                        assert_eq!(mesh, expected[k].1, "thread {t} round {round}");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("an analysis thread panicked");
        }
    });
    // The mirrored face lies where the original would be mirrored (pixel x ↔ 511 − x), within a few pixels:
    // the detector itself is not exactly mirror-symmetric.
    let (a, b) = (&expected[0].0.bbox, &expected[1].0.bbox);
    assert!(((a.x + a.w / 2.0) - (511.0 - (b.x + b.w / 2.0))).abs() < 6.0, "{a:?} {b:?}");
}

#[test]
fn gpu_request_runs_on_cpu_with_a_reason() {
    runtime_library();
    let analyzer = FaceAnalyzer::new(Device::Gpu);
    let report = analyzer.device_report().unwrap();
    assert_eq!(report.requested, Device::Gpu);
    assert_eq!(report.used, "CPU");
    let reason = report.reason.clone().expect("a fallback reason");
    assert!(reason.contains("CUDA"), "{reason}");
    assert!(report.is_gpu_fallback());
    // It still works, on the CPU.
    assert_eq!(analyzer.detect_faces(&astronaut()).unwrap().len(), 1);
    // Auto explains too, but is not a warning; CPU has nothing to explain.
    let auto = FaceAnalyzer::new(Device::Auto).device_report().unwrap();
    assert_eq!(auto.used, "CPU");
    assert!(auto.reason.is_some() && !auto.is_gpu_fallback());
    let cpu = FaceAnalyzer::new(Device::Cpu).device_report().unwrap();
    assert_eq!((cpu.used.as_str(), cpu.reason.as_deref()), ("CPU", None));
}

#[test]
fn pools_are_shared_and_sessions_return() {
    runtime_library();
    let models = models_dir();
    let a = SessionPool::get(&models, face::DETECTOR_MODEL, Device::Cpu).unwrap();
    let b = SessionPool::get(&models.join("."), face::DETECTOR_MODEL, Device::Cpu).unwrap();
    assert!(Arc::ptr_eq(&a, &b), "one pool per model file and device");
    {
        let _s1 = a.checkout().unwrap();
        let _s2 = a.checkout().unwrap();
    }
    // Both went back: two more checkouts do not block.
    let _s1 = a.checkout().unwrap();
    let _s2 = a.checkout().unwrap();
}

#[test]
fn abort_stops_before_running() {
    runtime_library();
    let analyzer = FaceAnalyzer::new(Device::Cpu);
    let err = analyzer.detect_faces_abortable(&astronaut(), Some(&|| true)).unwrap_err();
    assert!(matches!(err, FaceError::Inference(InferenceError::Aborted)), "{err}");
    assert!(analyzer.detect_faces_abortable(&astronaut(), Some(&|| false)).is_ok());
}
