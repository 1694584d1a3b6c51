//! On-screen overlays: the image effect overlay interact, safely.
//!
//! An effect that draws in the viewer implements [`Overlay`] (on top of
//! [`Effect`]) and declares it in its `describe` with
//! [`EffectDescriptor::set_overlay`]. That stores the generated entry point
//! [`overlay_entry`] in `kOfxImageEffectPluginPropOverlayInteractV1` (OpenGL or
//! Draw Suite) and `kOfxImageEffectPluginPropOverlayInteractV2` (Draw Suite),
//! so hosts with either kind of overlay find it.
//!
//! # Interact action order (what the host calls, and what the overlay may do)
//! 1. `kOfxActionDescribe` on the interact descriptor: nothing to declare.
//! 2. `kOfxActionCreateInstance`: the interact's property set names its effect
//!    (`kOfxPropEffectInstance`); the effect's state (the same box, keyed by
//!    the effect's instance handle, that the effect's actions use) is looked up or
//!    created, and the interact is remembered for
//!    [`EffectHandle::redraw_overlays`].
//! 3. `kOfxInteractActionDraw`: [`Overlay::draw`] with a [`Painter`] — the Draw
//!    Suite when the action carries `kOfxInteractPropDrawContext`, else OpenGL
//!    into the host's current context (skipped silently when there is none).
//! 4. `kOfxInteractActionGainFocus`, then pen actions ([`Overlay::pen_down`],
//!    [`Overlay::pen_motion`], [`Overlay::pen_up`]) and key actions
//!    ([`Overlay::key_down`], ...): `Ok(true)` answers `kOfxStatOK` (handled:
//!    the host does not pass the event on), `Ok(false)` answers
//!    `kOfxStatReplyDefault`. They may change parameters (for an undoable step
//!    use `ParamSet::edit_block`) and must not draw.
//!    `kOfxInteractActionLoseFocus` and unknown actions answer
//!    `kOfxStatReplyDefault`.
//! 5. `kOfxActionDestroyInstance`: the interact is forgotten. Destroying the
//!    effect instance (or unloading the plugin) also forgets its interacts, for
//!    hosts that skip this.
//!
//! Every call goes through the same guard as the effect's `main_entry`: null
//! checks, `catch_unwind`, statuses through [`Error::status`].

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use openfx::sys::image_effect_v1::draw_suite::{kOfxInteractPropDrawContext, OfxDrawContextHandle};
use openfx::sys::image_effect_v1::interact::*;
use openfx::sys::image_effect_v1::key_syms::{kOfxPropKeyString, kOfxPropKeySym};
use parking_lot::Mutex;

use super::draw::{DrawSuitePainter, GlPainter, NullPainter, Painter};
use super::effect::{Effect, EffectDescriptor, EffectHandle};
use super::entry::{effect_instance, panic_text};
use super::props::PropertySet;
use super::suites::{self, Suites};
use crate::error::{Error, Result};
use crate::sys::*;

/// `kOfxInteractPropViewportSize` (removed from the API in OFX 1.4; some hosts
/// still set it).
const PROP_VIEWPORT_SIZE: &CStr = c"OfxInteractPropViewport";

/// Arguments of a draw.
#[derive(Debug, Clone, PartialEq)]
pub struct OverlayArgs {
    /// Time shown in the viewer.
    pub time: f64,
    /// Render scale of the viewer's images (proxy); drawing stays canonical.
    pub render_scale: (f64, f64),
    /// Canonical units per screen pixel (to size handles and hit areas).
    pub pixel_scale: (f64, f64),
    /// Viewport size in screen pixels when the host says, else `(0, 0)`.
    pub viewport: (f64, f64),
    /// The overlay colour the user chose in the host, when it has one.
    pub suggested_colour: Option<[f64; 3]>,
}

/// Arguments of a pen event.
#[derive(Debug, Clone, PartialEq)]
pub struct PenArgs {
    /// Time shown in the viewer.
    pub time: f64,
    /// Render scale of the viewer's images.
    pub render_scale: (f64, f64),
    /// Canonical units per screen pixel.
    pub pixel_scale: (f64, f64),
    /// Pen position in canonical coordinates.
    pub position: (f64, f64),
    /// Pen position in viewport pixels (origin bottom left).
    pub viewport_position: (i32, i32),
    /// Pressure, 0..1 (a mouse gives 0 or 1).
    pub pressure: f64,
}

