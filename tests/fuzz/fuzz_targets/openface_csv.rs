#![no_main]
//! OpenFace 2.x CSV.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = living_portrait::track_import::parse_openface_csv(text, [640, 480]);
    }
});
