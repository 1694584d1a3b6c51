//! The objects behind the image-effect handles of the headless host: effects
//! (descriptors and instances, [`EffectObj`]), their clips ([`ClipObj`]) and
//! the images fetched from clips ([`ImageObj`]). An image handle is a property
//! set handle, so an image object starts with its property set; every live
//! image is kept in a global registry keyed by its handle so that
//! `clipReleaseImage` can free it and the host can find the images an action
//! forgot to release (they are recorded as leaks, never silently freed while
//! the plugin might still use them).

use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use once_cell::sync::Lazy;
use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::image_effect::*;

use super::context;
use super::host::{HostQuirks, HostShared};
use super::image::{Components, Depth, HostImage, PixelBuffer, RectI};
use super::params::ParamSetObj;
use super::props::*;

const EFFECT_MAGIC: u64 = 0x4c50_4546_4645_4354; // "LPEFFECT"
const CLIP_MAGIC: u64 = 0x4c50_434c_4950_3031; // "LPCLIP01"

/// The image effect contexts this host offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Context {
    /// `kOfxImageEffectContextFilter`: one `Source` input.
    Filter,
    /// `kOfxImageEffectContextGeneral`: any inputs.
    General,
}

impl Context {
    /// The `kOfxImageEffectContext*` string.
    pub fn ofx_name(self) -> &'static CStr {
        match self {
            Context::Filter => kOfxImageEffectContextFilter,
            Context::General => kOfxImageEffectContextGeneral,
        }
    }
    /// "filter" / "general".
    pub fn short_name(self) -> &'static str {
        match self {
            Context::Filter => "filter",
            Context::General => "general",
        }
    }
}

/// What feeds an input clip.
#[derive(Clone, Debug)]
pub enum ClipInput {
    /// The same image at every time.
    Still(HostImage),
    /// One image per frame. Times outside the range hold the first / last
    /// frame; a time inside the range with no frame is an error for the plugin.
    Sequence(BTreeMap<i32, HostImage>),
}

impl ClipInput {
    /// The image for `time`, if any.
    pub fn at(&self, time: f64) -> Option<(&HostImage, i32)> {
        match self {
            ClipInput::Still(img) => Some((img, 0)),
            ClipInput::Sequence(frames) => {
                let (first, _) = frames.first_key_value()?;
                let (last, _) = frames.last_key_value()?;
                let f = (time.round() as i64).clamp(*first as i64, *last as i64) as i32;
                frames.get(&f).map(|img| (img, f))
            }
        }
    }

    /// Frame range (first, last); a still reports (0, 0).
    pub fn frame_range(&self) -> (i32, i32) {
        match self {
            ClipInput::Still(_) => (0, 0),
            ClipInput::Sequence(f) => (
                f.keys().next().copied().unwrap_or(0),
                f.keys().next_back().copied().unwrap_or(0),
            ),
        }
    }

    /// Canonical bounds of the image at `time` (pixels at scale 1).
    pub fn canonical_rod(&self, time: f64) -> Option<OfxRectD> {
        self.at(time).map(|(img, _)| img.bounds().to_canonical(1.0))
    }
}

/// The output buffer of one frame being rendered, shared by every band.
pub struct FrameTarget {
    /// The output pixels (bounds may exceed the render window).
    pub buffer: PixelBuffer,
    /// Region of definition in pixels at the render scale.
    pub rod: RectI,
    /// Render scale of the frame.
    pub scale: f64,
}

/// An input image converted to OFX layout.
pub struct InputPixels {
    /// The pixels.
    pub buffer: PixelBuffer,
    /// `kOfxImageOpaque`, or `kOfxImageUnPreMultiplied` when some alpha is
    /// below 1: image files hold straight (unassociated) alpha.
    pub premultiplication: &'static CStr,
}

/// Key of the converted-input cache: clip, frame, scale, depth, components.
type InputKey = (String, i32, u64, Depth, Components);

/// State only instances have.
pub struct InstanceRuntime {
    /// Context the instance was created in.
    pub context: Context,
    /// Output buffers of the frames being rendered, by time bits.
    pub targets: Mutex<HashMap<u64, Arc<FrameTarget>>>,
    /// Last region of definition computed per time (canonical), for
    /// `clipGetRegionOfDefinition` on the output clip.
    pub rod_cache: Mutex<HashMap<u64, OfxRectD>>,
    /// Inputs already converted to OFX layout.
    pub input_cache: Mutex<HashMap<InputKey, Arc<InputPixels>>>,
    /// Render scale used when no action scale is known on the thread.
    pub scale: Mutex<f64>,
    /// Images an action did not release: (action name, clip name).
    pub leaks: Mutex<Vec<(String, String)>>,
    /// The leaked objects themselves, freed only when the instance goes.
    pub leaked_objects: Mutex<Vec<Box<ImageObj>>>,
    /// Progress calls: (label or "", last value).
    pub progress: Mutex<Vec<(String, f64)>>,
    /// Value returned by the `abort` suite function.
    pub abort: AtomicBool,
    /// Project frame range for the timeline suite.
    pub frame_range: Mutex<(f64, f64)>,
    /// Time spent inside the plugin's render actions (ns), for benchmarks
    /// that separate the plugin's cost from the host's own image handling.
    pub render_action_nanos: Arc<std::sync::atomic::AtomicU64>,
}

