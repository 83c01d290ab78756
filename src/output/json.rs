//! Re-spacing of JSON text that serde_json has already validated.
//!
//! `--json` prints the API's own response, and `workflow`/`step` print it
//! pretty. Working on the text instead of a parsed `Value` keeps the API's key
//! order (serde_json's map would sort it) and costs no allocation per node.

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
///
/// It runs over every byte of a long walk, so it works on bytes and copies
/// runs: only white space outside strings is dropped, and only characters a
/// terminal would act on are rewritten (their UTF-8 lead bytes are the only
/// non-ASCII bytes looked at more closely).
pub fn minify(json: &str) -> String {
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
            // Lead bytes of C0/C1 controls, U+061C, and the U+2000 block.
            0x00..=0x1f | 0x7f | 0xc2 | 0xd8 | 0xe2 => {
                if let Some(ch) = json.get(i..).and_then(|s| s.chars().next()) {
                    if crate::text::needs_escape(ch) {
                        // Legal raw in JSON, but a terminal would act on them.
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
    // Only ASCII white space was dropped and whole characters replaced, so
    // the bytes are still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

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

    #[test]
    fn pretty_matches_serde_layout_but_keeps_order() {
        let expected = "{\n  \"b\": [\n    1,\n    2,\n    {}\n  ],\n  \"a\": {\n    \"s\": \"x \\\" , : { y\",\n    \"e\": []\n  }\n}";
        assert_eq!(pretty(DOC), expected);
        let v: serde_json::Value = serde_json::from_str(&pretty(DOC)).unwrap();
        assert_eq!(v, serde_json::from_str::<serde_json::Value>(DOC).unwrap());
    }
}
