//! Downloads against the fake API and its fake CDN: names, atomic files,
//! resume and skip, parallel transfers, expired links, the token.

mod support;

use std::path::Path;

use serde_json::{json, Value};
use support::{cli, temp_dir, Cli, Fake, Reply, TOKEN};

const W1: &str = "0-019be44b-181e-7a7e-ab1b-b58dc7610dca";
const W_IMG: &str = "0-019be450-3c2d-7b11-9a4e-2f61d0c8e5a7";
const W_VID: &str = "0-019be461-77aa-7c02-8d1e-6b0f2e9a1c44";
const W_COMFY: &str = "0-019be472-0f0f-7d33-b2a5-91c3e4d5f6a7";
const JPEG: &str = "JNFDW54JNTATNW42HACYCWSQP0.jpeg";

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn cut_reply(ctype: &str, declared: usize, body: &[u8]) -> Reply {
    Reply::Cut {
        status: 200,
        headers: vec![("Content-Type".into(), ctype.into())],
        declared,
        body: body.to_vec(),
    }
}

#[test]
fn every_content_type_gets_its_extension() {
    let fake = Fake::start();
    let dir = temp_dir("types");
    let d = dir.to_str().unwrap();
    cli(&fake, &["results", W_VID, "--download", "--dir", d]).ok();
    cli(&fake, &["results", W_IMG, "--download", "--dir", d]).ok();
    cli(&fake, &["results", W_COMFY, "--download", "--dir", d]).ok();
    cli(
        &fake,
        &[
            "blob",
            "GIF0ANIM1A2B3C4D5E6F7G8H9J.gif",
            "--download",
            "--dir",
            d,
        ],
    )
    .ok();
    assert_eq!(
        files(&dir),
        [
            format!("{W_IMG}_imagegen_0.webp"),
            format!("{W_VID}_video_0.mp4"),
            format!("{W_VID}_video_1.webm"),
            format!("{W_COMFY}_comfy_0.png"),
            "GIF0ANIM1A2B3C4D5E6F7G8H9J.gif".to_string(),
        ]
    );
    // Ids without an extension take it from Content-Type, else `.bin`.
    for (ctype, ext) in [
        ("image/jpeg", "jpg"),
        ("image/png", "png"),
        ("image/webp", "webp"),
        ("image/gif", "gif"),
        ("video/mp4", "mp4"),
        ("video/webm", "webm"),
        ("audio/mpeg", "mp3"),
        ("application/zip", "zip"),
        ("application/x-unknown", "bin"),
    ] {
        let id = format!("NOEXT{}", ext.to_uppercase());
        fake.script(
            &format!("/v2/consumer/blobs/{id}"),
            // The API serves the bytes itself: asked once for the URL, once
            // for the file.
            vec![
                Reply::Full {
                    status: 200,
                    headers: vec![("Content-Type".into(), ctype.into())],
                    body: b"bytes".to_vec(),
                };
                2
            ],
        );
        cli(&fake, &["blob", &id, "--download", "--dir", d])
            .ok()
            .stdout_has(&format!("{id}.{ext} (5 bytes)"));
        assert!(dir.join(format!("{id}.{ext}")).is_file());
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
fn a_dropped_connection_leaves_no_file_then_a_rerun_resumes() {
    let fake = Fake::start();
    let dir = temp_dir("drop");
    let full = fake.media(JPEG);
    let half = &full[..full.len() / 2];
    fake.script(
        &format!("/signed/{JPEG}"),
        vec![cut_reply("image/jpeg", full.len(), half)],
    );
    let run = Cli::new(
        Some(&fake),
        &[
            "blob",
            JPEG,
            "--download",
            "--dir",
            dir.to_str().unwrap(),
            "--retries=0",
        ],
    )
    .run();
    run.code(5)
        .one_error_line()
        .stderr_has(&format!("download of {}", dir.join(JPEG).display()))
        .stderr_has("run again to resume");
    assert_eq!(
        files(&dir),
        [format!("{JPEG}.part")],
        "no final file after a drop"
    );
    assert_eq!(
        std::fs::read(dir.join(format!("{JPEG}.part"))).unwrap(),
        half
    );

    // The rerun asks for the rest and completes the file.
    cli(
        &fake,
        &["blob", JPEG, "--download", "--dir", dir.to_str().unwrap()],
    )
    .ok();
    assert_eq!(files(&dir), [JPEG.to_string()]);
    assert_eq!(std::fs::read(dir.join(JPEG)).unwrap(), full);
    let last = fake.cdn_requests().pop().unwrap();
    assert_eq!(
        last.header("range"),
        Some(format!("bytes={}-", half.len()).as_str())
    );
    assert_eq!(last.header("accept-encoding"), Some("identity"));
}

#[test]
fn a_server_that_ignores_range_restarts_the_file() {
    let fake = Fake::start();
    let dir = temp_dir("norange");
    let full = fake.media(JPEG);
    std::fs::write(
        dir.join(format!("{JPEG}.part")),
        b"garbage that is not the start",
    )
    .unwrap();
    fake.script(
        &format!("/signed/{JPEG}"),
        vec![Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), "image/jpeg".into())],
            body: full.clone(),
        }],
    );
    cli(
        &fake,
        &["blob", JPEG, "--download", "--dir", dir.to_str().unwrap()],
    )
    .ok();
    assert_eq!(std::fs::read(dir.join(JPEG)).unwrap(), full);
    assert_eq!(files(&dir), [JPEG.to_string()]);
}

