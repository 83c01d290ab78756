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
use crate::client::{reason, Auth, Client};
use crate::error::{Error, Kind, Result};
use crate::render::escape;

/// Size of the copy buffer: the whole memory cost of a download.
const BUF_SIZE: usize = 64 * 1024;

/// Where the bytes come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A signed URL the API handed out (no token); `nsfw` says how to ask
    /// for a fresh one when it has expired.
    Signed { url: String, nsfw: bool },
    /// `GET /v2/consumer/blobs/{id}` with the token; its redirect without.
    Api { blob_id: String, nsfw: bool },
}

/// How a file should be named once its type is known.
#[derive(Clone, Debug)]
pub struct Naming {
    /// Name without extension, already made safe.
    pub stem: String,
    /// Where the extension may come from first.
    pub blob_id: String,
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

/// Where a download reports its bytes (the progress display); the no-op
/// meter when nobody watches.
pub trait Meter {
    fn total(&self, _bytes: Option<u64>) {}
    fn add(&self, _bytes: u64) {}
}

pub struct NoMeter;
impl Meter for NoMeter {}

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
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Error::other(format!("{status} for {what} without a Location header"))
            })?;
        return Ok((absolute(client.api_url(), location)?, None));
    }
    Ok((api_url, Some(resp)))
}

/// Resolves a redirect target against the API URL; only http(s) targets
/// are followed.
fn absolute(base: &str, location: &str) -> Result<String> {
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
            "the API redirected the blob to '{}', which is not an http(s) URL",
            escape(location)
        )))
    }
}

/// Downloads one blob into `dir`: skips a complete file, resumes a `.part`,
/// and asks for a fresh link once when a signed one has expired. Errors
/// name the file.
pub fn download(
    client: &Client,
    source: &Source,
    naming: &Naming,
    dir: &Path,
    meter: &dyn Meter,
) -> Result<Outcome> {
    with_fresh_link(source, naming, |src| fetch(client, src, naming, dir, meter)).map_err(
        |mut e| {
            if !e.message.contains(&naming.stem) {
                e.message = format!("{}: {}", naming.stem, e.message);
            }
            e
        },
    )
}

/// Runs `f` on the source, and once more on the blob endpoint (which hands
/// out a fresh link) when a signed link was refused with 403: signed links
/// expire.
fn with_fresh_link<T>(
    source: &Source,
    naming: &Naming,
    mut f: impl FnMut(&Source) -> Result<T>,
) -> Result<T> {
    match f(source) {
        Err(e) if e.status == Some(403) => match source {
            Source::Signed { nsfw, .. } => f(&Source::Api {
                blob_id: naming.blob_id.clone(),
                nsfw: *nsfw,
            }),
            Source::Api { .. } => Err(e),
        },
        other => other,
    }
}

fn fetch(
    client: &Client,
    source: &Source,
    naming: &Naming,
    dir: &Path,
    meter: &dyn Meter,
) -> Result<Outcome> {
    let known = known_path(naming, dir);
    let resume_from = match &known {
        Some(p) if !naming.force => resumable_len(&part_path(p))?,
        _ => 0,
    };
    let resp = open(client, source, naming, resume_from)?;
    let content_type = header(&resp, "content-type");
    let status = resp.status().as_u16();
    let path = match (&naming.exact, known) {
        (Some(p), _) => p.clone(),
        // A 416 carries no type: the name found on disk is the one to finish.
        (None, Some(k)) if content_type.is_none() || status == 416 => k,
        _ => dir.join(format!(
            "{}{}",
            naming.stem,
            extension(&naming.blob_id, content_type.as_deref())
        )),
    };
    if !naming.force {
        if let Some(done) = already_complete(&resp, &path) {
            return Ok(done);
        }
    }
    let part = part_path(&path);
    let range = content_range(&resp);
    match status {
        206 if resume_from > 0 && range.is_some_and(|r| r.continues(resume_from)) => {
            let total = range.map(|r| r.total);
            save(resp, &path, resume_from, total, meter)
        }
        416 if resume_from > 0 && range.is_some_and(|r| r.total == resume_from) => {
            // The .part already holds every byte: only the rename was missing.
            let file = open_part(&part, resume_from)?;
            finish(file, &part, &path, resume_from)?;
            Ok(Outcome::Downloaded {
                path,
                bytes: resume_from,
            })
        }
        200 => {
            let total = content_length(&resp);
            save(resp, &path, 0, total, meter)
        }
        206 | 416 if resume_from > 0 => {
            // A range that does not fit what is on disk: start over.
            drop(resp);
            remove_part(&part)?;
            let resp = open(client, source, naming, 0)?;
            let status = resp.status().as_u16();
            if status != 200 {
                return Err(unexpected(status, naming));
            }
            let total = content_length(&resp);
            save(resp, &path, 0, total, meter)
        }
        _ => Err(unexpected(status, naming)),
    }
}

