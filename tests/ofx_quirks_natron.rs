//! Natron's behaviour, imitated by the headless host: render windows split into
//! bands rendered concurrently on several threads (with host frame threading).

mod common;

use common::*;
use ofx::host::*;

#[test]
fn natron_split_bands_give_the_same_frame() {
    let src = pattern(120, 77, Components::Rgb, Depth::Float);
    let (_h, plugin) = load(HostOptions { quirks: HostQuirks::Natron, threads: 6, ..HostOptions::default() });
    let mut inst = instance_with(&plugin, src.clone());
    let req = RenderRequest { components: Components::Rgb, ..RenderRequest::default() };
    let frames: Vec<i32> = (1..=6).collect();
    for (f, out) in inst.render_sequence(&frames, 3, &req).expect("natron-style render") {
        assert_eq!(max_diff(&src, &out), (0.0, true), "frame {f}");
    }
    assert_eq!(inst.leaked_images(), 0);
}
