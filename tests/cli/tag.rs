//! `civitai-orch tag`: tags added, removed and cleared (in that order:
//! clear, remove, add), percent-encoded in the path, the tags printed after
//! the change; more than the API keeps is refused before any change; a tag
//! POST is not repeated after a 503.

use serde_json::json;

use crate::support::{cli, Fake, Reply};
use crate::{no_token_in, workflow_path, W1};

const MISSING: &str = "0-019be4ff-0000-7000-8000-00000000dead";

/// `METHOD raw-path` of each API request, in order.
fn sent(fake: &Fake) -> Vec<String> {
    fake.api_requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.raw_path))
        .collect()
}

fn tags_path(id: &str) -> String {
    format!("{}/tags", workflow_path(id))
}

#[test]
fn tags_are_added_and_removed_percent_encoded_and_printed_after() {
    let fake = Fake::start();
    // W1 has user:12345 and type:image.
    let run = cli(&fake, &["tag", W1, "--add=a/b c", "--add", "project:x"]);
    run.ok();
    assert_eq!(run.stdout, "user:12345\ntype:image\na/b c\nproject:x\n");
    no_token_in(&run, 8);
    let posts: Vec<_> = fake
        .api_requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].raw_path, tags_path(W1));
    // A bare JSON string.
    assert_eq!(posts[0].body, b"\"a/b c\"");
    assert_eq!(posts[0].header("content-type"), Some("application/json"));
    assert_eq!(posts[1].body, b"\"project:x\"");

    let v = cli(&fake, &["--json", "tag", W1, "--remove=a/b c"])
        .ok()
        .json();
    assert_eq!(
        v,
        json!({"id": W1, "tags": ["user:12345", "type:image", "project:x"]})
    );
    let last = sent(&fake);
    assert_eq!(
        last[last.len() - 2..],
        [
            format!("DELETE {}/a%2Fb%20c", tags_path(W1)),
            format!("GET {}", workflow_path(W1)),
        ]
    );
}

#[test]
fn clear_goes_first_then_remove_then_add() {
    let fake = Fake::start();
    let run = cli(
        &fake,
        &[
            "tag",
            W1,
            "--add=z",
            "--remove=user:12345",
            "--clear",
            "--add=z",
        ],
    );
    run.ok();
    assert_eq!(run.stdout, "z\n");
    assert_eq!(
        sent(&fake),
        [
            format!("DELETE {}", tags_path(W1)),
            format!("DELETE {}/user%3A12345", tags_path(W1)),
            // A tag given twice goes out once.
            format!("POST {}", tags_path(W1)),
            format!("GET {}", workflow_path(W1)),
        ]
    );

    // --remove then --add of one tag leaves it on.
    let v = cli(&fake, &["--json", "tag", W1, "--add=y", "--remove=y"])
        .ok()
        .json();
    assert_eq!(v["tags"], json!(["z", "y"]));

    // No tags left: nothing on stdout, a note on stderr; [] in JSON.
    let run = cli(&fake, &["tag", W1, "--clear"]);
    run.ok().stderr_has("has no tags now");
    assert_eq!(run.stdout, "");
    let v = cli(&fake, &["--json", "tag", W1, "--clear"]).ok().json();
    assert_eq!(v, json!({"id": W1, "tags": []}));
}

