//! `stats`: the walk of `workflows --all` (its filters, every page),
//! counted in constant memory. Each workflow is parsed, counted and
//! dropped; what is kept is counters, one duration per finished workflow
//! (for the percentiles) and a 64-bit hash per workflow id (so that a
//! workflow the server lists twice is counted once).
//!
//! Nothing reaches stdout before the last page is counted: a page that
//! fails ends the run with its error and no partial report.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use serde_json::Value;
use time::{OffsetDateTime, UtcOffset};

use super::walk::{self, Resume, Taken};
use super::Ctx;
use crate::api::{self, parse_json};
use crate::cli::{help, By, Mode, StatsOpts};
use crate::dates;
use crate::error::Result;
use crate::output::stats::{self as report, Breakdown, Durations, Files, Report, Row};
use crate::output::{Out, OutExt};
use crate::text::escape;

/// Page size when `--take` is not given: the API's largest.
const DEFAULT_TAKE: u32 = 100;
/// How many failure reasons are shown.
const TOP_REASONS: usize = 5;
/// Distinct failure and blocked reasons kept apart; the rest (free server
/// text, which may quote ids) are counted together, so memory stays bounded.
const MAX_REASONS: usize = 10_000;
const OTHER_REASONS: &str = "(other reasons)";
const NO_REASON: &str = "(no reason given)";
/// The key of a workflow that lacks what `--by` or a count looks at.
const UNKNOWN: &str = "(unknown)";
/// How often the progress line may be redrawn.
const TICK: Duration = Duration::from_millis(200);

pub fn run(ctx: &Ctx, o: &StatsOpts, out: &mut Out) -> Result<()> {
    let w = &o.walk;
    let query = walk::build_query(w, OffsetDateTime::now_utc())
        .map_err(|e| e.with_usage(help::usage_of("stats")))?;
    let take = w.filters.take.unwrap_or(DEFAULT_TAKE);
    let mut tally = Tally::new(o.by, &w.statuses, w.limit);
    let mut progress = Progress::new(ctx.notes.live());
    let mut pages = 0usize;
    let walked = walk::walk(ctx, w, &query, take, true, |_, items| {
        let used = tally.page(items)?;
        pages += 1;
        progress.show(tally.workflows, pages);
        Ok(Taken {
            used,
            kept: tally.workflows,
        })
    })?;
    progress.clear();
    let mut r = tally.report(o.by);
    r.pages = walked.pages;
    r.complete = matches!(walked.resume, Resume::End);
    r.next = walked.resume.cursor().map(str::to_string);
    r.filters = walk::filters_line(w);
    match ctx.mode() {
        Mode::Text => report::text(out, &r).out()?,
        // One document either way: `--jsonl` is a stream of one.
        Mode::Json | Mode::Jsonl => report::json(out, &r).out()?,
    }
    out.flush().out()?;
    if let Some(line) = incomplete_line(&r, &walked.resume) {
        ctx.notes.always(&line);
    }
    Ok(())
}

/// On stderr, when the walk stopped before the last page: why the figures
/// are partial and where to go on.
fn incomplete_line(r: &Report, resume: &Resume) -> Option<String> {
    let head = format!("stats cover {} workflow(s)", r.workflows);
    Some(match resume {
        Resume::End => return None,
        Resume::At(c) => format!("{head}; more exist: go on with --cursor={}", escape(c)),
        Resume::Repeat(Some(c)) => format!(
            "{head}; more exist: go on with --cursor={} (--limit ended inside that page: \
             it starts again with workflows already counted)",
            escape(c)
        ),
        Resume::Repeat(None) => {
            format!("{head}; more exist: --limit ended inside the first page")
        }
    })
}

/// The counters of a walk.
struct Tally {
    by: Option<By>,
    statuses: Vec<String>,
    limit: Option<u64>,
    ids: HashSet<u64>,
    hasher: RandomState,
    workflows: u64,
    looked_at: u64,
    duplicates: u64,
    by_status: HashMap<String, u64>,
    by_step_type: HashMap<String, u64>,
    images: u64,
    videos: u64,
    others: u64,
    blocked: HashMap<String, u64>,
    not_available: u64,
    cost_total: f64,
    by_currency: Vec<(String, f64)>,
    /// Milliseconds, one per finished workflow (u32: 49 days at most).
    durations: Vec<u32>,
    failed_steps: u64,
    reasons: HashMap<String, u64>,
    rows: HashMap<String, Row>,
}

