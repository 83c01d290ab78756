//! What `results --download` and `blob --download` share: file extensions,
//! atomic `.part` files and their locks, resume and odd range answers, skip
//! and `--force`, expired links renewed, parallel transfers (`-j`), refused
//! encodings, progress on a terminal.

use serde_json::{json, Value};

use crate::support::{cli, temp_dir, Cli, Fake, Reply, TOKEN};
use crate::{cut_reply, files, JPEG, W1, W_COMFY, W_IMG, W_VID};
use crate::{image, raw_server, workflow_with_images};

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
            .all(|(i, b)| *b == crate::support::fake::pattern_byte(i as u64)),
        "bytes match"
    );
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
    .ok()
    .stdout_has(&format!("{JPEG} (another run is downloading it)"));
    assert!(
        fake.cdn_requests().is_empty(),
        "a held .part is not asked for"
    );
    assert_eq!(std::fs::read(&part).unwrap(), head);
    drop(held);
    cli(
        &fake,
        &["blob", JPEG, "--download", "--dir", dir.to_str().unwrap()],
    )
    .ok();
    assert_eq!(std::fs::read(dir.join(JPEG)).unwrap(), fake.media(JPEG));
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
        crate::support::BIN,
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
fn a_cdn_redirect_is_followed_without_the_token_a_few_hops_at_most() {
    let fake = Fake::start();
    let dir = temp_dir("cdn-302");
    let path = format!("/signed/{JPEG}");
    fake.script(
        &path,
        vec![Reply::redirect(302, &format!("{{{{CDN}}}}{path}?hop=1"))],
    );
    cli(
        &fake,
        &["results", W1, "--download", "--dir", dir.to_str().unwrap()],
    )
    .ok();
    assert_eq!(
        std::fs::read(dir.join(format!("{W1}_0_0.jpeg"))).unwrap(),
        fake.media(JPEG)
    );
    let hops: Vec<_> = fake
        .cdn_requests()
        .into_iter()
        .filter(|r| r.raw_path == path)
        .collect();
    assert_eq!(hops.len(), 2);
    assert!(hops.iter().all(|r| r.header("authorization").is_none()));

    // Endless redirects, or one to another scheme, end in a clear failure.
    let fake = Fake::start();
    let dir = temp_dir("cdn-loop");
    fake.script(
        &path,
        vec![Reply::redirect(302, &format!("{{{{CDN}}}}{path}")); 10],
    );
    cli(
        &fake,
        &["results", W1, "--download", "--dir", dir.to_str().unwrap()],
    )
    .code(1)
    .stderr_has("redirected")
    .stderr_has("more than 5 times");
    let fake = Fake::start();
    fake.script(&path, vec![Reply::redirect(302, "file:///etc/passwd")]);
    cli(
        &fake,
        &["results", W1, "--download", "--dir", dir.to_str().unwrap()],
    )
    .code(1)
    .stderr_has("not an http(s) URL");
    assert!(!files(&dir).iter().any(|f| f.contains("_0_0.jpeg")));
}

#[test]
fn a_fresh_or_forced_run_never_takes_a_part_another_run_holds() {
    use std::os::unix::fs::MetadataExt;
    let fake = Fake::start();
    let dir = temp_dir("held");
    let name = format!("{W1}_0_0.jpeg");
    let part = dir.join(format!("{name}.part"));
    std::fs::write(&part, b"half").unwrap();
    let held = std::fs::OpenOptions::new()
        .append(true)
        .open(&part)
        .unwrap();
    held.lock().unwrap();
    let inode = std::fs::metadata(&part).unwrap().ino();
    for extra in [None, Some("--force")] {
        let mut args = vec!["results", W1, "--download", "--dir", dir.to_str().unwrap()];
        args.extend(extra);
        let run = cli(&fake, &args);
        run.ok()
            .stdout_has(&format!("skipped: {name} (another run is downloading it)"));
        assert_eq!(std::fs::metadata(&part).unwrap().ino(), inode, "{run:?}");
        assert_eq!(std::fs::read(&part).unwrap(), b"half");
        assert!(!dir.join(&name).exists(), "{run:?}");
    }
    // The other file of the workflow was not held, and is whole.
    assert_eq!(
        std::fs::read(dir.join(format!("{W1}_0_1.png"))).unwrap(),
        fake.media("K3M9Q2Z7XW8V4T6R1P0N5B2C7D.png")
    );
    let doc = cli(
        &fake,
        &[
            "--json",
            "results",
            W1,
            "--download",
            "--dir",
            dir.to_str().unwrap(),
        ],
    )
    .ok()
    .json();
    assert_eq!(doc["results"][0]["status"], "skipped");
    assert_eq!(doc["results"][0]["reason"], "another run is downloading it");
    drop(held);
}

