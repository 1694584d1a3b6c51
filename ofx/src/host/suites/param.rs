//! The parameter suite V1. The non-variadic functions are implemented here;
//! `paramGetValue`, `paramGetValueAtTime`, `paramGetDerivative`,
//! `paramGetIntegral`, `paramSetValue` and `paramSetValueAtTime` are the C
//! shim's variadic functions, which call back the `cb_*` functions below
//! (first [`cb_param_kind`] to learn how many arguments of which C type to
//! read). Values set by the plugin never trigger `kOfxActionInstanceChanged`:
//! only host-user edits do, so a plugin setting a value from inside an action
//! cannot re-enter itself. [`SUITE_NO_VALUE_AT_TIME`] imitates small hosts
//! whose suite lacks `paramGetValueAtTime`.

use std::ffi::c_void;
use std::os::raw::{c_char, c_int, c_uint};

use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::param::*;

use super::{cstr, guard, put};
use crate::host::animation::Value;
use crate::host::params::{ParamError, ParamObj, ParamSetObj, ParamType, ValueKind};

extern "C" {
    fn lp_ofxhost_paramGetValue(h: OfxParamHandle, ...) -> OfxStatus;
    fn lp_ofxhost_paramGetValueAtTime(h: OfxParamHandle, t: OfxTime, ...) -> OfxStatus;
    fn lp_ofxhost_paramGetDerivative(h: OfxParamHandle, t: OfxTime, ...) -> OfxStatus;
    fn lp_ofxhost_paramGetIntegral(h: OfxParamHandle, t1: OfxTime, t2: OfxTime, ...) -> OfxStatus;
    fn lp_ofxhost_paramSetValue(h: OfxParamHandle, ...) -> OfxStatus;
    fn lp_ofxhost_paramSetValueAtTime(h: OfxParamHandle, t: OfxTime, ...) -> OfxStatus;
}

/// [`SUITE`] without `paramGetValueAtTime`, as some small hosts serve it.
pub(crate) static SUITE_NO_VALUE_AT_TIME: OfxParameterSuiteV1 = OfxParameterSuiteV1 {
    paramGetValueAtTime: None,
    ..SUITE
};

pub(crate) static SUITE: OfxParameterSuiteV1 = OfxParameterSuiteV1 {
    paramDefine: Some(param_define),
    paramGetHandle: Some(param_get_handle),
    paramSetGetPropertySet: Some(param_set_get_property_set),
    paramGetPropertySet: Some(param_get_property_set),
    paramGetValue: Some(lp_ofxhost_paramGetValue),
    paramGetValueAtTime: Some(lp_ofxhost_paramGetValueAtTime),
    paramGetDerivative: Some(lp_ofxhost_paramGetDerivative),
    paramGetIntegral: Some(lp_ofxhost_paramGetIntegral),
    paramSetValue: Some(lp_ofxhost_paramSetValue),
    paramSetValueAtTime: Some(lp_ofxhost_paramSetValueAtTime),
    paramGetNumKeys: Some(param_get_num_keys),
    paramGetKeyTime: Some(param_get_key_time),
    paramGetKeyIndex: Some(param_get_key_index),
    paramDeleteKey: Some(param_delete_key),
    paramDeleteAllKeys: Some(param_delete_all_keys),
    paramCopy: Some(param_copy),
    paramEditBegin: Some(param_edit_begin),
    paramEditEnd: Some(param_edit_end),
};

/// Validates a parameter handle and runs `f` under the panic guard.
fn with_param(h: *const c_void, f: impl FnOnce(&ParamObj) -> OfxStatus) -> OfxStatus {
    guard(kOfxStatErrUnknown, || {
        // SAFETY: plugin-supplied handle; only the tag is read before trusting it.
        match unsafe { ParamObj::from_handle(h as OfxParamHandle) } {
            Some(p) => f(p),
            None => kOfxStatErrBadHandle,
        }
    })
}

/// Validates a parameter-set handle and runs `f` under the panic guard.
fn with_set(h: OfxParamSetHandle, f: impl FnOnce(&ParamSetObj) -> OfxStatus) -> OfxStatus {
    guard(kOfxStatErrUnknown, || {
        // SAFETY: plugin-supplied handle; only the tag is read before trusting it.
        match unsafe { ParamSetObj::from_handle(h) } {
            Some(s) => f(s),
            None => kOfxStatErrBadHandle,
        }
    })
}

fn status_of(e: ParamError) -> OfxStatus {
    match e {
        ParamError::Value(_) => kOfxStatErrValue,
        ParamError::NoValue => kOfxStatErrBadHandle,
    }
}

