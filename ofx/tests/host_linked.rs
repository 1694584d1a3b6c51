//! End-to-end tests of the headless host with a tiny gain effect written
//! against the raw OFX C API right here and hosted in-process through
//! `Host::load_linked` (no plugin crate, no bundle). They cover the action
//! order, plugin-side parameter edits on a button press (no re-entry, edit
//! blocks, messages), animation seen by renders, normalised defaults per
//! quirk mode, band splitting, negative row bytes with padded output bounds,
//! reverse sequences and leak detection.

use std::collections::HashSet;
use std::ffi::{c_char, c_void, CStr};
use std::os::raw::c_int;
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Mutex, OnceLock};

use ofx::host::*;
use ofx::sys::*;

struct Suites {
    prop: &'static OfxPropertySuiteV1,
    param: &'static OfxParameterSuiteV1,
    effect: &'static OfxImageEffectSuiteV1,
    msg: &'static OfxMessageSuiteV2,
}

static HOST: AtomicPtr<OfxHost> = AtomicPtr::new(std::ptr::null_mut());
static SUITES: OnceLock<Suites> = OnceLock::new();
static WINDOWS: Mutex<Vec<[i32; 4]>> = Mutex::new(Vec::new());
static THREADS: Mutex<Option<HashSet<std::thread::ThreadId>>> = Mutex::new(None);
static UNLOADED: AtomicBool = AtomicBool::new(false);

unsafe extern "C" fn set_host(h: *mut OfxHost) {
    HOST.store(h, Ordering::SeqCst);
}

unsafe extern "C" fn main_entry(action: *const c_char, handle: *const c_void, in_args: OfxPropertySetHandle, _out: OfxPropertySetHandle) -> OfxStatus {
    // SAFETY: the host passes valid arguments for each action.
    catch_unwind(|| unsafe { entry(CStr::from_ptr(action), handle as OfxImageEffectHandle, in_args) }).unwrap_or(kOfxStatFailed)
}

static PLUGIN: OfxPlugin = OfxPlugin {
    pluginApi: kOfxImageEffectPluginApi.as_ptr(),
    apiVersion: 1,
    pluginIdentifier: c"org.test.Gain".as_ptr(),
    pluginVersionMajor: 1,
    pluginVersionMinor: 2,
    setHost: Some(set_host),
    mainEntry: Some(main_entry),
};

unsafe fn fetch<T>(name: &CStr, version: c_int) -> &'static T {
    let h = &*HOST.load(Ordering::SeqCst);
    &*(h.fetchSuite.unwrap()(h.host, name.as_ptr(), version) as *const T)
}

fn s() -> &'static Suites {
    SUITES.get().expect("suites fetched in load")
}

unsafe fn param(effect: OfxImageEffectHandle, name: &CStr) -> (OfxParamHandle, OfxPropertySetHandle) {
    let mut set = std::ptr::null_mut();
    s().effect.getParamSet.unwrap()(effect, &mut set);
    let (mut p, mut props) = (std::ptr::null_mut(), std::ptr::null_mut());
    assert_eq!(s().param.paramGetHandle.unwrap()(set, name.as_ptr(), &mut p, &mut props), kOfxStatOK);
    (p, props)
}

unsafe fn define(set: OfxParamSetHandle, t: &CStr, name: &CStr) -> OfxPropertySetHandle {
    let mut props = std::ptr::null_mut();
    assert_eq!(s().param.paramDefine.unwrap()(set, t.as_ptr(), name.as_ptr(), &mut props), kOfxStatOK);
    props
}

