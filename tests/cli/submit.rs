//! `civitai-orch submit FILE|-`: the checks made before anything is sent,
//! the idempotency key (and the exactly-once submit it buys), `--whatif`
//! and `--max-cost`, `--wait` and `--download`, and the API's 400 and 403.

use serde_json::{json, Value};

use crate::no_token_in;
use crate::support::{cli, temp_dir, Cli, Fake, Reply, Run};
use crate::{files, workflow_path};

const SUBMIT: &str = "/v2/consumer/workflows";

/// The template of API.md (4 Buzz on the fake), with `extra` merged in.
fn template(extra: Value) -> String {
    let mut t = json!({"steps": [{"$type": "imageGen", "name": "0",
        "input": {"engine": "flux", "prompt": "a cat astronaut", "width": 1024, "height": 1024}}]});
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    t.to_string()
}

/// A template whose workflow ends `end` after `reads` reads on the fake.
fn steered(end: &str, reads: u32) -> String {
    template(json!({"metadata": {"fake": {"end": end, "reads": reads}}}))
}

/// `submit - ARGS...` with `t` on stdin.
fn submit(fake: &Fake, args: &[&str], t: &str) -> Run {
    let mut all = vec!["submit", "-"];
    let globals: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| *a == "--json" || *a == "--jsonl" || *a == "-v")
        .collect();
    all.splice(0..0, globals);
    all.extend(
        args.iter()
            .filter(|a| !matches!(**a, "--json" | "--jsonl" | "-v")),
    );
    let run = Cli::new(Some(fake), &all).stdin(t).run();
    no_token_in(&run, 8);
    run
}

/// The POSTs of submits the fake got, in order.
fn posts(fake: &Fake) -> Vec<crate::support::fake::Request> {
    fake.api_requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.raw_path == SUBMIT)
        .collect()
}

/// The id in `submitted: ID (...)`.
fn submitted_id(run: &Run) -> String {
    let line = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("submitted: "))
        .unwrap_or_else(|| panic!("no submitted line:{run:?}"));
    line.split(' ').next().unwrap().to_string()
}

/// The key named on stderr.
fn key_of(run: &Run) -> String {
    let line = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("key: "))
        .unwrap_or_else(|| panic!("no key line:{run:?}"));
    line.split(' ').next().unwrap().to_string()
}

