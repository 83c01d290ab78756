//! `submit FILE|-`: a workflow template sent to `POST
//! /v2/consumer/workflows`, after the checks that need no server.
//!
//! The template (a file, or stdin for `-`) must be a JSON object with a
//! non-empty `steps` array of objects; `--tag` values join its `tags`
//! (unique, at most 10 of 1 to 200 characters in all). Anything else is
//! refused with exit 2 before a byte is sent, as is a template larger than
//! 64 MiB (a byte order mark is dropped). The API reads keys in any case,
//! so `ExternalId` or `TAGS` are taken as `externalId` and `tags`.
//!
//! **The idempotency key.** Every real submit carries one in the
//! template's `externalId`: `--external-id`, else the template's own, else
//! one made for this run (`civitai-orch-` + time + pid + random, see
//! [`made_key`]). `--external-id` wins over the template's (a note says
//! so). The key is named on stderr *before* the request goes out, so that
//! a run whose answer never came can be repeated with it and get the same
//! workflow; the POST is sent `keyed`, so the HTTP layer may repeat it
//! after a dropped connection or a 502/503/504 too. `--json` prints the
//! API's workflow as it came, which holds the key as its `externalId`.
//!
//! **Estimates** (`--whatif`, and the first request of `--max-cost`) never
//! carry a key: the API would spend it on the estimate, and a later submit
//! with it would get the estimate back and run nothing. A template's
//! `externalId` is left out of them (a note says so for `--whatif`).
//!
//! **Waiting.** `--wait=SECS` asks the API to hold the POST (`wait`, whole
//! seconds, at most [`MAX_API_WAIT`]), then polls as `workflow --wait` does
//! for what is left of SECS, with its exits 7 and 8. Whether it ended is
//! read from the workflow's status, not the answer's 200/202: a key's
//! replay answers 200 whatever the state.
//!
//! What is printed, per mode:
//! - text: `submitted: ID (status S, cost N; key K)`, and after a wait that
//!   saw it end `ended: ID S (cost N)`; `--whatif`: `estimate: 4 Buzz
//!   (yellow 4, blue 0); enough Buzz`;
//! - `--json`/`--jsonl`: the workflow as the API answered (after a wait,
//!   as last read); `--whatif`: `{"whatif":true,"total":4,"byCurrency":
//!   {"yellow":4,"blue":0},"insufficientBuzz":false}`;
//! - `--download`, after a wait that succeeded: what `results ID
//!   --download` prints, in its place in JSON modes, after the lines above
//!   in text.

use std::hash::BuildHasher;
use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Map, Value};

use super::{results, workflow, Ctx};
use crate::api::{self, Workflow};
use crate::cli::{SubmitOpts, MAX_TAGS, MAX_TAG_LEN};
use crate::error::{Error, Kind, Result};
use crate::http::retry::Method;
use crate::http::{status_error, Answer, Call, Payload};
use crate::output::summary::number;
use crate::output::{Out, OutExt};
use crate::text::{cut, escape, mask};

/// The longest `wait` asked of the API in one request: it gives up on a
/// request after about 100 s (API.md).
const MAX_API_WAIT: u64 = 90;

/// Names the submit endpoint in messages (`404 Not Found: no ...`).
const WHAT: &str = "endpoint POST /v2/consumer/workflows";

