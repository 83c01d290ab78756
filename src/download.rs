//! Saving blobs to disk: safe file names, the extension, and the write
//! itself, streamed through a fixed buffer into `NAME.part`, synced, then
//! renamed, so that a file named `NAME` is always whole.
//!
//! The token goes to the API only: a signed CDN URL, and the target of the
//! API's redirect, are fetched without it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use ureq::http::Response;
use ureq::Body;

use crate::api;
use crate::client::{Auth, Client};
use crate::error::{Error, Kind, Result};

/// Size of the copy buffer: the whole memory cost of a download.
const BUF_SIZE: usize = 64 * 1024;

/// Where the bytes come from.
pub enum Source<'a> {
    /// A signed URL the API handed out (no token).
    Signed(&'a str),
    /// `GET /v2/consumer/blobs/{id}` with the token; its redirect without.
    Api { blob_id: &'a str, nsfw: bool },
}

/// How a file should be named once its type is known.
pub struct Naming<'a> {
    /// Name without extension, already made safe.
    pub stem: String,
    /// Where the extension may come from first.
    pub blob_id: &'a str,
    /// `--output FILE`: this exact name, no extension added.
    pub exact: Option<PathBuf>,
    /// Download again even when a complete file is there.
    pub force: bool,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Downloaded { path: PathBuf, bytes: u64 },
    Skipped { path: PathBuf, bytes: u64 },
}

impl Outcome {
    pub fn path(&self) -> &Path {
        match self {
            Outcome::Downloaded { path, .. } | Outcome::Skipped { path, .. } => path,
        }
    }
    pub fn bytes(&self) -> u64 {
        match self {
            Outcome::Downloaded { bytes, .. } | Outcome::Skipped { bytes, .. } => *bytes,
        }
    }
}

/// The URL the API points a blob at (the `Location` of its redirect), and the
/// open response when the API served the bytes itself.
pub fn resolve_blob(
    client: &Client,
    blob_id: &str,
    nsfw: bool,
) -> Result<(String, Option<Response<Body>>)> {
    let api_url = format!("{}{}", client.api_url(), api::blob_path(blob_id, nsfw));
    let what = format!("blob '{}'", crate::render::escape(blob_id));
    let resp = client.open(&api_url, Auth::Api, &[], &what)?;
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Error::other(format!("{status} for {what} without a Location header"))
            })?;
        return Ok((absolute(client.api_url(), location), None));
    }
    Ok((api_url, Some(resp)))
}

/// A redirect target may be relative to the API.
fn absolute(base: &str, location: &str) -> String {
    if location.contains("://") {
        location.to_string()
    } else if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        format!("{base}/{location}")
    }
}

/// Downloads one blob into `dir`.
pub fn download(client: &Client, source: Source, naming: &Naming, dir: &Path) -> Result<Outcome> {
    let what = format!("blob '{}'", crate::render::escape(naming.blob_id));
    let resp = match source {
        Source::Signed(url) => open_no_token(client, url, &what)?,
        Source::Api { blob_id, nsfw } => match resolve_blob(client, blob_id, nsfw)? {
            (_, Some(resp)) => resp,
            (url, None) => open_no_token(client, &url, &what)?,
        },
    };
    let content_type = header(&resp, "content-type");
    let path = match &naming.exact {
        Some(p) => p.clone(),
        None => dir.join(format!(
            "{}{}",
            naming.stem,
            extension(naming.blob_id, content_type.as_deref())
        )),
    };
    if !naming.force {
        if let Some(done) = already_complete(&resp, &path) {
            return Ok(done);
        }
    }
    save(resp, &path)
}

/// A file of the size the server announces is the file a previous run
/// saved (names only appear once the bytes were synced).
fn already_complete(resp: &Response<Body>, path: &Path) -> Option<Outcome> {
    let expected: u64 = header(resp, "content-length")?.trim().parse().ok()?;
    let existing = fs::metadata(path).ok()?.len();
    (existing == expected).then(|| Outcome::Skipped {
        path: path.to_path_buf(),
        bytes: existing,
    })
}

fn open_no_token(client: &Client, url: &str, what: &str) -> Result<Response<Body>> {
    let resp = client.open(
        url,
        Auth::None,
        &[("Accept-Encoding", "identity"), ("Accept", "*/*")],
        what,
    )?;
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        return Err(Error::other(format!(
            "the file server answered {status} for {what} instead of the file"
        ))
        .with_status(status));
    }
    Ok(resp)
}

fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Streams the body into `PATH.part`, checks its length, syncs, renames.
fn save(resp: Response<Body>, path: &Path) -> Result<Outcome> {
    let expected = header(&resp, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let part = part_path(path);
    let shown = path.display().to_string();
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&part)
        .map_err(|e| Error::other(format!("cannot write {}: {e}", part.display())))?;
    let mut reader = resp.into_body().into_reader();
    let written = match copy(&mut reader, &mut file) {
        Ok(n) => n,
        Err(CopyError::Read(e)) => {
            // The .part stays so that a later run can resume it.
            return Err(Error::new(
                Kind::Network,
                format!("download of {shown} failed: {e}; run again to resume"),
            ));
        }
        Err(CopyError::Write(e)) => {
            let _ = fs::remove_file(&part);
            return Err(Error::other(format!(
                "cannot write {}: {e}",
                part.display()
            )));
        }
    };
    if let Some(n) = expected {
        if n != written {
            return Err(Error::new(
                Kind::Network,
                format!("download of {shown} failed: the server sent {written} of {n} bytes; run again to resume"),
            ));
        }
    }
    finish(file, &part, path)?;
    Ok(Outcome::Downloaded {
        path: path.to_path_buf(),
        bytes: written,
    })
}

/// Flushes the data to disk before the rename makes it visible, so that a
/// crash cannot leave a named but empty file.
fn finish(file: File, part: &Path, path: &Path) -> Result<()> {
    file.sync_all()
        .and_then(|_| fs::rename(part, path))
        .map_err(|e| Error::other(format!("cannot save {}: {e}", path.display())))
}

pub fn part_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".part");
    path.with_file_name(name)
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// `io::copy`, but telling read failures (network) from write failures (disk).
fn copy(reader: &mut impl Read, writer: &mut impl Write) -> std::result::Result<u64, CopyError> {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        writer.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
    }
}

/// The extension for a blob: from its id when it has one, else from the
/// Content-Type, else `.bin`.
pub fn extension(blob_id: &str, content_type: Option<&str>) -> String {
    if let Some(ext) = id_extension(blob_id) {
        return format!(".{ext}");
    }
    let mime = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ext = match mime.as_str() {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/avif" => "avif",
        "image/bmp" => "bmp",
        "image/svg+xml" => "svg",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "video/quicktime" => "mov",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/ogg" => "ogg",
        "audio/flac" => "flac",
        "audio/aac" => "aac",
        "audio/mp4" => "m4a",
        "application/zip" | "application/x-zip-compressed" => "zip",
        "application/json" => "json",
        "text/plain" => "txt",
        m if m.starts_with("audio/") => "audio",
        _ => "bin",
    };
    format!(".{ext}")
}

/// `JNF....jpeg` -> `jpeg`: a short alphanumeric tail after the last dot.
fn id_extension(id: &str) -> Option<&str> {
    let (stem, ext) = id.rsplit_once('.')?;
    (!stem.is_empty()
        && (1..=5).contains(&ext.len())
        && ext.chars().all(|c| c.is_ascii_alphanumeric()))
    .then_some(ext)
}

/// Whether the id already ends with an extension (then it names the file as is).
pub fn has_extension(id: &str) -> bool {
    id_extension(id).is_some()
}

/// A name from the server made safe for any file system: no separators, no
/// `..`, no control characters, no Windows reserved names, not too long.
pub fn safe_name(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    s = s.trim_matches([' ', '.']).to_string();
    if s.is_empty() {
        s = "blob".into();
    }
    let stem = s.split('.').next().unwrap_or("").to_ascii_uppercase();
    const RESERVED: &[&str] = &["CON", "PRN", "AUX", "NUL"];
    let numbered = (stem.len() == 4)
        && (stem.starts_with("COM") || stem.starts_with("LPT"))
        && stem.as_bytes()[3].is_ascii_digit();
    if RESERVED.contains(&stem.as_str()) || numbered {
        s.insert(0, '_');
    }
    // Leave room for the extension and ".part" within 255 bytes.
    while s.len() > 200 {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        assert_eq!(extension("A.jpeg", Some("image/png")), ".jpeg");
        assert_eq!(extension("A", Some("image/jpeg; charset=x")), ".jpg");
        assert_eq!(extension("A", Some("video/webm")), ".webm");
        assert_eq!(extension("A", Some("audio/x-something")), ".audio");
        assert_eq!(extension("A", None), ".bin");
        assert_eq!(extension("v1.2.weird-ext", None), ".bin");
    }

    #[test]
    fn hostile_names_stay_inside() {
        for raw in [
            "../../etc/passwd",
            "a/b",
            "CON",
            "con.txt",
            "x\ny",
            "..",
            "",
            "COM1",
            "a\\b",
        ] {
            let s = safe_name(raw);
            assert!(
                !s.contains('/') && !s.contains('\\') && !s.contains('\n'),
                "{s}"
            );
            assert_ne!(s, "..");
            assert!(!s.is_empty());
            let p = Path::new("dir").join(&s);
            assert_eq!(p.parent(), Some(Path::new("dir")), "{raw} -> {s}");
        }
        assert_eq!(safe_name("CON"), "_CON");
        assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
        assert!(safe_name(&"é".repeat(300)).len() <= 200);
    }
}
