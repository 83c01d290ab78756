//! The write side of the API, stateful as the real one: submit (with
//! `wait`, `whatif`, Buzz and the `externalId` idempotency key), the
//! progress of a submitted workflow, cancel and updates (`PUT`), delete,
//! tags, step metadata, and the v1 jobs of submitted workflows.
//!
//! **Submit** (`POST /v2/consumer/workflows`): the template is checked
//! (`template.rs`; every problem at once, `400` ValidationProblemDetails),
//! as are `wait` (an integer of seconds), `whatif` and `hideMatureContent`
//! (`true` or `false`). Then, in this order:
//! - an `externalId` used before (by this fake: one user) answers `200`
//!   with what it was first given, and makes nothing: the workflow as it
//!   is now (or as it was deleted, `status: "deleted"` with `deletedAt`);
//!   or, when the first use was a `whatif`, that whatif answer again
//!   (API.md: "even when the first use was a whatif"; the fake follows it,
//!   so a real submit after a whatif with the same key runs nothing);
//! - `whatif=true`: `200` with a Workflow that is not stored (its id is a
//!   throwaway: a `GET` of it is `404`), `status: "unassigned"`, its steps
//!   without jobs, `cost` filled in, `transactions.list` the debit it
//!   would make and `insufficientBuzz`; and the headers
//!   `X-Civitai-Cost-Total`, `X-Civitai-Cost-By-Currency: yellow=N;blue=0`,
//!   `X-Civitai-Insufficient-Buzz`. Nothing is charged;
//! - a price above the Buzz left ([`super::Fake::set_buzz`], a million by
//!   default) is `403` with the bare JSON string `"Insufficient buzz"`;
//! - otherwise the workflow is made, stored (listed as the newest) and
//!   charged (a yellow debit in `transactions`): `202` with it, or `200`
//!   when it ended within `wait`.
//!
//! The price: each step costs 1 + 3 × `input.quantity` (1 when absent), so
//! the one-image template of API.md costs 4, all of it yellow Buzz.
//!
//! **Progress.** A new workflow is `preparing` (steps and jobs
//! `unassigned`). Each read (`GET`/`HEAD` of the workflow itself; not the
//! listing, a step or a job) moves it one step on: `processing` (the first
//! step `processing`, its first job `processing` and the others
//! `scheduled`; one more step each read after that), until after
//! `metadata.fake.reads` reads (2 by default; 0 ends it at once) it ends
//! as `metadata.fake.end` says (`succeeded` by default; `failed`,
//! `expired`, `canceled`), e.g. `"metadata": {"fake": {"end": "failed",
//! "reads": 5}}`. On success every step has its output: `output.images`
//! (a PNG each), `output.video` and `additionalVideos` (MP4) for `video*`
//! step types but `videoFrameExtraction`, `output.blob` (MP3) for
//! `textToSpeech`; `input.quantity` files per step, `input.batchSize` per
//! job (all in one job by default); each blob has `jobId`, `nsfwLevel:
//! "pg"` and a signed URL on the CDN, which serves it from then on. On a
//! failure the step that was running fails (the ones before succeeded,
//! the ones after are canceled); on expiry it and the ones after expire.
//! A workflow that ends failed, expired or canceled gets back the Buzz of
//! its steps that did not succeed (a yellow credit). Every job answers
//! `GET /v1/consumer/jobs/{id}` as it stands (`Initialized`, `Claimed`,
//! `Updated`, `Succeeded`, `Failed`, `Expired`, `Deleted`).
//!
//! **Wait.** One second of `wait` is one tick of real time
//! ([`super::Fake::set_wait_tick`], 50 ms by default) and each tick is one
//! more read, at most 100 ticks: a submit with `wait=3` of a workflow that
//! needs 3 reads answers `200` ended after 150 ms; with `wait=2`, `202`
//! processing after 100 ms. A `GET` of a workflow with `wait=N` (a number)
//! does its own read and then the same: `200` when it has ended, `202`
//! when not (a fixture workflow that is still running holds all N ticks).
//!
//! **Cancel** (`PUT /v2/consumer/workflows/{id}` with `{"status":
//! "canceled"}`): `204`; the workflow and its unfinished steps and jobs
//! become `canceled` (a fixture's v1 jobs too: their last event becomes
//! `Deleted`). A workflow that has already ended: `400` ProblemDetails
//! "Workflow has already completed", nothing changed (API.md leaves it
//! open: [`super::Fake::cancel_ended_answers_204`] answers `204` with no
//! change instead). `metadata`, `tags` and `allowMatureContent` in the
//! same body replace those; any other `status` is `400`; unknown fields
//! are ignored.
//!
//! **Delete**: `204`; an unfinished workflow is canceled first (with its
//! refund); then every read of it (`GET`, its steps, its jobs, writes) is
//! `404` and the listing leaves it out. Its output blobs stay on the CDN.
//!
//! **Tags**: `POST .../tags` with a bare JSON string adds it (`204`; one
//! already there: `204`, no change; an 11th tag: `400`; anything but a
//! JSON string: `400`); `DELETE .../tags/{tag}` (percent-decoded) removes
//! it (`204` even when the workflow has no such tag: a choice, API.md does
//! not say); `DELETE .../tags` removes them all. **Step metadata**: `PUT
//! .../steps/{name}` with exactly `{"metadata": {...}}`: `204`.
//!
//! Times come from a fake clock that starts at 2026-01-22T09:00:00Z, after
//! every fixture, and moves one second per write; ids are UUIDv7 of the
//! creation time, as the API's are.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::http::{Reply, Request};
use super::routes::{not_found, validation_errors};
use super::state::Shared;
use super::stats::{
    days_from_civil, iso, iso_seconds, last_event_type, timespan, v1_type, v1_workflow_id, Rng,
};
use super::template::{self, Errors, StepTemplate, Template};
use super::upload::{Blobs, Stored};

