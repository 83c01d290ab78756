//! Errors and exit codes, whatever the command: usage (2), auth (3), not found
//! (4), network and server (5), rate limits (6); the one error line, its JSON
//! form, the token never shown, each thing said once; what a mistyped option
//! or command was near; retries with and without `Retry-After`, cut and
//! non-JSON bodies, timeouts, refused connections, a closed stdout.

use std::time::{Duration, Instant};

use crate::support::{cli, Cli, Fake, Reply, TOKEN};
use crate::{no_token_in, raw_server};
use crate::{workflow_path, W1};
use serde_json::json;

#[test]
fn usage_errors_exit_2_with_the_usage_line() {
    for args in [
        vec!["frobnicate"],
        vec!["workflows", "--bogus"],
        vec!["workflows", "--take=abc"],
        vec!["workflow"],
        vec!["step", "only-one"],
        vec!["--env-file", "/nonexistent/.env", "test"],
    ] {
        let run = Cli::new(None, &args).env("CIVITAI_API_TOKEN", TOKEN).run();
        run.code(2).one_error_line();
        assert!(run.stdout.is_empty(), "{run:?}");
    }
    Cli::new(None, &["workflows", "--bogus"])
        .run()
        .stderr_has("usage: civitai-orch workflows");
}

#[test]
fn not_found_names_what_and_json_errors_are_one_line() {
    let fake = Fake::start();
    cli(&fake, &["workflow", "missing-id"])
        .code(4)
        .one_error_line()
        // The API's "Not Found" / "Workflow missing-id could not be found"
        // says nothing more, so it is not repeated.
        .stderr_has("error: 404 Not Found: no workflow 'missing-id'\n");
    let run = cli(&fake, &["--json", "workflow", "missing-id"]);
    run.code(4);
    assert!(run.stdout.is_empty());
    let err: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(err["error"]["kind"], "not_found");
    assert_eq!(err["error"]["status"], 404);
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("missing-id"));
    let run = cli(&fake, &["--jsonl", "workflows", "--take=x"]);
    run.code(2);
    let err: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(err["error"]["kind"], "usage");
}

#[test]
fn auth_errors_exit_3_and_never_show_the_token() {
    let fake = Fake::start();
    // The API's title is the reason phrase and its detail says what ours
    // would: each is said once.
    Cli::new(Some(&fake), &["test"])
        .env("CIVITAI_API_TOKEN", "wrong-token-ABCDEFGHIJKLMNOP")
        .run()
        .code(3)
        .one_error_line()
        .stderr_has(
            "error: 401 Unauthorized: The access token is missing, invalid or has expired; \
             check CIVITAI_API_TOKEN\n",
        );
    let run = Cli::new(Some(&fake), &["workflows"])
        .env_remove("CIVITAI_API_TOKEN")
        .run();
    run.code(3).one_error_line().stderr_has("no API token");
    assert_eq!(fake.api_requests().len(), 1, "no request without a token");

    // A server that echoes the token back does not get it printed.
    fake.script(
        &workflow_path("echo"),
        vec![Reply::problem(
            400,
            "Bad Request",
            &format!("bad header Bearer {TOKEN}"),
        )],
    );
    let run = cli(&fake, &["workflow", "echo"]);
    run.code(2);
    assert!(!run.stderr.contains(TOKEN), "{run:?}");
}

#[test]
fn any_token_echoed_back_is_hidden() {
    let fake = Fake::start();
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::problem(401, "Unauthorized", "bad token Bearer abc")],
    );
    let run = Cli::new(Some(&fake), &["test"])
        .env("CIVITAI_API_TOKEN", "abc")
        .run();
    run.code(3);
    assert!(!run.stderr.contains("Bearer abc"), "{run:?}");
    Cli::new(Some(&fake), &["test"])
        .env("CIVITAI_API_TOKEN", "abc\ndef")
        .run()
        .code(3)
        .stderr_has("line break");
}

