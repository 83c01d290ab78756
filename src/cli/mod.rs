//! The command line: argv in, an [`Action`] out. No environment, no I/O.
//!
//! One lexopt loop reads the whole line. Each option is looked up in the
//! table of `options` (which also feeds help and completions), checked
//! against the command it follows, and stored as a raw value; then the
//! command's own builder checks its arguments and makes the [`Command`].
//! Global options may stand before or after the command name.

pub mod completions;
pub mod help;
pub mod options;
mod suggest;

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::Arg::{Long, Short, Value};

use crate::config::Flags;
use crate::error::{Error, Result};
use crate::fields::Fields;
use help::CommandSpec;
use options::{Opt, OptId, Takes};

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

/// How results are printed, chosen once for the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// For people: listings, summaries, pretty JSON documents.
    #[default]
    Text,
    /// `--json`: one JSON document.
    Json,
    /// `--jsonl`: one JSON object per line.
    Jsonl,
}

impl Mode {
    /// Whether the output is JSON of either form.
    pub fn is_json(self) -> bool {
        self != Mode::Text
    }
}

/// Options shared by every command.
#[derive(Debug, Default, PartialEq, Clone)]
pub struct Globals {
    pub mode: Mode,
    pub quiet: bool,
    /// `-v`: one line on stderr per HTTP request.
    pub verbose: bool,
    /// `--fields`: only these parts of each object.
    pub fields: Option<Fields>,
    /// Settings that `config` resolves with the environment.
    pub flags: Flags,
}

#[derive(Debug, PartialEq)]
pub enum Command {
    Test,
    User(UserOpts),
    Workflows(WorkflowsOpts),
    Workflow(WorkflowOpts),
    Job(JobOpts),
    Step(StepOpts),
    Scan(ScanOpts),
    Stats(StatsOpts),
    Results(ResultsOpts),
    Blob(BlobOpts),
    Submit(SubmitOpts),
    Cancel(IdsOpts),
    Delete(DeleteOpts),
    Tag(TagOpts),
    Upload(UploadOpts),
    Api(ApiOpts),
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

/// `workflow`: one or many ids (`-` reads them from stdin).
#[derive(Debug, PartialEq)]
pub struct WorkflowOpts {
    pub ids: Vec<String>,
    pub wait: Option<u64>,
    pub summary: bool,
    pub jobs: usize,
}

#[derive(Debug, PartialEq)]
pub struct JobOpts {
    pub ids: Vec<String>,
    pub raw: bool,
    pub jobs: usize,
}

/// `step`: one or many step names of one workflow.
#[derive(Debug, PartialEq)]
pub struct StepOpts {
    pub workflow_id: String,
    pub steps: Vec<String>,
    pub jobs: usize,
}

/// `scan`: workflow and job ids, mixed.
#[derive(Debug, PartialEq)]
pub struct ScanOpts {
    pub ids: Vec<String>,
    pub jobs: usize,
    pub flagged: bool,
    pub threshold: f64,
}

/// The score that flags a job when `--threshold` is not given.
pub const DEFAULT_THRESHOLD: f64 = 0.5;

/// `stats`: the walk of `workflows --all`, counted.
#[derive(Debug, PartialEq)]
pub struct StatsOpts {
    pub walk: WorkflowsOpts,
    pub by: Option<By>,
}

/// `stats --by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Day,
    Hour,
    Tag,
    Type,
    Status,
}

/// `submit FILE|-`.
#[derive(Debug, PartialEq)]
pub struct SubmitOpts {
    /// The template's path, or `-` for stdin.
    pub file: String,
    pub tags: Vec<String>,
    pub whatif: bool,
    pub max_cost: Option<f64>,
    pub external_id: Option<String>,
    pub wait: Option<u64>,
    /// `--download [--dir] [-j] [--force] [--nsfw]` after the wait.
    pub results: Option<ResultsOpts>,
}

/// The API's limits on a workflow's tags.
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_LEN: usize = 200;

/// `cancel`: ids, or `-`.
#[derive(Debug, PartialEq)]
pub struct IdsOpts {
    pub ids: Vec<String>,
    pub jobs: usize,
}

#[derive(Debug, PartialEq)]
pub struct DeleteOpts {
    pub ids: Vec<String>,
    pub jobs: usize,
    pub yes: bool,
}

