//! HTTP: one ureq agent for the whole run, requests of any method with an
//! optional body, the bearer token on API requests only, and the retry
//! loop, which repeats a request only when the rules of `retry` say that
//! repeating it cannot do a thing twice.
//!
//! Every try of every request, API call or download, passes through
//! `with_retries`, which with `-v` writes one line about it (see `trace`).
//!
//! The agent is built with `http_status_as_error(false)` so that the status,
//! the body and `Retry-After` of a failed request reach us, and with redirects
//! off: a blob's redirect to its CDN is followed by hand, without the token.
//!
//! Its connections share one TLS client configuration, so a new connection
//! resumes an earlier one's session; the roots are read on the first
//! request that needs TLS (see `tls`).

mod messages;
mod proxy;
mod resolve;
pub mod retry;
mod tls;
mod trace;

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ureq::http::{self as h, Response};
use ureq::tls::TlsConfig;
use ureq::{Agent, AsSendBody, Body, ProxyProtocol, SendBody};

use crate::config::{Config, CONNECT_TIMEOUT};
use crate::error::{Error, Kind, Result};
use crate::notes::Notes;
use crate::text::escape;
pub use messages::{body_detail, reason, status_error, transport_error};
use retry::{Failure, Method};
pub use trace::shown_url;
use trace::{Exchange, Seen};

/// Error bodies are read up to this size for their message.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// JSON bodies larger than this are refused rather than held in memory.
const JSON_BODY_LIMIT: u64 = 64 * 1024 * 1024;

pub struct Client {
    agent: Agent,
    /// The TLS roots, shared with the agent's connector.
    roots: Arc<tls::Roots>,
    api_url: String,
    auth: String,
    masked_token: String,
    timeout: Duration,
    retries: u32,
    proxies: proxy::ProxyChoice,
    notes: Notes,
    /// API requests in flight at most (`-j`), whatever thread sends them.
    api_slots: Gate,
}

/// Whether a request carries the bearer token: only requests to the API do.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Api,
    None,
}

/// What a request sends after its head.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    Empty,
    /// A JSON document.
    Json(&'a [u8]),
    /// A file, streamed from disk (opened anew for each try).
    File {
        path: &'a Path,
        content_type: &'a str,
    },
}

/// One request: to the API (a path after the API URL, with the token), or
/// to a signed URL of another host (`Auth::None`, an absolute URL).
pub struct Call<'a> {
    pub method: Method,
    /// The path and query after the API URL; an absolute URL for `Auth::None`.
    pub path: &'a str,
    pub auth: Auth,
    /// Extra request headers (never `Authorization`: `auth` decides that).
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: Payload<'a>,
    /// The request carries an idempotency key: the server does it once
    /// however often it is sent, so a POST may be repeated too.
    pub keyed: bool,
    /// An answer outside 2xx is still an [`Answer`] (after the retries a
    /// 429 or 5xx is due), for a caller that prints any answer (`api`).
    pub any_status: bool,
    /// The thing asked for, for messages (`workflow 'x'`).
    pub what: &'a str,
}

impl<'a> Call<'a> {
    /// A call to the API with no body, no extra headers, no key.
    pub fn api(method: Method, path: &'a str, what: &'a str) -> Call<'a> {
        Call {
            method,
            path,
            auth: Auth::Api,
            headers: &[],
            payload: Payload::Empty,
            keyed: false,
            any_status: false,
            what,
        }
    }
}

/// An API answer whose body was read.
pub struct Answer {
    pub status: u16,
    /// The answer's headers, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The first value of a header (`name` in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// See [`agent_config`].
const INPUT_BUFFER: usize = 64 * 1024;
/// A request head must fit in the output buffer whole, and a pasted
/// `--query`, a long id or a CDN's signed `Location` can make one far over
/// 16 KiB. 64 KiB is twice what the API's server (ASP.NET's Kestrel: 32 KiB
/// of headers, 8 KiB of request line) and common CDNs take, so a longer
/// head could not be answered anyway; it is refused with its own message.
pub(crate) const OUTPUT_BUFFER: usize = 64 * 1024;

impl Client {
    pub fn new(cfg: &Config, notes: Notes) -> Result<Client> {
        let token = cfg.require_token()?;
        // The roots are read when a request first needs TLS (see `tls`).
        let roots = Arc::new(tls::Roots::new(cfg.ca_file.clone(), agent_config));
        let agent = Agent::with_parts(
            agent_config(TlsConfig::default()),
            tls::connector(roots.clone()),
            resolve::Addresses::default(),
        );
        Ok(Client {
            agent,
            roots,
            api_url: cfg.api_url.clone(),
            auth: format!("Bearer {token}"),
            masked_token: mask(token),
            timeout: cfg.timeout,
            retries: cfg.retries,
            proxies: proxy::ProxyChoice::new(&cfg.proxies)?,
            notes,
            api_slots: Gate::new(usize::MAX),
        })
    }

