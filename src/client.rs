//! HTTP: one ureq agent for the whole run, the bearer token on API requests
//! only, the retry loop, and the translation of statuses and transport
//! failures into [`Error`]s that say what to do.
//!
//! The agent is built with `http_status_as_error(false)` so that the status,
//! the body and `Retry-After` of a failed request reach us, and with redirects
//! off: a blob's redirect to its CDN is followed by hand, without the token.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ureq::http::Response;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Body, Proxy};

use crate::config::{Config, Proxies, CONNECT_TIMEOUT};
use crate::error::{Error, Kind, Result};
use crate::notes::Notes;
use crate::render::escape;
use crate::retry;

/// Error bodies are read up to this size for their message.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// JSON bodies larger than this are refused rather than held in memory.
const JSON_BODY_LIMIT: u64 = 64 * 1024 * 1024;

pub struct Client {
    agent: Agent,
    api_url: String,
    auth: String,
    masked_token: String,
    timeout: Duration,
    retries: u32,
    proxies: Proxies,
    https_proxy: Option<Proxy>,
    http_proxy: Option<Proxy>,
    notes: Notes,
}

/// Whether a request carries the bearer token: only requests to the API do.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Api,
    None,
}

/// A successful API answer whose body was read.
pub struct Answer {
    pub body: String,
}

