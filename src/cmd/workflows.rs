//! `workflows` (and the listing half of `user`): filters to a query string,
//! the page walk, the client-side status filter, and the three output forms.
//!
//! Items are printed page by page as they arrive, so memory does not grow
//! with the number of pages.

use std::collections::HashSet;
use std::io::Write;

use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::{Ctx, Out, OutExt};
use crate::api::{self, Page, Query, Workflow};
use crate::cli::WorkflowsOpts;
use crate::client::parse_json;
use crate::dates::{self, Bound};
use crate::error::{Error, Result};
use crate::help;
use crate::jsontext::minify;
use crate::render::{self, escape};

/// Page size when `--take` is not given.
const DEFAULT_TAKE: u32 = 20;

pub fn run(ctx: &Ctx, o: &WorkflowsOpts, out: &mut Out) -> Result<()> {
    let query = build_query(o, OffsetDateTime::now_utc())
        .map_err(|e| e.with_usage(help::usage_of("workflows")))?;
    let mut printer = Printer::new(ctx, o);
    if !ctx.globals.json && !ctx.globals.jsonl {
        if let Some(line) = filters_line(o) {
            writeln!(out, "Filters: {line}").out()?;
        }
    }
    let mut cursor = o.filters.cursor.clone();
    let mut seen = HashSet::new();
    let mut pages = 0usize;
    let mut last_next: Option<String>;
    loop {
        let path = format!(
            "{}{}",
            api::WORKFLOWS,
            page_query(&query, cursor.as_deref())
        );
        let answer = ctx.client.get(&path, "workflows")?;
        let page: Page = parse_json(&answer.body, "a page of workflows")?;
        pages += 1;
        let items = page.items.as_deref().unwrap_or_default();
        last_next = page.next_cursor().map(str::to_string);
        printer.page(out, &answer.body, items, last_next.as_deref())?;
        out.flush().out()?;
        let Some(next) = last_next.clone() else { break };
        if !o.all || printer.full() || items.is_empty() || !seen.insert(next.clone()) {
            break;
        }
        cursor = Some(next);
    }
    printer.finish(out, last_next.as_deref(), pages)
}

/// Everything but the cursor, which changes page by page.
fn build_query(o: &WorkflowsOpts, now: OffsetDateTime) -> Result<Query> {
    let from = parse_bound(o.from.as_deref(), "--from", Bound::From, now)?;
    let to = parse_bound(o.to.as_deref(), "--to", Bound::To, now)?;
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(Error::usage(format!(
                "--from ({}) is after --to ({}); each takes {}",
                dates::format_iso_millis(f),
                dates::format_iso_millis(t),
                dates::ACCEPTED_FORMS
            )));
        }
    }
    let f = &o.filters;
    let mut q = Query::default();
    q.push("take", &f.take.unwrap_or(DEFAULT_TAKE).to_string());
    for tag in &f.tags {
        q.push("tags", tag);
    }
    q.push_opt("query", f.query.as_deref());
    q.flag(
        "excludeFailed",
        f.exclude_failed || only_live_statuses(&o.statuses),
    );
    q.flag("ascending", f.oldest);
    q.push_opt("fromDate", from.map(dates::format_iso_millis).as_deref());
    q.push_opt("toDate", to.map(dates::format_iso_millis).as_deref());
    Ok(q)
}

/// `excludeFailed` drops failed, expired and canceled workflows on the
/// server; when none of those was asked for, it saves pages of transfer.
fn only_live_statuses(statuses: &[String]) -> bool {
    !statuses.is_empty()
        && statuses
            .iter()
            .all(|s| !matches!(s.as_str(), "failed" | "expired" | "canceled"))
}

