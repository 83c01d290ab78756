//! The fake orchestrator itself, spoken to over raw sockets: request bodies
//! (by length, chunked, too large, malformed, after `100 Continue`),
//! routing by method (405 with `Allow`, HEAD), scripts on either host,
//! redirects, the workflow store, the v1 job of every workflow job, the
//! five-job workflow, API concurrency, the generated `stats` dataset and
//! pages served twice. A broken fake would otherwise pass for a broken CLI.

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::fake::{read_all, Host, Options, MAX_BODY};
use crate::support::{cli, Fake, Reply, TOKEN};
use crate::{JPEG, W1, W_FIVE, W_IMG};

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
