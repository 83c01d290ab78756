//! Many downloads at once: a few plain threads over the one shared client,
//! and on a terminal one updating progress line per active download.
//!
//! Workers only download; the calling thread receives each outcome as it
//! comes, prints it whole, and redraws the progress lines between outcomes,
//! so output never interleaves inside a line.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Meter, Naming, Outcome, Source};
use crate::error::Result;
use crate::http::Client;
use crate::notes::Notes;

/// One file to fetch.
pub struct Task {
    pub source: Source,
    pub naming: Naming,
}

/// How often the progress lines are redrawn.
const TICK: Duration = Duration::from_millis(200);

/// Runs `tasks` with `jobs` workers. `done(index, outcome)` is called on
/// this thread as each finishes; the outcomes come back in task order.
pub fn run(
    client: &Client,
    notes: Notes,
    dir: &Path,
    tasks: &[Task],
    jobs: usize,
    // `dyn`: one copy of the pool for every caller.
    done: &mut dyn FnMut(usize, &Result<Outcome>),
) -> Vec<Result<Outcome>> {
    let board = Board::new(notes.live());
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Outcome>>> = (0..tasks.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..jobs.clamp(1, tasks.len().max(1)) {
            let tx = tx.clone();
            let (next, board) = (&next, &board);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(task) = tasks.get(i) else { break };
                let slot = board.start(&task.naming.stem);
                let outcome = super::download(client, &task.source, &task.naming, dir, &*slot);
                board.end(&slot);
                if tx.send((i, outcome)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        loop {
            match rx.recv_timeout(TICK) {
                Ok((i, outcome)) => {
                    board.clear();
                    done(i, &outcome);
                    results[i] = Some(outcome);
                    board.draw();
                }
                Err(mpsc::RecvTimeoutError::Timeout) => board.draw(),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        board.clear();
    });
    results.into_iter().flatten().collect()
}

/// One active download's counters.
pub struct Slot {
    label: String,
    done: AtomicU64,
    /// `u64::MAX` while unknown.
    total: AtomicU64,
    started: Instant,
}

impl Meter for Slot {
    fn total(&self, bytes: Option<u64>) {
        self.total
            .store(bytes.unwrap_or(u64::MAX), Ordering::Relaxed);
    }
    fn add(&self, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// The progress lines on stderr; inert when stderr is not a terminal or
/// with `-q`.
struct Board {
    live: bool,
    active: Mutex<Vec<Arc<Slot>>>,
    /// Lines currently drawn, to move back over them.
    drawn: Mutex<usize>,
}

impl Board {
    fn new(live: bool) -> Board {
        Board {
            live,
            active: Mutex::new(Vec::new()),
            drawn: Mutex::new(0),
        }
    }

    fn start(&self, label: &str) -> Arc<Slot> {
        let slot = Arc::new(Slot {
            label: label.to_string(),
            done: AtomicU64::new(0),
            total: AtomicU64::new(u64::MAX),
            started: Instant::now(),
        });
        if let Ok(mut a) = self.active.lock() {
            a.push(slot.clone());
        }
        slot
    }

    fn end(&self, slot: &Arc<Slot>) {
        if let Ok(mut a) = self.active.lock() {
            a.retain(|s| !Arc::ptr_eq(s, slot));
        }
    }

    /// Erases the drawn lines (cursor up, clear to the end of the screen).
    fn clear(&self) {
        if !self.live {
            return;
        }
        let Ok(mut drawn) = self.drawn.lock() else {
            return;
        };
        if *drawn > 0 {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\x1b[{}A\r\x1b[J", *drawn);
            let _ = err.flush();
            *drawn = 0;
        }
    }

    fn draw(&self) {
        if !self.live {
            return;
        }
        let lines: Vec<String> = match self.active.lock() {
            Ok(a) => a.iter().map(|s| progress_line(s)).collect(),
            Err(_) => return,
        };
        self.clear();
        let mut err = std::io::stderr().lock();
        for line in &lines {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
        if let Ok(mut drawn) = self.drawn.lock() {
            *drawn = lines.len();
        }
    }
}

/// `name  12.3 MiB / 40.0 MiB  5.1 MiB/s`, plain ASCII.
fn progress_line(s: &Slot) -> String {
    let done = s.done.load(Ordering::Relaxed);
    let total = s.total.load(Ordering::Relaxed);
    let secs = s.started.elapsed().as_secs_f64().max(0.001);
    let total = if total == u64::MAX {
        "?".to_string()
    } else {
        size(total)
    };
    let mut label: String = s.label.chars().take(40).collect();
    if label.len() < s.label.len() {
        label.push_str("...");
    }
    format!(
        "  {label}  {} / {total}  {}/s",
        size(done),
        size((done as f64 / secs) as u64)
    )
}

/// Human sizes in binary units.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(512 * 1024 * 1024), "512.0 MiB");
    }
}
