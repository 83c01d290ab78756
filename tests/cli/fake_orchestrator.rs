//! The fake orchestrator itself, spoken to over raw sockets: request bodies
//! (by length, chunked, too large, malformed, after `100 Continue`),
//! routing by method (405 with `Allow`, HEAD), scripts on either host,
//! redirects, and the workflow store. A broken fake would otherwise pass
//! for a broken CLI.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::json;

use crate::support::fake::{read_all, Host, MAX_BODY};
use crate::support::{cli, Fake, Reply, TOKEN};
use crate::{JPEG, W1};

/// The `host:port` of a fake's URL.
fn addr(url: &str) -> &str {
    url.strip_prefix("http://").unwrap()
}

/// Sends `raw` as is and returns all the fake answers before it closes.
fn send(url: &str, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(addr(url)).unwrap();
    s.write_all(raw).unwrap();
    String::from_utf8_lossy(&read_all(s)).into_owned()
}

/// The head of a request with the token, without its blank line.
fn head(method: &str, path: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: fake\r\nAuthorization: Bearer {TOKEN}\r\n")
}

fn status(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or("")
}

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[test]
fn a_body_sent_with_a_length_is_recorded_and_a_method_not_taken_is_405() {
    let fake = Fake::start();
    let sent = json!({"steps": [{"$type": "textToImage"}], "tags": ["a"]}).to_string();
    let raw = format!(
        "{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{sent}",
        head("POST", "/v2/consumer/workflows"),
        sent.len()
    );
    let answer = send(&fake.url, raw.as_bytes());
    assert_eq!(status(&answer), "405", "{answer}");
    assert!(answer.contains("\r\nAllow: GET, HEAD\r\n"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    let problem: serde_json::Value = serde_json::from_str(body(&answer)).unwrap();
    assert_eq!(problem["status"], 405);
    assert_eq!(problem["title"], "Method Not Allowed");
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(req.body, sent.as_bytes());
    assert_eq!(req.body_json()["tags"], json!(["a"]));
    // A GET has no body.
    let answer = send(
        &fake.url,
        format!("{}\r\n", head("GET", "/v2/consumer/workflows")).as_bytes(),
    );
    assert_eq!(status(&answer), "200", "{answer}");
    assert!(fake.api_requests().pop().unwrap().body.is_empty());
}

#[test]
fn a_chunked_body_is_put_back_together() {
    let fake = Fake::start();
    let raw = format!(
        "{}Transfer-Encoding: chunked\r\n\r\n5;name=value\r\n{{\"a\":\r\nA\r\n [1,2,3]}}\n\r\n0\r\nX-Trailer: yes\r\n\r\n",
        head("PUT", &format!("/v2/consumer/workflows/{W1}"))
    );
    let answer = send(&fake.url, raw.as_bytes());
    assert_eq!(status(&answer), "405", "{answer}");
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(req.body, b"{\"a\": [1,2,3]}\n");
    assert_eq!(req.body_json(), json!({"a": [1, 2, 3]}));
}

#[test]
fn bodies_too_large_or_malformed_are_refused() {
    // Each request stops where the fake stops reading: bytes left unread
    // would turn its close into a reset that can swallow the answer.
    let fake = Fake::start();
    let raw = format!(
        "{}Content-Length: {}\r\n\r\n",
        head("POST", "/v2/consumer/workflows"),
        MAX_BODY + 1
    );
    let answer = send(&fake.url, raw.as_bytes());
    assert_eq!(status(&answer), "413", "{answer}");
    let raw = format!(
        "{}Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        head("POST", "/v2/consumer/workflows")
    );
    let answer = send(&fake.url, raw.as_bytes());
    assert_eq!(status(&answer), "400", "{answer}");
    assert!(body(&answer).contains("bad chunk size"), "{answer}");
    let raw = format!(
        "{}Content-Length: 3\r\nContent-Length: 4\r\n\r\n",
        head("POST", "/v2/consumer/workflows")
    );
    assert_eq!(status(&send(&fake.url, raw.as_bytes())), "400");
    assert!(
        fake.requests().is_empty(),
        "refused requests are not recorded"
    );
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let fake = Fake::start();
    let mut s = TcpStream::connect(addr(&fake.url)).unwrap();
    let raw = format!(
        "{}Expect: 100-continue\r\nContent-Length: 2\r\n\r\n",
        head("POST", "/v2/consumer/workflows")
    );
    s.write_all(raw.as_bytes()).unwrap();
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed before 100 Continue");
        interim.push(byte[0]);
    }
    assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"{}").unwrap();
    let answer = String::from_utf8_lossy(&read_all(s)).into_owned();
    assert_eq!(status(&answer), "405", "{answer}");
    assert_eq!(fake.api_requests()[0].body, b"{}");
}

