//! sr3 time strings: `YYYYMMDDTHHMMSS[.fraction]` (v03) and `YYYYMMDDHHMMSS[.fraction]` (v02), UTC.
//!
//! sr3's writer (`timeflt2str`) emits a variable number of fraction digits (none when the fraction is
//! zero, nine *significant* digits otherwise) and, for fractions below 1e-4, Python's scientific
//! notation (`20240102T030405.00135803e-05`). The reader here accepts all of that. A decoded
//! timestamp remembers the text it came from, so re-encoding a received message reproduces it
//! byte for byte; timestamps made by Pitcher are written as `YYYYMMDDTHHMMSS.fffffffff` with trailing
//! zeros removed (and no fraction at all when it is zero), which every sr3 reader accepts.

use std::cmp::Ordering;
use std::fmt;

use jiff::Timestamp as JiffTimestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::error::TimeError;

/// A UTC instant with nanosecond precision, as carried in `pubTime`, `mtime`, `atime`.
#[derive(Clone)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
    /// The v03 spelling it was decoded from, when that differs from the canonical one.
    text: Option<Box<str>>,
}

impl Timestamp {
    /// Builds a timestamp from seconds and nanoseconds since the Unix epoch.
    pub fn from_unix(secs: i64, nanos: u32) -> Result<Self, TimeError> {
        if nanos >= 1_000_000_000 {
            return Err(TimeError::OutOfRange);
        }
        JiffTimestamp::new(secs, nanos as i32).map_err(|_| TimeError::OutOfRange)?;
        Ok(Timestamp {
            secs,
            nanos,
            text: None,
        })
    }

    /// The current time.
    pub fn now() -> Self {
        let now = JiffTimestamp::now();
        Timestamp {
            secs: now.as_second(),
            nanos: now.subsec_nanosecond().max(0) as u32,
            text: None,
        }
    }

    /// Builds a timestamp from a `std::time::SystemTime` (file mtime/atime).
    pub fn from_system_time(t: std::time::SystemTime) -> Result<Self, TimeError> {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Self::from_unix(
                i64::try_from(d.as_secs()).map_err(|_| TimeError::OutOfRange)?,
                d.subsec_nanos(),
            ),
            Err(e) => {
                let d = e.duration();
                let mut secs = -i64::try_from(d.as_secs()).map_err(|_| TimeError::OutOfRange)?;
                let mut nanos = d.subsec_nanos();
                if nanos > 0 {
                    secs -= 1;
                    nanos = 1_000_000_000 - nanos;
                }
                Self::from_unix(secs, nanos)
            }
        }
    }

    /// Parses a v03 (`T` at position 8) or v02 (no `T`) time string leniently, like sr3's
    /// `timestr2flt`.
    pub fn parse(s: &str) -> Result<Self, TimeError> {
        let bad = || TimeError::Invalid(truncate_for_error(s));
        // Every valid spelling is ASCII; checking first makes all the byte slicing below safe.
        if !s.is_ascii() {
            return Err(bad());
        }
        let b = s.as_bytes();
        let (date, rest) = if b.len() > 8 && b[8] == b'T' {
            (&s[..8], &s[9..])
        } else if s.len() >= 8 && s.is_char_boundary(8) {
            (&s[..8], &s[8..])
        } else {
            return Err(bad());
        };
        if rest.len() < 6 || !rest.is_char_boundary(6) {
            return Err(bad());
        }
        let (hms, frac) = rest.split_at(6);
        let digits = |t: &str| -> Result<i64, TimeError> {
            if t.bytes().all(|c| c.is_ascii_digit()) {
                t.parse::<i64>().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let year = digits(&date[0..4])?;
        let month = digits(&date[4..6])?;
        let day = digits(&date[6..8])?;
        let hour = digits(&hms[0..2])?;
        let minute = digits(&hms[2..4])?;
        let second = digits(&hms[4..6])?;
        let nanos = parse_fraction(frac).ok_or_else(bad)?;
        let dt = DateTime::new(
            year as i16,
            month as i8,
            day as i8,
            hour as i8,
            minute as i8,
            // sr3 writers never emit leap seconds; accept :60 as the next second's start.
            second.min(59) as i8,
            0,
        )
        .map_err(|_| bad())?;
        let zoned = dt.to_zoned(TimeZone::UTC).map_err(|_| bad())?;
        let mut secs = zoned.timestamp().as_second();
        if second == 60 {
            secs += 1;
        }
        let mut ts = Timestamp {
            secs,
            nanos,
            text: None,
        };
        let canonical = ts.to_v03_string();
        let as_v03 = if b.len() > 8 && b[8] == b'T' {
            s.to_string()
        } else {
            format!("{}T{}", &s[..8], &s[8..])
        };
        if canonical != as_v03 {
            ts.text = Some(as_v03.into_boxed_str());
        }
        Ok(ts)
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.secs
    }

    /// Nanoseconds within the second.
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// Seconds since the epoch as a float (what sr3 computes lag with).
    pub fn as_f64(&self) -> f64 {
        self.secs as f64 + f64::from(self.nanos) / 1e9
    }

    /// `self - earlier` in seconds (negative when `earlier` is later).
    pub fn seconds_since(&self, earlier: &Timestamp) -> f64 {
        (self.secs - earlier.secs) as f64 + (f64::from(self.nanos) - f64::from(earlier.nanos)) / 1e9
    }

    /// The v03 spelling: the received text if there was one, else the canonical form.
    pub fn to_v03_string(&self) -> String {
        if let Some(t) = &self.text {
            return t.to_string();
        }
        let mut out = self.civil_string();
        push_fraction(&mut out, self.nanos);
        out
    }

    /// The v02 spelling: the v03 one without `T`.
    pub fn to_v02_string(&self) -> String {
        self.to_v03_string().replacen('T', "", 1)
    }

    /// Forgets the received spelling, so the canonical form is written.
    pub fn canonical(mut self) -> Self {
        self.text = None;
        self
    }

    fn civil_string(&self) -> String {
        let ts = JiffTimestamp::new(self.secs, 0).unwrap_or(JiffTimestamp::UNIX_EPOCH);
        let dt = ts.to_zoned(TimeZone::UTC).datetime();
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )
    }
}

