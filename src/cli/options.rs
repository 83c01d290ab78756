//! The option table: every option the program accepts, defined once.
//!
//! The parser looks spellings up here, `help` prints each command's options
//! from here, and the completion scripts list them from here, so a spelling
//! cannot be accepted without being documented (or marked hidden on
//! purpose), and cannot be documented without being accepted.

/// What the parser does with an option once it is recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptId {
    Json,
    Jsonl,
    Quiet,
    Verbose,
    ApiUrl,
    Timeout,
    Retries,
    EnvFile,
    Help,
    Version,
    Tag,
    Query,
    ExcludeFailed,
    Oldest,
    Take,
    Cursor,
    FromDate,
    ToDate,
    Status,
    All,
    Limit,
    Wait,
    Raw,
    Download,
    Dir,
    Jobs,
    Force,
    Nsfw,
    Output,
    Fields,
    Summary,
    Flagged,
    Threshold,
    By,
    Whatif,
    MaxCost,
    ExternalId,
    Yes,
    Add,
    Remove,
    Clear,
    Type,
    Body,
    Field,
    Header,
    Include,
    Paginate,
}

/// Whether an option takes a value, and its name in help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Takes {
    Nothing,
    /// `--take=N` or `--take N`.
    Value(&'static str),
    /// `--wait` or `--wait=SECS` (never `--wait SECS`: that would swallow an id).
    Optional(&'static str),
}

/// Which commands accept an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every command, before or after its name.
    Global,
    /// Only these commands (by their main name), after the command name.
    Commands(&'static [&'static str]),
}

/// One option as the user types it.
#[derive(Debug)]
pub struct Opt {
    pub id: OptId,
    /// The main spelling, without the leading `--`.
    pub long: &'static str,
    /// Other long spellings (those of the script this tool replaces).
    pub aliases: &'static [&'static str],
    pub short: Option<char>,
    pub takes: Takes,
    /// One help line; `\n` starts a continuation line.
    pub doc: &'static str,
    /// Accepted but left out of help and completions, on purpose.
    pub hidden: bool,
    pub scope: Scope,
}

impl Opt {
    /// Every long spelling, the main one first.
    pub fn longs(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.long).chain(self.aliases.iter().copied())
    }

    pub fn applies_to(&self, command: &str) -> bool {
        match self.scope {
            Scope::Global => true,
            Scope::Commands(names) => names.contains(&command),
        }
    }

    /// `--take=N`, `-j N, --jobs=N`, `--wait[=SECS]`: the left column of help.
    pub fn synopsis(&self) -> String {
        let value = match self.takes {
            Takes::Nothing => String::new(),
            Takes::Value(v) => format!("={v}"),
            Takes::Optional(v) => format!("[={v}]"),
        };
        match (self.short, self.takes) {
            (Some(c), Takes::Value(v)) => format!("-{c} {v}, --{}{value}", self.long),
            (Some(c), _) => format!("-{c}, --{}{value}", self.long),
            (None, _) => format!("--{}{value}", self.long),
        }
    }
}

const LISTINGS: &[&str] = &["workflows", "user", "stats"];
/// `--tag`: a filter for listings, a tag to add for `submit`.
const TAGGED: &[&str] = &["workflows", "user", "stats", "submit"];
/// The filters of the v2 listing: `workflows`, and `stats` over it.
const WALKS: &[&str] = &["workflows", "stats"];
/// The commands that print objects, which `--fields` cuts down.
pub const OBJECTS: &[&str] = &[
    "workflows",
    "user",
    "workflow",
    "step",
    "job",
    "results",
    "scan",
];
/// The commands that take many ids and work `-j` at a time.
const MANY: &[&str] = &[
    "workflow", "job", "step", "scan", "results", "submit", "cancel", "delete",
];
const DOWNLOADS: &[&str] = &["results", "blob", "submit"];

