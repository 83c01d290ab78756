//! `civitai-orch workflow`: one workflow as pretty or compact JSON, ids
//! encoded into the path, hostile JSON from the server. (`--wait` is in
//! `wait.rs`.)

use std::time::{Duration, Instant};

use crate::support::{cli, Cli, Fake, Reply, TOKEN};
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

/// `--fields` with a path into something a listed whole already holds
/// (`id,id.x`, `tags,tags.0`): the whole stays, in whatever order the two
/// were given, as `cost.total,cost` already did.
#[test]
fn a_path_inside_a_listed_whole_does_not_replace_it() {
    let fake = Fake::start();
    let wf = fake.workflow(W1);
    for (list, want) in [
        ("id,id.x", serde_json::json!({"id": W1})),
        ("id.x,id", serde_json::json!({"id": W1})),
        ("tags,tags.0", serde_json::json!({"tags": wf["tags"]})),
        ("cost,cost.total.x", serde_json::json!({"cost": wf["cost"]})),
    ] {
        let fields = format!("--fields={list}");
        let doc = cli(&fake, &["--json", "workflow", W1, &fields]).ok().json();
        assert_eq!(doc, want, "{list}");
    }
}

/// A `--fields` path of 60,000 segments used to overflow the stack
/// (abort, exit 134) when the object was cut down for JSON. Paths deeper
/// than any JSON the API can send are refused up front.
#[test]
fn a_path_deeper_than_any_json_is_refused_not_a_crash() {
    let fake = Fake::start();
    let deep = vec!["a"; 60_000].join(".");
    let run = cli(
        &fake,
        &["--json", "workflow", W1, &format!("--fields={deep}")],
    );
    // (The run's own Debug would print the 120 KB argument.)
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("more than 128 segments"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.len() < 2_000,
        "{} bytes of stderr",
        run.stderr.len()
    );
    assert!(fake.api_requests().is_empty());
    // A deep path that a document could hold still works.
    let path = vec!["a"; 100].join(".");
    cli(
        &fake,
        &["--jsonl", "workflow", W1, &format!("--fields=id,{path}")],
    )
    .ok();
}

/// A stdin line of 17 MiB (`cat` of a binary, a runaway producer) is not
/// held whole: it is one failure with its line number, its text is not
/// echoed, and the lines after it are still read.
#[test]
fn a_huge_stdin_line_is_refused_by_number_and_the_rest_read() {
    let fake = Fake::start();
    let mut stdin = "\0".repeat(17 << 20);
    stdin.push('\n');
    stdin.push_str(W1);
    stdin.push('\n');
    let run = Cli::new(Some(&fake), &["--jsonl", "workflow", "-", "--fields=id"])
        .stdin(&stdin)
        .run();
    run.code(2)
        .stderr_has("stdin line 1: longer than")
        .stderr_has("1 of 2 workflow id(s) failed");
    assert_eq!(run.jsonl_ids(), [W1]);
    assert!(
        run.stderr.len() < 2_000,
        "{} bytes of stderr",
        run.stderr.len()
    );
    // Under the limit, a long id is asked for, and what is said of it is
    // short (the URL is not echoed whole).
    let long = "x".repeat(100_000);
    let run = cli(&fake, &["workflow", &long]);
    assert_ne!(run.code, 0);
    run.one_error_line();
    assert!(
        run.stderr.len() < 2_000,
        "{} bytes of stderr",
        run.stderr.len()
    );
}

/// Careless stdin: ids with `/`, `?`, `%` and spaces, blank lines, CRLF,
/// a byte order mark, a JSON string, bytes that are not UTF-8, `-` given
/// twice, `-j 64`. Each id is asked for encoded into one path segment,
/// junk is a failure by line number, and the output keeps the input order.
#[test]
fn careless_stdin_ids_are_encoded_and_junk_is_numbered() {
    let fake = Fake::start();
    // (The mark again before the JSON string: two files joined with cat.)
    let mut stdin =
        format!("\u{feff}{W1}\r\n\r\n  \na/b?c\n100% sure\n\u{feff}\"{W_IMG}\"\n").into_bytes();
    stdin.extend_from_slice(b"\xff\xfejunk\n");
    stdin.extend_from_slice(format!("{W_FAIL}\n").as_bytes());
    let run = Cli::new(Some(&fake), &["--json", "workflow", "-", "-", "-j", "64"])
        .stdin_bytes(&stdin)
        .run();
    run.code(4)
        .stderr_has("no workflow 'a/b?c'")
        .stderr_has("no workflow '100% sure'")
        .stderr_has("stdin line 7: not valid UTF-8")
        .stderr_has("3 of 6 workflow id(s) failed");
    let doc = run.json();
    let ids: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [W1, "a/b?c", "100% sure", W_IMG, W_FAIL]);
    let paths: Vec<String> = fake
        .api_requests()
        .iter()
        .map(|r| r.raw_path.clone())
        .collect();
    assert!(paths.contains(&"/v2/consumer/workflows/a%2Fb%3Fc".to_string()));
    assert!(paths.contains(&"/v2/consumer/workflows/100%25%20sure".to_string()));
    for bad in ["0", "65", "-1", "x"] {
        cli(&fake, &["workflow", W1, "-j", bad]).code(2);
    }
}

