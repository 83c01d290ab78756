//! Property tests of the library, the code the binary runs: for any input,
//! the names made for downloads stay in their directory and within 255
//! bytes, escaped text holds nothing a terminal would act on, masked text
//! never shows the secret, an encoded path segment decodes back to its id,
//! and no wait is longer than its cap.
//!
//! The inputs mix arbitrary characters with the ones each function has to
//! deal with (separators, dots, control characters, bidi overrides, the
//! secret, `Bearer`), since fully random text rarely hits them.
//!
//! And `--fields` reads a JSON text parsed down to its paths (`prune`)
//! exactly as it reads the whole parse, and the text listing shows a page
//! read straight into its workflows as it would show whole values.
//!
//! The fuzz targets in fuzz/ check the same functions, and more, with
//! libFuzzer (`make fuzz`); an input one of them finds a fault with belongs
//! at the end of this file as a plain `#[test]`, so it is never lost.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use civitai_orch::api::{seg, ListedPage, Page, Workflow};
use civitai_orch::download::naming::{self, extension, safe_name, safe_part};
use civitai_orch::download::Naming;
use civitai_orch::fields::Fields;
use civitai_orch::http::retry::{backoff, parse_retry_after, MAX_BACKOFF, MAX_RETRY_AFTER};
use civitai_orch::output::render::workflow_block;
use civitai_orch::prune::Keep;
use civitai_orch::text::{escape, hide_in, mask_secrets, needs_escape, HIDDEN};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

/// Characters the functions under test treat specially.
const TRICKY: &[char] = &[
    '/', '\\', '.', ' ', ':', '*', '?', '"', '<', '>', '|', '#', '%', '\0', '\n', '\r', '\t',
    '\x1b', '\x7f', '\u{85}', '\u{9b}', '\u{200e}', '\u{202e}', '\u{2066}', '\u{feff}', 'é', '😀',
];

/// Text of up to `max` characters: any character, or often a tricky one.
fn hostile(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            2 => any::<char>(),
            2 => select(TRICKY),
            3 => prop::char::range('a', 'z'),
        ],
        0..=max,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

const CONTENT_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg; charset=x",
    "audio/opus",
    "video/webm",
];

/// A Content-Type as a server may send it, or anything.
fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        select(CONTENT_TYPES).prop_map(|s| Some(s.to_string())),
        "audio/[a-z0-9]{0,8}".prop_map(Some),
        hostile(40).prop_map(Some),
    ]
}

/// A stem as the commands build one: `blob` from the id, `results` from
/// the workflow id, the step name and the index (with `-N` when taken).
fn stem() -> impl Strategy<Value = String> {
    prop_oneof![
        hostile(300).prop_map(|id| safe_name(&id)),
        (
            hostile(300),
            hostile(300),
            any::<usize>(),
            any::<Option<u64>>()
        )
            .prop_map(|(wf, step, index, taken)| results_stem(&wf, &step, index, taken)),
    ]
}

/// What `results` names the `index`th file of a step.
fn results_stem(workflow_id: &str, step: &str, index: usize, taken: Option<u64>) -> String {
    let base = format!(
        "{}_{}_{index}",
        naming::stable_part(workflow_id, 90),
        naming::stable_part(step, 90)
    );
    match taken {
        Some(n) => format!("{base}-{n}"),
        None => base,
    }
}

/// A file name that cannot leave `dir`: one plain component.
fn assert_stays_in(path: &Path, dir: &Path) {
    assert_eq!(path.parent(), Some(dir), "{path:?} leaves {dir:?}");
    let name = path.file_name().expect("a file name").to_str().unwrap();
    assert!(!name.contains(['/', '\0']), "{name:?}");
    assert!(name != "." && name != "..", "{name:?}");
    assert!(name.len() <= 255, "{} bytes: {name:?}", name.len());
}

fn assert_safe(raw: &str, name: &str) {
    assert!(!name.is_empty(), "{raw:?} -> empty");
    assert!(!name.contains(['/', '\\', '\0']), "{raw:?} -> {name:?}");
    assert!(name != "." && name != "..", "{raw:?} -> {name:?}");
    assert_stays_in(&Path::new("dir").join(name), Path::new("dir"));
}

