//! `civitai-orch api`: any method on any path of the API, the body as it
//! came, the exit code by status; `--body`, `-f`, `-H`, `-i`,
//! `--paginate`; the retries each method allows; URLs of other places
//! refused; the token never shown, even when a server echoes it.

use serde_json::{json, Value};

use crate::no_token_in;
use crate::support::{cli, temp_dir, Cli, Fake, Reply, TOKEN};
use crate::{workflow_path, W1, W_COMFY, W_FAIL, W_IMG, W_PROC, W_VID};

const WORKFLOWS: &str = "/v2/consumer/workflows";

fn template() -> String {
    json!({"steps": [{"$type": "imageGen", "name": "0",
                      "input": {"engine": "flux", "prompt": "a cat astronaut",
                                "width": 1024, "height": 1024}}],
           "tags": ["project:demo"]})
    .to_string()
}

fn write(name: &str, text: &str) -> String {
    let path = temp_dir("api").join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn get_prints_the_body_as_it_came_with_the_token_and_the_query() {
    let fake = Fake::start();
    let run = cli(&fake, &["api", "/v2/consumer/workflows", "-f", "take=2"]);
    run.ok();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["items"].as_array().unwrap().len(), 2);
    assert_eq!(doc["items"][0]["id"], W1);
    // As it came: the fake's pretty body, keys in its order.
    assert!(run.stdout.starts_with("{\n  \"items\": ["), "{run:?}");
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(
        (req.method.as_str(), req.raw_path.as_str()),
        ("GET", WORKFLOWS)
    );
    assert_eq!(req.param("take"), Some("2"));
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    no_token_in(&run, 12);

    // No leading slash; a query of the path's own, -f appended, encoded.
    cli(
        &fake,
        &[
            "api",
            "v2/consumer/workflows?take=1",
            "-f",
            "query=a cat&b",
            "-f",
            "tags=x/y",
        ],
    )
    .ok();
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(req.raw_path, WORKFLOWS);
    assert_eq!(
        req.query,
        [
            ("take".to_string(), "1".to_string()),
            ("query".to_string(), "a cat&b".to_string()),
            ("tags".to_string(), "x/y".to_string()),
        ]
    );

    // A full URL under the API URL is the same path.
    let url = format!("{}{}", fake.url, workflow_path(W1));
    let run = cli(&fake, &["api", &url]);
    assert_eq!(run.ok().json_pretty()["id"], W1);
    assert_eq!(
        fake.api_requests().pop().unwrap().raw_path,
        workflow_path(W1)
    );
}

#[test]
fn head_prints_nothing_and_include_shows_the_head_on_stderr() {
    let fake = Fake::start();
    let run = cli(&fake, &["api", "-i", "HEAD", &workflow_path(W1)]);
    run.ok();
    assert_eq!(run.stdout, "", "{run:?}");
    run.stderr_has("HTTP/1.1 200 OK\n")
        .stderr_has("content-type: application/json\n");
    assert_eq!(fake.api_requests().pop().unwrap().method, "HEAD");

    let run = cli(&fake, &["api", "head", "/v2/consumer/workflows/nope"]);
    run.code(4).one_error_line();
    assert_eq!(run.stdout, "");
}

#[test]
fn a_redirect_is_an_answer_not_followed() {
    let fake = Fake::start();
    let run = cli(
        &fake,
        &["api", &format!("/v2/consumer/blobs/{}", crate::JPEG)],
    );
    run.ok().stderr_has(&format!(
        "307 Temporary Redirect to {}/signed/{}?sig=[hidden]&exp=[hidden]: not followed",
        fake.cdn_url,
        crate::JPEG
    ));
    assert_eq!(run.stdout, "");
    assert!(fake.cdn_requests().is_empty());
    let run = cli(
        &fake,
        &["api", "-i", &format!("/v2/consumer/blobs/{}", crate::JPEG)],
    );
    run.ok()
        .stderr_has("HTTP/1.1 307 Temporary Redirect\n")
        .stderr_has(&format!("location: {}/signed/", fake.cdn_url));
}