pub fn run(ctx: &Ctx, o: &SubmitOpts, out: &mut Out) -> Result<()> {
    let shown = shown_source(&o.file);
    let mut template = read_template(&o.file, &shown)?;
    add_tags(&mut template, &o.tags, &shown)?;
    let template_key = template_key(&template, &shown)?;

    if o.whatif {
        if let Some(k) = template.remove("externalId").filter(|k| !k.is_null()) {
            ctx.notes.note(&format!(
                "--whatif: the template's externalId {} is not sent (the API would spend the \
                 key on the estimate)",
                escape(k.as_str().unwrap_or_default())
            ));
        }
        let estimate = estimate(ctx, &template)?;
        return print_estimate(ctx, out, &estimate);
    }

    let key = match (&o.external_id, template_key) {
        (Some(opt), Some(own)) if *opt != own => {
            ctx.notes.note(&format!(
                "--external-id {opt} replaces the template's externalId {}",
                escape(&own)
            ));
            opt.clone()
        }
        (Some(opt), _) => opt.clone(),
        (None, Some(own)) => own,
        (None, None) => made_key(),
    };

    if let Some(limit) = o.max_cost {
        // The estimate goes without the key (see the module's comment).
        let mut probe = template.clone();
        probe.remove("externalId");
        let e = estimate(ctx, &probe)?;
        let total = e.total;
        if total > limit {
            return Err(Error::usage(format!(
                "the estimate is {}, over --max-cost={}; nothing was submitted",
                e.phrase(),
                number(limit)
            )));
        }
        ctx.notes.note(&format!(
            "estimate: {}, within --max-cost={}; submitting (the charge may differ from the \
             estimate)",
            e.phrase(),
            number(limit)
        ));
    }

    template.insert("externalId".into(), json!(key));
    ctx.notes.note(&format!(
        "key: {key} (--external-id={key} gives this workflow again, never a second one)"
    ));
    let start = Instant::now();
    let answer = post(
        ctx,
        &template,
        o.wait.map(|s| s.min(MAX_API_WAIT)),
        Some(&key),
    )?;
    let mut body = answer.body;
    // A 2xx: the workflow was likely made, whatever its answer says.
    let mut wf =
        Workflow::parse(&body, "the submitted workflow").map_err(|e| may_be_made(e, &key))?;
    let id = wf.id.clone().filter(|i| !i.is_empty()).ok_or_else(|| {
        may_be_made(
            Error::other("the API's answer to the submit holds no workflow id"),
            &key,
        )
    })?;
    let text = !ctx.mode().is_json();
    if text {
        writeln!(
            out,
            "submitted: {} (status {}{}; key {key})",
            escape(&id),
            escape(wf.status.as_deref().unwrap_or("unknown")),
            cost_clause(&body, ", cost ")
        )
        .out()?;
        out.flush().out()?;
    }
    let Some(secs) = o.wait else {
        return print_workflow(ctx, out, &body);
    };

    let nsfw = o.results.as_ref().is_some_and(|r| r.nsfw);
    let mut path = api::workflow_path(&id);
    if nsfw {
        path.push_str("?hideMatureContent=false");
    }
    let what = format!("workflow '{}'", escape(&id));
    let ended_at_once = wf.is_final();
    let mut ended = ended_at_once;
    // Whether `body` came from a read that showed mature content.
    let mut read_nsfw = false;
    if !ended {
        let left = Duration::from_secs(secs).saturating_sub(start.elapsed());
        if !left.is_zero() {
            (body, wf, ended) = workflow::poll(ctx, &path, &what, left)?;
            read_nsfw = nsfw;
        }
    }
    if text && ended && !ended_at_once {
        let mut cost = cost_clause(&body, " (cost ");
        if !cost.is_empty() {
            cost.push(')');
        }
        writeln!(
            out,
            "ended: {} {}{cost}",
            escape(&id),
            escape(wf.status.as_deref().unwrap_or("unknown")),
        )
        .out()?;
    }
    let verdict = workflow::verdict(&id, &wf, ended, secs);
    let download = match (&o.results, &verdict) {
        (Some(r), Ok(())) => r,
        _ => {
            print_workflow(ctx, out, &body)?;
            return verdict;
        }
    };
    if nsfw && !read_nsfw {
        // The files as `results --nsfw` sees them: mature content shown.
        wf = Workflow::parse(&ctx.client.get(&path, &what)?.body, &what)?;
    }
    results::of_workflow(ctx, download, &id, &wf, out)
}

