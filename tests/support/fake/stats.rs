//! The generated dataset of `Options::stats`: N workflows shaped like the
//! fixtures (and API.md), the same for the same N on every run (a
//! fixed-seed generator, no clock), and varied the way an account's history
//! is: every final status and `processing` (the newest one always is),
//! step types with their output shapes (`output.images`, `output.video` and
//! `additionalVideos`, `output.blob`, `output.frames`, `output.audioBlob`,
//! and steps with no blob), several steps for some, blocked blobs
//! (`available: false`, `url: null`, a `blockedReason`), `createdAt` spread
//! over the week from 2026-01-14 (before the fixture workflows, so creation
//! order stays `createdAt` order), varied durations, `cost` with tips,
//! yellow and blue debits and some credits (refunds), tags from a small
//! set, failed steps with a `metadata.failureReason` (or none).
//!
//! Each job also gets its v1 JobStatus (result, last event, a scan context
//! in one of the shapes the API sends), and each available blob a size, so
//! the CDN can serve it.

use serde_json::{json, Value};

/// What [`generate`] makes.
pub struct Dataset {
    /// Oldest first.
    pub workflows: Vec<Value>,
    /// The v1 JobStatus of every job of those workflows.
    pub jobs: Vec<Value>,
    /// Every available blob, with its size in bytes.
    pub blobs: Vec<(String, u64)>,
}

/// N workflows (and their jobs and blobs), the same for the same N.
pub fn generate(n: usize) -> Dataset {
    let mut data = Dataset {
        workflows: Vec::with_capacity(n),
        jobs: Vec::new(),
        blobs: Vec::new(),
    };
    for i in 0..n {
        let w = workflow(i, n, &mut data);
        data.workflows.push(w);
    }
    data
}

const DAY_MS: i64 = 86_400_000;
/// The dataset's week: from 2026-01-14T00:00Z.
const DAYS: i64 = 7;

fn start_ms() -> i64 {
    days_from_civil(2026, 1, 14) * DAY_MS
}

/// splitmix64, seeded per workflow so that workflow `i` does not depend on
/// how many come after it (only its time slot does).
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn for_workflow(i: usize) -> Rng {
        Rng(0x5EED_C1F1_7A15_0001 ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// lo..=hi
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    pub(super) fn hex(&mut self, digits: usize) -> String {
        (0..digits)
            .map(|_| char::from_digit(self.below(16) as u32, 16).unwrap())
            .collect()
    }

    /// A blob id as the API makes them: 26 Crockford base32 characters.
    pub(super) fn blob_key(&mut self) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        (0..26)
            .map(|_| ALPHABET[self.below(32) as usize] as char)
            .collect()
    }

    pub(super) fn uuid_v4(&mut self) -> String {
        let variant = self.pick(&['8', '9', 'a', 'b']);
        format!(
            "{}-{}-4{}-{variant}{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(3),
            self.hex(12)
        )
    }
}

// Dates, without a clock or a date library.

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// (year, month, day, hour, minute, second, millisecond)
fn parts(ms: i64) -> (i64, i64, i64, i64, i64, i64, i64) {
    let (y, mo, d) = civil_from_days(ms.div_euclid(DAY_MS));
    let t = ms.rem_euclid(DAY_MS);
    (
        y,
        mo,
        d,
        t / 3_600_000,
        t / 60_000 % 60,
        t / 1000 % 60,
        t % 1000,
    )
}

