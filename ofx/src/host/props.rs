//! Generic OFX property sets as the headless host keeps them: a name → typed
//! vector map (int / double / string / pointer) behind a lock, addressed by the
//! plugin through an opaque `OfxPropertySetHandle` that is simply the address of
//! the [`PropertySet`]. The property suite (see `suites::property`) is a thin C
//! layer over the methods here; the host itself uses the typed helpers directly.

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::os::raw::c_int;

use openfx::sys::generic::core::*;

/// Tag stored at the start of every property set so that a handle of another
/// kind (a param set, a clip...) passed by mistake is refused instead of being
/// misread.
const PROPSET_MAGIC: u64 = 0x4c50_5052_4f50_5345; // "LPPROPSE"

/// Largest index a plugin may set in a variable-length property; guards against
/// a garbage index making the host allocate gigabytes.
const MAX_PROP_INDEX: usize = 4096;

/// The typed value vector of one property.
#[derive(Clone, Debug, PartialEq)]
pub enum PropValue {
    /// Integers.
    Int(Vec<i32>),
    /// Doubles.
    Double(Vec<f64>),
    /// Strings.
    String(Vec<String>),
    /// Pointers are kept as addresses so the set stays `Send + Sync`.
    Pointer(Vec<usize>),
}

impl PropValue {
    /// Number of elements (the OFX "dimension").
    pub fn len(&self) -> usize {
        match self {
            PropValue::Int(v) => v.len(),
            PropValue::Double(v) => v.len(),
            PropValue::String(v) => v.len(),
            PropValue::Pointer(v) => v.len(),
        }
    }

    /// True when the property holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn kind(&self) -> PropKind {
        match self {
            PropValue::Int(_) => PropKind::Int,
            PropValue::Double(_) => PropKind::Double,
            PropValue::String(_) => PropKind::String,
            PropValue::Pointer(_) => PropKind::Pointer,
        }
    }
}

/// The element type of a property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropKind {
    /// Integer elements.
    Int,
    /// Double elements.
    Double,
    /// String elements.
    String,
    /// Pointer elements.
    Pointer,
}

/// Stored form of a property: strings are kept as `CString`s so that a
/// `propGetString` can hand out a pointer that stays valid until the property is
/// next written.
#[derive(Clone, Debug)]
enum Stored {
    Int(Vec<i32>),
    Double(Vec<f64>),
    String(Vec<CString>),
    Pointer(Vec<usize>),
}

impl Stored {
    fn from_value(v: &PropValue) -> Stored {
        match v {
            PropValue::Int(x) => Stored::Int(x.clone()),
            PropValue::Double(x) => Stored::Double(x.clone()),
            PropValue::String(x) => Stored::String(x.iter().map(|s| to_cstring(s)).collect()),
            PropValue::Pointer(x) => Stored::Pointer(x.clone()),
        }
    }

    fn to_value(&self) -> PropValue {
        match self {
            Stored::Int(x) => PropValue::Int(x.clone()),
            Stored::Double(x) => PropValue::Double(x.clone()),
            Stored::String(x) => {
                PropValue::String(x.iter().map(|s| s.to_string_lossy().into_owned()).collect())
            }
            Stored::Pointer(x) => PropValue::Pointer(x.clone()),
        }
    }

    fn kind(&self) -> PropKind {
        match self {
            Stored::Int(_) => PropKind::Int,
            Stored::Double(_) => PropKind::Double,
            Stored::String(_) => PropKind::String,
            Stored::Pointer(_) => PropKind::Pointer,
        }
    }

    fn len(&self) -> usize {
        match self {
            Stored::Int(v) => v.len(),
            Stored::Double(v) => v.len(),
            Stored::String(v) => v.len(),
            Stored::Pointer(v) => v.len(),
        }
    }

    fn empty(kind: PropKind) -> Stored {
        match kind {
            PropKind::Int => Stored::Int(Vec::new()),
            PropKind::Double => Stored::Double(Vec::new()),
            PropKind::String => Stored::String(Vec::new()),
            PropKind::Pointer => Stored::Pointer(Vec::new()),
        }
    }
}

