//! HTTP/1.1 plumbing for both hosts of the fake, and nothing about the API:
//! reading one request (request line, headers, and the body, by
//! `Content-Length` or `Transfer-Encoding: chunked`, at most [`MAX_BODY`]),
//! the [`Request`] the tests inspect, the [`Reply`] they script, and
//! writing a reply: whole, cut short, never, or not at all. Every answer
//! says `Connection: close`: one request per connection keeps it simple.

use std::io::{BufRead, Read, Write};

use std::time::Duration;

use serde_json::{json, Value};

use super::tls::Conn;
use super::Host;

/// The largest request body the fake reads; a larger one is answered 413.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

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
    /// The body as sent, de-chunked; empty when there was none.
    pub body: Vec<u8>,
}

/// The value of header `name` (any case) among `headers` (names lowercased).
pub fn header_in<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    headers
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
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

    /// Path segments, percent-decoded (a `+` in a path is a `+`).
    pub fn segments(&self) -> Vec<String> {
        self.raw_path
            .trim_start_matches('/')
            .split('/')
            .map(decode_path)
            .collect()
    }

    /// The body as JSON; panics (failing the test) when it is not.
    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {}: the body is not JSON ({e}): {}",
                self.method,
                self.raw_path,
                String::from_utf8_lossy(&self.body)
            )
        })
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

    /// A ProblemDetails document, as the API sends its errors.
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

    /// A redirect (301, 302, 303, 307, 308) to `location`, with no body.
    /// `{{CDN}}` in `location` becomes the fake's CDN URL.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }

    pub fn header(mut self, key: &str, value: &str) -> Reply {
        if let Reply::Full { headers, .. } | Reply::Cut { headers, .. } = &mut self {
            headers.push((key.into(), value.into()));
        }
        self
    }
}

/// Why no request came out of a connection.
pub enum ReadError {
    /// The socket failed or the client went away.
    Io(std::io::Error),
    /// The request is malformed or too large: answer this and close.
    Bad(Reply),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

fn bad(status: u16, detail: &str) -> ReadError {
    let title = reason(status);
    ReadError::Bad(Reply::problem(status, title, detail))
}

/// Reads one request, body included. `Ok(None)` when the client closed
/// the connection before sending anything. `interim` gets the
/// `100 Continue` a client that sent `Expect: 100-continue` waits for.
pub fn read_request(
    reader: &mut impl BufRead,
    interim: &mut impl Write,
    host: Host,
) -> Result<Option<Request>, ReadError> {
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
    let mut req = Request {
        host,
        method,
        raw_path,
        query,
        headers,
        body: Vec::new(),
    };
    req.body = read_body(reader, interim, &req)?;
    Ok(Some(req))
}

/// How the body is framed (RFC 9112 section 6.3): chunked wins over a
/// length; neither means no body.
enum Framing {
    Chunked,
    Length(usize),
}

fn framing(req: &Request) -> Result<Framing, ReadError> {
    if let Some(te) = req.header("transfer-encoding") {
        let last = te.rsplit(',').next().unwrap_or("").trim();
        if !last.eq_ignore_ascii_case("chunked") {
            return Err(bad(400, &format!("unsupported Transfer-Encoding: {te}")));
        }
        return Ok(Framing::Chunked);
    }
    let lengths: Vec<&str> = req
        .headers
        .iter()
        .filter(|(k, _)| k == "content-length")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .collect();
    let Some(first) = lengths.first() else {
        return Ok(Framing::Length(0));
    };
    if lengths.iter().any(|l| l != first) {
        return Err(bad(400, "conflicting Content-Length headers"));
    }
    let len: u64 = first
        .parse()
        .map_err(|_| bad(400, &format!("bad Content-Length: {first}")))?;
    if len > MAX_BODY as u64 {
        return Err(too_large());
    }
    Ok(Framing::Length(len as usize))
}

fn too_large() -> ReadError {
    bad(
        413,
        &format!("the fake reads request bodies of at most {MAX_BODY} bytes"),
    )
}

fn read_body(
    reader: &mut impl BufRead,
    interim: &mut impl Write,
    req: &Request,
) -> Result<Vec<u8>, ReadError> {
    let framing = framing(req)?;
    if matches!(framing, Framing::Length(0)) {
        return Ok(Vec::new());
    }
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        interim.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        interim.flush()?;
    }
    match framing {
        Framing::Length(len) => {
            let mut body = vec![0; len];
            reader.read_exact(&mut body)?;
            Ok(body)
        }
        Framing::Chunked => read_chunked(reader),
    }
}

/// A chunked body: `<hex size>[;ext]\r\n<data>\r\n` until a size of 0,
/// then trailer lines (dropped) up to an empty line.
fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad(400, "the chunked body ends before its last chunk"));
        }
        let hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(hex, 16)
            .map_err(|_| bad(400, &format!("bad chunk size {hex:?}")))?;
        if size == 0 {
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0 || trailer.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if size > MAX_BODY - body.len() {
            return Err(too_large());
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut end = [0u8; 2];
        reader.read_exact(&mut end)?;
        if &end != b"\r\n" {
            return Err(bad(400, "a chunk does not end with CRLF"));
        }
    }
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

/// Percent-decoding (and `+` as a space), as for a query string.
pub fn decode(s: &str) -> String {
    percent_decode(s, true)
}

/// Percent-decoding of a path segment: `+` stays a `+`.
pub fn decode_path(s: &str) -> String {
    percent_decode(s, false)
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
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
        out.push(if plus_is_space && bytes[i] == b'+' {
            b' '
        } else {
            bytes[i]
        });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes `reply` as the answer to a `method` request (a HEAD gets the
/// head only).
pub fn write_reply(mut stream: Conn, method: &str, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            write_head(&mut stream, status, &headers, body.len())?;
            if method != "HEAD" {
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
            stream.shutdown()
        }
        Reply::Hang => {
            std::thread::sleep(Duration::from_secs(60));
            Ok(())
        }
        Reply::Close => stream.shutdown(),
    }
}

/// The status line and headers, with `Content-Length: len` and
/// `Connection: close`.
pub fn write_head(
    stream: &mut impl Write,
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
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
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

/// Reads a whole stream (tests use it to drain sockets).
pub fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}
