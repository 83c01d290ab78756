//! Integration tests: the real binary against the fake orchestrator.

mod support;

use std::time::{Duration, Instant};

use support::{cli, temp_dir, Cli, Fake, Reply, TOKEN};

const W1: &str = "0-019be44b-181e-7a7e-ab1b-b58dc7610dca";
const W_IMG: &str = "0-019be450-3c2d-7b11-9a4e-2f61d0c8e5a7";
const W_VID: &str = "0-019be461-77aa-7c02-8d1e-6b0f2e9a1c44";
const W_COMFY: &str = "0-019be472-0f0f-7d33-b2a5-91c3e4d5f6a7";
const W_PROC: &str = "0-019be480-1111-7e44-a1b2-c3d4e5f60718";
const W_FAIL: &str = "0-019be481-2222-7f55-b2c3-d4e5f6071829";
const JOB: &str = "58de87d7-d594-4d71-ae43-dd8fc1bcbd23";

fn workflow_path(id: &str) -> String {
    format!("/v2/consumer/workflows/{id}")
}

// ---- test -------------------------------------------------------------

#[test]
fn test_command_reports_connection_and_masks_the_token() {
    let fake = Fake::start();
    let run = cli(&fake, &["test"]);
    run.ok()
        .stdout_has(&format!("API URL: {}", fake.url))
        .stdout_has("Connection successful!")
        .stdout_has("Workflows returned: 1")
        .stdout_has("Token: test...");
    assert!(!run.stdout.contains(&TOKEN[4..]), "token leaked:{run:?}");
    let req = &fake.api_requests()[0];
    assert_eq!(req.raw_path, "/v2/consumer/workflows");
    assert_eq!(req.param("take"), Some("1"));
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(req
        .header("user-agent")
        .unwrap()
        .starts_with("civitai-orch/"));

    let json = cli(&fake, &["test", "--json"]).json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["apiUrl"], fake.url.as_str());
    assert_eq!(json["workflows"], 1);
}

// ---- workflows ----------------------------------------------------------

#[test]
fn workflows_lists_a_page_with_its_cursor() {
    let fake = Fake::start();
    let run = cli(&fake, &["workflows", "--take=3"]);
    run.ok()
        .stdout_has("Found 3 workflow(s):")
        .stdout_has("Next cursor: MjAyNi0wMS0yMVQyMjoyMToyNi4zMzJafDAtMDE5YmU0NGI")
        .stdout_has(&format!("ID: {W1}\n  Status: succeeded\n  Created: 2026-01-21T22:21:26.332Z\n  Completed: 2026-01-21T22:21:41.870Z\n  Tags: user:12345, type:image\n  Steps: 0:textToImage(succeeded)\n  Prompt: \""))
        .stdout_has("...\"\n");
    assert!(!run.stdout.contains("Filters:"));
    let req = &fake.api_requests()[0];
    assert_eq!(req.param("take"), Some("3"));
}

#[test]
fn workflows_sends_every_filter() {
    let fake = Fake::start();
    let run = cli(
        &fake,
        &[
            "workflows",
            "--tag",
            "user:12345",
            "--tag=type:image",
            "--query=fox snow",
            "--excludeFailed",
            "--oldest",
            "--take",
            "5",
            "--cursor=off:1",
            "--from=2026-01-20",
            "--to=2026-01-21T23:00+02:00",
        ],
    );
    run.ok().stdout_has("Filters: tags=user:12345,type:image query=\"fox snow\" excludeFailed oldest first from=2026-01-20 to=2026-01-21T23:00+02:00");
    let req = &fake.api_requests()[0];
    assert_eq!(req.params("tags"), ["user:12345", "type:image"]);
    assert_eq!(req.param("query"), Some("fox snow"));
    assert_eq!(req.param("excludeFailed"), Some("true"));
    assert_eq!(req.param("ascending"), Some("true"));
    assert_eq!(req.param("take"), Some("5"));
    assert_eq!(req.param("cursor"), Some("off:1"));
    assert_eq!(req.param("fromDate"), Some("2026-01-20T00:00:00.000Z"));
    assert_eq!(req.param("toDate"), Some("2026-01-21T21:00:00.000Z"));
}

