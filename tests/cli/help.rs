//! `civitai-orch help`, `--help`, `COMMAND --help` and `--version`.

use crate::support::{cli, Cli, Fake};
use crate::{JOB, JPEG, W1};

#[test]
fn help_and_version() {
    let run = Cli::new(None, &[]).run();
    run.ok().stdout_has("Commands:").stdout_has("Exit codes:");
    Cli::new(None, &["--help"])
        .run()
        .ok()
        .stdout_has("workflows");
    Cli::new(None, &["help", "workflows"])
        .run()
        .ok()
        .stdout_has("--status=S[,S]");
    Cli::new(None, &["job", "--help"])
        .run()
        .ok()
        .stdout_has("Usage: civitai-orch job <jobId>...|- [--raw]");
    Cli::new(None, &["--version"])
        .run()
        .ok()
        .stdout_has(&format!("civitai-orch {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn every_command_prints_json_lines_or_refuses_jsonl() {
    let fake = Fake::start();
    let commands: &[&[&str]] = &[
        &["test"],
        &["workflows", "--take=2"],
        &["user", "12345", "--take=2"],
        &["workflow", W1],
        &["job", JOB],
        &["step", W1, "0"],
        &["results", W1],
        &["blob", JPEG],
    ];
    for args in commands {
        let mut line = vec!["--jsonl"];
        line.extend_from_slice(args);
        let run = cli(&fake, &line);
        run.ok();
        assert!(!run.stdout.is_empty(), "{run:?}");
        for l in run.stdout.lines() {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}{run:?}"));
            assert!(v.is_object(), "{l}{run:?}");
        }
    }
    for mode in ["--jsonl", "--json"] {
        Cli::new(None, &[mode, "completions", "bash"])
            .run()
            .code(2)
            .stderr_has("do not apply");
    }
}

#[test]
fn an_option_of_another_command_is_refused_by_name() {
    Cli::new(None, &["job", "x", "--take=5"])
        .run()
        .code(2)
        .stderr_has("'job' does not take --take")
        .stderr_has("usage: civitai-orch job");
    Cli::new(None, &["--limit=5", "workflows"])
        .run()
        .code(2)
        .stderr_has("--limit goes after the command name");
}

/// The man page comes from the same tables as `--help`: every command and
/// every option spelling is in it, and groff reads it without a warning.
#[test]
fn the_man_page_names_every_command_and_option_and_renders_cleanly() {
    use civitai_orch::cli::{help::COMMANDS, options::OPTIONS};
    let page = crate::man::page();
    for c in COMMANDS {
        assert!(
            page.contains(&format!(".SS {}\n", c.name.replace('-', "\\-"))),
            "{}",
            c.name
        );
    }
    for o in OPTIONS.iter().filter(|o| !o.hidden) {
        for long in o.longs() {
            let spelled = format!("\\-\\-{}", long.replace('-', "\\-"));
            assert!(page.contains(&spelled), "--{long} is not in the man page");
        }
    }
    let groff = std::process::Command::new("groff")
        .args(["-man", "-ww", "-z"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut groff) = groff else {
        eprintln!("note: no groff here: the man page was not rendered");
        return;
    };
    use std::io::Write;
    groff
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = groff.wait_with_output().unwrap();
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.is_empty(),
        "groff: {warnings}"
    );
}