/// `tag ID [--add T]... [--remove T]... [--clear]`.
#[derive(Debug, PartialEq)]
pub struct TagOpts {
    pub id: String,
    pub add: Vec<String>,
    pub remove: Vec<String>,
    pub clear: bool,
}

#[derive(Debug, PartialEq)]
pub struct UploadOpts {
    pub file: PathBuf,
    pub content_type: Option<String>,
}

/// `api [METHOD] PATH`.
#[derive(Debug, PartialEq)]
pub struct ApiOpts {
    /// Upper case; `None`: GET, or POST with a body.
    pub method: Option<String>,
    pub path: String,
    /// `--body FILE|-`.
    pub body: Option<String>,
    /// `-f key=value`, in order.
    pub params: Vec<(String, String)>,
    /// `-H 'Name: value'`, in order.
    pub headers: Vec<(String, String)>,
    pub include: bool,
    pub paginate: bool,
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

/// Every option's raw value, as typed; the command builders check them.
#[derive(Default)]
struct Raw {
    positionals: Vec<OsString>,
    /// `--wait=2` when `--wait 2` was typed: the hint for a stray `2`.
    stray: Option<String>,
    json: bool,
    jsonl: bool,
    help: bool,
    version: bool,
    filters: Filters,
    from: Option<String>,
    to: Option<String>,
    statuses: Vec<String>,
    all: bool,
    limit: Option<u64>,
    wait: Option<u64>,
    raw: bool,
    download: bool,
    dir: Option<PathBuf>,
    jobs: Option<usize>,
    force: bool,
    nsfw: bool,
    output: Option<String>,
    fields: Option<String>,
    summary: bool,
    flagged: bool,
    threshold: Option<f64>,
    by: Option<By>,
    whatif: bool,
    max_cost: Option<f64>,
    external_id: Option<String>,
    yes: bool,
    add: Vec<String>,
    remove: Vec<String>,
    clear: bool,
    content_type: Option<String>,
    body: Option<String>,
    params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    include: bool,
    paginate: bool,
}

/// Parses the whole argv (program name first).
pub fn parse<I>(args: I) -> Result<Action>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut p = lexopt::Parser::from_iter(args);
    let mut command: Option<&'static CommandSpec> = None;
    let mut raw = Raw::default();
    let mut g = Globals::default();
    let usage = |c: Option<&'static CommandSpec>| c.map_or(help::OVERVIEW_USAGE, |c| c.usage);
    while let Some(arg) = p
        .next()
        .map_err(|e| Error::from(e).with_usage(usage(command)))?
    {
        let opt = match arg {
            Value(v) if command.is_none() => {
                command = Some(find_command(&text(v)?)?);
                continue;
            }
            Value(v) => {
                raw.positionals.push(v);
                continue;
            }
            Long(name) => options::find_long(name).ok_or_else(|| unknown_long(name, command)),
            Short(c) => options::find_short(c).ok_or_else(|| unknown(&format!("-{c}"))),
        };
        let opt = opt.map_err(|e| e.with_usage(usage(command)))?;
        if let Some(hint) = bare_value_after(opt, &mut p) {
            raw.stray = Some(hint);
        }
        set(opt, command, &mut p, &mut raw, &mut g).map_err(|e| e.with_usage(usage(command)))?;
    }
    let spec = match (command, raw.help, raw.version) {
        (Some(c), _, _) if c.name == "help" => return help_topic(&raw),
        (c, true, _) => return Ok(Action::Help(c.map(|c| c.name.to_string()))),
        (_, false, true) => return Ok(Action::Version),
        (None, false, false) => return Ok(Action::Help(None)),
        (Some(c), false, false) => c,
    };
    g.mode = mode(&raw, spec).map_err(|e| e.with_usage(spec.usage))?;
    g.fields = fields(&raw, g.mode).map_err(|e| e.with_usage(spec.usage))?;
    let command = build(spec.name, raw).map_err(|e| e.with_usage(spec.usage))?;
    Ok(Action::Run(g, command))
}

fn find_command(name: &str) -> Result<&'static CommandSpec> {
    help::find(name).ok_or_else(|| {
        let names = help::COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()));
        Error::usage(match suggest::nearest(name, names) {
            Some(near) => format!("unknown command '{name}'; did you mean '{near}'?"),
            None => format!("unknown command '{name}'; run 'civitai-orch --help' for the list"),
        })
    })
}