/// An effect descriptor or instance. `#[repr(C)]` keeps the tag first.
#[repr(C)]
pub struct EffectObj {
    magic: u64,
    /// Unique id (used to route messages and images).
    pub id: u64,
    /// The effect's property set.
    pub props: PropertySet,
    /// The effect's parameter set.
    pub params: ParamSetObj,
    /// Clips in definition order.
    pub clips: RwLock<Vec<Arc<ClipObj>>>,
    /// The owning host.
    pub host: Arc<HostShared>,
    /// None for descriptors.
    pub rt: Option<InstanceRuntime>,
    weak_self: Weak<EffectObj>,
}

impl Drop for EffectObj {
    fn drop(&mut self) {
        self.magic = 0;
    }
}

static NEXT_EFFECT_ID: AtomicU64 = AtomicU64::new(1);

impl EffectObj {
    /// A new effect object.
    pub fn new(host: Arc<HostShared>, props: PropertySet, params: ParamSetObj, rt: Option<InstanceRuntime>) -> Arc<EffectObj> {
        Arc::new_cyclic(|weak| EffectObj {
            magic: EFFECT_MAGIC,
            id: NEXT_EFFECT_ID.fetch_add(1, Ordering::Relaxed),
            props,
            params,
            clips: RwLock::new(Vec::new()),
            host,
            rt,
            weak_self: weak.clone(),
        })
    }

    /// The handle handed to the plugin.
    pub fn handle(&self) -> OfxImageEffectHandle {
        self as *const EffectObj as OfxImageEffectHandle
    }

    /// Validates a plugin-supplied effect handle.
    ///
    /// # Safety
    /// `h` must be NULL or point to at least 8 readable bytes.
    pub unsafe fn from_handle<'a>(h: *const std::ffi::c_void) -> Option<&'a EffectObj> {
        if h.is_null() {
            return None;
        }
        // SAFETY: the caller guarantees 8 readable bytes; only the tag is read first.
        if unsafe { std::ptr::read(h as *const u64) } != EFFECT_MAGIC {
            return None;
        }
        // SAFETY: the tag matches one of our live effects.
        Some(unsafe { &*(h as *const EffectObj) })
    }

    /// The quirk mode of the owning host.
    pub fn quirks(&self) -> HostQuirks {
        self.host.options.quirks
    }

    /// A clip by name.
    pub fn clip(&self, name: &str) -> Option<Arc<ClipObj>> {
        self.clips.read().iter().find(|c| c.name == name).cloned()
    }

    /// `clipDefine` on a descriptor.
    pub fn define_clip(&self, name: &str) -> Result<Arc<ClipObj>, OfxStatus> {
        if self.rt.is_some() {
            return Err(kOfxStatErrBadHandle);
        }
        let mut clips = self.clips.write();
        if clips.iter().any(|c| c.name == name) {
            return Err(kOfxStatErrExists);
        }
        let clip = Arc::new(ClipObj::new(name, default_clip_props(name), self.weak_self.clone()));
        clips.push(clip.clone());
        Ok(clip)
    }

    /// Adds an instance clip (built by the instance code).
    pub fn add_clip(&self, name: &str, props: PropertySet) -> Arc<ClipObj> {
        let clip = Arc::new(ClipObj::new(name, props, self.weak_self.clone()));
        self.clips.write().push(clip.clone());
        clip
    }
}

/// The properties of a freshly defined clip descriptor.
fn default_clip_props(name: &str) -> PropertySet {
    let p = PropertySet::new(&format!("clip {name}"), true);
    p.define(kOfxPropType, pstr(kOfxTypeClip));
    p.define(kOfxPropName, pstring(name));
    p.define(kOfxPropLabel, pstring(name));
    p.define(kOfxPropShortLabel, pstring(name));
    p.define(kOfxPropLongLabel, pstring(name));
    p.define(kOfxImageEffectPropSupportedComponents, PropValue::String(vec![]));
    p.define(kOfxImageEffectPropTemporalClipAccess, pint(0));
    p.define(kOfxImageClipPropOptional, pint(0));
    p.define(kOfxImageClipPropFieldExtraction, pstr(kOfxImageFieldDoubled));
    p.define(kOfxImageClipPropIsMask, pint(0));
    p.define(kOfxImageEffectPropSupportsTiles, pint(1));
    p
}