#[test]
fn a_whole_part_file_answered_416_counts_as_done() {
    let fake = Fake::start();
    let dir = temp_dir("416");
    let full = fake.media(JPEG);
    std::fs::write(dir.join(format!("{JPEG}.part")), &full).unwrap();
    cli(
        &fake,
        &["blob", JPEG, "--download", "--dir", dir.to_str().unwrap()],
    )
    .ok();
    assert_eq!(files(&dir), [JPEG.to_string()]);
    assert_eq!(std::fs::read(dir.join(JPEG)).unwrap(), full);
}

#[test]
fn a_short_body_is_a_failure_with_no_final_file() {
    let fake = Fake::start();
    let dir = temp_dir("short");
    // The answer claims more than it sends, then closes: a Content-Length mismatch.
    fake.script(
        &format!("/signed/{JPEG}"),
        vec![cut_reply("image/jpeg", 10_000, b"tiny")],
    );
    cli(
        &fake,
        &[
            "blob",
            JPEG,
            "--download",
            "--dir",
            dir.to_str().unwrap(),
            "--retries=0",
        ],
    )
    .code(5)
    .one_error_line();
    assert!(!dir.join(JPEG).exists());
}

#[test]
fn an_error_answer_writes_nothing() {
    let fake = Fake::start();
    let dir = temp_dir("err");
    fake.script(
        &format!("/signed/{JPEG}"),
        vec![Reply::html(500, "<html>x</html>")],
    );
    cli(
        &fake,
        &["blob", JPEG, "--download", "--dir", dir.to_str().unwrap()],
    )
    .code(5);
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
}

#[test]
fn complete_files_are_skipped_unless_forced() {
    let fake = Fake::start();
    let dir = temp_dir("skip");
    let d = dir.to_str().unwrap();
    cli(&fake, &["results", W1, "--download", "--dir", d]).ok();
    let run = cli(&fake, &["results", W1, "--download", "--dir", d]);
    run.ok()
        .stdout_has(&format!("skipped: {W1}_0_0.jpeg already complete ("));
    assert!(!run.stdout.contains("Downloaded:"), "{run:?}");
    let run = cli(&fake, &["results", W1, "--download", "--dir", d, "--force"]);
    run.ok().stdout_has(&format!("Downloaded: {W1}_0_0.jpeg"));
    let doc = cli(&fake, &["--json", "results", W1, "--download", "--dir", d])
        .ok()
        .json();
    assert_eq!(doc["results"][0]["status"], "skipped");
    assert_eq!(doc["results"][0]["bytes"], fake.media(JPEG).len());
    assert!(doc["results"][0]["file"]
        .as_str()
        .unwrap()
        .ends_with(&format!("{W1}_0_0.jpeg")));
}

