//! Parameters of the headless host: parameter sets (one per effect descriptor
//! and one per instance), the parameters in them with their property sets, and
//! their values — a static value plus an optional animation [`Curve`]. The
//! plugin reaches these through the parameter suite (`suites::param`), the host
//! user through [`ParamValue`] on the instance API. Descriptor sets only hold
//! definitions; an instance set is created from a descriptor set by
//! [`ParamSetObj::instantiate`], which copies every property and takes the
//! defaults as the starting values.

use parking_lot::{Mutex, RwLock};
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::param::*;

use super::animation::{Curve, Interpolation, Value};
use super::context;
use super::param_defaults::{default_param_props, default_value, normalised_default_to_canonical};
use super::props::*;

const PARAM_MAGIC: u64 = 0x4c50_5041_5241_4d31; // "LPPARAM1"
const PARAMSET_MAGIC: u64 = 0x4c50_5053_4554_3031; // "LPPSET01"

/// The parameter types the host knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    /// `kOfxParamTypeDouble`.
    Double,
    /// `kOfxParamTypeDouble2D`.
    Double2D,
    /// `kOfxParamTypeDouble3D`.
    Double3D,
    /// `kOfxParamTypeInteger`.
    Integer,
    /// `kOfxParamTypeInteger2D`.
    Integer2D,
    /// `kOfxParamTypeInteger3D`.
    Integer3D,
    /// `kOfxParamTypeBoolean`.
    Boolean,
    /// `kOfxParamTypeChoice`.
    Choice,
    /// `kOfxParamTypeStrChoice` (OFX 1.5).
    StrChoice,
    /// `kOfxParamTypeRGBA`.
    Rgba,
    /// `kOfxParamTypeRGB`.
    Rgb,
    /// `kOfxParamTypeString`.
    String,
    /// `kOfxParamTypeCustom` (string valued).
    Custom,
    /// `kOfxParamTypePushButton`.
    PushButton,
    /// `kOfxParamTypeGroup`.
    Group,
    /// `kOfxParamTypePage`.
    Page,
    /// `kOfxParamTypeBytes` (stored, no value).
    Bytes,
}

/// Which C type carries a parameter's value through the variadic suite calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// `dim` doubles.
    Double(usize),
    /// `dim` ints.
    Int(usize),
    /// One `const char*`.
    Str,
    /// No value (buttons, groups, pages).
    None,
}

impl ParamType {
    /// Parses an OFX `kOfxParamType*` string.
    pub fn from_ofx(s: &CStr) -> Option<ParamType> {
        use ParamType::*;
        let table: [(&CStr, ParamType); 17] = [
            (kOfxParamTypeDouble, Double),
            (kOfxParamTypeDouble2D, Double2D),
            (kOfxParamTypeDouble3D, Double3D),
            (kOfxParamTypeInteger, Integer),
            (kOfxParamTypeInteger2D, Integer2D),
            (kOfxParamTypeInteger3D, Integer3D),
            (kOfxParamTypeBoolean, Boolean),
            (kOfxParamTypeChoice, Choice),
            (kOfxParamTypeStrChoice, StrChoice),
            (kOfxParamTypeRGBA, Rgba),
            (kOfxParamTypeRGB, Rgb),
            (kOfxParamTypeString, String),
            (kOfxParamTypeCustom, Custom),
            (kOfxParamTypePushButton, PushButton),
            (kOfxParamTypeGroup, Group),
            (kOfxParamTypePage, Page),
            (kOfxParamTypeBytes, Bytes),
        ];
        table.iter().find(|(k, _)| *k == s).map(|(_, t)| *t)
    }

