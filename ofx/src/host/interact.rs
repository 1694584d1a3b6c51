//! Overlay interacts of the headless host: what a viewer does with an effect's
//! `kOfxImageEffectPluginPropOverlayInteractV1` / `V2` entry point.
//!
//! [`Instance::overlay`] describes the interact (`kOfxActionDescribe` on an
//! interact descriptor), creates an interact instance whose property set names
//! the effect (`kOfxPropEffectInstance`), and returns an [`Overlay`] that
//! drives it: [`Overlay::draw`] hands the plugin a draw context of the
//! recording `OfxDrawSuiteV1` (`suites::draw`) and returns the
//! [`DrawCommand`]s it made, in canonical coordinates;
//! [`Overlay::draw_without_context`] calls draw as an OpenGL host would, but
//! with no GL context current (the plugin must notice and draw nothing);
//! pen and key events return whether the plugin handled them. The interact
//! suite (`suites::interact`) counts redraw and swap requests. The interact is
//! destroyed (`kOfxInteractActionLoseFocus` when it had focus, then
//! `kOfxActionDestroyInstance`) by [`Instance::close_overlay`] or before the
//! effect instance itself is destroyed, as a viewer closes before its node.
//!
//! With [`HostOptions::overlays_enabled`](super::HostOptions::overlays_enabled)
//! off (DaVinci Resolve's overlay toggle) the host reports
//! `kOfxImageEffectPropSupportsOverlays` = 0 and creates no interact.
//!
//! Interact actions are logged in the plugin's action log as
//! `"interact <action>"`. No host lock is held while the plugin runs: the
//! plugin may set parameters (and open edit blocks) inside pen events.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::{c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use once_cell::sync::Lazy;
use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::draw_suite::kOfxInteractPropDrawContext;
use openfx::sys::image_effect_v1::image_effect::*;
use openfx::sys::image_effect_v1::interact::*;
use openfx::sys::image_effect_v1::key_syms::{kOfxPropKeyString, kOfxPropKeySym};

use super::context::{self, ActionCtx};
use super::effect::{self, EffectObj};
use super::error::{HostError, HostResult};
use super::instance::Instance;
use super::plugin::PluginShared;
use super::props::*;

/// `kOfxInteractPropViewportSize` (removed from the API in OFX 1.4, still set
/// for plugins written against 1.3 and earlier).
const PROP_VIEWPORT_SIZE: &CStr = c"OfxInteractPropViewport";

/// A Draw Suite primitive (`kOfxDrawPrimitive*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrawPrimitive {
    /// Separate lines, two points each.
    Lines,
    /// Connected lines.
    LineStrip,
    /// Connected lines, the last joined to the first.
    LineLoop,
    /// A filled axis-aligned rectangle between two corners.
    Rectangle,
    /// A filled polygon.
    Polygon,
    /// An ellipse outline inside the rectangle of two corners.
    Ellipse,
}

impl DrawPrimitive {
    /// From the C value; `None` for an unknown one.
    pub fn from_ofx(v: u32) -> Option<DrawPrimitive> {
        use openfx::sys::image_effect_v1::draw_suite::*;
        Some(match v {
            kOfxDrawPrimitiveLines => DrawPrimitive::Lines,
            kOfxDrawPrimitiveLineStrip => DrawPrimitive::LineStrip,
            kOfxDrawPrimitiveLineLoop => DrawPrimitive::LineLoop,
            kOfxDrawPrimitiveRectangle => DrawPrimitive::Rectangle,
            kOfxDrawPrimitivePolygon => DrawPrimitive::Polygon,
            kOfxDrawPrimitiveEllipse => DrawPrimitive::Ellipse,
            _ => return None,
        })
    }

    /// Whether `n` points make this primitive (as `ofxDrawSuite.h` says).
    pub fn accepts(self, n: usize) -> bool {
        match self {
            DrawPrimitive::Lines => n >= 2 && (n & 1) == 0,
            DrawPrimitive::LineStrip | DrawPrimitive::LineLoop => n >= 2,
            DrawPrimitive::Rectangle | DrawPrimitive::Ellipse => n == 2,
            DrawPrimitive::Polygon => n >= 3,
        }
    }
}

