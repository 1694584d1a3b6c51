//! Model packs chosen on the node (`modelPack`): the few-shot test pack runs
//! through the render, a broken pack fails with a message naming the problem.

#[path = "support/common.rs"]
mod common;

use common::*;
use ofx::host::*;

#[test]
fn fewshot_pack_renders_and_a_bad_pack_is_named() {
    // One test in this process: set before anything is loaded.
    std::env::set_var("LIVING_PORTRAIT_ALLOW_TEST_PACKS", "1");
    test_env();
    let (_h, plugin) = load(HostOptions::default());
    let mut inst = instance_with(&plugin, astronaut());
    inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
    let track = installer::workspace_root().join("resources/demo/track.json");
    inst.set_param("trackFile", ParamValue::String(track.display().to_string())).unwrap();
    let pack = installer::workspace_root().join("resources/models/fewshot_test");
    inst.set_param("modelPack", ParamValue::String(pack.display().to_string())).unwrap();
    let out = inst.render_frame(9.0, &RenderRequest::default()).expect("the few-shot pack renders");
    let src = astronaut();
    // The random-weight generator repaints the face inside the matte; the
    // corners of the frame are untouched.
    assert!(max_diff(&src, &out).0 > 0.05);
    assert_eq!(out.pixel(2, 2), src.pixel(2, 2));

    // A pack whose manifest points outside its folder.
    let bad = installer::target_dir().join("test-output").join("packs_node").join("bad_pack");
    std::fs::create_dir_all(&bad).unwrap();
    let manifest = std::fs::read_to_string(installer::workspace_root().join("resources/models/warp/manifest.json")).unwrap();
    std::fs::write(bad.join("manifest.json"), manifest.replace("\"warp_generator.onnx\"", "\"../warp_generator.onnx\"")).unwrap();
    inst.set_param("modelPack", ParamValue::String(bad.display().to_string())).unwrap();
    let err = inst.render_frame(9.0, &RenderRequest::default()).expect_err("a bad pack fails");
    assert!(err.to_string().contains("kOfxStatFailed"));
    let msg = inst.persistent_message().expect("a message").text;
    assert!(msg.contains("bad_pack") && msg.contains(".."), "{msg}");
    // Back to the built-in warp: renders again, the message is cleared.
    inst.set_param("modelPack", ParamValue::String(String::new())).unwrap();
    inst.render_frame(9.0, &RenderRequest::default()).expect("built-in warp");
    assert!(inst.persistent_message().is_none());
}
