//! Parameter descriptors (describe time) and typed parameter handles (instance time).
//!
//! Descriptors are defined with [`ParamSetDescriptor`] and configured with
//! chained setters. At instance time [`ParamSet`] hands out typed handles
//! ([`DoubleParam`], [`Double2DParam`], [`IntParam`], [`BoolParam`],
//! [`ChoiceParam`], [`StringParam`]) whose values are read at a time with the
//! host's animation. The parameter suite's value functions are C variadic; the
//! argument types passed here follow `ofxParam.h` exactly (doubles as `double`,
//! ints, booleans and choices as `int`, strings as `const char*`).

use std::ffi::{c_char, c_int, CStr, CString};

use super::props::PropertySet;
use super::suites::Suites;
use crate::error::{Error, Result};
use crate::sys::*;

/// What kind of parameter to define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// One double.
    Double,
    /// Two doubles (a point).
    Double2D,
    /// One int.
    Int,
    /// A checkbox.
    Bool,
    /// A menu of options (an int index).
    Choice,
    /// Text.
    String,
    /// A button (instance changed when pressed).
    PushButton,
    /// A collapsible group of parameters.
    Group,
    /// A page of parameters.
    Page,
}

impl ParamKind {
    fn ofx_type(self) -> &'static CStr {
        match self {
            ParamKind::Double => kOfxParamTypeDouble,
            ParamKind::Double2D => kOfxParamTypeDouble2D,
            ParamKind::Int => kOfxParamTypeInteger,
            ParamKind::Bool => kOfxParamTypeBoolean,
            ParamKind::Choice => kOfxParamTypeChoice,
            ParamKind::String => kOfxParamTypeString,
            ParamKind::PushButton => kOfxParamTypePushButton,
            ParamKind::Group => kOfxParamTypeGroup,
            ParamKind::Page => kOfxParamTypePage,
        }
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Value(format!("name with a NUL byte: {s:?}")))
}

/// The parameter set of an effect descriptor, for defining parameters.
#[derive(Clone, Copy)]
pub struct ParamSetDescriptor {
    pub(crate) handle: OfxParamSetHandle,
    pub(crate) suites: &'static Suites,
}

impl ParamSetDescriptor {
    /// Define a parameter; returns its descriptor for further properties.
    pub fn define(&self, kind: ParamKind, name: &str) -> Result<ParamDescriptor> {
        let f = self.suites.param.paramDefine.ok_or_else(|| missing("paramDefine"))?;
        let n = cstring(name)?;
        let mut props: OfxPropertySetHandle = std::ptr::null_mut();
        // SAFETY: valid param set handle from the host, NUL-terminated strings,
        // `props` receives the new descriptor's property set.
        let st = unsafe { f(self.handle, kind.ofx_type().as_ptr(), n.as_ptr(), &mut props) };
        Error::check("paramDefine", st)
            .map_err(|e| Error::Failed(format!("could not define parameter {name}: {e}")))?;
        if props.is_null() {
            return Err(Error::BadHandle(format!("paramDefine({name}) gave no property set")));
        }
        let d = ParamDescriptor { props: PropertySet::new(props, self.suites), name: name.to_string() };
        // Script names are the stable identifiers saved scenes refer to.
        let _ = d.props.set_string(kOfxParamPropScriptName, 0, name);
        Ok(d)
    }
}

fn missing(f: &str) -> Error {
    Error::MissingHostFeature(format!("OfxParameterSuiteV1::{f}"))
}

/// One parameter descriptor; setters chain and fail with the parameter's name.
pub struct ParamDescriptor {
    props: PropertySet,
    name: String,
}