    /// The OFX type string.
    pub fn ofx_name(self) -> &'static CStr {
        use ParamType::*;
        match self {
            Double => kOfxParamTypeDouble,
            Double2D => kOfxParamTypeDouble2D,
            Double3D => kOfxParamTypeDouble3D,
            Integer => kOfxParamTypeInteger,
            Integer2D => kOfxParamTypeInteger2D,
            Integer3D => kOfxParamTypeInteger3D,
            Boolean => kOfxParamTypeBoolean,
            Choice => kOfxParamTypeChoice,
            StrChoice => kOfxParamTypeStrChoice,
            Rgba => kOfxParamTypeRGBA,
            Rgb => kOfxParamTypeRGB,
            String => kOfxParamTypeString,
            Custom => kOfxParamTypeCustom,
            PushButton => kOfxParamTypePushButton,
            Group => kOfxParamTypeGroup,
            Page => kOfxParamTypePage,
            Bytes => kOfxParamTypeBytes,
        }
    }

    /// How the value travels through `paramGetValue` & co.
    pub fn value_kind(self) -> ValueKind {
        use ParamType::*;
        match self {
            Double => ValueKind::Double(1),
            Double2D => ValueKind::Double(2),
            Double3D | Rgb => ValueKind::Double(3),
            Rgba => ValueKind::Double(4),
            Integer | Boolean | Choice => ValueKind::Int(1),
            Integer2D => ValueKind::Int(2),
            Integer3D => ValueKind::Int(3),
            String | Custom | StrChoice => ValueKind::Str,
            PushButton | Group | Page | Bytes => ValueKind::None,
        }
    }

    /// Types whose values only step between keys.
    pub(crate) fn steps(self) -> bool {
        matches!(self, ParamType::Boolean | ParamType::Choice | ParamType::StrChoice | ParamType::String | ParamType::Custom)
    }
}

/// A parameter value as the host user sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// A double.
    Double(f64),
    /// A 2D double (x, y).
    Double2D(f64, f64),
    /// A 3D double.
    Double3D(f64, f64, f64),
    /// An integer.
    Int(i32),
    /// A 2D integer.
    Int2D(i32, i32),
    /// A 3D integer.
    Int3D(i32, i32, i32),
    /// A boolean.
    Bool(bool),
    /// A choice by index.
    Choice(i32),
    /// A choice by option label or (OFX 1.5) option enum name; resolved by the host.
    ChoiceByOption(String),
    /// A string (string, custom, string choice).
    String(String),
    /// An RGBA colour.
    Rgba(f64, f64, f64, f64),
    /// An RGB colour.
    Rgb(f64, f64, f64),
    /// Buttons, groups and pages have no value.
    None,
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Double(a) => write!(f, "{a}"),
            ParamValue::Double2D(a, b) => write!(f, "{a},{b}"),
            ParamValue::Double3D(a, b, c) | ParamValue::Rgb(a, b, c) => write!(f, "{a},{b},{c}"),
            ParamValue::Rgba(a, b, c, d) => write!(f, "{a},{b},{c},{d}"),
            ParamValue::Int(a) | ParamValue::Choice(a) => write!(f, "{a}"),
            ParamValue::Int2D(a, b) => write!(f, "{a},{b}"),
            ParamValue::Int3D(a, b, c) => write!(f, "{a},{b},{c}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::ChoiceByOption(s) | ParamValue::String(s) => write!(f, "{s}"),
            ParamValue::None => write!(f, "-"),
        }
    }
}

/// Mutable value state of one parameter.
struct ParamState {
    static_value: Value,
    curve: Curve,
    interp: Interpolation,
    /// Every string ever handed to the plugin, so its pointer stays valid for
    /// the life of the parameter (deduplicated by content).
    strings: Vec<CString>,
}

/// One parameter (descriptor or instance). `#[repr(C)]` keeps the tag first.
#[repr(C)]
pub struct ParamObj {
    magic: u64,
    /// The parameter's name (`kOfxPropName`).
    pub name: String,
    /// Its type.
    pub ptype: ParamType,
    /// Its property set.
    pub props: PropertySet,
    /// True for descriptor parameters, which have no value.
    pub is_descriptor: bool,
    /// Shared timeline time of the owning set (f64 bits), used by `paramGetValue`
    /// when no action time is known on the calling thread.
    timeline: Arc<AtomicU64>,
    state: Mutex<ParamState>,
}

