//! `api [METHOD] PATH`: any request to the API, as `gh api` does for
//! GitHub's: the token attached (to the API URL only: a URL of any other
//! place is refused), retries as the method allows, the answer's body on
//! stdout as it came whatever its status, and the exit code that status
//! maps to, with the error line on stderr (a redirect is not followed and
//! not an error: a blob's answer is one).
//!
//! Repeats: GET, HEAD, PUT and DELETE are retried as every read is; POST
//! and PATCH only when the API provably did not act (a `429`, a connection
//! that never opened): `api` sends no idempotency key of its own.
//!
//! `--paginate` walks a listing (`{"items": [...], "next": C}`) by setting
//! `cursor=C` in the query, printing each item as a JSON line; a bare array
//! is one page, and a cursor already asked for ends the walk.

use std::collections::HashSet;
use std::io::{IsTerminal, Read, Write};

use serde_json::value::RawValue;

use super::Ctx;
use crate::api::{self, parse_json, Page};
use crate::cli::ApiOpts;
use crate::error::{Error, Result};
use crate::http::retry::Method;
use crate::http::{reason, shown_url, status_error, Answer, Auth, Call, Payload};
use crate::output::json::{minify, write_minified};
use crate::output::{Out, OutExt};
use crate::text::{cut, escape, needs_escape, HIDDEN};

/// The largest `--body` read, as the HTTP layer's largest JSON answer.
const BODY_LIMIT: u64 = 64 * 1024 * 1024;

pub fn run(ctx: &Ctx, o: &ApiOpts, out: &mut Out) -> Result<()> {
    let method = match o.method.as_deref() {
        Some(name) => Method::from_name(name)
            .ok_or_else(|| Error::usage(format!("unknown method '{}'", escape(name))))?,
        None if o.body.is_some() => Method::Post,
        None => Method::Get,
    };
    if o.body.is_some() && matches!(method, Method::Get | Method::Head) {
        return Err(Error::usage(format!(
            "--body goes with POST, PUT, PATCH or DELETE, not {}",
            method.as_str()
        )));
    }
    if o.paginate && method != Method::Get {
        return Err(Error::usage("--paginate follows GET lists only"));
    }
    let mut path = api_path(&o.path, ctx.client.api_url())?;
    for (k, v) in &o.params {
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(&api::seg(k));
        path.push('=');
        path.push_str(&api::seg(v));
    }
    // Read (and checked) before any request: a bad body is exit 2 at once.
    let body = o.body.as_deref().map(read_body).transpose()?;
    let headers: Vec<(&str, &str)> = o
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let shown_path = path.split('?').next().unwrap_or_default();
    let what = format!("resource at {}", escape(&cut(shown_path, 200)));
    let req = Req {
        ctx,
        headers: &headers,
        what: &what,
        include: o.include,
    };
    if o.paginate {
        return req.paginate(path, out);
    }
    let payload = body.as_deref().map_or(Payload::Empty, Payload::Json);
    let answer = req.send(method, &path, payload)?;
    if method != Method::Head {
        print_body(out, &answer.body)?;
    }
    outcome(&answer, &what, ctx)
}

/// What every request of a run shares.
struct Req<'a> {
    ctx: &'a Ctx,
    headers: &'a [(&'a str, &'a str)],
    what: &'a str,
    include: bool,
}

impl Req<'_> {
    /// One request, answered whatever its status (after the retries due);
    /// with `-i` its status line and headers go to stderr.
    fn send(&self, method: Method, path: &str, payload: Payload) -> Result<Answer> {
        // DOCS: any endpoint of API.md; the path is the user's
        let answer = self.ctx.client.call(&Call {
            method,
            path,
            auth: Auth::Api,
            headers: self.headers,
            payload,
            keyed: false,
            any_status: true,
            what: self.what,
        })?;
        if self.include {
            self.ctx.notes.always(&head(&answer));
        }
        Ok(answer)
    }

    /// `--paginate`: page after page, each item a JSON line, until a page
    /// without a `next`, an empty page, or a cursor already asked for.
    fn paginate(&self, mut path: String, out: &mut Out) -> Result<()> {
        let mut asked: HashSet<String> = query_value(&path, "cursor")
            .map(str::to_string)
            .into_iter()
            .collect();
        loop {
            let answer = self.send(Method::Get, &path, Payload::Empty)?;
            if !(200..300).contains(&answer.status) {
                print_body(out, &answer.body)?;
                return outcome(&answer, self.what, self.ctx);
            }
            let next = print_items(out, &answer.body)?;
            out.flush().out()?;
            let Some(next) = next else {
                return Ok(());
            };
            let next = api::seg(&next);
            if !asked.insert(next.clone()) {
                self.ctx.notes.note(&format!(
                    "the API sent cursor {} again; the listing ends here",
                    escape(&cut(&next, 80))
                ));
                return Ok(());
            }
            path = with_cursor(&path, &next);
        }
    }
}

