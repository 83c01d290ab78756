//! The one error type of the program, and the single place where a failure
//! becomes an exit code and a `kind` for the JSON error line.
//!
//! Every layer builds an [`Error`] with a message that already says what to do
//! next; `main` prints it once (`error: ...`) and exits with [`Error::exit_code`].

use std::fmt;

/// What went wrong, at the level a script cares about: each kind is one exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Unknown command or option, bad argument, bad date, missing `--env-file`.
    Usage,
    /// The API answered 400 or 422: the request itself was invalid.
    BadRequest,
    /// No token, 401 or 403.
    Auth,
    /// 404 from the API.
    NotFound,
    /// Cannot resolve or connect, TLS failure, timeout, dropped connection, 5xx after retries.
    Network,
    /// 429 after all retries.
    RateLimited,
    /// `--wait`: the workflow ended failed, expired or canceled.
    WorkflowFailed,
    /// `--wait`: the deadline passed before the workflow ended.
    WaitTimeout,
    /// Stdout was closed early (`| head`): not a failure, exit quietly.
    BrokenPipe,
    /// Anything else: unexpected body, failed download, unwritable file.
    Other,
}

/// A failure with everything needed to report it.
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    /// The HTTP status that caused it, when one did.
    pub status: Option<u16>,
    pub message: String,
    /// For usage errors: the usage line of the command, printed after the message.
    pub usage: Option<&'static str>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error {
            kind,
            status: None,
            message: message.into(),
            usage: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Error {
        Error::new(Kind::Usage, message)
    }

    pub fn other(message: impl Into<String>) -> Error {
        Error::new(Kind::Other, message)
    }

    pub fn with_status(mut self, status: u16) -> Error {
        self.status = Some(status);
        self
    }

    pub fn with_usage(mut self, usage: &'static str) -> Error {
        if self.usage.is_none() {
            self.usage = Some(usage);
        }
        self
    }

    /// The documented exit code (README, `help exit-codes`).
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::BrokenPipe => 0,
            Kind::Other => 1,
            Kind::Usage | Kind::BadRequest => 2,
            Kind::Auth => 3,
            Kind::NotFound => 4,
            Kind::Network => 5,
            Kind::RateLimited => 6,
            Kind::WorkflowFailed => 7,
            Kind::WaitTimeout => 8,
        }
    }

    /// The stable name used in `{"error":{"kind":...}}`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Usage => "usage",
            Kind::BadRequest => "bad_request",
            Kind::Auth => "auth",
            Kind::NotFound => "not_found",
            Kind::Network => "network",
            Kind::RateLimited => "rate_limited",
            Kind::WorkflowFailed => "workflow_failed",
            Kind::WaitTimeout => "wait_timeout",
            Kind::BrokenPipe => "broken_pipe",
            Kind::Other => "other",
        }
    }

    /// A write to stdout failed: a closed pipe is a normal end, anything else is a failure.
    pub fn from_stdout(err: std::io::Error) -> Error {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            Error::new(Kind::BrokenPipe, "stdout closed")
        } else {
            Error::other(format!("cannot write to stdout: {err}"))
        }
    }
}

impl Error {
    /// The error as the reader sees it, with every secret hidden: the text
    /// line (`error: ...`, and the usage line for usage errors) or one JSON
    /// line `{"error":{...}}`. The one way any error, fatal or per item,
    /// is turned into output.
    pub fn render(&self, json: bool) -> String {
        if json {
            return serde_json::json!({ "error": self.to_json() }).to_string();
        }
        let message = crate::text::mask(&self.message);
        match self.usage {
            Some(usage) => format!("error: {message}\nusage: {usage}"),
            None => format!("error: {message}"),
        }
    }

    /// The JSON error object (`{"kind","status","message"}`), secrets hidden,
    /// for a line of its own or for an entry of a larger document.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind_name(),
            "status": self.status,
            "message": crate::text::mask(&self.message),
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<lexopt::Error> for Error {
    fn from(err: lexopt::Error) -> Error {
        Error::usage(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_hides_bearer_values_in_both_forms() {
        let e = Error::new(Kind::Auth, "401: header was 'Bearer s3cr3t-t0ken'").with_status(401);
        let text = e.render(false);
        let json = e.render(true);
        for out in [&text, &json] {
            assert!(!out.contains("s3cr3t"), "{out}");
        }
        assert_eq!(text, "error: 401: header was 'Bearer [hidden]'");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["error"]["kind"], "auth");
        assert_eq!(v["error"]["status"], 401);
    }

    #[test]
    fn every_kind_has_its_documented_code() {
        let codes: Vec<(Kind, u8)> = vec![
            (Kind::BrokenPipe, 0),
            (Kind::Other, 1),
            (Kind::Usage, 2),
            (Kind::BadRequest, 2),
            (Kind::Auth, 3),
            (Kind::NotFound, 4),
            (Kind::Network, 5),
            (Kind::RateLimited, 6),
            (Kind::WorkflowFailed, 7),
            (Kind::WaitTimeout, 8),
        ];
        for (kind, code) in codes {
            assert_eq!(Error::new(kind, "x").exit_code(), code, "{kind:?}");
        }
    }
}