impl Drop for ParamObj {
    fn drop(&mut self) {
        self.magic = 0;
    }
}

/// Errors of value access, mapped onto OFX statuses by the suite.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamError {
    /// Wrong kind of value for this parameter, or an out-of-range choice.
    Value(String),
    /// The parameter has no value (descriptor, button, group, page).
    NoValue,
}

impl ParamObj {
    /// The handle handed to the plugin.
    pub fn handle(&self) -> OfxParamHandle {
        self as *const ParamObj as OfxParamHandle
    }

    /// Validates a plugin-supplied parameter handle.
    ///
    /// # Safety
    /// `h` must be NULL or point to at least 8 readable bytes (ideally a handle
    /// from [`ParamObj::handle`] of a live parameter).
    pub unsafe fn from_handle<'a>(h: OfxParamHandle) -> Option<&'a ParamObj> {
        if h.is_null() {
            return None;
        }
        // SAFETY: the caller guarantees 8 readable bytes; only the tag is read
        // before trusting the pointer.
        if unsafe { std::ptr::read(h as *const u64) } != PARAM_MAGIC {
            return None;
        }
        // SAFETY: the tag matches one of our live parameters.
        Some(unsafe { &*(h as *const ParamObj) })
    }

    fn new(name: &str, ptype: ParamType, props: PropertySet, is_descriptor: bool, timeline: Arc<AtomicU64>, value: Value) -> ParamObj {
        ParamObj {
            magic: PARAM_MAGIC,
            name: name.to_string(),
            ptype,
            props,
            is_descriptor,
            timeline,
            state: Mutex::new(ParamState {
                static_value: value,
                curve: Curve::new(),
                interp: if ptype.steps() { Interpolation::Constant } else { Interpolation::Smooth },
                strings: Vec::new(),
            }),
        }
    }

    /// The time `paramGetValue` / `paramSetValue` use: the time of the action
    /// running on this thread, else the timeline time.
    pub fn current_time(&self) -> f64 {
        context::current()
            .and_then(|c| c.time)
            .unwrap_or_else(|| f64::from_bits(self.timeline.load(Ordering::Relaxed)))
    }

    /// Raw value at `time` (static value when not animated).
    pub fn raw_value_at(&self, time: f64) -> Result<Value, ParamError> {
        if self.is_descriptor || self.ptype.value_kind() == ValueKind::None {
            return Err(ParamError::NoValue);
        }
        let st = self.state.lock();
        let v = st.curve.value_at(time, st.interp).unwrap_or_else(|| st.static_value.clone());
        Ok(self.normalise(v))
    }

    /// Rounds interpolated integers and fixes the dimension.
    fn normalise(&self, v: Value) -> Value {
        match (self.ptype.value_kind(), v) {
            (ValueKind::Int(d), Value::Num(mut n)) => {
                n.resize(d, 0.0);
                Value::Num(n.into_iter().map(|x| x.round()).collect())
            }
            (ValueKind::Double(d), Value::Num(mut n)) => {
                n.resize(d, 0.0);
                Value::Num(n)
            }
            (_, v) => v,
        }
    }

    /// Numeric value at `time` for the C shim (ints as exact doubles).
    pub fn numbers_at(&self, time: f64) -> Result<Vec<f64>, ParamError> {
        match self.raw_value_at(time)? {
            Value::Num(n) => Ok(n),
            Value::Str(_) => Err(ParamError::Value("not a numeric parameter".into())),
        }
    }

    /// String value at `time` as a pointer that stays valid while the param lives.
    pub fn string_ptr_at(&self, time: f64) -> Result<*const c_char, ParamError> {
        let s = match self.raw_value_at(time)? {
            Value::Str(s) => s,
            Value::Num(_) => return Err(ParamError::Value("not a string parameter".into())),
        };
        let c = to_cstring(&s);
        let mut st = self.state.lock();
        if let Some(existing) = st.strings.iter().find(|x| **x == c) {
            return Ok(existing.as_ptr());
        }
        // Moving the CString into the Vec does not move its heap buffer.
        let ptr = c.as_ptr();
        st.strings.push(c);
        Ok(ptr)
    }