/// The exit of a run: 0 for a 2xx, else the error the status maps to. A
/// redirect (a blob's to its file) is an answer too, not followed: 0, and
/// a note of where it points (its query hidden: a signed link's key).
fn outcome(answer: &Answer, what: &str, ctx: &Ctx) -> Result<()> {
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    if (300..400).contains(&answer.status) {
        let to = answer
            .header("location")
            .map(|l| format!(" to {}", cut(&shown_url(l, Auth::None), 200)))
            .unwrap_or_default();
        ctx.notes.note(&format!(
            "{} {}{to}: not followed (-i shows the whole Location)",
            answer.status,
            reason(answer.status)
        ));
        return Ok(());
    }
    let ctype = answer.header("content-type").unwrap_or("");
    Err(status_error(answer.status, ctype, &answer.body, what))
}

/// The path after the API URL: `/v2/...` or `v2/...`, or a full URL that
/// starts with the API URL. The token goes nowhere else. Characters
/// beyond ASCII are percent-encoded; spaces, controls and `#` refused.
fn api_path(arg: &str, api_url: &str) -> Result<String> {
    let path = if is_url(arg) {
        match arg.strip_prefix(api_url) {
            Some(rest) if rest.is_empty() || rest.starts_with(['/', '?']) => rest.to_string(),
            _ => {
                return Err(Error::usage(format!(
                    "'{}' is not under the API URL {api_url}, and the token goes nowhere \
                     else; give a path such as /v2/consumer/workflows",
                    cut(&shown_url(arg, Auth::None), 200)
                )))
            }
        }
    } else if arg.starts_with('/') {
        arg.to_string()
    } else {
        format!("/{arg}")
    };
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::usage(format!(
            "the path '{}' holds a space or a control character; percent-encode it (%20)",
            escape(&cut(&path, 200))
        )));
    }
    if path.contains('#') {
        return Err(Error::usage(
            "the path holds a '#'; percent-encode it (%23), a fragment is never sent",
        ));
    }
    // Bytes beyond ASCII are no part of a request line: sent as UTF-8
    // percent-encoded, as a browser sends them.
    let mut encoded = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii() {
            encoded.push(c);
        } else {
            for b in c.encode_utf8(&mut [0; 4]).bytes() {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Ok(if encoded.is_empty() {
        "/".into()
    } else {
        encoded
    })
}

/// `scheme://...`: a scheme is letters, digits, `+`, `-`, `.` before `://`
/// (a `://` inside a query value does not make a path a URL).
fn is_url(arg: &str) -> bool {
    arg.find("://").is_some_and(|i| {
        i > 0
            && arg[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    })
}

/// The raw value of a query parameter of `path`, as written.
fn query_value<'a>(path: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = path.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == name))
        .map(|(_, v)| v)
}

/// `path` with its `cursor` parameters replaced by `cursor=<encoded>`,
/// the others kept in their order.
fn with_cursor(path: &str, encoded: &str) -> String {
    let (base, query) = path.split_once('?').unwrap_or((path, ""));
    let mut out = base.to_string();
    let kept = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("cursor"));
    for pair in kept.chain(std::iter::once(format!("cursor={encoded}").as_str())) {
        out.push(if out.len() == base.len() { '?' } else { '&' });
        out.push_str(pair);
    }
    out
}

