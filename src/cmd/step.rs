//! `step`: one step of a workflow, as the API sends it.

use super::Ctx;
use crate::api;
use crate::error::Result;
use crate::output::Out;
use crate::text::escape;

pub fn run(ctx: &Ctx, workflow_id: &str, step: &str, out: &mut Out) -> Result<()> {
    let what = format!(
        "step '{}' in workflow '{}'",
        escape(step),
        escape(workflow_id)
    );
    let answer = ctx.client.get(&api::step_path(workflow_id, step), &what)?;
    crate::api::check_object(&answer.body, &what)?;
    ctx.print_document(out, &answer.body)
}
