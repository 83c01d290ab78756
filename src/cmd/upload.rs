//! `upload FILE [--type MIME]`: a file on disk made a blob, for a
//! template's `input`. Two requests: the API gives a signed upload URL on
//! its file host, then the bytes go there, streamed from disk with their
//! length and `Content-Type`, without the token (the URL's signature is
//! the permission; the token never leaves for another host).
//!
//! Repeats follow the HTTP layer's rule for a POST without an idempotency
//! key: only when the file host provably did not take it (a `429`, a
//! connection that never opened). The URL is good for one upload, spent by
//! the one that made a blob; after an answer lost on the way back, or a
//! `5xx` that a gateway may have sent after the blob was made, a second
//! try could make a second blob, or be refused as a reuse: the run ends
//! and says to upload again, which asks for a new URL.
//!
//! An upload URL that holds a user name or password, or the token in any
//! spelling, is refused before a byte is sent: it would carry a credential
//! to the file host. A redirect from the file host is not followed. An
//! empty file is refused (a blob of nothing is no step's input).
//!
//! The upload URL's query is its key: it is never shown (`-v` hides every
//! query value of a request sent without the token, and the messages here
//! hide them wherever a body echoed them).

use std::io::Write;
use std::path::Path;

use serde::Deserialize;

use super::Ctx;
use crate::api::{self, parse_json};
use crate::cli::UploadOpts;
use crate::error::{Error, Kind, Result};
use crate::http::retry::Method;
use crate::http::{body_detail, reason, shown_url, status_error, Answer, Auth, Call, Payload};
use crate::output::{Out, OutExt};
use crate::text::{cut, escape, HIDDEN};

pub fn run(ctx: &Ctx, o: &UploadOpts, out: &mut Out) -> Result<()> {
    let size = check_file(&o.file)?;
    let (content_type, why) = match &o.content_type {
        Some(t) => (t.as_str(), "--type".to_string()),
        None => by_extension(&o.file),
    };
    // DOCS: GET /v2/consumer/blobs/upload (with the token)
    let answer = ctx.client.get(api::BLOB_UPLOAD, "upload URL")?;
    let url = upload_url(&answer.body, ctx.client.api_url())?;
    // DOCS: POST <uploadUrl> with the bytes, without the token
    let call = Call {
        method: Method::Post,
        path: &url,
        auth: Auth::None,
        headers: &[],
        payload: Payload::File {
            path: &o.file,
            content_type,
        },
        keyed: false,
        any_status: true,
        what: "the upload",
    };
    let answer = ctx.client.call(&call).map_err(|e| hide_query(e, &url))?;
    if !(200..300).contains(&answer.status) {
        let refusal = Refusal {
            file: &o.file,
            size,
            content_type,
            why: &why,
        };
        return Err(hide_query(refusal.error(&answer), &url));
    }
    let blob: Blob = parse_json(&answer.body, "an uploaded blob")?;
    let Some(id) = blob.id.filter(|id| !id.is_empty()) else {
        return Err(Error::other(format!(
            "the file host answered {} without a blob id; the upload may have been kept: \
             look for it before uploading again",
            answer.status
        )));
    };
    if ctx.mode().is_json() {
        return ctx.print_document(out, &answer.body);
    }
    writeln!(out, "uploaded: {}", escape(&id)).out()?;
    if let Some(url) = blob.url.filter(|u| !u.is_empty()) {
        writeln!(out, "  {}", escape(&url)).out()?;
    }
    Ok(())
}

/// The part of a Blob the text output shows.
#[derive(Deserialize)]
struct Blob {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct UploadUrl {
    #[serde(default, rename = "uploadUrl")]
    upload_url: Option<String>,
}

/// The file's size, once it is known to be a file that can be read: any
/// other path is refused before a request is made.
fn check_file(path: &Path) -> Result<u64> {
    let shown = escape(&path.display().to_string());
    let cannot = |e: std::io::Error| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound if path == Path::new("-") => {
                "no such file (upload reads a file, not stdin)".to_string()
            }
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        Error::usage(format!("cannot read {shown}: {why}"))
    };
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if meta.is_dir() {
        return Err(Error::usage(format!(
            "{shown} is a folder; name a file to upload"
        )));
    }
    if !meta.is_file() {
        // Its length is sent first, and a retry reads it again.
        return Err(Error::usage(format!(
            "{shown} is not a regular file; upload takes a file on disk"
        )));
    }
    std::fs::File::open(path).map_err(cannot)?;
    if meta.len() == 0 {
        // A blob of nothing is no input for any step.
        return Err(Error::usage(format!(
            "{shown} is empty; there is nothing to upload"
        )));
    }
    Ok(meta.len())
}