#[test]
fn a_submit_sends_the_template_with_a_key_and_prints_the_workflow() {
    let fake = Fake::start();
    let run = submit(&fake, &[], &template(json!({"metadata": {"run": "42"}})));
    run.ok();
    let key = key_of(&run);
    assert!(key.starts_with("civitai-orch-"), "{run:?}");
    assert!(key.len() <= 128 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let id = submitted_id(&run);
    run.stdout_has(&format!(
        "submitted: {id} (status preparing, cost 4; key {key})\n"
    ));
    assert_eq!(run.stdout.lines().count(), 1, "{run:?}");
    let sent = posts(&fake);
    assert_eq!(sent.len(), 1);
    let body = sent[0].body_json();
    assert_eq!(body["externalId"], key.as_str());
    assert_eq!(body["metadata"]["run"], "42");
    assert_eq!(sent[0].param("whatif"), None);
    assert_eq!(sent[0].param("wait"), None);
    assert_eq!(fake.submits(), 1);
    assert_eq!(fake.buzz(), crate::support::fake::DEFAULT_BUZZ - 4);

    // --json: the workflow as the API answered it, which holds the key.
    let run = submit(&fake, &["--json"], &template(json!({})));
    let doc = run.ok().json();
    assert_eq!(doc["externalId"], key_of(&run).as_str());
    assert_eq!(doc["status"], "preparing");
    assert!(doc["id"].as_str().unwrap().starts_with("0-"));
    // Two runs, two keys.
    assert_ne!(key_of(&run), key);
    assert_eq!(fake.submits(), 2);
}

#[test]
fn a_template_file_is_read_and_a_missing_one_named() {
    let fake = Fake::start();
    let dir = temp_dir("submit-file");
    let file = dir.join("t.json");
    std::fs::write(&file, template(json!({}))).unwrap();
    cli(&fake, &["submit", file.to_str().unwrap()])
        .ok()
        .stdout_has("submitted: ");
    let missing = dir.join("nope.json");
    cli(&fake, &["submit", missing.to_str().unwrap()])
        .code(2)
        .one_error_line()
        .stderr_has("cannot read the template '")
        .stderr_has("nope.json'");
    assert_eq!(fake.submits(), 1);
}

#[test]
fn bad_templates_are_refused_before_anything_is_sent() {
    let fake = Fake::start();
    for (t, said) in [
        ("[1, 2]", "is not a JSON object"),
        ("\"steps\"", "is not a JSON object"),
        ("{\"tags\": []}", "it has no \"steps\""),
        ("{\"steps\": null}", "it has no \"steps\""),
        ("{\"steps\": []}", "its \"steps\" is empty"),
        ("{\"steps\": {}}", "its \"steps\" is not an array"),
        (
            "{\"steps\": [{\"input\": {}}, 3]}",
            "its steps[1] is not a JSON object",
        ),
        ("{\"steps\": [", "is not valid JSON"),
        ("", "is not valid JSON"),
        (
            "{\"steps\": [{}], \"externalId\": \"a b\"}",
            "its externalId is not 1 to 128",
        ),
        (
            "{\"steps\": [{}], \"tags\": \"a\"}",
            "its \"tags\" is not an array",
        ),
        (
            "{\"steps\": [{}], \"tags\": [\"a\", \"a\"]}",
            "is given twice",
        ),
    ] {
        for mode in [&[][..], &["--json"][..]] {
            let run = submit(&fake, mode, t);
            run.code(2);
            if mode.is_empty() {
                run.one_error_line()
                    .stderr_has("error: the template on stdin ")
                    .stderr_has(said);
            } else {
                run.stderr_has("\"kind\":\"usage\"");
            }
        }
    }
    assert!(fake.api_requests().is_empty(), "something was sent");
}

#[test]
fn bad_options_are_usage_errors_and_send_nothing() {
    let fake = Fake::start();
    // From a file: the parser refuses before stdin would be read.
    let dir = temp_dir("submit-options");
    let file = dir.join("t.json");
    std::fs::write(&file, template(json!({}))).unwrap();
    let file = file.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["submit", file];
        all.extend(args);
        cli(&fake, &all)
    };
    for (args, said) in [
        (
            vec!["--external-id=a b"],
            "invalid value for --external-id: 'a b'",
        ),
        (vec!["--external-id="], "invalid value for --external-id"),
        (
            vec!["--max-cost=abc"],
            "invalid value for --max-cost: 'abc' is not a number",
        ),
        (vec!["--max-cost=-1"], "invalid value for --max-cost"),
        (
            vec!["--whatif", "--external-id=k"],
            "never sends an idempotency key",
        ),
        (vec!["--whatif", "--max-cost=3"], "--whatif only estimates"),
        (vec!["--download"], "--download needs --wait"),
        // Silently ignored before: it steers only the download's read.
        (vec!["--nsfw"], "--nsfw applies only with --download"),
        (
            vec!["--wait", "--nsfw"],
            "--nsfw applies only with --download",
        ),
    ] {
        run(&args)
            .code(2)
            .one_error_line()
            .stderr_has(said)
            .stderr_has("usage: civitai-orch submit");
    }
    let long = format!("--tag={}", "x".repeat(201));
    run(&[&long])
        .code(2)
        .stderr_has("a tag is 1 to 200 characters (got 201)");
    assert!(fake.api_requests().is_empty(), "something was sent");
}

#[test]
fn tags_join_the_templates_within_the_apis_limits() {
    let fake = Fake::start();
    let run = submit(
        &fake,
        &["--tag=b", "--tag=c", "--tag=a"],
        &template(json!({"tags": ["a", "b"]})),
    );
    run.ok();
    assert_eq!(posts(&fake)[0].body_json()["tags"], json!(["a", "b", "c"]));
    // 200 characters is a tag; ten tags in all are allowed.
    let t200 = format!("--tag={}", "y".repeat(200));
    let nine: Vec<String> = (1..=8).map(|i| format!("--tag=t{i}")).collect();
    let mut args: Vec<&str> = nine.iter().map(String::as_str).collect();
    args.push(&t200);
    submit(&fake, &args, &template(json!({"tags": ["a"]}))).ok();
    assert_eq!(
        posts(&fake)[1].body_json()["tags"]
            .as_array()
            .unwrap()
            .len(),
        10
    );

    // Eleven: refused before sending, whether all from --tag or mixed.
    let eleven: Vec<String> = (1..=11).map(|i| format!("--tag=t{i}")).collect();
    let args: Vec<&str> = eleven.iter().map(String::as_str).collect();
    submit(&fake, &args, &template(json!({})))
        .code(2)
        .one_error_line()
        .stderr_has("a workflow has at most 10 tags; the template's 0 and --tag's 11 make 11");
    let ten: Vec<String> = (1..=10).map(|i| format!("t{i}")).collect();
    submit(&fake, &["--tag=new"], &template(json!({"tags": ten})))
        .code(2)
        .stderr_has("at most 10 tags");
    let long = "z".repeat(201);
    submit(&fake, &[], &template(json!({"tags": [long]})))
        .code(2)
        .stderr_has("its tags[0] has 201 characters");
    assert_eq!(posts(&fake).len(), 2);
}

