//! `results`: the files each step of a workflow produced, and with
//! `--download` the files themselves.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{Ctx, Out, OutExt};
use crate::api::{self, BlobRef, Workflow};
use crate::cli::ResultsOpts;
use crate::download::{self, Naming, Outcome, Source};
use crate::error::{Error, Kind, Result};
use crate::render::{self, escape};
use crate::transfer::{self, Task};

/// One file of a workflow, with where it would be saved.
struct Item {
    step: String,
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

pub fn run(ctx: &Ctx, o: &ResultsOpts, out: &mut Out) -> Result<()> {
    let ids = workflow_ids(&o.workflow_ids)?;
    let dir = o.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    if o.download {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::other(format!("cannot create --dir {}: {e}", dir.display())))?;
    }
    let text = !ctx.globals.json && !ctx.globals.jsonl;
    let mut failures = 0usize;
    let mut unreadable: Vec<Error> = Vec::new();
    let mut stems = HashSet::new();
    let mut docs = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let what = format!("workflow '{}'", escape(id));
        let mut path = api::workflow_path(id);
        if o.nsfw {
            path.push_str("?hideMatureContent=false");
        }
        // One workflow that cannot be read does not stop the others.
        let wf = match ctx
            .client
            .get(&path, &what)
            .and_then(|a| Workflow::parse(&a.body, &what))
        {
            Ok(wf) => wf,
            Err(e) if e.kind == Kind::BrokenPipe => return Err(e),
            Err(e) if ids.len() == 1 => return Err(e),
            Err(e) => {
                report_error(ctx, &e);
                if !text {
                    let doc = json!({"workflowId": id, "error": {"kind": e.kind_name(), "status": e.status, "message": e.message}});
                    if ctx.globals.jsonl {
                        writeln!(out, "{doc}").out()?;
                    } else {
                        docs.push(doc);
                    }
                }
                unreadable.push(e);
                continue;
            }
        };
        let items = items_of(id, &wf, &mut stems);
        if text {
            if n > 0 {
                writeln!(out).out()?;
            }
            print_listing(out, id, ids.len() > 1, &wf, &items)?;
            out.flush().out()?;
        }
        let reports = if o.download {
            download_all(ctx, o, &dir, &items, text, out)?
        } else {
            Vec::new()
        };
        failures += reports
            .iter()
            .filter(|r| matches!(r, Report::Failed(_)))
            .count();
        if !text {
            let doc = json_doc(id, &wf, &items, &reports);
            if ctx.globals.jsonl {
                writeln!(out, "{doc}").out()?;
                out.flush().out()?;
            } else {
                docs.push(doc);
            }
        }
    }
    if ctx.globals.json {
        let doc = if docs.len() == 1 {
            docs.remove(0)
        } else {
            Value::Array(docs)
        };
        writeln!(out, "{doc}").out()?;
    }
    if let Some(first) = unreadable.first() {
        let mut e = Error::new(
            first.kind,
            format!(
                "{} of {} workflow(s) could not be read (first: {})",
                unreadable.len(),
                ids.len(),
                first.message
            ),
        );
        e.status = first.status;
        return Err(e);
    }
    if failures > 0 {
        return Err(Error::other(format!(
            "{failures} download(s) failed; run the same command again to resume them"
        )));
    }
    Ok(())
}

