//! Host names to addresses. An address written in the URL (a local
//! orchestrator on 127.0.0.1, a proxy given by address) is used as it is;
//! a name goes to ureq's resolver, which looks it up on a thread of its
//! own so that the connect timeout bounds the lookup too. An address has
//! nothing to look up, so it starts no thread.

use std::net::{IpAddr, SocketAddr};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

#[derive(Debug, Default)]
pub struct Addresses(DefaultResolver);

impl Resolver for Addresses {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        match written_address(uri) {
            Some(addr) => {
                let mut addrs = self.empty();
                addrs.push(addr);
                Ok(addrs)
            }
            None => self.0.resolve(uri, config, timeout),
        }
    }
}

/// The address and port of a URL whose host is an IP address.
fn written_address(uri: &Uri) -> Option<SocketAddr> {
    let authority = uri.authority()?;
    let host = authority.host();
    let ip: IpAddr = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse()
        .ok()?;
    let port = authority.port_u16().or(match uri.scheme_str()? {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })?;
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(url: &str) -> Option<String> {
        written_address(&url.parse().unwrap()).map(|a| a.to_string())
    }

    #[test]
    fn only_addresses_are_taken_as_written() {
        assert_eq!(
            addr("http://127.0.0.1:8080/v2").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(addr("https://10.1.2.3/").as_deref(), Some("10.1.2.3:443"));
        assert_eq!(addr("http://[::1]/x").as_deref(), Some("[::1]:80"));
        assert_eq!(addr("https://[fe80::1]:9/").as_deref(), Some("[fe80::1]:9"));
        assert_eq!(addr("https://orchestration.civitai.com/"), None);
        assert_eq!(addr("http://localhost:1/"), None);
        assert_eq!(addr("http://127.1/"), None);
    }
}