unsafe extern "C" fn param_define(set: OfxParamSetHandle, ptype: *const c_char, name: *const c_char, props: *mut OfxPropertySetHandle) -> OfxStatus {
    with_set(set, |s| {
        // SAFETY: NUL-terminated strings from the plugin.
        let (Some(t), Some(n)) = (unsafe { cstr(ptype) }, unsafe { cstr(name) }) else {
            return kOfxStatErrValue;
        };
        let Some(t) = ParamType::from_ofx(&crate::host::props::to_cstring(t)) else {
            return kOfxStatErrUnknown;
        };
        match s.define(t, n) {
            Ok(p) => {
                // SAFETY: out pointer supplied by the plugin (may be NULL).
                unsafe { put(props, p.props.handle()) };
                kOfxStatOK
            }
            Err(st) => st,
        }
    })
}

unsafe extern "C" fn param_get_handle(set: OfxParamSetHandle, name: *const c_char, param: *mut OfxParamHandle, props: *mut OfxPropertySetHandle) -> OfxStatus {
    with_set(set, |s| {
        // SAFETY: NUL-terminated string from the plugin.
        let Some(n) = (unsafe { cstr(name) }) else {
            return kOfxStatErrUnknown;
        };
        match s.get(n) {
            Some(p) => {
                // SAFETY: out pointers supplied by the plugin (props may be NULL).
                unsafe {
                    put(param, p.handle());
                    put(props, p.props.handle());
                }
                kOfxStatOK
            }
            None => kOfxStatErrUnknown,
        }
    })
}

unsafe extern "C" fn param_set_get_property_set(set: OfxParamSetHandle, props: *mut OfxPropertySetHandle) -> OfxStatus {
    with_set(set, |s| {
        // SAFETY: out pointer supplied by the plugin.
        unsafe { put(props, s.props.handle()) };
        kOfxStatOK
    })
}

unsafe extern "C" fn param_get_property_set(param: OfxParamHandle, props: *mut OfxPropertySetHandle) -> OfxStatus {
    with_param(param as *const c_void, |p| {
        // SAFETY: out pointer supplied by the plugin.
        unsafe { put(props, p.props.handle()) };
        kOfxStatOK
    })
}

unsafe extern "C" fn param_get_num_keys(param: OfxParamHandle, out: *mut c_uint) -> OfxStatus {
    with_param(param as *const c_void, |p| {
        // SAFETY: out pointer supplied by the plugin.
        unsafe { put(out, p.key_times().len() as c_uint) };
        kOfxStatOK
    })
}

unsafe extern "C" fn param_get_key_time(param: OfxParamHandle, nth: c_uint, out: *mut OfxTime) -> OfxStatus {
    with_param(param as *const c_void, |p| match p.key_times().get(nth as usize) {
        Some(t) => {
            // SAFETY: out pointer supplied by the plugin.
            unsafe { put(out, *t) };
            kOfxStatOK
        }
        None => kOfxStatErrBadIndex,
    })
}

unsafe extern "C" fn param_get_key_index(param: OfxParamHandle, time: OfxTime, direction: c_int, out: *mut c_int) -> OfxStatus {
    with_param(param as *const c_void, |p| {
        let idx = p.key_index(time, direction);
        // SAFETY: out pointer supplied by the plugin.
        unsafe { put(out, idx.map(|i| i as c_int).unwrap_or(-1)) };
        if idx.is_some() {
            kOfxStatOK
        } else {
            kOfxStatFailed
        }
    })
}

unsafe extern "C" fn param_delete_key(param: OfxParamHandle, time: OfxTime) -> OfxStatus {
    with_param(param as *const c_void, |p| if p.delete_key(time) { kOfxStatOK } else { kOfxStatErrBadIndex })
}

unsafe extern "C" fn param_delete_all_keys(param: OfxParamHandle) -> OfxStatus {
    with_param(param as *const c_void, |p| {
        p.delete_all_keys();
        kOfxStatOK
    })
}

unsafe extern "C" fn param_copy(to: OfxParamHandle, from: OfxParamHandle, offset: OfxTime, range: *const OfxRangeD) -> OfxStatus {
    with_param(to as *const c_void, |dst| {
        // SAFETY: plugin-supplied handle, validated by its tag.
        let Some(src) = (unsafe { ParamObj::from_handle(from) }) else {
            return kOfxStatErrBadHandle;
        };
        let range = if range.is_null() {
            None
        } else {
            // SAFETY: non-NULL pointer to an OfxRangeD from the plugin.
            let r = unsafe { *range };
            Some((r.min, r.max))
        };
        match dst.copy_from(src, offset, range) {
            Ok(()) => kOfxStatOK,
            Err(e) => status_of(e),
        }
    })
}

