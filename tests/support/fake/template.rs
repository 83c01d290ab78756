//! The body of a submit (`POST /v2/consumer/workflows`), a workflow
//! template, checked the way API.md says the API checks it, every problem
//! at once, under the keys a ValidationProblemDetails uses
//! (`steps[0].input.width`, `tags[3]`, `externalId`, `$` for the body as a
//! whole); and its price.
//!
//! Stated by API.md, and refused: no `steps` or an empty array; a step that
//! is not an object, or lacks a string `$type` or an object `input`;
//! `priority` other than `high|normal|low`; `timeout` not `[d.]hh:mm:ss`;
//! `retries` not a non-negative integer; a `$ref` to a step that is not an
//! earlier one; more than 10 tags, a repeated one, one longer than 200
//! characters; `metadata` not an object; `externalId` not 1 to 128 of
//! `A-Za-z0-9_-`. Not stated, so the fake's choices (lenient otherwise):
//! any `$type` string is taken; step names must be unique (a `$ref` names
//! one); `input.width` / `input.height`, when given, are positive
//! integers; `input.quantity` an integer from 1 to 100 and
//! `input.batchSize` a positive integer; each callback an object with an
//! `http(s)://` `url`; `metadata.fake` (the fake's own knob, see
//! `writes.rs`) an object with `end` one of the final statuses and
//! `reads` an integer from 0 to 1000.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Problems by key, as in a ValidationProblemDetails' `errors`.
pub type Errors = BTreeMap<String, Vec<String>>;

fn push(errors: &mut Errors, key: impl Into<String>, msg: impl Into<String>) {
    errors.entry(key.into()).or_default().push(msg.into());
}

/// A template that passed.
pub struct Template {
    pub steps: Vec<StepTemplate>,
    pub tags: Vec<String>,
    pub metadata: Value,
    pub callbacks: Value,
    pub external_id: Option<String>,
    /// `metadata.fake`: how the workflow ends and after how many reads.
    pub end: &'static str,
    pub reads: u32,
}

pub struct StepTemplate {
    pub ty: String,
    pub name: String,
    pub priority: String,
    pub timeout: String,
    pub retries: u64,
    pub metadata: Value,
    pub input: Value,
    /// `input.quantity` (1 when absent): how many files the step makes.
    pub quantity: u64,
    /// `input.batchSize` (all of `quantity` when absent): files per job.
    pub batch: u64,
}

impl StepTemplate {
    /// The Buzz this step costs: 1, plus 3 per file it makes (`quantity`).
    pub fn cost(&self) -> u64 {
        1 + 3 * self.quantity
    }
}

impl Template {
    /// The price of the whole workflow (all of it in yellow Buzz).
    pub fn cost(&self) -> u64 {
        self.steps.iter().map(StepTemplate::cost).sum()
    }
}

/// The template in `body`, or every problem with it.
pub fn parse(body: &[u8]) -> Result<Template, Errors> {
    let mut errors = Errors::new();
    let doc: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            push(
                &mut errors,
                "$",
                format!("The request body is not valid JSON: {e}."),
            );
            return Err(errors);
        }
    };
    let Some(doc) = doc.as_object() else {
        push(&mut errors, "$", "The template must be a JSON object.");
        return Err(errors);
    };
    let steps = steps(doc.get("steps"), &mut errors);
    let tags = check_tags(doc.get("tags").unwrap_or(&Value::Null), "tags", &mut errors);
    let metadata = match doc.get("metadata") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(m @ Value::Object(_)) => m.clone(),
        Some(_) => {
            push(&mut errors, "metadata", "metadata must be a JSON object.");
            Value::Null
        }
    };
    let (end, reads) = fake_knob(&metadata["fake"], &mut errors);
    let callbacks = callbacks(doc.get("callbacks"), &mut errors);
    let external_id = match doc.get("externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if valid_external_id(s) => Some(s.clone()),
        Some(_) => {
            push(
                &mut errors,
                "externalId",
                "externalId must be 1 to 128 characters of A-Z, a-z, 0-9, '_' and '-'.",
            );
            None
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Template {
        steps,
        tags,
        metadata,
        callbacks,
        external_id,
        end,
        reads,
    })
}

