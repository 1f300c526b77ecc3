//! Parsers for the option kinds of reference 3.2 (count, size, duration, float, flag, octal, set).
//!
//! Each parser returns `Err(expected)` with a short description of what would be right, which the
//! caller turns into `file:line: option: expected <what>, got "<value>"`.

use std::collections::BTreeSet;

/// What a count or size looks like.
pub const EXPECT_COUNT: &str = "a count like 100 or 1k";
/// What a size looks like.
pub const EXPECT_SIZE: &str = "a size like 4096, 1k (1000), 1kb or 1Ki (1024), 1M, 1MB or 1G";
/// What a duration looks like.
pub const EXPECT_DURATION: &str = "a duration in seconds like 30, 0.5, 5m, 1h30m, 2d or 1w";
/// What a float looks like.
pub const EXPECT_FLOAT: &str = "a number like 0.5, 10 or 1k";
/// What a flag looks like.
pub const EXPECT_FLAG: &str = "a flag: true/false, yes/no, on/off or 1/0";
/// What an octal permission looks like.
pub const EXPECT_OCTAL: &str = "an octal permission like 644, 0644 or 0o755";

/// Parse a count or size (`parse_count` of sr3): `1k`=1000, `1kb`/`1Ki`=1024, `1M`=1 000 000,
/// `1MB`=1 048 576, likewise `g`/`t`. A fractional number is allowed when the result is whole
/// (`1.5k` = 1500).
pub fn parse_count(s: &str) -> Result<u64, &'static str> {
    let t = s.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    let (number, unit) = split_number(t).ok_or(EXPECT_COUNT)?;
    let (mantissa, frac_digits) = decimal(number).ok_or(EXPECT_COUNT)?;
    let mult = multiplier(unit).ok_or(EXPECT_COUNT)?;
    let value = mantissa.checked_mul(mult).ok_or(EXPECT_COUNT)?;
    let scale = 10u128.checked_pow(frac_digits).ok_or(EXPECT_COUNT)?;
    if value % scale != 0 {
        return Err(EXPECT_COUNT);
    }
    u64::try_from(value / scale).map_err(|_| EXPECT_COUNT)
}

/// Parse a size: the same syntax as a count.
pub fn parse_size(s: &str) -> Result<u64, &'static str> {
    parse_count(s).map_err(|_| EXPECT_SIZE)
}

/// Parse a float, allowing the count suffixes (`1.5k` = 1500.0).
pub fn parse_float(s: &str) -> Result<f64, &'static str> {
    let t = s.trim();
    if let Ok(v) = t.parse::<f64>() {
        return if v.is_finite() {
            Ok(v)
        } else {
            Err(EXPECT_FLOAT)
        };
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (number, unit) = split_number(body).ok_or(EXPECT_FLOAT)?;
    let n: f64 = number.parse().map_err(|_| EXPECT_FLOAT)?;
    let mult = multiplier(unit).ok_or(EXPECT_FLOAT)?;
    // mult is at most 2^40: exact in f64.
    #[allow(clippy::cast_precision_loss)]
    let v = n * mult as f64;
    if !v.is_finite() {
        return Err(EXPECT_FLOAT);
    }
    Ok(if neg { -v } else { v })
}

/// Parse a duration in seconds: a float, optionally with unit suffixes `s m h d w`
/// (case-insensitive), combined like `1h30m`; `off`/`none`/`false` = 0; `on`/`true`/`yes` =
/// `on_value` when the option has one (300 for `nodupe_ttl`), an error otherwise.
pub fn parse_duration(s: &str, on_value: Option<f64>) -> Result<f64, &'static str> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "none" | "off" | "false" => return Ok(0.0),
        "on" | "true" | "yes" => return on_value.ok_or(EXPECT_DURATION),
        _ => {}
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if body.is_empty() {
        return Err(EXPECT_DURATION);
    }
    let mut total = 0.0f64;
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if end == 0 {
            return Err(EXPECT_DURATION);
        }
        let n: f64 = rest[..end].parse().map_err(|_| EXPECT_DURATION)?;
        rest = &rest[end..];
        let mut mult = 1.0;
        if let Some(c) = rest.chars().next() {
            mult = match c.to_ascii_lowercase() {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                'd' => 86_400.0,
                'w' => 604_800.0,
                _ => return Err(EXPECT_DURATION),
            };
            rest = &rest[c.len_utf8()..];
        }
        total += n * mult;
    }
    if !total.is_finite() {
        return Err(EXPECT_DURATION);
    }
    Ok(if neg { -total } else { total })
}

/// Parse a flag value: `true/yes/on/1` or `false/no/off/0`, case-insensitive. Anything else is
/// an error in Pitcher (sr3 silently takes it as False).
pub fn parse_flag(s: &str) -> Result<bool, &'static str> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(EXPECT_FLAG),
    }
}