#[test]
fn whatif_prints_the_estimate_and_never_sends_a_key() {
    let fake = Fake::start();
    let t = template(json!({"externalId": "run-42"}));
    let run = submit(&fake, &["--whatif"], &t);
    run.ok()
        .stderr_has("the template's externalId run-42 is not sent");
    assert_eq!(run.stdout, "estimate: 4 Buzz (yellow 4); enough Buzz\n");
    let doc = submit(&fake, &["--json", "--whatif"], &t).ok().json();
    assert_eq!(
        doc,
        json!({"whatif": true, "total": 4, "byCurrency": {"yellow": 4}, "insufficientBuzz": false})
    );
    let sent = posts(&fake);
    assert_eq!(sent.len(), 2);
    for r in &sent {
        assert_eq!(r.param("whatif"), Some("true"));
        assert!(r.body_json().get("externalId").is_none(), "{r:?}");
    }
    assert_eq!(fake.submits(), 0);
    assert_eq!(fake.buzz(), crate::support::fake::DEFAULT_BUZZ);
    // The key was not spent: a real submit with it makes the workflow.
    let run = submit(&fake, &[], &t);
    run.ok().stdout_has("key run-42)");
    assert_eq!(fake.submits(), 1);
}

#[test]
fn whatif_says_when_buzz_is_short_and_still_exits_0() {
    let fake = Fake::start();
    fake.set_buzz(3);
    submit(&fake, &["--whatif"], &template(json!({})))
        .ok()
        .stdout_has("estimate: 4 Buzz (yellow 4); not enough Buzz (a submit would be refused)\n");
    let doc = submit(&fake, &["--jsonl", "--whatif"], &template(json!({})))
        .ok()
        .json();
    assert_eq!(doc["insufficientBuzz"], true);
}