impl ParamDescriptor {
    fn ctx<T>(&self, r: Result<T>, what: &str) -> Result<&Self> {
        match r {
            Ok(_) => Ok(self),
            Err(e) => Err(Error::Failed(format!("parameter {}: setting {what}: {e}", self.name))),
        }
    }
    /// The stable name it was defined with.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its property set (for properties not wrapped here).
    pub fn properties(&self) -> PropertySet {
        self.props
    }
    /// User-visible label.
    pub fn label(&self, label: &str) -> Result<&Self> {
        self.ctx(self.props.set_string(kOfxPropLabel, 0, label), "label")
    }
    /// Tooltip.
    pub fn hint(&self, hint: &str) -> Result<&Self> {
        self.ctx(self.props.set_string(kOfxParamPropHint, 0, hint), "hint")
    }
    /// Parent group.
    pub fn parent(&self, group: &str) -> Result<&Self> {
        self.ctx(self.props.set_string(kOfxParamPropParent, 0, group), "parent")
    }
    /// Default of a double param (one or two values).
    pub fn default_doubles(&self, v: &[f64]) -> Result<&Self> {
        self.ctx(self.props.set_doubles(kOfxParamPropDefault, v), "default")
    }
    /// Default of an int, bool or choice param.
    pub fn default_int(&self, v: i32) -> Result<&Self> {
        self.ctx(self.props.set_int(kOfxParamPropDefault, 0, v), "default")
    }
    /// Default of a string param.
    pub fn default_string(&self, v: &str) -> Result<&Self> {
        self.ctx(self.props.set_string(kOfxParamPropDefault, 0, v), "default")
    }
    /// Hard range of a double param (per dimension).
    pub fn range_doubles(&self, min: &[f64], max: &[f64]) -> Result<&Self> {
        self.ctx(self.props.set_doubles(kOfxParamPropMin, min), "min")?;
        self.ctx(self.props.set_doubles(kOfxParamPropMax, max), "max")
    }
    /// Slider range of a double param (per dimension).
    pub fn display_range_doubles(&self, min: &[f64], max: &[f64]) -> Result<&Self> {
        self.ctx(self.props.set_doubles(kOfxParamPropDisplayMin, min), "display min")?;
        self.ctx(self.props.set_doubles(kOfxParamPropDisplayMax, max), "display max")
    }
    /// Hard and slider range of an int param.
    pub fn range_int(&self, min: i32, max: i32) -> Result<&Self> {
        self.ctx(self.props.set_int(kOfxParamPropMin, 0, min), "min")?;
        self.ctx(self.props.set_int(kOfxParamPropMax, 0, max), "max")?;
        self.ctx(self.props.set_int(kOfxParamPropDisplayMin, 0, min), "display min")?;
        self.ctx(self.props.set_int(kOfxParamPropDisplayMax, 0, max), "display max")
    }
    /// Options of a choice param, in order (index = value).
    pub fn options(&self, labels: &[&str]) -> Result<&Self> {
        self.ctx(self.props.set_strings(kOfxParamPropChoiceOption, labels), "options")
    }
    /// Mark a 2D double param as an absolute position in canonical coordinates
    /// (so hosts scale it with proxies and draw it as a point).
    pub fn xy_absolute_canonical(&self) -> Result<&Self> {
        self.ctx(self.props.set_string(kOfxParamPropDoubleType, 0, kOfxParamDoubleTypeXYAbsolute.to_str().unwrap_or_default()), "double type")?;
        // Optional property: Resolve ignores it, older hosts may not know it.
        let _ = self.props.set_string(
            kOfxParamPropDefaultCoordinateSystem,
            0,
            kOfxParamCoordinatesCanonical.to_str().unwrap_or_default(),
        );
        Ok(self)
    }
    /// Whether the param can be keyframed.
    pub fn animates(&self, yes: bool) -> Result<&Self> {
        self.ctx(self.props.set_int(kOfxParamPropAnimates, 0, yes as i32), "animates")
    }
    /// Whether a change re-renders.
    pub fn evaluate_on_change(&self, yes: bool) -> Result<&Self> {
        self.ctx(self.props.set_int(kOfxParamPropEvaluateOnChange, 0, yes as i32), "evaluate on change")
    }
    /// Hidden from the UI.
    pub fn secret(&self, yes: bool) -> Result<&Self> {
        self.ctx(self.props.set_int(kOfxParamPropSecret, 0, yes as i32), "secret")
    }
    /// Greyed out (read-only for the user).
    pub fn enabled(&self, yes: bool) -> Result<&Self> {
        self.ctx(self.props.set_int(kOfxParamPropEnabled, 0, yes as i32), "enabled")
    }
    /// Saved with the project.
    pub fn persistent(&self, yes: bool) -> Result<&Self> {
        self.ctx(self.props.set_int(kOfxParamPropPersistant, 0, yes as i32), "persistent")
    }
    /// String widget kind: a file path, or a single line.
    pub fn file_path(&self, yes: bool) -> Result<&Self> {
        let mode = if yes { kOfxParamStringIsFilePath } else { kOfxParamStringIsSingleLine };
        self.ctx(self.props.set_string(kOfxParamPropStringMode, 0, mode.to_str().unwrap_or_default()), "string mode")
    }
    /// Label-only string (read-only text line).
    pub fn label_string(&self) -> Result<&Self> {
        self.ctx(
            self.props.set_string(kOfxParamPropStringMode, 0, kOfxParamStringIsLabel.to_str().unwrap_or_default()),
            "string mode",
        )
    }
    /// Children of a page param.
    pub fn page_children(&self, names: &[&str]) -> Result<&Self> {
        self.ctx(self.props.set_strings(kOfxParamPropPageChild, names), "page children")
    }
}

