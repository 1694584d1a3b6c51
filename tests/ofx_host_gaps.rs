//! Hosts that give less than the specification allows them to: a multithread
//! suite that runs fewer threads than asked (OFX HostSupport's default runs
//! the function once, as thread 0 of 1), one that reports a single CPU, and
//! (below) hosts without optional features. Each renders the demo setup (the
//! astronaut driven by the demo track, ONNX Runtime running) through the C
//! entry points and must match the ordinary render bit for bit.
//!
//! The plugin keeps one table of host suites per process (the last host to
//! load it), so the tests here take turns instead of loading different hosts
//! at once.

#[path = "support/common.rs"]
mod common;

use common::*;
use ofx::host::*;
use parking_lot::Mutex;

/// One host at a time in this process.
static TURN: Mutex<()> = Mutex::new(());

/// Frames of the demo track rendered by every test.
const FRAMES: [i32; 2] = [1, 16];

/// The demo setup rendered by a host with `options`; also the messages it got.
fn demo(options: HostOptions) -> (Vec<(i32, HostImage)>, Vec<HostMessage>) {
    let track = installer::workspace_root().join("resources/demo/track.json");
    let (host, plugin) = load(options);
    let mut inst = instance_with(&plugin, astronaut());
    inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
    inst.set_param("trackFile", ParamValue::String(track.display().to_string())).unwrap();
    let out = inst.render_sequence(&FRAMES, 1, &RenderRequest::default()).unwrap_or_else(|e| panic!("render failed: {e}"));
    assert_eq!(inst.leaked_images(), 0);
    let messages = host.messages();
    (out, messages)
}

/// The ordinary render, once per process.
fn reference() -> &'static [(i32, HostImage)] {
    static REF: std::sync::OnceLock<Vec<(i32, HostImage)>> = std::sync::OnceLock::new();
    REF.get_or_init(|| {
        let (out, messages) = demo(HostOptions { threads: 2, ..HostOptions::default() });
        assert!(messages.iter().all(|m| m.kind != MessageKind::Error), "{messages:?}");
        out
    })
}

fn assert_same_as_reference(out: &[(i32, HostImage)], what: &str) {
    let reference = reference();
    assert_eq!(out.len(), reference.len());
    for ((f, a), (g, b)) in out.iter().zip(reference) {
        assert_eq!(f, g);
        assert_eq!(a.bounds(), b.bounds(), "{what}, frame {f}: bounds");
        let differ = a.pixels.iter().zip(&b.pixels).filter(|(p, q)| p.to_bits() != q.to_bits()).count();
        assert_eq!(differ, 0, "{what}, frame {f}: {differ} samples differ from the ordinary render (max diff {:?})", max_diff(a, b));
    }
}

#[test]
fn hostsupport_single_thread_suite_renders_the_same_frames() {
    let _turn = TURN.lock();
    reference();
    let (out, messages) = demo(HostOptions { threads: 2, multithread: MultiThreadMode::Single, ..HostOptions::default() });
    assert!(messages.iter().all(|m| m.kind != MessageKind::Error), "{messages:?}");
    assert_same_as_reference(&out, "HostSupport's single-thread suite");
}

#[test]
fn one_cpu_suite_renders_the_same_frames() {
    let _turn = TURN.lock();
    reference();
    let (out, _) = demo(HostOptions { threads: 2, multithread: MultiThreadMode::OneCpu, ..HostOptions::default() });
    assert_same_as_reference(&out, "a suite reporting one CPU");
}

#[test]
fn a_host_without_instance_data_renders_the_same_frames() {
    let _turn = TURN.lock();
    reference();
    let (out, messages) = demo(HostOptions { threads: 2, instance_data: false, ..HostOptions::default() });
    assert!(messages.iter().all(|m| m.kind != MessageKind::Error), "{messages:?}");
    assert_same_as_reference(&out, "a host without kOfxPropInstanceData");
}