/// One call the plugin made on the recording Draw Suite.
#[derive(Clone, Debug, PartialEq)]
pub enum DrawCommand {
    /// `setColour` (RGBA).
    Colour([f32; 4]),
    /// `setLineWidth` (screen pixels; 0 = one pixel).
    LineWidth(f32),
    /// `setLineStipple` (`kOfxDrawLineStipplePattern*`).
    LineStipple(u32),
    /// `draw`, points in canonical coordinates.
    Primitive {
        /// Which primitive.
        kind: DrawPrimitive,
        /// Its points.
        points: Vec<(f64, f64)>,
    },
    /// `drawText`.
    Text {
        /// The UTF-8 text.
        text: String,
        /// Where (canonical).
        position: (f64, f64),
        /// `kOfxDrawTextAlignment*` flags.
        alignment: i32,
    },
}

/// What the headless viewer looks like to the overlay.
#[derive(Clone, Debug, PartialEq)]
pub struct OverlayView {
    /// Canonical units per screen pixel (`kOfxInteractPropPixelScale`;
    /// 1 = the viewer shows the project at 100 %).
    pub pixel_scale: (f64, f64),
    /// Viewport size in screen pixels.
    pub viewport: (f64, f64),
    /// `kOfxInteractPropBackgroundColour`.
    pub background: [f64; 3],
    /// `kOfxInteractPropSuggestedColour` (None: the host has none).
    pub suggested_colour: Option<[f64; 3]>,
    /// Render scale of the viewer's images, sent with pen and key events
    /// (each [`Overlay::draw`] sets it).
    pub render_scale: f64,
}

impl Default for OverlayView {
    fn default() -> Self {
        OverlayView {
            pixel_scale: (1.0, 1.0),
            viewport: (1920.0, 1080.0),
            background: [0.0, 0.0, 0.0],
            suggested_colour: None,
            render_scale: 1.0,
        }
    }
}

/// The object behind an interact handle (descriptor or instance).
pub(crate) struct InteractObj {
    /// Its property set (`interactGetPropertySet`).
    pub(crate) props: PropertySet,
    /// `interactRedraw` calls.
    pub(crate) redraws: AtomicUsize,
    /// `interactSwapBuffers` calls.
    pub(crate) swaps: AtomicUsize,
}

impl InteractObj {
    fn handle(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as usize
    }
}

/// The commands of one draw action in progress.
pub(crate) struct DrawContextObj {
    pub(crate) commands: Mutex<Vec<DrawCommand>>,
}

/// Live interacts by handle: the suite looks handles up here instead of
/// trusting a pointer.
static LIVE_INTERACTS: Lazy<Mutex<HashMap<usize, Arc<InteractObj>>>> = Lazy::new(|| Mutex::new(HashMap::new()));
/// Draw contexts of the draw actions in progress, by handle.
static LIVE_DRAW_CONTEXTS: Lazy<Mutex<HashMap<usize, Arc<DrawContextObj>>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// The live interact behind a plugin-supplied handle.
pub(crate) fn live_interact(h: usize) -> Option<Arc<InteractObj>> {
    LIVE_INTERACTS.lock().get(&h).cloned()
}

/// The draw context behind a plugin-supplied handle, while its draw runs.
pub(crate) fn live_draw_context(h: usize) -> Option<Arc<DrawContextObj>> {
    LIVE_DRAW_CONTEXTS.lock().get(&h).cloned()
}

fn register(props: PropertySet) -> Arc<InteractObj> {
    let obj = Arc::new(InteractObj {
        props,
        redraws: AtomicUsize::new(0),
        swaps: AtomicUsize::new(0),
    });
    LIVE_INTERACTS.lock().insert(obj.handle(), obj.clone());
    obj
}

fn unregister(obj: &Arc<InteractObj>) {
    // Drop the registry's reference after the lock is released.
    let removed = LIVE_INTERACTS.lock().remove(&obj.handle());
    drop(removed);
}

/// The interact instance's live properties follow the view.
fn publish_view(p: &PropertySet, v: &OverlayView) {
    p.define(kOfxInteractPropPixelScale, PropValue::Double(vec![v.pixel_scale.0, v.pixel_scale.1]));
    p.define(kOfxInteractPropBackgroundColour, PropValue::Double(v.background.to_vec()));
    p.define(PROP_VIEWPORT_SIZE, PropValue::Double(vec![v.viewport.0, v.viewport.1]));
    if let Some(c) = v.suggested_colour {
        p.define(kOfxInteractPropSuggestedColour, PropValue::Double(c.to_vec()));
    }
}

