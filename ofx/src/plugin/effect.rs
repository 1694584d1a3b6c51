//! The effect trait, its descriptor, and the handle an instance acts through.
//!
//! An effect overrides only what it needs: every action has a default that
//! answers "reply default" (the host does its standard thing), like the OFX C++
//! Support library. Inputs come as plain argument structs; outputs go through
//! setter objects ([`ClipPreferences`], [`RegionsOfInterest`]).

use std::ffi::{c_void, CString};

use super::image::{BitDepth, Components, Image, RectD, RectI};
use super::params::{ParamSet, ParamSetDescriptor};
use super::props::PropertySet;
use super::suites::Suites;
use crate::error::{Error, Result};
use crate::sys::*;

/// The context an effect is described or instantiated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// One `Source` clip in, `Output` out.
    Filter,
    /// Any number of clips.
    General,
    /// Another context we do not support.
    Other,
}

impl Context {
    /// Parse the OFX name.
    pub fn from_ofx(s: &str) -> Context {
        if s.as_bytes() == kOfxImageEffectContextFilter.to_bytes() {
            Context::Filter
        } else if s.as_bytes() == kOfxImageEffectContextGeneral.to_bytes() {
            Context::General
        } else {
            Context::Other
        }
    }
    /// The OFX name.
    pub fn ofx_name(self) -> &'static str {
        match self {
            Context::Filter => "OfxImageEffectContextFilter",
            Context::General => "OfxImageEffectContextGeneral",
            Context::Other => "",
        }
    }
}

/// Render thread safety as declared to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadSafety {
    /// Any number of renders at once, also on one instance.
    FullySafe,
    /// One render at a time per instance.
    InstanceSafe,
    /// One render at a time in the process.
    Unsafe,
}

/// The effect descriptor handed to `describe` and `describe_in_context`.
pub struct EffectDescriptor {
    handle: OfxImageEffectHandle,
    props: PropertySet,
    suites: &'static Suites,
}

impl EffectDescriptor {
    pub(crate) fn new(handle: OfxImageEffectHandle, suites: &'static Suites) -> Result<Self> {
        let props = effect_props(handle, suites)?;
        Ok(EffectDescriptor { handle, props, suites })
    }
    /// The effect's property set (for properties not wrapped here).
    pub fn properties(&self) -> PropertySet {
        self.props
    }
    /// Label, short label and grouping in the host's menu.
    pub fn set_labels(&self, label: &str, grouping: &str, description: &str) -> Result<()> {
        self.props.set_string(kOfxPropLabel, 0, label)?;
        let _ = self.props.set_string(kOfxPropShortLabel, 0, label);
        let _ = self.props.set_string(kOfxPropLongLabel, 0, label);
        self.props.set_string(kOfxImageEffectPluginPropGrouping, 0, grouping)?;
        let _ = self.props.set_string(kOfxPropPluginDescription, 0, description);
        Ok(())
    }
    /// Contexts the effect can be instantiated in.
    pub fn set_contexts(&self, contexts: &[Context]) -> Result<()> {
        let names: Vec<&str> = contexts.iter().map(|c| c.ofx_name()).collect();
        self.props.set_strings(kOfxImageEffectPropSupportedContexts, &names)
    }
    /// Pixel depths the effect renders.
    pub fn set_depths(&self, depths: &[BitDepth]) -> Result<()> {
        let names: Vec<&str> = depths.iter().map(|d| d.ofx_name().to_str().unwrap_or_default()).collect();
        self.props.set_strings(kOfxImageEffectPropSupportedPixelDepths, &names)
    }
    /// Render capabilities.
    pub fn set_render_capabilities(&self, safety: ThreadSafety, host_frame_threading: bool, multi_resolution: bool, tiles: bool, temporal_clip_access: bool) -> Result<()> {
        let s = match safety {
            ThreadSafety::FullySafe => kOfxImageEffectRenderFullySafe,
            ThreadSafety::InstanceSafe => kOfxImageEffectRenderInstanceSafe,
            ThreadSafety::Unsafe => kOfxImageEffectRenderUnsafe,
        };
        self.props.set_string(kOfxImageEffectPluginRenderThreadSafety, 0, s.to_str().unwrap_or_default())?;
        self.props.set_int(kOfxImageEffectPluginPropHostFrameThreading, 0, host_frame_threading as i32)?;
        self.props.set_int(kOfxImageEffectPropSupportsMultiResolution, 0, multi_resolution as i32)?;
        self.props.set_int(kOfxImageEffectPropSupportsTiles, 0, tiles as i32)?;
        self.props.set_int(kOfxImageEffectPropTemporalClipAccess, 0, temporal_clip_access as i32)?;
        // Sequential render is never needed: every frame is a pure function of its inputs.
        let _ = self.props.set_int(kOfxImageEffectInstancePropSequentialRender, 0, 0);
        Ok(())
    }
    /// Define a clip.
    pub fn define_clip(&self, name: &str, components: &[Components], optional: bool) -> Result<PropertySet> {
        let f = self.suites.effect.clipDefine.ok_or_else(|| Error::MissingHostFeature("clipDefine".into()))?;
        let n = CString::new(name).map_err(|_| Error::Value(name.into()))?;
        let mut p: OfxPropertySetHandle = std::ptr::null_mut();
        // SAFETY: descriptor handle from the host, NUL-terminated name, `p` receives
        // the clip descriptor's property set.
        Error::check("clipDefine", unsafe { f(self.handle, n.as_ptr(), &mut p) })?;
        let props = PropertySet::new(p, self.suites);
        let names: Vec<&str> = components.iter().map(|c| c.ofx_name().to_str().unwrap_or_default()).collect();
        props.set_strings(kOfxImageEffectPropSupportedComponents, &names)?;
        props.set_int(kOfxImageClipPropOptional, 0, optional as i32)?;
        let _ = props.set_int(kOfxImageEffectPropSupportsTiles, 0, 1);
        let _ = props.set_int(kOfxImageEffectPropTemporalClipAccess, 0, 1);
        Ok(props)
    }
    /// The parameter set, for defining parameters.
    pub fn params(&self) -> Result<ParamSetDescriptor> {
        let handle = param_set(self.handle, self.suites)?;
        Ok(ParamSetDescriptor { handle, suites: self.suites })
    }
}

