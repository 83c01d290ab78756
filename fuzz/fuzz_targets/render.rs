//! The text renderers on any JSON: `workflow_block`, `job_summary` and
//! `step_results` (with the blobs `find_blobs` finds) never panic and never
//! print a character a terminal would act on (only their own '\n' between
//! lines); `json::minify` and `json::pretty` keep the document's value and
//! escape such characters too.
#![no_main]

use civitai_orch::api::{self, Workflow};
use civitai_orch::output::{json, render};
use civitai_orch::text::needs_escape;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(v) = serde_json::from_str::<Value>(s) else {
        return;
    };

    let mut out = Vec::new();
    render::job_summary(&mut out, &v).unwrap();
    if let Some(wf) = Workflow::from_value(v.clone()) {
        render::workflow_block(&mut out, &wf).unwrap();
        for step in wf.steps() {
            let blobs = step
                .output
                .as_ref()
                .map(api::find_blobs)
                .unwrap_or_default();
            render::step_results(&mut out, step, &blobs).unwrap();
        }
    }
    let text = String::from_utf8(out).expect("the renderers wrote UTF-8");
    check(s, "rendered text", &text, true);

    let minified = json::minify(s);
    check(s, "minify", &minified, false);
    let pretty = json::pretty(s);
    check(s, "pretty", &pretty, true);
    for (what, again) in [("minify", &minified), ("pretty", &pretty)] {
        let back: Value = serde_json::from_str(again)
            .unwrap_or_else(|e| panic!("{what} of {s:?} is not JSON ({e}): {again:?}"));
        assert_eq!(back, v, "{what} of {s:?} changed the value: {again:?}");
    }
});

/// No character a terminal would act on, but the line breaks the printer
/// put there itself when `lines` is true.
fn check(input: &str, what: &str, text: &str, lines: bool) {
    if let Some(c) = text
        .chars()
        .find(|&c| needs_escape(c) && !(lines && c == '\n'))
    {
        panic!("{what} of {input:?} holds a raw {c:?}: {text:?}");
    }
}
