//! One module per command. Each `run` takes the resolved [`Ctx`] and the
//! command's options, talks to the API through `client`, and writes its
//! result to stdout; errors go back to `main`.

use std::io::{self, BufWriter, StdoutLock, Write};

use crate::cli::{Command, Globals};
use crate::client::Client;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::notes::Notes;

mod blob;
mod job;
mod results;
mod step;
mod test;
mod user;
mod workflow;
mod workflows;

/// What every command needs.
pub struct Ctx {
    pub globals: Globals,
    pub client: Client,
    pub notes: Notes,
}

/// Buffered stdout; flushed by the commands that stream.
pub type Out<'a> = BufWriter<StdoutLock<'a>>;

/// Maps a failed write to stdout (a closed pipe ends quietly).
pub trait OutExt<T> {
    fn out(self) -> Result<T>;
}

impl<T> OutExt<T> for io::Result<T> {
    fn out(self) -> Result<T> {
        self.map_err(Error::from_stdout)
    }
}

pub fn run(globals: Globals, command: Command, config: &Config, notes: Notes) -> Result<()> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if let Command::Completions(shell) = &command {
        crate::completions::write(&mut out, shell).out()?;
        return out.flush().out();
    }
    let client = Client::new(config, notes)?;
    let ctx = Ctx {
        globals,
        client,
        notes,
    };
    let result = match command {
        Command::Test => test::run(&ctx, &mut out),
        Command::User(o) => user::run(&ctx, &o, &mut out),
        Command::Workflows(o) => workflows::run(&ctx, &o, &mut out),
        Command::Workflow { id, wait } => workflow::run(&ctx, &id, wait, &mut out),
        Command::Job { id, raw } => job::run(&ctx, &id, raw, &mut out),
        Command::Step { workflow_id, step } => step::run(&ctx, &workflow_id, &step, &mut out),
        Command::Results(o) => results::run(&ctx, &o, &mut out),
        Command::Blob(o) => blob::run(&ctx, &o, &mut out),
        Command::Completions(_) => Ok(()),
    };
    // Whatever was printed before a failure still reaches the reader.
    let flushed = out.flush().out();
    result.and(flushed)
}

/// Prints an API document: compact with `--json`, else indented.
pub fn print_document(ctx: &Ctx, out: &mut Out, body: &str) -> Result<()> {
    let text = if ctx.globals.json || ctx.globals.jsonl {
        crate::jsontext::minify(body)
    } else {
        crate::jsontext::pretty(body)
    };
    writeln!(out, "{text}").out()
}

/// Checks that a body is a JSON object before it is re-printed as such.
/// Parsing into a `Value` also bounds the nesting (serde_json stops at 128
/// levels), which keeps the re-spacing linear.
pub fn check_json(body: &str, what: &str) -> Result<()> {
    match crate::client::parse_json::<serde_json::Value>(body, what)? {
        serde_json::Value::Object(_) => Ok(()),
        _ => Err(Error::other(format!(
            "the API sent something that is not a JSON object for {what}"
        ))),
    }
}
