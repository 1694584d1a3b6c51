//! The image effect suite V1: effect and clip property sets, parameter sets,
//! clip definition and lookup, image fetch / release (see
//! [`ClipObj::get_image`] and the live-image registry in `effect.rs`), clip
//! regions of definition, abort, and the image memory functions.

use std::ffi::c_void;
use std::os::raw::{c_char, c_int};
use std::sync::atomic::{AtomicI32, Ordering};

use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::image_effect::*;
use openfx::sys::image_effect_v1::param::OfxParamSetHandle;

use super::{cstr, guard, put};
use crate::host::effect::{self, ClipObj, EffectObj};
use crate::host::image::AlignedBuf;

pub(crate) static SUITE: OfxImageEffectSuiteV1 = OfxImageEffectSuiteV1 {
    getPropertySet: Some(get_property_set),
    getParamSet: Some(get_param_set),
    clipDefine: Some(clip_define),
    clipGetHandle: Some(clip_get_handle),
    clipGetPropertySet: Some(clip_get_property_set),
    clipGetImage: Some(clip_get_image),
    clipReleaseImage: Some(clip_release_image),
    clipGetRegionOfDefinition: Some(clip_get_rod),
    abort: Some(abort),
    imageMemoryAlloc: Some(image_memory_alloc),
    imageMemoryFree: Some(image_memory_free),
    imageMemoryLock: Some(image_memory_lock),
    imageMemoryUnlock: Some(image_memory_unlock),
};

fn with_effect(h: OfxImageEffectHandle, f: impl FnOnce(&EffectObj) -> OfxStatus) -> OfxStatus {
    guard(kOfxStatErrUnknown, || {
        // SAFETY: plugin-supplied handle, validated by its tag.
        match unsafe { EffectObj::from_handle(h as *const c_void) } {
            Some(e) => f(e),
            None => kOfxStatErrBadHandle,
        }
    })
}

fn with_clip(h: OfxImageClipHandle, f: impl FnOnce(&ClipObj) -> OfxStatus) -> OfxStatus {
    guard(kOfxStatErrUnknown, || {
        // SAFETY: plugin-supplied handle, validated by its tag.
        match unsafe { ClipObj::from_handle(h) } {
            Some(c) => f(c),
            None => kOfxStatErrBadHandle,
        }
    })
}

unsafe extern "C" fn get_property_set(h: OfxImageEffectHandle, out: *mut OfxPropertySetHandle) -> OfxStatus {
    with_effect(h, |e| {
        // SAFETY: out pointer from the plugin.
        unsafe { put(out, e.props.handle()) };
        kOfxStatOK
    })
}

unsafe extern "C" fn get_param_set(h: OfxImageEffectHandle, out: *mut OfxParamSetHandle) -> OfxStatus {
    with_effect(h, |e| {
        // SAFETY: out pointer from the plugin.
        unsafe { put(out, e.params.handle()) };
        kOfxStatOK
    })
}

unsafe extern "C" fn clip_define(h: OfxImageEffectHandle, name: *const c_char, out: *mut OfxPropertySetHandle) -> OfxStatus {
    with_effect(h, |e| {
        // SAFETY: NUL-terminated string from the plugin.
        let Some(name) = (unsafe { cstr(name) }) else {
            return kOfxStatErrValue;
        };
        match e.define_clip(name) {
            Ok(c) => {
                // SAFETY: out pointer from the plugin.
                unsafe { put(out, c.props.handle()) };
                kOfxStatOK
            }
            Err(st) => st,
        }
    })
}

unsafe extern "C" fn clip_get_handle(h: OfxImageEffectHandle, name: *const c_char, clip: *mut OfxImageClipHandle, props: *mut OfxPropertySetHandle) -> OfxStatus {
    with_effect(h, |e| {
        // SAFETY: NUL-terminated string from the plugin.
        let Some(name) = (unsafe { cstr(name) }) else {
            return kOfxStatErrUnknown;
        };
        match e.clip(name) {
            Some(c) => {
                // SAFETY: out pointers from the plugin (props may be NULL).
                unsafe {
                    put(clip, c.handle());
                    put(props, c.props.handle());
                }
                kOfxStatOK
            }
            None => kOfxStatErrUnknown,
        }
    })
}

unsafe extern "C" fn clip_get_property_set(h: OfxImageClipHandle, out: *mut OfxPropertySetHandle) -> OfxStatus {
    with_clip(h, |c| {
        // SAFETY: out pointer from the plugin.
        unsafe { put(out, c.props.handle()) };
        kOfxStatOK
    })
}

unsafe extern "C" fn clip_get_image(h: OfxImageClipHandle, time: OfxTime, _region: *const OfxRectD, out: *mut OfxPropertySetHandle) -> OfxStatus {
    with_clip(h, |c| {
        // The whole image is always returned: a host may give more than asked.
        let r = c.get_image(time);
        // SAFETY: out pointer from the plugin; NULL on failure so a careless
        // plugin does not use a stale handle.
        unsafe { put(out, r.unwrap_or(std::ptr::null_mut())) };
        r.map(|_| kOfxStatOK).unwrap_or_else(|st| st)
    })
}