fn effect_props(handle: OfxImageEffectHandle, suites: &'static Suites) -> Result<PropertySet> {
    let f = suites.effect.getPropertySet.ok_or_else(|| Error::MissingHostFeature("getPropertySet".into()))?;
    let mut p: OfxPropertySetHandle = std::ptr::null_mut();
    // SAFETY: effect handle from the host; `p` receives its property set.
    Error::check("getPropertySet", unsafe { f(handle, &mut p) })?;
    if p.is_null() {
        return Err(Error::BadHandle("effect property set".into()));
    }
    Ok(PropertySet::new(p, suites))
}

fn param_set(handle: OfxImageEffectHandle, suites: &'static Suites) -> Result<OfxParamSetHandle> {
    let f = suites.effect.getParamSet.ok_or_else(|| Error::MissingHostFeature("getParamSet".into()))?;
    let mut p: OfxParamSetHandle = std::ptr::null_mut();
    // SAFETY: effect handle from the host; `p` receives its parameter set.
    Error::check("getParamSet", unsafe { f(handle, &mut p) })?;
    if p.is_null() {
        return Err(Error::BadHandle("parameter set".into()));
    }
    Ok(p)
}

/// Severity of a message to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageLevel {
    /// An error: the effect cannot render correctly.
    Error,
    /// A warning: rendering goes on, but something is off.
    Warning,
    /// Information.
    Message,
}

impl MessageLevel {
    fn ofx(self) -> &'static std::ffi::CStr {
        match self {
            MessageLevel::Error => kOfxMessageError,
            MessageLevel::Warning => kOfxMessageWarning,
            MessageLevel::Message => kOfxMessageMessage,
        }
    }
}

/// The printf format that shows `text` as it is, with no arguments: `%`
/// doubled, NUL bytes made spaces. The text goes in the format itself, not
/// behind a `"%s"`, because some hosts drop the variadic arguments: Natron
/// forwards them into a second variadic formatter, so a `"%s"` message shows
/// blank there.
fn message_format(text: &str) -> CString {
    CString::new(text.replace('\0', " ").replace('%', "%%")).unwrap_or_default()
}

/// The handle of an effect instance, valid during one action.
#[derive(Clone, Copy)]
pub struct EffectHandle {
    pub(crate) handle: OfxImageEffectHandle,
    pub(crate) props: PropertySet,
    pub(crate) suites: &'static Suites,
}

