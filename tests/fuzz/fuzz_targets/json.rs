#![no_main]
//! The JSON layer: any bytes parse to a value or an error with a position, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = living_portrait::json::Json::parse(text);
    }
});
