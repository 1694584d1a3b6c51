//! The property suite V1: C entry points over [`PropertySet`]. Handles are
//! validated by their tag (bad handle → `kOfxStatErrBadHandle`); unknown
//! names give `kOfxStatErrUnknown`, bad indices `kOfxStatErrBadIndex`, type
//! mismatches `kOfxStatErrValue`.

use std::ffi::c_void;
use std::os::raw::{c_char, c_int};

use openfx::sys::generic::core::*;
use openfx::sys::generic::property::OfxPropertySuiteV1;

use super::{cstr, guard, put};
use crate::host::props::{PropError, PropValue, PropertySet};

pub(crate) static SUITE: OfxPropertySuiteV1 = OfxPropertySuiteV1 {
    propSetPointer: Some(set_pointer),
    propSetString: Some(set_string),
    propSetDouble: Some(set_double),
    propSetInt: Some(set_int),
    propSetPointerN: Some(set_pointer_n),
    propSetStringN: Some(set_string_n),
    propSetDoubleN: Some(set_double_n),
    propSetIntN: Some(set_int_n),
    propGetPointer: Some(get_pointer),
    propGetString: Some(get_string),
    propGetDouble: Some(get_double),
    propGetInt: Some(get_int),
    propGetPointerN: Some(get_pointer_n),
    propGetStringN: Some(get_string_n),
    propGetDoubleN: Some(get_double_n),
    propGetIntN: Some(get_int_n),
    propReset: Some(reset),
    propGetDimension: Some(get_dimension),
};

/// Common prologue: validate the handle and the name, run `f`, map errors.
fn with_set(h: OfxPropertySetHandle, name: *const c_char, f: impl FnOnce(&PropertySet, &str) -> Result<(), PropError>) -> OfxStatus {
    guard(kOfxStatErrUnknown, || {
        // SAFETY: a plugin-supplied handle; from_handle only reads the tag.
        let Some(set) = (unsafe { PropertySet::from_handle(h) }) else {
            return kOfxStatErrBadHandle;
        };
        // SAFETY: property names are NUL-terminated strings.
        let Some(name) = (unsafe { cstr(name) }) else {
            return kOfxStatErrUnknown;
        };
        match f(set, name) {
            Ok(()) => kOfxStatOK,
            Err(e) => e.status(),
        }
    })
}

unsafe extern "C" fn set_pointer(h: OfxPropertySetHandle, name: *const c_char, i: c_int, v: *mut c_void) -> OfxStatus {
    with_set(h, name, |s, n| s.set_pointer_at(n, i, v as usize))
}

unsafe extern "C" fn set_string(h: OfxPropertySetHandle, name: *const c_char, i: c_int, v: *const c_char) -> OfxStatus {
    with_set(h, name, |s, n| {
        if v.is_null() {
            return Err(PropError::Value);
        }
        // SAFETY: non-NULL NUL-terminated string from the plugin.
        let c = unsafe { std::ffi::CStr::from_ptr(v) }.to_owned();
        s.set_string_at(n, i, c)
    })
}

unsafe extern "C" fn set_double(h: OfxPropertySetHandle, name: *const c_char, i: c_int, v: f64) -> OfxStatus {
    with_set(h, name, |s, n| s.set_double_at(n, i, v))
}

unsafe extern "C" fn set_int(h: OfxPropertySetHandle, name: *const c_char, i: c_int, v: c_int) -> OfxStatus {
    with_set(h, name, |s, n| s.set_int_at(n, i, v))
}

/// Copies `count` elements from a plugin array.
///
/// # Safety
/// `p` must be valid for `count` reads when `count > 0`.
unsafe fn read_n<T: Copy>(p: *const T, count: c_int) -> Result<Vec<T>, PropError> {
    if count < 0 {
        return Err(PropError::BadIndex);
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(PropError::Value);
    }
    // SAFETY: guaranteed by the caller.
    Ok(unsafe { std::slice::from_raw_parts(p, count as usize) }.to_vec())
}

unsafe extern "C" fn set_pointer_n(h: OfxPropertySetHandle, name: *const c_char, count: c_int, v: *const *mut c_void) -> OfxStatus {
    with_set(h, name, |s, n| {
        // SAFETY: the plugin passes `count` pointers.
        let v = unsafe { read_n(v, count) }?;
        s.set_n(n, PropValue::Pointer(v.into_iter().map(|p| p as usize).collect()))
    })
}

unsafe extern "C" fn set_string_n(h: OfxPropertySetHandle, name: *const c_char, count: c_int, v: *const *const c_char) -> OfxStatus {
    with_set(h, name, |s, n| {
        // SAFETY: the plugin passes `count` string pointers.
        let ptrs = unsafe { read_n(v, count) }?;
        let mut strings = Vec::with_capacity(ptrs.len());
        for p in ptrs {
            if p.is_null() {
                return Err(PropError::Value);
            }
            // SAFETY: non-NULL NUL-terminated string.
            strings.push(unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned());
        }
        s.set_n(n, PropValue::String(strings))
    })
}

