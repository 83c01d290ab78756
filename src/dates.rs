//! Turns the user's `--from` / `--to` values into UTC instants and renders
//! instants in the millisecond ISO 8601 form the API expects. This module
//! owns which date spellings are accepted, what a bare day means for each
//! end of a range, and how spans like `7d` count back from "now"; it knows
//! nothing about flags, so callers add the flag name and [`ACCEPTED_FORMS`]
//! to its short error reasons.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

/// Which end of a range a value is for; decides what a bare day means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    From,
    To,
}

/// One line listing the accepted forms, used in error messages.
pub const ACCEPTED_FORMS: &str = "YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM], or a span back from now like 30m, 24h, 7d, 2w";

/// Parses a --from/--to value; `now` is passed in so tests are deterministic.
///
/// A span of zero (`0m`, `0d`, ...) is accepted and means `now`: it is the
/// natural limit of the form and gives `--to 0d` an obvious reading.
pub fn parse_date(
    input: &str,
    bound: Bound,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, String> {
    let value = input.trim();
    if value.is_empty() {
        return Err("empty date".to_string());
    }
    // Every accepted form is ASCII; refusing the rest up front means the
    // byte-wise parsing below can never split a multi-byte character.
    if !value.is_ascii() {
        return Err(not_a_date(value));
    }
    if let Some((count, unit_secs)) = split_span(value.as_bytes()) {
        return span_back(now, count, unit_secs)
            .ok_or_else(|| format!("span too large: '{value}'"));
    }
    parse_absolute(value.as_bytes(), bound).ok_or_else(|| not_a_date(value))
}

/// An instant as the API writes it (`2026-01-21T22:21:26.332Z`, any number
/// of fraction digits); `None` for anything else.
pub fn parse_instant(value: &str) -> Option<OffsetDateTime> {
    let v = value.trim();
    if !v.is_ascii() || v.len() < 16 {
        return None;
    }
    parse_absolute(v.as_bytes(), Bound::From)
}

/// A length of time as people read it: `850 ms`, `14.9 s`, `3 min 5 s`,
/// `2 h 4 min`, `3 d 4 h`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    let s = d.as_secs();
    match s {
        _ if ms < 1000 => format!("{ms} ms"),
        0..=59 => format!("{:.1} s", ms as f64 / 1000.0),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The time from one API instant to another, when both are readable and
/// in that order.
pub fn between(start: &str, end: &str) -> Option<Duration> {
    let d = parse_instant(end)? - parse_instant(start)?;
    Duration::try_from(d).ok()
}

/// UTC ISO 8601 with exactly 3 fraction digits and Z: "2026-01-20T06:00:00.000Z".
pub fn format_iso_millis(t: OffsetDateTime) -> String {
    let utc = to_utc_clamped(t);
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        format_year(utc.year()),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.millisecond()
    )
}

fn not_a_date(value: &str) -> String {
    format!("not a date: '{value}'")
}

/// Splits `7d` into (7, seconds per day); None when the value is not shaped
/// like a span at all, so it can still be tried as a date.
fn split_span(value: &[u8]) -> Option<(&[u8], i64)> {
    let (&unit, count) = value.split_last()?;
    if count.is_empty() || !count.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Lowercase only: an uppercase `M` reads as "months" to many people.
    let unit_secs = match unit {
        b'm' => 60,
        b'h' => 60 * 60,
        b'd' => 24 * 60 * 60,
        b'w' => 7 * 24 * 60 * 60,
        _ => return None,
    };
    Some((count, unit_secs))
}

fn span_back(now: OffsetDateTime, count: &[u8], unit_secs: i64) -> Option<OffsetDateTime> {
    let count = i64::try_from(parse_digits(count)?).ok()?;
    let secs = count.checked_mul(unit_secs)?;
    now.checked_sub(time::Duration::seconds(secs))?
        .checked_to_offset(UtcOffset::UTC)
}

fn parse_absolute(value: &[u8], bound: Bound) -> Option<OffsetDateTime> {
    let mut cursor = Cursor { rest: value };
    let date = parse_ymd(&mut cursor)?;
    if cursor.rest.is_empty() {
        return date_only(date, bound);
    }
    cursor.eat_any(b"Tt ")?;
    let clock = parse_clock(&mut cursor)?;
    let offset = parse_zone(&mut cursor)?;
    if !cursor.rest.is_empty() {
        return None;
    }
    date.with_time(clock)
        .assume_offset(offset)
        .checked_to_offset(UtcOffset::UTC)
}

/// A bare day covers the whole day, so each end takes the matching edge
/// and `--from D --to D` selects exactly that day.
fn date_only(date: Date, bound: Bound) -> Option<OffsetDateTime> {
    let start_or_end = match bound {
        Bound::From => date.midnight(),
        Bound::To => date.with_hms_milli(23, 59, 59, 999).ok()?,
    };
    Some(start_or_end.assume_utc())
}

fn parse_ymd(cursor: &mut Cursor) -> Option<Date> {
    let year = cursor.digits(4)?;
    cursor.eat(b'-')?;
    let month = cursor.digits(2)?;
    cursor.eat(b'-')?;
    let day = cursor.digits(2)?;
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()
}

/// `HH:MM`, then optionally `:SS`, then (only after seconds) `.fraction`.
fn parse_clock(cursor: &mut Cursor) -> Option<Time> {
    let hour = cursor.digits(2)?;
    cursor.eat(b':')?;
    let minute = cursor.digits(2)?;
    let mut second = 0;
    let mut nanos = 0;
    if cursor.eat(b':').is_some() {
        second = cursor.digits(2)?;
        if cursor.eat(b'.').is_some() {
            nanos = cursor.fraction_nanos()?;
        }
    }
    Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()
}

/// No zone at all means UTC: the API speaks UTC, and a machine-local guess
/// would make the same command mean different things on different hosts.
fn parse_zone(cursor: &mut Cursor) -> Option<UtcOffset> {
    if cursor.rest.is_empty() || cursor.eat_any(b"Zz").is_some() {
        return Some(UtcOffset::UTC);
    }
    let sign = cursor.eat_any(b"+-")?;
    let hours = cursor.digits(2)?;
    cursor.eat(b':')?;
    let minutes = cursor.digits(2)?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    let (hours, minutes) = (i8::try_from(hours).ok()?, i8::try_from(minutes).ok()?);
    // UtcOffset wants both parts carrying the sign.
    let (hours, minutes) = if sign == b'-' {
        (-hours, -minutes)
    } else {
        (hours, minutes)
    };
    UtcOffset::from_hms(hours, minutes, 0).ok()
}

/// Instants that cannot be named in UTC within `time`'s year range are
/// pinned to the nearest one that can, so formatting never fails.
fn to_utc_clamped(t: OffsetDateTime) -> OffsetDateTime {
    t.checked_to_offset(UtcOffset::UTC).unwrap_or_else(|| {
        let edge = if t.offset().is_negative() {
            Date::MAX.with_time(Time::MAX)
        } else {
            Date::MIN.midnight()
        };
        edge.assume_utc()
    })
}

/// Years outside 0000-9999 use the signed six-digit form, as JavaScript's
/// `toISOString` does, so the API side can still read them.
fn format_year(year: i32) -> String {
    if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+07}")
    }
}

