//! `workflow --summary`: one workflow for people, from its JSON. Times,
//! duration, cost, tags, then each step with its jobs and files. Every
//! piece of server text goes through `text::escape`.

use std::io::{self, Write};

use serde_json::Value;

use crate::api;
use crate::dates;
use crate::text::{cut, escape};

pub fn workflow(w: &mut dyn Write, wf: &Value) -> io::Result<()> {
    let s = |key: &str| wf.get(key).and_then(Value::as_str);
    writeln!(w, "Workflow: {}", escape(s("id").unwrap_or("?")))?;
    writeln!(w, "  Status: {}", escape(s("status").unwrap_or("unknown")))?;
    for (label, key) in [
        ("Created", "createdAt"),
        ("Started", "startedAt"),
        ("Completed", "completedAt"),
    ] {
        if let Some(v) = s(key) {
            writeln!(w, "  {label}: {}", escape(v))?;
        }
    }
    if let (Some(start), Some(end)) = (s("createdAt"), s("completedAt")) {
        if let Some(d) = dates::between(start, end) {
            writeln!(w, "  Duration: {}", dates::human_duration(d))?;
        }
    }
    if let Some(line) = cost_line(wf) {
        writeln!(w, "  Cost: {line}")?;
    }
    let tags: Vec<String> = wf
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(escape)
        .collect();
    if !tags.is_empty() {
        writeln!(w, "  Tags: {}", tags.join(", "))?;
    }
    let steps = wf.get("steps").and_then(Value::as_array);
    let steps = steps.map(Vec::as_slice).unwrap_or_default();
    writeln!(w, "  Steps: {}", steps.len())?;
    for step in steps {
        step_lines(w, step)?;
    }
    Ok(())
}

/// `4 (yellow 4)`: the total, then the charge per currency when known.
fn cost_line(wf: &Value) -> Option<String> {
    let total = wf.pointer("/cost/total").filter(|v| v.is_number());
    let by = api::cost_by_currency(wf);
    let by: Vec<String> = by
        .iter()
        .map(|(c, n)| format!("{} {}", escape(c), number(*n)))
        .collect();
    match (total, by.is_empty()) {
        (None, true) => None,
        (Some(t), true) => Some(shown(t)),
        (t, false) => Some(format!(
            "{} ({})",
            t.map_or("?".into(), shown),
            by.join(", ")
        )),
    }
}

fn shown(v: &Value) -> String {
    v.as_f64().map_or_else(|| v.to_string(), number)
}

/// A number as people write it: no needless `.0`, at most 9 decimals (a
/// sum of 0.1 and 0.2 is 0.3), and the very large or small with an
/// exponent (`1e300`, not 301 digits).
pub fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        // `as` also makes -0 a plain 0.
        return format!("{}", n as i64);
    }
    if !(1e-4..1e15).contains(&n.abs()) {
        return format!("{n:e}");
    }
    let fixed = format!("{n:.9}");
    fixed
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

fn step_lines(w: &mut dyn Write, step: &Value) -> io::Result<()> {
    let s = |key: &str| step.get(key).and_then(Value::as_str).map(escape);
    writeln!(
        w,
        "  - {} {} {}",
        s("name").unwrap_or_else(|| "?".into()),
        s("$type").unwrap_or_else(|| "?".into()),
        s("status").unwrap_or_else(|| "unknown".into())
    )?;
    let jobs: Vec<String> = step
        .get("jobs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|j| {
            let t = |k: &str| j.get(k).and_then(Value::as_str).map(escape);
            format!(
                "{} {}",
                t("id").unwrap_or_else(|| "?".into()),
                t("status").unwrap_or_else(|| "unknown".into())
            )
        })
        .collect();
    if !jobs.is_empty() {
        writeln!(w, "    Jobs: {}", jobs.join(", "))?;
    }
    if let Some(why) = api::failure_reason(step) {
        writeln!(w, "    Failure: {}", escape(&cut(why, 200)))?;
    }
    let blobs = step.get("output").map(api::find_blobs).unwrap_or_default();
    if blobs.is_empty() {
        return Ok(());
    }
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for b in &blobs {
        match kinds.iter_mut().find(|(k, _)| *k == b.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((&b.kind, 1)),
        }
    }
    let counts: Vec<String> = kinds
        .iter()
        .map(|(k, n)| format!("{n} {}", escape(k)))
        .collect();
    let blocked: Vec<&api::BlobRef> = blobs.iter().filter(|b| !b.available).collect();
    let unavailable = if blocked.is_empty() {
        String::new()
    } else {
        format!(", {} not available", blocked.len())
    };
    writeln!(w, "    Files: {}{unavailable}", counts.join(", "))?;
    for b in blocked {
        writeln!(
            w,
            "      {}: {}",
            escape(&b.id),
            escape(
                b.blocked_reason
                    .as_deref()
                    .unwrap_or("not ready or blocked")
            )
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_read_as_people_write_them() {
        for (n, want) in [
            (4.0, "4"),
            (-0.0, "0"),
            (0.875, "0.875"),
            (0.1 + 0.2, "0.3"),
            (1e300, "1e300"),
            (1e-9, "1e-9"),
            (-2.5, "-2.5"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(number(n), want, "{n}");
        }
    }

    #[test]
    fn a_summary_says_each_part_once() {
        let wf = json!({
            "id": "w", "status": "failed", "createdAt": "2026-01-21T22:21:26.332Z",
            "completedAt": "2026-01-21T22:21:41.870Z", "tags": ["a\u{1b}"],
            "cost": {"total": 4},
            "transactions": {"list": [
                {"type": "debit", "amount": 4, "accountType": "yellow"},
                {"type": "credit", "amount": 1, "accountType": "yellow"}]},
            "steps": [{"name": "0", "$type": "textToImage", "status": "failed",
                "metadata": {"failureReason": "out of memory"},
                "jobs": [{"id": "j", "status": "failed"}],
                "output": {"images": [
                    {"id": "a.jpeg", "available": true, "type": "image"},
                    {"id": "b.jpeg", "available": false, "type": "image", "blockedReason": "nsfw"}]}}]
        });
        let mut out = Vec::new();
        workflow(&mut out, &wf).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "Workflow: w\n  Status: failed\n  Created: 2026-01-21T22:21:26.332Z\n  \
             Completed: 2026-01-21T22:21:41.870Z\n  Duration: 15.5 s\n  Cost: 4 (yellow 3)\n  \
             Tags: a\\x1b\n  Steps: 1\n  - 0 textToImage failed\n    Jobs: j failed\n    \
             Failure: out of memory\n    Files: 2 image, 1 not available\n      b.jpeg: nsfw\n"
        );
    }
}
