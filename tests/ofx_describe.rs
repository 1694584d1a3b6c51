//! The plugin as hosts see it after describe and describe-in-context, read from
//! the property sets it filled through the C API; and its exported symbols.

#[path = "support/common.rs"]
mod common;

use common::*;
use ofx::host::*;

fn strings(v: Option<&PropValue>) -> Vec<String> {
    match v {
        Some(PropValue::String(s)) => s.clone(),
        other => panic!("expected strings, got {other:?}"),
    }
}

fn int(v: Option<&PropValue>) -> i32 {
    match v {
        Some(PropValue::Int(i)) => i[0],
        other => panic!("expected an int, got {other:?}"),
    }
}

#[test]
fn describe_declares_identity_contexts_depths_and_threading() {
    let (_host, plugin) = load(HostOptions::default());
    assert_eq!(plugin.id(), ID);
    assert_eq!(plugin.version(), (1, 0));
    let d = plugin.descriptor_props();
    let e = &d.effect;
    assert_eq!(strings(e.get("OfxPropLabel")), ["Living Portrait"]);
    assert_eq!(strings(e.get("OfxImageEffectPluginPropGrouping")), ["Transform/Face"]);
    let contexts = strings(e.get("OfxImageEffectPropSupportedContexts"));
    assert!(contexts.contains(&"OfxImageEffectContextFilter".to_string()));
    assert!(contexts.contains(&"OfxImageEffectContextGeneral".to_string()));
    assert_eq!(
        strings(e.get("OfxImageEffectPropSupportedPixelDepths")),
        ["OfxBitDepthByte", "OfxBitDepthShort", "OfxBitDepthFloat"]
    );
    assert_eq!(strings(e.get("OfxImageEffectPluginRenderThreadSafety")), ["OfxImageEffectRenderFullySafe"]);
    assert_eq!(int(e.get("OfxImageEffectPluginPropHostFrameThreading")), 1);
    assert_eq!(int(e.get("OfxImageEffectPropSupportsMultiResolution")), 1);
    assert_eq!(int(e.get("OfxImageEffectInstancePropSequentialRender")), 0);
}

#[test]
fn filter_context_has_source_and_output_general_adds_optional_driver() {
    let (_host, plugin) = load(HostOptions::default());
    let filter = plugin.context_descriptor(Context::Filter).expect("filter context");
    for clip in ["Source", "Output"] {
        let c = filter.clip(clip).unwrap_or_else(|| panic!("no {clip} clip"));
        assert_eq!(
            strings(c.get("OfxImageEffectPropSupportedComponents")),
            ["OfxImageComponentRGBA", "OfxImageComponentRGB"]
        );
    }
    assert!(filter.clip("Driver").is_none(), "the filter context has no Driver clip");

    let general = plugin.context_descriptor(Context::General).expect("general context");
    let driver = general.clip("Driver").expect("general context has a Driver clip");
    assert_eq!(int(driver.get("OfxImageClipPropOptional")), 1);
    assert_eq!(int(general.clip("Source").unwrap().get("OfxImageClipPropOptional")), 0);
}

#[test]
fn instances_are_created_and_destroyed_in_both_contexts() {
    let (_host, plugin) = load(HostOptions::default());
    for ctx in [Context::Filter, Context::General] {
        let inst = plugin.create_instance(ctx).expect("create instance");
        drop(inst);
    }
    let log: Vec<String> = plugin.action_log().into_iter().map(|(a, _)| a).collect();
    let pos = |name: &str| log.iter().position(|a| a == name).unwrap_or_else(|| panic!("{name} never called: {log:?}"));
    assert!(pos("OfxActionLoad") < pos("OfxActionDescribe"));
    assert!(pos("OfxActionDescribe") < pos("OfxActionCreateInstance"));
    assert!(pos("OfxActionCreateInstance") < pos("OfxActionDestroyInstance"));
}

/// Only the OFX entry points leave the cdylib (no Rust symbols, no ort, no C
/// runtime helpers), so hosts with their own libraries cannot clash with ours.
#[test]
fn cdylib_exports_only_the_ofx_entry_points() {
    let out = std::process::Command::new("nm")
        .args(["-D", "--defined-only", "--format=posix"])
        .arg(cdylib())
        .output()
        .expect("nm (binutils, installed with gcc) must be available");
    assert!(out.status.success(), "nm failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?;
            let kind = it.next()?;
            // Functions and data only (not absolute version-node symbols).
            matches!(kind, "T" | "t" | "D" | "d" | "B" | "b" | "W" | "V" | "R").then(|| name.to_string())
        })
        .collect();
    names.sort();
    assert_eq!(names, ["OfxGetNumberOfPlugins", "OfxGetPlugin", "OfxSetHost"]);
}