/// Digits to a number, None on overflow instead of wrapping.
fn parse_digits(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &b| {
        acc.checked_mul(10)?
            .checked_add(u64::from(b.checked_sub(b'0')?))
    })
}

/// Reads fixed-width fields off the front of an ASCII value.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl Cursor<'_> {
    /// Exactly `width` digits; `2026-1-2` must not slip through as a date.
    fn digits(&mut self, width: usize) -> Option<u64> {
        let field = self.rest.get(..width)?;
        if !field.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.rest = &self.rest[width..];
        parse_digits(field)
    }

    fn eat(&mut self, expected: u8) -> Option<u8> {
        self.eat_any(&[expected])
    }

    fn eat_any(&mut self, choices: &[u8]) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        if !choices.contains(&first) {
            return None;
        }
        self.rest = rest;
        Some(first)
    }

    /// 1-9 fraction digits scaled to nanoseconds; more would be finer than
    /// `time` can hold, so they are refused rather than silently dropped.
    fn fraction_nanos(&mut self) -> Option<u32> {
        let len = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=9).contains(&len) {
            return None;
        }
        let value = self.digits(len)?;
        let scale = 10u64.checked_pow(u32::try_from(9 - len).ok()?)?;
        u32::try_from(value.checked_mul(scale)?).ok()
    }
}