/// The real time one second of `wait` takes, unless set.
pub const DEFAULT_WAIT_TICK: Duration = Duration::from_millis(50);
/// The Buzz an account has, unless set.
pub const DEFAULT_BUZZ: u64 = 1_000_000;
/// The most ticks a `wait` holds a request (the API gives up after about
/// 100 s).
const MAX_TICKS: u64 = 100;
const DAY_MS: i64 = 86_400_000;

/// What a used `externalId` points at.
enum Keyed {
    /// A workflow made by a submit (in the store, or deleted).
    Workflow(String),
    /// The answer of a whatif.
    WhatIf(Value),
}

/// The write side's state.
pub struct Live {
    /// The fake clock, in ms since the epoch.
    clock: i64,
    rng: Rng,
    /// Yellow Buzz left.
    pub buzz: u64,
    /// Workflows made by submits (not whatifs, not replays).
    pub submits: usize,
    plans: HashMap<String, Plan>,
    keys: HashMap<String, Keyed>,
    /// The workflow of each job of a submitted workflow.
    job_owner: HashMap<String, String>,
    /// v1 jobs of fixture workflows as a cancel left them.
    job_overrides: HashMap<String, Value>,
    /// Jobs of deleted workflows.
    gone_jobs: HashSet<String>,
    /// Deleted workflows, as deleted, for `externalId` replays.
    deleted: HashMap<String, Value>,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            clock: days_from_civil(2026, 1, 22) * DAY_MS + 9 * 3_600_000,
            rng: Rng::for_workflow(0x5B_0000),
            buzz: DEFAULT_BUZZ,
            submits: 0,
            plans: HashMap::new(),
            keys: HashMap::new(),
            job_owner: HashMap::new(),
            job_overrides: HashMap::new(),
            gone_jobs: HashSet::new(),
            deleted: HashMap::new(),
        }
    }
}

impl Live {
    /// The fake clock, moved on by a second: the time of a write.
    pub fn tick(&mut self) -> i64 {
        self.clock += 1000;
        self.clock
    }

    /// A workflow id as the API makes them: `0-` and a UUIDv7 of `ms`.
    fn workflow_id(&mut self, ms: i64) -> String {
        let r = &mut self.rng;
        format!(
            "0-{:08x}-{:04x}-7{}-{}{}-{}",
            ms >> 16,
            ms & 0xffff,
            r.hex(3),
            r.pick(&['8', '9', 'a', 'b']),
            r.hex(3),
            r.hex(12)
        )
    }

    fn tx(&mut self, kind: &str, amount: u64) -> Value {
        json!({"type": kind, "amount": amount, "id": format!("tx-{}", self.rng.hex(12)),
               "accountType": "yellow"})
    }

    /// Gives `amount` back for `doc` (a yellow credit), if any.
    fn refund(&mut self, doc: &mut Value, amount: u64) {
        if amount == 0 {
            return;
        }
        let tx = self.tx("credit", amount);
        if let Some(list) = doc["transactions"]["list"].as_array_mut() {
            list.push(tx);
        }
        self.buzz += amount;
    }

    /// What `key` was first given, as it is now.
    fn keyed(&self, key: &str, store: &super::state::Workflows) -> Option<Value> {
        match self.keys.get(key)? {
            Keyed::WhatIf(doc) => Some(doc.clone()),
            Keyed::Workflow(id) => store.get(id).or_else(|| self.deleted.get(id)).cloned(),
        }
    }
}

