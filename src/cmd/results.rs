//! `results`: the files each step of a workflow produced, and with
//! `--download` the files themselves.
//!
//! Ids are worked on as they arrive (`input`: `results -` starts while
//! stdin is still open), fetched `-j` at a time and handled in input order
//! (`many::run`); one workflow that fails does not stop the others
//! (`many::Tally`). A stdin line that already holds the whole workflow (a
//! line of `workflows --jsonl`) stands in for the fetch when that is safe:
//! see [`reusable`].
//!
//! What is printed, per mode:
//! - text: each workflow's listing; with `--download` only what happened to
//!   each file, then one line of counts;
//! - `--json`/`--jsonl`: a document per workflow (`{"workflowId","status",
//!   "results":[...]}`), with `--download` its `counts`; the run's counts
//!   line goes to stderr with `--jsonl`;
//! - `--fields`: one object per file (a `results` entry with its
//!   `workflowId`), cut down; the counts line goes to stderr.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::input::{self, Item as Input};
use super::many::{self, Tally};
use super::Ctx;
use crate::api::{self, BlobRef, Workflow};
use crate::cli::Mode;
use crate::cli::ResultsOpts;
use crate::dates;
use crate::download::{naming, pool, Naming, Outcome, Source};
use crate::error::{Error, Result};
use crate::output::objects::Objects;
use crate::output::{self, render};
use crate::output::{Out, OutExt};
use crate::text::{escape, mask};
use pool::Task;

/// Where a JSON line of stdin holds the workflow id, first match wins.
const KEYS: &[&str] = &["id", "workflowId"];

/// A signed URL that expires sooner than this is not reused from stdin.
const URL_MARGIN: time::Duration = time::Duration::minutes(1);

/// Objects in step outputs deeper than this are not looked at (as in `api`).
const MAX_DEPTH: usize = 32;

/// One file of a workflow, with where it would be saved.
struct Item {
    step: String,
    /// Which step of the workflow (names may be missing or repeated).
    step_index: usize,
    blob: BlobRef,
    /// `{workflowId}_{stepName}_{index}`, made safe; the extension comes later.
    stem: String,
}

/// What a download came to, for the report.
enum Report {
    Done(Outcome),
    Unavailable(String),
    Failed(Error),
}

/// What `--download` did to the files, for one workflow or the run.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
struct Counts {
    downloaded: usize,
    /// Already complete, or being fetched by another run.
    skipped: usize,
    unavailable: usize,
    failed: usize,
}

impl Counts {
    fn of(reports: &[Report]) -> Counts {
        let mut c = Counts::default();
        for r in reports {
            match r {
                Report::Done(Outcome::Downloaded { .. }) => c.downloaded += 1,
                Report::Done(_) => c.skipped += 1,
                Report::Unavailable(_) => c.unavailable += 1,
                Report::Failed(_) => c.failed += 1,
            }
        }
        c
    }

    fn add(&mut self, other: Counts) {
        self.downloaded += other.downloaded;
        self.skipped += other.skipped;
        self.unavailable += other.unavailable;
        self.failed += other.failed;
    }

    /// `downloaded 2, skipped 0, unavailable 1, failed 0`.
    fn line(&self) -> String {
        format!(
            "downloaded {}, skipped {}, unavailable {}, failed {}",
            self.downloaded, self.skipped, self.unavailable, self.failed
        )
    }

    fn to_json(self) -> Value {
        json!({
            "downloaded": self.downloaded,
            "skipped": self.skipped,
            "unavailable": self.unavailable,
            "failed": self.failed,
        })
    }
}

/// What the run carries from one workflow to the next (all on the
/// printing thread, in input order).
struct Printer<'a> {
    ctx: &'a Ctx,
    o: &'a ResultsOpts,
    dir: PathBuf,
    /// More than one workflow may come: text listings name theirs, and
    /// `--json` prints an array.
    several: bool,
    objects: Objects<'a>,
    tally: Tally,
    /// File names taken so far (lower case), so that no two files share
    /// one, and which file took each (see [`items_of`]).
    stems: HashSet<String>,
    counts: Counts,
}

