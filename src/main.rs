//! civitai-orch: a command-line client for the Civitai Orchestration API.
//!
//! The flow reads top to bottom: `cli` turns argv into an action, `config`
//! resolves the environment, `cmd` runs the command through `client`, and
//! any error comes back here to be printed once with its exit code.

mod api;
mod cli;
mod client;
mod cmd;
mod completions;
mod config;
mod dates;
mod download;
mod error;
mod help;
mod jsontext;
mod notes;
mod render;
mod retry;
mod transfer;

use std::io::Write;
use std::process::ExitCode;

use cli::Action;
use error::{Error, Kind};

fn main() -> ExitCode {
    let json_errors = wants_json_errors();
    let (result, token) = match cli::parse(std::env::args_os()) {
        Ok(Action::Help(topic)) => (print_help(topic.as_deref()), None),
        Ok(Action::Version) => (
            print_stdout(&format!("civitai-orch {}\n", env!("CARGO_PKG_VERSION"))),
            None,
        ),
        Ok(Action::Run(globals, command)) => match config::resolve(&globals) {
            Ok(cfg) => {
                let notes = notes::Notes::new(globals.quiet);
                let token = cfg.token.clone();
                (cmd::run(globals, command, &cfg, notes), token)
            }
            Err(e) => (Err(e), None),
        },
        Err(e) => (Err(e), None),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind == Kind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            report(&e, json_errors, token.as_deref());
            ExitCode::from(e.exit_code())
        }
    }
}

/// `--json`/`--jsonl` anywhere on the line asks for JSON errors, even when
/// the line fails to parse.
fn wants_json_errors() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json" || a == "--jsonl")
}

fn print_help(topic: Option<&str>) -> Result<(), Error> {
    let text = match topic.and_then(help::find) {
        Some(spec) => help::command_help(spec),
        None => help::overview(),
    };
    print_stdout(&text)
}

fn print_stdout(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(Error::from_stdout)
}

/// The one place an error is printed: `error: ...` (and the usage line for
/// usage errors), or one JSON line. The token is never part of it, even if
/// a server echoed it back.
fn report(e: &Error, json: bool, token: Option<&str>) {
    let message = match token {
        Some(t) if !t.is_empty() => e.message.replace(t, "[token]"),
        _ => e.message.clone(),
    };
    let mut err = std::io::stderr().lock();
    // If stderr is gone there is nowhere left to say so.
    let _ = if json {
        let doc = serde_json::json!({"error": {"kind": e.kind_name(), "status": e.status, "message": message}});
        writeln!(err, "{doc}")
    } else if let Some(usage) = e.usage {
        writeln!(err, "error: {message}\nusage: {usage}")
    } else {
        writeln!(err, "error: {message}")
    };
}