/// Converts a Rust string to a C string, dropping interior NULs rather than failing.
pub fn to_cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

#[derive(Clone, Debug)]
struct Entry {
    value: Stored,
    /// What `propReset` restores.
    default: Stored,
}

/// Errors of property access, mapped one to one onto OFX statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropError {
    /// No such property (`kOfxStatErrUnknown`).
    Unknown,
    /// Index out of range (`kOfxStatErrBadIndex`).
    BadIndex,
    /// Wrong element type, or a write to a read-only set (`kOfxStatErrValue`).
    Value,
}

impl PropError {
    /// The OFX status for this error.
    pub fn status(self) -> OfxStatus {
        match self {
            PropError::Unknown => kOfxStatErrUnknown,
            PropError::BadIndex => kOfxStatErrBadIndex,
            PropError::Value => kOfxStatErrValue,
        }
    }
}

/// A thread-safe OFX property set.
///
/// `#[repr(C)]` keeps `magic` at offset 0 so a handle can be validated before
/// anything else is read from it.
#[repr(C)]
pub struct PropertySet {
    magic: u64,
    /// Free-form label used in error messages and debugging ("host", "clip Source"...).
    label: String,
    /// When true the plugin may create properties by setting them (descriptors,
    /// outArgs); when false an unknown name is `kOfxStatErrUnknown`.
    extensible: bool,
    /// When true the plugin may not write at all (the host descriptor, images).
    read_only: bool,
    map: RwLock<BTreeMap<String, Entry>>,
}

impl std::fmt::Debug for PropertySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PropertySet({})", self.label)
    }
}

impl Drop for PropertySet {
    fn drop(&mut self) {
        // Clearing the tag makes a later use of a dangling handle more likely to
        // be refused than silently accepted.
        self.magic = 0;
    }
}

impl PropertySet {
    /// A new empty set. `extensible`: plugin writes may create properties.
    pub fn new(label: &str, extensible: bool) -> PropertySet {
        PropertySet {
            magic: PROPSET_MAGIC,
            label: label.to_string(),
            extensible,
            read_only: false,
            map: RwLock::new(BTreeMap::new()),
        }
    }

    /// A set the plugin may read but never write.
    pub fn new_read_only(label: &str) -> PropertySet {
        let mut p = PropertySet::new(label, false);
        p.read_only = true;
        p
    }

    /// The label given at creation.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The handle handed to the plugin.
    pub fn handle(&self) -> OfxPropertySetHandle {
        self as *const PropertySet as OfxPropertySetHandle
    }

    /// Turns a plugin-supplied handle back into a reference, refusing NULL and
    /// handles whose tag is not that of a property set.
    ///
    /// # Safety
    /// `h` must be NULL or point to readable memory of at least 8 bytes; a
    /// handle previously returned by [`PropertySet::handle`] for a set that is
    /// still alive is the intended input.
    pub unsafe fn from_handle<'a>(h: OfxPropertySetHandle) -> Option<&'a PropertySet> {
        if h.is_null() {
            return None;
        }
        let p = h as *const PropertySet;
        // SAFETY: the caller guarantees `h` points to readable memory; we only
        // read the leading tag before trusting the rest.
        let magic = unsafe { std::ptr::read(p as *const u64) };
        if magic != PROPSET_MAGIC {
            return None;
        }
        // SAFETY: the tag matches, so this is one of our live property sets.
        Some(unsafe { &*p })
    }

    /// Host side: defines (or redefines) a property with its value and default.
    pub fn define(&self, name: &CStr, value: PropValue) {
        self.define_str(&name.to_string_lossy(), value);
    }

    /// Same as [`define`](Self::define) with a Rust string name.
    pub fn define_str(&self, name: &str, value: PropValue) {
        let stored = Stored::from_value(&value);
        self.map.write().insert(
            name.to_string(),
            Entry {
                default: stored.clone(),
                value: stored,
            },
        );
    }

    /// Host side: overwrites a property value (creating it if missing), keeping
    /// any existing default.
    pub fn set(&self, name: &CStr, value: PropValue) {
        let key = name.to_string_lossy().into_owned();
        let stored = Stored::from_value(&value);
        let mut map = self.map.write();
        match map.get_mut(&key) {
            Some(e) => e.value = stored,
            None => {
                map.insert(
                    key,
                    Entry {
                        default: stored.clone(),
                        value: stored,
                    },
                );
            }
        }
    }

