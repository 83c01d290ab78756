//! `stats`: the counted report, as a compact text report for people
//! (aligned columns, every piece of server text escaped) and as one JSON
//! document. What is counted, and how, is `cmd::stats`'s; this module
//! only lays the figures out.

use std::io::{self, Write};
use std::time::Duration;

use serde_json::Value;

use super::json::minify;
use super::summary::number;
use crate::dates::human_duration;
use crate::text::{cut, escape};

/// Longest failure reason shown in text (JSON has them whole).
const REASON_CHARS: usize = 100;

/// Everything `stats` prints, counted and sorted.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    /// The filters in words (`tags=a status=failed`), for the text header.
    pub filters: Option<String>,
    /// Workflows counted (after `--status`, duplicates skipped).
    pub workflows: u64,
    /// Workflows read from the API, kept or not, duplicates included.
    pub looked_at: u64,
    /// Workflows listed again by the server, counted once.
    pub duplicates: u64,
    pub pages: usize,
    /// Whether the walk read the last page (not stopped by `--limit` or a
    /// server that repeated a cursor).
    pub complete: bool,
    /// Where the walk can be taken up again, when it stopped early.
    pub next: Option<String>,
    /// Most first, then by name.
    pub by_status: Vec<(String, u64)>,
    /// Workflows with at least one step of the type; most first.
    pub by_step_type: Vec<(String, u64)>,
    pub files: Files,
    pub cost_total: f64,
    /// Debits less credits per currency, in the order first seen.
    pub by_currency: Vec<(String, f64)>,
    pub durations: Durations,
    /// Failed steps of workflows that did not succeed.
    pub failed_steps: u64,
    /// The most common reasons of those steps (at most five), most first.
    pub failure_reasons: Vec<(String, u64)>,
    pub by: Option<Breakdown>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Files {
    pub images: u64,
    pub videos: u64,
    pub others: u64,
    /// Files with a `blockedReason`, by reason; most first.
    pub blocked: Vec<(String, u64)>,
    /// Files not available that give no reason (not ready, or blocked
    /// without saying why).
    pub not_available: u64,
}

impl Files {
    pub fn total(&self) -> u64 {
        self.images + self.videos + self.others
    }
}

/// `completedAt - createdAt` of finished workflows, in milliseconds.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Durations {
    pub count: u64,
    /// Nearest rank: the smallest duration that at least half (or 90 %)
    /// of the others do not exceed.
    pub median: Option<u64>,
    pub p90: Option<u64>,
    pub max: Option<u64>,
}

/// `--by`: one row per key.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Breakdown {
    /// `day`, `hour`, `tag`, `type` or `status`.
    pub key: &'static str,
    pub rows: Vec<Row>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Row {
    pub key: String,
    pub workflows: u64,
    pub files: u64,
    pub cost: f64,
}

