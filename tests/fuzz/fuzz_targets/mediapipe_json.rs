#![no_main]
//! MediaPipe 468-point JSON (mapped to the 68 iBUG points).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = living_portrait::track_import::parse_mediapipe_json(text, [640, 480]);
    }
});
