//! The `-v` line of one HTTP request: method, URL, status or transport
//! failure, time taken, and where it stands among the retries:
//!
//! ```text
//! GET http://127.0.0.1:4000/v2/consumer/workflows?take=20 -> 503 (3 ms), retrying (1 of 4)
//! GET http://127.0.0.1:4000/v2/consumer/workflows?take=20 (retry 1 of 4) -> 200 (2 ms)
//! GET http://127.0.0.1:4001/signed/X.jpeg?sig=[hidden]&exp=[hidden] (no token) -> 200 (1 ms)
//! ```
//!
//! Headers are never shown, so neither is the token. A request sent
//! without the token goes to a file server whose signed links carry their
//! key in the query: each query value is shown as `[hidden]` there. An API
//! URL's query is the user's own filters and is shown as is; the line still
//! goes through the notes' masking, like every other line on stderr.

use std::time::Duration;

use super::retry::Method;
use super::Auth;
use crate::text::{escape, HIDDEN};

/// What one try showed of its exchange, filled in as it goes.
#[derive(Default)]
pub struct Seen {
    /// The status of the answer's head, once it came.
    pub status: Option<u16>,
    /// The transport failure, before or after the head.
    pub failure: Option<String>,
    /// No retry follows this try, whatever it gets.
    pub last: bool,
}

impl Seen {
    /// Whether anything went out: a request refused before it was sent (a
    /// file to upload that cannot be read) has no line.
    fn sent(&self) -> bool {
        self.status.is_some() || self.failure.is_some()
    }
}

/// One request as the retry loop knows it.
#[derive(Clone, Copy)]
pub struct Exchange<'a> {
    pub method: Method,
    pub url: &'a str,
    pub auth: Auth,
}

/// The line for try `n` (1 for the first) of at most `retries + 1`; `after`
/// says what comes next (`, retrying (1 of 4)`), or is empty.
pub fn line(
    ex: &Exchange,
    n: u32,
    retries: u32,
    seen: &Seen,
    took: Duration,
    after: &str,
) -> Option<String> {
    if !seen.sent() {
        return None;
    }
    let mut tags = Vec::new();
    if ex.auth == Auth::None {
        tags.push("no token".to_string());
    }
    if n > 1 {
        tags.push(format!("retry {} of {retries}", n - 1));
    }
    let tags = if tags.is_empty() {
        String::new()
    } else {
        format!(" ({})", tags.join(", "))
    };
    let outcome = match (seen.status, &seen.failure) {
        (Some(s), None) => s.to_string(),
        (Some(s), Some(f)) => format!("{s}, then failed: {f}"),
        (None, Some(f)) => format!("failed: {f}"),
        (None, None) => return None,
    };
    Some(format!(
        "{} {}{tags} -> {outcome} ({} ms){after}",
        ex.method.as_str(),
        shown_url(ex.url, ex.auth),
        took.as_millis()
    ))
}

/// The URL as `-v` shows it: escaped, a user and password in it hidden,
/// and for a request without the token (a signed file link) every query
/// value hidden, the names kept.
pub fn shown_url(url: &str, auth: Auth) -> String {
    let mut url = escape(url);
    let host_at = url.find("://").map_or(0, |i| i + 3);
    let authority = url[host_at..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| host_at + i);
    if let Some(at) = url[host_at..authority].rfind('@') {
        url.replace_range(host_at..host_at + at, HIDDEN);
    }
    let (base, query) = match url.split_once('?') {
        Some(parts) if auth == Auth::None => parts,
        _ => return url,
    };
    let hidden: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}={HIDDEN}"),
            None if pair.is_empty() => String::new(),
            None => HIDDEN.to_string(),
        })
        .collect();
    format!("{base}?{}", hidden.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(status: Option<u16>, failure: Option<&str>) -> Seen {
        Seen {
            status,
            failure: failure.map(str::to_string),
            last: false,
        }
    }

    #[test]
    fn signed_queries_are_hidden_api_queries_shown() {
        assert_eq!(
            shown_url("http://cdn/s/a.jpg?sig=abc&exp=1&flag", Auth::None),
            "http://cdn/s/a.jpg?sig=[hidden]&exp=[hidden]&[hidden]"
        );
        assert_eq!(
            shown_url("http://api/v2/w?take=5&tags=a", Auth::Api),
            "http://api/v2/w?take=5&tags=a"
        );
        assert_eq!(
            shown_url("http://cdn/a.jpg", Auth::None),
            "http://cdn/a.jpg"
        );
        assert_eq!(
            shown_url("http://cdn/a\n?x=1", Auth::None),
            "http://cdn/a\\n?x=[hidden]"
        );
        assert_eq!(
            shown_url("https://u:p@w@h:1/v2/w?take=5&q=a@b", Auth::Api),
            "https://[hidden]@h:1/v2/w?take=5&q=a@b"
        );
        assert_eq!(shown_url("http://h/a@b", Auth::Api), "http://h/a@b");
    }

    #[test]
    fn lines() {
        let api = Exchange {
            method: Method::Get,
            url: "http://h/v2/w?take=20",
            auth: Auth::Api,
        };
        let ms = Duration::from_millis(12);
        assert_eq!(
            line(&api, 1, 4, &seen(Some(200), None), ms, "").unwrap(),
            "GET http://h/v2/w?take=20 -> 200 (12 ms)"
        );
        assert_eq!(
            line(
                &api,
                1,
                4,
                &seen(Some(503), None),
                ms,
                ", retrying (1 of 4)"
            )
            .unwrap(),
            "GET http://h/v2/w?take=20 -> 503 (12 ms), retrying (1 of 4)"
        );
        let cdn = Exchange {
            method: Method::Get,
            url: "http://c/s?sig=1",
            auth: Auth::None,
        };
        assert_eq!(
            line(
                &cdn,
                2,
                4,
                &seen(Some(200), Some("unexpected end of file")),
                ms,
                ""
            )
            .unwrap(),
            "GET http://c/s?sig=[hidden] (no token, retry 1 of 4) -> 200, then failed: \
             unexpected end of file (12 ms)"
        );
        assert_eq!(
            line(&api, 1, 0, &seen(None, Some("connection refused")), ms, "").unwrap(),
            "GET http://h/v2/w?take=20 -> failed: connection refused (12 ms)"
        );
        assert_eq!(line(&api, 1, 0, &Seen::default(), ms, ""), None);
    }
}