// SAFETY: an effect handle is a host object that OFX lets render threads use.
unsafe impl Send for EffectHandle {}
// SAFETY: as above.
unsafe impl Sync for EffectHandle {}

impl EffectHandle {
    pub(crate) fn new(handle: OfxImageEffectHandle, suites: &'static Suites) -> Result<Self> {
        Ok(EffectHandle { handle, props: effect_props(handle, suites)?, suites })
    }
    /// The instance's property set.
    pub fn properties(&self) -> PropertySet {
        self.props
    }
    /// The context it was created in.
    pub fn context(&self) -> Context {
        Context::from_ofx(&self.props.get_string(kOfxImageEffectPropContext, 0).unwrap_or_default())
    }
    /// Project size in canonical coordinates (for normalised params).
    pub fn project_size(&self) -> Option<(f64, f64)> {
        self.props.get_doubles::<2>(kOfxImageEffectPropProjectSize).ok().map(|s| (s[0], s[1]))
    }
    /// The instance's parameters.
    pub fn params(&self) -> Result<ParamSet> {
        Ok(ParamSet { handle: param_set(self.handle, self.suites)?, suites: self.suites })
    }
    /// A clip by name.
    pub fn clip(&self, name: &str) -> Result<Clip> {
        let f = self.suites.effect.clipGetHandle.ok_or_else(|| Error::MissingHostFeature("clipGetHandle".into()))?;
        let n = CString::new(name).map_err(|_| Error::Value(name.into()))?;
        let mut h: OfxImageClipHandle = std::ptr::null_mut();
        let mut p: OfxPropertySetHandle = std::ptr::null_mut();
        // SAFETY: instance handle, NUL-terminated name, out-pointers valid.
        Error::check("clipGetHandle", unsafe { f(self.handle, n.as_ptr(), &mut h, &mut p) })
            .map_err(|_| Error::Failed(format!("the host has no clip named {name}")))?;
        if h.is_null() || p.is_null() {
            return Err(Error::BadHandle(format!("clip {name}")));
        }
        Ok(Clip { handle: h, props: PropertySet::new(p, self.suites), suites: self.suites, name: name.to_string() })
    }
    /// Whether the host wants the current render stopped.
    pub fn aborted(&self) -> bool {
        match self.suites.effect.abort {
            // SAFETY: instance handle from the host.
            Some(f) => (unsafe { f(self.handle) }) != 0,
            None => false,
        }
    }
    /// A transient message (a dialog in interactive hosts, a log line in batch).
    pub fn message(&self, level: MessageLevel, text: &str) -> Result<()> {
        let fmt = message_format(text);
        let f = self
            .suites
            .message_v2
            .and_then(|m| m.message)
            .or_else(|| self.suites.message_v1.and_then(|m| m.message))
            .ok_or_else(|| Error::MissingHostFeature("the message suite".into()))?;
        // SAFETY: message(handle, type, id, format, ...) with a NUL-terminated
        // format that needs no arguments (see `message_format`); the id may be
        // null per ofxMessage.h.
        let st = unsafe { f(self.handle as *mut c_void, level.ofx().as_ptr(), std::ptr::null(), fmt.as_ptr()) };
        Error::check("message", st)
    }
    /// A message that stays on the node until cleared. Falls back to a transient
    /// message when the host lacks `setPersistentMessage` (Resolve's suite v2 may);
    /// returns whether it really is persistent.
    pub fn set_persistent_message(&self, level: MessageLevel, text: &str) -> Result<bool> {
        if let Some(f) = self.suites.message_v2.and_then(|m| m.setPersistentMessage) {
            let fmt = message_format(text);
            // SAFETY: as in `message`.
            let st = unsafe { f(self.handle as *mut c_void, level.ofx().as_ptr(), std::ptr::null(), fmt.as_ptr()) };
            Error::check("setPersistentMessage", st)?;
            return Ok(true);
        }
        self.message(level, text).map(|_| false)
    }
    /// Clear the persistent message, if the host has them.
    pub fn clear_persistent_message(&self) {
        if let Some(f) = self.suites.message_v2.and_then(|m| m.clearPersistentMessage) {
            // SAFETY: instance handle from the host.
            unsafe {
                f(self.handle as *mut c_void);
            }
        }
    }
    /// Start a progress bar; `None` when the host has no progress suite.
    pub fn progress_start(&self, label: &str) -> bool {
        let l = CString::new(label).unwrap_or_default();
        if let Some(f) = self.suites.progress_v2.and_then(|p| p.progressStart) {
            // SAFETY: instance handle, NUL-terminated label and id.
            return (unsafe { f(self.handle as *mut c_void, l.as_ptr(), c"LivingPortraitProgress".as_ptr()) }) == kOfxStatOK;
        }
        if let Some(f) = self.suites.progress_v1.and_then(|p| p.progressStart) {
            // SAFETY: instance handle and NUL-terminated label.
            return (unsafe { f(self.handle as *mut c_void, l.as_ptr()) }) == kOfxStatOK;
        }
        false
    }
    /// Update progress (0..1). Returns `false` when the user asked to stop.
    pub fn progress_update(&self, fraction: f64) -> bool {
        let f = self.suites.progress_v2.and_then(|p| p.progressUpdate).or_else(|| self.suites.progress_v1.and_then(|p| p.progressUpdate));
        match f {
            // SAFETY: instance handle; kOfxStatReplyNo means "stop".
            Some(f) => (unsafe { f(self.handle as *mut c_void, fraction) }) != kOfxStatReplyNo,
            None => true,
        }
    }
    /// End progress.
    pub fn progress_end(&self) {
        let f = self.suites.progress_v2.and_then(|p| p.progressEnd).or_else(|| self.suites.progress_v1.and_then(|p| p.progressEnd));
        if let Some(f) = f {
            // SAFETY: instance handle.
            unsafe {
                f(self.handle as *mut c_void);
            }
        }
    }
}