/// An HTTP date (RFC 9110 §5.6.7) as an instant: IMF-fixdate
/// "Wed, 21 Oct 2015 07:28:00 GMT", or the obsolete RFC 850
/// "Wednesday, 21-Oct-15 07:28:00 GMT" and asctime "Wed Oct 21 07:28:00 2015"
/// forms; `now` places RFC 850's two-digit years.
///
/// The three forms differ in token count, which picks the reader.
pub fn parse_http_date(value: &str, now: SystemTime) -> Option<SystemTime> {
    let tokens: Vec<&str> = value.split_ascii_whitespace().collect();
    let instant = match tokens.as_slice() {
        [weekday, day, month, year, clock, zone] => {
            imf_fixdate(weekday, day, month, year, clock, zone)
        }
        [weekday, day_month_year, clock, zone] => {
            rfc850_date(weekday, day_month_year, clock, zone, now)
        }
        [weekday, month, day, clock, year] => asctime_date(weekday, month, day, clock, year),
        _ => None,
    }?;
    to_system_time(instant)
}

/// "Wed, 21 Oct 2015 07:28:00 GMT"
fn imf_fixdate(
    weekday: &str,
    day: &str,
    month: &str,
    year: &str,
    clock: &str,
    zone: &str,
) -> Option<OffsetDateTime> {
    let weekday = weekday.strip_suffix(',')?;
    if !is_short_weekday(weekday) || !is_gmt(zone) {
        return None;
    }
    let year = i32::try_from(fixed_digits(year, 4)?).ok()?;
    utc_instant(year, month, fixed_digits(day, 2)?, clock)
}

/// "Wednesday, 21-Oct-15 07:28:00 GMT"
fn rfc850_date(
    weekday: &str,
    day_month_year: &str,
    clock: &str,
    zone: &str,
    now: SystemTime,
) -> Option<OffsetDateTime> {
    let weekday = weekday.strip_suffix(',')?;
    if !is_long_weekday(weekday) || !is_gmt(zone) {
        return None;
    }
    let mut parts = day_month_year.split('-');
    let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let two_digit_year = i32::try_from(fixed_digits(year, 2)?).ok()?;
    let year = expand_two_digit_year(two_digit_year, year_of(now)?);
    utc_instant(year, month, fixed_digits(day, 2)?, clock)
}

/// "Wed Oct 21 07:28:00 2015"; single-digit days come space-padded, which
/// the whitespace split has already absorbed.
fn asctime_date(
    weekday: &str,
    month: &str,
    day: &str,
    clock: &str,
    year: &str,
) -> Option<OffsetDateTime> {
    if !is_short_weekday(weekday) {
        return None;
    }
    let day = fixed_digits(day, 1).or_else(|| fixed_digits(day, 2))?;
    let year = i32::try_from(fixed_digits(year, 4)?).ok()?;
    utc_instant(year, month, day, clock)
}

/// RFC 9110 §5.6.7: a two-digit year that would land more than 50 years
/// ahead belongs to the previous century; symmetrically, one that would lie
/// 50 or more years back belongs to the next, so the result is the nearest.
pub fn expand_two_digit_year(two_digit_year: i32, current_year: i32) -> i32 {
    let century = current_year.saturating_sub(current_year.rem_euclid(100));
    let year = century.saturating_add(two_digit_year);
    if year > current_year.saturating_add(50) {
        year.saturating_sub(100)
    } else if year <= current_year.saturating_sub(50) {
        year.saturating_add(100)
    } else {
        year
    }
}

fn utc_instant(year: i32, month: &str, day: u32, clock: &str) -> Option<OffsetDateTime> {
    let date = Date::from_calendar_date(year, month_from_name(month)?, u8::try_from(day).ok()?);
    Some(date.ok()?.with_time(parse_http_clock(clock)?).assume_utc())
}