    /// At most `n` API requests in flight at once, across every thread of
    /// the run (each try holds a slot, not the waits between tries).
    pub fn with_api_limit(mut self, n: usize) -> Client {
        self.api_slots = Gate::new(n);
        self
    }

    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `--retries`: how often a failed request may be sent again.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    pub fn masked_token(&self) -> &str {
        &self.masked_token
    }

    /// GET an API path (with its query) and read the body of a 2xx answer;
    /// `what` names the thing asked for, for a 404's message.
    pub fn get(&self, path: &str, what: &str) -> Result<Answer> {
        self.get_with(path, what, self.timeout, self.retries)
    }

    /// [`get`] with its own time bound and number of retries (`--wait`
    /// polls once per try and must not outlast its deadline).
    ///
    /// [`get`]: Client::get
    pub fn get_with(
        &self,
        path: &str,
        what: &str,
        timeout: Duration,
        retries: u32,
    ) -> Result<Answer> {
        self.call_with(&Call::api(Method::Get, path, what), timeout, retries)
    }

    /// Sends one request of any method to the API and reads the body of its
    /// 2xx answer, retrying as far as the method and the key allow.
    pub fn call(&self, call: &Call) -> Result<Answer> {
        self.call_with(call, self.timeout, self.retries)
    }

    /// [`call`] with its own time bound for each try and number of
    /// retries: a request the server holds on purpose (`submit`'s `wait`)
    /// needs longer than `--timeout`.
    ///
    /// [`call`]: Client::call
    pub fn call_with(&self, call: &Call, timeout: Duration, retries: u32) -> Result<Answer> {
        let url = match call.auth {
            Auth::Api => format!("{}{}", self.api_url, call.path),
            Auth::None => call.path.to_string(),
        };
        self.tls_ready(&url)?;
        let what = call.what;
        // A file's upload may outlast any bound on the whole exchange: each
        // read and write is bounded instead, as a download's reads are.
        let total = match call.payload {
            Payload::File { .. } => None,
            _ => Some(timeout),
        };
        let ex = Exchange {
            method: call.method,
            url: &url,
            auth: call.auth,
        };
        self.with_retries(ex, call.keyed, retries, |seen| {
            let mut resp = match self.send(
                call.method,
                &url,
                call.auth,
                call.headers,
                call.payload,
                total,
                seen,
            ) {
                Ok(r) => r,
                Err(e) => return self.transport_attempt(e, &url, timeout, seen),
            };
            let status = resp.status().as_u16();
            let ok = (200..300).contains(&status);
            let due_retry = retry::is_retryable_status(status)
                && !seen.last
                && retry::may_repeat(call.method, call.keyed, Failure::Status(status));
            if ok || (call.any_status && !due_retry) {
                let headers = resp
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                        (k.as_str().to_string(), v)
                    })
                    .collect();
                return match read_body(&mut resp, JSON_BODY_LIMIT) {
                    Ok(Ok(body)) => Attempt::Done(Answer {
                        status,
                        headers,
                        body,
                    }),
                    Ok(Err(_)) => Attempt::Fail(Error::other(format!(
                        "the API sent a body that is not valid UTF-8 for {what}"
                    ))),
                    Err(e) => self.transport_attempt(e, &url, timeout, seen),
                };
            }
            Attempt::from_status(&mut resp, what)
        })
    }

    /// Opens a GET whose body the caller streams: 2xx and 3xx answers come
    /// back as they are, anything else as an error. Retries like [`get`].
    ///
    /// [`get`]: Client::get
    pub fn open(
        &self,
        url: &str,
        auth: Auth,
        headers: &[(&str, &str)],
        what: &str,
    ) -> Result<Response<Body>> {
        self.tls_ready(url)?;
        let ex = Exchange {
            method: Method::Get,
            url,
            auth,
        };
        self.with_retries(ex, false, self.retries, |seen| {
            let sent = self.send(Method::Get, url, auth, headers, Payload::Empty, None, seen);
            let mut resp = match sent {
                Ok(r) => r,
                Err(e) => return self.transport_attempt(e, url, self.timeout, seen),
            };
            let status = resp.status().as_u16();
            if (200..400).contains(&status) || status == 416 {
                Attempt::Done(resp)
            } else {
                Attempt::from_status(&mut resp, what)
            }
        })
    }

    /// Loads the TLS roots before the first request that needs them (an
    /// https URL, or an https proxy), so that a bad SSL_CERT_FILE is a usage
    /// error rather than a failed try, and an http-only run never reads it.
    fn tls_ready(&self, url: &str) -> Result<()> {
        let https = url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        let tls_proxy = || {
            self.proxies
                .for_url(url)
                .is_some_and(|p| matches!(p.protocol(), ProxyProtocol::Https))
        };
        if https || tls_proxy() {
            self.roots.ready()
        } else {
            Ok(())
        }
    }

    /// One request. `total` bounds the whole exchange (API calls); without it
    /// (downloads, uploads) only each read and write is bounded, so large
    /// files are not cut off.
    /// The status of the answer is noted in `seen`.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        method: Method,
        url: &str,
        auth: Auth,
        headers: &[(&str, &str)],
        payload: Payload,
        total: Option<Duration>,
        seen: &mut Seen,
    ) -> Result<Response<Body>, Sent> {
        // An API URL is the user's path and query (`--query`, ids, `api
        // PATH`) on the configured base. One longer than the head limit
        // would be refused as a bad URL by the http crate (past 64 KiB)
        // before ureq could say the head is too long: it gets the message
        // of a head too long here. (A server's URL that long fails as a
        // bad URL: not the user's to shorten.)
        if auth == Auth::Api && url.len() > OUTPUT_BUFFER {
            return Err(Sent::Local(messages::too_long(proxy::host_of(url))));
        }
        let mut req = h::Request::builder().method(method.as_str()).uri(url);
        if auth == Auth::Api {
            req = req.header("Authorization", &self.auth);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        // `as_body` gives the body with its length (a Content-Length, not
        // chunks): a byte slice's, or a file's size on disk.
        let resp = match payload {
            Payload::Empty => self.run(req, SendBody::none(), url, total),
            Payload::Json(mut bytes) => {
                // A caller's own type wins (`api -H 'Content-Type: ...'`,
                // a JSON Patch): one Content-Type, never two.
                let typed = headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
                if !typed {
                    req = req.header("Content-Type", "application/json");
                }
                self.run(req, bytes.as_body(), url, total)
            }
            Payload::File { path, content_type } => {
                let mut file = File::open(path).map_err(|e| {
                    Sent::Local(Error::other(format!("cannot read {}: {e}", path.display())))
                })?;
                let req = req.header("Content-Type", content_type);
                self.run(req, file.as_body(), url, total)
            }
        }?;
        seen.status = Some(resp.status().as_u16());
        Ok(resp)
    }

    fn run(
        &self,
        req: h::request::Builder,
        body: SendBody,
        url: &str,
        total: Option<Duration>,
    ) -> Result<Response<Body>, Sent> {
        let req = req.body(body).map_err(|e| {
            // The URL came from the server (a redirect) or was checked as a
            // setting already: a bad one is the server's fault, not usage.
            Sent::Local(Error::other(format!(
                "cannot request '{}': {e}",
                crate::text::cut(&shown_url(url, Auth::None), 200)
            )))
        })?;
        let req = self
            .agent
            .configure_request(req)
            .proxy(self.proxies.for_url(url))
            .timeout_global(total)
            // A try given longer than --timeout (a held request) may wait
            // that long for its answer's first byte too.
            .timeout_per_read(Some(total.map_or(self.timeout, |t| t.max(self.timeout))))
            .timeout_per_write(Some(self.timeout))
            .build();
        self.agent.run(req).map_err(Sent::Transport)
    }

    /// A failed exchange, told apart by whether a proxy was in the way; the
    /// failure is noted in `seen`.
    fn transport_attempt<T>(
        &self,
        err: Sent,
        url: &str,
        timeout: Duration,
        seen: &mut Seen,
    ) -> Attempt<T> {
        match err {
            Sent::Local(e) => Attempt::Fail(e),
            Sent::Transport(err) => {
                seen.failure = Some(messages::short_transport(&err));
                let proxied = self.proxies.for_url(url).is_some();
                let api = url.starts_with(&self.api_url);
                Attempt::from_transport(err, url, timeout, proxied, api)
            }
        }
    }

    /// Tries `attempt` until it is done, fails for good, or the retries
    /// allowed for this request are spent. Every try of every request passes
    /// here, so this is where `-v` reports each one.
    fn with_retries<T>(
        &self,
        ex: Exchange,
        keyed: bool,
        retries: u32,
        mut attempt: impl FnMut(&mut Seen) -> Attempt<T>,
    ) -> Result<T> {
        let total = retries.saturating_add(1);
        let mut n = 1;
        // A try that failed after the server may have acted on it (a
        // dropped connection, a 5xx), repeated because repeating it is
        // harmless: a later refusal may be of what it did.
        let mut maybe_done = false;
        loop {
            let mut seen = Seen {
                last: n >= total,
                ..Seen::default()
            };
            let start = Instant::now();
            let result = match ex.auth {
                Auth::Api => self.api_slots.pass(|| attempt(&mut seen)),
                Auth::None => attempt(&mut seen),
            };
            let trace = |after: &str| {
                if self.notes.is_verbose() {
                    let took = start.elapsed();
                    if let Some(line) = trace::line(&ex, n, retries, &seen, took, after) {
                        self.notes.request(&line);
                    }
                }
            };
            match result {
                Attempt::Done(t) => {
                    trace("");
                    return Ok(t);
                }
                Attempt::Fail(mut e) => {
                    trace("");
                    let refused = e.status.is_some_and(|s| (400..500).contains(&s));
                    if maybe_done && refused && !matches!(ex.method, Method::Get | Method::Head) {
                        let note = format!(
                            " (an earlier try of this {}, whose answer was lost, may have \
                             done it)",
                            ex.method.as_str()
                        );
                        // On the first line: field lines may follow.
                        let at = e.message.find('\n').unwrap_or(e.message.len());
                        e.message.insert_str(at, &note);
                    }
                    return Err(e);
                }
                Attempt::Retry(cause) => {
                    if !retry::may_repeat(ex.method, keyed, cause.failure) {
                        trace(&format!(
                            ", not retried: a {} may have taken effect",
                            ex.method.as_str()
                        ));
                        return Err(cause.error);
                    }
                    if n >= total {
                        trace(if retries > 0 { ", no retries left" } else { "" });
                        return Err(cause.give_up(retries));
                    }
                    trace(&format!(", retrying ({n} of {retries})"));
                    maybe_done |= matches!(cause.failure, Failure::Dropped)
                        || matches!(cause.failure, Failure::Status(s) if s >= 500);
                    let wait = cause
                        .retry_after
                        .unwrap_or_else(|| retry::backoff(n, jitter_seed()));
                    self.notes.note(&format!(
                        "{}; retrying in {}s (attempt {} of {total})",
                        cause.label,
                        retry::display_secs(wait),
                        n + 1
                    ));
                    std::thread::sleep(wait);
                    n += 1;
                }
            }
        }
    }
}