pub fn run(ctx: &Ctx, o: &ResultsOpts, out: &mut Out) -> Result<()> {
    let several = o.workflow_ids.len() > 1 || o.workflow_ids.iter().any(|i| i == "-");
    let mut p = Printer::new(ctx, o, several)?;
    let work = |item: Input| {
        let id = item.id.clone();
        (id, workflow_of(ctx, o, item))
    };
    many::run(
        o.jobs,
        input::items(&o.workflow_ids, KEYS),
        &work,
        &mut |done| match done {
            Ok((id, Ok(wf))) => p.workflow(out, &id, &wf),
            Ok((id, Err(e))) => {
                p.objects.failure(out, "workflowId", &id, &e)?;
                p.tally.fail(e);
                Ok(())
            }
            // A line of stdin that holds no id.
            Err(e) => {
                p.tally.fail(e);
                Ok(())
            }
        },
    )?;
    p.finish(out)
}

/// `submit --download`: the results of one workflow already in hand
/// (`id`, `wf`), printed and saved exactly as `results ID --download`
/// does after fetching it.
pub(super) fn of_workflow(
    ctx: &Ctx,
    o: &ResultsOpts,
    id: &str,
    wf: &Workflow,
    out: &mut Out,
) -> Result<()> {
    let mut p = Printer::new(ctx, o, false)?;
    p.workflow(out, id, wf)?;
    p.finish(out)
}

/// The workflow an input stands for: the stdin line itself when it may be
/// reused, else a fresh `GET`.
fn workflow_of(ctx: &Ctx, o: &ResultsOpts, item: Input) -> Result<Workflow> {
    if let Some(wf) = item
        .object
        .as_ref()
        .and_then(|v| reusable(v, o.nsfw, OffsetDateTime::now_utc()))
    {
        return Ok(wf);
    }
    let what = format!("workflow '{}'", escape(&item.id));
    let mut path = api::workflow_path(&item.id);
    if o.nsfw {
        path.push_str("?hideMatureContent=false");
    }
    let answer = ctx.client.get(&path, &what)?;
    Workflow::parse(&answer.body, &what)
}

/// A workflow a line of stdin holds (as `workflows --jsonl` prints it),
/// when it is as good as fetching it again: it has its `steps`, its status
/// is final (the outputs no longer change), `--nsfw` was not asked for (the
/// listing hid mature content), and every signed URL in the outputs is
/// still good for more than [`URL_MARGIN`] by its `urlExpiresAt`.
fn reusable(v: &Value, nsfw: bool, now: OffsetDateTime) -> Option<Workflow> {
    if nsfw {
        return None;
    }
    let steps = v.get("steps")?.as_array()?;
    if !v
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(api::is_final_status)
    {
        return None;
    }
    let until = now + URL_MARGIN;
    let fresh = steps
        .iter()
        .all(|s| s.get("output").is_none_or(|o| links_fresh(o, until, 0)));
    if !fresh {
        return None;
    }
    Workflow::from_value(v.clone())
}

/// Whether every object with a `url` in `v` has a `urlExpiresAt` after
/// `until`; a URL without a readable expiry is not trusted.
fn links_fresh(v: &Value, until: OffsetDateTime, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match v {
        Value::Object(map) => {
            let has_url = map
                .get("url")
                .and_then(Value::as_str)
                .is_some_and(|u| !u.is_empty());
            let own = !has_url
                || map
                    .get("urlExpiresAt")
                    .and_then(Value::as_str)
                    .and_then(dates::parse_instant)
                    .is_some_and(|t| t > until);
            own && map.values().all(|c| links_fresh(c, until, depth + 1))
        }
        Value::Array(items) => items.iter().all(|c| links_fresh(c, until, depth + 1)),
        _ => true,
    }
}