/// The report for people.
pub fn text(w: &mut impl Write, r: &Report) -> io::Result<()> {
    if let Some(f) = &r.filters {
        writeln!(w, "Filters: {f}")?;
    }
    let mut head = format!("Workflows: {} in {} page(s)", r.workflows, r.pages);
    if r.looked_at != r.workflows + r.duplicates {
        head.push_str(&format!(" ({} looked at)", r.looked_at));
    }
    if r.duplicates > 0 {
        head.push_str(&format!("; {} listed twice, counted once", r.duplicates));
    }
    if !r.complete {
        head.push_str("; more exist (see the note on stderr)");
    }
    writeln!(w, "{head}")?;
    if r.workflows == 0 {
        return Ok(());
    }

    section(w, "By status", &counts(&r.by_status))?;
    section(w, "By step type", &counts(&r.by_step_type))?;

    let f = &r.files;
    writeln!(
        w,
        "\nFiles: {} (images {}, videos {}, others {})",
        f.total(),
        f.images,
        f.videos,
        f.others
    )?;
    let blocked: u64 = f.blocked.iter().map(|(_, n)| n).sum();
    if blocked > 0 {
        writeln!(w, "  Blocked: {blocked}")?;
        table(w, "    ", &[], &counts(&f.blocked))?;
    }
    if f.not_available > 0 {
        writeln!(w, "  Not available, no reason given: {}", f.not_available)?;
    }

    let mut cost = format!("\nCost: {}", number(r.cost_total));
    if !r.by_currency.is_empty() {
        let by: Vec<String> = r
            .by_currency
            .iter()
            .map(|(c, n)| format!("{} {}", escape(c), number(*n)))
            .collect();
        cost.push_str(&format!(" (charged: {})", by.join(", ")));
    }
    writeln!(w, "{cost}")?;

    let d = &r.durations;
    writeln!(w, "\nDurations of {} finished workflow(s):", d.count)?;
    if let (Some(median), Some(p90), Some(max)) = (d.median, d.p90, d.max) {
        let rows = [("median", median), ("p90", p90), ("max", max)].map(|(k, ms)| {
            (
                k.to_string(),
                vec![human_duration(Duration::from_millis(ms))],
            )
        });
        // Durations read best left-aligned: `14.9 s` over `1 min 5 s`.
        for (k, v) in rows {
            writeln!(w, "  {k:<6}  {}", v[0])?;
        }
    }

    if r.failed_steps > 0 {
        writeln!(
            w,
            "\nFailure reasons ({} failed step(s) of workflows that did not succeed):",
            r.failed_steps
        )?;
        let rows: Vec<(String, Vec<String>)> = r
            .failure_reasons
            .iter()
            .map(|(why, n)| (escape(&cut(why, REASON_CHARS)), vec![n.to_string()]))
            .collect();
        table(w, "  ", &[], &rows)?;
    }

    if let Some(b) = &r.by {
        writeln!(w, "\nBy {}:", b.key)?;
        let rows: Vec<(String, Vec<String>)> = b
            .rows
            .iter()
            .map(|row| {
                (
                    escape(&row.key),
                    vec![
                        row.workflows.to_string(),
                        row.files.to_string(),
                        number(row.cost),
                    ],
                )
            })
            .collect();
        table(w, "  ", &[b.key, "workflows", "files", "cost"], &rows)?;
    }
    Ok(())
}

/// `name count` rows, names escaped.
fn counts(pairs: &[(String, u64)]) -> Vec<(String, Vec<String>)> {
    pairs
        .iter()
        .map(|(k, n)| (escape(k), vec![n.to_string()]))
        .collect()
}

/// A titled block of rows; nothing when there are none.
fn section(w: &mut impl Write, title: &str, rows: &[(String, Vec<String>)]) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(w, "\n{title}:")?;
    table(w, "  ", &[], rows)
}

/// Rows as aligned columns: the first (a name) left-aligned, the others
/// (figures) right-aligned, two spaces apart; `header` (when given) on top.
fn table(
    w: &mut impl Write,
    indent: &str,
    header: &[&str],
    rows: &[(String, Vec<String>)],
) -> io::Result<()> {
    let columns = rows.first().map_or(header.len(), |(_, c)| c.len() + 1);
    let mut widths = vec![0usize; columns];
    let header_cells = header.iter().map(|h| (h.to_string(), h.chars().count()));
    let mut measure = |i: usize, s: &str| {
        if let Some(wd) = widths.get_mut(i) {
            *wd = (*wd).max(s.chars().count());
        }
    };
    for (i, (h, _)) in header_cells.enumerate() {
        measure(i, &h);
    }
    for (name, cells) in rows {
        measure(0, name);
        for (i, c) in cells.iter().enumerate() {
            measure(i + 1, c);
        }
    }
    let line = |name: &str, cells: &[String]| {
        let mut l = format!("{indent}{name}");
        let pad = widths[0].saturating_sub(name.chars().count());
        l.push_str(&" ".repeat(pad));
        for (i, c) in cells.iter().enumerate() {
            let width = widths.get(i + 1).copied().unwrap_or(0);
            l.push_str(&format!("  {c:>width$}"));
        }
        l.trim_end().to_string()
    };
    if let Some((first, rest)) = header.split_first() {
        let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
        writeln!(w, "{}", line(first, &rest))?;
    }
    for (name, cells) in rows {
        writeln!(w, "{}", line(name, cells))?;
    }
    Ok(())
}

