//! `civitai-orch workflow ID --wait`: polling until the workflow ends, the exit
//! code by how it ended, and the deadline, which no hanging server outlasts.

use std::time::{Duration, Instant};

use crate::support::{cli, Fake, Reply};
use crate::{workflow_path, W1, W_PROC};

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
fn an_absurd_wait_is_a_usage_error() {
    let fake = Fake::start();
    cli(&fake, &["workflow", W_PROC, "--wait=9223372036854775807"])
        .code(2)
        .stderr_has("--wait");
}

#[test]
fn a_number_after_wait_without_equals_gets_a_hint() {
    let fake = Fake::start();
    // `--wait` takes its value only with `=`: the 2 is a stray argument,
    // wherever the id stands.
    for (args, stray) in [
        (vec!["workflow", W_PROC, "--wait", "2"], "2"),
        (vec!["workflow", "--wait", "2", W_PROC], W_PROC),
    ] {
        let run = cli(&fake, &args);
        run.code(2).one_error_line().stderr_has(&format!(
            "error: unexpected argument '{stray}' (did you mean --wait=2?)\n"
        ));
    }
    // No hint when --wait had its value, or for a word.
    for args in [
        vec!["workflow", W_PROC, "--wait=2", "3"],
        vec!["workflow", W_PROC, "--wait", "soon"],
    ] {
        let run = cli(&fake, &args);
        run.code(2).one_error_line();
        assert!(!run.stderr.contains("did you mean"), "{run:?}");
    }
    assert!(fake.api_requests().is_empty(), "nothing is sent");
}
