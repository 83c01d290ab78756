//! The fake orchestrator itself, spoken to over raw sockets: request bodies
//! (by length, chunked, too large, malformed, after `100 Continue`),
//! routing by method (405 with `Allow`, HEAD), scripts on either host,
//! redirects, the workflow store, the v1 job of every workflow job, the
//! five-job workflow, API concurrency, the generated `stats` dataset and
//! pages served twice; and the write side: submit (validation, progress,
//! `wait`, `whatif`, Buzz, `externalId`, a dropped answer), cancel and
//! updates, delete, tags, step metadata, uploads and a blob's refresh. A
//! broken fake would otherwise pass for a broken CLI.

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::fake::{read_all, Host, Options, MAX_BODY};
use crate::support::{cli, Fake, Reply, TOKEN};
use crate::{workflow_path, JPEG, W1, W_FIVE, W_IMG, W_PROC};

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
    let sent = json!([{"op": "add", "path": "/tags/-", "value": "a"}]).to_string();
    let raw = format!(
        "{}Content-Type: application/json-patch+json\r\nContent-Length: {}\r\n\r\n{sent}",
        head("PATCH", &format!("/v2/consumer/workflows/{W1}")),
        sent.len()
    );
    let answer = send(&fake.url, raw.as_bytes());
    assert_eq!(status(&answer), "405", "{answer}");
    assert!(
        answer.contains("\r\nAllow: GET, HEAD, PUT, DELETE\r\n"),
        "{answer}"
    );
    assert!(answer.contains("application/problem+json"), "{answer}");
    let problem: serde_json::Value = serde_json::from_str(body(&answer)).unwrap();
    assert_eq!(problem["status"], 405);
    assert_eq!(problem["title"], "Method Not Allowed");
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(req.method, "PATCH");
    assert_eq!(req.body, sent.as_bytes());
    assert_eq!(req.body_json()[0]["value"], "a");
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
    // An update with no field the API knows: taken, nothing changes.
    assert_eq!(status(&answer), "204", "{answer}");
    assert_eq!(
        get(&fake, &format!("/v2/consumer/workflows/{W1}")).1["metadata"],
        fake.workflow(W1)["metadata"]
    );
    let req = fake.api_requests()[0].clone();
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
    assert_eq!(status(&answer), "400", "{answer}");
    assert!(body(&answer).contains("\"steps\""), "{answer}");
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

/// `GET path` (with its query) on the API, with the token: the status and
/// the body as JSON (`null` when it is not JSON).
fn get(fake: &Fake, path: &str) -> (u16, Value) {
    let answer = send(&fake.url, format!("{}\r\n", head("GET", path)).as_bytes());
    let code = status(&answer).parse().unwrap_or(0);
    (
        code,
        serde_json::from_str(body(&answer)).unwrap_or(Value::Null),
    )
}

