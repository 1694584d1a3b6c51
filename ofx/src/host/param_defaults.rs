//! Default properties and starting values of parameters: the property set a
//! freshly defined descriptor parameter gets for its type (so a plugin reading
//! a property it never set finds the specification's default), the instance
//! starting value taken from `kOfxParamPropDefault`, and the conversion of
//! defaults given in normalised coordinates (`kOfxParamCoordinatesNormalised`)
//! to canonical ones, which hosts honouring it do at instance creation.

use std::ffi::CStr;

use openfx::sys::generic::core::*;
use openfx::sys::image_effect_v1::param::*;

use super::animation::Value;
use super::params::{ParamType, ValueKind};
use super::props::*;

/// The starting value of an instance parameter, from `kOfxParamPropDefault`.
pub(crate) fn default_value(props: &PropertySet, ptype: ParamType) -> Value {
    match ptype.value_kind() {
        ValueKind::Double(d) | ValueKind::Int(d) => {
            let mut v = match props.get(kOfxParamPropDefault) {
                Some(PropValue::Double(v)) => v,
                Some(PropValue::Int(v)) => v.into_iter().map(f64::from).collect(),
                _ => vec![],
            };
            v.resize(d, 0.0);
            Value::Num(v)
        }
        ValueKind::Str => Value::Str(props.string(kOfxParamPropDefault, 0).unwrap_or_default()),
        ValueKind::None => Value::Num(vec![]),
    }
}

/// Applies `kOfxParamCoordinatesNormalised` to the default of a double param.
pub(crate) fn normalised_default_to_canonical(props: &PropertySet, ptype: ParamType, (w, h): (f64, f64)) {
    if props.string(kOfxParamPropDefaultCoordinateSystem, 0).as_deref() != Some(&*kOfxParamCoordinatesNormalised.to_string_lossy()) {
        return;
    }
    let dt = props.string(kOfxParamPropDoubleType, 0).unwrap_or_default();
    let is = |c: &CStr| dt == c.to_string_lossy();
    let scale: Vec<f64> = match ptype {
        ParamType::Double if is(kOfxParamDoubleTypeX) || is(kOfxParamDoubleTypeXAbsolute) => vec![w],
        ParamType::Double if is(kOfxParamDoubleTypeY) || is(kOfxParamDoubleTypeYAbsolute) => vec![h],
        ParamType::Double2D if is(kOfxParamDoubleTypeXY) || is(kOfxParamDoubleTypeXYAbsolute) => vec![w, h],
        _ => return,
    };
    if let Some(mut d) = props.doubles(kOfxParamPropDefault) {
        for (v, s) in d.iter_mut().zip(scale) {
            *v *= s;
        }
        props.set(kOfxParamPropDefault, PropValue::Double(d));
    }
}