#[test]
fn post_put_and_delete_act_on_a_workflow() {
    let fake = Fake::start();
    let body = write("template.json", &template());
    // A body makes the default method POST.
    let run = cli(&fake, &["api", WORKFLOWS, "--body", &body]);
    let doc = run.ok().json_pretty();
    let id = doc["id"].as_str().unwrap().to_string();
    assert_eq!(fake.submits(), 1);
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.body, template().as_bytes(), "sent as it was");

    // PUT from stdin: 204, nothing on stdout.
    let run = Cli::new(
        Some(&fake),
        &["api", "PUT", &workflow_path(&id), "--body", "-"],
    )
    .stdin("\u{feff}{\"status\":\"canceled\"}")
    .run();
    run.ok();
    assert_eq!(run.stdout, "");
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(req.method, "PUT");
    assert_eq!(req.body_json(), json!({"status": "canceled"}));
    assert_eq!(fake.workflow(&id)["status"], "canceled");

    cli(&fake, &["api", "DELETE", &workflow_path(&id)]).ok();
    assert_eq!(fake.api_requests().pop().unwrap().method, "DELETE");
    // Gone: the 404's body on stdout, the error on stderr, exit 4.
    let run = cli(&fake, &["api", &workflow_path(&id)]);
    run.code(4).one_error_line().stderr_has(&format!(
        "error: 404 Not Found: no resource at {}",
        workflow_path(&id)
    ));
    let err: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(err["status"], 404);
    assert!(err["detail"].as_str().unwrap().contains(&id), "{run:?}");
}

#[test]
fn bodies_are_checked_and_a_caller_content_type_wins() {
    let fake = Fake::start();
    let bad = write("bad.json", "{\"steps\": [");
    cli(&fake, &["api", "POST", WORKFLOWS, "--body", &bad])
        .code(2)
        .one_error_line()
        .stderr_has("is not JSON");
    Cli::new(Some(&fake), &["api", "POST", WORKFLOWS, "--body", "-"])
        .stdin("")
        .run()
        .code(2)
        .stderr_has("--body stdin is not JSON");
    let dir = temp_dir("api-dir");
    cli(
        &fake,
        &["api", "POST", WORKFLOWS, "--body", dir.to_str().unwrap()],
    )
    .code(2)
    .stderr_has("is a folder");
    cli(
        &fake,
        &["api", "POST", WORKFLOWS, "--body", "/nonexistent/t.json"],
    )
    .code(2)
    .stderr_has("cannot read --body /nonexistent/t.json");
    cli(&fake, &["api", "GET", WORKFLOWS, "--body", &bad])
        .code(2)
        .stderr_has("--body goes with POST, PUT, PATCH or DELETE, not GET");
    assert!(fake.requests().is_empty());

    // A JSON Patch with its own type: one Content-Type, the caller's. The
    // fake serves no PATCH (405: exit 1), and a PATCH is not repeated.
    let patch = write(
        "patch.json",
        r#"[{"op":"add","path":"/tags/-","value":"x"}]"#,
    );
    let run = cli(
        &fake,
        &[
            "api",
            "PATCH",
            &workflow_path(W1),
            "--body",
            &patch,
            "-H",
            "Content-Type: application/json-patch+json",
        ],
    );
    run.code(1).one_error_line().stderr_has("405");
    let reqs = fake.api_requests();
    assert_eq!(reqs.len(), 1);
    let types: Vec<&str> = reqs[0]
        .headers
        .iter()
        .filter(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(types, ["application/json-patch+json"]);
}

#[test]
fn headers_pass_through_and_authorization_cannot_be_set() {
    let fake = Fake::start();
    cli(
        &fake,
        &[
            "api",
            WORKFLOWS,
            "-f",
            "take=1",
            "-H",
            "X-Trace: abc 123",
            "-H",
            "Accept-Language:fr",
        ],
    )
    .ok();
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(req.header("x-trace"), Some("abc 123"));
    assert_eq!(req.header("accept-language"), Some("fr"));
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let run = cli(
        &fake,
        &["api", WORKFLOWS, "-H", "Authorization: Bearer other"],
    );
    run.code(2).stderr_has("-H cannot set Authorization");
    assert_eq!(fake.api_requests().len(), 1);
}

#[test]
fn urls_of_other_places_are_refused() {
    let fake = Fake::start();
    for url in [
        format!("{}/v2/consumer/workflows", fake.cdn_url),
        format!("{}.evil.example/v2/consumer/workflows", fake.url),
        "https://evil.example/v2/consumer/workflows?sig=s3cretvalue".to_string(),
    ] {
        let run = cli(&fake, &["api", &url]);
        run.code(2)
            .one_error_line()
            .stderr_has("is not under the API URL");
        assert!(!run.stderr.contains("s3cretvalue"), "{run:?}");
    }
    cli(&fake, &["api", "/v2/a b"])
        .code(2)
        .stderr_has("percent-encode");
    cli(&fake, &["api", "OPTIONS", WORKFLOWS])
        .code(2)
        .stderr_has("unknown method 'OPTIONS'");
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[test]
fn paginate_prints_every_item_of_every_page_in_order() {
    let fake = Fake::start();
    let run = cli(&fake, &["api", "--paginate", WORKFLOWS, "-f", "take=2"]);
    run.ok();
    assert_eq!(
        run.jsonl_ids(),
        [W1, W_IMG, W_FAIL, W_VID, W_COMFY, W_PROC],
        "{run:?}"
    );
    for line in run.stdout.lines() {
        assert!(
            line.starts_with("{\"") && !line.contains(": "),
            "minified: {line}"
        );
    }
    let reqs = fake.api_requests();
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert_eq!(reqs[0].param("cursor"), None);
    for r in &reqs {
        assert_eq!(r.params("take"), ["2"]);
        assert!(r.params("cursor").len() <= 1, "one cursor: {r:?}");
    }
    assert!(reqs[1].param("cursor").is_some() && reqs[2].param("cursor").is_some());
    no_token_in(&run, 12);
}

#[test]
fn paginate_ends_on_a_bare_array_and_on_a_repeated_cursor() {
    let fake = Fake::start();
    fake.script(
        "/v1/manager/things",
        vec![Reply::json(
            200,
            r#"[{"id": "a"}, {"id": "b",  "n": [1, 2]}]"#,
        )],
    );
    let run = cli(&fake, &["api", "--paginate", "/v1/manager/things"]);
    run.ok();
    assert_eq!(run.stdout, "{\"id\":\"a\"}\n{\"id\":\"b\",\"n\":[1,2]}\n");
    assert_eq!(fake.api_requests().len(), 1);

    let page = |id: &str| {
        Reply::json(
            200,
            &json!({"items": [{"id": id}], "next": "C1"}).to_string(),
        )
    };
    fake.script("/v2/loop", vec![page("x"), page("y"), page("z")]);
    let run = cli(&fake, &["api", "--paginate", "/v2/loop"]);
    run.ok()
        .stderr_has("the API sent cursor C1 again; the listing ends here");
    assert_eq!(run.jsonl_ids(), ["x", "y"]);
    let reqs: Vec<_> = fake
        .api_requests()
        .into_iter()
        .filter(|r| r.raw_path == "/v2/loop")
        .collect();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].param("cursor"), Some("C1"));

    // POST lists are not walked.
    cli(&fake, &["api", "--paginate", "POST", WORKFLOWS])
        .code(2)
        .stderr_has("--paginate follows GET lists only");
}

