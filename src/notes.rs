//! Everything that goes to stderr besides errors: retry notes, warnings and
//! download progress. `-q` silences all of it; secrets are hidden in all of it.

use std::io::{IsTerminal, Write};

#[derive(Clone, Copy, Debug)]
pub struct Notes {
    quiet: bool,
    tty: bool,
}

impl Notes {
    pub fn new(quiet: bool) -> Notes {
        Notes {
            quiet,
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// One whole line on stderr (the lock keeps parallel lines apart).
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            let mut err = std::io::stderr().lock();
            // Nothing sensible is left to do when stderr itself is gone.
            let _ = writeln!(err, "{}", crate::text::mask(msg));
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