/// What files a step makes.
#[derive(Clone, Copy)]
enum Kind {
    Image,
    Video,
    Audio,
}

impl Kind {
    fn of(step_type: &str) -> Kind {
        match step_type {
            "videoFrameExtraction" => Kind::Image,
            t if t.starts_with("video") => Kind::Video,
            "textToSpeech" => Kind::Audio,
            _ => Kind::Image,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Audio => "audio",
        }
    }

    fn ext(self) -> &'static str {
        match self {
            Kind::Image => "png",
            Kind::Video => "mp4",
            Kind::Audio => "mp3",
        }
    }

    /// The bytes and type of each file: a fixture PNG or MP4, or 4 KiB of
    /// pattern bytes for audio.
    fn file(self, media: &Path) -> Stored {
        let (bytes, ctype) = match self {
            Kind::Image => (
                std::fs::read(media.join("K3M9Q2Z7XW8V4T6R1P0N5B2C7D.png")).unwrap(),
                "image/png",
            ),
            Kind::Video => (
                std::fs::read(media.join("V1DE0AAAAB2C3D4E5F6G7H8J9K.mp4")).unwrap(),
                "video/mp4",
            ),
            Kind::Audio => (
                (0..4096).map(super::cdn::pattern_byte).collect(),
                "audio/mpeg",
            ),
        };
        Stored {
            bytes: Arc::new(bytes),
            content_type: ctype.into(),
        }
    }
}

/// How a submitted workflow goes.
struct Plan {
    created: i64,
    /// Reads so far, and the reads after which it ends, and how.
    reads: u32,
    needed: u32,
    end: &'static str,
    steps: Vec<PlanStep>,
}

struct PlanStep {
    cost: u64,
    kind: Kind,
    size: (u64, u64),
    jobs: Vec<PlanJob>,
}

struct PlanJob {
    id: String,
    /// The ids of the files it makes.
    blobs: Vec<String>,
}

impl Plan {
    fn new(t: &Template, live: &mut Live, blobs: &mut Blobs, created: i64) -> Plan {
        let steps = t
            .steps
            .iter()
            .map(|s| {
                let kind = Kind::of(&s.ty);
                let mut left = s.quantity;
                let mut jobs = Vec::new();
                while left > 0 {
                    let n = s.batch.min(left);
                    left -= n;
                    jobs.push(PlanJob {
                        id: live.rng.uuid_v4(),
                        blobs: (0..n).map(|_| blobs.new_id(kind.ext())).collect(),
                    });
                }
                let dim = |k: &str, d: u64| s.input[k].as_u64().unwrap_or(d);
                let d = if matches!(kind, Kind::Video) {
                    512
                } else {
                    1024
                };
                PlanStep {
                    cost: s.cost(),
                    kind,
                    size: (dim("width", d), dim("height", d)),
                    jobs,
                }
            })
            .collect();
        Plan {
            created,
            reads: 0,
            needed: t.reads,
            end: t.end,
            steps,
        }
    }

    /// The time of the n-th read.
    fn t(&self, n: usize) -> i64 {
        self.created + 800 + n as i64 * 3000
    }
}

fn is_final(status: &Value) -> bool {
    matches!(
        status.as_str(),
        Some("succeeded" | "failed" | "expired" | "canceled" | "deleted")
    )
}

/// A step as submitted, before it runs.
fn step_doc(s: &StepTemplate) -> Value {
    json!({
        "$type": s.ty, "name": s.name, "priority": s.priority, "timeout": s.timeout,
        "retries": s.retries, "metadata": s.metadata, "input": s.input,
        "status": "unassigned", "startedAt": null, "completedAt": null,
        "estimatedProgressRate": null, "jobs": [], "output": null
    })
}

/// A workflow as submitted: `preparing`, or `unassigned` for a whatif.
fn workflow_doc(id: &str, t: &Template, created: i64, cost: u64, hide: Option<bool>) -> Value {
    json!({
        "id": id,
        "createdAt": iso(created),
        "status": "preparing",
        "startedAt": null,
        "completedAt": null,
        "tags": t.tags,
        "metadata": t.metadata,
        "arguments": {},
        "externalId": t.external_id,
        "callbacks": t.callbacks,
        "allowMatureContent": hide.map(|h| !h),
        "nsfwLevel": null,
        "cost": {"base": cost, "factors": null, "fixed": null,
                 "tips": {"civitai": 0, "creators": 0}, "fees": null, "total": cost},
        "transactions": {"list": [], "insufficientBuzz": false},
        "steps": t.steps.iter().map(step_doc).collect::<Vec<_>>(),
        "deletedAt": null
    })
}

