//! A fake Civitai orchestrator on 127.0.0.1: the API host and a second "CDN"
//! host, serving the responses in `fixtures/` the way the real service does
//! (paging with `take`/`cursor`, filters, ProblemDetails errors, a blob
//! redirect to signed CDN URLs, ranges on the CDN).
//!
//! It records every request, so tests can assert what the CLI sent, and
//! takes scripted replies per path (429s, cut bodies, hangs...) that are
//! served before the normal routes. Plain std: one thread per connection,
//! `Connection: close` on every answer.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

/// The token the fake accepts.
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// Which of the two hosts got a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    Api,
    Cdn,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub host: Host,
    pub method: String,
    /// The path as sent, still percent-encoded, without the query.
    pub raw_path: String,
    /// Query pairs, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn params(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Path segments, decoded.
    pub fn segments(&self) -> Vec<String> {
        self.raw_path
            .trim_start_matches('/')
            .split('/')
            .map(decode)
            .collect()
    }
}

/// A scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A whole answer.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Headers announcing `declared` bytes, then only `body`, then the
    /// connection closes.
    Cut {
        status: u16,
        headers: Vec<(String, String)>,
        declared: usize,
        body: Vec<u8>,
    },
    /// Never answer (the connection stays open for a minute).
    Hang,
    /// Close the connection without a word.
    Close,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn problem(status: u16, title: &str, detail: &str) -> Reply {
        let doc = json!({
            "type": "https://tools.ietf.org/html/rfc9110",
            "title": title, "status": status, "detail": detail,
            "traceId": "00-6f1c0a2b3c4d5e6f7a8b9c0d1e2f3a4b-1a2b3c4d5e6f7a8b-00"
        });
        Reply::Full {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/problem+json; charset=utf-8".into(),
            )],
            body: doc.to_string().into_bytes(),
        }
    }

    pub fn html(status: u16, body: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn header(mut self, key: &str, value: &str) -> Reply {
        if let Reply::Full { headers, .. } | Reply::Cut { headers, .. } = &mut self {
            headers.push((key.into(), value.into()));
        }
        self
    }
}

/// What the fake serves, loaded once from `fixtures/`.
struct Fixtures {
    /// All workflows in listing order (newest first), as JSON text.
    listing: Vec<Value>,
    /// The realistic cursor after the first page of the fixture listing.
    first_cursor: String,
    first_page_len: usize,
    workflows: HashMap<String, Value>,
    jobs: HashMap<String, Value>,
    manager: Value,
    media: PathBuf,
    errors: PathBuf,
}

struct Shared {
    fixtures: Fixtures,
    api_url: String,
    cdn_url: String,
    log: Mutex<Vec<Request>>,
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// Serve this many generated workflows instead of the fixture listing.
    synthetic: usize,
    /// Pause before each CDN answer (slow-network tests).
    cdn_delay: Mutex<Duration>,
    /// Pause after each 64 KiB of a generated blob (a slow link).
    chunk_delay: Mutex<Duration>,
    /// CDN requests being answered now, and the most at once.
    cdn_inflight: AtomicUsize,
    cdn_max_inflight: AtomicUsize,
}

pub struct Fake {
    pub url: String,
    pub cdn_url: String,
    shared: Arc<Shared>,
}

/// Options for [`Fake::start_with`].
#[derive(Default)]
pub struct Options {
    pub port: u16,
    pub cdn_port: u16,
    pub synthetic: usize,
}

