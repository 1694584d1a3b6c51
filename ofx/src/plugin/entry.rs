//! The one guarded path every host call takes.
//!
//! `main_entry` null-checks its arguments, runs the action under
//! `catch_unwind`, maps the result through [`Error::status`], and turns a panic
//! into a persistent error message and `kOfxStatErrUnknown` — a panic never
//! crosses the C boundary. Instance state lives in a box whose address is kept
//! in our own table keyed by the instance handle, not in the instance's
//! `kOfxPropInstanceData`, which some hosts do not provide.

use std::any::Any;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use parking_lot::Mutex;

use super::effect::*;
use super::image::RectD;
use super::props::PropertySet;
use super::suites::{self, Suites};
use crate::error::{Error, Result};
use crate::sys::*;

/// The text of a panic payload.
pub fn panic_text(p: &Box<dyn Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

/// The state of one instance, boxed; its address is in [`INSTANCES`].
struct InstanceBox<E> {
    effect: E,
    /// Whether we posted a persistent error that a later success should clear.
    error_posted: std::sync::atomic::AtomicBool,
    /// Whether the user was told about the host's missing optional features.
    gaps_reported: std::sync::atomic::AtomicBool,
}

/// Instance handle → address of its leaked `Box<InstanceBox<E>>`, where `E`
/// is the effect type whose `main_entry` created it (a handle reaches only
/// that entry point).
static INSTANCES: parking_lot::RwLock<BTreeMap<usize, usize>> = parking_lot::RwLock::new(BTreeMap::new());

/// Serialises instance creation (hosts that skip create-instance, or call
/// actions on one instance from several threads at first).
static CREATE_LOCK: Mutex<()> = Mutex::new(());

fn lookup<E: Effect>(h: &EffectHandle) -> Option<&'static InstanceBox<E>> {
    let p = *INSTANCES.read().get(&(h.handle as usize))?;
    // SAFETY: the address was stored by `create` from a leaked
    // `Box<InstanceBox<E>>` (see INSTANCES for the type) and is only freed at
    // destroy-instance, after which the host makes no more calls on it.
    Some(unsafe { &*(p as *const InstanceBox<E>) })
}

fn instance<E: Effect>(h: &EffectHandle) -> Result<&'static InstanceBox<E>> {
    if let Some(b) = lookup::<E>(h) {
        return Ok(b);
    }
    // A host that skipped kOfxActionCreateInstance: create the state now.
    let _g = CREATE_LOCK.lock();
    if lookup::<E>(h).is_none() {
        create::<E>(h)?;
    }
    lookup::<E>(h).ok_or_else(|| Error::BadHandle("the instance state".into()))
}

/// The state of an effect instance (created now for a host that skipped
/// create-instance), for the overlay interact of the same effect.
pub(crate) fn effect_instance<E: Effect>(h: &EffectHandle) -> Result<&'static E> {
    instance::<E>(h).map(|b| &b.effect)
}

/// Creates the state of instance `h` (the caller holds [`CREATE_LOCK`] and
/// has checked there is none).
fn create<E: Effect>(h: &EffectHandle) -> Result<()> {
    let effect = E::create_instance(h)?;
    let b = Box::new(InstanceBox { effect, error_posted: false.into(), gaps_reported: false.into() });
    INSTANCES.write().insert(h.handle as usize, Box::into_raw(b) as usize);
    Ok(())
}

fn destroy<E: Effect>(h: &EffectHandle) -> Result<()> {
    // Its overlays cannot be asked to redraw any more.
    super::interact::forget_effect(h.handle);
    let _g = CREATE_LOCK.lock();
    let Some(p) = INSTANCES.write().remove(&(h.handle as usize)) else {
        return Ok(());
    };
    // SAFETY: the address came from `create`'s Box::into_raw and is now out of
    // the table; the host calls destroy once, after every other action on the
    // instance has returned.
    drop(unsafe { Box::from_raw(p as *mut InstanceBox<E>) });
    Ok(())
}

/// Tells the user, once per instance, which optional host features are
/// missing and what that costs (a persistent warning).
fn report_host_gaps<E: Effect>(h: &EffectHandle, ib: &InstanceBox<E>) {
    if h.suites.param.paramGetValueAtTime.is_some() || ib.gaps_reported.swap(true, std::sync::atomic::Ordering::AcqRel) {
        return;
    }
    let _ = h.set_persistent_message(
        MessageLevel::Warning,
        "The host does not provide paramGetValueAtTime: animated parameters are read at the current frame.",
    );
}