/// A clip of an instance.
pub struct Clip {
    handle: OfxImageClipHandle,
    props: PropertySet,
    suites: &'static Suites,
    name: String,
}

// SAFETY: a host handle usable from render threads.
unsafe impl Send for Clip {}
// SAFETY: as above.
unsafe impl Sync for Clip {}

impl Clip {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its property set.
    pub fn properties(&self) -> PropertySet {
        self.props
    }
    /// Whether something is connected to it.
    pub fn connected(&self) -> bool {
        self.props.get_int(kOfxImageClipPropConnected, 0).map(|v| v != 0).unwrap_or(false)
    }
    /// Pixel depth the host will deliver.
    pub fn depth(&self) -> Option<BitDepth> {
        BitDepth::from_ofx(&self.props.get_string(kOfxImageEffectPropPixelDepth, 0).ok()?)
    }
    /// Components the host will deliver.
    pub fn components(&self) -> Option<Components> {
        Components::from_ofx(&self.props.get_string(kOfxImageEffectPropComponents, 0).ok()?)
    }
    /// Frame range of the clip.
    pub fn frame_range(&self) -> Option<(f64, f64)> {
        self.props.get_doubles::<2>(kOfxImageEffectPropFrameRange).ok().map(|r| (r[0], r[1]))
    }
    /// Region of definition in canonical coordinates.
    pub fn region_of_definition(&self, time: f64) -> Result<RectD> {
        let f = self.suites.effect.clipGetRegionOfDefinition.ok_or_else(|| Error::MissingHostFeature("clipGetRegionOfDefinition".into()))?;
        let mut r = OfxRectD { x1: 0.0, y1: 0.0, x2: 0.0, y2: 0.0 };
        // SAFETY: clip handle from the host; `r` receives the rectangle.
        Error::check("clipGetRegionOfDefinition", unsafe { f(self.handle, time, &mut r) })?;
        Ok(RectD { x1: r.x1, y1: r.y1, x2: r.x2, y2: r.y2 })
    }
    /// The image at `time` (the whole image when `region` is `None`), or `None`
    /// when the host has no image there (unconnected, out of range).
    pub fn image(&self, time: f64, region: Option<RectD>) -> Result<Option<Image>> {
        let f = self.suites.effect.clipGetImage.ok_or_else(|| Error::MissingHostFeature("clipGetImage".into()))?;
        let r = region.map(|r| OfxRectD { x1: r.x1, y1: r.y1, x2: r.x2, y2: r.y2 });
        let rp = r.as_ref().map(|r| r as *const OfxRectD).unwrap_or(std::ptr::null());
        let mut p: OfxPropertySetHandle = std::ptr::null_mut();
        // SAFETY: clip handle; `rp` null or a valid rect; `p` receives the image.
        let st = unsafe { f(self.handle, time, rp, &mut p) };
        if st == kOfxStatFailed || p.is_null() {
            return Ok(None);
        }
        Error::check("clipGetImage", st)?;
        Image::from_handle(PropertySet::new(p, self.suites)).map(Some)
    }
}