impl Tally {
    fn new(by: Option<By>, statuses: &[String], limit: Option<u64>) -> Tally {
        Tally {
            by,
            statuses: statuses.to_vec(),
            limit,
            ids: HashSet::new(),
            hasher: RandomState::new(),
            workflows: 0,
            looked_at: 0,
            duplicates: 0,
            by_status: HashMap::new(),
            by_step_type: HashMap::new(),
            images: 0,
            videos: 0,
            others: 0,
            blocked: HashMap::new(),
            not_available: 0,
            cost_total: 0.0,
            by_currency: Vec::new(),
            durations: Vec::new(),
            failed_steps: 0,
            reasons: HashMap::new(),
            rows: HashMap::new(),
        }
    }

    fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.workflows >= l)
    }

    /// Counts a page's workflows until `--limit`; returns how many were
    /// looked at.
    fn page(&mut self, items: &[&RawValue]) -> Result<usize> {
        let mut used = 0;
        for item in items {
            if self.full() {
                break;
            }
            used += 1;
            self.looked_at += 1;
            let v: Value = parse_json(item.get(), "a workflow")?;
            self.workflow(&v);
        }
        Ok(used)
    }

    /// Counts one workflow, unless `--status` leaves it out or it was
    /// counted already.
    fn workflow(&mut self, v: &Value) {
        let s = |key: &str| v.get(key).and_then(Value::as_str);
        let status = s("status");
        if !walk::status_kept(&self.statuses, status) {
            return;
        }
        if let Some(id) = s("id") {
            if !self.ids.insert(self.hasher.hash_one(id)) {
                self.duplicates += 1;
                return;
            }
        }
        self.workflows += 1;
        let status = status.unwrap_or(UNKNOWN);
        bump(&mut self.by_status, status, 1);

        let steps = v.get("steps").and_then(Value::as_array);
        let steps = steps.map(Vec::as_slice).unwrap_or_default();
        let mut types: Vec<&str> = Vec::new();
        let mut files = 0u64;
        for step in steps {
            let kind = step.get("$type").and_then(Value::as_str).unwrap_or(UNKNOWN);
            if !types.contains(&kind) {
                types.push(kind);
            }
            if let Some(output) = step.get("output") {
                files += self.files(output);
            }
            let failed = step.get("status").and_then(Value::as_str) == Some("failed");
            if failed && status != "succeeded" {
                self.failed_steps += 1;
                let why = api::failure_reason(step).unwrap_or(NO_REASON);
                bump_bounded(&mut self.reasons, why);
            }
        }
        for t in &types {
            bump(&mut self.by_step_type, t, 1);
        }

        let cost = v
            .pointer("/cost/total")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        self.cost_total += cost;
        for (currency, amount) in api::cost_by_currency(v) {
            match self.by_currency.iter_mut().find(|(c, _)| *c == currency) {
                Some((_, sum)) => *sum += amount,
                None => self.by_currency.push((currency, amount)),
            }
        }

        if status_is_final(status) {
            if let (Some(start), Some(end)) = (s("createdAt"), s("completedAt")) {
                if let Some(d) = dates::between(start, end) {
                    let ms = u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
                    self.durations.push(ms);
                }
            }
        }

        if let Some(by) = self.by {
            let created = s("createdAt");
            let tags = v.get("tags").and_then(Value::as_array);
            let tags = tags.map(Vec::as_slice).unwrap_or_default();
            let mut keys: Vec<String> = match by {
                By::Day => vec![time_key(created, false)],
                By::Hour => vec![time_key(created, true)],
                By::Status => vec![status.to_string()],
                By::Type => types.iter().map(|t| t.to_string()).collect(),
                By::Tag => tags
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            };
            keys.sort();
            keys.dedup();
            if keys.is_empty() {
                keys.push(
                    match by {
                        By::Tag => "(no tags)",
                        _ => "(no steps)",
                    }
                    .to_string(),
                );
            }
            for key in keys {
                let row = self.rows.entry(key).or_insert_with_key(|k| Row {
                    key: k.clone(),
                    ..Row::default()
                });
                row.workflows += 1;
                row.files += files;
                row.cost += cost;
            }
        }
    }

    /// Counts the files of one step's output; returns how many.
    fn files(&mut self, output: &Value) -> u64 {
        let blobs = api::find_blobs(output);
        for b in &blobs {
            match b.kind.as_str() {
                "image" => self.images += 1,
                "video" => self.videos += 1,
                _ => self.others += 1,
            }
            match b.blocked_reason.as_deref().filter(|r| !r.trim().is_empty()) {
                Some(why) => bump_bounded(&mut self.blocked, why),
                None if !b.available => self.not_available += 1,
                None => {}
            }
        }
        blobs.len() as u64
    }

    fn report(self, by: Option<By>) -> Report {
        let mut rows: Vec<Row> = self.rows.into_values().collect();
        match by {
            // In time order; a workflow without a readable date goes last.
            Some(By::Day | By::Hour) => {
                rows.sort_by(|a, b| (a.key == UNKNOWN, &a.key).cmp(&(b.key == UNKNOWN, &b.key)))
            }
            _ => rows.sort_by(|a, b| b.workflows.cmp(&a.workflows).then(a.key.cmp(&b.key))),
        }
        let mut by_currency = self.by_currency;
        by_currency.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut failure_reasons = most_first(self.reasons);
        failure_reasons.truncate(TOP_REASONS);
        Report {
            workflows: self.workflows,
            looked_at: self.looked_at,
            duplicates: self.duplicates,
            by_status: most_first(self.by_status),
            by_step_type: most_first(self.by_step_type),
            files: Files {
                images: self.images,
                videos: self.videos,
                others: self.others,
                blocked: most_first(self.blocked),
                not_available: self.not_available,
            },
            cost_total: self.cost_total,
            by_currency,
            durations: durations(self.durations),
            failed_steps: self.failed_steps,
            failure_reasons,
            by: by.map(|b| Breakdown {
                key: by_name(b),
                rows,
            }),
            ..Report::default()
        }
    }
}

