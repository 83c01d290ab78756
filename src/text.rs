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
    Escaped(s).to_string()
}

/// [`escape`] as it is written out, with no copy of the text: for
/// printers that show many fields.
pub struct Escaped<'a>(pub &'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        use std::fmt::Write;
        let s = self.0;
        if !s.chars().any(needs_escape) {
            return f.write_str(s);
        }
        for c in s.chars() {
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if (c as u32) < 0x80 && needs_escape(c) => write!(f, "\\x{:02x}", c as u32)?,
                c if needs_escape(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
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
    match head(s, max) {
        (head, true) => format!("{head}..."),
        (whole, false) => whole.to_string(),
    }
}

/// The first `max` characters of `s`, and whether that cut anything off.
pub fn head(s: &str, max: usize) -> (&str, bool) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (&s[..i], true),
        None => (s, false),
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

/// The forms the run's secret takes in what is shown: as it is, and
/// percent-encoded as in a URL's path or query (a token with `/`, `+` or
/// `=` reads otherwise there); none before it is known.
pub fn secret_forms() -> Vec<String> {
    forms(SECRET.lock().ok().and_then(|s| *s))
}

fn forms(secret: Option<&str>) -> Vec<String> {
    let Some(s) = secret.filter(|s| !s.is_empty()) else {
        return Vec::new();
    };
    let mut encoded = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    if encoded == s {
        vec![encoded]
    } else {
        vec![s.to_string(), encoded]
    }
}

/// Copies `bytes` to `out` with every whole occurrence of one of `secrets`
/// replaced by [`HIDDEN`], and returns how many bytes it used: all of them
/// when `last`, else all but an end that may begin a secret (it goes with
/// the bytes that follow). For output that streams in pieces.
pub fn hide_in(bytes: &[u8], secrets: &[String], last: bool, out: &mut Vec<u8>) -> usize {
    let finder = Finder::new(secrets);
    let (mut i, mut start) = (0, 0);
    while let Some(at) = finder.next(bytes, i, last) {
        let rest = &bytes[at..];
        if !last
            && secrets
                .iter()
                .any(|s| s.len() > rest.len() && s.as_bytes().starts_with(rest))
        {
            // It may go on into the secret in the next piece.
            out.extend_from_slice(&bytes[start..at]);
            return at;
        }
        // The whole secret, or a cut one: a server that quotes most of it
        // back (all but its end) must not show that either.
        let hidden = secrets
            .iter()
            .map(|s| common_prefix(rest, s.as_bytes()))
            .filter(|&(k, whole)| whole || k >= MIN_SHOWN_CUT)
            .map(|(k, _)| k)
            .max();
        match hidden {
            Some(k) => {
                out.extend_from_slice(&bytes[start..at]);
                out.extend_from_slice(HIDDEN.as_bytes());
                i = at + k;
                start = i;
            }
            None => i = at + 1,
        }
    }
    out.extend_from_slice(&bytes[start..]);
    bytes.len()
}

/// Where a secret may begin: every hidden run starts with the first `m`
/// bytes of a secret (`m` = the shortest of the secrets' lengths and
/// [`MIN_SHOWN_CUT`]), so those are searched for, skipping ahead as
/// Horspool's search does; all of stdout passes here, and most of it
/// holds no secret. Near the end of a piece, a shorter start of a secret
/// is a place too.
struct Finder<'s> {
    needles: Vec<&'s [u8]>,
    secrets: &'s [String],
    /// How far the window may move when its last byte is this one.
    shift: [u8; 256],
}

