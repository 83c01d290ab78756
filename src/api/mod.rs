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
use crate::prune::Keep;

mod listed;
pub use listed::ListedPage;

/// Parses a body, naming what was expected when it is not that.
pub fn parse_json<'a, T: serde::Deserialize<'a>>(body: &'a str, what: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| not_json(what, &e))
}

fn not_json(what: &str, e: &serde_json::Error) -> Error {
    Error::other(format!(
        "the API sent a body that is not the expected JSON for {what}: {e}"
    ))
}

/// Parses a body down to the paths of `keep` (see [`Keep`]).
pub fn parse_kept(body: &str, keep: &Keep, what: &str) -> Result<Value> {
    keep.parse(body).map_err(|e| not_json(what, &e))
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

// DOCS: POST /v2/consumer/workflows?wait=N&whatif=BOOL (submit a template;
// `wait` in whole seconds, `whatif` prices it and runs nothing)
pub fn submit_path(wait: Option<u64>, whatif: bool) -> String {
    let mut q = Query::default();
    if let Some(secs) = wait {
        q.push("wait", &secs.to_string());
    }
    q.flag("whatif", whatif);
    format!("{WORKFLOWS}{}", q.as_str())
}

// DOCS: GET /v2/consumer/workflows/{workflowId}; also PUT (cancel: `{"status":"canceled"}`,
// 204) and DELETE (204, then 404 everywhere)
pub fn workflow_path(id: &str) -> String {
    format!("{WORKFLOWS}/{}", seg(id))
}

// DOCS: POST /v2/consumer/workflows/{workflowId}/tags with a bare JSON string (adds it, 204);
// DELETE (removes them all, 204)
pub fn tags_path(id: &str) -> String {
    format!("{WORKFLOWS}/{}/tags", seg(id))
}

// DOCS: DELETE /v2/consumer/workflows/{workflowId}/tags/{tag} (204)
pub fn tag_path(id: &str, tag: &str) -> String {
    format!("{WORKFLOWS}/{}/tags/{}", seg(id), seg(tag))
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

// DOCS: GET /v2/consumer/blobs/upload: a signed `uploadUrl` on the file
// host, where the bytes are then POSTed without the token
pub const BLOB_UPLOAD: &str = "/v2/consumer/blobs/upload";

/// One page of `GET /v2/consumer/workflows`; items stay raw so they can be
/// re-printed exactly as the API sent them.
pub struct Page<'a> {
    pub items: Option<Vec<&'a RawValue>>,
    pub next: Option<String>,
    /// What older clients read; the API sends `next`.
    pub next_cursor: Option<String>,
}

/// By hand rather than derived: a derived struct refuses a key given twice
/// and takes an array for an object, where a [`KeptPage`] (and a `Value`)
/// keeps a key's last value and wants an object. A page must read the same
/// whether its items are printed as sent or parsed down to what is shown.
/// So a part of the wrong type is refused only when no later value of its
/// key replaces it (`{"items":5,"items":[...]}` is a page of items, as its
/// `Value` is).
impl<'de: 'a, 'a> Deserialize<'de> for Page<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = Page<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a page of workflows")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Page<'de>, A::Error> {
                // `Err(what)`: the last value read was not `what`.
                let (mut items, mut next, mut next_cursor) = (Ok(None), Ok(None), Ok(None));
                while let Some(key) = map.next_key::<std::borrow::Cow<str>>()? {
                    match &*key {
                        "items" => items = map.next_value_seed(Part::<Vec<&'de RawValue>>::new())?,
                        "next" => next = map.next_value_seed(Part::<String>::new())?,
                        "nextCursor" => next_cursor = map.next_value_seed(Part::<String>::new())?,
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                let wrong =
                    |key: &str, what: &str| A::Error::custom(format!("`{key}` is not {what}"));
                Ok(Page {
                    items: items.map_err(|w| wrong("items", w))?,
                    next: next.map_err(|w| wrong("next", w))?,
                    next_cursor: next_cursor.map_err(|w| wrong("nextCursor", w))?,
                })
            }
        }
        d.deserialize_map(Fields)
    }
}

/// One part of a [`Page`] read whatever its type: null is `None`, a value
/// of type `T` is `Some`, anything else is skipped (without recursion) and
/// `Err` (what `T` is, for the message), so a later value can replace it.
struct Part<T>(std::marker::PhantomData<T>);

impl<T> Part<T> {
    fn new() -> Self {
        Part(std::marker::PhantomData)
    }
}

type PartOf<T> = std::result::Result<Option<T>, &'static str>;

impl<'de, T> serde::de::DeserializeSeed<'de> for Part<T>
where
    Part<T>: serde::de::Visitor<'de, Value = PartOf<T>>,
{
    type Value = PartOf<T>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// The visits of every value but one, each skipping it as `Err($what)`.
macro_rules! wrong_part {
    ($what:expr; $($skip:ident)*) => {
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str($what)
        }
        fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
            Ok(Ok(None))
        }
        fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
            Ok(Err($what))
        }
        fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
            Ok(Err($what))
        }
        fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
            Ok(Err($what))
        }
        fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
            Ok(Err($what))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(Err($what))
        }
        $(wrong_part!(@$skip $what);)*
    };
    (@seq $what:expr) => {
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(Err($what))
        }
    };
    (@str $what:expr) => {
        fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
            Ok(Err($what))
        }
    };
}

