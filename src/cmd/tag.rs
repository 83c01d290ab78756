//! `tag`: changes one workflow's tags, then prints them as the API has
//! them after the change (one `GET`).
//!
//! The changes go out in a fixed order, one request each: `--clear` first
//! (`DELETE .../tags`), then each `--remove` (`DELETE .../tags/{tag}`),
//! then each `--add` (`POST .../tags` with the tag as a bare JSON string).
//! So `--remove=x --add=x` leaves `x` on, and `--clear --add=x` leaves only
//! `x`.
//!
//! The API keeps at most [`MAX_TAGS`] tags. When tags are added to the ones
//! there, the workflow is read first and a change that would leave more is
//! refused (exit 2) before anything is sent; the API's own `400` stays the
//! last word (another client may add tags in between). A request that
//! fails stops the run: its error says which change it was and which ones
//! were made before it, since those stand.
//!
//! Repeats: the `DELETE`s may be sent again after a 5xx or a dropped
//! connection (removing twice removes once); the `POST` carries no
//! idempotency key, so the HTTP layer repeats it only when the server
//! cannot have seen it (a 429, or a connection that never opened).

use std::io::Write;

use serde_json::json;

use super::Ctx;
use crate::api::{self, Workflow};
use crate::cli::{TagOpts, MAX_TAGS};
use crate::error::{Error, Result};
use crate::http::retry::Method;
use crate::http::{Call, Payload};
use crate::output::objects::Objects;
use crate::output::Out;
use crate::text::escape;

pub fn run(ctx: &Ctx, o: &TagOpts, out: &mut Out) -> Result<()> {
    let id = o.id.as_str();
    let path = api::workflow_path(id);
    let what = format!("workflow '{}'", escape(id));
    let add = distinct(&o.add);
    let remove = distinct(&o.remove);
    if o.clear && add.len() > MAX_TAGS {
        return Err(too_many(&what, add.len(), "after --clear"));
    }
    if !o.clear && !add.is_empty() {
        // DOCS: GET /v2/consumer/workflows/{workflowId}: the tags there now.
        let now = read(ctx, &path, &what)?.tags;
        let mut after: Vec<&str> = now
            .iter()
            .map(String::as_str)
            .filter(|t| !remove.contains(t))
            .collect();
        for t in &add {
            if !after.contains(t) {
                after.push(t);
            }
        }
        if after.len() > MAX_TAGS {
            let has = now.iter().map(|t| escape(t)).collect::<Vec<_>>().join(", ");
            let has = crate::text::cut(&has, 300);
            let detail = format!("(it has {}: {has})", now.len());
            return Err(too_many(&what, after.len(), &detail));
        }
    }

    let mut done: Vec<String> = Vec::new();
    // `option` names the change as it was asked for: `--remove='a b'`.
    let mut change = |option: String, call: Call| -> Result<()> {
        match ctx.client.call(&call) {
            Ok(_) => {
                done.push(option);
                Ok(())
            }
            Err(mut e) => {
                e.message = format!("{option}: {}", e.message);
                if !done.is_empty() {
                    e.message
                        .push_str(&format!("; done before it: {}", done.join(", ")));
                }
                Err(e)
            }
        }
    };
    if o.clear {
        // DOCS: DELETE /v2/consumer/workflows/{workflowId}/tags -> 204
        let tags = api::tags_path(id);
        change("--clear".into(), Call::api(Method::Delete, &tags, &what))?;
    }
    for t in &remove {
        // DOCS: DELETE /v2/consumer/workflows/{workflowId}/tags/{tag} -> 204
        let one = api::tag_path(id, t);
        change(
            format!("--remove='{}'", escape(t)),
            Call::api(Method::Delete, &one, &what),
        )?;
    }
    let tags = api::tags_path(id);
    for t in &add {
        // DOCS: POST /v2/consumer/workflows/{workflowId}/tags, body "tag" -> 204
        let body = serde_json::to_string(t).map_err(|e| Error::other(e.to_string()))?;
        change(
            format!("--add='{}'", escape(t)),
            Call {
                payload: Payload::Json(body.as_bytes()),
                ..Call::api(Method::Post, &tags, &what)
            },
        )?;
    }

    // DOCS: GET /v2/consumer/workflows/{workflowId}: the tags as they are now.
    let after = read(ctx, &path, &what).map_err(|mut e| {
        e.message = format!(
            "the tags were changed, but reading them back failed: {}",
            e.message
        );
        e
    })?;
    if after.tags.is_empty() {
        ctx.notes.note(&format!("{what} has no tags now"));
    }
    let doc = json!({"id": id, "tags": after.tags});
    let mut objects = Objects::new(ctx.mode(), ctx.fields(), false);
    objects.value(out, &doc, &|w: &mut dyn Write| {
        for t in &after.tags {
            writeln!(w, "{}", escape(t))?;
        }
        Ok(())
    })?;
    objects.finish(out)
}

fn read(ctx: &Ctx, path: &str, what: &str) -> Result<Workflow> {
    let answer = ctx.client.get(path, what)?;
    Workflow::parse(&answer.body, what)
}

/// Each tag once, in the order first given.
fn distinct(tags: &[String]) -> Vec<&str> {
    let mut seen: Vec<&str> = Vec::new();
    for t in tags {
        if !seen.contains(&t.as_str()) {
            seen.push(t);
        }
    }
    seen
}

fn too_many(what: &str, n: usize, detail: &str) -> Error {
    Error::usage(format!(
        "{what} would have {n} tags {detail}, more than the API keeps ({MAX_TAGS}); \
         nothing changed"
    ))
}
