//! Durations, sizes and instants as people type them: `24h`, `5s`, `1h30m`, `1285ms`, `7d`;
//! `512MiB`, `2G`; and RFC 3339 times.

use std::time::Duration;

use crate::error::{Error, Result};

/// Now, in nanoseconds since the Unix epoch, from the system clock.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Parses a duration written as one or more `<number><unit>` parts, units `ns`, `us`, `ms`, `s`,
/// `m`, `h`, `d` (`1h30m`, `1.5h`, `1285ms`). A bare number is seconds.
///
/// ```
/// use std::time::Duration;
/// use ruuvistream::units::parse_duration;
/// assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert_eq!(parse_duration("1285ms").unwrap(), Duration::from_millis(1285));
/// assert!(parse_duration("5 parsecs").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration> {
    let bad = |why: &str| Error::InvalidArgument(format!("invalid duration {text:?}: {why}"));
    let s = text.trim();
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| bad("out of range"));
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_end == 0 {
            return Err(bad("expected a number"));
        }
        let value: f64 = rest[..num_end].parse().map_err(|_| bad("bad number"))?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "" => return Err(bad("missing unit (ns, us, ms, s, m, h, d)")),
            _ => return Err(bad("unknown unit (use ns, us, ms, s, m, h, d)")),
        };
        total += value * seconds;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad("out of range"))
}

/// Parses a size in bytes written as a number with an optional unit: `B`, `K`/`KB`/`KiB`,
/// `M`/`MB`/`MiB`, `G`/`GB`/`GiB`, `T`/`TB`/`TiB` (all powers of 1024, as memory is counted;
/// case does not matter, a space may come before the unit). A bare number is bytes.
///
/// ```
/// use ruuvistream::units::parse_bytes;
/// assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
/// assert_eq!(parse_bytes("1.5 g").unwrap(), 3 << 29);
/// assert_eq!(parse_bytes("4096").unwrap(), 4096);
/// assert!(parse_bytes("lots").is_err());
/// ```
pub fn parse_bytes(text: &str) -> Result<usize> {
    let bad = |why: &str| Error::InvalidArgument(format!("invalid size {text:?}: {why}"));
    let s = text.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    if split == 0 {
        return Err(bad("expected a number, e.g. 512MiB or 2G"));
    }
    let value: f64 = s[..split].parse().map_err(|_| bad("bad number"))?;
    let shift = match s[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(bad("unknown unit (use B, KiB, MiB, GiB or TiB)")),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= usize::MAX as f64 {
        return Err(bad("out of range"));
    }
    Ok(bytes.round() as usize)
}

/// Parses an RFC 3339 time (`2026-11-30T00:00:00Z`) or a date (`2026-11-30`, midnight UTC)
/// into nanoseconds since the Unix epoch.
pub fn parse_time_ns(text: &str) -> Result<i64> {
    let s = text.trim();
    let bad = || Error::InvalidArgument(format!("invalid time {text:?}: use RFC 3339, e.g. 2026-11-30T00:00:00Z"));
    let t = match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&chrono::Utc),
        Err(_) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| bad())?
            .and_hms_opt(0, 0, 0)
            .ok_or_else(bad)?
            .and_utc(),
    };
    t.timestamp_nanos_opt().ok_or_else(bad)
}

/// Formats nanoseconds since the epoch as RFC 3339 UTC with millisecond precision
/// (`2026-11-30T00:00:01.285Z`).
pub fn format_time_ms(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Formats nanoseconds since the epoch as RFC 3339 UTC with as many fractional digits as it
/// needs (`2026-11-30T00:00:01Z`, `2026-11-30T00:00:01.000000005Z`): exact, for machines.
pub fn format_time_ns(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// The start of a simulation: `start` (RFC 3339) if given, else the one that makes it end at the
/// start of the current minute, so that the data is fresh enough for Timestream's memory store.
pub fn simulation_start_ns(start: Option<&str>, duration: Duration) -> Result<i64> {
    match start {
        Some(s) => parse_time_ns(s),
        None => {
            let now = chrono::Utc::now().timestamp();
            let minute_ns = (now - now.rem_euclid(60)) * 1_000_000_000;
            Ok(minute_ns - i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX).min(minute_ns))
        }
    }
}