/// Every blob object (a string `id` and a boolean `available`) under `v`.
fn blobs_in(v: &Value) -> Vec<Value> {
    fn walk(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Object(o) => {
                if o.get("id").is_some_and(Value::is_string)
                    && o.get("available").is_some_and(Value::is_boolean)
                {
                    out.push(v.clone());
                }
                o.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_string())
        .collect()
}

/// The v1 id of a workflow: `8484131-` and its `createdAt` as digits.
fn v1_workflow_id(w: &Value) -> String {
    let created: String = w["createdAt"]
        .as_str()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    format!("8484131-{created}")
}

/// Checks that every job of `w` answers `GET /v1/consumer/jobs/{id}` with a
/// JobStatus that fits the workflow, and that every blob's `jobId` is one
/// of them; returns the jobs, by id.
fn check_jobs_of(fake: &Fake, w: &Value) -> HashMap<String, Value> {
    let wid = w["id"].as_str().unwrap();
    let mut jobs = HashMap::new();
    for step in w["steps"].as_array().unwrap() {
        let name = step["name"].as_str().unwrap();
        let step_blobs = blobs_in(&step["output"]);
        for j in step["jobs"].as_array().unwrap() {
            let id = j["id"].as_str().unwrap();
            let (code, doc) = get(fake, &format!("/v1/consumer/jobs/{id}?detailed=true"));
            assert_eq!(code, 200, "job {id} of {wid}");
            assert_eq!(doc["jobId"], id);
            assert_eq!(doc["job"]["id"], id);
            assert_eq!(doc["cost"], j["cost"], "job {id}");
            assert!(doc["job"]["type"].is_string() && doc["job"]["createdAt"].is_string());
            let props = &doc["job"]["properties"];
            assert_eq!(props["workflowId"], v1_workflow_id(w).as_str(), "job {id}");
            assert_eq!(props["stepName"], name, "job {id}");
            let event = &doc["lastEvent"];
            let expected = match j["status"].as_str().unwrap() {
                "succeeded" => "Succeeded",
                "failed" => "Failed",
                "expired" => "Expired",
                "canceled" => "Deleted",
                "processing" => "Updated",
                "scheduled" => "Claimed",
                "unassigned" => "Initialized",
                other => panic!("job {id}: status {other}"),
            };
            assert_eq!(event["type"], expected, "job {id}");
            assert!(event["dateTime"].is_string() && event["context"].is_object());
            // The result is the job's blobs in the workflow, availability
            // included (in any order: the walk of a step's output goes by
            // key).
            let mut mine: Vec<(String, bool)> = step_blobs
                .iter()
                .filter(|b| b["jobId"] == id)
                .map(|b| (b["id"].as_str().unwrap().into(), b["available"] == true))
                .collect();
            let mut result: Vec<(String, bool)> = doc["result"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .map(|x| {
                            (
                                x["blobKey"].as_str().unwrap().into(),
                                x["available"] == true,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            mine.sort();
            result.sort();
            assert_eq!(result, mine, "result of job {id} of {wid}");
            if j["status"] != "succeeded" {
                assert!(result.is_empty(), "job {id} has a result before it ends");
            }
            jobs.insert(id.to_string(), doc);
        }
        for b in &step_blobs {
            let job = b["jobId"].as_str().expect("each output blob names its job");
            assert!(
                jobs.contains_key(job),
                "blob {} of {wid}: job {job}",
                b["id"]
            );
        }
    }
    jobs
}

#[test]
fn every_job_of_every_fixture_workflow_answers_with_a_fitting_job_status() {
    let fake = Fake::start();
    let mut all = fake.all_workflows();
    all.push(fake.workflow(W_FIVE));
    let mut jobs = HashMap::new();
    for w in &all {
        jobs.extend(check_jobs_of(&fake, w));
    }
    assert_eq!(jobs.len(), 14, "{:?}", jobs.keys());
    let context = |id: &str| jobs[id]["lastEvent"]["context"].clone();
    // The scan contexts differ on purpose: the CLI reads scores out of them.
    assert_eq!(
        context("58de87d7-d594-4d71-ae43-dd8fc1bcbd23")["hive_csam_score"],
        "0.00 %, 0.00 %"
    );
    let blocked = context("c8b2d4e3-5f60-4b7c-9d8e-0f1a2b3c4d5e");
    assert_eq!(blocked["hive_csam_score"], "87.50 %, 12.00 %");
    assert_eq!(blocked["blocked_reason"], "NSFW content not allowed");
    assert_eq!(
        jobs["c8b2d4e3-5f60-4b7c-9d8e-0f1a2b3c4d5e"]["result"][0]["blobKey"],
        "9PZQ1RSTV2WXY3ABC4DEF5GHJK.jpeg"
    );
    assert_eq!(
        context("b7a1c3d2-4e5f-4a6b-8c7d-9e0f1a2b3c4d")["hive_csam_score"],
        json!(0.01)
    );
    assert_eq!(
        context("4d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a")["hive_csam_score"],
        "0.03"
    );
    assert_eq!(
        context("7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d")["hive"]["csam_score"],
        json!(0.02)
    );
    let hash = context("2f3e4d5c-6b7a-4980-a1b2-c3d4e5f6a7b8");
    assert!(hash.get("hive_csam_score").is_none() && hash["cpu_ms"].is_number());
    let failed = &jobs["e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"];
    assert_eq!(failed["lastEvent"]["type"], "Failed");
    assert!(failed["lastEvent"]["context"]["hive_csam_score"].is_null());
    let running = &jobs["9c8b7a6f-5e4d-4c3b-a291-8f7e6d5c4b3a"];
    assert_eq!(running["lastEvent"]["type"], "Updated");
    assert_eq!(running["result"], json!([]));
    let claimed = &jobs["a0b1c2d3-e4f5-4a6b-8c7d-8e9f0a1b2c3d"];
    assert_eq!(claimed["lastEvent"]["type"], "Claimed");
    assert!(claimed["result"].is_null());
    // Every kind of value a context holds, somewhere.
    let contexts: Vec<Value> = jobs
        .values()
        .map(|j| j["lastEvent"]["context"].clone())
        .collect();
    for key in ["hive_vlm_summary", "nsfwLevel", "gpu", "sampler_ms"] {
        assert!(
            contexts.iter().filter(|c| c.get(key).is_some()).count() >= 5,
            "{key}"
        );
    }
    // The job fixtures are the fixture workflows' jobs, and the minimal one.
    let files = crate::files(&crate::support::fake::fixtures_dir().join("jobs"));
    assert_eq!(files.len(), jobs.len() + 1, "{files:?}");
    assert_eq!(get(&fake, "/v1/consumer/jobs/0-no-such-job").0, 404);
}

#[test]
fn the_five_job_workflow_is_served_by_id_and_listed_only_as_an_extra() {
    let fake = Fake::start();
    let (code, w) = get(&fake, &format!("/v2/consumer/workflows/{W_FIVE}"));
    assert_eq!(code, 200);
    assert_eq!(w["status"], "succeeded");
    let steps = w["steps"].as_array().unwrap();
    let jobs: Vec<usize> = steps
        .iter()
        .map(|s| s["jobs"].as_array().unwrap().len())
        .collect();
    assert_eq!(jobs, [2, 3]);
    let blobs = blobs_in(&w["steps"]);
    assert_eq!(blobs.len(), 5);
    let job_ids: BTreeSet<&str> = blobs.iter().map(|b| b["jobId"].as_str().unwrap()).collect();
    assert_eq!(job_ids.len(), 5, "one image per job");
    assert!(blobs.iter().all(|b| b["nsfwLevel"].is_string()));
    let blocked: Vec<&Value> = blobs.iter().filter(|b| b["available"] == false).collect();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0]["id"], "5JB0D4SVX5FT1A07Q0R2P6G9JK.jpeg");
    assert_eq!(blocked[0]["blockedReason"], "Blocked by content moderation");
    assert!(blocked[0]["url"].is_null());
    let (code, step) = get(
        &fake,
        &format!("/v2/consumer/workflows/{W_FIVE}/steps/variants"),
    );
    assert_eq!(code, 200);
    assert_eq!(step["jobs"].as_array().unwrap().len(), 3);
    check_jobs_of(&fake, &w);
    // Its available images are on the CDN, the blocked one is not.
    for b in &blobs {
        let id = b["id"].as_str().unwrap();
        let answer = send(
            &fake.url,
            format!("{}\r\n", head("HEAD", &format!("/v2/consumer/blobs/{id}"))).as_bytes(),
        );
        let expected = if b["available"] == true { "204" } else { "404" };
        assert_eq!(status(&answer), expected, "{id}");
        if b["available"] == true {
            let url = b["url"].as_str().unwrap().replace("{{CDN}}", &fake.cdn_url);
            assert!(
                url.starts_with(&format!("{}/signed/{id}?", fake.cdn_url)),
                "{url}"
            );
            assert!(fake.media(id).starts_with(b"\x89PNG"), "{id}");
        }
    }
    // Not in the default listing, which stays the fixture pages'.
    let (_, page) = get(&fake, "/v2/consumer/workflows");
    assert_eq!(page["items"].as_array().unwrap().len(), 6);
    assert!(!fake.all_workflows().iter().any(|w| w["id"] == W_FIVE));
    // Listed, as the oldest, with `extra`.
    let fake = Fake::start_with(Options {
        extra: true,
        ..Options::default()
    });
    let (_, page) = get(&fake, "/v2/consumer/workflows?ascending=true&take=2");
    assert_eq!(page["items"][0]["id"], W_FIVE);
    assert_eq!(page["next"], "off:2");
    assert_eq!(fake.all_workflows().len(), 7);
}

#[test]
fn api_max_inflight_counts_requests_answered_at_once() {
    let fake = Fake::start();
    for _ in 0..3 {
        assert_eq!(get(&fake, &format!("/v2/consumer/workflows/{W1}")).0, 200);
    }
    assert_eq!(fake.api_max_inflight(), 1, "one after the other");
    assert_eq!(fake.cdn_max_inflight(), 0);
    fake.set_api_delay(Duration::from_millis(400));
    fake.script(
        "/v2/consumer/workflows/scripted",
        vec![Reply::json(200, "{}")],
    );
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for path in [
            format!("/v2/consumer/workflows/{W1}"),
            format!("/v2/consumer/workflows/{W_IMG}"),
            "/v2/consumer/workflows/scripted".to_string(),
            "/v1/consumer/jobs/58de87d7-d594-4d71-ae43-dd8fc1bcbd23".to_string(),
        ] {
            let fake = &fake;
            s.spawn(move || assert_eq!(get(fake, &path).0, 200, "{path}"));
        }
    });
    assert!(started.elapsed() >= Duration::from_millis(400));
    let most = fake.api_max_inflight();
    assert!((2..=4).contains(&most), "{most} at once");
}

/// Walks `GET /v2/consumer/workflows?{query}` page by page (`take`
/// included in `query`), returning the ids in the order served and each
/// `next` cursor.
fn walk(fake: &Fake, query: &str) -> (Vec<String>, Vec<String>) {
    let mut seen = Vec::new();
    let mut cursors = Vec::new();
    let mut cursor = String::new();
    for _ in 0..500 {
        let path = if cursor.is_empty() {
            format!("/v2/consumer/workflows?{query}")
        } else {
            format!("/v2/consumer/workflows?{query}&cursor={cursor}")
        };
        let (code, page) = get(fake, &path);
        assert_eq!(code, 200, "{path}: {page}");
        seen.extend(ids(page["items"].as_array().unwrap()));
        match page["next"].as_str() {
            Some(next) => {
                cursors.push(next.to_string());
                cursor = next.to_string();
            }
            None => return (seen, cursors),
        }
    }
    panic!("the walk of {query} does not end");
}

#[test]
fn the_stats_dataset_is_varied_deterministic_and_listed_like_the_store() {
    let opts = || Options {
        stats: 60,
        ..Options::default()
    };
    let fake = Fake::start_with(opts());
    let all = fake.all_workflows();
    assert_eq!(all.len(), 66, "the six fixtures and sixty generated");
    assert_eq!(
        all,
        Fake::start_with(opts()).all_workflows(),
        "the same every time"
    );
    let generated: Vec<&Value> = all
        .iter()
        .filter(|w| w["metadata"]["run"].is_number())
        .collect();
    assert_eq!(generated.len(), 60);
    // Creation order is createdAt order, generated ones first.
    let created: Vec<&str> = all
        .iter()
        .map(|w| w["createdAt"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|p| p[0] < p[1]), "{created:?}");
    assert!(all[..60].iter().all(|w| w["metadata"]["run"].is_number()));

    // Varied as promised.
    let set = |f: &dyn Fn(&Value) -> Vec<String>| -> BTreeSet<String> {
        generated.iter().flat_map(|w| f(w)).collect()
    };
    let statuses = set(&|w| vec![w["status"].as_str().unwrap().into()]);
    assert_eq!(
        statuses,
        ["canceled", "expired", "failed", "processing", "succeeded"]
            .map(String::from)
            .into()
    );
    let step_types = set(&|w| {
        w["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["$type"].as_str().unwrap().into())
            .collect()
    });
    for t in [
        "textToImage",
        "imageGen",
        "videoGen",
        "comfy",
        "textToSpeech",
        "mediaHash",
    ] {
        assert!(step_types.contains(t), "{t}: {step_types:?}");
    }
    assert!(generated
        .iter()
        .any(|w| w["steps"].as_array().unwrap().len() >= 3));
    let blobs: Vec<Value> = generated
        .iter()
        .flat_map(|w| blobs_in(&w["steps"]))
        .collect();
    let kinds = blobs
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect::<BTreeSet<_>>();
    assert_eq!(kinds, ["audio", "image", "video"].into());
    let reasons: BTreeSet<&str> = blobs
        .iter()
        .filter(|b| b["available"] == false)
        .map(|b| {
            assert!(b["url"].is_null());
            b["blockedReason"].as_str().unwrap()
        })
        .collect();
    assert!(reasons.len() >= 3, "{reasons:?}");
    let days = set(&|w| vec![w["createdAt"].as_str().unwrap()[..10].into()]);
    assert!(days.len() >= 5, "{days:?}");
    let hours = set(&|w| vec![w["createdAt"].as_str().unwrap()[11..13].into()]);
    assert!(hours.len() >= 12, "{hours:?}");
    for w in &generated {
        let done = w["status"] != "processing";
        assert_eq!(w["completedAt"].is_string(), done, "{}", w["id"]);
        let debits: u64 = w["transactions"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["type"] == "debit")
            .map(|t| t["amount"].as_u64().unwrap())
            .sum();
        assert_eq!(debits, w["cost"]["total"].as_u64().unwrap(), "{}", w["id"]);
        assert!(w["tags"].as_array().unwrap().len() >= 3);
    }
    let money = set(&|w| {
        w["transactions"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{}:{}",
                    t["accountType"].as_str().unwrap(),
                    t["type"].as_str().unwrap()
                )
            })
            .collect()
    });
    for m in ["yellow:debit", "blue:debit", "yellow:credit"] {
        assert!(money.contains(m), "{m}: {money:?}");
    }
    let failures: Vec<&Value> = generated
        .iter()
        .flat_map(|w| w["steps"].as_array().unwrap())
        .filter(|s| s["status"] == "failed")
        .map(|s| &s["metadata"]["failureReason"])
        .collect();
    assert!(failures.iter().any(|r| r.is_string()) && failures.iter().any(|r| r.is_null()));

    // The listing pages through them as through the fixtures: newest first,
    // or oldest first, filtered.
    let newest: Vec<String> = ids(&all).into_iter().rev().collect();
    let (seen, cursors) = walk(&fake, "take=7");
    assert_eq!(seen, newest);
    assert_eq!(cursors.first().map(String::as_str), Some("off:7"));
    assert_eq!(walk(&fake, "take=100&ascending=true").0, ids(&all));
    let expect = |keep: &dyn Fn(&Value) -> bool| -> Vec<String> {
        ids(&all
            .iter()
            .rev()
            .filter(|w| keep(w))
            .cloned()
            .collect::<Vec<_>>())
    };
    let has_tag = |w: &Value, t: &str| w["tags"].as_array().unwrap().iter().any(|x| x == t);
    let tagged = expect(&|w| has_tag(w, "project:beta") && has_tag(w, "batch:nightly"));
    assert!(!tagged.is_empty());
    assert_eq!(
        walk(&fake, "take=3&tags=project:beta&tags=batch:nightly").0,
        tagged
    );
    let kept = expect(&|w| {
        !matches!(
            w["status"].as_str(),
            Some("failed" | "expired" | "canceled")
        )
    });
    assert_eq!(walk(&fake, "take=9&excludeFailed=true").0, kept);
    let (from, to) = ("2026-01-16T00:00:00.000Z", "2026-01-17T23:59:59.999Z");
    let dated = expect(&|w| {
        let c = w["createdAt"].as_str().unwrap();
        c >= from && c <= to
    });
    assert!(dated.len() >= 10);
    assert_eq!(
        walk(&fake, &format!("take=4&fromDate={from}&toDate={to}")).0,
        dated
    );
    let found = expect(&|w| w.to_string().to_lowercase().contains("lighthouse"));
    assert_eq!(walk(&fake, "take=5&query=lighthouse").0, found);
    // A page as served is the stored workflow with the CDN filled in.
    let (_, page) = get(&fake, "/v2/consumer/workflows?take=1&ascending=true");
    let stored = all[0].to_string().replace("{{CDN}}", &fake.cdn_url);
    assert_eq!(
        page["items"][0],
        serde_json::from_str::<Value>(&stored).unwrap()
    );

    // Their jobs answer, and their available blobs are on the CDN.
    for w in &generated {
        check_jobs_of(&fake, w);
    }
    let b = blobs.iter().find(|b| b["available"] == true).unwrap();
    let id = b["id"].as_str().unwrap();
    let answer = send(
        &fake.url,
        format!("{}\r\n", head("GET", &format!("/v2/consumer/blobs/{id}"))).as_bytes(),
    );
    assert_eq!(status(&answer), "307", "{answer}");
    let answer = send(
        &fake.cdn_url,
        format!("HEAD /signed/{id} HTTP/1.1\r\n\r\n").as_bytes(),
    );
    assert_eq!(status(&answer), "200", "{answer}");
}