proptest! {
    #[test]
    fn safe_names_have_no_separator_and_fit(raw in hostile(400)) {
        let name = safe_name(&raw);
        assert_safe(&raw, &name);
        prop_assert!(name.len() <= 200, "{} bytes", name.len());
        let part = safe_part(&raw, 90);
        assert_safe(&raw, &part);
        prop_assert!(part.len() <= 90, "{} bytes", part.len());
        let stable = naming::stable_part(&raw, 90);
        assert_safe(&raw, &stable);
        prop_assert!(stable.len() <= 90, "{} bytes", stable.len());
        prop_assert_eq!(&stable, &naming::stable_part(&raw, 90));
        // Kept as it is only when it needed no change.
        prop_assert_eq!(stable == raw, part == raw);
    }

    #[test]
    fn final_and_part_paths_stay_in_the_dir(
        stem in stem(),
        blob_id in hostile(60),
        ct in content_type(),
        dir in select(&["out", "/tmp/x", ".", "a b/ü"][..]),
    ) {
        let dir = PathBuf::from(dir);
        let naming = Naming { stem, blob_id, exact: None, force: false };
        let ext = extension(&naming.blob_id, ct.as_deref());
        prop_assert!(ext.starts_with('.') && ext.len() <= 6, "{ext:?}");
        let final_path = naming::final_path(&naming, &dir, ct.as_deref());
        assert_stays_in(&final_path, &dir);
        let part = naming::part_path(&final_path);
        assert_stays_in(&part, &dir);
        prop_assert!(part.to_str().unwrap().ends_with(".part"));
        // The `.part` named before the answer, from the id alone.
        assert_stays_in(&naming::part_for(&naming, &dir), &dir);
    }

    #[test]
    fn escaped_text_holds_nothing_to_act_on(s in hostile(200)) {
        let out = escape(&s);
        prop_assert!(!out.chars().any(needs_escape), "{s:?} -> {out:?}");
        if !s.chars().any(needs_escape) {
            prop_assert_eq!(out, s);
        }
    }

    #[test]
    fn masked_text_never_shows_the_secret(
        secret in "[A-Za-z0-9._-]{8,40}",
        pieces in prop::collection::vec(
            prop_oneof![
                hostile(20),
                Just("SECRET".to_string()),
                select(&["Bearer ", "bearer", "BEARER:", "Authorization: Bearer ", "\"", "=", "[hidden]"][..])
                    .prop_map(str::to_string),
            ],
            0..12,
        ),
    ) {
        let text: String = pieces
            .iter()
            .map(|p| if p == "SECRET" { secret.as_str() } else { p.as_str() })
            .collect();
        let out = mask_secrets(&text, Some(&secret));
        prop_assert!(!out.contains(&secret), "{text:?} -> {out:?}");
        let bearer = format!("Bearer {secret}");
        prop_assert!(!out.contains(&bearer), "{text:?} -> {out:?}");
    }

    /// Stdout goes out in pieces cut anywhere: the secret (as it is or
    /// percent-encoded) never shows, whatever the cuts, and the text around
    /// it is kept.
    #[test]
    fn streamed_output_never_shows_the_secret(
        secret in "[A-Za-z0-9/+=]{8,24}",
        pieces in prop::collection::vec(
            prop_oneof![hostile(12), Just("S".to_string()), Just("E".to_string())],
            0..12,
        ),
        cuts in prop::collection::vec(0usize..64, 0..8),
    ) {
        let encoded: String = secret
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        let text: String = pieces
            .iter()
            .map(|p| match p.as_str() { "S" => secret.as_str(), "E" => encoded.as_str(), p => p })
            .collect();
        let secrets = if encoded == secret { vec![secret.clone()] } else { vec![secret.clone(), encoded.clone()] };
        let bytes = text.as_bytes();
        let out = hide_in_pieces(bytes, &secrets, &cuts);
        let mut whole = Vec::new();
        hide_in(bytes, &secrets, true, &mut whole);
        prop_assert_eq!(&out, &whole);
        let out = String::from_utf8(out).unwrap();
        prop_assert!(!out.contains(&secret), "{text:?} -> {out:?}");
        prop_assert!(!out.contains(&encoded), "{text:?} -> {out:?}");
        if !text.contains(&secret) && !text.contains(&encoded) {
            prop_assert_eq!(&out, &text);
        } else {
            prop_assert!(out.contains(HIDDEN));
        }
    }

    /// Short secrets and a tiny alphabet, so that occurrences overlap,
    /// repeat and are cut at every place: cut anywhere into pieces, no
    /// form of the secret shows, nor a cut of one from twelve bytes on,
    /// and the pieces give what the whole gives.
    #[test]
    fn streamed_output_hides_short_and_overlapping_secrets(
        secret in "[ab/]{1,16}",
        pieces in prop::collection::vec(
            prop_oneof![
                "[ab/%2F]{0,6}",
                Just("S".to_string()),
                Just("E".to_string()),
                (1usize..16).prop_map(|n| format!("C{n}")),
            ],
            0..16,
        ),
        cuts in prop::collection::vec(0usize..24, 0..12),
    ) {
        let encoded = secret.replace('/', "%2F");
        let text: String = pieces
            .iter()
            .map(|p| match p.as_str() {
                "S" => secret.clone(),
                "E" => encoded.clone(),
                p if p.starts_with('C') => {
                    let n: usize = p[1..].parse().unwrap();
                    secret[..n.min(secret.len())].to_string()
                }
                p => p.to_string(),
            })
            .collect();
        let secrets = if encoded == secret { vec![secret.clone()] } else { vec![secret.clone(), encoded.clone()] };
        let bytes = text.as_bytes();
        let out = hide_in_pieces(bytes, &secrets, &cuts);
        let mut whole = Vec::new();
        hide_in(bytes, &secrets, true, &mut whole);
        prop_assert_eq!(&out, &whole, "{:?}", text);
        let out = String::from_utf8(out).unwrap();
        for form in &secrets {
            prop_assert!(!out.contains(form.as_str()), "{text:?} -> {out:?}");
            if form.len() >= 12 {
                prop_assert!(!out.contains(&form[..12]), "{text:?} -> {out:?}");
            }
        }
    }

    #[test]
    fn encoded_segments_decode_back(id in hostile(80)) {
        let s = seg(&id);
        prop_assert!(!s.contains(['/', '?', '#', ' ']), "{id:?} -> {s:?}");
        prop_assert!(s != "." && s != "..", "{id:?} -> {s:?}");
        prop_assert_eq!(percent_decode(&s), Some(id));
    }

    #[test]
    fn fields_read_a_pruned_parse_as_the_whole_one(text in json_text(), list in field_list()) {
        let fields = Fields::parse(&list).unwrap();
        let pruned = fields.keep(Keep::none()).parse(&text).unwrap();
        let whole: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(fields.select(&pruned), fields.select(&whole));
        prop_assert_eq!(fields.row(&pruned), fields.row(&whole));
    }

    #[test]
    fn a_listing_reads_a_page_as_whole_values_would(
        items in prop::collection::vec(workflow_text(), 0..4),
        next in select(vec!["null", "\"c1\"", "\"\"", "5"]),
        again in select(vec!["", r#""items":[{"id":"first"}],"#, r#""items":5,"#, r#""next":{},"nextCursor":"c0","#]),
    ) {
        let items = items.join(",");
        let page = format!(r#"{{{again}"items":[{items}],"next":{next}}}"#);
        let listed = ListedPage::parse(&page, "a page").map(|p| {
            let shown: Vec<Option<String>> = p.items.iter().map(|w| w.as_ref().map(block)).collect();
            (shown, p.next_cursor().map(str::to_string))
        });
        let whole = serde_json::from_str::<Page>(&page).map(|p| {
            let shown: Vec<Option<String>> = p.items.as_deref().unwrap_or_default().iter().map(|item| {
                let v: Value = serde_json::from_str(item.get()).unwrap();
                Workflow::from_value(v).as_ref().map(block)
            }).collect();
            (shown, p.next_cursor().map(str::to_string))
        });
        match (listed, whole) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "{page}: listed {:?}, whole {:?}", a.is_ok(), b.is_ok()),
        }
    }

    #[test]
    fn backoff_stays_under_its_cap(retry in any::<u32>(), seed in any::<u64>()) {
        prop_assert!(backoff(retry, seed) <= MAX_BACKOFF);
    }

    #[test]
    fn retry_after_stays_under_its_cap(value in retry_after_value(), now in clock()) {
        if let Some(wait) = parse_retry_after(&value, now) {
            prop_assert!(wait <= MAX_RETRY_AFTER, "{value:?} -> {wait:?}");
        }
    }
}

/// `hide_in` over `bytes` given in pieces of the lengths `cuts` (then the
/// rest), as stdout's writes give them, each piece's held end going with
/// the next.
fn hide_in_pieces(bytes: &[u8], secrets: &[String], cuts: &[usize]) -> Vec<u8> {
    let (mut out, mut held, mut at) = (Vec::new(), Vec::new(), 0);
    for c in cuts {
        let end = (at + c).min(bytes.len());
        held.extend_from_slice(&bytes[at..end]);
        at = end;
        let used = hide_in(&held, secrets, false, &mut out);
        held.drain(..used);
    }
    held.extend_from_slice(&bytes[at..]);
    hide_in(&held, secrets, true, &mut out);
    out
}

/// A listing's text block of a workflow.
fn block(w: &Workflow) -> String {
    let mut out = Vec::new();
    workflow_block(&mut out, w).unwrap();
    String::from_utf8(out).unwrap()
}

/// Keys few enough that paths often meet them, twice in one object too.
const KEYS: &[&str] = &["id", "a", "b", "$t", "é"];

/// JSON text of objects and arrays over [`KEYS`], a few levels deep; an
/// object may give a key twice (the last one counts).
fn json_text() -> impl Strategy<Value = String> {
    scalar_text().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|vs| format!("[{}]", vs.join(","))),
            prop::collection::vec((select(KEYS), inner), 0..5).prop_map(|kv| {
                let pairs: Vec<String> = kv.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
                format!("{{{}}}", pairs.join(","))
            }),
        ]
    })
}

