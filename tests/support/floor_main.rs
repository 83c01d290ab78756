//! The floor of `make bench`: the least a program on the same crates (one
//! ureq agent, serde_json) does for the work the benchmark measures, so that
//! every figure of the binary has a reference measured in the same run.
//!
//!   floor walk   every page of `/v2/consumer/workflows?take=100`, each item
//!                taken as a `RawValue` and written as one line
//!   floor one    one `/v2/consumer/workflows?take=20`, each item's id and
//!                status printed
//!
//! The API URL and token come from CIVITAI_API_URL and CIVITAI_API_TOKEN. No
//! retries, no checks, no error messages: a failure panics.

use std::io::{BufWriter, Write};

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Brief<'a> {
    id: &'a str,
    status: &'a str,
}

#[derive(Deserialize)]
struct Briefs<'a> {
    #[serde(borrow)]
    items: Vec<Brief<'a>>,
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let url = std::env::var("CIVITAI_API_URL").expect("CIVITAI_API_URL");
    let auth = format!(
        "Bearer {}",
        std::env::var("CIVITAI_API_TOKEN").expect("CIVITAI_API_TOKEN")
    );
    let agent = ureq::Agent::new_with_defaults();
    let get = |query: &str| -> String {
        agent
            .get(format!("{url}/v2/consumer/workflows?{query}"))
            .header("Authorization", &auth)
            .call()
            .expect("request")
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()
            .expect("body")
    };
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match what.as_str() {
        "walk" => {
            let mut cursor: Option<String> = None;
            loop {
                let query = match &cursor {
                    Some(c) => format!("take=100&cursor={c}"),
                    None => "take=100".to_string(),
                };
                let body = get(&query);
                let page: Page = serde_json::from_str(&body).expect("page");
                for item in page.items {
                    out.write_all(item.get().as_bytes()).unwrap();
                    out.write_all(b"\n").unwrap();
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        "one" => {
            let body = get("take=20");
            let page: Briefs = serde_json::from_str(&body).expect("page");
            for w in page.items {
                writeln!(out, "{}\t{}", w.id, w.status).unwrap();
            }
        }
        _ => panic!("usage: floor walk|one"),
    }
    out.flush().unwrap();
}