fn unexpected(status: u16, naming: &Naming) -> Error {
    Error::other(format!(
        "unexpected {status} {} for blob '{}'; nothing was saved",
        reason(status),
        escape(&naming.blob_id)
    ))
    .with_status(status)
}

/// The length of a `.part` worth resuming: a regular file of our own. A
/// symlink or a hard-linked file there is removed, never written through,
/// so nothing outside `--dir` is touched.
fn resumable_len(part: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    match fs::symlink_metadata(part) {
        Ok(m) if m.is_file() && m.nlink() == 1 => Ok(m.len()),
        Ok(_) => remove_part(part).map(|_| 0),
        Err(_) => Ok(0),
    }
}

fn remove_part(part: &Path) -> Result<()> {
    match fs::remove_file(part) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::other(format!(
            "cannot remove {}: {e}",
            part.display()
        ))),
    }
}

/// Opens the `.part`: appended to when resuming (checked to hold `from`
/// bytes), else created anew (`create_new` never follows a link). Locked, so
/// that two runs on one folder cannot write the same file at once.
fn open_part(part: &Path, from: u64) -> Result<File> {
    let file = if from > 0 {
        OpenOptions::new().append(true).open(part)
    } else {
        remove_part(part)?;
        OpenOptions::new().write(true).create_new(true).open(part)
    }
    .map_err(|e| write_error(part, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            return Err(Error::other(format!(
                "{} is being written by another run; try again when it is done",
                part.display()
            )))
        }
        Err(fs::TryLockError::Error(e)) => return Err(write_error(part, e)),
    }
    let len = file.metadata().map_err(|e| write_error(part, e))?.len();
    if len != from {
        return Err(Error::other(format!(
            "{} changed while it was opened (another run?); try again",
            part.display()
        )));
    }
    Ok(file)
}

/// The file a previous run may have left, when its name can be known before
/// the answer: from `--output`, from an id with an extension, or from a
/// file named `STEM.EXT[.part]` already in the folder.
fn known_path(naming: &Naming, dir: &Path) -> Option<PathBuf> {
    if let Some(p) = &naming.exact {
        return Some(p.clone());
    }
    if has_extension(&naming.blob_id) {
        return Some(dir.join(format!(
            "{}{}",
            naming.stem,
            extension(&naming.blob_id, None)
        )));
    }
    let prefix = format!("{}.", naming.stem);
    fs::read_dir(dir).ok()?.flatten().find_map(|entry| {
        let name = entry.file_name().into_string().ok()?;
        let rest = name.strip_prefix(&prefix)?;
        let ext = rest.strip_suffix(".part").unwrap_or(rest);
        (!ext.is_empty() && !ext.contains('.')).then(|| dir.join(format!("{prefix}{ext}")))
    })
}

