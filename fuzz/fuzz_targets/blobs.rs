//! `api::find_blobs` on any JSON: it never panics, finds at most one blob
//! per JSON node, and every blob it finds is one the output really holds
//! (a string `id` under a boolean `available`, or a `blobId(s)` string),
//! with a non-empty `url` when it has one. (Its `kind` may be empty: an
//! output's own `"type": ""` is kept as it is.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let blobs = civitai_orch::api::find_blobs(&v);
    let mut ids = Vec::new();
    let nodes = walk(&v, &mut ids);
    assert!(
        blobs.len() <= nodes,
        "{} blobs in {nodes} nodes",
        blobs.len()
    );
    for b in &blobs {
        assert!(
            ids.contains(&b.id.as_str()),
            "blob {:?} is not in the input",
            b.id
        );
        assert!(b.url.as_deref() != Some(""), "an empty url is kept");
    }
});

/// Counts the nodes of `v` and gathers every string in it.
fn walk<'a>(v: &'a Value, strings: &mut Vec<&'a str>) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(|i| walk(i, strings)).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(|i| walk(i, strings)).sum::<usize>(),
        Value::String(s) => {
            strings.push(s);
            1
        }
        _ => 1,
    }
}
