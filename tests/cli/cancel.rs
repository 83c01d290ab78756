//! `civitai-orch cancel`: a running workflow is canceled, one that has
//! already ended is reported with its final status (whichever way the API
//! answers: `400`, or `204` with no change), a missing one fails; several
//! ids and stdin in input order; a PUT is repeated after a 503.

use serde_json::{json, Value};

use crate::support::{cli, Cli, Fake, Reply};
use crate::{no_token_in, workflow_path, W1, W_FAIL, W_PROC};

const MISSING: &str = "0-019be4ff-0000-7000-8000-00000000dead";

/// A running copy of the processing fixture under another id.
fn running(fake: &Fake, id: &str) {
    let mut w = fake.workflow(W_PROC);
    w["id"] = json!(id);
    fake.put_workflow(w);
}

/// The requests `method path` the fake got.
fn sent(fake: &Fake, method: &str, id: &str) -> usize {
    fake.api_requests()
        .iter()
        .filter(|r| r.method == method && r.raw_path == workflow_path(id))
        .count()
}

#[test]
fn a_running_workflow_is_canceled() {
    let fake = Fake::start();
    let run = cli(&fake, &["cancel", W_PROC]);
    run.ok();
    assert_eq!(run.stdout, format!("canceled: {W_PROC}\n"), "{run:?}");
    no_token_in(&run, 8);
    let reqs = fake.api_requests();
    assert_eq!(reqs[0].method, "PUT");
    assert_eq!(reqs[0].raw_path, workflow_path(W_PROC));
    assert_eq!(reqs[0].body_json(), json!({"status": "canceled"}));
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    // Then one read, for the status.
    assert_eq!(reqs[1].method, "GET");
    assert_eq!(reqs.len(), 2);
    assert_eq!(fake.workflow(W_PROC)["status"], "canceled");

    // The same workflow again: over now, by our own hand.
    let again = cli(&fake, &["--json", "cancel", W_PROC]).ok().json();
    assert_eq!(
        again,
        json!({"id": W_PROC, "result": "already-ended", "status": "canceled"})
    );
}

#[test]
fn an_ended_workflow_is_reported_with_its_status_in_both_answer_styles() {
    for answers_204 in [false, true] {
        let fake = Fake::start();
        fake.cancel_ended_answers_204(answers_204);
        let run = cli(&fake, &["cancel", W1]);
        run.ok();
        assert_eq!(
            run.stdout,
            format!("already ended: {W1} (succeeded)\n"),
            "{run:?}"
        );
        assert_eq!(run.stderr, "", "{run:?}");
        let v = cli(&fake, &["--json", "cancel", W_FAIL]).ok().json();
        assert_eq!(
            v,
            json!({"id": W_FAIL, "result": "already-ended", "status": "failed"}),
            "answers 204: {answers_204}"
        );
        assert_eq!(fake.workflow(W1)["status"], "succeeded");
        assert_eq!(fake.workflow(W_FAIL)["status"], "failed");
    }
}

#[test]
fn a_missing_workflow_fails_with_exit_4() {
    let fake = Fake::start();
    let run = cli(&fake, &["cancel", MISSING]);
    run.code(4)
        .one_error_line()
        .stderr_has(&format!("404 Not Found: no workflow '{MISSING}'"));
    assert_eq!(run.stdout, "");
    // Nothing to read after a 404.
    assert_eq!(fake.api_requests().len(), 1);
}

#[test]
fn a_refusal_of_a_running_workflow_is_the_refusal() {
    let fake = Fake::start();
    fake.script(
        &workflow_path(W_PROC),
        vec![Reply::problem(400, "Bad Request", "Not now")],
    );
    let run = cli(&fake, &["cancel", W_PROC]);
    run.code(2).one_error_line().stderr_has("Not now");
    assert_eq!(run.stdout, "");
}

#[test]
fn an_unreadable_status_after_a_cancel_is_still_a_cancel() {
    let fake = Fake::start();
    fake.script(
        &workflow_path(W_PROC),
        vec![
            Reply::json(204, ""),
            Reply::problem(500, "Internal Server Error", "oops"),
        ],
    );
    let run = cli(&fake, &["--json", "cancel", W_PROC]);
    run.ok().stderr_has("could not read its status");
    assert_eq!(
        run.json(),
        json!({"id": W_PROC, "result": "canceled", "status": null})
    );
}

