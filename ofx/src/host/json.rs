//! Hand-written JSON output of an instance's parameters (the workspace has no
//! serde): every valued parameter with its type, static value and keys, in
//! definition order. Numbers use Rust's shortest round-trip formatting;
//! non-finite numbers become `null`.

use std::fmt::Write;
use std::sync::Arc;

use super::animation::Value;
use super::params::{ParamObj, ValueKind};

/// Escapes a string for a JSON string literal (quotes included).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

fn value(v: &Value) -> String {
    match v {
        Value::Str(s) => quote(s),
        Value::Num(n) if n.len() == 1 => number(n[0]),
        Value::Num(n) => format!("[{}]", n.iter().map(|x| number(*x)).collect::<Vec<_>>().join(", ")),
    }
}

/// The JSON document for `params` of plugin `plugin_id`.
pub fn params_json(plugin_id: &str, params: &[Arc<ParamObj>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{{\n  \"plugin\": {},\n  \"params\": [", quote(plugin_id));
    let valued: Vec<&Arc<ParamObj>> = params.iter().filter(|p| p.ptype.value_kind() != ValueKind::None).collect();
    for (i, p) in valued.iter().enumerate() {
        let (static_value, keys) = p.dump();
        let keys: Vec<String> = keys
            .iter()
            .map(|(t, v)| format!("{{\"time\": {}, \"value\": {}}}", number(*t), value(v)))
            .collect();
        let _ = write!(
            out,
            "    {{\"name\": {}, \"type\": {}, \"value\": {}, \"keys\": [{}]}}",
            quote(&p.name),
            quote(&p.ptype.ofx_name().to_string_lossy()),
            value(&static_value),
            keys.join(", ")
        );
        out.push_str(if i + 1 < valued.len() { ",\n" } else { "\n" });
    }
    out.push_str("  ]\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::params::{ParamSetObj, ParamType};

    #[test]
    fn params_are_written_with_keys_and_escapes() {
        let d = ParamSetObj::new(true);
        d.define(ParamType::Double, "gain").unwrap();
        d.define(ParamType::String, "note").unwrap();
        d.define(ParamType::PushButton, "go").unwrap();
        let set = d.instantiate(None);
        set.get("gain").unwrap().set_key(2.0, Value::Num(vec![0.5])).unwrap();
        set.get("note").unwrap().set_value(Value::Str("say \"hi\"\n".into())).unwrap();
        let j = params_json("a.b", &set.all());
        assert!(j.contains("{\"time\": 2, \"value\": 0.5}"), "{j}");
        assert!(j.contains("\"value\": \"say \\\"hi\\\"\\n\""), "{j}");
        assert!(!j.contains("\"go\""));
    }
}