impl<'a> Printer<'a> {
    /// Ready for the workflows of a run (`several`: more than one may
    /// come), with `--dir` made when downloading.
    fn new(ctx: &'a Ctx, o: &'a ResultsOpts, several: bool) -> Result<Printer<'a>> {
        let dir = o.dir.clone().unwrap_or_else(|| PathBuf::from("."));
        if o.download {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::other(format!("cannot create --dir {}: {e}", dir.display())))?;
        }
        // With --fields the objects are the files: always a list.
        let objects = Objects::new(ctx.mode(), ctx.fields(), several || ctx.fields().is_some());
        Ok(Printer {
            ctx,
            o,
            dir,
            several,
            objects,
            tally: Tally::new(ctx.mode()),
            stems: HashSet::new(),
            counts: Counts::default(),
        })
    }

    /// After the last workflow: the closing of the output, the run's
    /// counts, and the exit by the failures.
    fn finish(mut self, out: &mut Out) -> Result<()> {
        let (ctx, o, several) = (self.ctx, self.o, self.several);
        self.objects.finish(out)?;
        // An empty stdin is a listing that found nothing: nothing to do.
        if self.tally.seen() == 0 {
            ctx.notes.note("no workflow id(s) on stdin: nothing to do");
        }
        if o.download {
            let line = self.counts.line();
            match (ctx.mode(), ctx.fields()) {
                (Mode::Text, None) => writeln!(out, "{line}").out()?,
                // The --json document holds the counts of each workflow.
                (Mode::Json, None) => {}
                // Stdout holds only JSON lines or the table. (Not `eprintln!`:
                // it panics when stderr is closed.)
                _ => ctx.notes.always(&line),
            }
        }
        let failed = self.counts.failed;
        match self.tally.finish("workflow id(s)") {
            Err(mut e) if several && failed > 0 => {
                e.message.push_str(&format!(
                    "; run the same command again to resume the {failed} failed download(s)"
                ));
                Err(e)
            }
            r => r,
        }
    }

    /// One workflow that was read: its listing, its downloads, its
    /// objects; a workflow whose downloads failed counts as failed.
    fn workflow(&mut self, out: &mut Out, id: &str, wf: &Workflow) -> Result<()> {
        let (ctx, o) = (self.ctx, self.o);
        let items = items_of(id, wf, &mut self.stems);
        let lines = ctx.mode() == Mode::Text && ctx.fields().is_none();
        let reports = if o.download {
            download_all(ctx, o, &self.dir, &items, lines, out)?
        } else {
            Vec::new()
        };
        let counts = Counts::of(&reports);
        self.counts.add(counts);
        let entries = entries(&items, &reports);
        let several = self.several;
        if ctx.fields().is_some() {
            for mut e in entries {
                e["workflowId"] = json!(id);
                self.objects.value(out, &e, &|_| Ok(()))?;
            }
        } else if ctx.mode().is_json() {
            let mut doc = json!({"workflowId": id, "status": wf.status, "results": entries});
            if o.download {
                doc["counts"] = counts.to_json();
            }
            self.objects.value(out, &doc, &|_| Ok(()))?;
        } else if !o.download {
            let listing = |w: &mut dyn Write| print_listing(w, id, several, wf, &items);
            self.objects.value(out, &Value::Null, &listing)?;
        }
        out.flush().out()?;
        if counts.failed == 0 {
            self.tally.ok();
            return Ok(());
        }
        let n = counts.failed;
        self.tally.fail(Error::other(if several {
            format!("workflow '{}': {n} download(s) failed", escape(id))
        } else {
            format!("{n} download(s) failed; run the same command again to resume them")
        }));
        Ok(())
    }
}

/// Downloads the available files `-j` at a time, with `lines` printing a
/// line for each as it finishes. Unavailable files are reported, not failed.
fn download_all(
    ctx: &Ctx,
    o: &ResultsOpts,
    dir: &Path,
    items: &[Item],
    lines: bool,
    out: &mut Out,
) -> Result<Vec<Report>> {
    let mut reports: Vec<Option<Report>> = items.iter().map(|_| None).collect();
    let mut tasks = Vec::new();
    let mut task_item = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if item.blob.available {
            tasks.push(task_for(o, item));
            task_item.push(i);
            continue;
        }
        let why = item
            .blob
            .blocked_reason
            .clone()
            .unwrap_or_else(|| "not ready".into());
        if lines {
            writeln!(
                out,
                "skipped: {} not available ({})",
                escape(&item.stem),
                escape(&why)
            )
            .out()?;
        }
        reports[i] = Some(Report::Unavailable(why));
    }
    let mut write_failed = None;
    let outcomes = pool::run(
        &ctx.client,
        ctx.notes,
        dir,
        &tasks,
        o.jobs,
        &mut |_, outcome| {
            let line = match outcome {
                Ok(o) => render::outcome_line(o, &file_name(o.path())),
                Err(e) => {
                    output::report(e, ctx.mode());
                    return;
                }
            };
            if lines && write_failed.is_none() {
                if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
                    write_failed = Some(e);
                }
            }
        },
    );
    if let Some(e) = write_failed {
        return Err(Error::from_stdout(e));
    }
    for (t, outcome) in outcomes.into_iter().enumerate() {
        reports[task_item[t]] = Some(match outcome {
            Ok(o) => Report::Done(o),
            Err(e) => Report::Failed(e),
        });
    }
    Ok(reports
        .into_iter()
        .map(|r| r.unwrap_or(Report::Unavailable(String::new())))
        .collect())
}

