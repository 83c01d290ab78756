//! `civitai-orch help`, `--help`, `COMMAND --help` and `--version`.

use crate::support::Cli;

#[test]
fn help_and_version() {
    let run = Cli::new(None, &[]).run();
    run.ok().stdout_has("Commands:").stdout_has("Exit codes:");
    Cli::new(None, &["--help"])
        .run()
        .ok()
        .stdout_has("workflows");
    Cli::new(None, &["help", "workflows"])
        .run()
        .ok()
        .stdout_has("--status=S[,S]");
    Cli::new(None, &["job", "--help"])
        .run()
        .ok()
        .stdout_has("Usage: civitai-orch job <jobId> [--raw]");
    Cli::new(None, &["--version"])
        .run()
        .ok()
        .stdout_has(&format!("civitai-orch {}", env!("CARGO_PKG_VERSION")));
}
