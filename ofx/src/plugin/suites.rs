//! The host's suites, fetched once at `kOfxActionLoad` and checked.
//!
//! Mandatory suites (property, image effect, parameter) must be present with
//! every function we call, or load fails with `kOfxStatErrMissingHostFeature`.
//! Optional suites (message v1/v2, multithread, progress, memory, timeline,
//! interact, draw) are `None` when absent, and each of their function pointers
//! is checked at the call site, because real hosts ship partial suites
//! (Resolve's message suite v2 may lack `setPersistentMessage`).

use std::ffi::{c_void, CStr};

use parking_lot::RwLock;

use crate::error::{Error, Result};
use crate::sys::*;
use openfx::sys::image_effect_v1::draw_suite::{kOfxDrawSuite, OfxDrawSuiteV1};
use openfx::sys::image_effect_v1::interact::{kOfxInteractSuite, OfxInteractSuiteV1};

/// Every suite the plugin layer uses. One table per loaded host: made at
/// `kOfxActionLoad`, freed at the matching last `kOfxActionUnload`, so a host
/// that loads and unloads the plugin again and again does not grow.
#[derive(Debug)]
pub struct Suites {
    pub(crate) host_props: OfxPropertySetHandle,
    pub(crate) property: OfxPropertySuiteV1,
    pub(crate) effect: OfxImageEffectSuiteV1,
    pub(crate) param: OfxParameterSuiteV1,
    pub(crate) message_v1: Option<OfxMessageSuiteV1>,
    pub(crate) message_v2: Option<OfxMessageSuiteV2>,
    pub(crate) thread: Option<OfxMultiThreadSuiteV1>,
    pub(crate) progress_v1: Option<OfxProgressSuiteV1>,
    pub(crate) progress_v2: Option<OfxProgressSuiteV2>,
    /// Fetched so that `host_info` can report it; no effect allocates through it yet.
    #[allow(dead_code)]
    pub(crate) memory: Option<OfxMemorySuiteV1>,
    #[allow(dead_code)]
    pub(crate) timeline: Option<OfxTimeLineSuiteV1>,
    /// Interact suite (overlay redraws, interact properties).
    pub(crate) interact: Option<OfxInteractSuiteV1>,
    /// OFX 1.5 Draw Suite (overlays drawn without OpenGL).
    pub(crate) draw: Option<OfxDrawSuiteV1>,
}

// SAFETY: the suites are tables of C function pointers and one host property
// handle, all valid for the life of the plugin; OFX requires hosts to make suite
// functions callable from any thread (ofxThreadSafety).
unsafe impl Send for Suites {}
// SAFETY: as above; we never mutate the tables after fetching them.
unsafe impl Sync for Suites {}

/// The host pointer given by `OfxSetHost` / `setHost`, as an address.
static HOST: RwLock<usize> = RwLock::new(0);
/// The suites of the current host (the table in [`LOADED`]).
static SUITES: RwLock<Option<&'static Suites>> = RwLock::new(None);

/// The tables behind [`SUITES`], as raw `Box<Suites>` pointers (addresses).
struct Loaded {
    /// `kOfxActionLoad`s not yet matched by an unload.
    loads: usize,
    /// The current host's table.
    current: Option<usize>,
    /// Tables of hosts loaded earlier that may still be in use (two hosts in
    /// one process, e.g. test harnesses); freed with the current one.
    retired: Vec<usize>,
}

static LOADED: parking_lot::Mutex<Loaded> = parking_lot::const_mutex(Loaded { loads: 0, current: None, retired: Vec::new() });

/// Frees a table made by [`load`].
///
/// # Safety
/// `addr` came from `Box::into_raw` in [`load`], is freed once, and no
/// reference to it is used afterwards.
unsafe fn free_table(addr: usize) {
    // SAFETY: guaranteed by the caller.
    drop(unsafe { Box::from_raw(addr as *mut Suites) });
}

/// At `kOfxActionUnload`: the last unload frees the tables. Every `&'static
/// Suites` handed out is valid until then — the host makes no call after its
/// last unload.
pub(crate) fn unload() {
    let mut l = LOADED.lock();
    l.loads = l.loads.saturating_sub(1);
    if l.loads > 0 {
        return;
    }
    *SUITES.write() = None;
    let tables: Vec<usize> = l.current.take().into_iter().chain(l.retired.drain(..)).collect();
    for t in tables {
        // SAFETY: each address came from `load`, is held once in LOADED and was
        // just taken out of it; with no load outstanding, nothing uses it.
        unsafe { free_table(t) };
    }
}

/// Remember the host pointer (called from the exported entry points).
pub(crate) fn set_host(host: *const OfxHost) {
    *HOST.write() = host as usize;
}

/// The suites of the loaded host, or an error if `kOfxActionLoad` did not run.
pub fn suites() -> Result<&'static Suites> {
    SUITES
        .read()
        .ok_or_else(|| Error::MissingHostFeature("a host: kOfxActionLoad was not called".into()))
}

fn fetch_raw(host: &OfxHost, name: &CStr, version: i32) -> *const c_void {
    match host.fetchSuite {
        // SAFETY: `fetchSuite` comes from the host's OfxHost, which the host keeps
        // valid while the plugin is loaded; it takes the host's property handle.
        Some(f) => unsafe { f(host.host, name.as_ptr(), version) },
        None => std::ptr::null(),
    }
}

