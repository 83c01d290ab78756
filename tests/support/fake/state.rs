//! What the fake knows. The fixtures, loaded from `fixtures/` once per
//! start and never changed (jobs, the manager listing, media, errors, the
//! realistic first cursor), plus the generated `stats` dataset's jobs and
//! blobs; and the state that changes while it runs: the workflows by id in
//! creation order (a store that later writes can add to), the requests
//! recorded, the scripted replies waiting per path, and the knobs and
//! counters of slow-network, concurrency and paging tests; and the write
//! side's state (`writes::Live`: submitted workflows, idempotency keys,
//! Buzz; `upload::Blobs`: blobs made while running, upload URLs, uploads).
//!
//! Lock order, to never deadlock: `workflows`, then `live`, then `blobs`
//! (a thread holding one never waits for an earlier one).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::http::{Reply, Request};
use super::tls::Tls;
use super::upload::Blobs;
use super::writes::Live;
use super::{stats, Options};

/// The folder of fixtures: `fixtures/` at the crate's root.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// What the fake serves besides workflows, loaded once.
pub struct Fixtures {
    /// The realistic cursor after the first page of the fixture listing
    /// (`pages/workflows-1.json`), and that page's length.
    pub first_cursor: String,
    pub first_page_len: usize,
    /// How many workflows the fixture pages list.
    pub listed: usize,
    /// The newest fixture workflow, copied for `--synthetic` listings.
    pub synthetic_template: Value,
    /// v1 jobs by `jobId`: `fixtures/jobs/`, then those of the generated
    /// `stats` workflows.
    pub jobs: HashMap<String, Value>,
    /// The generated blobs of the `stats` workflows that are available, by
    /// id, with their size: the CDN serves them as pattern bytes.
    pub generated_blobs: HashMap<String, u64>,
    pub manager: Value,
    pub media: PathBuf,
    pub errors: PathBuf,
}

/// The workflows, by id, in the order they were created. Seeded from
/// `fixtures/workflows/` (and, with `Options::extra`, its `extra/` folder)
/// and the generated `stats` workflows, oldest first by `createdAt`.
///
/// Besides them, the *unlisted* workflows: those of
/// `fixtures/workflows/extra/` when `Options::extra` is off. `GET` by id
/// (and their steps) serves them; the listing does not show them, so that
/// the default listing stays the one `fixtures/pages/` describe.
pub struct Workflows {
    order: Vec<String>,
    by_id: HashMap<String, Value>,
    unlisted: HashMap<String, Value>,
}

impl Workflows {
    /// Listed or unlisted.
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.by_id.get(id).or_else(|| self.unlisted.get(id))
    }

    /// Listed or unlisted, to change in place (listed or not it stays).
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        match self.by_id.get_mut(id) {
            Some(w) => Some(w),
            None => self.unlisted.get_mut(id),
        }
    }

    /// Takes a workflow out of the store (a delete): no read finds it and
    /// the listing leaves it out.
    pub fn remove(&mut self, id: &str) -> Option<Value> {
        if let Some(w) = self.by_id.remove(id) {
            self.order.retain(|x| x != id);
            return Some(w);
        }
        self.unlisted.remove(id)
    }

    /// Adds a workflow (by its `id`) after the others, or replaces the one
    /// with that id where it stands. An unlisted one put again is listed
    /// from then on, as the newest.
    pub fn put(&mut self, workflow: Value) {
        let id = workflow["id"]
            .as_str()
            .expect("a workflow has a string id")
            .to_string();
        self.unlisted.remove(&id);
        if !self.by_id.contains_key(&id) {
            self.order.push(id.clone());
        }
        self.by_id.insert(id, workflow);
    }

    /// Oldest first, as created.
    pub fn in_creation_order(&self) -> impl DoubleEndedIterator<Item = &Value> {
        self.order.iter().map(|id| &self.by_id[id])
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// A store of `listed` (in any order: they are put oldest first by
    /// `createdAt`) and of `unlisted`, served by id only.
    fn new(mut listed: Vec<Value>, unlisted: Vec<Value>) -> Workflows {
        sort_by_creation(&mut listed);
        let mut store = Workflows {
            order: Vec::new(),
            by_id: HashMap::new(),
            unlisted: HashMap::new(),
        };
        for w in listed {
            store.put(w);
        }
        for w in unlisted {
            let id = w["id"].as_str().expect("a workflow has a string id");
            store.unlisted.insert(id.to_string(), w);
        }
        store
    }
}

/// Everything the connection threads share.
pub struct Shared {
    pub fixtures: Fixtures,
    pub workflows: Mutex<Workflows>,
    pub api_url: String,
    pub cdn_url: String,
    pub log: Mutex<Vec<Request>>,
    pub scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// Serve this many generated workflows instead of the fixture listing.
    pub synthetic: usize,
    /// Pause before each CDN answer (slow-network tests).
    pub cdn_delay: Mutex<Duration>,
    /// Pause after each 64 KiB of a generated blob (a slow link).
    pub chunk_delay: Mutex<Duration>,
    /// CDN requests being answered now, and the most at once.
    pub cdn_inflight: AtomicUsize,
    pub cdn_max_inflight: AtomicUsize,
    /// Pause before each API answer (concurrency tests).
    pub api_delay: Mutex<Duration>,
    /// API requests being answered now (read, not yet fully answered), and
    /// the most at once.
    pub api_inflight: AtomicUsize,
    pub api_max_inflight: AtomicUsize,
    /// The write side: submitted workflows, keys, Buzz, the fake clock.
    pub live: Mutex<Live>,
    /// Blobs made while running, upload URLs and uploads.
    pub blobs: Mutex<Blobs>,
    /// The next this many submits that create a workflow close the
    /// connection instead of answering.
    pub drop_after_create: AtomicUsize,
    /// A cancel of a workflow that has ended answers 204 (no change)
    /// instead of 400.
    pub cancel_ended_204: AtomicBool,
    /// The real time one second of `wait` takes.
    pub wait_tick: Mutex<Duration>,
    /// Each `next` cursor of the listing starts this many items before the
    /// end of the page just served (0: pages do not overlap).
    pub overlap: AtomicUsize,
    /// The https mode's certificate and handshake count, when it is on.
    pub tls: Option<Tls>,
}

