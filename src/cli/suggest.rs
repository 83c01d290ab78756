//! "Did you mean ...?": the known spelling nearest to a mistyped one.
//!
//! Near means few edits (insert, delete or replace one character, case
//! aside): at most one for a word of up to five characters, at most two for
//! a longer one, so that `--jsn` finds `--json` and `--exclude-faild`
//! finds `--exclude-failed`, while `--ab` finds nothing. A word of three
//! characters or more that begins a spelling (`--excl`) is near it too.

/// The candidate nearest to `typed`, if one is near enough; the first of
/// equally near ones.
pub fn nearest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.to_lowercase();
    let chars = typed.chars().count();
    let most = if chars <= 5 { 1 } else { 2 };
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let lower = c.to_lowercase();
        let d = distance(&typed, &lower);
        let near = d <= most || (chars >= 3 && lower.starts_with(&typed));
        if near && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// The edit distance (Levenshtein) of two words, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let replace = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = replace.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("jsn", "json"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("exclude-faild", "exclude-failed"), 1);
        assert_eq!(distance("é", "e"), 1);
    }

    #[test]
    fn near_enough_or_nothing() {
        let opts = [
            "json",
            "jsonl",
            "exclude-failed",
            "excludeFailed",
            "all",
            "tag",
        ];
        assert_eq!(nearest("jsn", opts), Some("json"));
        assert_eq!(nearest("jsonn", opts), Some("json"));
        assert_eq!(nearest("exclude-faild", opts), Some("exclude-failed"));
        assert_eq!(nearest("excludefailed", opts), Some("excludeFailed"));
        assert_eq!(nearest("excl", opts), Some("excludeFailed"));
        assert_eq!(nearest("tags", opts), Some("tag"));
        assert_eq!(nearest("ab", opts), None);
        assert_eq!(nearest("bogus", opts), None);
        assert_eq!(nearest("x", opts), None);
    }
}
