//! TLS: the roots (the bundled web roots, or the PEM bundle SSL_CERT_FILE
//! names: an inspecting proxy's CA, a private API), loaded once and only
//! when a connection needs TLS, and the agent's connector chain, whose TLS
//! link uses them.
//!
//! Why a chain of our own: every request sets its proxy and timeouts,
//! which makes its ureq config "request level", and for such a config
//! ureq's `RustlsConnector` builds a fresh rustls `ClientConfig` (root
//! store included) on each connection instead of caching one, so no
//! connection could resume an earlier one's TLS session. The TLS link here
//! hands the connector one agent-level config holding the roots instead:
//! it caches one `ClientConfig` for the run, and with it the session cache.
//!
//! The connector types are ureq's `unversioned` API, outside its semver
//! promises: Cargo.toml pins ureq to the version this was written against.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ureq::config::Config;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::unversioned::transport::{
    ConnectProxyConnector, ConnectionDetails, Connector, RustlsConnector, TcpConnector, Transport,
};

use crate::error::{Error, Result};

/// The roots of the run, read on first need: an http-only run never reads
/// SSL_CERT_FILE, and a bad one is reported once, the same way each time.
#[derive(Debug)]
pub struct Roots {
    ca_file: Option<PathBuf>,
    /// The agent's config with the given TLS settings.
    make: fn(TlsConfig) -> Config,
    /// That config with the roots, or why the roots cannot be had.
    loaded: OnceLock<std::result::Result<Config, String>>,
}

impl Roots {
    /// `make` builds the agent's own config around a `TlsConfig`, so that the
    /// TLS link sees the agent's settings (buffer sizes) with the roots.
    pub fn new(ca_file: Option<PathBuf>, make: fn(TlsConfig) -> Config) -> Roots {
        Roots {
            ca_file,
            make,
            loaded: OnceLock::new(),
        }
    }

    /// Loads the roots if that was not done yet: a usage error when
    /// SSL_CERT_FILE cannot be read or holds no certificate.
    pub fn ready(&self) -> Result<()> {
        self.config()
            .map(|_| ())
            .map_err(|m| Error::usage(m.clone()))
    }

    fn config(&self) -> std::result::Result<&Config, &String> {
        self.loaded
            .get_or_init(|| {
                let roots = load(self.ca_file.as_deref())?;
                Ok((self.make)(TlsConfig::builder().root_certs(roots).build()))
            })
            .as_ref()
    }
}

fn load(path: Option<&Path>) -> std::result::Result<RootCerts, String> {
    let Some(path) = path else {
        return Ok(RootCerts::WebPki);
    };
    let pem = std::fs::read(path)
        .map_err(|e| format!("cannot read SSL_CERT_FILE {}: {e}", path.display()))?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!(
            "SSL_CERT_FILE {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(RootCerts::Specific(Arc::new(certs)))
}

/// ureq's default chain without SOCKS (refused as a setting): a CONNECT
/// proxy's tunnel or a TCP connection, then TLS for https.
pub fn connector(roots: Arc<Roots>) -> impl Connector {
    ().chain(ConnectProxyConnector::default())
        .chain(TcpConnector::default())
        .chain(TlsLink {
            roots,
            rustls: RustlsConnector::default(),
            primed: Mutex::new(false),
        })
}

/// `RustlsConnector` given the agent-level config with the roots.
#[derive(Debug)]
struct TlsLink {
    roots: Arc<Roots>,
    rustls: RustlsConnector,
    /// Whether a handshake has begun: `rustls` has then cached its config.
    primed: Mutex<bool>,
}

impl<In: Transport> Connector<In> for TlsLink {
    type Out = <RustlsConnector as Connector<In>>::Out;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            // Passed on as it is; the config is not looked at.
            return self.rustls.connect(details, Some(transport));
        }
        // The client calls `ready` before any request that needs TLS, so a
        // bad SSL_CERT_FILE is its usage error and this is never reached.
        let config = self
            .roots
            .config()
            .map_err(|_| ureq::Error::Tls("SSL_CERT_FILE cannot be used"))?;
        let details = ConnectionDetails {
            uri: details.uri,
            addrs: details.addrs.clone(),
            config,
            request_level: false,
            resolver: details.resolver,
            now: details.now,
            timeout: details.timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: details.register_shutdown.clone(),
        };
        // `rustls` builds its config on its first connection, and connections
        // that start before that one has built it would each build their own
        // (ureq says so): the first handshake goes alone.
        let mut primed = self.primed.lock().unwrap_or_else(|e| e.into_inner());
        if *primed {
            drop(primed);
            return self.rustls.connect(&details, Some(transport));
        }
        let out = self.rustls.connect(&details, Some(transport));
        *primed = true;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(tls: TlsConfig) -> Config {
        Config::builder().tls_config(tls).build()
    }

    #[test]
    fn the_bundle_is_read_once_on_first_need() {
        let dir = std::env::temp_dir().join(format!("civitai-orch-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bundle.pem");
        let roots = Roots::new(Some(path.clone()), plain);
        // Not there when made: nothing is read until `ready`.
        std::fs::write(&path, "no certificate here\n").unwrap();
        let err = roots.ready().unwrap_err();
        assert!(
            err.message.contains("holds no PEM certificate"),
            "{}",
            err.message
        );
        // Mended afterwards: the run keeps what it read first.
        std::fs::write(&path, include_str!("../../fixtures/tls/ca.pem")).unwrap();
        assert!(roots.ready().is_err());
        assert!(Roots::new(Some(path), plain).ready().is_ok());
        assert!(Roots::new(None, plain).ready().is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