/// Downloads the available files `-j` at a time, printing each line as its
/// file finishes (text mode). Unavailable files are reported, not failed.
fn download_all(
    ctx: &Ctx,
    o: &ResultsOpts,
    dir: &Path,
    items: &[Item],
    text: bool,
    out: &mut Out,
) -> Result<Vec<Report>> {
    let mut reports: Vec<Option<Report>> = items.iter().map(|_| None).collect();
    let mut tasks = Vec::new();
    let mut task_item = Vec::new();
    if text && !items.is_empty() {
        writeln!(out).out()?;
    }
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
        if text {
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
    let outcomes = transfer::run(&ctx.client, ctx.notes, dir, &tasks, o.jobs, |_, outcome| {
        let line = match outcome {
            Ok(Outcome::Downloaded { path, bytes }) => {
                format!("Downloaded: {} ({bytes} bytes)", file_name(path))
            }
            Ok(Outcome::Skipped { path, bytes }) => {
                format!(
                    "skipped: {} already complete ({bytes} bytes)",
                    file_name(path)
                )
            }
            Err(e) => {
                report_error(ctx, e);
                return;
            }
        };
        if text && write_failed.is_none() {
            if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
                write_failed = Some(e);
            }
        }
    });
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

/// The ids to look at; `-` reads them from stdin, one per line: a bare id,
/// or a JSON workflow (as `--jsonl` prints) whose `id` is taken.
fn workflow_ids(args: &[String]) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for arg in args {
        if arg != "-" {
            ids.push(arg.clone());
            continue;
        }
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| Error::other(format!("cannot read stdin: {e}")))?;
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('{') {
                let v: Value = serde_json::from_str(line).map_err(|e| {
                    Error::usage(format!("stdin holds a line that is not JSON: {e}"))
                })?;
                match v.get("id").and_then(Value::as_str) {
                    Some(id) => ids.push(id.to_string()),
                    None => return Err(Error::usage("stdin holds a JSON line without an \"id\"")),
                }
            } else {
                ids.push(line.to_string());
            }
        }
    }
    if ids.is_empty() {
        return Err(Error::usage("no workflow id given (stdin was empty)"));
    }
    Ok(ids)
}

/// The files of a workflow, each with a file name no other file of this run
/// has: two steps whose names differ only in unsafe characters (`a/b`,
/// `a_b`) must not share one file.
fn items_of(workflow_id: &str, wf: &Workflow, taken: &mut HashSet<String>) -> Vec<Item> {
    let mut items = Vec::new();
    for step in wf.steps() {
        let name = step.name.clone().unwrap_or_else(|| "step".into());
        let Some(output) = &step.output else { continue };
        for (index, blob) in api::find_blobs(output).into_iter().enumerate() {
            // Each part is cut on its own, so the index always survives.
            let base = format!(
                "{}_{}_{index}",
                download::safe_part(workflow_id, 90),
                download::safe_part(&name, 90)
            );
            let mut stem = base.clone();
            let mut n = 2;
            while !taken.insert(stem.to_lowercase()) {
                stem = format!("{base}-{n}");
                n += 1;
            }
            items.push(Item {
                stem,
                step: name.clone(),
                blob,
            });
        }
    }
    items
}

/// A file or workflow that failed, on stderr, as text or as a JSON line.
fn report_error(ctx: &Ctx, e: &Error) {
    if ctx.globals.json || ctx.globals.jsonl {
        let doc =
            json!({"error": {"kind": e.kind_name(), "status": e.status, "message": e.message}});
        eprintln!("{doc}");
    } else {
        eprintln!("error: {}", e.message);
    }
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
    out: &mut Out,
    id: &str,
    several: bool,
    wf: &Workflow,
    items: &[Item],
) -> Result<()> {
    if several {
        writeln!(out, "Workflow: {}", escape(id)).out()?;
    }
    writeln!(
        out,
        "Status: {}",
        escape(wf.status.as_deref().unwrap_or("unknown"))
    )
    .out()?;
    writeln!(out, "Steps: {}", wf.steps().len()).out()?;
    for step in wf.steps() {
        let blobs: Vec<BlobRef> = items
            .iter()
            .filter(|it| Some(&it.step) == step.name.as_ref())
            .map(|it| it.blob.clone())
            .collect();
        writeln!(out).out()?;
        render::step_results(out, step, &blobs).out()?;
    }
    Ok(())
}

fn json_doc(id: &str, wf: &Workflow, items: &[Item], reports: &[Report]) -> Value {
    let results: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let mut v = json!({
                "stepName": it.step,
                "kind": it.blob.kind,
                "id": it.blob.id,
                "url": it.blob.url,
                "available": it.blob.available,
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
                    Report::Unavailable(why) => ("unavailable", None, None, Some(why.clone())),
                    Report::Failed(e) => ("failed", None, None, Some(e.message.clone())),
                };
                v["file"] = json!(file.map(|p| p.display().to_string()));
                v["bytes"] = json!(bytes);
                v["status"] = json!(status);
                if let Some(e) = error {
                    let key = if status == "unavailable" {
                        "reason"
                    } else {
                        "error"
                    };
                    v[key] = json!(e);
                }
            }
            v
        })
        .collect();
    json!({"workflowId": id, "status": wf.status, "results": results})
}