    /// d/dt at `time` (double params only).
    pub fn derivative_at(&self, time: f64) -> Result<Vec<f64>, ParamError> {
        self.check_double()?;
        let st = self.state.lock();
        let dims = st.static_value.nums().len();
        Ok(st.curve.derivative(time, st.interp).unwrap_or_else(|| vec![0.0; dims]))
    }

    /// ∫ value dt over [t1, t2] (double params only).
    pub fn integral(&self, t1: f64, t2: f64) -> Result<Vec<f64>, ParamError> {
        self.check_double()?;
        let st = self.state.lock();
        Ok(st
            .curve
            .integral(t1, t2, st.interp)
            .unwrap_or_else(|| st.static_value.nums().iter().map(|v| v * (t2 - t1)).collect()))
    }

    fn check_double(&self) -> Result<(), ParamError> {
        match (self.is_descriptor, self.ptype.value_kind()) {
            (false, ValueKind::Double(_)) => Ok(()),
            _ => Err(ParamError::Value("only double parameters have derivatives and integrals".into())),
        }
    }

    /// Checks a value against the parameter type (dimension, choice range).
    fn validate(&self, v: &Value) -> Result<Value, ParamError> {
        if self.is_descriptor {
            return Err(ParamError::NoValue);
        }
        match (self.ptype.value_kind(), v) {
            (ValueKind::Double(d) | ValueKind::Int(d), Value::Num(n)) if n.len() == d => {
                if self.ptype == ParamType::Choice {
                    let count = self.props.strings(kOfxParamPropChoiceOption).map(|o| o.len()).unwrap_or(0);
                    let i = n[0];
                    if i < 0.0 || (i as usize) >= count.max(1) {
                        return Err(ParamError::Value(format!(
                            "choice index {i} is out of range for parameter '{}' ({count} options)",
                            self.name
                        )));
                    }
                }
                Ok(self.normalise(v.clone()))
            }
            (ValueKind::Str, Value::Str(_)) => Ok(v.clone()),
            (ValueKind::None, _) => Err(ParamError::NoValue),
            _ => Err(ParamError::Value(format!("wrong kind of value for parameter '{}'", self.name))),
        }
    }

    /// `paramSetValue`: sets the static value, or — when the parameter is
    /// animated — a key at the current time (what hosts with auto-keying do).
    pub fn set_value(&self, v: Value) -> Result<(), ParamError> {
        let v = self.validate(&v)?;
        let time = self.current_time();
        let animated = {
            let mut st = self.state.lock();
            if st.curve.is_animated() {
                st.curve.set_key(time, v);
                true
            } else {
                st.static_value = v;
                false
            }
        };
        self.update_animating_prop(animated);
        Ok(())
    }

    /// `paramSetValueAtTime`: adds (or replaces) a key.
    pub fn set_key(&self, time: f64, v: Value) -> Result<(), ParamError> {
        let v = self.validate(&v)?;
        self.state.lock().curve.set_key(time, v);
        self.update_animating_prop(true);
        Ok(())
    }

    /// Key times in order.
    pub fn key_times(&self) -> Vec<f64> {
        self.state.lock().curve.keys().iter().map(|k| k.time).collect()
    }

    /// `paramGetKeyIndex`.
    pub fn key_index(&self, time: f64, direction: i32) -> Option<usize> {
        self.state.lock().curve.key_index(time, direction)
    }

    /// `paramDeleteKey`; false when there is no key at `time`.
    pub fn delete_key(&self, time: f64) -> bool {
        let (found, animated) = {
            let mut st = self.state.lock();
            let found = st.curve.delete_key(time);
            (found, st.curve.is_animated())
        };
        self.update_animating_prop(animated);
        found
    }

    /// `paramDeleteAllKeys`: the value at the current time becomes the static value.
    pub fn delete_all_keys(&self) {
        let time = self.current_time();
        {
            let mut st = self.state.lock();
            if let Some(v) = st.curve.value_at(time, st.interp) {
                st.static_value = v;
            }
            st.curve.clear();
        }
        self.update_animating_prop(false);
    }

