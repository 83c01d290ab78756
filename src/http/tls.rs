//! The TLS roots: the bundled web roots, or the PEM bundle SSL_CERT_FILE
//! names (an inspecting proxy's CA, a private API).

use std::sync::Arc;

use ureq::tls::{Certificate, PemItem, RootCerts};

use crate::config::Config;
use crate::error::{Error, Result};

pub fn root_certs(cfg: &Config) -> Result<RootCerts> {
    let Some(path) = &cfg.ca_file else {
        return Ok(RootCerts::WebPki);
    };
    let pem = std::fs::read(path)
        .map_err(|e| Error::usage(format!("cannot read SSL_CERT_FILE {}: {e}", path.display())))?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "SSL_CERT_FILE {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(RootCerts::Specific(Arc::new(certs)))
}