/// `'template.json'`, or `on stdin`: how messages name the template.
fn shown_source(file: &str) -> String {
    if file == "-" {
        "on stdin".into()
    } else {
        format!("'{}'", escape(file))
    }
}

/// The largest template read: as large as any JSON body the program takes
/// (a template is a few KiB; `/dev/zero` is not one).
const TEMPLATE_LIMIT: u64 = 64 * 1024 * 1024;

/// The keys of a template that the program reads or sets. The API reads
/// its JSON without regard to case (an ASP.NET default), so `ExternalId`
/// is a key to it as much as `externalId`: each is taken under one
/// spelling, whichever the template used, and given twice is refused.
const OWN_KEYS: [&str; 3] = ["steps", "tags", "externalId"];

/// The template as a JSON object with a non-empty `steps` array of
/// objects; anything else is a usage error naming what is wrong. A leading
/// byte order mark is dropped.
fn read_template(file: &str, shown: &str) -> Result<Map<String, Value>> {
    let cannot = |e: std::io::Error| Error::usage(format!("cannot read the template {shown}: {e}"));
    let mut bytes = Vec::new();
    let read = if file == "-" {
        let stdin = std::io::stdin().lock();
        stdin.take(TEMPLATE_LIMIT + 1).read_to_end(&mut bytes)
    } else {
        if std::path::Path::new(file).is_dir() {
            return Err(Error::usage(format!(
                "the template {shown} is a folder; name a JSON file, or - for stdin"
            )));
        }
        let f = std::fs::File::open(file).map_err(cannot)?;
        f.take(TEMPLATE_LIMIT + 1).read_to_end(&mut bytes)
    };
    read.map_err(cannot)?;
    if bytes.len() as u64 > TEMPLATE_LIMIT {
        return Err(Error::usage(format!(
            "the template {shown} is larger than {} MiB; a template is a JSON object",
            TEMPLATE_LIMIT >> 20
        )));
    }
    let json = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let v: Value = serde_json::from_slice(json)
        .map_err(|e| Error::usage(format!("the template {shown} is not valid JSON: {e}")))?;
    let Value::Object(mut map) = v else {
        return Err(Error::usage(format!(
            "the template {shown} is not a JSON object; a template is {{\"steps\": [...], ...}}"
        )));
    };
    for name in OWN_KEYS {
        one_spelling(&mut map, name)
            .map_err(|why| Error::usage(format!("the template {shown} is refused: {why}")))?;
    }
    let why = match map.get("steps") {
        Some(Value::Array(steps)) if !steps.is_empty() => {
            match steps.iter().position(|s| !s.is_object()) {
                Some(i) => format!("its steps[{i}] is not a JSON object"),
                None => return Ok(map),
            }
        }
        Some(Value::Array(_)) => "its \"steps\" is empty; it needs at least one step".into(),
        None | Some(Value::Null) => "it has no \"steps\"; it needs at least one step".into(),
        Some(_) => "its \"steps\" is not an array of steps".into(),
    };
    Err(Error::usage(format!(
        "the template {shown} is refused: {why}"
    )))
}