#[test]
fn kebab_aliases_send_the_same_request() {
    let fake = Fake::start();
    cli(&fake, &["workflows", "--exclude-failed", "--ascending"]).ok();
    let req = &fake.api_requests()[0];
    assert_eq!(req.param("excludeFailed"), Some("true"));
    assert_eq!(req.param("ascending"), Some("true"));
}

#[test]
fn every_date_form_is_sent_as_utc_millis() {
    let fake = Fake::start();
    let cases = [
        ("2026-01-20", "--from", "2026-01-20T00:00:00.000Z"),
        ("2026-01-20", "--to", "2026-01-20T23:59:59.999Z"),
        ("2026-01-20T06:00", "--from", "2026-01-20T06:00:00.000Z"),
        ("2026-01-20T06:00:30", "--from", "2026-01-20T06:00:30.000Z"),
        (
            "2026-01-20T06:00:30.1234",
            "--from",
            "2026-01-20T06:00:30.123Z",
        ),
        ("2026-01-20T06:00:00Z", "--from", "2026-01-20T06:00:00.000Z"),
        (
            "2026-01-20T06:00:00-05:30",
            "--from",
            "2026-01-20T11:30:00.000Z",
        ),
    ];
    for (value, flag, sent) in cases {
        cli(&fake, &["workflows", &format!("{flag}={value}")]).ok();
        let req = fake.api_requests().pop().unwrap();
        let key = if flag == "--from" {
            "fromDate"
        } else {
            "toDate"
        };
        assert_eq!(req.param(key), Some(sent), "{flag}={value}");
    }
    // Relative spans count back from now.
    use time::format_description::well_known::Rfc3339;
    for (span, secs) in [
        ("30m", 1800),
        ("24h", 86_400),
        ("7d", 604_800),
        ("2w", 1_209_600),
    ] {
        cli(&fake, &["workflows", &format!("--from={span}")]).ok();
        let req = fake.api_requests().pop().unwrap();
        let sent = req.param("fromDate").unwrap().to_string();
        assert!(sent.ends_with('Z') && sent.len() == 24, "{span} -> {sent}");
        let sent = time::OffsetDateTime::parse(&sent, &Rfc3339).unwrap();
        let expected = time::OffsetDateTime::now_utc() - time::Duration::seconds(secs);
        assert!(
            (sent - expected).abs() < time::Duration::seconds(60),
            "{span} -> {sent}"
        );
    }
}

#[test]
fn bad_dates_are_usage_errors_naming_the_flag() {
    let fake = Fake::start();
    for bad in [
        "yesterday",
        "2026-13-01",
        "2026-02-30",
        "2026-1-2",
        "7x",
        "2026-01-20T25:00",
    ] {
        cli(&fake, &["workflows", &format!("--from={bad}")])
            .code(2)
            .one_error_line()
            .stderr_has("invalid --from")
            .stderr_has("YYYY-MM-DD")
            .stderr_has("usage: civitai-orch workflows");
    }
    cli(
        &fake,
        &["workflows", "--from=2026-02-01", "--to=2026-01-01"],
    )
    .code(2)
    .stderr_has("--from");
    assert!(
        fake.api_requests().is_empty(),
        "no request on a usage error"
    );
}