fn valid_external_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The tags of a template or of an update (`key` is where they stand):
/// at most 10, unique, each a string of 1 to 200 characters.
pub fn check_tags(v: &Value, key: &str, errors: &mut Errors) -> Vec<String> {
    let items = match v {
        Value::Null => return Vec::new(),
        Value::Array(a) => a,
        _ => {
            push(errors, key, "tags must be an array of strings.");
            return Vec::new();
        }
    };
    if items.len() > 10 {
        push(
            errors,
            key,
            format!(
                "A workflow has at most 10 tags; {} were given.",
                items.len()
            ),
        );
    }
    let mut tags: Vec<String> = Vec::new();
    for (i, t) in items.iter().enumerate() {
        let at = format!("{key}[{i}]");
        let Some(s) = t.as_str() else {
            push(errors, at, "A tag must be a string.");
            continue;
        };
        if let Some(problem) = tag_problem(s) {
            push(errors, at, problem);
        } else if tags.iter().any(|x| x == s) {
            push(errors, at, format!("The tag '{s}' is given twice."));
        } else {
            tags.push(s.to_string());
        }
    }
    tags
}

/// What is wrong with one tag, if anything.
pub fn tag_problem(tag: &str) -> Option<String> {
    let n = tag.chars().count();
    if n == 0 {
        Some("A tag must not be empty.".into())
    } else if n > 200 {
        Some(format!(
            "A tag has at most 200 characters; this one has {n}."
        ))
    } else {
        None
    }
}

fn steps(v: Option<&Value>, errors: &mut Errors) -> Vec<StepTemplate> {
    let items = match v {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            push(errors, "steps", "At least one step is required.");
            return Vec::new();
        }
        Some(_) => {
            push(errors, "steps", "steps must be an array of steps.");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (i, s) in items.iter().enumerate() {
        let at = format!("steps[{i}]");
        let Some(s) = s.as_object() else {
            push(errors, at, "A step must be a JSON object.");
            continue;
        };
        let ty = match s.get("$type") {
            Some(Value::String(t)) if !t.is_empty() => t.clone(),
            _ => {
                push(
                    errors,
                    format!("{at}.$type"),
                    "The $type field is required: the kind of step.",
                );
                String::new()
            }
        };
        let name = match s.get("name") {
            None | Some(Value::Null) => i.to_string(),
            Some(Value::String(n)) if !n.is_empty() => n.clone(),
            Some(_) => {
                push(
                    errors,
                    format!("{at}.name"),
                    "name must be a non-empty string.",
                );
                i.to_string()
            }
        };
        if names.contains(&name) {
            push(
                errors,
                format!("{at}.name"),
                format!("Another step is already named '{name}'."),
            );
        }
        let priority = match s.get("priority") {
            None | Some(Value::Null) => "normal".to_string(),
            Some(Value::String(p)) if matches!(p.as_str(), "high" | "normal" | "low") => p.clone(),
            Some(_) => {
                push(
                    errors,
                    format!("{at}.priority"),
                    "priority must be one of high, normal, low.",
                );
                String::new()
            }
        };
        let timeout = match s.get("timeout") {
            None | Some(Value::Null) => "00:10:00".to_string(),
            Some(Value::String(t)) if is_timespan(t) => t.clone(),
            Some(_) => {
                push(
                    errors,
                    format!("{at}.timeout"),
                    "timeout must be a duration as \"hh:mm:ss\".",
                );
                String::new()
            }
        };
        let retries = match s.get("retries") {
            None | Some(Value::Null) => 0,
            Some(v) => v.as_u64().unwrap_or_else(|| {
                push(
                    errors,
                    format!("{at}.retries"),
                    "retries must be a non-negative integer.",
                );
                0
            }),
        };
        let metadata = match s.get("metadata") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(m @ Value::Object(_)) => m.clone(),
            Some(_) => {
                push(
                    errors,
                    format!("{at}.metadata"),
                    "metadata must be a JSON object.",
                );
                Value::Null
            }
        };
        let (input, quantity, batch) = match s.get("input") {
            Some(inp @ Value::Object(o)) => {
                check_refs(inp, &format!("{at}.input"), &names, errors);
                for key in ["width", "height"] {
                    if let Some(v) = o.get(key).filter(|v| !v.is_null()) {
                        if v.as_u64().is_none_or(|n| n == 0) {
                            push(
                                errors,
                                format!("{at}.input.{key}"),
                                format!("'{key}' must be a positive integer; it is {v}."),
                            );
                        }
                    }
                }
                let quantity = match o.get("quantity").filter(|v| !v.is_null()) {
                    None => 1,
                    Some(v) => match v.as_u64() {
                        Some(q @ 1..=100) => q,
                        _ => {
                            push(
                                errors,
                                format!("{at}.input.quantity"),
                                format!("'quantity' must be between 1 and 100; it is {v}."),
                            );
                            1
                        }
                    },
                };
                let batch = match o.get("batchSize").filter(|v| !v.is_null()) {
                    None => quantity,
                    Some(v) => match v.as_u64() {
                        Some(b) if b > 0 => b.min(quantity),
                        _ => {
                            push(
                                errors,
                                format!("{at}.input.batchSize"),
                                "'batchSize' must be a positive integer.",
                            );
                            1
                        }
                    },
                };
                (inp.clone(), quantity, batch)
            }
            _ => {
                push(
                    errors,
                    format!("{at}.input"),
                    "The input field is required: a JSON object.",
                );
                (Value::Null, 1, 1)
            }
        };
        names.push(name.clone());
        out.push(StepTemplate {
            ty,
            name,
            priority,
            timeout,
            retries,
            metadata,
            input,
            quantity,
            batch,
        });
    }
    out
}

