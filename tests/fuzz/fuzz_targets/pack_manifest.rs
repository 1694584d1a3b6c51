#![no_main]
//! A pack manifest, checked as if it were the manifest.json of the few-shot test pack (whose model files exist,
//! so the checks past the file names run too).
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn pack() -> &'static (PathBuf, PathBuf) {
    static PACK: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PACK.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../resources/models/fewshot_test");
        let canonical = std::fs::canonicalize(&dir).expect("the few-shot test pack is in the source tree");
        (dir, canonical)
    })
}

fuzz_target!(|data: &[u8]| {
    let (dir, canonical) = pack();
    let _ = living_portrait::packs::manifest::Manifest::parse_in(dir, canonical, data);
});