#[test]
fn head_answers_like_get_without_a_body() {
    let fake = Fake::start();
    let get = send(
        &fake.url,
        format!(
            "{}\r\n",
            head("GET", &format!("/v2/consumer/workflows/{W1}"))
        )
        .as_bytes(),
    );
    let head_answer = send(
        &fake.url,
        format!(
            "{}\r\n",
            head("HEAD", &format!("/v2/consumer/workflows/{W1}"))
        )
        .as_bytes(),
    );
    assert_eq!(status(&head_answer), "200", "{head_answer}");
    let length = |a: &str| {
        a.lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map(str::to_string)
    };
    assert_eq!(length(&head_answer), length(&get));
    assert!(!body(&get).is_empty());
    assert!(body(&head_answer).is_empty(), "{head_answer}");
    // The CDN takes HEAD too, and nothing but GET and HEAD.
    let path = format!("/signed/{JPEG}");
    let answer = send(
        &fake.cdn_url,
        format!("HEAD {path} HTTP/1.1\r\n\r\n").as_bytes(),
    );
    assert_eq!(status(&answer), "200", "{answer}");
    assert!(body(&answer).is_empty(), "{answer}");
    let answer = send(
        &fake.cdn_url,
        format!("DELETE {path} HTTP/1.1\r\n\r\n").as_bytes(),
    );
    assert_eq!(status(&answer), "405", "{answer}");
    assert!(answer.contains("\r\nAllow: GET, HEAD\r\n"), "{answer}");
}

#[test]
fn scripts_serve_cdn_paths_and_redirects_name_the_cdn() {
    let fake = Fake::start();
    fake.script(
        "/v2/consumer/blobs/anywhere.png",
        vec![Reply::redirect(302, "{{CDN}}/elsewhere/anywhere.png")],
    );
    fake.script(
        "/elsewhere/anywhere.png",
        vec![Reply::html(200, "scripted on the CDN")],
    );
    let answer = send(
        &fake.url,
        format!("{}\r\n", head("GET", "/v2/consumer/blobs/anywhere.png")).as_bytes(),
    );
    assert_eq!(status(&answer), "302", "{answer}");
    let location = format!("{}/elsewhere/anywhere.png", fake.cdn_url);
    assert!(
        answer.contains(&format!("\r\nLocation: {location}\r\n")),
        "{answer}"
    );
    let answer = send(
        &fake.cdn_url,
        b"GET /elsewhere/anywhere.png HTTP/1.1\r\n\r\n",
    );
    assert_eq!(body(&answer), "scripted on the CDN");
    // Once the script is spent, the routes answer again.
    let answer = send(
        &fake.cdn_url,
        b"GET /elsewhere/anywhere.png HTTP/1.1\r\n\r\n",
    );
    assert_eq!(status(&answer), "404", "{answer}");
    let hosts: Vec<Host> = fake.requests().iter().map(|r| r.host).collect();
    assert_eq!(hosts, [Host::Api, Host::Cdn, Host::Cdn]);
}

#[test]
fn workflows_put_in_the_store_are_listed_newest_first() {
    let fake = Fake::start();
    let mut w = fake.workflow(W1);
    w["id"] = json!("0-new");
    fake.put_workflow(w);
    let page = cli(&fake, &["--json", "workflows", "--take=2"]).ok().json();
    assert_eq!(page["items"][0]["id"], "0-new");
    assert_eq!(page["items"][1]["id"], W1);
    // Not the fixture listing any more: no fixture cursor.
    assert_eq!(page["next"], "off:2");
    let oldest = cli(&fake, &["--jsonl", "workflows", "--oldest", "--all"])
        .ok()
        .jsonl_ids();
    assert_eq!(oldest.last().map(String::as_str), Some("0-new"));
    assert_eq!(oldest.len(), 7);
    cli(&fake, &["workflow", "0-new"]).ok();
}
