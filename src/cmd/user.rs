//! `user`: a user's workflows from the v1 manager endpoint (a bare array,
//! PascalCase query parameters, at most 10 at a time).

use std::io::Write;

use serde_json::value::RawValue;
use serde_json::Value;

use super::Ctx;
use crate::api::{self, Query, Workflow};
use crate::api::{parse_json, parse_kept};
use crate::cli::Mode;
use crate::cli::UserOpts;
use crate::error::{Error, Result};
use crate::output::json::{minify, write_minified};
use crate::output::render;
use crate::output::{Out, OutExt};
use crate::prune::Keep;
use crate::text::escape;

pub fn run(ctx: &Ctx, o: &UserOpts, out: &mut Out) -> Result<()> {
    let f = &o.filters;
    let mut q = Query::default();
    q.push("UserId", &o.user_id);
    q.push_opt("Take", f.take.map(|t| t.to_string()).as_deref());
    for tag in &f.tags {
        q.push("Tags", tag);
    }
    q.push_opt("Query", f.query.as_deref());
    q.flag("ExcludeFailed", f.exclude_failed);
    q.flag("Inverse", f.oldest);
    q.push_opt("Cursor", f.cursor.as_deref());
    let what = format!("workflows for user '{}'", escape(&o.user_id));
    let answer = ctx
        .client
        .get(&format!("{}{}", api::MANAGER_WORKFLOWS, q.as_str()), &what)
        .map_err(|mut e| {
            if e.status == Some(403) {
                e.message.push_str(" ('user' needs a manager token)");
            }
            e
        })?;
    let items: Vec<&RawValue> = parse_json(&answer.body, "a list of workflows")?;
    // Checked whole before anything is printed, as `workflows` does: a
    // `--jsonl` line `1` or `null` would be read as an id down a pipe.
    for item in &items {
        if !item.get().trim_start().starts_with('{') {
            return Err(Error::other(
                "the API sent something that is not a workflow in a page of workflows",
            ));
        }
    }
    print(ctx, &answer.body, &items, out)?;
    out.flush().out()?;
    // The manager endpoint sends no cursor: a full page is all it can say.
    let full = items.len() >= f.take.map_or(MANAGER_DEFAULT_TAKE, |t| t as usize);
    ctx.notes.always(&format!(
        "{} workflow(s) shown; {}",
        items.len(),
        if full {
            "the page was full, so more may exist (this endpoint gives no cursor: \
             narrow the list with --tag, --query or --oldest)"
        } else {
            "no more"
        }
    ));
    Ok(())
}

/// The manager endpoint's page size when `Take` is not sent.
const MANAGER_DEFAULT_TAKE: usize = 10;

fn print(ctx: &Ctx, body: &str, items: &[&RawValue], out: &mut Out) -> Result<()> {
    if let Some(f) = ctx.fields() {
        if ctx.mode() == Mode::Text {
            writeln!(out, "{}", f.header()).out()?;
        }
        let mut selected = Vec::new();
        let keep = f.keep(Keep::none());
        for item in items {
            let v: Value = parse_kept(item.get(), &keep, "a workflow")?;
            match ctx.mode() {
                Mode::Text => writeln!(out, "{}", f.row(&v)).out()?,
                Mode::Jsonl => writeln!(out, "{}", f.select(&v)).out()?,
                Mode::Json => selected.push(f.select(&v)),
            }
        }
        if ctx.mode() == Mode::Json {
            writeln!(out, "{}", Value::Array(selected)).out()?;
        }
        return Ok(());
    }
    if ctx.mode() == Mode::Json {
        return writeln!(out, "{}", minify(body)).out();
    }
    if ctx.mode() == Mode::Jsonl {
        for item in items {
            write_minified(out, item.get()).out()?;
            out.write_all(b"\n").out()?;
        }
        return Ok(());
    }
    if items.is_empty() {
        return writeln!(out, "No workflows found.").out();
    }
    writeln!(out, "Found {} workflow(s):", items.len()).out()?;
    for item in items {
        let wf = Workflow::parse(item.get(), "a workflow")?;
        writeln!(out).out()?;
        render::workflow_block(out, &wf).out()?;
    }
    Ok(())
}