fn scale(args: PropertySet) -> (f64, f64) {
    args.get_doubles::<2>(kOfxImageEffectPropRenderScale).map(|s| (s[0], s[1])).unwrap_or((1.0, 1.0))
}

fn render_args(args: PropertySet) -> Result<RenderArgs> {
    let w = args.get_ints::<4>(kOfxImageEffectPropRenderWindow)?;
    Ok(RenderArgs {
        time: args.get_double(kOfxPropTime, 0)?,
        window: super::image::RectI { x1: w[0], y1: w[1], x2: w[2], y2: w[3] },
        render_scale: scale(args),
        sequential: args.get_int(kOfxImageEffectPropSequentialRenderStatus, 0).unwrap_or(0) != 0,
        interactive: args.get_int(kOfxImageEffectPropInteractiveRenderStatus, 0).unwrap_or(0) != 0,
        draft: args.get_int(kOfxImageEffectPropRenderQualityDraft, 0).unwrap_or(0) != 0,
    })
}

fn sequence_args(args: PropertySet) -> SequenceArgs {
    SequenceArgs {
        frame_range: args.get_doubles::<2>(kOfxImageEffectPropFrameRange).map(|r| (r[0], r[1])).unwrap_or((0.0, 0.0)),
        frame_step: args.get_double(kOfxImageEffectPropFrameStep, 0).unwrap_or(1.0),
        interactive: args.get_int(kOfxImageEffectPropInteractiveRenderStatus, 0).unwrap_or(0) != 0,
        render_scale: scale(args),
    }
}

fn is(action: &CStr, name: &CStr) -> bool {
    action == name
}