/// Parse an octal permission: `644`, `0644`, `0o644` (at most `0o7777`).
pub fn parse_octal(s: &str) -> Result<u32, &'static str> {
    let t = s.trim();
    let digits = t
        .strip_prefix("0o")
        .or_else(|| t.strip_prefix("0O"))
        .unwrap_or(t);
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return Err(EXPECT_OCTAL);
    }
    let v = u32::from_str_radix(digits, 8).map_err(|_| EXPECT_OCTAL)?;
    if v > 0o7777 {
        return Err(EXPECT_OCTAL);
    }
    Ok(v)
}

/// Describe what a set option accepts.
pub fn expect_set(choices: &[&str]) -> String {
    if choices.is_empty() {
        "a list of words separated by , or | (prefix + to add, - to remove; None to empty)"
            .to_string()
    } else {
        format!(
            "one or more of {} separated by , or | (prefix + to add, - to remove; None or all)",
            choices.join(",")
        )
    }
}

/// Apply a set value to `current`: `+a,b` adds, `-a` removes, plain replaces, `None` empties,
/// `all` selects every choice; `,` or `|` separate items. Items must be among `choices` when
/// there are choices.
pub fn apply_set(
    current: &BTreeSet<String>,
    raw: &str,
    choices: &[&str],
) -> Result<BTreeSet<String>, String> {
    let v = raw.trim().replace('|', ",");
    if v.eq_ignore_ascii_case("none") {
        return Ok(BTreeSet::new());
    }
    if !choices.is_empty() && (v.eq_ignore_ascii_case("all") || v.eq_ignore_ascii_case("+all")) {
        return Ok(choices.iter().map(|c| (*c).to_string()).collect());
    }
    let mut op = '=';
    let mut body = v.as_str();
    while let Some(c) = body.chars().next().filter(|c| *c == '+' || *c == '-') {
        op = c;
        body = &body[1..];
    }
    let items: BTreeSet<String> = body
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if items.is_empty() {
        return Err(expect_set(choices));
    }
    if !choices.is_empty() && items.iter().any(|i| !choices.contains(&i.as_str())) {
        return Err(expect_set(choices));
    }
    Ok(match op {
        '+' => current.union(&items).cloned().collect(),
        '-' => current.difference(&items).cloned().collect(),
        _ => items,
    })
}

/// Split `12.5kb` into (`12.5`, `kb`).
fn split_number(s: &str) -> Option<(&str, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(end);
    if !number.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((number, unit.trim()))
}

/// `12.50` -> (1250, 2). At most 30 digits.
fn decimal(number: &str) -> Option<(u128, u32)> {
    let mut parts = number.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next().unwrap_or("");
    if frac.contains('.') || int.len() + frac.len() > 30 {
        return None;
    }
    let digits = format!("{int}{frac}");
    let mantissa = if digits.is_empty() {
        return None;
    } else {
        digits.parse::<u128>().ok()?
    };
    Some((mantissa, u32::try_from(frac.len()).ok()?))
}

/// Multiplier of a count unit (`humanfriendly.parse_size`, binary when it ends with i or b).
fn multiplier(unit: &str) -> Option<u128> {
    let u = unit.to_ascii_lowercase();
    Some(match u.as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" | "ki" | "kib" => 1 << 10,
        "m" => 1_000_000,
        "mb" | "mi" | "mib" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" | "gi" | "gib" => 1 << 30,
        "t" => 1_000_000_000_000,
        "tb" | "ti" | "tib" => 1 << 40,
        _ => return None,
    })
}