#[test]
fn pages_repeat_items_with_overlap_pages_or_a_script() {
    let fake = Fake::start_with(Options {
        stats: 14,
        ..Options::default()
    });
    let newest: Vec<String> = ids(&fake.all_workflows()).into_iter().rev().collect();
    assert_eq!(newest.len(), 20);
    fake.overlap_pages(2);
    let (seen, cursors) = walk(&fake, "take=5");
    assert_eq!(cursors, ["off:3", "off:6", "off:9", "off:12", "off:15"]);
    assert_eq!(seen.len(), 6 * 5, "six pages of five: {seen:?}");
    let mut unique = Vec::new();
    for id in &seen {
        if !unique.contains(id) {
            unique.push(id.clone());
        }
    }
    assert_eq!(unique, newest, "every item, in order, some of them twice");
    assert!(seen.len() > newest.len());
    // Even an overlap as long as a page moves on.
    fake.overlap_pages(9);
    let (seen, cursors) = walk(&fake, "take=3&ascending=true");
    assert_eq!(cursors.len(), 17, "one item further each time: {cursors:?}");
    assert_eq!(seen.len(), 18 * 3, "{seen:?}");
    fake.overlap_pages(0);
    assert_eq!(walk(&fake, "take=5").0, newest);

    // A script does it too: a first page whose `next` points back into it.
    let fake = Fake::start();
    let page = json!({"next": "off:1", "items": [fake.workflow(W1), fake.workflow(W_IMG)]});
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::json(200, &page.to_string())],
    );
    let (seen, _) = walk(&fake, "take=2");
    assert_eq!(seen[..4], [W1, W_IMG, W_IMG, crate::W_FAIL]);
    assert_eq!(seen.len(), 2 + 5);
}

// The write side.

/// One answer of either host, split.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.head, self.text()))
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n\n{}", self.head, self.text())
    }
}

/// Sends `method target` to `url` with `headers` and `body` (a
/// `Content-Length` when there is one); the whole answer.
fn request(url: &str, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: fake\r\n");
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    let mut s = TcpStream::connect(addr(url)).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let all = read_all(s);
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(all.len());
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    Answer {
        status: head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        head,
        body: all.get(split + 4..).unwrap_or_default().to_vec(),
    }
}

