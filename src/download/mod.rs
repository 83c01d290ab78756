//! Saving blobs to disk, so that a file under its final name is always
//! whole whatever runs overlap: the `.part` is locked before anything is
//! decided, the bytes are streamed into it, synced, and renamed into place.
//!
//! `transfer` gets the bytes, `part` owns the `.part` and its lock,
//! `naming` makes the names, `pool` runs several downloads at once,
//! `writeback` syncs a `.part` while it grows.
//! The token goes to the API only: a signed CDN URL, and the target of the
//! API's redirect, are fetched without it.

pub mod naming;
mod part;
pub mod pool;
pub mod transfer;
mod writeback;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Kind, Result};
use crate::http::Client;
use part::{Part, Taken};
use transfer::{
    content_length, content_range, copy, header, read_error_text, unexpected, CopyError,
};
pub use transfer::{resolve_blob, Meter, NoMeter};

/// Where the bytes come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A signed URL the API handed out (no token); `nsfw` says how to ask
    /// for a fresh one when it has expired.
    Signed { url: String, nsfw: bool },
    /// `GET /v2/consumer/blobs/{id}` with the token; its redirect without.
    Api { blob_id: String, nsfw: bool },
}

/// How a file should be named once its type is known.
#[derive(Clone, Debug)]
pub struct Naming {
    /// Name without extension, already made safe.
    pub stem: String,
    /// Where the extension may come from first.
    pub blob_id: String,
    /// `--output FILE`: this exact name, no extension added.
    pub exact: Option<PathBuf>,
    /// Download again even when a complete file is there.
    pub force: bool,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Downloaded {
        path: PathBuf,
        bytes: u64,
    },
    /// Already complete under its final name: nothing was asked for.
    Skipped {
        path: PathBuf,
        bytes: u64,
    },
    /// Another live run holds its `.part`: that run is downloading it.
    Busy {
        path: PathBuf,
    },
}

impl Outcome {
    pub fn path(&self) -> &Path {
        match self {
            Outcome::Downloaded { path, .. }
            | Outcome::Skipped { path, .. }
            | Outcome::Busy { path } => path,
        }
    }
    pub fn bytes(&self) -> Option<u64> {
        match self {
            Outcome::Downloaded { bytes, .. } | Outcome::Skipped { bytes, .. } => Some(*bytes),
            Outcome::Busy { .. } => None,
        }
    }
}

/// Downloads one blob into `dir`: skips a complete file without a request,
/// leaves a file another run is fetching to that run, resumes a `.part`,
/// and asks for a fresh link once when a signed one has expired. Errors
/// name the file.
pub fn download(
    client: &Client,
    source: &Source,
    naming: &Naming,
    dir: &Path,
    meter: &dyn Meter,
) -> Result<Outcome> {
    fetch(client, source, naming, dir, meter).map_err(|mut e| {
        if !e.message.contains(&naming.stem) {
            e.message = format!("{}: {}", naming.stem, e.message);
        }
        e
    })
}

/// Runs `f` on the source, and once more on the blob endpoint (which hands
/// out a fresh link) when a signed link was refused with 403: signed links
/// expire.
fn with_fresh_link<T>(
    source: &Source,
    naming: &Naming,
    mut f: impl FnMut(&Source) -> Result<T>,
) -> Result<T> {
    match f(source) {
        Err(e) if e.status == Some(403) => match source {
            Source::Signed { nsfw, .. } => f(&Source::Api {
                blob_id: naming.blob_id.clone(),
                nsfw: *nsfw,
            }),
            Source::Api { .. } => Err(e),
        },
        other => other,
    }
}

/// A complete file already in place, unless `--force` (or `--output`,
/// whose file may be anything the user named) asks for the bytes again.
fn skip_existing(naming: &Naming, dir: &Path) -> Option<Outcome> {
    if naming.force || naming.exact.is_some() {
        return None;
    }
    let path = naming::existing_final(naming, dir)?;
    let bytes = std::fs::metadata(&path).ok()?.len();
    Some(Outcome::Skipped { path, bytes })
}

fn fetch(
    client: &Client,
    source: &Source,
    naming: &Naming,
    dir: &Path,
    meter: &dyn Meter,
) -> Result<Outcome> {
    if let Some(done) = skip_existing(naming, dir) {
        return Ok(done);
    }
    let part_path = naming::part_for(naming, dir);
    let mut part = match Part::take(&part_path)? {
        Taken::Locked(p) => p,
        Taken::Busy => {
            let path = naming::known_final(naming, dir).unwrap_or(part_path);
            return Ok(Outcome::Busy { path });
        }
    };
    // Under the lock: a run that held it a moment ago may have finished.
    // The .part is then left over (no live run holds it): removed.
    if let Some(done) = skip_existing(naming, dir) {
        part.discard();
        return Ok(done);
    }
    if naming.force {
        part.restart()?;
    }
    let from = part.len()?;
    let result = with_fresh_link(source, naming, |src| {
        fetch_into(client, src, naming, dir, &mut part, from, meter)
    });
    match result {
        Ok(Some((path, size))) => {
            part.finish(&path, size)?;
            Ok(Outcome::Downloaded { path, bytes: size })
        }
        Ok(None) => {
            // An --output file already whole: the .part was not needed.
            if part.len()? == 0 {
                part.discard();
            }
            let path = naming::final_path(naming, dir, None);
            let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
            Ok(Outcome::Skipped { path, bytes })
        }
        Err(e) => {
            if part.len().unwrap_or(0) == 0 {
                part.discard();
            } else {
                part.keep();
            }
            Err(e)
        }
    }
}