/// Render a float the shortest way that parses back to the same value (`300`, `0.1`, `-1`).
pub fn fmt_f64(v: f64) -> String {
    // Display of f64 is the shortest round-tripping representation, without exponent.
    let s = format!("{v}");
    if s == "-0" { "0".to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(parse_count("100"), Ok(100));
        assert_eq!(parse_count("1k"), Ok(1000));
        assert_eq!(parse_count("1K"), Ok(1000));
        assert_eq!(parse_count("1kb"), Ok(1024));
        assert_eq!(parse_count("1Ki"), Ok(1024));
        assert_eq!(parse_count("1KiB"), Ok(1024));
        assert_eq!(parse_count("1M"), Ok(1_000_000));
        assert_eq!(parse_count("1m"), Ok(1_000_000));
        assert_eq!(parse_count("1MB"), Ok(1_048_576));
        assert_eq!(parse_count("2g"), Ok(2_000_000_000));
        assert_eq!(parse_count("1G"), Ok(1_000_000_000));
        assert_eq!(parse_count("1GB"), Ok(1 << 30));
        assert_eq!(parse_count("1.5k"), Ok(1500));
        assert_eq!(parse_count("1.1k"), Ok(1100));
        assert_eq!(parse_count("0"), Ok(0));
        assert_eq!(parse_count("+5"), Ok(5));
        for bad in [
            "",
            "many",
            "-1",
            "1.5",
            "k",
            "1x",
            "1..2",
            "1e3",
            ".",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_count(bad), Err(EXPECT_COUNT), "{bad}");
        }
        assert_eq!(parse_size("x"), Err(EXPECT_SIZE));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30", None), Ok(30.0));
        assert_eq!(parse_duration("0.5", None), Ok(0.5));
        assert_eq!(parse_duration("5m", None), Ok(300.0));
        assert_eq!(parse_duration("5M", None), Ok(300.0));
        assert_eq!(parse_duration("1h30m", None), Ok(5400.0));
        assert_eq!(parse_duration("1h30", None), Ok(3630.0));
        assert_eq!(parse_duration("2d", None), Ok(172_800.0));
        assert_eq!(parse_duration("1w", None), Ok(604_800.0));
        assert_eq!(parse_duration("30s", None), Ok(30.0));
        assert_eq!(parse_duration("1.5h", None), Ok(5400.0));
        assert_eq!(parse_duration("-1", None), Ok(-1.0));
        assert_eq!(parse_duration("-70m", None), Ok(-4200.0));
        assert_eq!(parse_duration("off", None), Ok(0.0));
        assert_eq!(parse_duration("None", None), Ok(0.0));
        assert_eq!(parse_duration("false", Some(300.0)), Ok(0.0));
        assert_eq!(parse_duration("on", Some(300.0)), Ok(300.0));
        assert_eq!(parse_duration("True", Some(300.0)), Ok(300.0));
        assert_eq!(parse_duration("yes", Some(300.0)), Ok(300.0));
        for bad in [
            "on", "", "-", "5x", "m", "1h-3", "1.2.3", "inf", "NaN", "5 m", "١",
        ] {
            assert_eq!(parse_duration(bad, None), Err(EXPECT_DURATION), "{bad}");
        }
    }

    #[test]
    fn floats() {
        assert_eq!(parse_float("0.5"), Ok(0.5));
        assert_eq!(parse_float("10"), Ok(10.0));
        assert_eq!(parse_float("1k"), Ok(1000.0));
        assert_eq!(parse_float("1.5k"), Ok(1500.0));
        assert_eq!(parse_float("-2"), Ok(-2.0));
        for bad in ["", "inf", "NaN", "x", "1q"] {
            assert_eq!(parse_float(bad), Err(EXPECT_FLOAT), "{bad}");
        }
    }

    #[test]
    fn flags() {
        for t in ["true", "True", "YES", "on", "1"] {
            assert_eq!(parse_flag(t), Ok(true), "{t}");
        }
        for f in ["false", "FALSE", "no", "Off", "0"] {
            assert_eq!(parse_flag(f), Ok(false), "{f}");
        }
        for bad in ["", "maybe", "2", "None", "tru"] {
            assert_eq!(parse_flag(bad), Err(EXPECT_FLAG), "{bad}");
        }
    }

    #[test]
    fn octals() {
        assert_eq!(parse_octal("644"), Ok(0o644));
        assert_eq!(parse_octal("0644"), Ok(0o644));
        assert_eq!(parse_octal("0o755"), Ok(0o755));
        assert_eq!(parse_octal("0"), Ok(0));
        assert_eq!(parse_octal("7777"), Ok(0o7777));
        for bad in ["", "0o", "8", "rw-r--r--", "17777", "0x1ff", "-644"] {
            assert_eq!(parse_octal(bad), Err(EXPECT_OCTAL), "{bad}");
        }
    }

    #[test]
    fn sets() {
        let choices = ["create", "delete", "link", "mkdir", "modify", "rmdir"];
        let all: BTreeSet<String> = choices.iter().map(|s| s.to_string()).collect();
        let s = apply_set(&all, "-delete|rmdir", &choices).unwrap_or_default();
        assert_eq!(s.len(), 4);
        assert!(!s.contains("delete") && !s.contains("rmdir"));
        let s2 = apply_set(&s, "+delete", &choices).unwrap_or_default();
        assert!(s2.contains("delete"));
        let s3 = apply_set(&s2, "create,modify", &choices).unwrap_or_default();
        assert_eq!(s3.len(), 2);
        assert!(
            apply_set(&s3, "None", &choices)
                .unwrap_or_default()
                .is_empty()
        );
        assert_eq!(apply_set(&s3, "all", &choices), Ok(all));
        assert!(apply_set(&s3, "bogus", &choices).is_err());
        assert!(apply_set(&s3, ",", &choices).is_err());
        assert!(apply_set(&s3, "+", &[]).is_err());
        assert_eq!(
            apply_set(&BTreeSet::new(), "x|y", &[]).map(|s| s.len()),
            Ok(2)
        );
    }

    #[test]
    fn float_rendering() {
        assert_eq!(fmt_f64(300.0), "300");
        assert_eq!(fmt_f64(0.1), "0.1");
        assert_eq!(fmt_f64(-1.0), "-1");
        assert_eq!(fmt_f64(-0.0), "0");
        assert_eq!(fmt_f64(2_592_000.0), "2592000");
        for v in [0.1, 1e-7, 123_456.789, 1e20] {
            assert_eq!(parse_float(&fmt_f64(v)), Ok(v));
        }
    }
}