fn status_is_final(status: &str) -> bool {
    api::is_final_status(status)
}

fn by_name(by: By) -> &'static str {
    match by {
        By::Day => "day",
        By::Hour => "hour",
        By::Tag => "tag",
        By::Type => "type",
        By::Status => "status",
    }
}

fn bump(map: &mut HashMap<String, u64>, key: &str, n: u64) {
    match map.get_mut(key) {
        Some(count) => *count += n,
        None => {
            map.insert(key.to_string(), n);
        }
    }
}

/// As [`bump`], but past [`MAX_REASONS`] distinct keys a new one is
/// counted under [`OTHER_REASONS`].
fn bump_bounded(map: &mut HashMap<String, u64>, key: &str) {
    let key = if map.len() >= MAX_REASONS && !map.contains_key(key) {
        OTHER_REASONS
    } else {
        key
    };
    bump(map, key, 1);
}

/// Counts, most first, then by name.
fn most_first(map: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Median, p90 and max by nearest rank: the value at rank ⌈p·n⌉ of the
/// sorted durations.
fn durations(mut ms: Vec<u32>) -> Durations {
    let n = ms.len();
    if n == 0 {
        return Durations::default();
    }
    ms.sort_unstable();
    let rank = |p: usize| u64::from(ms[(n * p).div_ceil(100).max(1) - 1]);
    Durations {
        count: n as u64,
        median: Some(rank(50)),
        p90: Some(rank(90)),
        max: Some(rank(100)),
    }
}

/// `2026-01-21` (or `2026-01-21T22` with the hour) of an API instant, in UTC.
fn time_key(created: Option<&str>, hour: bool) -> String {
    let Some(t) = created
        .and_then(dates::parse_instant)
        .and_then(|t| t.checked_to_offset(UtcOffset::UTC))
    else {
        return UNKNOWN.to_string();
    };
    let day = format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day());
    if hour {
        format!("{day}T{:02}", t.hour())
    } else {
        day
    }
}

/// One updating line on stderr, `N workflows, P pages`, redrawn at most
/// every [`TICK`] and erased at the end; nothing unless stderr is a
/// terminal and `-q` was not given.
struct Progress {
    live: bool,
    last: Instant,
    drawn: bool,
}

impl Progress {
    fn new(live: bool) -> Progress {
        // The first line waits a tick too: a short walk draws nothing.
        Progress {
            live,
            last: Instant::now(),
            drawn: false,
        }
    }