fn task_for(o: &ResultsOpts, item: &Item) -> Task {
    let source = match &item.blob.url {
        Some(url) => Source::Signed {
            url: url.clone(),
            nsfw: o.nsfw,
        },
        None => Source::Api {
            blob_id: item.blob.id.clone(),
            nsfw: o.nsfw,
        },
    };
    Task {
        source,
        naming: Naming {
            stem: item.stem.clone(),
            blob_id: item.blob.id.clone(),
            exact: None,
            force: o.force,
        },
    }
}

/// The files of a workflow, each with a file name of its own: ids and step
/// names changed by making them safe carry a hash of the original (so the
/// name does not depend on what else a run was asked for), and names that
/// differ only in case, or steps of the same name, get `-2`, `-3` (one
/// file on a case-blind disk). A workflow that comes again in the run gets
/// the names it had: they are the same files.
fn items_of(workflow_id: &str, wf: &Workflow, taken: &mut HashSet<String>) -> Vec<Item> {
    let mut items = Vec::new();
    for (step_index, step) in wf.steps().iter().enumerate() {
        let name = step.name.clone().unwrap_or_else(|| "step".into());
        let Some(output) = &step.output else { continue };
        for (index, blob) in api::find_blobs(output).into_iter().enumerate() {
            // Each part is cut on its own, so the index always survives.
            let base = format!(
                "{}_{}_{index}",
                naming::stable_part(workflow_id, 90),
                naming::stable_part(&name, 90)
            );
            // A name taken is marked twice: its lower case, and the file
            // that took it (with a NUL, which no name holds).
            let owner = format!("{workflow_id}\0{step_index}\0{index}\0");
            let mut stem = base.clone();
            let mut n = 2;
            loop {
                let mine = format!("{owner}{stem}");
                if taken.contains(&mine) {
                    break;
                }
                if taken.insert(stem.to_lowercase()) {
                    taken.insert(mine);
                    break;
                }
                stem = format!("{base}-{n}");
                n += 1;
            }
            items.push(Item {
                stem,
                step: name.clone(),
                step_index,
                blob,
            });
        }
    }
    items
}