/// "HH:MM:SS"; a leap second (:60, which HTTP-date allows) is read as :59
/// because `time` cannot represent it and one second does not matter here.
fn parse_http_clock(clock: &str) -> Option<Time> {
    let mut parts = clock.split(':');
    let (hour, minute, second) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let hour = u8::try_from(fixed_digits(hour, 2)?).ok()?;
    let minute = u8::try_from(fixed_digits(minute, 2)?).ok()?;
    let second = u8::try_from(fixed_digits(second, 2)?).ok()?;
    Time::from_hms(hour, minute, second.min(59)).ok()
}

/// Exactly `width` ASCII digits.
fn fixed_digits(text: &str, width: usize) -> Option<u32> {
    if text.len() != width || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn month_from_name(name: &str) -> Option<Month> {
    const NAMES: [(&str, Month); 12] = [
        ("Jan", Month::January),
        ("Feb", Month::February),
        ("Mar", Month::March),
        ("Apr", Month::April),
        ("May", Month::May),
        ("Jun", Month::June),
        ("Jul", Month::July),
        ("Aug", Month::August),
        ("Sep", Month::September),
        ("Oct", Month::October),
        ("Nov", Month::November),
        ("Dec", Month::December),
    ];
    NAMES
        .iter()
        .find(|(short, _)| short.eq_ignore_ascii_case(name))
        .map(|&(_, month)| month)
}

/// The weekday is checked only as a name, not against the date: a
/// mismatched one is a server slip, and the date is what matters.
fn is_short_weekday(name: &str) -> bool {
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .any(|day| day.eq_ignore_ascii_case(name))
}

fn is_long_weekday(name: &str) -> bool {
    [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
    .iter()
    .any(|day| day.eq_ignore_ascii_case(name))
}

fn is_gmt(zone: &str) -> bool {
    zone.eq_ignore_ascii_case("GMT")
}

/// The current year, needed only to expand RFC 850's two-digit years;
/// None for clocks `time` cannot place, which makes that form unreadable
/// rather than guessed.
fn year_of(now: SystemTime) -> Option<i32> {
    let secs = match now.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).ok()?,
        Err(before) => 0i64.checked_sub(i64::try_from(before.duration().as_secs()).ok()?)?,
    };
    Some(OffsetDateTime::from_unix_timestamp(secs).ok()?.year())
}