#[test]
fn overlapping_runs_on_one_folder_end_with_every_file_whole() {
    let fake = Fake::start();
    // Slow bytes, so the runs really overlap.
    fake.set_chunk_delay(std::time::Duration::from_millis(2));
    let dir = temp_dir("overlap");
    let d = dir.to_str().unwrap().to_string();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let args = [
                "results",
                W1,
                W_VID,
                "--download",
                "--dir",
                d.as_str(),
                "-j",
                "2",
            ];
            let cmd = Cli::new(Some(&fake), &args);
            std::thread::spawn(move || cmd.run())
        })
        .collect();
    for run in runs {
        let run = run.join().unwrap();
        run.ok();
        assert!(!run.stderr.contains("No such file"), "{run:?}");
    }
    // A final run finds every file complete and asks the CDN nothing.
    let before = fake.cdn_requests().len();
    cli(&fake, &["results", W1, W_VID, "--download", "--dir", &d]).ok();
    assert_eq!(fake.cdn_requests().len(), before);
    let names = files(&dir);
    assert!(!names.iter().any(|n| n.ends_with(".part")), "{names:?}");
    assert_eq!(
        std::fs::read(dir.join(format!("{W1}_0_0.jpeg"))).unwrap(),
        fake.media(JPEG)
    );
    for n in &names {
        let bytes = std::fs::read(dir.join(n)).unwrap();
        assert!(!bytes.is_empty(), "{n} is empty");
    }
}

/// A redirect whose Location is not a valid URL (a space in it) is the
/// server's fault: exit 1 like any other bad answer, not 2 (usage), which
/// tells the user to fix the command line.
#[test]
fn a_redirect_to_a_malformed_url_is_not_a_usage_error() {
    let fake = Fake::start();
    let dir = temp_dir("bad-location");
    fake.script(
        &format!("/v2/consumer/blobs/{JPEG}"),
        vec![Reply::redirect(307, "{{CDN}}/signed/a b")],
    );
    let run = cli(
        &fake,
        &["blob", JPEG, "--download", "--dir", dir.to_str().unwrap()],
    );
    run.code(1).one_error_line();
    assert!(files(&dir).is_empty(), "{run:?}");
}

/// Two workflows whose ids make the same safe name (`wf:1`, `wf_1`): one
/// run numbers the second `-2`, but a later run of the second alone must
/// not take the first one's file for its own ("already complete") — a
/// file name must not depend on which other ids were on the line.
#[test]
fn a_file_name_belongs_to_one_workflow_whatever_else_was_asked() {
    let fake = Fake::start();
    fake.put_workflow(workflow_with_images(
        "wf:1",
        json!([image("synthetic-100.bin")]),
    ));
    fake.put_workflow(workflow_with_images(
        "wf_1",
        json!([image("synthetic-200.bin")]),
    ));
    let dir = temp_dir("same-name");
    let d = dir.to_str().unwrap();
    cli(
        &fake,
        &["results", "wf:1", "wf_1", "--download", "--dir", d],
    )
    .ok();
    let doc = cli(
        &fake,
        &["--json", "results", "wf_1", "--download", "--dir", d],
    )
    .ok()
    .json();
    let entry = &doc["results"][0];
    let file = entry["file"].as_str().unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(
        std::fs::metadata(file).unwrap().len(),
        200,
        "wf_1's result is another workflow's file: {doc}"
    );
}