type EntryPoint = unsafe extern "C" fn(*const std::os::raw::c_char, *const c_void, OfxPropertySetHandle, OfxPropertySetHandle) -> OfxStatus;

/// The overlay entry point an effect declared, V1 first (it may draw with
/// OpenGL or the Draw Suite), then V2 (Draw Suite only); and whether it is V1.
fn entry_point(effect: &EffectObj) -> Option<(EntryPoint, bool)> {
    let v1 = effect.props.pointer(kOfxImageEffectPluginPropOverlayInteractV1, 0).filter(|p| *p != 0);
    let v2 = effect.props.pointer(kOfxImageEffectPluginPropOverlayInteractV2, 0).filter(|p| *p != 0);
    let (p, is_v1) = match (v1, v2) {
        (Some(p), _) => (p, true),
        (None, Some(p)) => (p, false),
        (None, None) => return None,
    };
    // SAFETY: the plugin stored this pointer as its interact's
    // OfxPluginEntryPoint (the only valid value of these properties), and the
    // binary stays loaded while the plugin is.
    Some((unsafe { std::mem::transmute::<usize, EntryPoint>(p) }, is_v1))
}

/// Sends interact actions for one effect instance.
struct Caller {
    plugin: Arc<PluginShared>,
    effect: Arc<EffectObj>,
    entry: EntryPoint,
}

impl Caller {
    /// Sends one interact action with the effect's action context; images the
    /// plugin fetched and kept are recorded as the instance's leaks.
    fn call(&self, action: &CStr, on: &Arc<InteractObj>, in_args: Option<&PropertySet>, time: Option<f64>, scale: Option<f64>) -> OfxStatus {
        let name = format!("interact {}", action.to_string_lossy());
        self.plugin.action_log.lock().push((name.clone(), self.effect.id));
        let ctx = ActionCtx::action_on(self.effect.id, time, scale);
        let tag = ctx.action;
        let inh = in_args.map(|p| p.handle()).unwrap_or(std::ptr::null_mut());
        let handle = on.handle() as *const c_void;
        // SAFETY: the plugin's interact entry point, called with a live interact
        // handle and a live (or NULL) property set; no host lock is held.
        let st = context::with_ctx(ctx, || unsafe { (self.entry)(action.as_ptr(), handle, inh, std::ptr::null_mut()) });
        let leaked = effect::take_unreleased(self.effect.id, Some(tag));
        if let (false, Some(rt)) = (leaked.is_empty(), self.effect.rt.as_ref()) {
            rt.leaks.lock().extend(leaked.iter().map(|img| (name.clone(), img.clip.clone())));
            rt.leaked_objects.lock().extend(leaked);
        }
        st
    }
}

/// A live overlay interact on an effect instance (see the module docs).
/// Owned by its [`Instance`]; borrow it with [`Instance::overlay`].
pub struct Overlay {
    caller: Caller,
    is_v1: bool,
    descriptor: Arc<InteractObj>,
    interact: Arc<InteractObj>,
    view: Mutex<OverlayView>,
    pen_is_down: AtomicBool,
    focused: AtomicBool,
}

// SAFETY: `caller.entry` is a plain C function pointer of the loaded plugin;
// OFX plugins' entry points are callable from any host thread. Every other
// field is Send + Sync.
unsafe impl Send for Overlay {}
// SAFETY: as above.
unsafe impl Sync for Overlay {}

impl Instance {
    /// The effect's overlay interact, created on the first call (describe +
    /// create instance). `None` when the plugin declares no overlay or the host
    /// has overlays disabled ([`HostOptions::overlays_enabled`](super::HostOptions::overlays_enabled)).
    pub fn overlay(&self) -> HostResult<Option<&Overlay>> {
        if !self.plugin.host.options.overlays_enabled {
            return Ok(None);
        }
        if let Some(o) = self.overlay.get() {
            return Ok(Some(o));
        }
        let Some((entry, is_v1)) = entry_point(&self.effect) else {
            return Ok(None);
        };
        self.overlay
            .get_or_try_init(|| Overlay::create(self.plugin.clone(), self.effect.clone(), entry, is_v1))
            .map(Some)
    }

