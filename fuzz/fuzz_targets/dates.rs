//! `dates::parse_date` (both bounds), `dates::parse_http_date` and
//! `http::retry::parse_retry_after` on any UTF-8 text and any clock: they
//! never panic, a parsed date formats, `--from D` is never after `--to D`,
//! and a Retry-After wait is never above `MAX_RETRY_AFTER`.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use civitai_orch::dates::{self, Bound};
use civitai_orch::http::retry::{self, MAX_RETRY_AFTER};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

/// 2026-01-20T06:00:00Z, the clock most inputs are read against.
const FIXED_NOW: i64 = 1_768_888_800;

fuzz_target!(|data: &[u8]| {
    // A first byte with the low bit set takes the clock from the next
    // eight bytes (any instant `time` can hold); otherwise the fixed one.
    let (secs, rest) = match data {
        [flag, clock @ ..] if flag & 1 == 1 && clock.len() >= 8 => {
            let (c, rest) = clock.split_at(8);
            (i64::from_le_bytes(c.try_into().unwrap()), rest)
        }
        [_, rest @ ..] => (FIXED_NOW, rest),
        [] => return,
    };
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    let now = clock(secs);
    let from = dates::parse_date(s, Bound::From, now);
    let to = dates::parse_date(s, Bound::To, now);
    if let (Ok(from), Ok(to)) = (&from, &to) {
        assert!(from <= to, "{s:?}: from {from} is after to {to}");
    }
    for t in [from, to].into_iter().flatten() {
        let _ = dates::format_iso_millis(t);
    }

    let now = system_time(secs);
    let _ = dates::parse_http_date(s, now);
    if let Some(wait) = retry::parse_retry_after(s, now) {
        assert!(wait <= MAX_RETRY_AFTER, "{s:?}: waits {wait:?}");
    }
});

/// Any second count as an instant `time` can name, wrapping into its range.
fn clock(secs: i64) -> OffsetDateTime {
    let min = OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT).unix_timestamp();
    let max = OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT).unix_timestamp();
    let secs = min + secs.rem_euclid(max - min);
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

fn system_time(secs: i64) -> SystemTime {
    let d = Duration::from_secs(secs.unsigned_abs());
    let t = if secs >= 0 {
        UNIX_EPOCH.checked_add(d)
    } else {
        UNIX_EPOCH.checked_sub(d)
    };
    t.unwrap_or(UNIX_EPOCH)
}