impl Client {
    pub fn new(cfg: &Config, notes: Notes) -> Result<Client> {
        let token = cfg.require_token()?;
        let tls = TlsConfig::builder().root_certs(root_certs(cfg)?).build();
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .user_agent(concat!("civitai-orch/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .tls_config(tls)
            .proxy(None)
            .build()
            .into();
        Ok(Client {
            agent,
            api_url: cfg.api_url.clone(),
            auth: format!("Bearer {token}"),
            masked_token: mask(token),
            timeout: cfg.timeout,
            retries: cfg.retries,
            https_proxy: parse_proxy(cfg.proxies.https.as_deref(), "HTTPS_PROXY")?,
            http_proxy: parse_proxy(cfg.proxies.http.as_deref(), "HTTP_PROXY")?,
            proxies: cfg.proxies.clone(),
            notes,
        })
    }

    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
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
        let url = format!("{}{path}", self.api_url);
        self.with_retries(retries, || {
            let mut resp = match self.send(&url, Auth::Api, &[], Some(timeout)) {
                Ok(r) => r,
                Err(e) => return self.transport_attempt(e, &url, timeout),
            };
            let status = resp.status().as_u16();
            if (200..300).contains(&status) {
                return match read_body(&mut resp, JSON_BODY_LIMIT) {
                    Ok(Ok(body)) => Attempt::Done(Answer { body }),
                    Ok(Err(_)) => Attempt::Fail(Error::other(format!(
                        "the API sent a body that is not valid UTF-8 for {what}"
                    ))),
                    Err(e) => self.transport_attempt(e, &url, timeout),
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
        self.with_retries(self.retries, || {
            let mut resp = match self.send(url, auth, headers, None) {
                Ok(r) => r,
                Err(e) => return self.transport_attempt(e, url, self.timeout),
            };
            let status = resp.status().as_u16();
            if (200..400).contains(&status) || status == 416 {
                Attempt::Done(resp)
            } else {
                Attempt::from_status(&mut resp, what)
            }
        })
    }

    /// One request. `total` bounds the whole exchange (API calls); without it
    /// (downloads) only each read is bounded, so large files are not cut off.
    fn send(
        &self,
        url: &str,
        auth: Auth,
        headers: &[(&str, &str)],
        total: Option<Duration>,
    ) -> Result<Response<Body>, ureq::Error> {
        let mut req = self
            .agent
            .get(url)
            .config()
            .proxy(self.proxy_for(url))
            .timeout_global(total)
            .timeout_per_read(Some(self.timeout))
            .build();
        if auth == Auth::Api {
            req = req.header("Authorization", &self.auth);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.call()
    }

    /// HTTPS_PROXY for https URLs and HTTP_PROXY for http ones, unless
    /// NO_PROXY names the host. (ureq on its own would use ALL_PROXY or
    /// HTTP_PROXY for https too.)
    fn proxy_for(&self, url: &str) -> Option<Proxy> {
        let proxy = if url.starts_with("https://") {
            self.https_proxy.as_ref()
        } else {
            self.http_proxy.as_ref()
        }?;
        if let Some(list) = &self.proxies.no_proxy {
            if no_proxy_matches(list, host_of(url)) {
                return None;
            }
        }
        Some(proxy.clone())
    }

    /// A failed exchange, told apart by whether a proxy was in the way.
    fn transport_attempt<T>(&self, err: ureq::Error, url: &str, timeout: Duration) -> Attempt<T> {
        let proxied = self.proxy_for(url).is_some();
        Attempt::from_transport(err, url, timeout, proxied)
    }

    fn with_retries<T>(&self, retries: u32, mut attempt: impl FnMut() -> Attempt<T>) -> Result<T> {
        let total = retries.saturating_add(1);
        let mut n = 1;
        loop {
            match attempt() {
                Attempt::Done(t) => return Ok(t),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry(cause) => {
                    if n >= total {
                        return Err(cause.give_up(retries));
                    }
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

/// What one try came to.
enum Attempt<T> {
    Done(T),
    Retry(RetryCause),
    Fail(Error),
}

struct RetryCause {
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
    /// A failed exchange: a dropped connection is worth another try (all our
    /// requests are GETs); anything else is final.
    fn from_transport(err: ureq::Error, url: &str, timeout: Duration, proxied: bool) -> Attempt<T> {
        let error = transport_error(&err, url, timeout, proxied);
        if is_dropped(&err) {
            Attempt::Retry(RetryCause {
                label: format!("connection dropped ({})", short_transport(&err)),
                retry_after: None,
                error,
            })
        } else {
            Attempt::Fail(error)
        }
    }

    /// A non-success status: 429 and 502/503/504 are retried.
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
        if retry::is_retryable_status(status) {
            let label = if status == 429 {
                "rate limited (429)".to_string()
            } else {
                format!("server error ({} {})", status, reason(status))
            };
            Attempt::Retry(RetryCause {
                label,
                retry_after,
                error,
            })
        } else {
            Attempt::Fail(error)
        }
    }
}

/// The body as text: a transport failure is the outer error, bytes that are
/// not UTF-8 the inner one (that is the server's fault, not the network's).
fn read_body(
    resp: &mut Response<Body>,
    limit: u64,
) -> Result<Result<String, std::string::FromUtf8Error>, ureq::Error> {
    let bytes = resp.body_mut().with_config().limit(limit).read_to_vec()?;
    Ok(String::from_utf8(bytes))
}

/// Parses a body, naming what was expected when it is not that.
pub fn parse_json<'a, T: serde::Deserialize<'a>>(body: &'a str, what: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| {
        Error::other(format!(
            "the API sent a body that is not the expected JSON for {what}: {e}"
        ))
    })
}

/// The reason phrase of a status, for messages.
pub fn reason(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// The message and kind for a status the caller cannot use.
pub fn status_error(status: u16, content_type: &str, body: &str, what: &str) -> Error {
    let head = format!("{status} {}", reason(status))
        .trim_end()
        .to_string();
    let detail = summarize_body(content_type, body);
    let with_detail = |text: String| match &detail {
        Some(d) => format!("{head}: {d}; {text}"),
        None => format!("{head}: {text}"),
    };
    let (kind, message) = match status {
        400 | 422 => (
            Kind::BadRequest,
            with_detail("the API rejected the request; check the options".into()),
        ),
        401 => (
            Kind::Auth,
            with_detail("the token is invalid or expired; check CIVITAI_API_TOKEN".into()),
        ),
        403 => (
            Kind::Auth,
            with_detail("this token is not allowed to do that".into()),
        ),
        404 => (
            Kind::NotFound,
            match &detail {
                Some(d) => format!("{head}: no {what} ({d})"),
                None => format!("{head}: no {what}"),
            },
        ),
        429 => (Kind::RateLimited, with_detail("rate limited".into())),
        300..=399 => (
            Kind::Other,
            with_detail("check CIVITAI_API_URL (or --api-url): https, host and path".into()),
        ),
        500..=599 => (
            Kind::Network,
            with_detail("the server failed; try again later".into()),
        ),
        _ => (
            Kind::Other,
            with_detail(format!("unexpected answer for {what}")),
        ),
    };
    Error::new(kind, message).with_status(status)
}

/// One short line from an error body: ProblemDetails title, detail and
/// validation errors; a bare JSON string; nothing for an HTML page (the
/// status says it all); else the first line of text.
fn summarize_body(content_type: &str, body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() || content_type.contains("html") || body.starts_with('<') {
        return None;
    }
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(map)) => problem_summary(&map)?,
        Ok(_) => return None,
        Err(_) => body.lines().next().unwrap_or("").to_string(),
    };
    let text = escape(text.trim());
    (!text.is_empty()).then(|| crate::render::cut(&text, 300))
}

fn problem_summary(map: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let s = |k: &str| {
        map.get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let mut parts: Vec<String> = Vec::new();
    match (s("title"), s("detail")) {
        (Some(t), Some(d)) => parts.push(format!("{t}: {d}")),
        (Some(t), None) => parts.push(t.to_string()),
        (None, Some(d)) => parts.push(d.to_string()),
        (None, None) => {
            if let Some(m) = s("message").or(s("error")) {
                parts.push(m.to_string());
            }
        }
    }
    if let Some(serde_json::Value::Object(errors)) = map.get("errors") {
        let fields: Vec<String> = errors
            .iter()
            .map(|(field, msgs)| {
                let msgs = match msgs {
                    serde_json::Value::Array(a) => a
                        .iter()
                        .filter_map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.as_str().unwrap_or_default().to_string(),
                };
                format!("{field}: {msgs}")
            })
            .collect();
        if !fields.is_empty() {
            parts.push(format!("({})", fields.join("; ")));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn is_dropped(err: &ureq::Error) -> bool {
    use std::io::ErrorKind::*;
    match err {
        ureq::Error::Io(e) => matches!(
            e.kind(),
            ConnectionReset | ConnectionAborted | UnexpectedEof | BrokenPipe
        ),
        _ => false,
    }
}

fn short_transport(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Io(e) => e.kind().to_string(),
        other => other.to_string(),
    }
}

/// The message for a request that got no usable answer.
pub fn transport_error(err: &ureq::Error, url: &str, timeout: Duration, proxied: bool) -> Error {
    use std::io::ErrorKind;
    let host = host_of(url);
    // ureq reports TLS and name-lookup failures as plain I/O errors; their
    // text is all that tells them apart.
    let text = err.to_string();
    let lower = text.to_ascii_lowercase();
    let msg = match err {
        ureq::Error::Timeout(_) => timeout_message(host, timeout),
        ureq::Error::HostNotFound => resolve_message(host),
        _ if is_tls_failure(err, &lower) => format!(
            "TLS failure talking to {host}: {text}; check that the URL is https on an https \
             port, and behind an inspecting proxy set SSL_CERT_FILE to its CA bundle"
        ),
        _ if lower.contains("lookup address") || lower.contains("name or service not known") => {
            resolve_message(host)
        }
        ureq::Error::ConnectionFailed if proxied => proxy_message(host, "connection failed"),
        ureq::Error::ConnectionFailed => connect_message(host, "connection failed"),
        ureq::Error::Io(e) => match e.kind() {
            ErrorKind::ConnectionRefused if proxied => proxy_message(host, "connection refused"),
            ErrorKind::ConnectionRefused => connect_message(host, "connection refused"),
            ErrorKind::TimedOut | ErrorKind::WouldBlock => timeout_message(host, timeout),
            ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted => {
                format!(
                    "the connection to {host} dropped before the answer was complete; try again"
                )
            }
            _ => format!("network error talking to {host}: {e}"),
        },
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
            return Error::usage(format!("invalid URL '{}': {err}", escape(url)));
        }
        ureq::Error::ConnectProxyFailed(_) | ureq::Error::InvalidProxyUrl => {
            proxy_message(host, &text)
        }
        ureq::Error::Protocol(_) => {
            format!("{host} sent something that is not a valid HTTP answer: {err}")
        }
        ureq::Error::BodyExceedsLimit(n) => {
            return Error::other(format!("the answer from {host} is larger than {n} bytes"));
        }
        other => format!("request to {host} failed: {other}"),
    };
    Error::new(Kind::Network, msg)
}

fn is_tls_failure(err: &ureq::Error, lower: &str) -> bool {
    matches!(
        err,
        ureq::Error::Tls(_) | ureq::Error::Pem(_) | ureq::Error::Rustls(_)
    ) || [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

fn resolve_message(host: &str) -> String {
    format!("cannot resolve host '{host}'; check CIVITAI_API_URL (or --api-url) and the network")
}

fn proxy_message(host: &str, why: &str) -> String {
    format!(
        "cannot reach {host} through the proxy: {why}; check HTTPS_PROXY / HTTP_PROXY / NO_PROXY"
    )
}

fn timeout_message(host: &str, timeout: Duration) -> String {
    format!(
        "no answer from {host} within {}s; try again, or raise --timeout",
        timeout.as_secs()
    )
}

fn connect_message(host: &str, why: &str) -> String {
    format!("cannot connect to {host}: {why}; check CIVITAI_API_URL (or --api-url) and the network")
}

/// `host[:port]` of a URL, for messages and NO_PROXY.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

/// curl's NO_PROXY rules: `*` for all, else a comma list of hosts that also
/// cover their subdomains; a leading `.` or `*.` is allowed; ports are ignored.
fn no_proxy_matches(list: &str, host_port: &str) -> bool {
    let host = strip_port(host_port).to_ascii_lowercase();
    list.split(',').map(str::trim).any(|entry| {
        let entry = strip_port(entry).to_ascii_lowercase();
        let entry = entry.trim_start_matches('*').trim_start_matches('.');
        entry == "*"
            || (!entry.is_empty() && (host == entry || host.ends_with(&format!(".{entry}"))))
    }) || list.trim() == "*"
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

fn root_certs(cfg: &Config) -> Result<RootCerts> {
    let Some(path) = &cfg.ca_file else {
        return Ok(RootCerts::WebPki);
    };
    let pem = std::fs::read(path)
        .map_err(|e| Error::usage(format!("cannot read SSL_CERT_FILE {}: {e}", path.display())))?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "SSL_CERT_FILE {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(RootCerts::Specific(Arc::new(certs)))
}

/// An HTTP(S) proxy from the environment; other kinds (SOCKS) are refused
/// here rather than failing inside the request.
fn parse_proxy(value: Option<&str>, var: &str) -> Result<Option<Proxy>> {
    let Some(value) = value else { return Ok(None) };
    let scheme = value
        .split_once("://")
        .map_or("http", |(s, _)| s)
        .to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(Error::usage(format!(
            "{var} uses a '{scheme}' proxy; only http:// and https:// proxies are supported"
        )));
    }
    Proxy::new(value)
        .map(Some)
        .map_err(|_| Error::usage(format!("{var} is not a valid proxy URL")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_details_are_summarised() {
        let body = r#"{"title":"Bad Request","status":422,"detail":"Invalid","errors":{"take":["must be between 1 and 100"]}}"#;
        let e = status_error(422, "application/problem+json", body, "workflows");
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.message,
            "422 Unprocessable Entity: Bad Request: Invalid (take: must be between 1 and 100); \
             the API rejected the request; check the options"
        );
    }

    #[test]
    fn html_pages_are_not_dumped() {
        let e = status_error(
            502,
            "text/html",
            "<html><body>Bad gateway</body></html>",
            "x",
        );
        assert_eq!(
            e.message,
            "502 Bad Gateway: the server failed; try again later"
        );
        assert_eq!(e.exit_code(), 5);
    }

    #[test]
    fn not_found_names_the_thing() {
        let e = status_error(404, "", "", "workflow 'abc'");
        assert_eq!(e.message, "404 Not Found: no workflow 'abc'");
        assert_eq!(e.exit_code(), 4);
    }

    #[test]
    fn bare_string_bodies_and_control_characters() {
        let e = status_error(403, "application/json", "\"nope\\u001b[2J\"", "x");
        assert!(
            e.message.starts_with("403 Forbidden: nope\\x1b[2J;"),
            "{}",
            e.message
        );
    }

    #[test]
    fn hosts_and_no_proxy() {
        assert_eq!(
            host_of("https://u:p@api.example.com:8443/v2?x"),
            "api.example.com:8443"
        );
        assert!(no_proxy_matches(
            "localhost, .example.com",
            "cdn.example.com:443"
        ));
        assert!(no_proxy_matches("example.com", "example.com"));
        assert!(no_proxy_matches("*", "anything"));
        assert!(!no_proxy_matches("example.com", "badexample.com"));
        assert!(no_proxy_matches("127.0.0.1:9", "127.0.0.1:8080"));
    }
}