const fn opt(id: OptId, long: &'static str, takes: Takes, scope: Scope, doc: &'static str) -> Opt {
    Opt {
        id,
        long,
        aliases: &[],
        short: None,
        takes,
        doc,
        hidden: false,
        scope,
    }
}

const fn also(mut o: Opt, aliases: &'static [&'static str]) -> Opt {
    o.aliases = aliases;
    o
}

const fn short(mut o: Opt, c: char) -> Opt {
    o.short = Some(c);
    o
}

use OptId::*;
use Scope::{Commands, Global};
use Takes::{Nothing, Optional, Value};

/// Every option, in the order help shows them.
pub const OPTIONS: &[Opt] = &[
    // Global options.
    opt(
        Json,
        "json",
        Nothing,
        Global,
        "print one JSON document (errors: one JSON line on stderr)",
    ),
    opt(
        Jsonl,
        "jsonl",
        Nothing,
        Global,
        "print one JSON object per line (lists: one item per line)",
    ),
    short(
        opt(
            Quiet,
            "quiet",
            Nothing,
            Global,
            "no notes on stderr (retries, progress)",
        ),
        'q',
    ),
    short(
        opt(
            Verbose,
            "verbose",
            Nothing,
            Global,
            "each HTTP request on stderr: method, URL, status, time,\n\
             retry; never the token, and a tokenless request's query\n\
             (a CDN's signed link) shown as [hidden]; wins over -q",
        ),
        'v',
    ),
    also(
        opt(
            ApiUrl,
            "api-url",
            Value("URL"),
            Global,
            "API base URL (default: $CIVITAI_API_URL or\nhttps://orchestration-new.civitai.com)",
        ),
        &["apiUrl"],
    ),
    opt(
        Timeout,
        "timeout",
        Value("SECS"),
        Global,
        "give up on a request after SECS (default 30)",
    ),
    opt(
        Retries,
        "retries",
        Value("N"),
        Global,
        "retries on 429/502/503/504 (default 4, 0: none)",
    ),
    also(
        opt(
            EnvFile,
            "env-file",
            Value("PATH"),
            Global,
            "read CIVITAI_API_TOKEN / CIVITAI_API_URL from PATH\n(default: ./.env when present; the environment wins)",
        ),
        &["envFile"],
    ),
    short(
        opt(
            Help,
            "help",
            Nothing,
            Global,
            "this help; 'civitai-orch help <command>' for one",
        ),
        'h',
    ),
    short(
        opt(Version, "version", Nothing, Global, "print the version"),
        'V',
    ),
    // Listing filters.
    also(
        opt(
            Tag,
            "tag",
            Value("T"),
            Commands(TAGGED),
            "only workflows with tag T (repeat: all must match);\nsubmit: add tag T to the workflow",
        ),
        &["tags"],
    ),
    opt(
        Query,
        "query",
        Value("Q"),
        Commands(LISTINGS),
        "search text in workflow metadata",
    ),
    also(
        opt(
            ExcludeFailed,
            "excludeFailed",
            Nothing,
            Commands(LISTINGS),
            "drop failed, expired and canceled workflows",
        ),
        &["exclude-failed"],
    ),
    also(
        opt(
            Oldest,
            "oldest",
            Nothing,
            Commands(LISTINGS),
            "oldest first",
        ),
        &["ascending"],
    ),
    opt(
        Take,
        "take",
        Value("N"),
        Commands(LISTINGS),
        "page size (workflows: default 20, stats: 100, at most\n100; user: 1 to 10)",
    ),
    opt(
        Cursor,
        "cursor",
        Value("C"),
        Commands(LISTINGS),
        "start at the page a previous 'Next cursor' named",
    ),
    also(
        opt(
            FromDate,
            "from",
            Value("D"),
            Commands(WALKS),
            "created on/after D: 2026-01-20,\n2026-01-20T06:00[:SS[.fff]][Z|+HH:MM], or 30m 24h 7d 2w",
        ),
        &["fromDate"],
    ),
    also(
        opt(
            ToDate,
            "to",
            Value("D"),
            Commands(WALKS),
            "created on/before D (same forms as --from)",
        ),
        &["toDate"],
    ),
    opt(
        Status,
        "status",
        Value("S[,S]"),
        Commands(WALKS),
        "keep only these statuses (filtered here, not by the API):\nunassigned preparing scheduled processing succeeded\nfailed expired canceled deleted",
    ),
    opt(
        All,
        "all",
        Nothing,
        Commands(&["workflows"]),
        "follow the pages to the end",
    ),
    opt(
        Limit,
        "limit",
        Value("N"),
        Commands(WALKS),
        "stop after N workflows (after --status)",
    ),
    // One workflow, one job.
    opt(
        Wait,
        "wait",
        Optional("SECS"),
        Commands(&["workflow", "submit"]),
        "first poll until the workflow succeeded, failed, expired\nor was canceled, for at most SECS (default 600); exit 7\nwhen it did not succeed, 8 when SECS passed",
    ),
    opt(
        Raw,
        "raw",
        Nothing,
        Commands(&["job"]),
        "print the API's response as JSON instead of a summary",
    ),
    // Files.
    opt(
        Download,
        "download",
        Nothing,
        Commands(DOWNLOADS),
        "save each available file (results: as\nWORKFLOW_STEP_INDEX.EXT; blob: as BLOBID.EXT)",
    ),
    opt(
        Dir,
        "dir",
        Value("PATH"),
        Commands(DOWNLOADS),
        "where to save (default: the current folder)",
    ),
    short(
        opt(
            Jobs,
            "jobs",
            Value("N"),
            Commands(MANY),
            "N requests or downloads at a time (default 4, at most 64)",
        ),
        'j',
    ),
    opt(
        Force,
        "force",
        Nothing,
        Commands(DOWNLOADS),
        "download again files that are already complete",
    ),
    opt(
        Nsfw,
        "nsfw",
        Nothing,
        Commands(DOWNLOADS),
        "ask for mature content too (hideMatureContent=false)",
    ),
    short(
        opt(
            Output,
            "output",
            Value("FILE"),
            Commands(&["blob"]),
            "save under this name; - writes the bytes to stdout",
        ),
        'o',
    ),
    // Investigations.
    opt(
        Fields,
        "fields",
        Value("LIST"),
        Commands(OBJECTS),
        "print only these dotted paths of each object\n(id,status,cost.total): with --json/--jsonl the objects\ncut down, else one tab-separated row per object under a\nheader; a path through a list takes every element\n(steps.$type), one that matches nothing gives null",
    ),
    opt(
        Summary,
        "summary",
        Nothing,
        Commands(&["workflow"]),
        "a text summary instead of the JSON: times, cost, tags,\neach step with its jobs and files",
    ),
    opt(
        Flagged,
        "flagged",
        Nothing,
        Commands(&["scan"]),
        "only jobs with a blocked file, a blocked_reason, or a\nscore at or over --threshold",
    ),
    opt(
        Threshold,
        "threshold",
        Value("X"),
        Commands(&["scan"]),
        "the score that flags a job, from 0 to 1 (default 0.5;\npercentages count as fractions: 87.5 % is 0.875)",
    ),
    opt(
        By,
        "by",
        Value("KEY"),
        Commands(&["stats"]),
        "add a breakdown by day, hour, tag, type or status",
    ),
    // Acting.
    opt(
        Whatif,
        "whatif",
        Nothing,
        Commands(&["submit"]),
        "only the cost estimate: nothing runs, nothing is charged",
    ),
    also(
        opt(
            MaxCost,
            "max-cost",
            Value("N"),
            Commands(&["submit"]),
            "estimate first; refuse (exit 2) when the total is over N",
        ),
        &["maxCost"],
    ),
    also(
        opt(
            ExternalId,
            "external-id",
            Value("ID"),
            Commands(&["submit"]),
            "the idempotency key (1 to 128 of A-Za-z0-9_-): the same\nkey again gives the same workflow (default: one is made)",
        ),
        &["externalId"],
    ),
    opt(
        Yes,
        "yes",
        Nothing,
        Commands(&["delete"]),
        "really delete (without it: say what would be deleted)",
    ),
    opt(
        Add,
        "add",
        Value("T"),
        Commands(&["tag"]),
        "add tag T (repeat for several)",
    ),
    opt(
        Remove,
        "remove",
        Value("T"),
        Commands(&["tag"]),
        "remove tag T (repeat for several)",
    ),
    opt(
        Clear,
        "clear",
        Nothing,
        Commands(&["tag"]),
        "remove every tag first",
    ),
    opt(
        Type,
        "type",
        Value("MIME"),
        Commands(&["upload"]),
        "the Content-Type (default: from the file's extension)",
    ),
    opt(
        Body,
        "body",
        Value("FILE"),
        Commands(&["api"]),
        "send FILE (- for stdin) as the JSON body; makes the\nmethod POST unless one is given",
    ),
    short(
        opt(
            Field,
            "field",
            Value("K=V"),
            Commands(&["api"]),
            "add a query parameter (repeat for several)",
        ),
        'f',
    ),
    short(
        opt(
            Header,
            "header",
            Value("'N: V'"),
            Commands(&["api"]),
            "add a request header (not Authorization, Host or a length)",
        ),
        'H',
    ),
    short(
        opt(
            Include,
            "include",
            Nothing,
            Commands(&["api"]),
            "print the status line and headers on stderr",
        ),
        'i',
    ),
    opt(
        Paginate,
        "paginate",
        Nothing,
        Commands(&["api"]),
        "follow next on a GET list; print the items as JSON lines",
    ),
];

