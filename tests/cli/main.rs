//! The integration tests: the real binary against the fake orchestrator, in
//! one test binary, with one file per command or concern, so that the test
//! of a behaviour is found by its command's name:
//!
//! - `test_cmd`, `workflows`, `user`, `workflow`, `step`, `job`, `wait`,
//!   `results`, `blob`, `stats`, `submit`, `cancel`, `delete`, `tag`,
//!   `upload`, `api`, `completions`: one command each (`wait` is
//!   `workflow --wait`);
//! - `downloads`: what `results --download` and `blob --download` share
//!   (names, `.part` files, resume and ranges, parallel transfers, the CDN);
//! - `errors`: exit codes, error lines, secrets in them, retries, timeouts;
//! - `http_layer`: the library's HTTP layer driven directly (which requests
//!   may be repeated);
//! - `config`: settings from the environment, env files, proxies, numbers;
//! - `tls`: https, SSL_CERT_FILE and TLS session resumption;
//! - `verbose`: `-v`, one line per HTTP request, whatever the command;
//! - `help`: help and version;
//! - `empty_root`: the static build in an empty root with `env -i`, as the
//!   Dockerfile's `FROM scratch` image runs it;
//! - `skill`: the examples of SKILL.md, run as written;
//! - `fake_orchestrator`: the fake itself (bodies, methods, scripts, the
//!   jobs of the fixture workflows, the `stats` dataset, concurrency and
//!   overlapping pages), so a broken fake is not mistaken for a broken CLI.
//!
//! This file holds only the fixture ids and the helpers several files share.
//! Tests written to break the program (a careless user, a hostile server,
//! overlapping runs) sit beside the others in the file of their command.

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/man.rs"]
mod man;

mod api;
mod blob;
mod cancel;
mod completions;
mod config;
mod delete;
mod downloads;
mod empty_root;
mod errors;
mod fake_orchestrator;
mod help;
mod http_layer;
mod job;
mod results;
mod scan;
mod skill;
mod stats;
mod step;
mod submit;
mod sync;
mod tag;
mod test_cmd;
mod tls;
mod upload;
mod user;
mod verbose;
mod wait;
mod workflow;
mod workflows;

use std::path::Path;

use serde_json::json;
use serde_json::Value;
use support::{Reply, TOKEN};

// The fixture workflows (fixtures/workflows/), newest first.
const W1: &str = "0-019be44b-181e-7a7e-ab1b-b58dc7610dca";
const W_IMG: &str = "0-019be450-3c2d-7b11-9a4e-2f61d0c8e5a7";
const W_FAIL: &str = "0-019be481-2222-7f55-b2c3-d4e5f6071829";
const W_VID: &str = "0-019be461-77aa-7c02-8d1e-6b0f2e9a1c44";
const W_COMFY: &str = "0-019be472-0f0f-7d33-b2a5-91c3e4d5f6a7";
const W_PROC: &str = "0-019be480-1111-7e44-a1b2-c3d4e5f60718";
/// The five-job workflow (fixtures/workflows/extra/five-jobs.json): served by
/// id, not listed unless `Options::extra`.
const W_FIVE: &str = "0-019bdc12-095b-7c3e-8f21-5a6b7c8d9e0f";
/// The fixture job (fixtures/jobs/text-to-image.json).
const JOB: &str = "58de87d7-d594-4d71-ae43-dd8fc1bcbd23";
/// The first image of `W1`, a fixture media file.
const JPEG: &str = "JNFDW54JNTATNW42HACYCWSQP0.jpeg";

/// The API path of one workflow.
fn workflow_path(id: &str) -> String {
    format!("/v2/consumer/workflows/{id}")
}

/// The names in a folder, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A 200 that announces `declared` bytes and sends only `body`.
fn cut_reply(ctype: &str, declared: usize, body: &[u8]) -> Reply {
    Reply::Cut {
        status: 200,
        headers: vec![("Content-Type".into(), ctype.into())],
        declared,
        body: body.to_vec(),
    }
}

// Helpers for building hostile answers.

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

fn no_token_in(run: &support::Run, prefix_len: usize) {
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains(&TOKEN[..prefix_len]),
            "the token (or {prefix_len} characters of it) was shown:{run:?}"
        );
    }
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

/// What a run whose reader went away early came to.
struct Closed {
    /// The first line of stdout, read before the reader closed it.
    first: String,
    /// Its exit code; `None` when it was still running after `limit` (it
    /// was killed then).
    code: Option<i32>,
    /// From the closing of stdout to the end of the run.
    took: std::time::Duration,
    stderr: String,
}

/// Runs `cli` with `stdin` written to it (kept open for `hold` afterwards
/// when given), reads one line of its stdout and closes it, as `| head -1`
/// does, then waits up to `limit` for the run to end.
fn first_line_then_close(
    cli: support::Cli,
    stdin: String,
    hold: Option<std::time::Duration>,
    limit: std::time::Duration,
) -> Closed {
    use std::io::{BufRead, Read, Write};
    use std::process::Stdio;
    use std::time::Instant;
    let mut cmd = cli.cmd;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run civitai-orch");
    let mut input = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
        if let Some(d) = hold {
            std::thread::sleep(d);
        }
    });
    let mut err = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    let _ = out.read_line(&mut first);
    drop(out);
    let closed = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status.code().unwrap_or(-1));
        }
        if closed.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let took = closed.elapsed();
    let stderr = err_reader.join().unwrap_or_default();
    // The writer may still hold stdin open: it ends on its own.
    drop(writer);
    Closed {
        first,
        code,
        took,
        stderr,
    }
}
