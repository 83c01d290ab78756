//! The message catalogue of the HTTP layer: what a status or a transport
//! failure means, in one line that says what to do next, with the useful
//! part of an error body (ProblemDetails, a bare string) and nothing of an
//! HTML page. Each thing is said once: a title that only repeats the
//! status's reason phrase is left out, and so is a clause of ours that the
//! server's own words already say.

use std::time::Duration;

use super::proxy::host_of;
use crate::error::{Error, Kind};
use crate::text::{cut, escape, mask};

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
    // What the message says anyway; a 404's names the thing asked for.
    let known = if status == 404 {
        format!("{head} no {what}")
    } else {
        head.clone()
    };
    let detail = summarize_body(content_type, body, &known);
    let with_detail = |text: String| match &detail {
        Some(d) => {
            let ours: Vec<&str> = text.split("; ").filter(|c| adds(c, d)).collect();
            if ours.is_empty() {
                format!("{head}: {d}")
            } else {
                format!("{head}: {d}; {}", ours.join("; "))
            }
        }
        None => format!("{head}: {text}"),
    };
    let (kind, message) = match status {
        400 | 422 => (
            Kind::BadRequest,
            with_detail("the API rejected the request; check the options".into()),
        ),
        // The request's body is the caller's: too large, or of a type the
        // server does not take. Input to change, as a 400 is.
        413 => (
            Kind::BadRequest,
            with_detail("the request's body is too large".into()),
        ),
        415 => (
            Kind::BadRequest,
            with_detail("the server does not take the body's Content-Type".into()),
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
    let mut message = message;
    for line in field_lines(body) {
        message.push_str("\n  ");
        message.push_str(&line);
    }
    Error::new(kind, message).with_status(status)
}

/// The most field errors listed; the rest are counted.
const MAX_FIELD_LINES: usize = 20;

/// A ValidationProblemDetails' `errors`, one line each, to go under the
/// message: `steps[0].input.width: must be a positive integer` (a field
/// with several messages gives a line for each).
fn field_lines(body: &str) -> Vec<String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(body.trim()) else {
        return Vec::new();
    };
    let Some(serde_json::Value::Object(errors)) = map.get("errors") else {
        return Vec::new();
    };
    let mut lines: Vec<String> = Vec::new();
    for (field, msgs) in errors {
        let msgs: Vec<&str> = match msgs {
            serde_json::Value::Array(a) => a.iter().filter_map(|m| m.as_str()).collect(),
            other => other.as_str().into_iter().collect(),
        };
        let field = escape(&mask(field));
        if msgs.is_empty() {
            lines.push(cut(&field, 300));
        }
        for m in msgs {
            lines.push(cut(&format!("{field}: {}", escape(&mask(m.trim()))), 300));
        }
    }
    if lines.len() > MAX_FIELD_LINES {
        let more = lines.len() - MAX_FIELD_LINES;
        lines.truncate(MAX_FIELD_LINES);
        lines.push(format!("... and {more} more"));
    }
    lines
}

/// The useful part of an error body in one short line, escaped and with
/// secrets hidden, for a caller that words the rest of the message itself;
/// nothing that `known` (its own words) already says.
pub fn body_detail(content_type: &str, body: &str, known: &str) -> Option<String> {
    summarize_body(content_type, body, known)
}

/// One short line from an error body: ProblemDetails title and detail
/// (its validation errors go on lines of their own); a bare JSON string; nothing for an HTML page (the
/// status says it all); else the first line of text. Whatever says nothing
/// that `known` (the message's own words) does not is left out.
fn summarize_body(content_type: &str, body: &str, known: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() || content_type.contains("html") || body.starts_with('<') {
        return None;
    }
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(map)) => problem_summary(&map, known)?,
        Ok(_) => return None,
        Err(_) => body.lines().next().unwrap_or("").to_string(),
    };
    if !adds(&text, known) {
        return None;
    }
    // Secrets are hidden before the text is cut: a cut through a token
    // would leave its first characters unrecognised.
    let text = escape(&mask(text.trim()));
    (!text.is_empty()).then(|| cut(&text, 300))
}

