//! One job's content-scan results as `scan` prints them: the scores read as
//! numbers, why a job is flagged, the JSON entry (keys in reading order)
//! and the compact text block.
//!
//! A score is a context value whose name (or the name of an object holding
//! it) contains `score`. Its numbers: a number as it is; a text of
//! comma-separated numbers, where `87.5 %` counts as the fraction 0.875.
//! A value that is not all numbers has no numbers and keeps only its text.

use std::io::{self, Write};

use serde_json::{Map, Value};

use super::render::value_text;
use super::summary::number;
use crate::text::{cut, escape};

/// The context keys reviewers read first, in this order.
pub const HIGHLIGHTED: &[&str] = &[
    "hive_csam_score",
    "hive_vlm_summary",
    "blocked_reason",
    "nsfwLevel",
];

/// Nested context objects are read this deep at most.
const MAX_DEPTH: usize = 8;

pub struct File {
    pub id: String,
    pub available: Option<bool>,
    pub blocked_reason: Option<String>,
    pub nsfw_level: Option<String>,
}

pub struct Entry {
    pub workflow_id: Option<String>,
    pub step: Option<String>,
    pub job_id: String,
    pub status: Option<String>,
    pub files: Vec<File>,
    pub classification: Option<Value>,
    pub context: Map<String, Value>,
}

impl Entry {
    /// The scores of the context: dotted key, numbers.
    pub fn scores(&self) -> Vec<(String, Vec<f64>)> {
        let mut found = Vec::new();
        for (k, v) in self.context_in_order() {
            scores_in(k, v, false, &mut found, 0);
        }
        found
    }

    /// Why the job is flagged, one reason each; empty when it is not.
    pub fn flags(&self, threshold: f64) -> Vec<String> {
        let mut why = Vec::new();
        for f in &self.files {
            if let Some(r) = f.blocked_reason.as_deref().filter(|r| !r.is_empty()) {
                why.push(format!("file {} blocked: {r}", f.id));
            }
        }
        if let Some(r) = self.context.get("blocked_reason").filter(|v| is_set(v)) {
            why.push(format!("blocked_reason: {}", value_text(r)));
        }
        for (key, numbers) in self.scores() {
            if let Some(top) = numbers.iter().copied().reduce(f64::max) {
                if top >= threshold {
                    why.push(format!("{key} {} >= {}", number(top), number(threshold)));
                }
            }
        }
        why
    }

    pub fn is_flagged(&self, threshold: f64) -> bool {
        !self.flags(threshold).is_empty()
    }

    /// The highlighted keys first, then the rest by name.
    fn context_in_order(&self) -> impl Iterator<Item = (&String, &Value)> {
        let first = HIGHLIGHTED
            .iter()
            .filter_map(|k| self.context.get_key_value(*k));
        let rest = self
            .context
            .iter()
            .filter(|(k, _)| !HIGHLIGHTED.contains(&k.as_str()));
        first.chain(rest)
    }

    /// The JSON entry, one line, keys in reading order.
    pub fn to_json(&self, threshold: f64) -> String {
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|f| {
                serde_json::json!({
                    "id": f.id,
                    "available": f.available,
                    "blockedReason": f.blocked_reason,
                    "nsfwLevel": f.nsfw_level,
                })
            })
            .collect();
        let context: Vec<(String, String)> = self
            .context_in_order()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        let scores: Vec<(String, String)> = self
            .scores()
            .into_iter()
            .map(|(k, n)| (k, Value::from(n).to_string()))
            .collect();
        let flags = self.flags(threshold);
        let fields = [
            (
                "workflowId",
                Value::from(self.workflow_id.clone()).to_string(),
            ),
            ("stepName", Value::from(self.step.clone()).to_string()),
            ("jobId", Value::from(self.job_id.clone()).to_string()),
            ("status", Value::from(self.status.clone()).to_string()),
            ("flagged", (!flags.is_empty()).to_string()),
            ("flaggedBy", Value::from(flags).to_string()),
            ("files", Value::Array(files).to_string()),
            (
                "promptClassification",
                self.classification
                    .clone()
                    .unwrap_or(Value::Null)
                    .to_string(),
            ),
            ("context", ordered(&context)),
            ("scores", ordered(&scores)),
        ];
        let owned: Vec<(String, String)> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        ordered(&owned)
    }

    /// The compact text block.
    pub fn text(&self, w: &mut dyn Write, threshold: f64) -> io::Result<()> {
        let flags = self.flags(threshold);
        writeln!(
            w,
            "Job {} {}{}",
            escape(&self.job_id),
            escape(self.status.as_deref().unwrap_or("unknown")),
            if flags.is_empty() { "" } else { " FLAGGED" }
        )?;
        let mut place = Vec::new();
        if let Some(wf) = &self.workflow_id {
            place.push(format!("workflow {}", escape(wf)));
        }
        if let Some(s) = &self.step {
            place.push(format!("step {}", escape(s)));
        }
        if !place.is_empty() {
            writeln!(w, "  {}", place.join(", "))?;
        }
        for f in &self.files {
            let state = match (&f.blocked_reason, f.available) {
                (Some(r), _) => format!("BLOCKED: {}", escape(r)),
                (None, Some(false)) => "not available".into(),
                (None, _) => "available".into(),
            };
            let level = f
                .nsfw_level
                .as_deref()
                .map(|l| format!(" [{}]", escape(l)))
                .unwrap_or_default();
            writeln!(w, "  file {}{level} {state}", escape(&f.id))?;
        }
        if let Some(c) = &self.classification {
            writeln!(w, "  prompt classification: {}", classification(c))?;
        }
        let mut others = Vec::new();
        for (k, v) in self.context_in_order() {
            if HIGHLIGHTED.contains(&k.as_str()) {
                if is_set(v) {
                    writeln!(w, "  {}: {}", escape(k), escape(&value_text(v)))?;
                }
            } else {
                others.push(format!(
                    "{}={}",
                    escape(k),
                    escape(&cut(&value_text(v), 60))
                ));
            }
        }
        if !others.is_empty() {
            writeln!(w, "  other: {}", others.join(", "))?;
        }
        for f in flags {
            writeln!(w, "  flagged: {}", escape(&f))?;
        }
        Ok(())
    }
}

