//! Retry policy: which requests may be sent again after which failures
//! (nothing may happen twice because of a retry), which statuses are worth
//! another try, how long to wait before it (the server's `Retry-After` when it gives
//! one, otherwise capped exponential backoff with jitter), and how a wait is
//! shown to the user. It only decides; sleeping and re-sending belong to the
//! HTTP layer, and clock readings come in as arguments so tests are exact.

use std::time::{Duration, SystemTime};

use crate::dates;

/// Longest wait honoured from a Retry-After header.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Longest computed backoff.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Parses Retry-After: delta-seconds ("2", "120") or an HTTP date
/// (IMF-fixdate "Wed, 21 Oct 2015 07:28:00 GMT", or the obsolete RFC 850
/// "Wednesday, 21-Oct-15 07:28:00 GMT" and asctime "Wed Oct 21 07:28:00 2015"
/// forms). Capped at MAX_RETRY_AFTER; a date in the past gives
/// Duration::ZERO; garbage gives None.
///
/// A delta-seconds too large for a u64 still means "wait a long time"
/// (RFC 9111 §1.2.2), so it is capped like any other long wait rather than
/// treated as garbage.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = match parse_delta_seconds(value) {
        Some(wait) => wait,
        None => time_until(dates::parse_http_date(value, now)?, now),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Exponential backoff for the given retry number (1 for the first retry):
/// 1s, 2s, 4s, 8s, ... capped at MAX_BACKOFF, plus jitter of up to a quarter
/// of the base, derived from `seed` (the caller passes e.g. nanos of the
/// clock), never above MAX_BACKOFF. Must not overflow for retry = u32::MAX.
///
/// Retry 0 is treated like retry 1 so every input has a sensible answer.
/// Once the base reaches the cap the jitter has no room left, so late
/// retries wait exactly MAX_BACKOFF; for a single CLI user that lock-step
/// is harmless, and the cap is the stronger promise.
pub fn backoff(retry: u32, seed: u64) -> Duration {
    let base = base_delay(retry);
    let quarter_ms = u64::try_from(base.as_millis() / 4).unwrap_or(0);
    let jitter_ms = scramble(seed) % quarter_ms.saturating_add(1);
    base.saturating_add(Duration::from_millis(jitter_ms))
        .min(MAX_BACKOFF)
}

/// Whether a status is worth retrying for a GET: 429, 502, 503, 504.
///
/// 500 is left out on purpose: it usually means the request itself trips a
/// server bug, and repeating it only repeats the failure.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Seconds shown to the user for a wait, rounded up ("retrying in 2s"):
/// 0.2s -> 1, 2.0 -> 2, 0 -> 0.
///
/// Rounding up keeps the message honest: "retrying in 0s" for a real wait
/// would look like a hang.
pub fn display_secs(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

fn base_delay(retry: u32) -> Duration {
    let doublings = retry.saturating_sub(1);
    2u64.checked_pow(doublings).map_or(MAX_BACKOFF, |secs| {
        Duration::from_secs(secs).min(MAX_BACKOFF)
    })
}

/// Spreads nearby seeds (successive clock nanos differ only in low bits)
/// across the whole range, so the jitter is not just `seed % n`
/// (splitmix64's finaliser).
fn scramble(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `1*DIGIT` only: `str::parse` would also take "+5".
fn parse_delta_seconds(value: &str) -> Option<Duration> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = value
        .bytes()
        .try_fold(0u64, |acc, b| {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
        .unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs))
}

fn time_until(target: SystemTime, now: SystemTime) -> Duration {
    target.duration_since(now).unwrap_or(Duration::ZERO)
}

/// The methods this program sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
        }
    }

    /// The method of this upper-case name (`api GET ...`).
    pub fn from_name(name: &str) -> Option<Method> {
        Some(match name {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            _ => return None,
        })
    }

    /// Methods whose repetition has the effect of one request (RFC 9110
    /// §9.2.2). PATCH is not among them.
    pub fn is_idempotent(self) -> bool {
        matches!(
            self,
            Method::Get | Method::Head | Method::Put | Method::Delete
        )
    }
}

/// How a try failed, as far as repeating it is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with this status.
    Status(u16),
    /// The connection could not be made: no byte of the request went out.
    NotSent,
    /// The connection broke after the request (or part of it) was sent:
    /// the server may have acted on it.
    Dropped,
}