    fn show(&mut self, workflows: u64, pages: usize) {
        if !self.live || self.last.elapsed() < TICK {
            return;
        }
        self.last = Instant::now();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{workflows} workflows, {pages} pages");
        let _ = err.flush();
        self.drawn = true;
    }

    fn clear(&mut self) {
        if self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}

impl Drop for Progress {
    // An error mid-walk must not be printed after a half-drawn line.
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tally(by: Option<By>, workflows: &[Value]) -> Report {
        let mut t = Tally::new(by, &[], None);
        for w in workflows {
            t.workflow(w);
        }
        t.report(by)
    }

    fn wf(id: &str, status: &str, created: &str, completed: Option<&str>) -> Value {
        json!({"id": id, "status": status, "createdAt": created, "completedAt": completed})
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let d = durations((1..=10).collect());
        assert_eq!((d.median, d.p90, d.max), (Some(5), Some(9), Some(10)));
        let d = durations(vec![7]);
        assert_eq!(
            (d.count, d.median, d.p90, d.max),
            (1, Some(7), Some(7), Some(7))
        );
        let d = durations(vec![30, 10, 20]);
        assert_eq!((d.median, d.p90, d.max), (Some(20), Some(30), Some(30)));
        assert_eq!(durations(vec![]), Durations::default());
    }

    #[test]
    fn a_workflow_listed_twice_counts_once() {
        let mut t = Tally::new(None, &[], None);
        let w = wf("a", "succeeded", "2026-01-21T22:00:00Z", None);
        t.workflow(&w);
        t.workflow(&w);
        t.workflow(&json!({"status": "failed"}));
        t.workflow(&json!({"status": "failed"}));
        let r = t.report(None);
        assert_eq!((r.workflows, r.duplicates), (3, 1));
        assert_eq!(
            r.by_status,
            [("failed".to_string(), 2), ("succeeded".to_string(), 1)]
        );
    }

    #[test]
    fn only_finished_workflows_have_durations() {
        let r = tally(
            None,
            &[
                wf(
                    "a",
                    "succeeded",
                    "2026-01-21T22:00:00Z",
                    Some("2026-01-21T22:00:10Z"),
                ),
                wf(
                    "b",
                    "failed",
                    "2026-01-21T22:00:00Z",
                    Some("2026-01-21T22:01:00.5Z"),
                ),
                wf(
                    "c",
                    "processing",
                    "2026-01-21T22:00:00Z",
                    Some("2026-01-21T23:00:00Z"),
                ),
                wf("d", "canceled", "2026-01-21T22:00:00Z", None),
                wf("e", "expired", "2026-01-21T22:00:00Z", Some("backwards")),
            ],
        );
        assert_eq!(r.durations.count, 2);
        assert_eq!(r.durations.median, Some(10_000));
        assert_eq!(r.durations.max, Some(60_500));
    }

    #[test]
    fn files_cost_and_reasons_are_counted() {
        let a = json!({
            "id": "a", "status": "failed",
            "cost": {"total": 4.5},
            "transactions": {"list": [
                {"type": "debit", "amount": 4, "accountType": "yellow"},
                {"type": "credit", "amount": 1, "accountType": "yellow"},
                {"type": "debit", "amount": 2, "accountType": "blue"}]},
            "steps": [
                {"$type": "textToImage", "status": "failed",
                 "metadata": {"failureReason": "out of memory"},
                 "output": {"images": [
                    {"id": "1", "available": true, "type": "image"},
                    {"id": "2", "available": false, "blockedReason": "nsfw"}]}},
                {"$type": "textToImage", "status": "failed"},
                {"$type": "videoGen", "status": "succeeded",
                 "output": {"video": {"id": "v", "available": false}, "blobId": "x"}}]
        });
        let b = json!({
            "id": "b", "status": "succeeded", "cost": {"total": 1},
            "steps": [{"$type": "textToImage", "status": "failed",
                       "metadata": {"failureReason": "ignored: the workflow succeeded"}}]
        });
        let r = tally(None, &[a, b]);
        assert_eq!(
            r.files,
            Files {
                images: 2,
                videos: 1,
                others: 1,
                blocked: vec![("nsfw".into(), 1)],
                not_available: 1,
            }
        );
        assert_eq!(r.cost_total, 5.5);
        assert_eq!(
            r.by_currency,
            [("yellow".to_string(), 3.0), ("blue".to_string(), 2.0)]
        );
        assert_eq!(r.failed_steps, 2);
        assert_eq!(
            r.failure_reasons,
            [
                ("(no reason given)".to_string(), 1),
                ("out of memory".to_string(), 1)
            ]
        );
        assert_eq!(
            r.by_step_type,
            [("textToImage".to_string(), 2), ("videoGen".to_string(), 1)]
        );
    }