/// `method path` on the API with the token and a JSON body (none when
/// empty).
fn api(fake: &Fake, method: &str, path: &str, body: &str) -> Answer {
    let auth = format!("Bearer {TOKEN}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    request(&fake.url, method, path, &headers, body.as_bytes())
}

const SUBMIT: &str = "/v2/consumer/workflows";

/// Submits `template` with `query` (e.g. `?wait=2`).
fn submit(fake: &Fake, query: &str, template: &Value) -> Answer {
    api(
        fake,
        "POST",
        &format!("{SUBMIT}{query}"),
        &template.to_string(),
    )
}

/// A template of one imageGen step making `quantity` images.
fn template(quantity: u64) -> Value {
    json!({"steps": [{"$type": "imageGen",
                      "input": {"engine": "flux", "prompt": "a cat astronaut",
                                "width": 1024, "height": 1024, "quantity": quantity}}],
           "tags": ["project:demo"], "metadata": {"run": "42"}})
}

/// The same, steered by the fake's knob.
fn steered(end: &str, reads: u32) -> Value {
    let mut t = template(1);
    t["metadata"]["fake"] = json!({"end": end, "reads": reads});
    t
}

/// `GET` of workflow `id`: a read, which moves a submitted one on.
fn read(fake: &Fake, id: &str) -> Value {
    let (code, w) = get(fake, &format!("/v2/consumer/workflows/{id}"));
    assert_eq!(code, 200, "{w}");
    w
}

fn step_statuses(w: &Value) -> Vec<String> {
    w["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_string())
        .collect()
}

/// The yellow credits (refunds) of a workflow.
fn credits(w: &Value) -> u64 {
    w["transactions"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "credit")
        .map(|t| t["amount"].as_u64().unwrap())
        .sum()
}

#[test]
fn a_submit_is_stored_charged_and_moves_on_with_each_read() {
    let fake = Fake::start();
    let answer = submit(&fake, "", &template(2));
    assert_eq!(answer.status, 202, "{answer:?}");
    let w = answer.json();
    let id = w["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("0-019b"), "{id}");
    assert_eq!(w["status"], "preparing");
    assert!(w["createdAt"].as_str().unwrap() > "2026-01-21T22:21:26.332Z");
    assert_eq!(w["tags"], json!(["project:demo"]));
    assert_eq!(w["metadata"], json!({"run": "42"}));
    let step = &w["steps"][0];
    assert_eq!(step["name"], "0", "the name defaults to the index");
    assert_eq!(step["status"], "unassigned");
    assert_eq!(step["input"]["prompt"], "a cat astronaut");
    assert!(step["jobs"][0]["id"].is_string());
    assert!(step["output"].is_null());
    assert_eq!(w["cost"]["base"], 7, "1 + 3 per image");
    assert_eq!(w["cost"]["total"], 7);
    assert_eq!(w["cost"]["tips"], json!({"civitai": 0, "creators": 0}));
    let debit = &w["transactions"]["list"][0];
    assert_eq!(
        (&debit["type"], &debit["amount"], &debit["accountType"]),
        (&json!("debit"), &json!(7), &json!("yellow"))
    );
    assert_eq!(fake.buzz(), crate::support::fake::DEFAULT_BUZZ - 7);
    assert_eq!(fake.submits(), 1);
    // Stored: the newest of the listing, and in the store.
    let (_, page) = get(&fake, "/v2/consumer/workflows?take=1");
    assert_eq!(page["items"][0]["id"], id.as_str());
    assert_eq!(fake.all_workflows().last().unwrap()["id"], id.as_str());
    let (_, page) = get(&fake, "/v2/consumer/workflows?tags=project:demo");
    assert_eq!(ids(page["items"].as_array().unwrap()), [id.as_str()]);
    check_jobs_of(&fake, &fake.workflow(&id));
    // A step or a job read does not move it on; a read of it does.
    let (code, s) = get(&fake, &format!("/v2/consumer/workflows/{id}/steps/0"));
    assert_eq!((code, &s["status"]), (200, &json!("unassigned")));
    let w = read(&fake, &id);
    assert_eq!(w["status"], "processing");
    assert!(w["startedAt"].is_string() && w["completedAt"].is_null());
    assert_eq!(step_statuses(&w), ["processing"]);
    check_jobs_of(&fake, &w);
    let w = read(&fake, &id);
    assert_eq!(w["status"], "succeeded");
    assert!(w["completedAt"].as_str().unwrap() > w["startedAt"].as_str().unwrap());
    let images = w["steps"][0]["output"]["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    let job = w["steps"][0]["jobs"][0]["id"].as_str().unwrap();
    for b in images {
        assert_eq!(b["jobId"], job);
        assert_eq!(b["nsfwLevel"], "pg");
        assert_eq!(b["available"], true);
        let blob = b["id"].as_str().unwrap();
        assert!(blob.ends_with(".png"), "{blob}");
        let url = b["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/signed/{blob}?sig=", fake.cdn_url)),
            "{url}"
        );
        let path = url.strip_prefix(&fake.cdn_url).unwrap();
        let png = request(&fake.cdn_url, "GET", path, &[], b"");
        assert_eq!(png.status, 200, "{png:?}");
        assert_eq!(png.header("content-type"), Some("image/png"));
        assert!(png.body.starts_with(b"\x89PNG"));
        let exists = api(&fake, "HEAD", &format!("/v2/consumer/blobs/{blob}"), "");
        assert_eq!(exists.status, 204, "{exists:?}");
    }
    let jobs = check_jobs_of(&fake, &w);
    assert_eq!(jobs[job]["lastEvent"]["type"], "Succeeded");
    assert_eq!(jobs[job]["result"].as_array().unwrap().len(), 2);
    // It has ended: more reads change nothing.
    assert_eq!(read(&fake, &id), w);
    assert_eq!(fake.buzz(), crate::support::fake::DEFAULT_BUZZ - 7);
}

#[test]
fn a_submitted_workflow_of_several_steps_makes_images_videos_and_audio() {
    let fake = Fake::start();
    let t = json!({"steps": [
        {"$type": "imageGen", "name": "cover",
         "input": {"prompt": "a lighthouse", "quantity": 3, "batchSize": 1}},
        {"$type": "videoGen", "name": "clip", "priority": "high", "timeout": "00:20:00",
         "input": {"prompt": "waves", "image": {"$ref": "cover", "path": "output.images[0].url"}}},
        {"$type": "textToSpeech", "input": {"text": "hello"}}
    ]});
    let w = submit(&fake, "", &t).json();
    let id = w["id"].as_str().unwrap();
    assert_eq!(w["cost"]["total"], 10 + 4 + 4);
    assert_eq!(w["steps"][0]["jobs"].as_array().unwrap().len(), 3);
    assert_eq!(w["steps"][1]["priority"], "high");
    assert_eq!(w["steps"][2]["name"], "2");
    // One more step each read.
    assert_eq!(
        step_statuses(&read(&fake, id)),
        ["processing", "unassigned", "unassigned"]
    );
    let w = read(&fake, id);
    assert_eq!(w["status"], "succeeded", "2 reads by default");
    let cover = &w["steps"][0]["output"]["images"];
    let jobs: BTreeSet<&str> = cover
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["jobId"].as_str().unwrap())
        .collect();
    assert_eq!(jobs.len(), 3, "one image per job with batchSize 1");
    let video = &w["steps"][1]["output"]["video"];
    assert_eq!(video["type"], "video");
    assert!(video["id"].as_str().unwrap().ends_with(".mp4"));
    let audio = &w["steps"][2]["output"]["blob"];
    assert_eq!(audio["type"], "audio");
    let blobs = blobs_in(&w["steps"]);
    assert_eq!(blobs.len(), 5);
    for (b, ctype) in [(video, "video/mp4"), (audio, "audio/mpeg")] {
        let path = format!("/signed/{}", b["id"].as_str().unwrap());
        let a = request(&fake.cdn_url, "GET", &path, &[], b"");
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.header("content-type"), Some(ctype));
    }
    check_jobs_of(&fake, &w);
}