    /// Destroys the overlay interact, if one was created (a viewer closing).
    pub fn close_overlay(&mut self) {
        drop(self.overlay.take());
    }
}

impl Overlay {
    fn create(plugin: Arc<PluginShared>, effect: Arc<EffectObj>, entry: EntryPoint, is_v1: bool) -> HostResult<Overlay> {
        let (w, h) = plugin.host.options.project_size;
        let caller = Caller { plugin, effect, entry };
        let failed = |action: &str, status| HostError::ActionFailed {
            action: format!("interact {action}"),
            status,
        };
        let dprops = PropertySet::new("interact descriptor", true);
        dprops.define(kOfxInteractPropHasAlpha, pint(0));
        dprops.define(kOfxInteractPropBitDepth, pint(8));
        dprops.define(kOfxInteractPropSlaveToParam, PropValue::String(vec![]));
        let descriptor = register(dprops);
        let st = caller.call(kOfxActionDescribe, &descriptor, None, None, None);
        if st != kOfxStatOK && st != kOfxStatReplyDefault {
            unregister(&descriptor);
            return Err(failed("OfxActionDescribe", st));
        }
        let props = PropertySet::new("interact instance", false);
        props.define(kOfxPropEffectInstance, pptr(caller.effect.handle() as usize));
        props.define(kOfxPropInstanceData, pptr(0));
        props.define(kOfxInteractPropHasAlpha, pint(0));
        props.define(kOfxInteractPropBitDepth, pint(8));
        let slaves = descriptor.props.get(kOfxInteractPropSlaveToParam).unwrap_or(PropValue::String(vec![]));
        props.define(kOfxInteractPropSlaveToParam, slaves);
        let view = OverlayView {
            viewport: (w, h),
            ..OverlayView::default()
        };
        publish_view(&props, &view);
        let interact = register(props);
        let st = caller.call(kOfxActionCreateInstance, &interact, None, None, None);
        if st != kOfxStatOK && st != kOfxStatReplyDefault {
            unregister(&interact);
            unregister(&descriptor);
            return Err(failed("OfxActionCreateInstance", st));
        }
        Ok(Overlay {
            caller,
            is_v1,
            descriptor,
            interact,
            view: Mutex::new(view),
            pen_is_down: AtomicBool::new(false),
            focused: AtomicBool::new(false),
        })
    }

    fn call(&self, action: &CStr, in_args: Option<&PropertySet>, time: Option<f64>, scale: Option<f64>) -> OfxStatus {
        self.caller.call(action, &self.interact, in_args, time, scale)
    }

    /// The current view.
    pub fn view(&self) -> OverlayView {
        self.view.lock().clone()
    }

    /// Changes the view (zoom, viewport, colours) for the actions that follow.
    pub fn set_view(&self, view: OverlayView) {
        publish_view(&self.interact.props, &view);
        *self.view.lock() = view;
    }

    /// Parameters the interact said it depends on (`kOfxInteractPropSlaveToParam`).
    pub fn slave_params(&self) -> Vec<String> {
        self.descriptor.props.strings(kOfxInteractPropSlaveToParam).unwrap_or_default()
    }

    /// `interactRedraw` calls the plugin made on this interact.
    pub fn redraw_requests(&self) -> usize {
        self.interact.redraws.load(Ordering::Relaxed)
    }

    /// `interactSwapBuffers` calls the plugin made on this interact.
    pub fn swap_requests(&self) -> usize {
        self.interact.swaps.load(Ordering::Relaxed)
    }

    /// Whether the effect declared a V1 overlay (OpenGL allowed) rather than
    /// only a V2 one (Draw Suite only).
    pub fn is_v1(&self) -> bool {
        self.is_v1
    }

    /// The inArgs shared by draw, pen and focus actions.
    fn view_args(&self, label: &str, time: f64, v: &OverlayView) -> PropertySet {
        let a = PropertySet::new_read_only(label);
        a.define(kOfxPropEffectInstance, pptr(self.caller.effect.handle() as usize));
        a.define(kOfxInteractPropPixelScale, PropValue::Double(vec![v.pixel_scale.0, v.pixel_scale.1]));
        a.define(kOfxInteractPropBackgroundColour, PropValue::Double(v.background.to_vec()));
        a.define(kOfxPropTime, pdbl(time));
        a.define(kOfxImageEffectPropRenderScale, PropValue::Double(vec![v.render_scale, v.render_scale]));
        a
    }