/// JSON text shaped like a workflow, often not quite: each field a listing
/// reads may be missing, given twice, or of another type, and the prompt
/// is now and then longer than a listing shows.
fn workflow_text() -> BoxedStrategy<String> {
    let odd = || -> BoxedStrategy<String> {
        prop_oneof![
            4 => scalar_text(),
            1 => Just("[]".to_string()),
            1 => Just(r#"{"a":1}"#.to_string()),
            1 => Just(r#"[1,"x"]"#.to_string()),
        ]
        .boxed()
    };
    let field = |name: &'static str, value: BoxedStrategy<String>| -> BoxedStrategy<String> {
        value.prop_map(move |v| format!("{name:?}:{v}")).boxed()
    };
    let object = |fields: Vec<BoxedStrategy<String>>| -> BoxedStrategy<String> {
        prop::collection::vec(prop::strategy::Union::new(fields), 0..7)
            .prop_map(|fs| format!("{{{}}}", fs.join(",")))
            .boxed()
    };
    let list = |of: BoxedStrategy<String>, odd: BoxedStrategy<String>| -> BoxedStrategy<String> {
        prop_oneof![
            4 => prop::collection::vec(of, 0..4).prop_map(|vs| format!("[{}]", vs.join(","))),
            1 => odd,
        ]
        .boxed()
    };
    let input = prop_oneof![
        4 => object(vec![field("prompt", odd()), field("x", odd())]),
        1 => odd(),
    ]
    .boxed();
    let step = prop_oneof![
        4 => object(vec![
            field("$type", odd()),
            field("name", odd()),
            field("status", odd()),
            field("input", input),
            field("x", odd()),
        ]),
        1 => odd(),
    ]
    .boxed();
    prop_oneof![
        6 => object(vec![
            field("id", odd()),
            field("status", odd()),
            field("createdAt", odd()),
            field("completedAt", odd()),
            field("tags", list(odd(), odd())),
            field("steps", list(step, odd())),
            field("x", odd()),
        ]),
        1 => odd(),
    ]
    .boxed()
}

/// A JSON scalar as text: a long string now and then (a prompt a listing
/// cuts, with characters it escapes).
fn scalar_text() -> BoxedStrategy<String> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z\\\\\"]{0,4}".prop_map(Value::String),
        "[a-z é\u{202e}]{95,110}".prop_map(Value::String),
    ]
    .prop_map(|v| v.to_string())
    .boxed()
}