#[test]
fn the_fake_knob_in_metadata_steers_how_and_when_a_workflow_ends() {
    let fake = Fake::start();
    let w = submit(&fake, "", &steered("failed", 5)).json();
    let id = w["id"].as_str().unwrap();
    for _ in 0..4 {
        assert_eq!(read(&fake, id)["status"], "processing");
    }
    let w = read(&fake, id);
    assert_eq!(w["status"], "failed");
    assert_eq!(step_statuses(&w), ["failed"]);
    assert!(w["steps"][0]["output"].is_null());
    assert_eq!(credits(&w), 4, "what did not succeed is refunded");
    assert_eq!(fake.buzz(), crate::support::fake::DEFAULT_BUZZ);
    let jobs = check_jobs_of(&fake, &w);
    assert_eq!(jobs.values().next().unwrap()["lastEvent"]["type"], "Failed");

    // The step running at the end fails, the ones before succeeded, the
    // ones after never run.
    let mut t = steered("failed", 2);
    let step = t["steps"][0].clone();
    t["steps"] = json!([step.clone(), step.clone(), step]);
    let id = submit(&fake, "", &t).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    read(&fake, &id);
    let w = read(&fake, &id);
    assert_eq!(step_statuses(&w), ["succeeded", "failed", "canceled"]);
    assert_eq!(credits(&w), 8);
    assert!(w["steps"][0]["output"]["images"][0]["id"].is_string());
    check_jobs_of(&fake, &w);

    for (end, last) in [("expired", "expired"), ("canceled", "canceled")] {
        let id = submit(&fake, "", &steered(end, 1)).json()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let w = read(&fake, &id);
        assert_eq!(
            (w["status"].as_str(), step_statuses(&w)),
            (Some(end), vec![last.to_string()])
        );
        check_jobs_of(&fake, &w);
    }
    // No reads: it has ended when the submit answers, so 200.
    let answer = submit(&fake, "", &steered("succeeded", 0));
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["status"], "succeeded");
    // The knob is checked too.
    let mut t = template(1);
    t["metadata"]["fake"] = json!({"end": "exploded", "reads": -1});
    let errors = submit(&fake, "", &t).json()["errors"].clone();
    assert!(errors["metadata.fake.end"].is_array() && errors["metadata.fake.reads"].is_array());
}

#[test]
fn wait_holds_the_request_a_tick_a_second_and_moves_the_workflow_on() {
    let fake = Fake::start();
    fake.set_wait_tick(Duration::from_millis(20));
    let started = std::time::Instant::now();
    let answer = submit(&fake, "?wait=3", &steered("succeeded", 3));
    assert_eq!(answer.status, 200, "ended within the wait: {answer:?}");
    assert_eq!(answer.json()["status"], "succeeded");
    assert!(started.elapsed() >= Duration::from_millis(60));
    let answer = submit(
        &fake,
        "?wait=2&hideMatureContent=false",
        &steered("succeeded", 3),
    );
    assert_eq!(answer.status, 202, "{answer:?}");
    let w = answer.json();
    assert_eq!(w["status"], "processing");
    assert_eq!(w["allowMatureContent"], true);
    // A wait on a read: its own read, then a tick a second.
    let id = w["id"].as_str().unwrap();
    let (code, w) = get(&fake, &format!("/v2/consumer/workflows/{id}?wait=0"));
    assert_eq!((code, &w["status"]), (200, &json!("succeeded")));
    let (code, w) = get(&fake, &format!("/v2/consumer/workflows/{W_PROC}?wait=2"));
    assert_eq!((code, &w["status"]), (202, &json!("processing")));
    let (code, _) = get(&fake, &format!("/v2/consumer/workflows/{W1}?wait=5"));
    assert_eq!(code, 200);
    // wait is a whole number of seconds.
    for bad in ["1.5", "-1", "soon"] {
        let answer = submit(&fake, &format!("?wait={bad}"), &template(1));
        assert_eq!(answer.status, 400, "{bad}: {answer:?}");
        assert!(answer.json()["errors"]["wait"].is_array(), "{answer:?}");
    }
    assert_eq!(fake.submits(), 2);
}

#[test]
fn whatif_prices_the_template_stores_nothing_and_charges_nothing() {
    let fake = Fake::start();
    let before = fake.all_workflows();
    let answer = submit(&fake, "?whatif=true", &template(1));
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("X-Civitai-Cost-Total"), Some("4"));
    assert_eq!(
        answer.header("X-Civitai-Cost-By-Currency"),
        Some("yellow=4;blue=0")
    );
    assert_eq!(answer.header("X-Civitai-Insufficient-Buzz"), Some("false"));
    let w = answer.json();
    assert_eq!(w["cost"]["total"], 4);
    assert_eq!(w["transactions"]["insufficientBuzz"], false);
    assert_eq!(w["status"], "unassigned");
    assert_eq!(
        get(
            &fake,
            &format!("/v2/consumer/workflows/{}", w["id"].as_str().unwrap())
        )
        .0,
        404,
        "its id is a throwaway"
    );
    // The price follows the template.
    let answer = submit(&fake, "?whatif=True", &template(4));
    assert_eq!(answer.header("X-Civitai-Cost-Total"), Some("13"));
    assert_eq!(fake.all_workflows(), before);
    assert_eq!(fake.buzz(), crate::support::fake::DEFAULT_BUZZ);
    assert_eq!(fake.submits(), 0);
    let answer = submit(&fake, "?whatif=perhaps", &template(1));
    assert!(answer.json()["errors"]["whatif"].is_array(), "{answer:?}");

    // Not enough Buzz: the whatif says so, a submit is refused.
    fake.set_buzz(12);
    let answer = submit(&fake, "?whatif=true", &template(4));
    assert_eq!(answer.header("X-Civitai-Insufficient-Buzz"), Some("true"));
    assert_eq!(answer.json()["transactions"]["insufficientBuzz"], true);
    let answer = submit(&fake, "", &template(4));
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.json(), json!("Insufficient buzz"), "a bare string");
    assert_eq!((fake.submits(), fake.buzz()), (0, 12));
    assert_eq!(fake.all_workflows(), before);
    // One that fits is taken.
    assert_eq!(submit(&fake, "", &template(3)).status, 202);
    assert_eq!(fake.buzz(), 2);
}

#[test]
fn templates_that_break_the_rules_are_400_with_a_key_per_field() {
    let fake = Fake::start();
    let errors = |body: &str| {
        let answer = api(&fake, "POST", SUBMIT, body);
        assert_eq!(answer.status, 400, "{body}: {answer:?}");
        assert!(answer
            .header("content-type")
            .unwrap()
            .contains("problem+json"));
        let doc = answer.json();
        assert_eq!(doc["status"], 400);
        doc["errors"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    let tags: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    let bad = json!({
        "steps": [
            {"$type": "imageGen", "input": {"prompt": "x", "width": -64, "height": 0}},
            {"input": {"prompt": "no type"}},
            {"$type": "imageGen", "name": "0", "priority": "urgent", "timeout": "10 minutes",
             "input": {"quantity": 0, "image": {"$ref": "later", "path": "output"}}},
            {"$type": "imageGen"},
            "a string"
        ],
        "tags": tags,
        "metadata": [],
        "externalId": "has spaces",
        "callbacks": [{"url": "/relative"}]
    });
    assert_eq!(
        errors(&bad.to_string()),
        [
            "callbacks[0].url",
            "externalId",
            "metadata",
            "steps[0].input.height",
            "steps[0].input.width",
            "steps[1].$type",
            "steps[2].input.image",
            "steps[2].input.quantity",
            "steps[2].name",
            "steps[2].priority",
            "steps[2].timeout",
            "steps[3].input",
            "steps[4]",
            "tags",
        ]
    );
    let long = "x".repeat(201);
    let t = json!({"steps": [{"$type": "a", "input": {}}], "tags": ["a", "a", long, 5],
                   "externalId": "x".repeat(129)});
    assert_eq!(
        errors(&t.to_string()),
        ["externalId", "tags[1]", "tags[2]", "tags[3]"]
    );
    assert_eq!(errors("{\"steps\": []}"), ["steps"]);
    assert_eq!(errors("[1]"), ["$"]);
    assert_eq!(errors("not json"), ["$"]);
    assert_eq!(errors(""), ["$"]);
    // What is fine: ten tags, an id of 128, a $ref to an earlier step.
    let ten: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    let ok = json!({"steps": [{"$type": "a", "name": "first", "input": {}},
                              {"$type": "b", "input": {"x": [{"$ref": "first"}]},
                               "timeout": "1.00:00:00.5", "retries": 2}],
                    "tags": ten, "externalId": "A-z_0".repeat(25) + "abc"});
    assert_eq!(submit(&fake, "", &ok).status, 202);
    assert_eq!(fake.submits(), 1);
}

#[test]
fn an_external_id_is_an_idempotency_key_even_after_a_whatif() {
    let fake = Fake::start();
    let mut t = template(1);
    t["externalId"] = json!("run-42");
    let first = submit(&fake, "", &t);
    assert_eq!(first.status, 202);
    let id = first.json()["id"].as_str().unwrap().to_string();
    read(&fake, &id);
    // The same key: the workflow as it is now, 200, nothing new, nothing
    // charged, even for another template.
    let mut other = template(5);
    other["externalId"] = json!("run-42");
    let again = submit(&fake, "?wait=5", &other);
    assert_eq!(again.status, 200, "{again:?}");
    let w = again.json();
    assert_eq!(
        (w["id"].as_str(), &w["status"]),
        (Some(id.as_str()), &json!("processing"))
    );
    assert_eq!(w["externalId"], "run-42");
    assert_eq!(fake.submits(), 1);
    assert_eq!(fake.buzz(), crate::support::fake::DEFAULT_BUZZ - 4);
    // A whatif with the key answers the same.
    assert_eq!(
        submit(&fake, "?whatif=true", &other).json()["id"],
        id.as_str()
    );

    // A key first used by a whatif is spent on it: the submit after gets
    // the whatif's workflow back, and nothing runs.
    let mut t = template(1);
    t["externalId"] = json!("priced-first");
    let estimate = submit(&fake, "?whatif=true", &t).json();
    let answer = submit(&fake, "", &t);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), estimate);
    assert_eq!(answer.json()["status"], "unassigned");
    assert_eq!(fake.submits(), 1);

    // A deleted workflow keeps its key: the replay shows it deleted.
    assert_eq!(api(&fake, "DELETE", &workflow_path(&id), "").status, 204);
    let w = submit(&fake, "", &other).json();
    assert_eq!(
        (w["id"].as_str(), &w["status"]),
        (Some(id.as_str()), &json!("deleted"))
    );
    assert!(w["deletedAt"].is_string());
    assert_eq!(fake.submits(), 1);
}

