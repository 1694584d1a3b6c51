//! Overlay interacts end to end: a small effect written with the safe plugin
//! API (`ofx::plugin`, its `Overlay` trait and painters), linked into this test
//! and hosted in-process by the headless host (`Host::load_linked`). It has
//! one animated 2D parameter, `point`, drawn as a point with a closed box
//! around it (its hit area, in screen pixels) and an open line from the
//! origin; a pen down inside the box starts a drag, each pen motion sets a key
//! at the current time in its own edit block and asks for a redraw, pen up
//! ends the drag.

use std::sync::Mutex;

use ofx::host::{ClipInput, DrawCommand, DrawPrimitive, Host, HostError, HostImage, HostOptions, OverlayView, ParamValue, PropValue, RenderRequest};
use ofx::plugin::{
    BitDepth, Components, EffectDescriptor, EffectHandle, KeyArgs, Overlay, OverlayArgs, Painter, ParamKind, PenArgs, RenderArgs, ThreadSafety,
};
use ofx::{Error, Result};

/// Half size of the box around the point, in screen pixels (also the hit area).
const HANDLE_PX: f64 = 8.0;

struct Pointer {
    /// Offset from the point to the pen while dragging.
    drag: Mutex<Option<(f64, f64)>>,
}

impl Pointer {
    fn point(effect: &EffectHandle, time: f64) -> Result<(f64, f64)> {
        effect.params()?.double2d("point")?.value_at(time)
    }
}

impl ofx::plugin::Effect for Pointer {
    fn describe(desc: &EffectDescriptor) -> Result<()> {
        desc.set_labels("Pointer", "Test", "A point dragged in the viewer")?;
        desc.set_contexts(&[ofx::plugin::Context::Filter])?;
        desc.set_depths(&[BitDepth::Float])?;
        desc.set_render_capabilities(ThreadSafety::FullySafe, true, true, true, false)?;
        desc.set_overlay::<Self>()
    }

    fn describe_in_context(desc: &EffectDescriptor, _context: ofx::plugin::Context) -> Result<()> {
        desc.define_clip("Source", &[Components::Rgba], false)?;
        desc.define_clip("Output", &[Components::Rgba], false)?;
        desc.params()?
            .define(ParamKind::Double2D, "point")?
            .label("Point")?
            .xy_absolute_canonical()?
            .default_doubles(&[100.0, 50.0])?
            .animates(true)?;
        Ok(())
    }

    fn create_instance(_effect: &EffectHandle) -> Result<Self> {
        Ok(Pointer { drag: Mutex::new(None) })
    }

    fn render(&self, effect: &EffectHandle, args: &RenderArgs) -> Result<()> {
        let mut out = effect.clip("Output")?.image(args.time, None)?.ok_or_else(|| Error::Failed("no output image".into()))?;
        let b = out.bounds();
        let w = args.window;
        for (y, row) in out.rows_mut() {
            if y < w.y1 || y >= w.y2 {
                continue;
            }
            for x in w.x1.max(b.x1)..w.x2.min(b.x2) {
                let at = (x - b.x1) as usize * 16;
                for c in 0..4 {
                    row[at + 4 * c..at + 4 * c + 4].copy_from_slice(&0.25f32.to_ne_bytes());
                }
            }
        }
        Ok(())
    }
}

impl Overlay for Pointer {
    fn draw(&self, effect: &EffectHandle, args: &OverlayArgs, painter: &mut dyn Painter) -> Result<()> {
        let (x, y) = Self::point(effect, args.time)?;
        if self.drag.lock().unwrap().is_some() {
            painter.colour(1.0, 1.0, 0.0, 1.0);
        } else {
            painter.colour(1.0, 0.0, 0.0, 1.0);
        }
        painter.point_size(6.0);
        painter.points(&[[x, y]]);
        painter.line_width(2.0);
        let (rx, ry) = (HANDLE_PX * args.pixel_scale.0, HANDLE_PX * args.pixel_scale.1);
        painter.polyline(&[[x - rx, y - ry], [x + rx, y - ry], [x + rx, y + ry], [x - rx, y + ry]], true);
        painter.polyline(&[[0.0, 0.0], [x, y]], false);
        Ok(())
    }