/// A short stable signature for a blob's URL.
fn sig_of(id: &str) -> String {
    let mut h: u64 = 0x1234_5678_9abc_def0;
    for b in id.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// One output file of a job that ended at `end`.
fn blob_doc(kind: Kind, id: &str, job: &str, end: i64, size: (u64, u64)) -> Value {
    let exp = end + DAY_MS;
    let mut b = json!({
        "type": kind.name(), "id": id, "available": true,
        "url": format!("{{{{CDN}}}}/signed/{id}?sig={}&exp={}", sig_of(id), exp / 1000),
        "urlExpiresAt": iso_seconds(exp), "jobId": job, "nsfwLevel": "pg",
        "blockedReason": null
    });
    match kind {
        Kind::Audio => b["duration"] = json!(5),
        _ => {
            b["width"] = json!(size.0);
            b["height"] = json!(size.1);
        }
    }
    if matches!(kind, Kind::Image) {
        b["previewUrl"] = json!(format!(
            "{{{{CDN}}}}/signed/{id}?width=450&optimized=true&sig={}&exp={}",
            sig_of(id),
            exp / 1000
        ));
    }
    b
}

/// Sets `doc` (status, times, steps, jobs, outputs) to where `plan` is;
/// outputs go on the CDN. Returns the Buzz to give back when this ended
/// it failed, expired or canceled.
fn render(doc: &mut Value, plan: &Plan, blobs: &mut Blobs, media: &Path) -> u64 {
    let was_final = is_final(&doc["status"]);
    let n = plan.steps.len();
    let k = plan.reads;
    let ended = k >= plan.needed;
    let cur = (if ended { plan.needed } else { k }).saturating_sub(1) as usize;
    let cur = cur.min(n - 1);
    let began = k > 0 || ended;
    let t_end = plan.t((k as usize).max(n));
    let status = match () {
        _ if ended => plan.end,
        _ if k == 0 => "preparing",
        _ => "processing",
    };
    doc["status"] = json!(status);
    doc["startedAt"] = json!(began.then(|| iso(plan.t(0))));
    doc["completedAt"] = json!(ended.then(|| iso(t_end + 40)));
    let mut any_output = false;
    for (i, ps) in plan.steps.iter().enumerate() {
        let st = match () {
            _ if !ended && k == 0 => "unassigned",
            _ if !ended && i < cur => "succeeded",
            _ if !ended && i == cur => "processing",
            _ if !ended => "unassigned",
            _ if plan.end == "succeeded" || i < cur => "succeeded",
            _ if i == cur || plan.end == "expired" => plan.end,
            _ => "canceled",
        };
        let ran = began && (i <= cur || ended && plan.end == "succeeded");
        let started = ran.then(|| plan.t(i) + 20);
        let done = !matches!(st, "unassigned" | "processing");
        let completed = done.then(|| if ran { plan.t(i + 1).min(t_end) } else { t_end });
        let jobs: Vec<Value> = ps
            .jobs
            .iter()
            .enumerate()
            .map(|(j, pj)| {
                let js = match st {
                    "processing" if j > 0 => "scheduled",
                    s => s,
                };
                let job_started = (ran && js != "scheduled").then(|| started.unwrap() + 5);
                json!({
                    "id": pj.id, "status": js,
                    "startedAt": job_started.map(iso), "completedAt": completed.map(iso),
                    "queuePosition": {"support": "available",
                                      "precedingJobs": if js == "scheduled" { j } else { 0 }},
                    "cost": 2 * pj.blobs.len() as u64,
                    "estimatedProgressRate": (js == "processing").then_some(0.5)
                })
            })
            .collect();
        let output = if st == "succeeded" {
            any_output = true;
            let end = completed.unwrap();
            let mut files = Vec::new();
            for pj in &ps.jobs {
                for id in &pj.blobs {
                    blobs
                        .stored
                        .entry(id.clone())
                        .or_insert_with(|| ps.kind.file(media));
                    files.push(blob_doc(ps.kind, id, &pj.id, end, ps.size));
                }
            }
            match ps.kind {
                Kind::Image => json!({"images": files}),
                Kind::Video => {
                    let first = files.remove(0);
                    json!({"video": first, "additionalVideos": files})
                }
                Kind::Audio => {
                    let first = files.remove(0);
                    json!({"blob": first, "additionalBlobs": files})
                }
            }
        } else {
            Value::Null
        };
        let step = &mut doc["steps"][i];
        step["status"] = json!(st);
        step["startedAt"] = json!(started.map(iso));
        step["completedAt"] = json!(completed.map(iso));
        step["estimatedProgressRate"] = json!((st == "processing").then_some(0.5));
        step["jobs"] = Value::Array(jobs);
        step["output"] = output;
    }
    doc["nsfwLevel"] = json!(any_output.then_some("pg"));
    if was_final || !ended || plan.end == "succeeded" {
        return 0;
    }
    unsucceeded_cost(doc, plan)
}

/// The Buzz of the steps of `doc` that did not succeed.
fn unsucceeded_cost(doc: &Value, plan: &Plan) -> u64 {
    plan.steps
        .iter()
        .enumerate()
        .filter(|(i, _)| doc["steps"][*i]["status"] != "succeeded")
        .map(|(_, s)| s.cost)
        .sum()
}

/// One more read of workflow `id`: a submitted one moves on. The
/// workflow as it is then (`None`: there is none).
fn advance(shared: &Shared, id: &str) -> Option<Value> {
    let mut store = shared.workflows.lock().unwrap();
    let mut live = shared.live.lock().unwrap();
    let doc = store.get_mut(id)?;
    if let Some(plan) = live.plans.get_mut(id) {
        if !is_final(&doc["status"]) {
            plan.reads += 1;
            let mut blobs = shared.blobs.lock().unwrap();
            let refund = render(doc, plan, &mut blobs, &shared.fixtures.media);
            drop(blobs);
            live.refund(doc, refund);
        }
    }
    Some(doc.clone())
}

/// Holds a request for `seconds` of `wait` (one tick each), reading
/// workflow `id` each tick, until it ends; what it is at the end.
fn hold(shared: &Shared, id: &str, mut doc: Value, seconds: u64) -> Value {
    let tick = *shared.wait_tick.lock().unwrap();
    for _ in 0..seconds.min(MAX_TICKS) {
        if is_final(&doc["status"]) {
            break;
        }
        std::thread::sleep(tick);
        match advance(shared, id) {
            Some(d) => doc = d,
            None => break,
        }
    }
    doc
}

fn workflow_reply(status: u16, doc: &Value) -> Reply {
    Reply::json(status, &serde_json::to_string_pretty(doc).unwrap())
}

fn no_content() -> Reply {
    Reply::Full {
        status: 204,
        headers: vec![],
        body: vec![],
    }
}

fn problem_of(key: &str, msg: &str) -> Reply {
    let mut errors = Errors::new();
    errors.insert(key.into(), vec![msg.into()]);
    validation_errors(&errors)
}

/// A `true`/`false` query parameter (any case), if given.
fn bool_param(req: &Request, key: &str, errors: &mut Errors) -> Option<bool> {
    let v = req.param(key)?;
    match v.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            errors.entry(key.into()).or_default().push(format!(
                "The value '{v}' is not valid for {key}: true or false."
            ));
            None
        }
    }
}

