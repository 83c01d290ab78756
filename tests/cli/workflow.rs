//! `civitai-orch workflow`: one workflow as pretty or compact JSON, ids
//! encoded into the path, hostile JSON from the server. (`--wait` is in
//! `wait.rs`.)

use std::time::{Duration, Instant};

use crate::support::{cli, Fake, Reply};
use crate::{workflow_path, W1, W_FAIL, W_IMG};

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
fn empty_and_dot_dot_ids_never_name_another_path() {
    let fake = Fake::start();
    cli(&fake, &["workflow", ""])
        .code(2)
        .stderr_has("cannot be empty");
    cli(&fake, &["workflow", ".."]).code(4);
    assert_eq!(
        fake.api_requests().pop().unwrap().raw_path,
        "/v2/consumer/workflows/%2E%2E"
    );
}

/// Several ids (and `-`): one array in `--json`, input order whatever
/// finishes first, a failing id reported while the others go on, the exit
/// code of the first failure.
#[test]
fn several_workflows_come_in_input_order_and_a_failure_stops_only_itself() {
    let fake = Fake::start();
    let run = cli(&fake, &["--json", "workflow", W1, "nope", W_IMG, "-j", "3"]);
    run.code(4)
        .stderr_has("no workflow 'nope'")
        .stderr_has("1 of 3 workflow id(s) failed (first: 404");
    let doc = run.json();
    let items = doc.as_array().expect("one array");
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["id"], W1);
    assert_eq!(items[1]["id"], "nope");
    assert_eq!(items[1]["error"]["kind"], "not_found");
    assert_eq!(items[2]["id"], W_IMG);

    // From stdin: bare ids, JSON strings and `--jsonl` lines.
    let stdin = format!("{W1}\n\"{W_IMG}\"\n{{\"id\":\"{W_FAIL}\",\"status\":\"failed\"}}\n");
    let run = crate::support::Cli::new(Some(&fake), &["--jsonl", "workflow", "-"])
        .stdin(&stdin)
        .run();
    assert_eq!(run.ok().jsonl_ids(), [W1, W_IMG, W_FAIL]);
    // An empty stdin is a listing that found nothing: nothing to do.
    let run = crate::support::Cli::new(Some(&fake), &["--json", "workflow", "-"])
        .stdin("")
        .run();
    run.ok()
        .stderr_has("no workflow id(s) on stdin: nothing to do");
    assert_eq!(run.stdout, "[]\n");
}

#[test]
fn summary_and_fields_views() {
    let fake = Fake::start();
    cli(&fake, &["workflow", W_IMG, "--summary"])
        .ok()
        .stdout_has(&format!("Workflow: {W_IMG}\n  Status: succeeded\n"))
        .stdout_has("  Duration: 14.9 s\n  Cost: 12 (yellow 12)\n")
        .stdout_has("  - imagegen imageGen succeeded\n    Jobs: b7a1c3d2-4e5f-4a6b-8c7d-9e0f1a2b3c4d succeeded, c8b2d4e3-5f60-4b7c-9d8e-0f1a2b3c4d5e succeeded\n")
        .stdout_has("    Files: 2 image, 1 not available\n      9PZQ1RSTV2WXY3ABC4DEF5GHJK.jpeg: NSFW content not allowed\n");
    cli(&fake, &["workflow", W_FAIL, "--summary"])
        .ok()
        .stdout_has("    Failure: Job failed after 3 attempts\n");
    let run = cli(
        &fake,
        &[
            "workflow",
            W1,
            W_FAIL,
            "--fields=id,status,steps.jobs.id,nothing.here",
        ],
    );
    run.ok();
    assert_eq!(
        run.stdout,
        format!(
            "id\tstatus\tsteps.jobs.id\tnothing.here\n{W1}\tsucceeded\t58de87d7-d594-4d71-ae43-dd8fc1bcbd23\t\n\
             {W_FAIL}\tfailed\te1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b\t\n"
        )
    );
    let doc = cli(
        &fake,
        &[
            "--json",
            "workflow",
            W1,
            "--fields=id,cost.total,steps.$type",
        ],
    )
    .ok()
    .json();
    assert_eq!(
        doc,
        serde_json::json!({"id": W1, "cost": {"total": 4}, "steps": [{"$type": "textToImage"}]})
    );
    for bad in ["--fields=", "--fields=a,,b", "--fields=.a", "--fields=a b"] {
        cli(&fake, &["workflow", W1, bad]).code(2);
    }
    cli(&fake, &["--json", "workflow", W1, "--summary"]).code(2);
    assert!(fake
        .api_requests()
        .iter()
        .all(|r| !r.raw_path.contains("--")));
}

#[test]
fn requests_go_out_at_most_j_at_a_time() {
    use crate::{W_FAIL as F, W_VID};
    let fake = Fake::start();
    fake.set_api_delay(Duration::from_millis(50));
    let run = cli(
        &fake,
        &["--jsonl", "workflow", W1, W_IMG, F, W_VID, W1, "-j", "2"],
    );
    assert_eq!(run.ok().jsonl_ids(), [W1, W_IMG, F, W_VID, W1]);
    assert_eq!(fake.api_max_inflight(), 2);
    let fake = Fake::start();
    fake.set_api_delay(Duration::from_millis(20));
    cli(&fake, &["--jsonl", "workflow", W1, W_IMG, F, "-j", "1"]).ok();
    assert_eq!(fake.api_max_inflight(), 1);
}
