//! The objects of a run (workflows, steps, jobs, scan results) printed in
//! its mode, `--fields` applied:
//!
//! - `--json`: the object itself, or one array when the command was given
//!   several ids or `-` (failures are entries `{"id": ..., "error": {...}}`);
//! - `--jsonl`: one object (or failure) per line;
//! - `--fields` in text: a header line, then one tab-separated row each;
//! - text: the command's own view, a blank line between objects.
//!
//! Everything streams: the array is opened before its first element.

use std::io::{self, Write};

use serde_json::Value;

use super::json::minify;
use super::{Mode, OutExt};
use crate::error::{Error, Result};
use crate::fields::Fields;

pub struct Objects<'a> {
    mode: Mode,
    fields: Option<&'a Fields>,
    several: bool,
    printed: usize,
    /// The `--fields` header line went out.
    headed: bool,
}

/// A command's text view of one object.
pub type TextView<'v> = &'v dyn Fn(&mut dyn Write) -> io::Result<()>;

impl<'a> Objects<'a> {
    /// `several`: `--json` prints one array (several ids, or stdin).
    pub fn new(mode: Mode, fields: Option<&'a Fields>, several: bool) -> Objects<'a> {
        Objects {
            mode,
            fields,
            several,
            printed: 0,
            headed: false,
        }
    }

    /// An object as the API sent it (`body`, JSON text).
    pub fn body(&mut self, out: &mut impl Write, body: &str, text: TextView) -> Result<()> {
        match (self.fields, self.mode) {
            (None, Mode::Text) => self.text(out, text),
            (None, _) => self.json(out, &minify(body)),
            (Some(_), _) => {
                let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                self.value(out, &v, text)
            }
        }
    }

    /// An object the command built.
    pub fn value(&mut self, out: &mut impl Write, v: &Value, text: TextView) -> Result<()> {
        match (self.fields, self.mode) {
            (None, Mode::Text) => self.text(out, text),
            (None, _) => self.json(out, &v.to_string()),
            (Some(f), Mode::Text) => {
                self.header(out)?;
                self.printed += 1;
                writeln!(out, "{}", f.row(v)).out()
            }
            (Some(f), _) => self.json(out, &f.select(v).to_string()),
        }
    }

    /// An id that failed, among several: an entry of the JSON output (its
    /// message is on stderr); nothing in text.
    pub fn failure(&mut self, out: &mut impl Write, key: &str, id: &str, e: &Error) -> Result<()> {
        if self.mode == Mode::Text || !self.several {
            return Ok(());
        }
        let doc = serde_json::json!({ key: id, "error": e.to_json() });
        self.json(out, &doc.to_string())
    }

    /// Closes the array; a `--fields` table gets its header even when empty.
    pub fn finish(&mut self, out: &mut impl Write) -> Result<()> {
        match self.mode {
            Mode::Json if self.several && self.printed == 0 => writeln!(out, "[]").out(),
            Mode::Json if self.several => writeln!(out, "]").out(),
            Mode::Text if self.fields.is_some() => self.header(out),
            _ => Ok(()),
        }
    }

    fn header(&mut self, out: &mut impl Write) -> Result<()> {
        match self.fields {
            Some(f) if !self.headed => {
                self.headed = true;
                writeln!(out, "{}", f.header()).out()
            }
            _ => Ok(()),
        }
    }

    fn text(&mut self, out: &mut impl Write, text: TextView) -> Result<()> {
        if self.printed > 0 {
            writeln!(out).out()?;
        }
        self.printed += 1;
        text(out).out()
    }

    fn json(&mut self, out: &mut impl Write, compact: &str) -> Result<()> {
        let lead = match (self.mode, self.several, self.printed) {
            (Mode::Json, true, 0) => "[",
            (Mode::Json, true, _) => ",",
            _ => "",
        };
        self.printed += 1;
        if self.mode == Mode::Json && self.several {
            write!(out, "{lead}{compact}").out()
        } else {
            writeln!(out, "{compact}").out()
        }
    }
}
