//! Faces small in a large frame, on the real models with the real ONNX Runtime (CPU): the demo portrait pasted
//! into a 3840×2160 frame, once enlarged 2× (a face about 300 pixels wide, 10 detector pixels when the whole
//! frame is letterboxed into 128) and once at its own size (about 140 pixels). The analyzer must find the one
//! face by its tile search, with the 68 points within a mean of 2 pixels of MediaPipe's reference points on the
//! portrait carried into the frame; a blank 4K frame must give no face within the search's bounded cost.

#[path = "support/face_common.rs"]
mod face_common;

use std::time::Instant;

use face_common::*;
use living_portrait::face::{FaceAnalysis, FaceAnalyzer, FaceError, FaceImage, MAX_DETECTOR_RUNS};
use living_portrait::inference::{Device, InferenceError};

const UHD: (u32, u32) = (3840, 2160);

/// A 3840×2160 frame with a soft diagonal grey gradient (not flat, so the tiles are not all alike).
fn uhd_background() -> FaceImage {
    let (w, h) = UHD;
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h {
        for x in 0..w {
            let v = (96 + (x + y) * 64 / (w + h)) as u8;
            rgb.extend_from_slice(&[v, v, v.saturating_add(6)]);
        }
    }
    FaceImage::new(w, h, rgb).unwrap()
}

/// The reference 68 points (512-pixel portrait) carried into the frame: enlarged `scale` times and moved to
/// `at`. Pixel k sits at coordinate k (the face module's convention), and an enlargement by s puts source
/// position p at s·p + (s − 1)/2.
fn expected_points(scale: f32, at: (u32, u32)) -> Vec<[f32; 2]> {
    let shift = (scale - 1.0) / 2.0;
    reference()
        .ibug68
        .iter()
        .map(|p| [p[0] * scale + shift + at.0 as f32, p[1] * scale + shift + at.1 as f32])
        .collect()
}

/// Analyses `img` with a fresh analyzer (nothing cached), timed.
fn analyse(img: &FaceImage) -> (std::sync::Arc<FaceAnalysis>, f64) {
    let analyzer = FaceAnalyzer::with_models_dir(models_dir(), Device::Cpu);
    analyzer.preload().unwrap();
    let t = Instant::now();
    let analysis = analyzer.analyze(img).unwrap();
    (analysis, t.elapsed().as_secs_f64())
}

/// Checks the one face found against the reference points and says what it cost. Exactly one face: the other
/// detections listed, if any, are ones the mesh model rejects.
fn check_face(name: &str, img: &FaceImage, analysis: &FaceAnalysis, seconds: f64, scale: f32, at: (u32, u32)) {
    assert_eq!(analysis.image_size, [UHD.0, UHD.1]);
    let face = analysis.require_face().unwrap();
    assert_eq!(face.detection, analysis.detections[0], "{name}: the face is the best detection");
    let analyzer = FaceAnalyzer::with_models_dir(models_dir(), Device::Cpu);
    for other in &analysis.detections[1..] {
        let presence = analyzer.face_landmarks(img, other).unwrap().presence;
        eprintln!("{name}: also detected {:?} (score {:.3}), mesh presence {presence:.3}", other.bbox, other.score);
        assert!(presence < 0.5, "{name}: a second face {other:?}");
    }
    assert!(face.mesh.presence >= 0.9, "{name}: presence {}", face.mesh.presence);
    let expected = expected_points(scale, at);
    let error = mean_distance(&face.landmarks68, &expected);
    let max = face.landmarks68.iter().zip(&expected).map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1])).fold(0.0, f32::max);
    let b = face.detection.bbox;
    eprintln!(
        "{name}: found in tiles of {:?} px after {} detector runs, {seconds:.2} s (debug build); box {:.1},{:.1} \
         {:.1}×{:.1}, score {:.3}, presence {:.3}; 68 points vs reference mean {error:.3} px, max {max:.3} px",
        analysis.tile_side, analysis.detector_runs, b.x, b.y, b.w, b.h, face.detection.score, face.mesh.presence
    );
    assert!(analysis.tile_side.is_some(), "{name}: the whole-image pass should not see this face");
    assert!(analysis.detector_runs <= MAX_DETECTOR_RUNS);
    assert!(error <= 2.0, "{name}: 68-point mean error {error} px");
    assert!(max <= 8.0 * scale, "{name}: 68-point max error {max} px");
}

#[test]
fn uhd_frame_with_a_300_pixel_face() {
    runtime_library();
    let at = (2500, 900);
    let mut img = uhd_background();
    paste(&mut img, &resized(&astronaut(), 1024), at);
    let (analysis, seconds) = analyse(&img);
    check_face("4K, face ~300 px at (2500, 900)", &img, &analysis, seconds, 2.0, at);
    // A pure function of the pixels: another analyzer gives the same answer; the cache gives it again.
    let again = FaceAnalyzer::with_models_dir(models_dir(), Device::Cpu);
    let second = again.analyze(&img.clone()).unwrap();
    assert_eq!(*second, *analysis);
    assert!(std::sync::Arc::ptr_eq(&second, &again.analyze(&img).unwrap()));
    // Plain detection (the command line's `detect`) finds the same face the same way.
    let detections = again.detect_faces(&img).unwrap();
    assert_eq!(detections, analysis.detections);
}

#[test]
fn uhd_frame_with_a_140_pixel_face() {
    runtime_library();
    let at = (300, 1400);
    let mut img = uhd_background();
    paste(&mut img, &astronaut(), at);
    let (analysis, seconds) = analyse(&img);
    check_face("4K, face ~140 px at (300, 1400)", &img, &analysis, seconds, 1.0, at);
}

#[test]
fn uhd_blank_frame_has_no_face_in_bounded_time() {
    runtime_library();
    let img = FaceImage::filled(UHD.0, UHD.1, [128, 128, 128]).unwrap();
    let (analysis, seconds) = analyse(&img);
    eprintln!(
        "4K blank: {} detector runs, {} detections, {seconds:.2} s (debug build)",
        analysis.detector_runs,
        analysis.detections.len()
    );
    assert!(analysis.face.is_none());
    assert!(analysis.detections.is_empty());
    assert!(matches!(analysis.require_face(), Err(FaceError::NoFace)));
    // Every tile scale that fits the budget was searched (1 + 18 + 66 runs), and no more.
    assert_eq!(analysis.detector_runs, 85);
    assert!(analysis.detector_runs <= MAX_DETECTOR_RUNS);
    assert!(seconds < 10.0, "{seconds} s");
}

#[test]
fn tile_search_stops_when_the_host_aborts() {
    runtime_library();
    let img = FaceImage::filled(UHD.0, UHD.1, [40, 60, 80]).unwrap();
    let analyzer = FaceAnalyzer::with_models_dir(models_dir(), Device::Cpu);
    let checks = std::sync::atomic::AtomicUsize::new(0);
    let abort = || checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 10;
    let t = Instant::now();
    let err = analyzer.analyze_abortable(&img, Some(&abort)).unwrap_err();
    assert!(matches!(err, FaceError::Inference(InferenceError::Aborted)), "{err}");
    let calls = checks.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("aborted after {calls} checks, {:.2} s", t.elapsed().as_secs_f64());
    assert!(calls <= 12, "the search went on after the abort: {calls} checks");
    // Nothing was cached: the same image analyses in full afterwards.
    let analysis = analyzer.analyze(&img).unwrap();
    assert!(analysis.face.is_none());
    assert_eq!(analysis.detector_runs, 85);
}