/// `POST /v2/consumer/workflows`.
pub fn submit(req: &Request, shared: &Shared) -> Reply {
    let mut errors = Errors::new();
    let wait = match req.param("wait").map(str::parse::<u64>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            let v = req.param("wait").unwrap_or_default();
            errors.entry("wait".into()).or_default().push(format!(
                "The value '{v}' is not valid for wait: a whole number of seconds."
            ));
            0
        }
    };
    let whatif = bool_param(req, "whatif", &mut errors) == Some(true);
    let hide = bool_param(req, "hideMatureContent", &mut errors);
    let t = match template::parse(&req.body) {
        Ok(t) => Some(t),
        Err(e) => {
            for (k, v) in e {
                errors.entry(k).or_default().extend(v);
            }
            None
        }
    };
    let Some(t) = t.filter(|_| errors.is_empty()) else {
        return validation_errors(&errors);
    };

    let mut store = shared.workflows.lock().unwrap();
    let mut live = shared.live.lock().unwrap();
    if let Some(doc) = t.external_id.as_ref().and_then(|k| live.keyed(k, &store)) {
        return workflow_reply(200, &doc);
    }
    let cost = t.cost();
    let insufficient = cost > live.buzz;
    let created = live.tick();
    let id = live.workflow_id(created);
    if whatif {
        let mut doc = workflow_doc(&id, &t, created, cost, hide);
        doc["status"] = json!("unassigned");
        doc["transactions"] = json!({
            "list": [{"type": "debit", "amount": cost, "accountType": "yellow"}],
            "insufficientBuzz": insufficient
        });
        if let Some(key) = &t.external_id {
            live.keys.insert(key.clone(), Keyed::WhatIf(doc.clone()));
        }
        return workflow_reply(200, &doc)
            .header("X-Civitai-Cost-Total", &cost.to_string())
            .header(
                "X-Civitai-Cost-By-Currency",
                &format!("yellow={cost};blue=0"),
            )
            .header("X-Civitai-Insufficient-Buzz", &insufficient.to_string());
    }
    if insufficient {
        return Reply::json(403, "\"Insufficient buzz\"");
    }

    let mut blobs = shared.blobs.lock().unwrap();
    let plan = Plan::new(&t, &mut live, &mut blobs, created);
    let mut doc = workflow_doc(&id, &t, created, cost, hide);
    let debit = live.tx("debit", cost);
    doc["transactions"]["list"] = json!([debit]);
    live.buzz -= cost;
    live.submits += 1;
    let refund = render(&mut doc, &plan, &mut blobs, &shared.fixtures.media);
    drop(blobs);
    live.refund(&mut doc, refund);
    for job in plan.steps.iter().flat_map(|s| &s.jobs) {
        live.job_owner.insert(job.id.clone(), id.clone());
    }
    if let Some(key) = &t.external_id {
        live.keys.insert(key.clone(), Keyed::Workflow(id.clone()));
    }
    live.plans.insert(id.clone(), plan);
    store.put(doc.clone());
    drop(live);
    drop(store);

    let doc = hold(shared, &id, doc, wait);
    let dropped = shared
        .drop_after_create
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if dropped {
        return Reply::Close;
    }
    workflow_reply(if is_final(&doc["status"]) { 200 } else { 202 }, &doc)
}

