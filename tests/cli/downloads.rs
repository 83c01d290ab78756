//! What `results --download` and `blob --download` share: file extensions,
//! atomic `.part` files and their locks, resume and odd range answers, skip
//! and `--force`, expired links renewed, parallel transfers (`-j`), refused
//! encodings, progress on a terminal.

use serde_json::{json, Value};

use crate::support::{cli, temp_dir, Cli, Fake, Reply, TOKEN};
use crate::{cut_reply, files, JPEG, W1, W_COMFY, W_IMG, W_VID};

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
