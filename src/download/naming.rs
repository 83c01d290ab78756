//! File names for downloads: safe names from server ids, the extension
//! from the id or the Content-Type, and the names a download will end with
//! (the final file, and the `.part` that holds it until it is whole).

use std::fs;
use std::path::{Path, PathBuf};

use super::Naming;

/// The final file when its name is known before any answer: `--output`,
/// or an id that ends with an extension.
pub fn known_final(naming: &Naming, dir: &Path) -> Option<PathBuf> {
    if let Some(p) = &naming.exact {
        return Some(p.clone());
    }
    has_extension(&naming.blob_id).then(|| {
        dir.join(format!(
            "{}{}",
            naming.stem,
            extension(&naming.blob_id, None)
        ))
    })
}

/// The final file once the answer's Content-Type is known.
pub fn final_path(naming: &Naming, dir: &Path, content_type: Option<&str>) -> PathBuf {
    match &naming.exact {
        Some(p) => p.clone(),
        None => dir.join(format!(
            "{}{}",
            naming.stem,
            extension(&naming.blob_id, content_type)
        )),
    }
}

/// The `.part` of a download, named before anything is asked so that the
/// lock on it can be taken first: the final name plus `.part` when that is
/// known, else `STEM.part`.
pub fn part_for(naming: &Naming, dir: &Path) -> PathBuf {
    match known_final(naming, dir) {
        Some(p) => part_path(&p),
        None => dir.join(format!("{}.part", naming.stem)),
    }
}

/// A finished file of this download already in place (a regular file, not
/// a link): for a name without a known extension, any `STEM.EXT` in `dir`.
/// A file appears under its final name only once it was whole and synced,
/// so finding one is enough.
pub fn existing_final(naming: &Naming, dir: &Path) -> Option<PathBuf> {
    if let Some(p) = known_final(naming, dir) {
        return is_regular(&p).then_some(p);
    }
    let prefix = format!("{}.", naming.stem);
    fs::read_dir(dir).ok()?.flatten().find_map(|entry| {
        let name = entry.file_name().into_string().ok()?;
        let ext = name.strip_prefix(&prefix)?;
        let path = dir.join(&name);
        (!ext.is_empty() && !ext.contains('.') && ext != "part" && is_regular(&path))
            .then_some(path)
    })
}

fn is_regular(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
}

/// `NAME` -> `NAME.part`.
pub fn part_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".part");
    path.with_file_name(name)
}

/// The extension for a blob: from its id when it has one, else from the
/// Content-Type, else `.bin`.
pub fn extension(blob_id: &str, content_type: Option<&str>) -> String {
    if let Some(ext) = id_extension(blob_id) {
        return format!(".{ext}");
    }
    let mime = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ext = match mime.as_str() {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/avif" => "avif",
        "image/bmp" => "bmp",
        "image/svg+xml" => "svg",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "video/quicktime" => "mov",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/ogg" => "ogg",
        "audio/flac" => "flac",
        "audio/aac" => "aac",
        "audio/mp4" => "m4a",
        "application/zip" | "application/x-zip-compressed" => "zip",
        "application/json" => "json",
        "text/plain" => "txt",
        // Other audio types name their format: audio/opus, audio/amr...
        m => match m.strip_prefix("audio/") {
            Some(sub)
                if (2..=5).contains(&sub.len())
                    && sub.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                return format!(".{sub}");
            }
            _ => "bin",
        },
    };
    format!(".{ext}")
}

/// `JNF....jpeg` -> `jpeg`: a short alphanumeric tail after the last dot.
fn id_extension(id: &str) -> Option<&str> {
    let (stem, ext) = id.rsplit_once('.')?;
    (!stem.is_empty()
        && (1..=5).contains(&ext.len())
        && ext.chars().all(|c| c.is_ascii_alphanumeric()))
    .then_some(ext)
}

/// Whether the id already ends with an extension (then it names the file as is).
pub fn has_extension(id: &str) -> bool {
    id_extension(id).is_some()
}

