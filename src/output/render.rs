//! Plain-text output: the workflow listing, the job summary and the results
//! listing. Every piece of server text goes through `text::escape`.
//!
//! Every printer writes to a `&mut impl Write`, so tests can read what a
//! command would print.

use std::io::{self, Write};

use serde_json::Value;

use super::scan::HIGHLIGHTED;
use crate::api::{self, BlobRef, Workflow};
use crate::download::Outcome;
use crate::text::{cut, escape, head, Escaped};

/// One block of the workflow listing (`workflows`, `user`). A long walk
/// prints thousands, so fields go straight to the writer, escaped on the
/// way ([`Escaped`]), with no string made per field.
pub fn workflow_block(w: &mut impl Write, wf: &Workflow) -> io::Result<()> {
    fn shown<'a>(v: &'a Option<String>, absent: &'static str) -> Escaped<'a> {
        Escaped(v.as_deref().unwrap_or(absent))
    }
    writeln!(w, "ID: {}", shown(&wf.id, "?"))?;
    writeln!(w, "  Status: {}", shown(&wf.status, "unknown"))?;
    if let Some(c) = &wf.created_at {
        writeln!(w, "  Created: {}", Escaped(c))?;
    }
    if let Some(c) = &wf.completed_at {
        writeln!(w, "  Completed: {}", Escaped(c))?;
    }
    for (i, tag) in wf.tags.iter().enumerate() {
        let lead = if i == 0 { "  Tags: " } else { ", " };
        write!(w, "{lead}{}", Escaped(tag))?;
    }
    if !wf.tags.is_empty() {
        writeln!(w)?;
    }
    for (i, s) in wf.steps().iter().enumerate() {
        let lead = if i == 0 { "  Steps: " } else { ", " };
        write!(
            w,
            "{lead}{}:{}({})",
            shown(&s.name, "?"),
            shown(&s.kind, "?"),
            shown(&s.status, "?")
        )?;
    }
    if !wf.steps().is_empty() {
        writeln!(w)?;
    }
    if let Some(prompt) = wf.steps().iter().find_map(|s| s.prompt()) {
        let (head, cut_off) = head(prompt, api::PROMPT_SHOWN);
        let more = if cut_off { "..." } else { "" };
        writeln!(w, "  Prompt: \"{}{more}\"", Escaped(head))?;
    }
    Ok(())
}

/// A JSON value as a person reads it: strings bare, the rest as compact JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `job` summary. Sections whose data is absent are left out.
pub fn job_summary(w: &mut impl Write, job: &Value) -> io::Result<()> {
    let inner = job.get("job").unwrap_or(&Value::Null);
    let text = |v: Option<&Value>| v.filter(|v| !v.is_null()).map(|v| escape(&value_text(v)));

    writeln!(w, "Job Summary:")?;
    let id = text(inner.get("id")).or_else(|| text(job.get("jobId")));
    let fields = [
        ("ID", id),
        ("Type", text(inner.get("type"))),
        ("Created", text(inner.get("createdAt"))),
        (
            "Cost",
            text(inner.get("cost")).or_else(|| text(job.get("cost"))),
        ),
        ("Workflow ID", text(inner.pointer("/properties/workflowId"))),
    ];
    for (label, value) in fields {
        if let Some(v) = value {
            writeln!(w, "  {label}: {v}")?;
        }
    }

    let prompt = inner.pointer("/params/prompt").and_then(Value::as_str);
    let negative = inner
        .pointer("/params/negativePrompt")
        .and_then(Value::as_str);
    if prompt.is_some() || negative.is_some() {
        writeln!(w)?;
        if let Some(p) = prompt {
            writeln!(w, "Prompt: \"{}\"", escape(&cut(p, 200)))?;
        }
        if let Some(n) = negative {
            writeln!(w, "Negative: \"{}\"", escape(&cut(n, 100)))?;
        }
    }

    if let Some(Value::Object(pc)) = inner.get("promptClassificationResult") {
        let flags: Vec<&str> = [
            ("sexual", "sexual"),
            ("young", "young"),
            ("cr", "CR"),
            ("scan", "scan"),
        ]
        .iter()
        .filter(|(key, _)| pc.get(*key).and_then(Value::as_bool) == Some(true))
        .map(|(_, label)| *label)
        .collect();
        let flags = if flags.is_empty() {
            "none".to_string()
        } else {
            flags.join(", ")
        };
        writeln!(w, "\nPrompt Classification: {flags}")?;
    }

    if let Some(Value::Array(results)) = job.get("result") {
        writeln!(w, "\nResults ({} blob(s)):", results.len())?;
        for r in results {
            let key = text(r.get("blobKey")).unwrap_or_else(|| "?".into());
            let available = text(r.get("available")).unwrap_or_else(|| "unknown".into());
            writeln!(w, "  - {key} (available: {available})")?;
        }
    }

    if let Some(event) = job.get("lastEvent").filter(|e| e.is_object()) {
        writeln!(w, "\nLast Event:")?;
        let fields = [
            ("Type", "type"),
            ("Time", "dateTime"),
            ("Provider", "provider"),
            ("Worker", "workerId"),
            ("Job Duration", "jobDuration"),
        ];
        for (label, key) in fields {
            if let Some(v) = text(event.get(key)) {
                writeln!(w, "  {label}: {v}")?;
            }
        }
        if let Some(Value::Object(ctx)) = event.get("context") {
            if !ctx.is_empty() {
                event_context(w, ctx)?;
            }
        }
    }
    Ok(())
}

