//! A loaded plugin: the binary it lives in, its main entry, its descriptors
//! (the one built by `kOfxActionDescribe` and one per context built by
//! `kOfxImageEffectActionDescribeInContext`), the action log and the
//! plugin-wide render lock. Loading sends `setHost` → `kOfxActionLoad` →
//! `kOfxActionDescribe`; dropping the last reference sends `kOfxActionUnload`
//! and then unloads the binary. Every call into the plugin goes through
//! [`PluginShared::call`], which never holds a host lock while the plugin runs.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::image_effect::*;

use super::context::{self, ActionCtx};
use super::effect::{Context, EffectObj};
use super::error::{HostError, HostResult};
use super::host::HostShared;
use super::instance::Instance;
use super::loader::{self, Binary, PluginPtr};
use super::params::ParamSetObj;
use super::props::*;

/// The described property sets of a plugin, for inspection by tests.
#[derive(Clone, Debug, Default)]
pub struct DescriptorProps {
    /// Effect descriptor properties.
    pub effect: BTreeMap<String, PropValue>,
    /// Clip descriptors in definition order.
    pub clips: Vec<(String, BTreeMap<String, PropValue>)>,
    /// Parameter descriptors in definition order.
    pub params: Vec<(String, BTreeMap<String, PropValue>)>,
}

impl DescriptorProps {
    /// Properties of a clip descriptor.
    pub fn clip(&self, name: &str) -> Option<&BTreeMap<String, PropValue>> {
        self.clips.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }
    /// Properties of a parameter descriptor.
    pub fn param(&self, name: &str) -> Option<&BTreeMap<String, PropValue>> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    fn of(e: &EffectObj) -> DescriptorProps {
        DescriptorProps {
            effect: e.props.snapshot(),
            clips: e.clips.read().iter().map(|c| (c.name.clone(), c.props.snapshot())).collect(),
            params: e.params.all().iter().map(|p| (p.name.clone(), p.props.snapshot())).collect(),
        }
    }
}

type MainEntry = unsafe extern "C" fn(*const std::os::raw::c_char, *const c_void, OfxPropertySetHandle, OfxPropertySetHandle) -> OfxStatus;

/// Shared state of a loaded plugin.
pub struct PluginShared {
    /// The owning host.
    pub host: Arc<HostShared>,
    /// Plugin identifier.
    pub id: String,
    /// (major, minor) version.
    pub version: (u32, u32),
    /// Binary the plugin lives in.
    pub binary: PathBuf,
    main: MainEntry,
    /// The descriptor built by `kOfxActionDescribe`.
    pub descriptor: Arc<EffectObj>,
    contexts: Mutex<HashMap<Context, Arc<EffectObj>>>,
    last_context: Mutex<Option<Context>>,
    /// Every action sent, in order (name, and for instance actions the effect id).
    pub action_log: Mutex<Vec<(String, u64)>>,
    loaded: bool,
    // Declared last: the library must outlive everything above.
    _binary: Binary,
}

/// Serialises renders of plugins that declare `kOfxImageEffectRenderUnsafe`.
pub static GLOBAL_RENDER_LOCK: Mutex<()> = parking_lot::const_mutex(());