fn unknown(spelling: &str) -> Error {
    Error::usage(format!("invalid option '{spelling}'"))
}

/// `--name` is no option: the nearest spelling among the options of the
/// command given (of all, before a command or after `help`), if one is near.
fn unknown_long(name: &str, command: Option<&CommandSpec>) -> Error {
    let fits = |o: &&Opt| {
        !o.hidden
            && match command {
                Some(c) if c.name != "help" => o.applies_to(c.name),
                _ => true,
            }
    };
    let spellings = options::OPTIONS.iter().filter(fits).flat_map(Opt::longs);
    match suggest::nearest(name, spellings) {
        Some(near) => Error::usage(format!("invalid option '--{name}'; did you mean --{near}?")),
        None => unknown(&format!("--{name}")),
    }
}

/// `--wait=2` when an option whose value is optional (`--wait`), given
/// without one, is followed by a whole number: that number was surely meant
/// as its value, but such an option takes it only with `=`.
fn bare_value_after(opt: &Opt, p: &mut lexopt::Parser) -> Option<String> {
    if !matches!(opt.takes, Takes::Optional(_)) {
        return None;
    }
    // No raw arguments while a value is attached (`--wait=5`).
    let rest = p.try_raw_args()?;
    let next = rest.peek()?.to_str()?;
    let number = !next.is_empty() && next.bytes().all(|b| b.is_ascii_digit());
    number.then(|| format!("--{}={next}", opt.long))
}

/// Stores one option's value, after checking that it belongs where it stands.
fn set(
    opt: &'static Opt,
    command: Option<&'static CommandSpec>,
    p: &mut lexopt::Parser,
    raw: &mut Raw,
    g: &mut Globals,
) -> Result<()> {
    match command {
        Some(c) if c.name != "help" && !opt.applies_to(c.name) => {
            return Err(Error::usage(format!(
                "'{}' does not take --{}",
                c.name, opt.long
            )));
        }
        None if !opt.applies_to("") => {
            return Err(Error::usage(format!(
                "--{} goes after the command name",
                opt.long
            )));
        }
        _ => {}
    }
    let value = |p: &mut lexopt::Parser| -> Result<OsString> {
        match opt.takes {
            Takes::Optional(_) => Ok(p.optional_value().unwrap_or_default()),
            _ => p
                .value()
                .map_err(|_| Error::usage(format!("--{} needs a value", opt.long))),
        }
    };
    match opt.id {
        OptId::Json => raw.json = true,
        OptId::Jsonl => raw.jsonl = true,
        OptId::Quiet => g.quiet = true,
        OptId::Verbose => g.verbose = true,
        OptId::ApiUrl => g.flags.api_url = Some(text(value(p)?)?),
        OptId::Timeout => g.flags.timeout_secs = Some(number(value(p)?, opt)?),
        OptId::Retries => g.flags.retries = Some(narrow(number(value(p)?, opt)?, opt)?),
        OptId::EnvFile => g.flags.env_file = Some(value(p)?.into()),
        OptId::Help => raw.help = true,
        OptId::Version => raw.version = true,
        OptId::Tag => raw.filters.tags.push(text(value(p)?)?),
        OptId::Query => raw.filters.query = Some(text(value(p)?)?),
        OptId::ExcludeFailed => raw.filters.exclude_failed = true,
        OptId::Oldest => raw.filters.oldest = true,
        OptId::Take => raw.filters.take = Some(narrow(number(value(p)?, opt)?, opt)?),
        OptId::Cursor => raw.filters.cursor = Some(text(value(p)?)?),
        OptId::FromDate => raw.from = Some(text(value(p)?)?),
        OptId::ToDate => raw.to = Some(text(value(p)?)?),
        OptId::Status => {
            for s in text(value(p)?)?.split(',') {
                raw.statuses.push(status_name(s)?);
            }
        }
        OptId::All => raw.all = true,
        OptId::Limit => raw.limit = Some(number(value(p)?, opt)?),
        OptId::Wait => {
            let v = value(p)?;
            let secs = if v.is_empty() {
                DEFAULT_WAIT_SECS
            } else {
                number(v, opt)?
            };
            if secs > MAX_WAIT_SECS {
                return Err(Error::usage(format!(
                    "--wait is at most {MAX_WAIT_SECS} seconds (a week)"
                )));
            }
            raw.wait = Some(secs);
        }
        OptId::Raw => raw.raw = true,
        OptId::Download => raw.download = true,
        OptId::Dir => raw.dir = Some(value(p)?.into()),
        OptId::Jobs => raw.jobs = Some(narrow(number(value(p)?, opt)?, opt)?),
        OptId::Force => raw.force = true,
        OptId::Nsfw => raw.nsfw = true,
        OptId::Output => raw.output = Some(text(value(p)?)?),
        OptId::Fields => raw.fields = Some(text(value(p)?)?),
        OptId::Summary => raw.summary = true,
        OptId::Flagged => raw.flagged = true,
        OptId::Threshold => raw.threshold = Some(threshold(&text(value(p)?)?)?),
        OptId::By => raw.by = Some(by(&text(value(p)?)?)?),
        OptId::Whatif => raw.whatif = true,
        OptId::MaxCost => raw.max_cost = Some(max_cost(&text(value(p)?)?)?),
        OptId::ExternalId => raw.external_id = Some(external_id(text(value(p)?)?)?),
        OptId::Yes => raw.yes = true,
        OptId::Add => raw.add.push(tag_value(text(value(p)?)?)?),
        OptId::Remove => raw.remove.push(tag_value(text(value(p)?)?)?),
        OptId::Clear => raw.clear = true,
        OptId::Type => raw.content_type = Some(content_type(text(value(p)?)?)?),
        OptId::Body => raw.body = Some(text(value(p)?)?),
        OptId::Field => raw.params.push(param(&text(value(p)?)?)?),
        OptId::Header => raw.headers.push(header(&text(value(p)?)?)?),
        OptId::Include => raw.include = true,
        OptId::Paginate => raw.paginate = true,
    }
    Ok(())
}

