//! Tests of the suites through their C function pointers, exactly as a plugin
//! calls them — including the variadic parameter and message functions of the
//! C shim, which Rust can call (but not define).

use std::ffi::{c_void, CStr, CString};
use std::os::raw::{c_char, c_int};
use std::sync::Arc;

use openfx::sys::generic::core::*;
use openfx::sys::generic::property::OfxPropertySuiteV1;
use openfx::sys::image_effect_v1::message::*;
use openfx::sys::image_effect_v1::param::*;

use super::*;
use crate::host::effect::EffectObj;
use crate::host::params::{ParamSetObj, ParamType};
use crate::host::props::{pint, PropValue, PropertySet};
use crate::host::{Host, HostOptions, HostQuirks, MessageKind};

fn suite<T>(host: &Host, name: &CStr, version: c_int) -> Option<&'static T> {
    // SAFETY: fetch_suite returns NULL or a pointer to a static suite of type T.
    let p = unsafe { fetch_suite(host.shared.props.handle(), name.as_ptr(), version) } as *const T;
    // SAFETY: statics live for the whole program.
    unsafe { p.as_ref() }
}

fn params() -> ParamSetObj {
    let d = ParamSetObj::new(true);
    for (t, n) in [
        (ParamType::Double, "d"),
        (ParamType::Double2D, "d2"),
        (ParamType::Integer, "i"),
        (ParamType::Boolean, "b"),
        (ParamType::String, "s"),
        (ParamType::Rgba, "c"),
        (ParamType::PushButton, "go"),
    ] {
        d.define(t, n).unwrap();
    }
    d.instantiate(None)
}

fn handle(set: &ParamSetObj, ps: &OfxParameterSuiteV1, name: &str) -> OfxParamHandle {
    let n = CString::new(name).unwrap();
    let mut h: OfxParamHandle = std::ptr::null_mut();
    // SAFETY: valid set handle, name and out pointer; props may be NULL.
    let st = unsafe { ps.paramGetHandle.unwrap()(set.handle(), n.as_ptr(), &mut h, std::ptr::null_mut()) };
    assert_eq!(st, kOfxStatOK);
    h
}

#[test]
fn variadic_param_values_round_trip() {
    let host = Host::new(HostOptions::default());
    let ps: &OfxParameterSuiteV1 = suite(&host, kOfxParameterSuite, 1).unwrap();
    let set = params();
    let (get, get_at, set_v, set_at) = (
        ps.paramGetValue.unwrap(),
        ps.paramGetValueAtTime.unwrap(),
        ps.paramSetValue.unwrap(),
        ps.paramSetValueAtTime.unwrap(),
    );
    // SAFETY: every call passes the argument types the parameter type requires.
    unsafe {
        let d = handle(&set, ps, "d");
        assert_eq!(set_v(d, 2.5f64), kOfxStatOK);
        let mut x = 0.0f64;
        assert_eq!(get(d, &mut x as *mut f64), kOfxStatOK);
        assert_eq!(x, 2.5);
        assert_eq!(set_at(d, 0.0, 0.0f64), kOfxStatOK);
        assert_eq!(set_at(d, 10.0, 10.0f64), kOfxStatOK);
        assert_eq!(get_at(d, 10.0, &mut x as *mut f64), kOfxStatOK);
        assert_eq!(x, 10.0);
        let mut n: u32 = 0;
        assert_eq!(ps.paramGetNumKeys.unwrap()(d, &mut n), kOfxStatOK);
        assert_eq!(n, 2);
        let mut dv = 0.0f64;
        assert_eq!(ps.paramGetDerivative.unwrap()(d, 5.0, &mut dv as *mut f64), kOfxStatOK);
        assert!((dv - 1.5).abs() < 1e-12);
        let mut integral = 0.0f64;
        assert_eq!(ps.paramGetIntegral.unwrap()(d, 0.0, 10.0, &mut integral as *mut f64), kOfxStatOK);
        assert!((integral - 50.0).abs() < 1e-9);
        let mut idx: c_int = 0;
        assert_eq!(ps.paramGetKeyIndex.unwrap()(d, 5.0, 1, &mut idx), kOfxStatOK);
        assert_eq!(idx, 1);
        assert_eq!(ps.paramGetKeyIndex.unwrap()(d, 50.0, 1, &mut idx), kOfxStatFailed);
        assert_eq!(idx, -1);
        assert_eq!(ps.paramDeleteKey.unwrap()(d, 3.0), kOfxStatErrBadIndex);
        let mut t = 0.0;
        assert_eq!(ps.paramGetKeyTime.unwrap()(d, 7, &mut t), kOfxStatErrBadIndex);

        let d2 = handle(&set, ps, "d2");
        assert_eq!(set_v(d2, 1.0f64, -2.0f64), kOfxStatOK);
        let (mut a, mut b) = (0.0f64, 0.0f64);
        assert_eq!(get(d2, &mut a as *mut f64, &mut b as *mut f64), kOfxStatOK);
        assert_eq!((a, b), (1.0, -2.0));

        let c = handle(&set, ps, "c");
        assert_eq!(set_v(c, 0.1f64, 0.2f64, 0.3f64, 0.4f64), kOfxStatOK);
        let mut rgba = [0.0f64; 4];
        let p = rgba.as_mut_ptr();
        assert_eq!(get(c, p, p.add(1), p.add(2), p.add(3)), kOfxStatOK);
        assert_eq!(rgba, [0.1, 0.2, 0.3, 0.4]);

        let i = handle(&set, ps, "i");
        assert_eq!(set_v(i, 42 as c_int), kOfxStatOK);
        let mut iv: c_int = 0;
        assert_eq!(get(i, &mut iv as *mut c_int), kOfxStatOK);
        assert_eq!(iv, 42);
        // Integer params have no derivative.
        assert_eq!(ps.paramGetDerivative.unwrap()(i, 0.0, &mut iv as *mut c_int), kOfxStatErrUnsupported);

        let b = handle(&set, ps, "b");
        assert_eq!(set_v(b, 1 as c_int), kOfxStatOK);
        let mut bv: c_int = 0;
        assert_eq!(get(b, &mut bv as *mut c_int), kOfxStatOK);
        assert_eq!(bv, 1);

        let s = handle(&set, ps, "s");
        let text = CString::new("héllo %s").unwrap();
        assert_eq!(set_v(s, text.as_ptr()), kOfxStatOK);
        let mut out: *const c_char = std::ptr::null();
        assert_eq!(get(s, &mut out as *mut *const c_char), kOfxStatOK);
        assert_eq!(CStr::from_ptr(out).to_str().unwrap(), "héllo %s");

        let go = handle(&set, ps, "go");
        assert_eq!(get(go, &mut x as *mut f64), kOfxStatErrBadHandle);
        assert_eq!(get(std::ptr::null_mut(), &mut x as *mut f64), kOfxStatErrBadHandle);
    }
    // Plugin-set values are visible to the host.
    assert_eq!(set.get("i").unwrap().numbers_at(0.0).unwrap(), vec![42.0]);
}