fn file_name(path: &Path) -> String {
    escape(
        &path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

fn print_listing(
    mut w: &mut dyn Write,
    id: &str,
    several: bool,
    wf: &Workflow,
    items: &[Item],
) -> io::Result<()> {
    if several {
        writeln!(w, "Workflow: {}", escape(id))?;
    }
    writeln!(
        w,
        "Status: {}",
        escape(wf.status.as_deref().unwrap_or("unknown"))
    )?;
    writeln!(w, "Steps: {}", wf.steps().len())?;
    for (i, step) in wf.steps().iter().enumerate() {
        let blobs: Vec<BlobRef> = items
            .iter()
            .filter(|it| it.step_index == i)
            .map(|it| it.blob.clone())
            .collect();
        writeln!(w)?;
        render::step_results(&mut w, step, &blobs)?;
    }
    Ok(())
}

/// The `results` entries of a workflow's files: what the output says of
/// each, and with `--download` what became of it.
fn entries(items: &[Item], reports: &[Report]) -> Vec<Value> {
    items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let mut v = json!({
                "stepName": it.step,
                "kind": it.blob.kind,
                "id": it.blob.id,
                "url": it.blob.url,
                "available": it.blob.available,
                "blockedReason": it.blob.blocked_reason,
                "nsfwLevel": it.blob.nsfw_level,
                "jobId": it.blob.job_id,
                "width": it.blob.width,
                "height": it.blob.height,
                "file": Value::Null,
            });
            if let Some(r) = reports.get(i) {
                let (status, file, bytes, error) = match r {
                    Report::Done(Outcome::Downloaded { path, bytes }) => {
                        ("downloaded", Some(path), Some(*bytes), None)
                    }
                    Report::Done(Outcome::Skipped { path, bytes }) => {
                        ("skipped", Some(path), Some(*bytes), None)
                    }
                    Report::Done(Outcome::Busy { path }) => (
                        "skipped",
                        Some(path),
                        None,
                        Some("another run is downloading it".to_string()),
                    ),
                    Report::Unavailable(why) => ("unavailable", None, None, Some(why.clone())),
                    Report::Failed(e) => ("failed", None, None, Some(mask(&e.message))),
                };
                v["file"] = json!(file.map(|p| p.display().to_string()));
                v["bytes"] = json!(bytes);
                v["status"] = json!(status);
                if let Some(e) = error {
                    let key = if status == "failed" {
                        "error"
                    } else {
                        "reason"
                    };
                    v[key] = json!(e);
                }
            }
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> OffsetDateTime {
        dates::parse_instant(s).unwrap()
    }

    /// A final workflow with one available image (its URL good until
    /// `expires`) and one blocked image without a URL.
    fn listed(status: &str, expires: Value) -> Value {
        json!({
            "id": "w", "status": status,
            "steps": [{"name": "0", "output": {"images": [
                {"id": "a.jpeg", "available": true, "url": "https://cdn/a", "urlExpiresAt": expires},
                {"id": "b.jpeg", "available": false, "url": null, "urlExpiresAt": null}
            ]}}]
        })
    }

    #[test]
    fn a_listed_workflow_stands_in_only_when_final_and_fresh() {
        let now = at("2026-01-22T12:00:00Z");
        let fresh = listed("succeeded", json!("2026-01-22T12:01:01Z"));
        let wf = reusable(&fresh, false, now).expect("reused");
        assert_eq!(wf.steps().len(), 1);
        for status in ["failed", "expired", "canceled"] {
            assert!(reusable(&listed(status, json!("2026-01-23T00:00:00Z")), false, now).is_some());
        }
        // --nsfw wants fresh URLs with mature content shown.
        assert!(reusable(&fresh, true, now).is_none());
        // Outputs may still change.
        for status in ["processing", "scheduled", "preparing"] {
            assert!(reusable(&listed(status, json!("2026-01-23T00:00:00Z")), false, now).is_none());
        }
        // Expired, expiring within a minute, or of unknown expiry.
        for expires in [
            json!("2026-01-22T11:00:00Z"),
            json!("2026-01-22T12:00:59.999Z"),
            json!("2026-01-22T12:01:00Z"),
            json!(null),
            json!("soon"),
        ] {
            assert!(
                reusable(&listed("succeeded", expires.clone()), false, now).is_none(),
                "{expires}"
            );
        }
        // A line without its steps (a bare `{"id":...}`, a `results` line).
        assert!(reusable(&json!({"id": "w", "status": "succeeded"}), false, now).is_none());
        assert!(reusable(&json!({"workflowId": "w", "results": []}), false, now).is_none());
    }

    #[test]
    fn counts_say_what_became_of_each_file() {
        let done = |bytes| {
            Report::Done(Outcome::Downloaded {
                path: "a".into(),
                bytes,
            })
        };
        let reports = [
            done(1),
            done(2),
            Report::Done(Outcome::Busy { path: "b".into() }),
            Report::Unavailable("x".into()),
            Report::Failed(Error::other("no")),
        ];
        let mut c = Counts::of(&reports);
        assert_eq!(c.line(), "downloaded 2, skipped 1, unavailable 1, failed 1");
        c.add(Counts::of(&reports[..1]));
        assert_eq!(
            c.to_json(),
            json!({"downloaded": 3, "skipped": 1, "unavailable": 1, "failed": 1})
        );
    }
}
