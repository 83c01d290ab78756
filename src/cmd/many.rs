//! Many ids in one run: the work goes out `-j N` at a time over the one
//! client, the results come back in input order, and one id that fails is
//! reported without stopping the others.
//!
//! The rule for the exit code, whatever the command: with one id, its own
//! error; with several, the code of the first failure, after every id was
//! tried, with a line that says how many failed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use std::io::{self, Write};

use serde_json::Value;

use super::input::{self, Item};
use super::Ctx;
use crate::cli::Mode;
use crate::error::{Error, Result};
use crate::output::objects::Objects;
use crate::output::{self, Out};

/// At most this many results wait for an earlier, slower one, per worker.
const WINDOW_PER_JOB: usize = 8;
/// How often a waiting reader looks whether the run has stopped.
const POLL: Duration = Duration::from_millis(100);

/// Runs `work` on each item of `inputs`, `jobs` at a time, and hands each
/// result to `emit` on this thread in input order (lines of stdin that hold
/// no id come as their error). Stops early when `emit` fails.
pub fn run<T: Send>(
    jobs: usize,
    inputs: Receiver<Result<Item>>,
    // `dyn`: one copy of the runner for every command.
    work: &(dyn Fn(Item) -> T + Sync),
    emit: &mut dyn FnMut(Result<T>) -> Result<()>,
) -> Result<()> {
    let jobs = jobs.max(1);
    let window = jobs * WINDOW_PER_JOB;
    let emitted = Mutex::new(0usize);
    let moved = Condvar::new();
    let stop = AtomicBool::new(false);
    let (work_tx, work_rx) = mpsc::sync_channel::<(usize, Item)>(jobs);
    let work_rx = Mutex::new(work_rx);
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<(usize, Result<T>)>();
        // The reader: numbers the inputs and hands them out, never more
        // than `window` ahead of what was printed.
        let reader_done = done_tx.clone();
        let (emitted, moved, stop) = (&emitted, &moved, &stop);
        scope.spawn(move || {
            let mut seq = 0;
            loop {
                let item = match inputs.recv_timeout(POLL) {
                    Ok(item) => item,
                    Err(RecvTimeoutError::Timeout) if !stop.load(Ordering::SeqCst) => continue,
                    Err(_) => return,
                };
                let mut done = emitted.lock().unwrap_or_else(|e| e.into_inner());
                while seq >= *done + window && !stop.load(Ordering::SeqCst) {
                    done = moved.wait(done).unwrap_or_else(|e| e.into_inner());
                }
                drop(done);
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let sent = match item {
                    Ok(item) => work_tx.send((seq, item)).is_ok(),
                    Err(e) => reader_done.send((seq, Err(e))).is_ok(),
                };
                if !sent {
                    return;
                }
                seq += 1;
            }
        });
        // Workers take work until the reader closes the queue, even after
        // the run stopped (they then skip it): a reader blocked on a full
        // queue must always be let go.
        for _ in 0..jobs {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            scope.spawn(move || loop {
                let next = work_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((seq, item)) = next else { break };
                if stop.load(Ordering::SeqCst) {
                    continue;
                }
                let _ = done_tx.send((seq, Ok(work(item))));
            });
        }
        drop(done_tx);
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        let mut outcome = Ok(());
        for (seq, result) in done_rx.iter() {
            waiting.insert(seq, result);
            while let Some(result) = waiting.remove(&next) {
                next += 1;
                if let Err(e) = emit(result) {
                    outcome = Err(e);
                    break;
                }
                *emitted.lock().unwrap_or_else(|e| e.into_inner()) = next;
                moved.notify_all();
            }
            if outcome.is_err() {
                break;
            }
        }
        // Under the lock, so that a reader between its check and its wait
        // cannot miss the news.
        let done = emitted.lock().unwrap_or_else(|e| e.into_inner());
        stop.store(true, Ordering::SeqCst);
        drop(done);
        moved.notify_all();
        outcome
    })
}

/// What [`fetch_all`] asks for one id.
pub struct Request {
    pub path: String,
    /// How errors name it: `workflow 'ID'`.
    pub what: String,
}

