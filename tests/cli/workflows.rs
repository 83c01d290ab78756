//! `civitai-orch workflows`: the listing, its filters and dates as sent, paging
//! with `--all`, `--status` and `--limit`, and the text, JSON and JSON-lines
//! forms of a page (counts, cursors, escaped server text).

use crate::no_token_in;
use crate::support::TOKEN;
use crate::support::{cli, Fake, Reply};
use crate::{W1, W_COMFY, W_FAIL, W_IMG, W_PROC, W_VID};
use serde_json::json;

#[test]
fn workflows_lists_a_page_with_its_cursor() {
    let fake = Fake::start();
    let run = cli(&fake, &["workflows", "--take=3"]);
    run.ok()
        .stdout_has("Found 3 workflow(s):")
        .stderr_has("3 workflow(s) shown; more exist: go on with --cursor=MjAyNi0wMS0yMVQyMjoyMToyNi4zMzJafDAtMDE5YmU0NGI (or add --all)")
        .stdout_has(&format!("ID: {W1}\n  Status: succeeded\n  Created: 2026-01-21T22:21:26.332Z\n  Completed: 2026-01-21T22:21:41.870Z\n  Tags: user:12345, type:image\n  Steps: 0:textToImage(succeeded)\n  Prompt: \""))
        .stdout_has("...\"\n");
    assert!(!run.stdout.contains("Filters:"));
    let req = &fake.api_requests()[0];
    assert_eq!(req.param("take"), Some("3"));
}

#[test]
fn workflows_sends_every_filter() {
    let fake = Fake::start();
    let run = cli(
        &fake,
        &[
            "workflows",
            "--tag",
            "user:12345",
            "--tag=type:image",
            "--query=fox snow",
            "--excludeFailed",
            "--oldest",
            "--take",
            "5",
            "--cursor=off:1",
            "--from=2026-01-20",
            "--to=2026-01-21T23:00+02:00",
        ],
    );
    run.ok().stdout_has("Filters: tags=user:12345,type:image query=\"fox snow\" excludeFailed oldest first from=2026-01-20 to=2026-01-21T23:00+02:00");
    let req = &fake.api_requests()[0];
    assert_eq!(req.params("tags"), ["user:12345", "type:image"]);
    assert_eq!(req.param("query"), Some("fox snow"));
    assert_eq!(req.param("excludeFailed"), Some("true"));
    assert_eq!(req.param("ascending"), Some("true"));
    assert_eq!(req.param("take"), Some("5"));
    assert_eq!(req.param("cursor"), Some("off:1"));
    assert_eq!(req.param("fromDate"), Some("2026-01-20T00:00:00.000Z"));
    assert_eq!(req.param("toDate"), Some("2026-01-21T21:00:00.000Z"));
}

#[test]
fn kebab_aliases_send_the_same_request() {
    let fake = Fake::start();
    cli(&fake, &["workflows", "--exclude-failed", "--ascending"]).ok();
    let req = &fake.api_requests()[0];
    assert_eq!(req.param("excludeFailed"), Some("true"));
    assert_eq!(req.param("ascending"), Some("true"));
}

