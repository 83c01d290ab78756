//! Large downloads, which are synced while they grow (a helper thread,
//! `src/download/writeback.rs`): the bytes arrive whole under the final
//! name, a transfer cut midway leaves nothing there and the run ends by
//! itself, and two runs at once still leave one good file.

use std::time::Duration;

use serde_json::json;

use crate::support::fake::pattern_byte;
use crate::support::{temp_dir, Cli, Fake, Reply};
use crate::{files, image, workflow_with_images};

/// Large enough for the helper to sync several times (every 8 MiB).
const BIG: usize = 40 * 1024 * 1024;

/// No run here should come near this, even on a slow shared machine; a
/// thread left waiting would keep the run alive past it.
const LIMIT: Option<Duration> = Some(Duration::from_secs(90));

fn pattern(len: usize) -> Vec<u8> {
    (0..len as u64).map(pattern_byte).collect()
}

/// Where the first byte differs from the fake's pattern, if any.
fn first_wrong(data: &[u8]) -> Option<usize> {
    data.iter()
        .enumerate()
        .position(|(i, b)| *b != pattern_byte(i as u64))
}

#[test]
fn a_large_download_arrives_whole_under_its_final_name() {
    let fake = Fake::start();
    let dir = temp_dir("big");
    let id = format!("synthetic-{BIG}.bin");
    let args = ["blob", &id, "--download", "--dir", dir.to_str().unwrap()];
    Cli::new(Some(&fake), &args)
        .run_within(LIMIT)
        .ok()
        .stdout_has(&format!("({BIG} bytes)"));
    assert_eq!(files(&dir), [id.as_str()], "no .part left");
    let data = std::fs::read(dir.join(&id)).unwrap();
    assert_eq!(data.len(), BIG);
    assert_eq!(first_wrong(&data), None, "bytes differ");

    // The same through `results --download`, two files at once (-j 2).
    let other = format!("synthetic-{}.bin", BIG / 2);
    fake.put_workflow(workflow_with_images(
        "big",
        json!([image(&id), image(&other)]),
    ));
    let dir = temp_dir("big-results");
    let args = ["results", "big", "--download", "-j", "2"];
    let mut args = args.to_vec();
    args.extend(["--dir", dir.to_str().unwrap()]);
    Cli::new(Some(&fake), &args).run_within(LIMIT).ok();
    assert_eq!(files(&dir), ["big_0_0.bin", "big_0_1.bin"]);
    for (name, len) in [("big_0_0.bin", BIG), ("big_0_1.bin", BIG / 2)] {
        let data = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(data.len(), len, "{name}");
        assert_eq!(first_wrong(&data), None, "{name}");
    }
}

#[test]
fn a_large_transfer_cut_midway_leaves_no_final_file_and_ends() {
    let fake = Fake::start();
    let dir = temp_dir("big-cut");
    let id = format!("synthetic-{BIG}.bin");
    let half = pattern(BIG / 2 + 12345);
    fake.script(
        &format!("/signed/{id}"),
        vec![Reply::Cut {
            status: 200,
            headers: vec![("Content-Type".into(), "application/octet-stream".into())],
            declared: BIG,
            body: half.clone(),
        }],
    );
    let d = dir.to_str().unwrap();
    let args = ["blob", &id, "--download", "--dir", d, "--retries=0"];
    Cli::new(Some(&fake), &args)
        .run_within(LIMIT)
        .code(5)
        .one_error_line()
        .stderr_has(&format!("failed after {} bytes", half.len()))
        .stderr_has("run again to resume");
    assert_eq!(files(&dir), [format!("{id}.part")], "no final file");
    assert_eq!(
        std::fs::read(dir.join(format!("{id}.part"))).unwrap(),
        half,
        "the .part holds what came"
    );

    // A body that stops coming (the server stalls, then drops it) ends the
    // same way once the client gives up on it.
    fake.set_chunk_delay(Duration::from_secs(3));
    let stalled = format!("synthetic-{}.bin", BIG + 1);
    let args = [
        "blob",
        &stalled,
        "--download",
        "--dir",
        d,
        "--retries=0",
        "--timeout=1",
    ];
    let run = Cli::new(Some(&fake), &args).run_within(LIMIT);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(!dir.join(&stalled).exists(), "{run:?}");
    fake.set_chunk_delay(Duration::ZERO);

    // The rerun resumes the cut one and completes it.
    let args = ["blob", &id, "--download", "--dir", d];
    Cli::new(Some(&fake), &args).run_within(LIMIT).ok();
    let data = std::fs::read(dir.join(&id)).unwrap();
    assert_eq!(data.len(), BIG);
    assert_eq!(first_wrong(&data), None, "bytes differ after the resume");
    assert!(!dir.join(format!("{id}.part")).exists());
}

// The helper syncs through a second handle on the `.part`, which shares
// its lock: a second run that starts once the first has synced a few times
// must still find the `.part` held, and the file ends whole.
#[test]
fn a_second_run_midway_finds_the_file_busy_and_one_good_file_is_left() {
    let fake = Fake::start();
    fake.set_chunk_delay(Duration::from_millis(3));
    let dir = temp_dir("big-twice");
    let size = BIG / 2;
    let id = format!("synthetic-{size}.bin");
    let d = dir.to_str().unwrap().to_string();
    let first = Cli::new(Some(&fake), &["blob", &id, "--download", "--dir", &d]);
    let first = std::thread::spawn(move || first.run_within(LIMIT));
    // Past two syncs (every 8 MiB), well before the end.
    let part = dir.join(format!("{id}.part"));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&part).map_or(0, |m| m.len()) < 12 << 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run stalled"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = Cli::new(Some(&fake), &["blob", &id, "--download", "--dir", &d]);
    let run = second.run_within(LIMIT);
    run.ok();
    assert!(
        run.stdout.contains("another run is downloading it")
            || run.stdout.contains("already complete"),
        "{run:?}"
    );
    first.join().unwrap().ok();
    assert_eq!(files(&dir), [id.as_str()]);
    let data = std::fs::read(dir.join(&id)).unwrap();
    assert_eq!(data.len(), size);
    assert_eq!(first_wrong(&data), None);
}