    /// Host side: a copy of a property's value.
    pub fn get(&self, name: &CStr) -> Option<PropValue> {
        self.get_str(&name.to_string_lossy())
    }

    /// Same as [`get`](Self::get) with a Rust string name.
    pub fn get_str(&self, name: &str) -> Option<PropValue> {
        self.map.read().get(name).map(|e| e.value.to_value())
    }

    /// Host side: true when the property exists.
    pub fn contains(&self, name: &CStr) -> bool {
        self.map.read().contains_key(name.to_string_lossy().as_ref())
    }

    /// Host side: first int element, if the property is an int property.
    pub fn int(&self, name: &CStr, index: usize) -> Option<i32> {
        match self.get(name)? {
            PropValue::Int(v) => v.get(index).copied(),
            _ => None,
        }
    }

    /// Host side: one double element.
    pub fn double(&self, name: &CStr, index: usize) -> Option<f64> {
        match self.get(name)? {
            PropValue::Double(v) => v.get(index).copied(),
            _ => None,
        }
    }

    /// Host side: all double elements.
    pub fn doubles(&self, name: &CStr) -> Option<Vec<f64>> {
        match self.get(name)? {
            PropValue::Double(v) => Some(v),
            _ => None,
        }
    }

    /// Host side: one string element.
    pub fn string(&self, name: &CStr, index: usize) -> Option<String> {
        match self.get(name)? {
            PropValue::String(v) => v.get(index).cloned(),
            _ => None,
        }
    }

    /// Host side: all string elements.
    pub fn strings(&self, name: &CStr) -> Option<Vec<String>> {
        match self.get(name)? {
            PropValue::String(v) => Some(v),
            _ => None,
        }
    }

    /// Host side: one pointer element.
    pub fn pointer(&self, name: &CStr, index: usize) -> Option<usize> {
        match self.get(name)? {
            PropValue::Pointer(v) => v.get(index).copied(),
            _ => None,
        }
    }

    /// A snapshot of every property, for tests and for copying descriptors.
    pub fn snapshot(&self) -> BTreeMap<String, PropValue> {
        self.map
            .read()
            .iter()
            .map(|(k, e)| (k.clone(), e.value.to_value()))
            .collect()
    }

    /// A deep copy with a new label; values become the defaults of the copy.
    pub fn deep_copy(&self, label: &str, extensible: bool) -> PropertySet {
        let copy = PropertySet::new(label, extensible);
        {
            let src = self.map.read();
            let mut dst = copy.map.write();
            for (k, e) in src.iter() {
                dst.insert(
                    k.clone(),
                    Entry {
                        value: e.value.clone(),
                        default: e.value.clone(),
                    },
                );
            }
        }
        copy
    }

    // ----- plugin-facing primitives (used by the property suite) -----

    /// Sets element `index` of `name` from the plugin side.
    fn plugin_set(&self, name: &str, index: c_int, kind: PropKind, put: impl FnOnce(&mut Stored, usize)) -> Result<(), PropError> {
        if self.read_only {
            return Err(PropError::Value);
        }
        if index < 0 || index as usize > MAX_PROP_INDEX {
            return Err(PropError::BadIndex);
        }
        let index = index as usize;
        let mut map = self.map.write();
        if !map.contains_key(name) {
            if !self.extensible {
                return Err(PropError::Unknown);
            }
            map.insert(
                name.to_string(),
                Entry {
                    value: Stored::empty(kind),
                    default: Stored::empty(kind),
                },
            );
        }
        let entry = map.get_mut(name).ok_or(PropError::Unknown)?;
        if entry.value.kind() != kind {
            return Err(PropError::Value);
        }
        put(&mut entry.value, index);
        Ok(())
    }

    /// Plugin `propSetInt`.
    pub fn set_int_at(&self, name: &str, index: c_int, v: i32) -> Result<(), PropError> {
        self.plugin_set(name, index, PropKind::Int, |s, i| {
            if let Stored::Int(vec) = s {
                put_at(vec, i, v, 0)
            }
        })
    }