impl<'de> serde::de::Visitor<'de> for Part<Vec<&'de RawValue>> {
    type Value = PartOf<Vec<&'de RawValue>>;

    wrong_part!("a list of workflows"; str);

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Ok(Some(items)))
    }
}

impl<'de> serde::de::Visitor<'de> for Part<String> {
    type Value = PartOf<String>;

    wrong_part!("a cursor"; seq);

    fn visit_str<E>(self, s: &str) -> std::result::Result<Self::Value, E> {
        Ok(Ok(Some(s.to_string())))
    }
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

/// A page of workflows whose items were parsed down to a [`Keep`] as the
/// page was read: one pass over the body, where a [`Page`] of raw items
/// and a parse of each would make two.
pub struct KeptPage {
    pub items: Vec<Value>,
    next: Option<String>,
}

impl KeptPage {
    /// What of a page to keep, for items kept as `item` says.
    pub fn keep(item: Keep) -> Keep {
        Keep::none()
            .path(["next"])
            .path(["nextCursor"])
            .under("items", item)
    }

    /// Parses a page with a tree made by [`KeptPage::keep`]; what a
    /// [`Page`] refuses, this refuses too.
    pub fn parse(body: &str, keep: &Keep, what: &str) -> Result<KeptPage> {
        let wrong = || {
            Error::other(format!(
                "the API sent a body that is not the expected JSON for {what}"
            ))
        };
        let Value::Object(mut page) = parse_kept(body, keep, what)? else {
            return Err(wrong());
        };
        let items = match page.remove("items") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(wrong()),
        };
        let mut cursor = |key: &str| match page.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong()),
        };
        let next = cursor("next")?;
        let next_cursor = cursor("nextCursor")?;
        Ok(KeptPage {
            items,
            next: next.or(next_cursor).filter(|c| !c.is_empty()),
        })
    }

    /// The cursor of the next page, as [`Page::next_cursor`] has it.
    pub fn next_cursor(&self) -> Option<&str> {
        self.next.as_deref()
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
    /// The head of the prompt, for a step a listing read (it keeps no
    /// input then; see `listed`).
    prompt: Option<String>,
}

