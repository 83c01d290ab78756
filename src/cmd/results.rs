//! `results`: the files each step of a workflow produced, and with
//! `--download` the files themselves.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{Ctx, Out, OutExt};
use crate::api::{self, BlobRef, Workflow};
use crate::cli::ResultsOpts;
use crate::client::parse_json;
use crate::download::{self, Naming, Outcome, Source};
use crate::error::{Error, Kind, Result};
use crate::render::{self, escape};

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
    let mut failures = 0usize;
    let mut docs = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let what = format!("workflow '{}'", escape(id));
        let mut path = api::workflow_path(id);
        if o.nsfw {
            path.push_str("?hideMatureContent=false");
        }
        let answer = ctx.client.get(&path, &what)?;
        let wf: Workflow = parse_json(&answer.body, &what)?;
        let items = items_of(id, &wf);
        let reports: Vec<Report> = if o.download {
            items.iter().map(|it| fetch(ctx, o, &dir, it)).collect()
        } else {
            Vec::new()
        };
        failures += reports
            .iter()
            .filter(|r| matches!(r, Report::Failed(_)))
            .count();
        if ctx.globals.json || ctx.globals.jsonl {
            let doc = json_doc(id, &wf, &items, &reports);
            if ctx.globals.jsonl {
                writeln!(out, "{doc}").out()?;
            } else {
                docs.push(doc);
            }
        } else {
            if n > 0 {
                writeln!(out).out()?;
            }
            print_text(out, id, ids.len() > 1, &wf, &items, &reports)?;
        }
        out.flush().out()?;
    }
    if ctx.globals.json {
        let doc = if docs.len() == 1 {
            docs.remove(0)
        } else {
            Value::Array(docs)
        };
        writeln!(out, "{doc}").out()?;
    }
    if failures > 0 {
        return Err(Error::other(format!(
            "{failures} download(s) failed; run the same command again to retry them"
        )));
    }
    Ok(())
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

fn items_of(workflow_id: &str, wf: &Workflow) -> Vec<Item> {
    let mut items = Vec::new();
    for step in wf.steps() {
        let name = step.name.clone().unwrap_or_else(|| "step".into());
        let Some(output) = &step.output else { continue };
        for (index, blob) in api::find_blobs(output).into_iter().enumerate() {
            items.push(Item {
                stem: download::safe_name(&format!("{workflow_id}_{name}_{index}")),
                step: name.clone(),
                blob,
            });
        }
    }
    items
}

fn fetch(ctx: &Ctx, o: &ResultsOpts, dir: &Path, item: &Item) -> Report {
    if !item.blob.available {
        let why = item
            .blob
            .blocked_reason
            .clone()
            .unwrap_or_else(|| "not ready".into());
        return Report::Unavailable(why);
    }
    let naming = Naming {
        stem: item.stem.clone(),
        blob_id: &item.blob.id,
        exact: None,
        force: o.force,
    };
    let source = match &item.blob.url {
        Some(url) => Source::Signed(url),
        None => Source::Api {
            blob_id: &item.blob.id,
            nsfw: o.nsfw,
        },
    };
    match download::download(&ctx.client, source, &naming, dir) {
        Ok(outcome) => Report::Done(outcome),
        Err(e) if e.kind == Kind::BrokenPipe => Report::Failed(e),
        Err(e) => {
            ctx.notes.note(&format!("error: {}", e.message));
            Report::Failed(e)
        }
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

fn print_text(
    out: &mut Out,
    id: &str,
    several: bool,
    wf: &Workflow,
    items: &[Item],
    reports: &[Report],
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
    if !reports.is_empty() {
        writeln!(out).out()?;
    }
    for (item, report) in items.iter().zip(reports) {
        match report {
            Report::Done(Outcome::Downloaded { path, bytes }) => {
                writeln!(out, "Downloaded: {} ({bytes} bytes)", file_name(path)).out()?
            }
            Report::Done(Outcome::Skipped { path, bytes }) => writeln!(
                out,
                "skipped: {} already complete ({bytes} bytes)",
                file_name(path)
            )
            .out()?,
            Report::Unavailable(why) => writeln!(
                out,
                "skipped: {} not available ({})",
                escape(&item.stem),
                escape(why)
            )
            .out()?,
            Report::Failed(e) => {
                writeln!(out, "failed: {}: {}", escape(&item.stem), e.message).out()?
            }
        }
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
                    Report::Unavailable(_) => ("unavailable", None, None, None),
                    Report::Failed(e) => ("failed", None, None, Some(e.message.clone())),
                };
                v["file"] = json!(file.map(|p| p.display().to_string()));
                v["bytes"] = json!(bytes);
                v["status"] = json!(status);
                if let Some(e) = error {
                    v["error"] = json!(e);
                }
            }
            v
        })
        .collect();
    json!({"workflowId": id, "status": wf.status, "results": results})
}
