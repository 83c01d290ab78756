//! The walk over `GET /v2/consumer/workflows` that `workflows` and `stats`
//! share: the filters turned into a query, the page size to ask for, and
//! the cursor loop that never skips nor repeats a page, with where it can
//! be taken up again. What is done with each page is the caller's.

use serde_json::value::RawValue;
use serde_json::Value;
use time::OffsetDateTime;

use super::Ctx;
use crate::api::{self, parse_json, KeptPage, ListedPage, Page, Query, Workflow};
use crate::cli::WorkflowsOpts;
use crate::dates::{self, Bound};
use crate::error::{Error, Result};
use crate::prune::Keep;
use crate::text::escape;

/// A page's items, as the caller asked for them.
pub enum Items<'a> {
    /// As sent, each checked to be JSON.
    Raw(&'a [&'a RawValue]),
    /// Parsed down to the caller's [`Keep`].
    Kept(Vec<Value>),
    /// Read into the listing's workflows (`None`: not an object).
    Listed(Vec<Option<Workflow>>),
}

/// How the walk reads each page's items (see [`Items`]).
pub enum Read<'k> {
    Raw,
    Kept(&'k Keep),
    Listed,
}

impl Items<'_> {
    pub fn len(&self) -> usize {
        match self {
            Items::Raw(items) => items.len(),
            Items::Kept(items) => items.len(),
            Items::Listed(items) => items.len(),
        }
    }
}

/// What the caller made of one page.
pub struct Taken {
    /// Items looked at: fewer than the page's when `--limit` was reached
    /// inside it.
    pub used: usize,
    /// Workflows kept so far, over the whole walk (what `--limit` counts).
    pub kept: u64,
}

/// How a walk ended.
pub struct Walked {
    pub resume: Resume,
    pub pages: usize,
}

/// Where a listing can be taken up again.
pub enum Resume {
    /// The last page was read: nothing more.
    End,
    /// From this cursor on, with nothing skipped and nothing repeated.
    At(String),
    /// From the cursor of the last page (none for the first), which repeats
    /// part of it: the limit was reached inside it.
    Repeat(Option<String>),
}

impl Resume {
    pub fn cursor(&self) -> Option<&str> {
        match self {
            Resume::End | Resume::Repeat(None) => None,
            Resume::At(c) | Resume::Repeat(Some(c)) => Some(c),
        }
    }
}

/// Walks the listing from `--cursor` (or the start): one page, then the
/// next while `all` holds and `--limit` is not reached. Each page is handed
/// to `on_page` as its body and its items, read as `read` says: raw,
/// parsed down to a tree to keep, or into the listing's workflows (the
/// last two in the same pass as the page). The walk also ends on an empty
/// page and on a `next` cursor already asked for (a server that repeats
/// itself must not make the walk go round for ever).
pub fn walk(
    ctx: &Ctx,
    o: &WorkflowsOpts,
    query: &Query,
    take: u32,
    all: bool,
    read: Read,
    // `dyn`: one copy of the loop serves both commands.
    on_page: &mut dyn FnMut(&str, Items) -> Result<Taken>,
) -> Result<Walked> {
    let page_keep = match read {
        Read::Kept(k) => Some(KeptPage::keep(k.clone())),
        _ => None,
    };
    let mut cursor = o.filters.cursor.clone();
    // The cursors already asked for, the first one included: a server whose
    // `next` repeats one must not make a page count twice.
    let mut seen: std::collections::HashSet<String> = cursor.iter().cloned().collect();
    let mut pages = 0usize;
    let mut kept = 0u64;
    let full = |kept: u64| o.limit.is_some_and(|l| kept >= l);
    let resume = loop {
        let path = format!(
            "{}{}",
            api::WORKFLOWS,
            page_query(query, page_take(o, take, kept), cursor.as_deref())
        );
        let answer = ctx.client.get(&path, "workflows")?;
        let what = "a page of workflows";
        let (next, count, taken) = match (&read, &page_keep) {
            (Read::Listed, _) => {
                let page = ListedPage::parse(&answer.body, what)?;
                let next = page.next_cursor().map(str::to_string);
                let count = page.items.len();
                (
                    next,
                    count,
                    on_page(&answer.body, Items::Listed(page.items))?,
                )
            }
            (_, None) => {
                let page: Page = parse_json(&answer.body, what)?;
                let items = page.items.as_deref().unwrap_or_default();
                let next = page.next_cursor().map(str::to_string);
                (next, items.len(), on_page(&answer.body, Items::Raw(items))?)
            }
            (_, Some(keep)) => {
                let page = KeptPage::parse(&answer.body, keep, what)?;
                let next = page.next_cursor().map(str::to_string);
                let count = page.items.len();
                (next, count, on_page(&answer.body, Items::Kept(page.items))?)
            }
        };
        pages += 1;
        kept = taken.kept;
        if taken.used < count {
            // The limit was reached inside the page: going on from its
            // `next` would skip the rest of it, so the cursor that fetched
            // it is the one to resume from (it repeats what was kept).
            break Resume::Repeat(cursor);
        }
        let Some(next) = next else {
            break Resume::End;
        };
        if !all || full(kept) || count == 0 || !seen.insert(next.clone()) {
            break Resume::At(next);
        }
        cursor = Some(next);
    };
    Ok(Walked { resume, pages })
}

/// The page size to ask for. With `--limit` and no client-side filter,
/// never more than are still wanted: the page then ends on the last
/// workflow kept, and its `next` resumes right after it.
pub fn page_take(o: &WorkflowsOpts, take: u32, kept: u64) -> u32 {
    match o.limit {
        Some(limit) if o.statuses.is_empty() => {
            let left = limit.saturating_sub(kept).max(1);
            take.min(u32::try_from(left).unwrap_or(u32::MAX))
        }
        _ => take,
    }
}

/// Everything but the cursor, which changes page by page.
pub fn build_query(o: &WorkflowsOpts, now: OffsetDateTime) -> Result<Query> {
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

/// The filters in one line for people (`Filters: ...`), when any was given.
pub fn filters_line(o: &WorkflowsOpts) -> Option<String> {
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

/// Whether a workflow of this status passes `--status` (filtered on the
/// client: the API has no status filter).
pub fn status_kept(statuses: &[String], status: Option<&str>) -> bool {
    statuses.is_empty()
        || status.is_some_and(|s| statuses.iter().any(|x| x.eq_ignore_ascii_case(s)))
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
        assert_eq!(
            page_query(&q, 7, Some("a/b")),
            format!("?take=7&{}&cursor=a%2Fb", &q.as_str()[1..])
        );
        assert_eq!(page_query(&Query::default(), 5, None), "?take=5");
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

    #[test]
    fn a_limit_shrinks_the_page_unless_statuses_filter() {
        let mut o = opts();
        assert_eq!(page_take(&o, 100, 0), 100);
        o.limit = Some(30);
        assert_eq!(page_take(&o, 100, 0), 30);
        assert_eq!(page_take(&o, 100, 25), 5);
        assert_eq!(page_take(&o, 100, 30), 1);
        o.statuses = vec!["failed".into()];
        assert_eq!(page_take(&o, 100, 25), 100);
    }

    #[test]
    fn statuses_are_kept_case_blind() {
        assert!(status_kept(&[], None));
        let s = ["failed".to_string()];
        assert!(status_kept(&s, Some("Failed")));
        assert!(!status_kept(&s, Some("succeeded")));
        assert!(!status_kept(&s, None));
    }
}