#[test]
fn a_submit_answered_by_a_dropped_connection_still_made_exactly_one_workflow() {
    let fake = Fake::start();
    fake.drop_after_create(1);
    let mut t = template(1);
    t["externalId"] = json!("once-only");
    let lost = submit(&fake, "", &t);
    assert_eq!(
        (lost.status, lost.head.as_str()),
        (0, ""),
        "no answer at all"
    );
    assert_eq!(fake.submits(), 1, "made before the connection closed");
    // The retry with the same key gets that workflow; one without a key
    // would have made a second.
    let retry = submit(&fake, "", &t);
    assert_eq!(retry.status, 200, "{retry:?}");
    let keyed: Vec<Value> = fake
        .all_workflows()
        .into_iter()
        .filter(|w| w["externalId"] == "once-only")
        .collect();
    assert_eq!(keyed.len(), 1);
    assert_eq!(retry.json()["id"], keyed[0]["id"]);
    assert_eq!(fake.submits(), 1);
    // Spent: the next submit answers.
    assert_eq!(submit(&fake, "", &template(1)).status, 202);
    // Whatifs and refusals do not use up a drop.
    fake.drop_after_create(1);
    assert_eq!(submit(&fake, "?whatif=true", &template(1)).status, 200);
    assert_eq!(api(&fake, "POST", SUBMIT, "{}").status, 400);
    assert_eq!(submit(&fake, "", &template(1)).status, 0);
    assert_eq!(fake.submits(), 3);
}

#[test]
fn cancel_ends_unfinished_work_and_an_ended_workflow_is_400_or_204_by_the_knob() {
    let fake = Fake::start();
    let cancel = json!({"status": "canceled"}).to_string();
    let mut t = steered("succeeded", 5);
    let step = t["steps"][0].clone();
    t["steps"] = json!([step.clone(), step]);
    let id = submit(&fake, "", &t).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    read(&fake, &id);
    read(&fake, &id);
    let answer = api(&fake, "PUT", &workflow_path(&id), &cancel);
    assert_eq!(answer.status, 204, "{answer:?}");
    assert!(answer.body.is_empty());
    let w = read(&fake, &id);
    assert_eq!(w["status"], "canceled");
    assert_eq!(step_statuses(&w), ["succeeded", "canceled"]);
    assert!(w["completedAt"].is_string());
    assert_eq!(credits(&w), 4, "the step that did not finish is refunded");
    assert_eq!(fake.buzz(), crate::support::fake::DEFAULT_BUZZ - 4);
    let jobs = check_jobs_of(&fake, &w);
    let events: BTreeSet<&str> = jobs
        .values()
        .map(|j| j["lastEvent"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["Deleted", "Succeeded"].into());
    assert_eq!(read(&fake, &id), w, "reads no longer move it");

    // Already ended: 400, or, with the knob, 204 and no change.
    let answer = api(&fake, "PUT", &workflow_path(&id), &cancel);
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.json()["detail"], "Workflow has already completed");
    assert_eq!(api(&fake, "PUT", &workflow_path(W1), &cancel).status, 400);
    fake.cancel_ended_answers_204(true);
    let answer = api(&fake, "PUT", &workflow_path(W1), &cancel);
    assert_eq!(answer.status, 204, "{answer:?}");
    assert_eq!(read(&fake, W1)["status"], "succeeded");
    fake.cancel_ended_answers_204(false);

    // A fixture that is running is canceled too, its v1 jobs with it.
    assert_eq!(
        api(&fake, "PUT", &workflow_path(W_PROC), &cancel).status,
        204
    );
    let w = read(&fake, W_PROC);
    assert_eq!(w["status"], "canceled");
    let jobs = check_jobs_of(&fake, &w);
    assert!(jobs.values().all(|j| j["lastEvent"]["type"] == "Deleted"));
    let (_, page) = get(&fake, "/v2/consumer/workflows?excludeFailed=true");
    assert!(!ids(page["items"].as_array().unwrap()).contains(&W_PROC.to_string()));

    // Other statuses are not for setting; unknown workflows are 404.
    let answer = api(
        &fake,
        "PUT",
        &workflow_path(W1),
        r#"{"status": "succeeded"}"#,
    );
    assert!(answer.json()["errors"]["status"].is_array(), "{answer:?}");
    assert_eq!(api(&fake, "PUT", &workflow_path(W1), "nope").status, 400);
    assert_eq!(
        api(&fake, "PUT", &workflow_path("0-none"), &cancel).status,
        404
    );
}