#[test]
fn more_tags_than_the_api_keeps_are_refused_before_any_change() {
    let fake = Fake::start();
    let mut args = vec!["tag".to_string(), W1.to_string()];
    // Two there, nine more: eleven.
    args.extend((1..=9).map(|i| format!("--add=t{i}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cli(&fake, &args)
        .code(2)
        .one_error_line()
        .stderr_has("would have 11 tags")
        .stderr_has("nothing changed");
    assert_eq!(sent(&fake), [format!("GET {}", workflow_path(W1))]);

    // Removing one on the way makes room.
    let mut more = args.clone();
    more.push("--remove=type:image");
    let run = cli(&fake, &more);
    run.ok();
    assert_eq!(run.stdout.lines().count(), 10, "{run:?}");

    // After --clear only the ones added count, and nothing needs reading.
    let fake = Fake::start();
    let mut args = vec!["tag".to_string(), W1.to_string(), "--clear".into()];
    args.extend((1..=11).map(|i| format!("--add=t{i}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cli(&fake, &args)
        .code(2)
        .stderr_has("would have 11 tags after --clear");
    assert!(fake.api_requests().is_empty());
}

#[test]
fn a_missing_workflow_fails_with_exit_4() {
    let fake = Fake::start();
    cli(&fake, &["tag", MISSING, "--add=x"])
        .code(4)
        .one_error_line()
        .stderr_has(&format!("no workflow '{MISSING}'"));
    // Found missing by the read before: nothing was posted.
    assert_eq!(sent(&fake), [format!("GET {}", workflow_path(MISSING))]);
    cli(&fake, &["tag", MISSING, "--remove=x"])
        .code(4)
        .stderr_has("--remove='x': 404 Not Found");
}

#[test]
fn a_tag_post_is_not_repeated_after_a_gateway_error() {
    let fake = Fake::start();
    fake.script(
        &tags_path(W1),
        vec![
            Reply::problem(503, "Service Unavailable", "busy").header("Retry-After", "0"),
            Reply::json(204, ""),
        ],
    );
    let run = cli(&fake, &["tag", W1, "--add=x"]);
    run.code(5)
        .one_error_line()
        .stderr_has("--add='x': 503 Service Unavailable");
    assert_eq!(run.stdout, "");
    let posts = fake
        .api_requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "a tag POST was sent twice:{run:?}");
    assert_eq!(
        fake.workflow(W1)["tags"],
        json!(["user:12345", "type:image"])
    );
}

#[test]
fn a_failure_part_way_names_the_changes_made_before_it() {
    let fake = Fake::start();
    fake.script(
        &tags_path(W1),
        vec![Reply::problem(
            400,
            "Bad Request",
            "A workflow has at most 10 tags.",
        )],
    );
    // The DELETE of type:image has a path of its own: it goes through.
    let run = cli(&fake, &["tag", W1, "--remove=type:image", "--add=x"]);
    run.code(2)
        .one_error_line()
        .stderr_has("--add='x': 400 Bad Request")
        .stderr_has("at most 10 tags")
        .stderr_has("done before it: --remove='type:image'");
    assert_eq!(fake.workflow(W1)["tags"], json!(["user:12345"]));
}

#[test]
fn bad_input_is_refused_before_sending() {
    let fake = Fake::start();
    cli(&fake, &["tag", W1])
        .code(2)
        .stderr_has("say what to change");
    cli(&fake, &["tag", W1, "--add="])
        .code(2)
        .stderr_has("a tag is 1 to 200");
    let long = format!("--add={}", "x".repeat(201));
    cli(&fake, &["tag", W1, &long]).code(2);
    cli(&fake, &["tag", "--add=x"]).code(2);
    cli(&fake, &["tag", W1, "other", "--add=x"]).code(2);
    assert!(fake.api_requests().is_empty());
}

// Written to break it: a careless user, a hostile server.

#[test]
fn a_blank_tag_and_a_dash_for_the_id_are_named_for_what_they_are() {
    let fake = Fake::start();
    cli(&fake, &["tag", W1, "--add=  "])
        .code(2)
        .one_error_line()
        .stderr_has("error: a tag cannot be only blanks");
    cli(&fake, &["tag", "-", "--add=x"])
        .code(2)
        .one_error_line()
        .stderr_has("give its id, not '-' (stdin)");
    assert!(fake.api_requests().is_empty(), "{:?}", sent(&fake));
}

#[test]
fn a_tag_post_whose_connection_dropped_is_not_sent_again_but_a_429_is() {
    let fake = Fake::start();
    fake.script(&tags_path(W1), vec![Reply::Close, Reply::json(204, "")]);
    let run = cli(&fake, &["tag", W1, "--add=x"]);
    run.code(5)
        .one_error_line()
        .stderr_has("--add='x': the connection to ");
    let posts = |fake: &Fake| {
        fake.api_requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count()
    };
    assert_eq!(posts(&fake), 1, "a tag POST was sent twice:{run:?}");
    // A 429 refused it unread: sent again after its Retry-After.
    let fake = Fake::start();
    fake.script(
        &tags_path(W1),
        vec![Reply::json(429, "{}").header("Retry-After", "0")],
    );
    let run = cli(&fake, &["tag", W1, "--add=x"]);
    run.ok().stdout_has("x\n").stderr_has("rate limited (429)");
    assert_eq!(posts(&fake), 2);
}

#[test]
fn two_runs_adding_different_tags_at_once_keep_both() {
    let fake = Fake::start();
    fake.set_api_delay(std::time::Duration::from_millis(50));
    let runs: Vec<_> = ["one", "two", "three"]
        .iter()
        .map(|t| {
            let url = fake.url.clone();
            let add = format!("--add={t}");
            std::thread::spawn(move || {
                crate::support::Cli::new(None, &["tag", W1, &add])
                    .env("CIVITAI_API_URL", &url)
                    .env("CIVITAI_API_TOKEN", crate::support::TOKEN)
                    .run()
            })
        })
        .collect();
    for r in runs {
        r.join().unwrap().ok();
    }
    let tags = fake.workflow(W1)["tags"].clone();
    for t in ["user:12345", "type:image", "one", "two", "three"] {
        assert!(tags.as_array().unwrap().iter().any(|x| x == t), "{tags}");
    }
}
