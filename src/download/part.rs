//! The `.part` file that holds a download until it is whole: opened without
//! following links, locked before anything is decided, and renamed into
//! place only after its bytes are synced, while the lock is still held.
//!
//! The lock (an advisory `flock` on the `.part` itself) is what keeps
//! overlapping runs on one folder apart: a run never truncates, appends to
//! or renames a `.part` it has not locked, and never unlinks one that
//! another live run may hold.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `O_NOFOLLOW`: opening a symlink fails instead of following it (so a
/// dangling link cannot make us create a file elsewhere).
#[cfg(all(target_os = "linux", any(target_arch = "aarch64", target_arch = "arm")))]
const O_NOFOLLOW: i32 = 0o100000;
#[cfg(all(
    target_os = "linux",
    not(any(target_arch = "aarch64", target_arch = "arm"))
))]
const O_NOFOLLOW: i32 = 0o400000;
#[cfg(not(target_os = "linux"))]
const O_NOFOLLOW: i32 = 0x0100;

/// A locked `.part`.
pub struct Part {
    file: File,
    path: PathBuf,
}

/// What came of trying to take a `.part`.
pub enum Taken {
    Locked(Part),
    /// Another live run holds it: it is downloading this very file.
    Busy,
}

impl Part {
    /// Opens `path` (creating it empty when absent, never truncating) and
    /// takes its lock without waiting. A link found there is not ours: it
    /// is removed, never written through.
    pub fn take(path: &Path) -> Result<Taken> {
        // A few rounds at most: each one only repeats after the name was
        // changed under us by another run finishing or a link removed.
        for _ in 0..8 {
            let file = match open_no_follow(path) {
                Ok(f) => f,
                Err(_) if is_symlink(path) => {
                    remove_link(path)?;
                    continue;
                }
                Err(e) => return Err(write_error(path, e)),
            };
            let meta = file.metadata().map_err(|e| write_error(path, e))?;
            if !meta.is_file() {
                return Err(Error::other(format!(
                    "{} is not a regular file; remove it and run again",
                    path.display()
                )));
            }
            if meta.nlink() > 1 {
                // Hard-linked to a file elsewhere: writing would change it.
                drop(file);
                remove_link(path)?;
                continue;
            }
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => return Ok(Taken::Busy),
                Err(fs::TryLockError::Error(e)) => return Err(write_error(path, e)),
            }
            // The run we waited on may have renamed this file into place
            // (or removed it) between our open and our lock.
            if same_file(&file, path) {
                return Ok(Taken::Locked(Part {
                    file,
                    path: path.to_path_buf(),
                }));
            }
        }
        Err(Error::other(format!(
            "{} keeps changing (another run?); try again",
            path.display()
        )))
    }

    /// Bytes already in the `.part`.
    pub fn len(&self) -> Result<u64> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| write_error(&self.path, e))
    }

    /// Empties the `.part` to start the download over.
    pub fn restart(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .and_then(|_| self.file.seek(SeekFrom::Start(0)).map(|_| ()))
            .map_err(|e| write_error(&self.path, e))
    }

    /// The file, positioned at its end, to append the rest to.
    pub fn appender(&mut self) -> Result<&mut File> {
        self.file
            .seek(SeekFrom::End(0))
            .map_err(|e| write_error(&self.path, e))?;
        Ok(&mut self.file)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Syncs the data, checks the size on the open file, and renames the
    /// `.part` to `target` while the lock is still held, so that a file
    /// under its final name is always whole.
    pub fn finish(self, target: &Path, size: u64) -> Result<()> {
        let on_disk = self.len()?;
        if on_disk != size {
            return Err(Error::other(format!(
                "{} holds {on_disk} bytes, not {size}; run again",
                self.path.display()
            )));
        }
        self.file
            .sync_all()
            .and_then(|_| fs::rename(&self.path, target))
            .map_err(|e| Error::other(format!("cannot save {}: {e}", target.display())))
    }

    /// Leaves the bytes for a later run to resume.
    pub fn keep(self) {
        let _ = self.file.sync_all();
    }

    /// Removes the `.part` (ours: the lock is held), as when nothing of it
    /// is worth keeping.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn open_no_follow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .custom_flags(O_NOFOLLOW)
        .open(path)
}

/// `ELOOP` (a symlink under `O_NOFOLLOW`) has no stable `ErrorKind`, so
/// after a failed open the name itself is looked at.
fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Whether `path` still names the open `file`.
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn remove_link(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::other(format!(
            "cannot remove {}: {e}",
            path.display()
        ))),
    }
}

pub fn write_error(path: &Path, e: io::Error) -> Error {
    Error::other(format!("cannot write {}: {e}", path.display()))
}
