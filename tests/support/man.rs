//! The man page, `civitai-orch.1`, made from the command and option tables
//! that also give `--help` and the completions, so the three cannot drift
//! apart. `cargo run --example man > civitai-orch.1` writes it; the tests
//! check it with groff.

use civitai_orch::cli::help::{CommandSpec, COMMANDS, EXIT_CODES, OVERVIEW_USAGE};
use civitai_orch::cli::options::{self, Opt};

/// The whole page, in the man(7) macros.
pub fn page() -> String {
    let mut m = String::new();
    m.push_str(".TH CIVITAI-ORCH 1 \"\" \"civitai-orch ");
    m.push_str(env!("CARGO_PKG_VERSION"));
    m.push_str("\" \"User Commands\"\n");
    m.push_str(".SH NAME\ncivitai-orch \\- ");
    m.push_str(&roff(env!("CARGO_PKG_DESCRIPTION")));
    m.push_str("\n.SH SYNOPSIS\n");
    m.push_str(&format!(".B {}\n", roff(OVERVIEW_USAGE)));
    m.push_str(".SH DESCRIPTION\n");
    m.push_str(&text(
        "civitai-orch reads and acts on the Civitai Orchestration API: workflows, \
         steps, jobs, their content-scan results and the files they made. It needs \
         a token in CIVITAI_API_TOKEN (the environment, ./.env, or --env-file).",
    ));
    m.push_str(".SH OPTIONS\nThese go before or after the command name.\n");
    for o in options::globals().filter(|o| !o.hidden) {
        option(&mut m, o);
    }
    m.push_str(".SH COMMANDS\n");
    for c in COMMANDS {
        command(&mut m, c);
    }
    m.push_str(".SH EXIT STATUS\n.nf\n");
    for line in EXIT_CODES.lines().skip(1) {
        m.push_str(&roff_line(line));
        m.push('\n');
    }
    m.push_str(".fi\n");
    m.push_str(".SH ENVIRONMENT\n");
    for (name, what) in [
        ("CIVITAI_API_TOKEN", "the bearer token"),
        ("CIVITAI_API_URL", "the API base URL"),
        (
            "HTTPS_PROXY, HTTP_PROXY, NO_PROXY",
            "proxies, by curl's rules",
        ),
        (
            "SSL_CERT_FILE",
            "a PEM bundle that replaces the bundled web roots",
        ),
    ] {
        m.push_str(&format!(".TP\n.B {}\n{}\n", roff(name), roff(what)));
    }
    m
}

fn command(m: &mut String, c: &CommandSpec) {
    m.push_str(&format!(".SS {}\n", roff(c.name)));
    m.push_str(&text(c.summary));
    m.push_str(&format!(".PP\n.B {}\n", roff(c.usage)));
    if !c.aliases.is_empty() {
        m.push_str(&format!(".PP\nAlso: {}.\n", roff(&c.aliases.join(", "))));
    }
    let own: Vec<&Opt> = options::of_command(c.name).filter(|o| !o.hidden).collect();
    for o in own {
        option(m, o);
    }
    if !c.details.is_empty() {
        m.push_str(".PP\n.nf\n");
        for line in c.details.lines() {
            m.push_str(&roff_line(line));
            m.push('\n');
        }
        m.push_str(".fi\n");
    }
}

fn option(m: &mut String, o: &Opt) {
    m.push_str(&format!(".TP\n.B {}\n", roff(&o.synopsis())));
    let mut doc = o.doc.replace('\n', " ");
    if !o.aliases.is_empty() {
        let also: Vec<String> = o.aliases.iter().map(|a| format!("--{a}")).collect();
        doc.push_str(&format!(" (also {})", also.join(", ")));
    }
    m.push_str(&roff_line(&doc));
    m.push('\n');
}

/// A paragraph of running text.
fn text(s: &str) -> String {
    format!("{}\n", roff_line(s))
}

/// One line of text: no request or macro at its start, backslashes and
/// minus signs written as roff wants them.
fn roff_line(s: &str) -> String {
    let body = roff(s);
    if body.starts_with(['.', '\'']) {
        format!("\\&{body}")
    } else if body.is_empty() {
        // An empty line in roff is a break; keep the blank in `.nf` blocks.
        "\\&".to_string()
    } else {
        body
    }
}

fn roff(s: &str) -> String {
    s.replace('\\', "\\e").replace('-', "\\-")
}