/// The ids a command was given, and how to take them.
pub struct Batch<'a> {
    /// As typed; `-` reads them from stdin.
    pub ids: &'a [String],
    /// Where a JSON line of stdin holds the id, first match wins.
    pub keys: &'static [&'static str],
    /// Requests at a time.
    pub jobs: usize,
    /// What the ids are, for the closing count: `workflow id(s)`.
    pub noun: &'static str,
}

impl<'a> Batch<'a> {
    /// Workflow ids, as `workflow`, `cancel` and `delete` take them (a JSON
    /// line gives its `id`, or the `workflowId` of a `results` line).
    pub fn workflows(ids: &'a [String], jobs: usize) -> Batch<'a> {
        Batch {
            ids,
            keys: &["id", "workflowId"],
            jobs,
            noun: "workflow id(s)",
        }
    }
}

/// The common shape of `workflow`, `job` and `step`: one GET per id, `-j`
/// at a time, each object printed in input order with `text` as its text
/// view.
pub fn fetch_all(
    ctx: &Ctx,
    out: &mut Out,
    batch: &Batch,
    request: &(dyn Fn(&str) -> Request + Sync),
    text: &dyn Fn(&mut dyn Write, &str) -> io::Result<()>,
) -> Result<()> {
    let work = |id: &str| {
        let r = request(id);
        ctx.client.get(&r.path, &r.what).and_then(|a| {
            crate::api::check_object(&a.body, &r.what)?;
            Ok(a.body)
        })
    };
    drive(ctx, out, batch, &work, &mut |objects, out, body| {
        objects.body(out, body, &|w| text(w, body))
    })
}

/// The common shape of the commands that act on ids (`cancel`, `delete`):
/// `work` does one id and says what came of it as an object (`{"id": ...,
/// "result": ...}`), `-j` at a time; each is printed in input order, in
/// text as the one `line` it makes.
pub fn act_all(
    ctx: &Ctx,
    out: &mut Out,
    batch: &Batch,
    work: &(dyn Fn(&str) -> Result<Value> + Sync),
    line: &dyn Fn(&Value) -> String,
) -> Result<()> {
    let plain = ctx.mode() == Mode::Text && ctx.fields().is_none();
    drive(ctx, out, batch, work, &mut |objects, out, v| {
        // One line each: no blank line between them, as objects get.
        if plain {
            return writeln!(out, "{}", line(v)).map_err(Error::from_stdout);
        }
        objects.value(out, v, &|w| writeln!(w, "{}", line(v)))
    })
}

/// Runs `work` on each id of `batch` and prints each success with `print`,
/// each failure as the module doc says; the run's result by [`Tally`].
fn drive<T: Send>(
    ctx: &Ctx,
    out: &mut Out,
    batch: &Batch,
    work: &(dyn Fn(&str) -> Result<T> + Sync),
    print: &mut dyn FnMut(&mut Objects, &mut Out, &T) -> Result<()>,
) -> Result<()> {
    let Batch {
        ids,
        keys,
        jobs,
        noun,
    } = *batch;
    let several = ids.len() > 1 || ids.iter().any(|i| i == "-");
    let mut objects = Objects::new(ctx.mode(), ctx.fields(), several);
    let mut tally = Tally::new(ctx.mode());
    let work = |item: Item| {
        let done = work(&item.id);
        (item.id, done)
    };
    run(
        jobs,
        input::items(ids, keys),
        &work,
        &mut |done| match done {
            Ok((_, Ok(t))) => {
                tally.ok();
                print(&mut objects, out, &t)?;
                out.flush().map_err(Error::from_stdout)
            }
            Ok((id, Err(e))) => {
                objects.failure(out, "id", &id, &e)?;
                tally.fail(e);
                Ok(())
            }
            Err(e) => {
                tally.fail(e);
                Ok(())
            }
        },
    )?;
    objects.finish(out)?;
    // An empty stdin is a listing that found nothing: nothing to do.
    if tally.seen() == 0 {
        ctx.notes
            .note(&format!("no {noun} on stdin: nothing to do"));
    }
    tally.finish(noun)
}

/// Counts what was done and what failed, reports each failure as it
/// comes, and makes the run's one error at the end (see the module doc).
pub struct Tally {
    mode: Mode,
    seen: usize,
    failed: usize,
    first: Option<Error>,
    /// The first failure is held back while it may be the only id: then it
    /// is the run's error itself, printed once by `main`.
    held: bool,
}

impl Tally {
    pub fn new(mode: Mode) -> Tally {
        Tally {
            mode,
            seen: 0,
            failed: 0,
            first: None,
            held: false,
        }
    }

