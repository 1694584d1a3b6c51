//! The small suites: memory V1 (aligned blocks, validated on free), progress
//! V1 and V2 (recorded on the instance, never aborting) and timeline V1 (the
//! instance's current time and its project frame range).

use once_cell::sync::Lazy;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::c_void;
use std::os::raw::c_char;

use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::memory::OfxMemorySuiteV1;
use openfx::sys::image_effect_v1::progress::{OfxProgressSuiteV1, OfxProgressSuiteV2};
use openfx::sys::image_effect_v1::time_line::OfxTimeLineSuiteV1;

use super::{cstr, guard, put};
use crate::host::context;
use crate::host::effect::EffectObj;
use crate::host::image::AlignedBuf;

pub(crate) static MEMORY_SUITE: OfxMemorySuiteV1 = OfxMemorySuiteV1 {
    memoryAlloc: Some(memory_alloc),
    memoryFree: Some(memory_free),
};

/// Blocks handed out by `memoryAlloc`, by address, so a bad free is refused.
static BLOCKS: Lazy<Mutex<HashMap<usize, AlignedBuf>>> = Lazy::new(|| Mutex::new(HashMap::new()));

unsafe extern "C" fn memory_alloc(_handle: *mut c_void, n: usize, out: *mut *mut c_void) -> OfxStatus {
    guard(kOfxStatErrMemory, || {
        if out.is_null() {
            return kOfxStatErrBadHandle;
        }
        let Some(buf) = AlignedBuf::zeroed(n) else {
            return kOfxStatErrMemory;
        };
        let p = buf.as_ptr();
        BLOCKS.lock().insert(p as usize, buf);
        // SAFETY: non-NULL out pointer from the plugin.
        unsafe { out.write(p as *mut c_void) };
        kOfxStatOK
    })
}

unsafe extern "C" fn memory_free(p: *mut c_void) -> OfxStatus {
    guard(kOfxStatFailed, || {
        // Drop the block after releasing the lock.
        let removed = BLOCKS.lock().remove(&(p as usize));
        if removed.is_some() {
            kOfxStatOK
        } else {
            kOfxStatErrBadHandle
        }
    })
}

pub(crate) static PROGRESS_SUITE_V1: OfxProgressSuiteV1 = OfxProgressSuiteV1 {
    progressStart: Some(progress_start_v1),
    progressUpdate: Some(progress_update),
    progressEnd: Some(progress_end),
};

pub(crate) static PROGRESS_SUITE_V2: OfxProgressSuiteV2 = OfxProgressSuiteV2 {
    progressStart: Some(progress_start_v2),
    progressUpdate: Some(progress_update),
    progressEnd: Some(progress_end),
};

/// Runs `f` on the instance behind an effect handle.
fn with_instance(h: *mut c_void, f: impl FnOnce(&EffectObj) -> OfxStatus) -> OfxStatus {
    guard(kOfxStatFailed, || {
        // SAFETY: plugin-supplied handle, validated by its tag.
        match unsafe { EffectObj::from_handle(h) } {
            Some(e) if e.rt.is_some() => f(e),
            _ => kOfxStatErrBadHandle,
        }
    })
}

fn start(h: *mut c_void, label: &str) -> OfxStatus {
    with_instance(h, |e| {
        if let Some(rt) = &e.rt {
            rt.progress.lock().push((label.to_string(), 0.0));
        }
        kOfxStatOK
    })
}

unsafe extern "C" fn progress_start_v1(h: *mut c_void, label: *const c_char) -> OfxStatus {
    // SAFETY: NUL-terminated string (or NULL) from the plugin.
    start(h, unsafe { cstr(label) }.unwrap_or(""))
}

unsafe extern "C" fn progress_start_v2(h: *mut c_void, message: *const c_char, _id: *const c_char) -> OfxStatus {
    // SAFETY: NUL-terminated string (or NULL) from the plugin.
    start(h, unsafe { cstr(message) }.unwrap_or(""))
}

unsafe extern "C" fn progress_update(h: *mut c_void, progress: f64) -> OfxStatus {
    with_instance(h, |e| {
        if let Some(rt) = &e.rt {
            if let Some(last) = rt.progress.lock().last_mut() {
                last.1 = progress;
            }
        }
        kOfxStatOK
    })
}

unsafe extern "C" fn progress_end(h: *mut c_void) -> OfxStatus {
    with_instance(h, |_| kOfxStatOK)
}

pub(crate) static TIMELINE_SUITE: OfxTimeLineSuiteV1 = OfxTimeLineSuiteV1 {
    getTime: Some(get_time),
    gotoTime: Some(goto_time),
    getTimeBounds: Some(get_time_bounds),
};

unsafe extern "C" fn get_time(h: *mut c_void, out: *mut f64) -> OfxStatus {
    with_instance(h, |e| {
        let t = context::current()
            .and_then(|c| c.time)
            .unwrap_or_else(|| f64::from_bits(e.params.timeline.load(std::sync::atomic::Ordering::Relaxed)));
        // SAFETY: out pointer from the plugin.
        unsafe { put(out, t) };
        kOfxStatOK
    })
}

unsafe extern "C" fn goto_time(h: *mut c_void, t: f64) -> OfxStatus {
    with_instance(h, |e| {
        e.params.set_timeline_time(t);
        kOfxStatOK
    })
}

unsafe extern "C" fn get_time_bounds(h: *mut c_void, first: *mut f64, last: *mut f64) -> OfxStatus {
    with_instance(h, |e| {
        let (a, b) = e.rt.as_ref().map(|rt| *rt.frame_range.lock()).unwrap_or((0.0, 0.0));
        // SAFETY: out pointers from the plugin.
        unsafe {
            put(first, a);
            put(last, b);
        }
        kOfxStatOK
    })
}
