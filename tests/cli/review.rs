//! Adversarial review: a careless user, a hostile server, overlapping cron
//! lines. Each test names the behaviour expected; the ones marked
//! "// passes: guards ..." hold today and cover a real risk, the others
//! fail on the code they were written against.

use serde_json::{json, Value};

use crate::support::{cli, temp_dir, Cli, Fake, Reply, TOKEN};
use crate::{files, workflow_path, JPEG, W1};

/// A workflow with one step `0` whose output holds `images`.
fn workflow_with_images(id: &str, images: Value) -> Value {
    json!({
        "id": id,
        "status": "succeeded",
        "createdAt": "2026-01-21T22:21:26.332Z",
        "steps": [{"$type": "textToImage", "name": "0", "status": "succeeded",
                   "output": {"images": images}}]
    })
}

/// An available image on the fake CDN.
fn image(blob_id: &str) -> Value {
    json!({"type": "image", "id": blob_id, "available": true,
           "url": format!("{{{{CDN}}}}/signed/{blob_id}?sig=1")})
}

fn no_token_in(run: &crate::support::Run, prefix_len: usize) {
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains(&TOKEN[..prefix_len]),
            "the token (or {prefix_len} characters of it) was shown:{run:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------

/// A URL setting that holds the token (pasted into the wrong variable, or
/// as a query) is refused, and the refusal must not print the token: the
/// token is known before the URL is checked.
#[test]
fn an_invalid_api_url_never_echoes_the_token() {
    let fake = Fake::start();
    for url in [
        TOKEN.to_string(),
        format!("{}/?key={TOKEN}", fake.url),
        format!("{}/#{TOKEN}", fake.url),
    ] {
        for mode in [None, Some("--json")] {
            let mut args: Vec<&str> = mode.into_iter().collect();
            args.push("test");
            let run = Cli::new(Some(&fake), &args)
                .env("CIVITAI_API_URL", &url)
                .run();
            run.code(2);
            no_token_in(&run, 12);
        }
    }
    assert!(fake.requests().is_empty());
}

/// Error bodies are cut at 300 characters: a token quoted just before the
/// cut must not leave its first characters on screen.
#[test]
fn a_token_cut_by_the_message_limit_leaves_no_prefix_of_it() {
    let fake = Fake::start();
    // "Unauthorized: " is 14 characters; 270 more put the token at 284, so
    // the cut at 300 keeps its first 16 characters.
    let detail = format!("{} {TOKEN} was refused", "x".repeat(269));
    for mode in [None, Some("--json")] {
        fake.script(
            "/v2/consumer/workflows",
            vec![Reply::problem(401, "Unauthorized", &detail)],
        );
        let mut args: Vec<&str> = mode.into_iter().collect();
        args.push("test");
        let run = cli(&fake, &args);
        run.code(3);
        no_token_in(&run, 12);
    }
}

/// `--jsonl` prints the next cursor on stderr; a cursor that quotes the
/// token (or a `Bearer` value) goes through the same mask as every other
/// stderr line.
#[test]
fn the_next_cursor_line_on_stderr_hides_the_token() {
    let fake = Fake::start();
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::json(
            200,
            &json!({"next": format!("c-{TOKEN}"),
                    "items": [{"id": "a", "status": "succeeded", "createdAt": "x"}]})
            .to_string(),
        )],
    );
    let run = cli(&fake, &["--jsonl", "workflows"]);
    run.ok().stderr_has("next cursor: ");
    no_token_in(&run, 12);
}

