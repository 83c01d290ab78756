//! Shared pieces of the integration tests: the fake orchestrator and a way
//! to run the real binary against it whose failures show the whole run.
#![allow(dead_code)]

pub mod fake;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

#[allow(unused_imports)]
pub use fake::{Fake, Reply, TOKEN};

pub const BIN: &str = env!("CARGO_BIN_EXE_civitai-orch");

/// What one run of the binary did.
pub struct Run {
    pub line: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n$ {}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.line, self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// Asserts the exit code, showing the whole run when it differs.
    pub fn code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "unexpected exit code:{self:?}");
        self
    }

    pub fn ok(&self) -> &Run {
        self.code(0)
    }

    pub fn stdout_has(&self, text: &str) -> &Run {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}:{self:?}");
        self
    }

    pub fn stderr_has(&self, text: &str) -> &Run {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}:{self:?}");
        self
    }

    /// The error is one line starting with `error: ` (plus a usage line for
    /// usage errors).
    pub fn one_error_line(&self) -> &Run {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.starts_with("usage: "))
            .collect();
        let errors: Vec<&&str> = lines.iter().filter(|l| l.starts_with("error: ")).collect();
        assert_eq!(errors.len(), 1, "expected one error line:{self:?}");
        self
    }

    /// The `id` of each line of `--jsonl` output.
    pub fn jsonl_ids(&self) -> Vec<String> {
        self.stdout
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}{self:?}"));
                v["id"].as_str().unwrap_or_default().to_string()
            })
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        assert!(
            self.stdout.ends_with('\n'),
            "JSON output must end with a newline:{self:?}"
        );
        assert_eq!(
            self.stdout.trim_end().lines().count(),
            1,
            "JSON must be one line:{self:?}"
        );
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):{self:?}"))
    }
}

/// A fresh empty folder for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "civitai-orch-test-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One empty working folder per test process: no stray `.env` is read, and
/// nothing is written there.
fn empty_cwd() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("civitai-orch-test-{}-cwd", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// A command for the binary with a clean environment: the fake's URL and
/// token, no proxies, and a working folder of its own (so no stray `.env`).
pub struct Cli {
    pub cmd: Command,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
}

impl Cli {
    pub fn new(fake: Option<&Fake>, args: &[&str]) -> Cli {
        let mut cmd = Command::new(BIN);
        cmd.env_clear();
        cmd.current_dir(empty_cwd());
        if let Some(f) = fake {
            cmd.env("CIVITAI_API_URL", &f.url);
            cmd.env("CIVITAI_API_TOKEN", TOKEN);
        }
        cmd.args(args);
        Cli {
            cmd,
            args: args.iter().map(|s| s.to_string()).collect(),
            stdin: None,
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> Cli {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(mut self, k: &str) -> Cli {
        self.cmd.env_remove(k);
        self
    }

    pub fn dir(mut self, d: &Path) -> Cli {
        self.cmd.current_dir(d);
        self
    }

    pub fn stdin(mut self, data: &str) -> Cli {
        self.stdin = Some(data.as_bytes().to_vec());
        self
    }

    /// Stdin of any bytes, UTF-8 or not.
    pub fn stdin_bytes(mut self, data: &[u8]) -> Cli {
        self.stdin = Some(data.to_vec());
        self
    }

    pub fn run(self) -> Run {
        self.run_within(None)
    }

    /// Runs the binary, killing it and failing the test when it takes
    /// longer than `limit`: for runs that must end by themselves (a stalled
    /// or cut transfer, a helper thread that must not keep them alive).
    /// Their output must fit in a pipe (64 KiB): it is read at the end.
    pub fn run_within(mut self, limit: Option<std::time::Duration>) -> Run {
        use std::io::Write;
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = self.cmd.spawn().expect("run civitai-orch");
        if let Some(data) = self.stdin.take() {
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(&data).unwrap();
        }
        if let Some(limit) = limit {
            let deadline = std::time::Instant::now() + limit;
            while child.try_wait().unwrap().is_none() {
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    let out = child.wait_with_output().unwrap();
                    panic!(
                        "civitai-orch {} still ran after {limit:?}; killed\n--- stderr ---\n{}",
                        self.args.join(" "),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let out: Output = child.wait_with_output().unwrap();
        Run {
            line: format!("civitai-orch {}", self.args.join(" ")),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            raw_stdout: out.stdout,
        }
    }
}

/// Runs the binary against the fake.
pub fn cli(fake: &Fake, args: &[&str]) -> Run {
    Cli::new(Some(fake), args).run()
}
