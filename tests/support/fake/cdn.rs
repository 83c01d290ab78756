//! The CDN host: the signed URLs the API redirects to
//! (`/signed/<blobId>?sig=…&exp=…`), the files behind them (fixture media,
//! or pattern bytes, streamed so that large ones need no memory, for the
//! generated `synthetic-<bytes>.bin` blobs and those of the `stats`
//! workflows), their content types, `Range: bytes=N-` with 206 and 416,
//! blobs made while running (uploads, outputs of submitted workflows:
//! `upload.rs`), and the pauses of slow-link tests. `/signed/<blobId>`
//! answers only GET and HEAD, `/upload/<token>` only POST (`upload.rs`),
//! and no token is needed: the signature is the key.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use super::http::{write_head, write_reply, Reply, Request};
use super::state::Shared;
use super::tls::Conn;
use super::upload;

/// The signed URL of a blob on the CDN at `cdn_url`; `raw_id` as it stood
/// in the API path (still percent-encoded).
pub fn signed_url(cdn_url: &str, raw_id: &str) -> String {
    format!("{cdn_url}/signed/{raw_id}?sig=4f1c9e2b7d&exp=1769120501")
}

/// Whether the CDN has a file for blob `id`.
pub fn has_blob(shared: &Shared, id: &str) -> bool {
    blob_content_type(shared, id).is_some()
}

/// The content type of blob `id`, if the CDN has it.
pub fn blob_content_type(shared: &Shared, id: &str) -> Option<String> {
    if let Some(s) = shared.blobs.lock().unwrap().stored.get(id) {
        return Some(s.content_type.clone());
    }
    if generated_size(shared, id).is_some() {
        return Some(content_type(id, &[]).to_string());
    }
    if id.contains('/') {
        return None;
    }
    let data = std::fs::read(shared.fixtures.media.join(id)).ok()?;
    Some(content_type(id, &data).to_string())
}

/// Size of a blob made of pattern bytes: `synthetic-<bytes>.bin`, or an
/// available blob of a generated `stats` workflow.
fn generated_size(shared: &Shared, id: &str) -> Option<u64> {
    synthetic_size(id).or_else(|| shared.fixtures.generated_blobs.get(id).copied())
}

/// Size of a generated blob named `synthetic-<bytes>.bin`.
fn synthetic_size(id: &str) -> Option<u64> {
    id.strip_prefix("synthetic-")?
        .strip_suffix(".bin")?
        .parse()
        .ok()
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
        Some("mp3") => "audio/mpeg",
        _ if head.starts_with(b"\x89PNG") => "image/png",
        _ => "application/octet-stream",
    }
}

/// An error the way the CDN's storage words it.
pub fn storage_error(status: u16, code: &str) -> Reply {
    let body = format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code></Error>");
    Reply::Full {
        status,
        headers: vec![("Content-Type".into(), "application/xml".into())],
        body: body.into_bytes(),
    }
}

/// Answers `req` on the CDN host. Writes straight to the stream so large
/// generated files need no memory.
pub fn serve(req: &Request, shared: &Shared, mut stream: Conn) -> std::io::Result<()> {
    let seg = req.segments();
    let (first, id) = match (seg.first().map(String::as_str), seg.get(1), seg.len()) {
        (Some(first @ ("signed" | "upload")), Some(id), 2) => (first, id),
        _ => {
            return write_reply(
                stream,
                &req.method,
                Reply::html(404, "<html><body>Not Found</body></html>"),
            )
        }
    };
    let allowed = if first == "upload" {
        "POST"
    } else {
        "GET, HEAD"
    };
    if !allowed.split(", ").any(|m| m == req.method) {
        let reply = storage_error(405, "MethodNotAllowed").header("Allow", allowed);
        return write_reply(stream, &req.method, reply);
    }
    if first == "upload" {
        return write_reply(stream, &req.method, upload::receive(req, shared, id));
    }
    let stored = shared
        .blobs
        .lock()
        .unwrap()
        .stored
        .get(id.as_str())
        .map(|s| (s.bytes.clone(), s.content_type.clone()));
    let (len, data, ctype): (u64, Option<Arc<Vec<u8>>>, String) = match stored {
        Some((bytes, ctype)) => (bytes.len() as u64, Some(bytes), ctype),
        None => match generated_size(shared, id) {
            Some(n) => (n, None, content_type(id, &[]).to_string()),
            None => match std::fs::read(shared.fixtures.media.join(id)) {
                Ok(d) if !id.contains('/') => {
                    let ctype = content_type(id, &d).to_string();
                    (d.len() as u64, Some(Arc::new(d)), ctype)
                }
                _ => return write_reply(stream, &req.method, storage_error(404, "NoSuchKey")),
            },
        },
    };
    let start = req
        .header("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<u64>().ok());
    let mut headers = vec![
        ("Content-Type".to_string(), ctype),
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
    if req.method == "HEAD" {
        return stream.flush();
    }
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

fn write_pattern(stream: &mut Conn, from: u64, len: u64, delay: Duration) -> std::io::Result<()> {
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