/// The properties a fresh descriptor parameter of `ptype` starts with.
pub fn default_param_props(ptype: ParamType, name: &str) -> PropertySet {
    let p = PropertySet::new(&format!("param {name}"), true);
    p.define(kOfxPropType, pstr(kOfxTypeParameter));
    p.define(kOfxPropName, pstring(name));
    p.define(kOfxPropLabel, pstring(name));
    p.define(kOfxPropShortLabel, pstring(name));
    p.define(kOfxPropLongLabel, pstring(name));
    p.define(kOfxParamPropType, pstr(ptype.ofx_name()));
    p.define(kOfxParamPropSecret, pint(0));
    p.define(kOfxParamPropHint, pstring(""));
    p.define(kOfxParamPropScriptName, pstring(name));
    p.define(kOfxParamPropParent, pstring(""));
    p.define(kOfxParamPropEnabled, pint(1));
    p.define(kOfxParamPropDataPtr, pptr(0));
    p.define(kOfxPropIcon, PropValue::String(vec![String::new(), String::new()]));
    let kind = ptype.value_kind();
    if kind != ValueKind::None {
        let animates = matches!(kind, ValueKind::Double(_) | ValueKind::Int(_)) && !ptype.steps();
        p.define(kOfxParamPropAnimates, pint(animates as i32));
        p.define(kOfxParamPropIsAnimating, pint(0));
        p.define(kOfxParamPropIsAutoKeying, pint(0));
        p.define(kOfxParamPropPersistant, pint(1));
        p.define(kOfxParamPropEvaluateOnChange, pint(1));
        p.define(kOfxParamPropPluginMayWrite, pint(0));
        p.define(kOfxParamPropCanUndo, pint(1));
        p.define(kOfxParamPropCacheInvalidation, pstr(kOfxParamInvalidateValueChange));
    }
    let dim_labels = |labels: &[&str]| PropValue::String(labels.iter().map(|s| s.to_string()).collect());
    match kind {
        ValueKind::Double(d) => {
            p.define(kOfxParamPropDefault, PropValue::Double(vec![0.0; d]));
            p.define(kOfxParamPropMin, PropValue::Double(vec![-f64::MAX; d]));
            p.define(kOfxParamPropMax, PropValue::Double(vec![f64::MAX; d]));
            p.define(kOfxParamPropDisplayMin, PropValue::Double(vec![-f64::MAX; d]));
            p.define(kOfxParamPropDisplayMax, PropValue::Double(vec![f64::MAX; d]));
            if !matches!(ptype, ParamType::Rgb | ParamType::Rgba) {
                p.define(kOfxParamPropIncrement, pdbl(1.0));
                p.define(kOfxParamPropDigits, pint(2));
                p.define(kOfxParamPropDoubleType, pstr(kOfxParamDoubleTypePlain));
                p.define(kOfxParamPropDefaultCoordinateSystem, pstr(kOfxParamCoordinatesCanonical));
            }
            if ptype == ParamType::Double {
                p.define(kOfxParamPropShowTimeMarker, pint(0));
            }
        }
        ValueKind::Int(d) => {
            p.define(kOfxParamPropDefault, PropValue::Int(vec![0; d]));
            if !matches!(ptype, ParamType::Boolean | ParamType::Choice) {
                p.define(kOfxParamPropMin, PropValue::Int(vec![i32::MIN; d]));
                p.define(kOfxParamPropMax, PropValue::Int(vec![i32::MAX; d]));
                p.define(kOfxParamPropDisplayMin, PropValue::Int(vec![i32::MIN; d]));
                p.define(kOfxParamPropDisplayMax, PropValue::Int(vec![i32::MAX; d]));
            }
        }
        ValueKind::Str => {
            p.define(kOfxParamPropDefault, pstring(""));
        }
        ValueKind::None => {}
    }
    match ptype {
        ParamType::Double2D | ParamType::Integer2D => p.define(kOfxParamPropDimensionLabel, dim_labels(&["x", "y"])),
        ParamType::Double3D | ParamType::Integer3D => p.define(kOfxParamPropDimensionLabel, dim_labels(&["x", "y", "z"])),
        ParamType::Rgb => p.define(kOfxParamPropDimensionLabel, dim_labels(&["r", "g", "b"])),
        ParamType::Rgba => p.define(kOfxParamPropDimensionLabel, dim_labels(&["r", "g", "b", "a"])),
        ParamType::Choice | ParamType::StrChoice => {
            p.define(kOfxParamPropChoiceOption, PropValue::String(vec![]));
            p.define(kOfxParamPropChoiceOrder, PropValue::Int(vec![]));
            if ptype == ParamType::StrChoice {
                p.define(kOfxParamPropChoiceEnum, PropValue::String(vec![]));
            }
        }
        ParamType::String => {
            p.define(kOfxParamPropStringMode, pstr(kOfxParamStringIsSingleLine));
            p.define(kOfxParamPropStringFilePathExists, pint(1));
        }
        ParamType::Custom => p.define(kOfxParamPropCustomInterpCallbackV1, pptr(0)),
        ParamType::Group => p.define(kOfxParamPropGroupOpen, pint(1)),
        ParamType::Page => p.define(kOfxParamPropPageChild, PropValue::String(vec![])),
        _ => {}
    }
    if !matches!(ptype, ParamType::Group | ParamType::Page) {
        p.define(kOfxParamPropInteractV1, pptr(0));
        p.define(kOfxParamPropInteractSize, PropValue::Double(vec![0.0, 0.0]));
        p.define(kOfxParamPropInteractSizeAspect, pdbl(1.0));
        p.define(kOfxParamPropInteractMinimumSize, PropValue::Int(vec![10, 10]));
        p.define(kOfxParamPropInteractPreferedSize, PropValue::Int(vec![10, 10]));
    }
    p
}

