//! The API as this program sees it: endpoint paths with percent-encoded
//! segments, query strings, the parsing of response bodies (with messages
//! that name what was expected), lenient views of the responses, and the
//! blobs found in step outputs.
//!
//! Views keep only what the CLI shows; every field but the id may be missing
//! or null, unknown fields are ignored, and shapes that vary stay `Value`.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::{Error, Result};

/// Parses a body, naming what was expected when it is not that.
pub fn parse_json<'a, T: serde::Deserialize<'a>>(body: &'a str, what: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| {
        Error::other(format!(
            "the API sent a body that is not the expected JSON for {what}: {e}"
        ))
    })
}

/// Checks that a body is a JSON object before it is re-printed as such.
/// Parsing into a `Value` also bounds the nesting (serde_json stops at 128
/// levels), which keeps the re-spacing linear.
pub fn check_object(body: &str, what: &str) -> Result<()> {
    match parse_json::<Value>(body, what)? {
        Value::Object(_) => Ok(()),
        _ => Err(Error::other(format!(
            "the API sent something that is not a JSON object for {what}"
        ))),
    }
}

/// Percent-encodes one path segment: an id with `/`, `?`, `#`, `%` or a
/// space must not change the path that is requested.
pub fn seg(s: &str) -> String {
    // `.` and `..` are unreserved, but servers resolve them as dot segments.
    if s == "." || s == ".." {
        return s.replace('.', "%2E");
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string built in order, values percent-encoded.
#[derive(Default, Debug)]
pub struct Query(String);

impl Query {
    pub fn push(&mut self, key: &str, value: &str) -> &mut Self {
        self.0.push(if self.0.is_empty() { '?' } else { '&' });
        self.0.push_str(key);
        self.0.push('=');
        self.0.push_str(&seg(value));
        self
    }

    pub fn push_opt(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.push(key, v);
        }
        self
    }

    pub fn flag(&mut self, key: &str, on: bool) -> &mut Self {
        if on {
            self.push(key, "true");
        }
        self
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// DOCS: GET /v2/consumer/workflows (page of the caller's workflows)
pub const WORKFLOWS: &str = "/v2/consumer/workflows";
// DOCS: GET /v1/manager/workflows (a user's workflows; manager token)
pub const MANAGER_WORKFLOWS: &str = "/v1/manager/workflows";

// DOCS: GET /v2/consumer/workflows/{workflowId}
pub fn workflow_path(id: &str) -> String {
    format!("{WORKFLOWS}/{}", seg(id))
}

// DOCS: GET /v2/consumer/workflows/{workflowId}/steps/{stepName}
pub fn step_path(workflow_id: &str, step: &str) -> String {
    format!("{WORKFLOWS}/{}/steps/{}", seg(workflow_id), seg(step))
}

// DOCS: GET /v1/consumer/jobs/{jobId}?detailed=true
pub fn job_path(id: &str) -> String {
    format!("/v1/consumer/jobs/{}?detailed=true", seg(id))
}

// DOCS: GET /v2/consumer/blobs/{blobId}: a redirect to a signed CDN URL, or the bytes
pub fn blob_path(id: &str, nsfw: bool) -> String {
    let mut p = format!("/v2/consumer/blobs/{}", seg(id));
    if nsfw {
        p.push_str("?hideMatureContent=false");
    }
    p
}

/// One page of `GET /v2/consumer/workflows`; items stay raw so they can be
/// re-printed exactly as the API sent them.
#[derive(Deserialize)]
pub struct Page<'a> {
    #[serde(borrow, default)]
    pub items: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    pub next: Option<String>,
    /// What older clients read; the API sends `next`.
    #[serde(default, rename = "nextCursor")]
    pub next_cursor: Option<String>,
}

impl Page<'_> {
    /// The cursor of the next page; empty means the last page.
    pub fn next_cursor(&self) -> Option<&str> {
        self.next
            .as_deref()
            .or(self.next_cursor.as_deref())
            .filter(|c| !c.is_empty())
    }
}

/// The parts of a workflow the CLI shows. Built by hand from a `Value` so
/// that one odd field (a numeric name, a string where a list was expected)
/// costs only that field, not the whole listing.
#[derive(Default, Debug)]
pub struct Workflow {
    pub id: Option<String>,
    pub status: Option<String>,
    pub created_at: Option<String>,
    pub completed_at: Option<String>,
    pub tags: Vec<String>,
    steps: Vec<Step>,
}

#[derive(Default, Debug)]
pub struct Step {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub input: Option<Value>,
    pub output: Option<Value>,
}

/// A scalar as text; objects, arrays and null are not text.
fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Workflow {
    /// `None` unless the value is an object: anything else is not a workflow.
    pub fn from_value(mut v: Value) -> Option<Workflow> {
        let map = v.as_object_mut()?;
        let tags = match map.get("tags") {
            Some(Value::Array(items)) => items.iter().filter_map(|t| text_of(Some(t))).collect(),
            _ => Vec::new(),
        };
        let steps = match map.remove("steps") {
            Some(Value::Array(items)) => items.into_iter().filter_map(Step::from_value).collect(),
            _ => Vec::new(),
        };
        Some(Workflow {
            id: text_of(map.get("id")),
            status: text_of(map.get("status")),
            created_at: text_of(map.get("createdAt")),
            completed_at: text_of(map.get("completedAt")),
            tags,
            steps,
        })
    }

    /// Parses a workflow body; a body that is not a JSON object is an error.
    pub fn parse(body: &str, what: &str) -> Result<Workflow> {
        let v: Value = parse_json(body, what)?;
        Workflow::from_value(v).ok_or_else(|| {
            Error::other(format!(
                "the API sent something that is not a workflow for {what}"
            ))
        })
    }
}

impl Step {
    fn from_value(mut v: Value) -> Option<Step> {
        let map = v.as_object_mut()?;
        Some(Step {
            kind: text_of(map.get("$type")),
            name: text_of(map.get("name")),
            status: text_of(map.get("status")),
            input: map.remove("input"),
            output: map.remove("output").filter(|o| !o.is_null()),
        })
    }
}

impl Workflow {
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn is_final(&self) -> bool {
        self.status.as_deref().is_some_and(is_final_status)
    }
}

pub fn is_final_status(s: &str) -> bool {
    matches!(s, "succeeded" | "failed" | "expired" | "canceled")
}

impl Step {
    /// The prompt of the step's input, when it has one.
    pub fn prompt(&self) -> Option<&str> {
        self.input.as_ref()?.get("prompt")?.as_str()
    }
}

/// A file a step produced, found anywhere in its output.
/// What a workflow was charged, by currency (Buzz account type), from its
/// `transactions.list`: debits less credits, in the order first seen.
pub fn cost_by_currency(workflow: &Value) -> Vec<(String, f64)> {
    let mut by: Vec<(String, f64)> = Vec::new();
    let list = workflow
        .pointer("/transactions/list")
        .and_then(Value::as_array);
    for t in list.into_iter().flatten() {
        let (Some(account), Some(amount)) = (
            t.get("accountType").and_then(Value::as_str),
            t.get("amount").and_then(Value::as_f64),
        ) else {
            continue;
        };
        let signed = match t.get("type").and_then(Value::as_str) {
            Some("credit") => -amount,
            _ => amount,
        };
        match by.iter_mut().find(|(a, _)| a == account) {
            Some((_, sum)) => *sum += signed,
            None => by.push((account.to_string(), signed)),
        }
    }
    by
}

/// Why a step failed, where the workflow says: its `metadata.failureReason`
/// (or a `failureReason` / `error` of the step itself).
pub fn failure_reason(step: &Value) -> Option<&str> {
    step.pointer("/metadata/failureReason")
        .or_else(|| step.get("failureReason"))
        .or_else(|| step.get("error"))
        .and_then(Value::as_str)
        .filter(|r| !r.trim().is_empty())
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlobRef {
    pub id: String,
    /// `image`, `video`, or `blob` when the output did not say.
    pub kind: String,
    pub url: Option<String>,
    pub available: bool,
    pub blocked_reason: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    /// The job that made it.
    pub job_id: Option<String>,
    pub nsfw_level: Option<String>,
}

/// Every blob in a step's output, in document order: objects with a string
/// `id` and a boolean `available` at any depth, and the bare ids of
/// `blobId` / `blobIds`.
pub fn find_blobs(output: &Value) -> Vec<BlobRef> {
    let mut found = Vec::new();
    collect_blobs(output, None, &mut found, 0);
    found
}

/// Output fields that hold a step's main results, in the order they are
/// numbered: `video` before `additionalVideos`.
const PRIMARY_KEYS: &[&str] = &[
    "images", "image", "video", "videos", "blob", "blobs", "blobId", "blobIds",
];

/// Output nesting deeper than this is not followed (a hostile body must not
/// exhaust the stack).
const MAX_DEPTH: usize = 32;

fn collect_blobs(v: &Value, key: Option<&str>, found: &mut Vec<BlobRef>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            if let (Some(Value::String(id)), Some(Value::Bool(available))) =
                (map.get("id"), map.get("available"))
            {
                found.push(blob_from_object(id, *available, map, key));
                return;
            }
            // The main outputs first, whatever the map's own order.
            let first = PRIMARY_KEYS.iter().filter_map(|k| map.get_key_value(*k));
            let rest = map
                .iter()
                .filter(|(k, _)| !PRIMARY_KEYS.contains(&k.as_str()));
            for (k, child) in first.chain(rest) {
                collect_blobs(child, Some(k), found, depth + 1);
            }
        }
        Value::Array(items) => {
            for child in items {
                collect_blobs(child, key, found, depth + 1);
            }
        }
        Value::String(id) if matches!(key, Some("blobId" | "blobIds")) => found.push(BlobRef {
            id: id.clone(),
            kind: "blob".into(),
            url: None,
            available: true,
            blocked_reason: None,
            width: None,
            height: None,
            job_id: None,
            nsfw_level: None,
        }),
        _ => {}
    }
}