    /// Sets the interpolation used between keys (numeric params only; string,
    /// boolean and choice params always step).
    pub fn set_interpolation(&self, interp: Interpolation) {
        if !self.ptype.steps() {
            self.state.lock().interp = interp;
        }
    }

    /// `paramCopy`: copies static value and keys from `from` (same type), key
    /// times shifted by `offset`, only keys within `range` when given.
    pub fn copy_from(&self, from: &ParamObj, offset: f64, range: Option<(f64, f64)>) -> Result<(), ParamError> {
        if from.ptype != self.ptype || self.is_descriptor || from.is_descriptor {
            return Err(ParamError::Value("paramCopy between parameters of different types".into()));
        }
        if std::ptr::eq(self, from) {
            return Ok(());
        }
        let (static_value, keys) = {
            let st = from.state.lock();
            (st.static_value.clone(), st.curve.keys().to_vec())
        };
        let animated = {
            let mut st = self.state.lock();
            st.static_value = static_value;
            st.curve.clear();
            for k in keys {
                if range.is_none_or(|(a, b)| k.time >= a && k.time <= b) {
                    st.curve.set_key(k.time + offset, k.value);
                }
            }
            st.curve.is_animated()
        };
        self.update_animating_prop(animated);
        Ok(())
    }

    fn update_animating_prop(&self, animated: bool) {
        self.props.set(kOfxParamPropIsAnimating, pint(animated as i32));
    }

    /// The static value and the keys, for saving.
    pub fn dump(&self) -> (Value, Vec<(f64, Value)>) {
        let st = self.state.lock();
        (st.static_value.clone(), st.curve.keys().iter().map(|k| (k.time, k.value.clone())).collect())
    }

    /// Choice option labels (`kOfxParamPropChoiceOption`).
    pub fn choice_options(&self) -> Vec<String> {
        self.props.strings(kOfxParamPropChoiceOption).unwrap_or_default()
    }

    /// Converts a user value to the internal form for this parameter.
    pub fn from_user(&self, v: &ParamValue) -> Result<Value, ParamError> {
        use ParamType as T;
        let bad = || ParamError::Value(format!("value {v} does not fit parameter '{}' of type {:?}", self.name, self.ptype));
        let num = |x: &[f64]| Ok(Value::Num(x.to_vec()));
        match (self.ptype, v) {
            (T::Double, ParamValue::Double(a)) => num(&[*a]),
            (T::Double, ParamValue::Int(a)) => num(&[*a as f64]),
            (T::Double2D, ParamValue::Double2D(a, b)) => num(&[*a, *b]),
            (T::Double2D, ParamValue::Int2D(a, b)) => num(&[*a as f64, *b as f64]),
            (T::Double3D | T::Rgb, ParamValue::Double3D(a, b, c) | ParamValue::Rgb(a, b, c)) => num(&[*a, *b, *c]),
            (T::Rgba, ParamValue::Rgba(a, b, c, d)) => num(&[*a, *b, *c, *d]),
            (T::Integer, ParamValue::Int(a)) => num(&[*a as f64]),
            (T::Integer2D, ParamValue::Int2D(a, b)) => num(&[*a as f64, *b as f64]),
            (T::Integer3D, ParamValue::Int3D(a, b, c)) => num(&[*a as f64, *b as f64, *c as f64]),
            (T::Boolean, ParamValue::Bool(b)) => num(&[*b as i32 as f64]),
            (T::Boolean, ParamValue::Int(b)) if *b == 0 || *b == 1 => num(&[*b as f64]),
            (T::Choice, ParamValue::Choice(i) | ParamValue::Int(i)) => num(&[*i as f64]),
            (T::Choice, ParamValue::ChoiceByOption(s) | ParamValue::String(s)) => {
                let i = self.find_option(s).ok_or_else(|| {
                    ParamError::Value(format!(
                        "parameter '{}' has no option '{s}' (options: {})",
                        self.name,
                        self.choice_options().join(", ")
                    ))
                })?;
                num(&[i as f64])
            }
            (T::StrChoice, ParamValue::ChoiceByOption(s) | ParamValue::String(s)) => {
                let enums = self.props.strings(kOfxParamPropChoiceEnum).unwrap_or_default();
                match self.find_option(s) {
                    Some(i) => Ok(Value::Str(enums.get(i).cloned().unwrap_or_else(|| s.clone()))),
                    None => Err(bad()),
                }
            }
            (T::String | T::Custom, ParamValue::String(s)) => Ok(Value::Str(s.clone())),
            _ => Err(bad()),
        }
    }