#[test]
fn validation_errors_exit_2_with_the_field() {
    let fake = Fake::start();
    let body =
        std::fs::read_to_string(crate::support::fake::fixtures_dir().join("errors/422.json"))
            .unwrap();
    fake.script("/v2/consumer/workflows", vec![Reply::json(422, &body)]);
    cli(&fake, &["workflows"])
        .code(2)
        .one_error_line()
        .stderr_has("422 Unprocessable Entity")
        .stderr_has(
            "error: 422 Unprocessable Entity: One or more validation errors occurred; \
             the API rejected the request; check the options\n  \
             take: must be between 1 and 100\n",
        );
    // (A --take out of range never gets that far: see workflows.rs.)
}

#[test]
fn a_mistyped_option_or_command_suggests_the_nearest() {
    for (args, said) in [
        (
            vec!["workflows", "--exclude-faild"],
            "error: invalid option '--exclude-faild'; did you mean --exclude-failed?",
        ),
        (
            vec!["workflows", "--jsn"],
            "error: invalid option '--jsn'; did you mean --json?",
        ),
        (
            vec!["--jsn", "workflows"],
            "error: invalid option '--jsn'; did you mean --json?",
        ),
        (
            vec!["workflows", "--excludefailed"],
            "error: invalid option '--excludefailed'; did you mean --excludeFailed?",
        ),
        (
            vec!["results", "x", "--downlaod"],
            "error: invalid option '--downlaod'; did you mean --download?",
        ),
        (
            vec!["workflws"],
            "error: unknown command 'workflws'; did you mean 'workflows'?",
        ),
        (
            vec!["help", "reslts"],
            "error: unknown command 'reslts'; did you mean 'results'?",
        ),
        (
            vec!["user-workflow", "1"],
            "error: unknown command 'user-workflow'; did you mean 'user-workflows'?",
        ),
        // Nothing near: no guess.
        (
            vec!["workflows", "--bogus"],
            "error: invalid option '--bogus'\n",
        ),
        (
            vec!["frobnicate"],
            "error: unknown command 'frobnicate'; run 'civitai-orch --help' for the list\n",
        ),
        // Only the options of the command given: `job` takes no --download.
        (
            vec!["job", "x", "--downlaod"],
            "error: invalid option '--downlaod'\n",
        ),
    ] {
        let run = Cli::new(None, &args).env("CIVITAI_API_TOKEN", TOKEN).run();
        run.code(2).one_error_line().stderr_has(said);
        assert!(run.stdout.is_empty(), "{run:?}");
    }
}

#[test]
fn rate_limits_are_retried_with_and_without_retry_after() {
    let fake = Fake::start();
    fake.script(
        &workflow_path(W1),
        vec![Reply::problem(429, "Too Many Requests", "slow down").header("Retry-After", "1")],
    );
    let start = Instant::now();
    let run = cli(&fake, &["workflow", W1]);
    run.ok()
        .stderr_has("rate limited (429); retrying in 1s (attempt 2 of 5)");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert_eq!(fake.api_requests().len(), 2);

    // Without Retry-After: backoff from 1s; still limited after all retries: exit 6.
    let fake = Fake::start();
    fake.script(
        &workflow_path(W1),
        vec![
            Reply::problem(429, "Too Many Requests", "x"),
            Reply::problem(429, "Too Many Requests", "x"),
        ],
    );
    let run = cli(&fake, &["workflow", W1, "--retries=1"]);
    run.code(6)
        .one_error_line()
        .stderr_has("rate limited (429); retrying in ")
        .stderr_has("(attempt 2 of 2)")
        .stderr_has("still rate limited after 1 retries");
    assert_eq!(fake.api_requests().len(), 2);

    // --retries 0 turns retrying off; -q silences the notes.
    let fake = Fake::start();
    fake.script(
        &workflow_path(W1),
        vec![Reply::problem(429, "Too Many Requests", "x")],
    );
    let run = cli(&fake, &["workflow", W1, "--retries", "0"]);
    run.code(6).stderr_has("retries are off");
    assert_eq!(fake.api_requests().len(), 1);
    let fake = Fake::start();
    fake.script(
        &workflow_path(W1),
        vec![Reply::problem(429, "", "").header("Retry-After", "0")],
    );
    let run = cli(&fake, &["-q", "workflow", W1]);
    run.ok();
    assert!(run.stderr.is_empty(), "{run:?}");
}