#[test]
fn whatif_reads_the_cost_headers_when_the_body_lacks_them() {
    let fake = Fake::start();
    let bare = || {
        Reply::json(200, r#"{"id":"x","status":"unassigned"}"#)
            .header("X-Civitai-Cost-Total", "7")
            .header("X-Civitai-Cost-By-Currency", "yellow=5;blue=2")
            .header("X-Civitai-Insufficient-Buzz", "True")
    };
    fake.script(SUBMIT, vec![bare(), bare()]);
    submit(&fake, &["--whatif"], &template(json!({})))
        .ok()
        .stdout_has(
            "estimate: 7 Buzz (yellow 5, blue 2); not enough Buzz (a submit would be refused)\n",
        );
    let doc = submit(&fake, &["--json", "--whatif"], &template(json!({})))
        .ok()
        .json();
    assert_eq!(
        doc,
        json!({"whatif": true, "total": 7, "byCurrency": {"yellow": 5, "blue": 2},
               "insufficientBuzz": true})
    );
    // Neither body nor headers: no estimate to give.
    fake.script(SUBMIT, vec![Reply::json(200, r#"{"id":"x"}"#)]);
    submit(&fake, &["--whatif"], &template(json!({})))
        .code(1)
        .stderr_has("holds no cost total");
}

#[test]
fn max_cost_refuses_an_estimate_over_it_and_submits_one_under() {
    let fake = Fake::start();
    let t = template(json!({"externalId": "run-7"}));
    let run = submit(&fake, &["--max-cost=3.5"], &t);
    run.code(2).one_error_line().stderr_has(
        "error: the estimate is 4 Buzz (yellow 4), over --max-cost=3.5; nothing was submitted",
    );
    assert_eq!(run.stdout, "");
    let sent = posts(&fake);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].param("whatif"), Some("true"));
    assert!(sent[0].body_json().get("externalId").is_none());
    assert_eq!(fake.submits(), 0);

    let run = submit(&fake, &["--max-cost=4"], &t);
    run.ok()
        .stderr_has("estimate: 4 Buzz (yellow 4), within --max-cost=4; submitting")
        .stdout_has("key run-7)");
    let sent = posts(&fake);
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[1].param("whatif"), Some("true"));
    assert!(sent[1].body_json().get("externalId").is_none());
    assert_eq!(sent[2].param("whatif"), None);
    assert_eq!(sent[2].body_json()["externalId"], "run-7");
    assert_eq!(fake.submits(), 1);
}

#[test]
fn the_external_id_option_wins_and_the_same_key_gives_the_same_workflow() {
    let fake = Fake::start();
    let t = template(json!({"externalId": "from-template"}));
    let first = submit(&fake, &["--external-id=run_9"], &t);
    first
        .ok()
        .stderr_has("--external-id run_9 replaces the template's externalId from-template")
        .stderr_has("key: run_9 ");
    assert_eq!(posts(&fake)[0].body_json()["externalId"], "run_9");
    let again = submit(&fake, &["--external-id=run_9"], &t);
    assert_eq!(submitted_id(again.ok()), submitted_id(&first));
    assert_eq!(fake.submits(), 1);
    // The template's own key, when no option is given.
    let run = submit(&fake, &[], &t);
    run.ok().stderr_has("key: from-template ");
    assert_eq!(fake.submits(), 2);
}

#[test]
fn a_submit_whose_answer_was_lost_is_repeated_with_its_key_and_makes_one_workflow() {
    let fake = Fake::start();
    fake.drop_after_create(1);
    let run = submit(&fake, &["--json"], &template(json!({})));
    let doc = run.ok().json();
    run.stderr_has("connection dropped").stderr_has("retrying");
    assert_eq!(fake.submits(), 1, "a second workflow was made");
    let sent = posts(&fake);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].body, sent[1].body, "the repeat differs");
    let key = key_of(&run);
    assert_eq!(sent[1].body_json()["externalId"], key.as_str());
    // What is printed is the one workflow made.
    let made = fake.all_workflows().pop().unwrap();
    assert_eq!(doc["id"], made["id"]);
    assert_eq!(doc["externalId"], key.as_str());

    // With --wait: the repeat's 200 is a replay, not an end; it polls on.
    let fake = Fake::start();
    fake.drop_after_create(1);
    // Held 5 ticks (5 reads) of the 7 it needs, then dropped.
    let run = submit(&fake, &["--wait=5"], &steered("succeeded", 7));
    run.ok().stdout_has(" (status processing, ");
    let id = submitted_id(&run);
    run.stdout_has(&format!("ended: {id} succeeded (cost 4)\n"));
    assert_eq!(fake.submits(), 1);
    assert!(fake
        .api_requests()
        .iter()
        .any(|r| r.method == "GET" && r.raw_path == workflow_path(&id)));
}

#[test]
fn a_lost_answer_with_no_retries_left_names_the_key_to_submit_again_with() {
    let fake = Fake::start();
    fake.drop_after_create(1);
    let run = Cli::new(
        Some(&fake),
        &["submit", "-", "--retries=0", "--external-id=k-1"],
    )
    .stdin(&template(json!({})))
    .run();
    run.code(5)
        .one_error_line()
        .stderr_has("submit again with --external-id=k-1 to get it rather than a second one");
    // Doing so gives the workflow that was made.
    let again = submit(&fake, &["--external-id=k-1"], &template(json!({})));
    again.ok();
    assert_eq!(fake.submits(), 1);
}

#[test]
fn a_503_on_submit_is_retried_because_the_post_is_keyed() {
    let fake = Fake::start();
    let unavailable =
        Reply::problem(503, "Service Unavailable", "try later").header("Retry-After", "0");
    fake.script(SUBMIT, vec![unavailable]);
    let run = submit(&fake, &[], &template(json!({})));
    run.ok()
        .stderr_has("server error (503 Service Unavailable)");
    let sent = posts(&fake);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].body, sent[1].body);
    assert_eq!(fake.submits(), 1);
}

