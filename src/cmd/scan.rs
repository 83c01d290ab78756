//! `scan`: the moderation view of every job of workflows (or of jobs given
//! by id): files, prompt classification, and the content-scan context with
//! its scores as numbers, `-j` requests at a time, in input order.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Map, Value};

use super::input::{self, Item};
use super::many::{self, Tally};
use super::Ctx;
use crate::api::{self, BlobRef};
use crate::cli::ScanOpts;
use crate::error::{Error, Result};
use crate::http::Gate;
use crate::output::objects::Objects;
use crate::output::{scan as view, Out, OutExt};
use crate::text::escape;

/// What an argument names.
#[derive(Debug, PartialEq)]
enum Target {
    Workflow(String),
    Job(String),
}

/// `job:ID` and `wf:ID` say it; a bare UUID is a job, anything else a
/// workflow. A JSON line with a `jobId` (a string) is a job. A prefix with no id
/// after it names nothing (an empty path segment would ask for another
/// path: `/v2/consumer/workflows/` is the listing).
fn target(item: &Item) -> Result<Target> {
    if item
        .object
        .as_ref()
        .is_some_and(|o| o.get("jobId").and_then(Value::as_str).is_some())
    {
        return Ok(Target::Job(item.id.clone()));
    }
    let id = item.id.as_str();
    let named = |prefix: &str, rest: &str| {
        if rest.trim().is_empty() {
            Err(Error::usage(format!(
                "'{}' holds no id after '{prefix}'",
                escape(id)
            )))
        } else {
            Ok(rest.to_string())
        }
    };
    if let Some(j) = id.strip_prefix("job:") {
        return named("job:", j).map(Target::Job);
    }
    if let Some(w) = id.strip_prefix("wf:") {
        return named("wf:", w).map(Target::Workflow);
    }
    Ok(if is_uuid(id) {
        Target::Job(id.to_string())
    } else {
        Target::Workflow(id.to_string())
    })
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A job of a workflow, as the workflow lists it.
struct JobRef {
    workflow_id: Option<String>,
    step: Option<String>,
    id: String,
    status: Option<String>,
    /// The files the workflow credits to this job.
    files: Vec<BlobRef>,
}

/// One job's outcome: its scan entry, or why it could not be read.
type Scanned = std::result::Result<view::Entry, (JobRef, Error)>;

pub fn run(ctx: &Ctx, o: &ScanOpts, out: &mut Out) -> Result<()> {
    let gate = Gate::new(o.jobs);
    // Set once nothing more can be printed: the jobs of a workflow still
    // being fetched are then left alone.
    let halted = AtomicBool::new(false);
    let work = |item: Item| -> (String, Result<Vec<Scanned>>) {
        let shown = item.id.clone();
        let refs = match target(&item) {
            Ok(Target::Job(id)) => Ok(vec![JobRef {
                workflow_id: None,
                step: None,
                id,
                status: None,
                files: Vec::new(),
            }]),
            Ok(Target::Workflow(id)) => gate.pass(|| jobs_of(ctx, &id)),
            Err(e) => Err(e),
        };
        let scanned = refs.map(|refs| fetch_jobs(ctx, &gate, o.jobs, refs, &halted));
        (shown, scanned)
    };
    let mut objects = Objects::new(ctx.mode(), ctx.fields(), true);
    let mut tally = Tally::new(ctx.mode());
    let (mut scanned, mut flagged) = (0usize, 0usize);
    let mut emit = |done: Result<(String, Result<Vec<Scanned>>)>| -> Result<()> {
        let (shown, jobs) = match done {
            Ok(d) => d,
            Err(e) => {
                tally.fail(e);
                return Ok(());
            }
        };
        let jobs = match jobs {
            Ok(jobs) => jobs,
            Err(e) => {
                objects.failure(out, "id", &shown, &e)?;
                tally.fail(e);
                return Ok(());
            }
        };
        for job in jobs {
            match job {
                Ok(entry) => {
                    tally.ok();
                    scanned += 1;
                    let hit = entry.is_flagged(o.threshold);
                    flagged += usize::from(hit);
                    if o.flagged && !hit {
                        continue;
                    }
                    let doc = entry.to_json(o.threshold);
                    objects.body(out, &doc, &|w| entry.text(w, o.threshold))?;
                }
                Err((job, e)) => {
                    objects.failure(out, "jobId", &job.id, &e)?;
                    tally.fail(e);
                }
            }
        }
        out.flush().out()
    };
    many::run(
        o.jobs,
        // `workflowId`: a `results --jsonl` line.
        input::items(&o.ids, &["jobId", "id", "workflowId"]),
        &work,
        &mut |done| {
            let r = emit(done);
            if r.is_err() {
                halted.store(true, Ordering::SeqCst);
            }
            r
        },
    )?;
    objects.finish(out)?;
    out.flush().out()?;
    ctx.notes.always(&format!(
        "{scanned} job(s) scanned, {flagged} flagged (threshold {})",
        crate::output::summary::number(o.threshold)
    ));
    tally.finish("job(s) or workflow(s)")
}

/// Every job of every step of a workflow, with the files the workflow
/// credits to it.
fn jobs_of(ctx: &Ctx, id: &str) -> Result<Vec<JobRef>> {
    let what = format!("workflow '{}'", escape(id));
    let answer = ctx.client.get(&api::workflow_path(id), &what)?;
    let wf: Value = api::parse_json(&answer.body, &what)?;
    // No steps (or no jobs yet) is nothing to scan; steps or jobs that are
    // not lists, and jobs without an id, are failures, never skipped.
    let steps = list(wf.get("steps")).ok_or_else(|| {
        Error::other(format!(
            "the API sent {what} whose steps are not a list; nothing was scanned"
        ))
    })?;
    let mut refs = Vec::new();
    for step in steps {
        let name = step.get("name").and_then(Value::as_str);
        let files = step.get("output").map(api::find_blobs).unwrap_or_default();
        // One job without an id stands for a list that cannot be read.
        let jobs = list(step.get("jobs")).unwrap_or_else(|| vec![&Value::Null]);
        for job in jobs {
            let job_id = job.get("id").and_then(Value::as_str).unwrap_or_default();
            refs.push(JobRef {
                workflow_id: Some(id.to_string()),
                step: name.map(str::to_string),
                id: job_id.to_string(),
                status: job
                    .get("status")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                files: files
                    .iter()
                    .filter(|b| !job_id.is_empty() && b.job_id.as_deref() == Some(job_id))
                    .cloned()
                    .collect(),
            });
        }
    }
    Ok(refs)
}

/// The items of a list that may be missing or null (none); `None` when
/// it is something else.
fn list(v: Option<&Value>) -> Option<Vec<&Value>> {
    match v {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => Some(items.iter().collect()),
        Some(_) => None,
    }
}

/// Fetches the jobs, up to `jobs` at a time through the run's gate, and
/// gives them back in order.
fn fetch_jobs(
    ctx: &Ctx,
    gate: &Gate,
    jobs: usize,
    refs: Vec<JobRef>,
    halted: &AtomicBool,
) -> Vec<Scanned> {
    let next = AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Scanned>>> =
        refs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let refs: Vec<std::sync::Mutex<Option<JobRef>>> = refs
        .into_iter()
        .map(|r| std::sync::Mutex::new(Some(r)))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, refs.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(cell) = refs.get(i) else { break };
                if halted.load(Ordering::SeqCst) {
                    break;
                }
                let Some(job) = cell.lock().unwrap_or_else(|e| e.into_inner()).take() else {
                    continue;
                };
                if job.id.trim().is_empty() {
                    let e = Error::other(format!(
                        "workflow '{}' step '{}' lists a job without an id; it was not scanned",
                        escape(job.workflow_id.as_deref().unwrap_or("?")),
                        escape(job.step.as_deref().unwrap_or("?"))
                    ));
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(Err((job, e)));
                    continue;
                }
                let what = format!("job '{}'", escape(&job.id));
                let got = gate.pass(|| ctx.client.get(&api::job_path(&job.id), &what));
                let scanned = got
                    .and_then(|a| match api::parse_json::<Value>(&a.body, &what)? {
                        Value::Object(map) => Ok(map),
                        _ => Err(Error::other(format!(
                            "the API sent something that is not a JSON object for {what}"
                        ))),
                    })
                    .map(|map| entry(&job, map));
                let scanned = scanned.map_err(|e| (job, e));
                *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(scanned);
            });
        }
    });
    slots
        .into_iter()
        .filter_map(|s| s.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// The scan entry of a job from its JobStatus and what the workflow said.
fn entry(job: &JobRef, status: Map<String, Value>) -> view::Entry {
    let inner = status.get("job");
    let files = if job.files.is_empty() {
        files_of_result(&status)
    } else {
        job.files
            .iter()
            .map(|b| view::File {
                id: b.id.clone(),
                available: Some(b.available),
                blocked_reason: b.blocked_reason.clone(),
                nsfw_level: b.nsfw_level.clone(),
            })
            .collect()
    };
    let event = status.get("lastEvent");
    let event_status = event
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    let prop = |k: &str| {
        inner
            .and_then(|j| j.get("properties"))
            .and_then(|p| p.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    view::Entry {
        workflow_id: job.workflow_id.clone().or_else(|| prop("workflowId")),
        step: job.step.clone().or_else(|| prop("stepName")),
        job_id: job.id.clone(),
        status: job.status.clone().or(event_status),
        files,
        classification: inner
            .and_then(|j| j.get("promptClassificationResult"))
            .filter(|v| !v.is_null())
            .cloned(),
        context: match event.and_then(|e| e.get("context")) {
            Some(Value::Object(c)) => c.clone(),
            _ => Map::new(),
        },
    }
}

/// The files a job lists itself (`result[].blobKey`), for a job given by id.
fn files_of_result(status: &Map<String, Value>) -> Vec<view::File> {
    let list = status.get("result").and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .filter_map(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
            Some(view::File {
                id: s("blobKey").or_else(|| s("id"))?,
                available: r.get("available").and_then(Value::as_bool),
                blocked_reason: s("blockedReason"),
                nsfw_level: s("nsfwLevel"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, object: Option<Value>) -> Item {
        Item {
            id: id.into(),
            object,
        }
    }

    #[test]
    fn ids_are_told_apart() {
        let uuid = "58de87d7-d594-4d71-ae43-dd8fc1bcbd23";
        let target = |i: &Item| target(i).unwrap();
        assert_eq!(target(&item(uuid, None)), Target::Job(uuid.into()));
        let wf = "0-019be44b-181e-7a7e-ab1b-b58dc7610dca";
        assert_eq!(target(&item(wf, None)), Target::Workflow(wf.into()));
        assert_eq!(
            target(&item(&format!("wf:{uuid}"), None)),
            Target::Workflow(uuid.into())
        );
        assert_eq!(target(&item("job:x", None)), Target::Job("x".into()));
        let line = serde_json::json!({"jobId": "j", "workflowId": "w"});
        assert_eq!(target(&item("j", Some(line))), Target::Job("j".into()));
        for empty in ["job:", "wf:", "job: ", "wf:\t"] {
            assert_eq!(
                super::target(&item(empty, None)).unwrap_err().exit_code(),
                2
            );
        }
        assert!(!is_uuid("58de87d7-d594-4d71-ae43-dd8fc1bcbd2z"));
        assert!(!is_uuid("58de87d7d5944d71ae43dd8fc1bcbd23"));
    }
}