/// Arguments of a key event.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyArgs {
    /// Time shown in the viewer.
    pub time: f64,
    /// Render scale of the viewer's images.
    pub render_scale: (f64, f64),
    /// The key (`kOfxKey_*` of `ofxKeySyms.h`, X11 key symbols).
    pub key_sym: i32,
    /// The UTF-8 text of the key, "" when it has none (Return, arrows).
    pub key_string: String,
}

/// An effect that draws over the viewer and reacts to the pen. Declared with
/// [`EffectDescriptor::set_overlay`]. All methods take the effect's shared
/// state (`&self`): keep interaction state (a drag) behind a lock in it.
pub trait Overlay: Effect {
    /// Draw at `args.time`, in canonical coordinates.
    fn draw(&self, effect: &EffectHandle, args: &OverlayArgs, painter: &mut dyn Painter) -> Result<()>;
    /// The pen went down; `Ok(true)` when handled (the host does not pass it on).
    fn pen_down(&self, _effect: &EffectHandle, _args: &PenArgs) -> Result<bool> {
        Ok(false)
    }
    /// The pen moved (up or down); `Ok(true)` when handled.
    fn pen_motion(&self, _effect: &EffectHandle, _args: &PenArgs) -> Result<bool> {
        Ok(false)
    }
    /// The pen went up; `Ok(true)` when handled.
    fn pen_up(&self, _effect: &EffectHandle, _args: &PenArgs) -> Result<bool> {
        Ok(false)
    }
    /// A key went down; `Ok(true)` when handled.
    fn key_down(&self, _effect: &EffectHandle, _args: &KeyArgs) -> Result<bool> {
        Ok(false)
    }
    /// A key went up; `Ok(true)` when handled.
    fn key_up(&self, _effect: &EffectHandle, _args: &KeyArgs) -> Result<bool> {
        Ok(false)
    }
    /// A key repeats; `Ok(true)` when handled.
    fn key_repeat(&self, _effect: &EffectHandle, _args: &KeyArgs) -> Result<bool> {
        Ok(false)
    }
}

/// The C type of an interact's entry point (`OfxPluginEntryPoint`).
type EntryPoint = extern "C" fn(*const c_char, *const c_void, OfxPropertySetHandle, OfxPropertySetHandle) -> OfxStatus;

impl EffectDescriptor {
    /// Declare the effect's overlay (call in [`Effect::describe`]):
    /// `desc.set_overlay::<Self>()?`.
    pub fn set_overlay<E: Overlay>(&self) -> Result<()> {
        let entry: EntryPoint = overlay_entry::<E>;
        let p = entry as *const () as *mut c_void;
        self.properties().set_pointer(kOfxImageEffectPluginPropOverlayInteractV1, 0, p)?;
        // Optional (OFX 1.5, Draw Suite only): older hosts do not know it.
        let _ = self.properties().set_pointer(kOfxImageEffectPluginPropOverlayInteractV2, 0, p);
        Ok(())
    }
}

/// Live interacts: (effect instance handle, interact handle), as addresses.
static INTERACTS: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// Forget the interacts of an effect instance being destroyed.
pub(crate) fn forget_effect(effect: OfxImageEffectHandle) {
    INTERACTS.lock().retain(|(e, _)| *e != effect as usize);
}

/// Forget every interact (the plugin is being unloaded).
pub(crate) fn forget_all() {
    INTERACTS.lock().clear();
}

impl EffectHandle {
    /// Ask the host to redraw every overlay of this instance (after the effect
    /// changed what they show, e.g. in `instance_changed` or a pen action).
    /// Best effort: returns how many overlays the host was asked to redraw
    /// (0 without the interact suite or without overlays). Call it from the
    /// host's UI thread (instance changed, interact actions), not from renders.
    pub fn redraw_overlays(&self) -> usize {
        let Some(redraw) = self.suites.interact.and_then(|s| s.interactRedraw) else {
            return 0;
        };
        // Copy first: the host may draw (and so call us) inside interactRedraw.
        let mine: Vec<usize> = INTERACTS
            .lock()
            .iter()
            .filter(|(e, _)| *e == self.handle as usize)
            .map(|(_, i)| *i)
            .collect();
        let mut asked = 0;
        for i in mine {
            // SAFETY: `i` is a live interact instance of this effect: entries are
            // removed at interact destroy and at effect destroy.
            if unsafe { redraw(i as OfxInteractHandle) } == kOfxStatOK {
                asked += 1;
            }
        }
        asked
    }
}

