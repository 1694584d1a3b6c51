//! Strict JSON for the project's own files (landmark tracks, the 468→68 table, pack manifests, the CLI's output),
//! on `serde_json`. Files are read into typed structs with `serde` derive ([`from_str`]); `serde_json` alone would
//! accept two things we refuse, so every text first goes through one linear pass ([`check`]) that rejects a key
//! repeated in one object (`serde_json` keeps the last silently; a hash set per large object keeps a hostile file
//! with hundreds of thousands of keys linear) and nesting deeper than [`MAX_DEPTH`] (so a hostile file cannot
//! exhaust the stack). [`Json`] is an ordered, untyped value for the one reader that walks a tree (pack
//! manifests) and for tests that edit files. Every error names its line and column. Writing uses
//! [`to_string_lines`]: pretty at the outer levels, one compact line per inner value, so a track keeps one
//! frame per line for diffs and `grep`; whole numbers are written without a fraction (`25`, not `25.0`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Deepest nesting accepted; our files need 4.
pub const MAX_DEPTH: usize = 64;

/// Objects with fewer members than this check duplicate keys by a scan; larger ones use a hash set.
const SMALL_OBJECT: usize = 16;

/// A parsed JSON value. Objects keep their keys in file order; duplicate keys are rejected while reading.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// What kind of problem a [`JsonError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// The text is not JSON, repeats a key or nests too deeply.
    Syntax,
    /// The text is JSON but not of the expected shape (a string where a number belongs, a missing field).
    Shape,
}

/// Why a text could not be read, with the 1-based position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub kind: JsonErrorKind,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl JsonError {
    fn new(kind: JsonErrorKind, e: serde_json::Error) -> JsonError {
        let (line, column) = (e.line(), e.column());
        let full = e.to_string();
        // serde_json appends the position to its message; ours is added by `Display`.
        let message = full.strip_suffix(&format!(" at line {line} column {column}")).unwrap_or(&full);
        let message = match message {
            "EOF while parsing a value" | "EOF while parsing a list" | "EOF while parsing an object" => {
                "unexpected end of the text"
            }
            "trailing characters" => "unexpected text after the JSON value",
            m => m,
        };
        JsonError { kind, line, column, message: message.to_string() }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at line {}, column {}", self.message, self.line, self.column)
    }
}

impl std::error::Error for JsonError {}

/// Checks that `text` is one JSON value with no repeated key and no nesting deeper than [`MAX_DEPTH`].
pub fn check(text: &str) -> Result<(), JsonError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let checked = Check { depth: 0 }.deserialize(&mut de).and_then(|()| de.end());
    checked.map_err(|e| JsonError::new(JsonErrorKind::Syntax, e))
}

/// Reads `text` into `T`, strictly: [`check`] first, then `serde_json`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    check(text)?;
    serde_json::from_str(text).map_err(|e| JsonError::new(JsonErrorKind::Shape, e))
}

/// `value` as JSON text: the outer `levels` levels of arrays and objects one member per line (indented by two
/// spaces), everything deeper compact on one line.
pub fn to_string_lines<T: Serialize + ?Sized>(value: &T, levels: usize) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Lines { levels, depth: 0, has_value: false });
    // Our values are plain data (no maps with non-string keys), and writing to a Vec cannot fail.
    if value.serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// `s` as a JSON string literal.
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Appends `s` as a JSON string literal.
pub fn write_string(out: &mut String, s: &str) {
    out.push_str(&quote(s));
}

/// The set of keys seen in one object: a scan while small, a hash set once large.
struct Keys<K> {
    small: Vec<K>,
    large: Option<HashSet<K>>,
}

impl<K: Eq + std::hash::Hash + fmt::Display> Keys<K> {
    fn new() -> Self {
        Keys { small: Vec::new(), large: None }
    }

