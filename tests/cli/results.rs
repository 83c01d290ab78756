//! `civitai-orch results`: the outputs of workflows listed in every shape, and
//! `results --download`: file names per step, ids from stdin, failures that
//! do not stop the rest. (What downloads share with `blob` is in
//! `downloads.rs`.)

use serde_json::{json, Value};

use crate::support::{cli, temp_dir, Cli, Fake, Reply, TOKEN};
use crate::{files, workflow_path, W1, W_COMFY, W_IMG, W_VID};
use crate::{image, workflow_with_images, JPEG};

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
fn unavailable_blobs_are_reported_not_failed() {
    let fake = Fake::start();
    let dir = temp_dir("unavail");
    let run = cli(
        &fake,
        &[
            "results",
            W_IMG,
            "--download",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    run.ok()
        .stdout_has(&format!(
            "skipped: {W_IMG}_imagegen_1 not available (NSFW content not allowed)"
        ))
        .stdout_has(&format!("Downloaded: {W_IMG}_imagegen_0.webp"));
    let doc = cli(
        &fake,
        &[
            "--json",
            "results",
            W_IMG,
            "--download",
            "--dir",
            dir.to_str().unwrap(),
        ],
    )
    .ok()
    .json();
    assert_eq!(doc["results"][0]["status"], "skipped");
    assert_eq!(doc["results"][1]["status"], "unavailable");
    assert_eq!(doc["results"][1]["file"], Value::Null);
}

#[test]
fn one_failure_does_not_stop_the_others() {
    let fake = Fake::start();
    let dir = temp_dir("partial");
    fake.script(
        "/signed/K3M9Q2Z7XW8V4T6R1P0N5B2C7D.png",
        vec![Reply::html(500, "<html>no</html>")],
    );
    let run = cli(
        &fake,
        &["results", W1, "--download", "--dir", dir.to_str().unwrap()],
    );
    run.code(1)
        .stdout_has(&format!("Downloaded: {W1}_0_0.jpeg"))
        .stderr_has("1 download(s) failed");
    assert_eq!(files(&dir), [format!("{W1}_0_0.jpeg")]);
}

#[test]
fn a_failed_file_is_named_in_its_error() {
    let fake = Fake::start();
    let dir = temp_dir("named");
    fake.script(
        "/signed/K3M9Q2Z7XW8V4T6R1P0N5B2C7D.png",
        vec![Reply::html(500, "<html>no</html>")],
    );
    cli(
        &fake,
        &["results", W1, "--download", "--dir", dir.to_str().unwrap()],
    )
    .code(1)
    .stderr_has(&format!("error: {W1}_0_1: 500 Internal Server Error"));
}

#[test]
fn results_reads_ids_from_stdin() {
    let fake = Fake::start();
    let dir = temp_dir("stdin");
    let listing = cli(
        &fake,
        &["--jsonl", "workflows", "--status=succeeded", "--take=2"],
    )
    .ok()
    .stdout
    .clone();
    let run = Cli::new(
        Some(&fake),
        &["results", "-", "--download", "--dir", dir.to_str().unwrap()],
    )
    .stdin(&listing)
    .run();
    // With --download only what became of each file is printed; its name
    // says which workflow it belongs to.
    run.ok()
        .stdout_has(&format!("Downloaded: {W1}_0_0.jpeg"))
        .stdout_has(&format!("Downloaded: {W_IMG}_imagegen_0.webp"));
    assert!(!run.stdout.contains("Workflow: "), "{run:?}");
    assert_eq!(files(&dir).len(), 3);
    let run = Cli::new(Some(&fake), &["--jsonl", "results", "-"])
        .stdin(&format!("{W1}\n\n{W_VID}\n"))
        .run();
    assert_eq!(run.ok().stdout.lines().count(), 2);
}

#[test]
fn steps_whose_names_clash_get_files_of_their_own() {
    let fake = Fake::start();
    let mut wf = fake.workflow(W1);
    let step = wf["steps"][0].clone();
    let mut a = step.clone();
    a["name"] = json!("a/b");
    let mut b = step.clone();
    b["name"] = json!("a_b");
    wf["steps"] = json!([a, b]);
    wf["id"] = json!("clash");
    fake.script(
        "/v2/consumer/workflows/clash",
        vec![Reply::json(200, &wf.to_string())],
    );
    let dir = temp_dir("clash");
    cli(
        &fake,
        &[
            "results",
            "clash",
            "--download",
            "--dir",
            dir.to_str().unwrap(),
        ],
    )
    .ok();
    // `a_b` is kept as it is; `a/b`, changed to be safe, carries a hash of
    // its raw name, so each step has files of its own, named the same on
    // every run.
    let names = files(&dir);
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&"clash_a_b_0.jpeg".to_string()), "{names:?}");
    assert!(names.contains(&"clash_a_b_1.png".to_string()), "{names:?}");
    let hashed: Vec<_> = names
        .iter()
        .filter(|n| n.starts_with("clash_a_b~"))
        .collect();
    assert_eq!(hashed.len(), 2, "{names:?}");
}

