//! `civitai-orch stats`: the counts of the whole walk, checked against a
//! count made here, directly from the fake's workflows (the generated
//! dataset of `Options::stats`): with filters, across pages the server
//! repeats, by each `--by` key; the JSON document's shape, the text report,
//! bad input, and a walk that fails midway.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::support::fake::Options;
use crate::support::{cli, Fake, Reply};

/// A fake with the fixtures and `n` generated workflows.
fn fake_with(n: usize) -> Fake {
    Fake::start_with(Options {
        stats: n,
        ..Options::default()
    })
}

/// The fake's listed workflows, newest first (the listing's order).
fn newest_first(fake: &Fake) -> Vec<Value> {
    let mut all = fake.all_workflows();
    all.reverse();
    all
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A sum as the CLI prints it: whole numbers without a fraction.
fn amount(n: f64) -> Value {
    if n.fract() == 0.0 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn instant(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The files of a step output, as (kind, available, blockedReason): any
/// object with a string `id` and a boolean `available`; its `type`, or the
/// key it sits under, says the kind.
fn files_in(v: &Value, key: &str, found: &mut Vec<(String, bool, Option<String>)>) {
    match v {
        Value::Object(m) => {
            if let (Some(Value::String(_)), Some(Value::Bool(available))) =
                (m.get("id"), m.get("available"))
            {
                let kind = match text(v, "type").filter(|t| !t.is_empty()) {
                    Some(t) => t.to_string(),
                    None if key.to_lowercase().contains("video") => "video".into(),
                    None if key.to_lowercase().contains("image") => "image".into(),
                    None => "blob".into(),
                };
                let reason = text(v, "blockedReason")
                    .filter(|r| !r.trim().is_empty())
                    .map(str::to_string);
                found.push((kind, *available, reason));
                return;
            }
            for (k, child) in m {
                files_in(child, k, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|c| files_in(c, key, found)),
        Value::String(_) if key == "blobId" || key == "blobIds" => {
            found.push(("blob".into(), true, None))
        }
        _ => {}
    }
}

/// Counts, most first, then by name, as a JSON object (key order aside).
fn counted(map: &HashMap<String, u64>) -> Value {
    Value::Object(map.iter().map(|(k, n)| (k.clone(), json!(n))).collect())
}

fn nearest_rank(sorted: &[u64], p: usize) -> Value {
    if sorted.is_empty() {
        return Value::Null;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    json!(sorted[rank - 1])
}

/// What `stats --json` must say about these workflows (all of them
/// counted), but for the walk's own fields (pages, duplicates, next).
fn expected(workflows: &[&Value], by: Option<&str>) -> Value {
    let mut by_status: HashMap<String, u64> = HashMap::new();
    let mut by_type: HashMap<String, u64> = HashMap::new();
    let (mut images, mut videos, mut others, mut not_available) = (0u64, 0u64, 0u64, 0u64);
    let mut blocked: HashMap<String, u64> = HashMap::new();
    let mut cost = 0.0;
    let mut by_currency: BTreeMap<String, f64> = BTreeMap::new();
    let mut durations: Vec<u64> = Vec::new();
    let mut failed_steps = 0u64;
    let mut reasons: HashMap<String, u64> = HashMap::new();
    // key -> (workflows, files, cost)
    let mut rows: BTreeMap<String, (u64, u64, f64)> = BTreeMap::new();
    for w in workflows {
        let status = text(w, "status").unwrap_or("(unknown)");
        *by_status.entry(status.into()).or_default() += 1;
        let steps = w["steps"].as_array().cloned().unwrap_or_default();
        let mut types: Vec<String> = steps
            .iter()
            .map(|s| text(s, "$type").unwrap_or("(unknown)").to_string())
            .collect();
        types.sort();
        types.dedup();
        for t in &types {
            *by_type.entry(t.clone()).or_default() += 1;
        }
        let mut files = Vec::new();
        for s in &steps {
            files_in(&s["output"], "output", &mut files);
            if text(s, "status") == Some("failed") && status != "succeeded" {
                failed_steps += 1;
                let why = s
                    .pointer("/metadata/failureReason")
                    .or_else(|| s.get("failureReason"))
                    .or_else(|| s.get("error"))
                    .and_then(Value::as_str)
                    .filter(|r| !r.trim().is_empty())
                    .unwrap_or("(no reason given)");
                *reasons.entry(why.into()).or_default() += 1;
            }
        }
        for (kind, available, reason) in &files {
            match kind.as_str() {
                "image" => images += 1,
                "video" => videos += 1,
                _ => others += 1,
            }
            match reason {
                Some(r) => *blocked.entry(r.clone()).or_default() += 1,
                None if !available => not_available += 1,
                None => {}
            }
        }
        let total = w
            .pointer("/cost/total")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        cost += total;
        for t in w
            .pointer("/transactions/list")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(account), Some(n)) = (text(t, "accountType"), t["amount"].as_f64()) else {
                continue;
            };
            let sign = if text(t, "type") == Some("credit") {
                -1.0
            } else {
                1.0
            };
            *by_currency.entry(account.into()).or_default() += sign * n;
        }
        let finished = matches!(status, "succeeded" | "failed" | "expired" | "canceled");
        let created = text(w, "createdAt").and_then(instant);
        if let (true, Some(c), Some(d)) =
            (finished, created, text(w, "completedAt").and_then(instant))
        {
            if d >= c {
                durations.push((d - c).whole_milliseconds() as u64);
            }
        }
        let keys: Vec<String> = match by {
            None => vec![],
            Some("day") => vec![created.map_or("(unknown)".into(), |c| c.date().to_string())],
            Some("hour") => vec![created.map_or("(unknown)".into(), |c| {
                format!("{}T{:02}", c.date(), c.hour())
            })],
            Some("status") => vec![status.to_string()],
            Some("type") if types.is_empty() => vec!["(no steps)".into()],
            Some("type") => types.clone(),
            Some("tag") => {
                let mut tags: Vec<String> = w["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
                tags.sort();
                tags.dedup();
                if tags.is_empty() {
                    tags.push("(no tags)".into());
                }
                tags
            }
            Some(other) => panic!("--by={other}"),
        };
        for k in keys {
            let row = rows.entry(k).or_default();
            row.0 += 1;
            row.1 += files.len() as u64;
            row.2 += total;
        }
    }
    durations.sort_unstable();
    let mut reasons: Vec<(String, u64)> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    reasons.truncate(5);
    let mut rows: Vec<(String, (u64, u64, f64))> = rows.into_iter().collect();
    if matches!(by, Some("tag" | "type" | "status")) {
        rows.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
    }
    json!({
        "workflows": workflows.len(),
        "byStatus": counted(&by_status),
        "byStepType": counted(&by_type),
        "files": {
            "total": images + videos + others,
            "images": images, "videos": videos, "others": others,
            "blocked": counted(&blocked),
            "notAvailable": not_available,
        },
        "cost": {
            "total": amount(cost),
            "byCurrency": Value::Object(by_currency.iter().map(|(k, n)| (k.clone(), amount(*n))).collect()),
        },
        "durationMs": {
            "count": durations.len(),
            "median": nearest_rank(&durations, 50),
            "p90": nearest_rank(&durations, 90),
            "max": nearest_rank(&durations, 100),
        },
        "failedSteps": failed_steps,
        "failureReasons": reasons.iter().map(|(r, n)| json!({"reason": r, "count": n})).collect::<Vec<_>>(),
        "by": by.map(|key| json!({
            "key": key,
            "rows": rows.iter().map(|(k, (w, f, c))| json!({
                "key": k, "workflows": w, "files": f, "cost": amount(*c)
            })).collect::<Vec<_>>(),
        })),
    })
}

/// The fields of `doc` that `expected` computes.
fn counts_of(doc: &Value) -> Value {
    let mut d = doc.clone();
    let m = d.as_object_mut().unwrap();
    for walk_field in ["lookedAt", "duplicates", "pages", "complete", "next"] {
        m.remove(walk_field);
    }
    d
}

fn assert_counts(doc: &Value, want: &Value) {
    let got = counts_of(doc);
    for key in want.as_object().unwrap().keys() {
        assert_eq!(
            got[key], want[key],
            "{key}\n got: {}\nwant: {}",
            got[key], want[key]
        );
    }
    assert_eq!(&got, want);
}

#[test]
fn stats_equal_a_direct_count_of_the_fake() {
    let fake = fake_with(300);
    let all = newest_first(&fake);
    let run = cli(&fake, &["--json", "stats"]);
    let doc = run.ok().json();
    assert_counts(&doc, &expected(&all.iter().collect::<Vec<_>>(), None));
    // Every page at the API's largest size, each workflow looked at once.
    let requests = fake.api_requests();
    assert_eq!(requests.len(), 4, "{requests:?}");
    assert!(requests.iter().all(|r| r.param("take") == Some("100")));
    assert_eq!(doc["pages"], 4);
    assert_eq!(doc["lookedAt"], 306);
    assert_eq!(doc["duplicates"], 0);
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["next"], Value::Null);
    // The dataset is varied enough for the count to mean something.
    assert!(doc["byStatus"].as_object().unwrap().len() >= 5, "{doc}");
    assert!(
        doc["files"]["blocked"].as_object().unwrap().len() >= 3,
        "{doc}"
    );
    assert!(doc["files"]["others"].as_u64().unwrap() > 0, "{doc}");
    assert!(
        doc["failureReasons"].as_array().unwrap().len() == 5,
        "{doc}"
    );
    assert!(
        doc["cost"]["byCurrency"]["blue"].as_f64().unwrap() > 0.0,
        "{doc}"
    );
    // A complete walk says nothing more on stderr.
    assert!(run.stderr.is_empty(), "{run:?}");
    // --jsonl is the same document, on one line.
    let jsonl = cli(&fake, &["--jsonl", "stats"]);
    assert_eq!(jsonl.ok().stdout, run.stdout);
}

#[test]
fn filters_count_only_what_they_keep() {
    let fake = fake_with(200);
    let all = newest_first(&fake);
    fn tagged(t: &'static str) -> impl Fn(&&Value) -> bool {
        move |w| w["tags"].as_array().unwrap().iter().any(|x| x == t)
    }

    let doc = cli(
        &fake,
        &["--json", "stats", "--tag=project:beta", "--tag=review"],
    )
    .ok()
    .json();
    let want: Vec<&Value> = all
        .iter()
        .filter(tagged("project:beta"))
        .filter(tagged("review"))
        .collect();
    assert!(!want.is_empty());
    assert_counts(&doc, &expected(&want, None));
    let req = fake.api_requests().pop().unwrap();
    assert_eq!(req.params("tags"), ["project:beta", "review"]);

    let (from, to) = ("2026-01-16T00:00:00.000Z", "2026-01-17T23:59:59.999Z");
    let doc = cli(
        &fake,
        &[
            "--json",
            "stats",
            "--from=2026-01-16",
            "--to=2026-01-17",
            "--by=day",
        ],
    )
    .ok()
    .json();
    let want: Vec<&Value> = all
        .iter()
        .filter(|w| (from..=to).contains(&text(w, "createdAt").unwrap()))
        .collect();
    assert!(want.len() > 20);
    assert_counts(&doc, &expected(&want, Some("day")));
    assert_eq!(doc["by"]["rows"].as_array().unwrap().len(), 2, "{doc}");

    let doc = cli(&fake, &["--json", "stats", "--status=failed,canceled"])
        .ok()
        .json();
    let want: Vec<&Value> = all
        .iter()
        .filter(|w| matches!(text(w, "status"), Some("failed" | "canceled")))
        .collect();
    assert_counts(&doc, &expected(&want, None));
    assert_eq!(doc["lookedAt"], all.len());

    // --limit: the newest N, in as few requests as the page size allows.
    let fake = fake_with(200);
    let run = cli(&fake, &["--json", "stats", "--limit=130"]);
    let doc = run.ok().json();
    assert_counts(
        &doc,
        &expected(&all.iter().take(130).collect::<Vec<_>>(), None),
    );
    let takes: Vec<String> = fake
        .api_requests()
        .iter()
        .map(|r| r.param("take").unwrap().to_string())
        .collect();
    assert_eq!(takes, ["100", "30"]);
    assert_eq!(doc["complete"], false);
    assert_eq!(doc["next"], "off:130");
    run.stderr_has("stats cover 130 workflow(s); more exist: go on with --cursor=off:130");

    // --limit with --status: counted after the filter.
    let doc = cli(
        &fake,
        &[
            "--json",
            "stats",
            "--status=succeeded",
            "--limit=40",
            "--take=25",
        ],
    )
    .ok()
    .json();
    let want: Vec<&Value> = all
        .iter()
        .filter(|w| text(w, "status") == Some("succeeded"))
        .take(40)
        .collect();
    assert_counts(&doc, &expected(&want, None));
}

#[test]
fn a_workflow_the_server_lists_twice_is_counted_once() {
    let fake = fake_with(120);
    let all = newest_first(&fake);
    fake.overlap_pages(3);
    let doc = cli(&fake, &["--json", "stats", "--take=10"]).ok().json();
    assert_counts(&doc, &expected(&all.iter().collect::<Vec<_>>(), None));
    // Everything the fake served, less what was counted, was skipped.
    let served: u64 = fake
        .api_requests()
        .iter()
        .map(|r| {
            let take: u64 = r.param("take").unwrap().parse().unwrap();
            let offset: u64 = r
                .param("cursor")
                .map_or(0, |c| c.trim_start_matches("off:").parse().unwrap());
            take.min(all.len() as u64 - offset)
        })
        .sum();
    assert!(doc["duplicates"].as_u64().unwrap() > 30, "{doc}");
    assert_eq!(
        doc["duplicates"].as_u64().unwrap() + all.len() as u64,
        served
    );
    assert_eq!(doc["lookedAt"].as_u64().unwrap(), served);

    // The same page sent again under another cursor.
    let fake = Fake::start();
    let page = |next: Value| {
        let items = [fake.workflow(crate::W1), fake.workflow(crate::W_FAIL)];
        Reply::json(200, &json!({"next": next, "items": items}).to_string())
    };
    fake.script(
        "/v2/consumer/workflows",
        vec![page(json!("c1")), page(json!("c2")), page(Value::Null)],
    );
    let run = cli(&fake, &["stats"]);
    run.ok()
        .stdout_has("Workflows: 2 in 3 page(s); 4 listed twice, counted once\n");
}

#[test]
fn by_each_key_adds_its_table() {
    let fake = fake_with(150);
    let all = newest_first(&fake);
    let all: Vec<&Value> = all.iter().collect();
    for key in ["day", "hour", "tag", "type", "status"] {
        let doc = cli(&fake, &["--json", "stats", &format!("--by={key}")])
            .ok()
            .json();
        let want = expected(&all, Some(key));
        assert_counts(&doc, &want);
        let rows = doc["by"]["rows"].as_array().unwrap();
        // Each row's figures add up to at least the totals (a workflow with
        // several tags or types counts under each), exactly for one key per
        // workflow.
        let sum = |f: &str| rows.iter().map(|r| r[f].as_u64().unwrap()).sum::<u64>();
        if matches!(key, "day" | "hour" | "status") {
            assert_eq!(sum("workflows"), all.len() as u64, "{key}");
            assert_eq!(
                sum("files"),
                doc["files"]["total"].as_u64().unwrap(),
                "{key}"
            );
        } else {
            assert!(sum("workflows") > all.len() as u64, "{key}");
        }
    }
    // Text: a table with a header, keys in time order.
    let run = cli(&fake, &["stats", "--by=day"]);
    run.ok()
        .stdout_has("\nBy day:\n  day         workflows  files ")
        .stdout_has("\n  2026-01-14 ");
}

#[test]
fn the_json_document_has_its_fields_in_order() {
    let fake = Fake::start();
    let doc = cli(&fake, &["--json", "stats", "--by=status"]).ok().json();
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "by",
        "byStatus",
        "byStepType",
        "complete",
        "cost",
        "duplicates",
        "durationMs",
        "failedSteps",
        "failureReasons",
        "files",
        "lookedAt",
        "next",
        "pages",
        "workflows",
    ];
    want.sort();
    assert_eq!(keys, want, "{doc}");
    assert_eq!(
        doc["files"],
        json!({"total": 7, "images": 5, "videos": 2, "others": 0,
               "blocked": {"NSFW content not allowed": 1}, "notAvailable": 0})
    );
    assert_eq!(
        doc["cost"],
        json!({"total": 184, "byCurrency": {"yellow": 182}})
    );
    assert_eq!(
        doc["durationMs"],
        json!({"count": 5, "median": 29162, "p90": 194216, "max": 194216})
    );
    assert_eq!(
        doc["failureReasons"],
        json!([{"reason": "Job failed after 3 attempts", "count": 1}])
    );
    assert_eq!(
        doc["by"]["rows"][0],
        json!({"key": "succeeded", "workflows": 4, "files": 7, "cost": 174})
    );
    // The order as printed: the totals first, the table last.
    let run = cli(&fake, &["--json", "stats"]);
    let line = &run.ok().stdout;
    let at = |k: &str| line.find(&format!("\"{k}\":")).unwrap();
    assert!(at("workflows") < at("pages") && at("pages") < at("byStatus"));
    assert!(at("files") < at("cost") && at("cost") < at("durationMs"));
    assert!(line.ends_with(",\"by\":null}\n"), "{line}");
}

#[test]
fn text_is_a_compact_report() {
    let fake = Fake::start();
    let run = cli(&fake, &["stats", "--by=type"]);
    assert_eq!(
        run.ok().stdout,
        "\
Workflows: 6 in 1 page(s)

By status:
  succeeded   4
  failed      1
  processing  1

By step type:
  textToImage  3
  comfy        1
  imageGen     1
  mediaHash    1
  videoGen     1

Files: 7 (images 5, videos 2, others 0)
  Blocked: 1
    NSFW content not allowed  1

Cost: 184 (charged: yellow 182)

Durations of 5 finished workflow(s):
  median  29.2 s
  p90     3 min 14 s
  max     3 min 14 s

Failure reasons (1 failed step(s) of workflows that did not succeed):
  Job failed after 3 attempts  1

By type:
  type         workflows  files  cost
  textToImage          3      2    14
  comfy                1      1     8
  imageGen             1      2    12
  mediaHash            1      1     8
  videoGen             1      2   150
",
        "{run:?}"
    );
    assert!(
        run.stderr.is_empty(),
        "no progress line off a terminal:{run:?}"
    );

    // Filters are named; nothing found is said in one line.
    let run = cli(&fake, &["stats", "--tag=nope", "--status=failed"]);
    assert_eq!(
        run.ok().stdout,
        "Filters: tags=nope status=failed\nWorkflows: 0 in 1 page(s)\n"
    );
}

#[test]
fn server_text_is_escaped_in_text() {
    let fake = Fake::start();
    let mut w = fake.workflow(crate::W_FAIL);
    w["status"] = json!("fa\u{1b}[2Jiled");
    w["steps"][0]["$type"] = json!("evil\u{202e}type");
    w["steps"][0]["metadata"]["failureReason"] = json!("line one\nline two \u{7}");
    w["tags"] = json!(["t\u{1b}ag"]);
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::json(
            200,
            &json!({"items": [w], "next": null}).to_string(),
        )],
    );
    let run = cli(&fake, &["stats", "--by=tag"]);
    run.ok()
        .stdout_has("fa\\x1b[2Jiled  1")
        .stdout_has("evil\\u{202e}type")
        .stdout_has("line one\\nline two \\x07")
        .stdout_has("t\\x1bag");
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{202e}'),
        "{run:?}"
    );
}

