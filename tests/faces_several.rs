//! Portraits with several faces, on the real models with the real ONNX Runtime (CPU), through the plugin's C
//! entry points in the headless host. The fixtures are composed here from the demo portrait: a canvas with the
//! portrait at full size on the right and a 0.6-scaled copy on the left (the right face is the larger), and a
//! canvas with two full-size copies (the largest is a coin toss). Checks: the analysis finds both faces, left to
//! right; by default the node animates the largest face and leaves the other bit-exact; `faceIndex` = 1 animates
//! the leftmost; a `faceIndex` beyond the faces is an error naming their count; `facesFound` says how many there
//! are; two faces of the same size give one persistent warning, the 0.6 canvas none.

#[path = "support/common.rs"]
mod common;
#[path = "support/face_common.rs"]
mod face_common;

use std::path::PathBuf;

use common::{instance_with, load};
use face_common::{paste, resized};
use living_portrait::face::{FaceAnalyzer, FaceImage};
use living_portrait::inference::Device;
use ofx::host::*;

/// Where a canvas starts its right-hand portrait; everything left of it belongs to the left face.
struct Canvas {
    image: FaceImage,
    /// The first column of the right-hand copy.
    split: u32,
}

/// A grey 512-pixel-high canvas with the portrait scaled to `left_side` on the left and at full size (512) on
/// the right, 40 pixels of grey between them.
fn canvas(left_side: u32) -> Canvas {
    let portrait = face_common::astronaut();
    let width = 20 + left_side + 40 + 512;
    let mut image = FaceImage::filled(width, 512, [110, 110, 116]).unwrap();
    paste(&mut image, &resized(&portrait, left_side), (20, (512 - left_side) / 2));
    paste(&mut image, &portrait, (width - 512, 0));
    Canvas { image, split: width - 512 - 20 }
}

