//! Re-spacing of JSON text that serde_json has already validated.
//!
//! `--json` prints the API's own response, and `workflow`/`step` print it
//! pretty. Working on the text instead of a parsed `Value` keeps the API's key
//! order (serde_json's map would sort it) and costs no allocation per node.

use std::io::{self, Write};

/// Tracks whether the text read so far is inside a JSON string.
#[derive(Default)]
struct Strings {
    inside: bool,
    escaped: bool,
}

impl Strings {
    /// Feeds one character; true when it belongs to a string, quotes included.
    fn feed(&mut self, c: char) -> bool {
        if self.inside {
            if self.escaped {
                self.escaped = false;
            } else if c == '\\' {
                self.escaped = true;
            } else if c == '"' {
                self.inside = false;
            }
            true
        } else {
            self.inside = c == '"';
            self.inside
        }
    }
}

/// The same document with all insignificant white space removed.
pub fn minify(json: &str) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(json.len());
    // Writing to a Vec cannot fail.
    let _ = write_minified(&mut out, json);
    // Only ASCII white space was dropped and whole characters replaced, so
    // the bytes are still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Writes `json` with all insignificant white space removed, as runs of
/// the text itself.
///
/// It runs over every byte of a long walk, so it works on bytes and copies
/// runs: only white space outside strings is dropped, and only characters a
/// terminal would act on are rewritten (their UTF-8 lead bytes are the only
/// non-ASCII bytes looked at more closely). Between the bytes that matter,
/// a table says where to stop, so most bytes cost one look-up.
pub fn write_minified(out: &mut impl Write, json: &str) -> io::Result<()> {
    let b = json.as_bytes();
    let (mut i, mut start, mut inside) = (0, 0, false);
    while i < b.len() {
        if inside {
            i = skip_in_string(b, i);
        } else {
            while i < b.len() && !STOP_OUTSIDE[b[i] as usize] {
                i += 1;
            }
        }
        let Some(&c) = b.get(i) else { break };
        if !inside {
            if c == b'"' {
                inside = true;
            } else {
                // White space between tokens.
                out.write_all(&b[start..i])?;
                start = i + 1;
            }
            i += 1;
            continue;
        }
        match c {
            b'\\' => {
                i += 2;
                continue;
            }
            b'"' => inside = false,
            _ => {
                if let Some(ch) = json.get(i..).and_then(|s| s.chars().next()) {
                    if crate::text::needs_escape(ch) {
                        // Legal raw in JSON, but a terminal would act on them.
                        out.write_all(&b[start..i])?;
                        write!(out, "\\u{:04x}", ch as u32)?;
                        i += ch.len_utf8();
                        start = i;
                        continue;
                    }
                }
            }
        }
        i += 1;
    }
    out.write_all(&b[start.min(b.len())..])
}

/// Inside a string: the first byte at or after `i` that [`STOP_INSIDE`]
/// names. Most of a document is string text, so it goes eight bytes at a
/// time while they are plain ASCII (the tests below are exact for "any
/// byte of the eight", which is all they are asked).
fn skip_in_string(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let any_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    while let Some(eight) = b.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
        let w = u64::from_le_bytes(*eight);
        let look = (w & HIGHS)
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
            | any_zero(w ^ (ONES * b'"' as u64))
            | any_zero(w ^ (ONES * b'\\' as u64))
            | any_zero(w ^ (ONES * 0x7f));
        if look != 0 {
            if let Some(k) = eight.iter().position(|&c| STOP_INSIDE[c as usize]) {
                return i + k;
            }
        }
        i += 8;
    }
    while i < b.len() && !STOP_INSIDE[b[i] as usize] {
        i += 1;
    }
    i
}

/// Bytes outside strings that end a run: a quote, white space.
static STOP_OUTSIDE: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t
};

/// Bytes inside strings that end a run: a quote, a backslash, and the lead
/// bytes of C0/C1 controls, U+061C and the U+2000 block.
static STOP_INSIDE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0x7f] = true;
    t[0xc2] = true;
    t[0xd8] = true;
    t[0xe2] = true;
    t
};