impl Fake {
    pub fn start() -> Fake {
        Fake::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> Fake {
        let api = TcpListener::bind(("127.0.0.1", opts.port)).expect("bind api");
        let cdn = TcpListener::bind(("127.0.0.1", opts.cdn_port)).expect("bind cdn");
        let url = format!("http://{}", api.local_addr().unwrap());
        let cdn_url = format!("http://{}", cdn.local_addr().unwrap());
        let shared = Arc::new(Shared {
            fixtures: load_fixtures(&fixtures_dir()),
            api_url: url.clone(),
            cdn_url: cdn_url.clone(),
            log: Mutex::new(Vec::new()),
            scripts: Mutex::new(HashMap::new()),
            synthetic: opts.synthetic,
            cdn_delay: Mutex::new(Duration::ZERO),
            chunk_delay: Mutex::new(Duration::ZERO),
            cdn_inflight: AtomicUsize::new(0),
            cdn_max_inflight: AtomicUsize::new(0),
        });
        spawn_listener(api, Host::Api, shared.clone());
        spawn_listener(cdn, Host::Cdn, shared.clone());
        Fake {
            url,
            cdn_url,
            shared,
        }
    }

    /// Replies served, in order, to the next requests for `path` (raw,
    /// without query), on either host, before the normal routes.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        self.shared
            .scripts
            .lock()
            .unwrap()
            .entry(path.to_string())
            .or_default()
            .extend(replies);
    }

    pub fn set_cdn_delay(&self, d: Duration) {
        *self.shared.cdn_delay.lock().unwrap() = d;
    }

    /// Slows generated blobs down to one 64 KiB chunk per `d`.
    pub fn set_chunk_delay(&self, d: Duration) {
        *self.shared.chunk_delay.lock().unwrap() = d;
    }

    /// The most CDN requests that were in flight at once.
    pub fn cdn_max_inflight(&self) -> usize {
        self.shared.cdn_max_inflight.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn api_requests(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.host == Host::Api)
            .collect()
    }

    pub fn cdn_requests(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.host == Host::Cdn)
            .collect()
    }

    /// A fixture workflow with its CDN placeholders filled in.
    pub fn workflow(&self, id: &str) -> Value {
        self.shared.fixtures.workflows[id].clone()
    }

    /// Bytes of a fixture media file.
    pub fn media(&self, blob_id: &str) -> Vec<u8> {
        std::fs::read(self.shared.fixtures.media.join(blob_id)).unwrap()
    }
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
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

fn load_fixtures(dir: &Path) -> Fixtures {
    let page1 = read_json(&dir.join("pages/workflows-1.json"));
    let page2 = read_json(&dir.join("pages/workflows-2.json"));
    let first: Vec<Value> = page1["items"].as_array().unwrap().clone();
    let mut listing = first.clone();
    listing.extend(page2["items"].as_array().unwrap().iter().cloned());
    let workflows = json_files(&dir.join("workflows"))
        .into_iter()
        .map(|w| (w["id"].as_str().unwrap().to_string(), w))
        .collect();
    let jobs = json_files(&dir.join("jobs"))
        .into_iter()
        .map(|j| (j["jobId"].as_str().unwrap().to_string(), j))
        .collect();
    Fixtures {
        listing,
        first_cursor: page1["next"].as_str().unwrap().to_string(),
        first_page_len: first.len(),
        workflows,
        jobs,
        manager: read_json(&dir.join("pages/manager.json")),
        media: dir.join("media"),
        errors: dir.join("errors"),
    }
}

fn spawn_listener(listener: TcpListener, host: Host, shared: Arc<Shared>) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let shared = shared.clone();
            std::thread::spawn(move || {
                // A client that goes away mid-answer is not the fake's problem.
                let _ = serve(stream, host, &shared);
            });
        }
    });
}

fn serve(stream: TcpStream, host: Host, shared: &Shared) -> std::io::Result<()> {
    if host == Host::Cdn {
        let now = shared.cdn_inflight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.cdn_max_inflight.fetch_max(now, Ordering::SeqCst);
        let result = answer(stream, host, shared);
        shared.cdn_inflight.fetch_sub(1, Ordering::SeqCst);
        return result;
    }
    answer(stream, host, shared)
}