    fn pen_down(&self, effect: &EffectHandle, args: &PenArgs) -> Result<bool> {
        let (x, y) = Self::point(effect, args.time)?;
        let (dx, dy) = (args.position.0 - x, args.position.1 - y);
        if (dx / args.pixel_scale.0).abs() > HANDLE_PX || (dy / args.pixel_scale.1).abs() > HANDLE_PX {
            return Ok(false);
        }
        *self.drag.lock().unwrap() = Some((dx, dy));
        effect.redraw_overlays();
        Ok(true)
    }

    fn pen_motion(&self, effect: &EffectHandle, args: &PenArgs) -> Result<bool> {
        let Some((dx, dy)) = *self.drag.lock().unwrap() else {
            return Ok(false);
        };
        let params = effect.params()?;
        let point = params.double2d("point")?;
        params.edit_block("Move point", || point.set_at(args.time, args.position.0 - dx, args.position.1 - dy))?;
        effect.redraw_overlays();
        Ok(true)
    }

    fn pen_up(&self, effect: &EffectHandle, _args: &PenArgs) -> Result<bool> {
        let was_dragging = self.drag.lock().unwrap().take().is_some();
        if was_dragging {
            effect.redraw_overlays();
        }
        Ok(was_dragging)
    }

    fn key_down(&self, _effect: &EffectHandle, args: &KeyArgs) -> Result<bool> {
        match args.key_string.as_str() {
            "p" => panic!("a bug in a key handler"),
            "e" => Err(Error::Failed("a failing key handler".into())),
            _ => Ok(false),
        }
    }
}

fn plugin() -> &'static ofx::sys::OfxPlugin {
    ofx::effect_plugin!(Pointer, "org.test.Pointer", 1, 0)
}

/// The plugin side keeps process-wide state (host pointer, suites): one host at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn host(overlays_enabled: bool) -> Host {
    Host::new(HostOptions {
        threads: 2,
        overlays_enabled,
        ..HostOptions::default()
    })
}

fn rect(cx: f64, cy: f64, half: f64) -> DrawCommand {
    DrawCommand::Primitive {
        kind: DrawPrimitive::Rectangle,
        points: vec![(cx - half, cy - half), (cx + half, cy + half)],
    }
}

fn the_box(cx: f64, cy: f64, r: f64) -> DrawCommand {
    DrawCommand::Primitive {
        kind: DrawPrimitive::LineLoop,
        points: vec![(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)],
    }
}

fn line_to(cx: f64, cy: f64) -> DrawCommand {
    DrawCommand::Primitive {
        kind: DrawPrimitive::LineStrip,
        points: vec![(0.0, 0.0), (cx, cy)],
    }
}

fn interact_actions(log: &[(String, u64)]) -> Vec<String> {
    log.iter().filter(|(a, _)| a.starts_with("interact ")).map(|(a, _)| a.clone()).collect()
}