/// `--body FILE|-`: JSON, checked before it is sent (a leading byte order
/// mark dropped); a file that cannot be read or is not JSON is exit 2.
fn read_body(arg: &str) -> Result<Vec<u8>> {
    let name = if arg == "-" {
        "stdin".to_string()
    } else {
        escape(arg)
    };
    let cannot = |e: std::io::Error| Error::usage(format!("cannot read --body {name}: {e}"));
    let mut bytes = Vec::new();
    if arg == "-" {
        let stdin = std::io::stdin().lock();
        stdin
            .take(BODY_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
    } else {
        if std::path::Path::new(arg).is_dir() {
            return Err(Error::usage(format!(
                "--body {name} is a folder; name a JSON file, or - for stdin"
            )));
        }
        let file = std::fs::File::open(arg).map_err(cannot)?;
        file.take(BODY_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
    }
    if bytes.len() as u64 > BODY_LIMIT {
        return Err(Error::usage(format!(
            "--body {name} is larger than {} MiB",
            BODY_LIMIT >> 20
        )));
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return Err(Error::usage(format!("--body {name} is not JSON: {e}")));
    }
    Ok(bytes)
}

/// `-i`: the status line and the headers, an `Authorization` a server
/// echoed hidden (the notes hide the token and any `Bearer` value too).
fn head(answer: &Answer) -> String {
    let mut text = format!("HTTP/1.1 {} {}", answer.status, reason(answer.status))
        .trim_end()
        .to_string();
    for (name, value) in &answer.headers {
        let value = match name.as_str() {
            "authorization" | "proxy-authorization" => HIDDEN.to_string(),
            _ => escape(value),
        };
        text.push_str(&format!("\n{name}: {value}"));
    }
    text
}

/// The body as it came, and a newline when it has none at its end. On a
/// terminal, characters it would act on (an escape sequence in a hostile
/// answer) are shown escaped instead.
fn print_body(out: &mut Out, body: &str) -> Result<()> {
    if body.is_empty() {
        return Ok(());
    }
    if std::io::stdout().is_terminal() && body.chars().any(acts) {
        let mut shown = String::with_capacity(body.len() + 16);
        for c in body.chars() {
            if acts(c) {
                shown.push_str(&escape(c.encode_utf8(&mut [0; 4])));
            } else {
                shown.push(c);
            }
        }
        out.write_all(shown.as_bytes()).out()?;
    } else {
        out.write_all(body.as_bytes()).out()?;
    }
    if !body.ends_with('\n') {
        out.write_all(b"\n").out()?;
    }
    Ok(())
}

/// A character a terminal would act on, beyond the line breaks and tabs
/// of a pretty document.
fn acts(c: char) -> bool {
    needs_escape(c) && c != '\n' && c != '\t'
}

/// One page of `--paginate` printed, one minified item a line; the cursor
/// of the next page, if one is to be asked for.
fn print_items(out: &mut Out, body: &str) -> Result<Option<String>> {
    let what = "a page of --paginate";
    if body.trim_start().starts_with('[') {
        let items: Vec<&RawValue> = parse_json(body, what)?;
        print_lines(out, &items)?;
        return Ok(None);
    }
    let page: Page = parse_json(body, what)?;
    let Some(items) = page.items.as_deref() else {
        // Not a list: the one document is the one line.
        writeln!(out, "{}", minify(body)).out()?;
        return Ok(None);
    };
    print_lines(out, items)?;
    if items.is_empty() {
        return Ok(None);
    }
    Ok(page.next_cursor().map(str::to_string))
}

fn print_lines(out: &mut Out, items: &[&RawValue]) -> Result<()> {
    for item in items {
        write_minified(out, item.get()).out()?;
        out.write_all(b"\n").out()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "https://orchestration.civitai.com";

    #[test]
    fn paths_are_relative_to_the_api_url() {
        let p = |a: &str| api_path(a, API);
        assert_eq!(
            p("/v2/consumer/workflows").unwrap(),
            "/v2/consumer/workflows"
        );
        assert_eq!(
            p("v2/consumer/workflows?take=1").unwrap(),
            "/v2/consumer/workflows?take=1"
        );
        assert_eq!(p(&format!("{API}/v2/x?a=1")).unwrap(), "/v2/x?a=1");
        assert_eq!(p(API).unwrap(), "/");
        assert_eq!(
            p("v2/x?next=https://elsewhere/").unwrap(),
            "/v2/x?next=https://elsewhere/"
        );
        for foreign in [
            "https://orchestration.civitai.com.evil.example/v2/x",
            "https://evil.example/v2/x?sig=secretvalue",
            "http://orchestration.civitai.com/v2/x",
            "https://user:pass@orchestration.civitai.com/v2/x",
            "ftp://orchestration.civitai.com/v2",
        ] {
            let e = p(foreign).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{foreign}");
            assert!(!e.message.contains("secretvalue"), "{}", e.message);
            assert!(!e.message.contains("pass"), "{}", e.message);
        }
        assert_eq!(p("/v2/a b").unwrap_err().exit_code(), 2);
        assert_eq!(p("/v2/a\nb").unwrap_err().exit_code(), 2);
        assert_eq!(p("/v2/a#b").unwrap_err().exit_code(), 2);
        assert_eq!(p("/v2/tags/ü?q=é").unwrap(), "/v2/tags/%C3%BC?q=%C3%A9");
    }

    #[test]
    fn cursors_are_set_or_replaced() {
        assert_eq!(with_cursor("/v2/w", "C1"), "/v2/w?cursor=C1");
        assert_eq!(with_cursor("/v2/w?take=2", "C1"), "/v2/w?take=2&cursor=C1");
        assert_eq!(
            with_cursor("/v2/w?cursor=A&take=2&cursorx=1&cursor", "B%2F"),
            "/v2/w?take=2&cursorx=1&cursor=B%2F"
        );
        assert_eq!(with_cursor("/v2/w?", "C"), "/v2/w?cursor=C");
        assert_eq!(query_value("/v2/w?take=2&cursor=A", "cursor"), Some("A"));
        assert_eq!(query_value("/v2/w?take=2", "cursor"), None);
    }

    #[test]
    fn echoed_credentials_are_hidden_in_the_head() {
        let answer = Answer {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("authorization".into(), "Bearer abc".into()),
                ("x-odd".into(), "a\u{1b}[2Jb".into()),
            ],
            body: String::new(),
        };
        assert_eq!(
            head(&answer),
            "HTTP/1.1 200 OK\ncontent-type: application/json\nauthorization: [hidden]\n\
             x-odd: a\\x1b[2Jb"
        );
    }
}
