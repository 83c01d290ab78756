//! `civitai-orch user` (alias `user-workflows`): the manager listing, its
//! PascalCase parameters, and the manager-token hint that only it gives.

use crate::support::{cli, Fake, Reply};
use crate::W1;

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
        std::fs::read_to_string(crate::support::fake::fixtures_dir().join("errors/403.json"))
            .unwrap();
    fake.script("/v1/manager/workflows", vec![Reply::json(403, &body)]);
    cli(&fake, &["user", "1"])
        .code(3)
        .one_error_line()
        .stderr_has("error: 403 Forbidden: Manager access is required")
        .stderr_has("manager token");
}

#[test]
fn forbidden_names_the_manager_token_only_for_user() {
    let fake = Fake::start();
    fake.script("/v2/consumer/workflows", vec![Reply::json(403, "\"no\"")]);
    let run = cli(&fake, &["workflows"]);
    run.code(3);
    assert!(!run.stderr.contains("manager"), "{run:?}");
}

/// A page whose items are not workflows (numbers, strings, null): every
/// output mode refuses it before printing any of it, as `workflows`
/// does, rather than `--jsonl` lines `1`, `"x"` and `null` that a
/// `| results -` reads as ids (`null` would be asked for as a workflow).
#[test]
fn a_page_of_things_that_are_not_workflows_is_refused_whole() {
    let fake = Fake::start();
    for mode in [None, Some("--json"), Some("--jsonl")] {
        fake.script(
            "/v1/manager/workflows",
            vec![Reply::json(
                200,
                r#"[{"id":"a","status":"succeeded"},1,"x",null]"#,
            )],
        );
        let mut args: Vec<&str> = mode.into_iter().collect();
        args.extend(["user", "1"]);
        let run = cli(&fake, &args);
        run.code(1).stderr_has("not a workflow");
        assert_eq!(run.stdout, "", "{run:?}");
    }
    // Objects without an id are still workflows to print.
    fake.script(
        "/v1/manager/workflows",
        vec![Reply::json(200, r#"[{"status":"succeeded"}]"#)],
    );
    let run = cli(&fake, &["user", "1", "--fields=id,status"]);
    run.ok();
    assert_eq!(run.stdout, "id\tstatus\n\tsucceeded\n");
}