/// The output mode: `--json` and `--jsonl` exclude each other, and a
/// command whose output is not JSON refuses both.
fn mode(raw: &Raw, spec: &CommandSpec) -> Result<Mode> {
    match (raw.json, raw.jsonl) {
        (true, true) => Err(Error::usage("--json and --jsonl cannot be used together")),
        (false, false) => Ok(Mode::Text),
        _ if spec.name == "completions" => Err(Error::usage(
            "'completions' prints a shell script; --json and --jsonl do not apply",
        )),
        (true, false) => Ok(Mode::Json),
        (false, true) => Ok(Mode::Jsonl),
    }
}

/// `--fields`, checked; `--summary` is a text view of its own.
fn fields(raw: &Raw, mode: Mode) -> Result<Option<Fields>> {
    if raw.summary && (raw.fields.is_some() || mode.is_json()) {
        return Err(Error::usage(
            "--summary is a text view; for JSON or a few fields use --json or --fields",
        ));
    }
    raw.fields
        .as_deref()
        .map(|list| Fields::parse(list).map_err(|why| Error::usage(format!("--fields: {why}"))))
        .transpose()
}

/// `--threshold`: a fraction, or a percentage (`87.5%`).
fn threshold(s: &str) -> Result<f64> {
    let t = s.trim();
    let (n, scale) = match t.strip_suffix('%') {
        Some(p) => (p.trim(), 100.0),
        None => (t, 1.0),
    };
    match n.parse::<f64>() {
        Ok(x) if (0.0..=scale).contains(&x) => Ok(x / scale),
        _ => Err(Error::usage(format!(
            "invalid value for --threshold: '{s}'; use a number from 0 to 1 (or 0% to 100%)"
        ))),
    }
}

fn by(s: &str) -> Result<By> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "day" => By::Day,
        "hour" => By::Hour,
        "tag" => By::Tag,
        "type" => By::Type,
        "status" => By::Status,
        _ => {
            return Err(Error::usage(format!(
                "invalid value for --by: '{s}'; use day, hour, tag, type or status"
            )))
        }
    })
}

/// `help [command]`.
fn help_topic(raw: &Raw) -> Result<Action> {
    let mut topics = raw.positionals.iter();
    let topic = topics.next().cloned().map(text).transpose()?;
    if let Some(extra) = topics.next() {
        return Err(
            Error::usage(format!("unexpected argument '{}'", extra.to_string_lossy()))
                .with_usage(help::usage_of("help")),
        );
    }
    match topic {
        None => Ok(Action::Help(None)),
        Some(t) => Ok(Action::Help(Some(find_command(&t)?.name.to_string()))),
    }
}

