//! The message catalogue of the HTTP layer: what a status or a transport
//! failure means, in one line that says what to do next, with the useful
//! part of an error body (ProblemDetails, a bare string) and nothing of an
//! HTML page.

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
    // Secrets are hidden before the text is cut: a cut through a token
    // would leave its first characters unrecognised.
    let text = escape(&mask(text.trim()));
    (!text.is_empty()).then(|| cut(&text, 300))
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
}