#[test]
fn every_date_form_is_sent_as_utc_millis() {
    let fake = Fake::start();
    let cases = [
        ("2026-01-20", "--from", "2026-01-20T00:00:00.000Z"),
        ("2026-01-20", "--to", "2026-01-20T23:59:59.999Z"),
        ("2026-01-20T06:00", "--from", "2026-01-20T06:00:00.000Z"),
        ("2026-01-20T06:00:30", "--from", "2026-01-20T06:00:30.000Z"),
        (
            "2026-01-20T06:00:30.1234",
            "--from",
            "2026-01-20T06:00:30.123Z",
        ),
        ("2026-01-20T06:00:00Z", "--from", "2026-01-20T06:00:00.000Z"),
        (
            "2026-01-20T06:00:00-05:30",
            "--from",
            "2026-01-20T11:30:00.000Z",
        ),
    ];
    for (value, flag, sent) in cases {
        cli(&fake, &["workflows", &format!("{flag}={value}")]).ok();
        let req = fake.api_requests().pop().unwrap();
        let key = if flag == "--from" {
            "fromDate"
        } else {
            "toDate"
        };
        assert_eq!(req.param(key), Some(sent), "{flag}={value}");
    }
    // Relative spans count back from now.
    use time::format_description::well_known::Rfc3339;
    for (span, secs) in [
        ("30m", 1800),
        ("24h", 86_400),
        ("7d", 604_800),
        ("2w", 1_209_600),
    ] {
        cli(&fake, &["workflows", &format!("--from={span}")]).ok();
        let req = fake.api_requests().pop().unwrap();
        let sent = req.param("fromDate").unwrap().to_string();
        assert!(sent.ends_with('Z') && sent.len() == 24, "{span} -> {sent}");
        let sent = time::OffsetDateTime::parse(&sent, &Rfc3339).unwrap();
        let expected = time::OffsetDateTime::now_utc() - time::Duration::seconds(secs);
        assert!(
            (sent - expected).abs() < time::Duration::seconds(60),
            "{span} -> {sent}"
        );
    }
}

#[test]
fn bad_dates_are_usage_errors_naming_the_flag() {
    let fake = Fake::start();
    for bad in [
        "yesterday",
        "2026-13-01",
        "2026-02-30",
        "2026-1-2",
        "7x",
        "2026-01-20T25:00",
    ] {
        cli(&fake, &["workflows", &format!("--from={bad}")])
            .code(2)
            .one_error_line()
            .stderr_has("invalid --from")
            .stderr_has("YYYY-MM-DD")
            .stderr_has("usage: civitai-orch workflows");
    }
    cli(
        &fake,
        &["workflows", "--from=2026-02-01", "--to=2026-01-01"],
    )
    .code(2)
    .stderr_has("--from");
    assert!(
        fake.api_requests().is_empty(),
        "no request on a usage error"
    );
}

#[test]
fn all_walks_every_page_with_limit_and_status() {
    let fake = Fake::start();
    let run = cli(&fake, &["--jsonl", "workflows", "--take=2", "--all"]);
    run.ok();
    let ids = run.jsonl_ids();
    assert_eq!(ids, [W1, W_IMG, W_FAIL, W_VID, W_COMFY, W_PROC]);
    let cursors: Vec<Option<String>> = fake
        .api_requests()
        .iter()
        .map(|r| r.param("cursor").map(str::to_string))
        .collect();
    assert_eq!(cursors, [None, Some("off:2".into()), Some("off:4".into())]);
    run.stderr_has("6 workflow(s) shown; no more");
    assert!(!run.stderr.contains("--cursor"), "{run:?}");

    // --status filters on the client; --limit counts after the filter.
    let fake = Fake::start();
    let run = cli(
        &fake,
        &[
            "--jsonl",
            "workflows",
            "--take=2",
            "--all",
            "--status=succeeded",
            "--limit=3",
        ],
    );
    run.ok();
    let ids = run.jsonl_ids();
    assert_eq!(ids, [W1, W_IMG, W_VID]);
    assert_eq!(fake.api_requests()[0].param("excludeFailed"), Some("true"));
    // The limit was reached inside the page that `off:2` fetched: resuming
    // from its `next` (off:4) would skip the rest of it, so the cursor that
    // repeats it is reported, and the note says so.
    run.stderr_has("3 workflow(s) shown of 3 looked at; more exist: go on with --cursor=off:2")
        .stderr_has("starts again with up to 1 workflow(s) already shown, none skipped");

    // Failed ones are kept when asked for.
    let fake = Fake::start();
    let run = cli(
        &fake,
        &[
            "workflows",
            "--all",
            "--take=2",
            "--status=failed,processing",
        ],
    );
    run.ok()
        .stdout_has(W_FAIL)
        .stdout_has(W_PROC)
        .stdout_has("Found 2 workflow(s) in 3 page(s).");
    assert!(!run.stdout.contains(W1));
    assert_eq!(fake.api_requests()[0].param("excludeFailed"), None);

    cli(&fake, &["workflows", "--status=done"])
        .code(2)
        .stderr_has("unknown status 'done'");
}