fn parse_bound(
    value: Option<&str>,
    flag: &str,
    bound: Bound,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>> {
    value
        .map(|v| {
            dates::parse_date(v, bound, now).map_err(|why| {
                Error::usage(format!(
                    "invalid {flag}: {why}; use {}",
                    dates::ACCEPTED_FORMS
                ))
            })
        })
        .transpose()
}

fn page_query(query: &Query, cursor: Option<&str>) -> String {
    match cursor {
        Some(c) => format!("{}&cursor={}", query.as_str(), api::seg(c)),
        None => query.as_str().to_string(),
    }
}

fn filters_line(o: &WorkflowsOpts) -> Option<String> {
    let f = &o.filters;
    let mut parts = Vec::new();
    if !f.tags.is_empty() {
        parts.push(format!("tags={}", escape(&f.tags.join(","))));
    }
    if let Some(q) = &f.query {
        parts.push(format!("query=\"{}\"", escape(q)));
    }
    if f.exclude_failed {
        parts.push("excludeFailed".into());
    }
    if f.oldest {
        parts.push("oldest first".into());
    }
    if let Some(v) = &o.from {
        parts.push(format!("from={}", escape(v)));
    }
    if let Some(v) = &o.to {
        parts.push(format!("to={}", escape(v)));
    }
    if !o.statuses.is_empty() {
        parts.push(format!("status={}", o.statuses.join(",")));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The three output forms over a stream of pages.
struct Printer<'o> {
    mode: Mode,
    statuses: &'o [String],
    limit: Option<u64>,
    printed: u64,
    /// Items of the composite `--json` document, compact.
    json_items: Vec<String>,
    /// Blocks printed in `--all` text mode (a blank line goes between).
    printed_blocks: u64,
    all: bool,
    /// `--json` over one page with nothing filtered: the API's page as sent.
    verbatim: bool,
}

#[derive(PartialEq)]
enum Mode {
    Text,
    Json,
    Jsonl,
}

impl<'o> Printer<'o> {
    fn new(ctx: &Ctx, o: &'o WorkflowsOpts) -> Printer<'o> {
        let mode = if ctx.globals.json {
            Mode::Json
        } else if ctx.globals.jsonl {
            Mode::Jsonl
        } else {
            Mode::Text
        };
        Printer {
            verbatim: mode == Mode::Json && !o.all && o.statuses.is_empty() && o.limit.is_none(),
            mode,
            statuses: &o.statuses,
            limit: o.limit,
            printed: 0,
            json_items: Vec::new(),
            printed_blocks: 0,
            all: o.all,
        }
    }

    fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.printed >= l)
    }

    fn keep(&self, wf: &Workflow) -> bool {
        self.statuses.is_empty()
            || wf
                .status
                .as_deref()
                .is_some_and(|s| self.statuses.iter().any(|x| x.eq_ignore_ascii_case(s)))
    }

    fn page(
        &mut self,
        out: &mut Out,
        body: &str,
        items: &[&RawValue],
        next: Option<&str>,
    ) -> Result<()> {
        if self.verbatim {
            return writeln!(out, "{}", minify(body)).out();
        }
        let mut kept = Vec::new();
        for item in items {
            if self.full() {
                break;
            }
            let wf = Workflow::parse(item.get(), "a workflow")?;
            if self.keep(&wf) {
                kept.push((item, wf));
                self.printed += 1;
            }
        }
        match self.mode {
            // The one document is only whole at the end: it is held until
            // then, so that a failure on a later page leaves stdout empty
            // rather than cut. (`--jsonl` streams.)
            Mode::Json => self
                .json_items
                .extend(kept.iter().map(|(item, _)| minify(item.get()))),
            Mode::Jsonl => {
                for (item, _) in &kept {
                    writeln!(out, "{}", minify(item.get())).out()?;
                }
            }
            Mode::Text if !self.all => {
                if kept.is_empty() {
                    writeln!(out, "No workflows found.").out()?;
                } else {
                    writeln!(out, "Found {} workflow(s):", kept.len()).out()?;
                }
                if let Some(c) = next {
                    writeln!(out, "Next cursor: {}", escape(c)).out()?;
                }
                for (_, wf) in &kept {
                    writeln!(out).out()?;
                    render::workflow_block(out, wf).out()?;
                }
            }
            Mode::Text => {
                for (_, wf) in &kept {
                    if self.printed_blocks > 0 {
                        writeln!(out).out()?;
                    }
                    render::workflow_block(out, wf).out()?;
                    self.printed_blocks += 1;
                }
            }
        }
        Ok(())
    }

    fn finish(&self, out: &mut Out, next: Option<&str>, pages: usize) -> Result<()> {
        match self.mode {
            Mode::Json if !self.verbatim => {
                let next = serde_json::to_string(&next).unwrap_or_else(|_| "null".into());
                writeln!(
                    out,
                    "{{\"items\":[{}],\"next\":{next}}}",
                    self.json_items.join(",")
                )
                .out()?;
            }
            // Scripts need the cursor to go on, so -q does not hide it.
            Mode::Jsonl => {
                if let Some(c) = next {
                    eprintln!("next cursor: {}", escape(c));
                }
            }
            Mode::Text if self.all => {
                if self.printed == 0 {
                    writeln!(out, "No workflows found.").out()?;
                } else {
                    writeln!(
                        out,
                        "\nFound {} workflow(s) in {pages} page(s).",
                        self.printed
                    )
                    .out()?;
                }
                if let Some(c) = next {
                    writeln!(out, "Next cursor: {}", escape(c)).out()?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> WorkflowsOpts {
        WorkflowsOpts::default()
    }

    #[test]
    fn query_carries_every_filter() {
        let mut o = opts();
        o.filters.tags = vec!["a b".into(), "c".into()];
        o.filters.query = Some("x&y".into());
        o.filters.oldest = true;
        o.from = Some("2026-01-20T06:00".into());
        o.to = Some("2026-01-21".into());
        o.statuses = vec!["succeeded".into()];
        let q = build_query(&o, OffsetDateTime::now_utc()).unwrap();
        assert_eq!(
            q.as_str(),
            "?take=20&tags=a%20b&tags=c&query=x%26y&excludeFailed=true&ascending=true\
             &fromDate=2026-01-20T06%3A00%3A00.000Z&toDate=2026-01-21T23%3A59%3A59.999Z"
        );
    }

    #[test]
    fn from_after_to_is_refused() {
        let mut o = opts();
        o.from = Some("2026-02-01".into());
        o.to = Some("2026-01-01".into());
        let e = build_query(&o, OffsetDateTime::now_utc()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("--from"));
    }

    #[test]
    fn failed_statuses_keep_failed_workflows() {
        assert!(only_live_statuses(&[
            "succeeded".into(),
            "processing".into()
        ]));
        assert!(!only_live_statuses(&["succeeded".into(), "failed".into()]));
        assert!(!only_live_statuses(&[]));
    }
}
