//! The render path through the C entry points: Source is copied to Output
//! exactly, for every depth and component layout, any render window, render
//! scale, negative row strides, padded output bounds, and concurrent renders.

#[path = "support/common.rs"]
mod common;

use common::*;
use ofx::host::*;

fn request(depth: Depth, components: Components) -> RenderRequest {
    RenderRequest { depth, components, ..RenderRequest::default() }
}

#[test]
fn pass_through_is_exact_for_every_depth_and_component_layout() {
    let (_host, plugin) = load(HostOptions::default());
    for depth in [Depth::Byte, Depth::Short, Depth::Float] {
        for components in [Components::Rgba, Components::Rgb] {
            let src = pattern(67, 41, components, depth);
            let mut inst = instance_with(&plugin, src.clone());
            let out = inst.render_frame(1.0, &request(depth, components)).expect("render");
            let (d, same_bounds) = max_diff(&src, &out);
            assert!(same_bounds, "{depth:?} {components:?}: bounds {:?} vs {:?}", out.bounds(), src.bounds());
            assert_eq!(d, 0.0, "{depth:?} {components:?}: pixels differ by {d}");
            assert_eq!(out.components, components);
            assert_eq!(inst.leaked_images(), 0, "{depth:?} {components:?}: images not released");
        }
    }
}

#[test]
fn render_window_subsets_fill_exactly_the_window() {
    let (_host, plugin) = load(HostOptions::default());
    let src = pattern(64, 48, Components::Rgba, Depth::Float);
    let mut inst = instance_with(&plugin, src.clone());
    for w in [RectI::new(0, 0, 64, 48), RectI::new(5, 7, 20, 30), RectI::new(63, 47, 64, 48), RectI::new(10, 0, 11, 48)] {
        let req = RenderRequest { window: Some(w), ..RenderRequest::default() };
        let out = inst.render_frame(3.0, &req).expect("render window");
        assert_eq!(out.bounds(), w, "output covers the window");
        let (d, _) = max_diff(&src, &out);
        assert_eq!(d, 0.0, "window {w:?}");
    }
}

#[test]
fn render_scale_half_renders_the_proxy_image() {
    let (_host, plugin) = load(HostOptions::default());
    let src = pattern(80, 60, Components::Rgba, Depth::Float);
    let mut inst = instance_with(&plugin, src.clone());
    let req = RenderRequest { scale: 0.5, ..RenderRequest::default() };
    let out = inst.render_frame(1.0, &req).expect("render at scale 0.5");
    assert_eq!((out.width, out.height), (40, 30));
    let expected = src.scaled(0.5);
    let (d, same) = max_diff(&expected, &out);
    assert!(same, "bounds at scale 0.5: {:?} vs {:?}", out.bounds(), expected.bounds());
    assert_eq!(d, 0.0);
}

#[test]
fn negative_row_bytes_and_padded_output_bounds_give_the_same_pixels() {
    let src = pattern(50, 33, Components::Rgb, Depth::Short);
    let reference = {
        let (_h, plugin) = load(HostOptions::default());
        instance_with(&plugin, src.clone()).render_frame(2.0, &request(Depth::Short, Components::Rgb)).unwrap()
    };
    for (neg, pad) in [(true, 0), (false, 9), (true, 4)] {
        let (_h, plugin) = load(HostOptions { negative_row_bytes: neg, pad_output_bounds: pad, ..HostOptions::default() });
        let mut inst = instance_with(&plugin, src.clone());
        let out = inst.render_frame(2.0, &request(Depth::Short, Components::Rgb)).expect("render");
        let (d, same) = max_diff(&reference, &out);
        assert!(same && d == 0.0, "negative rowBytes {neg}, padding {pad}: diff {d}, same bounds {same}");
        assert_eq!(inst.leaked_images(), 0);
    }
}

#[test]
fn eight_threads_and_split_windows_match_one_thread() {
    let src = pattern(96, 64, Components::Rgba, Depth::Float);
    let frames: Vec<i32> = (1..=16).collect();
    let (_h, plugin) = load(HostOptions { threads: 1, ..HostOptions::default() });
    let mut one = instance_with(&plugin, src.clone());
    let serial = one.render_sequence(&frames, 1, &RenderRequest::default()).expect("serial");

    let (_h8, plugin8) = load(HostOptions { threads: 8, ..HostOptions::default() });
    let mut many = instance_with(&plugin8, src.clone());
    let req = RenderRequest { split_bands: 5, ..RenderRequest::default() };
    let reversed: Vec<i32> = frames.iter().rev().copied().collect();
    let parallel = many.render_sequence(&reversed, 8, &req).expect("parallel");
    assert_eq!(parallel.len(), serial.len());
    for (f, img) in &parallel {
        let (_, reference) = serial.iter().find(|(g, _)| g == f).expect("same frames");
        assert_eq!(max_diff(reference, img), (0.0, true), "frame {f}");
    }
    assert_eq!(many.leaked_images(), 0);
}

#[test]
fn unconnected_source_renders_transparent_black_not_an_error() {
    let (_h, plugin) = load(HostOptions::default());
    let mut inst = plugin.create_instance(Context::Filter).unwrap();
    inst.set_input("Source", ClipInput::Still(pattern(8, 8, Components::Rgba, Depth::Float))).unwrap();
    inst.clear_input("Source").unwrap();
    let req = RenderRequest { window: Some(RectI::new(0, 0, 8, 8)), ..RenderRequest::default() };
    let out = inst.render_frame(1.0, &req).expect("an unconnected source is not an error");
    assert_eq!(out.bounds(), RectI::new(0, 0, 8, 8));
    assert!(out.pixels.iter().all(|v| *v == 0.0), "transparent black");
    assert_eq!(inst.leaked_images(), 0);
}
