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

#[test]
fn json_entries_carry_the_job_the_nsfw_level_and_why_a_file_is_blocked() {
    let fake = Fake::start();
    for mode in ["--json", "--jsonl"] {
        let run = cli(&fake, &[mode, "results", W_IMG]);
        let doc: Value = serde_json::from_str(run.ok().stdout.trim()).unwrap();
        let r = &doc["results"];
        assert_eq!(
            r[0]["jobId"], "b7a1c3d2-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            "{run:?}"
        );
        assert_eq!(r[0]["nsfwLevel"], "pg");
        // Present, and null, when the output has none.
        assert_eq!(r[0].get("blockedReason"), Some(&Value::Null), "{run:?}");
        assert_eq!(r[1]["jobId"], "c8b2d4e3-5f60-4b7c-9d8e-0f1a2b3c4d5e");
        assert_eq!(r[1]["nsfwLevel"], "x");
        assert_eq!(r[1]["blockedReason"], "NSFW content not allowed");
        // No counts without --download.
        assert_eq!(doc.get("counts"), None, "{run:?}");
    }
    // A bare blob id says nothing of those: null, not missing.
    let wf = workflow_with_images("bare", json!([]));
    let mut wf = wf;
    wf["steps"][0]["output"] = json!({"blobId": "b1.png"});
    fake.put_workflow(wf);
    let doc = cli(&fake, &["--json", "results", "bare"]).ok().json();
    for key in ["jobId", "nsfwLevel", "blockedReason"] {
        assert_eq!(
            doc["results"][0].get(key),
            Some(&Value::Null),
            "{key}: {doc}"
        );
    }
}

#[test]
fn fields_cut_each_file_down_to_a_row_or_an_object() {
    let fake = Fake::start();
    let run = cli(
        &fake,
        &[
            "results",
            W1,
            W_IMG,
            "--fields",
            "workflowId,id,nsfwLevel,blockedReason",
        ],
    );
    run.ok();
    assert_eq!(
        run.stdout,
        format!(
            "workflowId\tid\tnsfwLevel\tblockedReason\n\
             {W1}\tJNFDW54JNTATNW42HACYCWSQP0.jpeg\tpg13\t\n\
             {W1}\tK3M9Q2Z7XW8V4T6R1P0N5B2C7D.png\tpg\t\n\
             {W_IMG}\t7W2XH0K1C4ZVB9N3M6Q8R5T1YA.webp\tpg\t\n\
             {W_IMG}\t9PZQ1RSTV2WXY3ABC4DEF5GHJK.jpeg\tx\tNSFW content not allowed\n"
        ),
        "{run:?}"
    );
    // --json: one flat array of files, even for one workflow.
    let doc = cli(
        &fake,
        &["--json", "results", W_IMG, "--fields", "workflowId,id"],
    )
    .ok()
    .json();
    assert_eq!(
        doc,
        json!([
            {"workflowId": W_IMG, "id": "7W2XH0K1C4ZVB9N3M6Q8R5T1YA.webp"},
            {"workflowId": W_IMG, "id": "9PZQ1RSTV2WXY3ABC4DEF5GHJK.jpeg"}
        ])
    );
    // --jsonl: a line per file; a workflow that cannot be read is a line
    // of its own with its error.
    let run = cli(
        &fake,
        &["--jsonl", "results", W1, "missing", "--fields", "id,kind"],
    );
    run.code(4);
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{run:?}");
    assert_eq!(
        lines[0],
        json!({"id": "JNFDW54JNTATNW42HACYCWSQP0.jpeg", "kind": "image"})
    );
    assert_eq!(lines[2]["workflowId"], "missing");
    assert_eq!(lines[2]["error"]["kind"], "not_found");
    // An empty table still has its header.
    cli(&fake, &["results", W_COMFY, "--fields", "id"])
        .ok()
        .stdout_has("id\n");
}

/// `workflows --all --jsonl | results - --download` downloads while the
/// walk goes on: the first workflow is fetched, and its files saved, while
/// stdin is still open.
#[test]
fn results_from_stdin_starts_before_stdin_is_closed() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let fake = Fake::start();
    let dir = temp_dir("live");
    let args = ["results", "-", "--download", "--dir", dir.to_str().unwrap()];
    let mut child = Cli::new(Some(&fake), &args)
        .cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{W1}").unwrap();
    stdin.flush().unwrap();
    let first = [format!("{W1}_0_0.jpeg"), format!("{W1}_0_1.png")];
    let deadline = Instant::now() + Duration::from_secs(20);
    let started = loop {
        let asked = fake
            .api_requests()
            .iter()
            .any(|r| r.raw_path == workflow_path(W1));
        if asked && first.iter().all(|f| dir.join(f).is_file()) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if !started {
        let _ = child.kill();
    }
    // Only now the next line, and the end of stdin.
    let _ = writeln!(stdin, "{W_VID}");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let run = crate::support::Run {
        line: format!("civitai-orch {}", args.join(" ")),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        raw_stdout: out.stdout,
    };
    assert!(started, "nothing was done before stdin closed:{run:?}");
    run.ok()
        .stdout_has(&format!("Downloaded: {W_VID}_video_0.mp4"));
    assert_eq!(
        run.stdout.lines().last(),
        Some("downloaded 4, skipped 0, unavailable 0, failed 0"),
        "{run:?}"
    );
}