    /// Index of an option by label or enum name: exact first, then ignoring
    /// case, then by script-friendly name (see [`option_key`]), so that
    /// `trackFile` selects the option labelled "Track file".
    fn find_option(&self, s: &str) -> Option<usize> {
        let labels = self.choice_options();
        let enums = self.props.strings(kOfxParamPropChoiceEnum).unwrap_or_default();
        let exact = labels.iter().position(|o| o == s).or_else(|| enums.iter().position(|o| o == s));
        let key = option_key(s);
        let by_key = |list: &[String]| {
            if key.is_empty() {
                None
            } else {
                list.iter().position(|o| option_key(o) == key)
            }
        };
        exact
            .or_else(|| labels.iter().position(|o| o.eq_ignore_ascii_case(s)))
            .or_else(|| enums.iter().position(|o| o.eq_ignore_ascii_case(s)))
            .or_else(|| by_key(&labels))
            .or_else(|| by_key(&enums))
    }

    /// Converts an internal value to the user form for this parameter.
    pub fn to_user(&self, v: &Value) -> ParamValue {
        use ParamType as T;
        let n = |i: usize| v.nums().get(i).copied().unwrap_or(0.0);
        let ni = |i: usize| n(i) as i32;
        match (self.ptype, v) {
            (_, Value::Str(s)) => ParamValue::String(s.clone()),
            (T::Double, _) => ParamValue::Double(n(0)),
            (T::Double2D, _) => ParamValue::Double2D(n(0), n(1)),
            (T::Double3D, _) => ParamValue::Double3D(n(0), n(1), n(2)),
            (T::Rgb, _) => ParamValue::Rgb(n(0), n(1), n(2)),
            (T::Rgba, _) => ParamValue::Rgba(n(0), n(1), n(2), n(3)),
            (T::Integer, _) => ParamValue::Int(ni(0)),
            (T::Integer2D, _) => ParamValue::Int2D(ni(0), ni(1)),
            (T::Integer3D, _) => ParamValue::Int3D(ni(0), ni(1), ni(2)),
            (T::Boolean, _) => ParamValue::Bool(ni(0) != 0),
            (T::Choice, _) => ParamValue::Choice(ni(0)),
            _ => ParamValue::None,
        }
    }
}