#[test]
fn retry_after_as_an_http_date() {
    let fake = Fake::start();
    fake.script(
        &workflow_path(W1),
        vec![Reply::problem(429, "Too Many Requests", "x")
            .header("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")],
    );
    // A date in the past means: retry now.
    cli(&fake, &["workflow", W1])
        .ok()
        .stderr_has("retrying in 0s");
}

#[test]
fn server_errors_retry_then_succeed_or_exit_5() {
    let fake = Fake::start();
    fake.script(
        &workflow_path(W1),
        vec![Reply::problem(503, "Service Unavailable", "busy").header("Retry-After", "0")],
    );
    cli(&fake, &["workflow", W1])
        .ok()
        .stderr_has("server error (503 Service Unavailable); retrying");

    let fake = Fake::start();
    let html =
        std::fs::read_to_string(crate::support::fake::fixtures_dir().join("errors/502.html"))
            .unwrap();
    fake.script(
        &workflow_path(W1),
        vec![Reply::html(502, &html), Reply::html(502, &html)],
    );
    let run = cli(&fake, &["workflow", W1, "--retries=1"]);
    run.code(5)
        .one_error_line()
        .stderr_has("error: 502 Bad Gateway: the server failed; try again later");
    assert!(!run.stderr.contains("<html"), "{run:?}");

    // 500 is not retried.
    let fake = Fake::start();
    fake.script(
        &workflow_path(W1),
        vec![Reply::problem(500, "Internal Server Error", "boom")],
    );
    cli(&fake, &["workflow", W1]).code(5).stderr_has("boom");
    assert_eq!(fake.api_requests().len(), 1);
}

#[test]
fn a_body_cut_short_is_retried_then_reported() {
    let fake = Fake::start();
    let cut = Reply::Cut {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        declared: 500,
        body: br#"{"id":"x","sta"#.to_vec(),
    };
    fake.script(&workflow_path(W1), vec![cut.clone()]);
    cli(&fake, &["workflow", W1])
        .ok()
        .stderr_has("connection dropped");

    let fake = Fake::start();
    fake.script(&workflow_path(W1), vec![cut]);
    cli(&fake, &["workflow", W1, "--retries=0"])
        .code(5)
        .one_error_line()
        .stderr_has("dropped before the answer was complete");
}

#[test]
fn a_body_that_is_not_json_exits_1() {
    let fake = Fake::start();
    fake.script(
        &workflow_path(W1),
        vec![Reply::json(200, "<html>oops</html>")],
    );
    cli(&fake, &["workflow", W1])
        .code(1)
        .one_error_line()
        .stderr_has("not the expected JSON");
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::json(200, r#"{"items":[5]}"#)],
    );
    cli(&fake, &["workflows"]).code(1).one_error_line();
    for body in ["null", "[]", "\"text\""] {
        fake.script(&workflow_path(W1), vec![Reply::json(200, body)]);
        cli(&fake, &["workflow", W1])
            .code(1)
            .one_error_line()
            .stderr_has("not a JSON object");
    }
    fake.script(&workflow_path(W1), vec![Reply::json(200, "[]")]);
    cli(&fake, &["results", W1])
        .code(1)
        .stderr_has("not a workflow");

    // One odd field costs that field, not the listing.
    let odd = r#"{"items":[{"id":"a","status":"succeeded","tags":"abc","steps":[null,{"name":7,"$type":"x","status":"queued"}]}],"next":null}"#;
    fake.script("/v2/consumer/workflows", vec![Reply::json(200, odd)]);
    cli(&fake, &["workflows"])
        .ok()
        .stdout_has("Steps: 7:x(queued)");
}