#[test]
fn hostile_blob_ids_land_inside_the_folder() {
    let fake = Fake::start();
    let dir = temp_dir("hostile");
    let inner = dir.join("inner");
    std::fs::create_dir_all(&inner).unwrap();
    for id in ["../../etc/passwd", "a/b", "CON", "new\nline", ".."] {
        let encoded: String = id
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        // Dot segments are encoded too, or servers would resolve them.
        let encoded = if id == ".." {
            "%2E%2E".to_string()
        } else {
            encoded
        };
        fake.script(
            &format!("/v2/consumer/blobs/{encoded}"),
            // The API serves the bytes itself: asked once for the URL, once
            // for the file.
            vec![
                Reply::Full {
                    status: 200,
                    headers: vec![("Content-Type".into(), "image/png".into())],
                    body: b"png".to_vec(),
                };
                2
            ],
        );
        cli(
            &fake,
            &["blob", id, "--download", "--dir", inner.to_str().unwrap()],
        )
        .ok();
    }
    let names = files(&inner);
    assert_eq!(names.len(), 5, "{names:?}");
    for n in &names {
        assert!(
            !n.contains('/') && !n.contains('\n') && n != "CON.png",
            "{n}"
        );
    }
    assert_eq!(files(&dir), ["inner"], "nothing written outside --dir");
}