/// Dispatch one action. `Err(ReplyDefault)` means "not handled".
fn dispatch<E: Effect>(
    action: &CStr,
    handle: *const c_void,
    in_args: OfxPropertySetHandle,
    out_args: OfxPropertySetHandle,
) -> Result<()> {
    if is(action, kOfxActionLoad) {
        super::pin::pin_self();
        suites::load()?;
        return Ok(());
    }
    if is(action, kOfxActionUnload) {
        // Interacts a host failed to destroy must not outlive it.
        super::interact::forget_all();
        suites::unload();
        return Ok(());
    }
    let suites: &'static Suites = suites::suites()?;
    if handle.is_null() {
        return Err(Error::BadHandle("null effect handle".into()));
    }
    let effect = handle as OfxImageEffectHandle;
    let inp = PropertySet::new(in_args, suites);
    let out = PropertySet::new(out_args, suites);
    let need = |p: &PropertySet, what: &str| -> Result<()> {
        if p.is_null() {
            Err(Error::BadHandle(format!("null {what} arguments")))
        } else {
            Ok(())
        }
    };
    if is(action, kOfxActionDescribe) {
        return E::describe(&EffectDescriptor::new(effect, suites)?);
    }
    if is(action, kOfxImageEffectActionDescribeInContext) {
        need(&inp, "input")?;
        let ctx = Context::from_ofx(&inp.get_string(kOfxImageEffectPropContext, 0)?);
        return E::describe_in_context(&EffectDescriptor::new(effect, suites)?, ctx);
    }
    let h = EffectHandle::new(effect, suites)?;
    if is(action, kOfxActionCreateInstance) {
        let _g = CREATE_LOCK.lock();
        if lookup::<E>(&h).is_some() {
            return Ok(());
        }
        return create::<E>(&h);
    }
    if is(action, kOfxActionDestroyInstance) {
        return destroy::<E>(&h);
    }
    let ib = instance::<E>(&h)?;
    let me = &ib.effect;
    let result = if is(action, kOfxImageEffectActionRender) {
        need(&inp, "input")?;
        report_host_gaps(&h, ib);
        let r = me.render(&h, &render_args(inp)?);
        if r.is_ok() && ib.error_posted.swap(false, std::sync::atomic::Ordering::AcqRel) {
            h.clear_persistent_message();
        }
        r
    } else if is(action, kOfxActionInstanceChanged) {
        need(&inp, "input")?;
        let args = InstanceChangedArgs {
            is_param: inp.get_string(kOfxPropType, 0).map(|t| t.as_bytes() == kOfxTypeParameter.to_bytes()).unwrap_or(true),
            name: inp.get_string(kOfxPropName, 0)?,
            reason: inp.get_string(kOfxPropChangeReason, 0).unwrap_or_default(),
            time: inp.get_double(kOfxPropTime, 0).unwrap_or(0.0),
            render_scale: scale(inp),
        };
        me.instance_changed(&h, &args)
    } else if is(action, kOfxImageEffectActionGetClipPreferences) {
        need(&out, "output")?;
        me.clip_preferences(&h, &ClipPreferences { out })
    } else if is(action, kOfxImageEffectActionGetRegionOfDefinition) {
        need(&inp, "input")?;
        need(&out, "output")?;
        let args = RegionOfDefinitionArgs { time: inp.get_double(kOfxPropTime, 0)?, render_scale: scale(inp) };
        let r = me.region_of_definition(&h, &args)?;
        out.set_doubles(kOfxImageEffectPropRegionOfDefinition, &[r.x1, r.y1, r.x2, r.y2])
    } else if is(action, kOfxImageEffectActionGetRegionsOfInterest) {
        need(&inp, "input")?;
        need(&out, "output")?;
        let r = inp.get_doubles::<4>(kOfxImageEffectPropRegionOfInterest)?;
        let args = RegionsOfInterestArgs {
            time: inp.get_double(kOfxPropTime, 0)?,
            render_scale: scale(inp),
            region: RectD { x1: r[0], y1: r[1], x2: r[2], y2: r[3] },
        };
        me.regions_of_interest(&h, &args, &RegionsOfInterest { out })
    } else if is(action, kOfxImageEffectActionIsIdentity) {
        need(&inp, "input")?;
        need(&out, "output")?;
        match me.is_identity(&h, &render_args(inp)?)? {
            Some((clip, time)) => {
                out.set_string(kOfxPropName, 0, &clip)?;
                out.set_double(kOfxPropTime, 0, time)
            }
            None => Err(Error::ReplyDefault),
        }
    } else if is(action, kOfxImageEffectActionBeginSequenceRender) {
        need(&inp, "input")?;
        me.begin_sequence_render(&h, &sequence_args(inp))
    } else if is(action, kOfxImageEffectActionEndSequenceRender) {
        need(&inp, "input")?;
        me.end_sequence_render(&h, &sequence_args(inp))
    } else if is(action, kOfxActionPurgeCaches) {
        me.purge_caches(&h)
    } else if is(action, kOfxActionSyncPrivateData) {
        me.sync_private_data(&h)
    } else {
        Err(Error::ReplyDefault)
    };
    if let Err(e) = &result {
        if !matches!(e, Error::ReplyDefault | Error::Aborted) {
            let action_name = action.to_string_lossy();
            let text = format!("Living Portrait: {e}");
            if is(action, kOfxImageEffectActionRender) || is(action, kOfxActionInstanceChanged) {
                if h.set_persistent_message(MessageLevel::Error, &text).unwrap_or(false) {
                    ib.error_posted.store(true, std::sync::atomic::Ordering::Release);
                }
            } else {
                eprintln!("{text} (in {action_name})");
            }
        }
    }
    result
}

/// The plugin's `mainEntry`, generic over the effect type.
///
/// # Safety contract with the host
/// `action` is a NUL-terminated string or null; `handle`, `in_args` and
/// `out_args` are host handles or null. Nothing here trusts them further.
// The signature is fixed by OfxPlugin::mainEntry (a safe `extern "C" fn`); the
// pointers come from the host, are null-checked, and are only dereferenced in
// the SAFETY-commented blocks below.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub extern "C" fn main_entry<E: Effect>(
    action: *const c_char,
    handle: *const c_void,
    in_args: OfxPropertySetHandle,
    out_args: OfxPropertySetHandle,
) -> OfxStatus {
    if action.is_null() {
        return kOfxStatErrBadHandle;
    }
    // SAFETY: non-null, and the host passes a NUL-terminated action name.
    let action = unsafe { CStr::from_ptr(action) };
    let r = catch_unwind(AssertUnwindSafe(|| dispatch::<E>(action, handle, in_args, out_args)));
    match r {
        Ok(Ok(())) => kOfxStatOK,
        Ok(Err(e)) => e.status(),
        Err(p) => {
            let text = format!(
                "Living Portrait: internal error in {}: {}",
                action.to_string_lossy(),
                panic_text(&p)
            );
            // Reporting must not panic again: everything here is guarded.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                if let (Ok(s), false) = (suites::suites(), handle.is_null()) {
                    if let Ok(h) = EffectHandle::new(handle as OfxImageEffectHandle, s) {
                        let _ = h.set_persistent_message(MessageLevel::Error, &text);
                    }
                }
                eprintln!("{text}");
            }));
            kOfxStatErrUnknown
        }
    }
}