/// `GET` (or `HEAD`) `/v2/consumer/workflows/{id}`: a read, which moves a
/// submitted workflow on; with `wait`, held as a submit is.
pub fn read(req: &Request, shared: &Shared, id: &str) -> Reply {
    let wait = match req.param("wait") {
        None => None,
        Some(w) => match w.parse::<f64>() {
            Ok(s) if s >= 0.0 && s.is_finite() => Some(s.ceil() as u64),
            _ => {
                return problem_of(
                    "wait",
                    &format!("The value '{w}' is not valid for wait: seconds."),
                )
            }
        },
    };
    let Some(doc) = advance(shared, id) else {
        return not_found(&format!("Workflow {id}"));
    };
    match wait {
        None => workflow_reply(200, &doc),
        Some(s) => {
            let doc = hold(shared, id, doc, s);
            workflow_reply(if is_final(&doc["status"]) { 200 } else { 202 }, &doc)
        }
    }
}

/// Cancels workflow `id` (which has not ended): its unfinished steps and
/// jobs too; a submitted one gets its refund, a fixture's v1 jobs their
/// `Deleted` event.
fn cancel(shared: &Shared, store: &mut super::state::Workflows, live: &mut Live, id: &str) {
    let now = match live.plans.get(id) {
        Some(p) => p.t(p.reads as usize) + 1500,
        None => live.tick(),
    };
    let Some(doc) = store.get_mut(id) else { return };
    doc["status"] = json!("canceled");
    if doc["completedAt"].is_null() {
        doc["completedAt"] = json!(iso(now));
    }
    let mut canceled = Vec::new();
    if let Some(steps) = doc["steps"].as_array_mut() {
        for step in steps {
            if is_final(&step["status"]) {
                continue;
            }
            step["status"] = json!("canceled");
            step["completedAt"] = json!(iso(now));
            step["estimatedProgressRate"] = Value::Null;
            for job in step["jobs"].as_array_mut().into_iter().flatten() {
                if !is_final(&job["status"]) {
                    job["status"] = json!("canceled");
                    job["completedAt"] = json!(iso(now));
                    job["estimatedProgressRate"] = Value::Null;
                    canceled.extend(job["id"].as_str().map(String::from));
                }
            }
        }
    }
    if let Some(refund) = live.plans.get(id).map(|plan| unsucceeded_cost(doc, plan)) {
        live.refund(doc, refund);
        return;
    }
    for job in canceled {
        if let Some(fixture) = shared.fixtures.jobs.get(&job) {
            let mut j = fixture.clone();
            j["lastEvent"]["type"] = json!("Deleted");
            j["lastEvent"]["dateTime"] = json!(iso(now));
            j["lastEvent"]["context"] = json!({});
            live.job_overrides.insert(job, j);
        }
    }
}