/// A scalar as text, taken out of the value it was in (a string is moved,
/// not copied); objects, arrays and null are not text.
fn text_of(v: Option<Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// How many characters of a prompt a listing shows.
pub const PROMPT_SHOWN: usize = 100;

impl Workflow {
    /// `None` unless the value is an object: anything else is not a workflow.
    pub fn from_value(mut v: Value) -> Option<Workflow> {
        let map = v.as_object_mut()?;
        let tags = match map.remove("tags") {
            Some(Value::Array(items)) => {
                items.into_iter().filter_map(|t| text_of(Some(t))).collect()
            }
            _ => Vec::new(),
        };
        let steps = match map.remove("steps") {
            Some(Value::Array(items)) => items.into_iter().filter_map(Step::from_value).collect(),
            _ => Vec::new(),
        };
        Some(Workflow {
            id: text_of(map.remove("id")),
            status: text_of(map.remove("status")),
            created_at: text_of(map.remove("createdAt")),
            completed_at: text_of(map.remove("completedAt")),
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
            kind: text_of(map.remove("$type")),
            name: text_of(map.remove("name")),
            status: text_of(map.remove("status")),
            input: map.remove("input"),
            output: map.remove("output").filter(|o| !o.is_null()),
            prompt: None,
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
        match &self.prompt {
            Some(p) => Some(p),
            None => self.input.as_ref()?.get("prompt")?.as_str(),
        }
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

/// The kind of a blob as counted: from its `type`, else from the key it was
/// found under (see [`find_blobs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobKind {
    Image,
    Video,
    /// Any other `type`, or `blob` when the output did not say.
    Other,
}

impl BlobKind {
    /// The kind of a [`BlobRef::kind`] or of an output's `type`.
    pub fn of(kind: &str) -> BlobKind {
        match kind {
            "image" => BlobKind::Image,
            "video" => BlobKind::Video,
            _ => BlobKind::Other,
        }
    }

    /// The kind a key names: `videos`, `additionalVideos`, `imageBlob`.
    fn of_key(key: &str) -> BlobKind {
        let has = |word: &str| {
            key.as_bytes()
                .windows(word.len())
                .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
        };
        if has("video") {
            BlobKind::Video
        } else if has("image") {
            BlobKind::Image
        } else {
            BlobKind::Other
        }
    }
}

/// The blobs of a step's output, read straight from its JSON text: what
/// [`find_blobs`] finds in the parsed output (the same blobs, by kind,
/// availability and blocked reason; not in the same order), without
/// building a `Value`. See [`Reader::each_blob`].
pub fn each_blob(output: &str, f: &mut dyn FnMut(BlobKind, bool, Option<&str>)) -> Result<()> {
    Reader::default().each_blob(output, f)
}

/// Reads step outputs, transactions and failed steps straight from their
/// JSON text, as [`find_blobs`], [`cost_by_currency`] and [`failure_reason`]
/// read them from a `Value`, without building one. Its buffers are kept
/// from one call to the next, so that a long count (`stats`) does not
/// allocate per workflow.
///
/// The text is accepted and refused exactly as parsing it into a `Value`
/// would (the same errors: numbers out of range, nesting past 128, and
/// serde_json's raw-value object read as the JSON text it holds), and of
/// a key given twice the last value counts, as in a `Value`.
#[derive(Default)]
pub struct Reader {
    /// The output's open objects and arrays, down to `MAX_DEPTH`.
    levels: Vec<Level>,
    /// The blobs found so far. Those under an object that turns out to be a
    /// blob itself go when it closes: a blob's children are not looked into.
    found: Vec<Found>,
    /// The object keys whose values hold some of `found`: a key given again
    /// drops what its earlier value held.
    held: Vec<Held>,
    /// Keys, blocked reasons, an account, failure reasons: copied here.
    text: String,
}

/// A charge of [`Reader::each_charge`]: its account and amount; `None`
/// drops the charges given before it.
pub type Charge<'a> = Option<(&'a str, f64)>;

type Span = (usize, usize);

#[derive(Clone, Copy)]
struct Found {
    kind: BlobKind,
    available: bool,
    reason: Option<Span>,
}

struct Held {
    key: Span,
    /// The range of `found` its value holds.
    from: usize,
    to: usize,
}

/// The key values are found under.
#[derive(Clone, Copy)]
struct Under {
    /// Its text, which names the kind of a blob object without a `type`
    /// (only looked at for such a blob).
    key: Option<Span>,
    /// `blobId` or `blobIds`: its strings are blobs.
    ids: bool,
}

impl Under {
    const NONE: Under = Under {
        key: None,
        ids: false,
    };
}

/// The blob fields of an object.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    Id,
    Available,
    Type,
    BlockedReason,
    Other,
}

struct Level {
    object: bool,
    /// The key the object or array was found under.
    under: Under,
    /// `found` and `held` when it opened.
    found_at: usize,
    held_at: usize,
    // An object's current key, and what its fields say so far.
    key: Under,
    key_text: Span,
    field: Field,
    /// `found` when the current key's value began.
    value_at: usize,
    id: bool,
    available: Option<bool>,
    kind: Option<BlobKind>,
    reason: Option<Span>,
}

impl Reader {
    /// Calls `f` with each blob of a step's output: an object with a string
    /// `id` and a boolean `available` (whose children are not looked into),
    /// of the kind its non-empty `type` says, else the kind its key names
    /// (`video`, `image`, case-insensitive), else other; and each string
    /// under a `blobId` or `blobIds` key, an available blob of kind other.
    /// As [`find_blobs`], nothing deeper than `MAX_DEPTH` is looked at.
    pub fn each_blob(
        &mut self,
        output: &str,
        f: &mut dyn FnMut(BlobKind, bool, Option<&str>),
    ) -> Result<()> {
        self.levels.clear();
        self.found.clear();
        self.held.clear();
        self.text.clear();
        walk_json(output, &mut |depth, node| self.blob_node(depth, node))
            .map_err(|e| not_json("a step's output", &e))?;
        for b in &self.found {
            f(b.kind, b.available, b.reason.map(|(a, z)| &self.text[a..z]));
        }
        Ok(())
    }

    /// The key a value at the current place is found under.
    fn under(&self) -> Under {
        match self.levels.last() {
            Some(l) if l.object => l.key,
            Some(l) => l.under,
            None => Under::NONE,
        }
    }

    fn blob_node(&mut self, depth: usize, node: Node) {
        // An object at MAX_DEPTH is still read, and so its own keys and
        // values; below them nothing is.
        if depth > MAX_DEPTH + 1 {
            return;
        }
        match node {
            Node::Open { object } => {
                if depth <= MAX_DEPTH {
                    self.levels.push(Level {
                        object,
                        under: self.under(),
                        found_at: self.found.len(),
                        held_at: self.held.len(),
                        key: Under::NONE,
                        key_text: (0, 0),
                        field: Field::Other,
                        value_at: 0,
                        id: false,
                        available: None,
                        kind: None,
                        reason: None,
                    });
                }
            }
            Node::Key(key) => self.key(key),
            Node::Close => {
                if depth <= MAX_DEPTH {
                    if let Some(l) = self.levels.pop() {
                        self.close(&l);
                    }
                }
                self.value_done(depth, None);
            }
            Node::Str(_) => {
                if depth <= MAX_DEPTH && self.under().ids {
                    self.found.push(Found {
                        kind: BlobKind::Other,
                        available: true,
                        reason: None,
                    });
                }
                self.value_done(depth, Some(node));
            }
            _ => self.value_done(depth, Some(node)),
        }
    }

    fn key(&mut self, key: &str) {
        let Some(l) = self.levels.last_mut() else {
            return;
        };
        let text = &self.text;
        let again = self.held[l.held_at..]
            .iter()
            .position(|h| &text[h.key.0..h.key.1] == key);
        if let Some(i) = again {
            let h = self.held.remove(l.held_at + i);
            self.found.drain(h.from..h.to);
            for later in &mut self.held[l.held_at + i..] {
                later.from -= h.to - h.from;
                later.to -= h.to - h.from;
            }
        }
        let start = self.text.len();
        self.text.push_str(key);
        l.key_text = (start, self.text.len());
        l.key = Under {
            key: Some(l.key_text),
            ids: matches!(key, "blobId" | "blobIds"),
        };
        l.field = match key {
            "id" => Field::Id,
            "available" => Field::Available,
            "type" => Field::Type,
            "blockedReason" => Field::BlockedReason,
            _ => Field::Other,
        };
        l.value_at = self.found.len();
    }

    /// A value at `depth` ended: a scalar, or (`None`) an object or array.
    fn value_done(&mut self, depth: usize, scalar: Option<Node>) {
        if depth == 0 {
            return;
        }
        let Some(l) = self.levels.last_mut() else {
            return;
        };
        if !l.object {
            return;
        }
        if self.found.len() > l.value_at {
            self.held.push(Held {
                key: l.key_text,
                from: l.value_at,
                to: self.found.len(),
            });
        }
        let s = match scalar {
            Some(Node::Str(s)) => Some(s),
            _ => None,
        };
        match l.field {
            Field::Id => l.id = s.is_some(),
            Field::Available => {
                l.available = match scalar {
                    Some(Node::Bool(b)) => Some(b),
                    _ => None,
                }
            }
            Field::Type => l.kind = s.filter(|t| !t.is_empty()).map(BlobKind::of),
            Field::BlockedReason => {
                l.reason = s.map(|s| {
                    let start = self.text.len();
                    self.text.push_str(s);
                    (start, self.text.len())
                })
            }
            Field::Other => {}
        }
    }

    fn close(&mut self, l: &Level) {
        if !l.object {
            return;
        }
        self.held.truncate(l.held_at);
        if let (true, Some(available)) = (l.id, l.available) {
            self.found.truncate(l.found_at);
            let kind = l.kind.unwrap_or_else(|| match l.under.key {
                Some((a, z)) => BlobKind::of_key(&self.text[a..z]),
                None => BlobKind::Other,
            });
            self.found.push(Found {
                kind,
                available,
                reason: l.reason,
            });
        }
    }

    /// Calls `f` with each charge of a workflow's `transactions`, as
    /// [`cost_by_currency`] adds them: its account and amount, negative for
    /// a credit, in order; and `f(None)` when a later `list` replaces the
    /// one whose charges were given so far (drop them).
    pub fn each_charge(&mut self, transactions: &str, f: &mut dyn FnMut(Charge)) -> Result<()> {
        #[derive(Clone, Copy, PartialEq)]
        enum At {
            Other,
            /// The value of a top-level `list`.
            List,
            /// In an object of that list: after which key.
            Item(Field),
        }
        const ACCOUNT: Field = Field::Id;
        const AMOUNT: Field = Field::Available;
        const TYPE: Field = Field::Type;
        let mut at = At::Other;
        let (mut account, mut amount, mut credit) = (false, None::<f64>, false);
        let text = &mut self.text;
        walk_json(transactions, &mut |depth, node| match (depth, node) {
            (1, Node::Key(k)) => {
                at = if k == "list" { At::List } else { At::Other };
                if at == At::List {
                    f(None);
                }
            }
            (1, Node::Open { object: false }) if at == At::List => at = At::Item(Field::Other),
            (1, _) => at = At::Other,
            // An item ends (an object, or anything else, which has no
            // fields).
            (2, Node::Close) if at != At::Other => {
                if let (true, Some(a)) = (account, amount) {
                    f(Some((text.as_str(), if credit { -a } else { a })));
                }
                (account, amount, credit) = (false, None, false);
                at = At::Item(Field::Other);
            }
            (3, Node::Key(k)) if at != At::Other => {
                at = At::Item(match k {
                    "accountType" => ACCOUNT,
                    "amount" => AMOUNT,
                    "type" => TYPE,
                    _ => Field::Other,
                })
            }
            // A field's value (an object or array one as it opens).
            (3, node) => match (at, node) {
                (_, Node::Close) => {}
                (At::Item(ACCOUNT), Node::Str(s)) => {
                    text.clear();
                    text.push_str(s);
                    account = true;
                }
                (At::Item(ACCOUNT), _) => account = false,
                (At::Item(AMOUNT), Node::Number(n)) => amount = Some(n),
                (At::Item(AMOUNT), _) => amount = None,
                (At::Item(TYPE), node) => credit = matches!(node, Node::Str("credit")),
                _ => {}
            },
            _ => {}
        })
        .map_err(|e| not_json("transactions", &e))
    }

    /// Why a failed step failed, as [`failure_reason`] reads it from the
    /// step, given the JSON text of the step's `metadata`, `failureReason`
    /// and `error` (those it has).
    pub fn failure_reason(
        &mut self,
        metadata: Option<&str>,
        reason: Option<&str>,
        error: Option<&str>,
    ) -> Result<Option<&str>> {
        self.text.clear();
        // For each part: when it says something, and the text it says.
        let mut said: [Option<Option<Span>>; 3] = [None; 3];
        for (i, json) in [metadata, reason, error].into_iter().enumerate() {
            let Some(json) = json else { continue };
            // Of `metadata`, its `failureReason`; of the others, themselves.
            let mut current = i > 0;
            let (text, said) = (&mut self.text, &mut said[i]);
            walk_json(json, &mut |depth, node| match (i, depth, node) {
                (0, 1, Node::Key(k)) => {
                    current = k == "failureReason";
                    if current {
                        *said = Some(None);
                    }
                }
                (_, d, Node::Str(s)) if current && d == usize::from(i == 0) => {
                    let start = text.len();
                    text.push_str(s);
                    *said = Some(Some((start, text.len())));
                }
                (1 | 2, 0, _) => *said = said.or(Some(None)),
                _ => {}
            })
            .map_err(|e| not_json("a failed step", &e))?;
        }
        let why = said.into_iter().flatten().next().flatten();
        Ok(why
            .map(|(a, z)| &self.text[a..z])
            .filter(|r| !r.trim().is_empty()))
    }
}

/// A node of JSON text, as [`walk_json`] gives it with its depth: 0 for
/// the top value, one more for each enclosing object or array (an
/// object's keys are as deep as its values). Strings are lent for the
/// call only.
#[derive(Clone, Copy)]
enum Node<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(&'a str),
    Open { object: bool },
    Key(&'a str),
    Close,
}

type Sink<'f> = dyn FnMut(usize, Node<'_>) + 'f;

/// Gives each node of `json` to `sink`, in document order, building
/// nothing: the same parse as into a `Value` (every value read with
/// `deserialize_any`), so the same text is refused with the same error.
fn walk_json(json: &str, sink: &mut Sink) -> serde_json::Result<()> {
    walk_at(json, sink, 0)
}

fn walk_at(json: &str, sink: &mut Sink, depth: usize) -> serde_json::Result<()> {
    use serde::de::DeserializeSeed;
    let mut d = serde_json::Deserializer::from_str(json);
    Walk { sink, depth }.deserialize(&mut d)?;
    d.end()
}

struct Walk<'s, 'f> {
    sink: &'s mut Sink<'f>,
    depth: usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E>(self, b: bool) -> std::result::Result<(), E> {
        (self.sink)(self.depth, Node::Bool(b));
        Ok(())
    }
    fn visit_i64<E>(self, n: i64) -> std::result::Result<(), E> {
        (self.sink)(self.depth, Node::Number(n as f64));
        Ok(())
    }
    fn visit_u64<E>(self, n: u64) -> std::result::Result<(), E> {
        (self.sink)(self.depth, Node::Number(n as f64));
        Ok(())
    }
    fn visit_f64<E>(self, n: f64) -> std::result::Result<(), E> {
        (self.sink)(self.depth, Node::Number(n));
        Ok(())
    }
    fn visit_str<E>(self, s: &str) -> std::result::Result<(), E> {
        (self.sink)(self.depth, Node::Str(s));
        Ok(())
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        (self.sink)(self.depth, Node::Null);
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(), A::Error> {
        let Walk { sink, depth } = self;
        sink(depth, Node::Open { object: false });
        while seq
            .next_element_seed(Walk {
                sink: &mut *sink,
                depth: depth + 1,
            })?
            .is_some()
        {}
        sink(depth, Node::Close);
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<(), A::Error> {
        let Walk { sink, depth } = self;
        let mut first = true;
        while let Some(raw) = map.next_key_seed(KeyOf {
            sink: &mut *sink,
            depth,
            first,
        })? {
            if raw {
                // As `Value` reads serde_json's raw-value object: the JSON
                // text it holds, in its place.
                let text = map.next_value_seed(RawText)?;
                return walk_at(&text, sink, depth).map_err(serde::de::Error::custom);
            }
            first = false;
            map.next_value_seed(Walk {
                sink: &mut *sink,
                depth: depth + 1,
            })?;
        }
        if first {
            sink(depth, Node::Open { object: true });
        }
        sink(depth, Node::Close);
        Ok(())
    }
}

/// An object key; the first one opens the object, unless it is
/// serde_json's raw-value token (then `true`).
struct KeyOf<'s, 'f> {
    sink: &'s mut Sink<'f>,
    depth: usize,
    first: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for KeyOf<'_, '_> {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeyOf<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E>(self, key: &str) -> std::result::Result<bool, E> {
        if self.first {
            if key == RAW_VALUE_TOKEN {
                return Ok(true);
            }
            (self.sink)(self.depth, Node::Open { object: true });
        }
        (self.sink)(self.depth + 1, Node::Key(key));
        Ok(false)
    }
}

/// serde_json's key for a raw value (`serde_json::raw::TOKEN`, not public).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The string under that key, as serde_json reads it for a `Value`.
struct RawText;

impl<'de> serde::de::DeserializeSeed<'de> for RawText {
    type Value = String;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for RawText {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("raw value")
    }

    fn visit_str<E>(self, s: &str) -> std::result::Result<String, E> {
        Ok(s.to_string())
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
        assert_eq!(
            tag_path("w 1", "a/b c"),
            "/v2/consumer/workflows/w%201/tags/a%2Fb%20c"
        );
        assert_eq!(tags_path("w"), "/v2/consumer/workflows/w/tags");
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

    /// The blobs `find_blobs` finds in the output `json`, as `each_blob`
    /// gives them, in order.
    fn by_value(json: &str) -> Vec<(BlobKind, bool, Option<String>)> {
        let v: Value = serde_json::from_str(json).unwrap();
        let mut all: Vec<_> = find_blobs(&v)
            .into_iter()
            .map(|b| (BlobKind::of(&b.kind), b.available, b.blocked_reason))
            .collect();
        all.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        all
    }

    fn by_text(reader: &mut Reader, json: &str) -> Vec<(BlobKind, bool, Option<String>)> {
        let mut all = Vec::new();
        reader
            .each_blob(json, &mut |kind, available, reason| {
                all.push((kind, available, reason.map(str::to_string)))
            })
            .unwrap();
        all.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        all
    }

    /// Every JSON text of the fixtures: whole files, and each value in
    /// them both as written (step outputs) and as re-printed by a `Value`.
    fn fixture_texts() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut texts = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    raw_values(&text, &mut texts);
                }
            }
        }
        assert!(texts.len() > 1000, "{} texts", texts.len());
        texts
    }

    /// `json` and each value in it, as written.
    fn raw_values(json: &str, out: &mut Vec<String>) {
        out.push(json.to_string());
        match json.trim_start().as_bytes().first() {
            Some(b'{') => {
                let map: std::collections::BTreeMap<String, Box<RawValue>> =
                    serde_json::from_str(json).unwrap();
                for v in map.values() {
                    raw_values(v.get(), out);
                }
            }
            Some(b'[') => {
                let items: Vec<Box<RawValue>> = serde_json::from_str(json).unwrap();
                for v in &items {
                    raw_values(v.get(), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn each_blob_finds_what_find_blobs_finds_in_the_fixtures() {
        let mut reader = Reader::default();
        let mut blobs = 0;
        for json in fixture_texts() {
            let want = by_value(&json);
            blobs += want.len();
            assert_eq!(by_text(&mut reader, &json), want, "{json}");
            // And through a fresh reader.
            let mut n = 0;
            each_blob(&json, &mut |_, _, _| n += 1).unwrap();
            assert_eq!(n, want.len());
        }
        assert!(blobs > 100, "{blobs} blobs");
    }

    #[test]
    fn each_blob_finds_what_find_blobs_finds_in_odd_shapes() {
        let mut deep = json!({"id": "x", "available": true, "type": "video"});
        let mut deep_texts = Vec::new();
        for _ in 0..40 {
            deep_texts.push(deep.to_string());
            deep = json!([deep, {"blobIds": ["s"]}]);
        }
        // What lies under an object at the last depth looked at is not
        // taken for its own fields.
        let mut last =
            json!({"id": "x", "available": true, "z": {"available": 1, "type": "image"}});
        for _ in 0..34 {
            deep_texts.push(last.to_string());
            last = json!({"images": last});
        }
        let shapes = [
            // find_blobs' own tests.
            r#"{"images": [{"id": "a.jpeg", "available": true, "url": "u", "width": 2, "height": 3}],
                "video": {"id": "v.mp4", "available": true, "type": "video"},
                "additionalVideos": [{"id": "w.webm", "available": false, "blockedReason": "x"}],
                "blobId": "b1", "blobIds": ["b2"],
                "deep": {"frames": [{"videoBlob": {"id": "f", "available": true}}]},
                "other": {"id": 5, "available": "yes"}}"#,
            r#"{"images": [{"id": "x", "available": true, "type": ""}]}"#,
            // Children before the fields that make their parent a blob.
            r#"{"images": [{"id": "in", "available": true}], "id": "out", "available": false}"#,
            r#"{"videos": [{"blobIds": ["a", "b"], "id": "p", "available": true, "type": "Image"}]}"#,
            // A key given twice: the last value counts.
            r#"{"images": [{"id": "a", "available": true}], "images": 5}"#,
            r#"{"images": [{"id": "a", "available": true}], "videos": [{"id": "b", "available": true}],
                "images": [{"id": "c", "available": false}, {"id": "d", "available": true}],
                "videos": [], "blobId": "e", "blobId": ["f", "g"], "blobId": "h"}"#,
            r#"{"id": "a", "available": true, "available": null}"#,
            r#"{"id": "a", "available": true, "id": 1}"#,
            r#"{"id": 1, "available": true, "id": "a", "type": "video", "type": 3, "blockedReason": "r", "blockedReason": {}}"#,
            r#"{"id": "a", "available": false, "blockedReason": [1], "blockedReason": "  "}"#,
            r#"{"imageList": {"x": {"y": [[{"id": "a", "available": true}]]}}, "VIDEO": [[{"id": "b", "available": true}]]}"#,
            r#"{"blobIds": [["a", ["b", {"c": "d", "blobId": "e"}]], 5, null]}"#,
            r#"{"vid\u0065o": {"id": "a", "available": true}, "blob\u0049ds": ["b"], "\u0069d": "x", "available": true}"#,
            r#"{"blockedReason": "a \"quoted\"\nreason", "id": "x", "available": false, "type": "image"}"#,
            r#"{"a": {"id": "x", "available": true, "type": ""}, "b": {"id": "y", "available": true, "type": "audio"}}"#,
            // serde_json's raw-value object, read as the JSON it holds.
            r#"{"images": {"$serde_json::private::RawValue": "[{\"id\": \"r\", \"available\": true}]"}}"#,
            r#"{"images": [{"a": 1, "$serde_json::private::RawValue": 2}]}"#,
            r#""blobId""#,
            r#"["a", {"id": "x", "available": true}]"#,
            "{}",
            "[]",
            "null",
            "1.5",
        ];
        let mut reader = Reader::default();
        for json in shapes
            .iter()
            .copied()
            .chain(deep_texts.iter().map(|s| s.as_str()))
        {
            assert_eq!(by_text(&mut reader, json), by_value(json), "{json}");
        }
        // Around MAX_DEPTH: the video is found, then too deep to be.
        let video = |t: &String| by_value(t).iter().any(|b| b.0 == BlobKind::Video);
        assert!(video(&deep_texts[32]) && !video(&deep_texts[33]));
    }

    /// A random output (a small generator, the same every run) built of the
    /// keys and values the blob rule looks at.
    fn random_output(seed: &mut u64, depth: usize) -> String {
        fn next(seed: &mut u64, n: usize) -> usize {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 33) as usize % n
        }
        const KEYS: &[&str] = &[
            "id",
            "available",
            "type",
            "blockedReason",
            "blobId",
            "blobIds",
            "images",
            "videoList",
            "x",
        ];
        const SCALARS: &[&str] = &[
            "\"a\"",
            "\"\"",
            "\" \"",
            "\"image\"",
            "\"video\"",
            "true",
            "false",
            "null",
            "3",
        ];
        match next(seed, if depth > 5 { 1 } else { 4 }) {
            0 => SCALARS[next(seed, SCALARS.len())].to_string(),
            1 => {
                let items: Vec<String> = (0..next(seed, 4))
                    .map(|_| random_output(seed, depth + 1))
                    .collect();
                format!("[{}]", items.join(","))
            }
            _ => {
                let mut fields = Vec::new();
                for _ in 0..next(seed, 7) {
                    let key = KEYS[next(seed, KEYS.len())];
                    fields.push(format!("\"{key}\":{}", random_output(seed, depth + 1)));
                }
                format!("{{{}}}", fields.join(","))
            }
        }
    }

    #[test]
    fn each_blob_finds_what_find_blobs_finds_in_random_outputs() {
        let mut reader = Reader::default();
        let (mut seed, mut blobs) = (7, 0);
        for _ in 0..5000 {
            let json = random_output(&mut seed, 0);
            let want = by_value(&json);
            blobs += want.len();
            assert_eq!(by_text(&mut reader, &json), want, "{json}");
        }
        assert!(blobs > 1000, "{blobs} blobs");
    }

    #[test]
    fn each_blob_refuses_what_a_value_refuses() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        for json in [
            "{\"a\": 1e400}",
            &deep,
            "{\"a\": 1,}",
            "[1] 2",
            "\"\\ud800\"",
            r#"{"$serde_json::private::RawValue": "[1,"}"#,
            r#"{"$serde_json::private::RawValue": 5}"#,
            r#"{"$serde_json::private::RawValue": "1", "b": 2}"#,
        ] {
            let want = parse_json::<Value>(json, "a step's output").unwrap_err();
            let got = each_blob(json, &mut |_, _, _| {}).unwrap_err();
            assert_eq!(got.to_string(), want.to_string(), "{json}");
        }
    }

    /// `cost_by_currency` of a workflow with these transactions, through
    /// `each_charge`.
    fn charges(reader: &mut Reader, transactions: &str) -> Result<Vec<(String, f64)>> {
        let mut by: Vec<(String, f64)> = Vec::new();
        reader.each_charge(transactions, &mut |charge| match charge {
            None => by.clear(),
            Some((account, amount)) => match by.iter_mut().find(|(a, _)| a == account) {
                Some((_, sum)) => *sum += amount,
                None => by.push((account.to_string(), amount)),
            },
        })?;
        Ok(by)
    }

    #[test]
    fn each_charge_reads_what_cost_by_currency_reads() {
        let shapes = [
            r#"{"list": [{"type": "debit", "amount": 4, "accountType": "yellow"},
                         {"type": "credit", "amount": 1.5, "accountType": "yellow"},
                         {"amount": 2, "accountType": "blue", "type": "debit"}]}"#,
            r#"{"list": [{"amount": 1, "accountType": "a"}], "list": [{"amount": 2, "accountType": "b"}]}"#,
            r#"{"list": [{"amount": 1, "accountType": "a"}], "list": 5}"#,
            r#"{"list": [{"amount": "1", "accountType": "a"}, {"amount": 1, "accountType": 2},
                         {"amount": 1}, {"accountType": "a"}, [], 3, null,
                         {"amount": 1, "accountType": "a\"b", "accountType": "c", "type": "credit", "type": {}},
                         {"amount": {"x": 1}, "accountType": "d"}, {"accountType": ["d"], "amount": 2},
                         {"amount": 2, "accountType": "e", "type": "credit", "nested": {"list": [{"amount": 9, "accountType": "f"}]}},
                         [{"amount": 9, "accountType": "g"}]]}"#,
            r#"{"insufficientBuzz": null, "list": {"0": {"amount": 1, "accountType": "a"}}}"#,
            r#"{"other": {"list": [{"amount": 1, "accountType": "a"}]}}"#,
            r#"[{"list": [{"amount": 1, "accountType": "a"}]}]"#,
            r#"{"$serde_json::private::RawValue": "{\"list\": [{\"amount\": 3, \"accountType\": \"r\"}]}"}"#,
            r#"{"list": []}"#,
            "{}",
            "null",
            "7",
        ];
        let mut texts: Vec<String> = shapes.iter().map(|s| s.to_string()).collect();
        texts.extend(fixture_texts());
        let mut reader = Reader::default();
        let mut seen = 0;
        for json in &texts {
            let v: Value = serde_json::from_str(json).unwrap();
            let want = cost_by_currency(&json!({ "transactions": v }));
            seen += want.len();
            assert_eq!(charges(&mut reader, json).unwrap(), want, "{json}");
        }
        assert!(seen > 20, "{seen} currencies");
        for json in [
            "{\"list\": [{\"amount\": 1e999, \"accountType\": \"a\"}]}",
            "{",
        ] {
            let want = parse_json::<Value>(json, "transactions").unwrap_err();
            let got = charges(&mut reader, json).unwrap_err();
            assert_eq!(got.to_string(), want.to_string(), "{json}");
        }
    }

    #[test]
    fn reader_failure_reason_reads_what_failure_reason_reads() {
        let metadata = [
            None,
            Some(r#"{"failureReason": "out of memory"}"#),
            Some(r#"{"failureReason": null}"#),
            Some(r#"{"failureReason": "  "}"#),
            Some(r#"{"failureReason": "a", "failureReason": {"x": "b"}}"#),
            Some(r#"{"failureReason": 5, "failureReason": "c\nd"}"#),
            Some(r#"{"other": {"failureReason": "deep"}, "x": "failureReason"}"#),
            Some(r#"["failureReason", {"failureReason": "in a list"}]"#),
            Some(r#""failureReason""#),
            Some(r#"{"failureReasons": "no", "afailureReason": "no"}"#),
            Some(r#"{"$serde_json::private::RawValue": "{\"failureReason\": \"raw\"}"}"#),
        ];
        let own = [
            None,
            Some(r#""boom""#),
            Some("null"),
            Some(r#"["boom"]"#),
            Some(r#""""#),
            Some(r#"{"failureReason": "x"}"#),
        ];
        let mut reader = Reader::default();
        for m in metadata {
            for r in own {
                for e in own.iter().rev().copied() {
                    let mut step = serde_json::Map::new();
                    for (key, part) in [("metadata", m), ("failureReason", r), ("error", e)] {
                        if let Some(json) = part {
                            step.insert(key.into(), serde_json::from_str(json).unwrap());
                        }
                    }
                    let step = Value::Object(step);
                    let got = reader.failure_reason(m, r, e).unwrap().map(str::to_string);
                    assert_eq!(got.as_deref(), failure_reason(&step), "{m:?} {r:?} {e:?}");
                }
            }
        }
        // Text a `Value` refuses, in any part, is refused the same way.
        for (m, r, e) in [
            (Some("{\"a\": 1e400}"), None, None),
            (None, Some("[1e400]"), None),
            (Some("{}"), Some("\"x\""), Some("-1e999")),
        ] {
            let bad = [m, r, e].into_iter().flatten().last().unwrap();
            let want = parse_json::<Value>(bad, "a failed step").unwrap_err();
            let got = reader.failure_reason(m, r, e).unwrap_err();
            assert_eq!(got.to_string(), want.to_string());
        }
    }
}
