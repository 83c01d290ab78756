//! The command line: argv in, an [`Action`] out. No environment, no I/O.
//!
//! Global options may stand before or after the command, so the top loop reads
//! them and then hands the parser to the command's own function, which accepts
//! its options and the globals alike.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;
use lexopt::Arg;

use crate::error::{Error, Result};
use crate::help;

/// What the user asked for.
// Built once per run: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Usage of all commands (`None`) or one.
    Help(Option<String>),
    Version,
    Run(Globals, Command),
}

/// Options shared by every command.
#[derive(Debug, Default, PartialEq, Clone)]
pub struct Globals {
    pub json: bool,
    pub jsonl: bool,
    pub quiet: bool,
    pub api_url: Option<String>,
    pub timeout_secs: Option<u64>,
    pub retries: Option<u32>,
    pub env_file: Option<PathBuf>,
}

#[derive(Debug, PartialEq)]
pub enum Command {
    Test,
    User(UserOpts),
    Workflows(WorkflowsOpts),
    Workflow { id: String, wait: Option<u64> },
    Job { id: String, raw: bool },
    Step { workflow_id: String, step: String },
    Results(ResultsOpts),
    Blob(BlobOpts),
    Completions(String),
}

/// Filters shared by `workflows` and `user`.
#[derive(Debug, Default, PartialEq)]
pub struct Filters {
    pub tags: Vec<String>,
    pub query: Option<String>,
    pub exclude_failed: bool,
    pub oldest: bool,
    pub take: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Default, PartialEq)]
pub struct UserOpts {
    pub user_id: String,
    pub filters: Filters,
}

#[derive(Debug, Default, PartialEq)]
pub struct WorkflowsOpts {
    pub filters: Filters,
    /// Raw `--from` / `--to`: turned into instants by `dates` when the command runs.
    pub from: Option<String>,
    pub to: Option<String>,
    pub statuses: Vec<String>,
    pub all: bool,
    pub limit: Option<u64>,
}

#[derive(Debug, PartialEq)]
pub struct ResultsOpts {
    pub workflow_ids: Vec<String>,
    pub download: bool,
    pub dir: Option<PathBuf>,
    pub jobs: usize,
    pub force: bool,
    pub nsfw: bool,
}

#[derive(Debug, Default, PartialEq)]
pub struct BlobOpts {
    pub blob_id: String,
    pub download: bool,
    pub nsfw: bool,
    pub dir: Option<PathBuf>,
    /// `--output FILE`, or `-` for stdout.
    pub output: Option<String>,
    pub force: bool,
}

/// Seconds `--wait` waits when no value is given.
pub const DEFAULT_WAIT_SECS: u64 = 600;
/// A week: a longer wait is a mistake, and the bound keeps time arithmetic safe.
pub const MAX_WAIT_SECS: u64 = 7 * 86_400;
/// Downloads at a time when `-j` is not given.
pub const DEFAULT_JOBS: usize = 4;

