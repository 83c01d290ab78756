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
use time::{OffsetDateTime, UtcOffset};

use super::walk::{self, Items, Read, Resume, Taken};
use super::Ctx;
use crate::api::{self, BlobKind};
use crate::cli::{help, By, Mode, StatsOpts};
use crate::dates;
use crate::error::{Error, Result};
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
    // Counted from the raw items in one pass each (`api::Reader`).
    let walked = walk::walk(ctx, w, &query, take, true, Read::Raw, &mut |_, items| {
        // A walk given no tree to keep hands over raw items.
        let Items::Raw(items) = items else {
            return Err(Error::other("stats: a page came parsed"));
        };
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
    /// `--by`: the rows, and where each key's row is.
    rows: Vec<Row>,
    row_of: HashMap<String, u64>,
    /// Kept from one workflow to the next, so that counting one allocates
    /// next to nothing: the reader's buffers, this workflow's sum per currency (by
    /// the place of the currency in `by_currency`), a `--by` day or hour.
    reader: api::Reader,
    charged: Vec<Option<f64>>,
    key: String,
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
            rows: Vec::new(),
            row_of: HashMap::new(),
            reader: api::Reader::default(),
            charged: Vec::new(),
            key: String::new(),
        }
    }

    fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.workflows >= l)
    }

    /// Counts a page's workflows until `--limit`; returns how many were
    /// looked at.
    fn page(&mut self, items: &[&RawValue]) -> Result<usize> {
        // Its lists serve every workflow of the page.
        let mut w = view::Workflow::default();
        let mut used = 0;
        for item in items {
            if self.full() {
                break;
            }
            used += 1;
            self.looked_at += 1;
            // As for `workflows`: an item that is not an object is not a
            // workflow, and counting it as one would mislead.
            if !item.get().starts_with('{') {
                return Err(Error::other(
                    "the API sent something that is not a workflow in a page of workflows",
                ));
            }
            w.read(item.get())?;
            self.workflow(&w)?;
        }
        Ok(used)
    }

    /// Counts one workflow, unless `--status` leaves it out or it was
    /// counted already.
    fn workflow(&mut self, w: &view::Workflow) -> Result<()> {
        let status = w.status.as_deref();
        if !walk::status_kept(&self.statuses, status) {
            return Ok(());
        }
        if let Some(id) = w.id.as_deref() {
            if !self.ids.insert(self.hasher.hash_one(id)) {
                self.duplicates += 1;
                return Ok(());
            }
        }
        self.workflows += 1;
        let status = status.unwrap_or(UNKNOWN);
        bump(&mut self.by_status, status, 1);

        let mut files = 0u64;
        for step in &w.steps {
            if let Some(output) = step.output {
                files += self.files(output.get())?;
            }
            if step.status.as_deref() == Some("failed") && status != "succeeded" {
                self.failed_steps += 1;
                let [metadata, reason, error] = step.why();
                let why = self.reader.failure_reason(metadata, reason, error)?;
                bump_bounded(&mut self.reasons, why.unwrap_or(NO_REASON));
            }
        }
        // Each step type once, in the order first seen.
        let kind = |i: usize| w.steps[i].kind.as_deref().unwrap_or(UNKNOWN);
        let types = (0..w.steps.len()).filter(|&i| (0..i).all(|j| kind(j) != kind(i)));
        for i in types.clone() {
            bump(&mut self.by_step_type, kind(i), 1);
        }

        let cost = w.cost_total.unwrap_or(0.0);
        self.cost_total += cost;
        if let Some(t) = w.transactions {
            self.charges(t.get())?;
        }

        if api::is_final_status(status) {
            if let (Some(start), Some(end)) = (w.created_at.as_deref(), w.completed_at.as_deref()) {
                if let Some(d) = dates::between(start, end) {
                    let ms = u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
                    self.durations.push(ms);
                }
            }
        }

        if let Some(by) = self.by {
            let mut row = |key: &str| add_row(&mut self.rows, &mut self.row_of, key, files, cost);
            match by {
                By::Day | By::Hour => {
                    time_key(&mut self.key, w.created_at.as_deref(), by == By::Hour);
                    row(&self.key);
                }
                By::Status => row(status),
                By::Type if w.steps.is_empty() => row("(no steps)"),
                By::Type => types.for_each(|i| row(kind(i))),
                By::Tag if w.tags.is_empty() => row("(no tags)"),
                By::Tag => {
                    let tags = &w.tags;
                    (0..tags.len())
                        .filter(|&i| !tags[..i].contains(&tags[i]))
                        .for_each(|i| row(&tags[i]));
                }
            }
        }
        Ok(())
    }

    /// Counts the files of one step's output; returns how many.
    fn files(&mut self, output: &str) -> Result<u64> {
        if output == "null" {
            return Ok(0);
        }
        let mut n = 0;
        self.reader
            .each_blob(output, &mut |kind, available, blocked| {
                n += 1;
                match kind {
                    BlobKind::Image => self.images += 1,
                    BlobKind::Video => self.videos += 1,
                    BlobKind::Other => self.others += 1,
                }
                match blocked.filter(|r| !r.trim().is_empty()) {
                    Some(why) => bump_bounded(&mut self.blocked, why),
                    None if !available => self.not_available += 1,
                    None => {}
                }
            })?;
        Ok(n)
    }

    /// Adds a workflow's charges (its `transactions`) to the sums per
    /// currency: summed per currency within the workflow first, then added,
    /// as `api::cost_by_currency` and a sum over workflows would.
    fn charges(&mut self, transactions: &str) -> Result<()> {
        let (sums, charged) = (&mut self.by_currency, &mut self.charged);
        let known = sums.len();
        self.reader.each_charge(transactions, &mut |charge| {
            let Some((currency, amount)) = charge else {
                // A later list replaces the charges read so far.
                sums.truncate(known);
                charged.clear();
                return;
            };
            let i = match sums.iter().position(|(c, _)| c == currency) {
                Some(i) => i,
                None => {
                    sums.push((currency.to_string(), 0.0));
                    sums.len() - 1
                }
            };
            if charged.len() <= i {
                charged.resize(i + 1, None);
            }
            charged[i] = Some(charged[i].map_or(amount, |sum| sum + amount));
        })?;
        for (i, sum) in charged.drain(..).enumerate() {
            match sum {
                Some(sum) if i < known => sums[i].1 += sum,
                Some(sum) => sums[i].1 = sum,
                None => {}
            }
        }
        Ok(())
    }

    fn report(self, by: Option<By>) -> Report {
        // Most workflows first; in time order by day or hour, where a
        // workflow without a readable date goes last. (One sort for every
        // list keeps the binary small.)
        let order: Vec<(String, u64)> = self
            .rows
            .iter()
            .map(|row| {
                let rank = match by {
                    Some(By::Day | By::Hour) => u64::from(row.key != UNKNOWN),
                    _ => row.workflows,
                };
                (row.key.clone(), rank)
            })
            .collect();
        let mut rows = self.rows;
        let rows: Vec<Row> = sorted(order)
            .into_iter()
            .map(|(k, _)| std::mem::take(&mut rows[self.row_of[&k] as usize]))
            .collect();
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
            by_currency: self.by_currency,
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

fn by_name(by: By) -> &'static str {
    match by {
        By::Day => "day",
        By::Hour => "hour",
        By::Tag => "tag",
        By::Type => "type",
        By::Status => "status",
    }
}

