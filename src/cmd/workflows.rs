//! `workflows` (and the listing half of `user`): filters to a query string,
//! the page walk, the client-side status filter, and the three output forms.
//!
//! Items are printed page by page as they arrive, so memory does not grow
//! with the number of pages.

use std::collections::HashSet;
use std::io::Write;

use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::Ctx;
use crate::api::parse_json;
use crate::api::{self, Page, Query, Workflow};
use crate::cli::help;
use crate::cli::{Mode, WorkflowsOpts};
use crate::dates::{self, Bound};
use crate::error::{Error, Result};
use crate::fields::Fields;
use crate::output::json::minify;
use crate::output::render;
use crate::output::{Out, OutExt};
use crate::text::escape;
use serde_json::Value;

/// Page size when `--take` is not given.
const DEFAULT_TAKE: u32 = 20;

pub fn run(ctx: &Ctx, o: &WorkflowsOpts, out: &mut Out) -> Result<()> {
    let query = build_query(o, OffsetDateTime::now_utc())
        .map_err(|e| e.with_usage(help::usage_of("workflows")))?;
    let take = o.filters.take.unwrap_or(DEFAULT_TAKE);
    let mut printer = Printer::new(ctx.mode(), ctx.fields(), o);
    if ctx.mode() == Mode::Text && ctx.fields().is_none() {
        if let Some(line) = filters_line(o) {
            writeln!(out, "Filters: {line}").out()?;
        }
    }
    printer.start(out)?;
    let mut cursor = o.filters.cursor.clone();
    // The cursors already asked for, the first one included: a server whose
    // `next` repeats one must not make a page print twice.
    let mut seen: HashSet<String> = cursor.iter().cloned().collect();
    let mut pages = 0usize;
    let resume = loop {
        let path = format!(
            "{}{}",
            api::WORKFLOWS,
            page_query(
                &query,
                page_take(o, take, printer.printed),
                cursor.as_deref()
            )
        );
        let answer = ctx.client.get(&path, "workflows")?;
        let page: Page = parse_json(&answer.body, "a page of workflows")?;
        pages += 1;
        let items = page.items.as_deref().unwrap_or_default();
        let next = page.next_cursor().map(str::to_string);
        let used = printer.page(out, &answer.body, items)?;
        out.flush().out()?;
        if used < items.len() {
            // The limit was reached inside the page: going on from its
            // `next` would skip the rest of it, so the cursor that fetched
            // it is the one to resume from (it repeats what was printed).
            break Resume::Repeat(cursor);
        }
        let Some(next) = next else {
            break Resume::End;
        };
        if !o.all || printer.full() || items.is_empty() || !seen.insert(next.clone()) {
            break Resume::At(next);
        }
        cursor = Some(next);
    };
    printer.finish(out, resume.cursor(), pages)?;
    out.flush().out()?;
    paging_line(ctx, o, &printer, &resume);
    Ok(())
}

/// The listing's last word, on stderr in every mode (and not hidden by
/// `-q`: a script needs the cursor): how many were shown, whether more
/// exist, and the option that gets them.
fn paging_line(ctx: &Ctx, o: &WorkflowsOpts, printer: &Printer, resume: &Resume) {
    let mut line = format!("{} workflow(s) shown", printer.printed);
    if !o.statuses.is_empty() {
        line.push_str(&format!(" of {} looked at", printer.looked_at));
    }
    match resume {
        Resume::End => line.push_str("; no more"),
        Resume::At(c) => {
            line.push_str(&format!("; more exist: go on with --cursor={}", escape(c)));
            if !o.all {
                line.push_str(" (or add --all)");
            }
        }
        Resume::Repeat(Some(c)) => line.push_str(&format!(
            "; more exist: go on with --cursor={} (--limit ended inside that page: it \
             starts again with up to {} workflow(s) already shown, none skipped)",
            escape(c),
            printer.printed_from_last_page
        )),
        Resume::Repeat(None) => line.push_str(
            "; more exist: --limit ended inside the first page, which has no cursor; \
             run again with a larger --limit",
        ),
    }
    ctx.notes.always(&line);
}

/// Where a listing can be taken up again.
enum Resume {
    /// The last page was read: nothing more.
    End,
    /// From this cursor on, with nothing skipped and nothing repeated.
    At(String),
    /// From the cursor of the last page (none for the first), which repeats
    /// part of it: the limit was reached inside it.
    Repeat(Option<String>),
}

impl Resume {
    fn cursor(&self) -> Option<&str> {
        match self {
            Resume::End | Resume::Repeat(None) => None,
            Resume::At(c) | Resume::Repeat(Some(c)) => Some(c),
        }
    }
}

