//! The host object itself: options ([`HostOptions`], including the quirk mode
//! that imitates DaVinci Resolve or Natron), the host descriptor property set
//! and `OfxHost` struct handed to plugins, the message log, and [`Host`], the
//! entry point of the Rust API (`Host::new`, `Host::load`, `Host::list`).

use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use once_cell::sync::Lazy;
use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::image_effect::*;
use openfx::sys::image_effect_v1::param::*;
use openfx::sys::image_effect_v1::parametric_param::kOfxParamHostPropSupportsParametricAnimation;

use super::error::HostResult;
use super::loader;
use super::plugin::{Plugin, PluginShared};
use super::props::*;
use super::suites;

/// Which real host to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HostQuirks {
    /// A plain, spec-following host ("org.livingportrait.HeadlessHost").
    #[default]
    Standard,
    /// DaVinci Resolve: images report render scale 1 (the render action has
    /// the real one), message suite V2 has NULL `setPersistentMessage` /
    /// `clearPersistentMessage`, normalised parameter defaults are not converted.
    Resolve,
    /// Natron: every render window is split into `threads` horizontal bands
    /// rendered concurrently; normalised defaults are converted; the message
    /// suites drop their variadic arguments and show the format alone.
    Natron,
}

impl HostQuirks {
    /// `kOfxPropName` of the imitated host.
    pub fn host_name(self) -> &'static str {
        match self {
            HostQuirks::Standard => "org.livingportrait.HeadlessHost",
            HostQuirks::Resolve => "DaVinciResolve",
            HostQuirks::Natron => "fr.inria.Natron",
        }
    }
    /// `kOfxPropLabel` of the imitated host.
    pub fn host_label(self) -> &'static str {
        match self {
            HostQuirks::Standard => "Living Portrait headless host",
            HostQuirks::Resolve => "DaVinci Resolve",
            HostQuirks::Natron => "Natron",
        }
    }
    /// Whether `kOfxParamCoordinatesNormalised` defaults are converted.
    pub fn honours_normalised_defaults(self) -> bool {
        self != HostQuirks::Resolve
    }
    /// Parses "standard" / "resolve" / "natron".
    pub fn parse(s: &str) -> Option<HostQuirks> {
        match s.to_ascii_lowercase().as_str() {
            "standard" => Some(HostQuirks::Standard),
            "resolve" | "davinci" | "davinciresolve" => Some(HostQuirks::Resolve),
            "natron" => Some(HostQuirks::Natron),
            _ => None,
        }
    }
}

/// How the host's multithread suite behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MultiThreadMode {
    /// `multiThread` runs every thread asked for, concurrently;
    /// `multiThreadNumCPUs` reports [`HostOptions::threads`].
    #[default]
    Threads,
    /// `multiThreadNumCPUs` reports 1; `multiThread` still runs every thread
    /// asked for.
    OneCpu,
    /// The OpenFX HostSupport library's default suite (its example host and
    /// hosts built on it): `multiThreadNumCPUs` reports 1 and `multiThread`
    /// calls the function once, as thread 0 of 1, whatever was asked.
    Single,
}

impl MultiThreadMode {
    /// Parses "threads" / "one-cpu" / "single".
    pub fn parse(s: &str) -> Option<MultiThreadMode> {
        match s.to_ascii_lowercase().as_str() {
            "threads" | "full" => Some(MultiThreadMode::Threads),
            "one-cpu" | "onecpu" => Some(MultiThreadMode::OneCpu),
            "single" | "hostsupport" => Some(MultiThreadMode::Single),
            _ => None,
        }
    }
}

