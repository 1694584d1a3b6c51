//! Typed access to OFX property sets.
//!
//! A [`PropertySet`] is a host handle plus the property suite; getters and setters
//! are typed and turn every status into an [`Error`] naming the property.

use std::ffi::{c_char, c_void, CStr, CString};

use super::suites::Suites;
use crate::error::{Error, Result};
use crate::sys::*;

/// A host property set handle (effect, clip, param, image or action arguments).
#[derive(Clone, Copy)]
pub struct PropertySet {
    pub(crate) handle: OfxPropertySetHandle,
    pub(crate) suites: &'static Suites,
}

impl std::fmt::Debug for PropertySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PropertySet({:p})", self.handle)
    }
}

// SAFETY: property handles are host objects that OFX hosts must allow to be used
// from any thread the host called us on; the handle is only an address.
unsafe impl Send for PropertySet {}
// SAFETY: as above.
unsafe impl Sync for PropertySet {}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Value(format!("string with a NUL byte: {s:?}")))
}

fn name_of(p: &CStr) -> String {
    p.to_string_lossy().into_owned()
}

fn check_prop(function: &'static str, prop: &CStr, status: OfxStatus) -> Result<()> {
    match status {
        kOfxStatOK => Ok(()),
        kOfxStatErrBadIndex => Err(Error::BadIndex(name_of(prop))),
        kOfxStatErrUnknown => Err(Error::MissingHostFeature(format!("property {}", name_of(prop)))),
        kOfxStatErrBadHandle => Err(Error::BadHandle(format!("{function}({})", name_of(prop)))),
        kOfxStatErrValue => Err(Error::Value(name_of(prop))),
        s => Err(Error::Host { function, status: s }),
    }
}

macro_rules! func {
    ($self:ident . $f:ident) => {
        $self.suites.property.$f.ok_or_else(|| {
            Error::MissingHostFeature(concat!("OfxPropertySuiteV1::", stringify!($f)).into())
        })?
    };
}

impl PropertySet {
    pub(crate) fn new(handle: OfxPropertySetHandle, suites: &'static Suites) -> Self {
        PropertySet { handle, suites }
    }

    /// Whether the handle is null.
    pub fn is_null(&self) -> bool {
        self.handle.is_null()
    }

    /// Set one string value.
    pub fn set_string(&self, prop: &CStr, index: i32, value: &str) -> Result<()> {
        let f = func!(self.propSetString);
        let v = cstring(value)?;
        // SAFETY: valid handle from the host, NUL-terminated strings live for the call.
        check_prop("propSetString", prop, unsafe { f(self.handle, prop.as_ptr(), index, v.as_ptr()) })
    }

    /// Set several string values from index 0.
    pub fn set_strings(&self, prop: &CStr, values: &[&str]) -> Result<()> {
        for (i, v) in values.iter().enumerate() {
            self.set_string(prop, i as i32, v)?;
        }
        Ok(())
    }

    /// Set one double value.
    pub fn set_double(&self, prop: &CStr, index: i32, value: f64) -> Result<()> {
        let f = func!(self.propSetDouble);
        // SAFETY: valid handle from the host and a NUL-terminated name.
        check_prop("propSetDouble", prop, unsafe { f(self.handle, prop.as_ptr(), index, value) })
    }

    /// Set several double values from index 0.
    pub fn set_doubles(&self, prop: &CStr, values: &[f64]) -> Result<()> {
        for (i, v) in values.iter().enumerate() {
            self.set_double(prop, i as i32, *v)?;
        }
        Ok(())
    }

    /// Set one int value.
    pub fn set_int(&self, prop: &CStr, index: i32, value: i32) -> Result<()> {
        let f = func!(self.propSetInt);
        // SAFETY: valid handle from the host and a NUL-terminated name.
        check_prop("propSetInt", prop, unsafe { f(self.handle, prop.as_ptr(), index, value) })
    }

    /// Set several int values from index 0.
    pub fn set_ints(&self, prop: &CStr, values: &[i32]) -> Result<()> {
        for (i, v) in values.iter().enumerate() {
            self.set_int(prop, i as i32, *v)?;
        }
        Ok(())
    }

