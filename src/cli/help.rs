//! The command table and every help text the program prints.
//!
//! `COMMANDS` describes the commands and `options::OPTIONS` their options:
//! `help`, the usage line attached to usage errors and the shell completions
//! are all read from those two tables, so they cannot drift apart.

use super::options;

/// One command as the user sees it.
pub struct CommandSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// One line, shown in the overview and after a usage error.
    pub usage: &'static str,
    pub summary: &'static str,
    /// Free text after the options: notes and examples.
    pub details: &'static str,
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "test",
        aliases: &[],
        usage: "civitai-orch test",
        summary: "check the URL and token with one small request",
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
        details: "\
Where more pages exist, the last line on stderr says how many were shown
and the --cursor that goes on (in every output mode).

Useful --fields: id status createdAt startedAt completedAt tags cost.total
  nsfwLevel steps.name steps.$type steps.status steps.jobs.id

Examples:
  civitai-orch workflows --tag=type:video --take=5
  civitai-orch workflows --from=24h --status=failed --all
  civitai-orch --jsonl workflows --all --limit=100 | jq -r .id
  civitai-orch workflows --from=24h --fields=id,status,cost.total",
    },
    CommandSpec {
        name: "user",
        aliases: &["user-workflows"],
        usage: "civitai-orch user <userId> [--take=N] [--tag=T]... [--query=Q] \
[--excludeFailed] [--oldest] [--cursor=C]",
        summary: "list a user's workflows (needs a manager token)",
        details: "\
Useful --fields: as for workflows.

Example:
  civitai-orch user 12345 --take=5 --excludeFailed",
    },
    CommandSpec {
        name: "workflow",
        aliases: &[],
        usage: "civitai-orch workflow <workflowId>...|- [--summary] [--wait[=SECS]] [-j N]",
        summary: "show workflows as JSON, or summarised",
        details: "\
Several ids, or - (ids from stdin: one per line, or JSON lines with an
\"id\"), are fetched -j at a time and printed in the order given; with
--json they make one array. An id that fails is reported and the others
go on; the exit code is that of the first failure. --wait takes one id.

Useful --fields: id status createdAt completedAt cost.total tags
  steps.name steps.$type steps.status steps.jobs.id steps.jobs.status

Examples:
  civitai-orch workflow 0-019be44b-181e-7a7e-ab1b-b58dc7610dca
  civitai-orch workflow 0-019be44b-181e-7a7e-ab1b-b58dc7610dca --summary
  civitai-orch workflow 0-019be44b-181e-7a7e-ab1b-b58dc7610dca --wait=120
  civitai-orch --jsonl workflows --status=failed \\
    | civitai-orch workflow - --summary",
    },
    CommandSpec {
        name: "job",
        aliases: &[],
        usage: "civitai-orch job <jobId>...|- [--raw] [-j N]",
        summary: "summarise jobs: prompt, classification, scan results",
        details: "\
Several ids or - work as for 'workflow' (JSON lines give \"jobId\" or \"id\").

Useful --fields: jobId cost job.type job.createdAt job.params.prompt
  job.promptClassificationResult lastEvent.type lastEvent.context
  lastEvent.context.hive_csam_score result.blobKey result.available

Example:
  civitai-orch job 58de87d7-d594-4d71-ae43-dd8fc1bcbd23",
    },
    CommandSpec {
        name: "step",
        aliases: &[],
        usage: "civitai-orch step <workflowId> <stepName>...|- [-j N]",
        summary: "show steps of a workflow as JSON",
        details: "\
Several step names, or - (names from stdin), work as for 'workflow'.

Useful --fields: name $type status startedAt completedAt jobs.id
  jobs.status input.prompt output

Example:
  civitai-orch step 0-019be44b-181e-7a7e-ab1b-b58dc7610dca 0",
    },
    CommandSpec {
        name: "scan",
        aliases: &[],
        usage: "civitai-orch scan <workflowId|jobId>...|- [--flagged] [--threshold=X] [-j N]",
        summary: "the content-scan results of every job of workflows",
        details: "\
A workflow id stands for every job of its steps; a bare UUID is a job id.
Write wf:ID or job:ID to say which. Each job is fetched with its scan
context (GET /v1/consumer/jobs/ID?detailed=true), -j at a time, and
printed in the order given: workflow, step, job, status, its files
(available, blockedReason, nsfwLevel), the prompt classification, then
hive_csam_score, hive_vlm_summary, blocked_reason, nsfwLevel and the
rest of the context. In JSON each score (a context value whose name holds
'score') also comes as numbers under \"scores\": \"0.00 %, 12.5 %\" gives
[0.0, 0.125] (percentages as fractions). A job is flagged when a file of
it is blocked, its context has a blocked_reason, or a score is at or over
--threshold.

Useful --fields: workflowId stepName jobId status flagged flaggedBy
  files.id files.blockedReason scores.hive_csam_score
  context.hive_vlm_summary promptClassification

Examples:
  civitai-orch scan 0-019be450-3c2d-7b11-9a4e-2f61d0c8e5a7
  civitai-orch --jsonl workflows --from=24h --all \\
    | civitai-orch scan - --flagged",
    },
    CommandSpec {
        name: "stats",
        aliases: &[],
        usage: "civitai-orch stats [--tag=T]... [--query=Q] [--from=D] [--to=D] \
[--status=S[,S]] [--excludeFailed] [--oldest] [--limit=N] [--take=N] [--cursor=C] \
[--by=KEY]",
        summary: "count workflows, files, cost and durations over the listing",
        details: "\
Walks every page of the listing (the filters of 'workflows') in constant
memory and prints: workflows by status and by step type; files by kind,
blocked ones by reason; the total cost (cost.total), and by currency from
the workflows' transactions (debits less credits); the durations of
finished workflows (completedAt - createdAt: median, p90, max); the most
common failure reasons (a failed step's metadata.failureReason, or its
failureReason or error). A workflow listed twice is counted once. --by
adds a table by day or hour (of createdAt, UTC), tag, step type or status.
--json and --jsonl print the same one-line document. When --limit ends
the walk early, a line on stderr gives the --cursor that goes on.

Examples:
  civitai-orch stats --from=7d --tag=type:video
  civitai-orch --json stats --from=2026-01-01 --to=2026-01-31 --by=day",
    },
    CommandSpec {
        name: "results",
        aliases: &[],
        usage: "civitai-orch results <workflowId>...|- [--download] [--dir=PATH] \
[-j N] [--force] [--nsfw]",
        summary: "list (and download) the files a workflow made",
        details: "\
A workflow id of - reads ids from stdin as they come: one per line (a
bare id or a JSON string), or one JSON workflow per line as --jsonl
prints it. Such a line is used as it is, without fetching the workflow
again, when its status is final, --nsfw is not given, and its signed
URLs are good for more than a minute. -j sets how many workflows are
fetched, and how many files downloaded, at a time.