unsafe extern "C" fn param_edit_begin(set: OfxParamSetHandle, name: *const c_char) -> OfxStatus {
    with_set(set, |s| {
        // SAFETY: NUL-terminated string (may be NULL).
        s.edit_begin(unsafe { cstr(name) }.unwrap_or(""));
        kOfxStatOK
    })
}

unsafe extern "C" fn param_edit_end(set: OfxParamSetHandle) -> OfxStatus {
    with_set(set, |s| if s.edit_end() { kOfxStatOK } else { kOfxStatFailed })
}

// ----- callbacks of the C shim -----

/// Value kind codes shared with `param_varargs.c`.
const KIND_NONE: c_int = 0;
const KIND_DOUBLE: c_int = 1;
const KIND_INT: c_int = 2;
const KIND_STRING: c_int = 3;

/// Operation codes shared with `param_varargs.c`.
const OP_VALUE: c_int = 0;
const OP_AT_TIME: c_int = 1;
const OP_DERIVATIVE: c_int = 2;
const OP_INTEGRAL: c_int = 3;

/// Tells the shim how the parameter's value travels: kind code and dimension.
pub(crate) unsafe extern "C" fn cb_param_kind(h: *mut c_void, kind: *mut c_int, dim: *mut c_int) -> OfxStatus {
    with_param(h, |p| {
        let (k, d) = match (p.is_descriptor, p.ptype.value_kind()) {
            (true, _) | (_, ValueKind::None) => (KIND_NONE, 0),
            (_, ValueKind::Double(d)) => (KIND_DOUBLE, d as c_int),
            (_, ValueKind::Int(d)) => (KIND_INT, d as c_int),
            (_, ValueKind::Str) => (KIND_STRING, 1),
        };
        // SAFETY: out pointers from the shim.
        unsafe {
            put(kind, k);
            put(dim, d);
        }
        if k == KIND_NONE {
            kOfxStatErrBadHandle
        } else {
            kOfxStatOK
        }
    })
}

/// Numeric get: `out` has room for 4 doubles (ints are exact doubles).
pub(crate) unsafe extern "C" fn cb_get_num(h: *mut c_void, op: c_int, t1: f64, t2: f64, out: *mut f64) -> OfxStatus {
    with_param(h, |p| {
        let r = match op {
            OP_VALUE => p.numbers_at(p.current_time()),
            OP_AT_TIME => p.numbers_at(t1),
            OP_DERIVATIVE => p.derivative_at(t1),
            OP_INTEGRAL => p.integral(t1, t2),
            _ => return kOfxStatErrUnsupported,
        };
        match r {
            Ok(v) => {
                for (i, x) in v.iter().take(4).enumerate() {
                    // SAFETY: the shim passes a 4-double array.
                    unsafe { out.add(i).write(*x) };
                }
                kOfxStatOK
            }
            Err(e) => status_of(e),
        }
    })
}

/// String get: the pointer stays valid while the parameter lives.
pub(crate) unsafe extern "C" fn cb_get_str(h: *mut c_void, op: c_int, t: f64, out: *mut *const c_char) -> OfxStatus {
    with_param(h, |p| {
        let time = if op == OP_AT_TIME { t } else { p.current_time() };
        match p.string_ptr_at(time) {
            Ok(s) => {
                // SAFETY: out pointer from the shim.
                unsafe { put(out, s) };
                kOfxStatOK
            }
            Err(e) => status_of(e),
        }
    })
}

/// Numeric set: `at_time` != 0 sets a key at `t`.
pub(crate) unsafe extern "C" fn cb_set_num(h: *mut c_void, at_time: c_int, t: f64, vals: *const f64, n: c_int) -> OfxStatus {
    with_param(h, |p| {
        if vals.is_null() || !(0..=4).contains(&n) {
            return kOfxStatErrValue;
        }
        // SAFETY: the shim passes `n` doubles.
        let v = unsafe { std::slice::from_raw_parts(vals, n as usize) }.to_vec();
        let r = if at_time != 0 { p.set_key(t, Value::Num(v)) } else { p.set_value(Value::Num(v)) };
        r.map(|_| kOfxStatOK).unwrap_or_else(status_of)
    })
}

/// String set: `at_time` != 0 sets a key at `t`.
pub(crate) unsafe extern "C" fn cb_set_str(h: *mut c_void, at_time: c_int, t: f64, s: *const c_char) -> OfxStatus {
    with_param(h, |p| {
        if s.is_null() {
            return kOfxStatErrValue;
        }
        // SAFETY: non-NULL NUL-terminated string from the plugin.
        let v = unsafe { std::ffi::CStr::from_ptr(s) }.to_string_lossy().into_owned();
        let r = if at_time != 0 { p.set_key(t, Value::Str(v)) } else { p.set_value(Value::Str(v)) };
        r.map(|_| kOfxStatOK).unwrap_or_else(status_of)
    })
}
