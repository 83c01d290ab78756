//! `cli::parse` on any argv (NUL-separated, non-UTF-8 included): it never
//! panics, and every error it returns is a usage error (exit code 2).
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args = data
        .split(|b| *b == 0)
        .map(|a| OsString::from_vec(a.to_vec()));
    let argv = std::iter::once(OsString::from("civitai-orch")).chain(args);
    if let Err(e) = civitai_orch::cli::parse(argv) {
        assert_eq!(e.exit_code(), 2, "a parse error that is not usage: {e:?}");
    }
});