/// The parameter set of an effect instance.
#[derive(Clone, Copy)]
pub struct ParamSet {
    pub(crate) handle: OfxParamSetHandle,
    pub(crate) suites: &'static Suites,
}

// SAFETY: a host handle; OFX param functions may be called from render threads.
unsafe impl Send for ParamSet {}
// SAFETY: as above.
unsafe impl Sync for ParamSet {}

/// A parameter handle of an instance (untyped).
#[derive(Clone, Copy)]
pub struct Param {
    handle: OfxParamHandle,
    suites: &'static Suites,
}

// SAFETY: a host handle; see ParamSet.
unsafe impl Send for Param {}
// SAFETY: as above.
unsafe impl Sync for Param {}

impl ParamSet {
    /// Look a parameter up by name.
    pub fn param(&self, name: &str) -> Result<Param> {
        let f = self.suites.param.paramGetHandle.ok_or_else(|| missing("paramGetHandle"))?;
        let n = cstring(name)?;
        let mut h: OfxParamHandle = std::ptr::null_mut();
        // SAFETY: valid param set handle; `h` receives the handle; we pass null for
        // the optional property set out-argument as ofxParam.h allows.
        let st = unsafe { f(self.handle, n.as_ptr(), &mut h, std::ptr::null_mut()) };
        Error::check("paramGetHandle", st).map_err(|_| Error::Failed(format!("the host has no parameter named {name}")))?;
        if h.is_null() {
            return Err(Error::BadHandle(format!("parameter {name}")));
        }
        Ok(Param { handle: h, suites: self.suites })
    }

    /// A double parameter.
    pub fn double(&self, name: &str) -> Result<DoubleParam> {
        self.param(name).map(DoubleParam)
    }
    /// A 2D double parameter.
    pub fn double2d(&self, name: &str) -> Result<Double2DParam> {
        self.param(name).map(Double2DParam)
    }
    /// An int parameter.
    pub fn int(&self, name: &str) -> Result<IntParam> {
        self.param(name).map(IntParam)
    }
    /// A boolean parameter.
    pub fn boolean(&self, name: &str) -> Result<BoolParam> {
        self.param(name).map(BoolParam)
    }
    /// A choice parameter.
    pub fn choice(&self, name: &str) -> Result<ChoiceParam> {
        self.param(name).map(ChoiceParam)
    }
    /// A string parameter.
    pub fn string(&self, name: &str) -> Result<StringParam> {
        self.param(name).map(StringParam)
    }

    /// Open an undoable edit that spans several actions (a drag from pen
    /// down to pen up); close it with [`ParamSet::end_edit`].
    pub fn begin_edit(&self, label: &str) -> Result<()> {
        let l = cstring(label)?;
        if let Some(begin) = self.suites.param.paramEditBegin {
            // SAFETY: valid param set handle and label.
            Error::check("paramEditBegin", unsafe { begin(self.handle, l.as_ptr()) })?;
        }
        Ok(())
    }

    /// Close the edit opened by [`ParamSet::begin_edit`].
    pub fn end_edit(&self) -> Result<()> {
        if let Some(end) = self.suites.param.paramEditEnd {
            // SAFETY: valid param set handle.
            Error::check("paramEditEnd", unsafe { end(self.handle) })?;
        }
        Ok(())
    }