/// `PUT /v2/consumer/workflows/{id}`: cancel, and/or replace `metadata`,
/// `tags`, `allowMatureContent`.
pub fn update(req: &Request, shared: &Shared, id: &str) -> Reply {
    let body = match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(o)) => o,
        _ => return problem_of("$", "The body must be a JSON object."),
    };
    let mut errors = Errors::new();
    let mut bad = |key: &str, msg: &str| errors.entry(key.into()).or_default().push(msg.into());
    let cancel_it = match body.get("status") {
        None | Some(Value::Null) => false,
        Some(s) if s == "canceled" => true,
        Some(_) => {
            bad("status", "Only 'canceled' can be set.");
            false
        }
    };
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => None,
        Some(m @ Value::Object(_)) => Some(m.clone()),
        Some(_) => {
            bad("metadata", "metadata must be a JSON object.");
            None
        }
    };
    let mature = match body.get("allowMatureContent") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            bad(
                "allowMatureContent",
                "allowMatureContent must be true or false.",
            );
            None
        }
    };
    let tags = match body.get("tags") {
        None | Some(Value::Null) => None,
        Some(t) => Some(template::check_tags(t, "tags", &mut errors)),
    };
    if !errors.is_empty() {
        return validation_errors(&errors);
    }
    let mut store = shared.workflows.lock().unwrap();
    let mut live = shared.live.lock().unwrap();
    let Some(doc) = store.get_mut(id) else {
        return not_found(&format!("Workflow {id}"));
    };
    let ended = is_final(&doc["status"]);
    if cancel_it && ended && !shared.cancel_ended_204.load(Ordering::SeqCst) {
        return Reply::problem(400, "Bad Request", "Workflow has already completed");
    }
    if let Some(m) = metadata {
        doc["metadata"] = m;
    }
    if let Some(t) = tags {
        doc["tags"] = json!(t);
    }
    if let Some(b) = mature {
        doc["allowMatureContent"] = json!(b);
    }
    if cancel_it && !ended {
        cancel(shared, &mut store, &mut live, id);
    }
    no_content()
}

/// `DELETE /v2/consumer/workflows/{id}`.
pub fn delete(shared: &Shared, id: &str) -> Reply {
    let mut store = shared.workflows.lock().unwrap();
    let mut live = shared.live.lock().unwrap();
    let Some(doc) = store.get(id) else {
        return not_found(&format!("Workflow {id}"));
    };
    if !is_final(&doc["status"]) {
        cancel(shared, &mut store, &mut live, id);
    }
    let mut doc = store.remove(id).unwrap();
    let now = live.tick();
    doc["status"] = json!("deleted");
    doc["deletedAt"] = json!(iso(now));
    for step in doc["steps"].as_array().into_iter().flatten() {
        for job in step["jobs"].as_array().into_iter().flatten() {
            if let Some(j) = job["id"].as_str() {
                live.gone_jobs.insert(j.to_string());
            }
        }
    }
    live.plans.remove(id);
    live.deleted.insert(id.to_string(), doc);
    no_content()
}

/// The tags of a stored workflow, to change.
fn tags_of(doc: &mut Value) -> &mut Vec<Value> {
    if !doc["tags"].is_array() {
        doc["tags"] = json!([]);
    }
    doc["tags"].as_array_mut().unwrap()
}

/// `POST /v2/consumer/workflows/{id}/tags` with a bare JSON string.
pub fn add_tag(req: &Request, shared: &Shared, id: &str) -> Reply {
    let tag = match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::String(s)) => s,
        _ => return problem_of("$", "The body must be a JSON string: the tag."),
    };
    if let Some(problem) = template::tag_problem(&tag) {
        return problem_of("tag", &problem);
    }
    let mut store = shared.workflows.lock().unwrap();
    let Some(doc) = store.get_mut(id) else {
        return not_found(&format!("Workflow {id}"));
    };
    let tags = tags_of(doc);
    if !tags.iter().any(|t| *t == tag) {
        if tags.len() >= 10 {
            return problem_of("tags", "A workflow has at most 10 tags.");
        }
        tags.push(json!(tag));
    }
    no_content()
}

/// `DELETE /v2/consumer/workflows/{id}/tags/{tag}`, or all of them.
pub fn remove_tags(shared: &Shared, id: &str, tag: Option<&str>) -> Reply {
    let mut store = shared.workflows.lock().unwrap();
    let Some(doc) = store.get_mut(id) else {
        return not_found(&format!("Workflow {id}"));
    };
    let tags = tags_of(doc);
    match tag {
        Some(tag) => tags.retain(|t| t != tag),
        None => tags.clear(),
    }
    no_content()
}

/// `PUT /v2/consumer/workflows/{id}/steps/{name}` with `{"metadata": {...}}`.
pub fn step_metadata(req: &Request, shared: &Shared, id: &str, name: &str) -> Reply {
    let metadata = match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(o)) if o.len() == 1 && o.get("metadata").is_some_and(Value::is_object) => {
            o["metadata"].clone()
        }
        _ => return problem_of("$", "A step takes exactly {\"metadata\": {...}}."),
    };
    let mut store = shared.workflows.lock().unwrap();
    let step = store.get_mut(id).and_then(|w| {
        w["steps"]
            .as_array_mut()?
            .iter_mut()
            .find(|s| s["name"].as_str() == Some(name))
    });
    match step {
        Some(s) => {
            s["metadata"] = metadata;
            no_content()
        }
        None => not_found(&format!("Step {name} of workflow {id}")),
    }
}