/// Asks for the bytes (from `from` on) and streams them into the locked
/// `.part`. Returns the final path and the whole size, ready to be renamed;
/// `None` when an `--output` file already holds the whole blob.
fn fetch_into(
    client: &Client,
    source: &Source,
    naming: &Naming,
    dir: &Path,
    part: &mut Part,
    from: u64,
    meter: &dyn Meter,
) -> Result<Option<(PathBuf, u64)>> {
    let resp = transfer::open(client, source, naming, from)?;
    let content_type = header(&resp, "content-type");
    let status = resp.status().as_u16();
    let path = naming::final_path(naming, dir, content_type.as_deref());
    if naming.exact.is_some() && !naming.force && status == 200 && from == 0 {
        let len = std::fs::symlink_metadata(&path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        if len.is_some() && len == content_length(&resp) {
            return Ok(None);
        }
    }
    let range = content_range(&resp);
    match status {
        206 if from > 0 && range.is_some_and(|r| r.continues(from)) => {
            let total = range.map(|r| r.total);
            save(resp, part, &path, from, total, meter).map(Some)
        }
        // The .part already holds every byte: only the rename was missing.
        416 if from > 0 && range.is_some_and(|r| r.total == from) => {
            if content_type.is_none() && naming::known_final(naming, dir).is_none() {
                // The name's extension comes from a type this answer lacks.
                drop(resp);
                return restart(client, source, naming, dir, part, meter);
            }
            Ok(Some((path, from)))
        }
        200 => {
            part.restart()?;
            let total = content_length(&resp);
            save(resp, part, &path, 0, total, meter).map(Some)
        }
        // A range that does not fit what is on disk: start over.
        206 | 416 if from > 0 => {
            drop(resp);
            restart(client, source, naming, dir, part, meter)
        }
        _ => Err(unexpected(status, naming)),
    }
}

/// Empties the `.part` and asks for the whole file.
fn restart(
    client: &Client,
    source: &Source,
    naming: &Naming,
    dir: &Path,
    part: &mut Part,
    meter: &dyn Meter,
) -> Result<Option<(PathBuf, u64)>> {
    part.restart()?;
    let resp = transfer::open(client, source, naming, 0)?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(unexpected(status, naming));
    }
    let path = naming::final_path(naming, dir, header(&resp, "content-type").as_deref());
    let total = content_length(&resp);
    save(resp, part, &path, 0, total, meter).map(Some)
}

/// Streams the body onto the end of the `.part` (which holds `from` bytes)
/// and checks that it then holds `total` bytes when the server said so.
fn save(
    resp: ureq::http::Response<ureq::Body>,
    part: &mut Part,
    path: &Path,
    from: u64,
    total: Option<u64>,
    meter: &dyn Meter,
) -> Result<(PathBuf, u64)> {
    meter.total(total);
    meter.add(from);
    let shown = path.display().to_string();
    let part_shown = part.path().display().to_string();
    let mut reader = resp.into_body().into_reader();
    let (copied, synced) =
        writeback::with_writeback(part.appender()?, |w| copy(&mut reader, w, meter));
    if let Err(e) = synced {
        // Bytes the disk refused may be missing from the .part whatever the
        // copy did: nothing of it is worth resuming.
        let _ = part.restart();
        return Err(Error::other(format!("cannot write {part_shown}: {e}")));
    }
    let written = match copied {
        Ok(n) => n,
        Err(CopyError::Read(e, n)) => {
            // The .part stays so that a later run can resume it.
            return Err(Error::new(
                Kind::Network,
                format!(
                    "download of {shown} failed after {} bytes: {}; run again to resume",
                    from + n,
                    read_error_text(&e)
                ),
            ));
        }
        Err(CopyError::Write(e)) => {
            // A full disk: nothing of it is worth resuming.
            let _ = part.restart();
            return Err(Error::other(format!("cannot write {part_shown}: {e}")));
        }
    };
    let size = from + written;
    if let Some(n) = total.filter(|n| *n != size) {
        return Err(Error::new(
            Kind::Network,
            format!(
                "download of {shown} failed: the server sent {size} of {n} bytes; \
                 run again to resume"
            ),
        ));
    }
    Ok((path.to_path_buf(), size))
}

/// Streams a blob to `w` (`--output -`): no file, no resume; an expired
/// link is renewed as for files.
pub fn to_writer(
    client: &Client,
    source: &Source,
    naming: &Naming,
    w: &mut impl Write,
) -> Result<u64> {
    let resp = with_fresh_link(source, naming, |src| transfer::open(client, src, naming, 0))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(unexpected(status, naming));
    }
    let expected = content_length(&resp);
    let mut reader = resp.into_body().into_reader();
    let n = match copy(&mut reader, w, &NoMeter) {
        Ok(n) => n,
        Err(CopyError::Read(e, n)) => {
            return Err(Error::new(
                Kind::Network,
                format!("download failed after {n} bytes: {}", read_error_text(&e)),
            ))
        }
        Err(CopyError::Write(e)) => return Err(Error::from_stdout(e)),
    };
    match expected {
        Some(e) if e != n => Err(Error::new(
            Kind::Network,
            format!("download failed: the server sent {n} of {e} bytes"),
        )),
        _ => Ok(n),
    }
}
