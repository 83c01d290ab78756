//! The command table and every help text the program prints.
//!
//! `COMMANDS` is the single description of the command line: `help`, the
//! usage line attached to usage errors and the shell completions are all read
//! from it, so they cannot drift apart.

/// One command as the user sees it.
pub struct CommandSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// One line, shown in the overview and after a usage error.
    pub usage: &'static str,
    pub summary: &'static str,
    /// Options the command accepts (spelled as typed, `=` when it takes a value).
    pub options: &'static [&'static str],
    /// Free text after the usage line: options explained, examples.
    pub details: &'static str,
}

/// Options every command accepts, before or after the command name.
pub const GLOBAL_OPTIONS: &[&str] = &[
    "--json",
    "--jsonl",
    "--quiet",
    "--api-url=",
    "--timeout=",
    "--retries=",
    "--env-file=",
    "--help",
    "--version",
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "test",
        aliases: &[],
        usage: "civitai-orch test",
        summary: "check the URL and token with one small request",
        options: &[],
        details: "\
Asks for one workflow and reports whether the API answered.

Example:
  civitai-orch test",
    },
    CommandSpec {
        name: "workflows",
        aliases: &[],
        usage: "civitai-orch workflows [--tag=T]... [--query=Q] [--excludeFailed] \
[--oldest] [--take=N] [--cursor=C] [--from=D] [--to=D] [--status=S[,S]] \
[--all] [--limit=N]",
        summary: "list your workflows, newest first",
        options: &[
            "--tag=",
            "--query=",
            "--excludeFailed",
            "--exclude-failed",
            "--oldest",
            "--ascending",
            "--take=",
            "--cursor=",
            "--from=",
            "--to=",
            "--status=",
            "--all",
            "--limit=",
        ],
        details: "\
Options:
  --tag=T            only workflows with tag T (repeat: all must match)
  --query=Q          search text in workflow metadata
  --excludeFailed    drop failed, expired and canceled workflows
                     (also --exclude-failed)
  --oldest           oldest first (also --ascending)
  --take=N           page size (default 20)
  --cursor=C         start at the page a previous 'Next cursor' named
  --from=D, --to=D   created on/after, on/before D: 2026-01-20,
                     2026-01-20T06:00[:SS[.fff]][Z|+HH:MM], or 30m 24h 7d 2w
  --status=S[,S]     keep only these statuses (filtered here, not by the API):
                     unassigned preparing scheduled processing succeeded
                     failed expired canceled deleted
  --all              follow the pages to the end
  --limit=N          stop after N workflows (after --status)

Examples:
  civitai-orch workflows --tag=type:video --take=5
  civitai-orch workflows --from=24h --status=failed --all
  civitai-orch --jsonl workflows --all --limit=100 | jq -r .id",
    },
    CommandSpec {
        name: "user",
        aliases: &["user-workflows"],
        usage: "civitai-orch user <userId> [--take=N] [--tag=T]... [--query=Q] \
[--excludeFailed] [--oldest] [--cursor=C]",
        summary: "list a user's workflows (needs a manager token)",
        options: &[
            "--take=",
            "--tag=",
            "--query=",
            "--excludeFailed",
            "--exclude-failed",
            "--oldest",
            "--ascending",
            "--cursor=",
        ],
        details: "\
Options:
  --take=N           how many, 1 to 10
  --tag=T            only workflows with tag T (repeat: all must match)
  --query=Q          search text in workflow metadata
  --excludeFailed    drop failed, expired and canceled workflows
  --oldest           oldest first (also --ascending)
  --cursor=C         continue from a cursor

Example:
  civitai-orch user 12345 --take=5 --excludeFailed",
    },
    CommandSpec {
        name: "workflow",
        aliases: &[],
        usage: "civitai-orch workflow <workflowId> [--wait[=SECS]]",
        summary: "show one workflow as JSON",
        options: &["--wait"],
        details: "\
Options:
  --wait[=SECS]      first poll until the workflow succeeded, failed, expired
                     or was canceled, for at most SECS (default 600); exit 7
                     when it did not succeed, 8 when SECS passed

Examples:
  civitai-orch workflow 0-019be44b-181e-7a7e-ab1b-b58dc7610dca
  civitai-orch workflow 0-019be44b-181e-7a7e-ab1b-b58dc7610dca --wait=120",
    },
    CommandSpec {
        name: "job",
        aliases: &[],
        usage: "civitai-orch job <jobId> [--raw]",
        summary: "summarise a job: prompt, classification, scan results",
        options: &["--raw"],
        details: "\
Options:
  --raw              print the API's response as JSON instead of a summary

Example:
  civitai-orch job 58de87d7-d594-4d71-ae43-dd8fc1bcbd23",
    },
    CommandSpec {
        name: "step",
        aliases: &[],
        usage: "civitai-orch step <workflowId> <stepName>",
        summary: "show one step of a workflow as JSON",
        options: &[],
        details: "\
Example:
  civitai-orch step 0-019be44b-181e-7a7e-ab1b-b58dc7610dca 0",
    },
    CommandSpec {
        name: "results",
        aliases: &[],
        usage: "civitai-orch results <workflowId>... [--download] [--dir=PATH] \
[-j N] [--force] [--nsfw]",
        summary: "list (and download) the files a workflow made",
        options: &["--download", "--dir=", "--jobs=", "--force", "--nsfw"],
        details: "\
Options:
  --download         save each available file as WORKFLOW_STEP_INDEX.EXT
  --dir=PATH         where to save (default: the current folder)
  -j N, --jobs=N     download N files at a time (default 4)
  --force            download again files that are already complete
  --nsfw             ask for mature content too (hideMatureContent=false)
  A workflow id of - reads ids from stdin: one per line, or one JSON
  workflow per line (as printed by --jsonl).

Examples:
  civitai-orch results 0-019be44b-181e-7a7e-ab1b-b58dc7610dca
  civitai-orch results 0-019be44b-181e-7a7e-ab1b-b58dc7610dca --download
  civitai-orch --jsonl workflows --status=succeeded \\
    | civitai-orch results - --download --dir=out",
    },
    CommandSpec {
        name: "blob",
        aliases: &[],
        usage: "civitai-orch blob <blobId> [--download] [--nsfw] [--dir=PATH] \
[--output=FILE|-] [--force]",
        summary: "show a blob's URL, or download it",
        options: &["--download", "--nsfw", "--dir=", "--output=", "--force"],
        details: "\
Options:
  --download         save the file as BLOBID.EXT
  --nsfw             allow mature content (hideMatureContent=false)
  --dir=PATH         where to save (default: the current folder)
  -o, --output=FILE  save under this name; - writes the bytes to stdout
  --force            download again even when the file is complete

Examples:
  civitai-orch blob JNFDW54JNTATNW42HACYCWSQP0.jpeg
  civitai-orch blob JNFDW54JNTATNW42HACYCWSQP0.jpeg --download --dir=out",
    },
    CommandSpec {
        name: "completions",
        aliases: &[],
        usage: "civitai-orch completions <bash|zsh|fish>",
        summary: "print a shell completion script",
        options: &[],
        details: "\
Example:
  civitai-orch completions bash > /etc/bash_completion.d/civitai-orch",
    },
    CommandSpec {
        name: "help",
        aliases: &[],
        usage: "civitai-orch help [command]",
        summary: "show help for all commands or one",
        options: &[],
        details: "",
    },
];

