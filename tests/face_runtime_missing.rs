//! A missing ONNX Runtime, seen through the library (its own test binary: the runtime is loaded once per process,
//! so this must run before anything else loads one). The error names the file looked for, nothing panics, and a
//! failed load is not remembered: once the runtime is there, the same process loads it.

#[path = "support/face_common.rs"]
mod face_common;

use face_common::*;
use living_portrait::face::{FaceAnalyzer, FaceError};
use living_portrait::inference::{self, Device, InferenceError, ORT_LIB_ENV};

#[test]
fn missing_runtime_is_a_clear_error_and_a_later_load_works() {
    let missing = "/nonexistent/living-portrait/libonnxruntime.so.1.31.1";
    // Edition 2021: set_var is safe; this binary has this single test, so no other thread reads the variable.
    std::env::set_var(ORT_LIB_ENV, missing);
    assert!(inference::loaded_runtime().is_none());
    let analyzer = FaceAnalyzer::new(Device::Cpu);
    let err = analyzer.detect_faces(&astronaut()).unwrap_err();
    assert!(matches!(err, FaceError::Inference(InferenceError::RuntimeMissing { .. })), "{err}");
    let text = err.to_string();
    assert!(text.contains(missing) && text.contains("was not found"), "{text}");
    assert!(text.starts_with("ONNX Runtime 1.31.1") && text.ends_with('.'), "{text}");
    assert!(inference::loaded_runtime().is_none());

    // Now point at the real runtime: the same analyzer recovers.
    std::env::remove_var(ORT_LIB_ENV);
    let real = runtime_library();
    std::env::set_var(ORT_LIB_ENV, &real);
    assert_eq!(analyzer.detect_faces(&astronaut()).unwrap().len(), 1);
    assert_eq!(inference::loaded_runtime().unwrap().path, real);
    assert_eq!(inference::loaded_runtime().unwrap().version, inference::ORT_RUNTIME_VERSION);
}