#[test]
fn all_stops_on_a_repeating_cursor_or_an_empty_page() {
    let fake = Fake::start();
    let page = |next: &str| {
        let next = if next.is_empty() {
            "null".to_string()
        } else {
            format!("\"{next}\"")
        };
        Reply::json(
            200,
            &format!(
                r#"{{"next":{next},"items":[{{"id":"a","status":"succeeded","createdAt":"x"}}]}}"#
            ),
        )
    };
    fake.script(
        "/v2/consumer/workflows",
        vec![page("c1"), page("c2"), page("c1"), page("c9")],
    );
    let run = cli(&fake, &["--jsonl", "workflows", "--all"]);
    run.ok();
    assert_eq!(run.stdout.lines().count(), 3, "{run:?}");
    assert_eq!(fake.api_requests().len(), 3);

    let fake = Fake::start();
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::json(200, r#"{"nextCursor":"c1","items":[]}"#)],
    );
    let run = cli(&fake, &["workflows", "--all"]);
    run.ok().stderr_has("more exist: go on with --cursor=c1\n");
    assert_eq!(fake.api_requests().len(), 1);
}

#[test]
fn workflows_json_is_the_page_and_jsonl_one_per_line() {
    let fake = Fake::start();
    let run = cli(&fake, &["workflows", "--take=2", "--json"]);
    let page = run.ok().json();
    assert_eq!(page["next"], "off:2");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["items"][0]["steps"][0]["output"]["images"][0]["url"]
        .as_str()
        .unwrap()
        .starts_with(&fake.cdn_url));

    let run = cli(&fake, &["workflows", "--all", "--json", "--take=4"]);
    let doc = run.ok().json();
    assert_eq!(doc["items"].as_array().unwrap().len(), 6);
    assert_eq!(doc["next"], serde_json::Value::Null);

    let run = cli(&fake, &["workflows", "--take=2", "--jsonl"]);
    run.ok()
        .stderr_has("2 workflow(s) shown; more exist: go on with --cursor=off:2");
    assert_eq!(run.stdout.lines().count(), 2);

    let fake = Fake::start();
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::json(200, r#"{"items":[],"next":null}"#)],
    );
    cli(&fake, &["workflows"])
        .ok()
        .stdout_has("No workflows found.");
}

#[test]
fn jsonl_keeps_the_cursor_even_when_quiet() {
    let fake = Fake::start();
    cli(&fake, &["-q", "--jsonl", "workflows", "--take=2"])
        .ok()
        .stderr_has("--cursor=off:2");
}

#[test]
fn text_counts_match_what_is_listed() {
    let fake = Fake::start();
    let run = cli(&fake, &["workflows", "--take=2", "--status=processing"]);
    run.ok()
        .stdout_has("No processing workflows on this page (2 looked at).\n")
        .stderr_has("0 workflow(s) shown of 2 looked at; more exist: go on with --cursor=off:2 (or add --all)");
    assert!(!run.stdout.contains("No workflows found"), "{run:?}");
    let run = cli(
        &fake,
        &["workflows", "--take=2", "--status=processing", "--all"],
    );
    run.ok()
        .stdout_has(W_PROC)
        .stdout_has("Found 1 workflow(s) in 3 page(s).");
    assert!(!run.stdout.contains("Found 0"), "{run:?}");
}

#[test]
fn a_json_walk_that_fails_midway_prints_no_partial_document() {
    let fake = Fake::start();
    fake.script(
        "/v2/consumer/workflows",
        vec![
            Reply::json(
                200,
                r#"{"items":[{"id":"a","status":"succeeded"}],"next":"c2"}"#,
            ),
            Reply::problem(404, "Not Found", "cursor expired"),
        ],
    );
    let run = cli(&fake, &["--json", "workflows", "--all"]);
    run.code(4);
    assert!(run.stdout.is_empty(), "{run:?}");
}