/// The command with this name or alias.
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
}

/// The usage line of a command, for usage errors.
pub fn usage_of(name: &str) -> &'static str {
    find(name).map_or(OVERVIEW_USAGE, |c| c.usage)
}

pub const OVERVIEW_USAGE: &str = "civitai-orch [options] <command> [args]";

const GLOBAL_HELP: &str = "\
Global options (before or after the command):
  --json             print one JSON document (errors: one JSON line on stderr)
  --jsonl            workflows, user: one workflow per line
  -q, --quiet        no notes on stderr (retries, progress)
  --api-url=URL      API base URL (default: $CIVITAI_API_URL or
                     https://orchestration-new.civitai.com)
  --timeout=SECS     give up on a request after SECS (default 30)
  --retries=N        retries on 429/502/503/504 (default 4, 0: none)
  --env-file=PATH    read CIVITAI_API_TOKEN / CIVITAI_API_URL from PATH
                     (default: ./.env when present; the environment wins)
  -h, --help         this help; 'civitai-orch help <command>' for one
  -V, --version      print the version";

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success            4  not found (404)
  1  other failure      5  network or server error (5xx, timeout)
  2  usage, or 400/422  6  still rate limited (429) after retries
  3  no token, 401/403  7  --wait: the workflow failed/expired/canceled
                        8  --wait: gave up waiting (the workflow goes on)";

/// `civitai-orch --help`: every command on one line, then the global options.
pub fn overview() -> String {
    let mut out = format!(
        "civitai-orch {} - look into Civitai Orchestration workflows, jobs and files\n\n\
         Usage: {OVERVIEW_USAGE}\n\nCommands:\n",
        env!("CARGO_PKG_VERSION")
    );
    for c in COMMANDS {
        out.push_str(&format!("  {:<12} {}\n", c.name, c.summary));
    }
    out.push('\n');
    out.push_str(GLOBAL_HELP);
    out.push_str("\n\nEnvironment: CIVITAI_API_TOKEN (required), CIVITAI_API_URL, HTTPS_PROXY,\n");
    out.push_str("  HTTP_PROXY, NO_PROXY, SSL_CERT_FILE\n\n");
    out.push_str(EXIT_CODES);
    out.push('\n');
    out
}

/// `civitai-orch help <command>`.
pub fn command_help(spec: &CommandSpec) -> String {
    let mut out = format!("{}\n\nUsage: {}\n", spec.summary, spec.usage);
    if !spec.details.is_empty() {
        out.push('\n');
        out.push_str(spec.details);
        out.push('\n');
    }
    out.push_str("\nGlobal options: --json --jsonl -q --api-url --timeout --retries --env-file\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lines_fit_in_79_columns() {
        let mut texts = vec![overview()];
        texts.extend(COMMANDS.iter().map(|c| c.details.to_string()));
        for text in texts {
            for line in text.lines() {
                assert!(line.chars().count() <= 79, "too wide: {line}");
            }
        }
    }

    #[test]
    fn aliases_find_their_command() {
        assert_eq!(find("user-workflows").map(|c| c.name), Some("user"));
        assert!(find("nope").is_none());
    }
}
