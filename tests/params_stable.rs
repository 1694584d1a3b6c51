//! Saved Natron and Resolve projects refer to parameters by script name and to
//! choice options by index: this pins them, read from what the plugin declares
//! through its C entry points. Changing a line here breaks users' scenes.

#[path = "support/common.rs"]
mod common;

use common::*;
use ofx::host::*;

fn options(props: &std::collections::BTreeMap<String, PropValue>) -> Vec<String> {
    match props.get("OfxParamPropChoiceOption") {
        Some(PropValue::String(v)) => v.clone(),
        other => panic!("no options: {other:?}"),
    }
}

#[test]
fn parameter_names_types_and_options_are_stable() {
    let (_h, plugin) = load(HostOptions::default());
    let d = plugin.context_descriptor(Context::General).unwrap();
    let ty = |name: &str| match d.param(name).unwrap_or_else(|| panic!("parameter {name} is gone")).get("OfxParamPropType") {
        Some(PropValue::String(v)) => v[0].clone(),
        other => panic!("{name}: {other:?}"),
    };
    let choices: [(&str, &[&str]); 5] = [
        ("driveMode", &["Keyframes", "Track file", "Driver"]),
        ("motion", &["Relative", "Absolute"]),
        ("workingResolution", &["256", "512", "1024"]),
        ("outputMode", &["Full", "Crop", "Matte"]),
        ("device", &["Auto", "GPU", "CPU"]),
    ];
    for (name, opts) in choices {
        assert_eq!(ty(name), "OfxParamTypeChoice", "{name}");
        let have = options(d.param(name).unwrap());
        assert!(have.len() >= opts.len() && have[..opts.len()] == *opts, "{name}: options {have:?} must start with {opts:?}");
    }
    for (name, t) in [
        ("trackFile", "OfxParamTypeString"),
        ("trackFrameOffset", "OfxParamTypeInteger"),
        ("motionReferenceFrame", "OfxParamTypeInteger"),
        ("feather", "OfxParamTypeDouble"),
        ("useSegmentation", "OfxParamTypeBoolean"),
        ("deviceInfo", "OfxParamTypeString"),
        ("referenceFirst", "OfxParamTypeInteger"),
        ("referenceLast", "OfxParamTypeInteger"),
        ("overrideSource", "OfxParamTypeBoolean"),
        ("faceIndex", "OfxParamTypeInteger"),
        ("facesFound", "OfxParamTypeString"),
        // The expression controls (version 1), then generator v2's eye controls.
        ("jawOpen", "OfxParamTypeDouble"),
        ("smile", "OfxParamTypeDouble"),
        ("mouthWide", "OfxParamTypeDouble"),
        ("pucker", "OfxParamTypeDouble"),
        ("blinkLeft", "OfxParamTypeDouble"),
        ("blinkRight", "OfxParamTypeDouble"),
        ("browRaiseLeft", "OfxParamTypeDouble"),
        ("browRaiseRight", "OfxParamTypeDouble"),
        ("browFurrow", "OfxParamTypeDouble"),
        ("headYaw", "OfxParamTypeDouble"),
        ("headPitch", "OfxParamTypeDouble"),
        ("headRoll", "OfxParamTypeDouble"),
        ("gazeX", "OfxParamTypeDouble"),
        ("gazeY", "OfxParamTypeDouble"),
        ("eyeWideLeft", "OfxParamTypeDouble"),
        ("eyeWideRight", "OfxParamTypeDouble"),
        ("gazeFromTrack", "OfxParamTypeBoolean"),
    ] {
        assert_eq!(ty(name), t, "{name}");
    }
    // The new controls animate and start at 0 (no change), so a project saved before they existed renders as it did.
    for name in ["gazeX", "gazeY", "eyeWideLeft", "eyeWideRight"] {
        let props = d.param(name).unwrap();
        assert!(matches!(props.get("OfxParamPropAnimates"), Some(PropValue::Int(v)) if v[0] == 1), "{name} animates");
        assert!(matches!(props.get("OfxParamPropDefault"), Some(PropValue::Double(v)) if v[0] == 0.0), "{name} defaults to 0: {:?}", props.get("OfxParamPropDefault"));
    }
    for i in 0..68 {
        for name in [format!("lm{i:02}"), format!("srcLm{i:02}")] {
            assert_eq!(ty(&name), "OfxParamTypeDouble2D", "{name}");
            match d.param(&name).unwrap().get("OfxParamPropDoubleType") {
                Some(PropValue::String(v)) => assert_eq!(v[0], "OfxParamDoubleTypeXYAbsolute", "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
    // The landmark keys animate; the portrait override does not.
    let animates = |name: &str| matches!(d.param(name).unwrap().get("OfxParamPropAnimates"), Some(PropValue::Int(v)) if v[0] == 1);
    assert!(animates("lm00") && animates("lm67"));
    assert!(!animates("srcLm00"));
}

#[test]
fn gpu_requested_here_reports_cpu_with_a_reason() {
    test_env();
    let (_h, plugin) = load(HostOptions::default());
    let mut inst = instance_with(&plugin, astronaut());
    let line = |inst: &Instance| match inst.param_value("deviceInfo", 0.0).unwrap() {
        ParamValue::String(s) => s,
        other => panic!("{other:?}"),
    };
    assert!(line(&inst).starts_with("CPU"), "default device line: {}", line(&inst));
    inst.set_param("device", ParamValue::ChoiceByOption("gpu".into())).unwrap();
    let l = line(&inst);
    println!("device line with GPU requested: {l}");
    assert!(l.starts_with("CPU") && l.contains("requested GPU"), "{l}");
    let warning = inst.persistent_message().expect("a persistent warning says why");
    assert_eq!(warning.kind, MessageKind::Warning);
    assert!(warning.text.contains("GPU was requested"), "{}", warning.text);
}