    /// Records `key`; an error naming it when it was already there.
    fn insert<E: de::Error>(&mut self, key: K) -> Result<(), E> {
        let repeated = match &self.large {
            Some(set) => set.contains(&key),
            None => self.small.contains(&key),
        };
        if repeated {
            return Err(E::custom(format!("duplicate key \"{key}\"")));
        }
        match &mut self.large {
            Some(set) => {
                set.insert(key);
            }
            None => {
                self.small.push(key);
                if self.small.len() == SMALL_OBJECT {
                    self.large = Some(std::mem::take(&mut self.small).into_iter().collect());
                }
            }
        }
        Ok(())
    }
}

/// An object key as read: borrowed from the text unless it has escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

fn too_deep<E: de::Error>(depth: usize) -> Result<(), E> {
    if depth > MAX_DEPTH {
        Err(E::custom("the JSON is nested too deeply"))
    } else {
        Ok(())
    }
}

/// The checking pass: walks a value without keeping it.
struct Check {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Check {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        too_deep(self.depth + 1)?;
        while seq.next_element_seed(Check { depth: self.depth + 1 })?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        too_deep(self.depth + 1)?;
        let mut keys = Keys::new();
        while let Some(key) = map.next_key_seed(Key)? {
            keys.insert(key)?;
            map.next_value_seed(Check { depth: self.depth + 1 })?;
        }
        Ok(())
    }
}

/// Builds a [`Json`] with the same checks as [`Check`].
struct Build {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Build {
    type Value = Json;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build {
    type Value = Json;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        too_deep(self.depth + 1)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Build { depth: self.depth + 1 })? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        too_deep(self.depth + 1)?;
        let mut keys = Keys::new();
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            keys.insert(key.clone())?;
            members.push((key, map.next_value_seed(Build { depth: self.depth + 1 })?));
        }
        Ok(Json::Object(members))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        Build { depth: 0 }.deserialize(d)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => s.serialize_f64(*n),
            Json::String(v) => s.serialize_str(v),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// An object's members in file order, for typed structs whose keys are names chosen by the file (the face
/// parts of the 468→68 table). Repeated keys never reach it: [`check`] refuses them first.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Members<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedMap<V>, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    members.push(entry);
                }
                Ok(OrderedMap(members))
            }
        }
        d.deserialize_map(Members(std::marker::PhantomData))
    }
}

impl Json {
    /// Parses a whole text (one value, surrounded by optional white space), strictly.
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let value = Build { depth: 0 }.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
        value.map_err(|e| JsonError::new(JsonErrorKind::Syntax, e))
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(members) => Some(members),
            _ => None,
        }
    }

    /// A name for the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The value as JSON text, objects one member per line at the top level.
    pub fn to_text(&self) -> String {
        to_string_lines(self, 1)
    }
}

/// serde_json's formatter, pretty for the outer `levels` levels and compact (", " and ": ") inside them.
struct Lines {
    levels: usize,
    depth: usize,
    has_value: bool,
}

impl Lines {
    fn pretty(&self) -> bool {
        self.depth <= self.levels
    }

    fn newline<W: ?Sized + std::io::Write>(w: &mut W, depth: usize) -> std::io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn begin<W: ?Sized + std::io::Write>(&mut self, w: &mut W, open: &[u8]) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(open)
    }

    fn end<W: ?Sized + std::io::Write>(&mut self, w: &mut W, close: &[u8]) -> std::io::Result<()> {
        if self.pretty() && self.has_value {
            Self::newline(w, self.depth - 1)?;
        }
        self.depth -= 1;
        w.write_all(close)
    }

    fn item<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        if self.pretty() {
            Self::newline(w, self.depth)
        } else if first {
            Ok(())
        } else {
            w.write_all(b" ")
        }
    }
}

/// Whether a float prints as a whole number ("25", not "25.0"): integral, not -0, and exact as an integer.
fn whole(v: f64) -> bool {
    v.fract() == 0.0 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative())
}