#[test]
fn param_define_and_edit_blocks() {
    let host = Host::new(HostOptions::default());
    let ps: &OfxParameterSuiteV1 = suite(&host, kOfxParameterSuite, 1).unwrap();
    let d = ParamSetObj::new(true);
    let mut props: OfxPropertySetHandle = std::ptr::null_mut();
    let name = CString::new("gain").unwrap();
    // SAFETY: valid handles, strings and out pointers.
    unsafe {
        assert_eq!(ps.paramDefine.unwrap()(d.handle(), kOfxParamTypeDouble.as_ptr(), name.as_ptr(), &mut props), kOfxStatOK);
        assert!(PropertySet::from_handle(props).is_some());
        assert_eq!(ps.paramDefine.unwrap()(d.handle(), kOfxParamTypeDouble.as_ptr(), name.as_ptr(), &mut props), kOfxStatErrExists);
        assert_eq!(ps.paramDefine.unwrap()(d.handle(), c"NoSuchType".as_ptr(), c"x".as_ptr(), &mut props), kOfxStatErrUnknown);
        assert_eq!(ps.paramEditBegin.unwrap()(d.handle(), name.as_ptr()), kOfxStatOK);
        assert_eq!(ps.paramEditEnd.unwrap()(d.handle()), kOfxStatOK);
        assert_eq!(ps.paramEditEnd.unwrap()(d.handle()), kOfxStatFailed);
    }
    assert_eq!(d.edit_blocks(), 1);
}