/// `2026-01-21T22:21:26.332Z`
pub(super) fn iso(ms: i64) -> String {
    let (y, mo, d, h, mi, s, f) = parts(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{f:03}Z")
}

/// `2026-01-22T22:21:41Z`, as `urlExpiresAt`.
pub(super) fn iso_seconds(ms: i64) -> String {
    let (y, mo, d, h, mi, s, _) = parts(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// The v1 workflow id of a workflow created at `ms`, as the fixture jobs
/// have it: `8484131-20260121222126332`.
pub(super) fn v1_workflow_id(ms: i64) -> String {
    let (y, mo, d, h, mi, s, f) = parts(ms);
    format!("8484131-{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}{f:03}")
}

/// A .NET TimeSpan: `00:00:14.8700000`.
pub(super) fn timespan(ms: i64) -> String {
    let (h, m, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h:02}:{m:02}:{s:02}.{f:03}0000")
}

// The vocabulary.

const SUBJECTS: &[&str] = &[
    "a lighthouse on a cliff at dawn",
    "a red fox curled up in fresh snow",
    "an astronaut reading a newspaper on a park bench",
    "a paper boat drifting down a rainy street",
    "a cozy cafe interior with warm lamps",
    "a dragon made of autumn leaves",
    "a neon-lit alley in the rain",
    "an elderly fisherman in a yellow raincoat",
];
const STYLES: &[&str] = &[
    "watercolor",
    "cinematic still, 35mm",
    "isometric diorama",
    "oil painting, impasto",
    "studio photo, soft light",
];
const NEGATIVES: &[&str] = &[
    "lowres, blurry, watermark",
    "text, signature",
    "bad anatomy",
];
const PROJECTS: &[&str] = &["alpha", "beta", "gamma"];
const EXTRA_TAGS: &[&str] = &["batch:nightly", "review", "keep", "priority:low"];
const BLOCKED_REASONS: &[&str] = &[
    "NSFW content not allowed",
    "Blocked by content moderation",
    "Prohibited content detected",
];
const FAILURE_REASONS: &[&str] = &[
    "Job failed after 3 attempts",
    "The step timed out",
    "Out of GPU memory",
    "Resource is unavailable",
];
const JOB_ERRORS: &[&str] = &[
    "CUDA error: out of memory",
    "worker lost connection",
    "model download failed: 503",
];
const GPUS: &[&str] = &[
    "NVIDIA RTX A5000",
    "NVIDIA RTX 4090",
    "NVIDIA H100 80GB HBM3",
    "NVIDIA A100-SXM4-80GB",
];
const PROVIDERS: &[(&str, &str)] = &[("ValdiAI", "w-"), ("RunPod", "rp-"), ("Comfy", "cf-")];
const LEVELS: &[&str] = &["pg", "pg", "pg", "pg13", "pg13", "r", "x"];
const LEVEL_ORDER: &[&str] = &["pg", "pg13", "r", "x", "xxx"];

/// The kinds of workflow: the steps (`$type`, name) of each.
const KINDS: &[&[(&str, &str)]] = &[
    &[("textToImage", "0")],
    &[("imageGen", "imagegen")],
    &[("videoGen", "video")],
    &[("comfy", "comfy"), ("mediaHash", "hash")],
    &[("textToImage", "0"), ("imageUpscaler", "upscale")],
    &[("videoGen", "video"), ("videoFrameExtraction", "frames")],
    &[
        ("imageGen", "cover"),
        ("textToSpeech", "voice"),
        ("wdTagging", "tags"),
    ],
];

/// The v1 job event type that a job of this status last had.
pub(super) fn last_event_type(status: &str) -> &'static str {
    match status {
        "succeeded" => "Succeeded",
        "failed" => "Failed",
        "expired" => "Expired",
        "canceled" => "Deleted",
        "processing" => "Updated",
        "scheduled" => "Claimed",
        _ => "Initialized",
    }
}

pub(super) fn v1_type(step_type: &str) -> &'static str {
    match step_type {
        "textToImage" => "TextToImageV2",
        "imageGen" => "Flux2ImageGen",
        "videoGen" => "WanVideoGen",
        "comfy" => "Comfy",
        "mediaHash" => "MediaHash",
        "imageUpscaler" => "ImageUpscaler",
        "videoFrameExtraction" => "VideoFrameExtraction",
        "textToSpeech" => "TextToSpeech",
        _ => "WDTagging",
    }
}

/// What one step of a workflow ends as.
#[derive(Clone, Copy, PartialEq)]
enum Fate {
    Succeeded,
    Failed,
    Expired,
    Canceled,
    Processing,
    /// After a step that failed or was canceled: never ran.
    NotRun,
}

impl Fate {
    fn status(self) -> &'static str {
        match self {
            Fate::Succeeded => "succeeded",
            Fate::Failed => "failed",
            Fate::Expired => "expired",
            Fate::Canceled | Fate::NotRun => "canceled",
            Fate::Processing => "processing",
        }
    }
}