    fn status(action: &CStr, st: OfxStatus) -> HostResult<bool> {
        match st {
            kOfxStatOK => Ok(true),
            kOfxStatReplyDefault => Ok(false),
            status => Err(HostError::ActionFailed {
                action: format!("interact {}", action.to_string_lossy()),
                status,
            }),
        }
    }

    fn set_render_scale(&self, render_scale: f64) -> OverlayView {
        let mut v = self.view.lock();
        v.render_scale = render_scale;
        v.clone()
    }

    /// `kOfxInteractActionDraw` with a Draw Suite context: the commands the
    /// plugin drew, in canonical coordinates. `render_scale` also becomes the
    /// view's render scale for later pen events.
    pub fn draw(&self, time: f64, render_scale: f64) -> HostResult<Vec<DrawCommand>> {
        let v = self.set_render_scale(render_scale);
        let ctx = Arc::new(DrawContextObj { commands: Mutex::new(Vec::new()) });
        let handle = Arc::as_ptr(&ctx) as usize;
        LIVE_DRAW_CONTEXTS.lock().insert(handle, ctx.clone());
        let args = self.view_args("interact draw inArgs", time, &v);
        args.define(kOfxInteractPropDrawContext, pptr(handle));
        let st = self.call(kOfxInteractActionDraw, Some(&args), Some(time), Some(render_scale));
        // The context is dead from here on: later suite calls on it fail.
        LIVE_DRAW_CONTEXTS.lock().remove(&handle);
        Self::status(kOfxInteractActionDraw, st)?;
        let commands = std::mem::take(&mut *ctx.commands.lock());
        Ok(commands)
    }

    /// `kOfxInteractActionDraw` as an OpenGL host sends it (no
    /// `kOfxInteractPropDrawContext`), but with no GL context current: the
    /// plugin must find none and draw nothing. Fails for a V2-only overlay,
    /// which must be given a draw context.
    pub fn draw_without_context(&self, time: f64, render_scale: f64) -> HostResult<()> {
        if !self.is_v1 {
            return Err(HostError::Other("The overlay is Draw Suite only (V2): it needs a draw context".into()));
        }
        let v = self.set_render_scale(render_scale);
        let args = self.view_args("interact draw inArgs", time, &v);
        let st = self.call(kOfxInteractActionDraw, Some(&args), Some(time), Some(render_scale));
        Self::status(kOfxInteractActionDraw, st).map(|_| ())
    }

    fn focus(&self, time: f64, v: &OverlayView) {
        if !self.focused.swap(true, Ordering::AcqRel) {
            let args = self.view_args("interact gain focus inArgs", time, v);
            // Whether the plugin traps focus changes does not matter.
            let _ = self.call(kOfxInteractActionGainFocus, Some(&args), Some(time), Some(v.render_scale));
        }
    }

    fn pen(&self, action: &CStr, time: f64, position: (f64, f64), pressure: f64) -> HostResult<bool> {
        let v = self.view();
        self.focus(time, &v);
        let args = self.view_args("interact pen inArgs", time, &v);
        args.define(kOfxInteractPropPenPosition, PropValue::Double(vec![position.0, position.1]));
        let vx = (position.0 / v.pixel_scale.0).round().clamp(i32::MIN as f64, i32::MAX as f64) as i32;
        let vy = (position.1 / v.pixel_scale.1).round().clamp(i32::MIN as f64, i32::MAX as f64) as i32;
        args.define(kOfxInteractPropPenViewportPosition, PropValue::Int(vec![vx, vy]));
        args.define(kOfxInteractPropPenPressure, pdbl(pressure));
        let st = self.call(action, Some(&args), Some(time), Some(v.render_scale));
        Self::status(action, st)
    }

    /// The pen goes down at `position` (canonical); whether the plugin handled it.
    pub fn pen_down(&self, time: f64, position: (f64, f64)) -> HostResult<bool> {
        self.pen_is_down.store(true, Ordering::Release);
        self.pen(kOfxInteractActionPenDown, time, position, 1.0)
    }

    /// The pen moves to `position` (pressure 1 while down, 0 while up).
    pub fn pen_motion(&self, time: f64, position: (f64, f64)) -> HostResult<bool> {
        let pressure = if self.pen_is_down.load(Ordering::Acquire) { 1.0 } else { 0.0 };
        self.pen(kOfxInteractActionPenMotion, time, position, pressure)
    }

