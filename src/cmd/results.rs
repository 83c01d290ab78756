//! `results`: the files each step of a workflow produced, and with
//! `--download` the files themselves.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::Ctx;
use crate::api::{self, BlobRef, Workflow};
use crate::cli::Mode;
use crate::cli::ResultsOpts;
use crate::download::{naming, pool, Naming, Outcome, Source};
use crate::error::{Error, Kind, Result};
use crate::output::{self, render};
use crate::output::{Out, OutExt};
use crate::text::{escape, mask};
use pool::Task;

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

pub fn run(ctx: &Ctx, o: &ResultsOpts, out: &mut Out) -> Result<()> {
    let (ids, bad_lines) = workflow_ids(&o.workflow_ids)?;
    for e in &bad_lines {
        output::report(e, ctx.mode());
    }
    let dir = o.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    if o.download {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::other(format!("cannot create --dir {}: {e}", dir.display())))?;
    }
    let text = !ctx.mode().is_json();
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
                output::report(&e, ctx.mode());
                if !text {
                    let doc = json!({"workflowId": id, "error": e.to_json()});
                    if ctx.mode() == Mode::Jsonl {
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
            if ctx.mode() == Mode::Jsonl {
                writeln!(out, "{doc}").out()?;
                out.flush().out()?;
            } else {
                docs.push(doc);
            }
        }
    }
    if ctx.mode() == Mode::Json {
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
    if let Some(first) = bad_lines.first() {
        return Err(Error::new(
            first.kind,
            format!(
                "{} line(s) of stdin were not workflow ids (first: {}); the other ids were done",
                bad_lines.len(),
                first.message
            ),
        ));
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
            if text && write_failed.is_none() {
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

/// The ids to look at; `-` reads them from stdin, one per line: a bare id,
/// or a JSON workflow (as `--jsonl` prints) whose `id` is taken. A byte
/// order mark and CRLF endings are ignored; a line that holds no id is an
/// error of its own (with its number), and the other lines still count.
fn workflow_ids(args: &[String]) -> Result<(Vec<String>, Vec<Error>)> {
    let mut ids = Vec::new();
    let mut bad = Vec::new();
    for arg in args {
        if arg != "-" {
            ids.push(arg.clone());
            continue;
        }
        let mut stdin = std::io::stdin().lock();
        let mut buf = Vec::new();
        for n in 1.. {
            buf.clear();
            let read = stdin
                .read_until(b'\n', &mut buf)
                .map_err(|e| Error::other(format!("cannot read stdin: {e}")))?;
            if read == 0 {
                break;
            }
            match id_of_line(&buf, n == 1) {
                Ok(Some(id)) => ids.push(id),
                Ok(None) => {}
                Err(why) => bad.push(Error::usage(format!("stdin line {n}: {why}"))),
            }
        }
    }
    if ids.is_empty() && bad.is_empty() {
        return Err(Error::usage("no workflow id given (stdin was empty)"));
    }
    Ok((ids, bad))
}

/// The id a line of stdin holds; `None` for a blank line.
fn id_of_line(raw: &[u8], first: bool) -> std::result::Result<Option<String>, String> {
    let raw = if first {
        raw.strip_prefix("\u{feff}".as_bytes()).unwrap_or(raw)
    } else {
        raw
    };
    let line = std::str::from_utf8(raw)
        .map_err(|_| "not valid UTF-8".to_string())?
        .trim();
    if line.is_empty() {
        return Ok(None);
    }
    if !line.starts_with(['{', '"']) {
        return Ok(Some(line.to_string()));
    }
    if line.starts_with('"') {
        // `jq .id` without `-r`: a JSON string is the id it holds.
        return match serde_json::from_str::<String>(line) {
            Ok(id) if !id.trim().is_empty() => Ok(Some(id)),
            _ => Err("not a JSON string".to_string()),
        };
    }
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not a JSON object ({e})"))?;
    match v.get("id").and_then(Value::as_str) {
        Some(id) if !id.trim().is_empty() => Ok(Some(id.to_string())),
        _ => Err("a JSON line without an \"id\"".to_string()),
    }
}

/// The files of a workflow, each with a file name of its own: ids and step
/// names changed by making them safe carry a hash of the original (so the
/// name does not depend on what else a run was asked for), and names that
/// differ only in case get `-2`, `-3` (one file on a case-blind disk).
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
            let mut stem = base.clone();
            let mut n = 2;
            while !taken.insert(stem.to_lowercase()) {
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
    for (i, step) in wf.steps().iter().enumerate() {
        let blobs: Vec<BlobRef> = items
            .iter()
            .filter(|it| it.step_index == i)
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
        .collect();
    json!({"workflowId": id, "status": wf.status, "results": results})
}