impl Shared {
    pub fn new(api_url: String, cdn_url: String, opts: &Options) -> Shared {
        let (mut fixtures, mut seed, extra) = load(&fixtures_dir());
        let mut unlisted = Vec::new();
        if opts.extra {
            seed.extend(extra);
        } else {
            unlisted = extra;
        }
        if opts.stats > 0 {
            let data = stats::generate(opts.stats);
            for job in data.jobs {
                let id = job["jobId"].as_str().unwrap().to_string();
                assert!(
                    fixtures.jobs.insert(id.clone(), job).is_none(),
                    "generated job {id} clashes with a fixture job"
                );
            }
            fixtures.generated_blobs.extend(data.blobs);
            seed.extend(data.workflows);
        }
        Shared {
            fixtures,
            workflows: Mutex::new(Workflows::new(seed, unlisted)),
            api_url,
            cdn_url,
            log: Mutex::new(Vec::new()),
            scripts: Mutex::new(HashMap::new()),
            synthetic: opts.synthetic,
            cdn_delay: Mutex::new(Duration::ZERO),
            chunk_delay: Mutex::new(Duration::ZERO),
            cdn_inflight: AtomicUsize::new(0),
            cdn_max_inflight: AtomicUsize::new(0),
            api_delay: Mutex::new(Duration::ZERO),
            api_inflight: AtomicUsize::new(0),
            api_max_inflight: AtomicUsize::new(0),
            live: Mutex::new(Live::default()),
            blobs: Mutex::new(Blobs::default()),
            drop_after_create: AtomicUsize::new(0),
            cancel_ended_204: AtomicBool::new(false),
            wait_tick: Mutex::new(super::writes::DEFAULT_WAIT_TICK),
            overlap: AtomicUsize::new(0),
            tls: opts.tls.then(Tls::new),
        }
    }

    pub fn record(&self, req: &Request) {
        self.log.lock().unwrap().push(req.clone());
    }

    pub fn add_script(&self, path: &str, replies: Vec<Reply>) {
        self.scripts
            .lock()
            .unwrap()
            .entry(path.to_string())
            .or_default()
            .extend(replies);
    }

    /// The next scripted reply for `raw_path`, if any is left.
    pub fn next_scripted(&self, raw_path: &str) -> Option<Reply> {
        self.scripts
            .lock()
            .unwrap()
            .get_mut(raw_path)
            .and_then(VecDeque::pop_front)
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_files(dir: &Path) -> Vec<Value> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| read_json(p)).collect()
}

/// The fixtures; the workflows of `fixtures/workflows/` in creation order
/// (the ones the pages list); and those of `fixtures/workflows/extra/`.
fn load(dir: &Path) -> (Fixtures, Vec<Value>, Vec<Value>) {
    let page1 = read_json(&dir.join("pages/workflows-1.json"));
    let page2 = read_json(&dir.join("pages/workflows-2.json"));
    let first = page1["items"].as_array().unwrap();
    let second = page2["items"].as_array().unwrap();
    let listed: Vec<&str> = first
        .iter()
        .chain(second)
        .map(|w| w["id"].as_str().unwrap())
        .collect();

    let mut seed = json_files(&dir.join("workflows"));
    sort_by_creation(&mut seed);
    // The pages and the store must tell one story, or the realistic cursor
    // would point into another listing.
    let newest_first: Vec<&str> = seed
        .iter()
        .rev()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed, newest_first,
        "fixtures/pages/workflows-*.json must list fixtures/workflows/ newest first"
    );
    let synthetic_template = seed.last().expect("fixture workflows").clone();
    let extra = json_files(&dir.join("workflows/extra"));

    let jobs = json_files(&dir.join("jobs"))
        .into_iter()
        .map(|j| (j["jobId"].as_str().unwrap().to_string(), j))
        .collect();
    let fixtures = Fixtures {
        first_cursor: page1["next"].as_str().unwrap().to_string(),
        first_page_len: first.len(),
        listed: listed.len(),
        synthetic_template,
        jobs,
        generated_blobs: HashMap::new(),
        manager: read_json(&dir.join("pages/manager.json")),
        media: dir.join("media"),
        errors: dir.join("errors"),
    };
    (fixtures, seed, extra)
}

/// Creation order is `createdAt` order (ids break ties).
fn sort_by_creation(workflows: &mut [Value]) {
    workflows.sort_by_cached_key(|w| {
        let text = |key: &str| w[key].as_str().unwrap_or("").to_string();
        (text("createdAt"), text("id"))
    });
}