/// Goes through the Unix timestamp with checked steps; `SystemTime::from`
/// would panic on platforms whose clock range is narrower than `time`'s.
pub fn to_system_time(instant: OffsetDateTime) -> Option<SystemTime> {
    let secs = instant.unix_timestamp();
    match u64::try_from(secs) {
        Ok(after) => UNIX_EPOCH.checked_add(Duration::from_secs(after)),
        Err(_) => UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_instants_and_durations() {
        let d = between("2026-01-21T22:21:26.332Z", "2026-01-21T22:21:41.8700000Z").unwrap();
        assert_eq!(d.as_millis(), 15_538);
        assert_eq!(human_duration(d), "15.5 s");
        assert!(between("2026-01-21T22:21:41Z", "2026-01-21T22:21:26Z").is_none());
        assert!(parse_instant("2026-01-21").is_none());
        assert!(parse_instant("yesterday").is_none());
        assert_eq!(human_duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(human_duration(Duration::from_secs(185)), "3 min 5 s");
        assert_eq!(human_duration(Duration::from_secs(7440)), "2 h 4 min");
        assert_eq!(human_duration(Duration::from_secs(100_000)), "1 d 3 h");
    }

    fn utc(y: i32, mo: u8, d: u8, h: u8, mi: u8, s: u8, nanos: u32) -> OffsetDateTime {
        Date::from_calendar_date(y, Month::try_from(mo).unwrap(), d)
            .unwrap()
            .with_hms_nano(h, mi, s, nanos)
            .unwrap()
            .assume_utc()
    }

    fn now() -> OffsetDateTime {
        utc(2026, 1, 20, 6, 0, 0, 0)
    }

    fn from(input: &str) -> Result<OffsetDateTime, String> {
        parse_date(input, Bound::From, now())
    }

    fn to(input: &str) -> Result<OffsetDateTime, String> {
        parse_date(input, Bound::To, now())
    }

    #[test]
    fn date_only_from_is_start_of_day() {
        assert_eq!(from("2026-01-20"), Ok(utc(2026, 1, 20, 0, 0, 0, 0)));
    }

    #[test]
    fn date_only_to_is_end_of_day() {
        assert_eq!(
            to("2026-01-20"),
            Ok(utc(2026, 1, 20, 23, 59, 59, 999_000_000))
        );
        assert_eq!(
            format_iso_millis(to("2026-01-20").unwrap()),
            "2026-01-20T23:59:59.999Z"
        );
    }

    #[test]
    fn date_only_accepts_leap_day() {
        assert_eq!(from("2024-02-29"), Ok(utc(2024, 2, 29, 0, 0, 0, 0)));
    }

    #[test]
    fn bound_does_not_change_explicit_times() {
        assert_eq!(from("2026-01-20T06:30"), to("2026-01-20T06:30"));
    }

    #[test]
    fn hours_and_minutes() {
        assert_eq!(from("2026-01-20T06:30"), Ok(utc(2026, 1, 20, 6, 30, 0, 0)));
    }

    #[test]
    fn with_seconds() {
        assert_eq!(
            from("2026-01-20T06:30:15"),
            Ok(utc(2026, 1, 20, 6, 30, 15, 0))
        );
    }

    #[test]
    fn fractions_of_every_supported_length() {
        assert_eq!(
            from("2026-01-20T06:30:15.5"),
            Ok(utc(2026, 1, 20, 6, 30, 15, 500_000_000))
        );
        assert_eq!(
            from("2026-01-20T06:30:15.123"),
            Ok(utc(2026, 1, 20, 6, 30, 15, 123_000_000))
        );
        assert_eq!(
            from("2026-01-20T06:30:15.123456"),
            Ok(utc(2026, 1, 20, 6, 30, 15, 123_456_000))
        );
        assert_eq!(
            from("2026-01-20T06:30:15.123456789"),
            Ok(utc(2026, 1, 20, 6, 30, 15, 123_456_789))
        );
    }

    #[test]
    fn z_suffix_either_case() {
        let expected = Ok(utc(2026, 1, 20, 6, 30, 0, 0));
        assert_eq!(from("2026-01-20T06:30Z"), expected);
        assert_eq!(from("2026-01-20T06:30:00Z"), expected);
        assert_eq!(from("2026-01-20T06:30:00.000z"), expected);
    }

    #[test]
    fn positive_offset_is_converted_to_utc() {
        assert_eq!(
            from("2026-01-20T06:30+02:00"),
            Ok(utc(2026, 1, 20, 4, 30, 0, 0))
        );
        assert_eq!(
            from("2026-01-20T06:30:00+05:30"),
            Ok(utc(2026, 1, 20, 1, 0, 0, 0))
        );
    }

    #[test]
    fn negative_offset_is_converted_to_utc() {
        assert_eq!(
            from("2026-01-20T22:30-03:00"),
            Ok(utc(2026, 1, 21, 1, 30, 0, 0))
        );
        assert_eq!(
            from("2026-01-20T06:30:00.250-00:30"),
            Ok(utc(2026, 1, 20, 7, 0, 0, 250_000_000))
        );
    }

    #[test]
    fn zero_offsets_equal_utc() {
        let expected = Ok(utc(2026, 1, 20, 6, 30, 0, 0));
        assert_eq!(from("2026-01-20T06:30+00:00"), expected);
        assert_eq!(from("2026-01-20T06:30-00:00"), expected);
    }

    #[test]
    fn results_are_utc() {
        assert_eq!(
            from("2026-01-20T06:30+02:00").unwrap().offset(),
            UtcOffset::UTC
        );
        assert_eq!(from("3h").unwrap().offset(), UtcOffset::UTC);
    }

    #[test]
    fn offset_can_cross_a_year_boundary() {
        assert_eq!(
            from("2026-01-01T00:30+01:00"),
            Ok(utc(2025, 12, 31, 23, 30, 0, 0))
        );
    }

    #[test]
    fn lowercase_t_and_space_separators() {
        let expected = Ok(utc(2026, 1, 20, 6, 30, 0, 0));
        assert_eq!(from("2026-01-20t06:30"), expected);
        assert_eq!(from("2026-01-20 06:30"), expected);
        assert_eq!(from("2026-01-20 06:30:00z"), expected);
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(from("  2026-01-20\t"), Ok(utc(2026, 1, 20, 0, 0, 0, 0)));
        assert_eq!(from("\n7d "), Ok(utc(2026, 1, 13, 6, 0, 0, 0)));
    }

    #[test]
    fn spans_count_back_from_now() {
        assert_eq!(from("30m"), Ok(utc(2026, 1, 20, 5, 30, 0, 0)));
        assert_eq!(from("24h"), Ok(utc(2026, 1, 19, 6, 0, 0, 0)));
        assert_eq!(from("7d"), Ok(utc(2026, 1, 13, 6, 0, 0, 0)));
        assert_eq!(from("2w"), Ok(utc(2026, 1, 6, 6, 0, 0, 0)));
    }

    #[test]
    fn spans_ignore_bound() {
        assert_eq!(from("7d"), to("7d"));
    }

    #[test]
    fn spans_keep_sub_second_precision_of_now() {
        let now = utc(2026, 1, 20, 6, 0, 0, 123_456_789);
        assert_eq!(
            parse_date("1m", Bound::To, now),
            Ok(utc(2026, 1, 20, 5, 59, 0, 123_456_789))
        );
    }

    #[test]
    fn spans_from_a_non_utc_now_come_back_in_utc() {
        let offset = UtcOffset::from_hms(2, 0, 0).unwrap();
        let now = now().to_offset(offset);
        let got = parse_date("1h", Bound::From, now).unwrap();
        assert_eq!(got, utc(2026, 1, 20, 5, 0, 0, 0));
        assert_eq!(got.offset(), UtcOffset::UTC);
    }

    #[test]
    fn zero_span_means_now() {
        assert_eq!(from("0d"), Ok(now()));
        assert_eq!(from("0m"), Ok(now()));
    }

    #[test]
    fn large_but_representable_span() {
        assert_eq!(from("520w"), Ok(utc(2016, 2, 2, 6, 0, 0, 0)));
    }

    #[test]
    fn absurd_spans_are_errors() {
        assert_eq!(
            from("99999999999999w"),
            Err("span too large: '99999999999999w'".to_string())
        );
        assert!(from("99999999999999999999999999999m").is_err());
        assert!(from("9223372036854775807m").is_err());
        assert!(from("18446744073709551615d").is_err());
        assert!(from("600000w").is_ok(), "still inside time's year range");
        assert!(from("6000000w").is_err());
    }

    #[test]
    fn bad_spans() {
        for input in [
            "7x", "-7d", "+7d", "d", "7", "7 d", "7D", "1.5h", "7dd", "h7",
        ] {
            assert!(from(input).is_err(), "{input:?} should be rejected");
        }
    }

    #[test]
    fn empty_is_an_error() {
        assert_eq!(from(""), Err("empty date".to_string()));
        assert_eq!(from("   "), Err("empty date".to_string()));
    }

    #[test]
    fn error_names_the_trimmed_value() {
        assert_eq!(
            from(" 2026-13-01 "),
            Err("not a date: '2026-13-01'".to_string())
        );
        assert_eq!(
            from("yesterday"),
            Err("not a date: 'yesterday'".to_string())
        );
    }

    #[test]
    fn malformed_dates() {
        for input in [
            "2026-1-2",
            "2026-01-2",
            "26-01-02",
            "02026-01-01",
            "2026/01/20",
            "20260120",
            "2026-01-20T",
            "2026-01-20T6:30",
            "2026-01-20T06",
            "2026-01-20T0630",
            "2026-01-20T06:30:5",
            "2026-01-20T06:30.5",
            "2026-01-20T06:30:00.",
            "2026-01-20T06:30:00.1234567891",
            "2026-01-20T06:30:00,5",
            "2026-01-20X06:30",
            "2026-01-20  06:30",
            "2026-01-20T06:30Zjunk",
            "2026-01-20T06:30 Z",
            "2026-01-20T06:30+0200",
            "2026-01-20T06:30+02",
            "2026-01-20T06:30+2:00",
            "2026-01-20T06:30UTC",
            "2026-01-20junk",
        ] {
            assert!(from(input).is_err(), "{input:?} should be rejected");
        }
    }

    #[test]
    fn impossible_calendar_values() {
        for input in [
            "2026-02-30",
            "2025-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-04-31",
            "2026-01-20T25:00",
            "2026-01-20T24:00",
            "2026-01-20T06:60",
            "2026-01-20T06:30:60",
            "2026-01-20T06:30+24:00",
            "2026-01-20T06:30+05:60",
            "2026-01-20T06:30-99:99",
        ] {
            assert!(from(input).is_err(), "{input:?} should be rejected");
            assert!(to(input).is_err(), "{input:?} should be rejected");
        }
    }

    #[test]
    fn non_ascii_is_an_error_not_a_panic() {
        for input in [
            "２０２６-01-01",
            "2026-01-01T06:30−02:00",
            "2026-01-01é",
            "é",
            "7ｄ",
            "٧d",
            "2026-01-01T06:30:00.５",
        ] {
            assert!(from(input).is_err(), "{input:?} should be rejected");
        }
    }

    #[test]
    fn edges_of_the_year_range_do_not_panic() {
        assert!(from("9999-12-31T23:59-05:00").is_err());
        assert_eq!(
            from("0000-01-01T00:00+05:00"),
            Ok(utc(-1, 12, 31, 19, 0, 0, 0))
        );
        assert_eq!(
            to("9999-12-31"),
            Ok(utc(9999, 12, 31, 23, 59, 59, 999_000_000))
        );
        assert_eq!(from("0000-01-01"), Ok(utc(0, 1, 1, 0, 0, 0, 0)));
    }

    #[test]
    fn formats_with_exactly_three_fraction_digits() {
        assert_eq!(
            format_iso_millis(utc(2026, 1, 20, 6, 0, 0, 0)),
            "2026-01-20T06:00:00.000Z"
        );
        assert_eq!(
            format_iso_millis(utc(2026, 1, 20, 6, 0, 0, 7_000_000)),
            "2026-01-20T06:00:00.007Z"
        );
    }

    #[test]
    fn formatting_truncates_nanos_to_millis() {
        assert_eq!(
            format_iso_millis(utc(2026, 1, 20, 6, 0, 0, 999_999_999)),
            "2026-01-20T06:00:00.999Z"
        );
        assert_eq!(
            format_iso_millis(utc(2026, 1, 20, 6, 0, 0, 123_456_789)),
            "2026-01-20T06:00:00.123Z"
        );
    }

    #[test]
    fn formatting_converts_to_utc() {
        let offset = UtcOffset::from_hms(-3, -30, 0).unwrap();
        let t = utc(2026, 1, 20, 1, 0, 0, 0).to_offset(offset);
        assert_eq!(format_iso_millis(t), "2026-01-20T01:00:00.000Z");
    }

    #[test]
    fn formatting_pads_small_years_and_signs_out_of_range_ones() {
        assert_eq!(
            format_iso_millis(utc(5, 3, 4, 1, 2, 3, 0)),
            "0005-03-04T01:02:03.000Z"
        );
        assert_eq!(
            format_iso_millis(utc(-1, 1, 1, 0, 0, 0, 0)),
            "-000001-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn formatting_never_panics_at_the_range_edge() {
        let offset = UtcOffset::from_hms(-5, 0, 0).unwrap();
        let beyond = Date::MAX.with_time(Time::MAX).assume_offset(offset);
        assert_eq!(format_iso_millis(beyond), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn parse_and_format_round_trip() {
        let text = "2026-01-20T06:00:00.000Z";
        assert_eq!(format_iso_millis(from(text).unwrap()), text);
    }

    #[test]
    fn accepted_forms_mentions_every_form() {
        for piece in ["YYYY-MM-DD", "HH:MM", "Z", "30m", "24h", "7d", "2w"] {
            assert!(ACCEPTED_FORMS.contains(piece), "{piece}");
        }
    }
}