    /// Group several parameter changes into one undoable edit.
    pub fn edit_block<T>(&self, label: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let l = cstring(label)?;
        if let Some(begin) = self.suites.param.paramEditBegin {
            // SAFETY: valid param set handle and label.
            Error::check("paramEditBegin", unsafe { begin(self.handle, l.as_ptr()) })?;
        }
        let r = f();
        if let Some(end) = self.suites.param.paramEditEnd {
            // SAFETY: valid param set handle; always closed, also after an error.
            let _ = unsafe { end(self.handle) };
        }
        r
    }
}

macro_rules! pfn {
    ($p:expr, $f:ident) => {
        $p.suites.param.$f.ok_or_else(|| missing(stringify!($f)))?
    };
}

/// `paramGetValueAtTime(handle, time, outs...)`, or `paramGetValue(handle,
/// outs...)` (the value at the current frame) from a host that lacks it —
/// small hosts do; the entry point warns the user once per instance.
macro_rules! get_at {
    ($p:expr, $time:expr, $($out:expr),+) => {
        match $p.suites.param.paramGetValueAtTime {
            // SAFETY: the caller passes the out-pointers ofxParam.h lists for
            // this parameter type; the handle is the host's.
            Some(f) => Error::check("paramGetValueAtTime", unsafe { f($p.handle, $time, $($out),+) }),
            None => {
                let f = pfn!($p, paramGetValue);
                // SAFETY: as above, without the time.
                Error::check("paramGetValue", unsafe { f($p.handle, $($out),+) })
            }
        }
    };
}

impl Param {
    /// Whether a key sits at `time` (within a thousandth of a frame).
    pub fn has_key_at(&self, time: f64) -> Result<bool> {
        Ok(self.key_times()?.iter().any(|t| (t - time).abs() < 1e-3))
    }

    /// Property set of the parameter instance.
    pub fn properties(&self) -> Result<PropertySet> {
        let f = pfn!(self, paramGetPropertySet);
        let mut p: OfxPropertySetHandle = std::ptr::null_mut();
        // SAFETY: valid param handle; `p` receives its property set.
        Error::check("paramGetPropertySet", unsafe { f(self.handle, &mut p) })?;
        Ok(PropertySet::new(p, self.suites))
    }
    /// Number of keys.
    pub fn num_keys(&self) -> Result<u32> {
        let f = pfn!(self, paramGetNumKeys);
        let mut n: u32 = 0;
        // SAFETY: valid param handle, `n` receives the count.
        Error::check("paramGetNumKeys", unsafe { f(self.handle, &mut n) })?;
        Ok(n)
    }
    /// Time of key `i`.
    pub fn key_time(&self, i: u32) -> Result<f64> {
        let f = pfn!(self, paramGetKeyTime);
        let mut t = 0.0;
        // SAFETY: valid param handle, `t` receives the time.
        Error::check("paramGetKeyTime", unsafe { f(self.handle, i, &mut t) })?;
        Ok(t)
    }
    /// Times of all keys.
    pub fn key_times(&self) -> Result<Vec<f64>> {
        (0..self.num_keys()?).map(|i| self.key_time(i)).collect()
    }
    /// Remove every key.
    pub fn delete_all_keys(&self) -> Result<()> {
        let f = pfn!(self, paramDeleteAllKeys);
        // SAFETY: valid param handle.
        Error::check("paramDeleteAllKeys", unsafe { f(self.handle) })
    }
    /// Enable or disable in the UI.
    pub fn set_enabled(&self, yes: bool) -> Result<()> {
        self.properties()?.set_int(kOfxParamPropEnabled, 0, yes as i32)
    }
}

/// A double parameter.
#[derive(Clone, Copy)]
pub struct DoubleParam(pub Param);
/// A 2D double parameter.
#[derive(Clone, Copy)]
pub struct Double2DParam(pub Param);
/// An int parameter.
#[derive(Clone, Copy)]
pub struct IntParam(pub Param);
/// A boolean parameter.
#[derive(Clone, Copy)]
pub struct BoolParam(pub Param);
/// A choice parameter (value = option index).
#[derive(Clone, Copy)]
pub struct ChoiceParam(pub Param);
/// A string parameter.
#[derive(Clone, Copy)]
pub struct StringParam(pub Param);