/// The command's arguments checked and turned into a [`Command`].
fn build(name: &str, mut raw: Raw) -> Result<Command> {
    let mut args = Args(std::mem::take(&mut raw.positionals).into_iter());
    let stray = raw.stray.take();
    let command = match name {
        "test" => Command::Test,
        "user" => {
            let user_id = args.id("<userId>")?;
            if let Some(take) = raw.filters.take {
                if !(1..=10).contains(&take) {
                    return Err(Error::usage(format!(
                        "--take must be between 1 and 10 for 'user' (got {take})"
                    )));
                }
            }
            Command::User(UserOpts {
                user_id,
                filters: raw.filters,
            })
        }
        "workflows" => Command::Workflows(workflows(raw)?),
        "stats" => Command::Stats(StatsOpts {
            by: raw.by,
            walk: workflows(raw)?,
        }),
        "workflow" => {
            let ids = args.ids("<workflowId>")?;
            if raw.wait.is_some() && (ids.len() > 1 || ids[0] == "-") {
                return Err(match (&stray, ids.get(1)) {
                    (Some(meant), Some(extra)) => Error::usage(format!(
                        "unexpected argument '{extra}' (did you mean {meant}?)"
                    )),
                    _ => Error::usage("--wait takes one workflow id"),
                });
            }
            Command::Workflow(WorkflowOpts {
                ids,
                wait: raw.wait,
                summary: raw.summary,
                jobs: jobs(&raw)?,
            })
        }
        "job" => Command::Job(JobOpts {
            ids: args.ids("<jobId>")?,
            raw: raw.raw,
            jobs: jobs(&raw)?,
        }),
        "step" => {
            let workflow_id = args.id("<workflowId>")?;
            if workflow_id == "-" {
                return Err(Error::usage(
                    "'-' reads step names from stdin; the workflow id comes first",
                ));
            }
            Command::Step(StepOpts {
                workflow_id,
                steps: args.ids("<stepName>")?,
                jobs: jobs(&raw)?,
            })
        }
        "scan" => Command::Scan(ScanOpts {
            ids: args.ids("<workflowId|jobId>")?,
            jobs: jobs(&raw)?,
            flagged: raw.flagged,
            threshold: raw.threshold.unwrap_or(DEFAULT_THRESHOLD),
        }),
        "results" => results(raw, &mut args)?,
        "submit" => submit(raw, &mut args)?,
        "cancel" => Command::Cancel(IdsOpts {
            ids: args.ids("<workflowId>")?,
            jobs: jobs(&raw)?,
        }),
        "delete" => Command::Delete(DeleteOpts {
            ids: args.ids("<workflowId>")?,
            jobs: jobs(&raw)?,
            yes: raw.yes,
        }),
        "tag" => {
            if raw.add.is_empty() && raw.remove.is_empty() && !raw.clear {
                return Err(Error::usage(
                    "say what to change: --add=T, --remove=T or --clear",
                ));
            }
            let id = args.id("<workflowId>")?;
            if id == "-" {
                return Err(Error::usage(
                    "tag changes one workflow: give its id, not '-' (stdin)",
                ));
            }
            Command::Tag(TagOpts {
                id,
                add: raw.add,
                remove: raw.remove,
                clear: raw.clear,
            })
        }
        "upload" => Command::Upload(UploadOpts {
            file: args.id("<file>")?.into(),
            content_type: raw.content_type,
        }),
        "api" => api(raw, &mut args)?,
        "blob" => blob(raw, &mut args)?,
        "completions" => match args.next_text()?.as_deref() {
            Some(s @ ("bash" | "zsh" | "fish")) => Command::Completions(s.to_string()),
            Some(other) => {
                return Err(Error::usage(format!(
                    "unknown shell '{other}'; use bash, zsh or fish"
                )))
            }
            None => return Err(Error::usage("missing <shell>: bash, zsh or fish")),
        },
        other => return Err(Error::usage(format!("unknown command '{other}'"))),
    };
    args.end().map_err(|mut e| {
        if let Some(meant) = stray {
            e.message = format!("{} (did you mean {meant}?)", e.message);
        }
        e
    })?;
    Ok(command)
}

