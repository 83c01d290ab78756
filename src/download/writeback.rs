//! Starting the write-back of a download while its bytes still arrive, so
//! that the sync before the rename finds little left to write.
//!
//! A helper thread holds a second handle on the `.part` (`try_clone`: the
//! same open file, its lock included) and calls `sync_data` on it each time
//! another [`SYNC_EVERY`] bytes have been written, while the copy loop goes
//! on writing. Nothing is copied to it: the loop sends it a unit "sync now"
//! over a channel of capacity one, and a request made while one is pending
//! is dropped, since the pending sync will cover those bytes too. So memory
//! stays one copy buffer, and when the disk is slower than the network the
//! helper simply syncs back to back.
//!
//! This adds no safety and must take none away: the final `sync_all` before
//! the rename stays (`Part::finish`), and a failed sync of the helper is a
//! write error (the download fails, nothing gets the final name). The
//! helper lives in a `thread::scope` and ends when the copy ends, whether
//! it finished or failed: dropping the sender ends its loop, and the scope
//! joins it before [`with_writeback`] returns, so no thread outlives the
//! download. One helper per file being written: `-j N` runs at most N.

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread;

/// Bytes written between two requests to sync. Small enough that the last
/// sync has little left (at most this plus what one sync lags behind), large
/// enough that the syncs, each of which also commits the growing size to
/// the journal, stay few (64 for a 512 MiB file).
pub const SYNC_EVERY: u64 = 8 * 1024 * 1024;

/// A writer onto the `.part` that asks the helper to sync as it goes.
pub struct Syncing<'a> {
    file: &'a mut File,
    /// `None` without a helper (none could be started).
    wake: Option<SyncSender<()>>,
    unsynced: u64,
}

impl Write for Syncing<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.unsynced += n as u64;
        if self.unsynced >= SYNC_EVERY {
            self.unsynced = 0;
            if let Some(wake) = &self.wake {
                match wake.try_send(()) {
                    // Full: a sync is pending and will cover these bytes.
                    Ok(()) | Err(TrySendError::Full(())) => {}
                    // The helper stopped: its sync failed. Stop writing at
                    // once; `with_writeback` returns its error.
                    Err(TrySendError::Disconnected(())) => {
                        return Err(io::Error::other("the file could not be synced"));
                    }
                }
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Runs `f` with a writer onto `file` whose bytes a helper thread syncs
/// while `f` writes. Returns what `f` returned, and the helper's outcome:
/// `Err` when one of its syncs failed, which makes the file unfit to be
/// saved whatever `f` did.
pub fn with_writeback<T>(
    file: &mut File,
    f: impl FnOnce(&mut Syncing<'_>) -> T,
) -> (T, io::Result<()>) {
    // Without a second handle or a thread the download still works and is
    // still synced before the rename, only with all of the sync at the end.
    let Ok(clone) = file.try_clone() else {
        let mut w = Syncing {
            file,
            wake: None,
            unsynced: 0,
        };
        return (f(&mut w), Ok(()));
    };
    thread::scope(|scope| {
        let (wake, asked) = mpsc::sync_channel::<()>(1);
        let helper = thread::Builder::new()
            .name("sync".into())
            .spawn_scoped(scope, move || {
                for () in asked {
                    clone.sync_data()?;
                }
                Ok(())
            });
        let mut w = Syncing {
            file,
            wake: helper.is_ok().then_some(wake),
            unsynced: 0,
        };
        let out = f(&mut w);
        // Ends the helper's loop (after the sync it may be in): the join
        // below waits for no more than that one sync.
        drop(w);
        let synced = match helper {
            Ok(h) => h
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the sync thread failed"))),
            Err(_) => Ok(()),
        };
        (out, synced)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn temp_file(name: &str) -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!(
            "civitai-orch-writeback-{}-{name}",
            std::process::id()
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        (path, file)
    }

    #[test]
    fn every_byte_arrives_through_several_syncs() {
        let (path, mut file) = temp_file("bytes");
        let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        let rounds = (3 * SYNC_EVERY as usize) / chunk.len() + 1;
        let (written, synced) = with_writeback(&mut file, |w| {
            for _ in 0..rounds {
                w.write_all(&chunk)?;
            }
            io::Result::Ok(rounds * chunk.len())
        });
        synced.unwrap();
        assert_eq!(written.unwrap(), rounds * chunk.len());
        let mut back = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), rounds * chunk.len());
        assert!(back.chunks(chunk.len()).all(|c| c == chunk));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_failed_copy_ends_the_helper() {
        let (path, mut file) = temp_file("fail");
        let (out, synced) = with_writeback(&mut file, |w| {
            w.write_all(&vec![1u8; SYNC_EVERY as usize + 1])?;
            Err::<(), _>(io::Error::other("the network went away"))
        });
        assert!(out.is_err());
        synced.unwrap();
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_failed_sync_stops_the_writes_and_is_returned() {
        // fsync of a character device fails (EINVAL), as a disk error would.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let (out, synced) = with_writeback(&mut file, |w| {
            // Until the writer notices, with a bound in case it never does.
            for _ in 0..100_000 {
                w.write_all(&chunk)?;
            }
            io::Result::Ok(())
        });
        assert!(synced.is_err());
        assert!(out.is_err(), "the writes went on after the failed sync");
    }
}
