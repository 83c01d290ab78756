//! Getting the bytes: where a blob lives (the API's redirect), opening the
//! download with or without a range, following a CDN's redirects without
//! the token, reading the answer's headers, and copying the body through
//! one fixed buffer.

use std::io::{self, Read, Write};

use ureq::http::Response;
use ureq::Body;

use super::{Naming, Source};
use crate::api;
use crate::error::{Error, Result};
use crate::http::{reason, shown_url, Auth, Client};
use crate::text::{cut, escape};

/// Size of the copy buffer: the whole memory cost of a download. 256 KiB
/// and 1 MiB were measured no faster on a 512 MiB download: the body reader
/// hands over at most 64 or 128 KiB per read, so a larger buffer only
/// grows the peak RSS.
const BUF_SIZE: usize = 64 * 1024;

/// Redirects a file server may send before the bytes.
const MAX_HOPS: usize = 5;

/// The URL the API points a blob at (the `Location` of its redirect), and the
/// open response when the API served the bytes itself.
pub fn resolve_blob(
    client: &Client,
    blob_id: &str,
    nsfw: bool,
    headers: &[(&str, &str)],
) -> Result<(String, Option<Response<Body>>)> {
    let api_url = format!("{}{}", client.api_url(), api::blob_path(blob_id, nsfw));
    let what = format!("blob '{}'", escape(blob_id));
    let resp = client.open(&api_url, Auth::Api, headers, &what)?;
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        let location = header(&resp, "location").ok_or_else(|| {
            Error::other(format!("{status} for {what} without a Location header"))
        })?;
        return Ok((absolute(client.api_url(), &location)?, None));
    }
    Ok((api_url, Some(resp)))
}

/// Resolves a redirect target against a base URL (taken as a folder); only
/// http(s) targets are followed.
pub fn absolute(base: &str, location: &str) -> Result<String> {
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let origin = format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest));
    let url = if let Some(tail) = location.strip_prefix("//") {
        format!("{scheme}://{tail}")
    } else if location.starts_with('/') {
        format!("{origin}{location}")
    } else if location.contains("://") {
        location.to_string()
    } else {
        format!("{base}/{location}")
    };
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url)
    } else {
        Err(Error::other(format!(
            "a redirect pointed the blob at '{}', which is not an http(s) URL",
            cut(&shown_url(location, Auth::None), 200)
        )))
    }
}

/// Opens the download, asking for the bytes from `from` on when resuming.
/// A compressed body is refused: sizes and ranges must be byte-exact.
pub fn open(
    client: &Client,
    source: &Source,
    naming: &Naming,
    from: u64,
) -> Result<Response<Body>> {
    let what = format!("blob '{}'", escape(&naming.blob_id));
    let range = format!("bytes={from}-");
    let mut headers = vec![("Accept-Encoding", "identity"), ("Accept", "*/*")];
    if from > 0 {
        headers.push(("Range", range.as_str()));
    }
    let resp = match source {
        Source::Signed { url, .. } => open_no_token(client, url, &headers, &what)?,
        Source::Api { blob_id, nsfw } => match resolve_blob(client, blob_id, *nsfw, &headers)? {
            (_, Some(resp)) => resp,
            (url, None) => open_no_token(client, &url, &headers, &what)?,
        },
    };
    match header(&resp, "content-encoding") {
        Some(enc) if !enc.trim().eq_ignore_ascii_case("identity") => Err(Error::other(format!(
            "the server sent {what} encoded as '{}' although identity was asked for; \
             nothing was saved",
            escape(&enc)
        ))),
        _ => Ok(resp),
    }
}

/// A GET to a file server, never with the token, following a few ordinary
/// redirects (to http(s) URLs only) before the bytes.
fn open_no_token(
    client: &Client,
    url: &str,
    headers: &[(&str, &str)],
    what: &str,
) -> Result<Response<Body>> {
    let mut url = url.to_string();
    for _ in 0..=MAX_HOPS {
        let resp = client.open(&url, Auth::None, headers, what)?;
        let status = resp.status().as_u16();
        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
            if (300..400).contains(&status) {
                return Err(Error::other(format!(
                    "the file server answered {status} for {what} instead of the file"
                ))
                .with_status(status));
            }
            return Ok(resp);
        }
        let location = header(&resp, "location").ok_or_else(|| {
            Error::other(format!(
                "the file server answered {status} for {what} without a Location header"
            ))
        })?;
        url = absolute(folder_of(&url), &location)?;
    }
    Err(Error::other(format!(
        "the file server redirected {what} more than {MAX_HOPS} times; nothing was saved"
    )))
}

