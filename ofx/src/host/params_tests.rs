//! Unit tests of host parameters: static and animated values, keys, strings,
//! choices, edit blocks and default coordinate conversion.

use super::*;

fn instance_with(defs: &[(ParamType, &str)]) -> ParamSetObj {
    let d = ParamSetObj::new(true);
    for (t, n) in defs {
        d.define(*t, n).unwrap();
    }
    d.instantiate(None)
}

#[test]
fn static_value_until_keyed_then_animated() {
    let d = ParamSetObj::new(true);
    let p = d.define(ParamType::Double, "gain").unwrap();
    p.props.set(kOfxParamPropDefault, pdbl(2.0));
    let set = d.instantiate(None);
    let gain = set.get("gain").unwrap();
    assert_eq!(gain.numbers_at(100.0).unwrap(), vec![2.0]);
    gain.set_value(Value::Num(vec![3.0])).unwrap();
    assert_eq!(gain.numbers_at(-5.0).unwrap(), vec![3.0]);
    assert!(gain.key_times().is_empty());
    assert_eq!(gain.props.int(kOfxParamPropIsAnimating, 0), Some(0));

    gain.set_key(0.0, Value::Num(vec![0.0])).unwrap();
    gain.set_key(10.0, Value::Num(vec![10.0])).unwrap();
    gain.set_interpolation(Interpolation::Linear);
    assert_eq!(gain.props.int(kOfxParamPropIsAnimating, 0), Some(1));
    assert_eq!(gain.numbers_at(2.5).unwrap(), vec![2.5]);
    // Key at the same time replaces.
    gain.set_key(10.0, Value::Num(vec![20.0])).unwrap();
    assert_eq!(gain.key_times(), vec![0.0, 10.0]);
    assert_eq!(gain.numbers_at(5.0).unwrap(), vec![10.0]);
    // paramSetValue on an animated param keys the current (timeline) time.
    set.set_timeline_time(4.0);
    gain.set_value(Value::Num(vec![1.0])).unwrap();
    assert_eq!(gain.key_times(), vec![0.0, 4.0, 10.0]);
    assert!(gain.delete_key(4.0));
    assert!(!gain.delete_key(4.0));
    // Deleting all keys keeps the value at the current time as static value.
    set.set_timeline_time(5.0);
    gain.delete_all_keys();
    assert!(gain.key_times().is_empty());
    assert_eq!(gain.numbers_at(0.0).unwrap(), vec![10.0]);
    assert_eq!(gain.props.int(kOfxParamPropIsAnimating, 0), Some(0));
}

#[test]
fn smooth_is_default_and_ints_round() {
    let set = instance_with(&[(ParamType::Double, "d"), (ParamType::Integer, "i")]);
    let d = set.get("d").unwrap();
    d.set_key(0.0, Value::Num(vec![0.0])).unwrap();
    d.set_key(10.0, Value::Num(vec![10.0])).unwrap();
    assert!((d.numbers_at(2.5).unwrap()[0] - 1.5625).abs() < 1e-12);
    let i = set.get("i").unwrap();
    i.set_key(0.0, Value::Num(vec![0.0])).unwrap();
    i.set_key(10.0, Value::Num(vec![10.0])).unwrap();
    assert_eq!(i.numbers_at(2.5).unwrap(), vec![2.0]);
    assert!(i.derivative_at(1.0).is_err());
    assert_eq!(d.integral(0.0, 10.0).unwrap(), vec![50.0]);
    assert_eq!(d.derivative_at(5.0).unwrap(), vec![1.5]);
}

#[test]
fn string_pointers_stay_valid() {
    let set = instance_with(&[(ParamType::String, "s")]);
    let s = set.get("s").unwrap();
    s.set_value(Value::Str("first".into())).unwrap();
    let p1 = s.string_ptr_at(0.0).unwrap();
    s.set_value(Value::Str("second".into())).unwrap();
    let p2 = s.string_ptr_at(0.0).unwrap();
    // SAFETY: both pointers come from CStrings the param keeps for its whole life.
    unsafe {
        assert_eq!(CStr::from_ptr(p1).to_str().unwrap(), "first");
        assert_eq!(CStr::from_ptr(p2).to_str().unwrap(), "second");
    }
    // Same content, same pointer: repeated gets do not grow the cache.
    assert_eq!(s.string_ptr_at(0.0).unwrap(), p2);
    assert!(s.numbers_at(0.0).is_err());
}

#[test]
fn choices_by_index_and_option() {
    let d = ParamSetObj::new(true);
    let c = d.define(ParamType::Choice, "mode").unwrap();
    c.props.set(kOfxParamPropChoiceOption, PropValue::String(vec!["Fast".into(), "Best Quality".into()]));
    let set = d.instantiate(None);
    let c = set.get("mode").unwrap();
    let v = c.from_user(&ParamValue::ChoiceByOption("best quality".into())).unwrap();
    c.set_value(v).unwrap();
    assert_eq!(c.to_user(&c.raw_value_at(0.0).unwrap()), ParamValue::Choice(1));
    assert!(c.from_user(&ParamValue::ChoiceByOption("nope".into())).is_err());
    assert!(c.set_value(Value::Num(vec![2.0])).is_err());
}