/// The script-friendly form of a choice option used for loose matching: the
/// text lower-cased with every non-alphanumeric character removed
/// ("Track file" and "trackFile" both give "trackfile"). Only whole keys are
/// compared, never prefixes.
pub fn option_key(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// A parameter set (of a descriptor or of an instance). Tag first.
#[repr(C)]
pub struct ParamSetObj {
    magic: u64,
    /// The set's own property set (`kOfxPluginPropParamPageOrder`...).
    pub props: PropertySet,
    /// True for descriptor sets: `paramDefine` allowed, no values.
    pub is_descriptor: bool,
    params: RwLock<Vec<Arc<ParamObj>>>,
    /// Timeline time (f64 bits) shared with every parameter of the set.
    pub timeline: Arc<AtomicU64>,
    edit_depth: Mutex<Vec<String>>,
    edit_blocks: AtomicUsize,
}

impl Drop for ParamSetObj {
    fn drop(&mut self) {
        self.magic = 0;
    }
}

impl ParamSetObj {
    /// An empty set.
    pub fn new(is_descriptor: bool) -> ParamSetObj {
        let props = PropertySet::new("param set", true);
        props.define(kOfxPluginPropParamPageOrder, PropValue::String(vec![]));
        props.define(kOfxPropParamSetNeedsSyncing, pint(0));
        ParamSetObj {
            magic: PARAMSET_MAGIC,
            props,
            is_descriptor,
            params: RwLock::new(Vec::new()),
            timeline: Arc::new(AtomicU64::new(0f64.to_bits())),
            edit_depth: Mutex::new(Vec::new()),
            edit_blocks: AtomicUsize::new(0),
        }
    }

    /// The handle handed to the plugin.
    pub fn handle(&self) -> OfxParamSetHandle {
        self as *const ParamSetObj as OfxParamSetHandle
    }

    /// Validates a plugin-supplied parameter-set handle.
    ///
    /// # Safety
    /// `h` must be NULL or point to at least 8 readable bytes.
    pub unsafe fn from_handle<'a>(h: OfxParamSetHandle) -> Option<&'a ParamSetObj> {
        if h.is_null() {
            return None;
        }
        // SAFETY: the caller guarantees 8 readable bytes; only the tag is read first.
        if unsafe { std::ptr::read(h as *const u64) } != PARAMSET_MAGIC {
            return None;
        }
        // SAFETY: the tag matches one of our live parameter sets.
        Some(unsafe { &*(h as *const ParamSetObj) })
    }

    /// `paramDefine`: a new descriptor parameter with the default properties of its type.
    pub fn define(&self, ptype: ParamType, name: &str) -> Result<Arc<ParamObj>, OfxStatus> {
        if !self.is_descriptor {
            return Err(kOfxStatErrBadHandle);
        }
        let mut params = self.params.write();
        if params.iter().any(|p| p.name == name) {
            return Err(kOfxStatErrExists);
        }
        let props = default_param_props(ptype, name);
        let p = Arc::new(ParamObj::new(name, ptype, props, true, self.timeline.clone(), Value::Num(vec![])));
        params.push(p.clone());
        Ok(p)
    }

    /// A parameter by name.
    pub fn get(&self, name: &str) -> Option<Arc<ParamObj>> {
        self.params.read().iter().find(|p| p.name == name).cloned()
    }

    /// Every parameter in definition order.
    pub fn all(&self) -> Vec<Arc<ParamObj>> {
        self.params.read().clone()
    }

    /// Sets the timeline time used when no action time is known.
    pub fn set_timeline_time(&self, t: f64) {
        self.timeline.store(t.to_bits(), Ordering::Relaxed);
    }

    /// `paramEditBegin`.
    pub fn edit_begin(&self, name: &str) {
        self.edit_depth.lock().push(name.to_string());
    }

    /// `paramEditEnd`: false without a matching begin.
    pub fn edit_end(&self) -> bool {
        if self.edit_depth.lock().pop().is_some() {
            self.edit_blocks.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }

    /// Number of completed `paramEditBegin`/`paramEditEnd` pairs.
    pub fn edit_blocks(&self) -> usize {
        self.edit_blocks.load(Ordering::Relaxed)
    }

    /// Builds an instance set from a descriptor set: every property is copied
    /// and the default becomes the value. When `project_size` is given, doubles
    /// whose `kOfxParamPropDefaultCoordinateSystem` is normalised get their
    /// default scaled to canonical coordinates (x by width, y by height).
    pub fn instantiate(&self, project_size: Option<(f64, f64)>) -> ParamSetObj {
        let inst = ParamSetObj::new(false);
        for (k, v) in self.props.snapshot() {
            inst.props.define_str(&k, v);
        }
        let mut out = Vec::new();
        for d in self.params.read().iter() {
            let props = d.props.deep_copy(&format!("param {}", d.name), true);
            if let Some(size) = project_size {
                normalised_default_to_canonical(&props, d.ptype, size);
            }
            let value = default_value(&props, d.ptype);
            out.push(Arc::new(ParamObj::new(&d.name, d.ptype, props, false, inst.timeline.clone(), value)));
        }
        *inst.params.write() = out;
        inst
    }
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