fn blob_from_object(
    id: &str,
    available: bool,
    map: &serde_json::Map<String, Value>,
    key: Option<&str>,
) -> BlobRef {
    let str_field = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
    // An empty type says nothing: the key it was found under decides.
    let kind = str_field("type")
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            match key {
                Some(k) if k.to_ascii_lowercase().contains("video") => "video",
                Some(k) if k.to_ascii_lowercase().contains("image") => "image",
                _ => "blob",
            }
            .to_string()
        });
    BlobRef {
        id: id.to_string(),
        kind,
        url: str_field("url").filter(|u| !u.is_empty()),
        available,
        blocked_reason: str_field("blockedReason"),
        width: map.get("width").and_then(Value::as_u64),
        height: map.get("height").and_then(Value::as_u64),
        job_id: str_field("jobId"),
        nsfw_level: str_field("nsfwLevel"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn segments_cannot_change_the_path() {
        assert_eq!(seg("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(seg("ü"), "%C3%BC");
        assert_eq!(seg("0-019b.jpeg"), "0-019b.jpeg");
        assert_eq!(seg(".."), "%2E%2E");
        assert_eq!(seg("."), "%2E");
    }

    #[test]
    fn blobs_are_found_in_every_output_shape() {
        let out = json!({
            "images": [{"id": "a.jpeg", "available": true, "url": "u", "width": 2, "height": 3}],
            "video": {"id": "v.mp4", "available": true, "type": "video"},
            "additionalVideos": [{"id": "w.webm", "available": false, "blockedReason": "x"}],
            "blobId": "b1",
            "blobIds": ["b2"],
            "deep": {"frames": [{"videoBlob": {"id": "f", "available": true}}]},
            "other": {"id": 5, "available": "yes"}
        });
        let ids: Vec<_> = find_blobs(&out)
            .into_iter()
            .map(|b| (b.id, b.kind))
            .collect();
        let mut ids = ids;
        ids.sort();
        assert_eq!(
            ids,
            [
                ("a.jpeg".into(), "image".into()),
                ("b1".into(), "blob".into()),
                ("b2".into(), "blob".into()),
                ("f".into(), "video".into()),
                ("v.mp4".into(), "video".into()),
                ("w.webm".into(), "video".into()),
            ]
        );
    }

    #[test]
    fn an_empty_type_is_no_type() {
        let out = json!({"images": [{"id": "x", "available": true, "type": ""}]});
        assert_eq!(find_blobs(&out)[0].kind, "image");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let mut v = json!({"id": "x", "available": true});
        for _ in 0..100 {
            v = json!([v]);
        }
        // Past MAX_DEPTH the walk stops instead of going on down.
        assert!(find_blobs(&v).is_empty());
    }

    #[test]
    fn page_cursor_prefers_next() {
        let p: Page = serde_json::from_str(r#"{"items":[],"next":"","nextCursor":"c"}"#).unwrap();
        assert_eq!(p.next_cursor(), None);
        let p: Page = serde_json::from_str(r#"{"items":[],"nextCursor":"c"}"#).unwrap();
        assert_eq!(p.next_cursor(), Some("c"));
    }
}