// Guards names from the server (workflow ids and step names with
// `/`, `..`, control characters) staying inside --dir.
#[test]
fn hostile_ids_and_step_names_stay_inside_the_folder() {
    let fake = Fake::start();
    let mut wf = workflow_with_images("../../x/..", json!([image(JPEG)]));
    let mut step = wf["steps"][0].clone();
    step["name"] = json!("../../../tmp/evil\n\u{202e}");
    wf["steps"] = json!([wf["steps"][0].clone(), step]);
    fake.put_workflow(wf);
    let top = temp_dir("hostile-names");
    let inner = top.join("inner");
    let run = cli(
        &fake,
        &[
            "results",
            "../../x/..",
            "--download",
            "--dir",
            inner.to_str().unwrap(),
        ],
    );
    run.ok();
    assert_eq!(files(&top), ["inner"], "written outside --dir:{run:?}");
    let names = files(&inner);
    assert_eq!(names.len(), 2, "{names:?}");
    for n in names {
        assert!(
            !n.contains('/') && !n.contains('\n') && !n.starts_with('.'),
            "{n:?}"
        );
    }
}

// Guards a blob URL of another scheme in a workflow: the file
// fails on its own, nothing is read from the local disk.
#[test]
fn a_blob_url_of_another_scheme_fails_alone() {
    let fake = Fake::start();
    let mut bad = image(JPEG);
    bad["url"] = json!("file:///etc/hostname");
    fake.put_workflow(workflow_with_images(
        "scheme",
        json!([bad, image("K3M9Q2Z7XW8V4T6R1P0N5B2C7D.png")]),
    ));
    let dir = temp_dir("scheme");
    let run = cli(
        &fake,
        &[
            "results",
            "scheme",
            "--download",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    run.code(1);
    assert_eq!(files(&dir), ["scheme_0_1.png"], "{run:?}");
}

// Guards a final name that is a symlink: it is replaced by the
// file, never written through to what it points at.
#[test]
fn a_final_name_that_is_a_symlink_is_replaced_not_written_through() {
    let fake = Fake::start();
    let dir = temp_dir("final-link");
    let outside = temp_dir("final-link-outside");
    let victim = outside.join("victim.jpeg");
    std::fs::write(&victim, b"precious").unwrap();
    let name = format!("{W1}_0_0.jpeg");
    std::os::unix::fs::symlink(&victim, dir.join(&name)).unwrap();
    // A dangling one too.
    std::os::unix::fs::symlink(outside.join("nowhere"), dir.join(format!("{W1}_0_1.png"))).unwrap();
    for force in [false, true] {
        let mut args = vec!["results", W1, "--download", "--dir", dir.to_str().unwrap()];
        if force {
            args.push("--force");
        }
        cli(&fake, &args).ok();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(!outside.join("nowhere").exists());
        let meta = std::fs::symlink_metadata(dir.join(&name)).unwrap();
        assert!(meta.is_file());
        assert_eq!(std::fs::read(dir.join(&name)).unwrap(), fake.media(JPEG));
    }
}

// Guards a final name that is a folder: that file fails with an
// error naming it, the folder and its contents are untouched, the other
// files are saved.
#[test]
fn a_final_name_that_is_a_folder_fails_alone() {
    let fake = Fake::start();
    let dir = temp_dir("final-dir");
    let name = format!("{W1}_0_0.jpeg");
    std::fs::create_dir_all(dir.join(&name)).unwrap();
    std::fs::write(dir.join(&name).join("keep"), b"k").unwrap();
    let run = cli(
        &fake,
        &["results", W1, "--download", "--dir", dir.to_str().unwrap()],
    );
    run.code(1).stderr_has(&name);
    assert_eq!(std::fs::read(dir.join(&name).join("keep")).unwrap(), b"k");
    assert!(dir.join(format!("{W1}_0_1.png")).is_file());
}

// Guards a stale `.part` left by a killed run, then two runs
// started together on the folder: both succeed, the file ends whole and
// no `.part` is left, whichever run took it.
#[test]
fn a_stale_part_then_two_runs_at_once_end_whole() {
    let fake = Fake::start();
    let dir = temp_dir("stale");
    let size = 2 * 1024 * 1024;
    let id = format!("synthetic-{size}.bin");
    fake.put_workflow(workflow_with_images("stale", json!([image(&id)])));
    let name = "stale_0_0.bin";
    // What a SIGKILLed run leaves: the first bytes, no lock.
    let head: Vec<u8> = (0..1000u64)
        .map(crate::support::fake::pattern_byte)
        .collect();
    std::fs::write(dir.join(format!("{name}.part")), &head).unwrap();
    fake.set_chunk_delay(std::time::Duration::from_millis(2));
    let d = dir.to_str().unwrap().to_string();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let cmd = Cli::new(
                Some(&fake),
                &["results", "stale", "--download", "--dir", &d],
            );
            std::thread::spawn(move || cmd.run())
        })
        .collect();
    for r in runs {
        r.join().unwrap().ok();
    }
    // A run after both finds the file complete.
    cli(&fake, &["results", "stale", "--download", "--dir", &d])
        .ok()
        .stdout_has("already complete");
    assert_eq!(files(&dir), [name]);
    let data = std::fs::read(dir.join(name)).unwrap();
    assert_eq!(data.len(), size);
    assert!(data
        .iter()
        .enumerate()
        .all(|(i, b)| *b == crate::support::fake::pattern_byte(i as u64)));
}