    pub fn ok(&mut self) {
        self.count();
    }

    pub fn fail(&mut self, e: Error) {
        self.count();
        self.failed += 1;
        if self.first.is_none() {
            self.held = self.seen == 1;
            if !self.held {
                output::report(&e, self.mode);
            }
            self.first = Some(e);
        } else {
            output::report(&e, self.mode);
        }
    }

    fn count(&mut self) {
        self.seen += 1;
        if self.held && self.seen > 1 {
            self.held = false;
            if let Some(first) = &self.first {
                output::report(first, self.mode);
            }
        }
    }

    pub fn seen(&self) -> usize {
        self.seen
    }

    /// The run's result; `noun` names what was counted (`id(s)`).
    pub fn finish(self, noun: &str) -> Result<()> {
        let Some(first) = self.first else {
            return Ok(());
        };
        if self.seen == 1 {
            return Err(first);
        }
        let mut e = Error::new(
            first.kind,
            format!(
                "{} of {} {noun} failed (first: {})",
                self.failed, self.seen, first.message
            ),
        );
        e.status = first.status;
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn inputs(n: usize) -> Receiver<Result<Item>> {
        let (tx, rx) = mpsc::sync_channel(4);
        std::thread::spawn(move || {
            for i in 0..n {
                let item = Item {
                    id: i.to_string(),
                    object: None,
                };
                let _ = tx.send(if i == 3 {
                    Err(Error::usage("bad line"))
                } else {
                    Ok(item)
                });
            }
        });
        rx
    }

    #[test]
    fn results_come_in_input_order_at_most_jobs_at_a_time() {
        let busy = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let work = |item: Item| {
            let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let n: u64 = item.id.parse().unwrap();
            // Later items finish first.
            std::thread::sleep(Duration::from_millis(20 - n));
            busy.fetch_sub(1, Ordering::SeqCst);
            item.id
        };
        let mut seen = Vec::new();
        run(3, inputs(12), &work, &mut |r| {
            seen.push(r.unwrap_or_else(|e| e.message));
            Ok(())
        })
        .unwrap();
        let want: Vec<String> = (0..12)
            .map(|i| {
                if i == 3 {
                    "bad line".into()
                } else {
                    i.to_string()
                }
            })
            .collect();
        assert_eq!(seen, want);
        assert!(most.load(Ordering::SeqCst) <= 3);
    }

    #[test]
    fn a_failing_emit_stops_the_run() {
        let done = AtomicUsize::new(0);
        let work = |_: Item| done.fetch_add(1, Ordering::SeqCst);
        let e = run(2, inputs(1000), &work, &mut |_| Err(Error::other("closed"))).unwrap_err();
        assert_eq!(e.message, "closed");
        assert!(done.load(Ordering::SeqCst) < 100);
    }

    #[test]
    fn one_failure_is_the_error_and_several_are_counted() {
        let mut t = Tally::new(Mode::Json);
        t.fail(Error::new(crate::error::Kind::NotFound, "gone"));
        assert_eq!(t.finish("id(s)").unwrap_err().message, "gone");
        let mut t = Tally::new(Mode::Json);
        t.ok();
        t.fail(Error::new(crate::error::Kind::NotFound, "gone"));
        t.fail(Error::other("bad"));
        let e = t.finish("id(s)").unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert_eq!(e.message, "2 of 3 id(s) failed (first: gone)");
    }
}