#[test]
fn several_ids_in_input_order_with_the_failures_counted() {
    let fake = Fake::start();
    fake.set_api_delay(std::time::Duration::from_millis(30));
    running(&fake, "run-1");
    running(&fake, "run-2");
    let ids = ["run-1", W1, MISSING, "run-2", W_FAIL];
    let mut args = vec!["cancel", "-j", "3"];
    args.extend(ids);
    let run = cli(&fake, &args);
    run.code(4)
        .stderr_has("1 of 5 workflow id(s) failed (first: 404 Not Found");
    assert_eq!(
        run.stdout,
        format!(
            "canceled: run-1\nalready ended: {W1} (succeeded)\ncanceled: run-2\n\
             already ended: {W_FAIL} (failed)\n"
        ),
        "{run:?}"
    );
    assert_eq!(fake.workflow("run-2")["status"], "canceled");

    // --json: one array, the failure an entry of it.
    running(&fake, "run-3");
    let v = cli(&fake, &["--json", "cancel", "run-3", MISSING])
        .code(4)
        .json();
    assert_eq!(
        v[0],
        json!({"id": "run-3", "result": "canceled", "status": "canceled"})
    );
    assert_eq!(v[1]["id"], MISSING);
    assert_eq!(v[1]["error"]["kind"], "not_found");
}

#[test]
fn ids_from_stdin_in_any_of_their_forms() {
    let fake = Fake::start();
    running(&fake, "run-1");
    running(&fake, "run-2");
    let stdin = format!(
        "run-1\n\"{W1}\"\n{}\n\n",
        json!({"id": "run-2", "status": "processing"})
    );
    let run = Cli::new(Some(&fake), &["--jsonl", "cancel", "-", "-j", "2"])
        .stdin(&stdin)
        .run();
    run.ok();
    assert_eq!(run.jsonl_ids(), ["run-1", W1, "run-2"]);
    let results: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["result"].clone())
        .collect();
    assert_eq!(results, ["canceled", "already-ended", "canceled"]);

    // Nothing on stdin: nothing to do.
    let run = Cli::new(Some(&fake), &["cancel", "-"]).stdin("").run();
    run.ok().stderr_has("nothing to do");
    // A line that holds no id fails alone.
    let run = Cli::new(Some(&fake), &["cancel", "-"])
        .stdin("{\"x\":1}\nrun-1\n")
        .run();
    run.code(2).stdout_has("already ended: run-1 (canceled)");
}

#[test]
fn a_cancel_is_repeated_after_a_gateway_error() {
    let fake = Fake::start();
    fake.script(
        &workflow_path(W_PROC),
        vec![Reply::problem(503, "Service Unavailable", "busy").header("Retry-After", "0")],
    );
    let run = cli(&fake, &["cancel", W_PROC]);
    run.ok().stdout_has("canceled: ").stderr_has("retrying");
    assert_eq!(sent(&fake, "PUT", W_PROC), 2);
    assert_eq!(fake.workflow(W_PROC)["status"], "canceled");
}

// Written to break it: a hostile server, overlapping runs.

#[test]
fn a_500_to_the_cancel_is_not_a_cancel_and_a_later_run_cancels() {
    let fake = Fake::start();
    fake.script(
        &workflow_path(W_PROC),
        vec![Reply::problem(500, "Internal Server Error", "boom")],
    );
    let run = cli(&fake, &["cancel", W_PROC]);
    run.code(5)
        .one_error_line()
        .stderr_has("500 Internal Server Error");
    assert_eq!(run.stdout, "");
    // Not repeated (a 500 is an answer), then read: still running.
    assert_eq!(sent(&fake, "PUT", W_PROC), 1);
    assert_eq!(fake.workflow(W_PROC)["status"], "processing");
    cli(&fake, &["cancel", W_PROC])
        .ok()
        .stdout_has(&format!("canceled: {W_PROC}\n"));
}

#[test]
fn a_cancel_and_a_delete_of_one_workflow_at_once_end_cleanly() {
    for i in 0..4 {
        let fake = Fake::start();
        let id = format!("0-019be4ff-0000-7000-8000-00000000c0d{i}");
        running(&fake, &id);
        fake.set_api_delay(std::time::Duration::from_millis(10 * i));
        let url = fake.url.clone();
        let other = id.clone();
        let cancel = std::thread::spawn(move || {
            Cli::new(None, &["cancel", &other])
                .env("CIVITAI_API_URL", &url)
                .env("CIVITAI_API_TOKEN", crate::support::TOKEN)
                .run()
        });
        cli(&fake, &["delete", &id, "--yes"]).ok();
        let run = cancel.join().unwrap();
        // Canceled before the delete (its read may then find it gone),
        // or found gone: never a panic, never a hang.
        match run.code {
            0 => assert!(run.stdout.starts_with("canceled: "), "{run:?}"),
            4 => {
                run.one_error_line().stderr_has("404 Not Found");
            }
            _ => panic!("unexpected:{run:?}"),
        }
        cli(&fake, &["workflow", &id]).code(4);
    }
}