#[test]
fn overlay_draws_in_canonical_coordinates_and_drags_the_point() {
    let _serial = serial();
    let host = host(true);
    assert_eq!(host.descriptor().get("OfxImageEffectPropSupportsOverlays"), Some(&PropValue::Int(vec![1])));
    let plugin = host.load_linked(plugin()).expect("the linked plugin loads");
    assert!(host.fetched_suites().iter().any(|(n, v, served)| n == "OfxDrawSuite" && *v == 1 && *served));
    assert!(host.fetched_suites().iter().any(|(n, v, served)| n == "OfxInteractSuite" && *v == 1 && *served));
    let mut inst = plugin.create_instance(ofx::host::Context::Filter).unwrap();
    inst.set_input("Source", ClipInput::Still(HostImage::filled(8, 6, [1.0, 0.5, 0.0, 1.0]))).unwrap();

    let overlay = inst.overlay().unwrap().expect("the plugin declares an overlay");
    assert!(overlay.is_v1());
    // Describe on a descriptor, then create instance, before anything else.
    assert_eq!(
        interact_actions(&plugin.action_log()),
        vec!["interact OfxActionDescribe", "interact OfxActionCreateInstance"]
    );

    // Draw: colour, a point (a square of the point size in screen pixels), the
    // closed box and the open line, all in canonical coordinates.
    let at_full = overlay.draw(0.0, 1.0).unwrap();
    assert_eq!(
        at_full,
        vec![
            DrawCommand::Colour([1.0, 0.0, 0.0, 1.0]),
            rect(100.0, 50.0, 3.0),
            DrawCommand::LineWidth(2.0),
            the_box(100.0, 50.0, 8.0),
            line_to(100.0, 50.0),
        ]
    );
    // A proxy render scale changes nothing: positions stay canonical.
    assert_eq!(overlay.draw(0.0, 0.5).unwrap(), at_full);
    assert_eq!(overlay.view().render_scale, 0.5);
    // Zoomed out to 50 % (two canonical units per screen pixel): same
    // positions, sizes in screen pixels.
    overlay.set_view(OverlayView {
        pixel_scale: (2.0, 2.0),
        ..overlay.view()
    });
    let zoomed = overlay.draw(0.0, 0.5).unwrap();
    assert_eq!(zoomed[1], rect(100.0, 50.0, 6.0));
    assert_eq!(zoomed[3], the_box(100.0, 50.0, 16.0));
    assert_eq!(zoomed[4], line_to(100.0, 50.0));

    // A drag: down on the point (12 canonical = 6 screen pixels off), one
    // motion, up. One key at the current time, one edit block, redraws asked.
    let blocks = inst.edit_blocks();
    let changed = |p: &ofx::host::Plugin| p.action_log().iter().filter(|(a, _)| a == "OfxActionInstanceChanged").count();
    let changed_before = changed(&plugin);
    assert!(overlay.pen_down(3.0, (112.0, 50.0)).unwrap());
    assert_eq!(overlay.draw(3.0, 0.5).unwrap()[0], DrawCommand::Colour([1.0, 1.0, 0.0, 1.0]));
    assert!(overlay.pen_motion(3.0, (212.0, 150.0)).unwrap());
    assert!(overlay.pen_up(3.0, (212.0, 150.0)).unwrap());
    assert_eq!(inst.param_keys("point").unwrap(), vec![3.0]);
    assert_eq!(inst.param_value("point", 3.0).unwrap(), ParamValue::Double2D(200.0, 150.0));
    assert_eq!(inst.edit_blocks(), blocks + 1);
    assert_eq!(overlay.redraw_requests(), 3);
    let after = overlay.draw(3.0, 0.5).unwrap();
    assert_eq!(after[0], DrawCommand::Colour([1.0, 0.0, 0.0, 1.0]));
    assert_eq!(after[1], rect(200.0, 150.0, 6.0));
    assert_eq!(after[4], line_to(200.0, 150.0));
    let log = interact_actions(&plugin.action_log());
    assert_eq!(log.iter().filter(|a| *a == "interact OfxInteractActionGainFocus").count(), 1);
    // The plugin's own edit does not make the host call instance changed on it.
    assert_eq!(changed(&plugin), changed_before);

    // A pen down far from the point is not handled, nor what follows.
    assert!(!overlay.pen_down(3.0, (600.0, 600.0)).unwrap());
    assert!(!overlay.pen_motion(3.0, (650.0, 650.0)).unwrap());
    assert!(!overlay.pen_up(3.0, (650.0, 650.0)).unwrap());
    assert_eq!(inst.param_keys("point").unwrap(), vec![3.0]);
    assert_eq!(inst.edit_blocks(), blocks + 1);

    // Keys: unhandled, a failure, a panic — each a status, the host goes on.
    assert!(!overlay.key_down(3.0, 0x61, "a").unwrap());
    assert!(matches!(overlay.key_down(3.0, 0x65, "e"), Err(HostError::ActionFailed { status, .. }) if status == ofx::sys::kOfxStatFailed));
    assert!(matches!(overlay.key_down(3.0, 0x70, "p"), Err(HostError::ActionFailed { status, .. }) if status == ofx::sys::kOfxStatErrUnknown));
    assert!(overlay.draw(3.0, 1.0).is_ok());

    // Rendering works with the overlay alive.
    let out = inst.render_frame(0.0, &RenderRequest::default()).unwrap();
    assert_eq!(out.pixel(0, 0), Some([0.25; 4]));
    assert_eq!(inst.leaked_images(), 0);

    // The interact goes (losing focus first) before the effect instance.
    drop(inst);
    let log: Vec<String> = plugin.action_log().into_iter().map(|(a, _)| a).collect();
    let n = log.len();
    assert_eq!(
        log[n - 3..],
        ["interact OfxInteractActionLoseFocus", "interact OfxActionDestroyInstance", "OfxActionDestroyInstance"]
    );
}