/// `https://h/a/b?x` -> `https://h/a`: what a relative redirect is resolved against.
fn folder_of(url: &str) -> &str {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let path_start = url.find("://").map_or(0, |i| i + 3);
    match url[path_start..].rfind('/') {
        Some(i) => &url[..path_start + i],
        None => url,
    }
}

pub fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub fn content_length(resp: &Response<Body>) -> Option<u64> {
    header(resp, "content-length")?.trim().parse().ok()
}

/// `Content-Range: bytes START-END/TOTAL`, or `bytes */TOTAL` (a 416).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContentRange {
    span: Option<(u64, u64)>,
    pub total: u64,
}

impl ContentRange {
    fn parse(v: &str) -> Option<ContentRange> {
        let (span, total) = v.trim().strip_prefix("bytes ")?.split_once('/')?;
        let total = total.trim().parse().ok()?;
        let span = match span.trim() {
            "*" => None,
            s => {
                let (a, b) = s.split_once('-')?;
                Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
            }
        };
        Some(ContentRange { span, total })
    }

    /// Whether this answer is exactly the rest of a file of which `from`
    /// bytes are on disk.
    pub fn continues(&self, from: u64) -> bool {
        self.span == Some((from, self.total.saturating_sub(1))) && from < self.total
    }
}

pub fn content_range(resp: &Response<Body>) -> Option<ContentRange> {
    ContentRange::parse(&header(resp, "content-range")?)
}

pub fn unexpected(status: u16, naming: &Naming) -> Error {
    Error::other(format!(
        "unexpected {status} {} for blob '{}'; nothing was saved",
        reason(status),
        escape(&naming.blob_id)
    ))
    .with_status(status)
}

/// Where a download reports its bytes (the progress display); the no-op
/// meter when nobody watches.
pub trait Meter {
    fn total(&self, _bytes: Option<u64>) {}
    fn add(&self, _bytes: u64) {}
}

pub struct NoMeter;
impl Meter for NoMeter {}

pub enum CopyError {
    /// The network failed after this many bytes were written.
    Read(io::Error, u64),
    Write(io::Error),
}

/// `io::copy` through one fixed buffer, telling read failures (network) from
/// write failures (disk), and reporting progress.
pub fn copy(
    reader: &mut impl Read,
    writer: &mut impl Write,
    meter: &dyn Meter,
) -> std::result::Result<u64, CopyError> {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e, total)),
        };
        writer.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
        meter.add(n as u64);
    }
}

pub fn read_error_text(e: &io::Error) -> String {
    let text = e.to_string();
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "the connection closed early".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "the server stopped sending".into(),
        _ if text.contains("timeout") => "the server stopped sending (timeout)".into(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        let r = ContentRange::parse("bytes 100-199/200").unwrap();
        assert!(r.continues(100));
        assert!(!r.continues(50));
        assert!(!ContentRange::parse("bytes 100-149/200")
            .unwrap()
            .continues(100));
        assert_eq!(ContentRange::parse("bytes */200").unwrap().total, 200);
        assert!(ContentRange::parse("bytes x-1/2").is_none());
    }

    #[test]
    fn redirect_targets() {
        let base = "http://api:8/prefix";
        assert_eq!(absolute(base, "/p?x").unwrap(), "http://api:8/p?x");
        assert_eq!(absolute(base, "//cdn/x").unwrap(), "http://cdn/x");
        assert_eq!(absolute(base, "https://cdn/x").unwrap(), "https://cdn/x");
        assert_eq!(absolute(base, "rel").unwrap(), "http://api:8/prefix/rel");
        assert_eq!(
            absolute(base, "file:///etc/passwd")
                .unwrap_err()
                .exit_code(),
            1
        );
        assert_eq!(folder_of("https://h/a/b?x=/y"), "https://h/a");
        assert_eq!(folder_of("https://h"), "https://h");
        assert_eq!(
            absolute(folder_of("http://cdn/s/f.jpg?sig=1"), "g.jpg").unwrap(),
            "http://cdn/s/g.jpg"
        );
    }
}