unsafe extern "C" fn clip_release_image(h: OfxPropertySetHandle) -> OfxStatus {
    guard(kOfxStatErrUnknown, || if effect::release_image(h) { kOfxStatOK } else { kOfxStatErrBadHandle })
}

unsafe extern "C" fn clip_get_rod(h: OfxImageClipHandle, time: OfxTime, out: *mut OfxRectD) -> OfxStatus {
    with_clip(h, |c| {
        let zero = OfxRectD { x1: 0.0, y1: 0.0, x2: 0.0, y2: 0.0 };
        let rod = if c.is_output {
            let Some(e) = c.effect.upgrade() else {
                return kOfxStatErrBadHandle;
            };
            let cached = e.rt.as_ref().and_then(|rt| rt.rod_cache.lock().get(&time.to_bits()).copied());
            cached
                .or_else(|| {
                    // Not computed yet: the default, union of the inputs.
                    e.clips.read().iter().filter(|x| !x.is_output).filter_map(|x| x.input_rod(time)).reduce(|a, b| OfxRectD {
                        x1: a.x1.min(b.x1),
                        y1: a.y1.min(b.y1),
                        x2: a.x2.max(b.x2),
                        y2: a.y2.max(b.y2),
                    })
                })
                .unwrap_or(zero)
        } else {
            // Unconnected inputs have an empty region, like in Natron.
            c.input_rod(time).unwrap_or(zero)
        };
        // SAFETY: out pointer from the plugin.
        unsafe { put(out, rod) };
        kOfxStatOK
    })
}

unsafe extern "C" fn abort(h: OfxImageEffectHandle) -> c_int {
    guard(0, || {
        // SAFETY: plugin-supplied handle, validated by its tag.
        match unsafe { EffectObj::from_handle(h as *const c_void) } {
            Some(e) => e.rt.as_ref().map(|rt| rt.abort.load(Ordering::Relaxed) as c_int).unwrap_or(0),
            None => 0,
        }
    })
}

const IMAGE_MEMORY_MAGIC: u64 = 0x4c50_494d_454d_3031; // "LPIMEM01"

/// A block from `imageMemoryAlloc`. Tag first.
#[repr(C)]
struct ImageMemory {
    magic: u64,
    buf: AlignedBuf,
    locks: AtomicI32,
}

/// Validates an image memory handle.
///
/// # Safety
/// `h` must be NULL or point to at least 8 readable bytes.
unsafe fn image_memory<'a>(h: OfxImageMemoryHandle) -> Option<&'a ImageMemory> {
    if h.is_null() {
        return None;
    }
    // SAFETY: guaranteed by the caller; only the tag is read first.
    if unsafe { std::ptr::read(h as *const u64) } != IMAGE_MEMORY_MAGIC {
        return None;
    }
    // SAFETY: the tag matches a live block from image_memory_alloc.
    Some(unsafe { &*(h as *const ImageMemory) })
}

unsafe extern "C" fn image_memory_alloc(_h: OfxImageEffectHandle, n: usize, out: *mut OfxImageMemoryHandle) -> OfxStatus {
    guard(kOfxStatErrMemory, || {
        if out.is_null() {
            return kOfxStatErrBadHandle;
        }
        let Some(buf) = AlignedBuf::zeroed(n) else {
            return kOfxStatErrMemory;
        };
        let m = Box::new(ImageMemory {
            magic: IMAGE_MEMORY_MAGIC,
            buf,
            locks: AtomicI32::new(0),
        });
        // SAFETY: non-NULL out pointer from the plugin.
        unsafe { out.write(Box::into_raw(m) as OfxImageMemoryHandle) };
        kOfxStatOK
    })
}

unsafe extern "C" fn image_memory_free(h: OfxImageMemoryHandle) -> OfxStatus {
    guard(kOfxStatFailed, || {
        // SAFETY: plugin-supplied handle, validated by its tag.
        if unsafe { image_memory(h) }.is_none() {
            return kOfxStatErrBadHandle;
        }
        // SAFETY: created by Box::into_raw in image_memory_alloc, not yet freed.
        let mut b = unsafe { Box::from_raw(h as *mut ImageMemory) };
        b.magic = 0;
        drop(b);
        kOfxStatOK
    })
}

unsafe extern "C" fn image_memory_lock(h: OfxImageMemoryHandle, out: *mut *mut c_void) -> OfxStatus {
    guard(kOfxStatFailed, || {
        // SAFETY: plugin-supplied handle, validated by its tag.
        let Some(m) = (unsafe { image_memory(h) }) else {
            return kOfxStatErrBadHandle;
        };
        m.locks.fetch_add(1, Ordering::Relaxed);
        // SAFETY: out pointer from the plugin.
        unsafe { put(out, m.buf.as_ptr() as *mut c_void) };
        kOfxStatOK
    })
}

unsafe extern "C" fn image_memory_unlock(h: OfxImageMemoryHandle) -> OfxStatus {
    guard(kOfxStatFailed, || {
        // SAFETY: plugin-supplied handle, validated by its tag.
        let Some(m) = (unsafe { image_memory(h) }) else {
            return kOfxStatErrBadHandle;
        };
        // Unbalanced unlocks are tolerated (the block never moves anyway).
        let _ = m.locks.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some((v - 1).max(0)));
        kOfxStatOK
    })
}