fn workflows(raw: Raw) -> Result<WorkflowsOpts> {
    if let Some(take) = raw.filters.take {
        if !(1..=100).contains(&take) {
            return Err(Error::usage(format!(
                "--take must be between 1 and 100 (got {take})"
            )));
        }
    }
    if raw.limit == Some(0) {
        return Err(Error::usage("--limit must be at least 1"));
    }
    let o = WorkflowsOpts {
        filters: raw.filters,
        from: raw.from,
        to: raw.to,
        statuses: raw.statuses,
        all: raw.all,
        limit: raw.limit,
    };
    Ok(o)
}

/// `-j N`: requests (or downloads) at a time.
fn jobs(raw: &Raw) -> Result<usize> {
    let jobs = raw.jobs.unwrap_or(DEFAULT_JOBS);
    if !(1..=64).contains(&jobs) {
        return Err(Error::usage("-j must be between 1 and 64"));
    }
    Ok(jobs)
}

/// `--dir`, `--force` and `-j` say how to save: without `--download` they
/// would be ignored, which a careless line deserves to hear about.
fn needs_download(raw: &Raw, download: bool) -> Result<()> {
    let given = [
        ("--dir", raw.dir.is_some()),
        ("--force", raw.force),
        ("-j", raw.jobs.is_some()),
    ];
    match given.iter().find(|(_, set)| *set) {
        Some((name, _)) if !download => {
            Err(Error::usage(format!("{name} applies only with --download")))
        }
        _ => Ok(()),
    }
}

fn results(raw: Raw, args: &mut Args) -> Result<Command> {
    needs_download(&raw, raw.download)?;
    let jobs = jobs(&raw)?;
    Ok(Command::Results(ResultsOpts {
        workflow_ids: args.ids("<workflowId>")?,
        download: raw.download,
        dir: raw.dir,
        jobs,
        force: raw.force,
        nsfw: raw.nsfw,
    }))
}

fn submit(mut raw: Raw, args: &mut Args) -> Result<Command> {
    needs_download(&raw, raw.download)?;
    if raw.nsfw && !raw.download {
        // It steers the read of the files, nothing else of a submit.
        return Err(Error::usage("--nsfw applies only with --download"));
    }
    if raw.download && raw.wait.is_none() {
        return Err(Error::usage(
            "--download needs --wait: the files exist once the workflow has ended",
        ));
    }
    if raw.whatif && (raw.wait.is_some() || raw.download || raw.max_cost.is_some()) {
        return Err(Error::usage(
            "--whatif only estimates: --wait, --download and --max-cost do not apply",
        ));
    }
    if raw.whatif && raw.external_id.is_some() {
        return Err(Error::usage(
            "--whatif never sends an idempotency key (the API would spend it on the estimate)",
        ));
    }
    let tags = std::mem::take(&mut raw.filters.tags);
    for t in &tags {
        tag_value(t.clone())?;
    }
    let file = args.id("<file>")?;
    let results = raw.download.then(|| -> Result<ResultsOpts> {
        Ok(ResultsOpts {
            workflow_ids: Vec::new(),
            download: true,
            dir: raw.dir.clone(),
            jobs: jobs(&raw)?,
            force: raw.force,
            nsfw: raw.nsfw,
        })
    });
    Ok(Command::Submit(SubmitOpts {
        file,
        tags,
        whatif: raw.whatif,
        max_cost: raw.max_cost,
        external_id: raw.external_id,
        wait: raw.wait,
        results: results.transpose()?,
    }))
}

fn api(raw: Raw, args: &mut Args) -> Result<Command> {
    let first = args.id("<path>")?;
    let (method, path) = match args.next_id()? {
        Some(path) => {
            let m = first.to_ascii_uppercase();
            if !matches!(
                m.as_str(),
                "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE"
            ) {
                return Err(Error::usage(format!(
                    "unknown method '{first}'; use GET, HEAD, POST, PUT, PATCH or DELETE"
                )));
            }
            (Some(m), path)
        }
        None => (None, first),
    };
    if raw.paginate && method.as_deref().is_some_and(|m| m != "GET") {
        return Err(Error::usage("--paginate follows GET lists only"));
    }
    Ok(Command::Api(ApiOpts {
        method,
        path,
        body: raw.body,
        params: raw.params,
        headers: raw.headers,
        include: raw.include,
        paginate: raw.paginate,
    }))
}