    #[test]
    fn top_reasons_are_five_most_first() {
        let steps: Vec<Value> = (0..7)
            .flat_map(|i| {
                (0..=i).map(move |_| {
                    json!({"status": "failed", "metadata": {"failureReason": format!("r{i}")}})
                })
            })
            .collect();
        let r = tally(
            None,
            &[json!({"id": "a", "status": "failed", "steps": steps})],
        );
        let names: Vec<&str> = r.failure_reasons.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["r6", "r5", "r4", "r3", "r2"]);
        assert_eq!(r.failed_steps, 28);
    }

    #[test]
    fn odd_shapes_count_as_unknown_not_errors() {
        let r = tally(
            Some(By::Type),
            &[
                json!({"id": 5, "status": 3, "steps": "x", "tags": {}, "cost": {"total": "9"},
                     "transactions": []}),
            ],
        );
        assert_eq!(r.workflows, 1);
        assert_eq!(r.by_status, [("(unknown)".to_string(), 1)]);
        assert_eq!(r.cost_total, 0.0);
        assert_eq!(r.by.unwrap().rows[0].key, "(no steps)");
    }

    #[test]
    fn by_keys_each_count_a_workflow_once() {
        let w = |id: &str, created: &str, tags: Value| {
            json!({"id": id, "status": "succeeded", "createdAt": created, "tags": tags,
                   "cost": {"total": 2},
                   "steps": [{"$type": "a", "output": {"images": [{"id": "i", "available": true}]}},
                             {"$type": "a"}, {"$type": "b"}]})
        };
        let all = [
            w("1", "2026-01-21T22:21:26.332Z", json!(["x", "y", "x"])),
            w("2", "2026-01-21T23:59:59+02:00", json!(["y"])),
            w("3", "not a date", json!([])),
        ];
        let rows = |by| -> Vec<(String, u64, u64, f64)> {
            tally(Some(by), &all)
                .by
                .unwrap()
                .rows
                .into_iter()
                .map(|r| (r.key, r.workflows, r.files, r.cost))
                .collect()
        };
        assert_eq!(
            rows(By::Day),
            [
                ("2026-01-21".into(), 2, 2, 4.0),
                ("(unknown)".into(), 1, 1, 2.0)
            ]
        );
        assert_eq!(
            rows(By::Hour),
            [
                ("2026-01-21T21".into(), 1, 1, 2.0),
                ("2026-01-21T22".into(), 1, 1, 2.0),
                ("(unknown)".into(), 1, 1, 2.0)
            ]
        );
        assert_eq!(
            rows(By::Tag),
            [
                ("y".into(), 2, 2, 4.0),
                ("(no tags)".into(), 1, 1, 2.0),
                ("x".into(), 1, 1, 2.0)
            ]
        );
        assert_eq!(
            rows(By::Type),
            [("a".into(), 3, 3, 6.0), ("b".into(), 3, 3, 6.0)]
        );
        assert_eq!(rows(By::Status), [("succeeded".into(), 3, 3, 6.0)]);
    }

    #[test]
    fn status_and_limit_filter_before_counting() {
        let items: Vec<Box<RawValue>> = ["succeeded", "failed", "succeeded", "succeeded"]
            .iter()
            .enumerate()
            .map(|(i, s)| {
                RawValue::from_string(wf(&i.to_string(), s, "", None).to_string()).unwrap()
            })
            .collect();
        let items: Vec<&RawValue> = items.iter().map(|b| &**b).collect();
        let mut t = Tally::new(None, &["succeeded".into()], Some(2));
        assert_eq!(t.page(&items).unwrap(), 3);
        assert_eq!((t.workflows, t.looked_at), (2, 3));
    }

    #[test]
    fn reasons_stay_bounded() {
        let mut m = HashMap::new();
        for i in 0..MAX_REASONS + 5 {
            bump_bounded(&mut m, &format!("r{i}"));
        }
        assert_eq!(m.len(), MAX_REASONS + 1);
        assert_eq!(m[OTHER_REASONS], 5);
    }
}
