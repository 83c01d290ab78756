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
