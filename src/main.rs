//! civitai-orch's entry point: parse, run, print one error, exit with its
//! code. The layering rule and the modules are described in `lib.rs`.

use std::io::Write;
use std::process::ExitCode;

use civitai_orch::cli::{self, help, Action, Mode};
use civitai_orch::error::{Error, Kind};
use civitai_orch::{cmd, config, notes, output};

fn main() -> ExitCode {
    let mut mode = early_mode();
    let result = match cli::parse(std::env::args_os()) {
        Ok(Action::Help(topic)) => print_help(topic.as_deref()),
        Ok(Action::Version) => {
            print_stdout(&format!("civitai-orch {}\n", env!("CARGO_PKG_VERSION")))
        }
        Ok(Action::Run(globals, command)) => {
            mode = globals.mode;
            config::resolve(&globals.flags).and_then(|cfg| {
                let notes = notes::Notes::new(globals.quiet).verbose(globals.verbose);
                cmd::run(globals, command, &cfg, notes)
            })
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind == Kind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            output::report(&e, mode);
            ExitCode::from(e.exit_code())
        }
    }
}

/// `--json`/`--jsonl` anywhere on the line asks for JSON errors, even when
/// the line fails to parse.
fn early_mode() -> Mode {
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json" || a == "--jsonl");
    if json {
        Mode::Json
    } else {
        Mode::Text
    }
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