/// Why an instance changed.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceChangedArgs {
    /// `true` for a parameter, `false` for a clip.
    pub is_param: bool,
    /// Name of the parameter or clip.
    pub name: String,
    /// `kOfxChangeUserEdited`, `kOfxChangePluginEdited` or `kOfxChangeTime`.
    pub reason: String,
    /// Current time.
    pub time: f64,
    /// Render scale.
    pub render_scale: (f64, f64),
}

impl InstanceChangedArgs {
    /// Whether the user made the change (not the plugin itself).
    pub fn by_user(&self) -> bool {
        self.reason.as_bytes() == kOfxChangeUserEdited.to_bytes()
    }
}

/// Arguments of a render (and of identity).
#[derive(Debug, Clone, PartialEq)]
pub struct RenderArgs {
    /// Frame.
    pub time: f64,
    /// Pixels to fill (output image pixel coordinates).
    pub window: RectI,
    /// The action's render scale (the one to trust: Resolve reports 1 on images).
    pub render_scale: (f64, f64),
    /// Whether the host renders frames in order.
    pub sequential: bool,
    /// Whether this is an interactive render (viewer).
    pub interactive: bool,
    /// Whether the host asked for draft quality.
    pub draft: bool,
}

/// Arguments of begin/end sequence render.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceArgs {
    /// First and last frame.
    pub frame_range: (f64, f64),
    /// Step.
    pub frame_step: f64,
    /// Whether interactive.
    pub interactive: bool,
    /// Render scale.
    pub render_scale: (f64, f64),
}

/// Arguments of region of definition.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionOfDefinitionArgs {
    /// Frame.
    pub time: f64,
    /// Render scale.
    pub render_scale: (f64, f64),
}

/// Arguments of regions of interest.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionsOfInterestArgs {
    /// Frame.
    pub time: f64,
    /// Render scale.
    pub render_scale: (f64, f64),
    /// The region of the output to render (canonical).
    pub region: RectD,
}

/// Setter for regions of interest.
pub struct RegionsOfInterest {
    pub(crate) out: PropertySet,
}

impl RegionsOfInterest {
    /// Set the region needed from `clip`.
    pub fn set(&self, clip: &str, r: RectD) -> Result<()> {
        let name = CString::new(format!("OfxImageClipPropRoI_{clip}")).map_err(|_| Error::Value(clip.into()))?;
        self.out.set_doubles(&name, &[r.x1, r.y1, r.x2, r.y2])
    }
}

/// Setter for clip preferences.
pub struct ClipPreferences {
    pub(crate) out: PropertySet,
}

impl ClipPreferences {
    /// Components for a clip.
    pub fn set_components(&self, clip: &str, c: Components) -> Result<()> {
        let name = CString::new(format!("OfxImageClipPropComponents_{clip}")).map_err(|_| Error::Value(clip.into()))?;
        self.out.set_string(&name, 0, c.ofx_name().to_str().unwrap_or_default())
    }
    /// Depth for a clip.
    pub fn set_depth(&self, clip: &str, d: BitDepth) -> Result<()> {
        let name = CString::new(format!("OfxImageClipPropDepth_{clip}")).map_err(|_| Error::Value(clip.into()))?;
        self.out.set_string(&name, 0, d.ofx_name().to_str().unwrap_or_default())
    }
    /// Whether the output changes over time even with a still input.
    pub fn set_frame_varying(&self, yes: bool) -> Result<()> {
        self.out.set_int(kOfxImageEffectFrameVarying, 0, yes as i32)
    }
}