// Guards a chunked body cut before its last chunk: the download
// fails, and nothing is left under the final name (a later run would
// otherwise skip a truncated file forever).
#[test]
fn a_chunked_body_cut_short_never_becomes_a_file() {
    let fake = Fake::start();
    let mut chunk = b"64\r\n".to_vec();
    chunk.extend([7u8; 100]);
    chunk.extend(b"\r\n");
    let cdn = raw_server(
        "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
            .into(),
        chunk,
    );
    let mut img = image(JPEG);
    img["url"] = json!(format!("{cdn}/f.jpeg"));
    fake.put_workflow(workflow_with_images("chunked", json!([img])));
    let dir = temp_dir("chunked");
    let run = cli(
        &fake,
        &[
            "results",
            "chunked",
            "--download",
            "--retries=0",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        !dir.join("chunked_0_0.jpeg").exists(),
        "{:?}{run:?}",
        files(&dir)
    );
}

// Guards a `.part` hard-linked to a file elsewhere (same bytes as
// the head of the blob, so a resume would be tempting): the other file is
// never appended to.
#[test]
fn a_hard_linked_part_is_replaced_not_appended_to() {
    let fake = Fake::start();
    let dir = temp_dir("hardlink");
    let victim = dir.join("victim");
    std::fs::write(&victim, &fake.media(JPEG)[..100]).unwrap();
    std::fs::hard_link(&victim, dir.join(format!("{JPEG}.part"))).unwrap();
    cli(
        &fake,
        &["blob", JPEG, "--download", "--dir", dir.to_str().unwrap()],
    )
    .ok();
    assert_eq!(std::fs::read(&victim).unwrap(), &fake.media(JPEG)[..100]);
    assert_eq!(std::fs::read(dir.join(JPEG)).unwrap(), fake.media(JPEG));
}

// Guards retries of a download: a CDN that drops the connection
// once, or answers 503 once, still gives the whole file.
#[test]
fn a_download_is_retried_after_a_drop_or_a_503() {
    for first in [
        Reply::Close,
        Reply::html(503, "<html>busy</html>").header("Retry-After", "0"),
    ] {
        let fake = Fake::start();
        fake.script(&format!("/signed/{JPEG}"), vec![first]);
        let dir = temp_dir("cdn-retry");
        cli(
            &fake,
            &["results", W1, "--download", "--dir", dir.to_str().unwrap()],
        )
        .ok();
        assert_eq!(
            std::fs::read(dir.join(format!("{W1}_0_0.jpeg"))).unwrap(),
            fake.media(JPEG)
        );
    }
}

/// `results --download` prints what became of each file, not the listing
/// of signed URLs, and ends with one line of counts; unavailable files are
/// counted, not failed.
#[test]
fn a_download_prints_each_file_then_one_line_of_counts() {
    let fake = Fake::start();
    let dir = temp_dir("counts");
    let d = dir.to_str().unwrap();
    let webp = fake.media("7W2XH0K1C4ZVB9N3M6Q8R5T1YA.webp").len();
    let run = cli(&fake, &["results", W_IMG, "--download", "--dir", d]);
    run.ok();
    assert_eq!(
        run.stdout,
        format!(
            "skipped: {W_IMG}_imagegen_1 not available (NSFW content not allowed)\n\
             Downloaded: {W_IMG}_imagegen_0.webp ({webp} bytes)\n\
             downloaded 1, skipped 0, unavailable 1, failed 0\n"
        ),
        "{run:?}"
    );
    assert!(run.stderr.is_empty(), "{run:?}");
    let run = cli(&fake, &["results", W_IMG, W1, "--download", "--dir", d]);
    run.ok();
    assert!(!run.stdout.contains("Image: "), "{run:?}");
    assert!(!run.stdout.contains("Status: "), "{run:?}");
    assert_eq!(
        run.stdout.lines().last(),
        Some("downloaded 2, skipped 1, unavailable 1, failed 0"),
        "{run:?}"
    );
}

#[test]
fn a_failed_download_is_counted_and_exits_1_with_the_resume_hint() {
    let fake = Fake::start();
    let dir = temp_dir("counts-fail");
    let d = dir.to_str().unwrap();
    fake.script(
        "/signed/K3M9Q2Z7XW8V4T6R1P0N5B2C7D.png",
        vec![Reply::html(500, "<html>no</html>"); 2],
    );
    let run = cli(&fake, &["results", W1, "--download", "--dir", d]);
    run.code(1)
        .stderr_has("error: 1 download(s) failed; run the same command again to resume them");
    assert_eq!(
        run.stdout.lines().last(),
        Some("downloaded 1, skipped 0, unavailable 0, failed 1"),
        "{run:?}"
    );
    // Among several workflows: the first failure's code, how many
    // workflows failed, and the hint.
    let run = cli(&fake, &["results", W_VID, W1, "--download", "--dir", d]);
    run.code(1).stderr_has(&format!(
        "error: 1 of 2 workflow id(s) failed (first: workflow '{W1}': 1 download(s) failed); \
             run the same command again to resume the 1 failed download(s)"
    ));
    assert_eq!(
        run.stdout.lines().last(),
        Some("downloaded 2, skipped 1, unavailable 0, failed 1"),
        "{run:?}"
    );
}

/// With --json the counts are in the document (each workflow's own); with
/// --jsonl in each line, and the run's line goes to stderr; with --fields
/// to stderr: stdout holds only JSON or the table.
#[test]
fn counts_go_where_they_leave_stdout_for_programs() {
    let fake = Fake::start();
    let dir = temp_dir("counts-json");
    let d = dir.to_str().unwrap();
    let doc = cli(
        &fake,
        &["--json", "results", W_IMG, "--download", "--dir", d],
    )
    .ok()
    .json();
    assert_eq!(
        doc["counts"],
        json!({"downloaded": 1, "skipped": 0, "unavailable": 1, "failed": 0})
    );
    let run = cli(
        &fake,
        &["--json", "results", W_IMG, W1, "--download", "--dir", d],
    );
    run.ok();
    assert!(run.stderr.is_empty(), "{run:?}");
    let doc = run.json();
    assert_eq!(doc[0]["counts"]["skipped"], 1);
    assert_eq!(doc[0]["counts"]["unavailable"], 1);
    assert_eq!(doc[1]["counts"]["downloaded"], 2);

    let run = cli(
        &fake,
        &["--jsonl", "results", W_IMG, W1, "--download", "--dir", d],
    );
    run.ok();
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("{l}{run:?}")))
        .collect();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert_eq!(lines[1]["counts"]["skipped"], 2);
    assert_eq!(
        run.stderr, "downloaded 0, skipped 3, unavailable 1, failed 0\n",
        "{run:?}"
    );

    let run = cli(
        &fake,
        &[
            "results",
            W1,
            "--download",
            "--dir",
            d,
            "--fields",
            "id,status",
        ],
    );
    run.ok();
    assert_eq!(
        run.stdout,
        "id\tstatus\nJNFDW54JNTATNW42HACYCWSQP0.jpeg\tskipped\nK3M9Q2Z7XW8V4T6R1P0N5B2C7D.png\tskipped\n",
        "{run:?}"
    );
    assert_eq!(
        run.stderr, "downloaded 0, skipped 2, unavailable 0, failed 0\n",
        "{run:?}"
    );
}

