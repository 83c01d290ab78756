//! `job`: a v1 job with its content-scan context, summarised for people.

use super::Ctx;
use crate::api;
use crate::error::Result;
use crate::output::render;
use crate::output::{Out, OutExt};
use crate::text::escape;

pub fn run(ctx: &Ctx, id: &str, raw: bool, out: &mut Out) -> Result<()> {
    let what = format!("job '{}'", escape(id));
    let answer = ctx.client.get(&api::job_path(id), &what)?;
    crate::api::check_object(&answer.body, &what)?;
    let job: serde_json::Value = crate::api::parse_json(&answer.body, &what)?;
    if raw || ctx.mode().is_json() {
        return ctx.print_document(out, &answer.body);
    }
    render::job_summary(out, &job).out()
}