#[test]
fn control_characters_from_the_server_are_escaped() {
    let fake = Fake::start();
    let mut w = fake.workflow(W1);
    w["steps"][0]["input"]["prompt"] = "evil \u{1b}[2J prompt\nsecond line".into();
    w["tags"] = serde_json::json!(["t\u{7}ag"]);
    let page = serde_json::json!({"items": [w], "next": null});
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::json(200, &page.to_string())],
    );
    let run = cli(&fake, &["workflows"]);
    run.ok()
        .stdout_has("evil \\x1b[2J prompt\\nsecond line")
        .stdout_has("t\\x07ag");
    assert!(!run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{7}'));
}

#[test]
fn a_limit_inside_a_page_reports_a_cursor_that_skips_nothing() {
    // All six, in order, for reference.
    let fake = Fake::start();
    let all = cli(&fake, &["--jsonl", "workflows", "--all"])
        .ok()
        .jsonl_ids();
    assert_eq!(all.len(), 6);
    for (take, limit) in [(4, 3), (4, 1), (2, 3), (5, 5)] {
        let fake = Fake::start();
        let (take, limit) = (format!("--take={take}"), format!("--limit={limit}"));
        let first = cli(&fake, &["--jsonl", "workflows", "--all", &take, &limit]);
        let mut seen = first.ok().jsonl_ids();
        let cursor = first
            .stderr
            .lines()
            .find_map(|l| l.split_once("--cursor=").map(|(_, c)| c))
            .and_then(|c| c.split(' ').next())
            .unwrap_or_else(|| panic!("no cursor reported:{first:?}"))
            .to_string();
        let rest = cli(
            &fake,
            &["--jsonl", "workflows", "--all", &take, "--cursor", &cursor],
        );
        seen.extend(rest.ok().jsonl_ids());
        assert_eq!(
            seen, all,
            "{take} {limit}: resuming skipped or repeated{first:?}"
        );
    }
}

#[test]
fn a_filtered_single_page_says_more_pages_exist() {
    let fake = Fake::start();
    let run = cli(&fake, &["workflows", "--status=failed", "--take=2"]);
    run.ok()
        .stdout_has("No failed workflows on this page (2 looked at).")
        .stderr_has("0 workflow(s) shown of 2 looked at; more exist: go on with --cursor=off:2 (or add --all)");
    assert!(!run.stdout.contains("No workflows found"), "{run:?}");
    // The same in JSON lines: the note and the cursor, on stderr.
    let run = cli(
        &fake,
        &["--jsonl", "workflows", "--status=failed", "--take=2"],
    );
    run.ok()
        .stderr_has("shown of 2 looked at; more exist: go on with --cursor=off:2");
    // Followed with --all, the failed one is found.
    cli(
        &fake,
        &["workflows", "--status=failed", "--take=2", "--all"],
    )
    .ok()
    .stdout_has(W_FAIL);
}

/// The paging line on stderr names the next cursor; a cursor that quotes the
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
    run.ok().stderr_has("more exist: go on with --cursor=c-");
    no_token_in(&run, 12);
}

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

#[test]
fn take_out_of_range_is_refused_before_anything_is_sent() {
    let fake = Fake::start();
    for take in ["0", "101", "500"] {
        cli(&fake, &["workflows", &format!("--take={take}")])
            .code(2)
            .one_error_line()
            .stderr_has(&format!(
                "error: --take must be between 1 and 100 (got {take})\n"
            ))
            .stderr_has("usage: civitai-orch workflows");
    }
    assert!(fake.api_requests().is_empty(), "nothing is sent");
    for take in ["1", "100"] {
        cli(&fake, &["workflows", &format!("--take={take}")]).ok();
    }
    assert_eq!(fake.api_requests()[1].param("take"), Some("100"));
}

/// The ways a listing reads a page: into text blocks, as sent, down to
/// `--fields`, and as sent after a parse for `--status`.
const EVERY_FORM: [&[&str]; 4] = [
    &["workflows"],
    &["--jsonl", "workflows"],
    &["workflows", "--fields=id"],
    &["--jsonl", "workflows", "--status=succeeded"],
];

