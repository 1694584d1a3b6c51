//! Natron's behaviour, imitated by the headless host: render windows split into
//! bands rendered concurrently on several threads (with host frame threading).

#[path = "support/common.rs"]
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

/// Natron drops the variadic arguments of its message suites (it forwards
/// them into a second variadic formatter), so the plugin must put the text in
/// the format itself: an error naming a path with `%` in it reads intact.
#[test]
fn natron_shows_error_messages_with_percent_signs_intact() {
    let (_h, plugin) = load(HostOptions { quirks: HostQuirks::Natron, threads: 2, ..HostOptions::default() });
    let mut inst = instance_with(&plugin, astronaut());
    let path = "/nonexistent/100% sure/shot_%04d.json";
    inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
    inst.set_param("trackFile", ParamValue::String(path.into())).unwrap();
    assert!(inst.render_frame(1.0, &RenderRequest::default()).is_err(), "a missing track file fails the render");
    let pm = inst.persistent_message().expect("a persistent error message");
    assert_eq!(pm.kind, MessageKind::Error);
    assert!(pm.text.starts_with("Living Portrait: ") && pm.text.contains(path), "the message reads {:?}", pm.text);
    for m in inst.messages() {
        assert!(!m.text.trim().is_empty(), "a blank message: {m:?}");
    }
}