--download prints what became of each file, then one line of counts:
  downloaded N, skipped N, unavailable N, failed N
(on stderr with --jsonl or --fields; as \"counts\" in each document with
--json). A failed download makes the exit code 1; an unavailable file
does not.

Useful --fields: workflowId stepName kind id url available blockedReason
  nsfwLevel jobId width height, and with --download status file bytes

Examples:
  civitai-orch results 0-019be44b-181e-7a7e-ab1b-b58dc7610dca
  civitai-orch results 0-019be44b-181e-7a7e-ab1b-b58dc7610dca --download
  civitai-orch results 0-019be44b-181e-7a7e-ab1b-b58dc7610dca --fields=id,url
  civitai-orch --jsonl workflows --all --status=succeeded \\
    | civitai-orch results - --download --dir=out",
    },
    CommandSpec {
        name: "blob",
        aliases: &[],
        usage: "civitai-orch blob <blobId> [--download] [--nsfw] [--dir=PATH] \
[--output=FILE|-] [--force]",
        summary: "show a blob's URL, or download it",
        details: "\
Examples:
  civitai-orch blob JNFDW54JNTATNW42HACYCWSQP0.jpeg
  civitai-orch blob JNFDW54JNTATNW42HACYCWSQP0.jpeg --download --dir=out",
    },
    CommandSpec {
        name: "submit",
        aliases: &[],
        usage: "civitai-orch submit <file>|- [--tag=T]... [--whatif] [--max-cost=N] \
[--external-id=ID] [--wait[=SECS]] [--download [--dir=PATH] [-j N]]",
        summary: "run a workflow from a template (spends Buzz)",
        details: "\
The template is a JSON object with a non-empty \"steps\" array (see the
API's workflow templates); anything else is refused before sending.

--whatif prints the cost estimate and runs nothing. --max-cost=N
estimates first and refuses (exit 2) when the total is over N. Every
submit carries an idempotency key (--external-id, or one made for it and
named on stderr): a submit whose answer was lost is sent again safely and
gives the same workflow. --wait holds with the API's own wait, then polls
as 'workflow --wait' does (exit 7 when it did not succeed, 8 when SECS
passed); --download then saves its files as 'results --download' does.

A 400 prints one line per field error (exit 2); a 403, usually not
enough Buzz, exits 3.

Examples:
  civitai-orch submit template.json --whatif
  civitai-orch submit template.json --max-cost=50 --wait=300 --download",
    },
    CommandSpec {
        name: "cancel",
        aliases: &[],
        usage: "civitai-orch cancel <workflowId>...|- [-j N]",
        summary: "cancel workflows that are still running",
        details: "\
A workflow that has already ended is reported with its final status, not
as a failure. Several ids or - work as for 'workflow'.

Example:
  civitai-orch cancel 0-019be480-1111-7e44-a1b2-c3d4e5f60718",
    },
    CommandSpec {
        name: "delete",
        aliases: &[],
        usage: "civitai-orch delete <workflowId>...|- --yes [-j N]",
        summary: "delete workflows (needs --yes)",
        details: "\
Without --yes nothing is deleted: it says what would be (exit 2).
Several ids or - work as for 'workflow'.

Example:
  civitai-orch delete 0-019be481-2222-7f55-b2c3-d4e5f6071829 --yes",
    },
    CommandSpec {
        name: "tag",
        aliases: &[],
        usage: "civitai-orch tag <workflowId> [--add=T]... [--remove=T]... [--clear]",
        summary: "add or remove a workflow's tags",
        details: "\
--clear removes every tag first, then each --remove, then each --add.
Prints the tags after the change, one per line.

Example:
  civitai-orch tag 0-019be44b-181e-7a7e-ab1b-b58dc7610dca --add=project:x",
    },
    CommandSpec {
        name: "upload",
        aliases: &[],
        usage: "civitai-orch upload <file> [--type=MIME]",
        summary: "upload a file as a blob for a template's input",
        details: "\
Asks the API for a signed upload URL, then sends the file to it streamed
from disk, without the token. Prints the blob id and URL (--json: the
blob).

Example:
  civitai-orch upload photo.jpg",
    },
    CommandSpec {
        name: "api",
        aliases: &[],
        usage: "civitai-orch api [METHOD] <path> [--body=FILE|-] [-f K=V]... \
[-H 'N: V']... [-i] [--paginate]",
        summary: "send any request to the API, with the token and retries",
        details: "\
PATH is relative to the API URL (a URL of another host is refused). The
answer's body goes to stdout as it came; the exit code follows the
status as for every command. GET, PUT and DELETE are retried as reads
are; a POST only when it provably was not processed.

Examples:
  civitai-orch api /v2/consumer/workflows -f take=1
  civitai-orch api POST /v2/consumer/workflows --body=template.json",
    },
    CommandSpec {
        name: "completions",
        aliases: &[],
        usage: "civitai-orch completions <bash|zsh|fish>",
        summary: "print a shell completion script",
        details: "\
Example:
  civitai-orch completions bash > /etc/bash_completion.d/civitai-orch",
    },
    CommandSpec {
        name: "help",
        aliases: &[],
        usage: "civitai-orch help [command]",
        summary: "show help for all commands or one",
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
    out.push_str("\nGlobal options (before or after the command):\n");
    for o in options::globals() {
        out.push_str(&options::help_lines(o));
    }
    out.push_str("\nEnvironment: CIVITAI_API_TOKEN (required), CIVITAI_API_URL, HTTPS_PROXY,\n");
    out.push_str("  HTTP_PROXY, NO_PROXY, SSL_CERT_FILE\n\n");
    out.push_str(EXIT_CODES);
    out.push('\n');
    out
}

