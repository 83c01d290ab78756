//! The library's HTTP layer, driven directly (no command sends a POST yet):
//! which requests are sent again after which failures, so that nothing
//! the server may have done is done twice by a retry.

use std::time::Duration;

use civitai_orch::config::{Config, Proxies};
use civitai_orch::error::Result;
use civitai_orch::http::retry::Method;
use civitai_orch::http::{Answer, Call, Client, Payload};
use civitai_orch::notes::Notes;

use crate::support::{temp_dir, Fake, Reply, TOKEN};

const PATH: &str = "/v2/consumer/workflows/wf-1/tags";

fn client(fake: &Fake) -> Client {
    let cfg = Config {
        api_url: fake.url.clone(),
        token: Some(TOKEN.into()),
        timeout: Duration::from_secs(10),
        retries: 3,
        proxies: Proxies::default(),
        ca_file: None,
    };
    Client::new(&cfg, Notes::new(true)).unwrap()
}

fn send(fake: &Fake, method: Method, keyed: bool) -> Result<Answer> {
    client(fake).call(&Call {
        payload: Payload::Json(b"\"project:x\""),
        keyed,
        ..Call::api(method, PATH, "workflow 'wf-1'")
    })
}

/// A 503 from a gateway, with no wait asked for.
fn unavailable() -> Reply {
    Reply::problem(503, "Service Unavailable", "try later").header("Retry-After", "0")
}

fn sent(fake: &Fake, method: Method) -> usize {
    fake.api_requests()
        .iter()
        .filter(|r| r.raw_path == PATH && r.method == method.as_str())
        .count()
}

#[test]
fn a_post_is_not_repeated_after_a_gateway_error_or_a_dropped_connection() {
    for first in [unavailable(), Reply::Close] {
        let fake = Fake::start();
        fake.script(PATH, vec![first, Reply::json(204, "")]);
        assert!(send(&fake, Method::Post, false).is_err());
        assert_eq!(sent(&fake, Method::Post), 1, "a POST was sent twice");
    }
}

#[test]
fn a_post_is_repeated_after_a_429_or_with_an_idempotency_key() {
    let fake = Fake::start();
    let busy = Reply::problem(429, "Too Many Requests", "slow down").header("Retry-After", "0");
    fake.script(PATH, vec![busy, Reply::json(204, "")]);
    assert_eq!(send(&fake, Method::Post, false).unwrap().status, 204);
    assert_eq!(sent(&fake, Method::Post), 2);

    for first in [unavailable(), Reply::Close] {
        let fake = Fake::start();
        fake.script(PATH, vec![first, Reply::json(204, "")]);
        assert_eq!(send(&fake, Method::Post, true).unwrap().status, 204);
        assert_eq!(sent(&fake, Method::Post), 2);
        for r in fake.api_requests() {
            assert_eq!(r.body, b"\"project:x\"");
            assert_eq!(r.header("content-type"), Some("application/json"));
        }
    }
}

#[test]
fn put_and_delete_are_repeated_like_get() {
    for method in [Method::Put, Method::Delete] {
        for first in [unavailable(), Reply::Close] {
            let fake = Fake::start();
            fake.script(PATH, vec![first, Reply::json(204, "")]);
            assert_eq!(send(&fake, method, false).unwrap().status, 204);
            assert_eq!(sent(&fake, method), 2, "{method:?}");
        }
    }
}

#[test]
fn a_file_body_is_streamed_with_its_type_and_length() {
    let fake = Fake::start();
    fake.script(PATH, vec![Reply::json(201, "{\"id\":\"b\"}")]);
    let dir = temp_dir("upload");
    let file = dir.join("pic.png");
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let answer = client(&fake)
        .call(&Call {
            payload: Payload::File {
                path: &file,
                content_type: "image/png",
            },
            ..Call::api(Method::Post, PATH, "upload")
        })
        .unwrap();
    assert_eq!(answer.status, 201);
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(req.body, bytes);
    assert_eq!(req.header("content-type"), Some("image/png"));
    assert_eq!(req.header("content-length"), Some("200000"));
}

/// A request head far over 16 KiB (a long `--query` pasted in) goes out
/// whole, as it did before the buffers were made smaller; the server is
/// the one to say it is too long.
#[test]
fn a_long_request_head_is_sent_whole() {
    let fake = Fake::start();
    let q = "x".repeat(20 * 1024);
    crate::support::cli(&fake, &["workflows", &format!("--query={q}")]).ok();
    assert_eq!(fake.api_requests()[0].param("query"), Some(q.as_str()));
}