/// A server that puts the token in a workflow (a tag, a job id, a prompt):
/// the pretty JSON, `--json`, `--summary` and `--fields` rows show
/// `[hidden]`, and so does `workflows` (the listing and its `Filters:`
/// line); the JSON stays valid.
#[test]
fn a_token_the_server_puts_in_a_workflow_is_never_printed() {
    let fake = Fake::start();
    let mut wf = fake.workflow(W_IMG);
    wf["tags"] = serde_json::json!([format!("leak:{TOKEN}")]);
    wf["steps"][0]["jobs"][0]["id"] = serde_json::json!(TOKEN);
    wf["steps"][0]["input"]["prompt"] = serde_json::json!(format!("a {TOKEN} b"));
    fake.put_workflow(wf);
    for args in [
        vec!["workflow", W_IMG],
        vec!["--json", "workflow", W_IMG],
        vec!["--jsonl", "workflow", W_IMG, W1],
        vec!["workflow", W_IMG, "--summary"],
        vec!["workflow", W_IMG, "--fields=id,tags,steps.jobs.id"],
        vec![
            "--jsonl",
            "workflow",
            W_IMG,
            "--fields=tags,steps.input.prompt",
        ],
        vec!["workflows", "--query", TOKEN],
        vec!["--jsonl", "workflows"],
        vec!["workflows", "--fields=id,tags"],
    ] {
        let run = cli(&fake, &args);
        run.ok();
        crate::no_token_in(&run, 12);
        assert!(run.stdout.contains("[hidden]"), "{run:?}");
        if args[0] == "--jsonl" || args[0] == "--json" {
            for line in run.stdout.lines() {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            }
        }
    }
}

/// `--summary` of a hostile workflow: fields of the wrong type, times out
/// of order or malformed, enormous and fractional costs. Nothing fails;
/// numbers read as numbers (no 309-digit figures, no float noise).
#[test]
fn a_summary_of_odd_workflows_reads_well() {
    let fake = Fake::start();
    fake.put_workflow(serde_json::json!({
        "id": "odd", "status": 5, "createdAt": "2026-01-21T22:21:41.870Z",
        "completedAt": "2026-01-21T22:21:26.332Z", "tags": [1, null, "a"],
        "cost": {"total": 1e300},
        "transactions": {"list": [
            {"type": "debit", "amount": 1e300, "accountType": "yellow"},
            {"type": "debit", "amount": 0.1, "accountType": "blue"},
            {"type": "debit", "amount": 0.2, "accountType": "blue"},
            {"type": "credit", "amount": "5", "accountType": "blue"}]},
        "steps": [{"name": ["a"], "jobs": "j", "output": [1, {"id": "b", "available": false}],
                   "metadata": {"failureReason": 7}}, 5, null]
    }));
    let run = cli(&fake, &["workflow", "odd", "--summary"]);
    run.ok()
        .stdout_has("  Status: unknown\n")
        .stdout_has("  Tags: a\n")
        .stdout_has("  Cost: 1e300 (yellow 1e300, blue 0.3)\n")
        .stdout_has("  Steps: 3\n  - ? ? unknown\n    Files: 1 blob, 1 not available\n");
    // Out of order: no duration rather than a negative one.
    assert!(!run.stdout.contains("Duration"), "{run:?}");
}

/// `(echo ID; sleep 30) | civitai-orch workflow - | head -1`: once the
/// workflow is printed and the reader has gone, the run should end without
/// waiting for stdin to close.
///
/// Not fixed: noticing that stdout's reader is gone without writing to it
/// takes `poll(2)` on fd 1 (POLLERR), which std does not offer safely, and
/// the crate forbids `unsafe` and adds no dependencies. Today the run ends
/// when stdin does (here after the 6 s the writer holds it).
#[test]
#[ignore = "finding: an idle run does not notice that stdout was closed until stdin ends"]
fn a_reader_that_goes_away_ends_the_run_while_stdin_stays_open() {
    let fake = Fake::start();
    let closed = crate::first_line_then_close(
        Cli::new(Some(&fake), &["workflow", "-"]),
        format!("{W1}\n"),
        Some(Duration::from_secs(6)),
        Duration::from_secs(10),
    );
    assert_eq!(closed.first, "{\n");
    assert_eq!(closed.code, Some(0), "stderr: {}", closed.stderr);
    assert!(
        closed.took < Duration::from_secs(2),
        "took {:?}",
        closed.took
    );
}

/// With stdin closed, `workflow - | head -1` over many ids and a slow
/// server ends soon after the reader goes away, exit code 0.
#[test]
fn a_reader_that_goes_away_ends_a_many_id_run() {
    let fake = Fake::start();
    fake.set_api_delay(Duration::from_millis(100));
    let stdin: String = (0..200)
        .map(|i| format!("{}\n", [W1, W_IMG][i % 2]))
        .collect();
    let jobs: String = (0..200).map(|_| format!("{}\n", crate::JOB)).collect();
    for (args, stdin) in [
        (vec!["workflow", "-", "-j", "3"], &stdin),
        (vec!["--jsonl", "results", "-"], &stdin),
        (vec!["job", "-", "-j", "1"], &jobs),
    ] {
        let closed = crate::first_line_then_close(
            Cli::new(Some(&fake), &args),
            stdin.clone(),
            None,
            Duration::from_secs(20),
        );
        assert!(!closed.first.is_empty(), "{args:?}: {}", closed.stderr);
        assert_eq!(closed.code, Some(0), "{args:?}: {}", closed.stderr);
        assert!(
            closed.took < Duration::from_secs(5),
            "{args:?}: took {:?}",
            closed.took
        );
    }
}