#[test]
fn option_keys_drop_case_and_punctuation() {
    assert_eq!(option_key("Track file"), "trackfile");
    assert_eq!(option_key("trackFile"), "trackfile");
    assert_eq!(option_key("Full-frame (slow)"), "fullframeslow");
    assert_eq!(option_key(" -_ "), "");
}

#[test]
fn choices_by_script_friendly_name() {
    let d = ParamSetObj::new(true);
    let c = d.define(ParamType::Choice, "driveMode").unwrap();
    let labels = ["Full frame", "Track file", "Live (webcam)", "Full"];
    c.props.set(kOfxParamPropChoiceOption, PropValue::String(labels.iter().map(|s| s.to_string()).collect()));
    let set = d.instantiate(None);
    let c = set.get("driveMode").unwrap();
    let index = |s: &str| match c.from_user(&ParamValue::ChoiceByOption(s.into())) {
        Ok(v) => c.to_user(&v),
        Err(_) => ParamValue::None,
    };
    assert_eq!(index("trackFile"), ParamValue::Choice(1));
    assert_eq!(index("track_file"), ParamValue::Choice(1));
    assert_eq!(index("TRACK-FILE"), ParamValue::Choice(1));
    assert_eq!(index("fullFrame"), ParamValue::Choice(0));
    assert_eq!(index("liveWebcam"), ParamValue::Choice(2));
    // Exact and case-insensitive matches come first: "full" is the option "Full",
    // never a prefix of "Full frame".
    assert_eq!(index("full"), ParamValue::Choice(3));
    assert_eq!(index("track"), ParamValue::None);
    assert_eq!(index("trackFiles"), ParamValue::None);
    assert_eq!(index("live"), ParamValue::None);
    assert_eq!(index("--"), ParamValue::None);
}

#[test]
fn script_names_do_not_prefix_match() {
    let d = ParamSetObj::new(true);
    let c = d.define(ParamType::Choice, "area").unwrap();
    c.props.set(kOfxParamPropChoiceOption, PropValue::String(vec!["Face only".into(), "Full frame".into()]));
    let set = d.instantiate(None);
    let c = set.get("area").unwrap();
    assert!(c.from_user(&ParamValue::ChoiceByOption("full".into())).is_err());
    assert!(c.from_user(&ParamValue::ChoiceByOption("face".into())).is_err());
    assert_eq!(c.to_user(&c.from_user(&ParamValue::ChoiceByOption("faceOnly".into())).unwrap()), ParamValue::Choice(0));
}

#[test]
fn edit_blocks_are_counted() {
    let set = instance_with(&[]);
    assert!(!set.edit_end());
    set.edit_begin("a");
    set.edit_begin("b");
    assert!(set.edit_end());
    assert!(set.edit_end());
    assert_eq!(set.edit_blocks(), 2);
}

#[test]
fn normalised_defaults_convert_only_when_asked() {
    let d = ParamSetObj::new(true);
    let p = d.define(ParamType::Double2D, "center").unwrap();
    p.props.set(kOfxParamPropDoubleType, pstr(kOfxParamDoubleTypeXYAbsolute));
    p.props.set(kOfxParamPropDefaultCoordinateSystem, pstr(kOfxParamCoordinatesNormalised));
    p.props.set(kOfxParamPropDefault, PropValue::Double(vec![0.5, 0.25]));
    let honoured = d.instantiate(Some((200.0, 100.0)));
    assert_eq!(honoured.get("center").unwrap().numbers_at(0.0).unwrap(), vec![100.0, 25.0]);
    let ignored = d.instantiate(None);
    assert_eq!(ignored.get("center").unwrap().numbers_at(0.0).unwrap(), vec![0.5, 0.25]);
}

#[test]
fn copy_shifts_keys() {
    let set = instance_with(&[(ParamType::Double, "a"), (ParamType::Double, "b")]);
    let (a, b) = (set.get("a").unwrap(), set.get("b").unwrap());
    a.set_key(1.0, Value::Num(vec![1.0])).unwrap();
    a.set_key(5.0, Value::Num(vec![5.0])).unwrap();
    b.copy_from(&a, 10.0, Some((0.0, 2.0))).unwrap();
    assert_eq!(b.key_times(), vec![11.0]);
    assert_eq!(set.get("a").unwrap().key_index(3.0, 1), Some(1));
}

#[test]
fn descriptors_have_no_value_and_names_are_unique() {
    let d = ParamSetObj::new(true);
    let p = d.define(ParamType::Double, "x").unwrap();
    assert!(matches!(d.define(ParamType::Integer, "x"), Err(s) if s == kOfxStatErrExists));
    assert_eq!(p.raw_value_at(0.0), Err(ParamError::NoValue));
    let inst = d.instantiate(None);
    assert!(inst.define(ParamType::Double, "y").is_err());
}