/// A clip (descriptor or instance). Tag first.
#[repr(C)]
pub struct ClipObj {
    magic: u64,
    /// Clip name.
    pub name: String,
    /// Clip property set.
    pub props: PropertySet,
    /// True for the `Output` clip.
    pub is_output: bool,
    /// The effect owning the clip.
    pub effect: Weak<EffectObj>,
    /// What feeds an input clip (None = unconnected).
    pub input: RwLock<Option<Arc<ClipInput>>>,
}

impl Drop for ClipObj {
    fn drop(&mut self) {
        self.magic = 0;
    }
}

impl ClipObj {
    fn new(name: &str, props: PropertySet, effect: Weak<EffectObj>) -> ClipObj {
        ClipObj {
            magic: CLIP_MAGIC,
            name: name.to_string(),
            props,
            is_output: name == kOfxImageEffectOutputClipName.to_str().unwrap_or("Output"),
            effect,
            input: RwLock::new(None),
        }
    }

    /// The handle handed to the plugin.
    pub fn handle(&self) -> OfxImageClipHandle {
        self as *const ClipObj as OfxImageClipHandle
    }

    /// Validates a plugin-supplied clip handle.
    ///
    /// # Safety
    /// `h` must be NULL or point to at least 8 readable bytes.
    pub unsafe fn from_handle<'a>(h: OfxImageClipHandle) -> Option<&'a ClipObj> {
        if h.is_null() {
            return None;
        }
        // SAFETY: the caller guarantees 8 readable bytes; only the tag is read first.
        if unsafe { std::ptr::read(h as *const u64) } != CLIP_MAGIC {
            return None;
        }
        // SAFETY: the tag matches one of our live clips.
        Some(unsafe { &*(h as *const ClipObj) })
    }

    /// Pixel depth currently negotiated for the clip.
    pub fn depth(&self) -> Depth {
        self.props
            .string(kOfxImageEffectPropPixelDepth, 0)
            .and_then(|s| Depth::from_ofx(&s))
            .unwrap_or(Depth::Float)
    }

    /// Components currently negotiated for the clip.
    pub fn components(&self) -> Components {
        self.props
            .string(kOfxImageEffectPropComponents, 0)
            .and_then(|s| Components::from_ofx(&s))
            .unwrap_or(Components::Rgba)
    }

    /// Canonical region of definition of an input at `time` (x scaled by the
    /// pixel aspect ratio: canonical coordinates have square pixels).
    pub fn input_rod(&self, time: f64) -> Option<OfxRectD> {
        let par = self.effect.upgrade().map(|e| e.host.options.pixel_aspect).unwrap_or(1.0);
        self.input.read().as_ref()?.canonical_rod(time).map(|r| OfxRectD { x1: r.x1 * par, y1: r.y1, x2: r.x2 * par, y2: r.y2 })
    }