impl PluginShared {
    /// Finds, opens, loads and describes plugin `id` under `path`.
    pub fn load(host: &Arc<HostShared>, path: &Path, id: &str) -> HostResult<Arc<PluginShared>> {
        let candidates = loader::candidate_binaries(&[path.to_path_buf()])?;
        let mut available = Vec::new();
        let mut first_error = None;
        for bin_path in &candidates {
            let key = (bin_path.canonicalize().unwrap_or_else(|_| bin_path.clone()), id.to_string());
            if let Some(existing) = host.loaded.lock().get(&key).and_then(|w| w.upgrade()) {
                return Ok(existing);
            }
            let binary = match Binary::open(bin_path, &host.ofx_host.0) {
                Ok(b) => b,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            match binary.find(id) {
                Some(ptr) => {
                    let shared = PluginShared::start(host, binary, ptr, id)?;
                    host.loaded.lock().insert(key, Arc::downgrade(&shared));
                    return Ok(shared);
                }
                None => available.extend(binary.plugin_infos().into_iter().map(|i| i.id)),
            }
        }
        match first_error {
            Some(e) if available.is_empty() => Err(e),
            _ => Err(HostError::PluginNotFound {
                id: id.to_string(),
                available,
            }),
        }
    }

    /// Hosts a plugin linked into the running program (see [`Host::load_linked`](super::Host::load_linked)).
    pub(crate) fn load_linked(host: &Arc<HostShared>, plugin: &'static OfxPlugin) -> HostResult<Arc<PluginShared>> {
        let binary = Binary::linked(plugin);
        let ptr = PluginPtr(plugin);
        let id = binary
            .plugin_infos()
            .into_iter()
            .next()
            .map(|i| i.id)
            .ok_or_else(|| HostError::Other("The linked plugin is not an OFX image effect plugin".into()))?;
        PluginShared::start(host, binary, ptr, &id)
    }

    /// setHost → Load → Describe.
    fn start(host: &Arc<HostShared>, binary: Binary, ptr: PluginPtr, id: &str) -> HostResult<Arc<PluginShared>> {
        // SAFETY: pointer from OfxGetPlugin of a binary we keep loaded.
        let plugin = unsafe { &*ptr.0 };
        let main = plugin.mainEntry.ok_or_else(|| HostError::Other(format!("The plugin '{id}' has no main entry point")))?;
        if let Some(set_host) = plugin.setHost {
            // SAFETY: the OfxHost box lives as long as the host, which this
            // plugin keeps alive through `host`.
            unsafe { set_host(&*host.ofx_host.0 as *const OfxHost as *mut OfxHost) };
        }
        let props = PropertySet::new("effect descriptor", true);
        default_effect_props(&props, &binary.path);
        let descriptor = EffectObj::new(host.clone(), props, ParamSetObj::new(true), None);
        let mut shared = PluginShared {
            host: host.clone(),
            id: id.to_string(),
            version: (plugin.pluginVersionMajor, plugin.pluginVersionMinor),
            binary: binary.path.clone(),
            main,
            descriptor,
            contexts: Mutex::new(HashMap::new()),
            last_context: Mutex::new(None),
            action_log: Mutex::new(Vec::new()),
            loaded: false,
            _binary: binary,
        };
        shared.call(kOfxActionLoad, std::ptr::null(), None, None, ActionCtx::default())?;
        shared.loaded = true;
        let shared = Arc::new(shared);
        let h = shared.descriptor.handle() as *const c_void;
        shared.call(kOfxActionDescribe, h, None, None, ActionCtx::default())?;
        Ok(shared)
    }

    /// Sends an action; the plugin runs with `ctx` as the thread's context.
    /// Returns the raw status.
    pub(crate) fn call_raw(&self, action: &CStr, handle: *const c_void, in_args: Option<&PropertySet>, out_args: Option<&PropertySet>, ctx: ActionCtx) -> OfxStatus {
        self.action_log.lock().push((action.to_string_lossy().into_owned(), ctx.instance));
        let inh = in_args.map(|p| p.handle()).unwrap_or(std::ptr::null_mut());
        let outh = out_args.map(|p| p.handle()).unwrap_or(std::ptr::null_mut());
        // SAFETY: main entry of a loaded plugin called with valid handles (or
        // NULL where the specification says so); no host lock is held here.
        context::with_ctx(ctx, || unsafe { (self.main)(action.as_ptr(), handle, inh, outh) })
    }

    /// Like [`call_raw`](Self::call_raw); OK and ReplyDefault are success,
    /// anything else is [`HostError::ActionFailed`] naming the action.
    pub(crate) fn call(&self, action: &CStr, handle: *const c_void, in_args: Option<&PropertySet>, out_args: Option<&PropertySet>, ctx: ActionCtx) -> HostResult<OfxStatus> {
        let st = self.call_raw(action, handle, in_args, out_args, ctx);
        if st == kOfxStatOK || st == kOfxStatReplyDefault {
            Ok(st)
        } else {
            Err(HostError::ActionFailed {
                action: action.to_string_lossy().into_owned(),
                status: st,
            })
        }
    }

    /// Contexts the plugin declared.
    pub fn supported_contexts(&self) -> Vec<String> {
        self.descriptor.props.strings(kOfxImageEffectPropSupportedContexts).unwrap_or_default()
    }

    /// The descriptor of a context, running describe-in-context the first time.
    pub fn describe_in_context(&self, ctx: Context) -> HostResult<Arc<EffectObj>> {
        if let Some(d) = self.contexts.lock().get(&ctx) {
            return Ok(d.clone());
        }
        let supported = self.supported_contexts();
        if !supported.iter().any(|s| s.as_str() == ctx.ofx_name().to_string_lossy()) {
            return Err(HostError::ContextUnsupported {
                context: ctx.short_name().into(),
                supported,
            });
        }
        let props = self.descriptor.props.deep_copy("effect descriptor in context", true);
        props.set(kOfxImageEffectPropContext, pstr(ctx.ofx_name()));
        let d = EffectObj::new(self.host.clone(), props, ParamSetObj::new(true), None);
        let in_args = PropertySet::new_read_only("describe in context inArgs");
        in_args.define(kOfxImageEffectPropContext, pstr(ctx.ofx_name()));
        self.call(kOfxImageEffectActionDescribeInContext, d.handle() as *const c_void, Some(&in_args), None, ActionCtx::default())?;
        self.contexts.lock().insert(ctx, d.clone());
        *self.last_context.lock() = Some(ctx);
        Ok(d)
    }

    /// Descriptor snapshot: base effect props plus the clips and params of the
    /// most recently described context (empty before any).
    pub fn descriptor_props(&self) -> DescriptorProps {
        let mut d = DescriptorProps::of(&self.descriptor);
        let last = *self.last_context.lock();
        if let Some(c) = last.and_then(|c| self.contexts.lock().get(&c).cloned()) {
            let inctx = DescriptorProps::of(&c);
            d.clips = inctx.clips;
            d.params = inctx.params;
        }
        d
    }
}

impl Drop for PluginShared {
    fn drop(&mut self) {
        if self.loaded {
            // The result of unload is moot: the binary goes either way.
            let _ = self.call_raw(kOfxActionUnload, std::ptr::null(), None, None, ActionCtx::default());
        }
    }
}

/// The properties of a fresh effect descriptor.
fn default_effect_props(p: &PropertySet, binary: &Path) {
    p.define(kOfxPropType, pstr(kOfxTypeImageEffect));
    p.define(kOfxPropLabel, pstring(""));
    p.define(kOfxPropShortLabel, pstring(""));
    p.define(kOfxPropLongLabel, pstring(""));
    p.define(kOfxPropVersion, PropValue::Int(vec![0]));
    p.define(kOfxPropVersionLabel, pstring(""));
    p.define(kOfxPropPluginDescription, pstring(""));
    p.define(kOfxImageEffectPropSupportedContexts, PropValue::String(vec![]));
    p.define(kOfxImageEffectPluginPropGrouping, pstring(""));
    p.define(kOfxImageEffectPluginPropSingleInstance, pint(0));
    p.define(kOfxImageEffectPluginRenderThreadSafety, pstr(kOfxImageEffectRenderInstanceSafe));
    p.define(kOfxImageEffectPluginPropHostFrameThreading, pint(1));
    p.define(kOfxImageEffectPluginPropOverlayInteractV1, pptr(0));
    p.define(kOfxImageEffectPluginPropOverlayInteractV2, pptr(0));
    p.define(kOfxImageEffectPropSupportsMultiResolution, pint(1));
    p.define(kOfxImageEffectPropSupportsTiles, pint(1));
    p.define(kOfxImageEffectPropTemporalClipAccess, pint(0));
    p.define(kOfxImageEffectPropSupportedPixelDepths, PropValue::String(vec![]));
    p.define(kOfxImageEffectPluginPropFieldRenderTwiceAlways, pint(1));
    p.define(kOfxImageEffectPropSupportsMultipleClipDepths, pint(0));
    p.define(kOfxImageEffectPropSupportsMultipleClipPARs, pint(0));
    p.define(kOfxImageEffectPropClipPreferencesSlaveParam, PropValue::String(vec![]));
    p.define(kOfxImageEffectInstancePropSequentialRender, pint(0));
    p.define(kOfxPluginPropFilePath, pstring(&binary.to_string_lossy()));
    p.define(kOfxImageEffectPropPluginHandle, pptr(0));
}

/// A loaded plugin (cheap to clone). Dropping the last clone — and the last
/// instance — sends `kOfxActionUnload` and unloads the binary.
#[derive(Clone)]
pub struct Plugin {
    pub(crate) shared: Arc<PluginShared>,
}

impl Plugin {
    pub(crate) fn from_shared(shared: Arc<PluginShared>) -> Plugin {
        Plugin { shared }
    }

    /// The plugin identifier.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// (major, minor) version.
    pub fn version(&self) -> (u32, u32) {
        self.shared.version
    }

    /// Path of the loaded binary.
    pub fn binary(&self) -> &Path {
        &self.shared.binary
    }

    /// Contexts the plugin declared in describe.
    pub fn supported_contexts(&self) -> Vec<String> {
        self.shared.supported_contexts()
    }

    /// Described properties (see [`PluginShared::descriptor_props`]).
    pub fn descriptor_props(&self) -> DescriptorProps {
        self.shared.descriptor_props()
    }

    /// Runs describe-in-context (once) and returns that context's descriptors.
    pub fn context_descriptor(&self, ctx: Context) -> HostResult<DescriptorProps> {
        self.shared.describe_in_context(ctx).map(|d| DescriptorProps::of(&d))
    }

    /// Actions sent so far: (action name, effect id or 0).
    pub fn action_log(&self) -> Vec<(String, u64)> {
        self.shared.action_log.lock().clone()
    }

    /// Describes the context if needed and creates an instance.
    pub fn create_instance(&self, ctx: Context) -> HostResult<Instance> {
        Instance::create(self.shared.clone(), ctx)
    }
}
