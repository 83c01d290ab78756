//! Settings from the environment, `.env` files and global flags, resolved once
//! into a [`Config`]. This is the only module that reads environment variables.
//!
//! Precedence for `CIVITAI_API_TOKEN` and `CIVITAI_API_URL`: the real
//! environment, then `--env-file PATH`, then `./.env` when present; `--api-url`
//! beats them all.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Kind, Result};

pub const DEFAULT_API_URL: &str = "https://orchestration-new.civitai.com";
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_RETRIES: u32 = 4;
/// A day: longer is a mistake, and bounded values keep time arithmetic safe.
pub const MAX_TIMEOUT_SECS: u64 = 86_400;
/// Connecting gives up sooner than a whole request: a host that does not
/// answer the handshake is not going to.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The settings given on the command line, as typed; `cli` fills them in.
#[derive(Debug, Default, PartialEq, Clone)]
pub struct Flags {
    pub api_url: Option<String>,
    pub timeout_secs: Option<u64>,
    pub retries: Option<u32>,
    pub env_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Without a trailing `/`.
    pub api_url: String,
    pub token: Option<String>,
    pub timeout: Duration,
    pub retries: u32,
    pub proxies: Proxies,
    /// `SSL_CERT_FILE`: a PEM bundle that replaces the bundled roots.
    pub ca_file: Option<PathBuf>,
}

/// Proxy settings as the environment gives them; `client` picks per URL.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    pub https: Option<String>,
    pub http: Option<String>,
    pub no_proxy: Option<String>,
}

pub fn resolve(g: &Flags) -> Result<Config> {
    let mut token = env("CIVITAI_API_TOKEN");
    let mut url = env("CIVITAI_API_URL");
    let mut file_vars = match &g.env_file {
        Some(path) => {
            let what = format!("--env-file {}", path.display());
            read_env_file(path, &what, false)?
                .ok_or_else(|| Error::usage(format!("cannot read {what}: no such file")))?
        }
        None => Vec::new(),
    };
    // ./.env fills in what the environment and --env-file left unset.
    file_vars.extend(read_env_file(Path::new(".env"), "./.env", true)?.unwrap_or_default());
    for (key, value) in file_vars {
        match key.as_str() {
            "CIVITAI_API_TOKEN" if token.is_none() => token = non_empty(value),
            "CIVITAI_API_URL" if url.is_none() => url = non_empty(value),
            _ => {}
        }
    }
    // From here on every message hides the token, even one about a URL
    // into which the token was pasted by mistake.
    if let Some(t) = &token {
        crate::text::hide(t);
    }
    let url = g.api_url.clone().or(url);
    let api_url = normalize_url(url.as_deref().unwrap_or(DEFAULT_API_URL))?;
    if let Some(why) = token.as_deref().and_then(token_problem) {
        return Err(Error::new(
            Kind::Auth,
            format!("CIVITAI_API_TOKEN {why}; set it to the token alone"),
        ));
    }
    let timeout = g.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if !(1..=MAX_TIMEOUT_SECS).contains(&timeout) {
        return Err(Error::usage(format!(
            "--timeout must be between 1 and {MAX_TIMEOUT_SECS} seconds"
        )));
    }
    Ok(Config {
        api_url,
        token,
        timeout: Duration::from_secs(timeout),
        retries: g.retries.unwrap_or(DEFAULT_RETRIES),
        proxies: Proxies {
            https: env("HTTPS_PROXY").or_else(|| env("https_proxy")),
            http: env("HTTP_PROXY").or_else(|| env("http_proxy")),
            no_proxy: env("NO_PROXY").or_else(|| env("no_proxy")),
        },
        ca_file: env("SSL_CERT_FILE").map(PathBuf::from),
    })
}

impl Config {
    /// The token, or the error that says how to set one.
    pub fn require_token(&self) -> Result<&str> {
        self.token.as_deref().ok_or_else(|| {
            Error::new(
                Kind::Auth,
                "no API token: set CIVITAI_API_TOKEN in the environment, in ./.env, \
                 or in a file named by --env-file",
            )
        })
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().and_then(non_empty)
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Why a token cannot be sent as a header value, in words that never quote
/// it: the kind of character and where it is.
fn token_problem(token: &str) -> Option<String> {
    let (i, c) = token
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_graphic())?;
    let kind = match c {
        ' ' => "a space",
        '\n' | '\r' => "a line break (a stray newline?)",
        c if c.is_control() => "a control character",
        '\u{2018}' | '\u{2019}' | '\u{201c}' | '\u{201d}' | '\u{00ab}' | '\u{00bb}' => {
            "a typographic quote (pasted from a document?)"
        }
        c if c.is_whitespace() => "a non-ASCII space",
        _ => "a non-ASCII character",
    };
    Some(format!(
        "holds {kind} at character {} of {}, which cannot be sent in a header",
        i + 1,
        token.chars().count()
    ))
}

fn normalize_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    if url.contains(['?', '#']) {
        return Err(Error::usage(format!(
            "invalid API URL '{}': it must not hold a query (?) or a fragment (#); \
             give the base URL alone, e.g. {DEFAULT_API_URL}",
            crate::text::escape(url)
        )));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(url.to_string())
        }
        _ => Err(Error::usage(format!(
            "invalid API URL '{}': it must start with https:// or http:// and name a host",
            crate::text::escape(url)
        ))),
    }
}

