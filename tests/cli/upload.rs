//! `civitai-orch upload`: the signed URL from the API, the bytes streamed
//! to the file host without the token, the blob then served; the file
//! host's refusals (413, 415, 422, 403) and their exit codes; files that
//! cannot be sent refused before any request; the URL's signature never
//! shown; a POST repeated only when the host provably did not take it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::no_token_in;
use crate::support::{cli, temp_dir, Cli, Fake, Reply, Run, TOKEN};

const UPLOAD: &str = "/v2/consumer/blobs/upload";

/// A file of `bytes` named `name` in a fresh folder.
fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = temp_dir("upload").join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The query values of every request the file host got (the signatures
/// and expiries of the upload URLs used), for "never shown" checks.
fn signed_values(fake: &Fake) -> Vec<String> {
    fake.cdn_requests()
        .iter()
        .filter(|r| r.method == "POST")
        .flat_map(|r| r.query.iter().map(|(_, v)| v.clone()))
        .collect()
}

fn no_signature_in(run: &Run, values: &[String]) {
    assert!(!values.is_empty(), "no signed upload URL was used:{run:?}");
    for v in values {
        assert!(
            !run.stdout.contains(v.as_str()) && !run.stderr.contains(v.as_str()),
            "the upload URL's {v} was shown:{run:?}"
        );
    }
}

/// A fresh upload URL from the fake's API, asked for by hand (not by the
/// program), so that a script can hand it out.
fn issue(fake: &Fake) -> String {
    let addr = fake.url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {UPLOAD} HTTP/1.1\r\nHost: fake\r\nAuthorization: Bearer {TOKEN}\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let body = all.split_once("\r\n\r\n").unwrap().1;
    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
    doc["uploadUrl"].as_str().unwrap().to_string()
}

/// The API's answer giving `url` as the upload URL.
fn url_reply(url: &str) -> Reply {
    Reply::json(
        200,
        &json!({"uploadUrl": url, "expiresAt": "2026-01-23T09:00:00Z"}).to_string(),
    )
}

#[test]
fn a_file_is_uploaded_without_the_token_and_then_downloads() {
    let fake = Fake::start();
    let bytes = fake.media(crate::JPEG);
    let path = file("photo.JPG", &bytes);
    let run = cli(&fake, &["upload", s(&path)]);
    run.ok();
    let ups = fake.uploads();
    assert_eq!(ups.len(), 1);
    let up = &ups[0];
    let id = up.blob_id.clone().unwrap();
    assert_eq!(up.status, 201);
    assert_eq!(up.bytes, bytes);
    assert_eq!(up.header("content-type"), Some("image/jpeg"));
    assert_eq!(
        up.header("content-length"),
        Some(bytes.len().to_string().as_str()),
        "sent with its length, not in chunks"
    );
    assert_eq!(
        up.header("authorization"),
        None,
        "the token reached the file host"
    );
    // The API was asked with the token.
    let api = fake.api_requests();
    assert_eq!(api.len(), 1);
    assert_eq!(
        (api[0].method.as_str(), api[0].raw_path.as_str()),
        ("GET", UPLOAD)
    );
    assert_eq!(
        api[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert_eq!(lines[0], format!("uploaded: {id}"));
    assert!(
        lines[1].starts_with(&format!("  {}/signed/{id}?sig=", fake.cdn_url)),
        "{run:?}"
    );
    no_signature_in(&run, &signed_values(&fake));
    no_token_in(&run, 12);

    // The blob is the file, from the CDN.
    let dir = temp_dir("upload-get");
    cli(&fake, &["blob", &id, "--download", "--dir", s(&dir)]).ok();
    assert_eq!(std::fs::read(dir.join(&id)).unwrap(), bytes);
    for r in fake.cdn_requests() {
        assert_eq!(
            r.header("authorization"),
            None,
            "{} {}",
            r.method,
            r.raw_path
        );
    }
}

#[test]
fn json_prints_the_blob_and_verbose_hides_the_signature() {
    let fake = Fake::start();
    let path = file("clip.mp4", b"not really a video");
    let run = cli(&fake, &["--json", "-v", "upload", s(&path)]);
    let doc = run.ok().json();
    let up = fake.uploads().pop().unwrap();
    assert_eq!(up.header("content-type"), Some("video/mp4"));
    assert_eq!(doc["id"], up.blob_id.unwrap().as_str());
    assert_eq!(doc["type"], "video");
    assert_eq!(doc["available"], true);
    run.stderr_has(&format!("GET {}{UPLOAD} -> 200", fake.url))
        .stderr_has(&format!("POST {}/upload/", fake.cdn_url))
        .stderr_has("?exp=[hidden]&sig=[hidden] (no token) -> 201");
    no_signature_in(&run, &signed_values(&fake));
    no_token_in(&run, 12);
}

#[test]
fn type_names_the_content_type_and_unknown_extensions_are_octet_streams() {
    let fake = Fake::start();
    let path = file("voice", b"RIFF....WAVE");
    cli(&fake, &["upload", s(&path), "--type=audio/wav"]).ok();
    let path = file("data.xyz", b"\x00\x01\x02");
    cli(&fake, &["upload", s(&path)]).ok().stdout_has(".bin\n");
    let types: Vec<String> = fake
        .uploads()
        .iter()
        .map(|u| u.header("content-type").unwrap().to_string())
        .collect();
    assert_eq!(types, ["audio/wav", "application/octet-stream"]);
    // A bad --type is refused by the parser.
    let run = cli(&fake, &["upload", s(&path), "--type=wav"]);
    run.code(2).stderr_has("invalid value for --type");
    assert_eq!(fake.uploads().len(), 2);
}

#[test]
fn too_large_and_unsupported_types_are_bad_input() {
    let fake = Fake::start();
    fake.set_upload_limit(10);
    let path = file("big.png", &[7u8; 11]);
    let run = cli(&fake, &["upload", s(&path)]);
    run.code(2).one_error_line().stderr_has(&format!(
        "error: 413 Payload Too Large: {} (11 bytes) is larger than the file host takes",
        s(&path)
    ));
    no_signature_in(&run, &signed_values(&fake));

    let path = file("notes.txt", b"hello");
    let run = cli(&fake, &["upload", s(&path), "--type=text/plain"]);
    run.code(2).one_error_line().stderr_has(
        "error: 415 Unsupported Media Type: the file host does not take text/plain \
         (from --type); give the file's type with --type=MIME",
    );
    let run = cli(&fake, &["--json", "upload", s(&path), "--type=text/plain"]);
    let err: serde_json::Value = serde_json::from_str(run.code(2).stderr.trim()).unwrap();
    assert_eq!(err["error"]["kind"], "bad_request");
    assert_eq!(err["error"]["status"], 415);
    let statuses: Vec<u16> = fake.uploads().iter().map(|u| u.status).collect();
    assert_eq!(statuses, [413, 415, 415], "each sent once");
}

#[test]
fn a_refused_signature_is_exit_3_and_the_url_is_never_shown() {
    let fake = Fake::start();
    // A URL already spent: the first upload used it.
    let path = file("a.png", b"png bytes");
    let url = issue(&fake);
    fake.script(UPLOAD, vec![url_reply(&url), url_reply(&url)]);
    cli(&fake, &["upload", s(&path)]).ok();
    let run = cli(&fake, &["-v", "upload", s(&path)]);
    run.code(3).one_error_line().stderr_has(
        "error: 403 Forbidden: the file host refused the signed upload URL (expired, already \
         used, or its signature does not match); run upload again for a new one",
    );
    no_signature_in(&run, &signed_values(&fake));

    // A forged signature.
    let forged = format!(
        "{}/upload/up-never?exp=1&sig=f0f0f0f0f0f0f0f0",
        fake.cdn_url
    );
    fake.script(UPLOAD, vec![url_reply(&forged)]);
    let run = cli(&fake, &["-v", "upload", s(&path)]);
    run.code(3)
        .stderr_has("?exp=[hidden]&sig=[hidden] (no token) -> 403");
    assert!(!run.stderr.contains("f0f0f0f0"), "{run:?}");
    let statuses: Vec<u16> = fake.uploads().iter().map(|u| u.status).collect();
    assert_eq!(statuses, [201, 403, 403]);
}

#[test]
fn moderation_and_server_errors_and_a_body_that_echoes_the_url() {
    let fake = Fake::start();
    let path = file("a.webp", b"webp bytes");
    let secret = "5ec7e75ec7e75ec7";
    let url = format!("{}/upload/fixed?exp=1769120501&sig={secret}", fake.cdn_url);
    fake.script(
        UPLOAD,
        vec![url_reply(&url), url_reply(&url), url_reply(&url)],
    );
    // A refusal whose body echoes the URL: the message keeps the reason,
    // not the signature.
    fake.script(
        "/upload/fixed",
        vec![
            Reply::problem(
                422,
                "Unprocessable Entity",
                &format!("blocked: nsfw ({url})"),
            ),
            // A 503 after the request went out may come after the blob was
            // made: not repeated.
            Reply::problem(503, "Service Unavailable", "busy").header("Retry-After", "0"),
            // A 429 refuses before anything is done: repeated.
            Reply::problem(429, "Too Many Requests", "slow down").header("Retry-After", "0"),
            Reply::json(201, r#"{"id":"MODERATED0000000000000000.webp","url":null}"#),
        ],
    );
    let run = cli(&fake, &["upload", s(&path)]);
    run.code(2)
        .one_error_line()
        .stderr_has("error: 422 Unprocessable Entity: ")
        .stderr_has(" was refused by moderation (blocked: nsfw (");
    assert!(!run.stderr.contains(secret), "{run:?}");
    assert!(run.stderr.contains("sig=[hidden]"), "{run:?}");

    let run = cli(&fake, &["upload", s(&path)]);
    run.code(5)
        .one_error_line()
        .stderr_has("error: 503 Service Unavailable");
    assert!(
        !run.stderr.contains("retrying"),
        "a POST repeated after a 503:{run:?}"
    );

    let run = cli(&fake, &["upload", s(&path)]);
    run.ok()
        .stderr_has("rate limited (429); retrying")
        .stdout_has("uploaded: MODERATED0000000000000000.webp\n");
    let posts = fake
        .cdn_requests()
        .iter()
        .filter(|r| r.raw_path == "/upload/fixed")
        .count();
    assert_eq!(posts, 4, "422 once, 503 once, 429 then 201");
}

#[test]
fn a_dropped_upload_is_not_repeated() {
    let fake = Fake::start();
    let path = file("a.gif", b"GIF89a");
    let url = format!("{}/upload/dropped?exp=1&sig=abcdefabcdef", fake.cdn_url);
    fake.script(UPLOAD, vec![url_reply(&url)]);
    fake.script("/upload/dropped", vec![Reply::Close, Reply::Close]);
    let run = cli(&fake, &["upload", s(&path)]);
    run.code(5).one_error_line();
    assert!(!run.stderr.contains("abcdefabcdef"), "{run:?}");
    let posts = fake
        .cdn_requests()
        .iter()
        .filter(|r| r.raw_path == "/upload/dropped")
        .count();
    assert_eq!(posts, 1, "{run:?}");
}

#[test]
fn a_bad_upload_url_is_a_bad_answer() {
    let fake = Fake::start();
    let path = file("a.png", b"png");
    for bad in [
        json!({"uploadUrl": "/upload/x?sig=relativesecret"}),
        json!({"uploadUrl": "ftp://cdn/x?sig=relativesecret"}),
        json!({"expiresAt": "2026-01-23T09:00:00Z"}),
        json!({"uploadUrl": 5}),
    ] {
        fake.script(UPLOAD, vec![Reply::json(200, &bad.to_string())]);
        let run = cli(&fake, &["upload", s(&path)]);
        run.code(1).one_error_line();
        assert!(!run.stderr.contains("relativesecret"), "{run:?}");
    }
    assert!(fake.cdn_requests().is_empty());
}

#[test]
fn files_that_cannot_be_sent_are_refused_before_any_request() {
    let fake = Fake::start();
    let dir = temp_dir("upload-bad");
    let missing = dir.join("missing.png");
    cli(&fake, &["upload", s(&missing)])
        .code(2)
        .one_error_line()
        .stderr_has("missing.png: no such file");
    cli(&fake, &["upload", s(&dir)])
        .code(2)
        .stderr_has("is a folder; name a file to upload");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = file("locked.png", b"x");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        // Root reads it anyway: nothing to see then.
        if std::fs::File::open(&locked).is_err() {
            cli(&fake, &["upload", s(&locked)])
                .code(2)
                .stderr_has("permission denied");
        }
        cli(&fake, &["upload", "/dev/null"])
            .code(2)
            .stderr_has("is not a regular file");
    }
    Cli::new(Some(&fake), &["upload"])
        .run()
        .code(2)
        .stderr_has("missing <file>");
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

// Written to break it: a careless user, a hostile server.

#[test]
fn an_upload_url_that_holds_the_token_is_refused_and_nothing_is_sent() {
    let fake = Fake::start();
    let path = file("a.png", b"png");
    let cdn = fake.cdn_url.strip_prefix("http://").unwrap().to_string();
    let encoded: String = TOKEN
        .bytes()
        .map(|b| format!("%{b:02x}"))
        .collect::<String>();
    for url in [
        format!("http://{cdn}/upload/t?sig=abcdefabcdef&token={TOKEN}"),
        format!("http://{cdn}/upload/t?sig=abcdefabcdef&t={encoded}"),
        format!("http://{cdn}/upload/{TOKEN}?sig=abcdefabcdef"),
        // As a password: Basic auth would carry it there.
        format!("http://u:{TOKEN}@{cdn}/upload/t?sig=abcdefabcdef"),
        format!("http://user@{cdn}/upload/t?sig=abcdefabcdef"),
    ] {
        fake.script(UPLOAD, vec![url_reply(&url)]);
        let run = cli(&fake, &["-v", "upload", s(&path)]);
        run.code(1)
            .one_error_line()
            .stderr_has("error: the API sent an upload URL that holds ");
        no_token_in(&run, 8);
        assert!(!run.stderr.contains("abcdefabcdef"), "{run:?}");
    }
    assert!(fake.cdn_requests().is_empty(), "{:?}", fake.cdn_requests());
}

#[test]
fn an_upload_url_on_the_api_host_gets_no_token() {
    let fake = Fake::start();
    let path = file("a.png", b"png");
    let url = format!("{}/upload/self?sig=abcdefabcdef", fake.url);
    fake.script(UPLOAD, vec![url_reply(&url)]);
    fake.script(
        "/upload/self",
        vec![Reply::json(201, r#"{"id":"B1","url":"http://x/B1"}"#)],
    );
    cli(&fake, &["upload", s(&path)])
        .ok()
        .stdout_has("uploaded: B1\n");
    let sent: Vec<_> = fake
        .api_requests()
        .into_iter()
        .filter(|r| r.raw_path == "/upload/self")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("authorization"), None, "{:?}", sent[0]);
}

#[test]
fn a_redirect_from_the_file_host_is_not_followed_and_named_as_its() {
    let fake = Fake::start();
    let path = file("a.png", b"png");
    let url = format!("{}/upload/moved?sig=abcdefabcdef", fake.cdn_url);
    fake.script(UPLOAD, vec![url_reply(&url)]);
    let elsewhere = format!("{}/v2/consumer/blobs/upload?sig=fedcbafedcba", fake.url);
    fake.script("/upload/moved", vec![Reply::redirect(307, &elsewhere)]);
    let run = cli(&fake, &["upload", s(&path)]);
    run.code(1)
        .one_error_line()
        .stderr_has("error: 307 Temporary Redirect: the file host sent the upload elsewhere")
        .stderr_has("which is not followed; run upload again");
    assert!(!run.stderr.contains("CIVITAI_API_URL"), "{run:?}");
    assert!(!run.stderr.contains("fedcbafedcba"), "{run:?}");
    // The API got its one GET, and nothing went where the redirect said.
    assert_eq!(fake.api_requests().len(), 1, "{:?}", fake.api_requests());
    assert_eq!(fake.cdn_requests().len(), 1);
}

#[test]
fn an_empty_file_or_a_dash_is_refused_before_any_request() {
    let fake = Fake::start();
    let empty = file("empty.png", b"");
    cli(&fake, &["upload", s(&empty)])
        .code(2)
        .one_error_line()
        .stderr_has("empty.png is empty; there is nothing to upload");
    let dir = temp_dir("upload-dash");
    Cli::new(Some(&fake), &["upload", "-"])
        .dir(&dir)
        .run()
        .code(2)
        .one_error_line()
        .stderr_has("cannot read -: no such file (upload reads a file, not stdin)");
    // A file named `-` is a file.
    std::fs::write(dir.join("-"), b"x").unwrap();
    Cli::new(Some(&fake), &["upload", "-"])
        .dir(&dir)
        .run()
        .ok()
        .stdout_has("uploaded: ");
    assert_eq!(fake.uploads().len(), 1);
}