/// A part of a file name that stays the same for the same id whatever else
/// a run is asked for: [`safe_part`] of it, and when making it safe changed
/// it (`a/b` and `a_b` would both give `a_b`), `~` and a hash of the id as
/// sent, so that two ids never share one file. At most `max` bytes.
pub fn stable_part(raw: &str, max: usize) -> String {
    let safe = safe_part(raw, max);
    if safe == raw {
        return safe;
    }
    let mut short = safe_part(raw, max.saturating_sub(9).max(1));
    short.push_str(&format!("~{:08x}", fnv1a(raw.as_bytes()) as u32));
    short
}

/// FNV-1a: a stable, dependency-free hash for names (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A part of a file name, made safe and cut to `max` bytes (never empty).
pub fn safe_part(raw: &str, max: usize) -> String {
    let mut s = safe_name(raw);
    while s.len() > max {
        s.pop();
    }
    trim_name_end(&mut s);
    if s.is_empty() {
        s.push('_');
    }
    s
}

/// A name that ends in a dot or a space loses it on some file systems
/// (Windows), which would make it another name: such ends are cut off.
fn trim_name_end(s: &mut String) {
    while s.ends_with(['.', ' ']) {
        s.pop();
    }
}

/// A name from the server made safe for any file system: no separators, no
/// `..`, no control characters, no Windows reserved names, not too long.
pub fn safe_name(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    s = s.trim_matches([' ', '.']).to_string();
    if s.is_empty() {
        s = "blob".into();
    }
    let stem = s.split('.').next().unwrap_or("").to_ascii_uppercase();
    const RESERVED: &[&str] = &["CON", "PRN", "AUX", "NUL"];
    let numbered = (stem.len() == 4)
        && (stem.starts_with("COM") || stem.starts_with("LPT"))
        && stem.as_bytes()[3].is_ascii_digit();
    if RESERVED.contains(&stem.as_str()) || numbered {
        s.insert(0, '_');
    }
    // Leave room for the extension and ".part" within 255 bytes.
    while s.len() > 200 {
        s.pop();
    }
    trim_name_end(&mut s);
    if s.is_empty() {
        s = "blob".into();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_names_carry_a_hash_of_the_id() {
        assert_eq!(stable_part("wf_1", 90), "wf_1");
        let (a, b) = (stable_part("wf:1", 90), stable_part("wf/1", 90));
        assert!(a.starts_with("wf_1~") && b.starts_with("wf_1~"), "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(a, stable_part("wf:1", 90), "stable");
        let long = stable_part(&"x".repeat(300), 90);
        assert!(long.len() <= 90 && long.contains('~'), "{long}");
    }

    #[test]
    fn extensions() {
        assert_eq!(extension("A.jpeg", Some("image/png")), ".jpeg");
        assert_eq!(extension("A", Some("image/jpeg; charset=x")), ".jpg");
        assert_eq!(extension("A", Some("video/webm")), ".webm");
        assert_eq!(extension("A", Some("audio/x-something")), ".bin");
        assert_eq!(extension("A", Some("audio/opus")), ".opus");
        assert_eq!(extension("A", None), ".bin");
        assert_eq!(extension("v1.2.weird-ext", None), ".bin");
    }

    #[test]
    fn hostile_names_stay_inside() {
        for raw in [
            "../../etc/passwd",
            "a/b",
            "CON",
            "con.txt",
            "x\ny",
            "..",
            "",
            "COM1",
            "a\\b",
        ] {
            let s = safe_name(raw);
            assert!(
                !s.contains('/') && !s.contains('\\') && !s.contains('\n'),
                "{s}"
            );
            assert_ne!(s, "..");
            assert!(!s.is_empty());
            let p = Path::new("dir").join(&s);
            assert_eq!(p.parent(), Some(Path::new("dir")), "{raw} -> {s}");
        }
        assert_eq!(safe_name("CON"), "_CON");
        assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
        assert!(safe_name(&"é".repeat(300)).len() <= 200);
        // A cut never leaves a name that ends in a dot or a space, nor nothing.
        let cut = safe_name(&format!("{}. x", "a".repeat(199)));
        assert!(!cut.ends_with(['.', ' ']), "{cut:?}");
        assert_eq!(safe_part("é", 1), "_");
    }
}
