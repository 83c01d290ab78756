//! TLS: the roots (the bundled web roots, or SSL_CERT_FILE's), read only
//! when a request needs TLS; a bad SSL_CERT_FILE is a usage error then, and
//! nothing otherwise; one TLS client configuration for the run, so that
//! later connections resume the first one's session. The fake speaks https
//! with a test CA (`fixtures/tls/`); every answer of the fake closes its
//! connection, so each request of a run is a new handshake.

use crate::support::fake::{fixtures_dir, Handshake, Options};
use crate::support::{temp_dir, Cli, Fake};
use crate::{JPEG, W1, W_COMFY, W_FAIL, W_IMG, W_PROC, W_VID};

fn https_fake() -> Fake {
    Fake::start_with(Options {
        tls: true,
        ..Options::default()
    })
}

fn test_ca() -> String {
    fixtures_dir()
        .join("tls/ca.pem")
        .to_str()
        .unwrap()
        .to_string()
}

/// A file that is there but holds no certificate.
fn garbage_file() -> String {
    let path = temp_dir("tls-garbage").join("bundle.pem");
    std::fs::write(&path, "-----BEGIN NOTHING-----\nnot a certificate\n").unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn https_works_with_the_test_ca_in_ssl_cert_file() {
    let fake = https_fake();
    assert!(fake.url.starts_with("https://"), "{}", fake.url);
    Cli::new(Some(&fake), &["workflows", "--take=1"])
        .env("SSL_CERT_FILE", &test_ca())
        .run()
        .ok()
        .stdout_has(W1);

    // The CDN over https too: a download without the token.
    let dir = temp_dir("tls-blob");
    let dir_arg = dir.to_str().unwrap();
    Cli::new(
        Some(&fake),
        &["blob", JPEG, "--download", "--nsfw", "--dir", dir_arg],
    )
    .env("SSL_CERT_FILE", &test_ca())
    .run()
    .ok();
    assert_eq!(std::fs::read(dir.join(JPEG)).unwrap(), fake.media(JPEG));
}

#[test]
fn the_bundled_roots_refuse_the_test_ca_once_and_clearly() {
    let fake = https_fake();
    let run = Cli::new(Some(&fake), &["workflows", "--take=1", "--retries=3"]).run();
    run.code(5)
        .one_error_line()
        .stderr_has("TLS failure talking to 127.0.0.1")
        .stderr_has("certificate");
    assert!(!run.stderr.contains("retrying"), "retried:{run:?}");
    assert!(fake.requests().is_empty(), "nothing may be sent:{run:?}");
    assert!(fake.handshakes().is_empty(), "no handshake may end:{run:?}");
}

#[test]
fn an_http_run_never_reads_ssl_cert_file() {
    let fake = Fake::start();
    let missing = temp_dir("tls-missing").join("no-such-bundle.pem");
    for bundle in [missing.to_str().unwrap().to_string(), garbage_file()] {
        Cli::new(Some(&fake), &["workflows", "--take=1"])
            .env("SSL_CERT_FILE", &bundle)
            .run()
            .ok()
            .stdout_has(W1);
    }
}

#[test]
fn a_bad_ssl_cert_file_is_a_usage_error_before_any_https_request() {
    let fake = https_fake();
    let missing = temp_dir("tls-missing").join("no-such-bundle.pem");
    let missing = missing.to_str().unwrap();
    let garbage = garbage_file();
    for (bundle, message) in [
        (missing, format!("cannot read SSL_CERT_FILE {missing}: ")),
        (
            garbage.as_str(),
            format!("SSL_CERT_FILE {garbage} holds no PEM certificate"),
        ),
    ] {
        let run = Cli::new(Some(&fake), &["workflows", "--take=1", "--retries=3"])
            .env("SSL_CERT_FILE", bundle)
            .run();
        run.code(2).one_error_line().stderr_has(&message);
        assert!(!run.stderr.contains("retrying"), "retried:{run:?}");
    }
    assert!(fake.handshakes().is_empty(), "no connection may be made");
    assert!(fake.requests().is_empty(), "nothing may be sent");
}

#[test]
fn later_connections_resume_the_first_tls_session() {
    let fake = https_fake();
    // Six pages of one workflow: six requests, six connections.
    Cli::new(Some(&fake), &["--jsonl", "workflows", "--all", "--take=1"])
        .env("SSL_CERT_FILE", &test_ca())
        .run()
        .ok();
    let kinds = fake.handshakes();
    assert_eq!(kinds.len(), 6, "one handshake per page: {kinds:?}");
    assert_eq!(kinds[0], Handshake::Full, "{kinds:?}");
    assert!(
        kinds[1..].iter().all(|k| *k == Handshake::Resumed),
        "every later connection resumes the first session: {kinds:?}"
    );
}

#[test]
fn parallel_requests_share_one_session_cache() {
    let fake = https_fake();
    fake.set_api_delay(std::time::Duration::from_millis(20));
    let ids = [W1, W_IMG, W_FAIL, W_VID, W_COMFY, W_PROC, W1, W_IMG, W_FAIL];
    let mut args = vec!["--jsonl", "workflow", "-j", "3"];
    args.extend(ids);
    let run = Cli::new(Some(&fake), &args)
        .env("SSL_CERT_FILE", &test_ca())
        .run();
    run.ok();
    assert_eq!(run.jsonl_ids(), ids, "{run:?}");
    let kinds = fake.handshakes();
    assert_eq!(kinds.len(), ids.len(), "{kinds:?}");
    // The connections begun before any session was had are full ones: at
    // most one per request in flight.
    let full = kinds.iter().filter(|k| **k == Handshake::Full).count();
    assert!((1..=3).contains(&full), "{full} full handshakes: {kinds:?}");
}
