#![no_main]
//! The project's own JSON track format.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = living_portrait::track::LandmarkTrack::parse(text);
    }
});
