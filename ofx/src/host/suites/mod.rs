//! The C suites the headless host serves to plugins, and `fetchSuite`. Every
//! function here is an `extern "C"` callback whose body runs inside
//! [`guard`], so a bug in the host can never unwind into the plugin: a panic
//! becomes an error status. The variadic functions (parameter values,
//! messages) are written in C (`ofx/csrc/param_varargs.c`), which unpacks the
//! arguments and calls back into the non-variadic Rust functions registered by
//! [`install_varargs_callbacks`]; the callbacks are passed as function
//! pointers rather than exported symbols so that nothing leaks into the
//! dynamic symbol table of a binary that links this crate.

pub mod effect;
pub mod interact;
pub mod message;
pub mod misc;
pub mod param;
pub mod property;
pub mod threads;

use std::ffi::{c_void, CStr};
use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use openfx::sys::generic::core::*;
use openfx::sys::generic::property::kOfxPropertySuite;
use openfx::sys::image_effect_v1::draw_suite::kOfxDrawSuite;
use openfx::sys::image_effect_v1::image_effect::kOfxImageEffectSuite;
use openfx::sys::image_effect_v1::interact::kOfxInteractSuite;
use openfx::sys::image_effect_v1::memory::kOfxMemorySuite;
use openfx::sys::image_effect_v1::message::kOfxMessageSuite;
use openfx::sys::image_effect_v1::multi_thread::kOfxMultiThreadSuite;
use openfx::sys::image_effect_v1::param::kOfxParameterSuite;
use openfx::sys::image_effect_v1::progress::kOfxProgressSuite;
use openfx::sys::image_effect_v1::time_line::kOfxTimeLineSuite;

use super::host::{host_from_handle, HostQuirks, MultiThreadMode};

/// Runs `f`, turning a panic into `fail`.
pub(crate) fn guard<R>(fail: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fail)
}

/// Reads a plugin C string; None for NULL or invalid UTF-8.
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string valid for the call.
pub(crate) unsafe fn cstr<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: guaranteed by the caller.
    unsafe { CStr::from_ptr(p) }.to_str().ok()
}

/// Writes through an out pointer when it is not NULL.
///
/// # Safety
/// `p` must be NULL or valid for a write of `T`.
pub(crate) unsafe fn put<T>(p: *mut T, v: T) {
    if !p.is_null() {
        // SAFETY: guaranteed by the caller.
        unsafe { p.write(v) };
    }
}

/// The callbacks the C shim calls (layout shared with `param_varargs.c`).
#[repr(C)]
pub(crate) struct VarargsCallbacks {
    pub param_kind: unsafe extern "C" fn(*mut c_void, *mut c_int, *mut c_int) -> OfxStatus,
    pub param_get_num: unsafe extern "C" fn(*mut c_void, c_int, f64, f64, *mut f64) -> OfxStatus,
    pub param_get_str: unsafe extern "C" fn(*mut c_void, c_int, f64, *mut *const c_char) -> OfxStatus,
    pub param_set_num: unsafe extern "C" fn(*mut c_void, c_int, f64, *const f64, c_int) -> OfxStatus,
    pub param_set_str: unsafe extern "C" fn(*mut c_void, c_int, f64, *const c_char) -> OfxStatus,
    pub message: unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const c_char, c_int) -> OfxStatus,
}

static CALLBACKS: VarargsCallbacks = VarargsCallbacks {
    param_kind: param::cb_param_kind,
    param_get_num: param::cb_get_num,
    param_get_str: param::cb_get_str,
    param_set_num: param::cb_set_num,
    param_set_str: param::cb_set_str,
    message: message::cb_message,
};

extern "C" {
    fn lp_ofxhost_install_callbacks(cb: *const VarargsCallbacks);
}

/// Registers the Rust callbacks with the C shim (once per process).
pub(crate) fn install_varargs_callbacks() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: CALLBACKS is a static with the layout the shim expects.
        unsafe { lp_ofxhost_install_callbacks(&CALLBACKS) }
    });
}

/// `OfxHost::fetchSuite`: the suite struct, or NULL for unknown names/versions.
pub(crate) unsafe extern "C" fn fetch_suite(host: OfxPropertySetHandle, name: *const c_char, version: c_int) -> *const c_void {
    guard(std::ptr::null(), || {
        // SAFETY: the plugin passes a NUL-terminated suite name.
        let Some(name) = (unsafe { cstr(name) }) else {
            return std::ptr::null();
        };
        let shared = host_from_handle(host);
        let quirks = shared.as_ref().map(|h| h.options.quirks).unwrap_or_default();
        let multithread = shared.as_ref().map(|h| h.options.multithread).unwrap_or_default();
        let is = |c: &CStr| c.to_str() == Ok(name);
        let suite: *const c_void = if is(kOfxPropertySuite) && version == 1 {
            &property::SUITE as *const _ as *const c_void
        } else if is(kOfxParameterSuite) && version == 1 {
            match shared.as_ref().is_none_or(|h| h.options.param_value_at_time) {
                true => &param::SUITE as *const _ as *const c_void,
                false => &param::SUITE_NO_VALUE_AT_TIME as *const _ as *const c_void,
            }
        } else if is(kOfxImageEffectSuite) && version == 1 {
            &effect::SUITE as *const _ as *const c_void
        } else if is(kOfxMemorySuite) && version == 1 {
            &misc::MEMORY_SUITE as *const _ as *const c_void
        } else if is(kOfxMultiThreadSuite) && version == 1 {
            match multithread {
                MultiThreadMode::Threads => &threads::SUITE as *const _ as *const c_void,
                MultiThreadMode::OneCpu => &threads::SUITE_ONE_CPU as *const _ as *const c_void,
                MultiThreadMode::Single => &threads::SUITE_SINGLE as *const _ as *const c_void,
            }
        } else if is(kOfxMessageSuite) && version == 1 {
            match quirks {
                HostQuirks::Natron => &message::SUITE_V1_NATRON as *const _ as *const c_void,
                _ => &message::SUITE_V1 as *const _ as *const c_void,
            }
        } else if is(kOfxMessageSuite) && version == 2 {
            match quirks {
                HostQuirks::Resolve => &message::SUITE_V2_RESOLVE as *const _ as *const c_void,
                HostQuirks::Natron => &message::SUITE_V2_NATRON as *const _ as *const c_void,
                HostQuirks::Standard => &message::SUITE_V2 as *const _ as *const c_void,
            }
        } else if is(kOfxProgressSuite) && version == 1 {
            &misc::PROGRESS_SUITE_V1 as *const _ as *const c_void
        } else if is(kOfxProgressSuite) && version == 2 {
            &misc::PROGRESS_SUITE_V2 as *const _ as *const c_void
        } else if is(kOfxTimeLineSuite) && version == 1 {
            &misc::TIMELINE_SUITE as *const _ as *const c_void
        } else if is(kOfxInteractSuite) && version == 1 {
            &interact::SUITE as *const _ as *const c_void
        } else if is(kOfxDrawSuite) && version == 1 {
            &interact::DRAW_SUITE as *const _ as *const c_void
        } else {
            std::ptr::null()
        };
        if let Some(h) = shared {
            h.fetched.lock().push((name.to_string(), version, !suite.is_null()));
        }
        suite
    })
}

#[cfg(test)]
mod tests;