unsafe extern "C" fn set_double_n(h: OfxPropertySetHandle, name: *const c_char, count: c_int, v: *const f64) -> OfxStatus {
    with_set(h, name, |s, n| {
        // SAFETY: the plugin passes `count` doubles.
        let v = unsafe { read_n(v, count) }?;
        s.set_n(n, PropValue::Double(v))
    })
}

unsafe extern "C" fn set_int_n(h: OfxPropertySetHandle, name: *const c_char, count: c_int, v: *const c_int) -> OfxStatus {
    with_set(h, name, |s, n| {
        // SAFETY: the plugin passes `count` ints.
        let v = unsafe { read_n(v, count) }?;
        s.set_n(n, PropValue::Int(v))
    })
}

unsafe extern "C" fn get_pointer(h: OfxPropertySetHandle, name: *const c_char, i: c_int, out: *mut *mut c_void) -> OfxStatus {
    with_set(h, name, |s, n| {
        let v = s.get_pointer_at(n, i)?;
        // SAFETY: out pointer supplied by the plugin.
        unsafe { put(out, v as *mut c_void) };
        Ok(())
    })
}

unsafe extern "C" fn get_string(h: OfxPropertySetHandle, name: *const c_char, i: c_int, out: *mut *mut c_char) -> OfxStatus {
    with_set(h, name, |s, n| {
        let v = s.get_string_ptr_at(n, i)?;
        // SAFETY: out pointer supplied by the plugin.
        unsafe { put(out, v as *mut c_char) };
        Ok(())
    })
}

unsafe extern "C" fn get_double(h: OfxPropertySetHandle, name: *const c_char, i: c_int, out: *mut f64) -> OfxStatus {
    with_set(h, name, |s, n| {
        let v = s.get_double_at(n, i)?;
        // SAFETY: out pointer supplied by the plugin.
        unsafe { put(out, v) };
        Ok(())
    })
}

unsafe extern "C" fn get_int(h: OfxPropertySetHandle, name: *const c_char, i: c_int, out: *mut c_int) -> OfxStatus {
    with_set(h, name, |s, n| {
        let v = s.get_int_at(n, i)?;
        // SAFETY: out pointer supplied by the plugin.
        unsafe { put(out, v) };
        Ok(())
    })
}

/// Reads elements 0..count with `get` and writes them to the plugin array.
///
/// # Safety
/// `out` must be valid for `count` writes.
unsafe fn get_n<T>(count: c_int, out: *mut T, mut get: impl FnMut(c_int) -> Result<T, PropError>) -> Result<(), PropError> {
    if count < 0 {
        return Err(PropError::BadIndex);
    }
    if out.is_null() && count > 0 {
        return Err(PropError::Value);
    }
    // Read everything first so a bad index leaves the output untouched.
    let vals: Vec<T> = (0..count).map(&mut get).collect::<Result<_, _>>()?;
    for (i, v) in vals.into_iter().enumerate() {
        // SAFETY: i < count, guaranteed writable by the caller.
        unsafe { out.add(i).write(v) };
    }
    Ok(())
}

unsafe extern "C" fn get_pointer_n(h: OfxPropertySetHandle, name: *const c_char, count: c_int, out: *mut *mut c_void) -> OfxStatus {
    // SAFETY: the plugin provides room for `count` elements.
    with_set(h, name, |s, n| unsafe { get_n(count, out, |i| s.get_pointer_at(n, i).map(|p| p as *mut c_void)) })
}

unsafe extern "C" fn get_string_n(h: OfxPropertySetHandle, name: *const c_char, count: c_int, out: *mut *mut c_char) -> OfxStatus {
    // SAFETY: the plugin provides room for `count` elements.
    with_set(h, name, |s, n| unsafe { get_n(count, out, |i| s.get_string_ptr_at(n, i).map(|p| p as *mut c_char)) })
}

unsafe extern "C" fn get_double_n(h: OfxPropertySetHandle, name: *const c_char, count: c_int, out: *mut f64) -> OfxStatus {
    // SAFETY: the plugin provides room for `count` elements.
    with_set(h, name, |s, n| unsafe { get_n(count, out, |i| s.get_double_at(n, i)) })
}

unsafe extern "C" fn get_int_n(h: OfxPropertySetHandle, name: *const c_char, count: c_int, out: *mut c_int) -> OfxStatus {
    // SAFETY: the plugin provides room for `count` elements.
    with_set(h, name, |s, n| unsafe { get_n(count, out, |i| s.get_int_at(n, i)) })
}

unsafe extern "C" fn reset(h: OfxPropertySetHandle, name: *const c_char) -> OfxStatus {
    with_set(h, name, |s, n| s.reset(n))
}

unsafe extern "C" fn get_dimension(h: OfxPropertySetHandle, name: *const c_char, out: *mut c_int) -> OfxStatus {
    with_set(h, name, |s, n| {
        let d = s.dimension(n)?;
        // SAFETY: out pointer supplied by the plugin.
        unsafe { put(out, d as c_int) };
        Ok(())
    })
}