/// Workflow `i` of `n`; its jobs and blobs go to `data`.
fn workflow(i: usize, n: usize, data: &mut Dataset) -> Value {
    let mut r = Rng::for_workflow(i);
    let slot = (DAYS * DAY_MS / n as i64).max(1);
    let created = start_ms() + i as i64 * slot + r.below((slot * 3 / 4).max(1) as u64) as i64;
    let id = format!(
        "0-{:08x}-{:04x}-7{}-{}{}-{}",
        created >> 16,
        created & 0xffff,
        r.hex(3),
        r.pick(&['8', '9', 'a', 'b']),
        r.hex(3),
        r.hex(12)
    );
    let roll = r.below(100);
    let status = match i {
        _ if i + 1 == n => "processing",
        0 => "failed",
        1 => "expired",
        2 => "canceled",
        _ => match roll {
            0..=59 => "succeeded",
            60..=74 => "failed",
            75..=81 => "expired",
            82..=89 => "canceled",
            _ if i >= n - n / 10 => "processing",
            _ => "succeeded",
        },
    };
    let kind = KINDS[if i < 3 {
        i
    } else {
        r.below(KINDS.len() as u64) as usize
    }];
    // The step where it all stops, for failed, canceled and processing.
    let stop = if kind.len() > 1 && r.chance(35) {
        r.below(kind.len() as u64 - 1) as usize
    } else {
        kind.len() - 1
    };
    let fates: Vec<Fate> = (0..kind.len())
        .map(|s| match status {
            "succeeded" => Fate::Succeeded,
            "expired" => Fate::Expired,
            _ if s < stop => Fate::Succeeded,
            _ if s > stop => Fate::NotRun,
            "failed" => Fate::Failed,
            "canceled" => Fate::Canceled,
            _ => Fate::Processing,
        })
        .collect();

    let prompt = format!("{}, {}", r.pick(SUBJECTS), r.pick(STYLES));
    let negative = r.pick(NEGATIVES);
    let v1_id = v1_workflow_id(created);
    let started = created + r.range(300, 1500) as i64;
    let expires = created + r.range(600_000, 3_600_000) as i64;
    let mut t = started;
    let mut steps = Vec::new();
    let mut levels: Vec<&str> = Vec::new();
    let mut costs = 0u64;
    let mut refund = 0u64;
    for (s, &(ty, name)) in kind.iter().enumerate() {
        let step = step(
            &mut r,
            StepPlan {
                ty,
                name,
                fate: fates[s],
                prompt: &prompt,
                negative,
                v1_id: &v1_id,
                start: t,
                expires,
            },
            data,
            &mut levels,
        );
        let step_cost: u64 = step.value["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["cost"].as_u64().unwrap())
            .sum();
        costs += step_cost;
        if matches!(fates[s], Fate::Failed | Fate::Expired | Fate::Canceled) {
            refund += step_cost;
        }
        refund += step.lost;
        if let Some(end) = step.end {
            t = end + r.range(15, 60) as i64;
        }
        steps.push(step.value);
    }
    let final_ = status != "processing";
    let completed = final_.then_some(t);

    // Cost, tips and who paid: debits, then refunds.
    let (tip_civitai, tip_creators) = if r.chance(20) {
        (r.range(0, 2), r.range(1, 5))
    } else {
        (0, 0)
    };
    let total = costs + tip_civitai + tip_creators;
    let mut list = Vec::new();
    let payer = if r.chance(12) { "blue" } else { "yellow" };
    if payer == "yellow" && total > 1 && r.chance(25) {
        let blue = (total * r.range(20, 80) / 100).max(1);
        list.push(tx(&mut r, "debit", total - blue, "yellow"));
        list.push(tx(&mut r, "debit", blue, "blue"));
    } else {
        list.push(tx(&mut r, "debit", total, payer));
    }
    let refund = match status {
        // A failure refunds everything, most of the time.
        "failed" | "expired" if r.chance(80) => total,
        _ => refund.min(total),
    };
    if refund > 0 && final_ {
        list.push(tx(&mut r, "credit", refund, payer));
    }
    let project = r.pick(PROJECTS);
    let media_tag = match kind[0].0 {
        "videoGen" => "type:video",
        _ if kind.iter().any(|k| k.0 == "textToSpeech") => "type:audio",
        _ => "type:image",
    };
    let mut tags = vec![
        "user:12345".to_string(),
        media_tag.to_string(),
        format!("project:{project}"),
    ];
    for _ in 0..r.below(3) {
        let tag = r.pick(EXTRA_TAGS).to_string();
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let nsfw = levels
        .iter()
        .copied()
        .max_by_key(|l| LEVEL_ORDER.iter().position(|o| o == l))
        .unwrap_or("pg");
    let started = (status != "expired").then(|| iso(started));
    let mut currencies = vec!["yellow"];
    if list.iter().any(|t| t["accountType"] == "blue") {
        currencies = if payer == "blue" {
            vec!["blue"]
        } else {
            vec!["yellow", "blue"]
        };
    }
    json!({
        "id": id,
        "createdAt": iso(created),
        "transactions": {"list": list, "insufficientBuzz": null},
        "metadata": {"project": project, "source": "generator", "run": i},
        "status": status,
        "startedAt": started,
        "completedAt": completed.map(iso),
        "tags": tags,
        "arguments": {},
        "steps": steps,
        "callbacks": [],
        "tips": {"civitai": tip_civitai, "creators": tip_creators},
        "cost": {"base": costs, "factors": null, "fixed": null,
                 "tips": {"civitai": tip_civitai, "creators": tip_creators},
                 "fees": null, "total": total},
        "nsfwLevel": nsfw,
        "experimental": false,
        "allowMatureContent": !r.chance(20),
        "upgradeMode": "manual",
        "currencies": currencies,
        "forceRefunded": false,
        "ephemeral": null,
        "externalId": null,
        "lostBlobsRefund": 0,
        "deletedAt": null
    })
}

/// A transaction of the workflow's `transactions.list`.
fn tx(r: &mut Rng, kind: &str, amount: u64, account: &str) -> Value {
    json!({"type": kind, "amount": amount, "id": format!("tx-{}", r.hex(12)),
           "accountType": account})
}

struct StepPlan<'a> {
    ty: &'static str,
    name: &'static str,
    fate: Fate,
    prompt: &'a str,
    negative: &'a str,
    v1_id: &'a str,
    start: i64,
    /// When an expired workflow expired.
    expires: i64,
}

/// A step made: its JSON, when it ended (None: it has not), and the cost
/// of its jobs whose blobs were all blocked (refunded).
struct Step {
    value: Value,
    end: Option<i64>,
    lost: u64,
}

fn step(r: &mut Rng, p: StepPlan, data: &mut Dataset, levels: &mut Vec<&'static str>) -> Step {
    let (jobs_n, per_job, cost, secs): (u64, u64, u64, (u64, u64)) = match p.ty {
        "textToImage" => (r.range(1, 2), r.range(1, 2), 4, (4, 30)),
        "imageGen" => (r.range(1, 4), 1, 6, (6, 40)),
        "videoGen" => (1, r.range(1, 2), r.range(100, 200), (60, 400)),
        "comfy" => (1, r.range(1, 2), 8, (10, 60)),
        "imageUpscaler" => (1, 1, 5, (5, 20)),
        "videoFrameExtraction" => (1, r.range(2, 4), 2, (3, 15)),
        "textToSpeech" => (1, 1, 10, (5, 30)),
        _ => (1, 0, 0, (0, 3)),
    };
    let input = input_of(p.ty, p.prompt, p.negative, jobs_n * per_job.max(1));
    let ran = matches!(p.fate, Fate::Succeeded | Fate::Failed | Fate::Processing)
        || p.fate == Fate::Canceled && r.chance(50);
    let mut jobs = Vec::new();
    let mut images = Vec::new();
    let mut videos = Vec::new();
    let mut singles = Vec::new();
    let mut end = None::<i64>;
    let mut lost = 0;
    if p.fate != Fate::NotRun {
        for k in 0..jobs_n {
            let job_id = r.uuid_v4();
            let j_start = p.start + r.range(2, 12) as i64;
            let duration = match p.fate {
                Fate::Failed => r.range(20_000, 600_000),
                Fate::Canceled => r.range(2_000, 120_000),
                _ => r.range(secs.0 * 1000 + 300, secs.1 * 1000 + 900),
            } as i64;
            let j_end = match p.fate {
                Fate::Processing => None,
                Fate::Expired => Some(p.expires - r.range(5, 40) as i64),
                _ => Some(j_start + duration),
            };
            let job_status = match p.fate {
                Fate::Processing if k > 0 => "scheduled",
                f => f.status(),
            };
            let started = (ran && job_status != "scheduled").then_some(j_start);
            let mut blobs = Vec::new();
            if p.fate == Fate::Succeeded {
                for _ in 0..per_job {
                    let b = blob(r, p.ty, &job_id, j_end.unwrap(), data);
                    levels.push(level_of(&b));
                    blobs.push(b);
                }
                if !blobs.is_empty() && blobs.iter().all(|b| b["available"] == false) {
                    lost += cost;
                }
            }
            let progress = (job_status == "processing").then(|| r.range(5, 95) as f64 / 100.0);
            let preceding = if job_status == "scheduled" {
                r.range(1, 6)
            } else {
                0
            };
            jobs.push(json!({
                "id": job_id,
                "status": job_status,
                "startedAt": started.map(iso),
                "completedAt": j_end.map(iso),
                "queuePosition": {"support": "available", "precedingJobs": preceding,
                                  "startAt": iso(j_start), "completeAt": iso(j_start + duration)},
                "cost": cost,
                "estimatedProgressRate": progress
            }));
            data.jobs.push(job_status_doc(
                r,
                &p,
                &job_id,
                cost,
                job_status,
                (started, j_end, progress),
                &blobs,
            ));
            match p.ty {
                "videoGen" => videos.extend(blobs),
                "imageUpscaler" | "textToSpeech" => singles.extend(blobs),
                _ => images.extend(blobs),
            }
            end = end.max(j_end);
        }
    }
    let end = match p.fate {
        Fate::NotRun => Some(p.start),
        Fate::Processing => None,
        _ => end.map(|e| e + r.range(5, 30) as i64),
    };
    let output = match p.fate {
        Fate::Succeeded => match p.ty {
            "videoGen" => {
                let mut v = videos.into_iter();
                json!({"video": v.next(), "additionalVideos": v.collect::<Vec<_>>(),
                       "draftCache": null})
            }
            "imageUpscaler" => json!({"blob": singles.pop()}),
            "textToSpeech" => json!({"audioBlob": singles.pop(), "modelType": "custom_voice",
                                     "speaker": "Vivian"}),
            "videoFrameExtraction" => {
                json!({"frames": images, "totalFramesExtracted": images.len()})
            }
            "mediaHash" => json!({"hashes": {"perceptual": r.hex(16), "perceptualDct": r.hex(16)},
                                  "frames": 1}),
            "wdTagging" => json!({"tags": {"1girl": 0.0, "outdoors": 0.93, "sky": 0.88},
                                  "rating": {"general": 0.91, "sensitive": 0.07,
                                             "questionable": 0.01, "explicit": 0.01}}),
            _ => json!({"images": images}),
        },
        _ => Value::Null,
    };
    let metadata = if p.fate == Fate::Failed && r.below(4) > 0 {
        json!({"failureReason": r.pick(FAILURE_REASONS)})
    } else {
        json!({})
    };
    let step_started = (ran && p.fate != Fate::NotRun).then(|| iso(p.start));
    Step {
        value: json!({
            "$type": p.ty,
            "name": p.name,
            "priority": "normal",
            "timeout": "00:10:00",
            "retries": 0,
            "jobs": jobs,
            "status": p.fate.status(),
            "startedAt": step_started,
            "completedAt": end.map(iso),
            "metadata": metadata,
            "estimatedProgressRate": null,
            "input": input,
            "output": output
        }),
        end,
        lost,
    }
}

fn input_of(ty: &str, prompt: &str, negative: &str, quantity: u64) -> Value {
    let cdn_ref = "{{CDN}}/signed/SOURCE?sig=0";
    match ty {
        "textToImage" => json!({"quantity": quantity, "batchSize": 1,
            "model": "urn:air:sdxl:checkpoint:civitai:133005@782002", "prompt": prompt,
            "negativePrompt": negative, "scheduler": "eulerA", "steps": 30, "cfgScale": 7,
            "width": 832, "height": 1216, "outputFormat": "jpeg"}),
        "imageGen" => json!({"engine": "flux2", "model": "dev", "operation": "createImage",
            "prompt": prompt, "width": 1024, "height": 1024, "quantity": quantity,
            "outputFormat": "png"}),
        "videoGen" => json!({"engine": "wan", "version": "v2.2", "operation": "text-to-video",
            "prompt": prompt, "negativePrompt": negative, "width": 512, "height": 512,
            "duration": 5, "quantity": quantity}),
        "comfy" => json!({"comfyWorkflow": {"6": {"class_type": "CLIPTextEncode",
            "inputs": {"text": prompt}}, "7": {"class_type": "CLIPTextEncode",
            "inputs": {"text": negative}}}, "quantity": quantity}),
        "imageUpscaler" => json!({"image": cdn_ref, "numberOfRepeats": 1}),
        "videoFrameExtraction" => json!({"videoUrl": cdn_ref, "frameRate": 1, "maxFrames": 4}),
        "textToSpeech" => json!({"engine": "qwen3", "text": format!("A story about {prompt}.")}),
        "mediaHash" => json!({"mediaUrl": cdn_ref, "hashTypes": ["perceptual", "perceptualDct"]}),
        _ => json!({"mediaUrl": cdn_ref, "threshold": 0.35}),
    }
}

fn level_of(blob: &Value) -> &'static str {
    let level = blob["nsfwLevel"].as_str().unwrap_or("pg");
    LEVEL_ORDER
        .iter()
        .copied()
        .find(|l| *l == level)
        .unwrap_or("pg")
}