/// The `Content-Type` of a file by its extension (any case), and where it
/// came from, for a `415`'s message.
fn by_extension(path: &Path) -> (&'static str, String) {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let t = match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "avif" => "image/avif",
        "bmp" => "image/bmp",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" | "oga" => "audio/ogg",
        "flac" => "audio/flac",
        "m4a" => "audio/mp4",
        "json" => "application/json",
        _ => "application/octet-stream",
    };
    let why = if ext.is_empty() || t == "application/octet-stream" {
        "an extension it does not know".to_string()
    } else {
        format!("its extension .{}", escape(&ext))
    };
    (t, why)
}

/// The signed URL from the API's answer: absolute http(s) with a host, and
/// not plain http when the API itself is https (the file would then cross
/// the network in the clear). Anything else is a bad answer of the server.
fn upload_url(body: &str, api_url: &str) -> Result<String> {
    let doc: UploadUrl = parse_json(body, "an upload URL")?;
    let Some(url) = doc.upload_url.filter(|u| !u.is_empty()) else {
        return Err(Error::other(
            "the API sent no uploadUrl for the upload; try again",
        ));
    };
    let bad = |why: &str| {
        Error::other(format!(
            "the API sent an upload URL that {why}: '{}'",
            cut(&shown_url(&url, Auth::None), 200)
        ))
    };
    let https = has_scheme(&url, "https://");
    let rest = if https {
        &url[8..]
    } else if has_scheme(&url, "http://") {
        &url[7..]
    } else {
        return Err(bad("is not an absolute http(s) URL"));
    };
    let host = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("is not an absolute http(s) URL"));
    }
    if host.contains('@') {
        // A user name or password would go to the file host as Basic auth.
        return Err(bad(
            "holds a user name or password; only the signature is sent there",
        ));
    }
    if holds_token(&url) {
        return Err(bad("holds the token, which never goes to the file host"));
    }
    if !https && has_scheme(api_url, "https://") {
        return Err(bad(
            "is plain http while the API is https; the file is not sent",
        ));
    }
    Ok(url)
}

/// Whether `url` holds the run's token, as it is or percent-encoded in
/// any case (a token too short to tell from other text is not looked for).
fn holds_token(url: &str) -> bool {
    let forms = crate::text::secret_forms();
    let Some(token) = forms.first().filter(|t| t.len() >= 8) else {
        return false;
    };
    url.contains(token.as_str()) || unescaped(url).contains(token.as_str())
}

/// `s` with its `%XX` escapes decoded (in either case), to look for the
/// token however the URL spells it.
fn unescaped(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn has_scheme(url: &str, scheme: &str) -> bool {
    url.get(..scheme.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
}

/// What an upload that the file host refused was.
struct Refusal<'a> {
    file: &'a Path,
    size: u64,
    content_type: &'a str,
    /// Where the type came from: `--type`, or the extension.
    why: &'a str,
}

impl Refusal<'_> {
    /// One line for a refused upload, with the exit code of its kind: a
    /// file too large or of a type not taken is input to change (2, as a
    /// `400`); a refused signature is an authorization failure (3, as any
    /// `403`); anything else as for every request.
    fn error(&self, answer: &Answer) -> Error {
        let status = answer.status;
        let ctype = answer.header("content-type").unwrap_or("");
        let head = format!("{status} {}", reason(status));
        let detail = body_detail(ctype, &answer.body, &head);
        let file = escape(&self.file.display().to_string());
        let with_detail = |text: String| match &detail {
            Some(d) => format!("{text} ({d})"),
            None => text,
        };
        let (kind, message) = match status {
            413 => (
                Kind::BadRequest,
                with_detail(format!(
                    "{head}: {file} ({} bytes) is larger than the file host takes",
                    self.size
                )),
            ),
            415 => (
                Kind::BadRequest,
                with_detail(format!(
                    "{head}: the file host does not take {} (from {}); give the file's \
                     type with --type=MIME",
                    escape(self.content_type),
                    self.why
                )),
            ),
            422 => (
                Kind::BadRequest,
                with_detail(format!("{head}: {file} was refused by moderation")),
            ),
            403 => (
                Kind::Auth,
                with_detail(format!(
                    "{head}: the file host refused the signed upload URL (expired, already \
                     used, or its signature does not match); run upload again for a new one"
                )),
            ),
            // Not followed: the file goes to the signed URL and nowhere else.
            300..=399 => {
                let to = answer
                    .header("location")
                    .map(|l| format!(" to '{}'", cut(&shown_url(l, Auth::None), 200)))
                    .unwrap_or_default();
                (
                    Kind::Other,
                    format!(
                        "{head}: the file host sent the upload elsewhere{to}, which is not \
                         followed; run upload again for a new URL"
                    ),
                )
            }
            _ => return status_error(status, ctype, &answer.body, "the upload"),
        };
        Error::new(kind, message).with_status(status)
    }
}