/// One more workflow in the `--by` row of `key`.
fn add_row(
    rows: &mut Vec<Row>,
    row_of: &mut HashMap<String, u64>,
    key: &str,
    files: u64,
    cost: f64,
) {
    let i = match row_of.get(key) {
        Some(&i) => i as usize,
        None => {
            row_of.insert(key.to_string(), rows.len() as u64);
            rows.push(Row {
                key: key.to_string(),
                ..Row::default()
            });
            rows.len() - 1
        }
    };
    let row = &mut rows[i];
    row.workflows += 1;
    row.files += files;
    row.cost += cost;
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
    sorted(map.into_iter().collect())
}

/// Largest number first, then by name.
fn sorted(mut v: Vec<(String, u64)>) -> Vec<(String, u64)> {
    v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
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

/// `2026-01-21` (or `2026-01-21T22` with the hour) of an API instant, in
/// UTC, written into `out`.
fn time_key(out: &mut String, created: Option<&str>, hour: bool) {
    use std::fmt::Write as _;
    out.clear();
    let Some(t) = created
        .and_then(dates::parse_instant)
        .and_then(|t| t.checked_to_offset(UtcOffset::UTC))
    else {
        out.push_str(UNKNOWN);
        return;
    };
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}",
        t.year(),
        u8::from(t.month()),
        t.day()
    );
    if hour {
        let _ = write!(out, "T{:02}", t.hour());
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

/// A workflow as `stats` reads it: only the counted fields, text borrowed
/// from the page where it can be, everything else skipped unparsed. Lenient
/// as the API's shapes require: a field missing, null or of another type
/// than expected counts as absent, never as an error (of two equal keys the
/// last wins, as with a `Value`). A step's output, the transactions and the
/// parts of a failed step that tell why stay raw until they are needed.
///
/// One pass of one parser over the workflow's text fills a `Workflow` whose
/// lists are kept from one workflow to the next, so that a count allocates
/// next to nothing per workflow (musl's allocator gives emptied memory back
/// to the kernel, and a walk that allocates per workflow spends half its
/// CPU in mmap and munmap; `make bench` measures it). A small visitor picks the wanted keys of an object
/// as raw values; the values are then read with the parsers the program has
/// anyway (`&str`, `String`, `f64`), which keeps the binary small.
mod view {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{
        self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };
    use serde_json::value::RawValue;

    use crate::error::{Error, Result};

    #[derive(Default)]
    pub struct Workflow<'a> {
        pub id: Option<Cow<'a, str>>,
        pub status: Option<Cow<'a, str>>,
        pub created_at: Option<Cow<'a, str>>,
        pub completed_at: Option<Cow<'a, str>>,
        /// The tags that are strings.
        pub tags: Vec<Cow<'a, str>>,
        pub cost_total: Option<f64>,
        pub transactions: Option<&'a RawValue>,
        pub steps: Vec<Step<'a>>,
    }

    pub struct Step<'a> {
        pub kind: Option<Cow<'a, str>>,
        pub status: Option<Cow<'a, str>>,
        pub output: Option<&'a RawValue>,
        /// `metadata`, `failureReason`, `error`: what `api::failure_reason` reads.
        why: [Option<&'a RawValue>; 3],
    }

    const WORKFLOW_KEYS: &[&str] = &[
        "id",
        "status",
        "createdAt",
        "completedAt",
        "tags",
        "cost",
        "transactions",
        "steps",
    ];
    const STEP_KEYS: &[&str] = &[
        "$type",
        "status",
        "output",
        "metadata",
        "failureReason",
        "error",
    ];
    const COST_KEYS: &[&str] = &["total"];
    /// Where the workflow keys read in place are in `WORKFLOW_KEYS`.
    const TAGS: usize = 4;
    const COST: usize = 5;
    const STEPS: usize = 7;

    impl<'a> Workflow<'a> {
        #[cfg(test)]
        pub fn parse(json: &'a str) -> Result<Workflow<'a>> {
            let mut w = Workflow::default();
            w.read(json)?;
            Ok(w)
        }

        /// Reads one workflow into `self`, in place of the one it held.
        pub fn read(&mut self, json: &'a str) -> Result<()> {
            self.id = None;
            self.status = None;
            self.created_at = None;
            self.completed_at = None;
            self.tags.clear();
            self.cost_total = None;
            self.transactions = None;
            self.steps.clear();
            let mut d = serde_json::Deserializer::from_str(json);
            d.deserialize_any(Read::Workflow(self))
                .and_then(|_| d.end())
                .map_err(|e| {
                    Error::other(format!(
                        "the API sent a body that is not the expected JSON for a workflow: {e}"
                    ))
                })
        }
    }

    impl<'a> Step<'a> {
        fn new(picked: Picked<'a>) -> Step<'a> {
            let [kind, status, output, metadata, reason, error, ..] = picked;
            Step {
                kind: text(kind),
                status: text(status),
                output,
                why: [metadata, reason, error],
            }
        }

        /// The JSON text of its `metadata`, `failureReason` and `error`.
        pub fn why(&self) -> [Option<&'a str>; 3] {
            self.why.map(|raw| raw.map(RawValue::get))
        }
    }

    /// A string value; anything else is no text.
    fn text(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
        let raw = raw?.get();
        if !raw.starts_with('"') {
            return None;
        }
        // Borrowed unless it holds escapes.
        match serde_json::from_str::<&str>(raw) {
            Ok(s) => Some(Cow::Borrowed(s)),
            Err(_) => serde_json::from_str::<String>(raw).ok().map(Cow::Owned),
        }
    }

    /// A number value; anything else is no number.
    fn number(raw: Option<&RawValue>) -> Option<f64> {
        let raw = raw?.get();
        let numeric = raw.starts_with(|c: char| c == '-' || c.is_ascii_digit());
        numeric.then(|| serde_json::from_str(raw).ok()).flatten()
    }

    /// At most this many keys are picked from one object.
    const MAX_KEYS: usize = 8;
    type Picked<'a> = [Option<&'a RawValue>; MAX_KEYS];

    /// What a value is read for. Written by hand rather than derived: a
    /// derived struct refuses a key given twice and a value of the wrong
    /// type, where a count takes what it can. (One visitor for every use
    /// keeps the binary small.)
    enum Read<'w, 'a> {
        /// The raw values of these keys of an object.
        Pick(&'static [&'static str]),
        /// A workflow, from its object.
        Workflow(&'w mut Workflow<'a>),
        /// The items of an array (that are strings, for tags).
        Tags(&'w mut Vec<Cow<'a, str>>),
        Steps(&'w mut Vec<Step<'a>>),
    }

    const NONE: Picked = [None; MAX_KEYS];

    impl<'de> DeserializeSeed<'de> for Read<'_, 'de> {
        type Value = Picked<'de>;

        fn deserialize<D: Deserializer<'de>>(
            self,
            d: D,
        ) -> std::result::Result<Picked<'de>, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Read<'_, 'de> {
        type Value = Picked<'de>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Picked<'de>, E> {
            Ok(NONE)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Picked<'de>, E> {
            Ok(NONE)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Picked<'de>, E> {
            Ok(NONE)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Picked<'de>, E> {
            Ok(NONE)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<Picked<'de>, E> {
            Ok(NONE)
        }
        fn visit_unit<E: de::Error>(self) -> std::result::Result<Picked<'de>, E> {
            Ok(NONE)
        }
        fn visit_seq<A: SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Picked<'de>, A::Error> {
            match self {
                Read::Tags(tags) => {
                    while let Some(raw) = seq.next_element::<&RawValue>()? {
                        tags.extend(text(Some(raw)));
                    }
                }
                Read::Steps(steps) => {
                    while let Some(picked) = seq.next_element_seed(Read::Pick(STEP_KEYS))? {
                        steps.push(Step::new(picked));
                    }
                }
                _ => while seq.next_element::<IgnoredAny>()?.is_some() {},
            }
            Ok(NONE)
        }
        fn visit_map<A: MapAccess<'de>>(
            mut self,
            mut map: A,
        ) -> std::result::Result<Picked<'de>, A::Error> {
            let keys = match self {
                Read::Pick(keys) => keys,
                Read::Workflow(_) => WORKFLOW_KEYS,
                _ => &[],
            };
            let mut picked = NONE;
            while let Some(key) = map.next_key::<Key>()? {
                match (&mut self, keys.iter().position(|k| *k == key.0)) {
                    // A list is read in place; one given again replaces it.
                    (Read::Workflow(w), Some(TAGS)) => {
                        w.tags.clear();
                        map.next_value_seed(Read::Tags(&mut w.tags))?;
                    }
                    (Read::Workflow(w), Some(STEPS)) => {
                        w.steps.clear();
                        map.next_value_seed(Read::Steps(&mut w.steps))?;
                    }
                    (Read::Workflow(w), Some(COST)) => {
                        w.cost_total = number(map.next_value_seed(Read::Pick(COST_KEYS))?[0]);
                    }
                    (_, Some(i)) => picked[i] = Some(map.next_value::<&RawValue>()?),
                    (_, None) => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            if let Read::Workflow(w) = self {
                let [id, status, created, completed, _, _, transactions, ..] = picked;
                w.id = text(id);
                w.status = text(status);
                w.created_at = text(created);
                w.completed_at = text(completed);
                w.transactions = transactions;
            }
            Ok(picked)
        }
    }

    /// An object key, compared and dropped (borrowed unless it holds escapes).
    struct Key<'de>(Cow<'de, str>);

    impl<'de> serde::Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a key")
                }
                fn visit_borrowed_str<E: de::Error>(
                    self,
                    s: &'de str,
                ) -> std::result::Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(s)))
                }
                fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(s.to_string())))
                }
            }
            d.deserialize_str(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Counts workflows given as values, through their JSON text.
    fn count(t: &mut Tally, w: &Value) {
        let text = w.to_string();
        let view = view::Workflow::parse(&text).unwrap();
        t.workflow(&view).unwrap();
    }

    fn tally(by: Option<By>, workflows: &[Value]) -> Report {
        let mut t = Tally::new(by, &[], None);
        for w in workflows {
            count(&mut t, w);
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
        count(&mut t, &w);
        count(&mut t, &w);
        count(&mut t, &json!({"status": "failed"}));
        count(&mut t, &json!({"status": "failed"}));
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
    fn charges_add_up_as_cost_by_currency_says() {
        let tx = |t: &str| -> Value {
            json!({"id": t, "status": "succeeded", "transactions": serde_json::from_str::<Value>(t).unwrap()})
        };
        let all = [
            tx(
                r#"{"list": [{"amount": 0.1, "accountType": "a"}, {"amount": 0.2, "accountType": "b"},
                            {"amount": 0.7, "accountType": "a", "type": "credit"}]}"#,
            ),
            tx(
                r#"{"list": [{"amount": 9, "accountType": "c"}], "list": [{"amount": 0.3, "accountType": "b"},
                            {"amount": 0.1, "accountType": "d"}, {"amount": 0.2, "accountType": "d"}]}"#,
            ),
            tx(
                r#"{"list": [{"amount": 0, "accountType": "e", "type": "credit"}, {"accountType": "f"}]}"#,
            ),
            tx(r#"{"list": 5}"#),
        ];
        let mut want: Vec<(String, f64)> = Vec::new();
        for w in &all {
            for (currency, amount) in api::cost_by_currency(w) {
                match want.iter_mut().find(|(c, _)| *c == currency) {
                    Some((_, sum)) => *sum += amount,
                    None => want.push((currency, amount)),
                }
            }
        }
        let got = tally(None, &all).by_currency;
        assert_eq!(format!("{got:?}"), format!("{want:?}"));
        assert_eq!(
            got.iter().map(|(c, _)| c.as_str()).collect::<String>(),
            "abde"
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
        let odd = RawValue::from_string("[1]".into()).unwrap();
        let mut t = Tally::new(None, &[], None);
        assert!(t.page(&[&odd]).is_err());
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

    #[test]
    fn the_view_reads_what_a_value_reads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/workflows");
        let files = std::fs::read_dir(&dir)
            .unwrap()
            .chain(std::fs::read_dir(dir.join("extra")).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"));
        for path in files {
            let text = std::fs::read_to_string(path).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            let w = view::Workflow::parse(&text).unwrap();
            let s = |k: &str| v[k].as_str();
            assert_eq!(w.id.as_deref(), s("id"));
            assert_eq!(w.status.as_deref(), s("status"));
            assert_eq!(w.created_at.as_deref(), s("createdAt"));
            assert_eq!(w.completed_at.as_deref(), s("completedAt"));
            let tags: Vec<&str> = w.tags.iter().map(|t| &**t).collect();
            let want: Vec<&str> = v["tags"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(tags, want);
            assert_eq!(
                w.cost_total,
                v.pointer("/cost/total").and_then(Value::as_f64)
            );
            let tx: Value = serde_json::from_str(w.transactions.unwrap().get()).unwrap();
            assert_eq!(tx, v["transactions"]);
            let steps = v["steps"].as_array().unwrap();
            assert_eq!(w.steps.len(), steps.len());
            for (a, b) in w.steps.iter().zip(steps) {
                assert_eq!(a.kind.as_deref(), b["$type"].as_str());
                assert_eq!(a.status.as_deref(), b["status"].as_str());
                let out: Value = serde_json::from_str(a.output.unwrap().get()).unwrap();
                assert_eq!(out, b["output"]);
                let [m, r, e] = a.why();
                assert_eq!(
                    api::Reader::default().failure_reason(m, r, e).unwrap(),
                    api::failure_reason(b)
                );
            }
        }
    }

    #[test]
    fn the_view_takes_what_it_can() {
        let text = r#"{"id": "a\"b", "status": "failed", "status": "canceled",
            "tags": ["x", 1, null, {"y": [1]}, "z"], "cost": [1], "cost": {"total": -2.5e0, "x": {}},
            "steps": [5, {"$type": ["no"], "status": "failed", "error": "boom"}, null], "extra": [[{}]]}"#;
        let w = view::Workflow::parse(text).unwrap();
        assert_eq!(w.id.as_deref(), Some("a\"b"));
        assert_eq!(w.status.as_deref(), Some("canceled"));
        let tags: Vec<&str> = w.tags.iter().map(|t| &**t).collect();
        assert_eq!(tags, ["x", "z"]);
        assert_eq!(w.cost_total, Some(-2.5));
        assert_eq!(w.steps.len(), 3);
        assert_eq!(w.steps[1].kind.as_deref(), None);
        let [m, r, e] = w.steps[1].why();
        let mut reader = api::Reader::default();
        assert_eq!(reader.failure_reason(m, r, e).unwrap(), Some("boom"));
        for odd in ["5", "null", "\"w\"", "[1, {\"id\": \"x\"}]"] {
            let w = view::Workflow::parse(odd).unwrap();
            assert!(w.id.as_deref().is_none() && w.steps.is_empty(), "{odd}");
        }
        // Counted: the step without a type, and the failed one's reason.
        let r = tally(None, &[serde_json::from_str(text).unwrap()]);
        assert_eq!(r.by_step_type, [("(unknown)".to_string(), 1)]);
        assert_eq!(r.failure_reasons, [("boom".to_string(), 1)]);
        assert_eq!(r.cost_total, -2.5);
    }
}