/// ProblemDetails in one line: `title: detail`, less a title or detail
/// that says nothing `known` or the other does not.
fn problem_summary(
    map: &serde_json::Map<String, serde_json::Value>,
    known: &str,
) -> Option<String> {
    // A full stop would end the sentence before the rest of the line.
    let s = |k: &str| {
        map.get(k)
            .and_then(|v| v.as_str())
            .map(|s| s.trim().strip_suffix('.').unwrap_or(s.trim()))
            .filter(|s| adds(s, known))
    };
    let mut parts: Vec<String> = Vec::new();
    match (s("title"), s("detail")) {
        (Some(t), Some(d)) if !adds(t, d) => parts.push(d.to_string()),
        (Some(t), Some(d)) if !adds(d, t) => parts.push(t.to_string()),
        (Some(t), Some(d)) => parts.push(format!("{t}: {d}")),
        (Some(t), None) => parts.push(t.to_string()),
        (None, Some(d)) => parts.push(d.to_string()),
        (None, None) => {
            if let Some(m) = s("message").or(s("error")) {
                parts.push(m.to_string());
            }
        }
    }
    // Validation `errors` get a line each: see `field_lines`.
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Whether `text` says anything `known` does not: a word of its own
/// (compared without case, small words aside). `Unauthorized` adds nothing
/// to `401 Unauthorized`, nor `Workflow x could not be found` to
/// `404 Not Found: no workflow 'x'`.
fn adds(text: &str, known: &str) -> bool {
    const SMALL: &[&str] = &[
        "a", "an", "and", "are", "be", "been", "can", "could", "for", "has", "have", "is", "it",
        "of", "or", "the", "this", "to", "was", "were",
    ];
    let words = |t: &str| -> Vec<String> {
        t.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let known = words(known);
    words(text)
        .iter()
        .any(|w| !SMALL.contains(&w.as_str()) && !known.contains(w))
}

pub fn is_dropped(err: &ureq::Error) -> bool {
    use std::io::ErrorKind::*;
    match err {
        ureq::Error::Io(e) => matches!(
            e.kind(),
            ConnectionReset | ConnectionAborted | UnexpectedEof | BrokenPipe
        ),
        _ => false,
    }
}

pub fn short_transport(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Io(e) => e.kind().to_string(),
        other => other.to_string(),
    }
}

/// The message for a request that got no usable answer; `api` says
/// whether `url` is the API's (the setting to check) or a file server's.
pub fn transport_error(
    err: &ureq::Error,
    url: &str,
    timeout: Duration,
    proxied: bool,
    api: bool,
) -> Error {
    use std::io::ErrorKind;
    let host = host_of(url);
    // ureq reports TLS and name-lookup failures as plain I/O errors; their
    // text is all that tells them apart.
    let text = err.to_string();
    let lower = text.to_ascii_lowercase();
    let msg = match err {
        ureq::Error::Timeout(_) => timeout_message(host, timeout),
        ureq::Error::HostNotFound => resolve_message(host, api),
        _ if is_tls_failure(err, &lower) => format!(
            "TLS failure talking to {host}: {text}; check that the URL is https on an https \
             port, and behind an inspecting proxy set SSL_CERT_FILE to its CA bundle"
        ),
        _ if lower.contains("lookup address") || lower.contains("name or service not known") => {
            resolve_message(host, api)
        }
        ureq::Error::ConnectionFailed if proxied => proxy_message(host, "connection failed"),
        ureq::Error::ConnectionFailed => connect_message(host, "connection failed", api),
        ureq::Error::Io(e) => match e.kind() {
            ErrorKind::ConnectionRefused if proxied => proxy_message(host, "connection refused"),
            ErrorKind::ConnectionRefused => connect_message(host, "connection refused", api),
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
            // A signed link's query is its key: never in a message.
            let shown = super::shown_url(url, super::Auth::None);
            return Error::usage(format!("invalid URL '{}': {err}", cut(&shown, 200)));
        }
        ureq::Error::ConnectProxyFailed(_) | ureq::Error::InvalidProxyUrl => {
            proxy_message(host, &text)
        }
        // Our own limit, not the server's fault: the request line and
        // headers did not fit the output buffer (see `OUTPUT_BUFFER`).
        // ureq does not export the protocol error type; its text is fixed
        // with the pinned version (tests/cli/http_layer.rs checks it).
        ureq::Error::Protocol(e) if e.to_string().starts_with("output too small") => {
            return too_long(host);
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

/// A request whose line and headers pass the output buffer (see
/// `OUTPUT_BUFFER`): the user's to shorten (`--query`, ids, `api PATH`).
pub fn too_long(host: &str) -> Error {
    Error::usage(format!(
        "the request to {host} is too long to send (its line and headers pass {} KiB); \
         shorten what goes into the URL",
        super::OUTPUT_BUFFER / 1024
    ))
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

/// What to check when a host cannot be reached: the API URL is a setting;
/// a file server's comes from the API.
fn hint(api: bool) -> &'static str {
    if api {
        "check CIVITAI_API_URL (or --api-url) and the network"
    } else {
        "the file server the API pointed to is unreachable; check the network or try again later"
    }
}

fn resolve_message(host: &str, api: bool) -> String {
    format!("cannot resolve host '{host}'; {}", hint(api))
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

fn connect_message(host: &str, why: &str, api: bool) -> String {
    format!("cannot connect to {host}: {why}; {}", hint(api))
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
            "422 Unprocessable Entity: Bad Request: Invalid; \
             the API rejected the request; check the options\n  take: must be between 1 and 100"
        );
    }

    #[test]
    fn field_errors_get_a_line_each() {
        let body = r#"{"title":"One or more validation errors occurred.","status":400,
            "errors":{"steps[0].input.width":["'width' must be a positive integer; it is 0."],
                      "tags":["A workflow has at most 10 tags.","The tag 'a' is given twice."],
                      "x\u001b":"bare"}}"#;
        let e = status_error(400, "application/problem+json", body, "x");
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.message,
            "400 Bad Request: One or more validation errors occurred; the API rejected \
             the request; check the options\n  \
             steps[0].input.width: 'width' must be a positive integer; it is 0.\n  \
             tags: A workflow has at most 10 tags.\n  \
             tags: The tag 'a' is given twice.\n  \
             x\\x1b: bare"
        );
        let many: serde_json::Map<String, serde_json::Value> = (0..25)
            .map(|i| (format!("f{i:02}"), serde_json::json!(["bad"])))
            .collect();
        let body = serde_json::json!({ "errors": many }).to_string();
        let e = status_error(400, "application/problem+json", &body, "x");
        let lines: Vec<&str> = e.message.lines().collect();
        assert_eq!(lines.len(), 1 + MAX_FIELD_LINES + 1, "{}", e.message);
        assert_eq!(lines[1], "  f00: bad");
        assert_eq!(lines.last(), Some(&"  ... and 5 more"));
    }

    #[test]
    fn a_body_too_large_or_of_a_wrong_type_is_bad_input() {
        let e = status_error(413, "application/xml", "<Error/>", "the upload");
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.message,
            "413 Payload Too Large: the request's body is too large"
        );
        let e = status_error(415, "text/plain", "", "x");
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            body_detail("text/plain", "type text/x not taken\nmore", "415"),
            Some("type text/x not taken".into())
        );
        assert_eq!(
            body_detail("text/plain", "Forbidden", "403 Forbidden"),
            None
        );
        assert_eq!(body_detail("text/html", "<p>x</p>", ""), None);
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
    fn each_thing_is_said_once() {
        let problem = |title: &str, detail: &str| {
            serde_json::json!({"title": title, "status": 0, "detail": detail}).to_string()
        };
        let ptype = "application/problem+json";
        let cases = [
            // The API's 401: the title is the reason phrase, and the detail
            // says what our own clause would.
            (
                status_error(
                    401,
                    ptype,
                    &problem(
                        "Unauthorized",
                        "The access token is missing, invalid or has expired.",
                    ),
                    "x",
                ),
                "401 Unauthorized: The access token is missing, invalid or has expired; \
                 check CIVITAI_API_TOKEN",
            ),
            (
                status_error(401, ptype, &problem("unauthorized", ""), "x"),
                "401 Unauthorized: the token is invalid or expired; check CIVITAI_API_TOKEN",
            ),
            (
                status_error(403, "application/json", "\"Forbidden\"", "x"),
                "403 Forbidden: this token is not allowed to do that",
            ),
            (
                status_error(
                    403,
                    "application/json",
                    "\"Manager access is required for this endpoint\"",
                    "x",
                ),
                "403 Forbidden: Manager access is required for this endpoint; \
                 this token is not allowed to do that",
            ),
            (
                status_error(
                    404,
                    ptype,
                    &problem("Not Found", "Workflow abc could not be found"),
                    "workflow 'abc'",
                ),
                "404 Not Found: no workflow 'abc'",
            ),
            (
                status_error(
                    404,
                    ptype,
                    &problem("Not Found", "Workflow abc was deleted on 2026-01-02."),
                    "workflow 'abc'",
                ),
                "404 Not Found: no workflow 'abc' (Workflow abc was deleted on 2026-01-02)",
            ),
            (
                status_error(
                    422,
                    ptype,
                    r#"{"title":"One or more validation errors occurred.","status":422,
                        "errors":{"take":["must be between 1 and 100"]}}"#,
                    "x",
                ),
                "422 Unprocessable Entity: One or more validation errors occurred; \
                 the API rejected the request; check the options\n  \
                 take: must be between 1 and 100",
            ),
            (
                status_error(500, ptype, &problem("Internal Server Error", "boom"), "x"),
                "500 Internal Server Error: boom; the server failed; try again later",
            ),
            (
                status_error(503, "text/plain", "service unavailable\n", "x"),
                "503 Service Unavailable: the server failed; try again later",
            ),
            (
                status_error(400, ptype, &problem("Validation", "Validation failed"), "x"),
                "400 Bad Request: Validation failed; the API rejected the request; \
                 check the options",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.message, want);
        }
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
}
