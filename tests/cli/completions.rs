//! The completion scripts, checked by the shells themselves: each parses,
//! and bash, driven as it would be at a prompt, offers every command and
//! every option that `civitai-orch help COMMAND` documents.

use std::process::{Command, Stdio};

use crate::support::BIN;

fn script(shell: &str) -> String {
    let out = Command::new(BIN)
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(out.status.success(), "completions {shell} failed: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("civitai-orch"), "{text}");
    text
}

fn have(shell: &str) -> bool {
    Command::new(shell)
        .arg("-c")
        .arg("true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `shell -n` on the script: it parses.
fn parses(shell: &str) {
    if !have(shell) {
        eprintln!("note: no {shell} here; its completion script is not parsed");
        script(shell);
        return;
    }
    let path = std::env::temp_dir().join(format!(
        "civitai-orch-test-{}-completion.{shell}",
        std::process::id()
    ));
    std::fs::write(&path, script(shell)).unwrap();
    let out = Command::new(shell).arg("-n").arg(&path).output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{shell} -n rejects the script: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_script_parses() {
    for shell in ["bash", "zsh", "fish"] {
        parses(shell);
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// What bash offers after `words` (the last one is being typed).
fn bash_complete(words: &[&str]) -> Vec<String> {
    let program = format!(
        "eval \"$({BIN} completions bash)\"\n\
         f=$(complete -p civitai-orch | awk '{{print $3}}')\n\
         COMP_WORDS=({})\n\
         COMP_CWORD={}\n\
         \"$f\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        words.len() - 1
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&program)
        .output()
        .unwrap();
    assert!(out.status.success(), "{program}\n{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The commands of `civitai-orch --help`.
fn commands() -> Vec<String> {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    help.split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The long options in a command's usage line: `[--tag=T]` gives `--tag`.
fn usage_options(command: &str) -> Vec<String> {
    let out = Command::new(BIN).args(["help", command]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let usage = help
        .lines()
        .find_map(|l| l.strip_prefix("Usage: "))
        .unwrap_or_else(|| panic!("no usage line in help {command}:\n{help}"));
    usage
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_offers_every_command() {
    let commands = commands();
    assert!(commands.len() >= 8, "{commands:?}");
    let offered = bash_complete(&["civitai-orch", ""]);
    for c in &commands {
        assert!(offered.contains(c), "bash does not offer {c}: {offered:?}");
    }
    assert_eq!(
        bash_complete(&["civitai-orch", "wor"]),
        vec!["workflows", "workflow"]
    );
    assert_eq!(
        bash_complete(&["civitai-orch", "completions", ""]),
        vec!["bash", "zsh", "fish"]
    );
}

#[test]
fn bash_offers_every_option_that_help_documents() {
    for c in commands() {
        if c == "help" || c == "completions" {
            continue;
        }
        let offered = bash_complete(&["civitai-orch", &c, "--"]);
        for opt in usage_options(&c) {
            assert!(
                offered
                    .iter()
                    .any(|o| o.trim_end_matches('=') == opt.as_str()),
                "bash does not offer {opt} after `civitai-orch {c}`: {offered:?}"
            );
        }
        for global in ["--json", "--jsonl", "--quiet", "--api-url="] {
            assert!(
                offered.iter().any(|o| o == global),
                "bash does not offer {global} after `{c}`"
            );
        }
    }
}

#[test]
fn bash_completes_an_option_after_global_options() {
    let offered = bash_complete(&["civitai-orch", "--json", "workflows", "--ta"]);
    assert!(offered.contains(&"--take=".to_string()), "{offered:?}");
    assert!(offered.contains(&"--tag=".to_string()), "{offered:?}");
}