/// `GET /v1/consumer/jobs/{id}`: a submitted workflow's job as it stands,
/// a fixture's (as a cancel left it), or 404 once its workflow is deleted.
pub fn job(shared: &Shared, id: &str) -> Option<Value> {
    let store = shared.workflows.lock().unwrap();
    let live = shared.live.lock().unwrap();
    if live.gone_jobs.contains(id) {
        return None;
    }
    if let Some(j) = live.job_overrides.get(id) {
        return Some(j.clone());
    }
    if let Some(doc) = live.job_owner.get(id).and_then(|w| store.get(w)) {
        if let Some(plan) = live.plans.get(doc["id"].as_str().unwrap_or("")) {
            return job_status(doc, plan, id);
        }
    }
    shared.fixtures.jobs.get(id).cloned()
}

/// The v1 type of a step type.
fn job_type(step_type: &str) -> String {
    match step_type {
        "textToImage"
        | "imageGen"
        | "videoGen"
        | "comfy"
        | "mediaHash"
        | "imageUpscaler"
        | "videoFrameExtraction"
        | "textToSpeech"
        | "wdTagging" => v1_type(step_type).into(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        }
    }
}

/// Blob objects with `jobId == job` under `v`.
fn blobs_of_job(v: &Value, job: &str, out: &mut Vec<Value>) {
    match v {
        Value::Object(o) => {
            if o.get("jobId").and_then(Value::as_str) == Some(job) && o["id"].is_string() {
                out.push(json!({"blobKey": o["id"], "available": o["available"]}));
            }
            o.values().for_each(|x| blobs_of_job(x, job, out));
        }
        Value::Array(a) => a.iter().for_each(|x| blobs_of_job(x, job, out)),
        _ => {}
    }
}

/// The v1 JobStatus of job `id` of submitted workflow `doc`.
fn job_status(doc: &Value, plan: &Plan, id: &str) -> Option<Value> {
    let (step, job) = doc["steps"].as_array()?.iter().find_map(|s| {
        let j = s["jobs"].as_array()?.iter().find(|j| j["id"] == id)?;
        Some((s, j))
    })?;
    let status = job["status"].as_str().unwrap_or("");
    let event = last_event_type(status);
    let context = match event {
        "Succeeded" => json!({"hive_csam_score": "0.00 %, 0.00 %",
                              "hive_vlm_summary": "PG, No_Child", "blocked_reason": null,
                              "nsfwLevel": "pg", "gpu": "NVIDIA RTX 4090", "sampler_ms": 2900}),
        "Failed" => json!({"error": "worker lost connection", "hive_csam_score": null}),
        "Updated" => json!({"progress": 0.5, "gpu": "NVIDIA RTX 4090"}),
        _ => json!({}),
    };
    let mut result = Vec::new();
    if status == "succeeded" {
        blobs_of_job(&step["output"], id, &mut result);
    }
    let created = plan.created + 300;
    let when = [&job["completedAt"], &job["startedAt"]]
        .into_iter()
        .find_map(|t| t.as_str().map(String::from))
        .unwrap_or_else(|| iso(created));
    let worked = matches!(event, "Succeeded" | "Failed" | "Updated" | "Claimed");
    let ran = matches!(event, "Succeeded" | "Failed");
    let v1_id = v1_workflow_id(plan.created);
    let name = &step["name"];
    let cost = &job["cost"];
    let job_type = job_type(step["$type"].as_str().unwrap_or(""));
    let mut params = step["input"].clone();
    if !params.is_object() {
        params = Value::Object(Map::new());
    }
    let scanned = params.get("prompt").is_some();
    Some(json!({
        "jobId": id,
        "cost": cost,
        "job": {
            "id": id, "type": job_type, "createdAt": iso(created),
            "expireAt": iso(created + 3_600_000), "cost": cost, "maxRetryAttempt": 3,
            "issuedBy": "orchestration-workflows",
            "properties": {"workflowId": v1_id, "stepName": name, "userId": 12345,
                           "priority": step["priority"]},
            "params": params,
            "promptClassificationResult": {"sexual": false, "young": false, "cr": false,
                                           "scan": scanned}
        },
        "result": result,
        "lastEvent": {
            "jobId": id, "type": event, "dateTime": when,
            "provider": worked.then_some("ValdiAI"), "workerId": worked.then_some("w-fake"),
            "jobDuration": ran.then(|| timespan(2980)), "retryAttempt": 0, "cost": cost,
            "jobProperties": {"workflowId": v1_id, "stepName": name}, "jobType": job_type,
            "claimHasCompleted": ran, "jobHasCompleted": ran, "context": context
        },
        "serviceProviders": {},
        "scheduled": true
    }))
}
