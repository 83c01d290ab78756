//! `-v`: one line on stderr per HTTP request (method, URL, status or
//! failure, time, retry), for API calls, the blob redirect and CDN
//! downloads alike; signed queries hidden, the token never shown, whole
//! lines even from parallel downloads, and shown even with `-q`.

use crate::support::{cli, temp_dir, Cli, Fake, Reply, TOKEN};
use crate::{files, no_token_in, workflow_path, JPEG, W1};

/// The `-v` lines of a run: those that start with a method.
fn request_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("GET ")).collect()
}

/// `... -> OUTCOME (N ms)AFTER` with a whole number of milliseconds.
fn ends_with_time(line: &str, after: &str) -> bool {
    let Some(rest) = line.strip_suffix(after) else {
        return false;
    };
    let Some(rest) = rest.strip_suffix(" ms)") else {
        return false;
    };
    let digits = rest.len() - rest.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    digits > 0 && rest[..rest.len() - digits].ends_with(" (")
}

#[test]
fn a_plain_get_is_one_line_with_status_and_time() {
    let fake = Fake::start();
    let quiet = cli(&fake, &["workflows", "--take=5"]);
    let run = cli(&fake, &["-v", "workflows", "--take=5"]);
    run.ok();
    assert_eq!(run.stdout, quiet.stdout, "-v changes only stderr");
    let lines = request_lines(&run.stderr);
    assert_eq!(lines.len(), 1, "{run:?}");
    let want = format!("GET {}/v2/consumer/workflows?take=5 -> 200 (", fake.url);
    assert!(lines[0].starts_with(&want), "{run:?}");
    assert!(ends_with_time(lines[0], ""), "{run:?}");
    no_token_in(&run, 12);
    assert!(!run.stderr.to_lowercase().contains("bearer"), "{run:?}");

    // Global: after the command too, and in long form.
    let run = cli(&fake, &["workflow", W1, "--verbose"]);
    run.ok();
    let want = format!("GET {}{} -> 200 (", fake.url, workflow_path(W1));
    assert!(request_lines(&run.stderr)[0].starts_with(&want), "{run:?}");
}