unsafe fn entry(action: &CStr, effect: OfxImageEffectHandle, in_args: OfxPropertySetHandle) -> OfxStatus {
    if action == kOfxActionLoad {
        let _ = SUITES.set(Suites {
            prop: fetch(kOfxPropertySuite, 1),
            param: fetch(kOfxParameterSuite, 1),
            effect: fetch(kOfxImageEffectSuite, 1),
            msg: fetch(kOfxMessageSuite, 2),
        });
        UNLOADED.store(false, Ordering::SeqCst);
        return kOfxStatOK;
    }
    if action == kOfxActionUnload {
        UNLOADED.store(true, Ordering::SeqCst);
        return kOfxStatOK;
    }
    let (p, e) = (s().prop, s().effect);
    let mut props = std::ptr::null_mut();
    e.getPropertySet.unwrap()(effect, &mut props);
    if action == kOfxActionDescribe {
        p.propSetString.unwrap()(props, kOfxImageEffectPropSupportedContexts.as_ptr(), 0, kOfxImageEffectContextFilter.as_ptr());
        p.propSetString.unwrap()(props, kOfxImageEffectPropSupportedPixelDepths.as_ptr(), 0, kOfxBitDepthFloat.as_ptr());
        p.propSetString.unwrap()(props, kOfxImageEffectPluginRenderThreadSafety.as_ptr(), 0, kOfxImageEffectRenderFullySafe.as_ptr());
        return kOfxStatOK;
    }
    if action == kOfxImageEffectActionDescribeInContext {
        for clip in [c"Source", c"Output"] {
            let mut cp = std::ptr::null_mut();
            e.clipDefine.unwrap()(effect, clip.as_ptr(), &mut cp);
            p.propSetString.unwrap()(cp, kOfxImageEffectPropSupportedComponents.as_ptr(), 0, kOfxImageComponentRGBA.as_ptr());
        }
        let mut set = std::ptr::null_mut();
        e.getParamSet.unwrap()(effect, &mut set);
        let gain = define(set, kOfxParamTypeDouble, c"gain");
        p.propSetDouble.unwrap()(gain, kOfxParamPropDefault.as_ptr(), 0, 0.5);
        define(set, kOfxParamTypePushButton, c"go");
        define(set, kOfxParamTypeBoolean, c"leak");
        let center = define(set, kOfxParamTypeDouble2D, c"center");
        p.propSetString.unwrap()(center, kOfxParamPropDoubleType.as_ptr(), 0, kOfxParamDoubleTypeXYAbsolute.as_ptr());
        p.propSetString.unwrap()(center, kOfxParamPropDefaultCoordinateSystem.as_ptr(), 0, kOfxParamCoordinatesNormalised.as_ptr());
        p.propSetDoubleN.unwrap()(center, kOfxParamPropDefault.as_ptr(), 2, [0.5, 0.25].as_ptr());
        return kOfxStatOK;
    }
    if action == kOfxActionInstanceChanged {
        let mut name: *mut c_char = std::ptr::null_mut();
        p.propGetString.unwrap()(in_args, kOfxPropName.as_ptr(), 0, &mut name);
        if CStr::from_ptr(name) == c"go" {
            let mut set = std::ptr::null_mut();
            e.getParamSet.unwrap()(effect, &mut set);
            s().param.paramEditBegin.unwrap()(set, c"press".as_ptr());
            let (gain, _) = param(effect, c"gain");
            s().param.paramSetValue.unwrap()(gain, 2.0f64);
            s().param.paramEditEnd.unwrap()(set);
            s().msg.message.unwrap()(effect as *mut c_void, kOfxMessageWarning.as_ptr(), c"".as_ptr(), c"pressed %s".as_ptr(), name);
        }
        return kOfxStatOK;
    }
    if action == kOfxImageEffectActionRender {
        let mut time = 0.0;
        p.propGetDouble.unwrap()(in_args, kOfxPropTime.as_ptr(), 0, &mut time);
        let mut w = [0; 4];
        p.propGetIntN.unwrap()(in_args, kOfxImageEffectPropRenderWindow.as_ptr(), 4, w.as_mut_ptr());
        WINDOWS.lock().unwrap().push(w);
        THREADS.lock().unwrap().get_or_insert_with(HashSet::new).insert(std::thread::current().id());
        let mut gain = 0.0f64;
        s().param.paramGetValueAtTime.unwrap()(param(effect, c"gain").0, time, &mut gain as *mut f64);
        let mut leak: c_int = 0;
        s().param.paramGetValue.unwrap()(param(effect, c"leak").0, &mut leak as *mut c_int);
        let image = |clip: &CStr| {
            let mut c = std::ptr::null_mut();
            e.clipGetHandle.unwrap()(effect, clip.as_ptr(), &mut c, std::ptr::null_mut());
            let mut img = std::ptr::null_mut();
            assert_eq!(e.clipGetImage.unwrap()(c, time, std::ptr::null(), &mut img), kOfxStatOK);
            let mut data = std::ptr::null_mut();
            p.propGetPointer.unwrap()(img, kOfxImagePropData.as_ptr(), 0, &mut data);
            let mut b = [0; 4];
            p.propGetIntN.unwrap()(img, kOfxImagePropBounds.as_ptr(), 4, b.as_mut_ptr());
            let mut rb = 0;
            p.propGetInt.unwrap()(img, kOfxImagePropRowBytes.as_ptr(), 0, &mut rb);
            (img, data as *mut u8, b, rb as isize)
        };
        let (out, od, ob, orb) = image(c"Output");
        let (src, sd, sb, srb) = image(c"Source");
        for y in w[1]..w[3] {
            for x in w[0]..w[2] {
                let o = od.offset((y - ob[1]) as isize * orb + (x - ob[0]) as isize * 16) as *mut f32;
                if x < sb[0] || x >= sb[2] || y < sb[1] || y >= sb[3] {
                    continue;
                }
                let i = sd.offset((y - sb[1]) as isize * srb + (x - sb[0]) as isize * 16) as *const f32;
                for c in 0..4 {
                    *o.add(c) = *i.add(c) * gain as f32;
                }
            }
        }
        e.clipReleaseImage.unwrap()(out);
        if leak == 0 {
            e.clipReleaseImage.unwrap()(src);
        }
        return kOfxStatOK;
    }
    kOfxStatReplyDefault
}