#[test]
fn all_walks_every_page_with_limit_and_status() {
    let fake = Fake::start();
    let run = cli(&fake, &["--jsonl", "workflows", "--take=2", "--all"]);
    run.ok();
    let ids = run.jsonl_ids();
    assert_eq!(ids, [W1, W_IMG, W_FAIL, W_VID, W_COMFY, W_PROC]);
    let cursors: Vec<Option<String>> = fake
        .api_requests()
        .iter()
        .map(|r| r.param("cursor").map(str::to_string))
        .collect();
    assert_eq!(cursors, [None, Some("off:2".into()), Some("off:4".into())]);
    assert!(!run.stderr.contains("next cursor"), "{run:?}");

    // --status filters on the client; --limit counts after the filter.
    let fake = Fake::start();
    let run = cli(
        &fake,
        &[
            "--jsonl",
            "workflows",
            "--take=2",
            "--all",
            "--status=succeeded",
            "--limit=3",
        ],
    );
    run.ok();
    let ids = run.jsonl_ids();
    assert_eq!(ids, [W1, W_IMG, W_VID]);
    assert_eq!(fake.api_requests()[0].param("excludeFailed"), Some("true"));
    run.stderr_has("next cursor: off:4");

    // Failed ones are kept when asked for.
    let fake = Fake::start();
    let run = cli(
        &fake,
        &[
            "workflows",
            "--all",
            "--take=2",
            "--status=failed,processing",
        ],
    );
    run.ok()
        .stdout_has(W_FAIL)
        .stdout_has(W_PROC)
        .stdout_has("Found 2 workflow(s) in 3 page(s).");
    assert!(!run.stdout.contains(W1));
    assert_eq!(fake.api_requests()[0].param("excludeFailed"), None);

    cli(&fake, &["workflows", "--status=done"])
        .code(2)
        .stderr_has("unknown status 'done'");
}

#[test]
fn all_stops_on_a_repeating_cursor_or_an_empty_page() {
    let fake = Fake::start();
    let page = |next: &str| {
        let next = if next.is_empty() {
            "null".to_string()
        } else {
            format!("\"{next}\"")
        };
        Reply::json(
            200,
            &format!(
                r#"{{"next":{next},"items":[{{"id":"a","status":"succeeded","createdAt":"x"}}]}}"#
            ),
        )
    };
    fake.script(
        "/v2/consumer/workflows",
        vec![page("c1"), page("c2"), page("c1"), page("c9")],
    );
    let run = cli(&fake, &["--jsonl", "workflows", "--all"]);
    run.ok();
    assert_eq!(run.stdout.lines().count(), 3, "{run:?}");
    assert_eq!(fake.api_requests().len(), 3);

    let fake = Fake::start();
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::json(200, r#"{"nextCursor":"c1","items":[]}"#)],
    );
    let run = cli(&fake, &["workflows", "--all"]);
    run.ok().stdout_has("Next cursor: c1");
    assert_eq!(fake.api_requests().len(), 1);
}

#[test]
fn workflows_json_is_the_page_and_jsonl_one_per_line() {
    let fake = Fake::start();
    let run = cli(&fake, &["workflows", "--take=2", "--json"]);
    let page = run.ok().json();
    assert_eq!(page["next"], "off:2");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["items"][0]["steps"][0]["output"]["images"][0]["url"]
        .as_str()
        .unwrap()
        .starts_with(&fake.cdn_url));

    let run = cli(&fake, &["workflows", "--all", "--json", "--take=4"]);
    let doc = run.ok().json();
    assert_eq!(doc["items"].as_array().unwrap().len(), 6);
    assert_eq!(doc["next"], serde_json::Value::Null);

    let run = cli(&fake, &["workflows", "--take=2", "--jsonl"]);
    run.ok().stderr_has("next cursor: off:2");
    assert_eq!(run.stdout.lines().count(), 2);

    let fake = Fake::start();
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::json(200, r#"{"items":[],"next":null}"#)],
    );
    cli(&fake, &["workflows"])
        .ok()
        .stdout_has("No workflows found.");
}

// ---- user ---------------------------------------------------------------

#[test]
fn user_sends_pascal_case_parameters() {
    let fake = Fake::start();
    let run = cli(
        &fake,
        &[
            "user",
            "12345",
            "--take=2",
            "--tag=type:image",
            "--query",
            "fox",
            "--excludeFailed",
            "--oldest",
            "--cursor=abc",
        ],
    );
    run.ok()
        .stdout_has("Found 2 workflow(s):")
        .stdout_has(&format!("ID: {W1}"));
    let req = &fake.api_requests()[0];
    assert_eq!(req.raw_path, "/v1/manager/workflows");
    assert_eq!(req.param("UserId"), Some("12345"));
    assert_eq!(req.param("Take"), Some("2"));
    assert_eq!(req.params("Tags"), ["type:image"]);
    assert_eq!(req.param("Query"), Some("fox"));
    assert_eq!(req.param("ExcludeFailed"), Some("true"));
    assert_eq!(req.param("Inverse"), Some("true"));
    assert_eq!(req.param("Cursor"), Some("abc"));

    let arr = cli(&fake, &["user-workflows", "12345", "--json"])
        .ok()
        .json();
    assert_eq!(arr.as_array().unwrap().len(), 3);
    let run = cli(&fake, &["user", "12345", "--jsonl"]);
    assert_eq!(run.ok().stdout.lines().count(), 3);

    cli(&fake, &["user", "12345", "--take=11"])
        .code(2)
        .stderr_has("between 1 and 10");
    cli(&fake, &["user"]).code(2).stderr_has("missing <userId>");
}

