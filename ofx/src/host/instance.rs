//! Effect instances on the Rust side: creation (describe-in-context, then
//! `kOfxActionCreateInstance` on an instance built from the context
//! descriptor), inputs, parameter edits by the host user (each followed by the
//! begin / instance-changed / end triple with reason `kOfxChangeUserEdited`),
//! button presses, clip preference negotiation, messages, leak and edit-block
//! accounting, parameter saving, and destruction (`kOfxActionDestroyInstance`
//! on drop). Rendering lives in `render.rs`.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_void, CStr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::image_effect::*;
use openfx::sys::image_effect_v1::param::kOfxTypeParameter;

use super::animation::Interpolation;
use super::context::ActionCtx;
use super::effect::{self, ClipInput, Context, EffectObj, InstanceRuntime};
use super::error::{HostError, HostResult};
use super::host::HostMessage;
use super::image::{Components, Depth};
use super::params::{ParamError, ParamObj, ParamType, ParamValue};
use super::plugin::PluginShared;
use super::props::*;

/// A live effect instance. Dropping it destroys the instance in the plugin.
pub struct Instance {
    pub(crate) plugin: Arc<PluginShared>,
    pub(crate) effect: Arc<EffectObj>,
    pub(crate) render_lock: Mutex<()>,
    pub(crate) last_rois: Mutex<BTreeMap<String, OfxRectD>>,
    pub(crate) time: f64,
    created: bool,
    /// The overlay interact, once [`Instance::overlay`] created it.
    pub(crate) overlay: once_cell::sync::OnceCell<super::interact::Overlay>,
}

impl Instance {
    pub(crate) fn create(plugin: Arc<PluginShared>, ctx: Context) -> HostResult<Instance> {
        let desc = plugin.describe_in_context(ctx)?;
        let opts = plugin.host.options.clone();
        let props = desc.props.deep_copy("effect instance", true);
        let (w, h) = opts.project_size;
        props.set(kOfxPropType, pstr(kOfxTypeImageEffectInstance));
        props.set(kOfxImageEffectPropContext, pstr(ctx.ofx_name()));
        if opts.instance_data {
            props.set(kOfxPropInstanceData, pptr(0));
        }
        props.set(kOfxPropIsInteractive, pint(0));
        props.set(kOfxImageEffectPropProjectSize, PropValue::Double(vec![w, h]));
        props.set(kOfxImageEffectPropProjectExtent, PropValue::Double(vec![w, h]));
        props.set(kOfxImageEffectPropProjectOffset, PropValue::Double(vec![0.0, 0.0]));
        props.set(kOfxImageEffectPropProjectPixelAspectRatio, pdbl(opts.pixel_aspect));
        props.set(kOfxImageEffectInstancePropEffectDuration, pdbl(1.0));
        props.set(kOfxImageEffectPropFrameRate, pdbl(opts.frame_rate));
        props.set(kOfxImageEffectFrameVarying, pint(0));
        let project = opts.quirks.honours_normalised_defaults().then_some(opts.project_size);
        let params = desc.params.instantiate(project);
        let rt = InstanceRuntime {
            context: ctx,
            targets: Mutex::new(HashMap::new()),
            rod_cache: Mutex::new(HashMap::new()),
            input_cache: Mutex::new(HashMap::new()),
            scale: Mutex::new(1.0),
            leaks: Mutex::new(Vec::new()),
            leaked_objects: Mutex::new(Vec::new()),
            progress: Mutex::new(Vec::new()),
            abort: AtomicBool::new(false),
            frame_range: Mutex::new((0.0, 0.0)),
            render_action_nanos: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        };
        let effect = EffectObj::new(plugin.host.clone(), props, params, Some(rt));
        for c in desc.clips.read().iter() {
            let p = c.props.deep_copy(&format!("clip {}", c.name), true);
            let is_output = c.name == kOfxImageEffectOutputClipName.to_string_lossy();
            p.set(kOfxImageEffectPropPixelDepth, pstr(kOfxBitDepthFloat));
            p.set(kOfxImageEffectPropComponents, pstr(kOfxImageComponentRGBA));
            p.set(kOfxImageClipPropUnmappedPixelDepth, pstr(kOfxBitDepthFloat));
            p.set(kOfxImageClipPropUnmappedComponents, pstr(kOfxImageComponentRGBA));
            p.set(kOfxImageEffectPropPreMultiplication, pstr(kOfxImagePreMultiplied));
            p.set(kOfxImagePropPixelAspectRatio, pdbl(opts.pixel_aspect));
            p.set(kOfxImageEffectPropFrameRate, pdbl(opts.frame_rate));
            p.set(kOfxImageEffectPropUnmappedFrameRate, pdbl(opts.frame_rate));
            p.set(kOfxImageEffectPropFrameRange, PropValue::Double(vec![0.0, 0.0]));
            p.set(kOfxImageEffectPropUnmappedFrameRange, PropValue::Double(vec![0.0, 0.0]));
            p.set(kOfxImageClipPropFieldOrder, pstr(kOfxImageFieldNone));
            p.set(kOfxImageClipPropConnected, pint(is_output as i32));
            p.set(kOfxImageClipPropContinuousSamples, pint(0));
            effect.add_clip(&c.name, p);
        }
        let mut inst = Instance {
            plugin,
            effect,
            render_lock: Mutex::new(()),
            last_rois: Mutex::new(BTreeMap::new()),
            time: 0.0,
            created: false,
            overlay: once_cell::sync::OnceCell::new(),
        };
        inst.action(kOfxActionCreateInstance, None, None, None, None)?;
        inst.created = true;
        Ok(inst)
    }

