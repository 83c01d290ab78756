//! Settings from the environment, `.env` files and global flags, resolved once
//! into a [`Config`]. This is the only module that reads environment variables.
//!
//! Precedence for `CIVITAI_API_TOKEN` and `CIVITAI_API_URL`: the real
//! environment, then `--env-file PATH`, then `./.env` when present; `--api-url`
//! beats them all.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::Globals;
use crate::error::{Error, Kind, Result};

pub const DEFAULT_API_URL: &str = "https://orchestration-new.civitai.com";
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_RETRIES: u32 = 4;
/// A day: longer is a mistake, and bounded values keep time arithmetic safe.
pub const MAX_TIMEOUT_SECS: u64 = 86_400;
/// Connecting gives up sooner than a whole request: a host that does not
/// answer the handshake is not going to.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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

pub fn resolve(g: &Globals) -> Result<Config> {
    let mut token = env("CIVITAI_API_TOKEN");
    let mut url = env("CIVITAI_API_URL");
    let mut file_vars = match &g.env_file {
        Some(path) => read_env_file(path)
            .map_err(|e| Error::usage(format!("cannot read --env-file {}: {e}", path.display())))?,
        None => Vec::new(),
    };
    // ./.env fills in what the environment and --env-file left unset.
    file_vars.extend(read_env_file(Path::new(".env")).unwrap_or_default());
    for (key, value) in file_vars {
        match key.as_str() {
            "CIVITAI_API_TOKEN" if token.is_none() => token = non_empty(value),
            "CIVITAI_API_URL" if url.is_none() => url = non_empty(value),
            _ => {}
        }
    }
    let url = g.api_url.clone().or(url);
    let api_url = normalize_url(url.as_deref().unwrap_or(DEFAULT_API_URL))?;
    if token
        .as_deref()
        .is_some_and(|t| t.chars().any(|c| c.is_control() || c == ' '))
    {
        return Err(Error::new(
            Kind::Auth,
            "CIVITAI_API_TOKEN holds a space or a control character (a stray newline?); \
             set it to the token alone",
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

fn normalize_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(url.to_string())
        }
        _ => Err(Error::usage(format!(
            "invalid API URL '{url}': it must start with https:// or http:// and name a host"
        ))),
    }
}

fn read_env_file(path: &Path) -> std::io::Result<Vec<(String, String)>> {
    Ok(parse_env(&std::fs::read_to_string(path)?))
}

/// `KEY=VALUE` lines; `#` comments, an optional `export ` prefix, and
/// single or double quotes around the value.
pub fn parse_env(text: &str) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        vars.push((key.trim().to_string(), unquote(value.trim())));
    }
    vars
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
            "\u{feff}# comment\n\nexport\tCIVITAI_API_TOKEN=\"abc def\" # note\nCIVITAI_API_URL='http://x/'\n\
             PLAIN = value # trailing\nnot a pair\nEMPTY=\n",
        );
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
    fn urls() {
        assert_eq!(
            normalize_url("http://127.0.0.1:8/").unwrap(),
            "http://127.0.0.1:8"
        );
        assert!(normalize_url("ftp://x").is_err());
        assert!(normalize_url("https://").is_err());
    }
}