#[test]
fn user_with_a_consumer_token_is_an_auth_error() {
    let fake = Fake::start();
    let body =
        std::fs::read_to_string(support::fake::fixtures_dir().join("errors/403.json")).unwrap();
    fake.script("/v1/manager/workflows", vec![Reply::json(403, &body)]);
    cli(&fake, &["user", "1"])
        .code(3)
        .one_error_line()
        .stderr_has("error: 403 Forbidden: Manager access is required")
        .stderr_has("manager token");
}

// ---- workflow, step, job --------------------------------------------------

#[test]
fn workflow_prints_pretty_json_in_api_order() {
    let fake = Fake::start();
    let run = cli(&fake, &["workflow", W1]);
    run.ok();
    assert!(run.stdout.starts_with("{\n  \""), "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["id"], W1);
    let compact = cli(&fake, &["--json", "workflow", W1]).ok().json();
    assert_eq!(compact, v);
}

#[test]
fn step_and_job() {
    let fake = Fake::start();
    let step = cli(&fake, &["step", W_COMFY, "hash"]).ok().stdout.clone();
    let v: serde_json::Value = serde_json::from_str(&step).unwrap();
    assert_eq!(v["$type"], "mediaHash");
    assert_eq!(
        fake.api_requests()[0].raw_path,
        format!("/v2/consumer/workflows/{W_COMFY}/steps/hash")
    );
    cli(&fake, &["step", W_COMFY, "nope"])
        .code(4)
        .stderr_has("no step 'nope' in workflow");

    let run = cli(&fake, &["job", JOB]);
    run.ok()
        .stdout_has(&format!("Job Summary:\n  ID: {JOB}\n  Type: TextToImageV2\n  Created: 2026-01-21T22:21:26.5Z\n  Cost: 4\n  Workflow ID: 8484131-20260121222126332\n"))
        .stdout_has("\nPrompt Classification: sexual, scan\n")
        .stdout_has("\nResults (2 blob(s)):\n  - JNFDW54JNTATNW42HACYCWSQP0.jpeg (available: true)\n")
        .stdout_has("\nLast Event:\n  Type: Succeeded\n  Time: 2026-01-21T22:21:41.8Z\n  Provider: ValdiAI\n  Worker: w-123\n  Job Duration: 00:00:14.8700000\n")
        .stdout_has("\nEvent Context (scan results, metrics):\n  ** hive_csam_score: 0.00 %, 0.00 %\n")
        .stdout_has("  Other context:\n")
        .stdout_has("    sampler_ms: 9123\n");
    let prompt_line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Prompt: "))
        .unwrap();
    assert_eq!(
        prompt_line.chars().count(),
        "Prompt: \"".len() + 200 + "...\"".len()
    );
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(req.raw_path, format!("/v1/consumer/jobs/{JOB}"));
    assert_eq!(req.param("detailed"), Some("true"));

    let minimal = cli(&fake, &["job", "0b6f2c1e-9a7d-4e3b-8c5f-1d2e3f4a5b6c"]);
    minimal.ok();
    assert!(
        !minimal.stdout.contains("Last Event") && !minimal.stdout.contains("Prompt"),
        "{minimal:?}"
    );

    let raw = cli(&fake, &["job", JOB, "--raw"]).ok().stdout.clone();
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["jobId"], JOB);
    assert_eq!(cli(&fake, &["job", JOB, "--json"]).ok().json(), v);
}