#[test]
fn drawing_without_a_draw_context_takes_the_opengl_path_and_draws_nothing() {
    let _serial = serial();
    let host = host(true);
    let plugin = host.load_linked(plugin()).unwrap();
    let mut inst = plugin.create_instance(ofx::host::Context::Filter).unwrap();
    {
        let overlay = inst.overlay().unwrap().unwrap();
        // No draw context and no current GL context: the plugin's GL loader
        // finds none and skips; nothing crashes, the action succeeds.
        overlay.draw_without_context(0.0, 1.0).unwrap();
        overlay.draw_without_context(0.0, 0.5).unwrap();
        assert_eq!(overlay.draw(0.0, 1.0).unwrap().len(), 5);
    }
    // Closing the viewer destroys the interact; a new one can be made.
    inst.close_overlay();
    let log = interact_actions(&plugin.action_log());
    assert_eq!(log.last().map(String::as_str), Some("interact OfxActionDestroyInstance"));
    assert!(!log.iter().any(|a| a == "interact OfxInteractActionLoseFocus"), "never had focus: {log:?}");
    let again = inst.overlay().unwrap().unwrap();
    assert_eq!(again.draw(0.0, 1.0).unwrap()[1], rect(100.0, 50.0, 3.0));
}

#[test]
fn with_overlays_disabled_no_interact_is_created_and_rendering_works() {
    let _serial = serial();
    let host = host(false);
    assert_eq!(host.descriptor().get("OfxImageEffectPropSupportsOverlays"), Some(&PropValue::Int(vec![0])));
    let plugin = host.load_linked(plugin()).unwrap();
    // The plugin still declares its overlay.
    match plugin.descriptor_props().effect.get("OfxImageEffectPluginPropOverlayInteractV1") {
        Some(PropValue::Pointer(p)) => assert!(p[0] != 0),
        other => panic!("no overlay entry point: {other:?}"),
    }
    let mut inst = plugin.create_instance(ofx::host::Context::Filter).unwrap();
    inst.set_input("Source", ClipInput::Still(HostImage::filled(8, 6, [1.0, 0.5, 0.0, 1.0]))).unwrap();
    assert!(inst.overlay().unwrap().is_none());
    let out = inst.render_frame(0.0, &RenderRequest::default()).unwrap();
    assert_eq!(out.pixel(7, 5), Some([0.25; 4]));
    inst.set_param("point", ParamValue::Double2D(10.0, 20.0)).unwrap();
    assert_eq!(inst.param_value("point", 0.0).unwrap(), ParamValue::Double2D(10.0, 20.0));
    drop(inst);
    assert!(interact_actions(&plugin.action_log()).is_empty());
}