#[test]
fn bad_input_is_a_usage_error() {
    let fake = Fake::start();
    for args in [
        &["stats", "--by=week"][..],
        &["stats", "--by"],
        &["stats", "--take=0"],
        &["stats", "--take=101"],
        &["stats", "--take=x"],
        &["stats", "--limit=0"],
        &["stats", "--limit=-1"],
        &["stats", "--from=yesterday"],
        &["stats", "--to=2026-02-30"],
        &["stats", "--from=2026-02-01", "--to=2026-01-01"],
        &["stats", "--status=done"],
        &["stats", "--all"],
        &["stats", "--fields=id"],
        &["stats", "extra"],
        &["stats", "--tag"],
    ] {
        cli(&fake, args)
            .code(2)
            .one_error_line()
            .stderr_has("usage: civitai-orch stats");
    }
    assert!(
        fake.api_requests().is_empty(),
        "no request on a usage error"
    );
    // What only the API refuses is exit 2 as well.
    cli(&fake, &["stats", "--take=101"]).code(2);
}

#[test]
fn a_walk_that_fails_midway_prints_nothing_on_stdout() {
    let first = Reply::json(
        200,
        r#"{"items":[{"id":"a","status":"succeeded"}],"next":"c2"}"#,
    );
    for (second, code) in [
        (Reply::problem(404, "Not Found", "cursor expired"), 4),
        (Reply::problem(500, "Internal Server Error", "boom"), 5),
        (Reply::json(200, r#"{"items":[{"id":"b""#), 1),
        (Reply::json(200, r#"{"items":["b"],"next":null}"#), 1),
    ] {
        let fake = Fake::start();
        for mode in ["--json", "--jsonl", "-q"] {
            fake.script(
                "/v2/consumer/workflows",
                vec![first.clone(), second.clone()],
            );
            let run = cli(&fake, &[mode, "stats", "--retries=0"]);
            run.code(code);
            assert!(run.stdout.is_empty(), "{run:?}");
            if mode == "-q" {
                run.one_error_line();
            } else {
                // The error as JSON, on stderr.
                run.stderr_has("{\"error\":{\"kind\":");
            }
        }
    }
}

/// On a terminal (here the pseudo-terminal of util-linux `script`, when the
/// machine has it), one line of progress is redrawn in place and erased at
/// the end; `-q` draws none.
#[test]
fn a_terminal_gets_one_progress_line_erased_at_the_end() {
    let script = std::path::Path::new("/usr/bin/script");
    if !script.exists() {
        return;
    }
    let fake = fake_with(44);
    fake.set_api_delay(std::time::Duration::from_millis(120));
    let tty = |quiet: &str| {
        let line = format!("{} {quiet} stats --take=10 >/dev/null", crate::support::BIN);
        let out = std::process::Command::new(script)
            .args(["-qc", &line, "/dev/null"])
            .env_clear()
            .env("CIVITAI_API_URL", &fake.url)
            .env("CIVITAI_API_TOKEN", crate::support::TOKEN)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let seen = tty("");
    assert!(seen.starts_with("\r\x1b[K"), "{seen:?}");
    assert!(
        seen.contains(" workflows, ") && seen.contains(" pages"),
        "{seen:?}"
    );
    assert!(seen.ends_with(" pages\r\x1b[K"), "{seen:?}");
    assert!(!seen.contains('\n'), "one line, redrawn: {seen:?}");
    assert_eq!(tty("-q"), "");
}
