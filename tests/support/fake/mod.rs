//! A fake Civitai orchestrator on 127.0.0.1: the API host and a second "CDN"
//! host, serving the responses in `fixtures/` the way the real service does
//! (paging with `take`/`cursor`, filters, ProblemDetails errors, a blob
//! redirect to signed CDN URLs, ranges on the CDN).
//!
//! It records every request, body included, so tests can assert what the
//! CLI sent, and takes scripted replies per path (429s, cut bodies,
//! hangs...) that are served, on either host, before the normal routes.
//! Plain std: one thread per connection, `Connection: close` on every
//! answer.
//!
//! This module owns the [`Fake`] handle (start, script, inspect) and the
//! connection loop: accept, read, record, then a scripted reply or a
//! route. The parts: `http` (reading requests, writing replies), `routes`
//! (the API), `cdn` (the CDN host), `state` (fixtures and what changes).
#![allow(dead_code)]

mod cdn;
mod http;
mod routes;
mod state;

use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

// The public API for tests; the example program and some test binaries use
// only part of it.
#[allow(unused_imports)]
pub use cdn::pattern_byte;
#[allow(unused_imports)]
pub use http::{decode, read_all, Reply, Request, MAX_BODY};
#[allow(unused_imports)]
pub use state::fixtures_dir;

use state::Shared;

/// The token the fake accepts.
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// Which of the two hosts got a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    Api,
    Cdn,
}

/// A running fake: its two hosts live as long as the test process.
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
        let shared = Arc::new(Shared::new(url.clone(), cdn_url.clone(), opts.synthetic));
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
        self.shared.add_script(path, replies);
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

    /// A stored workflow as the fake holds it: its URLs still say
    /// `{{CDN}}`, which becomes the CDN's URL when a reply is written.
    pub fn workflow(&self, id: &str) -> Value {
        let store = self.shared.workflows.lock().unwrap();
        store
            .get(id)
            .unwrap_or_else(|| panic!("no workflow {id} in the fake"))
            .clone()
    }

    /// Adds a workflow to the store (after the others: the newest), or
    /// replaces the one with its `id`; listings and `GET` then serve it.
    pub fn put_workflow(&self, workflow: Value) {
        self.shared.workflows.lock().unwrap().put(workflow);
    }

    /// Bytes of a fixture media file.
    pub fn media(&self, blob_id: &str) -> Vec<u8> {
        std::fs::read(self.shared.fixtures.media.join(blob_id)).unwrap()
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

/// One connection: read the request, record it, then answer it with the
/// next scripted reply for its path or by the host's routes.
fn answer(stream: TcpStream, host: Host, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let req = match http::read_request(&mut reader, &mut &stream, host) {
        Ok(Some(req)) => req,
        Ok(None) => return Ok(()),
        Err(http::ReadError::Io(e)) => return Err(e),
        Err(http::ReadError::Bad(reply)) => return http::write_reply(stream, "", reply),
    };
    shared.record(&req);
    let scripted = shared.next_scripted(&req.raw_path);
    if host == Host::Cdn {
        let delay = *shared.cdn_delay.lock().unwrap();
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
    }
    let reply = match scripted {
        Some(r) => r,
        None => match host {
            Host::Api => routes::route(&req, shared),
            Host::Cdn => return cdn::serve(&req, shared, stream),
        },
    };
    http::write_reply(stream, &req.method, fill_cdn(reply, &shared.cdn_url))
}

/// Fixture URLs (and scripted bodies and `Location`s) say `{{CDN}}`; the
/// fake's CDN lives on a random port.
fn fill_cdn(reply: Reply, cdn_url: &str) -> Reply {
    let fill = |text: String| text.replace("{{CDN}}", cdn_url);
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => Reply::Full {
            status,
            headers: headers.into_iter().map(|(k, v)| (k, fill(v))).collect(),
            body: match String::from_utf8(body) {
                Ok(text) => fill(text).into_bytes(),
                Err(e) => e.into_bytes(),
            },
        },
        other => other,
    }
}