/// The agent's settings, around the TLS settings given: the agent's own
/// (no roots read yet), and the TLS link's (with the roots).
fn agent_config(tls: TlsConfig) -> ureq::config::Config {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .user_agent(concat!("civitai-orch/", env!("CARGO_PKG_VERSION")))
        .accept("application/json")
        // ureq zero-fills both buffers for every connection: 128 KiB each
        // by default. 64 KiB still holds the largest response head ureq
        // accepts, and any request head a server takes (see OUTPUT_BUFFER).
        .input_buffer_size(INPUT_BUFFER)
        .output_buffer_size(OUTPUT_BUFFER)
        .tls_config(tls)
        .proxy(None)
        .build()
}

/// Why a request got no answer: a problem found before anything was sent
/// (a file to upload that cannot be read), or the transport's error.
enum Sent {
    Local(Error),
    Transport(ureq::Error),
}

/// What one try came to.
enum Attempt<T> {
    Done(T),
    /// A failure that repeating might mend, if the request may be repeated.
    Retry(RetryCause),
    Fail(Error),
}

struct RetryCause {
    /// What happened, for the retry rules.
    failure: Failure,
    /// Shown in the note: `rate limited (429)`.
    label: String,
    retry_after: Option<Duration>,
    /// What to report when no retry is left.
    error: Error,
}

