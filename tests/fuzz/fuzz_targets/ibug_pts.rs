#![no_main]
//! One iBUG .pts file.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = living_portrait::track_import::parse_pts(text);
    }
});
