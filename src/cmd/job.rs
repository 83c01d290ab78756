//! `job`: v1 jobs with their content-scan context, summarised for people.

use super::many::{self, Batch, Request};
use super::Ctx;
use crate::api;
use crate::cli::JobOpts;
use crate::error::Result;
use crate::output::render;
use crate::output::Out;
use crate::text::escape;

pub fn run(ctx: &Ctx, o: &JobOpts, out: &mut Out) -> Result<()> {
    let request = |id: &str| Request {
        path: api::job_path(id),
        what: format!("job '{}'", escape(id)),
    };
    let raw = o.raw;
    many::fetch_all(
        ctx,
        out,
        &Batch {
            ids: &o.ids,
            keys: &["jobId", "id"],
            jobs: o.jobs,
            noun: "job id(s)",
        },
        &request,
        &|mut w, body| {
            let job: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            if raw {
                writeln!(w, "{}", crate::output::json::pretty(body))
            } else {
                render::job_summary(&mut w, &job)
            }
        },
    )
}
