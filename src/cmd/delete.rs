//! `delete`: deletes workflows, `-j` at a time, only with `--yes`.
//!
//! Without `--yes` nothing is deleted: each workflow is read instead (a
//! `GET`, which changes nothing) and listed as what would be deleted, with
//! its status, or as not found; then the run ends with exit 2. Ids from
//! stdin are read and listed the same way.
//!
//! Each id gives one object: `{"id", "result": "deleted"}`; without
//! `--yes`, `{"id", "result": "would-delete", "status"}` or `{"id",
//! "result": "not-found", "status": null}`.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};

use super::many::{self, Batch};
use super::Ctx;
use crate::api::{self, Workflow};
use crate::cli::DeleteOpts;
use crate::error::{Error, Kind, Result};
use crate::http::retry::Method;
use crate::http::Call;
use crate::output::Out;
use crate::text::escape;

pub fn run(ctx: &Ctx, o: &DeleteOpts, out: &mut Out) -> Result<()> {
    let batch = Batch::workflows(&o.ids, o.jobs);
    if o.yes {
        return many::act_all(ctx, out, &batch, &|id| delete(ctx, id), &line);
    }
    let (found, missing) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let look = |id: &str| {
        let v = look(ctx, id)?;
        let n = if v["result"] == "not-found" {
            &missing
        } else {
            &found
        };
        n.fetch_add(1, Ordering::Relaxed);
        Ok(v)
    };
    many::act_all(ctx, out, &batch, &look, &line)?;
    let (found, missing) = (found.into_inner(), missing.into_inner());
    let why = match (found, missing) {
        (0, 0) => "nothing deleted: --yes was not given".to_string(),
        (0, _) => format!("nothing deleted: {missing} workflow(s) not found, and --yes not given"),
        (_, 0) => format!("nothing deleted: add --yes to delete {found} workflow(s)"),
        _ => format!(
            "nothing deleted: add --yes to delete {found} workflow(s) ({missing} not found)"
        ),
    };
    Err(Error::usage(why))
}

/// Deletes one workflow.
fn delete(ctx: &Ctx, id: &str) -> Result<Value> {
    let path = api::workflow_path(id);
    let what = format!("workflow '{}'", escape(id));
    // DOCS: DELETE /v2/consumer/workflows/{workflowId} -> 204; 404 afterwards.
    // May be repeated after a 5xx or a dropped connection, as a GET.
    ctx.client.call(&Call::api(Method::Delete, &path, &what))?;
    Ok(json!({"id": id, "result": "deleted"}))
}

/// What a delete of one workflow would delete: a read, nothing more.
fn look(ctx: &Ctx, id: &str) -> Result<Value> {
    let path = api::workflow_path(id);
    let what = format!("workflow '{}'", escape(id));
    match ctx.client.get(&path, &what) {
        Ok(answer) => {
            let wf = Workflow::parse(&answer.body, &what)?;
            Ok(json!({"id": id, "result": "would-delete", "status": wf.status}))
        }
        Err(e) if e.kind == Kind::NotFound => {
            Ok(json!({"id": id, "result": "not-found", "status": null}))
        }
        Err(e) => Err(e),
    }
}

/// `deleted: ID`, `would delete: ID (succeeded)`, `not found: ID`.
fn line(v: &Value) -> String {
    let id = escape(v["id"].as_str().unwrap_or_default());
    match (v["result"].as_str(), v["status"].as_str()) {
        (Some("would-delete"), Some(status)) => {
            format!("would delete: {id} ({})", escape(status))
        }
        (Some("would-delete"), None) => format!("would delete: {id}"),
        (Some("not-found"), _) => format!("not found: {id}"),
        _ => format!("deleted: {id}"),
    }
}
