//! How results reach the reader: the output [`Mode`] chosen once by `cli`,
//! a large buffered stdout, API documents re-spaced for each mode, the text
//! renderers, and the one way errors are written to stderr.

pub mod json;
pub mod objects;
pub mod render;
pub mod scan;
pub mod stats;
pub mod summary;

use std::io::{self, BufWriter, StdoutLock, Write};

pub use crate::cli::Mode;
use crate::error::{Error, Result};

/// Buffered stdout; flushed by the commands that stream.
pub type Out<'a> = BufWriter<StdoutLock<'a>>;

/// Stdout with a buffer large enough that long listings go out in few writes.
pub fn stdout() -> Out<'static> {
    BufWriter::with_capacity(64 * 1024, io::stdout().lock())
}

/// Maps a failed write to stdout (a closed pipe ends quietly).
pub trait OutExt<T> {
    fn out(self) -> Result<T>;
}

impl<T> OutExt<T> for io::Result<T> {
    fn out(self) -> Result<T> {
        self.map_err(Error::from_stdout)
    }
}

/// Prints an API document: on one line for `--json` and `--jsonl`,
/// indented for people.
pub fn print_document(mode: Mode, out: &mut impl Write, body: &str) -> Result<()> {
    let text = if mode.is_json() {
        json::minify(body)
    } else {
        json::pretty(body)
    };
    writeln!(out, "{text}").out()
}

/// Writes an error to stderr in the run's mode, secrets hidden: the only
/// place errors are printed, whether they end the run or one item of it.
pub fn report(e: &Error, mode: Mode) {
    let line = e.render(mode.is_json());
    let mut err = io::stderr().lock();
    // If stderr is gone there is nowhere left to say so.
    let _ = writeln!(err, "{line}");
}
