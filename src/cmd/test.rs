//! `test`: one small request that proves the URL and the token work.

use std::io::Write;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::Ctx;
use crate::api;
use crate::error::Result;
use crate::output::{Out, OutExt};

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
}

pub fn run(ctx: &Ctx, out: &mut Out) -> Result<()> {
    // DOCS: GET /v2/consumer/workflows?take=1
    let answer = ctx
        .client
        .get(&format!("{}?take=1", api::WORKFLOWS), "workflows")?;
    let page: Page = crate::api::parse_json(&answer.body, "a page of workflows")?;
    let count = page.items.map_or(0, |i| i.len());
    // A password in the URL is a secret too.
    let url = crate::http::shown_url(ctx.client.api_url(), crate::http::Auth::Api);
    if ctx.mode().is_json() {
        let doc = serde_json::json!({"ok": true, "apiUrl": url, "workflows": count});
        return writeln!(out, "{doc}").out();
    }
    writeln!(out, "API URL: {url}").out()?;
    writeln!(out, "Token: {}", ctx.client.masked_token()).out()?;
    writeln!(out, "Connection successful!").out()?;
    writeln!(out, "Workflows returned: {count}").out()
}
