//! `step`: one step of a workflow, as the API sends it.

use super::{check_json, print_document, Ctx, Out};
use crate::api;
use crate::error::Result;
use crate::render::escape;

pub fn run(ctx: &Ctx, workflow_id: &str, step: &str, out: &mut Out) -> Result<()> {
    let what = format!(
        "step '{}' in workflow '{}'",
        escape(step),
        escape(workflow_id)
    );
    let answer = ctx.client.get(&api::step_path(workflow_id, step), &what)?;
    check_json(&answer.body, &what)?;
    print_document(ctx, out, &answer.body)
}
