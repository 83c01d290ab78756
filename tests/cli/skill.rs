//! SKILL.md teaches agents to use the binary, so it must stay true: every
//! shell line in its fenced blocks that runs `civitai-orch` is run here, as
//! written, against the fake orchestrator, and must exit with the code the
//! file gives it (a trailing `# exit code N`; 0 when none).
//!
//! Lines run under `bash -o pipefail`, so a `jq` filter that fails also
//! fails the example. Without `jq` on the machine, the part of a line before
//! its first `| jq` still runs, and the note says so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{temp_dir, Fake, BIN, TOKEN};

fn skill() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("SKILL.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One runnable line of SKILL.md.
#[derive(Debug)]
struct Example {
    /// 1-based line in SKILL.md, for the failure message.
    line: usize,
    text: String,
    code: i32,
}

/// `NAME=value` as a shell word before a command.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// The lines of ```sh and ```bash blocks whose command, after any
/// assignments, is `civitai-orch` (a trailing `\` joins the next line).
fn examples(md: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut in_shell = false;
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in md.lines().enumerate() {
        let trimmed = raw.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_shell = !in_shell && matches!(info.trim(), "sh" | "bash" | "shell");
            continue;
        }
        if !in_shell {
            continue;
        }
        let (start, mut text) = match pending.take() {
            Some((start, mut text)) => {
                text.push(' ');
                text.push_str(trimmed);
                (start, text)
            }
            None => (i + 1, trimmed.to_string()),
        };
        if let Some(head) = text.strip_suffix('\\') {
            text = head.trim_end().to_string();
            pending = Some((start, text));
            continue;
        }
        let first = text.split_whitespace().find(|w| !is_assignment(w));
        if first == Some("civitai-orch") {
            out.push(Example {
                line: start,
                code: expected_code(&text),
                text,
            });
        }
    }
    out
}

fn expected_code(text: &str) -> i32 {
    text.split_once("# exit code ").map_or(0, |(_, rest)| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().expect("a number after '# exit code'")
    })
}

fn have_jq() -> bool {
    Command::new("jq")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A folder holding `civitai-orch`, to put first on PATH.
fn bin_dir() -> PathBuf {
    let dir = temp_dir("skill-bin");
    std::os::unix::fs::symlink(BIN, dir.join("civitai-orch")).unwrap();
    dir
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(example: &str, fake: &Fake, bin: &Path) -> Outcome {
    // Each line gets a fresh folder, so downloads never meet an earlier file.
    let cwd = temp_dir("skill-cwd");
    let out = Command::new("bash")
        .arg("-o")
        .arg("pipefail")
        .arg("-c")
        .arg(example)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
        )
        .env("HOME", &cwd)
        .env("CIVITAI_API_URL", &fake.url)
        .env("CIVITAI_API_TOKEN", TOKEN)
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run bash");
    let _ = std::fs::remove_dir_all(&cwd);
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(2000) {
        Some((i, _)) => format!("{}\n[... {} more bytes]", &s[..i], s.len() - i),
        None => s.to_string(),
    }
}

#[test]
fn every_example_in_skill_md_exits_as_documented() {
    let md = skill();
    let all = examples(&md);
    assert!(
        all.len() >= 30,
        "only {} examples found in SKILL.md",
        all.len()
    );
    let jq = have_jq();
    if !jq {
        eprintln!("note: no jq here: examples run up to their first `| jq`");
    }
    let fake = Fake::start();
    let bin = bin_dir();
    let mut failures = Vec::new();
    for ex in &all {
        let text = match ex.text.find("| jq") {
            Some(at) if !jq => ex.text[..at].trim_end().to_string(),
            _ => ex.text.clone(),
        };
        let got = run(&text, &fake, &bin);
        let mut problems = Vec::new();
        if got.code != ex.code {
            problems.push(format!("exit code {}, SKILL.md says {}", got.code, ex.code));
        }
        if ex.code == 0 && got.stdout.trim().is_empty() {
            problems.push("printed nothing".to_string());
        }
        if ex.code == 0 && text.contains("| jq") && got.stdout.lines().any(|l| l == "null") {
            problems.push("a jq filter gave null".to_string());
        }
        if ex.code != 0 && !text.contains("2>") && !got.stderr.contains("error") {
            problems.push("failed without an error message".to_string());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "SKILL.md line {}: {}\n$ {text}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                ex.line,
                problems.join("; "),
                cut(&got.stdout),
                cut(&got.stderr)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&bin);
    assert!(
        failures.is_empty(),
        "{} of {} SKILL.md examples are wrong:\n\n{}",
        failures.len(),
        all.len(),
        failures.join("\n\n")
    );
}

#[test]
fn skill_md_has_the_front_matter_of_a_skill() {
    let md = skill();
    let rest = md.strip_prefix("---\n").expect("front matter first");
    let (front, _) = rest.split_once("\n---\n").expect("front matter closed");
    let field = |key: &str| {
        front
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(str::trim)
            .unwrap_or_else(|| panic!("front matter lacks {key}"))
    };
    assert_eq!(field("name"), "civitai-orchestration");
    assert!(field("description").len() > 40);
    assert!(field("allowed-tools").contains("civitai-orch"));
}

/// The commands `civitai-orch --help` lists, each with an example.
#[test]
fn skill_md_shows_every_command_and_exit_code() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let commands: Vec<&str> = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands: section in --help")
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(commands.contains(&"workflows"), "{help}");
    let md = skill();
    let all = examples(&md);
    for c in &commands {
        // Any `civitai-orch` of the line counts (`a && civitai-orch upload F`).
        let shown = all.iter().any(|ex| {
            let words: Vec<&str> = ex.text.split_whitespace().collect();
            words.iter().enumerate().any(|(i, w)| {
                *w == "civitai-orch"
                    && words[i + 1..].iter().find(|w| !w.starts_with('-')) == Some(c)
            })
        });
        assert!(shown, "SKILL.md has no example of `{c}`");
    }
    for code in 0..=8 {
        assert!(
            md.contains(&format!("\n| {code} |")),
            "SKILL.md's exit-code table lacks {code}"
        );
    }
}

#[test]
fn examples_are_found_as_written() {
    let md = "text\n```sh\ncivitai-orch test\n# a comment\nexport X=1\n\
              A_B= civitai-orch workflow x  # exit code 3\n\
              civitai-orch workflows \\\n  --take=2 | jq .\n```\n\
              ```text\ncivitai-orch not-run\n```\n";
    let got: Vec<(usize, String, i32)> = examples(md)
        .into_iter()
        .map(|e| (e.line, e.text, e.code))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, "civitai-orch test".to_string(), 0),
            (
                6,
                "A_B= civitai-orch workflow x  # exit code 3".to_string(),
                3
            ),
            (7, "civitai-orch workflows --take=2 | jq .".to_string(), 0),
        ]
    );
}