#[test]
fn a_host_without_param_get_value_at_time_renders_with_one_warning() {
    let _turn = TURN.lock();
    reference();
    let (out, messages) = demo(HostOptions { threads: 2, param_value_at_time: false, ..HostOptions::default() });
    assert_same_as_reference(&out, "a host without paramGetValueAtTime");
    let warnings: Vec<_> = messages.iter().filter(|m| m.text.contains("paramGetValueAtTime")).collect();
    assert_eq!(warnings.len(), 1, "one warning over {} frames: {messages:?}", FRAMES.len());
    assert_eq!(warnings[0].kind, MessageKind::Warning);
    assert!(warnings[0].persistent);
    assert!(messages.iter().all(|m| m.kind != MessageKind::Error), "{messages:?}");
}

/// `ofx-render --multithread single` (and `one-cpu`) renders the demo track to
/// the same file as the ordinary render.
#[test]
fn ofx_render_multithread_flag_gives_the_same_files() {
    let out_dir = installer::target_dir().join("test-output").join("ofx_host_gaps");
    let _ = std::fs::remove_dir_all(&out_dir);
    let src = installer::workspace_root().join("resources/demo/astronaut.png");
    let track = installer::workspace_root().join("resources/demo/track.json");
    let render = |mode: &str| -> Vec<u8> {
        let out = out_dir.join(format!("{mode}_%04d.exr"));
        let o = std::process::Command::new(ofx_render())
            .arg("--plugin-path")
            .arg(plugin_dir())
            .args(["--plugin", ID, "--frames", "16", "--threads", "2", "--multithread", mode])
            .arg("--input")
            .arg(format!("Source={}", src.display()))
            .args(["--param", "driveMode=trackFile", "--param"])
            .arg(format!("trackFile={}", track.display()))
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run ofx-render");
        assert!(o.status.success(), "{mode}: {}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out_dir.join(format!("{mode}_0016.exr"))).unwrap()
    };
    let threads = render("threads");
    assert_eq!(render("single"), threads, "--multithread single");
    assert_eq!(render("one-cpu"), threads, "--multithread one-cpu");
    let o = std::process::Command::new(ofx_render()).args(["--multithread", "many"]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not threads, one-cpu or single"));
}

/// The demo setup with `params` on top, rendered by a host with `options`.
fn demo_with(options: HostOptions, params: &[(&str, ParamValue)]) -> Vec<(i32, HostImage)> {
    let track = installer::workspace_root().join("resources/demo/track.json");
    let (_host, plugin) = load(options);
    let mut inst = instance_with(&plugin, astronaut());
    inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
    inst.set_param("trackFile", ParamValue::String(track.display().to_string())).unwrap();
    for (k, v) in params {
        inst.set_param(k, v.clone()).unwrap();
    }
    let out = inst.render_sequence(&FRAMES, 1, &RenderRequest::default()).unwrap_or_else(|e| panic!("render failed: {e}"));
    assert_eq!(inst.leaked_images(), 0);
    out
}

/// Every output mode, the segmentation matte and the expression controls
/// under HostSupport's single-thread suite: the same samples as with threads.
#[test]
fn every_output_mode_renders_the_same_under_the_single_thread_suite() {
    let _turn = TURN.lock();
    let cases: [(&str, Vec<(&str, ParamValue)>); 4] = [
        ("crop", vec![("outputMode", ParamValue::ChoiceByOption("crop".into()))]),
        ("matte with segmentation", vec![("outputMode", ParamValue::ChoiceByOption("matte".into())), ("useSegmentation", ParamValue::Bool(true))]),
        ("full with segmentation", vec![("useSegmentation", ParamValue::Bool(true))]),
        ("full, jaw open and a blink on top", vec![("jawOpen", ParamValue::Double(0.6)), ("blinkLeft", ParamValue::Double(1.0))]),
    ];
    for (what, params) in cases {
        let threads = demo_with(HostOptions { threads: 2, ..HostOptions::default() }, &params);
        let single = demo_with(HostOptions { threads: 2, multithread: MultiThreadMode::Single, ..HostOptions::default() }, &params);
        for ((f, a), (_, b)) in single.iter().zip(&threads) {
            let differ = a.pixels.iter().zip(&b.pixels).filter(|(p, q)| p.to_bits() != q.to_bits()).count();
            assert_eq!(differ, 0, "{what}, frame {f}: {differ} samples differ under the single-thread suite");
        }
    }
}