fn answer(stream: TcpStream, host: Host, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(req) = read_request(&mut reader, host)? else {
        return Ok(());
    };
    shared.log.lock().unwrap().push(req.clone());
    let scripted = shared
        .scripts
        .lock()
        .unwrap()
        .get_mut(&req.raw_path)
        .and_then(|q| q.pop_front());
    if host == Host::Cdn {
        let delay = *shared.cdn_delay.lock().unwrap();
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
    }
    let reply = match scripted {
        Some(r) => r,
        None => match host {
            Host::Api => route_api(&req, shared),
            Host::Cdn => return route_cdn(&req, shared, stream),
        },
    };
    write_reply(stream, &req, reply, shared)
}

fn read_request(reader: &mut impl BufRead, host: Host) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let (raw_path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target.clone(), Vec::new()),
    };
    Ok(Some(Request {
        host,
        method,
        raw_path,
        query,
        headers,
    }))
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn write_reply(
    mut stream: TcpStream,
    req: &Request,
    reply: Reply,
    shared: &Shared,
) -> std::io::Result<()> {
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let body = fill_cdn(body, shared);
            write_head(&mut stream, status, &headers, body.len())?;
            if req.method != "HEAD" {
                stream.write_all(&body)?;
            }
            stream.flush()
        }
        Reply::Cut {
            status,
            headers,
            declared,
            body,
        } => {
            write_head(&mut stream, status, &headers, declared)?;
            stream.write_all(&body)?;
            stream.flush()?;
            stream.shutdown(std::net::Shutdown::Both)
        }
        Reply::Hang => {
            std::thread::sleep(Duration::from_secs(60));
            Ok(())
        }
        Reply::Close => stream.shutdown(std::net::Shutdown::Both),
    }
}

fn write_head(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    len: usize,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {len}\r\nConnection: close\r\n\r\n"
    ));
    stream.write_all(head.as_bytes())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Fixture URLs say `{{CDN}}`; the fake's CDN lives on a random port.
