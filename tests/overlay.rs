//! The viewer overlay through the host's interact API: the 68 landmarks and
//! face parts drawn in canonical coordinates (keyed points highlighted, the
//! same at any render scale), a drag that keys the point at the current time
//! in one undoable edit, misses that are not handled, and a node that works
//! with overlays off.

#[path = "support/common.rs"]
mod common;

use common::*;
use ofx::host::*;
use ofx::host::interact::{DrawCommand, DrawPrimitive};

fn runtime() {
    test_env();
}

fn baked(plugin: &Plugin) -> Instance {
    let mut inst = instance_with(plugin, astronaut());
    inst.set_param("driveMode", ParamValue::ChoiceByOption("trackFile".into())).unwrap();
    let track = installer::workspace_root().join("resources/demo/track.json");
    inst.set_param("trackFile", ParamValue::String(track.display().to_string())).unwrap();
    inst.press("bakeKeys").unwrap();
    inst
}

fn lm(inst: &Instance, i: usize, t: f64) -> (f64, f64) {
    match inst.param_value(&format!("lm{i:02}"), t).unwrap() {
        ParamValue::Double2D(x, y) => (x, y),
        other => panic!("{other:?}"),
    }
}

/// Landmark points: the Draw Suite has no point primitive, so each is a small
/// filled square (a rectangle between two corners) centred on the point.
fn points_of(cmds: &[DrawCommand]) -> Vec<(f64, f64)> {
    cmds.iter()
        .filter_map(|c| match c {
            DrawCommand::Primitive { kind: DrawPrimitive::Rectangle, points } if points.len() == 2 => {
                Some(((points[0].0 + points[1].0) / 2.0, (points[0].1 + points[1].1) / 2.0))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn landmarks_and_face_parts_are_drawn_and_dragged() {
    runtime();
    let (_h, plugin) = load(HostOptions::default());
    let inst = baked(&plugin);
    let overlay = inst.overlay().unwrap().expect("the node has an overlay");
    let cmds = overlay.draw(16.0, 1.0).unwrap();
    let pts = points_of(&cmds);
    assert_eq!(pts.len(), 68, "68 landmark points");
    for i in [0, 30, 48, 67] {
        let want = lm(&inst, i, 16.0);
        assert!(pts.iter().any(|p| (p.0 - want.0).abs() < 1e-6 && (p.1 - want.1).abs() < 1e-6), "point {i} drawn at its parameter");
    }
    let loops = cmds.iter().filter(|c| matches!(c, DrawCommand::Primitive { kind: DrawPrimitive::LineLoop, .. })).count();
    let strips = cmds.iter().filter(|c| matches!(c, DrawCommand::Primitive { kind: DrawPrimitive::LineStrip, .. })).count();
    assert!(loops >= 4, "eyes and both lip rings are closed ({loops})");
    assert!(strips >= 4, "jaw, brows, nose are open lines ({strips})");
    // Every point is keyed at frame 16 (baked): the keyed colour is used.
    assert!(cmds.iter().any(|c| matches!(c, DrawCommand::Colour(c) if c[0] > 0.9 && c[1] > 0.8 && c[2] < 0.3)));
    // Same canonical coordinates at render scale 0.5.
    assert_eq!(points_of(&overlay.draw(16.0, 0.5).unwrap()), pts);

    // Drag the nose tip by (10, -6) at frame 20: one key, one edit.
    let before = lm(&inst, 30, 20.0);
    let neighbour = lm(&inst, 30, 21.0);
    let blocks = inst.edit_blocks();
    assert!(overlay.pen_down(20.0, (before.0 + 1.0, before.1 + 1.0)).unwrap(), "a pen down on a point is handled");
    assert!(overlay.pen_motion(20.0, (before.0 + 6.0, before.1 - 2.0)).unwrap());
    assert!(overlay.pen_up(20.0, (before.0 + 11.0, before.1 - 5.0)).unwrap());
    let after = lm(&inst, 30, 20.0);
    assert!((after.0 - before.0 - 10.0).abs() < 1e-6 && (after.1 - before.1 + 6.0).abs() < 1e-6, "{before:?} → {after:?}");
    assert_eq!(inst.edit_blocks(), blocks + 1, "one undoable edit per drag");
    assert_eq!(lm(&inst, 30, 21.0), neighbour, "the next frame's key is untouched");
    // A pen down away from every point is not handled.
    assert!(!overlay.pen_down(20.0, (5.0, 5.0)).unwrap());
    // Without an OpenGL context or Draw Suite context the draw does nothing and does not crash.
    overlay.draw_without_context(16.0, 1.0).unwrap();
}

#[test]
fn the_node_works_with_overlays_off() {
    runtime();
    let (_h, plugin) = load(HostOptions { overlays_enabled: false, ..HostOptions::default() });
    let mut inst = baked(&plugin);
    assert!(inst.overlay().unwrap().is_none(), "no interact without overlays");
    let out = inst.render_frame(16.0, &RenderRequest::default()).unwrap();
    assert!(max_diff(&out, &astronaut()).0 > 0.05, "keys animate the face");
}