/// Options of a [`Host`].
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// Host to imitate.
    pub quirks: HostQuirks,
    /// Worker threads for renders and the multithread suite (0 = CPU count).
    pub threads: usize,
    /// How the multithread suite runs the plugin's thread functions.
    pub multithread: MultiThreadMode,
    /// Effect instances have `kOfxPropInstanceData` (off imitates a host
    /// without it: getting or setting it fails).
    pub instance_data: bool,
    /// The parameter suite has `paramGetValueAtTime` (off imitates small hosts
    /// that leave it NULL).
    pub param_value_at_time: bool,
    /// Lay images out top row first with a negative `kOfxImagePropRowBytes`.
    pub negative_row_bytes: bool,
    /// Output image bounds exceed the render window by this many pixels per side.
    pub pad_output_bounds: u32,
    /// Project size in canonical pixels (normalised defaults, project extent).
    pub project_size: (f64, f64),
    /// Frame rate reported on clips and the instance.
    pub frame_rate: f64,
    /// Pixel aspect ratio of every image (1 = square pixels; 2 = anamorphic
    /// 2:1, canonical x = pixel x × 2).
    pub pixel_aspect: f64,
    /// Print plugin messages to stderr as they arrive.
    pub echo_messages: bool,
    /// Ask `kOfxImageEffectActionIsIdentity` before rendering and copy the
    /// input when the plugin says so.
    pub call_is_identity: bool,
    /// Overlays are shown (`kOfxImageEffectPropSupportsOverlays`), so
    /// [`Instance::overlay`](super::Instance::overlay) creates the effect's
    /// interact. Off imitates DaVinci Resolve with its OpenFX overlay toggle off.
    pub overlays_enabled: bool,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            quirks: HostQuirks::Standard,
            threads: 0,
            multithread: MultiThreadMode::Threads,
            instance_data: true,
            param_value_at_time: true,
            negative_row_bytes: false,
            pad_output_bounds: 0,
            project_size: (1920.0, 1080.0),
            frame_rate: 25.0,
            pixel_aspect: 1.0,
            echo_messages: false,
            call_is_identity: true,
            overlays_enabled: true,
        }
    }
}

impl HostOptions {
    /// The effective thread count.
    pub fn thread_count(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            self.threads
        }
    }
}

/// Kind of a plugin message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// `kOfxMessageFatal`.
    Fatal,
    /// `kOfxMessageError`.
    Error,
    /// `kOfxMessageWarning`.
    Warning,
    /// `kOfxMessageMessage`.
    Message,
    /// `kOfxMessageLog`.
    Log,
    /// `kOfxMessageQuestion` (answered yes).
    Question,
    /// Any other type string.
    Other,
}

impl MessageKind {
    /// From a `kOfxMessage*` string.
    pub fn from_ofx(s: &str) -> MessageKind {
        use openfx::sys::image_effect_v1::message::*;
        let is = |c: &CStr| c.to_str() == Ok(s);
        if is(kOfxMessageFatal) {
            MessageKind::Fatal
        } else if is(kOfxMessageError) {
            MessageKind::Error
        } else if is(kOfxMessageWarning) {
            MessageKind::Warning
        } else if is(kOfxMessageMessage) {
            MessageKind::Message
        } else if is(kOfxMessageLog) {
            MessageKind::Log
        } else if is(kOfxMessageQuestion) {
            MessageKind::Question
        } else {
            MessageKind::Other
        }
    }
}

/// A message posted by a plugin through the message suite.
#[derive(Clone, Debug, PartialEq)]
pub struct HostMessage {
    /// Message type.
    pub kind: MessageKind,
    /// The plugin's message id ("" when none).
    pub id: String,
    /// The formatted text.
    pub text: String,
    /// Posted with `setPersistentMessage`.
    pub persistent: bool,
    /// Effect (descriptor or instance) id it was posted on; 0 = no handle.
    pub effect: u64,
}

/// `OfxHost` holds raw pointers; it is only read by plugins.
pub(crate) struct OfxHostBox(pub Box<OfxHost>);
// SAFETY: the struct is immutable after creation and points at the host's
// property set, which is itself thread safe.
unsafe impl Send for OfxHostBox {}
// SAFETY: see above.
unsafe impl Sync for OfxHostBox {}

/// State shared by the host, its plugins and instances.
pub struct HostShared {
    /// Options given at creation.
    pub options: HostOptions,
    /// The host descriptor (boxed: its address is the `OfxHost::host` handle).
    pub props: Box<PropertySet>,
    pub(crate) ofx_host: OfxHostBox,
    /// Every message posted, in order.
    pub messages: Mutex<Vec<HostMessage>>,
    /// Current persistent message per effect id.
    pub persistent: Mutex<HashMap<u64, HostMessage>>,
    /// Suites fetched: (name, version, served).
    pub fetched: Mutex<Vec<(String, i32, bool)>>,
    pub(crate) loaded: Mutex<HashMap<(PathBuf, String), Weak<PluginShared>>>,
}