/// Whether a request that failed this way may be sent again. An idempotent
/// method, or a request with an idempotency key, may be repeated after any
/// retryable failure. Any other (a POST) only when the server provably did
/// not act on it: a 429 refuses the request before it is processed, and a
/// connection that never opened carried nothing. A 502/503/504 may come
/// from a gateway after the server did the work, so it is not proof.
pub fn may_repeat(method: Method, keyed: bool, failure: Failure) -> bool {
    match failure {
        Failure::Status(s) if !is_retryable_status(s) => false,
        Failure::Status(429) | Failure::NotSent => true,
        Failure::Status(_) | Failure::Dropped => method.is_idempotent() || keyed,
    }
}

/// Whether a transport error happened before any byte of the request was
/// written: name resolution, connecting, the TLS or proxy handshake.
pub fn never_sent(err: &ureq::Error) -> bool {
    use std::io::ErrorKind;
    match err {
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::ConnectProxyFailed(_) => true,
        ureq::Error::Timeout(t) => matches!(t, ureq::Timeout::Resolve | ureq::Timeout::Connect),
        ureq::Error::Io(e) => e.kind() == ErrorKind::ConnectionRefused,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::{expand_two_digit_year, to_system_time};
    use time::{Date, Month};

    fn at(y: i32, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> SystemTime {
        let t = Date::from_calendar_date(y, Month::try_from(mo).unwrap(), d)
            .unwrap()
            .with_hms(h, mi, s)
            .unwrap()
            .assume_utc();
        to_system_time(t).unwrap()
    }

    /// The instant in RFC 9110's Retry-After example.
    fn rfc_now() -> SystemTime {
        at(2015, 10, 21, 7, 28, 0)
    }

    fn secs(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n))
    }

    #[test]
    fn delta_seconds() {
        let now = rfc_now();
        assert_eq!(parse_retry_after("0", now), secs(0));
        assert_eq!(parse_retry_after("2", now), secs(2));
        assert_eq!(parse_retry_after("60", now), secs(60));
        assert_eq!(parse_retry_after(" 7 ", now), secs(7));
        assert_eq!(parse_retry_after("007", now), secs(7));
    }

    #[test]
    fn delta_seconds_are_capped() {
        let now = rfc_now();
        assert_eq!(parse_retry_after("61", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("120", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("18446744073709551615", now),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn huge_delta_seconds_are_capped_not_garbage() {
        let huge = "9".repeat(400);
        assert_eq!(parse_retry_after(&huge, rfc_now()), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("18446744073709551616", rfc_now()),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn garbage_is_none() {
        for value in [
            "",
            "   ",
            "soon",
            "-5",
            "+5",
            "1.5",
            "5s",
            "0x10",
            "1e3",
            "5 5",
            "٣",
            "５",
            "Wed, 21 Oct 2015 07:28:00",
            "Wed, 21 Oct 2015 07:28:00 PST",
            "Wed, 21 Oct 2015 07:28 GMT",
            "Wed, 21 Oct 15 07:28:00 GMT",
            "Wed, 1 Oct 2015 07:28:00 GMT",
            "Wed 21 Oct 2015 07:28:00 GMT",
            "Xyz, 21 Oct 2015 07:28:00 GMT",
            "Wed, 21 Foo 2015 07:28:00 GMT",
            "Wed, 31 Feb 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 24:00:00 GMT",
            "Wed, 21 Oct 2015 07:28:00:00 GMT",
            "Wed, 21 Oct 2015 07:2８:00 GMT",
            "Wednesday, 21-Oct-2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15-1 07:28:00 GMT",
            "Wed, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 15",
            "Wed Oct 021 07:28:00 2015",
            "Wednesday Oct 21 07:28:00 2015",
        ] {
            assert_eq!(parse_retry_after(value, rfc_now()), None, "{value:?}");
        }
    }

    #[test]
    fn imf_fixdate_in_the_future() {
        let now = at(2015, 10, 21, 7, 27, 30);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            secs(30)
        );
    }

    #[test]
    fn imf_fixdate_now_and_past_give_zero() {
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", rfc_now()),
            secs(0)
        );
        assert_eq!(
            parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", rfc_now()),
            secs(0)
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", rfc_now()),
            secs(0)
        );
    }

    #[test]
    fn imf_fixdate_far_future_is_capped() {
        assert_eq!(
            parse_retry_after("Thu, 22 Oct 2015 07:28:00 GMT", rfc_now()),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", rfc_now()),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn imf_fixdate_before_the_epoch_is_past() {
        assert_eq!(
            parse_retry_after("Mon, 01 Jan 1900 00:00:00 GMT", rfc_now()),
            secs(0)
        );
    }

    #[test]
    fn http_dates_tolerate_case_and_extra_spaces() {
        let now = at(2015, 10, 21, 7, 27, 50);
        assert_eq!(
            parse_retry_after("  wed,  21 OCT 2015 07:28:00 gmt ", now),
            secs(10)
        );
    }

    #[test]
    fn weekday_need_not_match_the_date() {
        let now = at(2015, 10, 21, 7, 27, 50);
        assert_eq!(
            parse_retry_after("Mon, 21 Oct 2015 07:28:00 GMT", now),
            secs(10)
        );
    }

    #[test]
    fn leap_second_is_read_as_59() {
        let now = at(2016, 12, 31, 23, 59, 50);
        assert_eq!(
            parse_retry_after("Sat, 31 Dec 2016 23:59:60 GMT", now),
            secs(9)
        );
    }

    #[test]
    fn rfc850_date() {
        let now = at(2015, 10, 21, 7, 27, 55);
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", now),
            secs(5)
        );
        assert_eq!(
            parse_retry_after("Tuesday, 20-Oct-15 07:28:00 GMT", now),
            secs(0)
        );
    }

    #[test]
    fn rfc850_far_future_two_digit_year_is_last_century() {
        // From 2015, "94" would be 2094, more than 50 years ahead: so 1994.
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", rfc_now()),
            secs(0)
        );
        assert_eq!(expand_two_digit_year(94, 2015), 1994);
        assert_eq!(expand_two_digit_year(65, 2015), 2065);
        assert_eq!(expand_two_digit_year(66, 2015), 1966);
        assert_eq!(expand_two_digit_year(0, 2099), 2100);
        assert_eq!(expand_two_digit_year(49, 2099), 2149);
        assert_eq!(expand_two_digit_year(50, 2099), 2050);
        // Out-of-range clocks never reach here, but the arithmetic must not overflow.
        assert!(expand_two_digit_year(99, i32::MAX) > 0);
        assert!(expand_two_digit_year(0, i32::MIN) < 0);
    }

    #[test]
    fn asctime_date() {
        let now = at(2015, 10, 21, 7, 27, 58);
        assert_eq!(parse_retry_after("Wed Oct 21 07:28:00 2015", now), secs(2));
        let now = at(1994, 11, 6, 8, 49, 30);
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", now), secs(7));
        assert_eq!(parse_retry_after("Sun Nov 06 08:49:37 1994", now), secs(7));
    }

    #[test]
    fn clock_before_the_epoch_still_parses_dates() {
        let now = std::time::UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:05 GMT", now),
            secs(15)
        );
        assert_eq!(
            parse_retry_after("Thursday, 01-Jan-70 00:00:05 GMT", now),
            secs(15)
        );
    }

    #[test]
    fn backoff_base_sequence_without_jitter() {
        let expected = [1, 1, 2, 4, 8, 16, 30, 30];
        for (retry, &want) in (0u32..).zip(expected.iter()) {
            assert_eq!(
                base_delay(retry),
                Duration::from_secs(want),
                "retry {retry}"
            );
        }
    }

    #[test]
    fn backoff_stays_within_base_and_a_quarter() {
        for retry in 1..=40u32 {
            let base = base_delay(retry);
            for seed in seeds() {
                let wait = backoff(retry, seed);
                assert!(
                    wait >= base,
                    "retry {retry} seed {seed}: {wait:?} < {base:?}"
                );
                assert!(
                    wait <= base + base / 4,
                    "retry {retry} seed {seed}: {wait:?}"
                );
                assert!(wait <= MAX_BACKOFF, "retry {retry} seed {seed}: {wait:?}");
            }
        }
    }

    #[test]
    fn backoff_first_retries() {
        for seed in seeds() {
            let first = backoff(1, seed);
            assert!(first >= Duration::from_secs(1) && first <= Duration::from_millis(1250));
            let fourth = backoff(4, seed);
            assert!(fourth >= Duration::from_secs(8) && fourth <= Duration::from_secs(10));
        }
    }

    #[test]
    fn backoff_is_capped_for_many_retries() {
        for retry in [
            6,
            7,
            10,
            31,
            32,
            33,
            63,
            64,
            65,
            1000,
            u32::MAX - 1,
            u32::MAX,
        ] {
            for seed in seeds() {
                assert_eq!(backoff(retry, seed), MAX_BACKOFF, "retry {retry}");
            }
        }
    }

    #[test]
    fn backoff_retry_zero_is_like_the_first() {
        for seed in seeds() {
            assert_eq!(backoff(0, seed), backoff(1, seed));
        }
    }

    #[test]
    fn backoff_is_deterministic_per_seed() {
        assert_eq!(backoff(3, 12345), backoff(3, 12345));
    }

    #[test]
    fn backoff_jitter_varies_with_nearby_seeds() {
        let waits: std::collections::HashSet<Duration> = (1_000_000u64..1_000_100)
            .map(|seed| backoff(5, seed))
            .collect();
        assert!(waits.len() > 50, "only {} distinct waits", waits.len());
    }

    #[test]
    fn backoff_jitter_reaches_both_ends_of_its_range() {
        let waits: Vec<Duration> = (0u64..20_000).map(|seed| backoff(3, seed)).collect();
        let min = waits.iter().min().unwrap();
        let max = waits.iter().max().unwrap();
        assert!(*min < Duration::from_millis(4050), "{min:?}");
        assert!(*max > Duration::from_millis(4950), "{max:?}");
    }

    fn seeds() -> Vec<u64> {
        let mut seeds = vec![0, 1, 2, 3, 999_999_999, u64::MAX, u64::MAX - 1, 1 << 63];
        seeds.extend((0..200u64).map(|i| i.wrapping_mul(0x2545_F491_4F6C_DD1D)));
        seeds
    }

    #[test]
    fn retryable_statuses() {
        for status in [429, 502, 503, 504] {
            assert!(is_retryable_status(status), "{status}");
        }
    }

    #[test]
    fn non_retryable_statuses() {
        for status in [
            0,
            200,
            204,
            301,
            304,
            400,
            401,
            403,
            404,
            408,
            428,
            430,
            500,
            501,
            505,
            599,
            u16::MAX,
        ] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }

    #[test]
    fn a_post_is_repeated_only_when_it_provably_did_nothing() {
        use Failure::*;
        for s in [502, 503, 504] {
            assert!(!may_repeat(Method::Post, false, Status(s)), "{s}");
            assert!(!may_repeat(Method::Patch, false, Status(s)), "{s}");
            assert!(may_repeat(Method::Post, true, Status(s)), "{s}");
            for m in [Method::Get, Method::Head, Method::Put, Method::Delete] {
                assert!(may_repeat(m, false, Status(s)), "{m:?} {s}");
            }
        }
        assert!(may_repeat(Method::Post, false, Status(429)));
        assert!(may_repeat(Method::Post, false, NotSent));
        assert!(!may_repeat(Method::Post, false, Dropped));
        assert!(may_repeat(Method::Post, true, Dropped));
        assert!(may_repeat(Method::Delete, false, Dropped));
        for s in [400, 401, 404, 409, 500] {
            assert!(!may_repeat(Method::Get, true, Status(s)), "{s}");
        }
    }

    #[test]
    fn methods_by_name() {
        for m in [
            Method::Get,
            Method::Head,
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Patch,
        ] {
            assert_eq!(Method::from_name(m.as_str()), Some(m));
        }
        assert_eq!(Method::from_name("get"), None);
        assert_eq!(Method::from_name("OPTIONS"), None);
        assert!(!Method::Patch.is_idempotent());
    }

    #[test]
    fn display_secs_rounds_up() {
        assert_eq!(display_secs(Duration::ZERO), 0);
        assert_eq!(display_secs(Duration::from_nanos(1)), 1);
        assert_eq!(display_secs(Duration::from_millis(200)), 1);
        assert_eq!(display_secs(Duration::from_secs(1)), 1);
        assert_eq!(display_secs(Duration::from_millis(1001)), 2);
        assert_eq!(display_secs(Duration::from_secs(2)), 2);
        assert_eq!(display_secs(Duration::from_millis(2500)), 3);
        assert_eq!(display_secs(MAX_BACKOFF), 30);
    }

    #[test]
    fn display_secs_does_not_overflow() {
        assert_eq!(display_secs(Duration::MAX), u64::MAX);
        assert_eq!(display_secs(Duration::from_secs(u64::MAX)), u64::MAX);
    }
}