/// The variables of an env file (`what` names it in messages); `None` when
/// there is no such file, or, for the `optional` `./.env`, when that name is
/// not a file (a Python virtualenv is often called `.env`). A file that
/// exists but cannot be read, or whose settings are not UTF-8, is refused by
/// name (exit 2), never ignored.
fn read_env_file(path: &Path, what: &str, optional: bool) -> Result<Option<Vec<(String, String)>>> {
    if optional && std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Ok(None);
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::usage(format!("cannot read {what}: {e}"))),
    };
    parse_env(&bytes).map(Some).map_err(|line| {
        Error::usage(format!(
            "{what} is not valid UTF-8 on line {line}; save it as UTF-8"
        ))
    })
}

/// `KEY=VALUE` lines; `#` comments, an optional `export ` prefix, and
/// single or double quotes around the value. Bytes that are not UTF-8 are
/// ignored in comments and blank lines; anywhere else the number of the
/// line is the error.
pub fn parse_env(bytes: &[u8]) -> std::result::Result<Vec<(String, String)>, usize> {
    let mut vars = Vec::new();
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    for (n, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let trimmed = raw.trim_ascii();
        if trimmed.is_empty() || trimmed.starts_with(b"#") {
            continue;
        }
        let line = std::str::from_utf8(trimmed).map_err(|_| n + 1)?.trim();
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        vars.push((key.trim().to_string(), unquote(value.trim())));
    }
    Ok(vars)
}

fn unquote(value: &str) -> String {
    for q in ['"', '\''] {
        // A quoted value ends at its closing quote; a comment may follow.
        if let Some((inner, _)) = value.strip_prefix(q).and_then(|v| v.split_once(q)) {
            return inner.to_string();
        }
    }
    // An unquoted value ends where a comment starts.
    match value.find(" #") {
        Some(i) => value[..i].trim_end().to_string(),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines() {
        let vars = parse_env(
            b"\xef\xbb\xbf# comment\n\nexport\tCIVITAI_API_TOKEN=\"abc def\" # note\nCIVITAI_API_URL='http://x/'\n\
             PLAIN = value # trailing\nnot a pair\nEMPTY=\n",
        )
        .unwrap();
        assert_eq!(
            vars,
            [
                ("CIVITAI_API_TOKEN".to_string(), "abc def".to_string()),
                ("CIVITAI_API_URL".to_string(), "http://x/".to_string()),
                ("PLAIN".to_string(), "value".to_string()),
                ("EMPTY".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn bad_bytes_are_ignored_in_comments_only() {
        let vars = parse_env(b"# caf\xe9\nA=1\r\n   # \xff\xfe\n").unwrap();
        assert_eq!(vars, [("A".to_string(), "1".to_string())]);
        assert_eq!(parse_env(b"A=1\nB=caf\xe9\n"), Err(2));
    }

    #[test]
    fn tokens_that_cannot_be_headers_are_described_not_shown() {
        assert_eq!(token_problem("abc-DEF_123.xyz"), None);
        let why = token_problem("\u{201c}secret\u{201d}").unwrap();
        assert!(why.contains("typographic quote"), "{why}");
        assert!(why.contains("character 1 of 8"), "{why}");
        assert!(!why.contains("secret"), "{why}");
        assert!(token_problem("a\u{a0}b")
            .unwrap()
            .contains("non-ASCII space"));
        assert!(token_problem("ab\n").unwrap().contains("line break"));
    }

    #[test]
    fn urls() {
        assert_eq!(normalize_url("http://h/x?y=1").unwrap_err().exit_code(), 2);
        assert_eq!(normalize_url("http://h/#f").unwrap_err().exit_code(), 2);
        assert_eq!(
            normalize_url("http://127.0.0.1:8/").unwrap(),
            "http://127.0.0.1:8"
        );
        assert!(normalize_url("ftp://x").is_err());
        assert!(normalize_url("https://").is_err());
    }
}