/// A page whose items or cursor are not what a page holds is refused the
/// same way whether its items are printed as sent (`--jsonl`) or parsed
/// down to what is shown as the page is read (text, `--fields`).
#[test]
fn a_malformed_page_is_refused_in_every_form() {
    let pages = [
        r#"{"items":[1,2],"next":null}"#,
        r#"{"items":{"id":"a"}}"#,
        r#"{"items":[{"id":"a","status":"succeeded"}],"next":5}"#,
        r#"{"items":[{"id":"a","status":"succeeded"}],"nextCursor":["c"]}"#,
        r#"{"items":[{"id":"a","status":"succeeded"}],"next":"c2""#,
    ];
    for body in pages {
        for args in EVERY_FORM {
            let fake = Fake::start();
            fake.script("/v2/consumer/workflows", vec![Reply::json(200, body)]);
            let run = cli(&fake, args);
            run.code(1);
            assert_eq!(run.stderr.lines().count(), 1, "{body} {args:?}: {run:?}");
            assert!(
                run.stderr.contains("a page of workflows"),
                "{body} {args:?}: {run:?}"
            );
            // Nothing of the page; the `--fields` header comes before it.
            assert!(
                run.stdout.lines().all(|l| l == "id"),
                "{body} {args:?}: {run:?}"
            );
        }
    }
}

/// What each form prints of a page is the same with the page's items
/// parsed in one pass: an empty `next` ends the listing, `nextCursor` is
/// read when `next` is absent, and a key given twice counts once (its last
/// value).
#[test]
fn cursors_and_repeated_keys_read_alike_in_every_form() {
    let body = r#"{"items":[{"id":"a","status":"x","status":"succeeded","steps":[]}],"next":"","nextCursor":"c7"}"#;
    for args in [&["workflows"][..], &["workflows", "--fields=id,status"][..]] {
        let fake = Fake::start();
        fake.script("/v2/consumer/workflows", vec![Reply::json(200, body)]);
        let run = cli(&fake, args);
        run.ok().stderr_has("no more");
        assert!(run.stdout.contains("succeeded"), "{args:?}: {run:?}");
        assert!(
            !run.stdout.contains("\tx") && !run.stdout.contains(": x"),
            "{run:?}"
        );
    }
    let fake = Fake::start();
    fake.script(
        "/v2/consumer/workflows",
        vec![Reply::json(
            200,
            r#"{"items":[{"id":"a"}],"nextCursor":"c7"}"#,
        )],
    );
    cli(&fake, &["workflows", "--fields=id"])
        .ok()
        .stderr_has("--cursor=c7");
}

