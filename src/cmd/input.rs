//! The ids a command works on: its arguments, where `-` stands for stdin,
//! read one line at a time as it arrives (so that `workflows --all --jsonl |
//! results -` works while the walk goes on).
//!
//! A line is a bare id, a JSON string (`jq .id` without `-r`), or a JSON
//! object (a line of `--jsonl`) whose id is taken from the first of the
//! command's keys it holds. Byte order marks and CRLF endings are ignored,
//! blank lines skipped; a line that holds no id is an error of its own,
//! with its number, and the other lines still count.

use std::io::{BufRead, Read};
use std::sync::mpsc::{sync_channel, Receiver};

use serde_json::Value;

use crate::error::{Error, Result};

/// One id to work on.
#[derive(Debug)]
pub struct Item {
    pub id: String,
    /// The whole line, when it was a JSON object.
    pub object: Option<Value>,
}

/// Lines read ahead of the work at most: reading stops while they wait.
const READ_AHEAD: usize = 64;

/// A longer line is no id nor workflow (the API refuses larger bodies
/// itself): it is not held whole, but skipped to its end and reported.
pub const MAX_LINE: usize = 16 << 20;

/// The items of `args` in order, `-` expanded to the lines of stdin. The
/// reading runs on a thread of its own that is never waited for, so a
/// command that stops early is not held up by a stdin that stays open.
pub fn items(args: &[String], keys: &'static [&'static str]) -> Receiver<Result<Item>> {
    let (tx, rx) = sync_channel(READ_AHEAD);
    let args = args.to_vec();
    std::thread::spawn(move || {
        for arg in args {
            let item = Item {
                id: arg,
                object: None,
            };
            if item.id != "-" {
                if tx.send(Ok(item)).is_err() {
                    return;
                }
                continue;
            }
            let mut stdin = std::io::stdin().lock();
            let mut buf = Vec::new();
            for n in 1.. {
                buf.clear();
                let line = match read_line(&mut stdin, &mut buf) {
                    Ok(None) => break,
                    Ok(Some(true)) => item_of_line(&buf, keys)
                        .map_err(|why| Error::usage(format!("stdin line {n}: {why}"))),
                    Ok(Some(false)) => Err(Error::usage(format!(
                        "stdin line {n}: longer than {} MiB; not an id",
                        MAX_LINE >> 20
                    ))),
                    Err(e) => Err(Error::other(format!("cannot read stdin: {e}"))),
                };
                let stop = matches!(&line, Err(e) if e.kind != crate::error::Kind::Usage);
                let sent = match line {
                    Ok(None) => continue,
                    Ok(Some(item)) => tx.send(Ok(item)),
                    Err(e) => tx.send(Err(e)),
                };
                if sent.is_err() || stop {
                    return;
                }
            }
        }
    });
    rx
}

/// Reads one line into `buf`, at most [`MAX_LINE`] bytes of it: `None` at
/// the end of the input, `Some(false)` for a longer line (the rest of it is
/// read and dropped).
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    let n = Read::take(&mut *r, MAX_LINE as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() <= MAX_LINE || buf.ends_with(b"\n") {
        return Ok(Some(true));
    }
    buf.clear();
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                break;
            }
            None => {
                let all = chunk.len();
                r.consume(all);
            }
        }
    }
    Ok(Some(false))
}

/// The item a line of stdin holds; `None` for a blank line. A byte order
/// mark is dropped from any line, not only the first: files joined with
/// `cat` bring theirs along, and an id behind an invisible mark would be
/// reported missing under a name that reads right.
pub fn item_of_line(raw: &[u8], keys: &[&str]) -> std::result::Result<Option<Item>, String> {
    let raw = raw.strip_prefix("\u{feff}".as_bytes()).unwrap_or(raw);
    let line = std::str::from_utf8(raw)
        .map_err(|_| "not valid UTF-8".to_string())?
        .trim();
    if line.is_empty() {
        return Ok(None);
    }
    let bare = |id: String| Item { id, object: None };
    if !line.starts_with(['{', '"']) {
        return Ok(Some(bare(line.to_string())));
    }
    if line.starts_with('"') {
        return match serde_json::from_str::<String>(line) {
            Ok(id) if !id.trim().is_empty() => Ok(Some(bare(id))),
            _ => Err("not a JSON string".to_string()),
        };
    }
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not a JSON object ({e})"))?;
    let id = keys
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .filter(|id| !id.trim().is_empty())
        .map(str::to_string);
    match id {
        Some(id) => Ok(Some(Item {
            id,
            object: Some(v),
        })),
        None => Err(format!(
            "a JSON line without {}",
            keys.iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(" or ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(line: &str, keys: &[&str]) -> std::result::Result<Option<String>, String> {
        item_of_line(line.as_bytes(), keys).map(|i| i.map(|i| i.id))
    }

    #[test]
    fn lines_hold_ids_in_three_forms() {
        let k = &["id"];
        assert_eq!(id("\u{feff}abc\r\n", k), Ok(Some("abc".into())));
        assert_eq!(id("  \n", k), Ok(None));
        assert_eq!(id("\"abc\"", k), Ok(Some("abc".into())));
        assert_eq!(id("{\"id\":\"w\",\"x\":1}", k), Ok(Some("w".into())));
        assert!(id("{\"x\":1}", k).is_err());
        assert!(id("\"\"", k).is_err());
        assert!(id("{broken", k).is_err());
        assert!(item_of_line(b"\xff\n", k).is_err());
        assert_eq!(id("\u{feff}\"abc\"\r\n", k), Ok(Some("abc".into())));
    }

    #[test]
    fn a_line_longer_than_the_limit_is_dropped_to_its_end() {
        let mut data = vec![b'x'; MAX_LINE + 5];
        data.extend_from_slice(b"\nnext\n");
        data.extend_from_slice(&vec![b'y'; MAX_LINE]);
        data.push(b'\n');
        let mut r = std::io::Cursor::new(data);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf).unwrap(), Some(false));
        buf.clear();
        assert_eq!(read_line(&mut r, &mut buf).unwrap(), Some(true));
        assert_eq!(buf, b"next\n");
        buf.clear();
        // Exactly the limit, with its line end: a line.
        assert_eq!(read_line(&mut r, &mut buf).unwrap(), Some(true));
        buf.clear();
        assert_eq!(read_line(&mut r, &mut buf).unwrap(), None);
    }

    #[test]
    fn the_first_key_present_wins() {
        let k = &["jobId", "id"];
        assert_eq!(
            id("{\"id\":\"w\",\"jobId\":\"j\"}", k),
            Ok(Some("j".into()))
        );
        assert_eq!(id("{\"id\":\"w\"}", k), Ok(Some("w".into())));
    }
}
