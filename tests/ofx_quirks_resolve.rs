//! Regression tests for DaVinci Resolve's behaviour, imitated by the headless
//! host: images report render scale 1 while the render action has the real
//! scale, and message suite v2 lacks setPersistentMessage. (Its own process:
//! the plugin keeps the suites of the host that loaded it.)

#[path = "support/common.rs"]
mod common;

use common::*;
use ofx::host::*;

#[test]
fn resolve_image_scale_and_missing_persistent_messages() {
    let (_h, plugin) = load(HostOptions { quirks: HostQuirks::Resolve, ..HostOptions::default() });
    let src = pattern(64, 40, Components::Rgba, Depth::Byte);
    let mut inst = instance_with(&plugin, src.clone());
    let full = inst.render_frame(1.0, &RenderRequest { depth: Depth::Byte, ..RenderRequest::default() }).unwrap();
    assert_eq!(max_diff(&src, &full), (0.0, true));
    let half = inst.render_frame(1.0, &RenderRequest { scale: 0.5, depth: Depth::Byte, ..RenderRequest::default() }).unwrap();
    assert_eq!((half.width, half.height), (32, 20));
    assert_eq!(inst.leaked_images(), 0);

    // Resolve's message suite v2 has no setPersistentMessage: errors still reach
    // the user as transient messages. (Same test function: the fault switch is
    // process-wide and tests of one file run concurrently.)
    std::env::set_var("LIVING_PORTRAIT_INJECT_FAULT", "render-error");
    let mut inst = instance_with(&plugin, pattern(8, 8, Components::Rgba, Depth::Float));
    let r = inst.render_frame(1.0, &RenderRequest::default());
    std::env::remove_var("LIVING_PORTRAIT_INJECT_FAULT");
    let err = r.expect_err("the injected fault must fail the render");
    assert!(err.to_string().contains("Render"), "the error names the action: {err}");
    let msgs = inst.messages();
    assert!(
        msgs.iter().any(|m| m.text.contains("injected render fault") && !m.persistent),
        "a transient message replaces the missing persistent one: {msgs:?}"
    );
    inst.render_frame(2.0, &RenderRequest::default()).expect("the host keeps running");
}
