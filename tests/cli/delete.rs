//! `civitai-orch delete`: nothing is deleted without `--yes` (exit 2, the
//! workflows that would be listed, no DELETE sent), with it each id is
//! deleted and reads of it are `404` after; a missing id fails; a DELETE is
//! repeated after a 503.

use serde_json::json;

use crate::support::{cli, Cli, Fake, Reply};
use crate::{no_token_in, workflow_path, W1, W_FAIL, W_PROC};

const MISSING: &str = "0-019be4ff-0000-7000-8000-00000000dead";

fn deletes(fake: &Fake) -> usize {
    fake.api_requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .count()
}

#[test]
fn without_yes_nothing_is_deleted_and_what_would_be_is_listed() {
    let fake = Fake::start();
    let run = cli(&fake, &["delete", W1, W_FAIL, MISSING]);
    run.code(2)
        .one_error_line()
        .stderr_has("nothing deleted: add --yes to delete 2 workflow(s) (1 not found)");
    assert_eq!(
        run.stdout,
        format!(
            "would delete: {W1} (succeeded)\nwould delete: {W_FAIL} (failed)\n\
             not found: {MISSING}\n"
        ),
        "{run:?}"
    );
    no_token_in(&run, 8);
    assert_eq!(deletes(&fake), 0, "a DELETE was sent without --yes");
    cli(&fake, &["workflow", W1]).ok();

    let v = cli(&fake, &["--json", "delete", W_PROC]).code(2).json();
    assert_eq!(
        v,
        json!({"id": W_PROC, "result": "would-delete", "status": "processing"})
    );
    let run = cli(&fake, &["delete", MISSING]);
    run.code(2)
        .stderr_has("1 workflow(s) not found, and --yes not given");
    assert_eq!(deletes(&fake), 0);
}

#[test]
fn without_yes_ids_from_stdin_are_read_and_listed() {
    let fake = Fake::start();
    let stdin = format!("{W1}\n{}\n", json!({"id": W_FAIL}));
    let run = Cli::new(Some(&fake), &["--jsonl", "delete", "-"])
        .stdin(&stdin)
        .run();
    run.code(2).stderr_has("add --yes to delete 2 workflow(s)");
    assert_eq!(run.jsonl_ids(), [W1, W_FAIL]);
    assert!(run.stdout.contains("\"would-delete\""), "{run:?}");
    assert_eq!(deletes(&fake), 0);
    // Even an empty stdin is refused without --yes.
    let run = Cli::new(Some(&fake), &["delete", "-"]).stdin("").run();
    run.code(2).stderr_has("--yes was not given");
}

#[test]
fn with_yes_each_id_is_deleted_and_gone_after() {
    let fake = Fake::start();
    let run = cli(&fake, &["delete", W1, "--yes"]);
    run.ok();
    assert_eq!(run.stdout, format!("deleted: {W1}\n"), "{run:?}");
    no_token_in(&run, 8);
    let reqs = fake.api_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "DELETE");
    assert_eq!(reqs[0].raw_path, workflow_path(W1));
    assert!(reqs[0].body.is_empty());
    cli(&fake, &["workflow", W1])
        .code(4)
        .stderr_has("404 Not Found");

    // Again: it is not there any more.
    cli(&fake, &["delete", W1, "--yes"])
        .code(4)
        .one_error_line()
        .stderr_has(&format!("no workflow '{W1}'"));
}

#[test]
fn several_with_yes_go_on_past_a_missing_one() {
    let fake = Fake::start();
    let run = Cli::new(Some(&fake), &["--jsonl", "delete", "--yes", "-j", "2", "-"])
        .stdin(&format!("{W_PROC}\n{MISSING}\n{W_FAIL}\n"))
        .run();
    run.code(4).stderr_has("1 of 3 workflow id(s) failed");
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0], json!({"id": W_PROC, "result": "deleted"}));
    assert_eq!(lines[1]["error"]["kind"], "not_found");
    assert_eq!(lines[2], json!({"id": W_FAIL, "result": "deleted"}));
    for id in [W_PROC, W_FAIL] {
        cli(&fake, &["workflow", id]).code(4);
    }
}

#[test]
fn a_delete_is_repeated_after_a_gateway_error() {
    let fake = Fake::start();
    fake.script(
        &workflow_path(W1),
        vec![Reply::problem(503, "Service Unavailable", "busy").header("Retry-After", "0")],
    );
    let run = cli(&fake, &["delete", W1, "--yes"]);
    run.ok()
        .stdout_has(&format!("deleted: {W1}"))
        .stderr_has("retrying");
    assert_eq!(deletes(&fake), 2);
    cli(&fake, &["workflow", W1]).code(4);
}

// Written to break it: a hostile server, a bad network.

#[test]
fn a_404_after_a_retried_delete_says_the_earlier_try_may_have_done_it() {
    // The first DELETE deleted it, but a gateway answered 503; the repeat
    // finds it gone. "no workflow" alone would send one looking for a typo.
    let fake = Fake::start();
    cli(&fake, &["delete", W_FAIL, "--yes"]).ok();
    fake.script(
        &workflow_path(W_FAIL),
        vec![Reply::problem(503, "Service Unavailable", "busy").header("Retry-After", "0")],
    );
    let run = cli(&fake, &["delete", W_FAIL, "--yes"]);
    run.code(4)
        .one_error_line()
        .stderr_has("404 Not Found: no workflow")
        .stderr_has("(an earlier try of this DELETE, whose answer was lost, may have done it)");
    // A plain 404, or one after a 429 (refused unread), says nothing of it.
    let run = cli(&fake, &["delete", W_FAIL, "--yes"]);
    run.code(4);
    assert!(!run.stderr.contains("earlier try"), "{run:?}");
    fake.script(
        &workflow_path(W_FAIL),
        vec![Reply::json(429, "{}").header("Retry-After", "0")],
    );
    let run = cli(&fake, &["delete", W_FAIL, "--yes"]);
    run.code(4);
    assert!(!run.stderr.contains("earlier try"), "{run:?}");
}
