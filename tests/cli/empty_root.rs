//! The static binary in an empty root, as the Dockerfile's `FROM scratch`
//! image runs it: a folder holding only the binary (no /etc, no /lib, no CA
//! files, no resolver configuration), an environment of the API URL and the
//! token alone (`env -i`), and real requests to the fake on 127.0.0.1, the
//! blob redirect to its CDN and a file written inside the root.
//!
//! The binary is the static x86_64 musl debug build that `make test` makes
//! first and names in `CIVITAI_ORCH_STATIC_BIN` (the test binary's own
//! `civitai-orch` is dynamically linked). Entering the root takes `chroot`
//! as root, or `unshare -r chroot` (a user namespace) otherwise; where
//! neither can be had, or the variable is not set (plain `cargo test`), the
//! test says why on stderr and passes.
//!
//! So that a pass means something, the same root is first shown to be
//! empty: the dynamically linked test binary cannot even start there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{temp_dir, Fake, Run, BIN, TOKEN};
use crate::{files, JPEG};

/// The static binary `make test` built, or why there is none.
fn static_bin() -> Result<PathBuf, String> {
    let Some(path) = std::env::var_os("CIVITAI_ORCH_STATIC_BIN") else {
        return Err("CIVITAI_ORCH_STATIC_BIN is not set (`make test` sets it)".into());
    };
    let path = PathBuf::from(path);
    if !path.is_file() {
        return Err(format!(
            "{} was not built (see the note of `make test`)",
            path.display()
        ));
    }
    Ok(path)
}

/// A program on the test's PATH, or in the sbin folders a non-root PATH
/// lacks.
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The command line that enters a root: `chroot` as root, else `unshare -r
/// chroot` when this machine allows user namespaces; `Err` says why not.
fn enter_root() -> Result<Vec<PathBuf>, String> {
    let chroot = find("chroot").ok_or("no chroot command here")?;
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    if is_root {
        return Ok(vec![chroot]);
    }
    let unshare = find("unshare").ok_or("not root, and no unshare command here")?;
    let works = Command::new(&unshare)
        .args(["-r", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        return Err("not root, and `unshare -r` (a user namespace) is not allowed here".into());
    }
    Ok(vec![unshare, "-r".into(), chroot])
}

/// Whether an ELF file names a program interpreter (a `PT_INTERP` program
/// header): true for a dynamically linked executable, false for a static
/// one (static-pie included).
fn has_interpreter(path: &Path) -> bool {
    let elf = std::fs::read(path).unwrap();
    assert!(
        elf.len() > 64 && elf.starts_with(b"\x7fELF") && elf[4] == 2 && elf[5] == 1,
        "{} is not a 64-bit little-endian ELF file",
        path.display()
    );
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[32..40].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) == 3
    })
}

/// Runs `/civitai-orch ARGS` inside `root` with only the fake's URL and
/// the token in its environment.
fn run_in_root(enter: &[PathBuf], root: &Path, fake: &Fake, args: &[&str]) -> Run {
    let mut cmd = Command::new(&enter[0]);
    cmd.args(&enter[1..])
        .arg(root)
        .arg("/civitai-orch")
        .args(args)
        .env_clear()
        .env("CIVITAI_API_URL", &fake.url)
        .env("CIVITAI_API_TOKEN", TOKEN)
        .stdin(Stdio::null());
    let out = cmd.output().expect("run chroot");
    let line: Vec<String> = enter
        .iter()
        .map(|p| p.display().to_string())
        .chain([root.display().to_string(), "/civitai-orch".into()])
        .chain(args.iter().map(|a| a.to_string()))
        .collect();
    Run {
        line: format!(
            "env -i CIVITAI_API_URL={} CIVITAI_API_TOKEN=... {}",
            fake.url,
            line.join(" ")
        ),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        raw_stdout: out.stdout,
    }
}

#[test]
fn the_static_binary_works_in_an_empty_root() {
    let bin = match static_bin() {
        Ok(bin) => bin,
        Err(why) => {
            eprintln!("note: empty-root test skipped: {why}");
            return;
        }
    };
    let enter = match enter_root() {
        Ok(enter) => enter,
        Err(why) => {
            eprintln!("note: empty-root test skipped: {why}");
            return;
        }
    };
    assert!(
        !has_interpreter(&bin),
        "{} is dynamically linked: it cannot run in a FROM scratch image",
        bin.display()
    );
    let fake = Fake::start();
    let root = temp_dir("empty-root");

    // The root is empty: a dynamically linked binary finds no loader there.
    // (A link, not a copy, where it can be: the debug build is large.)
    if has_interpreter(Path::new(BIN)) {
        let dynamic = root.join("civitai-orch");
        if std::fs::hard_link(BIN, &dynamic).is_err() {
            std::fs::copy(BIN, &dynamic).unwrap();
        }
        let run = run_in_root(&enter, &root, &fake, &["--version"]);
        assert_ne!(
            run.code, 0,
            "a dynamic binary ran in the empty root:{run:?}"
        );
        assert!(run.stdout.is_empty(), "{run:?}");
        assert!(fake.requests().is_empty());
        std::fs::remove_file(&dynamic).unwrap();
    }

    std::fs::copy(&bin, root.join("civitai-orch")).unwrap();
    assert_eq!(
        files(&root),
        ["civitai-orch"],
        "the root holds the binary alone"
    );

    let run = run_in_root(&enter, &root, &fake, &["--json", "test"]);
    let json = run.ok().json();
    assert_eq!(json["ok"], true, "{run:?}");
    let req = &fake.api_requests()[0];
    assert_eq!(req.raw_path, "/v2/consumer/workflows", "{run:?}");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );

    // A blob through its redirect to the CDN, saved inside the root.
    std::fs::create_dir(root.join("out")).unwrap();
    let target = format!("/out/{JPEG}");
    run_in_root(&enter, &root, &fake, &["blob", JPEG, "-o", &target]).ok();
    assert_eq!(
        std::fs::read(root.join("out").join(JPEG)).unwrap(),
        fake.media(JPEG)
    );
    assert_eq!(fake.cdn_requests().len(), 1);
    let _ = std::fs::remove_dir_all(&root);
}