fn out_dir() -> PathBuf {
    let d = installer::target_dir().join("test-output").join("faces_several");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The canvas as a host image (through a PNG, which is also kept to look at).
fn host_image(c: &Canvas, name: &str) -> HostImage {
    let path = out_dir().join(format!("{name}_source.png"));
    ::image::RgbImage::from_raw(c.image.width, c.image.height, c.image.rgb.clone()).unwrap().save(&path).unwrap();
    HostImage::load(&path).unwrap()
}

/// An instance on the canvas with the jaw dropped by the expression controls.
fn jaw_drop(plugin: &Plugin, img: HostImage) -> Instance {
    let mut inst = instance_with(plugin, img);
    inst.set_param("driveMode", ParamValue::ChoiceByOption("expressions".into())).unwrap();
    inst.set_param("jawOpen", ParamValue::Double(1.0)).unwrap();
    inst
}

/// Pixels that differ from the source, left and right of `split`.
fn changed(src: &HostImage, out: &HostImage, split: u32) -> (usize, usize) {
    let (mut left, mut right) = (0, 0);
    let b = src.bounds();
    assert_eq!(b, out.bounds());
    for y in b.y1..b.y2 {
        for x in b.x1..b.x2 {
            if src.pixel(x, y).unwrap()[..3] != out.pixel(x, y).unwrap()[..3] {
                if (x as u32) < split {
                    left += 1;
                } else {
                    right += 1;
                }
            }
        }
    }
    (left, right)
}

fn render(inst: &mut Instance, name: &str) -> HostImage {
    let out = inst.render_frame(1.0, &RenderRequest::default()).unwrap_or_else(|e| panic!("{e}: {:?}", inst.messages()));
    out.save(&out_dir().join(format!("{name}.png")), Depth::Byte).unwrap();
    out
}

fn faces_found(inst: &Instance) -> String {
    match inst.param_value("facesFound", 1.0).unwrap() {
        ParamValue::String(s) => s,
        other => panic!("{other:?}"),
    }
}

fn face_warnings(inst: &Instance) -> usize {
    inst.messages().iter().filter(|m| m.persistent && m.text.contains("same size")).count()
}

#[test]
fn the_analysis_finds_both_faces_left_to_right() {
    face_common::runtime_library();
    for (left_side, name) in [(307, "0.6"), (512, "equal")] {
        let c = canvas(left_side);
        let analyzer = FaceAnalyzer::with_models_dir(face_common::models_dir(), Device::Cpu);
        let t = std::time::Instant::now();
        let a = analyzer.analyze(&c.image).unwrap();
        let seconds = t.elapsed().as_secs_f64();
        for (i, f) in a.faces.iter().enumerate() {
            let b = f.detection.bbox;
            eprintln!(
                "{name}: face {} from the left: box {:.0},{:.0} {:.1}×{:.1}, score {:.3}, presence {:.3}",
                i + 1, b.x, b.y, b.w, b.h, f.detection.score, f.mesh.presence
            );
        }
        eprintln!("{name}: {} detector runs, tiles {:?}, {seconds:.2} s; {}", a.detector_runs, a.tile_side, a.summary(0));
        assert_eq!(a.faces.len(), 2, "{name}: {:?}", a.faces.iter().map(|f| f.detection.bbox).collect::<Vec<_>>());
        let [l, r] = [&a.faces[0], &a.faces[1]];
        assert!(l.detection.bbox.x + l.detection.bbox.w <= c.split as f32, "{name}: the first face is the left one");
        assert!(r.detection.bbox.x >= c.split as f32, "{name}: the second face is the right one");
        if left_side < 512 {
            assert_eq!(a.largest_index(), Some(1));
            assert_eq!(a.face.as_ref(), Some(r));
            assert!(!a.is_ambiguous());
            let ratio = l.detection.bbox.w / r.detection.bbox.w;
            assert!((0.5..0.7).contains(&ratio), "size ratio {ratio}");
        } else {
            assert!(a.is_ambiguous());
        }
    }
}

#[test]
fn the_largest_face_is_animated_by_default_and_face_index_picks_from_the_left() {
    let c = canvas(307);
    let src = host_image(&c, "small_left");
    let (_h, plugin) = load(HostOptions::default());
    let mut inst = jaw_drop(&plugin, src.clone());
    // Default: the larger face, on the right; the left one is untouched.
    let out = render(&mut inst, "small_left_default");
    let (left, right) = changed(&src, &out, c.split);
    eprintln!("default: {left} pixels changed left of x = {}, {right} right of it", c.split);
    assert_eq!(left, 0, "the smaller (left) face must stay bit-exact");
    assert!(right > 500, "the larger (right) face must move: {right} pixels changed");
    assert_eq!(face_warnings(&inst), 0, "no ambiguity warning: {:?}", inst.messages());
    assert_eq!(faces_found(&inst), "2 faces found; animating the largest (face 2 from the left)");

    // faceIndex 1: the leftmost face.
    inst.set_param("faceIndex", ParamValue::Int(1)).unwrap();
    assert_eq!(faces_found(&inst), "2 faces found; animating face 1 from the left");
    let out = render(&mut inst, "small_left_face1");
    let (left, right) = changed(&src, &out, c.split);
    eprintln!("faceIndex 1: {left} pixels changed left, {right} right");
    assert_eq!(right, 0, "the right face must stay bit-exact");
    assert!(left > 200, "the left face must move: {left} pixels changed");

    // faceIndex 2 is the right face again, as the default chose.
    inst.set_param("faceIndex", ParamValue::Int(2)).unwrap();
    let again = render(&mut inst, "small_left_face2");
    assert_eq!(max_diff_rgb(&again, &render_default(&plugin, &src)), 0.0);

    // Beyond the faces: a sentence naming the count, no image.
    inst.set_param("faceIndex", ParamValue::Int(3)).unwrap();
    assert!(faces_found(&inst).contains("there is no face 3"), "{}", faces_found(&inst));
    let err = inst.render_frame(1.0, &RenderRequest::default()).expect_err("faceIndex 3 of 2 faces");
    let text = format!("{err} {:?}", inst.messages());
    assert!(text.contains("only 2 faces"), "{text}");
}

fn render_default(plugin: &Plugin, src: &HostImage) -> HostImage {
    jaw_drop(plugin, src.clone()).render_frame(1.0, &RenderRequest::default()).unwrap()
}

fn max_diff_rgb(a: &HostImage, b: &HostImage) -> f32 {
    common::max_diff(a, b).0
}

#[test]
fn faces_of_the_same_size_warn_once() {
    let c = canvas(512);
    let src = host_image(&c, "equal");
    let (_h, plugin) = load(HostOptions::default());
    let mut inst = jaw_drop(&plugin, src.clone());
    assert!(faces_found(&inst).contains("another is about as large"), "{}", faces_found(&inst));
    let out = render(&mut inst, "equal_default");
    let (left, right) = changed(&src, &out, c.split);
    eprintln!("equal faces, default: {left} pixels changed left, {right} right");
    assert!((left == 0) != (right == 0), "exactly one face moves");
    let warning = inst.persistent_message().expect("a persistent warning");
    assert_eq!(warning.kind, MessageKind::Warning);
    assert!(warning.text.contains("Face (faceIndex)"), "{}", warning.text);
    // Once per portrait, not per frame.
    inst.render_frame(2.0, &RenderRequest::default()).unwrap();
    inst.render_frame(3.0, &RenderRequest::default()).unwrap();
    assert_eq!(face_warnings(&inst), 1, "{:?}", inst.messages());
    // Choosing a face settles it: the warning goes.
    inst.set_param("faceIndex", ParamValue::Int(2)).unwrap();
    let out = render(&mut inst, "equal_face2");
    let (left, right) = changed(&src, &out, c.split);
    assert!(left == 0 && right > 500, "{left} {right}");
    assert!(inst.persistent_message().is_none(), "{:?}", inst.persistent_message());
}