/// One output blob of a job that ended at `end`: blocked now and then.
fn blob(r: &mut Rng, step_type: &str, job_id: &str, end: i64, data: &mut Dataset) -> Value {
    let (kind, ext, size) = match step_type {
        "videoGen" => (
            "video",
            r.pick(&["mp4", "mp4", "webm"]),
            r.range(200_000, 3_000_000),
        ),
        "textToSpeech" => ("audio", "mp3", r.range(30_000, 300_000)),
        _ => (
            "image",
            r.pick(&["jpeg", "png", "webp"]),
            r.range(20_000, 400_000),
        ),
    };
    let id = format!("{}.{ext}", r.blob_key());
    let blocked = kind != "audio" && r.chance(10);
    let (w, h) = match kind {
        "video" => (512, 512),
        _ => r.pick(&[(832, 1216), (1024, 1024), (1216, 832)]),
    };
    let mut b = if blocked {
        json!({"type": kind, "id": id, "available": false, "url": null, "urlExpiresAt": null,
               "jobId": job_id, "nsfwLevel": r.pick(&["x", "xxx"]),
               "blockedReason": r.pick(BLOCKED_REASONS)})
    } else {
        let expires = end + DAY_MS;
        data.blobs.push((id.clone(), size));
        json!({"type": kind, "id": id, "available": true,
               "url": format!("{{{{CDN}}}}/signed/{id}?sig={}&exp={}", r.hex(16), expires / 1000),
               "urlExpiresAt": iso_seconds(expires), "jobId": job_id,
               "nsfwLevel": r.pick(LEVELS), "blockedReason": null})
    };
    match kind {
        "audio" => b["duration"] = json!(r.range(4, 40)),
        _ => {
            b["width"] = json!(w);
            b["height"] = json!(h);
        }
    }
    if kind == "image" {
        b["previewUrl"] = if blocked {
            Value::Null
        } else {
            json!(format!(
                "{{{{CDN}}}}/signed/{id}?width=450&optimized=true&sig={}&exp={}",
                r.hex(16),
                (end + DAY_MS / 2) / 1000
            ))
        };
    }
    b
}

