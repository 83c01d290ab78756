//! `download::naming` on any text: a safe name has no separator or NUL, is
//! never empty, `.` or `..`, stays in its directory, and with its extension
//! and `.part` fits in 255 bytes; `safe_part(s, 90)` and `stable_part(s, 90)`
//! fit in 90 bytes, and `stable_part` gives the same name every time.
#![no_main]

use std::path::Path;

use civitai_orch::download::naming::{extension, safe_name, safe_part, stable_part};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    // The same text serves as name, blob id and Content-Type, whole or
    // split at its first NUL.
    let (raw, id) = s.split_once('\0').unwrap_or((s, s));
    let name = safe_name(raw);
    check(raw, &name);
    let part = safe_part(raw, 90);
    assert!(part.len() <= 90, "{raw:?} -> {part:?}");
    check(raw, &part);
    let stable = stable_part(raw, 90);
    assert!(stable.len() <= 90, "{raw:?} -> {stable:?}");
    assert_eq!(stable, stable_part(raw, 90));
    check(raw, &stable);
    for ct in [None, Some(id), Some(raw)] {
        let ext = extension(id, ct);
        assert!(
            ext.starts_with('.') && !ext[1..].contains(['.', '/', '\\', '\0']),
            "{ext:?}"
        );
        let file = format!("{name}{ext}.part");
        assert!(file.len() <= 255, "{raw:?} -> {} bytes", file.len());
        check(raw, &file);
    }
});

fn check(raw: &str, name: &str) {
    assert!(!name.is_empty(), "{raw:?} -> empty");
    assert!(!name.contains(['/', '\0']), "{raw:?} -> {name:?}");
    assert!(name != "." && name != "..", "{raw:?} -> {name:?}");
    assert_eq!(
        Path::new("d").join(name).parent(),
        Some(Path::new("d")),
        "{raw:?} -> {name:?}"
    );
}