/// The report as one JSON document on one line. Keys come in the order of
/// the text report; server text inside strings is escaped as `minify` does
/// for every JSON this program prints.
pub fn json(w: &mut impl Write, r: &Report) -> io::Result<()> {
    let mut o = Obj::default();
    o.raw("workflows", r.workflows.to_string());
    o.raw("lookedAt", r.looked_at.to_string());
    o.raw("duplicates", r.duplicates.to_string());
    o.raw("pages", r.pages.to_string());
    o.raw("complete", r.complete.to_string());
    o.raw("next", string_or_null(r.next.as_deref()));
    o.raw("byStatus", count_map(&r.by_status));
    o.raw("byStepType", count_map(&r.by_step_type));
    let f = &r.files;
    let mut files = Obj::default();
    files.raw("total", f.total().to_string());
    files.raw("images", f.images.to_string());
    files.raw("videos", f.videos.to_string());
    files.raw("others", f.others.to_string());
    files.raw("blocked", count_map(&f.blocked));
    files.raw("notAvailable", f.not_available.to_string());
    o.raw("files", files.end());
    let mut cost = Obj::default();
    cost.raw("total", amount(r.cost_total));
    let mut by = Obj::default();
    for (c, n) in &r.by_currency {
        by.raw(c, amount(*n));
    }
    cost.raw("byCurrency", by.end());
    o.raw("cost", cost.end());
    let d = &r.durations;
    let mut ms = Obj::default();
    ms.raw("count", d.count.to_string());
    for (k, v) in [("median", d.median), ("p90", d.p90), ("max", d.max)] {
        ms.raw(k, v.map_or("null".into(), |v| v.to_string()));
    }
    o.raw("durationMs", ms.end());
    o.raw("failedSteps", r.failed_steps.to_string());
    let reasons: Vec<String> = r
        .failure_reasons
        .iter()
        .map(|(why, n)| {
            let mut e = Obj::default();
            e.raw("reason", string(why));
            e.raw("count", n.to_string());
            e.end()
        })
        .collect();
    o.raw("failureReasons", format!("[{}]", reasons.join(",")));
    let by = match &r.by {
        None => "null".to_string(),
        Some(b) => {
            let rows: Vec<String> = b
                .rows
                .iter()
                .map(|row| {
                    let mut e = Obj::default();
                    e.raw("key", string(&row.key));
                    e.raw("workflows", row.workflows.to_string());
                    e.raw("files", row.files.to_string());
                    e.raw("cost", amount(row.cost));
                    e.end()
                })
                .collect();
            let mut e = Obj::default();
            e.raw("key", string(b.key));
            e.raw("rows", format!("[{}]", rows.join(",")));
            e.end()
        }
    };
    o.raw("by", by);
    writeln!(w, "{}", minify(&o.end()))
}

/// A JSON object written key by key, in order.
#[derive(Default)]
struct Obj(Vec<String>);

impl Obj {
    fn raw(&mut self, key: &str, json: String) {
        self.0.push(format!("{}:{json}", string(key)));
    }

    fn end(self) -> String {
        format!("{{{}}}", self.0.join(","))
    }
}

fn string(s: &str) -> String {
    Value::from(s).to_string()
}

fn string_or_null(s: Option<&str>) -> String {
    s.map_or("null".into(), string)
}

/// A sum of amounts: whole numbers without `.0`; `null` if it overflowed.
fn amount(n: f64) -> String {
    if n.is_finite() {
        number(n)
    } else {
        "null".into()
    }
}