#[test]
fn a_400_names_each_field_on_a_line_of_its_own() {
    let fake = Fake::start();
    let t = json!({"steps": [
        {"$type": "imageGen", "input": {"width": 0, "quantity": 500}},
        {"input": {}}
    ]})
    .to_string();
    let run = submit(&fake, &[], &t);
    run.code(2).one_error_line();
    let err: Vec<&str> = run
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("error: "))
        .collect();
    assert_eq!(
        err,
        [
            "error: 400 Bad Request: One or more validation errors occurred; the API \
             rejected the request; check the template",
            "  steps[0].input.quantity: 'quantity' must be between 1 and 100; it is 500.",
            "  steps[0].input.width: 'width' must be a positive integer; it is 0.",
            "  steps[1].$type: The $type field is required: the kind of step.",
        ],
        "{run:?}"
    );
    let run = submit(&fake, &["--json"], &t);
    run.code(2);
    let e: Value = serde_json::from_str(run.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(e["error"]["kind"], "bad_request");
    assert_eq!(e["error"]["status"], 400);
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\n  steps[0].input.width: "));
    assert_eq!(fake.submits(), 0);
}

#[test]
fn a_403_with_a_bare_string_exits_3_with_that_string() {
    let fake = Fake::start();
    fake.set_buzz(3);
    let run = submit(&fake, &[], &template(json!({})));
    run.code(3)
        .one_error_line()
        .stderr_has("error: 403 Forbidden: Insufficient buzz; nothing was submitted\n");
    assert_eq!(run.stdout, "");
    let run = submit(&fake, &["--json"], &template(json!({})));
    run.code(3).stderr_has("\"kind\":\"auth\"");
    // Not repeated: a 403 is an answer.
    assert_eq!(posts(&fake).len(), 2);
    assert_eq!(fake.submits(), 0);
}

#[test]
fn wait_holds_with_the_apis_wait_then_polls_to_success() {
    let fake = Fake::start();
    // Held 3 ticks (3 reads) of the 4 it needs: 202, then a poll ends it.
    let run = submit(&fake, &["--wait=3"], &steered("succeeded", 4));
    run.ok();
    let id = submitted_id(&run);
    run.stdout_has(" (status processing, cost 4; key ")
        .stdout_has(&format!("\nended: {id} succeeded (cost 4)\n"));
    assert_eq!(posts(&fake)[0].param("wait"), Some("3"));
    assert!(fake
        .api_requests()
        .iter()
        .any(|r| r.method == "GET" && r.raw_path == workflow_path(&id)));

    // Ended within the API's wait: no poll. The API's wait is at most 90.
    let fake = Fake::start();
    let run = submit(&fake, &["--json", "--wait=600"], &steered("succeeded", 2));
    assert_eq!(run.ok().json()["status"], "succeeded");
    assert_eq!(posts(&fake)[0].param("wait"), Some("90"));
    assert_eq!(fake.api_requests().len(), 1);
}

#[test]
fn wait_exits_7_when_the_workflow_fails_and_8_at_the_deadline() {
    let fake = Fake::start();
    let run = submit(&fake, &["--wait=3"], &steered("failed", 4));
    run.code(7).one_error_line().stderr_has("' ended failed");
    let id = submitted_id(&run);
    run.stdout_has(&format!("ended: {id} failed"));
    let run = submit(&fake, &["--json", "--wait=30"], &steered("expired", 1));
    assert_eq!(run.code(7).json()["status"], "expired");

    let start = std::time::Instant::now();
    let run = submit(&fake, &["--wait=2"], &steered("succeeded", 500));
    run.code(8)
        .one_error_line()
        .stderr_has("stopped waiting after 2s")
        .stderr_has("look again with: civitai-orch workflow ");
    assert!(start.elapsed() < std::time::Duration::from_secs(8));
    let run = submit(&fake, &["--json", "--wait=1"], &steered("succeeded", 500));
    assert_eq!(run.code(8).json()["status"], "processing");
}