    /// `clipGetImage`.
    pub fn get_image(&self, time: f64) -> Result<OfxPropertySetHandle, OfxStatus> {
        let effect = self.effect.upgrade().ok_or(kOfxStatErrBadHandle)?;
        let rt = effect.rt.as_ref().ok_or(kOfxStatErrBadHandle)?;
        let ctx = context::current();
        let scale = ctx.and_then(|c| c.render_scale).unwrap_or_else(|| *rt.scale.lock());
        let (buffer, rod, uid): (ImageData, RectI, String) = if self.is_output {
            let target = rt.targets.lock().get(&time.to_bits()).cloned().ok_or(kOfxStatFailed)?;
            let rod = target.rod;
            (ImageData::Output(target), rod, format!("{}:{}:{}", self.name, time, scale))
        } else {
            let input = self.input.read().clone().ok_or(kOfxStatFailed)?;
            let (img, frame) = input.at(time).ok_or(kOfxStatFailed)?;
            let (depth, comps) = (self.depth(), self.components());
            let key = (self.name.clone(), frame, scale.to_bits(), depth, comps);
            let cached = rt.input_cache.lock().get(&key).cloned();
            let pb = match cached {
                Some(pb) => pb,
                None => {
                    // Convert outside the cache lock: scaling a big frame takes a while.
                    let scaled = img.scaled(scale);
                    let mut buffer = PixelBuffer::new(scaled.bounds(), depth, comps, effect.host.options.negative_row_bytes)
                        .ok_or(kOfxStatErrMemory)?;
                    buffer.fill_from(&scaled);
                    let opaque = comps != Components::Rgba || img.pixels.chunks_exact(4).all(|p| p[3] >= 1.0);
                    let premultiplication = if opaque { kOfxImageOpaque } else { kOfxImageUnPreMultiplied };
                    let pb = Arc::new(InputPixels { buffer, premultiplication });
                    rt.input_cache.lock().entry(key).or_insert(pb).clone()
                }
            };
            let rod = pb.buffer.bounds;
            (ImageData::Input(pb), rod, format!("{}:{}:{}", self.name, frame, scale))
        };
        let pb = buffer.pixels();
        let props = PropertySet::new_read_only(&format!("image {}", self.name));
        props.define(kOfxPropType, pstr(kOfxTypeImage));
        props.define(kOfxImageEffectPropPixelDepth, pstr(pb.depth.ofx_name()));
        props.define(kOfxImageEffectPropComponents, pstr(pb.components.ofx_name()));
        let premult = match &buffer {
            ImageData::Input(i) => pstr(i.premultiplication),
            // The output is what the plugin declared in its clip preferences.
            ImageData::Output(_) => pstring(
                &effect
                    .props
                    .string(kOfxImageEffectPropPreMultiplication, 0)
                    .unwrap_or_else(|| kOfxImagePreMultiplied.to_string_lossy().into_owned()),
            ),
        };
        props.define(kOfxImageEffectPropPreMultiplication, premult);
        // Resolve reports 1 here whatever the real scale: plugins must use the
        // render action's scale.
        let reported = if effect.quirks() == HostQuirks::Resolve { 1.0 } else { scale };
        props.define(kOfxImageEffectPropRenderScale, PropValue::Double(vec![reported, reported]));
        props.define(kOfxImagePropPixelAspectRatio, pdbl(effect.host.options.pixel_aspect));
        props.define(kOfxImagePropData, pptr(pb.data_ptr() as usize));
        props.define(kOfxImagePropBounds, PropValue::Int(pb.bounds.to_ofx().to_vec()));
        props.define(kOfxImagePropRegionOfDefinition, PropValue::Int(rod.to_ofx().to_vec()));
        props.define(kOfxImagePropRowBytes, pint(pb.row_bytes as i32));
        props.define(kOfxImagePropField, pstr(kOfxImageFieldNone));
        props.define(kOfxImagePropUniqueIdentifier, pstring(&uid));
        let obj = Box::new(ImageObj {
            props,
            _data: buffer,
            clip: self.name.clone(),
        });
        let handle = obj.props.handle();
        let live = LiveImage {
            obj,
            instance: effect.id,
            action: ctx.map(|c| c.action).unwrap_or(0),
        };
        LIVE_IMAGES.lock().insert(handle as usize, live);
        Ok(handle)
    }
}

/// The pixels behind an image handle.
enum ImageData {
    Input(Arc<InputPixels>),
    Output(Arc<FrameTarget>),
}

impl ImageData {
    fn pixels(&self) -> &PixelBuffer {
        match self {
            ImageData::Input(p) => &p.buffer,
            ImageData::Output(t) => &t.buffer,
        }
    }
}

/// A fetched image: its property set (first, so the handle is a property set
/// handle) and a reference to its pixels.
#[repr(C)]
pub struct ImageObj {
    /// Image property set (its address is the image handle).
    pub props: PropertySet,
    _data: ImageData,
    /// Name of the clip the image came from.
    pub clip: String,
}

struct LiveImage {
    obj: Box<ImageObj>,
    instance: u64,
    action: u64,
}

/// Every image handed out and not yet released, by handle address.
static LIVE_IMAGES: Lazy<Mutex<HashMap<usize, LiveImage>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// `clipReleaseImage`: false when the handle is not a live image.
pub fn release_image(h: OfxPropertySetHandle) -> bool {
    // Drop the image after releasing the registry lock.
    let removed = LIVE_IMAGES.lock().remove(&(h as usize));
    removed.is_some()
}

/// Removes and returns the images of `instance` still live that were fetched
/// by `action` (or, with `action == None`, all of them).
pub fn take_unreleased(instance: u64, action: Option<u64>) -> Vec<Box<ImageObj>> {
    let mut live = LIVE_IMAGES.lock();
    let keys: Vec<usize> = live
        .iter()
        .filter(|(_, l)| l.instance == instance && action.is_none_or(|a| l.action == a))
        .map(|(k, _)| *k)
        .collect();
    keys.into_iter().filter_map(|k| live.remove(&k)).map(|l| l.obj).collect()
}

/// Number of live images of an instance (for tests and diagnostics).
pub fn live_image_count(instance: u64) -> usize {
    LIVE_IMAGES.lock().values().filter(|l| l.instance == instance).count()
}
