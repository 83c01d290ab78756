//! `workflows` (and the listing half of `user`): the client-side status
//! filter, the three output forms over the page walk of `walk`, and the
//! paging line.
//!
//! Items are printed page by page as they arrive, so memory does not grow
//! with the number of pages.

use std::io::Write;

use serde_json::Value;
use time::OffsetDateTime;

use super::walk::{self, Items, Read, Resume, Taken};
use super::Ctx;
use crate::api::{parse_kept, Workflow};
use crate::cli::help;
use crate::cli::{Mode, WorkflowsOpts};
use crate::error::{Error, Result};
use crate::fields::Fields;
use crate::output::json::{minify, write_minified};
use crate::output::render;
use crate::output::{Out, OutExt};
use crate::prune::Keep;
use crate::text::escape;

/// Page size when `--take` is not given.
const DEFAULT_TAKE: u32 = 20;

pub fn run(ctx: &Ctx, o: &WorkflowsOpts, out: &mut Out) -> Result<()> {
    let query = walk::build_query(o, OffsetDateTime::now_utc())
        .map_err(|e| e.with_usage(help::usage_of("workflows")))?;
    let take = o.filters.take.unwrap_or(DEFAULT_TAKE);
    let mut printer = Printer::new(ctx.mode(), ctx.fields(), o);
    if ctx.mode() == Mode::Text && ctx.fields().is_none() {
        if let Some(line) = walk::filters_line(o) {
            writeln!(out, "Filters: {line}").out()?;
        }
    }
    printer.start(out)?;
    let keep = item_keep(ctx.mode(), ctx.fields(), &o.statuses);
    let walked = walk::walk(
        ctx,
        o,
        &query,
        take,
        o.all,
        printer.walk_read(keep.as_ref()),
        &mut |body, items| {
            let used = printer.page(out, body, items, keep.as_ref())?;
            out.flush().out()?;
            Ok(Taken {
                used,
                kept: printer.printed,
            })
        },
    )?;
    printer.finish(out, walked.resume.cursor(), walked.pages)?;
    out.flush().out()?;
    paging_line(ctx, o, &printer, &walked.resume);
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

/// What of each workflow a listing reads: the status for `--status`, and
/// the fields or the text block's parts; nothing for JSON printed as sent.
fn item_keep(mode: Mode, fields: Option<&Fields>, statuses: &[String]) -> Option<Keep> {
    let keep = match (fields, mode) {
        (Some(f), _) => f.keep(Keep::none()),
        // Text reads each page into the listing's workflows (`walk_read`).
        (None, Mode::Text) => return None,
        (None, _) if statuses.is_empty() => return None,
        (None, _) => Keep::none(),
    };
    Some(if statuses.is_empty() {
        keep
    } else {
        keep.path(["status"])
    })
}

/// A parsed workflow's status, when it is text.
fn status_of(v: &Value) -> Option<&str> {
    v.get("status").and_then(Value::as_str)
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
        walk::status_kept(self.statuses, status)
    }

    /// How the walk reads each page: into the listing's workflows for the
    /// text blocks, down to the tree to keep (`keep`) for `--fields`, as
    /// sent otherwise (each item then parsed down to `keep` by
    /// [`Printer::page`] when a `--status` needs it).
    fn walk_read<'k>(&self, keep: Option<&'k Keep>) -> Read<'k> {
        match (self.fields, self.mode, keep) {
            (None, Mode::Text, _) => Read::Listed,
            (Some(_), _, Some(keep)) => Read::Kept(keep),
            _ => Read::Raw,
        }
    }

    /// Prints what the page holds for the listing, its items read as
    /// [`Printer::walk_read`] asked; returns how many of them were looked
    /// at (fewer than all when the limit was reached).
    fn page(
        &mut self,
        out: &mut Out,
        body: &str,
        items: Items,
        keep: Option<&Keep>,
    ) -> Result<usize> {
        if self.verbatim {
            self.looked_at += items.len() as u64;
            write_minified(out, body).out()?;
            out.write_all(b"\n").out()?;
            return Ok(items.len());
        }
        let not_workflow =
            || Error::other("the API sent something that is not a workflow in a page of workflows");
        match items {
            Items::Listed(workflows) => {
                let (kept, used) = self.take(
                    workflows,
                    |w| w.ok_or_else(not_workflow),
                    |w| w.status.as_deref(),
                )?;
                self.blocks(out, kept, used)?;
                Ok(used)
            }
            Items::Kept(values) => {
                let (kept, used) = self.take(
                    values,
                    |v| {
                        if v.is_object() {
                            Ok(v)
                        } else {
                            Err(not_workflow())
                        }
                    },
                    status_of,
                )?;
                // The walk parses down to a tree only for `--fields`.
                let f = self
                    .fields
                    .ok_or_else(|| Error::other("workflows: a page came parsed"))?;
                for v in &kept {
                    match self.mode {
                        Mode::Json => self.json_items.push(f.select(v).to_string()),
                        Mode::Jsonl => writeln!(out, "{}", f.select(v)).out()?,
                        Mode::Text => writeln!(out, "{}", f.row(v)).out()?,
                    }
                }
                Ok(used)
            }
            Items::Raw(items) => {
                // JSON out with nothing to filter needs no parse: the item
                // is printed as the API sent it.
                let (kept, used) = self.take(
                    items.iter().copied(),
                    |item| {
                        if !item.get().starts_with('{') {
                            return Err(not_workflow());
                        }
                        let v = match keep {
                            Some(keep) => parse_kept(item.get(), keep, "a workflow")?,
                            None => Value::Null,
                        };
                        Ok((item, v))
                    },
                    |(_, v)| status_of(v),
                )?;
                for (item, _) in kept {
                    if self.mode == Mode::Json {
                        // The one document is only whole at the end: it is
                        // held until then, so that a failure on a later
                        // page leaves stdout empty rather than cut.
                        self.json_items.push(minify(item.get()));
                    } else {
                        write_minified(out, item.get()).out()?;
                        out.write_all(b"\n").out()?;
                    }
                }
                Ok(used)
            }
        }
    }

    /// A page's items up to `--limit`, each read by `read` (an error ends
    /// the page), kept when `--status` passes its `status`; with how many
    /// were looked at.
    fn take<I, T>(
        &mut self,
        items: impl IntoIterator<Item = I>,
        mut read: impl FnMut(I) -> Result<T>,
        status: fn(&T) -> Option<&str>,
    ) -> Result<(Vec<T>, usize)> {
        let (mut kept, mut used) = (Vec::new(), 0);
        for item in items {
            if self.full() {
                break;
            }
            used += 1;
            let item = read(item)?;
            if self.keep(status(&item)) {
                kept.push(item);
                self.printed += 1;
            }
        }
        self.looked_at += used as u64;
        self.printed_from_last_page = kept.len() as u64;
        Ok((kept, used))
    }

    /// The text blocks of a page's kept workflows (`used` were looked at):
    /// under a count per page, or one after another with `--all`.
    fn blocks(&mut self, out: &mut Out, kept: Vec<Workflow>, used: usize) -> Result<()> {
        if self.all {
            for wf in &kept {
                if self.printed_blocks > 0 {
                    writeln!(out).out()?;
                }
                render::workflow_block(out, wf).out()?;
                self.printed_blocks += 1;
            }
            return Ok(());
        }
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
        for wf in &kept {
            writeln!(out).out()?;
            render::workflow_block(out, wf).out()?;
        }
        Ok(())
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
