//! The fake's https mode ([`Options::tls`]): the test server certificate
//! for 127.0.0.1 and localhost, issued by the test CA (`fixtures/tls/`,
//! test-only), the handshake on each new connection, the handshakes
//! counted by kind (full or resumed), and [`Conn`], a connection that is
//! plain TCP or TLS, so that the rest of the fake need not care which.
//!
//! rustls with its ring provider, as the client uses: nothing more to
//! build. The session cache is rustls' default (in memory, shared by every
//! connection of both hosts), so a client that kept its session resumes.
//!
//! [`Options::tls`]: super::Options::tls

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{HandshakeKind, ServerConfig, ServerConnection, StreamOwned};

use super::state::fixtures_dir;

/// How a TLS handshake went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handshake {
    /// Certificates and key exchange: the client had no session to resume.
    Full,
    /// An earlier session resumed.
    Resumed,
}

/// The server side of TLS, shared by every connection.
pub struct Tls {
    config: Arc<ServerConfig>,
    handshakes: Mutex<Vec<Handshake>>,
}

impl Tls {
    pub fn new() -> Tls {
        let dir = fixtures_dir().join("tls");
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join("server.pem"))
                .and_then(|certs| certs.collect())
                .expect("read fixtures/tls/server.pem");
        let key = PrivateKeyDer::from_pem_file(dir.join("server.key"))
            .expect("read fixtures/tls/server.key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("the test certificate and key");
        Tls {
            config: Arc::new(config),
            handshakes: Mutex::new(Vec::new()),
        }
    }

    /// The handshake on a new connection, counted once it is done; a
    /// client that gives up on it (an unknown CA) is not counted.
    pub fn accept(&self, mut tcp: TcpStream) -> io::Result<Conn> {
        let mut conn = ServerConnection::new(self.config.clone()).map_err(io::Error::other)?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)?;
        }
        let kind = match conn.handshake_kind() {
            Some(HandshakeKind::Resumed) => Handshake::Resumed,
            _ => Handshake::Full,
        };
        self.handshakes.lock().unwrap().push(kind);
        let stream = StreamOwned::new(conn, tcp);
        Ok(Conn::Tls(Arc::new(Mutex::new(stream))))
    }

    /// Every handshake completed so far, in order.
    pub fn handshakes(&self) -> Vec<Handshake> {
        self.handshakes.lock().unwrap().clone()
    }
}

type TlsStream = StreamOwned<ServerConnection, TcpStream>;

/// One accepted connection. Its handles (`try_clone`) are used by one
/// thread in turn (read the request, then write the answer), as
/// `TcpStream`'s are.
pub enum Conn {
    Plain(TcpStream),
    Tls(Arc<Mutex<TlsStream>>),
}

impl Conn {
    pub fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Plain(s) => Conn::Plain(s.try_clone()?),
            Conn::Tls(s) => Conn::Tls(s.clone()),
        })
    }

    /// Ends the connection at once, both ways; over TLS without a
    /// `close_notify`, so that the client sees it cut as over plain TCP.
    pub fn shutdown(&self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.shutdown(Shutdown::Both),
            Conn::Tls(s) => lock(s).sock.shutdown(Shutdown::Both),
        }
    }
}

fn lock(s: &Mutex<TlsStream>) -> MutexGuard<'_, TlsStream> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => lock(s).read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => lock(s).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => lock(s).flush(),
        }
    }
}
