//! A fake Civitai orchestrator on 127.0.0.1: the API host and a second "CDN"
//! host, serving the responses in `fixtures/` the way the real service does
//! (paging with `take`/`cursor`, filters, ProblemDetails errors, a blob
//! redirect to signed CDN URLs, ranges on the CDN).
//!
//! It records every request, body included, so tests can assert what the
//! CLI sent, and takes scripted replies per path (429s, cut bodies,
//! hangs...) that are served, on either host, before the normal routes.
//! Plain std: one thread per connection, `Connection: close` on every
//! answer (so each request of a client is a new connection); with
//! [`Options::tls`], https on both hosts (rustls, a dev-dependency).
//!
//! This module owns the [`Fake`] handle (start, script, inspect) and the
//! connection loop: accept, read, record, then a scripted reply or a
//! route. The parts: `http` (reading requests, writing replies), `routes`
//! (the API), `writes` (submit, cancel, delete, tags: the write side),
//! `template` (a submit's body, checked and priced), `upload` (upload
//! URLs, uploads, blobs made while running, a blob's refresh), `cdn` (the
//! CDN host), `state` (fixtures and what changes), `stats` (the generated
//! dataset of [`Options::stats`]), `tls` (the https mode: certificate,
//! handshakes, a connection plain or TLS).
//!
//! The write side is stateful, as the API is: a submitted workflow is
//! stored (listed, read, its steps and jobs served), charged, and moves on
//! with each read of it until it ends as its template's `metadata.fake`
//! says (`{"end": "failed", "reads": 5}`; by default `succeeded` after 2
//! reads), its outputs then on the CDN; a cancel, a tag, a delete change
//! what every later read sees. `writes.rs` says exactly how, and what the
//! fake decided where API.md does not say. The knobs:
//! - [`Fake::set_buzz`]`(n)`: the Buzz left (a million by default); a
//!   submit that costs more is `403 "Insufficient buzz"`, a whatif says
//!   `insufficientBuzz: true`; [`Fake::buzz`] reads it (charges and
//!   refunds move it);
//! - [`Fake::drop_after_create`]`(n)`: the next n submits that make a
//!   workflow store it, then close the connection without an answer
//!   (exactly-once tests); [`Fake::submits`] counts the workflows made;
//! - [`Fake::cancel_ended_answers_204`]`(on)`: a cancel of a workflow that
//!   has ended answers `204` and changes nothing, instead of `400`;
//! - [`Fake::set_wait_tick`]`(d)`: the real time one second of `wait`
//!   takes (50 ms by default; each tick is one more read);
//! - [`Fake::set_upload_limit`]`(bytes)`: uploads above it are `413` (32
//!   MiB by default); [`Fake::uploads`] gives every upload received, bytes
//!   and headers.
//! - [`Options::tls`]: both hosts speak https (`fixtures/tls/`);
//!   [`Fake::handshakes`] gives each handshake's kind, full or resumed.
//!
//! What it holds besides the listed fixture workflows:
//! - every job of every fixture workflow answers
//!   `GET /v1/consumer/jobs/{id}` (`fixtures/jobs/`), as does every job of
//!   a generated `stats` workflow;
//! - the workflows of `fixtures/workflows/extra/` (the five-job one) are
//!   served by id but not listed, unless [`Options::extra`] lists them;
//! - [`Options::stats`] adds N generated, deterministic workflows to the
//!   store: the listing serves them with its filters and paging, and
//!   [`Fake::all_workflows`] gives them to tests to compute totals.
//!
//! Concurrency: [`Fake::cdn_max_inflight`] counts CDN connections being
//! served; [`Fake::api_max_inflight`] counts API requests between the end of
//! their reading and the end of their answer, scripted replies included;
//! [`Fake::set_api_delay`] pauses before each API answer so that overlap
//! shows.
//!
//! A page served twice: [`Fake::overlap_pages`]`(k)` makes each listing
//! `next` cursor start k items before the end of the page just served, so
//! the last k items of a page come again at the top of the next one (a
//! walk still ends: a cursor always moves on by at least one item). A
//! script does it too: a scripted first page whose `next` is `off:1` is
//! followed by the routes' page from item 1 on, whose first item the
//! scripted page already had.
#![allow(dead_code)]