fn interact_props(interact: OfxInteractHandle, suites: &'static Suites) -> Option<PropertySet> {
    let f = suites.interact?.interactGetPropertySet?;
    let mut p: OfxPropertySetHandle = std::ptr::null_mut();
    // SAFETY: interact handle from the host; `p` receives its property set.
    let st = unsafe { f(interact, &mut p) };
    (st == kOfxStatOK && !p.is_null()).then(|| PropertySet::new(p, suites))
}

fn pair(p: Option<&PropertySet>, prop: &CStr) -> Option<(f64, f64)> {
    p?.get_doubles::<2>(prop).ok().map(|v| (v[0], v[1]))
}

/// Dispatch one interact action. `Err(ReplyDefault)` means "not handled".
fn dispatch<E: Overlay>(action: &CStr, handle: *const c_void, in_args: OfxPropertySetHandle) -> Result<()> {
    let suites: &'static Suites = suites::suites()?;
    if handle.is_null() {
        return Err(Error::BadHandle("null interact handle".into()));
    }
    let interact = handle as OfxInteractHandle;
    if action == kOfxActionDescribe {
        return Ok(());
    }
    if action == kOfxActionCreateInstance {
        // Without the interact suite the interact's properties are out of
        // reach; the draw and pen actions still name the effect.
        let Some(props) = interact_props(interact, suites) else { return Ok(()) };
        let effect = props.get_pointer(kOfxPropEffectInstance, 0)?;
        if effect.is_null() {
            return Err(Error::BadHandle("the interact has no effect instance".into()));
        }
        let h = EffectHandle::new(effect as OfxImageEffectHandle, suites)?;
        effect_instance::<E>(&h)?;
        let entry = (effect as usize, interact as usize);
        let mut live = INTERACTS.lock();
        if !live.contains(&entry) {
            live.push(entry);
        }
        return Ok(());
    }
    if action == kOfxActionDestroyInstance {
        INTERACTS.lock().retain(|(_, i)| *i != interact as usize);
        return Ok(());
    }
    let is_draw = action == kOfxInteractActionDraw;
    let pen = [kOfxInteractActionPenDown, kOfxInteractActionPenMotion, kOfxInteractActionPenUp].iter().position(|a| *a == action);
    let key = [kOfxInteractActionKeyDown, kOfxInteractActionKeyUp, kOfxInteractActionKeyRepeat].iter().position(|a| *a == action);
    if !is_draw && pen.is_none() && key.is_none() {
        // Gain / lose focus and anything newer.
        return Err(Error::ReplyDefault);
    }
    let inp = PropertySet::new(in_args, suites);
    if inp.is_null() {
        return Err(Error::BadHandle("null input arguments".into()));
    }
    let own = interact_props(interact, suites);
    let effect = match inp.get_pointer(kOfxPropEffectInstance, 0) {
        Ok(p) if !p.is_null() => p,
        _ => own.as_ref().and_then(|p| p.get_pointer(kOfxPropEffectInstance, 0).ok()).unwrap_or(std::ptr::null_mut()),
    };
    if effect.is_null() {
        return Err(Error::BadHandle("the interact action names no effect instance".into()));
    }
    let h = EffectHandle::new(effect as OfxImageEffectHandle, suites)?;
    let me: &E = effect_instance::<E>(&h)?;
    let time = inp.get_double(kOfxPropTime, 0).unwrap_or(0.0);
    let render_scale = pair(Some(&inp), kOfxImageEffectPropRenderScale).unwrap_or((1.0, 1.0));
    let pixel_scale = pair(Some(&inp), kOfxInteractPropPixelScale)
        .or_else(|| pair(own.as_ref(), kOfxInteractPropPixelScale))
        .filter(|s| s.0 > 0.0 && s.1 > 0.0)
        .unwrap_or((1.0, 1.0));
    let handled = |yes: bool| if yes { Ok(()) } else { Err(Error::ReplyDefault) };
    if is_draw {
        let args = OverlayArgs {
            time,
            render_scale,
            pixel_scale,
            viewport: pair(Some(&inp), PROP_VIEWPORT_SIZE).or_else(|| pair(own.as_ref(), PROP_VIEWPORT_SIZE)).unwrap_or((0.0, 0.0)),
            suggested_colour: own
                .as_ref()
                .and_then(|p| p.get_doubles::<3>(kOfxInteractPropSuggestedColour).ok()),
        };
        let context = inp.get_pointer(kOfxInteractPropDrawContext, 0).unwrap_or(std::ptr::null_mut());
        return match (suites.draw.as_ref(), context.is_null()) {
            (Some(draw), false) => {
                let mut painter = DrawSuitePainter::new(draw, context as OfxDrawContextHandle, pixel_scale);
                me.draw(&h, &args, &mut painter)
            }
            // A draw context without the suite: nothing to draw with.
            (None, false) => me.draw(&h, &args, &mut NullPainter),
            (_, true) => match GlPainter::begin() {
                Some(mut painter) => me.draw(&h, &args, &mut painter),
                None => me.draw(&h, &args, &mut NullPainter),
            },
        };
    }
    if let Some(which) = pen {
        let position = pair(Some(&inp), kOfxInteractPropPenPosition).ok_or_else(|| Error::Value("no pen position".into()))?;
        let args = PenArgs {
            time,
            render_scale,
            pixel_scale,
            position,
            viewport_position: inp.get_ints::<2>(kOfxInteractPropPenViewportPosition).map(|v| (v[0], v[1])).unwrap_or((0, 0)),
            pressure: inp.get_double(kOfxInteractPropPenPressure, 0).unwrap_or(if which == 2 { 0.0 } else { 1.0 }),
        };
        return handled(match which {
            0 => me.pen_down(&h, &args)?,
            1 => me.pen_motion(&h, &args)?,
            _ => me.pen_up(&h, &args)?,
        });
    }
    let args = KeyArgs {
        time,
        render_scale,
        key_sym: inp.get_int(kOfxPropKeySym, 0).unwrap_or(0),
        key_string: inp.get_string(kOfxPropKeyString, 0).unwrap_or_default(),
    };
    handled(match key {
        Some(0) => me.key_down(&h, &args)?,
        Some(1) => me.key_up(&h, &args)?,
        _ => me.key_repeat(&h, &args)?,
    })
}