impl RetryCause {
    fn give_up(self, retries: u32) -> Error {
        let mut e = self.error;
        if e.kind == Kind::RateLimited {
            e.message = if retries == 0 {
                "429 Too Many Requests: rate limited, and retries are off (--retries 0); \
                 wait and try again"
                    .into()
            } else {
                format!(
                    "429 Too Many Requests: still rate limited after {retries} retries; \
                     wait a minute and try again, or raise --retries"
                )
            };
        }
        e
    }
}

impl<T> Attempt<T> {
    /// A failed exchange: one that never reached the server, or a dropped
    /// connection, may be worth another try; anything else is final.
    fn from_transport(
        err: ureq::Error,
        url: &str,
        timeout: Duration,
        proxied: bool,
        api: bool,
    ) -> Attempt<T> {
        let error = transport_error(&err, url, timeout, proxied, api);
        let failure = if retry::never_sent(&err) {
            Failure::NotSent
        } else if messages::is_dropped(&err) {
            Failure::Dropped
        } else {
            return Attempt::Fail(error);
        };
        Attempt::Retry(RetryCause {
            failure,
            label: format!(
                "connection {} ({})",
                if failure == Failure::NotSent {
                    "failed"
                } else {
                    "dropped"
                },
                messages::short_transport(&err)
            ),
            retry_after: None,
            error,
        })
    }

