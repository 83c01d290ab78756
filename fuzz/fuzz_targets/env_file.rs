//! `config::parse_env` on any bytes: it never panics, and no key or value
//! it returns holds a line break.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(vars) = civitai_orch::config::parse_env(data) {
        for (key, value) in &vars {
            assert!(!key.contains('\n'), "key {key:?}");
            assert!(!value.contains('\n'), "value {value:?} of {key:?}");
        }
    }
});