fn push_fraction(out: &mut String, nanos: u32) {
    if nanos == 0 {
        return;
    }
    let digits = format!("{nanos:09}");
    out.push('.');
    out.push_str(digits.trim_end_matches('0'));
}

/// Parses the part after the seconds: empty, `.digits`, or `.digits e-NN` (Python scientific tail).
fn parse_fraction(frac: &str) -> Option<u32> {
    if frac.is_empty() {
        return Some(0);
    }
    let rest = frac.strip_prefix('.')?;
    if rest.is_empty() {
        return Some(0);
    }
    if rest.bytes().all(|c| c.is_ascii_digit()) {
        // Exact: take the first nine digits, truncating the rest.
        let mut nanos: u32 = 0;
        for (i, c) in rest
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(9)
            .enumerate()
        {
            let _ = i;
            nanos = nanos * 10 + u32::from(c - b'0');
        }
        return Some(nanos);
    }
    // Scientific notation tail, as Python's "{:.9g}" produces: parse "0.<rest>" as a float.
    if rest.len() > 40 {
        return None;
    }
    let ok = rest
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'e' | b'E' | b'-' | b'+'));
    if !ok {
        return None;
    }
    let v: f64 = format!("0.{rest}").parse().ok()?;
    if !(0.0..1.0).contains(&v) {
        return None;
    }
    Some(((v * 1e9).round() as u32).min(999_999_999))
}

fn truncate_for_error(s: &str) -> String {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.secs == other.secs && self.nanos == other.nanos
    }
}
impl Eq for Timestamp {}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.secs, self.nanos).cmp(&(other.secs, other.nanos))
    }
}

impl std::hash::Hash for Timestamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.secs.hash(state);
        self.nanos.hash(state);
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_v03_string())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_v03_string())
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_keeps_nine_digit_fraction() {
        let t = Timestamp::parse("20261122T042926.135452986").unwrap();
        assert_eq!(t.subsec_nanos(), 135_452_986);
        assert_eq!(t.to_v03_string(), "20261122T042926.135452986");
        assert_eq!(t.unix_seconds(), 1_795_321_766);
    }

    #[test]
    fn short_and_long_fractions_round_trip_verbatim() {
        for s in [
            "20261122T041024.70664072",
            "20240102T030405.25",
            "20240102T030405.0494811535",
            "20240102T030405",
            "20240102T030405.00135803e-05",
        ] {
            let t = Timestamp::parse(s).unwrap();
            assert_eq!(t.to_v03_string(), s);
        }
        let t = Timestamp::parse("20240102T030405.0494811535").unwrap();
        assert_eq!(t.subsec_nanos(), 49_481_153);
        let t = Timestamp::parse("20240102T030405.00135803e-05").unwrap();
        assert_eq!(t.subsec_nanos(), 14);
        assert_eq!(
            Timestamp::parse("20240102T030405").unwrap().subsec_nanos(),
            0
        );
    }

    #[test]
    fn v02_times_without_t() {
        let t = Timestamp::parse("20261122042934.656369686").unwrap();
        assert_eq!(t.to_v03_string(), "20261122T042934.656369686");
        assert_eq!(t.to_v02_string(), "20261122042934.656369686");
        assert_eq!(t, Timestamp::parse("20261122T042934.656369686").unwrap());
    }

    #[test]
    fn canonical_form_trims_zeros() {
        let t = Timestamp::from_unix(1_704_164_645, 250_000_000).unwrap();
        assert_eq!(t.to_v03_string(), "20240102T030405.25");
        let t = Timestamp::from_unix(1_704_164_645, 0).unwrap();
        assert_eq!(t.to_v03_string(), "20240102T030405");
        let t = Timestamp::parse("20240102T030405.250").unwrap();
        assert_eq!(t.clone().canonical().to_v03_string(), "20240102T030405.25");
        assert_eq!(t.to_v03_string(), "20240102T030405.250");
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for s in [
            "",
            "2024",
            "20241302T030405",
            "20240132T030405",
            "20240102T250405",
            "2024010xT030405",
            "20240102T0304",
            "20240102T030405.12ab",
            "20240102T030405x",
            "é0240102T030405",
            "20240102Té30405",
            "2Ϋ032",
            "20240102T030405.1é",
            "20240102T030405.1e999",
            "20240102T030405.",
        ] {
            let r = Timestamp::parse(s);
            if s == "20240102T030405." {
                assert!(r.is_ok());
            } else {
                assert!(r.is_err(), "{s} should not parse");
            }
        }
    }

    #[test]
    fn ordering_and_lag() {
        let a = Timestamp::parse("20240102T030405.5").unwrap();
        let b = Timestamp::parse("20240102T030407.25").unwrap();
        assert!(a < b);
        assert!((b.seconds_since(&a) - 1.75).abs() < 1e-9);
    }
}