mod cdn;
mod http;
mod routes;
mod state;
mod stats;
mod template;
mod tls;
mod upload;
mod writes;

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
#[allow(unused_imports)]
pub use tls::Handshake;
#[allow(unused_imports)]
pub use upload::{Upload, DEFAULT_UPLOAD_LIMIT};
#[allow(unused_imports)]
pub use writes::{DEFAULT_BUZZ, DEFAULT_WAIT_TICK};

use state::Shared;
use tls::Conn;

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
    /// Serve this many copies of the newest fixture workflow as the whole
    /// listing (long walks, benchmarks); the store is not changed.
    pub synthetic: usize,
    /// List the workflows of `fixtures/workflows/extra/` too (by default
    /// they are served by id only).
    pub extra: bool,
    /// Add this many generated workflows to the store, older than the
    /// fixture ones (a week from 2026-01-14), for `stats`.
    pub stats: usize,
    /// Both hosts speak https (the test certificate of `fixtures/tls/`,
    /// for 127.0.0.1; its CA is `fixtures/tls/ca.pem`), each connection's
    /// handshake counted by kind ([`Fake::handshakes`]).
    pub tls: bool,
}

impl Fake {
    pub fn start() -> Fake {
        Fake::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> Fake {
        let api = TcpListener::bind(("127.0.0.1", opts.port)).expect("bind api");
        let cdn = TcpListener::bind(("127.0.0.1", opts.cdn_port)).expect("bind cdn");
        let scheme = if opts.tls { "https" } else { "http" };
        let url = format!("{scheme}://{}", api.local_addr().unwrap());
        let cdn_url = format!("{scheme}://{}", cdn.local_addr().unwrap());
        let shared = Arc::new(Shared::new(url.clone(), cdn_url.clone(), &opts));
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

    /// A pause before each API answer (scripted ones included), so that
    /// requests sent together are answered together.
    pub fn set_api_delay(&self, d: Duration) {
        *self.shared.api_delay.lock().unwrap() = d;
    }

    /// The most API requests that were being answered at once (from the
    /// end of their reading to the end of their answer; scripted replies
    /// count too, refused malformed requests do not).
    pub fn api_max_inflight(&self) -> usize {
        self.shared.api_max_inflight.load(Ordering::SeqCst)
    }

    /// From now on, each `next` cursor of `GET /v2/consumer/workflows`
    /// starts `k` items before the end of the page just served (but at
    /// least one item after its start): a server that repeats items across
    /// pages. 0 turns it off.
    pub fn overlap_pages(&self, k: usize) {
        self.shared.overlap.store(k, Ordering::SeqCst);
    }

    /// The TLS handshakes of both hosts, in the order they ended (none
    /// without [`Options::tls`]).
    pub fn handshakes(&self) -> Vec<Handshake> {
        self.shared
            .tls
            .as_ref()
            .map_or_else(Vec::new, |t| t.handshakes())
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

    /// A stored workflow (listed or not) as the fake holds it: its URLs
    /// still say `{{CDN}}`, which becomes the CDN's URL when a reply is
    /// written.
    pub fn workflow(&self, id: &str) -> Value {
        let store = self.shared.workflows.lock().unwrap();
        store
            .get(id)
            .unwrap_or_else(|| panic!("no workflow {id} in the fake"))
            .clone()
    }

    /// Every listed workflow of the store, oldest first (creation order),
    /// as the fake holds them (`{{CDN}}` in their URLs): the fixtures, the
    /// generated `stats` ones, and any put since. Not the unlisted ones.
    pub fn all_workflows(&self) -> Vec<Value> {
        let store = self.shared.workflows.lock().unwrap();
        store.in_creation_order().cloned().collect()
    }

    /// A v1 job as the fake serves it (`{{CDN}}` not filled in).
    pub fn job(&self, id: &str) -> Value {
        self.shared
            .fixtures
            .jobs
            .get(id)
            .unwrap_or_else(|| panic!("no job {id} in the fake"))
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

    /// Sets the Buzz left to `n`: a submit that costs more is refused with
    /// `403 "Insufficient buzz"`, a whatif says `insufficientBuzz: true`.
    pub fn set_buzz(&self, n: u64) {
        self.shared.live.lock().unwrap().buzz = n;
    }

    /// The Buzz left: [`DEFAULT_BUZZ`] less what submits were charged,
    /// plus refunds.
    pub fn buzz(&self) -> u64 {
        self.shared.live.lock().unwrap().buzz
    }

    /// How many workflows submits have made (not whatifs, not the replays
    /// of an `externalId`), dropped connections included.
    pub fn submits(&self) -> usize {
        self.shared.live.lock().unwrap().submits
    }

    /// The next `n` submits that make a workflow make and store it, then
    /// close the connection without answering (a whatif, a replay of an
    /// `externalId` and a refused submit do not count).
    pub fn drop_after_create(&self, n: usize) {
        self.shared.drop_after_create.store(n, Ordering::SeqCst);
    }

    /// With `on`, a cancel of a workflow that has already ended answers
    /// `204` and changes nothing; without (the default), `400`
    /// ProblemDetails "Workflow has already completed". API.md leaves it
    /// open.
    pub fn cancel_ended_answers_204(&self, on: bool) {
        self.shared.cancel_ended_204.store(on, Ordering::SeqCst);
    }

    /// The real time one second of `wait` takes ([`DEFAULT_WAIT_TICK`]
    /// unless set); each tick is one more read of the workflow.
    pub fn set_wait_tick(&self, d: Duration) {
        *self.shared.wait_tick.lock().unwrap() = d;
    }

    /// Uploads larger than `bytes` are refused with `413`
    /// ([`DEFAULT_UPLOAD_LIMIT`] unless set).
    pub fn set_upload_limit(&self, bytes: usize) {
        self.shared.blobs.lock().unwrap().limit = bytes;
    }

    /// Every `POST` to an upload URL that reached the route (refused ones
    /// too), in order: its bytes, all its headers, its status and blob.
    pub fn uploads(&self) -> Vec<Upload> {
        self.shared.blobs.lock().unwrap().uploads.clone()
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
    let stream = match &shared.tls {
        Some(tls) => tls.accept(stream)?,
        None => Conn::Plain(stream),
    };
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
fn answer(stream: Conn, host: Host, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let req = match http::read_request(&mut reader, &mut stream.try_clone()?, host) {
        Ok(Some(req)) => req,
        Ok(None) => return Ok(()),
        Err(http::ReadError::Io(e)) => return Err(e),
        Err(http::ReadError::Bad(reply)) => return http::write_reply(stream, "", reply),
    };
    shared.record(&req);
    let busy = (host == Host::Api).then(|| ApiBusy::enter(shared));
    let scripted = shared.next_scripted(&req.raw_path);
    let delay = match host {
        Host::Cdn => *shared.cdn_delay.lock().unwrap(),
        Host::Api => *shared.api_delay.lock().unwrap(),
    };
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let reply = match scripted {
        Some(r) => r,
        None => match host {
            Host::Api => routes::route(&req, shared),
            Host::Cdn => return cdn::serve(&req, shared, stream),
        },
    };
    // No longer counted once the answer goes out: the client may send its
    // next request as soon as it has read it, before this thread is done.
    drop(busy);
    http::write_reply(stream, &req.method, fill_cdn(reply, &shared.cdn_url))
}

/// One API request being answered: counted in `api_inflight` until
/// dropped (before its answer is written), however the answer ends.
struct ApiBusy<'a>(&'a Shared);

impl<'a> ApiBusy<'a> {
    fn enter(shared: &'a Shared) -> ApiBusy<'a> {
        let now = shared.api_inflight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.api_max_inflight.fetch_max(now, Ordering::SeqCst);
        ApiBusy(shared)
    }
}

impl Drop for ApiBusy<'_> {
    fn drop(&mut self) {
        self.0.api_inflight.fetch_sub(1, Ordering::SeqCst);
    }
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
