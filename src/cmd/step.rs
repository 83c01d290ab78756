//! `step`: steps of one workflow, as the API sends them.

use super::many::{self, Batch, Request};
use super::Ctx;
use crate::api;
use crate::cli::StepOpts;
use crate::error::Result;
use crate::output::json::pretty;
use crate::output::Out;
use crate::text::escape;

pub fn run(ctx: &Ctx, o: &StepOpts, out: &mut Out) -> Result<()> {
    let workflow_id = o.workflow_id.as_str();
    let request = |step: &str| Request {
        path: api::step_path(workflow_id, step),
        what: format!(
            "step '{}' in workflow '{}'",
            escape(step),
            escape(workflow_id)
        ),
    };
    many::fetch_all(
        ctx,
        out,
        &Batch {
            ids: &o.steps,
            keys: &["name"],
            jobs: o.jobs,
            noun: "step name(s)",
        },
        &request,
        &|w, body| writeln!(w, "{}", pretty(body)),
    )
}