/// Whether a failed draw was already reported (draws repeat at every redraw).
static DRAW_ERROR_REPORTED: AtomicBool = AtomicBool::new(false);

/// The overlay interact's entry point, generic over the effect type; stored in
/// the descriptor by [`EffectDescriptor::set_overlay`].
///
/// # Safety contract with the host
/// `action` is a NUL-terminated string or null; `handle` is the interact
/// handle; `in_args` a property set or null. Nothing here trusts them further.
// The signature is fixed by OfxPluginEntryPoint; the pointers come from the
// host, are null-checked, and are only dereferenced in SAFETY-commented blocks.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub extern "C" fn overlay_entry<E: Overlay>(
    action: *const c_char,
    handle: *const c_void,
    in_args: OfxPropertySetHandle,
    _out_args: OfxPropertySetHandle,
) -> OfxStatus {
    if action.is_null() {
        return kOfxStatErrBadHandle;
    }
    // SAFETY: non-null, and the host passes a NUL-terminated action name.
    let action = unsafe { CStr::from_ptr(action) };
    match catch_unwind(AssertUnwindSafe(|| dispatch::<E>(action, handle, in_args))) {
        Ok(Ok(())) => kOfxStatOK,
        Ok(Err(e)) => {
            if !matches!(e, Error::ReplyDefault) {
                let first_draw_error = action == kOfxInteractActionDraw && !DRAW_ERROR_REPORTED.swap(true, Ordering::Relaxed);
                if action != kOfxInteractActionDraw || first_draw_error {
                    eprintln!("Living Portrait overlay: {e} (in {})", action.to_string_lossy());
                }
            }
            e.status()
        }
        Err(p) => {
            // Reporting must not panic again.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                eprintln!("Living Portrait overlay: internal error in {}: {}", action.to_string_lossy(), panic_text(&p));
            }));
            kOfxStatErrUnknown
        }
    }
}