/// `--max-cost N`: a number of Buzz, not negative.
fn max_cost(s: &str) -> Result<f64> {
    match s.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
        _ => Err(Error::usage(format!(
            "invalid value for --max-cost: '{s}' is not a number of Buzz (0 or more)"
        ))),
    }
}

/// `--external-id`: 1 to 128 of `A-Za-z0-9_-`, as the API takes it.
fn external_id(s: String) -> Result<String> {
    let ok = (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(s)
    } else {
        Err(Error::usage(format!(
            "invalid value for --external-id: '{}'; use 1 to 128 of A-Z a-z 0-9 _ -",
            crate::text::escape(&crate::text::cut(&s, 40))
        )))
    }
}

/// A tag as the API takes it: not empty, at most 200 characters.
fn tag_value(t: String) -> Result<String> {
    let n = t.chars().count();
    if n == 0 || n > MAX_TAG_LEN {
        return Err(Error::usage(format!(
            "a tag is 1 to {MAX_TAG_LEN} characters (got {n})"
        )));
    }
    if t.trim().is_empty() {
        return Err(Error::usage("a tag cannot be only blanks"));
    }
    Ok(t)
}

/// `--type`: a media type, `type/subtype`.
fn content_type(t: String) -> Result<String> {
    let ok = t
        .split_once('/')
        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        && !t.bytes().any(|b| b.is_ascii_control() || b == b' ');
    if ok {
        Ok(t)
    } else {
        Err(Error::usage(format!(
            "invalid value for --type: '{}'; use a media type like image/png",
            crate::text::escape(&t)
        )))
    }
}

/// `-f key=value`.
fn param(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(Error::usage(format!(
            "invalid value for -f: '{}'; use key=value",
            crate::text::escape(s)
        ))),
    }
}