/// `[d.]hh:mm:ss[.fffffff]`
fn is_timespan(t: &str) -> bool {
    let (main, frac) = match t.split_once('.') {
        // A leading day count also uses a dot: `1.02:00:00`.
        Some((d, rest)) if !d.contains(':') => match rest.split_once('.') {
            Some((m, f)) => (m, Some(f)),
            None => (rest, None),
        },
        Some((m, f)) => (m, Some(f)),
        None => (t, None),
    };
    let parts: Vec<&str> = main.split(':').collect();
    let two_digits = |p: &str, max: u32| p.len() == 2 && p.parse::<u32>().is_ok_and(|n| n <= max);
    parts.len() == 3
        && two_digits(parts[0], 23)
        && two_digits(parts[1], 59)
        && two_digits(parts[2], 59)
        && frac
            .is_none_or(|f| !f.is_empty() && f.len() <= 7 && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Every `{"$ref": name, ...}` under a step's input names an earlier step.
fn check_refs(v: &Value, at: &str, earlier: &[String], errors: &mut Errors) {
    match v {
        Value::Object(o) => {
            if let Some(r) = o.get("$ref") {
                match r.as_str() {
                    Some(name) if earlier.iter().any(|n| n == name) => {}
                    Some(name) => push(
                        errors,
                        at,
                        format!("$ref '{name}' does not name an earlier step."),
                    ),
                    None => push(errors, at, "$ref must be the name of an earlier step."),
                }
                return;
            }
            for (k, x) in o {
                check_refs(x, &format!("{at}.{k}"), earlier, errors);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                check_refs(x, &format!("{at}[{i}]"), earlier, errors);
            }
        }
        _ => {}
    }
}

fn callbacks(v: Option<&Value>, errors: &mut Errors) -> Value {
    let items = match v {
        None | Some(Value::Null) => return Value::Array(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => {
            push(errors, "callbacks", "callbacks must be an array.");
            return Value::Null;
        }
    };
    for (i, c) in items.iter().enumerate() {
        let url = c.get("url").and_then(Value::as_str);
        if !url.is_some_and(|u| u.starts_with("https://") || u.starts_with("http://")) {
            push(
                errors,
                format!("callbacks[{i}].url"),
                "A callback needs an absolute http(s) url.",
            );
        }
    }
    Value::Array(items.clone())
}

/// `metadata.fake`: `{"end": "failed", "reads": 5}`, both optional
/// (`succeeded` after 2 reads).
fn fake_knob(v: &Value, errors: &mut Errors) -> (&'static str, u32) {
    const ENDS: [&str; 4] = ["succeeded", "failed", "expired", "canceled"];
    let mut out = ("succeeded", 2);
    match v {
        Value::Null => {}
        Value::Object(o) => {
            if let Some(e) = o.get("end") {
                match ENDS.iter().find(|x| e == **x) {
                    Some(end) => out.0 = end,
                    None => push(
                        errors,
                        "metadata.fake.end",
                        "The fake ends a workflow succeeded, failed, expired or canceled.",
                    ),
                }
            }
            if let Some(r) = o.get("reads") {
                match r.as_u64() {
                    Some(n @ 0..=1000) => out.1 = n as u32,
                    _ => push(
                        errors,
                        "metadata.fake.reads",
                        "The reads before the end are an integer from 0 to 1000.",
                    ),
                }
            }
        }
        _ => push(
            errors,
            "metadata.fake",
            "metadata.fake is the fake's knob: {\"end\": ..., \"reads\": ...}.",
        ),
    }
    out
}