/// A page that gives `items` or a cursor twice, or is an array, is read
/// the same whether its items are printed as sent (`--jsonl`) or parsed
/// down to what is shown (text, `--fields`): either every form refuses it
/// or every form prints the same workflows.
#[test]
fn odd_pages_read_alike_in_every_form() {
    let pages = [
        r#"{"items":[{"id":"a1","status":"succeeded"}],"items":[{"id":"b2","status":"succeeded"}]}"#,
        r#"{"items":[{"id":"a1","status":"succeeded"}],"next":"c1","next":null}"#,
        r#"{"items":[{"id":"a1","status":"succeeded"}],"nextCursor":null,"nextCursor":"c1"}"#,
        r#"[]"#,
        r#"[[{"id":"a1","status":"succeeded"}]]"#,
    ];
    for body in pages {
        let mut seen: Vec<(i32, bool, bool)> = Vec::new();
        for args in EVERY_FORM {
            let fake = Fake::start();
            fake.script("/v2/consumer/workflows", vec![Reply::json(200, body)]);
            let run = cli(&fake, args);
            seen.push((
                run.code,
                run.stdout.contains("a1"),
                run.stdout.contains("b2"),
            ));
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{body}: {seen:?}");
    }
}

/// Deep nesting never overflows the stack: on a path the listing reads
/// (`steps`, arrays in arrays) up to serde_json's limit it is printed, past
/// the limit the page is refused with one error line; off every path it is
/// skipped, however deep.
#[test]
fn deep_nesting_is_read_without_overflow() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // (body, ok in text, ok with --fields=id,steps). Text reads steps as
    // objects and skips anything else without recursion; `--fields` builds
    // the value it prints, which serde_json bounds at 128 levels.
    for (body, text_ok, fields_ok) in [
        (
            format!(
                r#"{{"items":[{{"id":"a1","status":"succeeded","steps":{}}}]}}"#,
                deep(124)
            ),
            true,
            true,
        ),
        (
            format!(
                r#"{{"items":[{{"id":"a1","status":"succeeded","x":{}}}]}}"#,
                deep(5000)
            ),
            true,
            true,
        ),
        (
            format!(
                r#"{{"items":[{{"id":"a1","status":"succeeded","steps":{}}}]}}"#,
                deep(5000)
            ),
            true,
            false,
        ),
    ] {
        for (args, ok) in [
            (&["workflows"][..], text_ok),
            (&["workflows", "--fields=id,steps"][..], fields_ok),
        ] {
            let fake = Fake::start();
            fake.script("/v2/consumer/workflows", vec![Reply::json(200, &body)]);
            let run = cli(&fake, args);
            if ok {
                run.ok().stdout_has("a1");
            } else {
                run.code(1)
                    .one_error_line()
                    .stderr_has("a page of workflows");
            }
        }
    }
}

/// The token (whole, cut to 12 characters, twice in a row) inside a long
/// string, at every place around the 64 KiB of stdout's buffer and the
/// runs minify writes: none of it reaches stdout, the rest of the text does.
#[test]
fn the_token_is_hidden_across_stdout_buffer_edges() {
    for pad in (65_536 - 40..65_536 + 8).step_by(3) {
        let text = format!(
            "{}{TOKEN}{TOKEN}|{}|{}",
            "p".repeat(pad),
            &TOKEN[..12],
            "q".repeat(70_000)
        );
        let body = json!({"items": [{"id": "a", "status": "succeeded", "x": text}], "next": null})
            .to_string();
        for args in [&["--json", "workflows"][..], &["--jsonl", "workflows"][..]] {
            let fake = Fake::start();
            fake.script("/v2/consumer/workflows", vec![Reply::json(200, &body)]);
            let run = cli(&fake, args);
            run.ok();
            no_token_in(&run, 12);
            let shown = format!("{}[hidden][hidden]|[hidden]|", "p".repeat(pad));
            assert!(run.stdout.contains(&shown), "pad {pad} {args:?}");
        }
    }
}