/// Parses the whole argv (program name first).
pub fn parse<I>(args: I) -> Result<Action>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut p = lexopt::Parser::from_iter(args);
    let mut g = Globals::default();
    while let Some(arg) = p.next()? {
        if let Some(opt) = global_opt(&arg) {
            set_global(opt, &mut p, &mut g)?;
            continue;
        }
        match arg {
            Short('h') | Long("help") => return Ok(Action::Help(None)),
            Short('V') | Long("version") => return Ok(Action::Version),
            Value(name) => {
                let name = text(name)?;
                return parse_command(&name, &mut p, g);
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Action::Help(None))
}

fn parse_command(name: &str, p: &mut lexopt::Parser, g: Globals) -> Result<Action> {
    let spec = help::find(name).ok_or_else(|| {
        Error::usage(format!(
            "unknown command '{name}'; run 'civitai-orch --help' for the list"
        ))
    })?;
    let mut g = g;
    let parsed = match spec.name {
        "test" => no_args(p, &mut g).map(|help| (!help).then_some(Command::Test)),
        "user" => parse_user(p, &mut g),
        "workflows" => parse_workflows(p, &mut g),
        "workflow" => parse_workflow(p, &mut g),
        "job" => parse_job(p, &mut g),
        "step" => parse_step(p, &mut g),
        "results" => parse_results(p, &mut g),
        "blob" => parse_blob(p, &mut g),
        "completions" => parse_completions(p, &mut g),
        _ => return parse_help(p),
    };
    match parsed {
        Ok(Some(command)) => {
            if g.json && g.jsonl {
                return Err(Error::usage("--json and --jsonl cannot be used together")
                    .with_usage(spec.usage));
            }
            Ok(Action::Run(g, command))
        }
        Ok(None) => Ok(Action::Help(Some(spec.name.to_string()))),
        Err(e) => Err(e.with_usage(spec.usage)),
    }
}

/// The global options; recognised first, their values read after, so the
/// borrow of the parser by the current argument has ended.
#[derive(Clone, Copy)]
enum GlobalOpt {
    Json,
    Jsonl,
    Quiet,
    ApiUrl,
    Timeout,
    Retries,
    EnvFile,
}

fn global_opt(arg: &Arg) -> Option<GlobalOpt> {
    Some(match arg {
        Long("json") => GlobalOpt::Json,
        Long("jsonl") => GlobalOpt::Jsonl,
        Short('q') | Long("quiet") => GlobalOpt::Quiet,
        Long("api-url") | Long("apiUrl") => GlobalOpt::ApiUrl,
        Long("timeout") => GlobalOpt::Timeout,
        Long("retries") => GlobalOpt::Retries,
        Long("env-file") | Long("envFile") => GlobalOpt::EnvFile,
        _ => return None,
    })
}

fn set_global(opt: GlobalOpt, p: &mut lexopt::Parser, g: &mut Globals) -> Result<()> {
    match opt {
        GlobalOpt::Json => g.json = true,
        GlobalOpt::Jsonl => g.jsonl = true,
        GlobalOpt::Quiet => g.quiet = true,
        GlobalOpt::ApiUrl => g.api_url = Some(text(p.value()?)?),
        GlobalOpt::Timeout => g.timeout_secs = Some(number(p.value()?, "--timeout")?),
        GlobalOpt::Retries => g.retries = Some(number(p.value()?, "--retries")?),
        GlobalOpt::EnvFile => g.env_file = Some(p.value()?.into()),
    }
    Ok(())
}

/// The result of a command parser: `None` means `--help` was asked for.
type Parsed = Result<Option<Command>>;

fn is_help(arg: &Arg) -> bool {
    matches!(arg, Short('h') | Long("help"))
}

/// For commands without options: only globals and `--help` are accepted.
/// Returns whether help was asked for.
fn no_args(p: &mut lexopt::Parser, g: &mut Globals) -> Result<bool> {
    while let Some(arg) = p.next()? {
        if let Some(opt) = global_opt(&arg) {
            set_global(opt, p, g)?;
            continue;
        }
        if is_help(&arg) {
            return Ok(true);
        }
        return Err(arg.unexpected().into());
    }
    Ok(false)
}

/// Filters shared by `workflows` and `user`.
#[derive(Clone, Copy)]
enum FilterOpt {
    Tag,
    Query,
    ExcludeFailed,
    Oldest,
    Take,
    Cursor,
}

fn filter_opt(arg: &Arg) -> Option<FilterOpt> {
    Some(match arg {
        Long("tag") | Long("tags") => FilterOpt::Tag,
        Long("query") => FilterOpt::Query,
        Long("excludeFailed") | Long("exclude-failed") => FilterOpt::ExcludeFailed,
        Long("oldest") | Long("ascending") => FilterOpt::Oldest,
        Long("take") => FilterOpt::Take,
        Long("cursor") => FilterOpt::Cursor,
        _ => return None,
    })
}

fn set_filter(opt: FilterOpt, p: &mut lexopt::Parser, f: &mut Filters) -> Result<()> {
    match opt {
        FilterOpt::Tag => f.tags.push(text(p.value()?)?),
        FilterOpt::Query => f.query = Some(text(p.value()?)?),
        FilterOpt::ExcludeFailed => f.exclude_failed = true,
        FilterOpt::Oldest => f.oldest = true,
        FilterOpt::Take => f.take = Some(number(p.value()?, "--take")?),
        FilterOpt::Cursor => f.cursor = Some(text(p.value()?)?),
    }
    Ok(())
}

fn parse_user(p: &mut lexopt::Parser, g: &mut Globals) -> Parsed {
    let mut o = UserOpts::default();
    let mut user_id = None;
    while let Some(arg) = p.next()? {
        if let Some(opt) = global_opt(&arg) {
            set_global(opt, p, g)?;
            continue;
        }
        if let Some(opt) = filter_opt(&arg) {
            set_filter(opt, p, &mut o.filters)?;
            continue;
        }
        match arg {
            _ if is_help(&arg) => return Ok(None),
            Value(v) if user_id.is_none() => user_id = Some(id(v)?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    o.user_id = user_id.ok_or_else(|| Error::usage("missing <userId>"))?;
    if let Some(take) = o.filters.take {
        if !(1..=10).contains(&take) {
            return Err(Error::usage(format!(
                "--take must be between 1 and 10 for 'user' (got {take})"
            )));
        }
    }
    Ok(Some(Command::User(o)))
}

fn parse_workflows(p: &mut lexopt::Parser, g: &mut Globals) -> Parsed {
    let mut o = WorkflowsOpts::default();
    while let Some(arg) = p.next()? {
        if let Some(opt) = global_opt(&arg) {
            set_global(opt, p, g)?;
            continue;
        }
        if let Some(opt) = filter_opt(&arg) {
            set_filter(opt, p, &mut o.filters)?;
            continue;
        }
        match arg {
            _ if is_help(&arg) => return Ok(None),
            Long("from") | Long("fromDate") => o.from = Some(text(p.value()?)?),
            Long("to") | Long("toDate") => o.to = Some(text(p.value()?)?),
            Long("status") => {
                for s in text(p.value()?)?.split(',') {
                    o.statuses.push(status_name(s)?);
                }
            }
            Long("all") => o.all = true,
            Long("limit") => {
                o.limit = Some(number(p.value()?, "--limit")?);
                if o.limit == Some(0) {
                    return Err(Error::usage("--limit must be at least 1"));
                }
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    if o.filters.take == Some(0) {
        return Err(Error::usage("--take must be at least 1"));
    }
    Ok(Some(Command::Workflows(o)))
}

/// Every status the API reports; `--status` accepts only these.
pub const STATUSES: &[&str] = &[
    "unassigned",
    "preparing",
    "scheduled",
    "processing",
    "succeeded",
    "failed",
    "expired",
    "canceled",
    "deleted",
];

fn status_name(s: &str) -> Result<String> {
    let s = s.trim().to_ascii_lowercase();
    let s = if s == "cancelled" {
        "canceled".into()
    } else {
        s
    };
    if STATUSES.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(Error::usage(format!(
            "unknown status '{s}' for --status; use one or more of: {}",
            STATUSES.join(", ")
        )))
    }
}

fn parse_workflow(p: &mut lexopt::Parser, g: &mut Globals) -> Parsed {
    let mut id = None;
    let mut wait = None;
    while let Some(arg) = p.next()? {
        if let Some(opt) = global_opt(&arg) {
            set_global(opt, p, g)?;
            continue;
        }
        match arg {
            _ if is_help(&arg) => return Ok(None),
            Long("wait") => {
                let secs = match p.optional_value() {
                    Some(v) => number(v, "--wait")?,
                    None => DEFAULT_WAIT_SECS,
                };
                if secs > MAX_WAIT_SECS {
                    return Err(Error::usage(format!(
                        "--wait is at most {MAX_WAIT_SECS} seconds (a week)"
                    )));
                }
                wait = Some(secs);
            }
            Value(v) if id.is_none() => id = Some(self::id(v)?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let id = id.ok_or_else(|| Error::usage("missing <workflowId>"))?;
    Ok(Some(Command::Workflow { id, wait }))
}

fn parse_job(p: &mut lexopt::Parser, g: &mut Globals) -> Parsed {
    let mut id = None;
    let mut raw = false;
    while let Some(arg) = p.next()? {
        if let Some(opt) = global_opt(&arg) {
            set_global(opt, p, g)?;
            continue;
        }
        match arg {
            _ if is_help(&arg) => return Ok(None),
            Long("raw") => raw = true,
            Value(v) if id.is_none() => id = Some(self::id(v)?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let id = id.ok_or_else(|| Error::usage("missing <jobId>"))?;
    Ok(Some(Command::Job { id, raw }))
}

fn parse_step(p: &mut lexopt::Parser, g: &mut Globals) -> Parsed {
    let mut values = Vec::new();
    while let Some(arg) = p.next()? {
        if let Some(opt) = global_opt(&arg) {
            set_global(opt, p, g)?;
            continue;
        }
        match arg {
            _ if is_help(&arg) => return Ok(None),
            Value(v) if values.len() < 2 => values.push(id(v)?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let mut values = values.into_iter();
    let workflow_id = values
        .next()
        .ok_or_else(|| Error::usage("missing <workflowId>"))?;
    let step = values
        .next()
        .ok_or_else(|| Error::usage("missing <stepName>"))?;
    Ok(Some(Command::Step { workflow_id, step }))
}

fn parse_results(p: &mut lexopt::Parser, g: &mut Globals) -> Parsed {
    let mut o = ResultsOpts {
        workflow_ids: Vec::new(),
        download: false,
        dir: None,
        jobs: DEFAULT_JOBS,
        force: false,
        nsfw: false,
    };
    while let Some(arg) = p.next()? {
        if let Some(opt) = global_opt(&arg) {
            set_global(opt, p, g)?;
            continue;
        }
        match arg {
            _ if is_help(&arg) => return Ok(None),
            Long("download") => o.download = true,
            Long("dir") => o.dir = Some(p.value()?.into()),
            Short('j') | Long("jobs") => {
                o.jobs = number(p.value()?, "-j")?;
                if !(1..=64).contains(&o.jobs) {
                    return Err(Error::usage("-j must be between 1 and 64"));
                }
            }
            Long("force") => o.force = true,
            Long("nsfw") => o.nsfw = true,
            Value(v) => o.workflow_ids.push(id(v)?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    if o.workflow_ids.is_empty() {
        return Err(Error::usage("missing <workflowId>"));
    }
    Ok(Some(Command::Results(o)))
}

fn parse_blob(p: &mut lexopt::Parser, g: &mut Globals) -> Parsed {
    let mut o = BlobOpts::default();
    let mut id = None;
    while let Some(arg) = p.next()? {
        if let Some(opt) = global_opt(&arg) {
            set_global(opt, p, g)?;
            continue;
        }
        match arg {
            _ if is_help(&arg) => return Ok(None),
            Long("download") => o.download = true,
            Long("nsfw") => o.nsfw = true,
            Long("dir") => o.dir = Some(p.value()?.into()),
            Short('o') | Long("output") => o.output = Some(text(p.value()?)?),
            Long("force") => o.force = true,
            Value(v) if id.is_none() => id = Some(self::id(v)?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    o.blob_id = id.ok_or_else(|| Error::usage("missing <blobId>"))?;
    if o.output.is_some() && o.dir.is_some() {
        return Err(Error::usage("--output and --dir cannot be used together"));
    }
    Ok(Some(Command::Blob(o)))
}

fn parse_completions(p: &mut lexopt::Parser, g: &mut Globals) -> Parsed {
    let mut shell = None;
    while let Some(arg) = p.next()? {
        if let Some(opt) = global_opt(&arg) {
            set_global(opt, p, g)?;
            continue;
        }
        match arg {
            _ if is_help(&arg) => return Ok(None),
            Value(v) if shell.is_none() => shell = Some(text(v)?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    match shell.as_deref() {
        Some(s @ ("bash" | "zsh" | "fish")) => Ok(Some(Command::Completions(s.to_string()))),
        Some(other) => Err(Error::usage(format!(
            "unknown shell '{other}'; use bash, zsh or fish"
        ))),
        None => Err(Error::usage("missing <shell>: bash, zsh or fish")),
    }
}

/// `help [command]`.
fn parse_help(p: &mut lexopt::Parser) -> Result<Action> {
    let mut topic = None;
    let mut ignored = Globals::default();
    while let Some(arg) = p.next()? {
        if let Some(opt) = global_opt(&arg) {
            set_global(opt, p, &mut ignored)?;
            continue;
        }
        match arg {
            Value(v) if topic.is_none() => topic = Some(text(v)?),
            _ if is_help(&arg) => {}
            _ => return Err(arg.unexpected().into()),
        }
    }
    match topic {
        None => Ok(Action::Help(None)),
        Some(t) => match help::find(&t) {
            Some(spec) => Ok(Action::Help(Some(spec.name.to_string()))),
            None => Err(Error::usage(format!(
                "unknown command '{t}'; run 'civitai-orch --help' for the list"
            ))),
        },
    }
}

/// An id or name for a path segment: an empty one would change the path.
fn id(v: OsString) -> Result<String> {
    let s = text(v)?;
    if s.trim().is_empty() {
        return Err(Error::usage("an id cannot be empty"));
    }
    Ok(s)
}

fn text(v: OsString) -> Result<String> {
    v.into_string()
        .map_err(|v| Error::usage(format!("{} is not valid UTF-8", v.to_string_lossy())))
}

fn number<T: std::str::FromStr>(v: OsString, flag: &str) -> Result<T> {
    let s = text(v)?;
    s.trim().parse().map_err(|_| {
        Error::usage(format!(
            "invalid value for {flag}: '{s}' is not a whole number"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Action> {
        parse(std::iter::once("civitai-orch").chain(args.iter().copied()))
    }

    fn command(args: &[&str]) -> (Globals, Command) {
        match run(args) {
            Ok(Action::Run(g, c)) => (g, c),
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    fn usage_error(args: &[&str]) -> String {
        match run(args) {
            Err(e) => {
                assert_eq!(e.exit_code(), 2, "{args:?}");
                e.message
            }
            other => panic!("{args:?} should fail, gave {other:?}"),
        }
    }

    #[test]
    fn no_arguments_is_help() {
        assert_eq!(run(&[]).unwrap(), Action::Help(None));
        assert_eq!(run(&["--help"]).unwrap(), Action::Help(None));
        assert_eq!(run(&["-V"]).unwrap(), Action::Version);
    }

    #[test]
    fn globals_go_before_or_after_the_command() {
        let (g1, c1) = command(&["--json", "--api-url", "http://x", "test"]);
        let (g2, c2) = command(&["test", "--api-url=http://x", "--json"]);
        assert_eq!((g1, c1), (g2, c2));
    }

    #[test]
    fn option_values_take_both_spellings() {
        let (_, a) = command(&["workflows", "--take=5", "--tag", "a", "--tag=b"]);
        let (_, b) = command(&["workflows", "--take", "5", "--tags=a", "--tag", "b"]);
        assert_eq!(a, b);
        match a {
            Command::Workflows(o) => {
                assert_eq!(o.filters.take, Some(5));
                assert_eq!(o.filters.tags, ["a", "b"]);
            }
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn camel_and_kebab_spellings_agree() {
        let (_, a) = command(&["workflows", "--excludeFailed", "--oldest"]);
        let (_, b) = command(&["workflows", "--exclude-failed", "--ascending"]);
        assert_eq!(a, b);
    }

    #[test]
    fn wait_takes_its_value_only_with_equals() {
        let (_, c) = command(&["workflow", "abc", "--wait"]);
        assert_eq!(
            c,
            Command::Workflow {
                id: "abc".into(),
                wait: Some(DEFAULT_WAIT_SECS)
            }
        );
        let (_, c) = command(&["workflow", "--wait=5", "abc"]);
        assert_eq!(
            c,
            Command::Workflow {
                id: "abc".into(),
                wait: Some(5)
            }
        );
        // `--wait 5` leaves 5 as a second positional: refused.
        usage_error(&["workflow", "abc", "--wait", "5"]);
    }

    #[test]
    fn user_take_is_bounded() {
        assert!(usage_error(&["user", "1", "--take=11"]).contains("between 1 and 10"));
        usage_error(&["user", "1", "--take=0"]);
        let (_, c) = command(&["user-workflows", "42", "--take=10"]);
        assert!(matches!(c, Command::User(UserOpts { ref user_id, .. }) if user_id == "42"));
    }

    #[test]
    fn statuses_are_checked() {
        let (_, c) = command(&["workflows", "--status=succeeded,Processing"]);
        match c {
            Command::Workflows(o) => assert_eq!(o.statuses, ["succeeded", "processing"]),
            c => panic!("{c:?}"),
        }
        assert!(usage_error(&["workflows", "--status=done"]).contains("unknown status"));
    }

    #[test]
    fn bad_input_is_a_usage_error_with_the_usage_line() {
        let e = run(&["workflows", "--bogus"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(e.usage, Some(help::usage_of("workflows")));
        usage_error(&["frobnicate"]);
        usage_error(&["workflows", "--take=abc"]);
        usage_error(&["workflow"]);
        usage_error(&["step", "wf"]);
        usage_error(&["job", "a", "b"]);
        usage_error(&["--json", "--jsonl", "test"]);
        usage_error(&["results"]);
        usage_error(&["results", "x", "-j", "0"]);
        usage_error(&["--timeout"]);
        usage_error(&["workflow", ""]);
        usage_error(&["workflows", "--limit=0"]);
        usage_error(&["workflow", "x", "--wait=99999999999999"]);
        assert_eq!(
            run(&["help", "job", "--json"]).unwrap(),
            Action::Help(Some("job".into()))
        );
    }

    #[test]
    fn command_help_is_an_action() {
        assert_eq!(
            run(&["workflows", "--help"]).unwrap(),
            Action::Help(Some("workflows".into()))
        );
        assert_eq!(
            run(&["help", "user-workflows"]).unwrap(),
            Action::Help(Some("user".into()))
        );
    }

    #[test]
    fn results_takes_several_ids_and_jobs() {
        let (_, c) = command(&["results", "a", "b", "-j", "2", "--download"]);
        match c {
            Command::Results(o) => {
                assert_eq!(o.workflow_ids, ["a", "b"]);
                assert_eq!(o.jobs, 2);
                assert!(o.download);
            }
            c => panic!("{c:?}"),
        }
    }
}