#[test]
fn download_after_the_wait_saves_the_files_as_results_does() {
    let fake = Fake::start();
    let dir = temp_dir("submit-download");
    let t = json!({"steps": [{"$type": "imageGen", "name": "pic",
        "input": {"prompt": "x", "quantity": 2}}],
        "metadata": {"fake": {"reads": 3}}})
    .to_string();
    let run = submit(
        &fake,
        &["--wait=3", "--download", "--dir", dir.to_str().unwrap()],
        &t,
    );
    run.ok();
    let id = submitted_id(&run);
    run.stdout_has(&format!("Downloaded: {id}_pic_0.png"))
        .stdout_has("downloaded 2, skipped 0, unavailable 0, failed 0\n");
    assert_eq!(
        files(&dir),
        [format!("{id}_pic_0.png"), format!("{id}_pic_1.png")]
    );
    // --json: the document of `results --download` in the workflow's place.
    let dir = temp_dir("submit-download-json");
    let run = submit(
        &fake,
        &[
            "--json",
            "--wait=30",
            "--download",
            "--dir",
            dir.to_str().unwrap(),
        ],
        &t,
    );
    let doc = run.ok().json();
    assert_eq!(doc["status"], "succeeded");
    assert_eq!(doc["counts"]["downloaded"], 2);
    assert_eq!(doc["results"][0]["status"], "downloaded");
    assert_eq!(files(&dir).len(), 2);

    // --nsfw: the files as `results --nsfw` sees them, from a read that
    // shows mature content (the submit's answer did not).
    let dir = temp_dir("submit-download-nsfw");
    let run = submit(
        &fake,
        &[
            "--wait=30",
            "--download",
            "--nsfw",
            "--dir",
            dir.to_str().unwrap(),
        ],
        &t,
    );
    let id = submitted_id(run.ok());
    assert!(fake.api_requests().iter().any(|r| r.method == "GET"
        && r.raw_path == workflow_path(&id)
        && r.param("hideMatureContent") == Some("false")));
    assert_eq!(files(&dir).len(), 2);

    // A wait that fails downloads nothing.
    let dir = temp_dir("submit-download-failed");
    let t = steered("failed", 1);
    submit(
        &fake,
        &["--wait=30", "--download", "--dir", dir.to_str().unwrap()],
        &t,
    )
    .code(7);
    assert!(files(&dir).is_empty());
}

#[test]
fn the_token_is_never_shown_even_with_v() {
    let fake = Fake::start();
    // `submit` checks every run; -v adds a line per request.
    let run = submit(
        &fake,
        &["-v", "--max-cost=9", "--wait=30"],
        &template(json!({})),
    );
    run.ok().stderr_has("POST ");
    fake.set_buzz(0);
    submit(&fake, &["-v"], &template(json!({}))).code(3);
}

// Written to break it: a careless user, a hostile server.

#[test]
fn a_template_with_a_byte_order_mark_a_folder_or_no_end_is_handled_clearly() {
    let fake = Fake::start();
    // A byte order mark (an editor's): read as `api --body` reads one.
    let dir = temp_dir("submit-careless");
    let file = dir.join("bom.json");
    std::fs::write(&file, format!("\u{feff}{}", template(json!({})))).unwrap();
    cli(&fake, &["submit", file.to_str().unwrap()])
        .ok()
        .stdout_has("submitted: ");
    let run = Cli::new(Some(&fake), &["submit", "-", "--whatif"])
        .stdin(&format!("\u{feff}{}", template(json!({}))))
        .run();
    run.ok().stdout_has("estimate: 4 Buzz");
    // A folder is named as one.
    cli(&fake, &["submit", dir.to_str().unwrap()])
        .code(2)
        .one_error_line()
        .stderr_has("is a folder; name a JSON file, or - for stdin");
    // A template without end is not read into memory without end.
    let start = std::time::Instant::now();
    cli(&fake, &["submit", "/dev/zero", "--whatif"])
        .code(2)
        .one_error_line()
        .stderr_has("error: the template '/dev/zero' is larger than 64 MiB");
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(posts(&fake).len(), 2);
}