fn source() -> HostImage {
    let mut img = HostImage::filled(8, 6, [0.5, 0.25, 1.0, 1.0]);
    img.set_pixel(7, 5, [1.0, 1.0, 1.0, 1.0]);
    img
}

fn start(quirks: HostQuirks, negative: bool, pad: u32) -> (Host, Plugin, Instance) {
    let host = Host::new(HostOptions {
        quirks,
        threads: 3,
        negative_row_bytes: negative,
        pad_output_bounds: pad,
        ..HostOptions::default()
    });
    let plugin = host.load_linked(&PLUGIN).expect("the linked plugin loads");
    let mut inst = plugin.create_instance(Context::Filter).expect("instance");
    inst.set_input("Source", ClipInput::Still(source())).unwrap();
    (host, plugin, inst)
}

fn windows() -> Vec<[i32; 4]> {
    std::mem::take(&mut *WINDOWS.lock().unwrap())
}

// One test function: the little plugin keeps its state in statics.
#[test]
fn hosting_a_linked_plugin() {
    // --- standard host ---
    let (host, plugin, mut inst) = start(HostQuirks::Standard, false, 0);
    assert_eq!(plugin.id(), "org.test.Gain");
    assert_eq!(plugin.version(), (1, 2));
    let d = plugin.descriptor_props();
    assert_eq!(d.param("gain").unwrap().get("OfxParamPropDefault"), Some(&PropValue::Double(vec![0.5])));
    assert!(d.clip("Source").is_some());
    assert_eq!(inst.param_value("center", 0.0).unwrap(), ParamValue::Double2D(960.0, 270.0));

    let out = inst.render_frame(0.0, &RenderRequest::default()).unwrap();
    assert_eq!(out.bounds(), RectI::new(0, 0, 8, 6));
    assert_eq!(out.pixel(0, 0), Some([0.25, 0.125, 0.5, 0.5]));
    assert_eq!(out.pixel(7, 5), Some([0.5, 0.5, 0.5, 0.5]));
    assert_eq!(windows(), vec![[0, 0, 8, 6]]);

    // A button press: the plugin sets a value, posts a message, no re-entry.
    let changed_before = plugin.action_log().iter().filter(|(a, _)| a == "OfxActionInstanceChanged").count();
    inst.press("go").unwrap();
    let changed_after = plugin.action_log().iter().filter(|(a, _)| a == "OfxActionInstanceChanged").count();
    assert_eq!(changed_after - changed_before, 1);
    assert_eq!(inst.param_value("gain", 0.0).unwrap(), ParamValue::Double(2.0));
    assert_eq!(inst.edit_blocks(), 1);
    assert_eq!(inst.messages().last().map(|m| m.text.as_str()), Some("pressed go"));
    assert!(inst.press("gain").is_err());
    assert!(matches!(inst.set_param("nope", ParamValue::Double(1.0)), Err(HostError::UnknownParam(_))));

    // Animation reaches the render at its own time; bands cover the window.
    inst.set_param_key("gain", 0.0, ParamValue::Double(1.0)).unwrap();
    inst.set_param_key("gain", 10.0, ParamValue::Double(3.0)).unwrap();
    assert_eq!(inst.param_keys("gain").unwrap(), vec![0.0, 10.0]);
    let banded = RenderRequest {
        split_bands: 3,
        ..RenderRequest::default()
    };
    let out = inst.render_frame(5.0, &banded).unwrap();
    assert_eq!(out.pixel(3, 3), Some([1.0, 0.5, 2.0, 2.0]));
    let mut w = windows();
    w.sort();
    assert_eq!(w, vec![[0, 0, 8, 2], [0, 2, 8, 4], [0, 4, 8, 6]]);

    // Frames in reverse, concurrently, come back in the order asked.
    let seq = inst.render_sequence(&[10, 5, 0], 2, &RenderRequest::default()).unwrap();
    assert_eq!(seq.iter().map(|(f, _)| *f).collect::<Vec<_>>(), vec![10, 5, 0]);
    assert_eq!(seq[0].1.pixel(0, 0).map(|p| p[0]), Some(1.5));
    assert_eq!(seq[2].1.pixel(0, 0).map(|p| p[0]), Some(0.5));
    windows();

    // A render window, and a half-scale render.
    let win = RectI::new(2, 1, 5, 4);
    let out = inst.render_frame(0.0, &RenderRequest { window: Some(win), ..RenderRequest::default() }).unwrap();
    assert_eq!(out.bounds(), win);
    assert_eq!(windows(), vec![[2, 1, 5, 4]]);
    let half = inst.render_frame(0.0, &RenderRequest { scale: 0.5, ..RenderRequest::default() }).unwrap();
    assert_eq!(half.bounds(), RectI::new(0, 0, 4, 3));
    windows();

    // An image that is never released is found.
    assert_eq!(inst.leaked_images(), 0);
    inst.set_param("leak", ParamValue::Bool(true)).unwrap();
    inst.render_frame(0.0, &RenderRequest::default()).unwrap();
    assert_eq!(inst.leaked_images(), 1);
    assert_eq!(inst.leak_details()[0], ("OfxImageEffectActionRender".to_string(), "Source".to_string()));
    inst.set_param("leak", ParamValue::Bool(false)).unwrap();
    windows();

    let json = inst.params_json();
    let saved: ParamsFile = serde_json::from_str(&json).unwrap();
    let gain = saved.params.iter().find(|p| p.name == "gain").unwrap_or_else(|| panic!("{json}"));
    assert!(gain.keys.iter().any(|k| k.time == 10.0 && k.value == SavedValue::Number(Some(3.0))), "{json}");
    drop(inst);
    let log = plugin.action_log();
    assert_eq!(log.first().map(|(a, _)| a.as_str()), Some("OfxActionLoad"));
    assert_eq!(log.last().map(|(a, _)| a.as_str()), Some("OfxActionDestroyInstance"));
    drop(plugin);
    assert!(UNLOADED.load(Ordering::SeqCst));
    drop(host);

    // --- negative row bytes and padded output bounds give the same pixels ---
    let (_h, _p, mut inst) = start(HostQuirks::Standard, true, 3);
    let out = inst.render_frame(0.0, &RenderRequest::default()).unwrap();
    assert_eq!(out.bounds(), RectI::new(0, 0, 8, 6));
    assert_eq!(out.pixel(7, 5), Some([0.5, 0.5, 0.5, 0.5]));
    assert_eq!(inst.leaked_images(), 0);
    windows();
    drop(inst);

    // --- Resolve does not convert normalised defaults ---
    let (_h, _p, inst) = start(HostQuirks::Resolve, false, 0);
    assert_eq!(inst.param_value("center", 0.0).unwrap(), ParamValue::Double2D(0.5, 0.25));
    drop(inst);

    // --- Natron splits every window into `threads` bands ---
    let (_h, _p, mut inst) = start(HostQuirks::Natron, false, 0);
    assert_eq!(inst.param_value("center", 0.0).unwrap(), ParamValue::Double2D(960.0, 270.0));
    *THREADS.lock().unwrap() = None;
    let out = inst.render_frame(0.0, &RenderRequest::default()).unwrap();
    assert_eq!(out.pixel(7, 5), Some([0.5, 0.5, 0.5, 0.5]));
    let mut w = windows();
    w.sort();
    assert_eq!(w, vec![[0, 0, 8, 2], [0, 2, 8, 4], [0, 4, 8, 6]]);
    assert!(THREADS.lock().unwrap().as_ref().is_some_and(|t| !t.is_empty()));
}