    /// Set a pointer value. The pointer is stored by the host, never
    /// dereferenced here.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn set_pointer(&self, prop: &CStr, index: i32, value: *mut c_void) -> Result<()> {
        let f = func!(self.propSetPointer);
        // SAFETY: valid handle from the host and a NUL-terminated name; the host
        // stores the pointer opaquely.
        check_prop("propSetPointer", prop, unsafe { f(self.handle, prop.as_ptr(), index, value) })
    }

    /// Get one string value (copied).
    pub fn get_string(&self, prop: &CStr, index: i32) -> Result<String> {
        let f = func!(self.propGetString);
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: valid handle and name; `out` receives a host-owned string.
        check_prop("propGetString", prop, unsafe { f(self.handle, prop.as_ptr(), index, &mut out) })?;
        if out.is_null() {
            return Ok(String::new());
        }
        // SAFETY: the host returned a NUL-terminated string valid until the next
        // call on this property; we copy it at once.
        Ok(unsafe { CStr::from_ptr(out) }.to_string_lossy().into_owned())
    }

    /// Get one double value.
    pub fn get_double(&self, prop: &CStr, index: i32) -> Result<f64> {
        let f = func!(self.propGetDouble);
        let mut out = 0.0;
        // SAFETY: valid handle and name; `out` is a valid place for one double.
        check_prop("propGetDouble", prop, unsafe { f(self.handle, prop.as_ptr(), index, &mut out) })?;
        Ok(out)
    }

    /// Get `N` doubles at once.
    pub fn get_doubles<const N: usize>(&self, prop: &CStr) -> Result<[f64; N]> {
        let f = func!(self.propGetDoubleN);
        let mut out = [0.0; N];
        // SAFETY: valid handle and name; `out` has room for N doubles.
        check_prop("propGetDoubleN", prop, unsafe {
            f(self.handle, prop.as_ptr(), N as i32, out.as_mut_ptr())
        })?;
        Ok(out)
    }

    /// Get one int value.
    pub fn get_int(&self, prop: &CStr, index: i32) -> Result<i32> {
        let f = func!(self.propGetInt);
        let mut out = 0;
        // SAFETY: valid handle and name; `out` is a valid place for one int.
        check_prop("propGetInt", prop, unsafe { f(self.handle, prop.as_ptr(), index, &mut out) })?;
        Ok(out)
    }

    /// Get `N` ints at once.
    pub fn get_ints<const N: usize>(&self, prop: &CStr) -> Result<[i32; N]> {
        let f = func!(self.propGetIntN);
        let mut out = [0; N];
        // SAFETY: valid handle and name; `out` has room for N ints.
        check_prop("propGetIntN", prop, unsafe {
            f(self.handle, prop.as_ptr(), N as i32, out.as_mut_ptr())
        })?;
        Ok(out)
    }

    /// Get a pointer value.
    pub fn get_pointer(&self, prop: &CStr, index: i32) -> Result<*mut c_void> {
        let f = func!(self.propGetPointer);
        let mut out: *mut c_void = std::ptr::null_mut();
        // SAFETY: valid handle and name; `out` is a valid place for one pointer.
        check_prop("propGetPointer", prop, unsafe { f(self.handle, prop.as_ptr(), index, &mut out) })?;
        Ok(out)
    }

    /// Number of values a property holds.
    pub fn dimension(&self, prop: &CStr) -> Result<i32> {
        let f = func!(self.propGetDimension);
        let mut out = 0;
        // SAFETY: valid handle and name; `out` is a valid place for one int.
        check_prop("propGetDimension", prop, unsafe { f(self.handle, prop.as_ptr(), &mut out) })?;
        Ok(out)
    }

    /// All string values of a property.
    pub fn get_all_strings(&self, prop: &CStr) -> Result<Vec<String>> {
        let n = self.dimension(prop)?;
        (0..n).map(|i| self.get_string(prop, i)).collect()
    }
}