fn fill_cdn(body: Vec<u8>, shared: &Shared) -> Vec<u8> {
    match String::from_utf8(body) {
        Ok(text) if text.contains("{{CDN}}") => {
            text.replace("{{CDN}}", &shared.cdn_url).into_bytes()
        }
        Ok(text) => text.into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

fn ok_json(v: &Value) -> Reply {
    Reply::json(200, &serde_json::to_string_pretty(v).unwrap())
}

fn not_found(what: &str) -> Reply {
    Reply::problem(404, "Not Found", &format!("{what} could not be found"))
}

fn route_api(req: &Request, shared: &Shared) -> Reply {
    let f = &shared.fixtures;
    if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        let body = std::fs::read_to_string(f.errors.join("401.json")).unwrap();
        return Reply::Full {
            status: 401,
            headers: vec![
                ("Content-Type".into(), "application/problem+json".into()),
                (
                    "WWW-Authenticate".into(),
                    "Bearer error=\"invalid_token\"".into(),
                ),
            ],
            body: body.into_bytes(),
        };
    }
    let seg = req.segments();
    let seg: Vec<&str> = seg.iter().map(String::as_str).collect();
    match (req.method.as_str(), seg.as_slice()) {
        ("GET", ["v2", "consumer", "workflows"]) => list_workflows(req, shared),
        ("GET", ["v2", "consumer", "workflows", id]) => match f.workflows.get(*id) {
            Some(w) => ok_json(w),
            None => not_found(&format!("Workflow {id}")),
        },
        ("GET", ["v2", "consumer", "workflows", id, "steps", name]) => {
            let step = f.workflows.get(*id).and_then(|w| {
                w["steps"]
                    .as_array()?
                    .iter()
                    .find(|s| s["name"].as_str() == Some(*name))
                    .cloned()
            });
            match step {
                Some(s) => ok_json(&s),
                None => not_found(&format!("Step {name} of workflow {id}")),
            }
        }
        ("GET", ["v1", "consumer", "jobs", id]) => match f.jobs.get(*id) {
            Some(j) => ok_json(j),
            None => not_found(&format!("Job {id}")),
        },
        ("GET", ["v1", "manager", "workflows"]) => manager_workflows(req, shared),
        ("GET" | "HEAD", ["v2", "consumer", "blobs", id]) => blob_redirect(req, shared, id),
        _ => not_found(&format!("Route {}", req.raw_path)),
    }
}

fn manager_workflows(req: &Request, shared: &Shared) -> Reply {
    if req.param("UserId").is_none() {
        return validation("UserId", "The UserId field is required.");
    }
    let take = req.param("Take").map_or(Ok(10), str::parse::<usize>);
    match take {
        Ok(t) if (1..=10).contains(&t) => {
            let items: Vec<Value> = shared
                .fixtures
                .manager
                .as_array()
                .unwrap()
                .iter()
                .take(t)
                .cloned()
                .collect();
            ok_json(&Value::Array(items))
        }
        _ => validation("Take", "The field Take must be between 1 and 10."),
    }
}

fn validation(field: &str, msg: &str) -> Reply {
    let doc = json!({
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": {field: [msg]},
        "traceId": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    });
    Reply::Full {
        status: 400,
        headers: vec![("Content-Type".into(), "application/problem+json".into())],
        body: doc.to_string().into_bytes(),
    }
}

/// `GET /v2/consumer/workflows`: the fixture listing (or generated
/// workflows), filtered, ordered and paged as the API does.
fn list_workflows(req: &Request, shared: &Shared) -> Reply {
    let f = &shared.fixtures;
    let take = match req.param("take").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(t)) if (1..=100).contains(&t) => t,
        _ => return validation("take", "must be between 1 and 100"),
    };
    let offset = match req.param("cursor") {
        None | Some("") => 0,
        Some(c) if c == f.first_cursor => f.first_page_len,
        Some(c) => match c.strip_prefix("off:").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return validation("cursor", "The cursor is not valid."),
        },
    };
    if shared.synthetic > 0 {
        return synthetic_page(shared, offset, take);
    }
    let tags = req.params("tags");
    let exclude_failed = req.param("excludeFailed") == Some("true");
    let query = req.param("query").map(str::to_lowercase);
    let from = req.param("fromDate").map(str::to_string);
    let to = req.param("toDate").map(str::to_string);
    let mut items: Vec<&Value> = f
        .listing
        .iter()
        .filter(|w| {
            let wtags: Vec<&str> = w["tags"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let status = w["status"].as_str().unwrap_or("");
            let created = w["createdAt"].as_str().unwrap_or("");
            tags.iter().all(|t| wtags.contains(t))
                && !(exclude_failed && matches!(status, "failed" | "expired" | "canceled"))
                && query.as_ref().is_none_or(|q| {
                    w["metadata"].to_string().to_lowercase().contains(q)
                        || w.to_string().to_lowercase().contains(q)
                })
                && from.as_deref().is_none_or(|d| created >= d)
                && to.as_deref().is_none_or(|d| created <= d)
        })
        .collect();
    if req.param("ascending") == Some("true") {
        items.reverse();
    }
    let page: Vec<Value> = items
        .iter()
        .skip(offset)
        .take(take)
        .map(|v| (*v).clone())
        .collect();
    let end = offset + page.len();
    let next = if end < items.len() {
        if end == f.first_page_len && items.len() == f.listing.len() {
            Value::String(f.first_cursor.clone())
        } else {
            Value::String(format!("off:{end}"))
        }
    } else {
        Value::Null
    };
    ok_json(&json!({"next": next, "items": page}))
}

/// Generated workflows for long walks (benchmarks): copies of the first
/// fixture workflow with numbered ids.
fn synthetic_page(shared: &Shared, offset: usize, take: usize) -> Reply {
    let template = &shared.fixtures.listing[0];
    let end = (offset + take).min(shared.synthetic);
    let items: Vec<Value> = (offset..end)
        .map(|n| {
            let mut w = template.clone();
            w["id"] = Value::String(format!("0-synthetic-{n:08}"));
            w
        })
        .collect();
    let next = if end < shared.synthetic {
        Value::String(format!("off:{end}"))
    } else {
        Value::Null
    };
    Reply::json(200, &json!({"next": next, "items": items}).to_string())
}