    /// The pen goes up at `position`.
    pub fn pen_up(&self, time: f64, position: (f64, f64)) -> HostResult<bool> {
        self.pen_is_down.store(false, Ordering::Release);
        self.pen(kOfxInteractActionPenUp, time, position, 0.0)
    }

    fn key(&self, action: &CStr, time: f64, key_sym: i32, text: &str) -> HostResult<bool> {
        let v = self.view();
        self.focus(time, &v);
        let args = PropertySet::new_read_only("interact key inArgs");
        args.define(kOfxPropEffectInstance, pptr(self.caller.effect.handle() as usize));
        args.define(kOfxPropKeySym, pint(key_sym));
        args.define(kOfxPropKeyString, pstring(text));
        args.define(kOfxPropTime, pdbl(time));
        args.define(kOfxImageEffectPropRenderScale, PropValue::Double(vec![v.render_scale, v.render_scale]));
        let st = self.call(action, Some(&args), Some(time), Some(v.render_scale));
        Self::status(action, st)
    }

    /// A key goes down (`key_sym`: a `kOfxKey_*` value; `text`: its UTF-8 text or "").
    pub fn key_down(&self, time: f64, key_sym: i32, text: &str) -> HostResult<bool> {
        self.key(kOfxInteractActionKeyDown, time, key_sym, text)
    }

    /// A key goes up.
    pub fn key_up(&self, time: f64, key_sym: i32, text: &str) -> HostResult<bool> {
        self.key(kOfxInteractActionKeyUp, time, key_sym, text)
    }

