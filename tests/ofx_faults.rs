//! Failures inside the plugin come back as failed statuses with a message, and
//! the host keeps running: an error returned by render, and a panic in render
//! (which must never cross the C boundary). Uses the test-only fault switch of
//! debug builds; one test function, because the switch is process-wide.

#[path = "support/common.rs"]
mod common;

use common::*;
use ofx::host::*;

#[test]
fn injected_errors_and_panics_fail_the_render_and_the_host_survives() {
    if !cfg!(debug_assertions) {
        eprintln!("fault injection exists only in debug builds of the plugin; skipped");
        return;
    }
    let (_h, plugin) = load(HostOptions::default());
    let src = pattern(16, 16, Components::Rgba, Depth::Float);
    let mut inst = instance_with(&plugin, src.clone());

    std::env::set_var("LIVING_PORTRAIT_INJECT_FAULT", "render-error");
    let err = inst.render_frame(1.0, &RenderRequest::default()).expect_err("error injected");
    assert!(err.to_string().contains("kOfxStatFailed"), "failed status: {err}");
    let pm = inst.persistent_message().expect("a persistent error message");
    assert!(pm.text.contains("injected render fault"), "{pm:?}");

    std::env::set_var("LIVING_PORTRAIT_INJECT_FAULT", "render-panic");
    let err = inst.render_frame(2.0, &RenderRequest::default()).expect_err("panic injected");
    assert!(err.to_string().contains("kOfxStatErrUnknown"), "panic maps to kOfxStatErrUnknown: {err}");
    let pm = inst.persistent_message().expect("a persistent error message");
    assert!(pm.text.contains("internal error") && pm.text.contains("injected render panic"), "{pm:?}");
    assert_eq!(inst.leaked_images(), 0, "images are released on error paths too");

    std::env::remove_var("LIVING_PORTRAIT_INJECT_FAULT");
    let out = inst.render_frame(3.0, &RenderRequest::default()).expect("renders again");
    assert_eq!(max_diff(&src, &out), (0.0, true));
    assert!(inst.persistent_message().is_none(), "a good render clears the error message");
}