/// Copy a suite struct out of the host's pointer (suites are plain tables).
fn fetch<T: Copy>(host: &OfxHost, name: &CStr, version: i32) -> Option<T> {
    let ptr = fetch_raw(host, name, version) as *const T;
    if ptr.is_null() {
        None
    } else {
        // SAFETY: a non-null suite pointer from fetchSuite points to a suite struct
        // of the requested name and version, which is `T` by construction here.
        Some(unsafe { *ptr })
    }
}

macro_rules! require {
    ($suite:expr, $name:literal, $($field:ident),+) => {{
        $(
            if $suite.$field.is_none() {
                return Err(Error::MissingHostFeature(format!(
                    "{}::{}", $name, stringify!($field)
                )));
            }
        )+
    }};
}

/// Fetch and check all suites. Called at `kOfxActionLoad`.
pub(crate) fn load() -> Result<&'static Suites> {
    let addr = *HOST.read();
    if addr == 0 {
        return Err(Error::MissingHostFeature("a host pointer (setHost was not called)".into()));
    }
    // SAFETY: the address came from the host's `setHost` call; the host keeps the
    // struct alive while the plugin is loaded.
    let host: &OfxHost = unsafe { &*(addr as *const OfxHost) };
    let property: OfxPropertySuiteV1 = fetch(host, kOfxPropertySuite, 1)
        .ok_or_else(|| Error::MissingHostFeature("the property suite".into()))?;
    require!(property, "OfxPropertySuiteV1", propSetString, propSetDouble, propSetInt,
        propSetPointer, propGetString, propGetDouble, propGetInt, propGetPointer,
        propGetDoubleN, propGetIntN, propGetDimension);
    let effect: OfxImageEffectSuiteV1 = fetch(host, kOfxImageEffectSuite, 1)
        .ok_or_else(|| Error::MissingHostFeature("the image effect suite".into()))?;
    require!(effect, "OfxImageEffectSuiteV1", getPropertySet, getParamSet, clipDefine,
        clipGetHandle, clipGetPropertySet, clipGetImage, clipReleaseImage);
    let param: OfxParameterSuiteV1 = fetch(host, kOfxParameterSuite, 1)
        .ok_or_else(|| Error::MissingHostFeature("the parameter suite".into()))?;
    // paramGetValueAtTime is optional: small hosts lack it, and values are
    // then read at the current frame (see params.rs).
    require!(param, "OfxParameterSuiteV1", paramDefine, paramGetHandle, paramGetPropertySet,
        paramGetValue, paramSetValue);
    let suites = Suites {
        host_props: host.host,
        property,
        effect,
        param,
        message_v1: fetch(host, kOfxMessageSuite, 1),
        message_v2: fetch(host, kOfxMessageSuite, 2),
        thread: fetch(host, kOfxMultiThreadSuite, 1),
        progress_v1: fetch(host, kOfxProgressSuite, 1),
        progress_v2: fetch(host, kOfxProgressSuite, 2),
        memory: fetch(host, kOfxMemorySuite, 1),
        timeline: fetch(host, kOfxTimeLineSuite, 1),
        interact: fetch(host, kOfxInteractSuite, 1),
        draw: fetch(host, kOfxDrawSuite, 1),
    };
    let mut l = LOADED.lock();
    // The same host loading again (another load outstanding) keeps its table.
    if let Some(cur) = l.current.filter(|_| l.loads > 0) {
        // SAFETY: a table in LOADED is alive while a load is outstanding.
        let table: &'static Suites = unsafe { &*(cur as *const Suites) };
        if table.host_props == suites.host_props {
            l.loads += 1;
            return Ok(table);
        }
    }
    let addr = Box::into_raw(Box::new(suites)) as usize;
    if let Some(old) = l.current.replace(addr) {
        l.retired.push(old);
    }
    l.loads += 1;
    // SAFETY: just made; freed only by `unload` once no load is outstanding.
    let table: &'static Suites = unsafe { &*(addr as *const Suites) };
    *SUITES.write() = Some(table);
    Ok(table)
}

impl Suites {
    /// The host's descriptor property set (name, capabilities).
    pub fn host_properties(&'static self) -> super::props::PropertySet {
        super::props::PropertySet::new(self.host_props, self)
    }
}

/// What the host says about itself, read once at load.
#[derive(Debug, Clone, Default)]
pub struct HostInfo {
    /// `kOfxPropName`, e.g. `fr.inria.Natron` or `DaVinciResolve`.
    pub name: String,
    /// `kOfxPropLabel`.
    pub label: String,
    /// Whether the host has a persistent-message function.
    pub persistent_messages: bool,
    /// Whether the host has the multithread suite.
    pub multithread: bool,
}

/// Describe the loaded host.
pub fn host_info() -> Result<HostInfo> {
    let s = suites()?;
    let props = s.host_properties();
    Ok(HostInfo {
        name: props.get_string(kOfxPropName, 0).unwrap_or_default(),
        label: props.get_string(kOfxPropLabel, 0).unwrap_or_default(),
        persistent_messages: s.message_v2.map(|m| m.setPersistentMessage.is_some()).unwrap_or(false),
        multithread: s.thread.map(|t| t.multiThread.is_some()).unwrap_or(false),
    })
}
