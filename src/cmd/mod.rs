//! One module per command. Each `run` takes the resolved [`Ctx`] and the
//! command's options, talks to the API through `http`, and writes its
//! result through `output`; errors go back to `main`.

use std::io::Write;

use crate::cli::{completions, Command, Globals, Mode};
use crate::config::Config;
use crate::error::Result;
use crate::http::Client;
use crate::notes::Notes;
use crate::output::{self, Out, OutExt};

mod api;
mod blob;
mod cancel;
mod delete;
mod input;
mod job;
mod many;
mod results;
mod scan;
mod stats;
mod step;
mod submit;
mod tag;
mod test;
mod upload;
mod user;
mod walk;
mod workflow;
mod workflows;

/// What every command needs.
pub struct Ctx {
    pub globals: Globals,
    pub client: Client,
    pub notes: Notes,
}

impl Ctx {
    pub fn mode(&self) -> Mode {
        self.globals.mode
    }

    pub fn fields(&self) -> Option<&crate::fields::Fields> {
        self.globals.fields.as_ref()
    }

    /// Prints an API document in the run's mode.
    pub fn print_document(&self, out: &mut Out, body: &str) -> Result<()> {
        output::print_document(self.mode(), out, body)
    }
}

/// `-j`: the API requests a command may have in flight at once.
fn jobs(command: &Command) -> usize {
    match command {
        Command::Workflow(o) => o.jobs,
        Command::Job(o) => o.jobs,
        Command::Step(o) => o.jobs,
        Command::Scan(o) => o.jobs,
        Command::Results(o) => o.jobs,
        Command::Cancel(o) => o.jobs,
        Command::Delete(o) => o.jobs,
        Command::Submit(o) => o.results.as_ref().map_or(usize::MAX, |r| r.jobs),
        _ => usize::MAX,
    }
}

pub fn run(globals: Globals, command: Command, config: &Config, notes: Notes) -> Result<()> {
    let mut out = output::stdout();
    if let Command::Completions(shell) = &command {
        completions::write(&mut out, shell).out()?;
        return out.flush().out();
    }
    let client = Client::new(config, notes)?.with_api_limit(jobs(&command));
    let ctx = Ctx {
        globals,
        client,
        notes,
    };
    let result = match command {
        Command::Test => test::run(&ctx, &mut out),
        Command::User(o) => user::run(&ctx, &o, &mut out),
        Command::Workflows(o) => workflows::run(&ctx, &o, &mut out),
        Command::Workflow(o) => workflow::run(&ctx, &o, &mut out),
        Command::Job(o) => job::run(&ctx, &o, &mut out),
        Command::Step(o) => step::run(&ctx, &o, &mut out),
        Command::Scan(o) => scan::run(&ctx, &o, &mut out),
        Command::Stats(o) => stats::run(&ctx, &o, &mut out),
        Command::Results(o) => results::run(&ctx, &o, &mut out),
        Command::Blob(o) => blob::run(&ctx, &o, &mut out),
        Command::Submit(o) => submit::run(&ctx, &o, &mut out),
        Command::Cancel(o) => cancel::run(&ctx, &o, &mut out),
        Command::Delete(o) => delete::run(&ctx, &o, &mut out),
        Command::Tag(o) => tag::run(&ctx, &o, &mut out),
        Command::Upload(o) => upload::run(&ctx, &o, &mut out),
        Command::Api(o) => api::run(&ctx, &o, &mut out),
        Command::Completions(_) => Ok(()),
    };
    // Whatever was printed before a failure still reaches the reader.
    let flushed = out.flush().out();
    result.and(flushed)
}
