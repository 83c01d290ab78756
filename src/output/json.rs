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
pub fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut strings = Strings::default();
    for c in json.chars() {
        if strings.feed(c) {
            // Control characters cannot stand raw in valid JSON strings, but
            // C1 controls and bidi overrides can.
            if crate::text::needs_escape(c) {
                // Legal raw in JSON, but a terminal would act on them.
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push(c);
            }
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
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
    }

    #[test]
    fn pretty_matches_serde_layout_but_keeps_order() {
        let expected = "{\n  \"b\": [\n    1,\n    2,\n    {}\n  ],\n  \"a\": {\n    \"s\": \"x \\\" , : { y\",\n    \"e\": []\n  }\n}";
        assert_eq!(pretty(DOC), expected);
        let v: serde_json::Value = serde_json::from_str(&pretty(DOC)).unwrap();
        assert_eq!(v, serde_json::from_str::<serde_json::Value>(DOC).unwrap());
    }
}