#[test]
fn a_get_is_retried_after_a_503_and_a_post_is_not() {
    let fake = Fake::start();
    let busy = || Reply::problem(503, "Service Unavailable", "busy").header("Retry-After", "0");
    fake.script(&workflow_path(W1), vec![busy()]);
    let run = cli(&fake, &["api", &workflow_path(W1)]);
    assert_eq!(run.ok().json_pretty()["id"], W1);
    run.stderr_has("server error (503 Service Unavailable); retrying");
    assert_eq!(fake.api_requests().len(), 2);

    let body = write("template.json", &template());
    fake.script(WORKFLOWS, vec![busy()]);
    let run = cli(&fake, &["api", "POST", WORKFLOWS, "--body", &body]);
    run.code(5)
        .one_error_line()
        .stderr_has("error: 503 Service Unavailable: busy");
    assert!(!run.stderr.contains("retrying"), "{run:?}");
    // The 503's body is the output, as any answer's.
    assert_eq!(
        serde_json::from_str::<Value>(&run.stdout).unwrap()["status"],
        503
    );
    let posts = fake
        .api_requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "a POST repeated after a 503");
    assert_eq!(fake.submits(), 0);

    // A 429 refuses before anything is done: a POST is repeated.
    fake.script(
        WORKFLOWS,
        vec![Reply::problem(429, "Too Many Requests", "x").header("Retry-After", "0")],
    );
    cli(&fake, &["api", "POST", WORKFLOWS, "--body", &body]).ok();
    assert_eq!(fake.submits(), 1);
}