/// `-H 'Name: value'`; never `Authorization` (the token is the program's).
fn header(s: &str) -> Result<(String, String)> {
    let Some((name, value)) = s.split_once(':') else {
        return Err(Error::usage(format!(
            "invalid value for -H: '{}'; use 'Name: value'",
            crate::text::escape(s)
        )));
    };
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::usage(format!(
            "invalid value for -H: '{}'; use 'Name: value'",
            crate::text::escape(s)
        )));
    }
    if name.eq_ignore_ascii_case("authorization") {
        return Err(Error::usage(
            "-H cannot set Authorization: the token comes from CIVITAI_API_TOKEN",
        ));
    }
    // The request's framing and its host are the program's: a `Host` would
    // send the token to another site behind the same server, a length that
    // is not the body's leaves the server waiting for bytes that never come.
    if let Some(own) = ["Host", "Content-Length", "Transfer-Encoding"]
        .iter()
        .find(|h| name.eq_ignore_ascii_case(h))
    {
        return Err(Error::usage(format!(
            "-H cannot set {own}: the API URL and the body decide it"
        )));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

fn blob(raw: Raw, args: &mut Args) -> Result<Command> {
    needs_download(&raw, raw.download || raw.output.is_some())?;
    if raw.output.is_some() && raw.dir.is_some() {
        return Err(Error::usage("--output and --dir cannot be used together"));
    }
    if let Some(o) = &raw.output {
        if o.is_empty() || o.ends_with('/') || o == "." || o.ends_with("/.") || o.ends_with("/..") {
            return Err(Error::usage(format!(
                "--output needs a file name, not '{o}' (a folder goes in --dir)"
            )));
        }
    }
    Ok(Command::Blob(BlobOpts {
        blob_id: args.id("<blobId>")?,
        download: raw.download,
        nsfw: raw.nsfw,
        dir: raw.dir,
        output: raw.output,
        force: raw.force,
    }))
}

/// The positional arguments, taken in order.
struct Args(std::vec::IntoIter<OsString>);

impl Args {
    fn next_text(&mut self) -> Result<Option<String>> {
        self.0.next().map(text).transpose()
    }

    /// The next id or name for a path segment: an empty one would change the path.
    fn next_id(&mut self) -> Result<Option<String>> {
        match self.next_text()? {
            Some(s) if s.trim().is_empty() => Err(Error::usage("an id cannot be empty")),
            other => Ok(other),
        }
    }

    /// The rest of the arguments, at least one: ids, or `-` for stdin.
    fn ids(&mut self, name: &str) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        while let Some(id) = self.next_id()? {
            ids.push(id);
        }
        if ids.is_empty() {
            return Err(Error::usage(format!("missing {name}")));
        }
        Ok(ids)
    }

    fn id(&mut self, name: &str) -> Result<String> {
        self.next_id()?
            .ok_or_else(|| Error::usage(format!("missing {name}")))
    }

    /// Refuses what is left over.
    fn end(&mut self) -> Result<()> {
        match self.0.next() {
            Some(extra) => Err(Error::usage(format!(
                "unexpected argument '{}'",
                extra.to_string_lossy()
            ))),
            None => Ok(()),
        }
    }
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

fn text(v: OsString) -> Result<String> {
    v.into_string()
        .map_err(|v| Error::usage(format!("{} is not valid UTF-8", v.to_string_lossy())))
}

/// A whole number; one parser for every numeric option (each `parse::<T>`
/// would be code of its own), narrowed by [`narrow`] where needed.
fn number(v: OsString, opt: &Opt) -> Result<u64> {
    let s = text(v)?;
    s.trim().parse().map_err(|_| {
        Error::usage(format!(
            "invalid value for {}: '{s}' is not a whole number",
            flag_name(opt)
        ))
    })
}

fn narrow<T: TryFrom<u64>>(n: u64, opt: &Opt) -> Result<T> {
    T::try_from(n).map_err(|_| {
        Error::usage(format!(
            "invalid value for {}: {n} is too large",
            flag_name(opt)
        ))
    })
}

/// `-j` for the option that people type short, else `--long`.
fn flag_name(opt: &Opt) -> String {
    match opt.short {
        Some(c) if opt.id == OptId::Jobs => format!("-{c}"),
        _ => format!("--{}", opt.long),
    }
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
        let wait = |args: &[&str]| match command(args).1 {
            Command::Workflow(o) => (o.ids, o.wait),
            c => panic!("{c:?}"),
        };
        assert_eq!(
            wait(&["workflow", "abc", "--wait"]),
            (vec!["abc".to_string()], Some(DEFAULT_WAIT_SECS))
        );
        assert_eq!(
            wait(&["workflow", "--wait=5", "abc"]),
            (vec!["abc".to_string()], Some(5))
        );
        // `--wait 5` leaves 5 as a second id: refused, with a hint.
        assert!(usage_error(&["workflow", "abc", "--wait", "5"])
            .ends_with("unexpected argument '5' (did you mean --wait=5?)"));
        usage_error(&["workflow", "-", "--wait"]);
    }

    #[test]
    fn many_ids_and_their_options() {
        match command(&["job", "a", "b", "-", "-j", "2"]).1 {
            Command::Job(o) => assert_eq!((o.ids.len(), o.jobs), (3, 2)),
            c => panic!("{c:?}"),
        }
        match command(&["step", "w", "0", "1"]).1 {
            Command::Step(o) => assert_eq!(o.steps, ["0", "1"]),
            c => panic!("{c:?}"),
        }
        match command(&["scan", "w", "--flagged", "--threshold=87.5%"]).1 {
            Command::Scan(o) => assert!(o.flagged && (o.threshold - 0.875).abs() < 1e-9),
            c => panic!("{c:?}"),
        }
        usage_error(&["scan", "w", "--threshold=2"]);
        usage_error(&["scan", "w", "--threshold=x"]);
        usage_error(&["scan"]);
        usage_error(&["job", "a", "-j", "65"]);
        match command(&["stats", "--by=Day", "--tag=a", "--from=7d"]).1 {
            Command::Stats(o) => assert_eq!((o.by, o.walk.filters.tags.len()), (Some(By::Day), 1)),
            c => panic!("{c:?}"),
        }
        usage_error(&["stats", "--by=week"]);
        usage_error(&["stats", "--all"]);
    }

    #[test]
    fn fields_are_checked_once_for_every_command() {
        let (g, _) = command(&["workflows", "--fields=id,cost.total"]);
        assert_eq!(g.fields.unwrap().names(), ["id", "cost.total"]);
        usage_error(&["workflows", "--fields="]);
        usage_error(&["workflows", "--fields=a..b"]);
        usage_error(&["test", "--fields=id"]);
        usage_error(&["workflow", "w", "--summary", "--json"]);
        usage_error(&["workflow", "w", "--summary", "--fields=id"]);
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
        usage_error(&["job", "a", "--raw=x"]);
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