/// The plugin's `setHost`.
pub extern "C" fn set_host(host: *mut OfxHost) {
    suites::set_host(host);
}

/// `OfxSetHost` (OFX 1.5): remember the host before `OfxGetPlugin`.
pub fn ofx_set_host(host: *const OfxHost) -> OfxStatus {
    suites::set_host(host);
    kOfxStatOK
}

/// Build the `OfxPlugin` struct for an effect.
pub const fn plugin_struct<E: Effect>(identifier: &'static CStr, major: u32, minor: u32) -> OfxPlugin {
    OfxPlugin {
        pluginApi: kOfxImageEffectPluginApi.as_ptr(),
        apiVersion: 1,
        pluginIdentifier: identifier.as_ptr(),
        pluginVersionMajor: major,
        pluginVersionMinor: minor,
        setHost: Some(set_host),
        mainEntry: Some(main_entry::<E>),
    }
}

/// `OfxGetPlugin` for a single-plugin library.
pub fn get_plugin(nth: c_int, plugin: &'static OfxPlugin) -> *const OfxPlugin {
    if nth == 0 {
        plugin as *const OfxPlugin
    } else {
        std::ptr::null()
    }
}

/// Export the OFX entry points (`OfxGetNumberOfPlugins`, `OfxGetPlugin`,
/// `OfxSetHost`) for one effect type. Use once, in the plugin's `lib.rs`:
/// `ofx::export_effect!(MyEffect, "org.example.MyEffect", 1, 0);`
#[macro_export]
macro_rules! export_effect {
    ($effect:ty, $id:literal, $major:literal, $minor:literal) => {
        const _: () = {
            const __OFX_ID: &::std::ffi::CStr = match ::std::ffi::CStr::from_bytes_with_nul(concat!($id, "\0").as_bytes()) {
                Ok(c) => c,
                Err(_) => panic!("plugin identifier contains a NUL byte"),
            };
            static __OFX_PLUGIN: $crate::sys::OfxPlugin =
                $crate::plugin::entry::plugin_struct::<$effect>(__OFX_ID, $major, $minor);

            #[unsafe(no_mangle)]
            pub extern "C" fn OfxGetNumberOfPlugins() -> ::std::ffi::c_int {
                1
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn OfxGetPlugin(nth: ::std::ffi::c_int) -> *const $crate::sys::OfxPlugin {
                $crate::plugin::entry::get_plugin(nth, &__OFX_PLUGIN)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn OfxSetHost(host: *const $crate::sys::OfxHost) -> $crate::sys::OfxStatus {
                $crate::plugin::entry::ofx_set_host(host)
            }
        };
    };
}

/// The `OfxPlugin` of one effect type as a `&'static OfxPlugin`, without
/// exporting any symbol: for hosting the effect in-process, e.g. in a test with
/// `ofx::host::Host::load_linked(ofx::effect_plugin!(MyEffect, "org.example.MyEffect", 1, 0))`.
#[macro_export]
macro_rules! effect_plugin {
    ($effect:ty, $id:literal, $major:literal, $minor:literal) => {{
        const __OFX_ID: &::std::ffi::CStr = match ::std::ffi::CStr::from_bytes_with_nul(concat!($id, "\0").as_bytes()) {
            Ok(c) => c,
            Err(_) => panic!("plugin identifier contains a NUL byte"),
        };
        static __OFX_PLUGIN: $crate::sys::OfxPlugin =
            $crate::plugin::entry::plugin_struct::<$effect>(__OFX_ID, $major, $minor);
        &__OFX_PLUGIN
    }};
}