/// A page part given twice is its last value in every form, whatever the
/// type of the first: a page whose `items` or cursor is first of the wrong
/// type, then right, is read by `--jsonl` (items as sent) as it is by the
/// text listing and `--fields`. And what no form reads (a lone surrogate
/// or a number out of range in a field skipped) is skipped by all alike.
#[test]
fn a_page_part_given_twice_reads_alike_in_every_form() {
    let pages = [
        r#"{"items":5,"items":[{"id":"a1","status":"succeeded"}]}"#,
        r#"{"items":{"id":"b2"},"items":[{"id":"a1","status":"succeeded"}],"next":null}"#,
        r#"{"items":[{"id":"a1","status":"succeeded"}],"next":5,"next":"c1"}"#,
        r#"{"items":[{"id":"a1","status":"succeeded"}],"nextCursor":{},"nextCursor":null}"#,
        r#"{"items":[{"id":"a1","status":"succeeded"}],"items":5}"#,
        r#"{"items":[{"id":"a1","status":"succeeded"}],"next":"c1","next":[]}"#,
        r#"{"items":[{"id":"a1","status":"succeeded","x":"\ud800"}]}"#,
        r#"{"items":[{"id":"a1","status":"succeeded","x":1e999}]}"#,
    ];
    for body in pages {
        let mut seen: Vec<(i32, bool, bool)> = Vec::new();
        for args in EVERY_FORM {
            let fake = Fake::start();
            fake.script("/v2/consumer/workflows", vec![Reply::json(200, body)]);
            let run = cli(&fake, args);
            if run.code != 0 {
                run.code(1).stderr_has("a page of workflows");
                assert_eq!(run.stderr.lines().count(), 1, "{body} {args:?}: {run:?}");
            }
            seen.push((
                run.code,
                run.stdout.contains("a1"),
                run.stderr.contains("c1"),
            ));
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{body}: {seen:?}");
    }
}

/// A text `--all` walk over pages of odd workflows (escaped keys, values
/// of the wrong type, steps that are not objects, terminal-acting and
/// multibyte text, prompts cut on and around the 100th character) prints
/// what each item read whole as a `Value` would, with `--status` and a
/// `--limit` reached inside a later page.
#[test]
fn a_text_walk_prints_what_whole_values_would() {
    use civitai_orch::api::Workflow;
    use civitai_orch::output::render::workflow_block;
    let cut = |n: usize, c: &str| format!("{}{c}", "p".repeat(n));
    let pages = [
        json!({"items": [
            {"id": "e1", "status": "succeeded", "tags": ["a\u{1b}[31m", 5, null, ["x"]],
             "steps": [1, {"$type": true, "name": 7, "status": {}, "input": {"prompt": cut(99, "😀b")}}]},
            {"id": 12.5, "status": "SUCCEEDED", "createdAt": false, "completedAt": [],
             "steps": [{"input": "s"}, {"input": {"prompt": cut(100, "")}}]},
            {"id": "e3", "status": "failed", "steps": [{"input": {"prompt": cut(101, "")}}]},
        ], "next": "c2"}),
        json!({"items": [
            {"id": "e4\u{202e}\u{9b}", "status": "succeeded", "tags": "t",
             "steps": {"name": "x"}, "x": {"deep": [[[[{"prompt": "no"}]]]]}},
            {"id": "e5", "status": "succeeded",
             "steps": [{"name": "s", "input": {"prompt": cut(98, "é\n\u{7}")}}]},
        ], "next": "c3"}),
        json!({"items": [
            {"id": "e6", "status": "succeeded", "steps": [{"input": {"prompt": cut(99, "éé")}}]},
            {"id": "e7", "status": "succeeded"},
        ], "next": null}),
    ];
    // The pages as the server sends them, with keys escaped.
    let bodies: Vec<String> = pages
        .iter()
        .map(|p| {
            p.to_string()
                .replace("\"status\"", "\"st\\u0061tus\"")
                .replace("\"prompt\"", "\"\\u0070rompt\"")
                .replace("\"id\"", "\"\\u0069\\u0064\"")
        })
        .collect();
    for (args, status, limit) in [
        (&["workflows", "--all"][..], None, None),
        (
            &["workflows", "--all", "--status=succeeded", "--limit=4"][..],
            Some("succeeded"),
            Some(4),
        ),
    ] {
        let fake = Fake::start();
        fake.script(
            "/v2/consumer/workflows",
            bodies.iter().map(|b| Reply::json(200, b)).collect(),
        );
        let run = cli(&fake, args);
        run.ok();
        let mut blocks = Vec::new();
        let mut used_pages = 0;
        let full = |n: usize| limit.is_some_and(|l| n >= l);
        for page in &pages {
            used_pages += 1;
            for item in page["items"].as_array().unwrap() {
                if full(blocks.len()) {
                    break;
                }
                let wf = Workflow::from_value(item.clone()).unwrap();
                if status.is_some_and(|s| {
                    !wf.status
                        .as_deref()
                        .is_some_and(|w| w.eq_ignore_ascii_case(s))
                }) {
                    continue;
                }
                let mut out = Vec::new();
                workflow_block(&mut out, &wf).unwrap();
                blocks.push(String::from_utf8(out).unwrap());
            }
            if full(blocks.len()) {
                break;
            }
        }
        let filters = status.map(|s| format!("Filters: status={s}\n"));
        let expected = format!(
            "{}{}\nFound {} workflow(s) in {used_pages} page(s).\n",
            filters.unwrap_or_default(),
            blocks.join("\n"),
            blocks.len()
        );
        assert_eq!(run.stdout, expected, "{args:?}: {run:?}");
        assert!(
            !run.stdout
                .contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}']),
            "{run:?}"
        );
    }
}