#[test]
fn an_external_id_in_any_case_is_the_key_and_never_goes_with_whatif() {
    // The API reads JSON keys in any case: `ExternalID` is its key too.
    let fake = Fake::start();
    let t = template(json!({"ExternalID": "run-case"}));
    submit(&fake, &["--whatif"], &t)
        .ok()
        .stderr_has("the template's externalId run-case is not sent");
    submit(&fake, &["--max-cost=10"], &t)
        .ok()
        .stdout_has("key run-case)");
    let sent = posts(&fake);
    assert_eq!(sent.len(), 3);
    for r in &sent[..2] {
        assert_eq!(r.param("whatif"), Some("true"));
        let body = r.body_json();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert!(
            keys.iter().all(|k| !k.eq_ignore_ascii_case("externalid")),
            "a key went with an estimate: {keys:?}"
        );
    }
    let body = sent[2].body_json();
    assert_eq!(body["externalId"], "run-case");
    assert!(body.get("ExternalID").is_none(), "{body}");
    assert_eq!(fake.submits(), 1);
    // A bad key in any case is refused; two spellings of one key too.
    let t = template(json!({"EXTERNALID": "a b"}));
    submit(&fake, &["--whatif"], &t)
        .code(2)
        .stderr_has("its externalId is not 1 to 128");
    let t = template(json!({"externalId": "a", "externalID": "b"}));
    submit(&fake, &[], &t)
        .code(2)
        .one_error_line()
        .stderr_has("it has 2 keys the API reads as \"externalId\"");
    // Tags in any case are counted with --tag's (the limit holds).
    let ten: Vec<String> = (1..=10).map(|i| format!("t{i}")).collect();
    submit(&fake, &["--tag=new"], &template(json!({"Tags": ten})))
        .code(2)
        .stderr_has("at most 10 tags");
    assert_eq!(posts(&fake).len(), 3);
}