#[test]
fn an_unreadable_workflow_does_not_stop_the_others() {
    let fake = Fake::start();
    let dir = temp_dir("partial-wf");
    let run = cli(
        &fake,
        &[
            "--json",
            "results",
            W1,
            "missing-workflow",
            W_VID,
            "--download",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    run.code(4)
        .stderr_has("1 of 3 workflow id(s) failed (first: ");
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc[0]["workflowId"], W1);
    assert_eq!(doc[1]["error"]["kind"], "not_found");
    assert_eq!(doc[2]["results"][0]["status"], "downloaded");
    assert_eq!(files(&dir).len(), 4);
    for line in run.stderr.lines() {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|_| panic!("stderr is JSON lines: {line}"));
    }
}

#[test]
fn a_server_that_quotes_the_token_back_never_shows_it_per_workflow() {
    let fake = Fake::start();
    let echo = format!("bad request header Authorization: Bearer {TOKEN}");
    for id in ["bad-1", "bad-2"] {
        fake.script(
            &workflow_path(id),
            vec![Reply::problem(500, "Internal", &echo); 4],
        );
    }
    for mode in [None, Some("--json"), Some("--jsonl")] {
        let mut args: Vec<&str> = mode.into_iter().collect();
        args.extend(["results", "bad-1", W1, "-", "--retries=0"]);
        let run = Cli::new(Some(&fake), &args).stdin("bad-2\n").run();
        run.code(5);
        for text in [&run.stdout, &run.stderr] {
            assert!(!text.contains(TOKEN), "token leaked:{run:?}");
            assert!(!text.contains(&TOKEN[..12]), "token leaked:{run:?}");
        }
        run.stderr_has("Bearer [hidden]");
    }
}

#[test]
fn stdin_ids_ignore_a_bom_and_crlf_and_a_bad_line_stops_only_itself() {
    let fake = Fake::start();
    let input =
        format!("\u{feff}{W1}\r\n{{not json\r\n\r\n{{\"id\":\"{W_VID}\"}}\r\n{{\"x\":1}}\n");
    let run = Cli::new(Some(&fake), &["--jsonl", "results", "-"])
        .stdin(&input)
        .run();
    run.code(2)
        .stderr_has("stdin line 2: not a JSON object")
        .stderr_has("stdin line 5: a JSON line without ")
        .stderr_has("2 of 4 workflow id(s) failed (first: stdin line 2: ");
    let ids: Vec<String> = run
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["workflowId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, [W1, W_VID], "{run:?}");
    // Fetched -j at a time: in any order.
    let mut paths: Vec<String> = fake
        .api_requests()
        .iter()
        .map(|r| r.raw_path.clone())
        .collect();
    paths.sort();
    let mut want = [workflow_path(W1), workflow_path(W_VID)];
    want.sort();
    assert_eq!(paths, want, "the BOM reached the path");
}

#[test]
fn a_rerun_over_finished_files_asks_the_cdn_nothing() {
    let fake = Fake::start();
    let dir = temp_dir("rerun");
    let d = dir.to_str().unwrap();
    cli(&fake, &["results", W1, W_VID, "--download", "--dir", d]).ok();
    let before = fake.requests().len();
    let run = cli(&fake, &["results", W1, W_VID, "--download", "--dir", d]);
    run.ok().stdout_has("already complete");
    let again: Vec<_> = fake.requests().into_iter().skip(before).collect();
    assert_eq!(
        again.len(),
        2,
        "one API call per workflow, nothing else:{run:?}"
    );
    for r in again {
        assert!(
            r.raw_path.starts_with("/v2/consumer/workflows/"),
            "{}",
            r.raw_path
        );
    }
}

/// `... | jq .id | civitai-orch results -` (jq without -r) gives JSON
/// strings: such a line is the id it spells, never a path with quotes.
#[test]
fn a_stdin_line_that_is_a_json_string_is_that_id() {
    let fake = Fake::start();
    let run = Cli::new(Some(&fake), &["results", "-"])
        .stdin(&format!("\"{W1}\"\n"))
        .run();
    let paths: Vec<String> = fake
        .api_requests()
        .iter()
        .map(|r| r.raw_path.clone())
        .collect();
    assert_eq!(paths, [workflow_path(W1)], "{run:?}");
    run.ok();
}

/// A step without a `name` still lists its files (`Image:` lines) in the
/// text listing, as a named one does.
#[test]
fn an_unnamed_step_lists_its_files() {
    let fake = Fake::start();
    let mut wf = workflow_with_images("noname", json!([image(JPEG)]));
    wf["steps"][0].as_object_mut().unwrap().remove("name");
    fake.put_workflow(wf);
    cli(&fake, &["results", "noname"])
        .ok()
        .stdout_has("  Image: ");
}

#[test]
fn saving_options_without_download_are_refused_not_ignored() {
    for extra in [["--dir", "out"], ["--force", "--nsfw"], ["-j", "2"]] {
        let mut args = vec!["results", W1];
        args.extend(extra);
        Cli::new(None, &args)
            .run()
            .code(2)
            .stderr_has("applies only with --download");
    }
    Cli::new(None, &["blob", "x.png", "--dir", "out"])
        .run()
        .code(2)
        .stderr_has("--dir applies only with --download");
}
