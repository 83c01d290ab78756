//! `--fields LIST`: the parts of each printed object a reader asked for.
//!
//! A list is comma-separated dotted paths (`id,status,cost.total`). A path
//! goes through every element of an array it meets, so `steps.$type` is the
//! type of every step. With JSON output an object keeps only the listed
//! paths, nested as in the original (`{"steps":[{"$type":"a"},{"$type":"b"}]}`);
//! in text each object is one row of tab-separated cells under a header of
//! the paths, a list of values joined by `,`. A path that matches nothing
//! gives `null` (an empty cell).

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::prune::Keep;
use crate::text::{cut, escape};

/// No JSON the program reads is nested deeper (serde_json's own limit), so
/// a longer path can match nothing; refusing it keeps the walks shallow.
pub const MAX_SEGMENTS: usize = 128;

/// A checked `--fields` list.
#[derive(Clone, Debug, PartialEq)]
pub struct Fields {
    /// As typed (trimmed), for the header.
    names: Vec<String>,
    /// Each name cut at its dots.
    paths: Vec<Vec<String>>,
    /// Whether each path lies inside another listed one (`id.x` beside
    /// `id`): the JSON form keeps the whole, whatever the order.
    inside: Vec<bool>,
}

impl Fields {
    /// Checks a list: no empty list, no empty path or segment, no spaces
    /// inside a path, no path deeper than [`MAX_SEGMENTS`]. A path given
    /// twice is kept once.
    pub fn parse(list: &str) -> Result<Fields, String> {
        let shown = |s: &str| cut(&escape(s), 80);
        let mut names: Vec<String> = Vec::new();
        // `String`s, as elsewhere: one more set type costs binary size.
        let mut seen: HashSet<String> = HashSet::new();
        for name in list.split(',').map(str::trim) {
            if name.is_empty() {
                return Err(if list.trim().is_empty() {
                    "the list is empty".into()
                } else {
                    format!("'{}' holds an empty path", shown(list))
                });
            }
            if name.split('.').any(str::is_empty) {
                return Err(format!(
                    "'{}' is not a path: segments go between single dots",
                    shown(name)
                ));
            }
            if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("'{}' is not a path: it holds a space", shown(name)));
            }
            if name.split('.').count() > MAX_SEGMENTS {
                return Err(format!(
                    "'{}' is not a path: more than {MAX_SEGMENTS} segments",
                    shown(name)
                ));
            }
            if seen.insert(name.to_string()) {
                names.push(name.to_string());
            }
        }
        let inside = names
            .iter()
            .map(|n| n.match_indices('.').any(|(i, _)| seen.contains(&n[..i])))
            .collect();
        let paths = names
            .iter()
            .map(|n| n.split('.').map(str::to_string).collect())
            .collect();
        Ok(Fields {
            names,
            paths,
            inside,
        })
    }

    /// The paths as given, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The listed paths, added to `keep`: what a parse for [`Fields::select`]
    /// and [`Fields::row`] needs to hold.
    pub fn keep(&self, keep: Keep) -> Keep {
        self.paths
            .iter()
            .fold(keep, |k, p| k.path(p.iter().map(String::as_str)))
    }

    /// The object with only the listed paths.
    pub fn select(&self, v: &Value) -> Value {
        let mut out = Value::Object(Map::new());
        for (path, inside) in self.paths.iter().zip(&self.inside) {
            if !inside {
                project(Some(v), path, &mut out);
            }
        }
        out
    }

    /// The header line of the text form (no newline).
    pub fn header(&self) -> String {
        self.names
            .iter()
            .map(|n| escape(n))
            .collect::<Vec<_>>()
            .join("\t")
    }

    /// One text row for `v` (no newline): a cell per path.
    pub fn row(&self, v: &Value) -> String {
        let cells: Vec<String> = self
            .paths
            .iter()
            .map(|path| {
                let mut found = Vec::new();
                let listed = collect(v, path, &mut found);
                let parts: Vec<String> = found.iter().map(|v| cell(v)).collect();
                if listed {
                    parts.join(",")
                } else {
                    parts.into_iter().next().unwrap_or_default()
                }
            })
            .collect();
        cells.join("\t")
    }
}

