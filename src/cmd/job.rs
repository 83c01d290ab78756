//! `job`: a v1 job with its content-scan context, summarised for people.

use super::{check_json, print_document, Ctx, Out, OutExt};
use crate::api;
use crate::error::Result;
use crate::render::{self, escape};

pub fn run(ctx: &Ctx, id: &str, raw: bool, out: &mut Out) -> Result<()> {
    let what = format!("job '{}'", escape(id));
    let answer = ctx.client.get(&api::job_path(id), &what)?;
    check_json(&answer.body, &what)?;
    let job: serde_json::Value = crate::client::parse_json(&answer.body, &what)?;
    if raw || ctx.globals.json {
        return print_document(ctx, out, &answer.body);
    }
    render::job_summary(out, &job).out()
}