impl DoubleParam {
    /// Value at a time.
    pub fn value_at(&self, time: f64) -> Result<f64> {
        let mut v: f64 = 0.0;
        // ofxParam.h: a double param takes one `double*` after the time.
        get_at!(self.0, time, &mut v as *mut f64)?;
        Ok(v)
    }
    /// Set the value (a key at `time` when animated).
    pub fn set_at(&self, time: f64, v: f64) -> Result<()> {
        let f = pfn!(self.0, paramSetValueAtTime);
        // SAFETY: ofxParam.h: a double param takes one `double` after the time.
        Error::check("paramSetValueAtTime", unsafe { f(self.0.handle, time, v) })
    }
    /// Set the static value.
    pub fn set(&self, v: f64) -> Result<()> {
        let f = pfn!(self.0, paramSetValue);
        // SAFETY: ofxParam.h: a double param takes one `double`.
        Error::check("paramSetValue", unsafe { f(self.0.handle, v) })
    }
}

impl Double2DParam {
    /// Value at a time.
    pub fn value_at(&self, time: f64) -> Result<(f64, f64)> {
        let (mut x, mut y) = (0.0f64, 0.0f64);
        // ofxParam.h: a 2D double param takes two `double*` after the time.
        get_at!(self.0, time, &mut x as *mut f64, &mut y as *mut f64)?;
        Ok((x, y))
    }
    /// Set a key at `time`.
    pub fn set_at(&self, time: f64, x: f64, y: f64) -> Result<()> {
        let f = pfn!(self.0, paramSetValueAtTime);
        // SAFETY: ofxParam.h: a 2D double param takes two `double`s after the time.
        Error::check("paramSetValueAtTime", unsafe { f(self.0.handle, time, x, y) })
    }
    /// Set the static value.
    pub fn set(&self, x: f64, y: f64) -> Result<()> {
        let f = pfn!(self.0, paramSetValue);
        // SAFETY: ofxParam.h: a 2D double param takes two `double`s.
        Error::check("paramSetValue", unsafe { f(self.0.handle, x, y) })
    }
}

fn get_int_at(p: &Param, time: f64) -> Result<i32> {
    let mut v: c_int = 0;
    // ofxParam.h: int, boolean and choice params take one `int*`.
    get_at!(p, time, &mut v as *mut c_int)?;
    Ok(v)
}

fn set_int(p: &Param, v: i32) -> Result<()> {
    let f = pfn!(p, paramSetValue);
    // SAFETY: ofxParam.h: int, boolean and choice params take one `int`.
    Error::check("paramSetValue", unsafe { f(p.handle, v as c_int) })
}

impl IntParam {
    /// Value at a time.
    pub fn value_at(&self, time: f64) -> Result<i32> {
        get_int_at(&self.0, time)
    }
    /// Set the static value.
    pub fn set(&self, v: i32) -> Result<()> {
        set_int(&self.0, v)
    }
}

impl BoolParam {
    /// Value at a time.
    pub fn value_at(&self, time: f64) -> Result<bool> {
        get_int_at(&self.0, time).map(|v| v != 0)
    }
    /// Set the static value.
    pub fn set(&self, v: bool) -> Result<()> {
        set_int(&self.0, v as i32)
    }
}

impl ChoiceParam {
    /// Option index at a time.
    pub fn value_at(&self, time: f64) -> Result<i32> {
        get_int_at(&self.0, time)
    }
    /// Set the option index.
    pub fn set(&self, v: i32) -> Result<()> {
        set_int(&self.0, v)
    }
}

impl StringParam {
    /// Value at a time (copied).
    pub fn value_at(&self, time: f64) -> Result<String> {
        let mut p: *const c_char = std::ptr::null();
        // ofxParam.h: a string param takes one `char**`; the host keeps the
        // string alive until the next call, and we copy it at once.
        get_at!(self.0, time, &mut p as *mut *const c_char)?;
        if p.is_null() {
            return Ok(String::new());
        }
        // SAFETY: non-null NUL-terminated host string, see above.
        Ok(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
    /// Set the value.
    pub fn set(&self, v: &str) -> Result<()> {
        let f = pfn!(self.0, paramSetValue);
        let c = cstring(v)?;
        // SAFETY: ofxParam.h: a string param takes one `const char*`.
        Error::check("paramSetValue", unsafe { f(self.0.handle, c.as_ptr()) })
    }
}