/// A `--fields` list of one to four paths over [`KEYS`].
fn field_list() -> impl Strategy<Value = String> {
    let path = prop::collection::vec(select(KEYS), 1..4).prop_map(|p| p.join("."));
    prop::collection::vec(path, 1..5).prop_map(|ps| ps.join(","))
}

/// `%XX` back to bytes, then UTF-8; `None` for a malformed escape.
fn percent_decode(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// Retry-After values: seconds (some beyond u64), the three HTTP date
/// forms around any year, or anything.
fn retry_after_value() -> impl Strategy<Value = String> {
    let month = select(&["Jan", "Feb", "Oct", "dec"][..]);
    prop_oneof![
        "[0-9]{1,30}",
        (0u32..40, month.clone(), 0u32..10000, 0u32..25, 0u32..61)
            .prop_map(|(d, m, y, h, s)| format!("Wed, {d:02} {m} {y:04} {h:02}:00:{s:02} GMT")),
        (0u32..40, month.clone(), 0u32..100)
            .prop_map(|(d, m, y)| format!("Sunday, {d:02}-{m}-{y:02} 23:59:59 GMT")),
        (month, 0u32..40, 0u32..10000).prop_map(|(m, d, y)| format!("Thu {m} {d} 00:00:00 {y:04}")),
        hostile(40),
    ]
}

/// Any clock a machine may have: before or after 1970, far out included.
fn clock() -> impl Strategy<Value = SystemTime> {
    prop_oneof![
        (0u64..4_000_000_000).prop_map(|s| UNIX_EPOCH + Duration::from_secs(s)),
        any::<i64>().prop_map(|s| {
            let d = Duration::from_secs(s.unsigned_abs());
            if s >= 0 {
                UNIX_EPOCH.checked_add(d)
            } else {
                UNIX_EPOCH.checked_sub(d)
            }
            .unwrap_or(UNIX_EPOCH)
        }),
    ]
}

/// What a text listing shows of a page read straight into its workflows,
/// and what it would show of the page's items parsed whole: each item's
/// block (`None`: not an object) and the next cursor; `Err` when refused.
type Shown = std::result::Result<(Vec<Option<String>>, Option<String>), ()>;

fn listed_and_whole(page: &str) -> (Shown, Shown) {
    let listed = ListedPage::parse(page, "a page")
        .map(|p| {
            let shown = p.items.iter().map(|w| w.as_ref().map(block)).collect();
            (shown, p.next_cursor().map(str::to_string))
        })
        .map_err(|_| ());
    let whole = serde_json::from_str::<Page>(page)
        .map_err(|_| ())
        .and_then(|p| {
            let mut shown = Vec::new();
            for item in p.items.as_deref().unwrap_or_default() {
                let v: Value = serde_json::from_str(item.get()).map_err(|_| ())?;
                shown.push(Workflow::from_value(v).as_ref().map(block));
            }
            Ok((shown, p.next_cursor().map(str::to_string)))
        });
    (listed, whole)
}

/// Shapes the generated pages never hold: escaped keys, keys of one level
/// met at another, numbers at the edges of their types, prompts cut on
/// and around the 100th character (a multibyte one too), strings with
/// surrogates, and a page's parts given twice with the wrong type first.
#[test]
fn a_listing_reads_odd_shapes_as_whole_values_would() {
    let p = |n: usize, c: &str| format!("{}{c}", "a".repeat(n));
    let prompts = [
        p(100, ""),
        p(101, ""),
        p(99, "é"),
        p(99, "😀"),
        p(99, "😀b"),
        p(100, "😀"),
        p(98, "\u{1b}[2J\u{202e}x"),
        p(100, "\\n"),
        p(99, "\\ud83d\\ude00"),
    ];
    let mut pages: Vec<String> = prompts
        .iter()
        .map(|pr| {
            format!(r#"{{"items":[{{"id":"a","steps":[{{"input":{{"prompt":"{pr}"}}}}]}}]}}"#)
        })
        .collect();
    pages.extend(
        [
            r#"{"items":[{"\u0069d":"a","st\u0061tus":"ok","cre\u0061tedAt":1,"tags":["\u0074"],"st\u0065ps":[{"\u0024type":"t","n\u0061me":"n","in\u0070ut":{"pr\u006fmpt":"p"}}]}]}"#,
            r#"{"\u0069tems":[{"id":"a"}],"n\u0065xt":"c"}"#,
            r#"{"items":[{"id":"a","items":5,"next":[],"prompt":"x","input":{"prompt":"y"},"$type":"t","name":"n"}]}"#,
            r#"{"items":[{"id":"a","steps":[{"id":"s","steps":[{"name":"x"}],"tags":["t"],"prompt":"p","input":{"input":{"prompt":"q"},"name":"m"}}]}]}"#,
            r#"{"items":[{"steps":[{"input":{"prompt":5}},{"input":"s"},{"input":["x"]},{"input":{"prompt":null}},{"input":{"prompt":"b"}},{"input":{"prompt":"c"}}]}]}"#,
            r#"{"items":[{"steps":[{"input":{"prompt":"a"},"input":{"x":1}},{"input":{"prompt":"b","prompt":{}}}]}]}"#,
            r#"{"items":[{"steps":[{"input":{"prompt":"a"},"input":null},{"name":"b","input":{"prompt":"b"}}]}]}"#,
            r#"{"items":[{"id":1e5,"status":-0,"createdAt":123456789012345678901234567890,"completedAt":1.5e300}]}"#,
            r#"{"items":[{"id":18446744073709551615,"status":-9223372036854775808,"createdAt":-9223372036854775809,"completedAt":0.1}]}"#,
            r#"{"items":[{"id":1E-7,"status":5e-324,"createdAt":1.7976931348623157e308,"completedAt":-0.0}]}"#,
            r#"{"items":[{"id":"\ud83d\ude00","tags":["\u0000","\u001b[31m","\u2066"]}]}"#,
            r#"{"items":[{"id":"\ud800"}]}"#,
            r#"{"items":[{"id":"a","tags":{"a":"b"}}]}"#,
            r#"{"items":[{"id":"a","tags":"t"}]}"#,
            r#"{"items":[{"id":"a","tags":["t",null,1,true,[],{},"u"]}]}"#,
            r#"{"items":[{"id":"a","steps":{"name":"x"}}]}"#,
            r#"{"items":[{"id":"a","steps":"x"}]}"#,
            r#"{"items":[{"id":"a","steps":[1,"x",null,[],{"name":"n"}]}]}"#,
            r#"{"items":[{"id":"a","id":{"x":1}}]}"#,
            r#"{"items":[{"id":{"x":1},"id":"b"}]}"#,
            r#"{"items":[{"id":"a","tags":["x"],"tags":5}]}"#,
            r#"{"items":[{"id":"a","steps":[{"name":"n"}],"steps":null}]}"#,
            r#"{"items":5,"items":[{"id":"a"}]}"#,
            r#"{"items":[{"id":"a"}],"items":5}"#,
            r#"{"items":[{"id":"a"}],"items":null}"#,
            r#"{"items":null}"#,
            r#"{}"#,
            r#"{"next":5,"next":"c"}"#,
            r#"{"next":"c","next":5}"#,
            r#"{"nextCursor":{},"nextCursor":null,"next":"c"}"#,
            r#"{"next":"","nextCursor":"c"}"#,
            r#"{"next":null,"nextCursor":""}"#,
            r#" { "items" : [ { "id" : "a" } ] , "next" : "c" } "#,
            "{\"items\":[]}\n\t ",
            r#"{"items":[]} x"#,
            r#"{"items":[]}{}"#,
            r#"{"items":[],}"#,
            r#"{"items":[{"id":"a"},]}"#,
            r#"{"items":[{"id":"a"}"#,
            r#"{"items":[{"id":"a"}],"next":"c"#,
            "",
            " ",
            "null",
            "\"x\"",
            "5",
            "[]",
            "[{\"id\":\"a\"}]",
            "\u{feff}{\"items\":[]}",
            r#"{"items":[{"id":"a","x":NaN}]}"#,
            r#"{"items":[{"id":"a","x":01}]}"#,
            r#"{"items":[{"id":01}]}"#,
            r#"{"items":[{"id":1.}]}"#,
            r#"{"items":[{"id":"a","x":"\x"}]}"#,
            r#"{"items":[{"id":"a","x":"tab	in"}]}"#,
            r#"{"items":[{"id":"tab	in"}]}"#,
            r#"{"items":[{"id":"a","steps":[{"input":{"prompt":"tab	in"}}]}]}"#,
            r#"{"items":[{"id":1e999}]}"#,
            r#"{"items":[{"id":"a"}],"x":1e999}"#,
        ]
        .map(String::from),
    );
    let mut differ = Vec::new();
    for page in &pages {
        let (listed, whole) = listed_and_whole(page);
        if listed != whole {
            differ.push(format!("{page}\n  listed {listed:?}\n  whole  {whole:?}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    // What a whole value refuses (a lone surrogate, a number out of range)
    // in a field no listing reads is skipped, as `--jsonl` and `--fields`
    // skip it: the block is that of the item without it.
    for (odd, plain) in [
        (
            r#"{"items":[{"id":"a","x":"\ud800"}]}"#,
            r#"{"items":[{"id":"a"}]}"#,
        ),
        (
            r#"{"items":[{"id":"a","steps":[{"x":"\udc00","input":{"y":"\udfff","prompt":"p"}}]}]}"#,
            r#"{"items":[{"id":"a","steps":[{"input":{"prompt":"p"}}]}]}"#,
        ),
        (
            r#"{"items":[{"id":"a","x":1e999}],"y":-1e999}"#,
            r#"{"items":[{"id":"a"}]}"#,
        ),
    ] {
        let (listed, _) = listed_and_whole(odd);
        let (_, whole) = listed_and_whole(plain);
        assert!(listed.is_ok() && listed == whole, "{odd}: {listed:?}");
    }
}