/// The option spelled `--name` (main spelling or alias).
pub fn find_long(name: &str) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.longs().any(|l| l == name))
}

/// The option spelled `-c`.
pub fn find_short(c: char) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.short == Some(c))
}

/// The options a command takes besides the global ones, in table order.
pub fn of_command(command: &str) -> impl Iterator<Item = &'static Opt> + '_ {
    OPTIONS
        .iter()
        .filter(move |o| o.scope != Scope::Global && o.applies_to(command))
}

/// The global options, in table order.
pub fn globals() -> impl Iterator<Item = &'static Opt> {
    OPTIONS.iter().filter(|o| o.scope == Scope::Global)
}

/// The option's help lines: the synopsis, the doc at column 21, aliases
/// named at the end, continuation lines indented to the doc.
pub fn help_lines(o: &Opt) -> String {
    let mut doc = o.doc.to_string();
    for (i, a) in o.aliases.iter().enumerate() {
        doc.push_str(if i == 0 { "\n(also --" } else { ", --" });
        doc.push_str(a);
    }
    if !o.aliases.is_empty() {
        doc.push(')');
    }
    let mut out = String::new();
    let synopsis = o.synopsis();
    for (i, line) in doc.lines().enumerate() {
        let left = if i == 0 { synopsis.as_str() } else { "" };
        if left.len() > 17 {
            out.push_str(&format!("  {left}\n  {:17}  {line}\n", ""));
        } else {
            out.push_str(&format!("  {left:17}  {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_spelling_is_defined_twice() {
        let mut seen = std::collections::HashSet::new();
        for o in OPTIONS {
            for l in o.longs() {
                assert!(seen.insert(format!("--{l}")), "--{l} twice");
            }
            if let Some(c) = o.short {
                assert!(seen.insert(format!("-{c}")), "-{c} twice");
            }
        }
    }

    #[test]
    fn help_lines_name_every_spelling() {
        let o = find_long("tags").unwrap();
        let text = help_lines(o);
        assert!(
            text.contains("--tag=T") && text.contains("--tags"),
            "{text}"
        );
        assert_eq!(find_short('j').unwrap().synopsis(), "-j N, --jobs=N");
        assert_eq!(find_long("wait").unwrap().synopsis(), "--wait[=SECS]");
    }
}