#[test]
fn the_token_is_never_shown_even_when_a_server_echoes_it() {
    let fake = Fake::start();
    let echo = json!({"youSent": format!("Bearer {TOKEN}"), "raw": TOKEN}).to_string();
    fake.script(
        "/v2/echo",
        vec![
            Reply::json(200, &echo)
                .header("Authorization", &format!("Bearer {TOKEN}"))
                .header("X-Token", TOKEN),
            Reply::json(401, &echo).header("WWW-Authenticate", &format!("Bearer {TOKEN}")),
        ],
    );
    let run = cli(&fake, &["api", "-i", "-v", "/v2/echo"]);
    run.ok().stderr_has("authorization: [hidden]");
    no_token_in(&run, 12);
    let run = cli(&fake, &["--json", "api", "-i", "/v2/echo"]);
    run.code(3);
    no_token_in(&run, 12);
}

trait Pretty {
    fn json_pretty(&self) -> Value;
}

impl Pretty for crate::support::Run {
    /// The stdout as one JSON document, however it is spaced.
    fn json_pretty(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):{self:?}"))
    }
}

// Written to break it: a careless user, a hostile server.

#[test]
fn headers_that_frame_or_route_the_request_cannot_be_set() {
    let fake = Fake::start();
    let body = write("api-frame.json", "{\"a\":1}");
    for (h, said) in [
        // Another site behind the same server would get the token.
        ("Host: evil.example", "-H cannot set Host"),
        ("host:evil.example", "-H cannot set Host"),
        // A length that is not the body's: the server waits for the rest.
        ("Content-Length: 100000", "-H cannot set Content-Length"),
        (
            "Transfer-Encoding: chunked",
            "-H cannot set Transfer-Encoding",
        ),
    ] {
        let start = std::time::Instant::now();
        let run = cli(
            &fake,
            &[
                "api",
                "POST",
                "/v2/x",
                "--body",
                &body,
                "-H",
                h,
                "--timeout=5",
            ],
        );
        run.code(2).one_error_line().stderr_has(said);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(4),
            "{run:?}"
        );
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[test]
fn a_path_beyond_ascii_is_sent_percent_encoded() {
    let fake = Fake::start();
    cli(&fake, &["api", "/v2/consumer/workflows/ü-1", "-f", "q=é"]).code(4);
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(req.raw_path, "/v2/consumer/workflows/%C3%BC-1");
    assert_eq!(req.param("q"), Some("é"));
}

#[test]
fn paginate_stops_at_a_page_of_nothing_and_prints_a_non_list_whole() {
    let fake = Fake::start();
    // A server that would send pages of nothing, each with a fresh cursor,
    // for ever: the first empty page ends the walk.
    let empty: Vec<Reply> = (0..50)
        .map(|i| {
            Reply::json(
                200,
                &json!({"items": [], "next": format!("C{i}")}).to_string(),
            )
        })
        .collect();
    fake.script("/v2/nothing", empty);
    let run = cli(&fake, &["api", "--paginate", "/v2/nothing"]);
    run.ok();
    assert_eq!(run.stdout, "");
    assert_eq!(fake.api_requests().len(), 1);
    // Not a list: the one document is the one line.
    fake.script(
        "/v2/one",
        vec![Reply::json(200, "{\"id\": \"w\",\n \"next\": \"C\"}")],
    );
    let run = cli(&fake, &["api", "--paginate", "/v2/one"]);
    assert_eq!(run.ok().stdout, "{\"id\":\"w\",\"next\":\"C\"}\n");
    assert_eq!(fake.api_requests().len(), 2);
}

#[test]
fn a_server_that_echoes_most_of_the_token_does_not_get_it_shown() {
    let fake = Fake::start();
    let cut_token = &TOKEN[..TOKEN.len() - 3];
    fake.script(
        "/v2/echo",
        vec![Reply::json(
            401,
            &json!({"title": format!("bad token {cut_token}...")}).to_string(),
        )],
    );
    let run = cli(&fake, &["api", "/v2/echo"]);
    run.code(3);
    no_token_in(&run, 8);
}