#[test]
fn ids_are_percent_encoded_in_the_path() {
    let fake = Fake::start();
    for (id, sent) in [
        ("a/b", "/v2/consumer/workflows/a%2Fb"),
        ("a?b#c", "/v2/consumer/workflows/a%3Fb%23c"),
        ("with space", "/v2/consumer/workflows/with%20space"),
        ("ünï", "/v2/consumer/workflows/%C3%BCn%C3%AF"),
        ("100%", "/v2/consumer/workflows/100%25"),
    ] {
        cli(&fake, &["workflow", id])
            .code(4)
            .one_error_line()
            .stderr_has("404 Not Found: no workflow");
        assert_eq!(fake.api_requests().pop().unwrap().raw_path, sent);
    }
    cli(&fake, &["step", "w/1", "a b"]).code(4);
    assert_eq!(
        fake.api_requests().pop().unwrap().raw_path,
        "/v2/consumer/workflows/w%2F1/steps/a%20b"
    );
}

// ---- errors and exit codes ------------------------------------------------

#[test]
fn not_found_names_what_and_json_errors_are_one_line() {
    let fake = Fake::start();
    cli(&fake, &["workflow", "missing-id"])
        .code(4)
        .one_error_line()
        .stderr_has("error: 404 Not Found: no workflow 'missing-id' (Not Found: Workflow missing-id could not be found)");
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
    Cli::new(Some(&fake), &["test"])
        .env("CIVITAI_API_TOKEN", "wrong-token-ABCDEFGHIJKLMNOP")
        .run()
        .code(3)
        .one_error_line()
        .stderr_has("401 Unauthorized")
        .stderr_has("check CIVITAI_API_TOKEN");
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
fn validation_errors_exit_2_with_the_field() {
    let fake = Fake::start();
    let body =
        std::fs::read_to_string(support::fake::fixtures_dir().join("errors/422.json")).unwrap();
    fake.script("/v2/consumer/workflows", vec![Reply::json(422, &body)]);
    cli(&fake, &["workflows"])
        .code(2)
        .one_error_line()
        .stderr_has("422 Unprocessable Entity")
        .stderr_has("take: must be between 1 and 100");
    // The fake validates take itself, as the API does.
    cli(&fake, &["workflows", "--take=500"])
        .code(2)
        .stderr_has("take: must be between 1 and 100");
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
        std::fs::read_to_string(support::fake::fixtures_dir().join("errors/502.html")).unwrap();
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
fn help_and_version() {
    let run = Cli::new(None, &[]).run();
    run.ok().stdout_has("Commands:").stdout_has("Exit codes:");
    Cli::new(None, &["--help"])
        .run()
        .ok()
        .stdout_has("workflows");
    Cli::new(None, &["help", "workflows"])
        .run()
        .ok()
        .stdout_has("--status=S[,S]");
    Cli::new(None, &["job", "--help"])
        .run()
        .ok()
        .stdout_has("Usage: civitai-orch job <jobId> [--raw]");
    Cli::new(None, &["--version"])
        .run()
        .ok()
        .stdout_has(&format!("civitai-orch {}", env!("CARGO_PKG_VERSION")));
}

// ---- --wait ---------------------------------------------------------------

fn with_status(fake: &Fake, id: &str, status: &str) -> Reply {
    let mut w = fake.workflow(id);
    w["status"] = status.into();
    Reply::json(200, &w.to_string())
}

#[test]
fn wait_polls_until_final_and_exits_by_how_it_ended() {
    for (status, code) in [
        ("succeeded", 0),
        ("failed", 7),
        ("expired", 7),
        ("canceled", 7),
    ] {
        let fake = Fake::start();
        fake.script(
            &workflow_path(W_PROC),
            vec![
                with_status(&fake, W_PROC, "processing"),
                with_status(&fake, W_PROC, status),
            ],
        );
        let run = cli(&fake, &["workflow", W_PROC, "--wait=30"]);
        run.code(code);
        let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(v["status"], status);
        if code == 7 {
            run.one_error_line().stderr_has(&format!("ended {status}"));
        }
        assert_eq!(fake.api_requests().len(), 2);
    }
}

#[test]
fn wait_gives_up_at_the_deadline_with_exit_8() {
    let fake = Fake::start();
    let start = Instant::now();
    let run = cli(&fake, &["workflow", W_PROC, "--wait=2"]);
    run.code(8)
        .one_error_line()
        .stderr_has("stopped waiting after 2s")
        .stderr_has("the workflow goes on")
        .stderr_has(&format!("civitai-orch workflow {W_PROC} --wait"));
    assert!(start.elapsed() < Duration::from_secs(8));
    assert!(fake.api_requests().len() >= 2);
    // The last state seen is still printed.
    assert!(run.stdout.contains("\"processing\""));
}

#[test]
fn wait_treats_a_failed_poll_as_another_poll() {
    let fake = Fake::start();
    fake.script(
        &workflow_path(W1),
        vec![Reply::html(500, "<html>boom</html>")],
    );
    cli(&fake, &["workflow", W1, "--wait=20"])
        .ok()
        .stderr_has("poll failed");
}

// ---- results and blob -----------------------------------------------------

#[test]
fn results_lists_every_output_shape() {
    let fake = Fake::start();
    let run = cli(&fake, &["results", W1]);
    run.ok()
        .stdout_has("Status: succeeded\nSteps: 1\n\nStep: 0 (succeeded)\n  Image: ")
        .stdout_has("    Size: 832x1216\n");
    let run = cli(&fake, &["results", W_IMG]);
    run.ok()
        .stdout_has("Not available: NSFW content not allowed");
    let run = cli(&fake, &["results", W_VID]);
    run.ok()
        .stdout_has("  Video: ")
        .stdout_has("V2DE0BBBBC3D4E5F6G7H8J9K0M.webm");
    let run = cli(&fake, &["results", W_COMFY]);
    run.ok().stdout_has("Step: hash (succeeded)\n  Output: {");
    let output_line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("  Output: "))
        .unwrap();
    assert_eq!(output_line.chars().count(), "  Output: ".len() + 500 + 3);

    let doc = cli(&fake, &["--json", "results", W_IMG]).ok().json();
    assert_eq!(doc["workflowId"], W_IMG);
    assert_eq!(doc["status"], "succeeded");
    let r = &doc["results"];
    assert_eq!(r[0]["stepName"], "imagegen");
    assert_eq!(r[0]["kind"], "image");
    assert_eq!(r[0]["id"], "7W2XH0K1C4ZVB9N3M6Q8R5T1YA.webp");
    assert_eq!(r[1]["available"], false);
    assert_eq!(r[1]["url"], serde_json::Value::Null);
    for key in ["width", "height", "file"] {
        assert!(r[0].get(key).is_some(), "{key}");
    }
}

#[test]
fn results_download_saves_each_file_without_sending_the_token_to_the_cdn() {
    let fake = Fake::start();
    let dir = temp_dir("dl");
    let run = cli(
        &fake,
        &["results", W1, "--download", "--dir", dir.to_str().unwrap()],
    );
    let name0 = format!("{W1}_0_0.jpeg");
    let name1 = format!("{W1}_0_1.png");
    run.ok()
        .stdout_has(&format!(
            "Downloaded: {name0} ({} bytes)",
            fake.media("JNFDW54JNTATNW42HACYCWSQP0.jpeg").len()
        ))
        .stdout_has(&format!("Downloaded: {name1} ("));
    assert_eq!(
        std::fs::read(dir.join(&name0)).unwrap(),
        fake.media("JNFDW54JNTATNW42HACYCWSQP0.jpeg")
    );
    assert_eq!(
        std::fs::read(dir.join(&name1)).unwrap(),
        fake.media("K3M9Q2Z7XW8V4T6R1P0N5B2C7D.png")
    );
    let cdn = fake.cdn_requests();
    assert_eq!(cdn.len(), 2);
    for r in cdn {
        assert_eq!(r.header("authorization"), None, "token sent to the CDN");
    }
}

#[test]
fn blob_follows_the_redirect_without_the_token() {
    let fake = Fake::start();
    let id = "JNFDW54JNTATNW42HACYCWSQP0.jpeg";
    let run = cli(&fake, &["blob", id]);
    run.ok()
        .stdout_has(&format!("Blob URL: {}/signed/{id}?sig=", fake.cdn_url));
    assert!(
        fake.cdn_requests().is_empty(),
        "no download without --download"
    );

    let dir = temp_dir("blob");
    let run = cli(
        &fake,
        &[
            "blob",
            id,
            "--download",
            "--nsfw",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    run.ok()
        .stdout_has(&format!("({} bytes)", fake.media(id).len()));
    assert_eq!(std::fs::read(dir.join(id)).unwrap(), fake.media(id));
    let api = fake.api_requests().pop().unwrap();
    assert_eq!(
        api.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(api.param("hideMatureContent"), Some("false"));
    let cdn = fake.cdn_requests();
    assert_eq!(cdn.len(), 1);
    assert_eq!(cdn[0].header("authorization"), None);

    let doc = cli(
        &fake,
        &[
            "--json",
            "blob",
            id,
            "--download",
            "--dir",
            dir.to_str().unwrap(),
            "--force",
        ],
    )
    .ok()
    .json();
    assert_eq!(doc["blobId"], id);
    assert_eq!(doc["bytes"], fake.media(id).len());

    cli(&fake, &["blob", "nope.png"])
        .code(4)
        .stderr_has("no blob 'nope.png'");
}

// ---- configuration --------------------------------------------------------

#[test]
fn env_files_fill_in_what_the_environment_lacks() {
    let fake = Fake::start();
    let dir = temp_dir("envfile");
    std::fs::write(
        dir.join(".env"),
        format!(
            "# settings\nexport CIVITAI_API_TOKEN=\"{TOKEN}\"\nCIVITAI_API_URL='{}/'\n",
            fake.url
        ),
    )
    .unwrap();
    Cli::new(None, &["test"])
        .dir(&dir)
        .run()
        .ok()
        .stdout_has("Connection successful!");

    // The real environment wins over the file.
    Cli::new(None, &["test"])
        .dir(&dir)
        .env("CIVITAI_API_TOKEN", "from-env-token-xxxxxxxx")
        .run()
        .code(3);

    // --env-file names another file; a missing one is a usage error.
    let other = temp_dir("envfile2");
    let path = other.join("civitai.env");
    std::fs::write(
        &path,
        format!("CIVITAI_API_TOKEN={TOKEN}\nCIVITAI_API_URL={}\n", fake.url),
    )
    .unwrap();
    Cli::new(None, &["test", "--env-file", path.to_str().unwrap()])
        .run()
        .ok();
    Cli::new(None, &["--env-file=/nope/.env", "test"])
        .run()
        .code(2)
        .stderr_has("--env-file");
}

#[test]
fn control_characters_from_the_server_are_escaped() {
    let fake = Fake::start();
    let mut w = fake.workflow(W1);
    w["steps"][0]["input"]["prompt"] = "evil \u{1b}[2J prompt\nsecond line".into();
    w["tags"] = serde_json::json!(["t\u{7}ag"]);
    let page = serde_json::json!({"items": [w], "next": null});
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::json(200, &page.to_string())],
    );
    let run = cli(&fake, &["workflows"]);
    run.ok()
        .stdout_has("evil \\x1b[2J prompt\\nsecond line")
        .stdout_has("t\\x07ag");
    assert!(!run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{7}'));
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

// ---- hostile input and odd settings ------------------------------------

#[test]
fn socks_proxies_and_absurd_numbers_are_usage_errors() {
    let fake = Fake::start();
    for (k, v) in [
        ("HTTP_PROXY", "socks5://127.0.0.1:1"),
        ("HTTPS_PROXY", "socks4://x:1"),
    ] {
        Cli::new(Some(&fake), &["test"])
            .env(k, v)
            .run()
            .code(2)
            .one_error_line()
            .stderr_has("only http:// and https:// proxies");
    }
    cli(&fake, &["test", "--timeout=9223372036854775807"])
        .code(2)
        .stderr_has("--timeout must be");
    cli(&fake, &["test", "--timeout=0"]).code(2);
    cli(&fake, &["workflow", W_PROC, "--wait=9223372036854775807"])
        .code(2)
        .stderr_has("--wait");
    cli(&fake, &["workflow", ""])
        .code(2)
        .stderr_has("cannot be empty");
    cli(&fake, &["workflow", ".."]).code(4);
    assert_eq!(
        fake.api_requests().pop().unwrap().raw_path,
        "/v2/consumer/workflows/%2E%2E"
    );
}

#[test]
fn wait_never_outlasts_its_deadline_on_a_hanging_server() {
    let fake = Fake::start();
    fake.script(
        &workflow_path(W_PROC),
        vec![Reply::Hang, Reply::Hang, Reply::Hang],
    );
    let start = Instant::now();
    cli(&fake, &["workflow", W_PROC, "--wait=2"])
        .code(8)
        .one_error_line()
        .stderr_has("stopped waiting after 2s")
        .stderr_has("--wait");
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_json_walk_that_fails_midway_prints_no_partial_document() {
    let fake = Fake::start();
    fake.script(
        "/v2/consumer/workflows",
        vec![
            Reply::json(
                200,
                r#"{"items":[{"id":"a","status":"succeeded"}],"next":"c2"}"#,
            ),
            Reply::problem(404, "Not Found", "cursor expired"),
        ],
    );
    let run = cli(&fake, &["--json", "workflows", "--all"]);
    run.code(4);
    assert!(run.stdout.is_empty(), "{run:?}");
}

#[test]
fn jsonl_keeps_the_cursor_even_when_quiet() {
    let fake = Fake::start();
    cli(&fake, &["-q", "--jsonl", "workflows", "--take=2"])
        .ok()
        .stderr_has("next cursor: off:2");
}

#[test]
fn text_counts_match_what_is_listed() {
    let fake = Fake::start();
    let run = cli(&fake, &["workflows", "--take=2", "--status=processing"]);
    run.ok()
        .stdout_has("No workflows found.\nNext cursor: off:2");
    let run = cli(
        &fake,
        &["workflows", "--take=2", "--status=processing", "--all"],
    );
    run.ok()
        .stdout_has(W_PROC)
        .stdout_has("Found 1 workflow(s) in 3 page(s).");
    assert!(!run.stdout.contains("Found 0"), "{run:?}");
}

#[test]
fn pretty_json_escapes_terminal_controls_and_deep_nesting_fails_fast() {
    let fake = Fake::start();
    fake.script(
        &workflow_path(W1),
        vec![Reply::json(200, "{\"id\":\"x\u{9b}2J\u{202e}\"}")],
    );
    let run = cli(&fake, &["workflow", W1]);
    run.ok().stdout_has("\\u009b2J\\u202e");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["id"], "x\u{9b}2J\u{202e}");

    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    fake.script(&workflow_path(W1), vec![Reply::json(200, &deep)]);
    let start = Instant::now();
    cli(&fake, &["workflow", W1]).code(1).one_error_line();
    assert!(start.elapsed() < Duration::from_secs(5));
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
        .stderr_has("control character");
}

#[test]
fn env_file_values_may_carry_comments_and_layer_with_dot_env() {
    let fake = Fake::start();
    let dir = temp_dir("envlayer");
    std::fs::write(dir.join(".env"), format!("CIVITAI_API_URL={}\n", fake.url)).unwrap();
    let file = dir.join("token.env");
    std::fs::write(
        &file,
        format!("\u{feff}export\tCIVITAI_API_TOKEN=\"{TOKEN}\" # the test token\n"),
    )
    .unwrap();
    Cli::new(None, &["test", "--env-file", file.to_str().unwrap()])
        .dir(&dir)
        .run()
        .ok();
}

#[test]
fn forbidden_names_the_manager_token_only_for_user() {
    let fake = Fake::start();
    fake.script("/v2/consumer/workflows", vec![Reply::json(403, "\"no\"")]);
    let run = cli(&fake, &["workflows"]);
    run.code(3);
    assert!(!run.stderr.contains("manager"), "{run:?}");
}