// passes: guards the mask on every ProblemDetails field and on a 3xx's
// Location, in text and JSON, fatal and per workflow.
#[test]
fn passes_a_token_in_title_errors_or_location_is_hidden() {
    let fake = Fake::start();
    let doc = json!({
        "title": format!("token {TOKEN}"),
        "status": 422,
        "errors": {"authorization": [format!("Bearer {TOKEN}"), TOKEN]},
    });
    let problem = Reply::Full {
        status: 422,
        headers: vec![("Content-Type".into(), "application/problem+json".into())],
        body: doc.to_string().into_bytes(),
    };
    let moved = Reply::redirect(302, &format!("https://elsewhere.example/?t={TOKEN}"));
    for mode in [None, Some("--json"), Some("--jsonl")] {
        fake.script(&workflow_path("t1"), vec![problem.clone()]);
        fake.script(&workflow_path("t2"), vec![moved.clone()]);
        let mut args: Vec<&str> = mode.into_iter().collect();
        args.extend(["results", "t1", "t2", "--retries=0"]);
        let run = cli(&fake, &args);
        assert_ne!(run.code, 0, "{run:?}");
        no_token_in(&run, 12);
        fake.script(&workflow_path("t1"), vec![problem.clone()]);
        let mut args: Vec<&str> = mode.into_iter().collect();
        args.extend(["workflow", "t1"]);
        let run = cli(&fake, &args);
        run.code(2);
        no_token_in(&run, 12);
    }
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// `python -m venv .env` is common: a `.env` *folder* in the working
/// directory is not an env file, and must not stop every command.
#[test]
fn a_dot_env_folder_is_not_an_env_file() {
    let fake = Fake::start();
    let dir = temp_dir("venv");
    std::fs::create_dir_all(dir.join(".env/bin")).unwrap();
    Cli::new(Some(&fake), &["test"]).dir(&dir).run().ok();
}

/// The URL is shown in its error as for any other untrusted text: a line
/// break or an escape sequence in it must not reach the terminal.
#[test]
fn an_invalid_api_url_is_escaped_in_its_error() {
    let fake = Fake::start();
    for url in ["ftp://a\nerror: forged line", "ftp://a\u{1b}[2Jb"] {
        let run = Cli::new(Some(&fake), &["test"])
            .env("CIVITAI_API_URL", url)
            .run();
        run.code(2).one_error_line();
        assert!(
            !run.stderr.contains('\u{1b}') && !run.stderr.contains("\nerror: forged"),
            "raw control characters in the error:{run:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Careless user: --output, stdin
// ---------------------------------------------------------------------------

/// `--output` naming a folder (existing, or with a trailing `/`) or nothing
/// at all cannot be saved to: it is refused before the file is fetched, and
/// no `.part` is left beside it (today the whole file is downloaded into
/// `outdir.part`, `sub.part` or `.part`, then the rename fails).
#[test]
fn output_that_names_a_folder_or_nothing_is_refused_before_fetching() {
    let fake = Fake::start();
    let dir = temp_dir("output-dir");
    std::fs::create_dir_all(dir.join("outdir")).unwrap();
    for output in ["outdir", "sub/", ""] {
        let run = Cli::new(
            Some(&fake),
            &["blob", JPEG, "--download", &format!("--output={output}")],
        )
        .dir(&dir)
        .run();
        assert_ne!(run.code, 0, "{run:?}");
        run.one_error_line();
        let names = files(&dir);
        assert!(
            !names.iter().any(|n| n.ends_with(".part")),
            "--output={output:?} left {names:?}{run:?}"
        );
    }
    assert!(
        fake.cdn_requests().is_empty(),
        "the file was fetched for an --output that cannot hold it"
    );
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

// ---------------------------------------------------------------------------
// Listings
// ---------------------------------------------------------------------------

/// `--all --cursor=C` where the server answers page C with `next: C`: the
/// walk ends after that page, which is printed once, not twice (the cursor
/// the walk started from counts as seen).
#[test]
fn all_from_a_cursor_the_server_repeats_prints_that_page_once() {
    let fake = Fake::start();
    let page = Reply::json(
        200,
        r#"{"next":"C","items":[{"id":"only","status":"succeeded","createdAt":"x"}]}"#,
    );
    fake.script(
        "/v2/consumer/workflows",
        vec![page.clone(), page.clone(), page],
    );
    let run = cli(&fake, &["--jsonl", "workflows", "--all", "--cursor=C"]);
    run.ok();
    assert_eq!(run.jsonl_ids(), ["only"], "{run:?}");
    assert_eq!(fake.api_requests().len(), 1, "{run:?}");
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

// passes: guards the depth limit on a JSON bomb from the API: one error
// line, exit 1, no stack overflow.
#[test]
fn passes_a_deeply_nested_body_is_one_error() {
    let fake = Fake::start();
    let bomb = format!("{{\"id\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    for args in [vec!["workflow", "bomb"], vec!["results", "bomb"]] {
        fake.script(&workflow_path("bomb"), vec![Reply::json(200, &bomb)]);
        cli(&fake, &args).code(1).one_error_line();
    }
    fake.script(&workflow_path("bomb"), vec![Reply::json(200, &bomb)]);
    let run = cli(&fake, &["--json", "workflow", "bomb"]);
    run.code(1);
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::json(200, &format!("{{\"items\":[{bomb}]}}"))],
    );
    cli(&fake, &["workflows"]).code(1).one_error_line();
}

// ---------------------------------------------------------------------------
// Hostile server: redirects, names
// ---------------------------------------------------------------------------

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

// passes: guards names from the server (workflow ids and step names with
// `/`, `..`, control characters) staying inside --dir.
#[test]
fn passes_hostile_ids_and_step_names_stay_inside_the_folder() {
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

// passes: guards a blob URL of another scheme in a workflow: the file
// fails on its own, nothing is read from the local disk.
#[test]
fn passes_a_blob_url_of_another_scheme_fails_alone() {
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

// ---------------------------------------------------------------------------
// Overlapping runs, odd things under the final name
// ---------------------------------------------------------------------------

// passes: guards a final name that is a symlink: it is replaced by the
// file, never written through to what it points at.
#[test]
fn passes_a_final_name_that_is_a_symlink_is_replaced_not_written_through() {
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

// passes: guards a final name that is a folder: that file fails with an
// error naming it, the folder and its contents are untouched, the other
// files are saved.
#[test]
fn passes_a_final_name_that_is_a_folder_fails_alone() {
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

// passes: guards a stale `.part` left by a killed run, then two runs
// started together on the folder: both succeed, the file ends whole and
// no `.part` is left, whichever run took it.
#[test]
fn passes_a_stale_part_then_two_runs_at_once_end_whole() {
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

/// A one-shot HTTP server on loopback that answers its first request with
/// `head` and `body` as raw bytes, then closes: for answers the fake cannot
/// make (a chunked body cut short, huge headers).
fn raw_server(head: String, body: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
            let _ = s.flush();
        }
    });
    url
}

// passes: guards a chunked body cut before its last chunk: the download
// fails, and nothing is left under the final name (a later run would
// otherwise skip a truncated file forever).
#[test]
fn passes_a_chunked_body_cut_short_never_becomes_a_file() {
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

// passes: guards huge response headers from the API: a clean failure in
// one line, no hang, no crash.
#[test]
fn passes_huge_headers_are_one_error() {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Junk: {}\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let url = raw_server(head, b"{}".to_vec());
    let run = Cli::new(None, &["workflow", "x", "--retries=0"])
        .env("CIVITAI_API_URL", &url)
        .env("CIVITAI_API_TOKEN", TOKEN)
        .run();
    assert_ne!(run.code, 0, "{run:?}");
    run.one_error_line();
}

// passes: guards a `.part` hard-linked to a file elsewhere (same bytes as
// the head of the blob, so a resume would be tempting): the other file is
// never appended to.
#[test]
fn passes_a_hard_linked_part_is_replaced_not_appended_to() {
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

// passes: guards retries of a download: a CDN that drops the connection
// once, or answers 503 once, still gives the whole file.
#[test]
fn passes_a_download_is_retried_after_a_drop_or_a_503() {
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