/// Copies what `path` reaches in `src` into `dst`, building the objects and
/// arrays on the way; what it does not reach becomes `null`.
fn project(src: Option<&Value>, path: &[String], dst: &mut Value) {
    let Some((head, rest)) = path.split_first() else {
        *dst = src.cloned().unwrap_or(Value::Null);
        return;
    };
    if let Some(Value::Array(items)) = src {
        if !matches!(dst, Value::Array(d) if d.len() == items.len()) {
            *dst = Value::Array(vec![Value::Null; items.len()]);
        }
        if let Value::Array(slots) = dst {
            for (item, slot) in items.iter().zip(slots) {
                project(Some(item), path, slot);
            }
        }
        return;
    }
    if !dst.is_object() {
        *dst = Value::Object(Map::new());
    }
    let child = src.and_then(|s| s.get(head.as_str()));
    if let Value::Object(map) = dst {
        let slot = map.entry(head.clone()).or_insert(Value::Null);
        project(child, rest, slot);
    }
}

/// Pushes every value `path` reaches; true when it went through an array
/// (the cell is then a list, empty or not).
fn collect<'v>(v: &'v Value, path: &[String], found: &mut Vec<&'v Value>) -> bool {
    if let Value::Array(items) = v {
        for item in items {
            collect(item, path, found);
        }
        return true;
    }
    match path.split_first() {
        None => {
            found.push(v);
            false
        }
        Some((head, rest)) => match v.get(head.as_str()) {
            Some(child) => collect(child, rest, found),
            None => false,
        },
    }
}

/// A value as a cell: strings bare, `null` empty, the rest compact JSON;
/// tabs and newlines escaped so that a row stays one line.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => escape(s),
        other => escape(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wf() -> Value {
        json!({
            "id": "w1", "status": "succeeded", "cost": {"total": 4, "base": 4},
            "tags": ["a", "b"],
            "steps": [
                {"$type": "textToImage", "name": "0", "jobs": [{"id": "j1"}, {"id": "j2"}]},
                {"$type": "comfy", "name": "x\ty", "jobs": []}
            ]
        })
    }

    #[test]
    fn a_list_is_checked() {
        assert!(Fields::parse("").is_err());
        assert!(Fields::parse(" , ").is_err());
        assert!(Fields::parse("id,").is_err());
        assert!(Fields::parse("a..b").is_err());
        assert!(Fields::parse(".a").is_err());
        assert!(Fields::parse("a b").is_err());
        let f = Fields::parse(" id , status,id ").unwrap();
        assert_eq!(f.names(), ["id", "status"]);
    }

    #[test]
    fn json_keeps_the_paths_nested_as_in_the_original() {
        let f = Fields::parse("id,cost.total,steps.$type,missing.deep").unwrap();
        assert_eq!(
            f.select(&wf()),
            json!({"id": "w1", "cost": {"total": 4},
                   "steps": [{"$type": "textToImage"}, {"$type": "comfy"}],
                   "missing": {"deep": null}})
        );
        // A whole object and a path inside it: the whole object.
        let f = Fields::parse("cost.total,cost").unwrap();
        assert_eq!(f.select(&wf()), json!({"cost": {"total": 4, "base": 4}}));
        // In either order, also when the path goes where the whole cannot.
        for list in ["id,id.x", "id.x,id"] {
            assert_eq!(
                Fields::parse(list).unwrap().select(&wf()),
                json!({"id": "w1"})
            );
        }
        let f = Fields::parse("tags,tags.0,steps.jobs,steps.jobs.id.x").unwrap();
        assert_eq!(
            f.select(&wf()),
            json!({"tags": ["a", "b"], "steps": [
                {"jobs": [{"id": "j1"}, {"id": "j2"}]}, {"jobs": []}]})
        );
        // Too deep to match anything.
        let deep = vec!["a"; MAX_SEGMENTS + 1].join(".");
        assert!(Fields::parse(&deep).unwrap_err().contains("segments"));
        assert!(Fields::parse(&vec!["a"; MAX_SEGMENTS].join(".")).is_ok());
    }

    #[test]
    fn text_rows_are_one_line_of_cells() {
        let f = Fields::parse("id,steps.$type,steps.jobs.id,steps.name,cost,nothing").unwrap();
        assert_eq!(
            f.header(),
            "id\tsteps.$type\tsteps.jobs.id\tsteps.name\tcost\tnothing"
        );
        assert_eq!(
            f.row(&wf()),
            "w1\ttextToImage,comfy\tj1,j2\t0,x\\ty\t{\"base\":4,\"total\":4}\t"
        );
    }
}