/// Host descriptor handle → host, so `fetchSuite` can find its quirks.
static HOSTS: Lazy<RwLock<HashMap<usize, Weak<HostShared>>>> = Lazy::new(|| RwLock::new(HashMap::new()));

/// The host owning a host-descriptor handle.
pub(crate) fn host_from_handle(h: OfxPropertySetHandle) -> Option<Arc<HostShared>> {
    HOSTS.read().get(&(h as usize)).and_then(|w| w.upgrade())
}

impl Drop for HostShared {
    fn drop(&mut self) {
        HOSTS.write().remove(&(self.props.handle() as usize));
    }
}

impl HostShared {
    /// Records a plugin message (and echoes it when asked).
    pub fn post_message(&self, msg: HostMessage) {
        if self.options.echo_messages {
            eprintln!("[plugin {:?}{}] {}", msg.kind, if msg.persistent { ", persistent" } else { "" }, msg.text);
        }
        if msg.persistent {
            self.persistent.lock().insert(msg.effect, msg.clone());
        }
        self.messages.lock().push(msg);
    }
}

/// The host descriptor property set.
fn host_descriptor(o: &HostOptions) -> PropertySet {
    let p = PropertySet::new_read_only("host");
    let q = o.quirks;
    p.define(kOfxPropType, pstr(kOfxTypeImageEffectHost));
    p.define(kOfxPropName, pstring(q.host_name()));
    p.define(kOfxPropLabel, pstring(q.host_label()));
    p.define(kOfxPropVersion, PropValue::Int(vec![1, 0, 0]));
    p.define(kOfxPropVersionLabel, pstring(env!("CARGO_PKG_VERSION")));
    p.define(kOfxPropAPIVersion, PropValue::Int(vec![1, 5]));
    p.define(kOfxPropHostOSHandle, pptr(0));
    p.define(kOfxImageEffectHostPropIsBackground, pint(1));
    p.define(kOfxImageEffectPropSupportsOverlays, pint(o.overlays_enabled as i32));
    p.define(kOfxImageEffectPropSupportsMultiResolution, pint(1));
    p.define(kOfxImageEffectPropSupportsTiles, pint(1));
    p.define(kOfxImageEffectPropTemporalClipAccess, pint(1));
    p.define(kOfxImageEffectPropSupportsMultipleClipDepths, pint(1));
    p.define(kOfxImageEffectPropSupportsMultipleClipPARs, pint(0));
    p.define(kOfxImageEffectPropSetableFrameRate, pint(0));
    p.define(kOfxImageEffectPropSetableFielding, pint(0));
    p.define(
        kOfxImageEffectPropSupportedComponents,
        pstrs(&[kOfxImageComponentRGBA, kOfxImageComponentRGB, kOfxImageComponentAlpha]),
    );
    p.define(
        kOfxImageEffectPropSupportedContexts,
        pstrs(&[kOfxImageEffectContextFilter, kOfxImageEffectContextGeneral]),
    );
    p.define(
        kOfxImageEffectPropSupportedPixelDepths,
        pstrs(&[kOfxBitDepthByte, kOfxBitDepthShort, kOfxBitDepthFloat]),
    );
    p.define(kOfxImageEffectInstancePropSequentialRender, pint(1));
    p.define(kOfxImageEffectHostPropNativeOrigin, pstr(kOfxHostNativeOriginBottomLeft));
    p.define(kOfxImageEffectPropRenderQualityDraft, pint(0));
    p.define(kOfxParamHostPropSupportsCustomInteract, pint(0));
    p.define(kOfxParamHostPropSupportsCustomAnimation, pint(0));
    p.define(kOfxParamHostPropSupportsStringAnimation, pint(0));
    p.define(kOfxParamHostPropSupportsBooleanAnimation, pint(0));
    p.define(kOfxParamHostPropSupportsChoiceAnimation, pint(0));
    p.define(kOfxParamHostPropSupportsStrChoice, pint(1));
    p.define(kOfxParamHostPropSupportsStrChoiceAnimation, pint(0));
    p.define(kOfxParamHostPropSupportsParametricAnimation, pint(0));
    p.define(kOfxParamHostPropMaxParameters, pint(-1));
    p.define(kOfxParamHostPropMaxPages, pint(0));
    p.define(kOfxParamHostPropPageRowColumnCount, PropValue::Int(vec![0, 0]));
    p
}