/// The page size to ask for. With `--limit` and no client-side filter,
/// never more than are still wanted: the page then ends on the last
/// workflow printed, and its `next` resumes right after it.
fn page_take(o: &WorkflowsOpts, take: u32, printed: u64) -> u32 {
    match o.limit {
        Some(limit) if o.statuses.is_empty() => {
            let left = limit.saturating_sub(printed).max(1);
            take.min(u32::try_from(left).unwrap_or(u32::MAX))
        }
        _ => take,
    }
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

/// `?take=N` then the filters, then the cursor when there is one.
fn page_query(query: &Query, take: u32, cursor: Option<&str>) -> String {
    let mut q = format!("?take={take}");
    if !query.as_str().is_empty() {
        q.push('&');
        q.push_str(&query.as_str()[1..]);
    }
    if let Some(c) = cursor {
        q.push_str("&cursor=");
        q.push_str(&api::seg(c));
    }
    q
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

/// The output forms over a stream of pages.
struct Printer<'o> {
    mode: Mode,
    fields: Option<&'o Fields>,
    statuses: &'o [String],
    limit: Option<u64>,
    printed: u64,
    /// Workflows read from the API, kept or not.
    looked_at: u64,
    /// Of the last page, how many were printed.
    printed_from_last_page: u64,
    /// Items of the composite `--json` document, compact.
    json_items: Vec<String>,
    /// Blocks printed in `--all` text mode (a blank line goes between).
    printed_blocks: u64,
    all: bool,
    /// `--json` over one page with nothing filtered: the API's page as sent.
    verbatim: bool,
}

impl<'o> Printer<'o> {
    fn new(mode: Mode, fields: Option<&'o Fields>, o: &'o WorkflowsOpts) -> Printer<'o> {
        Printer {
            verbatim: mode == Mode::Json
                && fields.is_none()
                && !o.all
                && o.statuses.is_empty()
                && o.limit.is_none(),
            mode,
            fields,
            statuses: &o.statuses,
            limit: o.limit,
            printed: 0,
            looked_at: 0,
            printed_from_last_page: 0,
            json_items: Vec::new(),
            printed_blocks: 0,
            all: o.all,
        }
    }

    fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.printed >= l)
    }

    fn keep(&self, status: Option<&str>) -> bool {
        self.statuses.is_empty()
            || status.is_some_and(|s| self.statuses.iter().any(|x| x.eq_ignore_ascii_case(s)))
    }

    /// Prints what the page holds for the listing; returns how many of its
    /// items were looked at (fewer than all when the limit was reached).
    fn page(&mut self, out: &mut Out, body: &str, items: &[&RawValue]) -> Result<usize> {
        if self.verbatim {
            self.looked_at += items.len() as u64;
            writeln!(out, "{}", minify(body)).out()?;
            return Ok(items.len());
        }
        let mut kept = Vec::new();
        let mut used = 0;
        for item in items {
            if self.full() {
                break;
            }
            used += 1;
            let v: Value = parse_json(item.get(), "a workflow")?;
            if !v.is_object() {
                return Err(Error::other(
                    "the API sent something that is not a workflow in a page of workflows",
                ));
            }
            if self.keep(v.get("status").and_then(Value::as_str)) {
                kept.push((item, v));
                self.printed += 1;
            }
        }
        self.looked_at += used as u64;
        self.printed_from_last_page = kept.len() as u64;
        if let Some(f) = self.fields {
            for (_, v) in &kept {
                match self.mode {
                    Mode::Json => self.json_items.push(f.select(v).to_string()),
                    Mode::Jsonl => writeln!(out, "{}", f.select(v)).out()?,
                    Mode::Text => writeln!(out, "{}", f.row(v)).out()?,
                }
            }
            return Ok(used);
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
                if !kept.is_empty() {
                    writeln!(out, "Found {} workflow(s):", kept.len()).out()?;
                } else if self.statuses.is_empty() || used == 0 {
                    writeln!(out, "No workflows found.").out()?;
                } else {
                    writeln!(
                        out,
                        "No {} workflows on this page ({used} looked at).",
                        self.statuses.join("/")
                    )
                    .out()?;
                }
                for (_, v) in kept {
                    writeln!(out).out()?;
                    self.block(out, v)?;
                }
            }
            Mode::Text => {
                for (_, v) in kept {
                    if self.printed_blocks > 0 {
                        writeln!(out).out()?;
                    }
                    self.block(out, v)?;
                    self.printed_blocks += 1;
                }
            }
        }
        Ok(used)
    }

    fn block(&self, out: &mut Out, v: Value) -> Result<()> {
        let wf = Workflow::from_value(v).unwrap_or_default();
        render::workflow_block(out, &wf).out()
    }

    /// The `--fields` header, before the first page (an empty table has one too).
    fn start(&self, out: &mut Out) -> Result<()> {
        match (self.fields, self.mode) {
            (Some(f), Mode::Text) => writeln!(out, "{}", f.header()).out(),
            _ => Ok(()),
        }
    }

    /// What comes after the last page on stdout: the `--json` document
    /// (with the cursor that goes on), the count of a text `--all` walk.
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
            Mode::Text if self.all && self.fields.is_none() => {
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
            "?tags=a%20b&tags=c&query=x%26y&excludeFailed=true&ascending=true\
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
