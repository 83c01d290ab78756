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

/// Buffered stdout, secrets hidden; flushed by the commands that stream.
pub type Out<'a> = BufWriter<Masked<StdoutLock<'a>>>;

/// Stdout with a buffer large enough that long listings go out in few writes.
pub fn stdout() -> Out<'static> {
    BufWriter::with_capacity(64 * 1024, Masked::new(io::stdout().lock()))
}

/// A writer that hides the run's secret (see `text::secret_forms`)
/// wherever a server put it in what is printed (an id, a prompt, a scan
/// context, a `--fields` cell), in every output mode: the one place all of
/// stdout passes. The end of each write that may begin the secret is held
/// until the next write or a flush.
pub struct Masked<W: Write> {
    inner: W,
    held: Vec<u8>,
    /// What goes out, reused from write to write (a long walk writes
    /// tens of megabytes through here).
    shown: Vec<u8>,
    /// Known at the first write (the token is registered before).
    secrets: Option<Vec<String>>,
    raw: bool,
}

impl<W: Write> Masked<W> {
    pub fn new(inner: W) -> Masked<W> {
        Masked {
            inner,
            held: Vec::new(),
            shown: Vec::new(),
            secrets: None,
            raw: false,
        }
    }

    /// From now on bytes pass untouched: a file written to stdout is the
    /// file, byte for byte.
    pub fn raw(&mut self) {
        self.raw = true;
    }

    /// Writes out `bytes` (new ones, or the held ones) with the secret
    /// hidden; returns how many were used (the rest may begin the secret).
    fn pass(&mut self, bytes: &[u8], last: bool) -> io::Result<usize> {
        let secrets = self.secrets.get_or_insert_with(crate::text::secret_forms);
        if secrets.is_empty() {
            self.inner.write_all(bytes)?;
            return Ok(bytes.len());
        }
        self.shown.clear();
        let used = crate::text::hide_in(bytes, secrets, last, &mut self.shown);
        self.inner.write_all(&self.shown)?;
        Ok(used)
    }

    fn pass_held(&mut self, last: bool) -> io::Result<()> {
        let held = std::mem::take(&mut self.held);
        let used = self.pass(&held, last)?;
        self.held = held;
        self.held.drain(..used);
        Ok(())
    }
}

impl<W: Write> Write for Masked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.raw && self.held.is_empty() {
            return self.inner.write(buf);
        }
        if self.held.is_empty() {
            // Straight from the caller's buffer; only a possible start of
            // the secret at its end is kept for the next write.
            let used = self.pass(buf, false)?;
            self.held.extend_from_slice(&buf[used..]);
        } else {
            self.held.extend_from_slice(buf);
            self.pass_held(false)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.pass_held(true)?;
        self.inner.flush()
    }
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
