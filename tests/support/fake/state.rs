//! What the fake knows. The fixtures, loaded from `fixtures/` once per
//! start and never changed (jobs, the manager listing, media, errors, the
//! realistic first cursor); and the state that changes while it runs: the
//! workflows by id in creation order (a store that later writes can add
//! to), the requests recorded, the scripted replies waiting per path, and
//! the knobs and counters of slow-network and concurrency tests.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::http::{Reply, Request};

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
    pub jobs: HashMap<String, Value>,
    pub manager: Value,
    pub media: PathBuf,
    pub errors: PathBuf,
}

/// The workflows, by id, in the order they were created. Seeded from
/// `fixtures/workflows/`, oldest first by `createdAt`.
pub struct Workflows {
    order: Vec<String>,
    by_id: HashMap<String, Value>,
}

impl Workflows {
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.by_id.get(id)
    }

    /// Adds a workflow (by its `id`) after the others, or replaces the one
    /// with that id where it stands.
    pub fn put(&mut self, workflow: Value) {
        let id = workflow["id"]
            .as_str()
            .expect("a workflow has a string id")
            .to_string();
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
}

impl Shared {
    pub fn new(api_url: String, cdn_url: String, synthetic: usize) -> Shared {
        let (fixtures, workflows) = load(&fixtures_dir());
        Shared {
            fixtures,
            workflows: Mutex::new(workflows),
            api_url,
            cdn_url,
            log: Mutex::new(Vec::new()),
            scripts: Mutex::new(HashMap::new()),
            synthetic,
            cdn_delay: Mutex::new(Duration::ZERO),
            chunk_delay: Mutex::new(Duration::ZERO),
            cdn_inflight: AtomicUsize::new(0),
            cdn_max_inflight: AtomicUsize::new(0),
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

fn load(dir: &Path) -> (Fixtures, Workflows) {
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
    // Creation order is `createdAt` order (ids break ties).
    seed.sort_by_cached_key(|w| {
        let text = |key: &str| w[key].as_str().unwrap_or("").to_string();
        (text("createdAt"), text("id"))
    });
    let mut workflows = Workflows {
        order: Vec::new(),
        by_id: HashMap::new(),
    };
    for w in seed {
        workflows.put(w);
    }
    // The pages and the store must tell one story, or the realistic cursor
    // would point into another listing.
    let newest_first: Vec<&str> = workflows
        .in_creation_order()
        .rev()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed, newest_first,
        "fixtures/pages/workflows-*.json must list fixtures/workflows/ newest first"
    );
    let synthetic_template = workflows
        .in_creation_order()
        .next_back()
        .expect("fixture workflows")
        .clone();

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
        manager: read_json(&dir.join("pages/manager.json")),
        media: dir.join("media"),
        errors: dir.join("errors"),
    };
    (fixtures, workflows)
}
