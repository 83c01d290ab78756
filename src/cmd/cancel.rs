//! `cancel`: stops workflows that are still running, `-j` at a time, and
//! says of each whether it was canceled or had already ended.
//!
//! How the API answers the cancel of a workflow that has already ended is
//! not settled (API.md: a `400`, or a `204` that changes nothing), so the
//! answer alone is not trusted: after the `PUT` the workflow is read once,
//! and its status decides. A `204` and a workflow that ended otherwise than
//! `canceled` is a 204 that changed nothing; a refusal (`400`, or any
//! status but 401, 403, 404 and 429) and a workflow that has ended is a
//! workflow that was over before; a refusal of one still running is the
//! refusal. A workflow already `canceled` that answers `204` shows as
//! canceled: both ways it is.
//!
//! Each id gives one object, `{"id", "result", "status"}`: `result` is
//! `canceled` or `already-ended`, `status` the workflow's status as read
//! after the cancel (`null` when that read failed).

use serde_json::{json, Value};

use super::many::{self, Batch};
use super::Ctx;
use crate::api::{self, Workflow};
use crate::cli::IdsOpts;
use crate::error::{Error, Result};
use crate::http::retry::Method;
use crate::http::{Call, Payload};
use crate::output::Out;
use crate::text::escape;

/// The body of a cancel.
const CANCEL: &[u8] = br#"{"status":"canceled"}"#;

pub fn run(ctx: &Ctx, o: &IdsOpts, out: &mut Out) -> Result<()> {
    let work = |id: &str| cancel(ctx, id);
    many::act_all(ctx, out, &Batch::workflows(&o.ids, o.jobs), &work, &line)
}

/// Cancels one workflow and reads what it came to.
fn cancel(ctx: &Ctx, id: &str) -> Result<Value> {
    let path = api::workflow_path(id);
    let what = format!("workflow '{}'", escape(id));
    // DOCS: PUT /v2/consumer/workflows/{workflowId} {"status":"canceled"} -> 204.
    // A PUT may be repeated after a 5xx or a dropped connection: a second
    // cancel of the same workflow changes nothing more.
    let put = ctx.client.call(&Call {
        payload: Payload::Json(CANCEL),
        ..Call::api(Method::Put, &path, &what)
    });
    match put {
        Ok(_) => {
            let status = match status_of(ctx, &path, &what) {
                Ok(wf) => wf.status,
                // The cancel went through; only its outcome is unknown.
                Err(e) => {
                    ctx.notes.note(&format!(
                        "canceled {what}, but could not read its status: {e}"
                    ));
                    None
                }
            };
            let result = match status.as_deref() {
                Some(s) if api::is_final_status(s) && s != "canceled" => "already-ended",
                _ => "canceled",
            };
            Ok(outcome(id, result, status))
        }
        Err(e) if is_refusal(&e) => match status_of(ctx, &path, &what) {
            Ok(wf) if wf.is_final() => Ok(outcome(id, "already-ended", wf.status)),
            // Still running, or unreadable: the refusal was about something else.
            _ => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// An answer that may mean "it has already ended": any status but those
/// that say who or what is wrong (401, 403, 404) or when (429).
fn is_refusal(e: &Error) -> bool {
    e.status
        .is_some_and(|s| !matches!(s, 401 | 403 | 404 | 429))
}

/// `GET` of the workflow, for its status.
fn status_of(ctx: &Ctx, path: &str, what: &str) -> Result<Workflow> {
    let answer = ctx.client.get(path, what)?;
    Workflow::parse(&answer.body, what)
}

fn outcome(id: &str, result: &str, status: Option<String>) -> Value {
    json!({"id": id, "result": result, "status": status})
}

/// `canceled: ID`, `already ended: ID (succeeded)`.
fn line(v: &Value) -> String {
    let id = escape(v["id"].as_str().unwrap_or_default());
    match (v["result"].as_str(), v["status"].as_str()) {
        (Some("already-ended"), Some(status)) => {
            format!("already ended: {id} ({})", escape(status))
        }
        (Some("already-ended"), None) => format!("already ended: {id}"),
        _ => format!("canceled: {id}"),
    }
}