/// `civitai-orch help <command>`.
pub fn command_help(spec: &CommandSpec) -> String {
    let mut words = Vec::new();
    for w in spec.usage.split(' ') {
        words.push(w.to_string());
    }
    let mut out = format!("{}\n\n{}", spec.summary, wrap("Usage:", &words, 79));
    let mut opts = String::new();
    for o in options::of_command(spec.name).filter(|o| !o.hidden) {
        opts.push_str(&options::help_lines(o));
    }
    if !opts.is_empty() {
        out.push_str("\nOptions:\n");
        out.push_str(&opts);
    }
    if !spec.details.is_empty() {
        out.push('\n');
        out.push_str(spec.details);
        out.push('\n');
    }
    let mut globals = Vec::new();
    for o in options::globals().filter(|o| !o.hidden && o.id != options::OptId::Version) {
        globals.push(o.synopsis());
    }
    out.push_str(&wrap("\nGlobal options:", &globals, 79));
    out.push_str("  (see 'civitai-orch --help')\n");
    out
}

/// `head` then the words, wrapped at `width` columns, continuation lines
/// indented by two spaces.
fn wrap(head: &str, words: &[String], width: usize) -> String {
    let mut out = head.to_string();
    let mut column = head.trim_start_matches('\n').len();
    for w in words {
        if column + 1 + w.len() > width {
            out.push_str("\n ");
            column = 1;
        }
        out.push(' ');
        out.push_str(w);
        column += 1 + w.len();
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lines_fit_in_79_columns() {
        let mut texts = vec![overview()];
        texts.extend(COMMANDS.iter().map(command_help));
        for text in texts {
            for line in text.lines() {
                assert!(line.chars().count() <= 79, "too wide: {line}");
            }
        }
    }

    /// `--tag` is mentioned as a whole spelling, not as the start of `--tags`.
    fn mentions(text: &str, spelling: &str) -> bool {
        text.match_indices(spelling).any(|(i, _)| {
            let next = text[i + spelling.len()..].chars().next();
            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    }

    #[test]
    fn every_accepted_spelling_is_documented_or_hidden() {
        for o in options::OPTIONS.iter().filter(|o| !o.hidden) {
            let texts: Vec<String> = match o.scope {
                options::Scope::Global => vec![overview()],
                options::Scope::Commands(names) => names
                    .iter()
                    .map(|n| command_help(find(n).expect("a command of the table")))
                    .collect(),
            };
            for text in &texts {
                for long in o.longs() {
                    assert!(mentions(text, &format!("--{long}")), "--{long} in {text}");
                }
                if let Some(c) = o.short {
                    assert!(mentions(text, &format!("-{c}")), "-{c} in {text}");
                }
            }
        }
    }

    #[test]
    fn aliases_find_their_command() {
        assert_eq!(find("user-workflows").map(|c| c.name), Some("user"));
        assert!(find("nope").is_none());
    }
}