    /// Sends an instance action, attributing images fetched during it; any
    /// image still held when it returns is recorded as a leak.
    pub(crate) fn action(&self, action: &CStr, in_args: Option<&PropertySet>, out_args: Option<&PropertySet>, time: Option<f64>, scale: Option<f64>) -> HostResult<OfxStatus> {
        let ctx = ActionCtx::action_on(self.effect.id, time, scale);
        let tag = ctx.action;
        let st = self.plugin.call_raw(action, self.effect.handle() as *const c_void, in_args, out_args, ctx);
        self.collect_leaks(&action.to_string_lossy(), Some(tag));
        if st == kOfxStatOK || st == kOfxStatReplyDefault {
            Ok(st)
        } else {
            Err(HostError::ActionFailed {
                action: action.to_string_lossy().into_owned(),
                status: st,
            })
        }
    }

    /// Moves unreleased images of `action` (None: every image of the
    /// instance) to the leak list.
    pub(crate) fn collect_leaks(&self, action_name: &str, action: Option<u64>) {
        let leaked = effect::take_unreleased(self.effect.id, action);
        if leaked.is_empty() {
            return;
        }
        if let Some(rt) = self.effect.rt.as_ref() {
            let mut leaks = rt.leaks.lock();
            for img in &leaked {
                leaks.push((action_name.to_string(), img.clip.clone()));
            }
            rt.leaked_objects.lock().extend(leaked);
        }
    }

    pub(crate) fn rt(&self) -> &InstanceRuntime {
        // Instances are always created with a runtime.
        self.effect.rt.as_ref().expect("instance effect without runtime")
    }

    /// The context the instance was created in.
    pub fn context(&self) -> Context {
        self.rt().context
    }

    /// The plugin identifier.
    pub fn plugin_id(&self) -> &str {
        &self.plugin.id
    }

    /// Feeds an input clip and tells the plugin (instance changed, type clip).
    pub fn set_input(&mut self, clip: &str, input: ClipInput) -> HostResult<()> {
        let c = self.effect.clip(clip).filter(|c| !c.is_output).ok_or_else(|| HostError::UnknownClip(clip.into()))?;
        let (first, last) = input.frame_range();
        let comps = match &input {
            ClipInput::Still(i) => Some(i.components),
            ClipInput::Sequence(f) => f.values().next().map(|i| i.components),
        }
        .unwrap_or(Components::Rgba);
        c.props.set(kOfxImageClipPropConnected, pint(1));
        c.props.set(kOfxImageClipPropUnmappedComponents, pstr(comps.ofx_name()));
        c.props.set(kOfxImageEffectPropComponents, pstr(comps.ofx_name()));
        let opaque = match &input {
            ClipInput::Still(i) => i.is_opaque(),
            ClipInput::Sequence(f) => f.values().all(|i| i.is_opaque()),
        };
        let premult = if opaque { kOfxImageOpaque } else { kOfxImageUnPreMultiplied };
        c.props.set(kOfxImageEffectPropPreMultiplication, pstr(premult));
        let range = PropValue::Double(vec![first as f64, last as f64]);
        c.props.set(kOfxImageEffectPropFrameRange, range.clone());
        c.props.set(kOfxImageEffectPropUnmappedFrameRange, range);
        *c.input.write() = Some(Arc::new(input));
        self.rt().input_cache.lock().clear();
        self.update_frame_range();
        self.instance_changed(kOfxTypeClip, clip)
    }