/// `{"name": count, ...}` in the given order.
fn count_map(pairs: &[(String, u64)]) -> String {
    let mut o = Obj::default();
    for (k, n) in pairs {
        o.raw(k, n.to_string());
    }
    o.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            filters: Some("tags=a".into()),
            workflows: 3,
            looked_at: 4,
            duplicates: 1,
            pages: 2,
            complete: true,
            next: None,
            by_status: vec![("succeeded".into(), 2), ("fail\u{1b}ed".into(), 1)],
            by_step_type: vec![("textToImage".into(), 3)],
            files: Files {
                images: 4,
                videos: 1,
                others: 0,
                blocked: vec![("nsfw".into(), 1)],
                not_available: 0,
            },
            cost_total: 10.5,
            by_currency: vec![("yellow".into(), 8.0), ("blue".into(), 2.0)],
            durations: Durations {
                count: 2,
                median: Some(14_900),
                p90: Some(65_000),
                max: Some(65_000),
            },
            failed_steps: 1,
            failure_reasons: vec![("out of\nmemory".into(), 1)],
            by: Some(Breakdown {
                key: "day",
                rows: vec![Row {
                    key: "2026-01-21".into(),
                    workflows: 3,
                    files: 5,
                    cost: 10.5,
                }],
            }),
        }
    }

    #[test]
    fn text_is_aligned_and_escaped() {
        let mut out = Vec::new();
        text(&mut out, &report()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "Filters: tags=a\n\
             Workflows: 3 in 2 page(s); 1 listed twice, counted once\n\
             \n\
             By status:\n\
             \x20 succeeded   2\n\
             \x20 fail\\x1bed  1\n\
             \n\
             By step type:\n\
             \x20 textToImage  3\n\
             \n\
             Files: 5 (images 4, videos 1, others 0)\n\
             \x20 Blocked: 1\n\
             \x20   nsfw  1\n\
             \n\
             Cost: 10.5 (charged: yellow 8, blue 2)\n\
             \n\
             Durations of 2 finished workflow(s):\n\
             \x20 median  14.9 s\n\
             \x20 p90     1 min 5 s\n\
             \x20 max     1 min 5 s\n\
             \n\
             Failure reasons (1 failed step(s) of workflows that did not succeed):\n\
             \x20 out of\\nmemory  1\n\
             \n\
             By day:\n\
             \x20 day         workflows  files  cost\n\
             \x20 2026-01-21          3      5  10.5\n"
        );
    }

    #[test]
    fn json_keeps_its_order_and_escapes() {
        let mut out = Vec::new();
        json(&mut out, &report()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n") && text.lines().count() == 1);
        assert!(text.starts_with(r#"{"workflows":3,"lookedAt":4,"duplicates":1,"pages":2,"#));
        assert!(!text.contains('\u{1b}'));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["byStatus"]["fail\u{1b}ed"], 1);
        assert_eq!(v["cost"]["byCurrency"]["yellow"], 8);
        assert_eq!(v["cost"]["total"], 10.5);
        assert_eq!(v["durationMs"]["p90"], 65_000);
        assert_eq!(v["failureReasons"][0]["reason"], "out of\nmemory");
        assert_eq!(v["by"]["rows"][0]["key"], "2026-01-21");
        assert_eq!(v["files"]["blocked"]["nsfw"], 1);
    }

    #[test]
    fn an_empty_report_says_so_and_has_nulls() {
        let r = Report {
            complete: true,
            ..Report::default()
        };
        let mut out = Vec::new();
        text(&mut out, &r).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Workflows: 0 in 0 page(s)\n"
        );
        let mut out = Vec::new();
        json(&mut out, &r).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["durationMs"]["median"], Value::Null);
        assert_eq!(v["by"], Value::Null);
        assert_eq!(v["failureReasons"], serde_json::json!([]));
    }
}