/// An OFX image effect. One value of `Self` exists per instance; renders may call
/// `&self` methods from many threads at once, hence `Sync`.
pub trait Effect: Sized + Send + Sync + 'static {
    /// Describe the effect (labels, depths, contexts, capabilities).
    fn describe(desc: &EffectDescriptor) -> Result<()>;
    /// Define clips and parameters for a context.
    fn describe_in_context(desc: &EffectDescriptor, context: Context) -> Result<()>;
    /// Build the instance state.
    fn create_instance(effect: &EffectHandle) -> Result<Self>;
    /// A parameter or clip changed.
    fn instance_changed(&self, _effect: &EffectHandle, _args: &InstanceChangedArgs) -> Result<()> {
        Err(Error::ReplyDefault)
    }
    /// Clip preferences (components, depths, frame varying).
    fn clip_preferences(&self, _effect: &EffectHandle, _prefs: &ClipPreferences) -> Result<()> {
        Err(Error::ReplyDefault)
    }
    /// Region of definition (canonical).
    fn region_of_definition(&self, _effect: &EffectHandle, _args: &RegionOfDefinitionArgs) -> Result<RectD> {
        Err(Error::ReplyDefault)
    }
    /// Regions of interest of the inputs.
    fn regions_of_interest(&self, _effect: &EffectHandle, _args: &RegionsOfInterestArgs, _rois: &RegionsOfInterest) -> Result<()> {
        Err(Error::ReplyDefault)
    }
    /// Identity: `Some((clip, time))` when the output equals an input.
    fn is_identity(&self, _effect: &EffectHandle, _args: &RenderArgs) -> Result<Option<(String, f64)>> {
        Ok(None)
    }
    /// Before a sequence of renders.
    fn begin_sequence_render(&self, _effect: &EffectHandle, _args: &SequenceArgs) -> Result<()> {
        Ok(())
    }
    /// Render a window of one frame.
    fn render(&self, effect: &EffectHandle, args: &RenderArgs) -> Result<()>;
    /// After a sequence of renders.
    fn end_sequence_render(&self, _effect: &EffectHandle, _args: &SequenceArgs) -> Result<()> {
        Ok(())
    }
    /// Drop caches (the host is short of memory).
    fn purge_caches(&self, _effect: &EffectHandle) -> Result<()> {
        Ok(())
    }
    /// Flush private data into parameters before a save.
    fn sync_private_data(&self, _effect: &EffectHandle) -> Result<()> {
        Ok(())
    }
}

/// Run `f(index, count)` for every `index` in `0..count` through the host's
/// multithread suite (we keep no thread pool of our own), or serially when the
/// host has none.
///
/// Contract: `f` runs exactly once for each index `0..count`, always with
/// `count` as its second argument, whatever the host does. A host may run
/// fewer threads than asked (OFX HostSupport's default suite calls the
/// function once, as thread 0 of 1), may pass a different `threadMax`, or may
/// fail `multiThread` altogether: every index it did not run is then run in
/// turn on the calling thread after `multiThread` returns. Indices `>= count`,
/// and an index the host runs a second time, are ignored. So work may be split
/// by index (index 0 does one job, index 1 another) and still all get done.
/// A panic on a worker thread is caught there and returned as an error; the
/// first error (from any index) is returned after every index has run.
pub fn run_threads<F>(count: u32, f: F) -> Result<()>
where
    F: Fn(u32, u32) -> Result<()> + Sync,
{
    let count = count.max(1);
    let suites = super::suites::suites()?;
    let multi = suites.thread.and_then(|t| t.multiThread);
    run_threads_with(multi, count, &f)
}

/// The signature of `OfxMultiThreadSuiteV1::multiThread`.
type MultiThreadFn = unsafe extern "C" fn(OfxThreadFunctionV1, u32, *mut c_void) -> OfxStatus;

