//! `workflow`: one workflow as the API sends it, optionally after waiting
//! for it to reach a final status.

use std::time::{Duration, Instant};

use super::many::{self, Batch, Request};
use super::Ctx;
use crate::api::{self, Workflow};
use crate::cli::WorkflowOpts;
use crate::error::{Error, Kind, Result};
use crate::output::json::pretty;
use crate::output::objects::Objects;
use crate::output::{summary, Out};
use crate::text::escape;

/// Polls start this far apart and back off to `MAX_POLL`.
const FIRST_POLL: Duration = Duration::from_secs(1);
const MAX_POLL: Duration = Duration::from_secs(10);

pub fn run(ctx: &Ctx, o: &WorkflowOpts, out: &mut Out) -> Result<()> {
    let summarise = o.summary;
    let text = move |w: &mut dyn std::io::Write, body: &str| {
        if summarise {
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            summary::workflow(w, &v)
        } else {
            writeln!(w, "{}", pretty(body))
        }
    };
    let Some(secs) = o.wait else {
        let request = |id: &str| Request {
            path: api::workflow_path(id),
            what: format!("workflow '{}'", escape(id)),
        };
        return many::fetch_all(ctx, out, &Batch::workflows(&o.ids, o.jobs), &request, &text);
    };
    let id = &o.ids[0];
    let what = format!("workflow '{}'", escape(id));
    let path = api::workflow_path(id);
    let (body, wf, ended) = poll(ctx, &path, &what, Duration::from_secs(secs))?;
    let mut objects = Objects::new(ctx.mode(), ctx.fields(), false);
    objects.body(out, &body, &|w| text(w, &body))?;
    objects.finish(out)?;
    verdict(id, &wf, ended, secs)
}

/// How a wait of `secs` for workflow `id` came out, as an exit: `Ok` when
/// it succeeded, exit 7 when it ended otherwise, 8 when it had not ended.
/// (`submit --wait` ends the same way.)
pub(super) fn verdict(id: &str, wf: &Workflow, ended: bool, secs: u64) -> Result<()> {
    let what = format!("workflow '{}'", escape(id));
    let status = wf.status.as_deref().unwrap_or("unknown");
    match ended {
        false => Err(Error::new(
            Kind::WaitTimeout,
            format!(
                "stopped waiting after {secs}s: {what} is still {} (the workflow goes on); \
                 look again with: civitai-orch workflow {} --wait",
                escape(status),
                escape(id)
            ),
        )),
        true if status == "succeeded" => Ok(()),
        true => Err(Error::new(
            Kind::WorkflowFailed,
            format!("{what} ended {}", escape(status)),
        )),
    }
}

/// Polls until the workflow is final or `limit` passes. Returns the last
/// body seen, its view, and whether the workflow ended. (`submit --wait`
/// polls here after the API's own wait.)
pub(super) fn poll(
    ctx: &Ctx,
    path: &str,
    what: &str,
    limit: Duration,
) -> Result<(String, Workflow, bool)> {
    let start = Instant::now();
    let deadline = start + limit;
    let mut interval = FIRST_POLL;
    let mut last: Option<(String, Workflow)> = None;
    let mut last_line = String::new();
    loop {
        // Each poll is one try, bounded by what is left of SECS: the loop
        // itself is the retry, and it must not outlast the deadline.
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = ctx.client.timeout().min(left).max(Duration::from_secs(1));
        match ctx.client.get_with(path, what, timeout, 0) {
            Ok(answer) => {
                let wf = Workflow::parse(&answer.body, what)?;
                let line = status_line(&wf);
                if line != last_line && ctx.notes.live() {
                    ctx.notes
                        .note(&format!("[{:>4}s] {line}", start.elapsed().as_secs()));
                }
                last_line = line;
                if wf.is_final() {
                    return Ok((answer.body, wf, true));
                }
                last = Some((answer.body, wf));
            }
            // A failed poll is just another poll until the deadline.
            Err(e) if e.kind == Kind::Network || e.kind == Kind::RateLimited => {
                ctx.notes.note(&format!("poll failed: {e}; polling again"));
            }
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep(interval.min(deadline - now));
        interval = (interval * 2).min(MAX_POLL);
    }
    match last {
        Some((body, wf)) => Ok((body, wf, false)),
        None => Err(Error::new(
            Kind::WaitTimeout,
            format!(
                "stopped waiting after {}s: no answer about {what} in that time (the workflow \
                 goes on); look again with: civitai-orch workflow {} --wait",
                limit.as_secs(),
                escape(
                    path.split('?')
                        .next()
                        .unwrap_or("")
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                )
            ),
        )),
    }
}

/// `processing; steps: 0 processing, upscale scheduled`.
fn status_line(wf: &Workflow) -> String {
    let steps: Vec<String> = wf
        .steps()
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                escape(s.name.as_deref().unwrap_or("?")),
                escape(s.status.as_deref().unwrap_or("?"))
            )
        })
        .collect();
    format!(
        "{}; steps: {}",
        escape(wf.status.as_deref().unwrap_or("unknown")),
        steps.join(", ")
    )
}
