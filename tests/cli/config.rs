//! Settings: the environment, `.env` and `--env-file` and how they layer,
//! proxies, and numbers such as `--timeout` that must make sense.

use crate::no_token_in;
use crate::support::{cli, temp_dir, Cli, Fake, TOKEN};

#[test]
fn env_files_fill_in_what_the_environment_lacks() {
    let fake = Fake::start();
    let dir = temp_dir("envfile");
    std::fs::write(
        dir.join(".env"),
        format!(
            "# settings\nexport CIVITAI_API_TOKEN=\"{TOKEN}\"\nCIVITAI_API_URL='{}/'\n",
            fake.url
        ),
    )
    .unwrap();
    Cli::new(None, &["test"])
        .dir(&dir)
        .run()
        .ok()
        .stdout_has("Connection successful!");

    // The real environment wins over the file.
    Cli::new(None, &["test"])
        .dir(&dir)
        .env("CIVITAI_API_TOKEN", "from-env-token-xxxxxxxx")
        .run()
        .code(3);

    // --env-file names another file; a missing one is a usage error.
    let other = temp_dir("envfile2");
    let path = other.join("civitai.env");
    std::fs::write(
        &path,
        format!("CIVITAI_API_TOKEN={TOKEN}\nCIVITAI_API_URL={}\n", fake.url),
    )
    .unwrap();
    Cli::new(None, &["test", "--env-file", path.to_str().unwrap()])
        .run()
        .ok();
    Cli::new(None, &["--env-file=/nope/.env", "test"])
        .run()
        .code(2)
        .stderr_has("--env-file");
}

#[test]
fn env_file_values_may_carry_comments_and_layer_with_dot_env() {
    let fake = Fake::start();
    let dir = temp_dir("envlayer");
    std::fs::write(dir.join(".env"), format!("CIVITAI_API_URL={}\n", fake.url)).unwrap();
    let file = dir.join("token.env");
    std::fs::write(
        &file,
        format!("\u{feff}export\tCIVITAI_API_TOKEN=\"{TOKEN}\" # the test token\n"),
    )
    .unwrap();
    Cli::new(None, &["test", "--env-file", file.to_str().unwrap()])
        .dir(&dir)
        .run()
        .ok();
}

#[test]
fn socks_proxies_and_absurd_numbers_are_usage_errors() {
    let fake = Fake::start();
    for (k, v) in [
        ("HTTP_PROXY", "socks5://127.0.0.1:1"),
        ("HTTPS_PROXY", "socks4://x:1"),
    ] {
        Cli::new(Some(&fake), &["test"])
            .env(k, v)
            .run()
            .code(2)
            .one_error_line()
            .stderr_has("only http:// and https:// proxies");
    }
    cli(&fake, &["test", "--timeout=9223372036854775807"])
        .code(2)
        .stderr_has("--timeout must be");
    cli(&fake, &["test", "--timeout=0"]).code(2);
}

#[test]
fn an_api_url_with_a_query_or_fragment_is_refused_before_sending() {
    let fake = Fake::start();
    for suffix in ["?x=1", "/#frag", "/v2?"] {
        let url = format!("{}{suffix}", fake.url);
        Cli::new(Some(&fake), &["workflows"])
            .env("CIVITAI_API_URL", &url)
            .run()
            .code(2)
            .one_error_line()
            .stderr_has("must not hold a query");
    }
    assert!(fake.requests().is_empty(), "nothing may be sent");
}

#[test]
fn a_token_that_cannot_be_a_header_is_described_never_shown() {
    let fake = Fake::start();
    for (token, kind) in [
        ("\u{201c}tok-0123456789abcdef\u{201d}", "typographic quote"),
        ("tok\u{a0}0123456789abcdef", "non-ASCII space"),
        ("tok-0123456789abcdéf", "non-ASCII character"),
    ] {
        let run = Cli::new(Some(&fake), &["test"])
            .env("CIVITAI_API_TOKEN", token)
            .run();
        run.code(3).one_error_line().stderr_has(kind);
        assert!(!run.stderr.contains("0123456789"), "token echoed:{run:?}");
    }
    assert!(fake.requests().is_empty(), "nothing may be sent");
}

#[test]
fn an_env_file_with_bad_bytes_is_read_or_refused_never_ignored() {
    let fake = Fake::start();
    let dir = temp_dir("env-bytes");
    // A stray Latin-1 byte in a comment: the file is still read.
    std::fs::write(
        dir.join(".env"),
        [
            b"# caf\xe9 token\n".as_slice(),
            format!("CIVITAI_API_TOKEN={TOKEN}\n").as_bytes(),
        ]
        .concat(),
    )
    .unwrap();
    Cli::new(Some(&fake), &["test"])
        .env_remove("CIVITAI_API_TOKEN")
        .dir(&dir)
        .run()
        .ok();
    // In a setting: refused by name and line, with nothing sent.
    let fake = Fake::start();
    std::fs::write(
        dir.join(".env"),
        [
            format!("CIVITAI_API_TOKEN={TOKEN}\n").as_bytes(),
            b"OTHER=caf\xe9\n".as_slice(),
        ]
        .concat(),
    )
    .unwrap();
    Cli::new(Some(&fake), &["test"])
        .env_remove("CIVITAI_API_TOKEN")
        .dir(&dir)
        .run()
        .code(2)
        .one_error_line()
        .stderr_has("./.env")
        .stderr_has("line 2");
    assert!(fake.requests().is_empty());
}

/// A URL setting that holds the token (pasted into the wrong variable, or
/// as a query) is refused, and the refusal must not print the token: the
/// token is known before the URL is checked.
#[test]
fn an_invalid_api_url_never_echoes_the_token() {
    let fake = Fake::start();
    for url in [
        TOKEN.to_string(),
        format!("{}/?key={TOKEN}", fake.url),
        format!("{}/#{TOKEN}", fake.url),
    ] {
        for mode in [None, Some("--json")] {
            let mut args: Vec<&str> = mode.into_iter().collect();
            args.push("test");
            let run = Cli::new(Some(&fake), &args)
                .env("CIVITAI_API_URL", &url)
                .run();
            run.code(2);
            no_token_in(&run, 12);
        }
    }
    assert!(fake.requests().is_empty());
}

/// `python -m venv .env` is common: a `.env` *folder* in the working
/// directory is not an env file, and must not stop every command.
#[test]
fn a_dot_env_folder_is_not_an_env_file() {
    let fake = Fake::start();
    let dir = temp_dir("venv");
    std::fs::create_dir_all(dir.join(".env/bin")).unwrap();
    Cli::new(Some(&fake), &["test"]).dir(&dir).run().ok();
}

/// The URL is shown in its error as for any other untrusted text: a line
/// break or an escape sequence in it must not reach the terminal.
#[test]
fn an_invalid_api_url_is_escaped_in_its_error() {
    let fake = Fake::start();
    for url in ["ftp://a\nerror: forged line", "ftp://a\u{1b}[2Jb"] {
        let run = Cli::new(Some(&fake), &["test"])
            .env("CIVITAI_API_URL", url)
            .run();
        run.code(2).one_error_line();
        assert!(
            !run.stderr.contains('\u{1b}') && !run.stderr.contains("\nerror: forged"),
            "raw control characters in the error:{run:?}"
        );
    }
}