#[test]
fn put_replaces_metadata_and_tags_and_a_step_takes_its_metadata() {
    let fake = Fake::start();
    let body = json!({"metadata": {"project": "new"}, "tags": ["a", "b"],
                      "allowMatureContent": false});
    let answer = api(&fake, "PUT", &workflow_path(W1), &body.to_string());
    assert_eq!(answer.status, 204, "{answer:?}");
    let w = read(&fake, W1);
    assert_eq!(w["metadata"], json!({"project": "new"}));
    assert_eq!(w["tags"], json!(["a", "b"]));
    assert_eq!(w["allowMatureContent"], false);
    assert_eq!(w["status"], "succeeded");
    let (_, page) = get(&fake, "/v2/consumer/workflows?tags=a&tags=b");
    assert_eq!(ids(page["items"].as_array().unwrap()), [W1]);
    // The unlisted five-job workflow stays unlisted when changed.
    let answer = api(&fake, "PUT", &workflow_path(W_FIVE), r#"{"tags": []}"#);
    assert_eq!(answer.status, 204);
    assert_eq!(read(&fake, W_FIVE)["tags"], json!([]));
    assert_eq!(fake.all_workflows().len(), 6);
    // Tags follow the submit's rules.
    let eleven: Vec<String> = (0..11).map(|i| i.to_string()).collect();
    let answer = api(
        &fake,
        "PUT",
        &workflow_path(W1),
        &json!({"tags": eleven}).to_string(),
    );
    assert!(answer.json()["errors"]["tags"].is_array(), "{answer:?}");
    let answer = api(&fake, "PUT", &workflow_path(W1), r#"{"metadata": 3}"#);
    assert!(answer.json()["errors"]["metadata"].is_array(), "{answer:?}");
    assert_eq!(read(&fake, W1)["tags"], json!(["a", "b"]));

    // Step metadata: exactly {"metadata": {...}}.
    let step = format!("{}/steps/imagegen", workflow_path(W_IMG));
    let answer = api(&fake, "PUT", &step, r#"{"metadata": {"note": "kept"}}"#);
    assert_eq!(answer.status, 204, "{answer:?}");
    let (_, s) = get(&fake, &step);
    assert_eq!(s["metadata"], json!({"note": "kept"}));
    let answer = api(&fake, "PUT", &step, r#"{"metadata": {}, "input": {}}"#);
    assert_eq!(answer.status, 400);
    let missing = format!("{}/steps/nope", workflow_path(W_IMG));
    assert_eq!(
        api(&fake, "PUT", &missing, r#"{"metadata": {}}"#).status,
        404
    );
}

#[test]
fn a_deleted_workflow_is_404_everywhere_and_leaves_the_listing() {
    let fake = Fake::start();
    let w = submit(&fake, "", &steered("succeeded", 3)).json();
    let id = w["id"].as_str().unwrap().to_string();
    let job = w["steps"][0]["jobs"][0]["id"].as_str().unwrap().to_string();
    read(&fake, &id);
    let answer = api(&fake, "DELETE", &workflow_path(&id), "");
    assert_eq!(answer.status, 204, "{answer:?}");
    assert_eq!(
        fake.buzz(),
        crate::support::fake::DEFAULT_BUZZ,
        "unfinished work is refunded"
    );
    for path in [
        workflow_path(&id),
        format!("{}/steps/0", workflow_path(&id)),
        format!("/v1/consumer/jobs/{job}"),
    ] {
        assert_eq!(get(&fake, &path).0, 404, "{path}");
    }
    assert!(!fake.all_workflows().iter().any(|w| w["id"] == id.as_str()));
    for (method, path, body) in [
        ("DELETE", workflow_path(&id), ""),
        ("PUT", workflow_path(&id), r#"{"status": "canceled"}"#),
        ("POST", format!("{}/tags", workflow_path(&id)), r#""x""#),
        ("DELETE", format!("{}/tags", workflow_path(&id)), ""),
        ("DELETE", format!("{}/tags/x", workflow_path(&id)), ""),
    ] {
        assert_eq!(
            api(&fake, method, &path, body).status,
            404,
            "{method} {path}"
        );
    }
    // A fixture goes the same way, and the listing pages without it.
    assert_eq!(api(&fake, "DELETE", &workflow_path(W_IMG), "").status, 204);
    assert_eq!(get(&fake, &workflow_path(W_IMG)).0, 404);
    assert_eq!(
        get(
            &fake,
            "/v1/consumer/jobs/b7a1c3d2-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
        )
        .0,
        404
    );
    let (seen, _) = walk(&fake, "take=2");
    assert_eq!(seen.len(), 5);
    assert!(!seen.contains(&W_IMG.to_string()));
    // Its blobs stay on the CDN.
    let answer = api(
        &fake,
        "HEAD",
        "/v2/consumer/blobs/7W2XH0K1C4ZVB9N3M6Q8R5T1YA.webp",
        "",
    );
    assert_eq!(answer.status, 204);
}

#[test]
fn tags_are_added_one_by_one_and_removed_one_by_one_or_all_at_once() {
    let fake = Fake::start();
    let tags_path = format!("{}/tags", workflow_path(W1));
    let tags = |fake: &Fake| read(fake, W1)["tags"].clone();
    assert_eq!(tags(&fake), json!(["user:12345", "type:image"]));
    let answer = api(&fake, "POST", &tags_path, r#""project:x""#);
    assert_eq!(answer.status, 204, "{answer:?}");
    assert_eq!(api(&fake, "POST", &tags_path, r#""project:x""#).status, 204);
    let odd = "a/b c+d%e?";
    assert_eq!(
        api(&fake, "POST", &tags_path, &json!(odd).to_string()).status,
        204
    );
    assert_eq!(
        tags(&fake),
        json!(["user:12345", "type:image", "project:x", odd]),
        "no tag twice"
    );
    let (_, page) = get(&fake, "/v2/consumer/workflows?tags=project:x");
    assert_eq!(ids(page["items"].as_array().unwrap()), [W1]);
    // Anything but a bare JSON string is refused.
    for body in ["project:x", r#"{"tag": "x"}"#, r#"["x"]"#, "", r#""""#] {
        let answer = api(&fake, "POST", &tags_path, body);
        assert_eq!(answer.status, 400, "{body:?}: {answer:?}");
    }
    let long = json!("y".repeat(201)).to_string();
    assert_eq!(api(&fake, "POST", &tags_path, &long).status, 400);
    // Removed by its percent-encoded name; a missing one is no error.
    let encoded = "a%2Fb%20c%2Bd%25e%3F";
    let answer = api(&fake, "DELETE", &format!("{tags_path}/{encoded}"), "");
    assert_eq!(answer.status, 204, "{answer:?}");
    assert_eq!(
        api(&fake, "DELETE", &format!("{tags_path}/project:x"), "").status,
        204
    );
    assert_eq!(
        api(&fake, "DELETE", &format!("{tags_path}/never"), "").status,
        204
    );
    assert_eq!(tags(&fake), json!(["user:12345", "type:image"]));
    // At most ten.
    for i in 0..8 {
        assert_eq!(
            api(&fake, "POST", &tags_path, &format!("\"t{i}\"")).status,
            204
        );
    }
    let answer = api(&fake, "POST", &tags_path, r#""eleventh""#);
    assert!(answer.json()["errors"]["tags"].is_array(), "{answer:?}");
    assert_eq!(tags(&fake).as_array().unwrap().len(), 10);
    assert_eq!(api(&fake, "DELETE", &tags_path, "").status, 204);
    assert_eq!(tags(&fake), json!([]));
    assert_eq!(
        api(
            &fake,
            "POST",
            "/v2/consumer/workflows/0-none/tags",
            r#""x""#
        )
        .status,
        404
    );
}

/// Asks the API for an upload URL: its path and query on the CDN.
fn upload_url(fake: &Fake) -> String {
    let answer = api(fake, "GET", "/v2/consumer/blobs/upload", "");
    assert_eq!(answer.status, 200, "{answer:?}");
    let doc = answer.json();
    assert!(doc["expiresAt"].as_str().unwrap().ends_with('Z'));
    let url = doc["uploadUrl"].as_str().unwrap();
    let rest = url
        .strip_prefix(&format!("{}/upload/", fake.cdn_url))
        .unwrap_or_else(|| panic!("not on the CDN: {url}"));
    assert!(rest.contains("sig="), "{url}");
    url.strip_prefix(&fake.cdn_url).unwrap().to_string()
}

/// Uploads `bytes` as `ctype` (none when empty) to `target` on the CDN,
/// without the token.
fn upload(fake: &Fake, target: &str, ctype: &str, bytes: &[u8]) -> Answer {
    let headers: Vec<(&str, &str)> = if ctype.is_empty() {
        vec![]
    } else {
        vec![("Content-Type", ctype)]
    };
    request(&fake.cdn_url, "POST", target, &headers, bytes)
}

#[test]
fn an_upload_url_takes_one_upload_on_the_cdn_and_the_blob_is_served_after() {
    let fake = Fake::start();
    let no_token = request(&fake.url, "GET", "/v2/consumer/blobs/upload", &[], b"");
    assert_eq!(no_token.status, 401);
    let target = upload_url(&fake);
    let png = fake.media("K3M9Q2Z7XW8V4T6R1P0N5B2C7D.png");
    let answer = upload(&fake, &target, "image/png", &png);
    assert_eq!(answer.status, 201, "{answer:?}");
    let blob = answer.json();
    let id = blob["id"].as_str().unwrap().to_string();
    assert!(id.ends_with(".png"), "{id}");
    assert_eq!(
        (&blob["type"], &blob["available"]),
        (&json!("image"), &json!(true))
    );
    let url = blob["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/signed/{id}?sig=", fake.cdn_url)),
        "{url}"
    );
    // What the CDN received: the bytes, their type and length, no token.
    let up = fake.uploads().pop().unwrap();
    assert_eq!((up.status, up.blob_id.as_deref()), (201, Some(id.as_str())));
    assert_eq!(up.bytes, png);
    assert_eq!(up.header("Content-Type"), Some("image/png"));
    assert_eq!(
        up.header("content-length"),
        Some(png.len().to_string().as_str())
    );
    assert_eq!(up.header("authorization"), None);
    // Served like the other blobs.
    let got = request(
        &fake.cdn_url,
        "GET",
        url.strip_prefix(&fake.cdn_url).unwrap(),
        &[],
        b"",
    );
    assert_eq!(got.status, 200);
    assert_eq!(got.body, png);
    assert_eq!(got.header("content-type"), Some("image/png"));
    let ranged = request(
        &fake.cdn_url,
        "GET",
        &format!("/signed/{id}"),
        &[("Range", "bytes=10-")],
        b"",
    );
    assert_eq!((ranged.status, ranged.body.as_slice()), (206, &png[10..]));
    assert_eq!(
        api(&fake, "HEAD", &format!("/v2/consumer/blobs/{id}"), "").status,
        204
    );
    assert_eq!(
        api(&fake, "GET", &format!("/v2/consumer/blobs/{id}"), "").status,
        307
    );

    // Used once: the same URL again, or a signature of one's own, is 403.
    let again = upload(&fake, &target, "image/png", &png);
    assert_eq!(again.status, 403, "{again:?}");
    assert!(again.text().contains("AccessDenied"));
    let target = upload_url(&fake);
    let forged = format!("{}0", target);
    let answer = upload(&fake, &forged, "image/png", &png);
    assert_eq!(answer.status, 403);
    assert!(answer.text().contains("SignatureDoesNotMatch"));
    assert_eq!(
        upload(&fake, "/upload/up-never?exp=1&sig=0", "image/png", &png).status,
        403
    );
    // Too large, or of a type it does not take; a refused upload leaves
    // the URL unspent.
    fake.set_upload_limit(100);
    assert_eq!(upload(&fake, &target, "image/png", &png).status, 413);
    fake.set_upload_limit(crate::support::fake::DEFAULT_UPLOAD_LIMIT);
    assert_eq!(upload(&fake, &target, "text/plain", b"hello").status, 415);
    assert_eq!(upload(&fake, &target, "", b"hello").status, 415);
    let answer = upload(&fake, &target, "video/mp4", b"some bytes");
    assert_eq!(answer.status, 201, "{answer:?}");
    assert!(answer.json()["id"].as_str().unwrap().ends_with(".mp4"));
    assert_eq!(answer.json()["type"], "video");
    for (ctype, ext, kind) in [
        ("audio/mpeg", ".mp3", "audio"),
        ("image/jpeg; charset=binary", ".jpeg", "image"),
        ("application/octet-stream", ".bin", "blob"),
    ] {
        let answer = upload(&fake, &upload_url(&fake), ctype, b"some bytes");
        assert_eq!(answer.status, 201, "{ctype}: {answer:?}");
        let b = answer.json();
        assert!(b["id"].as_str().unwrap().ends_with(ext), "{ctype}: {b}");
        assert_eq!(b["type"], kind);
    }
    let statuses: Vec<u16> = fake.uploads().iter().map(|u| u.status).collect();
    assert_eq!(statuses[..8], [201, 403, 403, 403, 413, 415, 415, 201]);
    // Only POST on an upload URL.
    let answer = request(&fake.cdn_url, "PUT", &target, &[], b"x");
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST"));
}

#[test]
fn a_blob_refresh_signs_its_url_anew() {
    let fake = Fake::start();
    let path = format!("/v2/consumer/blobs/{JPEG}/refresh");
    let first = api(&fake, "POST", &path, "");
    assert_eq!(first.status, 200, "{first:?}");
    let a = first.json();
    assert_eq!(
        (&a["id"], &a["type"], &a["available"]),
        (&json!(JPEG), &json!("image"), &json!(true))
    );
    let b = api(&fake, "POST", &path, "").json();
    let (ua, ub) = (a["url"].as_str().unwrap(), b["url"].as_str().unwrap());
    assert_ne!(ua, ub, "a fresh signature each time");
    assert!(
        ub.starts_with(&format!("{}/signed/{JPEG}?sig=", fake.cdn_url)),
        "{ub}"
    );
    assert!(b["urlExpiresAt"].is_string());
    let got = request(
        &fake.cdn_url,
        "GET",
        ub.strip_prefix(&fake.cdn_url).unwrap(),
        &[],
        b"",
    );
    assert_eq!(got.body, fake.media(JPEG));
    // The extension-less PNG, a blocked blob, an unknown one.
    let b = api(
        &fake,
        "POST",
        "/v2/consumer/blobs/QX7ZK2M4N6P8R0T2V4W6Y8A0C2/refresh",
        "",
    );
    assert_eq!(b.json()["type"], "image");
    for id in ["9PZQ1RSTV2WXY3ABC4DEF5GHJK.jpeg", "nothing.png"] {
        let answer = api(
            &fake,
            "POST",
            &format!("/v2/consumer/blobs/{id}/refresh"),
            "",
        );
        assert_eq!(answer.status, 404, "{id}");
    }
}

#[test]
fn every_path_answers_405_with_its_methods_and_every_write_needs_the_token() {
    let fake = Fake::start();
    let w = workflow_path(W1);
    let cases = [
        (
            "/v2/consumer/workflows".to_string(),
            "DELETE",
            "GET, HEAD, POST",
        ),
        (w.clone(), "POST", "GET, HEAD, PUT, DELETE"),
        (w.clone(), "PATCH", "GET, HEAD, PUT, DELETE"),
        (format!("{w}/steps/0"), "DELETE", "GET, HEAD, PUT"),
        (format!("{w}/tags"), "GET", "POST, DELETE"),
        (format!("{w}/tags/x"), "PUT", "DELETE"),
        (
            format!("/v1/consumer/jobs/{}", crate::JOB),
            "POST",
            "GET, HEAD",
        ),
        ("/v1/manager/workflows".to_string(), "POST", "GET, HEAD"),
        ("/v2/consumer/blobs/upload".to_string(), "POST", "GET, HEAD"),
        (format!("/v2/consumer/blobs/{JPEG}"), "DELETE", "GET, HEAD"),
        (format!("/v2/consumer/blobs/{JPEG}/refresh"), "GET", "POST"),
    ];
    for (path, method, allow) in &cases {
        let answer = api(&fake, method, path, "");
        assert_eq!(answer.status, 405, "{method} {path}: {answer:?}");
        assert_eq!(answer.header("allow"), Some(*allow), "{method} {path}");
    }
    // Without the token, every write is 401 and changes nothing.
    let before = fake.all_workflows();
    for (method, path, body) in [
        ("POST", SUBMIT.to_string(), template(1).to_string()),
        ("PUT", w.clone(), r#"{"tags": []}"#.to_string()),
        ("DELETE", w.clone(), String::new()),
        ("POST", format!("{w}/tags"), r#""x""#.to_string()),
        ("DELETE", format!("{w}/tags"), String::new()),
        ("DELETE", format!("{w}/tags/user:12345"), String::new()),
        (
            "PUT",
            format!("{w}/steps/0"),
            r#"{"metadata": {}}"#.to_string(),
        ),
        (
            "POST",
            format!("/v2/consumer/blobs/{JPEG}/refresh"),
            String::new(),
        ),
    ] {
        let answer = request(
            &fake.url,
            method,
            &path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(answer.status, 401, "{method} {path}");
        let wrong = request(
            &fake.url,
            method,
            &path,
            &[("Authorization", "Bearer nope")],
            body.as_bytes(),
        );
        assert_eq!(wrong.status, 401, "{method} {path}");
    }
    assert_eq!(fake.all_workflows(), before);
    assert_eq!(fake.submits(), 0);
    // Bodies are recorded as sent.
    let req = fake
        .api_requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.raw_path == SUBMIT)
        .unwrap();
    assert_eq!(req.body_json(), template(1));
}