/// Opens the download, asking for the bytes from `from` on when resuming.
/// A compressed body is refused: sizes and ranges must be byte-exact.
fn open(client: &Client, source: &Source, naming: &Naming, from: u64) -> Result<Response<Body>> {
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

fn open_no_token(
    client: &Client,
    url: &str,
    headers: &[(&str, &str)],
    what: &str,
) -> Result<Response<Body>> {
    let resp = client.open(url, Auth::None, headers, what)?;
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

fn content_length(resp: &Response<Body>) -> Option<u64> {
    header(resp, "content-length")?.trim().parse().ok()
}

/// `Content-Range: bytes START-END/TOTAL`, or `bytes */TOTAL` (a 416).
#[derive(Clone, Copy, Debug, PartialEq)]
struct ContentRange {
    span: Option<(u64, u64)>,
    total: u64,
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
    fn continues(&self, from: u64) -> bool {
        self.span == Some((from, self.total.saturating_sub(1))) && from < self.total
    }
}

fn content_range(resp: &Response<Body>) -> Option<ContentRange> {
    ContentRange::parse(&header(resp, "content-range")?)
}

/// A whole regular file of the size the server announces is the one a
/// previous run saved: names only appear once the bytes were synced.
fn already_complete(resp: &Response<Body>, path: &Path) -> Option<Outcome> {
    if resp.status().as_u16() != 200 {
        return None;
    }
    let expected = content_length(resp)?;
    let existing = fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file())?
        .len();
    (existing == expected).then(|| Outcome::Skipped {
        path: path.to_path_buf(),
        bytes: existing,
    })
}

fn write_error(path: &Path, e: io::Error) -> Error {
    Error::other(format!("cannot write {}: {e}", path.display()))
}

/// Streams the body into `PATH.part` (appending after `from` bytes), checks
/// that it holds `total` bytes when the server said so, syncs, renames.
fn save(
    resp: Response<Body>,
    path: &Path,
    from: u64,
    total: Option<u64>,
    meter: &dyn Meter,
) -> Result<Outcome> {
    meter.total(total);
    meter.add(from);
    let part = part_path(path);
    let shown = path.display().to_string();
    let mut file = open_part(&part, from)?;
    let mut reader = resp.into_body().into_reader();
    let written = match copy(&mut reader, &mut file, meter) {
        Ok(n) => n,
        Err(CopyError::Read(e, n)) => {
            // The .part stays so that a later run can resume it.
            let _ = file.sync_all();
            return Err(Error::new(
                Kind::Network,
                format!(
                    "download of {shown} failed after {} bytes: {}; run again to resume",
                    from + n,
                    read_error_text(&e)
                ),
            ));
        }
        Err(CopyError::Write(e)) => {
            drop(file);
            let _ = fs::remove_file(&part);
            return Err(write_error(&part, e));
        }
    };
    let size = from + written;
    if let Some(n) = total.filter(|n| *n != size) {
        let _ = file.sync_all();
        return Err(Error::new(
            Kind::Network,
            format!(
                "download of {shown} failed: the server sent {size} of {n} bytes; \
                 run again to resume"
            ),
        ));
    }
    finish(file, &part, path, size)?;
    Ok(Outcome::Downloaded {
        path: path.to_path_buf(),
        bytes: size,
    })
}

fn read_error_text(e: &io::Error) -> String {
    let text = e.to_string();
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "the connection closed early".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "the server stopped sending".into(),
        _ if text.contains("timeout") => "the server stopped sending (timeout)".into(),
        _ => text,
    }
}

/// Flushes the data to disk before the rename makes it visible, so that a
/// crash cannot leave a named but short file; the size is checked on the
/// open file itself, after everything was written.
fn finish(file: File, part: &Path, path: &Path, size: u64) -> Result<()> {
    let on_disk = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    if on_disk != size {
        return Err(Error::other(format!(
            "{} holds {on_disk} bytes, not {size} (written by another run?); run again",
            part.display()
        )));
    }
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
    /// The network failed after this many bytes were written.
    Read(io::Error, u64),
    Write(io::Error),
}

/// `io::copy` through one fixed buffer, telling read failures (network) from
/// write failures (disk), and reporting progress.
fn copy(
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

/// Streams a blob to `w` (`--output -`): no file, no resume; an expired
/// link is renewed as for files.
pub fn to_writer(
    client: &Client,
    source: &Source,
    naming: &Naming,
    w: &mut impl Write,
) -> Result<u64> {
    let resp = with_fresh_link(source, naming, |src| open(client, src, naming, 0))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(unexpected(status, naming));
    }
    let expected = content_length(&resp);
    let mut reader = resp.into_body().into_reader();
    let n = match copy(&mut reader, w, &NoMeter) {
        Ok(n) => n,
        Err(CopyError::Read(e, n)) => {
            return Err(Error::new(
                Kind::Network,
                format!("download failed after {n} bytes: {}", read_error_text(&e)),
            ))
        }
        Err(CopyError::Write(e)) => return Err(Error::from_stdout(e)),
    };
    match expected {
        Some(e) if e != n => Err(Error::new(
            Kind::Network,
            format!("download failed: the server sent {n} of {e} bytes"),
        )),
        _ => Ok(n),
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
        // Other audio types name their format: audio/opus, audio/amr...
        m => match m.strip_prefix("audio/") {
            Some(sub)
                if (2..=5).contains(&sub.len())
                    && sub.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                return format!(".{sub}");
            }
            _ => "bin",
        },
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

/// A part of a file name, made safe and cut to `max` bytes.
pub fn safe_part(raw: &str, max: usize) -> String {
    let mut s = safe_name(raw);
    while s.len() > max {
        s.pop();
    }
    s
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
    }

    #[test]
    fn extensions() {
        assert_eq!(extension("A.jpeg", Some("image/png")), ".jpeg");
        assert_eq!(extension("A", Some("image/jpeg; charset=x")), ".jpg");
        assert_eq!(extension("A", Some("video/webm")), ".webm");
        assert_eq!(extension("A", Some("audio/x-something")), ".bin");
        assert_eq!(extension("A", Some("audio/opus")), ".opus");
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