    /// Disconnects an input clip.
    pub fn clear_input(&mut self, clip: &str) -> HostResult<()> {
        let c = self.effect.clip(clip).filter(|c| !c.is_output).ok_or_else(|| HostError::UnknownClip(clip.into()))?;
        c.props.set(kOfxImageClipPropConnected, pint(0));
        *c.input.write() = None;
        self.rt().input_cache.lock().clear();
        self.update_frame_range();
        self.instance_changed(kOfxTypeClip, clip)
    }

    /// Project frame range = union of the input sequences (0..0 for stills).
    fn update_frame_range(&self) {
        let mut range: Option<(i32, i32)> = None;
        for c in self.effect.clips.read().iter() {
            if let Some(ClipInput::Sequence(f)) = c.input.read().as_deref() {
                if let (Some(a), Some(b)) = (f.keys().next(), f.keys().next_back()) {
                    range = Some(range.map_or((*a, *b), |(x, y)| (x.min(*a), y.max(*b))));
                }
            }
        }
        let (a, b) = range.unwrap_or((0, 0));
        *self.rt().frame_range.lock() = (a as f64, b as f64);
        self.effect.props.set(kOfxImageEffectInstancePropEffectDuration, pdbl((b - a + 1) as f64));
        let out = self.effect.clip(&kOfxImageEffectOutputClipName.to_string_lossy());
        if let Some(o) = out {
            o.props.set(kOfxImageEffectPropFrameRange, PropValue::Double(vec![a as f64, b as f64]));
        }
    }

    /// Moves the timeline (what `paramGetValue` and `getTime` see outside actions).
    pub fn set_time(&mut self, time: f64) {
        self.time = time;
        self.effect.params.set_timeline_time(time);
    }

    fn param(&self, name: &str) -> HostResult<Arc<ParamObj>> {
        self.effect.params.get(name).ok_or_else(|| HostError::UnknownParam(name.into()))
    }

    fn map_param_err(name: &str, e: ParamError) -> HostError {
        match e {
            ParamError::Value(reason) => HostError::BadValue {
                param: name.into(),
                reason,
            },
            ParamError::NoValue => HostError::BadValue {
                param: name.into(),
                reason: "this parameter has no value".into(),
            },
        }
    }

    /// Names of every parameter, in definition order.
    pub fn param_names(&self) -> Vec<String> {
        self.effect.params.all().iter().map(|p| p.name.clone()).collect()
    }

    /// Type of a parameter.
    pub fn param_type(&self, name: &str) -> Option<ParamType> {
        self.effect.params.get(name).map(|p| p.ptype)
    }

    /// Properties of an instance parameter.
    pub fn param_props(&self, name: &str) -> Option<BTreeMap<String, PropValue>> {
        self.effect.params.get(name).map(|p| p.props.snapshot())
    }

    /// Sets a parameter as a user would (static value, or a key at the
    /// current time when animated), then sends instance changed.
    pub fn set_param(&mut self, name: &str, value: ParamValue) -> HostResult<()> {
        let p = self.param(name)?;
        let v = p.from_user(&value).map_err(|e| Self::map_param_err(name, e))?;
        p.set_value(v).map_err(|e| Self::map_param_err(name, e))?;
        self.instance_changed(kOfxTypeParameter, name)
    }

    /// Adds a key (a key at the same time is replaced), then instance changed.
    pub fn set_param_key(&mut self, name: &str, time: f64, value: ParamValue) -> HostResult<()> {
        let p = self.param(name)?;
        let v = p.from_user(&value).map_err(|e| Self::map_param_err(name, e))?;
        p.set_key(time, v).map_err(|e| Self::map_param_err(name, e))?;
        self.instance_changed(kOfxTypeParameter, name)
    }

    /// Interpolation between the keys of a numeric parameter.
    pub fn set_param_interpolation(&mut self, name: &str, interp: Interpolation) -> HostResult<()> {
        self.param(name)?.set_interpolation(interp);
        Ok(())
    }

