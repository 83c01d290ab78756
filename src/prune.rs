//! A JSON text read into a `Value` that holds only the paths a command
//! looks at: the keys on no path are skipped as the parser passes them,
//! never built. A long walk that prints two fields of each workflow then
//! allocates for those two, not for every prompt, step and file it reads.
//!
//! What is kept is exactly what a whole `Value` would hold at those paths
//! (arrays are gone through element by element, a key given twice keeps its
//! last value), so code written against a whole `Value` reads a pruned one
//! the same way.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

/// The paths to keep, as a tree of keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Keep {
    /// The value is kept whole, whatever `keys` says.
    whole: bool,
    /// The keys of an object to go into, each with what to keep under it.
    keys: Vec<(String, Keep)>,
}

impl Keep {
    /// Nothing yet; add paths with [`Keep::path`].
    pub fn none() -> Keep {
        Keep::default()
    }

    /// Keeps what `path` (its segments, outermost first) reaches, whole. A
    /// path inside one kept whole adds nothing.
    pub fn path<'a>(mut self, path: impl IntoIterator<Item = &'a str>) -> Keep {
        let mut node = &mut self;
        for seg in path {
            if node.whole {
                return self;
            }
            let at = match node.keys.iter().position(|(k, _)| k == seg) {
                Some(i) => i,
                None => {
                    node.keys.push((seg.to_string(), Keep::none()));
                    node.keys.len() - 1
                }
            };
            node = &mut node.keys[at].1;
        }
        node.whole = true;
        node.keys.clear();
        self
    }

    /// Keeps what `keep` says under `key` (a key of the top object, or of
    /// each object of a top array).
    pub fn under(mut self, key: &str, keep: Keep) -> Keep {
        if !self.whole {
            self.keys.retain(|(k, _)| k != key);
            self.keys.push((key.to_string(), keep));
        }
        self
    }

    /// Parses `json`, keeping only these paths (and every scalar met on the
    /// way, as a whole `Value` would show it there).
    pub fn parse(&self, json: &str) -> serde_json::Result<Value> {
        let mut de = serde_json::Deserializer::from_str(json);
        let v = self.deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    }
}

impl<'de> DeserializeSeed<'de> for &Keep {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.whole {
            Value::deserialize(d)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for &Keep {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key_seed(KeyOf(self))? {
            match key {
                Some((name, keep)) => {
                    let v = map.next_value_seed(keep)?;
                    kept.insert(name.to_string(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(kept))
    }
}

/// An object's key, read as the name of a kept path (with what to keep
/// under it) or as `None`, without copying it.
struct KeyOf<'k>(&'k Keep);

impl<'de, 'k> DeserializeSeed<'de> for KeyOf<'k> {
    type Value = Option<(&'k str, &'k Keep)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'k> Visitor<'de> for KeyOf<'k> {
    type Value = Option<(&'k str, &'k Keep)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .keys
            .iter()
            .find(|(k, _)| k == s)
            .map(|(k, keep)| (k.as_str(), keep)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DOC: &str = r#"{"id":"w1","status":"ok","n":1,"steps":[
        {"$type":"a","name":"s1","input":{"prompt":"p","big":[1,2,3]}},
        {"$type":"b","input":null},7],
        "cost":{"total":2.5,"list":[{"x":1}]},"id":"w2"}"#;

    fn keep(paths: &[&str]) -> Keep {
        paths.iter().fold(Keep::none(), |k, p| k.path(p.split('.')))
    }

    #[test]
    fn only_the_paths_are_kept_and_a_repeated_key_keeps_its_last_value() {
        let v = keep(&["id", "steps.$type", "steps.input.prompt"])
            .parse(DOC)
            .unwrap();
        assert_eq!(
            v,
            json!({"id":"w2","steps":[
                {"$type":"a","input":{"prompt":"p"}},{"$type":"b","input":null},7]})
        );
    }

    #[test]
    fn a_path_inside_a_whole_one_adds_nothing_in_either_order() {
        let whole = json!({"cost":{"total":2.5,"list":[{"x":1}]}});
        assert_eq!(keep(&["cost", "cost.total"]).parse(DOC).unwrap(), whole);
        assert_eq!(keep(&["cost.total", "cost"]).parse(DOC).unwrap(), whole);
    }

    #[test]
    fn a_tree_can_be_put_under_a_key() {
        let page = r#"{"items":[{"id":"a","x":1},{"id":"b"}],"next":"c","other":[1]}"#;
        let v = keep(&["next"])
            .under("items", keep(&["id"]))
            .parse(page)
            .unwrap();
        assert_eq!(v, json!({"items":[{"id":"a"},{"id":"b"}],"next":"c"}));
    }

    #[test]
    fn keeping_everything_is_a_plain_parse() {
        let v: Value = serde_json::from_str(DOC).unwrap();
        let whole = Keep {
            whole: true,
            keys: Vec::new(),
        };
        assert_eq!(whole.parse(DOC).unwrap(), v);
        assert_eq!(
            keep(&["nothing"]).parse("[1,\"a\",null]").unwrap(),
            json!([1, "a", null])
        );
    }

    #[test]
    fn bad_json_is_refused_where_it_is_skipped_too() {
        assert!(keep(&["id"]).parse(r#"{"id":1,"x":[1,}"#).is_err());
        assert!(keep(&["id"]).parse(r#"{"id":1} x"#).is_err());
        // Nesting is bounded where values are built (serde_json's 128
        // levels); what is skipped is skipped without recursion.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(keep(&["x"]).parse(&format!(r#"{{"x":{deep}}}"#)).is_err());
        assert!(keep(&["x.y"]).parse(&format!(r#"{{"x":{deep}}}"#)).is_err());
        assert!(keep(&["id"]).parse(&format!(r#"{{"x":{deep}}}"#)).is_ok());
    }
}
