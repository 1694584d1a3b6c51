#![no_main]
//! Any track file as the node reads it: the format detected by content, then parsed.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = living_portrait::track_import::parse_track_bytes(data, [640, 480]);
});
