//! Everything that goes to stderr besides errors: retry notes, warnings,
//! download progress, and with `-v` one line per HTTP request. `-q` silences
//! all of it but the `-v` lines (asked for by name, they win over `-q`);
//! secrets are hidden in all of it.

use std::io::{IsTerminal, Write};

#[derive(Clone, Copy, Debug)]
pub struct Notes {
    quiet: bool,
    verbose: bool,
    tty: bool,
}

impl Notes {
    pub fn new(quiet: bool) -> Notes {
        Notes {
            quiet,
            verbose: false,
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// With `on`, [`request`] lines are shown (`-v`), even with `-q`.
    ///
    /// [`request`]: Notes::request
    pub fn verbose(mut self, on: bool) -> Notes {
        self.verbose = on;
        self
    }

    /// Whether `-v` asked for request lines.
    pub fn is_verbose(&self) -> bool {
        self.verbose
    }

    /// One whole line on stderr (the lock keeps parallel lines apart).
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            line(msg);
        }
    }

    /// One `-v` line about an HTTP request: shown whenever `-v` was given.
    pub fn request(&self, msg: &str) {
        if self.verbose {
            line(msg);
        }
    }

    /// A line that is part of the result, not a note: shown even with
    /// `-q` (the paging line a script needs to go on).
    pub fn always(&self, msg: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", crate::text::mask(msg));
    }

    /// Whether live status lines (progress, --wait) should be drawn.
    pub fn live(&self) -> bool {
        !self.quiet && self.tty
    }
}

/// `msg` as one line on stderr, secrets hidden, written under the lock in
/// one piece so that lines from parallel downloads never interleave.
fn line(msg: &str) {
    let text = format!("{}\n", crate::text::mask(msg));
    let mut err = std::io::stderr().lock();
    // Nothing sensible is left to do when stderr itself is gone.
    let _ = err.write_all(text.as_bytes());
}