/// The classification flags that are true, or `none`.
fn classification(c: &Value) -> String {
    match c {
        Value::Object(map) => {
            let on: Vec<String> = map
                .iter()
                .filter(|(_, v)| v.as_bool() == Some(true))
                .map(|(k, _)| escape(k))
                .collect();
            if on.is_empty() {
                "none".into()
            } else {
                on.join(", ")
            }
        }
        other => escape(&value_text(other)),
    }
}

fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    }
}

/// A JSON object from keys and values already in JSON, in this order.
fn ordered(pairs: &[(String, String)]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn scores_in(
    key: &str,
    v: &Value,
    inside: bool,
    found: &mut Vec<(String, Vec<f64>)>,
    depth: usize,
) {
    let named = inside || key.to_ascii_lowercase().contains("score");
    match v {
        Value::Object(map) if depth < MAX_DEPTH => {
            for (k, child) in map {
                scores_in(&format!("{key}.{k}"), child, named, found, depth + 1);
            }
        }
        _ if !named => {}
        other => {
            if let Some(numbers) = numbers_of(other) {
                found.push((key.to_string(), numbers));
            }
        }
    }
}

/// The numbers a score holds; `None` when any part is not a number.
pub fn numbers_of(v: &Value) -> Option<Vec<f64>> {
    match v {
        Value::Number(n) => n.as_f64().map(|n| vec![n]),
        Value::String(s) => s.split(',').map(one_number).collect(),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => one_number(s),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// `0.42`, `87.5 %` (a fraction: 0.875), `12%`.
fn one_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let (n, scale) = match t.strip_suffix('%') {
        Some(p) => (p.trim_end(), 100.0),
        None => (t, 1.0),
    };
    let x: f64 = n.parse().ok()?;
    (x.is_finite() && !n.is_empty()).then_some(x / scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(context: Value, files: Vec<File>) -> Entry {
        Entry {
            workflow_id: Some("w".into()),
            step: Some("0".into()),
            job_id: "j".into(),
            status: Some("succeeded".into()),
            files,
            classification: Some(json!({"sexual": true, "young": false})),
            context: context.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn scores_are_numbers_in_every_form() {
        assert_eq!(
            numbers_of(&json!("0.00 %, 87.50 %")),
            Some(vec![0.0, 0.875])
        );
        assert_eq!(numbers_of(&json!(0.91)), Some(vec![0.91]));
        assert_eq!(numbers_of(&json!("0.42")), Some(vec![0.42]));
        assert_eq!(numbers_of(&json!("X, No_Child")), None);
        assert_eq!(numbers_of(&json!("")), None);
        assert_eq!(numbers_of(&json!(null)), None);
        assert_eq!(numbers_of(&json!("NaN")), None);
        let e = entry(
            json!({"gpu": "A5000", "sampler_ms": 9123, "hive_csam_score": "0.00 %, 12.5 %",
                   "hive": {"csam_score": 0.7, "label": "x"}, "other_score": null,
                   "nsfw_score": "high"}),
            vec![],
        );
        assert_eq!(
            e.scores(),
            vec![
                ("hive_csam_score".to_string(), vec![0.0, 0.125]),
                ("hive.csam_score".to_string(), vec![0.7]),
            ]
        );
    }

    #[test]
    fn a_job_is_flagged_by_a_blocked_file_a_reason_or_a_score() {
        let clean = entry(json!({"hive_csam_score": "0.00 %, 0.00 %"}), vec![]);
        assert!(!clean.is_flagged(0.5));
        assert!(clean.is_flagged(0.0));
        let reason = entry(json!({"blocked_reason": "csam"}), vec![]);
        assert_eq!(reason.flags(0.5), ["blocked_reason: csam"]);
        let file = File {
            id: "b.jpeg".into(),
            available: Some(false),
            blocked_reason: Some("NSFW".into()),
            nsfw_level: Some("x".into()),
        };
        let blocked = entry(json!({}), vec![file]);
        assert_eq!(blocked.flags(0.5), ["file b.jpeg blocked: NSFW"]);
        let high = entry(json!({"hive_csam_score": "87.5 %"}), vec![]);
        assert_eq!(high.flags(0.5), ["hive_csam_score 0.875 >= 0.5"]);
    }

    #[test]
    fn the_json_entry_keeps_reading_order() {
        let e = entry(
            json!({"gpu": "A", "nsfwLevel": "pg", "hive_csam_score": "1 %"}),
            vec![],
        );
        let doc = e.to_json(0.5);
        let v: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["scores"]["hive_csam_score"], json!([0.01]));
        assert_eq!(v["flagged"], json!(false));
        assert!(doc.starts_with(r#"{"workflowId":"w","stepName":"0","jobId":"j""#));
        assert!(doc.contains(r#""context":{"hive_csam_score":"1 %","nsfwLevel":"pg","gpu":"A"}"#));
    }
}