#[test]
fn the_cdn_never_sees_the_token_and_expired_links_are_renewed() {
    let fake = Fake::start();
    let dir = temp_dir("expired");
    // The signed URL in the workflow has expired: the CDN says 403 once.
    fake.script(
        &format!("/signed/{JPEG}"),
        vec![Reply::Full {
            status: 403,
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
                .to_vec(),
        }],
    );
    let run = cli(
        &fake,
        &[
            "results",
            W1,
            "--download",
            "--nsfw",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    run.ok().stdout_has(&format!("Downloaded: {W1}_0_0.jpeg"));
    assert_eq!(
        std::fs::read(dir.join(format!("{W1}_0_0.jpeg"))).unwrap(),
        fake.media(JPEG)
    );
    let api = fake.api_requests();
    let renewal = api
        .iter()
        .find(|r| r.raw_path == format!("/v2/consumer/blobs/{JPEG}"))
        .expect("asked for a fresh link");
    assert_eq!(renewal.param("hideMatureContent"), Some("false"));
    assert_eq!(api[0].param("hideMatureContent"), Some("false"));
    for r in fake.cdn_requests() {
        assert_eq!(r.header("authorization"), None);
    }
    for r in api {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
}

#[test]
fn parallel_downloads_run_j_at_a_time_and_lines_stay_whole() {
    let fake = Fake::start();
    let mut wf = fake.workflow(W1);
    let image = wf["steps"][0]["output"]["images"][0].clone();
    wf["id"] = json!("many");
    wf["steps"][0]["output"]["images"] = Value::Array(vec![image; 8]);
    let body = wf.to_string();
    fake.set_cdn_delay(std::time::Duration::from_millis(300));
    for jobs in ["1", "4"] {
        let fake2 = Fake::start();
        fake2.set_cdn_delay(std::time::Duration::from_millis(300));
        fake2.script(
            "/v2/consumer/workflows/many",
            vec![Reply::json(
                200,
                &body.replace(&fake.cdn_url, &fake2.cdn_url),
            )],
        );
        let dir = temp_dir("par");
        let run = cli(
            &fake2,
            &[
                "results",
                "many",
                "--download",
                "-j",
                jobs,
                "--dir",
                dir.to_str().unwrap(),
            ],
        );
        run.ok();
        let lines: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("Downloaded: "))
            .collect();
        assert_eq!(lines.len(), 8, "{run:?}");
        for l in lines {
            assert!(
                l.starts_with("Downloaded: many_0_") && l.ends_with(" bytes)"),
                "{l}"
            );
        }
        assert_eq!(
            fake2.cdn_max_inflight(),
            jobs.parse::<usize>().unwrap(),
            "-j {jobs}"
        );
    }
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
fn output_writes_to_a_file_or_stdout() {
    let fake = Fake::start();
    let run = cli(&fake, &["blob", JPEG, "--output", "-"]);
    run.ok();
    assert_eq!(run.raw_stdout, fake.media(JPEG));
    let dir = temp_dir("out");
    let target = dir.join("picture.jpg");
    cli(&fake, &["blob", JPEG, "-o", target.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read(&target).unwrap(), fake.media(JPEG));
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
    run.ok()
        .stdout_has(&format!("Workflow: {W1}"))
        .stdout_has(&format!("Workflow: {W_IMG}"));
    assert_eq!(files(&dir).len(), 3);
    let run = Cli::new(Some(&fake), &["--jsonl", "results", "-"])
        .stdin(&format!("{W1}\n\n{W_VID}\n"))
        .run();
    assert_eq!(run.ok().stdout.lines().count(), 2);
}

#[test]
fn an_interrupted_download_leaves_no_final_file() {
    let fake = Fake::start();
    let dir = temp_dir("interrupt");
    let size = 32 * 1024 * 1024;
    let id = format!("synthetic-{size}.bin");
    let mut child = Cli::new(
        Some(&fake),
        &["blob", &id, "--download", "--dir", dir.to_str().unwrap()],
    )
    .cmd
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    // Kill it as soon as the .part has bytes, well before the end.
    let part = dir.join(format!("{id}.part"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::metadata(&part).map_or(0, |m| m.len()) == 0
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !dir.join(&id).exists(),
        "a killed download left a final file"
    );
    // The next run resumes from the .part and completes it.
    let had = std::fs::metadata(&part).map_or(0, |m| m.len());
    cli(
        &fake,
        &["blob", &id, "--download", "--dir", dir.to_str().unwrap()],
    )
    .ok();
    assert_eq!(std::fs::metadata(dir.join(&id)).unwrap().len(), size as u64);
    if had > 0 {
        let range = fake.cdn_requests().pop().unwrap();
        assert!(range.header("range").is_some(), "resumed with a range");
    }
    let data = std::fs::read(dir.join(&id)).unwrap();
    assert!(
        data.iter()
            .enumerate()
            .all(|(i, b)| *b == support::fake::pattern_byte(i as u64)),
        "bytes match"
    );
}

#[test]
fn progress_is_drawn_on_a_terminal_only() {
    let fake = Fake::start();
    let dir = temp_dir("progress");
    // 128 chunks, 5 ms apart: long enough for several redraws.
    let id = "synthetic-8388608.bin";
    fake.set_chunk_delay(std::time::Duration::from_millis(5));
    // Not a terminal: stderr stays empty.
    let run = cli(
        &fake,
        &[
            "blob",
            id,
            "--download",
            "--dir",
            dir.to_str().unwrap(),
            "--force",
        ],
    );
    run.ok();
    assert!(run.stderr.is_empty(), "{run:?}");
    // A terminal, through script(1): one updating line with bytes, total and rate.
    let line = format!(
        "{} blob {id} --download --force --dir {}",
        support::BIN,
        dir.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .env("CIVITAI_API_URL", &fake.url)
        .env("CIVITAI_API_TOKEN", TOKEN)
        .output()
        .expect("script(1) from util-linux");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(" / 8.0 MiB ") && text.contains("/s"),
        "{text}"
    );
    assert!(text.contains("Downloaded: "), "{text}");
}

#[test]
fn a_symlinked_part_file_is_replaced_not_written_through() {
    let fake = Fake::start();
    let dir = temp_dir("symlink");
    let outside = temp_dir("outside");
    let victim = outside.join("victim");
    std::fs::write(&victim, b"precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join(format!("{JPEG}.part"))).unwrap();
    cli(
        &fake,
        &["blob", JPEG, "--download", "--dir", dir.to_str().unwrap()],
    )
    .ok();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n");
    let saved = dir.join(JPEG);
    assert!(std::fs::symlink_metadata(&saved).unwrap().is_file());
    assert_eq!(std::fs::read(&saved).unwrap(), fake.media(JPEG));
    assert_eq!(
        fake.cdn_requests()[0].header("range"),
        None,
        "no resume from a link"
    );
}

#[test]
fn odd_range_answers_never_become_files() {
    let fake = Fake::start();
    let dir = temp_dir("ranges");
    let d = dir.to_str().unwrap();
    let path = format!("/signed/{JPEG}");
    let full = fake.media(JPEG);
    // A 416 to a plain request: nothing is saved.
    fake.script(
        &path,
        vec![Reply::Full {
            status: 416,
            headers: vec![("Content-Range".into(), "bytes */1".into())],
            body: b"not satisfiable".to_vec(),
        }],
    );
    cli(
        &fake,
        &["blob", JPEG, "--download", "--dir", d, "--retries=0"],
    )
    .code(1)
    .stderr_has("nothing was saved");
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));

    // A 206 that is only part of the rest is not appended: start over.
    std::fs::write(dir.join(format!("{JPEG}.part")), &full[..100]).unwrap();
    let short = format!("bytes 100-149/{}", full.len());
    fake.script(
        &path,
        vec![Reply::Full {
            status: 206,
            headers: vec![
                ("Content-Type".into(), "image/jpeg".into()),
                ("Content-Range".into(), short),
            ],
            body: full[100..150].to_vec(),
        }],
    );
    cli(&fake, &["blob", JPEG, "--download", "--dir", d]).ok();
    assert_eq!(std::fs::read(dir.join(JPEG)).unwrap(), full);
    assert_eq!(files(&dir), [JPEG.to_string()]);
}

#[test]
fn a_compressed_body_is_refused() {
    let fake = Fake::start();
    let dir = temp_dir("gzip");
    fake.script(
        &format!("/signed/{JPEG}"),
        vec![Reply::Full {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "image/jpeg".into()),
                ("Content-Encoding".into(), "gzip".into()),
            ],
            body: b"\x1f\x8b compressed".to_vec(),
        }],
    );
    cli(
        &fake,
        &["blob", JPEG, "--download", "--dir", dir.to_str().unwrap()],
    )
    .code(1)
    .one_error_line()
    .stderr_has("encoded as 'gzip'");
    assert!(files(&dir).is_empty());
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
    assert_eq!(
        files(&dir),
        [
            "clash_a_b_0-2.jpeg",
            "clash_a_b_0.jpeg",
            "clash_a_b_1-2.png",
            "clash_a_b_1.png"
        ]
    );
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
        .stderr_has("1 of 3 workflow(s) could not be read");
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
fn two_runs_never_write_one_part_file_at_once() {
    let fake = Fake::start();
    let dir = temp_dir("lock");
    let part = dir.join(format!("{JPEG}.part"));
    let head = &fake.media(JPEG)[..100];
    std::fs::write(&part, head).unwrap();
    // Another run holds the .part.
    let held = std::fs::OpenOptions::new()
        .append(true)
        .open(&part)
        .unwrap();
    held.lock().unwrap();
    cli(
        &fake,
        &["blob", JPEG, "--download", "--dir", dir.to_str().unwrap()],
    )
    .code(1)
    .stderr_has("being written by another run");
    assert_eq!(std::fs::read(&part).unwrap(), head);
    drop(held);
    cli(
        &fake,
        &["blob", JPEG, "--download", "--dir", dir.to_str().unwrap()],
    )
    .ok();
    assert_eq!(std::fs::read(dir.join(JPEG)).unwrap(), fake.media(JPEG));
}