/// A headless OFX host. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Host {
    pub(crate) shared: Arc<HostShared>,
}

/// A plugin found by [`Host::list`].
#[derive(Clone, Debug, PartialEq)]
pub struct PluginInfo {
    /// Plugin identifier.
    pub id: String,
    /// (major, minor) version.
    pub version: (u32, u32),
    /// Binary the plugin lives in.
    pub binary: PathBuf,
}

impl Host {
    /// A new host with these options.
    pub fn new(options: HostOptions) -> Host {
        suites::install_varargs_callbacks();
        // multiThreadNumCPUs has no handle to find its host: the most recently
        // created host's thread count wins (0 = CPU count).
        suites::threads::CONFIGURED_THREADS.store(options.threads, std::sync::atomic::Ordering::Relaxed);
        let props = Box::new(host_descriptor(&options));
        let ofx_host = OfxHostBox(Box::new(OfxHost {
            host: props.handle(),
            fetchSuite: Some(suites::fetch_suite),
        }));
        let shared = Arc::new(HostShared {
            options,
            props,
            ofx_host,
            messages: Mutex::new(Vec::new()),
            persistent: Mutex::new(HashMap::new()),
            fetched: Mutex::new(Vec::new()),
            loaded: Mutex::new(HashMap::new()),
        });
        HOSTS.write().insert(shared.props.handle() as usize, Arc::downgrade(&shared));
        Host { shared }
    }

    /// The options given at creation.
    pub fn options(&self) -> &HostOptions {
        &self.shared.options
    }

    /// Loads and describes plugin `id`. `path` may be a `.ofx.bundle`
    /// directory, a `.ofx` / `.so` binary, or a directory searched for bundles.
    /// Loading the same plugin twice returns the same loaded plugin.
    pub fn load(&self, path: &Path, id: &str) -> HostResult<Plugin> {
        PluginShared::load(&self.shared, path, id).map(Plugin::from_shared)
    }

    /// Hosts a plugin linked into the running program instead of loaded from
    /// a bundle (for example a plugin crate's own `OfxGetPlugin(0)` in its
    /// tests); otherwise the same as [`load`](Self::load). The plugin is
    /// loaded anew on every call.
    pub fn load_linked(&self, plugin: &'static OfxPlugin) -> HostResult<Plugin> {
        PluginShared::load_linked(&self.shared, plugin).map(Plugin::from_shared)
    }

    /// Every plugin identifier in the bundles or binaries under `paths`
    /// (binaries are opened but no action is sent). Like a host scanning its
    /// plugin path, entries that do not exist and binaries that fail to load
    /// are skipped — unless nothing at all is found, then the first problem
    /// is the error.
    pub fn list(&self, paths: &[PathBuf]) -> HostResult<Vec<PluginInfo>> {
        let mut out = Vec::new();
        let mut first_error = None;
        for p in paths {
            let bins = match loader::candidate_binaries(std::slice::from_ref(p)) {
                Ok(b) => b,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            for bin in bins {
                match loader::Binary::open(&bin, &self.shared.ofx_host.0) {
                    Ok(lib) => out.extend(lib.plugin_infos()),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        match first_error {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    /// Every message posted so far, by any plugin or instance of this host.
    pub fn messages(&self) -> Vec<HostMessage> {
        self.shared.messages.lock().clone()
    }

    /// Suites the plugins asked for: (name, version, served).
    pub fn fetched_suites(&self) -> Vec<(String, i32, bool)> {
        self.shared.fetched.lock().clone()
    }

    /// A snapshot of the host descriptor properties.
    pub fn descriptor(&self) -> std::collections::BTreeMap<String, PropValue> {
        self.shared.props.snapshot()
    }
}
