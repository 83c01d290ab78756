//! `civitai-orch step`: one step of a workflow as JSON, and a step that is
//! not there.

use crate::support::{cli, Fake};
use crate::W_COMFY;

#[test]
fn step_prints_one_step_as_json() {
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
}

#[test]
fn several_steps_of_one_workflow() {
    let fake = Fake::start();
    let run = cli(
        &fake,
        &[
            "--jsonl",
            "step",
            W_COMFY,
            "comfy",
            "hash",
            "--fields=name,$type",
        ],
    );
    run.ok();
    assert_eq!(
        run.stdout,
        "{\"$type\":\"comfy\",\"name\":\"comfy\"}\n{\"$type\":\"mediaHash\",\"name\":\"hash\"}\n"
    );
    let run = cli(&fake, &["--json", "step", W_COMFY, "hash", "nope"]);
    run.code(4).stderr_has("1 of 2 step name(s) failed");
    let doc = run.json();
    assert_eq!(doc[0]["name"], "hash");
    assert_eq!(doc[1]["id"], "nope");
}

/// `echo W | civitai-orch step - 0` reads like "the workflow from stdin",
/// but `-` stands only for the step names: the workflow id `-` is refused
/// with the usage, rather than asked for (a 404 for workflow '-').
/// Names from stdin (`name` of a JSON line, bare, JSON strings) work.
#[test]
fn a_dash_for_the_workflow_id_is_refused_and_names_come_from_stdin() {
    let fake = Fake::start();
    let run = cli(&fake, &["step", "-", "hash"]);
    run.code(2)
        .stderr_has("the workflow id comes first")
        .stderr_has("usage: ");
    assert!(fake.api_requests().is_empty());
    let run = crate::support::Cli::new(Some(&fake), &["--jsonl", "step", W_COMFY, "-"])
        .stdin("{\"name\":\"hash\",\"$type\":\"mediaHash\"}\n\"hash\"\n\r\nnope\n")
        .run();
    run.code(4)
        .stderr_has("no step 'nope'")
        .stderr_has("1 of 3 step name(s) failed");
    assert_eq!(run.stdout.lines().count(), 3, "{run:?}");
}
