//! `civitai-orch test`: the connection check, its request and its token mask.

use crate::support::{cli, Fake, TOKEN};

#[test]
fn test_command_reports_connection_and_masks_the_token() {
    let fake = Fake::start();
    let run = cli(&fake, &["test"]);
    run.ok()
        .stdout_has(&format!("API URL: {}", fake.url))
        .stdout_has("Connection successful!")
        .stdout_has("Workflows returned: 1")
        .stdout_has("Token: test...");
    assert!(!run.stdout.contains(&TOKEN[4..]), "token leaked:{run:?}");
    let req = &fake.api_requests()[0];
    assert_eq!(req.raw_path, "/v2/consumer/workflows");
    assert_eq!(req.param("take"), Some("1"));
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(req
        .header("user-agent")
        .unwrap()
        .starts_with("civitai-orch/"));

    let json = cli(&fake, &["test", "--json"]).json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["apiUrl"], fake.url.as_str());
    assert_eq!(json["workflows"], 1);
}

/// An API URL with a user and password in it: `test` shows the URL, but
/// not the password, in text and JSON, as `-v` does not.
#[test]
fn test_does_not_show_a_password_in_the_api_url() {
    let fake = Fake::start();
    let url = fake.url.replace("http://", "http://user:s3cretpw@");
    for mode in [None, Some("--json")] {
        let mut args: Vec<&str> = mode.into_iter().collect();
        args.push("test");
        let run = crate::support::Cli::new(Some(&fake), &args)
            .env("CIVITAI_API_URL", &url)
            .run();
        run.ok().stdout_has("http://[hidden]@127.0.0.1:");
        assert!(!run.stdout.contains("s3cretpw"), "password shown:{run:?}");
    }
}
