//! Untrusted text made safe to show: escaping of characters a terminal
//! would act on, cutting to a length, and hiding secrets (the token, any
//! `Bearer ...` value) wherever a server or a setting put them.
//!
//! A leaf: it knows nothing of the rest of the program, so every layer can
//! use it.

/// Server text with control characters made visible: a prompt holding
/// `ESC[2J` must not clear the terminal, nor a newline fake an extra line.
/// Bidirectional overrides are escaped too, since they reorder what is shown.
pub fn escape(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && needs_escape(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Characters a terminal would act on rather than show: controls, the
/// bidirectional marks and overrides (they reorder what is shown), and the
/// line and paragraph separators (some terminals break the line there).
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// The first `max` characters, then `...` when there was more.
pub fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// The run's secret (the API token), once it is known. (`None` is all
/// zeros, so the static costs no bytes in the binary.)
static SECRET: std::sync::Mutex<Option<&'static str>> = std::sync::Mutex::new(None);

/// Registers the run's secret: from now on [`mask`] hides it. It lives as
/// long as the process, as the token itself does.
pub fn hide(secret: &str) {
    if secret.is_empty() {
        return;
    }
    if let Ok(mut s) = SECRET.lock() {
        *s = Some(Box::leak(secret.to_string().into_boxed_str()));
    }
}

/// `text` with the run's secret and any `Bearer ...` value hidden; every
/// message that reaches stdout or stderr goes through here.
pub fn mask(text: &str) -> String {
    let secret = SECRET.lock().ok().and_then(|s| *s);
    mask_secrets(text, secret)
}

/// What a hidden secret is replaced with.
pub const HIDDEN: &str = "[hidden]";

/// `text` with every occurrence of `secret` (when given and not empty) and
/// every value after a `Bearer ` (in any case) replaced by [`HIDDEN`]: a
/// server that quotes the request's `Authorization` header back, or a token
/// that leaked into a URL or a path, never reaches the reader.
pub fn mask_secrets(text: &str, secret: Option<&str>) -> String {
    let text = match secret {
        Some(s) if !s.is_empty() => text.replace(s, HIDDEN),
        _ => text.to_string(),
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    // `done`: the end of what is already in `out`.
    let (mut done, mut i) = (0, 0);
    while i + 6 <= bytes.len() {
        let word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if !(word_start && bytes[i..i + 6].eq_ignore_ascii_case(b"bearer")) {
            i += 1;
            continue;
        }
        let mut start = i + 6;
        while start < bytes.len() && matches!(bytes[start], b' ' | b'\t' | b':' | b'=') {
            start += 1;
        }
        let value = &text[start..];
        let len = if value.starts_with(HIDDEN) {
            HIDDEN.len()
        } else {
            value.find(ends_a_secret).unwrap_or(value.len())
        };
        out.push_str(&text[done..start]);
        if len > 0 {
            out.push_str(HIDDEN);
        }
        done = start + len;
        i = done.max(i + 1);
    }
    out.push_str(&text[done..]);
    out
}

/// Where a secret quoted in a message ends: blanks, quotes, separators and
/// closing brackets.
fn ends_a_secret(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\'' | ',' | ';' | '\\' | ')' | ']' | '}' | '<' | '>' | '&'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(escape("a\x1b[2Jb\n\u{202e}c"), "a\\x1b[2Jb\\n\\u{202e}c");
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
        assert_eq!(escape("\u{9b}"), "\\u{9b}");
        assert_eq!(escape("a\u{2028}b\u{61c}"), "a\\u{2028}b\\u{61c}");
    }

    #[test]
    fn cut_counts_characters() {
        assert_eq!(cut("ééé", 2), "éé...");
        assert_eq!(cut("ab", 2), "ab");
    }

    #[test]
    fn secrets_are_hidden_wherever_they_are() {
        assert_eq!(
            mask_secrets("token abc123 here", Some("abc123")),
            "token [hidden] here"
        );
        assert_eq!(
            mask_secrets("bad header Authorization: Bearer xyz.987; retry", None),
            "bad header Authorization: Bearer [hidden]; retry"
        );
        assert_eq!(
            mask_secrets("Bearer [hidden] and bearer [hidden]x", None),
            "Bearer [hidden] and bearer [hidden]x"
        );
        assert_eq!(
            mask_secrets("\"bearer   q\"", None),
            "\"bearer   [hidden]\""
        );
        assert_eq!(mask_secrets("BEARER:tok,x", None), "BEARER:[hidden],x");
        // A word that merely contains "bearer" is left alone.
        assert_eq!(mask_secrets("flagbearer yes", None), "flagbearer yes");
        assert_eq!(mask_secrets("Bearer", None), "Bearer");
        assert_eq!(mask_secrets("Bearer ", None), "Bearer ");
        assert_eq!(mask_secrets("x", Some("")), "x");
    }
}