#[test]
fn an_estimate_below_zero_or_not_a_number_is_no_estimate() {
    let fake = Fake::start();
    // A negative total: --max-cost must not let the submit through on it.
    fake.script(
        SUBMIT,
        vec![Reply::json(200, r#"{"id":"x","cost":{"total":-5}}"#)],
    );
    let run = submit(&fake, &["--max-cost=0"], &template(json!({})));
    run.code(1)
        .one_error_line()
        .stderr_has("the API's estimate has a total of -5, which is not a cost");
    assert_eq!(posts(&fake).len(), 1);
    assert_eq!(fake.submits(), 0);
    // Headers of garbage: no total, no currencies.
    let junk = Reply::json(200, r#"{"id":"x"}"#)
        .header("X-Civitai-Cost-Total", "NaN")
        .header("X-Civitai-Cost-By-Currency", ";;=;yellow=abc");
    fake.script(SUBMIT, vec![junk]);
    submit(&fake, &["--max-cost=1e300"], &template(json!({})))
        .code(1)
        .one_error_line()
        .stderr_has("which is not a cost");
    let junk = Reply::json(200, r#"{"id":"x"}"#)
        .header("X-Civitai-Cost-Total", "3")
        .header("X-Civitai-Cost-By-Currency", ";;=;yellow=abc;blue=1e999");
    fake.script(SUBMIT, vec![junk]);
    assert_eq!(
        submit(&fake, &["--whatif"], &template(json!({})))
            .ok()
            .stdout,
        "estimate: 3 Buzz\n"
    );
    assert_eq!(fake.submits(), 0);
}

#[test]
fn a_403_with_a_blank_string_says_what_a_403_means() {
    let fake = Fake::start();
    fake.script(SUBMIT, vec![Reply::json(403, "\"  \"")]);
    let run = submit(&fake, &[], &template(json!({})));
    run.code(3).one_error_line();
    assert!(!run.stderr.contains("Forbidden: ;"), "{run:?}");
    run.stderr_has("error: 403 Forbidden: this token is not allowed to do that");
}

// Overlapping runs, as cron lines make them.

#[test]
fn runs_with_the_same_external_id_at_once_make_one_workflow() {
    let fake = Fake::start();
    fake.set_api_delay(std::time::Duration::from_millis(30));
    let url = fake.url.clone();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                Cli::new(None, &["--json", "submit", "-", "--external-id=cron-1"])
                    .env("CIVITAI_API_URL", &url)
                    .env("CIVITAI_API_TOKEN", crate::support::TOKEN)
                    .stdin(&template(json!({})))
                    .run()
            })
        })
        .collect();
    let ids: Vec<String> = runs
        .into_iter()
        .map(|r| {
            let run = r.join().unwrap();
            run.ok().json()["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(fake.submits(), 1);
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
}

#[test]
fn a_submit_downloading_beside_results_into_one_folder_leaves_whole_files() {
    let fake = Fake::start();
    let dir = temp_dir("submit-overlap");
    let t = json!({"steps": [{"$type": "imageGen", "name": "pic",
        "input": {"prompt": "x", "quantity": 3}}],
        "metadata": {"fake": {"reads": 4}}})
    .to_string();
    // The workflow is made first; then the same key waits and downloads
    // while `results` fetches the same files into the same folder.
    let first = submit(&fake, &["--json", "--external-id=both-1"], &t);
    let id = first.ok().json()["id"].as_str().unwrap().to_string();
    fake.set_chunk_delay(std::time::Duration::from_millis(5));
    let d = dir.to_str().unwrap().to_string();
    let (url, t2, d2) = (fake.url.clone(), t.clone(), d.clone());
    let waiting = std::thread::spawn(move || {
        Cli::new(
            None,
            &[
                "submit",
                "-",
                "--external-id=both-1",
                "--wait=30",
                "--download",
                "--dir",
                &d2,
            ],
        )
        .env("CIVITAI_API_URL", &url)
        .env("CIVITAI_API_TOKEN", crate::support::TOKEN)
        .stdin(&t2)
        .run()
    });
    let mut results = None;
    for _ in 0..100 {
        let run = cli(&fake, &["results", &id, "--download", "--dir", &d]);
        if run.code == 0 && run.stdout.contains("downloaded") {
            results = Some(run);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let waited = waiting.join().unwrap();
    waited.ok();
    results.expect("results never downloaded").ok();
    assert_eq!(fake.submits(), 1);
    let names = files(&dir);
    assert_eq!(
        names,
        (0..3)
            .map(|i| format!("{id}_pic_{i}.png"))
            .collect::<Vec<_>>(),
        "{waited:?}"
    );
    for n in names {
        let bytes = std::fs::read(dir.join(&n)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{n} is not whole");
    }
}

#[test]
fn a_gateway_error_or_a_garbled_answer_names_the_key_even_with_q() {
    // A 504 after the retries may come after the API made the workflow:
    // "try again" alone would make a second one under a new key.
    let fake = Fake::start();
    let gateway = || Reply::html(504, "<html>Gateway Timeout</html>").header("Retry-After", "0");
    fake.script(SUBMIT, vec![gateway(), gateway()]);
    let run = Cli::new(Some(&fake), &["-q", "submit", "-", "--retries=1"])
        .stdin(&template(json!({})))
        .run();
    run.code(5)
        .one_error_line()
        .stderr_has("504 Gateway Timeout")
        .stderr_has(
            "the workflow may have been made: submit again with --external-id=civitai-orch-",
        );
    // A 2xx that is no workflow: made, most likely.
    for body in ["<html>ok</html>", "[1]", "{\"status\":\"preparing\"}"] {
        fake.script(SUBMIT, vec![Reply::json(202, body)]);
        let run = Cli::new(Some(&fake), &["-q", "submit", "-", "--external-id=k-2xx"])
            .stdin(&template(json!({})))
            .run();
        run.code(1)
            .one_error_line()
            .stderr_has("submit again with --external-id=k-2xx");
    }
    // A 4xx is an answer that nothing was made: no such hint.
    fake.script(SUBMIT, vec![Reply::problem(409, "Conflict", "no")]);
    let run = submit(&fake, &["-q"], &template(json!({})));
    assert!(!run.stderr.contains("may have been made"), "{run:?}");
}

#[test]
fn an_estimate_carries_no_key_so_only_a_429_repeats_it() {
    let fake = Fake::start();
    fake.script(
        SUBMIT,
        vec![Reply::json(429, "{}").header("Retry-After", "0")],
    );
    submit(&fake, &["--whatif"], &template(json!({})))
        .ok()
        .stderr_has("rate limited (429)");
    assert_eq!(posts(&fake).len(), 2);
    // A dropped estimate is not sent again, and --max-cost submits nothing.
    fake.script(SUBMIT, vec![Reply::Close, Reply::Close]);
    let run = submit(&fake, &["--max-cost=100"], &template(json!({})));
    run.code(5).one_error_line();
    assert!(!run.stderr.contains("may have been made"), "{run:?}");
    assert_eq!(posts(&fake).len(), 3);
    assert!(posts(&fake)
        .iter()
        .all(|r| r.param("whatif") == Some("true")));
    assert_eq!(fake.submits(), 0);
}
