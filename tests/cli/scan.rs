//! `civitai-orch scan`: every job of a workflow (or jobs by id) with its
//! files, prompt classification and scan context; scores as numbers;
//! `--flagged` and `--threshold`; `-j` requests at a time, input order.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{cli, Cli, Fake, Reply, TOKEN};
use crate::{workflow_path, JOB, W1, W_FIVE, W_IMG};

const BLOCKED_JOB: &str = "6e214253-af7d-4041-ad5e-8f901a2b3c45";

fn entries(run: &crate::support::Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_workflow_with_five_jobs_makes_five_job_requests_at_most_j_at_a_time() {
    let fake = Fake::start();
    fake.set_api_delay(Duration::from_millis(60));
    let run = cli(&fake, &["--jsonl", "scan", W_FIVE, "-j", "2"]);
    run.ok()
        .stderr_has("5 job(s) scanned, 2 flagged (threshold 0.5)");
    let jobs: Vec<String> = fake
        .api_requests()
        .iter()
        .filter(|r| r.raw_path.starts_with("/v1/consumer/jobs/"))
        .map(|r| {
            assert_eq!(r.param("detailed"), Some("true"));
            r.raw_path.rsplit('/').next().unwrap().to_string()
        })
        .collect();
    assert_eq!(jobs.len(), 5, "{jobs:?}");
    assert!(fake.api_max_inflight() <= 2, "{}", fake.api_max_inflight());
    assert!(fake.api_max_inflight() == 2, "never two at once");
    // In the workflow's order, whatever answered first.
    let e = entries(&run);
    let ids: Vec<&str> = e.iter().map(|e| e["jobId"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "3b9e1f20-7c4a-4d1e-9a2b-5c6d7e8f9012",
            "4c0f2031-8d5b-4e2f-8b3c-6d7e8f901a23",
            "5d103142-9e6c-4f30-9c4d-7e8f901a2b34",
            BLOCKED_JOB,
            "7f325364-b08e-4152-be6f-901a2b3c4d56",
        ]
    );
    assert_eq!(e[0]["workflowId"], W_FIVE);
    assert_eq!(e[0]["stepName"], "portrait");
    assert_eq!(e[3]["stepName"], "variants");
    // Scores in each form, beside their text.
    assert_eq!(e[0]["context"]["hive_csam_score"], "0.40 %, 0.10 %");
    assert_eq!(e[0]["scores"]["hive_csam_score"], json!([0.004, 0.001]));
    assert_eq!(e[1]["scores"]["hive_csam_score"], json!([0.42]));
    assert_eq!(e[2]["scores"]["hive.csam_score"], json!([0.7]));
    assert_eq!(e[4]["scores"], json!({}));
    // The blocked file, its reason and level, from the workflow.
    assert_eq!(e[3]["files"][0]["available"], false);
    assert_eq!(
        e[3]["files"][0]["blockedReason"],
        "Blocked by content moderation"
    );
    assert_eq!(e[3]["files"][0]["nsfwLevel"], "xxx");
    assert_eq!(e[3]["flagged"], true);
    assert_eq!(e[2]["flagged"], true);
    assert_eq!(e[0]["flagged"], false);
}

#[test]
fn flagged_and_threshold_choose_the_jobs() {
    let fake = Fake::start();
    let run = cli(&fake, &["--jsonl", "scan", W_FIVE, "--flagged"]);
    let ids: Vec<String> = entries(run.ok())
        .iter()
        .map(|e| e["jobId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["5d103142-9e6c-4f30-9c4d-7e8f901a2b34", BLOCKED_JOB]);
    // At 0.4, the string "0.42" flags its job too; at 95 % only the
    // blocked file and blocked_reason remain.
    let run = cli(
        &fake,
        &["--jsonl", "scan", W_FIVE, "--flagged", "--threshold=0.4"],
    );
    assert_eq!(entries(run.ok()).len(), 3);
    let run = cli(
        &fake,
        &["--jsonl", "scan", W_FIVE, "--flagged", "--threshold=95%"],
    );
    let e = entries(run.ok());
    assert_eq!(e.len(), 1);
    let why: Vec<&str> = e[0]["flaggedBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        why.iter()
            .any(|w| w.starts_with("file 5JB0D4SVX5FT1A07Q0R2P6G9JK.jpeg blocked")),
        "{why:?}"
    );
    assert!(
        why.iter().any(|w| w.starts_with("blocked_reason: ")),
        "{why:?}"
    );
    for bad in [
        "--threshold=1.5",
        "--threshold=-1",
        "--threshold=abc",
        "--threshold=101%",
    ] {
        cli(&fake, &["scan", W_FIVE, bad]).code(2);
    }
}

#[test]
fn workflow_and_job_ids_mix_and_the_text_view_is_compact() {
    let fake = Fake::start();
    let run = cli(&fake, &["scan", &format!("job:{JOB}"), W_IMG]);
    run.ok();
    let text = &run.stdout;
    assert!(
        text.starts_with(&format!(
            "Job {JOB} succeeded\n  workflow 8484131-20260121222126332, step 0\n"
        )),
        "{text}"
    );
    assert!(text.contains("  hive_csam_score: 0.00 %, 0.00 %\n  hive_vlm_summary: PG13, No_Child\n  nsfwLevel: pg13\n  other: "), "{text}");
    assert!(text.contains(" FLAGGED\n"), "{text}");
    assert!(
        text.contains(
            "  file 9PZQ1RSTV2WXY3ABC4DEF5GHJK.jpeg [x] BLOCKED: NSFW content not allowed\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  flagged: hive_csam_score 0.875 >= 0.5\n"),
        "{text}"
    );
    // A bare UUID is a job: one job request, no workflow request.
    let fake = Fake::start();
    cli(&fake, &["scan", JOB]).ok();
    let paths: Vec<String> = fake
        .api_requests()
        .iter()
        .map(|r| r.raw_path.clone())
        .collect();
    assert_eq!(paths, [format!("/v1/consumer/jobs/{JOB}")]);
}

#[test]
fn stdin_lines_failures_and_fields() {
    let fake = Fake::start();
    // `workflows --jsonl` lines are workflows; `scan --jsonl` lines are jobs.
    let stdin = format!("{{\"id\":\"{W1}\",\"status\":\"succeeded\"}}\n{{\"jobId\":\"{BLOCKED_JOB}\",\"workflowId\":\"x\"}}\nnope\n");
    let run = Cli::new(
        Some(&fake),
        &[
            "--json",
            "scan",
            "-",
            "--fields=jobId,flagged,scores.hive_csam_score",
        ],
    )
    .stdin(&stdin)
    .run();
    run.code(4)
        .stderr_has("no workflow 'nope'")
        .stderr_has("1 of 3 job(s) or workflow(s) failed");
    let doc = run.json();
    assert_eq!(
        doc,
        json!([
            {"jobId": JOB, "flagged": false, "scores": {"hive_csam_score": [0.0, 0.0]}},
            {"jobId": BLOCKED_JOB, "flagged": true, "scores": {"hive_csam_score": [0.91]}},
            {"id": "nope", "error": doc[2]["error"].clone()},
        ])
    );
    assert_eq!(doc[2]["error"]["kind"], "not_found");
    // A job that cannot be read is one failure among the others.
    fake.script(
        &format!("/v1/consumer/jobs/{BLOCKED_JOB}"),
        vec![Reply::problem(404, "Not Found", "gone")],
    );
    let run = cli(&fake, &["--jsonl", "scan", W_FIVE]);
    run.code(4)
        .stderr_has("1 of 5 job(s) or workflow(s) failed");
    assert_eq!(run.stdout.lines().count(), 5);
    assert!(run.stdout.contains("\"error\":"), "{run:?}");
    // A workflow without jobs scans nothing, and says so.
    let mut wf = fake.workflow(W1);
    wf["steps"][0]["jobs"] = json!([]);
    wf["id"] = json!("empty");
    fake.put_workflow(wf);
    cli(&fake, &["scan", "empty"])
        .ok()
        .stderr_has("0 job(s) scanned, 0 flagged");
    assert!(fake
        .api_requests()
        .iter()
        .any(|r| r.raw_path == workflow_path("empty")));
}

/// `workflows --all --jsonl | scan - | head -1` with a slow server: once
/// the reader is gone, the run ends, with exit code 0, however far the
/// reading of stdin had got (it used to wait forever for a worker that had
/// already stopped).
#[test]
fn a_reader_that_goes_away_ends_the_run_even_with_work_queued() {
    let fake = Fake::start();
    fake.set_api_delay(Duration::from_millis(100));
    let stdin: String = (0..60).map(|_| format!("{W_FIVE}\n")).collect();
    let closed = crate::first_line_then_close(
        Cli::new(Some(&fake), &["--jsonl", "scan", "-", "-j", "2"]),
        stdin,
        None,
        Duration::from_secs(20),
    );
    assert!(
        closed.first.starts_with("{\"workflowId\""),
        "{}",
        closed.first
    );
    assert_eq!(closed.code, Some(0), "stderr: {}", closed.stderr);
    assert!(
        closed.took < Duration::from_secs(5),
        "took {:?} after stdout closed",
        closed.took
    );
}

/// `job:` and `wf:` with nothing after them name nothing: they are refused
/// without a request (an empty path segment asks for another path, the
/// listing), from arguments and from stdin alike, and the others go on.
#[test]
fn a_prefix_with_no_id_after_it_is_refused_without_a_request() {
    let fake = Fake::start();
    for prefix in ["job:", "wf:", "job: "] {
        cli(&fake, &["scan", prefix])
            .code(2)
            .one_error_line()
            .stderr_has("holds no id after");
    }
    let run = Cli::new(Some(&fake), &["--jsonl", "scan", "-"])
        .stdin(&format!("wf:\njob:{JOB}\n\"job:\"\n"))
        .run();
    run.code(2)
        .stderr_has("2 of 3 job(s) or workflow(s) failed");
    assert_eq!(entries(&run).len(), 3, "{run:?}");
    let paths: Vec<String> = fake
        .api_requests()
        .iter()
        .map(|r| r.raw_path.clone())
        .collect();
    assert_eq!(paths, [format!("/v1/consumer/jobs/{JOB}")]);
}

/// A hostile workflow: steps or jobs of the wrong type, jobs without an
/// id (or with an empty one). None of it is skipped in silence: each is a
/// failure, no request goes to an empty path, and the readable jobs are
/// still scanned.
#[test]
fn jobs_that_cannot_be_told_are_failures_not_skipped() {
    let fake = Fake::start();
    fake.put_workflow(json!({"id": "steps-obj", "status": "succeeded", "steps": {"a": 1}}));
    let run = cli(&fake, &["scan", "steps-obj"]);
    run.code(1)
        .one_error_line()
        .stderr_has("steps are not a list");
    fake.put_workflow(json!({
        "id": "odd-jobs", "status": "succeeded",
        "steps": [
            {"name": "a", "jobs": {"id": JOB}},
            {"name": "b", "jobs": [{"id": 5}, {"id": JOB}, {"nope": 1}, "str", {"id": ""}]},
            {"name": "c", "jobs": null},
            {"name": "d"}
        ]
    }));
    let run = cli(&fake, &["--jsonl", "scan", "odd-jobs"]);
    run.code(1)
        .stderr_has("1 job(s) scanned")
        .stderr_has("5 of 6 job(s) or workflow(s) failed")
        .stderr_has("workflow 'odd-jobs' step 'b' lists a job without an id");
    let e = entries(&run);
    assert_eq!(e.len(), 6, "{run:?}");
    assert_eq!(e[2]["jobId"], JOB);
    assert!(
        fake.api_requests()
            .iter()
            .all(|r| !r.raw_path.starts_with("/v1/consumer/jobs/?")),
        "a request went to an empty job id"
    );
}

/// A server that puts the token in what `scan` prints (a file id, the
/// context, a blocked reason): text, `--fields` rows and JSON show
/// `[hidden]` instead, and the JSON stays valid.
#[test]
fn a_token_in_the_scan_context_is_never_printed() {
    let fake = Fake::start();
    let job = json!({
        "jobId": "j1",
        "job": {"properties": {"workflowId": format!("w-{TOKEN}")}},
        "result": [{"blobKey": format!("{TOKEN}.jpeg"), "available": true}],
        "lastEvent": {"type": "Succeeded", "context": {
            "blocked_reason": format!("echo {TOKEN}"), "tok_score": TOKEN,
            "note": format!("Authorization: Bearer {TOKEN}")}}
    });
    for args in [
        vec!["scan", "job:j1"],
        vec!["--jsonl", "scan", "job:j1"],
        vec!["--json", "scan", "job:j1"],
        vec![
            "scan",
            "job:j1",
            "--fields=jobId,workflowId,files.id,context",
        ],
    ] {
        fake.script(
            "/v1/consumer/jobs/j1",
            vec![Reply::json(200, &job.to_string())],
        );
        let run = cli(&fake, &args);
        run.ok().stdout_has("[hidden]");
        crate::no_token_in(&run, 12);
        if args[0].starts_with("--json") {
            for line in run.stdout.lines() {
                serde_json::from_str::<Value>(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            }
        }
    }
}

/// `--threshold` at its edges: 0 flags any score (0 included), 1 and
/// 100% only a full score, `50%` is 0.5, `1e-9` a tiny fraction; `nan`,
/// `inf`, `-0.1`, `1.0000001`, `50%%` and an empty value are refused
/// before anything is sent.
#[test]
fn threshold_edges_are_read_or_refused_up_front() {
    let fake = Fake::start();
    let flagged = |t: &str| {
        let run = cli(&fake, &["--jsonl", "scan", W_FIVE, "--flagged", t]);
        run.ok();
        entries(&run).len()
    };
    // W_FIVE: scores 0.004, 0.42, 0.7, 0.91 (and a blocked file), none.
    assert_eq!(flagged("--threshold=0"), 4);
    assert_eq!(flagged("--threshold=1e-9"), 4);
    assert_eq!(flagged("--threshold=50%"), 2);
    assert_eq!(flagged("--threshold=0.5"), 2);
    assert_eq!(flagged("--threshold=1"), 1);
    assert_eq!(flagged("--threshold=100%"), 1);
    let run = cli(&fake, &["scan", W_FIVE, "--threshold=1e-9"]);
    run.ok().stderr_has("(threshold 1e-9)");
    let before = fake.api_requests().len();
    for bad in [
        "--threshold=nan",
        "--threshold=inf",
        "--threshold=-0.1",
        "--threshold=1.0000001",
        "--threshold=50%%",
        "--threshold=",
        "--threshold=0x1",
    ] {
        cli(&fake, &["scan", W_FIVE, bad])
            .code(2)
            .stderr_has("invalid value for --threshold");
    }
    assert_eq!(fake.api_requests().len(), before);
}

/// Jobs that answer badly (a 500, a body cut short, an array, a string, a
/// hang past `--timeout`): each is one failure among the others, which are
/// still scanned, in order, and the run ends.
#[test]
fn jobs_that_answer_badly_fail_alone() {
    let fake = Fake::start();
    let ids = [
        "3b9e1f20-7c4a-4d1e-9a2b-5c6d7e8f9012",
        "4c0f2031-8d5b-4e2f-8b3c-6d7e8f901a23",
        "5d103142-9e6c-4f30-9c4d-7e8f901a2b34",
        BLOCKED_JOB,
        "7f325364-b08e-4152-be6f-901a2b3c4d56",
    ];
    let path = |id: &str| format!("/v1/consumer/jobs/{id}");
    fake.script(
        &path(ids[0]),
        vec![Reply::problem(500, "Internal", "boom"); 2],
    );
    fake.script(
        &path(ids[1]),
        vec![
            Reply::Cut {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                declared: 500,
                body: b"{\"jobId\":".to_vec(),
            };
            2
        ],
    );
    fake.script(&path(ids[2]), vec![Reply::json(200, "[1,2]")]);
    fake.script(&path(BLOCKED_JOB), vec![Reply::json(200, "\"job\"")]);
    fake.script(&path(ids[4]), vec![Reply::Hang, Reply::Hang]);
    let start = std::time::Instant::now();
    let run = cli(
        &fake,
        &["--jsonl", "scan", W_FIVE, "--timeout=1", "--retries=1"],
    );
    assert!(start.elapsed() < Duration::from_secs(20), "{run:?}");
    run.code(5)
        .stderr_has("0 job(s) scanned")
        .stderr_has("5 of 5 job(s) or workflow(s) failed");
    let e = entries(&run);
    let got: Vec<&str> = e.iter().map(|e| e["jobId"].as_str().unwrap()).collect();
    assert_eq!(got, ids);
    assert!(e.iter().all(|e| e["error"].is_object()), "{run:?}");
}

/// Lines other commands print: a `results --jsonl` line names its
/// workflow by `workflowId`, a `results --fields=...,jobId` line may hold
/// `"jobId": null`. Both are workflows to scan, not failures, and a null
/// `jobId` does not make a workflow id a job.
#[test]
fn results_lines_are_workflows_to_scan() {
    let fake = Fake::start();
    let results = cli(&fake, &["--jsonl", "results", W_IMG])
        .ok()
        .stdout
        .clone();
    let stdin = format!("{results}{{\"id\":\"{W1}\",\"jobId\":null}}\n");
    let run = Cli::new(
        Some(&fake),
        &["--jsonl", "scan", "-", "--fields=workflowId,jobId"],
    )
    .stdin(&stdin)
    .run();
    run.ok().stderr_has("3 job(s) scanned");
    let e = entries(&run);
    assert_eq!(e.len(), 3, "{run:?}");
    assert_eq!(e[0]["workflowId"], W_IMG);
    assert_eq!(e[2]["workflowId"], W1);
    assert_eq!(e[2]["jobId"], JOB);
}