/// Size of a generated blob named `synthetic-<bytes>.bin`.
fn synthetic_size(id: &str) -> Option<u64> {
    id.strip_prefix("synthetic-")?
        .strip_suffix(".bin")?
        .parse()
        .ok()
}

fn blob_redirect(req: &Request, shared: &Shared, id: &str) -> Reply {
    let exists = synthetic_size(id).is_some()
        || shared.fixtures.media.join(id).is_file() && !id.contains('/');
    if !exists {
        return not_found(&format!("Blob {id}"));
    }
    if req.method == "HEAD" {
        return Reply::Full {
            status: 204,
            headers: vec![],
            body: vec![],
        };
    }
    let location = format!(
        "{}/signed/{}?sig=4f1c9e2b7d&exp=1769120501",
        shared.cdn_url,
        req.raw_path.rsplit('/').next().unwrap_or("")
    );
    Reply::Full {
        status: 307,
        headers: vec![("Location".into(), location)],
        body: Vec::new(),
    }
}

fn content_type(id: &str, head: &[u8]) -> &'static str {
    let ext = id.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("jpeg" | "jpg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        _ if head.starts_with(b"\x89PNG") => "image/png",
        _ => "application/octet-stream",
    }
}

/// The CDN: `/signed/<blobId>`, with `Range: bytes=N-` support. Writes
/// straight to the stream so large generated files need no memory.
fn route_cdn(req: &Request, shared: &Shared, mut stream: TcpStream) -> std::io::Result<()> {
    let seg = req.segments();
    let (Some("signed"), Some(id), 2) = (seg.first().map(String::as_str), seg.get(1), seg.len())
    else {
        return write_reply(
            stream,
            req,
            Reply::html(404, "<html><body>Not Found</body></html>"),
            shared,
        );
    };
    let (len, data): (u64, Option<Vec<u8>>) = match synthetic_size(id) {
        Some(n) => (n, None),
        None => match std::fs::read(shared.fixtures.media.join(id)) {
            Ok(d) if !id.contains('/') => (d.len() as u64, Some(d)),
            _ => {
                let body = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code></Error>";
                return write_reply(
                    stream,
                    req,
                    Reply::Full {
                        status: 404,
                        headers: vec![("Content-Type".into(), "application/xml".into())],
                        body: body.into(),
                    },
                    shared,
                );
            }
        },
    };
    let ctype = content_type(id, data.as_deref().unwrap_or(&[]));
    let start = req
        .header("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<u64>().ok());
    let mut headers = vec![
        ("Content-Type".to_string(), ctype.to_string()),
        ("Accept-Ranges".to_string(), "bytes".to_string()),
        ("ETag".to_string(), format!("\"{len:x}\"")),
    ];
    let (status, from) = match start {
        Some(s) if s >= len => {
            headers.push(("Content-Range".into(), format!("bytes */{len}")));
            write_head(&mut stream, 416, &headers, 0)?;
            return Ok(());
        }
        Some(s) => {
            headers.push((
                "Content-Range".into(),
                format!("bytes {s}-{}/{len}", len - 1),
            ));
            (206, s)
        }
        None => (200, 0),
    };
    write_head(&mut stream, status, &headers, (len - from) as usize)?;
    match data {
        Some(d) => stream.write_all(&d[from as usize..])?,
        None => write_pattern(&mut stream, from, len, *shared.chunk_delay.lock().unwrap())?,
    }
    stream.flush()
}

/// The bytes of a generated blob: a repeating pattern, so that a resumed
/// download can be checked byte for byte.
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

fn write_pattern(
    stream: &mut TcpStream,
    from: u64,
    len: u64,
    delay: Duration,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = from;
    while pos < len {
        let n = ((len - pos) as usize).min(buf.len());
        for (k, b) in buf[..n].iter_mut().enumerate() {
            *b = pattern_byte(pos + k as u64);
        }
        stream.write_all(&buf[..n])?;
        pos += n as u64;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
    }
    Ok(())
}

/// Reads a whole stream (tests use it to drain sockets).
pub fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}
