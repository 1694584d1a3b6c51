//! The parameter file `ofx-render --save-params` writes ([`ParamsFile`]):
//! every valued parameter of an instance with its OFX type, static value and
//! keys, in definition order, and for a choice the option label beside the
//! index, so that a reader need not know the plugin's option list. Typed
//! structs serialised with serde; integer, boolean and choice values are
//! written as JSON integers, non-finite numbers as `null`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::animation::Value;
use super::params::{ParamObj, ParamType, ValueKind};

/// Every parameter of one instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamsFile {
    /// The plugin identifier.
    pub plugin: String,
    /// The valued parameters in definition order (push buttons and groups are left out).
    pub params: Vec<SavedParam>,
}

/// One parameter: its static value and its keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedParam {
    /// The parameter's name.
    pub name: String,
    /// Its OFX type (`OfxParamTypeDouble`, ...).
    #[serde(rename = "type")]
    pub ofx_type: String,
    /// The static value (used when there are no keys).
    pub value: SavedValue,
    /// For a choice: the label of the option `value` selects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option: Option<String>,
    /// Animation keys in time order.
    pub keys: Vec<SavedKey>,
}

/// One animation key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedKey {
    /// The key's time (frame).
    pub time: f64,
    /// The value at that time.
    pub value: SavedValue,
    /// For a choice: the label of the option `value` selects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option: Option<String>,
}

/// A parameter value as written: one number or one per dimension, integers
/// for integer-valued types, or text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SavedValue {
    /// An integer, boolean (0/1) or choice index.
    Integer(i64),
    /// An integer value with several dimensions.
    Integers(Vec<i64>),
    /// A double (`null` when not finite).
    Number(Option<f64>),
    /// A double with several dimensions.
    Numbers(Vec<Option<f64>>),
    /// A string, custom or string-choice value.
    Text(String),
}

impl SavedValue {
    fn of(ptype: ParamType, v: &Value) -> SavedValue {
        let integral = matches!(ptype.value_kind(), ValueKind::Int(_));
        let finite = |x: f64| x.is_finite().then_some(x);
        match v {
            Value::Str(s) => SavedValue::Text(s.clone()),
            Value::Num(n) if integral && n.iter().all(|x| x.is_finite()) => match n.as_slice() {
                [x] => SavedValue::Integer(*x as i64),
                _ => SavedValue::Integers(n.iter().map(|x| *x as i64).collect()),
            },
            Value::Num(n) => match n.as_slice() {
                [x] => SavedValue::Number(finite(*x)),
                _ => SavedValue::Numbers(n.iter().map(|x| finite(*x)).collect()),
            },
        }
    }
}

impl ParamsFile {
    /// The file for `params` of plugin `plugin_id`.
    pub fn of(plugin_id: &str, params: &[Arc<ParamObj>]) -> ParamsFile {
        let params = params
            .iter()
            .filter(|p| p.ptype.value_kind() != ValueKind::None)
            .map(|p| {
                let options = if p.ptype == ParamType::Choice { p.choice_options() } else { Vec::new() };
                let option_of = |v: &Value| match v {
                    Value::Num(n) if !options.is_empty() => {
                        n.first().and_then(|i| options.get(i.round().max(0.0) as usize)).cloned()
                    }
                    _ => None,
                };
                let (static_value, keys) = p.dump();
                SavedParam {
                    name: p.name.clone(),
                    ofx_type: p.ptype.ofx_name().to_string_lossy().into_owned(),
                    value: SavedValue::of(p.ptype, &static_value),
                    option: option_of(&static_value),
                    keys: keys
                        .iter()
                        .map(|(time, v)| SavedKey {
                            time: *time,
                            value: SavedValue::of(p.ptype, v),
                            option: option_of(v),
                        })
                        .collect(),
                }
            })
            .collect();
        ParamsFile {
            plugin: plugin_id.to_string(),
            params,
        }
    }

    /// The JSON text (indented, ending with a newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a parameter file always serialises");
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::params::ParamSetObj;
    use crate::sys::kOfxParamPropChoiceOption;

    #[test]
    fn params_are_written_with_keys_escapes_and_option_names() {
        let d = ParamSetObj::new(true);
        d.define(ParamType::Double, "gain").unwrap();
        d.define(ParamType::String, "note").unwrap();
        d.define(ParamType::PushButton, "go").unwrap();
        let mode = d.define(ParamType::Choice, "mode").unwrap();
        mode.props.set(
            kOfxParamPropChoiceOption,
            crate::host::props::PropValue::String(vec!["Still".into(), "Track file".into()]),
        );
        let set = d.instantiate(None);
        set.get("gain").unwrap().set_key(2.0, Value::Num(vec![0.5])).unwrap();
        set.get("note").unwrap().set_value(Value::Str("say \"hi\"\n".into())).unwrap();
        set.get("mode").unwrap().set_value(Value::Num(vec![1.0])).unwrap();
        let j = ParamsFile::of("a.b", &set.all()).to_json();
        let back: ParamsFile = serde_json::from_str(&j).unwrap();
        assert_eq!(back, ParamsFile::of("a.b", &set.all()), "{j}");
        let gain = &back.params[0];
        assert_eq!(gain.keys, vec![SavedKey { time: 2.0, value: SavedValue::Number(Some(0.5)), option: None }]);
        assert_eq!(back.params[1].value, SavedValue::Text("say \"hi\"\n".into()));
        assert!(j.contains(r#""say \"hi\"\n""#), "{j}");
        assert!(!back.params.iter().any(|p| p.name == "go"));
        let mode = back.params.iter().find(|p| p.name == "mode").unwrap();
        assert_eq!((&mode.value, mode.option.as_deref()), (&SavedValue::Integer(1), Some("Track file")));
        assert_eq!(mode.ofx_type, "OfxParamTypeChoice");
    }
}