    /// Value at `time`.
    pub fn param_value(&self, name: &str, time: f64) -> HostResult<ParamValue> {
        let p = self.param(name)?;
        let v = p.raw_value_at(time).map_err(|e| Self::map_param_err(name, e))?;
        Ok(p.to_user(&v))
    }

    /// Key times.
    pub fn param_keys(&self, name: &str) -> HostResult<Vec<f64>> {
        Ok(self.param(name)?.key_times())
    }

    /// Parses command-line text for a parameter: double `1.5`, 2D/3D/colour
    /// `x,y[,z[,w]]`, int, bool `true/false/1/0/yes/no/on/off`, choice by
    /// index or option label / enum, string as is.
    pub fn parse_param_value(&self, name: &str, text: &str) -> HostResult<ParamValue> {
        let p = self.param(name)?;
        let bad = |why: &str| HostError::BadValue {
            param: name.into(),
            reason: format!("'{text}' is not {why}"),
        };
        let nums = |n: usize| -> HostResult<Vec<f64>> {
            let v: Result<Vec<f64>, _> = text.split(',').map(|s| s.trim().parse::<f64>()).collect();
            match v {
                Ok(v) if v.len() == n && v.iter().all(|x| x.is_finite()) => Ok(v),
                _ => Err(bad(&format!("{n} comma-separated number(s)"))),
            }
        };
        let ints = |n: usize| -> HostResult<Vec<i32>> {
            let v: Result<Vec<i32>, _> = text.split(',').map(|s| s.trim().parse::<i32>()).collect();
            match v {
                Ok(v) if v.len() == n => Ok(v),
                _ => Err(bad(&format!("{n} comma-separated integer(s)"))),
            }
        };
        Ok(match p.ptype {
            ParamType::Double => ParamValue::Double(nums(1)?[0]),
            ParamType::Double2D => {
                let v = nums(2)?;
                ParamValue::Double2D(v[0], v[1])
            }
            ParamType::Double3D => {
                let v = nums(3)?;
                ParamValue::Double3D(v[0], v[1], v[2])
            }
            ParamType::Rgb => {
                let v = nums(3)?;
                ParamValue::Rgb(v[0], v[1], v[2])
            }
            ParamType::Rgba => {
                let v = nums(4)?;
                ParamValue::Rgba(v[0], v[1], v[2], v[3])
            }
            ParamType::Integer => ParamValue::Int(ints(1)?[0]),
            ParamType::Integer2D => {
                let v = ints(2)?;
                ParamValue::Int2D(v[0], v[1])
            }
            ParamType::Integer3D => {
                let v = ints(3)?;
                ParamValue::Int3D(v[0], v[1], v[2])
            }
            ParamType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => ParamValue::Bool(true),
                "false" | "0" | "no" | "off" => ParamValue::Bool(false),
                _ => return Err(bad("a boolean (true/false/1/0)")),
            },
            // An option whose label is the text wins over an index: a menu of
            // "256 / 512 / 1024" takes `512` as the option, not index 512.
            ParamType::Choice => {
                let labels = self
                    .param_props(name)
                    .and_then(|p| match p.get("OfxParamPropChoiceOption") {
                        Some(PropValue::String(v)) => Some(v.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                match text.trim().parse::<i32>() {
                    Ok(_) if labels.iter().any(|l| l == text.trim()) => ParamValue::ChoiceByOption(text.trim().to_string()),
                    Ok(i) => ParamValue::Choice(i),
                    Err(_) => ParamValue::ChoiceByOption(text.to_string()),
                }
            }
            ParamType::StrChoice => ParamValue::ChoiceByOption(text.to_string()),
            ParamType::String | ParamType::Custom => ParamValue::String(text.to_string()),
            _ => return Err(bad("accepted: this parameter has no value")),
        })
    }

    /// Presses a push button: instance changed with reason user edited.
    pub fn press(&mut self, button: &str) -> HostResult<()> {
        let p = self.param(button)?;
        if p.ptype != ParamType::PushButton {
            return Err(HostError::BadValue {
                param: button.into(),
                reason: "only push buttons can be pressed".into(),
            });
        }
        self.instance_changed(kOfxTypeParameter, button)
    }

    /// begin instance changed → instance changed → end instance changed.
    fn instance_changed(&self, kind: &CStr, name: &str) -> HostResult<()> {
        let reason = PropertySet::new_read_only("begin instance changed inArgs");
        reason.define(kOfxPropChangeReason, pstr(kOfxChangeUserEdited));
        let t = Some(self.time);
        self.action(kOfxActionBeginInstanceChanged, Some(&reason), None, t, Some(1.0))?;
        let args = PropertySet::new_read_only("instance changed inArgs");
        args.define(kOfxPropType, pstr(kind));
        args.define(kOfxPropName, pstring(name));
        args.define(kOfxPropChangeReason, pstr(kOfxChangeUserEdited));
        args.define(kOfxPropTime, pdbl(self.time));
        args.define(kOfxImageEffectPropRenderScale, PropValue::Double(vec![1.0, 1.0]));
        let r = self.action(kOfxActionInstanceChanged, Some(&args), None, t, Some(1.0));
        // End is sent even when the change failed, to close the bracket.
        let end = self.action(kOfxActionEndInstanceChanged, Some(&reason), None, t, Some(1.0));
        r?;
        end.map(|_| ())
    }

    /// Negotiates clip preferences for a render of `depth` / `components`.
    pub(crate) fn clip_preferences(&self, depth: Depth, components: Components) -> HostResult<()> {
        let supported_depths = self.effect.props.strings(kOfxImageEffectPropSupportedPixelDepths).unwrap_or_default();
        let depth = pick_depth(depth, &supported_depths);
        let out = PropertySet::new("clip preferences outArgs", true);
        let clips = self.effect.clips.read().clone();
        for c in &clips {
            let supported = c.props.strings(kOfxImageEffectPropSupportedComponents).unwrap_or_default();
            let wanted = if c.is_output {
                components
            } else {
                c.props
                    .string(kOfxImageClipPropUnmappedComponents, 0)
                    .and_then(|s| Components::from_ofx(&s))
                    .unwrap_or(Components::Rgba)
            };
            let comps = pick_components(wanted, &supported);
            out.define_str(&format!("OfxImageClipPropComponents_{}", c.name), pstr(comps.ofx_name()));
            out.define_str(&format!("OfxImageClipPropDepth_{}", c.name), pstr(depth.ofx_name()));
            out.define_str(&format!("OfxImageClipPropPAR_{}", c.name), pdbl(1.0));
        }
        out.define(kOfxImageEffectPropFrameRate, pdbl(self.plugin.host.options.frame_rate));
        out.define(kOfxImageClipPropFieldOrder, pstr(kOfxImageFieldNone));
        out.define(kOfxImageEffectPropPreMultiplication, pstr(kOfxImagePreMultiplied));
        out.define(kOfxImageClipPropContinuousSamples, pint(0));
        out.define(kOfxImageEffectFrameVarying, pint(0));
        self.action(kOfxImageEffectActionGetClipPreferences, None, Some(&out), None, None)?;
        for c in &clips {
            let comps = out
                .get_str(&format!("OfxImageClipPropComponents_{}", c.name))
                .and_then(|v| first_string(&v))
                .and_then(|s| Components::from_ofx(&s));
            let d = out
                .get_str(&format!("OfxImageClipPropDepth_{}", c.name))
                .and_then(|v| first_string(&v))
                .and_then(|s| Depth::from_ofx(&s));
            if let Some(comps) = comps {
                c.props.set(kOfxImageEffectPropComponents, pstr(comps.ofx_name()));
            }
            c.props.set(kOfxImageEffectPropPixelDepth, pstr(d.unwrap_or(depth).ofx_name()));
        }
        if let Some(pm) = out.string(kOfxImageEffectPropPreMultiplication, 0) {
            self.effect.props.set(kOfxImageEffectPropPreMultiplication, pstring(&pm));
        }
        if let Some(v) = out.int(kOfxImageEffectFrameVarying, 0) {
            self.effect.props.set(kOfxImageEffectFrameVarying, pint(v));
        }
        self.rt().input_cache.lock().clear();
        Ok(())
    }

    /// Every message posted on this instance (and on its descriptors' handle-less log).
    pub fn messages(&self) -> Vec<HostMessage> {
        self.plugin.host.messages.lock().iter().filter(|m| m.effect == self.effect.id).cloned().collect()
    }

    /// The persistent message currently set on the instance, if any.
    pub fn persistent_message(&self) -> Option<HostMessage> {
        self.plugin.host.persistent.lock().get(&self.effect.id).cloned()
    }

    /// Completed `paramEditBegin` / `paramEditEnd` pairs.
    pub fn edit_blocks(&self) -> usize {
        self.effect.params.edit_blocks()
    }

    /// Images fetched by an action and not released by its end.
    pub fn leaked_images(&self) -> usize {
        self.rt().leaks.lock().len()
    }

    /// (action, clip) of every leaked image.
    pub fn leak_details(&self) -> Vec<(String, String)> {
        self.rt().leaks.lock().clone()
    }

    /// What the image effect suite's `abort` answers from now on (a user
    /// pressing "stop"); cleared when the instance is destroyed.
    /// A clock of the time spent inside the plugin's render actions, summed
    /// over every band and thread; usable while the instance renders.
    pub fn render_action_clock(&self) -> RenderActionClock {
        RenderActionClock(self.rt().render_action_nanos.clone())
    }

    /// Make the `abort` suite function answer `abort` from now on.
    pub fn request_abort(&self, abort: bool) {
        self.rt().abort.store(abort, Ordering::Relaxed);
    }

    /// Progress reports: (label, last value).
    pub fn progress(&self) -> Vec<(String, f64)> {
        self.rt().progress.lock().clone()
    }

    /// Instance property snapshot.
    pub fn props(&self) -> BTreeMap<String, PropValue> {
        self.effect.props.snapshot()
    }

    /// Clip property snapshot.
    pub fn clip_props(&self, clip: &str) -> Option<BTreeMap<String, PropValue>> {
        self.effect.clip(clip).map(|c| c.props.snapshot())
    }

    /// Regions of interest the plugin asked for in the last render (canonical).
    pub fn last_regions_of_interest(&self) -> BTreeMap<String, OfxRectD> {
        self.last_rois.lock().clone()
    }

    /// Every parameter with its static value and keys (and a choice's option label).
    pub fn saved_params(&self) -> super::params_file::ParamsFile {
        super::params_file::ParamsFile::of(&self.plugin.id, &self.effect.params.all())
    }

    /// [`saved_params`](Self::saved_params) as JSON text.
    pub fn params_json(&self) -> String {
        self.saved_params().to_json()
    }

    /// Writes [`params_json`](Self::params_json) to a file.
    pub fn save_params_json(&self, path: &Path) -> HostResult<()> {
        std::fs::write(path, self.params_json())
            .map_err(|e| HostError::Other(format!("Could not write the parameter file '{}': {e}", path.display())))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // The overlay goes first, as a viewer closes before its node.
        self.close_overlay();
        if self.created {
            // As in real hosts the result of destroy is moot.
            let _ = self.action(kOfxActionDestroyInstance, None, None, None, None);
        }
        // Images the plugin never released can go now that it cannot use them.
        self.collect_leaks("instance lifetime", None);
        self.rt().leaked_objects.lock().clear();
        self.rt().abort.store(false, Ordering::Relaxed);
    }
}

fn first_string(v: &PropValue) -> Option<String> {
    match v {
        PropValue::String(s) => s.first().cloned(),
        _ => None,
    }
}

/// The requested depth when supported, else the deepest supported one.
fn pick_depth(wanted: Depth, supported: &[String]) -> Depth {
    let ok = |d: Depth| supported.is_empty() || supported.iter().any(|s| Depth::from_ofx(s) == Some(d));
    [wanted, Depth::Float, Depth::Short, Depth::Byte].into_iter().find(|d| ok(*d)).unwrap_or(wanted)
}

/// The wanted components when supported, else RGBA, RGB, Alpha in that order.
fn pick_components(wanted: Components, supported: &[String]) -> Components {
    let ok = |c: Components| supported.is_empty() || supported.iter().any(|s| Components::from_ofx(s) == Some(c));
    [wanted, Components::Rgba, Components::Rgb, Components::Alpha]
        .into_iter()
        .find(|c| ok(*c))
        .unwrap_or(wanted)
}

/// See [`Instance::render_action_clock`].
#[derive(Clone, Debug)]
pub struct RenderActionClock(Arc<std::sync::atomic::AtomicU64>);

impl RenderActionClock {
    /// Time since the last call (the clock restarts from zero).
    pub fn take(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0.swap(0, Ordering::Relaxed))
    }
}