    /// A key repeats.
    pub fn key_repeat(&self, time: f64, key_sym: i32, text: &str) -> HostResult<bool> {
        self.key(kOfxInteractActionKeyRepeat, time, key_sym, text)
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let v = self.view();
        if self.focused.load(Ordering::Acquire) {
            let args = self.view_args("interact lose focus inArgs", 0.0, &v);
            let _ = self.call(kOfxInteractActionLoseFocus, Some(&args), None, None);
        }
        // As in real hosts the result of destroy is moot.
        let _ = self.call(kOfxActionDestroyInstance, None, None, None);
        unregister(&self.interact);
        unregister(&self.descriptor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::suites::interact::{DRAW_SUITE, SUITE};
    use openfx::sys::image_effect_v1::draw_suite::*;
    use openfx::sys::image_effect_v1::pixels::OfxRGBAColourF;

    #[test]
    fn draw_suite_records_only_inside_a_draw_and_checks_arguments() {
        let ctx = Arc::new(DrawContextObj { commands: Mutex::new(Vec::new()) });
        let h = Arc::as_ptr(&ctx) as usize;
        LIVE_DRAW_CONTEXTS.lock().insert(h, ctx.clone());
        let c = h as OfxDrawContextHandle;
        let s = &DRAW_SUITE;
        let two = [OfxPointD { x: 1.0, y: 2.0 }, OfxPointD { x: 3.0, y: 4.0 }];
        let three = [OfxPointD { x: 0.0, y: 0.0 }, OfxPointD { x: 1.0, y: 0.0 }, OfxPointD { x: 1.0, y: 1.0 }];
        // SAFETY: the suite's own functions called as a plugin would, with a live
        // context and valid (or deliberately invalid, checked) arguments.
        unsafe {
            let colour = OfxRGBAColourF { r: 0.5, g: 0.25, b: 1.0, a: 1.0 };
            assert_eq!(s.setColour.unwrap()(c, &colour), kOfxStatOK);
            assert_eq!(s.setColour.unwrap()(c, std::ptr::null()), kOfxStatErrValue);
            assert_eq!(s.setLineWidth.unwrap()(c, 1.5), kOfxStatOK);
            assert_eq!(s.setLineWidth.unwrap()(c, f32::NAN), kOfxStatErrValue);
            assert_eq!(s.setLineStipple.unwrap()(c, kOfxDrawLineStipplePatternDash), kOfxStatOK);
            assert_eq!(s.setLineStipple.unwrap()(c, 77), kOfxStatErrValue);
            assert_eq!(s.draw.unwrap()(c, kOfxDrawPrimitiveEllipse, two.as_ptr(), 2), kOfxStatOK);
            assert_eq!(s.draw.unwrap()(c, kOfxDrawPrimitiveRectangle, three.as_ptr(), 3), kOfxStatErrValue);
            assert_eq!(s.draw.unwrap()(c, kOfxDrawPrimitiveLines, three.as_ptr(), 3), kOfxStatErrValue);
            assert_eq!(s.draw.unwrap()(c, kOfxDrawPrimitivePolygon, three.as_ptr(), 3), kOfxStatOK);
            assert_eq!(s.draw.unwrap()(c, 42, two.as_ptr(), 2), kOfxStatErrValue);
            assert_eq!(s.draw.unwrap()(c, kOfxDrawPrimitiveLineStrip, std::ptr::null(), 2), kOfxStatErrValue);
            assert_eq!(s.draw.unwrap()(c, kOfxDrawPrimitiveLineStrip, two.as_ptr(), -1), kOfxStatErrValue);
            assert_eq!(s.drawText.unwrap()(c, c"hi".as_ptr(), &two[0], kOfxDrawTextAlignmentLeft as i32), kOfxStatOK);
            assert_eq!(s.drawText.unwrap()(c, std::ptr::null(), &two[0], 0), kOfxStatErrValue);
            let mut got = OfxRGBAColourF { r: 0.0, g: 0.0, b: 0.0, a: 0.0 };
            assert_eq!(s.getColour.unwrap()(c, kOfxStandardColourOverlaySelected, &mut got), kOfxStatOK);
            assert_eq!((got.r, got.g, got.b, got.a), (1.0, 1.0, 0.0, 1.0));
            assert_eq!(s.getColour.unwrap()(c, 99, &mut got), kOfxStatErrValue);
        }
        LIVE_DRAW_CONTEXTS.lock().remove(&h);
        // SAFETY: as above; the context is no longer live, which the suite checks.
        unsafe {
            assert_eq!(s.setLineWidth.unwrap()(c, 1.0), kOfxStatFailed);
            assert_eq!(s.draw.unwrap()(c, kOfxDrawPrimitiveLineLoop, two.as_ptr(), 2), kOfxStatFailed);
        }
        assert_eq!(
            *ctx.commands.lock(),
            vec![
                DrawCommand::Colour([0.5, 0.25, 1.0, 1.0]),
                DrawCommand::LineWidth(1.5),
                DrawCommand::LineStipple(kOfxDrawLineStipplePatternDash),
                DrawCommand::Primitive { kind: DrawPrimitive::Ellipse, points: vec![(1.0, 2.0), (3.0, 4.0)] },
                DrawCommand::Primitive { kind: DrawPrimitive::Polygon, points: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)] },
                DrawCommand::Text { text: "hi".into(), position: (1.0, 2.0), alignment: kOfxDrawTextAlignmentLeft as i32 },
            ]
        );
    }

    #[test]
    fn interact_suite_counts_requests_and_refuses_unknown_handles() {
        let obj = register(PropertySet::new("interact instance", false));
        let h = obj.handle() as OfxInteractHandle;
        let mut props: OfxPropertySetHandle = std::ptr::null_mut();
        // SAFETY: the suite's own functions called with a live handle, then a
        // dead and a bogus one, which the suite looks up rather than trusts.
        unsafe {
            assert_eq!(SUITE.interactRedraw.unwrap()(h), kOfxStatOK);
            assert_eq!(SUITE.interactRedraw.unwrap()(h), kOfxStatOK);
            assert_eq!(SUITE.interactSwapBuffers.unwrap()(h), kOfxStatOK);
            assert_eq!(SUITE.interactGetPropertySet.unwrap()(h, &mut props), kOfxStatOK);
            assert_eq!(props, obj.props.handle());
            assert_eq!(SUITE.interactGetPropertySet.unwrap()(h, std::ptr::null_mut()), kOfxStatErrValue);
            assert_eq!(SUITE.interactRedraw.unwrap()(8 as OfxInteractHandle), kOfxStatErrBadHandle);
        }
        assert_eq!((obj.redraws.load(Ordering::Relaxed), obj.swaps.load(Ordering::Relaxed)), (2, 1));
        unregister(&obj);
        // SAFETY: as above.
        assert_eq!(unsafe { SUITE.interactRedraw.unwrap()(h) }, kOfxStatErrBadHandle);
    }
}