/// `name` under that one spelling: a key that differs from it only in
/// case is renamed to it; two such keys are refused (which the API would
/// read is anyone's guess).
fn one_spelling(map: &mut Map<String, Value>, name: &str) -> std::result::Result<(), String> {
    let found: Vec<String> = map
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    match found.as_slice() {
        [] => Ok(()),
        [one] if one == name => Ok(()),
        [one] => {
            if let Some(v) = map.remove(one) {
                map.insert(name.to_string(), v);
            }
            Ok(())
        }
        many => Err(format!(
            "it has {} keys the API reads as \"{name}\" ({})",
            many.len(),
            many.iter()
                .map(|k| format!("\"{}\"", escape(&cut(k, 40))))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Adds `--tag` values to the template's `tags` (those it has already are
/// not repeated), checking the API's limits on the whole: unique, at most
/// [`MAX_TAGS`], each 1 to [`MAX_TAG_LEN`] characters.
fn add_tags(t: &mut Map<String, Value>, extra: &[String], shown: &str) -> Result<()> {
    let refused = |why: String| Error::usage(format!("the template {shown} is refused: {why}"));
    let mut tags: Vec<String> = Vec::new();
    match t.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let Some(s) = item.as_str() else {
                    return Err(refused(format!("its tags[{i}] is not a string")));
                };
                let n = s.chars().count();
                if n == 0 || n > MAX_TAG_LEN {
                    return Err(refused(format!(
                        "its tags[{i}] has {n} characters; a tag has 1 to {MAX_TAG_LEN}"
                    )));
                }
                if tags.iter().any(|x| x == s) {
                    return Err(refused(format!(
                        "its tags[{i}] '{}' is given twice",
                        escape(&cut(s, 40))
                    )));
                }
                tags.push(s.to_string());
            }
        }
        Some(_) => return Err(refused("its \"tags\" is not an array of strings".into())),
    }
    let own = tags.len();
    for tag in extra {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(Error::usage(format!(
            "a workflow has at most {MAX_TAGS} tags; the template's {own} and --tag's {} \
             make {}",
            tags.len() - own,
            tags.len()
        )));
    }
    if tags.len() > own {
        t.insert("tags".into(), json!(tags));
    }
    Ok(())
}

/// The template's own `externalId`, when it has one (it must be a key the
/// API takes: the POST is repeated on the strength of it).
fn template_key(t: &Map<String, Value>, shown: &str) -> Result<Option<String>> {
    match t.get("externalId") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if is_key(s) => Ok(Some(s.clone())),
        Some(_) => Err(Error::usage(format!(
            "the template {shown} is refused: its externalId is not 1 to 128 of A-Z a-z 0-9 _ -"
        ))),
    }
}