#[test]
fn property_suite_statuses() {
    let host = Host::new(HostOptions::default());
    let prop: &OfxPropertySuiteV1 = suite(&host, openfx::sys::generic::property::kOfxPropertySuite, 1).unwrap();
    let set = PropertySet::new("t", false);
    set.define_str("n", PropValue::Int(vec![1, 2, 3]));
    let h = set.handle();
    let mut v = [0 as c_int; 3];
    // SAFETY: valid handle, names and out pointers.
    unsafe {
        assert_eq!(prop.propGetIntN.unwrap()(h, c"n".as_ptr(), 3, v.as_mut_ptr()), kOfxStatOK);
        assert_eq!(v, [1, 2, 3]);
        assert_eq!(prop.propGetIntN.unwrap()(h, c"n".as_ptr(), 4, v.as_mut_ptr()), kOfxStatErrBadIndex);
        assert_eq!(prop.propGetInt.unwrap()(h, c"missing".as_ptr(), 0, v.as_mut_ptr()), kOfxStatErrUnknown);
        let mut d = 0.0;
        assert_eq!(prop.propGetDouble.unwrap()(h, c"n".as_ptr(), 0, &mut d), kOfxStatErrValue);
        let mut dim = 0;
        assert_eq!(prop.propGetDimension.unwrap()(h, c"n".as_ptr(), &mut dim), kOfxStatOK);
        assert_eq!(dim, 3);
        assert_eq!(prop.propSetInt.unwrap()(h, c"n".as_ptr(), 0, 9), kOfxStatOK);
        assert_eq!(prop.propReset.unwrap()(h, c"n".as_ptr()), kOfxStatOK);
        assert_eq!(set.int(c"n", 0), Some(1));
        assert_eq!(prop.propGetInt.unwrap()(std::ptr::null_mut(), c"n".as_ptr(), 0, v.as_mut_ptr()), kOfxStatErrBadHandle);
        // The host descriptor is read only.
        let hp = host.shared.props.handle();
        assert_eq!(prop.propSetInt.unwrap()(hp, kOfxPropAPIVersion.as_ptr(), 0, 2), kOfxStatErrValue);
        let mut name: *mut c_char = std::ptr::null_mut();
        assert_eq!(prop.propGetString.unwrap()(hp, kOfxPropName.as_ptr(), 0, &mut name), kOfxStatOK);
        assert_eq!(CStr::from_ptr(name).to_str().unwrap(), "org.livingportrait.HeadlessHost");
    }
}

fn effect_for(host: &Host) -> Arc<EffectObj> {
    let props = PropertySet::new("effect", true);
    props.define(kOfxPropType, pint(0));
    EffectObj::new(host.shared.clone(), props, ParamSetObj::new(true), None)
}

#[test]
fn messages_are_formatted_and_persistent_ones_tracked() {
    let host = Host::new(HostOptions::default());
    let v2: &OfxMessageSuiteV2 = suite(&host, kOfxMessageSuite, 2).unwrap();
    let e = effect_for(&host);
    let h = e.handle() as *mut c_void;
    // SAFETY: format strings match their arguments.
    unsafe {
        let st = v2.message.unwrap()(h, kOfxMessageWarning.as_ptr(), c"id1".as_ptr(), c"%s has %d eyes".as_ptr(), c"face".as_ptr(), 2 as c_int);
        assert_eq!(st, kOfxStatOK);
        let long = "x".repeat(5000);
        let long_c = CString::new(long.clone()).unwrap();
        v2.message.unwrap()(h, kOfxMessageLog.as_ptr(), std::ptr::null(), c"%s".as_ptr(), long_c.as_ptr());
        let st = v2.setPersistentMessage.unwrap()(h, kOfxMessageError.as_ptr(), c"p".as_ptr(), c"missing model %d".as_ptr(), 7 as c_int);
        assert_eq!(st, kOfxStatOK);
        let msgs = host.messages();
        assert_eq!(msgs[0].text, "face has 2 eyes");
        assert_eq!(msgs[0].kind, MessageKind::Warning);
        assert_eq!(msgs[1].text, long);
        assert!(msgs[2].persistent);
        assert_eq!(host.shared.persistent.lock().get(&e.id).map(|m| m.text.clone()).as_deref(), Some("missing model 7"));
        assert_eq!(v2.clearPersistentMessage.unwrap()(h), kOfxStatOK);
        assert!(host.shared.persistent.lock().is_empty());
        let q = v2.message.unwrap()(h, kOfxMessageQuestion.as_ptr(), std::ptr::null(), c"ok?".as_ptr());
        assert_eq!(q, kOfxStatReplyYes);
    }
}

#[test]
fn resolve_serves_v2_without_persistent_messages_and_unknown_suites_are_null() {
    let host = Host::new(HostOptions {
        quirks: HostQuirks::Resolve,
        ..HostOptions::default()
    });
    let v2: &OfxMessageSuiteV2 = suite(&host, kOfxMessageSuite, 2).unwrap();
    assert!(v2.message.is_some());
    assert!(v2.setPersistentMessage.is_none() && v2.clearPersistentMessage.is_none());
    assert!(suite::<u8>(&host, c"OfxInteractSuite", 2).is_none());
    assert!(suite::<u8>(&host, kOfxParameterSuite, 2).is_none());
    assert_eq!(host.descriptor().get("OfxPropName"), Some(&PropValue::String(vec!["DaVinciResolve".into()])));
    let served: Vec<bool> = host.fetched_suites().iter().map(|(_, _, s)| *s).collect();
    assert_eq!(served, vec![true, false, false]);
}