/// The same document indented by two spaces, as `JSON.stringify(v, null, 2)` does.
pub fn pretty(json: &str) -> String {
    let compact = minify(json);
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut strings = Strings::default();
    let mut chars = compact.chars().peekable();
    while let Some(c) = chars.next() {
        if strings.feed(c) {
            out.push(c);
            continue;
        }
        match c {
            '{' | '[' => {
                out.push(c);
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    out.push(close);
                    chars.next();
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#" { "b" : [1, 2, {}], "a": {"s": "x \" , : { y", "e": []} } "#;

    #[test]
    fn minify_keeps_strings_and_order() {
        assert_eq!(
            minify(DOC),
            r#"{"b":[1,2,{}],"a":{"s":"x \" , : { y","e":[]}}"#
        );
    }

    #[test]
    fn terminal_controls_become_escapes() {
        assert_eq!(
            minify("{\"a\": \"x\u{9b}2J\u{202e}\"}"),
            "{\"a\":\"x\\u009b2J\\u202e\"}"
        );
        // Other characters of the same lead bytes stay as they are, and
        // an escaped backslash before a quote ends nothing early.
        assert_eq!(
            minify("[\"\u{a9}\u{2014}\u{62f}\u{2028}\\\\\", \"\u{1F600}\u{200f}\"]"),
            "[\"\u{a9}\u{2014}\u{62f}\\u2028\\\\\",\"\u{1F600}\\u200f\"]"
        );
        // Cut or odd input never panics.
        for cut in ["\"\\", "\"\\\u{e9}\"", "{\"a\" :\u{2028}"] {
            let _ = minify(cut);
        }
    }

    proptest::proptest! {
        /// Eight at a time finds what one at a time finds, wherever it
        /// starts: over ASCII, the stop bytes, and the lead bytes around
        /// them.
        #[test]
        fn skipping_by_eight_stops_where_byte_by_byte_does(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![
                    b'a', b' ', b'"', b'\\', 0x00, 0x1f, 0x20, 0x7e, 0x7f, 0x80,
                    0xc2, 0xc3, 0xd8, 0xe2, 0xff,
                ]),
                0..40,
            ),
            plain in 0usize..30,
        ) {
            let mut b = vec![b'x'; plain];
            b.extend(bytes);
            for from in 0..=b.len() {
                let one_by_one = (from..b.len())
                    .find(|&k| STOP_INSIDE[b[k] as usize])
                    .unwrap_or(b.len());
                proptest::prop_assert_eq!(skip_in_string(&b, from), one_by_one);
            }
        }
    }

    /// The minify of before the eight-byte skip, one byte at a time: what
    /// the new one must still write, for any input, cut or odd ones too.
    fn minify_byte_by_byte(json: &str) -> String {
        let b = json.as_bytes();
        let mut out: Vec<u8> = Vec::with_capacity(b.len());
        let (mut i, mut start, mut inside) = (0, 0, false);
        while i < b.len() {
            let c = b[i];
            if !inside {
                match c {
                    b'"' => inside = true,
                    b' ' | b'\t' | b'\n' | b'\r' => {
                        out.extend_from_slice(&b[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
                i += 1;
                continue;
            }
            match c {
                b'\\' => {
                    i += 2;
                    continue;
                }
                b'"' => inside = false,
                0x00..=0x1f | 0x7f | 0xc2 | 0xd8 | 0xe2 => {
                    if let Some(ch) = json.get(i..).and_then(|s| s.chars().next()) {
                        if crate::text::needs_escape(ch) {
                            out.extend_from_slice(&b[start..i]);
                            out.extend_from_slice(format!("\\u{:04x}", ch as u32).as_bytes());
                            i += ch.len_utf8();
                            start = i;
                            continue;
                        }
                    }
                }
                _ => {}
            }
            i += 1;
        }
        out.extend_from_slice(&b[start.min(b.len())..]);
        String::from_utf8_lossy(&out).into_owned()
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// Any text of JSON's characters, the ones a terminal acts on, and
        /// their neighbours in UTF-8, minifies as it did byte by byte; and
        /// no character a terminal acts on is left inside a string.
        #[test]
        fn minify_writes_what_it_wrote_byte_by_byte(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![
                        "\"", "\\", "\\\"", " ", "\n", "\t", "{", "}", "[", "]", ":", ",",
                        "\u{1}", "\u{1f}", "\u{7f}", "\u{85}", "\u{9b}", "\u{a0}", "\u{a9}",
                        "\u{61c}", "\u{62f}", "\u{200e}", "\u{200f}", "\u{2014}", "\u{2028}",
                        "\u{202a}", "\u{202e}", "\u{2066}", "\u{2069}", "\u{206a}", "\u{feff}",
                        "\u{1F600}", "é",
                    ]).prop_map(str::to_string),
                    "[a-z0-9]{0,20}",
                ],
                0..40,
            ),
        ) {
            let text: String = parts.concat();
            let now = minify(&text);
            proptest::prop_assert_eq!(&now, &minify_byte_by_byte(&text), "{:?}", text);
            if serde_json::from_str::<serde_json::Value>(&text).is_ok() {
                let mut strings = Strings::default();
                for c in now.chars() {
                    if strings.feed(c) {
                        proptest::prop_assert!(!crate::text::needs_escape(c), "{:?} -> {:?}", text, now);
                    }
                }
            }
        }
    }

    #[test]
    fn pretty_matches_serde_layout_but_keeps_order() {
        let expected = "{\n  \"b\": [\n    1,\n    2,\n    {}\n  ],\n  \"a\": {\n    \"s\": \"x \\\" , : { y\",\n    \"e\": []\n  }\n}";
        assert_eq!(pretty(DOC), expected);
        let v: serde_json::Value = serde_json::from_str(&pretty(DOC)).unwrap();
        assert_eq!(v, serde_json::from_str::<serde_json::Value>(DOC).unwrap());
    }
}