/// The v1 JobStatus of one job: when it started and ended, and its
/// progress, as in the workflow.
fn job_status_doc(
    r: &mut Rng,
    p: &StepPlan,
    job_id: &str,
    cost: u64,
    status: &str,
    (started, ended, progress): (Option<i64>, Option<i64>, Option<f64>),
    blobs: &[Value],
) -> Value {
    let created = p.start - r.range(5, 40) as i64;
    let job_type = v1_type(p.ty);
    let mut params = json!({"prompt": p.prompt, "negativePrompt": p.negative});
    if matches!(
        p.ty,
        "imageGen" | "mediaHash" | "wdTagging" | "imageUpscaler" | "videoFrameExtraction"
    ) {
        params = match p.ty {
            "imageGen" => json!({"prompt": p.prompt, "engine": "flux2", "model": "dev"}),
            _ => json!({"mediaUrl": "{{CDN}}/signed/SOURCE?sig=0"}),
        };
    }
    if p.ty == "textToSpeech" {
        params = json!({"text": format!("A story about {}.", p.prompt)});
    }
    let (provider, prefix) = r.pick(PROVIDERS);
    let worker = format!("{prefix}{}", r.hex(6));
    let scanned = !blobs.is_empty();
    let blocked: Option<&str> = blobs
        .iter()
        .find(|b| b["available"] == false)
        .and_then(|b| b["blockedReason"].as_str());
    let event = last_event_type(status);
    let mut context = serde_json::Map::new();
    match event {
        "Succeeded" if scanned => {
            let score = if blocked.is_some() {
                r.range(60, 99) as f64 / 100.0
            } else {
                r.range(0, 9) as f64 / 100.0
            };
            let level = blobs
                .iter()
                .map(level_of)
                .max_by_key(|l| LEVEL_ORDER.iter().position(|o| o == l))
                .unwrap_or("pg");
            match r.below(6) {
                0 => {
                    let second = r.range(0, 20) as f64 / 100.0 * score;
                    context.insert(
                        "hive_csam_score".into(),
                        json!(format!("{:.2} %, {:.2} %", score * 100.0, second * 100.0)),
                    );
                }
                1 => {
                    context.insert("hive_csam_score".into(), json!(score));
                }
                2 => {
                    context.insert("hive_csam_score".into(), json!(format!("{score:.2}")));
                }
                3 => {
                    context.insert("hive".into(), json!({"csam_score": score, "label": level}));
                }
                4 => {} // no score at all
                _ => {
                    context.insert("hive_csam_score".into(), Value::Null);
                }
            }
            if r.chance(80) {
                let child = if blocked.is_some() {
                    "Child_Possible"
                } else {
                    "No_Child"
                };
                context.insert(
                    "hive_vlm_summary".into(),
                    json!(format!("{}, {child}", level.to_uppercase())),
                );
            }
            context.insert("blocked_reason".into(), json!(blocked));
            context.insert("nsfwLevel".into(), json!(level));
            context.insert("gpu".into(), json!(r.pick(GPUS)));
            context.insert("sampler_ms".into(), json!(r.range(2_000, 40_000)));
        }
        "Succeeded" => {
            context.insert("cpu_ms".into(), json!(r.range(100, 3_000)));
        }
        "Failed" => {
            context.insert("error".into(), json!(r.pick(JOB_ERRORS)));
            context.insert("hive_csam_score".into(), Value::Null);
            context.insert("gpu".into(), json!(r.pick(GPUS)));
        }
        "Updated" => {
            context.insert("progress".into(), json!(progress));
            context.insert("gpu".into(), json!(r.pick(GPUS)));
        }
        _ => {}
    }
    let worked = matches!(event, "Succeeded" | "Failed" | "Updated" | "Claimed");
    let when = ended.or(started).unwrap_or(created + 1_000);
    let duration = match (started, ended) {
        (Some(s), Some(e)) => Some(timespan(e - s)),
        _ => None,
    };
    let result: Value = if blobs.is_empty() {
        json!([])
    } else {
        blobs
            .iter()
            .map(|b| json!({"blobKey": b["id"], "available": b["available"]}))
            .collect()
    };
    json!({
        "jobId": job_id,
        "cost": cost,
        "job": {
            "id": job_id,
            "type": job_type,
            "createdAt": iso(created),
            "expireAt": iso(created + 3_600_000),
            "cost": cost,
            "maxRetryAttempt": 3,
            "issuedBy": "orchestration-workflows",
            "properties": {"workflowId": p.v1_id, "stepName": p.name, "userId": 12345,
                           "priority": "normal"},
            "params": params,
            "promptClassificationResult": {"sexual": blocked.is_some(), "young": false,
                                           "cr": false, "scan": scanned}
        },
        "result": result,
        "lastEvent": {
            "jobId": job_id,
            "type": event,
            "dateTime": iso(when),
            "provider": worked.then_some(provider),
            "workerId": worked.then_some(worker),
            "jobDuration": duration,
            "retryAttempt": if event == "Failed" { 3 } else { 0 },
            "cost": cost,
            "jobProperties": {"workflowId": p.v1_id, "stepName": p.name},
            "jobType": job_type,
            "claimHasCompleted": matches!(event, "Succeeded" | "Failed"),
            "jobHasCompleted": matches!(event, "Succeeded" | "Failed"),
            "context": context
        },
        "serviceProviders": {},
        "scheduled": true
    })
}