impl serde_json::ser::Formatter for Lines {
    fn write_f32<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: f32) -> std::io::Result<()> {
        if whole(v as f64) {
            write!(w, "{}", v as i64)
        } else {
            serde_json::ser::CompactFormatter.write_f32(w, v)
        }
    }
    fn write_f64<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: f64) -> std::io::Result<()> {
        if whole(v) {
            write!(w, "{}", v as i64)
        } else {
            serde_json::ser::CompactFormatter.write_f64(w, v)
        }
    }
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.begin(w, b"[")
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.end(w, b"]")
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.item(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.begin(w, b"{")
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.end(w, b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.item(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values() {
        let v = Json::parse(r#" {"a": [1, -2.5e2, true, null], "b": "x\"\u00e9\ud83d\ude00", "c": {}} "#).unwrap();
        assert_eq!(v.get("a").unwrap().as_array().unwrap().len(), 4);
        assert_eq!(v.get("a").unwrap().as_array().unwrap()[1].as_f64(), Some(-250.0));
        assert_eq!(v.get("b").unwrap().as_str(), Some("x\"é😀"));
        assert!(v.get("c").unwrap().as_object().unwrap().is_empty());
        assert_eq!(Json::parse(&v.to_text()).unwrap(), v);
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in ["", "{", "[1,]", "01", "1.", "{\"a\":1,\"a\":2}", "\"\u{1}\"", "[1] x", "nul", "1e999", "\"\\ud800\""] {
            assert!(Json::parse(bad).is_err(), "{bad:?} should be rejected");
            assert!(check(bad).is_err(), "{bad:?} should be rejected");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(Json::parse(&deep).unwrap_err().message.contains("nested"));
        assert!(check(&deep).unwrap_err().message.contains("nested"));
        let err = Json::parse("{\n  \"a\": x}").unwrap_err();
        assert_eq!((err.line, err.column), (2, 8));
        assert_eq!(err.to_string(), "expected value at line 2, column 8");
    }

    #[test]
    fn repeated_keys_are_found_in_small_and_large_objects() {
        for n in [2, 15, 16, 17, 1000] {
            let keys: Vec<String> = (0..n).map(|i| format!("\"k{i}\": {i}")).collect();
            let ok = format!("{{{}}}", keys.join(", "));
            assert!(check(&ok).is_ok() && Json::parse(&ok).is_ok());
            let twice = format!("{{{}, \"k{}\": 0}}", keys.join(", "), n / 2);
            let err = check(&twice).unwrap_err();
            assert_eq!(err.message, format!("duplicate key \"k{}\"", n / 2), "{n} keys");
            assert_eq!(Json::parse(&twice).unwrap_err().message, err.message);
        }
    }

    #[test]
    fn typed_reads_are_strict_and_say_where() {
        #[derive(Deserialize, Debug)]
        struct S {
            #[allow(dead_code)]
            a: u32,
        }
        assert!(from_str::<S>("{\"a\": 1, \"b\": {\"c\": 1, \"c\": 2}}").unwrap_err().message.contains("duplicate"));
        let err = from_str::<S>("{\n\"a\": \"x\"}").unwrap_err();
        assert_eq!((err.kind, err.line), (JsonErrorKind::Shape, 2));
        let parts: OrderedMap<u32> = from_str("{\"z\": 1, \"a\": 2}").unwrap();
        assert_eq!(parts.0, vec![("z".to_string(), 1), ("a".to_string(), 2)]);
    }

    #[test]
    fn lines_layout_and_float_round_trip() {
        let v = Json::parse("{\"a\": [[1, 2], [3.5, 4]], \"b\": {\"c\": []}}").unwrap();
        assert_eq!(to_string_lines(&v, 2), "{\n  \"a\": [\n    [1, 2],\n    [3.5, 4]\n  ],\n  \"b\": {\n    \"c\": []\n  }\n}");
        assert_eq!(to_string_lines(&v, 0), "{\"a\": [[1, 2], [3.5, 4]], \"b\": {\"c\": []}}");
        for x in [0.1f32, 123.456, -0.0, 1e-7, 3.4e38, 511.99997] {
            let s = to_string_lines(&x, 0);
            let back: f32 = from_str(&s).unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{s}");
        }
    }
}