fn event_context(w: &mut impl Write, ctx: &serde_json::Map<String, Value>) -> io::Result<()> {
    writeln!(w, "\nEvent Context (scan results, metrics):")?;
    for key in HIGHLIGHTED {
        if let Some(v) = ctx.get(*key).filter(|v| !v.is_null()) {
            writeln!(w, "  ** {key}: {}", escape(&value_text(v)))?;
        }
    }
    let others: Vec<_> = ctx
        .iter()
        .filter(|(k, _)| !HIGHLIGHTED.contains(&k.as_str()))
        .collect();
    if !others.is_empty() {
        writeln!(w, "  Other context:")?;
        for (k, v) in others {
            writeln!(w, "    {}: {}", escape(k), escape(&cut(&value_text(v), 80)))?;
        }
    }
    Ok(())
}

/// One step of `results`: its blobs, or its output cut at 500 characters.
pub fn step_results(w: &mut impl Write, step: &api::Step, blobs: &[BlobRef]) -> io::Result<()> {
    writeln!(
        w,
        "Step: {} ({})",
        escape(step.name.as_deref().unwrap_or("?")),
        escape(step.status.as_deref().unwrap_or("unknown"))
    )?;
    if blobs.is_empty() {
        if let Some(out) = step.output.as_ref().filter(|o| !o.is_null()) {
            writeln!(w, "  Output: {}", escape(&cut(&out.to_string(), 500)))?;
        }
        return Ok(());
    }
    for b in blobs {
        blob_line(w, b)?;
    }
    Ok(())
}

fn blob_line(w: &mut impl Write, b: &BlobRef) -> io::Result<()> {
    let shown = escape(b.url.as_deref().unwrap_or(&b.id));
    match b.kind.as_str() {
        "image" => writeln!(w, "  Image: {shown}")?,
        "video" => writeln!(w, "  Video: {shown}")?,
        _ if b.url.is_none() && b.width.is_none() => writeln!(w, "  Blob ID: {}", escape(&b.id))?,
        _ => writeln!(w, "  Blob: {}", escape(&b.id))?,
    }
    if !b.available {
        let why = b
            .blocked_reason
            .as_deref()
            .unwrap_or("not ready or blocked");
        writeln!(w, "    Not available: {}", escape(why))?;
    }
    if let (Some(width), Some(height)) = (b.width, b.height) {
        writeln!(w, "    Size: {width}x{height}")?;
    }
    Ok(())
}

/// What happened to one file, in one line; `shown` is its name as printed.
pub fn outcome_line(o: &Outcome, shown: &str) -> String {
    match o {
        Outcome::Downloaded { bytes, .. } => format!("Downloaded: {shown} ({bytes} bytes)"),
        Outcome::Skipped { bytes, .. } => {
            format!("skipped: {shown} already complete ({bytes} bytes)")
        }
        Outcome::Busy { .. } => format!("skipped: {shown} (another run is downloading it)"),
    }
}

/// The `status` of a file in JSON output.
pub fn outcome_status(o: &Outcome) -> &'static str {
    match o {
        Outcome::Downloaded { .. } => "downloaded",
        Outcome::Skipped { .. } | Outcome::Busy { .. } => "skipped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_summary_skips_absent_sections() {
        let job = serde_json::json!({"jobId": "j", "cost": 0, "job": {"id": "j", "type": "T"}});
        let mut out = Vec::new();
        job_summary(&mut out, &job).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "Job Summary:\n  ID: j\n  Type: T\n  Cost: 0\n");
    }
}
