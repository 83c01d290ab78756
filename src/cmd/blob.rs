//! `blob`: where a blob lives (the API redirects to a signed URL), and with
//! `--download` or `--output` the file itself.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use super::Ctx;
use crate::cli::BlobOpts;
use crate::download::{self, naming, pool, Naming, Source};
use crate::error::{Error, Result};
use crate::output::render;
use crate::output::{Out, OutExt};
use crate::text::escape;
use pool::Task;

pub fn run(ctx: &Ctx, o: &BlobOpts, out: &mut Out) -> Result<()> {
    if let Some(path) = o.output.as_deref().filter(|p| *p != "-") {
        if std::path::Path::new(path).is_dir() {
            return Err(Error::usage(format!(
                "--output {} is a folder; name a file, or use --dir",
                escape(path)
            )));
        }
    }
    if !o.download && o.output.is_none() {
        let (url, _) = download::resolve_blob(&ctx.client, &o.blob_id, o.nsfw, &[])?;
        if ctx.mode().is_json() {
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
        // The bytes are the output: nothing else may go to stdout, and
        // nothing in them is changed.
        out.flush().out()?;
        out.get_mut().raw();
        download::to_writer(&ctx.client, &task.source, &task.naming, out)?;
        return out.flush().out();
    }
    let dir = o.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::other(format!("cannot create --dir {}: {e}", dir.display())))?;
    let outcome = pool::run(&ctx.client, ctx.notes, &dir, &[task], 1, &mut |_, _| {})
        .pop()
        .unwrap_or_else(|| Err(Error::other("the download did not run")))?;
    if ctx.mode().is_json() {
        let doc = json!({
            "blobId": o.blob_id,
            "url": url,
            "file": outcome.path().display().to_string(),
            "bytes": outcome.bytes(),
            "status": render::outcome_status(&outcome),
        });
        return writeln!(out, "{doc}").out();
    }
    let shown = escape(&outcome.path().display().to_string());
    writeln!(out, "{}", render::outcome_line(&outcome, &shown)).out()
}

/// `{blobId}` without its extension when it has one (the extension is added
/// back from the id), made safe as a file name.
fn blob_stem(id: &str) -> String {
    let stem = match id.rsplit_once('.') {
        Some((stem, _)) if naming::has_extension(id) => stem,
        _ => id,
    };
    naming::stable_part(stem, 200)
}