/// 1 to 128 of `A-Za-z0-9_-`: an `externalId` as the API takes it.
fn is_key(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A key of this run's own: `civitai-orch-` and the time in ms, the pid
/// and 64 random bits (std's per-process random hash keys), all in hex.
fn made_key() -> String {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let random = std::collections::hash_map::RandomState::new().hash_one(ms);
    format!("civitai-orch-{ms:x}-{:x}-{random:016x}", std::process::id())
}

/// Sends the template; `key` says whether it carries an idempotency key
/// (an estimate never does). An answer other than 2xx is an error: a
/// `403` with a bare string (the API's "not enough Buzz") says that
/// string; the rest as for any request, a `400` with a line per field.
fn post(
    ctx: &Ctx,
    template: &Map<String, Value>,
    wait: Option<u64>,
    key: Option<&str>,
) -> Result<Answer> {
    let body = serde_json::to_vec(template)
        .map_err(|e| Error::other(format!("cannot write the template: {e}")))?;
    let path = api::submit_path(wait, key.is_none());
    let call = Call {
        payload: Payload::Json(&body),
        keyed: key.is_some(),
        any_status: true,
        ..Call::api(Method::Post, &path, WHAT)
    };
    // A held request needs the time it is held on top of --timeout.
    let held = Duration::from_secs(wait.unwrap_or(0));
    let sent = ctx
        .client
        .call_with(&call, ctx.client.timeout() + held, ctx.client.retries());
    let answer = match (sent, key) {
        (Ok(a), _) => a,
        (Err(e), Some(key)) if e.kind == Kind::Network => return Err(may_be_made(e, key)),
        (Err(e), _) => return Err(e),
    };
    if (200..300).contains(&answer.status) {
        return Ok(answer);
    }
    let bare = serde_json::from_str::<Value>(&answer.body).ok();
    match (answer.status, bare) {
        (403, Some(Value::String(s))) if !s.trim().is_empty() => Err(Error::new(
            Kind::Auth,
            format!(
                "403 Forbidden: {}; nothing was submitted",
                cut(&escape(&mask(s.trim())), 300)
            ),
        )
        .with_status(403)),
        (status, _) => {
            let content_type = answer.header("content-type").unwrap_or("");
            let mut e = status_error(status, content_type, &answer.body, WHAT);
            // What a submit's request holds besides the template is ours.
            e.message = e
                .message
                .replacen("; check the options", "; check the template", 1);
            // A 5xx may come from a gateway after the API made the
            // workflow (that is why a keyed POST is repeated after one).
            match key {
                Some(key) if status >= 500 => Err(may_be_made(e, key)),
                _ => Err(e),
            }
        }
    }
}

/// `e` saying that the workflow may have been made, and how to get it
/// rather than a second one (on its first line: field lines may follow).
fn may_be_made(mut e: Error, key: &str) -> Error {
    let hint = format!(
        "; the workflow may have been made: submit again with --external-id={key} to get \
         it rather than a second one"
    );
    let at = e.message.find('\n').unwrap_or(e.message.len());
    e.message.insert_str(at, &hint);
    e
}

/// What an estimate said.
struct Estimate {
    total: f64,
    /// By currency (Buzz account type), in the API's order.
    by: Vec<(String, f64)>,
    /// `None` when the API did not say.
    insufficient: Option<bool>,
}

impl Estimate {
    /// `4 Buzz (yellow 4, blue 0)`.
    fn phrase(&self) -> String {
        let by: Vec<String> = self
            .by
            .iter()
            .map(|(c, n)| format!("{} {}", escape(c), number(*n)))
            .collect();
        if by.is_empty() {
            format!("{} Buzz", number(self.total))
        } else {
            format!("{} Buzz ({})", number(self.total), by.join(", "))
        }
    }
}

/// A `whatif` of the template (no key: see the module's comment), read
/// from the answer's body, or from its `X-Civitai-Cost-*` headers where
/// the body lacks a part.
fn estimate(ctx: &Ctx, template: &Map<String, Value>) -> Result<Estimate> {
    let answer = post(ctx, template, None, None)?;
    let doc: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    let total = doc
        .pointer("/cost/total")
        .and_then(Value::as_f64)
        .or_else(|| answer.header("x-civitai-cost-total")?.trim().parse().ok())
        .ok_or_else(|| {
            Error::other(
                "the API's estimate holds no cost total (neither cost.total nor \
                 X-Civitai-Cost-Total)",
            )
        })?;
    // A cost below 0 (or not a number) is no estimate: --max-cost would
    // let anything through on it.
    if !total.is_finite() || total < 0.0 {
        return Err(Error::other(format!(
            "the API's estimate has a total of {}, which is not a cost; nothing was submitted",
            number(total)
        )));
    }
    let mut by = api::cost_by_currency(&doc);
    if by.is_empty() {
        by = answer
            .header("x-civitai-cost-by-currency")
            .map(by_currency_header)
            .unwrap_or_default();
    }
    let insufficient = doc
        .pointer("/transactions/insufficientBuzz")
        .and_then(Value::as_bool)
        .or_else(|| {
            match answer
                .header("x-civitai-insufficient-buzz")?
                .trim()
                .to_ascii_lowercase()
                .as_str()
            {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            }
        });
    Ok(Estimate {
        total,
        by,
        insufficient,
    })
}

/// `yellow=4;blue=0` as pairs; parts that are not `name=number` are left out.
fn by_currency_header(v: &str) -> Vec<(String, f64)> {
    v.split(';')
        .filter_map(|part| {
            let (name, n) = part.split_once('=')?;
            let n: f64 = n.trim().parse().ok()?;
            let name = name.trim();
            (!name.is_empty() && n.is_finite()).then(|| (name.to_string(), n))
        })
        .collect()
}

/// `--whatif`'s result: a line for people, or one JSON document.
fn print_estimate(ctx: &Ctx, out: &mut Out, e: &Estimate) -> Result<()> {
    if ctx.mode().is_json() {
        // Written by hand to keep the keys in this order.
        let by: Vec<String> =
            e.by.iter()
                .map(|(c, n)| format!("{}:{}", json!(c), json_number(*n)))
                .collect();
        let insufficient = e.insufficient.map_or(Value::Null, Value::Bool);
        return writeln!(
            out,
            "{{\"whatif\":true,\"total\":{},\"byCurrency\":{{{}}},\"insufficientBuzz\":{insufficient}}}",
            json_number(e.total),
            by.join(",")
        )
        .out();
    }
    let buzz = match e.insufficient {
        Some(true) => "; not enough Buzz (a submit would be refused)",
        Some(false) => "; enough Buzz",
        None => "",
    };
    writeln!(out, "estimate: {}{buzz}", e.phrase()).out()
}

/// A number as JSON: whole numbers without `.0`.
fn json_number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

/// `{lead}4` from the workflow's `cost.total`, or nothing when it has none.
fn cost_clause(body: &str, lead: &str) -> String {
    let doc: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    match doc.pointer("/cost/total").and_then(Value::as_f64) {
        Some(n) => format!("{lead}{}", number(n)),
        None => String::new(),
    }
}

/// The workflow document in JSON modes (text has said its lines).
fn print_workflow(ctx: &Ctx, out: &mut Out, body: &str) -> Result<()> {
    if ctx.mode().is_json() {
        api::check_object(body, "the submitted workflow")?;
        ctx.print_document(out, body)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn made_keys_are_keys_and_differ() {
        let (a, b) = (made_key(), made_key());
        assert!(is_key(&a) && a.starts_with("civitai-orch-"), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn tags_join_without_repeats_and_within_the_limits() {
        let mut t = template(json!({"steps": [{}], "tags": ["a", "b"]}));
        add_tags(&mut t, &["b".into(), "c".into()], "x").unwrap();
        assert_eq!(t["tags"], json!(["a", "b", "c"]));
        let ten: Vec<String> = (0..9).map(|i| format!("t{i}")).collect();
        let mut t = template(json!({"steps": [{}], "tags": ["a"]}));
        add_tags(&mut t, &ten, "x").unwrap();
        let mut t = template(json!({"steps": [{}], "tags": ["a", "z"]}));
        let e = add_tags(&mut t, &ten, "x").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("at most 10 tags"), "{}", e.message);
        for bad in [json!(["a", "a"]), json!([""]), json!([1]), json!("a")] {
            let mut t = template(json!({"steps": [{}], "tags": bad}));
            assert_eq!(add_tags(&mut t, &[], "x").unwrap_err().exit_code(), 2);
        }
        // Nothing added: the template is left as it is.
        let mut t = template(json!({"steps": [{}]}));
        add_tags(&mut t, &[], "x").unwrap();
        assert!(!t.contains_key("tags"));
    }

    #[test]
    fn the_currency_header_is_read_leniently() {
        assert_eq!(
            by_currency_header("yellow=4;blue=0"),
            [("yellow".to_string(), 4.0), ("blue".to_string(), 0.0)]
        );
        assert_eq!(
            by_currency_header(" yellow = 2.5 ; junk; =3; green=x"),
            [("yellow".to_string(), 2.5)]
        );
    }

    #[test]
    fn estimates_read_as_people_write_them() {
        let e = Estimate {
            total: 4.0,
            by: vec![("yellow".into(), 4.0), ("blue".into(), 0.0)],
            insufficient: Some(false),
        };
        assert_eq!(e.phrase(), "4 Buzz (yellow 4, blue 0)");
        assert_eq!(json_number(4.0), json!(4));
        assert_eq!(json_number(0.5), json!(0.5));
    }
}