/// A workflow as `workflows --jsonl` prints it, stored in the fake too:
/// one available image whose signed URL expires at `expires`.
fn listed(fake: &Fake, id: &str, status: &str, expires: &str) -> String {
    let mut img = image(JPEG);
    img["urlExpiresAt"] = json!(expires);
    let mut wf = workflow_with_images(id, json!([img]));
    wf["status"] = json!(status);
    fake.put_workflow(wf.clone());
    format!("{}\n", wf.to_string().replace("{{CDN}}", &fake.cdn_url))
}

/// An instant `secs` from now, as the API writes them.
fn from_now(secs: i64) -> String {
    civitai_orch::dates::format_iso_millis(
        time::OffsetDateTime::now_utc() + time::Duration::seconds(secs),
    )
}

#[test]
fn a_final_workflow_on_stdin_with_fresh_links_is_not_fetched_again() {
    let fake = Fake::start();
    let line = listed(&fake, "reuse", "succeeded", &from_now(3600));
    let dir = temp_dir("reuse");
    let run = Cli::new(
        Some(&fake),
        &[
            "--jsonl",
            "results",
            "-",
            "--download",
            "--dir",
            dir.to_str().unwrap(),
        ],
    )
    .stdin(&line)
    .run();
    run.ok();
    assert!(
        fake.api_requests().is_empty(),
        "{:?}{run:?}",
        fake.api_requests()
    );
    assert_eq!(fake.cdn_requests().len(), 1, "{run:?}");
    assert_eq!(
        std::fs::read(dir.join("reuse_0_0.jpeg")).unwrap(),
        fake.media(JPEG)
    );
    let doc: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(doc["workflowId"], "reuse");
    assert_eq!(doc["results"][0]["status"], "downloaded");
    // The listing too: nothing asked.
    Cli::new(Some(&fake), &["results", "-"])
        .stdin(&line)
        .run()
        .ok()
        .stdout_has("  Image: ");
    assert!(fake.api_requests().is_empty());
}

#[test]
fn a_workflow_on_stdin_is_fetched_again_when_it_may_be_stale() {
    let fake = Fake::start();
    let cases = [
        ("nsfw", "succeeded", from_now(3600), true),
        ("running", "processing", from_now(3600), false),
        ("expired", "succeeded", from_now(-60), false),
        ("expiring", "succeeded", from_now(30), false),
    ];
    for (id, status, expires, nsfw) in cases {
        let line = listed(&fake, id, status, &expires);
        let dir = temp_dir(id);
        let mut args = vec!["results", "-", "--download", "--dir", dir.to_str().unwrap()];
        if nsfw {
            args.push("--nsfw");
        }
        let before = fake.api_requests().len();
        let run = Cli::new(Some(&fake), &args).stdin(&line).run();
        run.ok();
        let asked: Vec<_> = fake.api_requests().into_iter().skip(before).collect();
        assert_eq!(asked.len(), 1, "{id}: {asked:?}{run:?}");
        assert_eq!(asked[0].raw_path, workflow_path(id), "{id}");
        if nsfw {
            assert_eq!(asked[0].param("hideMatureContent"), Some("false"));
        }
        assert!(dir.join(format!("{id}_0_0.jpeg")).is_file(), "{id}{run:?}");
    }
    // A line with only the id is fetched, of course.
    let before = fake.api_requests().len();
    Cli::new(Some(&fake), &["results", "-"])
        .stdin(&format!("{{\"id\":\"{W1}\",\"status\":\"succeeded\"}}\n"))
        .run()
        .ok();
    assert_eq!(fake.api_requests().len(), before + 1);
}