    /// A non-success status: 429 and 502/503/504 may be retried.
    fn from_status(resp: &mut Response<Body>, what: &str) -> Attempt<T> {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        // The body is only context for the message: a failure to read it is not worth reporting.
        let body = match read_body(resp, ERROR_BODY_LIMIT) {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            Err(_) => String::new(),
        };
        let body = match resp.headers().get("location").and_then(|v| v.to_str().ok()) {
            Some(loc) if (300..400).contains(&status) => format!("redirected to {}", escape(loc)),
            _ => body,
        };
        let error = status_error(status, &content_type, &body, what);
        if !retry::is_retryable_status(status) {
            return Attempt::Fail(error);
        }
        let label = if status == 429 {
            "rate limited (429)".to_string()
        } else {
            format!("server error ({} {})", status, reason(status))
        };
        Attempt::Retry(RetryCause {
            failure: Failure::Status(status),
            label,
            retry_after,
            error,
        })
    }
}

/// The body as text: a transport failure is the outer error, bytes that are
/// not UTF-8 the inner one (that is the server's fault, not the network's).
fn read_body(
    resp: &mut Response<Body>,
    limit: u64,
) -> Result<Result<String, std::string::FromUtf8Error>, Sent> {
    // Sized from Content-Length when the server sends it (and it is within
    // the limit): one allocation, where growing by doubling copies the body
    // a few times over and hands memory back and forth with the allocator.
    let expected = resp
        .body()
        .content_length()
        .filter(|&n| n <= limit)
        .unwrap_or(0);
    let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    std::io::Read::read_to_end(
        &mut resp.body_mut().with_config().limit(limit).reader(),
        &mut bytes,
    )
    .map_err(|e| Sent::Transport(ureq::Error::from(e)))?;
    Ok(String::from_utf8(bytes))
}

/// At most the first 4 characters, and only of a token long enough that
/// they give nothing away.
fn mask(token: &str) -> String {
    let n = token.chars().count();
    if n >= 16 {
        let head: String = token.chars().take(4).collect();
        format!("{head}... ({n} characters)")
    } else {
        format!("set ({n} characters)")
    }
}

/// Jitter for backoff; the clock's nanoseconds are random enough for that.
fn jitter_seed() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64)
}

/// A limit on work in flight, shared by every thread of a run: the
/// client's API requests (`-j`), and work that itself fans out (a
/// workflow's jobs).
pub struct Gate {
    busy: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

impl Gate {
    pub fn new(max: usize) -> Gate {
        Gate {
            busy: Mutex::new(0),
            freed: Condvar::new(),
            max: max.max(1),
        }
    }

    /// Runs `f` once fewer than `max` others are running.
    pub fn pass<R>(&self, f: impl FnOnce() -> R) -> R {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while *busy >= self.max {
            busy = self.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        *busy += 1;
        drop(busy);
        let r = f();
        *self.busy.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.freed.notify_one();
        r
    }
}
