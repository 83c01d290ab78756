//! `civitai-orch workflow`: one workflow as pretty or compact JSON, ids
//! encoded into the path, hostile JSON from the server. (`--wait` is in
//! `wait.rs`.)

use std::time::{Duration, Instant};

use crate::support::{cli, Fake, Reply};
use crate::{workflow_path, W1};

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
