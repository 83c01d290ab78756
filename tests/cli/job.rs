//! `civitai-orch job`: the summary of a job (prompt cut, results, last event,
//! scan context), a minimal job, and `--raw` and `--json`.

use crate::support::{cli, Fake};
use crate::JOB;

#[test]
fn job_prints_a_summary_raw_or_json() {
    let fake = Fake::start();
    let run = cli(&fake, &["job", JOB]);
    run.ok()
        .stdout_has(&format!("Job Summary:\n  ID: {JOB}\n  Type: TextToImageV2\n  Created: 2026-01-21T22:21:26.5Z\n  Cost: 4\n  Workflow ID: 8484131-20260121222126332\n"))
        .stdout_has("\nPrompt Classification: sexual, scan\n")
        .stdout_has("\nResults (2 blob(s)):\n  - JNFDW54JNTATNW42HACYCWSQP0.jpeg (available: true)\n")
        .stdout_has("\nLast Event:\n  Type: Succeeded\n  Time: 2026-01-21T22:21:41.8Z\n  Provider: ValdiAI\n  Worker: w-123\n  Job Duration: 00:00:14.8700000\n")
        .stdout_has("\nEvent Context (scan results, metrics):\n  ** hive_csam_score: 0.00 %, 0.00 %\n")
        .stdout_has("  Other context:\n")
        .stdout_has("    sampler_ms: 9123\n");
    let prompt_line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Prompt: "))
        .unwrap();
    assert_eq!(
        prompt_line.chars().count(),
        "Prompt: \"".len() + 200 + "...\"".len()
    );
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(req.raw_path, format!("/v1/consumer/jobs/{JOB}"));
    assert_eq!(req.param("detailed"), Some("true"));

    let minimal = cli(&fake, &["job", "0b6f2c1e-9a7d-4e3b-8c5f-1d2e3f4a5b6c"]);
    minimal.ok();
    assert!(
        !minimal.stdout.contains("Last Event") && !minimal.stdout.contains("Prompt"),
        "{minimal:?}"
    );

    let raw = cli(&fake, &["job", JOB, "--raw"]).ok().stdout.clone();
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["jobId"], JOB);
    assert_eq!(cli(&fake, &["job", JOB, "--json"]).ok().json(), v);
}

/// Several job ids, from arguments and stdin (`scan --jsonl` lines give
/// `jobId`), in input order; `--fields` cuts each job down.
#[test]
fn several_jobs_and_their_fields() {
    let fake = Fake::start();
    let minimal = "0b6f2c1e-9a7d-4e3b-8c5f-1d2e3f4a5b6c";
    let stdin = format!("{{\"jobId\":\"{minimal}\",\"workflowId\":\"w\"}}\n{JOB}\n");
    let run = crate::support::Cli::new(
        Some(&fake),
        &[
            "job",
            JOB,
            "-",
            "--fields=jobId,job.type,lastEvent.context.hive_csam_score",
        ],
    )
    .stdin(&stdin)
    .run();
    run.ok();
    assert_eq!(
        run.stdout,
        format!(
            "jobId\tjob.type\tlastEvent.context.hive_csam_score\n\
             {JOB}\tTextToImageV2\t0.00 %, 0.00 %\n\
             {minimal}\tWDTagging\t\n\
             {JOB}\tTextToImageV2\t0.00 %, 0.00 %\n"
        )
    );
    // Text summaries, a blank line between.
    let run = cli(&fake, &["job", JOB, minimal]);
    run.ok();
    assert_eq!(run.stdout.matches("Job Summary:").count(), 2);
    assert!(
        run.stdout.contains("\n\nJob Summary:\n  ID: 0b6f2c1e"),
        "{run:?}"
    );
    // A line that holds no id is reported by number; the others still run.
    let run = crate::support::Cli::new(Some(&fake), &["--jsonl", "job", "-"])
        .stdin(&format!("{JOB}\n{{\"x\":1}}\n{minimal}\n"))
        .run();
    run.code(2).stderr_has("stdin line 2: a JSON line without");
    assert_eq!(run.stdout.lines().count(), 2);
}
