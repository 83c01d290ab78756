//! Re-spacing of JSON text that serde_json has already validated.
//!
//! `--json` prints the API's own response, and `workflow`/`step` print it
//! pretty. Working on the text instead of a parsed `Value` keeps the API's key
//! order (serde_json's map would sort it) and costs no allocation per node.

/// The same document with all insignificant white space removed.
pub fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
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
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = compact.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
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
    fn pretty_matches_serde_layout_but_keeps_order() {
        let expected = "{\n  \"b\": [\n    1,\n    2,\n    {}\n  ],\n  \"a\": {\n    \"s\": \"x \\\" , : { y\",\n    \"e\": []\n  }\n}";
        assert_eq!(pretty(DOC), expected);
        let v: serde_json::Value = serde_json::from_str(&pretty(DOC)).unwrap();
        assert_eq!(v, serde_json::from_str::<serde_json::Value>(DOC).unwrap());
    }
}