#[test]
fn a_retried_503_says_which_retry_and_wins_over_quiet() {
    let fake = Fake::start();
    let busy = || Reply::problem(503, "Service Unavailable", "busy").header("Retry-After", "0");
    fake.script(&workflow_path(W1), vec![busy()]);
    let run = cli(&fake, &["-v", "workflow", W1]);
    run.ok();
    let url = format!("{}{}", fake.url, workflow_path(W1));
    let lines = request_lines(&run.stderr);
    assert_eq!(lines.len(), 2, "{run:?}");
    assert!(
        lines[0].starts_with(&format!("GET {url} -> 503 (")),
        "{run:?}"
    );
    assert!(ends_with_time(lines[0], ", retrying (1 of 4)"), "{run:?}");
    assert!(
        lines[1].starts_with(&format!("GET {url} (retry 1 of 4) -> 200 (")),
        "{run:?}"
    );
    assert!(ends_with_time(lines[1], ""), "{run:?}");
    // The retry note is still there without -q...
    run.stderr_has("server error (503 Service Unavailable); retrying in 0s");

    // ... and gone with it, while the -v lines stay.
    fake.script(&workflow_path(W1), vec![busy(), busy()]);
    let run = cli(&fake, &["-q", "-v", "workflow", W1, "--retries=1"]);
    run.code(5);
    let lines = request_lines(&run.stderr);
    assert_eq!(lines.len(), 2, "{run:?}");
    assert!(ends_with_time(lines[0], ", retrying (1 of 1)"), "{run:?}");
    assert!(
        lines[1].contains("(retry 1 of 1) -> 503 (")
            && ends_with_time(lines[1], ", no retries left"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("retrying in"), "{run:?}");
    run.one_error_line();
}

#[test]
fn a_download_shows_the_redirect_and_the_cdn_without_its_signature() {
    let fake = Fake::start();
    let dir = temp_dir("verbose-blob");
    let run = cli(
        &fake,
        &[
            "-v",
            "blob",
            JPEG,
            "--download",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    run.ok();
    assert_eq!(files(&dir), [JPEG]);
    let lines = request_lines(&run.stderr);
    assert_eq!(lines.len(), 2, "{run:?}");
    let api = format!("GET {}/v2/consumer/blobs/{JPEG} -> 307 (", fake.url);
    assert!(lines[0].starts_with(&api), "{run:?}");
    let cdn = format!(
        "GET {}/signed/{JPEG}?sig=[hidden]&exp=[hidden] (no token) -> 200 (",
        fake.cdn_url
    );
    assert!(lines[1].starts_with(&cdn), "{run:?}");
    assert!(ends_with_time(lines[1], ""), "{run:?}");
    // The CDN did get the signature; stderr never shows it.
    let sent = fake.cdn_requests().pop().unwrap();
    let sig = sent.param("sig").unwrap().to_string();
    assert!(!run.stderr.contains(&sig), "{run:?}");
    no_token_in(&run, 12);
}

#[test]
fn parallel_downloads_log_whole_lines() {
    let fake = Fake::start();
    let dir = temp_dir("verbose-results");
    let run = cli(
        &fake,
        &[
            "-v",
            "results",
            W1,
            "--download",
            "-j",
            "4",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    run.ok();
    let lines = request_lines(&run.stderr);
    assert_eq!(lines.len(), 1 + files(&dir).len(), "{run:?}");
    assert_eq!(run.stderr.lines().count(), lines.len(), "{run:?}");
    for line in &lines[1..] {
        assert!(
            line.contains("?sig=[hidden]&exp=[hidden] (no token) -> 200 ("),
            "{run:?}"
        );
        assert!(ends_with_time(line, ""), "{run:?}");
    }
    no_token_in(&run, 12);
}

#[test]
fn transport_failures_are_named() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let run = Cli::new(None, &["-v", "--retries=1", "--api-url", &url, "test"])
        .env("CIVITAI_API_TOKEN", TOKEN)
        .run();
    run.code(5);
    let lines = request_lines(&run.stderr);
    assert_eq!(lines.len(), 2, "{run:?}");
    let first = format!("GET {url}/v2/consumer/workflows?take=1 -> failed: connection refused (");
    assert!(lines[0].starts_with(&first), "{run:?}");
    assert!(ends_with_time(lines[0], ", retrying (1 of 1)"), "{run:?}");
    assert!(
        lines[1].contains("(retry 1 of 1) -> failed: connection refused (")
            && ends_with_time(lines[1], ", no retries left"),
        "{run:?}"
    );
    no_token_in(&run, 12);
}

#[test]
fn the_token_is_never_shown_not_even_in_a_url() {
    let fake = Fake::start();
    // A token pasted into the API URL by mistake: the request goes out (and
    // finds nothing), its line hides the token.
    let run = Cli::new(Some(&fake), &["-v", "--jsonl", "workflows"])
        .env("CIVITAI_API_URL", &format!("{}/{TOKEN}", fake.url))
        .run();
    run.code(4);
    let lines = request_lines(&run.stderr);
    assert_eq!(lines.len(), 1, "{run:?}");
    let want = format!(
        "GET {}/[hidden]/v2/consumer/workflows?take=20 -> 404 (",
        fake.url
    );
    assert!(lines[0].starts_with(&want), "{run:?}");
    no_token_in(&run, 8);

    // A refused token: the line says 401, never what was sent.
    let wrong = "wrong-token-ABCDEFGHIJKLMNOP";
    let run = Cli::new(Some(&fake), &["-v", "test"])
        .env("CIVITAI_API_TOKEN", wrong)
        .run();
    run.code(3);
    assert!(
        request_lines(&run.stderr)[0].contains(" -> 401 ("),
        "{run:?}"
    );
    assert!(!run.stderr.contains(&wrong[..10]), "{run:?}");
}

/// A token with characters a URL encodes (`/`, `+`, `=`, as base64 has),
/// pasted as an id or a filter: `-v` shows the URL, where the token is
/// percent-encoded; that form is hidden too, as is the token in the
/// `Filters:` line on stdout.
#[test]
fn a_percent_encoded_token_in_a_url_is_hidden() {
    let fake = Fake::start();
    let token = "Tok/en+with=chars0123456789";
    for args in [
        vec!["-v", "workflow", token],
        vec!["-v", "workflows", "--query", token, "--tag", token],
    ] {
        let run = Cli::new(Some(&fake), &args)
            .env("CIVITAI_API_TOKEN", token)
            .run();
        run.code(3).stderr_has("[hidden]");
        for text in [&run.stdout, &run.stderr] {
            assert!(!text.contains(token), "token shown:{run:?}");
            assert!(
                !text.contains("Tok%2Fen%2Bwith"),
                "encoded token shown:{run:?}"
            );
        }
    }
}

/// A password in the API URL (`https://user:pw@host`) is a secret too:
/// `-v` shows the URL without it.
#[test]
fn a_password_in_the_api_url_is_not_shown() {
    let fake = Fake::start();
    let url = fake.url.replace("http://", "http://user:s3cretpw@");
    let run = Cli::new(Some(&fake), &["-v", "--retries=0", "workflows", "--take=1"])
        .env("CIVITAI_API_URL", &url)
        .run();
    assert_eq!(request_lines(&run.stderr).len(), 1, "{run:?}");
    assert!(!run.stderr.contains("s3cretpw"), "password shown:{run:?}");
    run.stderr_has("http://[hidden]@127.0.0.1:");
}