/// A head longer than any server takes (64 KiB; the API's takes 32) is
/// refused as ours to fix, not blamed on the server.
#[test]
fn a_request_head_too_long_to_send_is_a_usage_error() {
    let fake = Fake::start();
    let pad = format!("X-Pad: {}", "p".repeat(70 * 1024));
    let run = crate::support::cli(&fake, &["api", "/v2/consumer/workflows", "-H", &pad]);
    run.code(2).stderr_has("is too long to send");
    assert!(!run.stderr.contains("not a valid HTTP answer"), "{run:?}");
}

/// A response head near ureq's 64 KiB limit (a large cookie, a long
/// header from a proxy) is read.
#[test]
fn a_large_response_head_is_read() {
    let fake = Fake::start();
    fake.script(
        PATH,
        vec![Reply::json(200, "{\"id\":\"w\"}").header("X-Pad", &"p".repeat(64 * 1024 - 400))],
    );
    let answer = send(&fake, Method::Get, false).unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "{\"id\":\"w\"}");
}

/// A blob's redirect to a signed URL of 30 KiB is followed: its
/// `Location` is read, then sent as the next request's line.
#[test]
fn a_long_redirect_location_is_followed() {
    let fake = Fake::start();
    let id = "JNFDW54JNTATNW42HACYCWSQP0.jpeg";
    let location = format!(
        "{}/signed/{id}?sig=4f1c9e2b7d&exp=1769120501&pad={}",
        fake.cdn_url,
        "q".repeat(30 * 1024)
    );
    fake.script(
        &format!("/v2/consumer/blobs/{id}"),
        vec![Reply::redirect(302, &location)],
    );
    let dir = temp_dir("long-location");
    crate::support::cli(
        &fake,
        &["blob", id, "--download", "--dir", dir.to_str().unwrap()],
    )
    .ok();
    assert_eq!(std::fs::read(dir.join(id)).unwrap(), fake.media(id));
}

/// What a user types stays under the head limit: a 60 KiB `--query` of
/// letters (and one making the URL just under 64 KiB), a thousand
/// `--tag`s, a 20 KiB id are sent whole (the id's
/// answer is the server's, not a usage error).
#[test]
fn long_but_ordinary_requests_are_sent() {
    let fake = Fake::start();
    let q = "fox".repeat(20 * 1024);
    crate::support::cli(&fake, &["workflows", &format!("--query={q}")]).ok();
    assert_eq!(fake.api_requests()[0].param("query"), Some(q.as_str()));

    // A URL just under 64 KiB, its head over it with the headers.
    let fake = Fake::start();
    let q = "x".repeat(65_500 - fake.url.len() - 50);
    crate::support::cli(&fake, &["workflows", &format!("--query={q}")]).ok();
    assert_eq!(fake.api_requests()[0].param("query"), Some(q.as_str()));

    let fake = Fake::start();
    let tags: Vec<String> = (0..1000).map(|i| format!("--tag=user:{i:05}")).collect();
    let args: Vec<&str> = ["workflows"]
        .into_iter()
        .chain(tags.iter().map(String::as_str))
        .collect();
    crate::support::cli(&fake, &args).ok();
    assert_eq!(fake.api_requests()[0].params("tags").len(), 1000);

    let fake = Fake::start();
    let id = "w".repeat(20 * 1024);
    let run = crate::support::cli(&fake, &["workflow", &id]);
    assert_ne!(run.code, 2, "{run:?}");
    assert_eq!(
        fake.api_requests()[0].segments().last().map(String::as_str),
        Some(id.as_str())
    );
}

/// A `--query` whose URL passes the limit (prose under 60 KiB, whose
/// spaces are three bytes sent; the token pasted in it) is refused before
/// anything is sent: exit 2, one line naming the host, and neither the
/// token (sent in its header) nor the query in the message, with or
/// without `-v`. (Both were "cannot request '...': uri too long", exit 1:
/// the http crate refuses a URL past 64 KiB before ureq sees the head.)
#[test]
fn a_query_too_long_to_send_never_shows_the_token() {
    let prose = "fox in the snow ".repeat(3 * 1024);
    let pasted = format!("{TOKEN} ").repeat(64 * 1024 / (TOKEN.len() + 1));
    for q in [prose, pasted] {
        for v in [&[][..], &["-v"][..]] {
            let fake = Fake::start();
            let query = format!("--query={q}");
            let args: Vec<&str> = v.iter().copied().chain(["workflows", &query]).collect();
            let run = crate::support::cli(&fake, &args);
            run.code(2)
                .stderr_has("the request to 127.0.0.1:")
                .stderr_has("is too long to send");
            assert_eq!(
                run.stderr
                    .lines()
                    .filter(|l| l.starts_with("error"))
                    .count(),
                1,
                "{run:?}"
            );
            crate::no_token_in(&run, 12);
            assert!(!run.stderr.contains("fox in the"), "{run:?}");
            assert!(fake.api_requests().is_empty(), "{run:?}");
        }
    }
}