#[test]
fn a_server_that_never_answers_times_out() {
    let fake = Fake::start();
    fake.script(&workflow_path(W1), vec![Reply::Hang]);
    let start = Instant::now();
    cli(&fake, &["workflow", W1, "--timeout=1"])
        .code(5)
        .one_error_line()
        .stderr_has("no answer from 127.0.0.1")
        .stderr_has("--timeout");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_refused_connection_exits_5() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    Cli::new(
        None,
        &["test", "--api-url", &format!("http://127.0.0.1:{port}")],
    )
    .env("CIVITAI_API_TOKEN", TOKEN)
    .run()
    .code(5)
    .one_error_line()
    .stderr_has("cannot connect to 127.0.0.1");
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let fake = Fake::start();
    let mut child = Cli::new(Some(&fake), &["--jsonl", "workflows", "--all", "--take=1"])
        .cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Error bodies are cut at 300 characters: a token quoted just before the
/// cut must not leave its first characters on screen.
#[test]
fn a_token_cut_by_the_message_limit_leaves_no_prefix_of_it() {
    let fake = Fake::start();
    // The title "Unauthorized" only repeats the status, so the detail opens
    // the summary: 284 characters before the token put it across the cut at
    // 300, which keeps its first 16 characters.
    let detail = format!("{} {TOKEN} was refused", "x".repeat(283));
    for mode in [None, Some("--json")] {
        fake.script(
            "/v2/consumer/workflows",
            vec![Reply::problem(401, "Unauthorized", &detail)],
        );
        let mut args: Vec<&str> = mode.into_iter().collect();
        args.push("test");
        let run = cli(&fake, &args);
        run.code(3);
        no_token_in(&run, 12);
    }
}

// Guards the mask on every ProblemDetails field and on a 3xx's
// Location, in text and JSON, fatal and per workflow.
#[test]
fn a_token_in_title_errors_or_location_is_hidden() {
    let fake = Fake::start();
    let doc = json!({
        "title": format!("token {TOKEN}"),
        "status": 422,
        "errors": {"authorization": [format!("Bearer {TOKEN}"), TOKEN]},
    });
    let problem = Reply::Full {
        status: 422,
        headers: vec![("Content-Type".into(), "application/problem+json".into())],
        body: doc.to_string().into_bytes(),
    };
    let moved = Reply::redirect(302, &format!("https://elsewhere.example/?t={TOKEN}"));
    for mode in [None, Some("--json"), Some("--jsonl")] {
        fake.script(&workflow_path("t1"), vec![problem.clone()]);
        fake.script(&workflow_path("t2"), vec![moved.clone()]);
        let mut args: Vec<&str> = mode.into_iter().collect();
        args.extend(["results", "t1", "t2", "--retries=0"]);
        let run = cli(&fake, &args);
        assert_ne!(run.code, 0, "{run:?}");
        no_token_in(&run, 12);
        fake.script(&workflow_path("t1"), vec![problem.clone()]);
        let mut args: Vec<&str> = mode.into_iter().collect();
        args.extend(["workflow", "t1"]);
        let run = cli(&fake, &args);
        run.code(2);
        no_token_in(&run, 12);
    }
}

// Guards the depth limit on a JSON bomb from the API: one error
// line, exit 1, no stack overflow.
#[test]
fn a_deeply_nested_body_is_one_error() {
    let fake = Fake::start();
    let bomb = format!("{{\"id\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    for args in [vec!["workflow", "bomb"], vec!["results", "bomb"]] {
        fake.script(&workflow_path("bomb"), vec![Reply::json(200, &bomb)]);
        cli(&fake, &args).code(1).one_error_line();
    }
    fake.script(&workflow_path("bomb"), vec![Reply::json(200, &bomb)]);
    let run = cli(&fake, &["--json", "workflow", "bomb"]);
    run.code(1);
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    // A listing builds no value of what it skips: in text the bomb is an
    // id that is not text (skipped without recursion); `--fields=id`
    // builds the id and meets the depth limit.
    let page = format!("{{\"items\":[{bomb}]}}");
    fake.script("/v2/consumer/workflows", vec![Reply::json(200, &page)]);
    cli(&fake, &["workflows"]).ok().stdout_has("ID: ?");
    fake.script("/v2/consumer/workflows", vec![Reply::json(200, &page)]);
    cli(&fake, &["workflows", "--fields=id"])
        .code(1)
        .one_error_line();
}

// Guards huge response headers from the API: a clean failure in
// one line, no hang, no crash.
#[test]
fn huge_headers_are_one_error() {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Junk: {}\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let url = raw_server(head, b"{}".to_vec());
    let run = Cli::new(None, &["workflow", "x", "--retries=0"])
        .env("CIVITAI_API_URL", &url)
        .env("CIVITAI_API_TOKEN", TOKEN)
        .run();
    assert_ne!(run.code, 0, "{run:?}");
    run.one_error_line();
}
