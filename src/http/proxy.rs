//! Proxy choice per URL: HTTPS_PROXY for https, HTTP_PROXY for http,
//! NO_PROXY's exceptions (curl's rules), and only http(s) proxies.

use ureq::Proxy;

use crate::config::Proxies;
use crate::error::{Error, Result};

/// The proxies of the environment, parsed once.
pub struct ProxyChoice {
    https: Option<Proxy>,
    http: Option<Proxy>,
    no_proxy: Option<String>,
}

impl ProxyChoice {
    pub fn new(p: &Proxies) -> Result<ProxyChoice> {
        Ok(ProxyChoice {
            https: parse_proxy(p.https.as_deref(), "HTTPS_PROXY")?,
            http: parse_proxy(p.http.as_deref(), "HTTP_PROXY")?,
            no_proxy: p.no_proxy.clone(),
        })
    }

    /// HTTPS_PROXY for https URLs and HTTP_PROXY for http ones, unless
    /// NO_PROXY names the host. (ureq on its own would use ALL_PROXY or
    /// HTTP_PROXY for https too.)
    pub fn for_url(&self, url: &str) -> Option<Proxy> {
        let proxy = if url.starts_with("https://") {
            self.https.as_ref()
        } else {
            self.http.as_ref()
        }?;
        if let Some(list) = &self.no_proxy {
            if no_proxy_matches(list, host_of(url)) {
                return None;
            }
        }
        Some(proxy.clone())
    }
}

/// `host[:port]` of a URL, for messages and NO_PROXY.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

/// curl's NO_PROXY rules: `*` for all, else a comma list of hosts that also
/// cover their subdomains; a leading `.` or `*.` is allowed; ports are ignored.
fn no_proxy_matches(list: &str, host_port: &str) -> bool {
    let host = strip_port(host_port).to_ascii_lowercase();
    list.split(',').map(str::trim).any(|entry| {
        let entry = strip_port(entry).to_ascii_lowercase();
        let entry = entry.trim_start_matches('*').trim_start_matches('.');
        entry == "*"
            || (!entry.is_empty() && (host == entry || host.ends_with(&format!(".{entry}"))))
    }) || list.trim() == "*"
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// An HTTP(S) proxy from the environment; other kinds (SOCKS) are refused
/// here rather than failing inside the request.
pub fn parse_proxy(value: Option<&str>, var: &str) -> Result<Option<Proxy>> {
    let Some(value) = value else { return Ok(None) };
    let scheme = value
        .split_once("://")
        .map_or("http", |(s, _)| s)
        .to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(Error::usage(format!(
            "{var} uses a '{scheme}' proxy; only http:// and https:// proxies are supported"
        )));
    }
    Proxy::new(value)
        .map(Some)
        .map_err(|_| Error::usage(format!("{var} is not a valid proxy URL")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_no_proxy() {
        assert_eq!(
            host_of("https://u:p@api.example.com:8443/v2?x"),
            "api.example.com:8443"
        );
        assert!(no_proxy_matches(
            "localhost, .example.com",
            "cdn.example.com:443"
        ));
        assert!(no_proxy_matches("example.com", "example.com"));
        assert!(no_proxy_matches("*", "anything"));
        assert!(!no_proxy_matches("example.com", "badexample.com"));
        assert!(no_proxy_matches("127.0.0.1:9", "127.0.0.1:8080"));
    }
}