/// Stderr whose reader is gone (`2>&1 | head -1` ended, a closed log
/// pipe): the counts line that `--jsonl` sends there used to panic the run
/// (exit 101, an abort in release). Lines on stderr are best effort; the
/// run still does its work and exits 0.
#[test]
fn a_closed_stderr_does_not_stop_a_download() {
    let fake = Fake::start();
    let dir = temp_dir("closed-stderr");
    for args in [
        vec!["--jsonl", "results", W1, "--download"],
        vec!["results", W1, W_IMG, "--download", "--fields=file"],
        vec!["-v", "results", W_VID, "--download"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut c = Cli::new(Some(&fake), &args).cmd;
        c.arg(format!("--dir={}", dir.display()))
            .stdin(std::process::Stdio::null())
            .stderr(writer);
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    assert!(files(&dir).iter().all(|f| !f.ends_with(".part")));
}

/// The same workflow twice in one run (`results W W`, or a stdin stream
/// where a workflow comes again: two walks, a page the server repeats):
/// its files are the same files, named the same, fetched once; they used
/// to be downloaded again as `NAME-2`, a name that depends on what else
/// the run was asked for.
#[test]
fn a_workflow_given_twice_is_downloaded_once_under_its_own_names() {
    let fake = Fake::start();
    let dir = temp_dir("twice");
    let d = format!("--dir={}", dir.display());
    let run = cli(&fake, &["results", W1, W1, "--download", &d]);
    run.ok()
        .stdout_has("downloaded 2, skipped 2, unavailable 0, failed 0");
    assert_eq!(
        files(&dir),
        [format!("{W1}_0_0.jpeg"), format!("{W1}_0_1.png")]
    );
    let run = Cli::new(Some(&fake), &["results", "-", "--download", &d])
        .stdin(&format!("{W1}\n{W_IMG}\n{W1}\n"))
        .run();
    run.ok()
        .stdout_has("downloaded 1, skipped 4, unavailable 1, failed 0");
    assert_eq!(
        files(&dir),
        [
            format!("{W1}_0_0.jpeg"),
            format!("{W1}_0_1.png"),
            format!("{W_IMG}_imagegen_0.webp")
        ]
    );
    assert_eq!(fake.cdn_requests().len(), 3);
}

/// `-j N` bounds the API requests in flight for the whole run: the
/// workflows fetched ahead and the blob links of the downloads together
/// (they were N each, 2N at once).
#[test]
fn results_download_keeps_at_most_j_api_requests_in_flight() {
    let fake = Fake::start();
    let media = [
        "5JB0A1PRT2CQ8XV4M7N9K3D6FG.png",
        "5JB0B2QSV3DR9YW5N8P0M4E7GH.png",
        "5JB0C3RTW4ES0ZX6P9Q1N5F8HJ.png",
        "5JB0E5TWY6GV2B18R1S3Q7H0KM.png",
    ];
    let mut ids = Vec::new();
    for i in 0..6 {
        let id = format!("wf-{i}");
        // No `url`: each file's link comes from the API's blob endpoint.
        let images: Vec<Value> = media
            .iter()
            .map(|m| json!({"type": "image", "id": m, "available": true}))
            .collect();
        fake.put_workflow(workflow_with_images(&id, json!(images)));
        ids.push(id);
    }
    fake.set_api_delay(std::time::Duration::from_millis(100));
    let dir = temp_dir("inflight");
    let d = format!("--dir={}", dir.display());
    let mut args = vec!["results", "--download", "-j", "2", &d];
    args.extend(ids.iter().map(String::as_str));
    cli(&fake, &args)
        .ok()
        .stdout_has("downloaded 24, skipped 0, unavailable 0, failed 0");
    assert_eq!(fake.api_max_inflight(), 2);
}

/// Two cron lines at once: `workflows --all --jsonl | results - --download`
/// twice into one folder, each listing holding every workflow twice (a
/// page the server repeated). Every file ends whole under its one name,
/// each downloaded by one run only, nothing left as `.part`.
#[test]
fn two_piped_runs_into_one_folder_share_the_work() {
    let fake = Fake::start();
    fake.set_chunk_delay(std::time::Duration::from_millis(2));
    let listing = cli(&fake, &["--jsonl", "workflows", "--all"])
        .ok()
        .stdout
        .clone();
    let stdin = format!("{listing}{listing}");
    let dir = temp_dir("two-pipes");
    let d = format!("--dir={}", dir.display());
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let cmd =
                Cli::new(Some(&fake), &["results", "-", "--download", &d, "-j", "3"]).stdin(&stdin);
            std::thread::spawn(move || cmd.run())
        })
        .collect();
    let mut downloaded = 0;
    for run in runs {
        let run = run.join().unwrap();
        run.ok();
        let counts = run.stdout.lines().last().unwrap().to_string();
        let n: usize = counts
            .strip_prefix("downloaded ")
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no counts line:{run:?}"));
        downloaded += n;
    }
    let names = files(&dir);
    assert!(!names.iter().any(|n| n.ends_with(".part")), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.contains("_0-2.") || n.contains("-2.")),
        "{names:?}"
    );
    assert_eq!(downloaded, names.len(), "{names:?}");
    for n in &names {
        assert!(
            std::fs::metadata(dir.join(n)).unwrap().len() > 0,
            "{n} is empty"
        );
    }
}