/// [`run_threads`] on a given `multiThread` function (separate for tests).
fn run_threads_with(multi: Option<MultiThreadFn>, count: u32, f: &(dyn Fn(u32, u32) -> Result<()> + Sync)) -> Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    struct Job<'a> {
        f: &'a (dyn Fn(u32, u32) -> Result<()> + Sync),
        /// One flag per index: set by whichever thread runs it first.
        taken: Vec<AtomicBool>,
        error: parking_lot::Mutex<Option<Error>>,
    }
    impl Job<'_> {
        /// Run index `i` unless it is out of range or already taken.
        fn run(&self, i: u32) {
            let count = self.taken.len() as u32;
            let Some(flag) = self.taken.get(i as usize) else { return };
            if flag.swap(true, Ordering::AcqRel) {
                return;
            }
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.f)(i, count)));
            let e = match r {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e,
                Err(p) => Error::Failed(format!("internal error on a render thread: {}", super::entry::panic_text(&p))),
            };
            self.error.lock().get_or_insert(e);
        }
    }
    unsafe extern "C" fn trampoline(index: u32, _max: u32, arg: *mut c_void) {
        // SAFETY: `arg` is the `Job` below, alive until multiThread returns.
        let job = unsafe { &*(arg as *const Job) };
        job.run(index);
    }
    let job = Job { f, taken: (0..count).map(|_| AtomicBool::new(false)).collect(), error: parking_lot::Mutex::new(None) };
    if let Some(multi) = multi.filter(|_| count > 1) {
        // SAFETY: the host runs `trampoline` on up to `count` threads and returns
        // when all are done, so `job` outlives every use of its address. Its
        // status is not needed: a failed call only costs parallelism, as the
        // indices it did not run run below.
        let _ = unsafe { multi(Some(trampoline), count, &job as *const Job as *mut c_void) };
    }
    // Whatever the host did not run (fewer threads, or a failed call) runs here.
    (0..count).for_each(|i| job.run(i));
    match job.error.into_inner() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// HostSupport's default suite: one call, as thread 0 of 1.
    unsafe extern "C" fn host_support_default(f: OfxThreadFunctionV1, _n: u32, arg: *mut c_void) -> OfxStatus {
        // SAFETY: the function and argument come from run_threads_with.
        unsafe { f.unwrap()(0, 1, arg) };
        kOfxStatOK
    }

    /// A careless host: every index, then index 0 again and one out of range.
    unsafe extern "C" fn over_eager(f: OfxThreadFunctionV1, n: u32, arg: *mut c_void) -> OfxStatus {
        let f = f.unwrap();
        for i in 0..n {
            // SAFETY: as above.
            unsafe { f(i, n, arg) };
        }
        // SAFETY: as above.
        unsafe {
            f(0, n, arg);
            f(n + 3, n + 4, arg);
        }
        kOfxStatOK
    }

    /// A host whose multiThread fails without running anything.
    unsafe extern "C" fn failing(_f: OfxThreadFunctionV1, _n: u32, _arg: *mut c_void) -> OfxStatus {
        kOfxStatErrExists
    }

    /// Real threads, all of them.
    unsafe extern "C" fn spawning(f: OfxThreadFunctionV1, n: u32, arg: *mut c_void) -> OfxStatus {
        let (f, arg) = (f.unwrap(), arg as usize);
        std::thread::scope(|s| {
            for i in 0..n {
                // SAFETY: as above; the scope ends before multiThread returns.
                s.spawn(move || unsafe { f(i, n, arg as *mut c_void) });
            }
        });
        kOfxStatOK
    }

    /// How many times each index ran, checking the count passed along.
    fn runs(multi: Option<MultiThreadFn>, count: u32) -> Vec<u32> {
        let seen: Vec<AtomicU32> = (0..count + 8).map(|_| AtomicU32::new(0)).collect();
        run_threads_with(multi, count, &|i, n| {
            assert_eq!(n, count, "the second argument is the count asked for");
            seen[i as usize].fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        seen.iter().map(|a| a.load(Ordering::SeqCst)).collect()
    }

    #[test]
    fn every_index_runs_exactly_once_whatever_the_host_runs() {
        for multi in [None, Some(host_support_default as MultiThreadFn), Some(over_eager), Some(failing), Some(spawning)] {
            for count in [1, 2, 5] {
                let r = runs(multi, count);
                assert!(r[..count as usize].iter().all(|&c| c == 1), "count {count}: {r:?}");
                assert!(r[count as usize..].iter().all(|&c| c == 0), "count {count}: {r:?}");
            }
        }
    }

    #[test]
    fn message_formats_need_no_arguments() {
        assert_eq!(message_format("100% of /a/%04d.json").to_bytes(), b"100%% of /a/%%04d.json");
        assert_eq!(message_format("a\0b").to_bytes(), b"a b");
    }

    #[test]
    fn errors_and_panics_come_back_after_every_index_ran() {
        let ran = AtomicU32::new(0);
        let r = run_threads_with(Some(host_support_default), 3, &|i, _| {
            ran.fetch_add(1, Ordering::SeqCst);
            match i {
                1 => panic!("index one broke"),
                _ => Ok(()),
            }
        });
        assert_eq!(ran.load(Ordering::SeqCst), 3);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("index one broke"), "{e}");
    }
}