/// A signed link the server made badly (a space, another scheme, a broken
/// host) fails its file; what is said of it never shows the link's query,
/// which is its key, as `-v` does not. A file server that cannot be
/// reached is not blamed on CIVITAI_API_URL.
#[test]
fn a_bad_signed_link_is_named_without_its_signature() {
    let fake = Fake::start();
    let dir = temp_dir("bad-link");
    let d = format!("--dir={}", dir.display());
    for (url, named) in [
        ("{{CDN}}/signed/a b.jpeg?sig=SECRETSIG123&exp=1", true),
        ("ftp://x/y.jpeg?sig=SECRETSIG123", true),
        ("http://[::1/x?sig=SECRETSIG123", true),
        ("http://127.0.0.1:9/x.jpeg?sig=SECRETSIG123", false),
    ] {
        let images = json!([{"type": "image", "id": "x.jpeg", "available": true, "url": url}]);
        fake.put_workflow(workflow_with_images("bad-link", images));
        for mode in [None, Some("--json")] {
            let mut args: Vec<&str> = mode.into_iter().collect();
            args.extend(["-v", "--retries=0", "results", "bad-link", "--download", &d]);
            let run = cli(&fake, &args);
            run.code(1);
            // (The JSON entry's `url` is the link itself, by design.)
            let said = match mode {
                Some(_) => run.json()["results"][0]["error"].to_string(),
                None => run
                    .stderr
                    .lines()
                    .filter(|l| l.starts_with("error: "))
                    .collect(),
            };
            assert_eq!(said.contains("sig=[hidden]"), named, "{run:?}");
            assert!(!said.contains("SECRETSIG"), "signature shown:{run:?}");
            assert!(!run.stderr.contains("SECRETSIG"), "signature shown:{run:?}");
            assert!(!said.contains("CIVITAI_API_URL"), "{run:?}");
        }
        fake.script(
            &format!("/v2/consumer/blobs/{JPEG}"),
            vec![Reply::redirect(307, url)],
        );
        let run = cli(&fake, &["--retries=0", "blob", JPEG, "--download", &d]);
        assert_ne!(run.code, 0, "{run:?}");
        assert!(!run.stderr.contains("SECRETSIG"), "signature shown:{run:?}");
    }
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
}

/// A blob URL the server sent that is too long to request (a workflow's
/// output) is the server's fault: that file fails alone with exit 1, not 2
/// (usage), which would tell the user to shorten a URL they never wrote;
/// its signature is not shown; the others are downloaded. (A redirect's
/// `Location` cannot get there: a response head is read up to 64 KiB.)
#[test]
fn a_blob_url_too_long_to_request_is_not_a_usage_error() {
    let fake = Fake::start();
    let mut long = image(JPEG);
    long["url"] = json!(format!(
        "{{{{CDN}}}}/signed/{JPEG}?sig={}",
        "s".repeat(70 * 1024)
    ));
    fake.put_workflow(workflow_with_images(
        "long-url",
        json!([long, image("K3M9Q2Z7XW8V4T6R1P0N5B2C7D.png")]),
    ));
    let dir = temp_dir("long-url");
    let run = cli(
        &fake,
        &[
            "results",
            "long-url",
            "--download",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    run.code(1).stderr_has("too long");
    assert!(!run.stderr.contains("shorten"), "{run:?}");
    assert!(!run.stderr.contains("sssss"), "{run:?}");
    assert_eq!(files(&dir), ["long-url_0_1.png"], "{run:?}");
}
