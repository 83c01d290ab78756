//! `blob`: where a blob lives (the API redirects to a signed URL), and with
//! `--download` or `--output` the file itself.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use super::{Ctx, Out, OutExt};
use crate::cli::BlobOpts;
use crate::download::{self, Naming, Source};
use crate::error::{Error, Result};
use crate::render::escape;
use crate::transfer::{self, Task};

pub fn run(ctx: &Ctx, o: &BlobOpts, out: &mut Out) -> Result<()> {
    if !o.download && o.output.is_none() {
        let (url, _) = download::resolve_blob(&ctx.client, &o.blob_id, o.nsfw, &[])?;
        if ctx.globals.json {
            let doc = json!({"blobId": o.blob_id, "url": url, "file": null, "bytes": null});
            return writeln!(out, "{doc}").out();
        }
        return writeln!(out, "Blob URL: {}", escape(&url)).out();
    }
    // The API names the file's URL first; when it serves the bytes itself,
    // the download asks it again.
    let (url, served) = download::resolve_blob(&ctx.client, &o.blob_id, o.nsfw, &[])?;
    let source = match served {
        None => Source::Signed {
            url: url.clone(),
            nsfw: o.nsfw,
        },
        Some(_) => Source::Api {
            blob_id: o.blob_id.clone(),
            nsfw: o.nsfw,
        },
    };
    let task = Task {
        source,
        naming: Naming {
            stem: blob_stem(&o.blob_id),
            blob_id: o.blob_id.clone(),
            exact: o.output.as_ref().filter(|p| *p != "-").map(PathBuf::from),
            force: o.force,
        },
    };
    if o.output.as_deref() == Some("-") {
        // The bytes are the output: nothing else may go to stdout.
        download::to_writer(&ctx.client, &task.source, &task.naming, out)?;
        return out.flush().out();
    }
    let dir = o.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::other(format!("cannot create --dir {}: {e}", dir.display())))?;
    let outcome = transfer::run(&ctx.client, ctx.notes, &dir, &[task], 1, |_, _| {})
        .pop()
        .unwrap_or_else(|| Err(Error::other("the download did not run")))?;
    let path = outcome.path().display().to_string();
    let skipped = matches!(outcome, download::Outcome::Skipped { .. });
    if ctx.globals.json {
        let status = if skipped { "skipped" } else { "downloaded" };
        let doc = json!({"blobId": o.blob_id, "url": url, "file": path, "bytes": outcome.bytes(), "status": status});
        return writeln!(out, "{doc}").out();
    }
    if skipped {
        return writeln!(
            out,
            "skipped: {} already complete ({} bytes)",
            escape(&path),
            outcome.bytes()
        )
        .out();
    }
    writeln!(
        out,
        "Downloaded: {} ({} bytes)",
        escape(&path),
        outcome.bytes()
    )
    .out()
}

/// `{blobId}` without its extension when it has one (the extension is added
/// back from the id), made safe as a file name.
fn blob_stem(id: &str) -> String {
    let stem = match id.rsplit_once('.') {
        Some((stem, _)) if download::has_extension(id) => stem,
        _ => id,
    };
    download::safe_name(stem)
}