    /// Plugin `propSetDouble`.
    pub fn set_double_at(&self, name: &str, index: c_int, v: f64) -> Result<(), PropError> {
        self.plugin_set(name, index, PropKind::Double, |s, i| {
            if let Stored::Double(vec) = s {
                put_at(vec, i, v, 0.0)
            }
        })
    }

    /// Plugin `propSetString`.
    pub fn set_string_at(&self, name: &str, index: c_int, v: CString) -> Result<(), PropError> {
        self.plugin_set(name, index, PropKind::String, |s, i| {
            if let Stored::String(vec) = s {
                put_at(vec, i, v, CString::default())
            }
        })
    }

    /// Plugin `propSetPointer`.
    pub fn set_pointer_at(&self, name: &str, index: c_int, v: usize) -> Result<(), PropError> {
        self.plugin_set(name, index, PropKind::Pointer, |s, i| {
            if let Stored::Pointer(vec) = s {
                put_at(vec, i, v, 0)
            }
        })
    }

    /// Plugin `prop*N` setters: replaces the first `values.len()` elements
    /// (the N setters set elements 0..count, growing the property if needed).
    pub fn set_n(&self, name: &str, values: PropValue) -> Result<(), PropError> {
        let kind = values.kind();
        let n = values.len();
        if n == 0 {
            return Ok(());
        }
        self.plugin_set(name, (n - 1) as c_int, kind, |s, _| match (s, values) {
            (Stored::Int(d), PropValue::Int(v)) => overwrite_prefix(d, v, 0),
            (Stored::Double(d), PropValue::Double(v)) => overwrite_prefix(d, v, 0.0),
            (Stored::Pointer(d), PropValue::Pointer(v)) => overwrite_prefix(d, v, 0),
            (Stored::String(d), PropValue::String(v)) => {
                overwrite_prefix(d, v.iter().map(|s| to_cstring(s)).collect(), CString::default())
            }
            _ => {}
        })
    }

    /// Reads through a closure while holding the read lock, checking kind and index.
    fn plugin_get<R>(&self, name: &str, kind: PropKind, f: impl FnOnce(&Stored) -> Result<R, PropError>) -> Result<R, PropError> {
        let map = self.map.read();
        let entry = map.get(name).ok_or(PropError::Unknown)?;
        if entry.value.kind() != kind {
            return Err(PropError::Value);
        }
        f(&entry.value)
    }

    /// Plugin `propGetInt`.
    pub fn get_int_at(&self, name: &str, index: c_int) -> Result<i32, PropError> {
        self.plugin_get(name, PropKind::Int, |s| match s {
            Stored::Int(v) => idx(v, index).copied(),
            _ => Err(PropError::Value),
        })
    }

    /// Plugin `propGetDouble`.
    pub fn get_double_at(&self, name: &str, index: c_int) -> Result<f64, PropError> {
        self.plugin_get(name, PropKind::Double, |s| match s {
            Stored::Double(v) => idx(v, index).copied(),
            _ => Err(PropError::Value),
        })
    }

    /// Plugin `propGetString`: the pointer stays valid until the property is
    /// next written or the set is dropped.
    pub fn get_string_ptr_at(&self, name: &str, index: c_int) -> Result<*const std::os::raw::c_char, PropError> {
        self.plugin_get(name, PropKind::String, |s| match s {
            // The CString's heap buffer does not move while it stays in the map.
            Stored::String(v) => idx(v, index).map(|c| c.as_ptr()),
            _ => Err(PropError::Value),
        })
    }

    /// Plugin `propGetPointer`.
    pub fn get_pointer_at(&self, name: &str, index: c_int) -> Result<usize, PropError> {
        self.plugin_get(name, PropKind::Pointer, |s| match s {
            Stored::Pointer(v) => idx(v, index).copied(),
            _ => Err(PropError::Value),
        })
    }

    /// Plugin `propGetDimension`.
    pub fn dimension(&self, name: &str) -> Result<usize, PropError> {
        self.map.read().get(name).map(|e| e.value.len()).ok_or(PropError::Unknown)
    }