/// `e` with every query value of the signed `url` hidden, wherever a body
/// or a message echoed it.
fn hide_query(mut e: Error, url: &str) -> Error {
    let Some((_, query)) = url.split_once('?') else {
        return e;
    };
    for pair in query.split('&') {
        let value = pair.split_once('=').map_or(pair, |(_, v)| v);
        // Shorter values are no secret, and would hide common words.
        if value.len() >= 6 {
            e.message = e.message.replace(value, HIDDEN);
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_extension() {
        let t = |p: &str| by_extension(Path::new(p)).0;
        assert_eq!(t("a.JPG"), "image/jpeg");
        assert_eq!(t("dir.v2/a.jpeg"), "image/jpeg");
        assert_eq!(t("a.png"), "image/png");
        assert_eq!(t("a.mov"), "video/quicktime");
        assert_eq!(t("a.mp3"), "audio/mpeg");
        assert_eq!(t("a.flac"), "audio/flac");
        assert_eq!(t("a.json"), "application/json");
        assert_eq!(t("a.txt"), "application/octet-stream");
        assert_eq!(t("README"), "application/octet-stream");
        assert_eq!(t(".png"), "application/octet-stream");
        assert_eq!(
            by_extension(Path::new("a.txt")).1,
            "an extension it does not know"
        );
        assert_eq!(by_extension(Path::new("a.Png")).1, "its extension .png");
    }

    #[test]
    fn upload_urls_must_be_absolute_http() {
        let doc = |u: &str| serde_json::json!({ "uploadUrl": u }).to_string();
        let ok = |u: &str, api: &str| upload_url(&doc(u), api);
        assert!(ok("https://cdn.example/up/1?sig=abc", "https://api").is_ok());
        assert!(ok("HTTP://127.0.0.1:9/up?sig=1", "http://127.0.0.1:8").is_ok());
        for bad in [
            "/upload/1?sig=secretvalue",
            "ftp://cdn/x",
            "https://",
            "https:///path",
            "https://cdn/a b",
            "https://cdn/a\n",
            "javascript:alert(1)",
        ] {
            let e = ok(bad, "https://api").unwrap_err();
            assert_eq!(e.exit_code(), 1, "{bad}");
            assert!(!e.message.contains("secretvalue"), "{}", e.message);
        }
        let e = ok("http://cdn/up?sig=secretvalue", "https://api").unwrap_err();
        assert!(e.message.contains("plain http"), "{}", e.message);
        assert!(!e.message.contains("secretvalue"), "{}", e.message);
        assert!(upload_url("{}", "https://api").is_err());
        assert!(upload_url(r#"{"uploadUrl": 5}"#, "https://api").is_err());
        assert!(upload_url("[]", "https://api").is_err());
    }

    #[test]
    fn escapes_are_decoded_in_either_case() {
        assert_eq!(unescaped("a%2Db%2db%zz%4"), "a-b-b%zz%4");
        assert_eq!(unescaped("%C3%BC+"), "ü+");
    }

    #[test]
    fn query_values_are_hidden_in_messages() {
        let e = Error::other("refused: https://cdn/up/1?exp=1769120501&sig=0123abcd echoed");
        let e = hide_query(e, "https://cdn/up/1?exp=1769120501&sig=0123abcd&x=1");
        assert_eq!(
            e.message,
            "refused: https://cdn/up/1?exp=[hidden]&sig=[hidden] echoed"
        );
    }
}