/// A walk whose second page is malformed stops there in every form: the
/// first page is printed, nothing of the second (not its workflows read
/// before the fault), one error line naming the page.
#[test]
fn a_malformed_later_page_prints_nothing_of_itself() {
    let first = r#"{"items":[{"id":"a1","status":"succeeded"}],"next":"c2"}"#;
    let pages = [
        r#"{"items":[{"id":"b2","status":"succeeded"},5],"next":null}"#,
        r#"{"items":[{"id":"b2","status":"succeeded"}],"next":null} x"#,
        r#"{"items":[{"id":"b2","status":"succeeded"}],"next":null"#,
        r#"{"items":[{"id":"b2","status":"succeeded"}],"next":7}"#,
        r#"[{"id":"b2","status":"succeeded"}]"#,
        r#"{"items":[{"id":"b2","status":"succeeded","x":"\x"}]}"#,
    ];
    for body in pages {
        for args in EVERY_FORM {
            let args = [args, &["--all"]].concat();
            let fake = Fake::start();
            fake.script(
                "/v2/consumer/workflows",
                vec![Reply::json(200, first), Reply::json(200, body)],
            );
            let run = cli(&fake, &args);
            run.code(1).stderr_has("a page of workflows");
            assert_eq!(run.stderr.lines().count(), 1, "{body} {args:?}: {run:?}");
            assert!(run.stdout.contains("a1"), "{body} {args:?}: {run:?}");
            assert!(!run.stdout.contains("b2"), "{body} {args:?}: {run:?}");
        }
    }
}

/// Deep nesting at every place the text listing reads (and the page
/// parts it checks) is skipped or refused, never a stack overflow: the
/// run ends with the workflow printed or with one error line.
#[test]
fn deep_nesting_anywhere_in_a_listed_page_never_overflows() {
    let n = 100_000;
    let arrays = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
    for deep in [&arrays, &objects] {
        let places = [
            format!(r#"{{"items":[{{"id":"a1","tags":{deep}}}]}}"#),
            format!(r#"{{"items":[{{"id":"a1","tags":[{deep}]}}]}}"#),
            format!(r#"{{"items":[{{"id":"a1","status":{deep}}}]}}"#),
            format!(r#"{{"items":[{{"id":"a1","steps":[{{"name":{deep}}}]}}]}}"#),
            format!(r#"{{"items":[{{"id":"a1","steps":[{{"input":{deep}}}]}}]}}"#),
            format!(r#"{{"items":[{{"id":"a1","steps":[{{"input":{{"prompt":{deep}}}}}]}}]}}"#),
            format!(r#"{{"items":[{{"id":"a1","steps":[{{"input":{{"x":{deep}}}}}]}}]}}"#),
            format!(r#"{{"items":[{{"id":"a1"}}],"x":{deep}}}"#),
            format!(r#"{{"items":[{{"id":"a1"}}],"next":{deep},"next":null}}"#),
            format!(r#"{{"items":{deep},"items":[{{"id":"a1"}}]}}"#),
        ];
        for body in &places {
            for args in [&["workflows"][..], &["--jsonl", "workflows"][..]] {
                let fake = Fake::start();
                fake.script("/v2/consumer/workflows", vec![Reply::json(200, body)]);
                let run = cli(&fake, args);
                let short = &body[..60.min(body.len())];
                if run.code == 0 {
                    assert!(run.stdout.contains("a1"), "{short} {args:?}: {run:?}");
                } else {
                    run.code(1).stderr_has("a page of workflows");
                    assert_eq!(run.stderr.lines().count(), 1, "{short} {args:?}");
                }
            }
        }
    }
}