    /// Plugin `propReset`: restores the default value.
    pub fn reset(&self, name: &str) -> Result<(), PropError> {
        if self.read_only {
            return Err(PropError::Value);
        }
        let mut map = self.map.write();
        let e = map.get_mut(name).ok_or(PropError::Unknown)?;
        e.value = e.default.clone();
        Ok(())
    }
}

fn idx<T>(v: &[T], index: c_int) -> Result<&T, PropError> {
    if index < 0 {
        return Err(PropError::BadIndex);
    }
    v.get(index as usize).ok_or(PropError::BadIndex)
}

fn put_at<T: Clone>(v: &mut Vec<T>, i: usize, x: T, fill: T) {
    if v.len() <= i {
        v.resize(i + 1, fill);
    }
    v[i] = x;
}

fn overwrite_prefix<T: Clone>(d: &mut Vec<T>, v: Vec<T>, fill: T) {
    if d.len() < v.len() {
        d.resize(v.len(), fill);
    }
    for (i, x) in v.into_iter().enumerate() {
        d[i] = x;
    }
}

/// Shorthand constructors used all over the host when filling property sets.
pub fn pint(v: i32) -> PropValue {
    PropValue::Int(vec![v])
}
/// A one-element double property.
pub fn pdbl(v: f64) -> PropValue {
    PropValue::Double(vec![v])
}
/// A one-element string property.
pub fn pstr(v: &CStr) -> PropValue {
    PropValue::String(vec![v.to_string_lossy().into_owned()])
}
/// A one-element string property from a Rust string.
pub fn pstring(v: &str) -> PropValue {
    PropValue::String(vec![v.to_string()])
}
/// A list of string constants.
pub fn pstrs(v: &[&CStr]) -> PropValue {
    PropValue::String(v.iter().map(|s| s.to_string_lossy().into_owned()).collect())
}
/// A one-element pointer property.
pub fn pptr(v: usize) -> PropValue {
    PropValue::Pointer(vec![v])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_access_and_errors() {
        let p = PropertySet::new("t", false);
        p.define_str("i", PropValue::Int(vec![1, 2]));
        assert_eq!(p.get_int_at("i", 1), Ok(2));
        assert_eq!(p.get_int_at("i", 2), Err(PropError::BadIndex));
        assert_eq!(p.get_int_at("i", -1), Err(PropError::BadIndex));
        assert_eq!(p.get_double_at("i", 0), Err(PropError::Value));
        assert_eq!(p.get_int_at("nope", 0), Err(PropError::Unknown));
        assert_eq!(p.set_int_at("nope", 0, 1), Err(PropError::Unknown));
        p.set_int_at("i", 3, 9).unwrap();
        assert_eq!(p.dimension("i"), Ok(4));
        p.reset("i").unwrap();
        assert_eq!(p.get_str("i"), Some(PropValue::Int(vec![1, 2])));
    }

    #[test]
    fn extensible_sets_create_on_write_and_strings_stay_valid() {
        let p = PropertySet::new("t", true);
        p.set_string_at("s", 0, CString::new("hello").unwrap()).unwrap();
        let ptr = p.get_string_ptr_at("s", 0).unwrap();
        // Reading another property does not move the string.
        p.set_double_at("d", 0, 1.0).unwrap();
        // SAFETY: the pointer comes from a CString still owned by the set.
        assert_eq!(unsafe { CStr::from_ptr(ptr) }.to_str().unwrap(), "hello");
        p.set_n("d", PropValue::Double(vec![1.0, 2.0, 3.0])).unwrap();
        assert_eq!(p.dimension("d"), Ok(3));
        let h = p.handle();
        // SAFETY: the handle comes from a live set.
        assert!(unsafe { PropertySet::from_handle(h) }.is_some());
    }

    #[test]
    fn read_only_sets_refuse_writes() {
        let p = PropertySet::new_read_only("host");
        p.define_str("i", pint(1));
        assert_eq!(p.set_int_at("i", 0, 2), Err(PropError::Value));
        assert_eq!(p.get_int_at("i", 0), Ok(1));
    }
}