impl<'s> Finder<'s> {
    fn new(secrets: &'s [String]) -> Finder<'s> {
        let m = secrets
            .iter()
            .map(|s| s.len().min(MIN_SHOWN_CUT))
            .min()
            .unwrap_or(0);
        let needles: Vec<&[u8]> = secrets.iter().map(|s| &s.as_bytes()[..m]).collect();
        let mut shift = [m.max(1) as u8; 256];
        for n in &needles {
            for (j, &c) in n.iter().enumerate().take(m.saturating_sub(1)) {
                let s = &mut shift[c as usize];
                *s = (*s).min((m - 1 - j) as u8);
            }
        }
        Finder {
            needles,
            secrets,
            shift,
        }
    }

    /// The first place at or after `from` where a secret may begin.
    fn next(&self, bytes: &[u8], from: usize, last: bool) -> Option<usize> {
        let m = self.needles.first().map_or(0, |n| n.len());
        if m == 0 {
            return None;
        }
        let mut i = from;
        while i + m <= bytes.len() {
            let end = bytes[i + m - 1];
            if self
                .needles
                .iter()
                .any(|n| n[m - 1] == end && bytes[i..i + m] == **n)
            {
                return Some(i);
            }
            i += self.shift[end as usize] as usize;
        }
        if last {
            return None;
        }
        // Too short for a whole window: a start of a secret that the next
        // piece may finish.
        let tail = bytes.len().saturating_sub(m - 1).max(from);
        (tail..bytes.len()).find(|&p| {
            self.secrets
                .iter()
                .any(|s| s.as_bytes().starts_with(&bytes[p..]))
        })
    }
}

/// A secret's beginning this long or longer is hidden too, wherever a
/// server cut the rest off.
const MIN_SHOWN_CUT: usize = 12;

/// How many leading bytes `text` shares with `secret`, and whether that is
/// all of the secret.
fn common_prefix(text: &[u8], secret: &[u8]) -> (usize, bool) {
    let k = text.iter().zip(secret).take_while(|(a, b)| a == b).count();
    (k, k == secret.len())
}

/// `text` with every occurrence of `secret` (when given and not empty, also
/// percent-encoded) and every value after a `Bearer ` (in any case)
/// replaced by [`HIDDEN`]: a server that quotes the request's
/// `Authorization` header back, or a token that leaked into a URL or a
/// path, never reaches the reader.
pub fn mask_secrets(text: &str, secret: Option<&str>) -> String {
    let forms = forms(secret);
    let text = if forms.is_empty() {
        text.to_string()
    } else {
        let mut out = Vec::with_capacity(text.len());
        hide_in(text.as_bytes(), &forms, true, &mut out);
        // Only whole runs of ASCII-starting secrets were replaced, so this
        // is UTF-8 unless a cut ended inside a character of the secret.
        String::from_utf8_lossy(&out).into_owned()
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
    fn a_cut_secret_is_hidden_from_twelve_characters_on() {
        let secret = Some("abcdefghijklmnop0123");
        assert_eq!(
            mask_secrets("x abcdefghijklmnop012... y", secret),
            "x [hidden]... y"
        );
        assert_eq!(mask_secrets("abcdefghijkl", secret), "[hidden]");
        // Shorter beginnings are ordinary text.
        assert_eq!(mask_secrets("abcdefghijk!", secret), "abcdefghijk!");
        let mut out = Vec::new();
        let used = hide_in(
            b"id abcdefgh",
            &["abcdefghijklmnop0123".into()],
            false,
            &mut out,
        );
        assert_eq!((used, out.as_slice()), (3, b"id ".as_slice()));
    }

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
        // In a URL the token is percent-encoded.
        assert_eq!(
            mask_secrets("GET /w/ab%2Fc%2B%3D?q=ab%2Fc%2B%3D", Some("ab/c+=")),
            "GET /w/[hidden]?q=[hidden]"
        );
    }

    #[test]
    fn secrets_are_hidden_across_pieces_of_output() {
        let secrets = forms(Some("s3cr/t"));
        assert_eq!(secrets, ["s3cr/t", "s3cr%2Ft"]);
        let mut out = Vec::new();
        let mut held: Vec<u8> = Vec::new();
        for piece in ["a s3", "cr/t b s3cr%", "2Ft c s3", "cX s"] {
            held.extend_from_slice(piece.as_bytes());
            let used = hide_in(&held, &secrets, false, &mut out);
            held.drain(..used);
        }
        hide_in(&held, &secrets, true, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a [hidden] b [hidden] c s3cX s"
        );
    }
}
