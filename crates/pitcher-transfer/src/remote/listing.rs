//! FTP directory listings: `LIST` lines in `ls -l` (and DOS/IIS) style, and `MLSD` fact lines.

use std::time::SystemTime;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;

use super::RemoteEntry;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn month(word: &str) -> Option<i8> {
    let w = word.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| w.starts_with(m) && w.len() <= 4)
        .and_then(|i| i8::try_from(i + 1).ok())
}

/// The words of `line` with their byte offsets.
fn words(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

fn to_system_time(dt: DateTime, tz: &TimeZone) -> Option<SystemTime> {
    let zoned = dt.to_zoned(tz.clone()).ok()?;
    Some(SystemTime::from(zoned.timestamp()))
}

/// Permission bits from `rwxr-xr-x` (with `s`, `S`, `t`, `T`).
fn mode_bits(perms: &str) -> Option<u32> {
    let b = perms.as_bytes();
    if b.len() < 9 {
        return None;
    }
    let mut mode = 0u32;
    for (i, &c) in b[..9].iter().enumerate() {
        let bit = 1u32 << (8 - i);
        match c {
            b'r' | b'w' | b'x' => mode |= bit,
            b's' | b't' => {
                mode |= bit;
                mode |= special_bit(i);
            }
            b'S' | b'T' => mode |= special_bit(i),
            b'-' => {}
            _ => return None,
        }
    }
    Some(mode)
}

fn special_bit(i: usize) -> u32 {
    match i {
        2 => 0o4000,
        5 => 0o2000,
        _ => 0o1000,
    }
}

/// One `LIST` line in `ls -l` style, e.g.
/// `-rw-r--r--   1 owner group   5452595 Nov 14 22:13 name with spaces`, or DOS/IIS style
/// (`11-14-23  10:13PM  5452595 name`, `<DIR>` for directories). Times without a year are taken
/// in the current year (the previous one if that would be more than a day in the future), in
/// `tz`, the server's time zone. `None` for `total` lines, `.` / `..` and unreadable lines.
/// A symlink's name is cut before ` -> `.
pub fn parse_ls_line(line: &str, tz: &TimeZone, now: SystemTime) -> Option<RemoteEntry> {
    let line = line.trim_end_matches(['\r', '\n']);
    let w = words(line);
    let first = w.first()?.1;
    if first.len() >= 10
        && matches!(
            first.as_bytes()[0],
            b'-' | b'd' | b'l' | b'b' | b'c' | b'p' | b's'
        )
    {
        return parse_unix(line, &w, tz, now);
    }
    parse_dos(line, &w, tz)
}

fn parse_unix(
    line: &str,
    w: &[(usize, &str)],
    tz: &TimeZone,
    now: SystemTime,
) -> Option<RemoteEntry> {
    let perms = w[0].1;
    let kind = perms.as_bytes()[0];
    // Find "Mon DD HH:MM|YYYY" followed by the name.
    let i = (2..w.len().saturating_sub(3)).find(|&i| {
        month(w[i].1).is_some()
            && w[i + 1]
                .1
                .parse::<u8>()
                .is_ok_and(|d| (1..=31).contains(&d))
            && (w[i + 2].1.contains(':') || w[i + 2].1.len() == 4)
            && w[i - 1].1.bytes().all(|b| b.is_ascii_digit())
    })?;
    let size = w[i - 1].1.parse::<u64>().ok();
    let mon = month(w[i].1)?;
    let day: i8 = w[i + 1].1.parse().ok()?;
    let stamp = w[i + 2].1;
    let name_start = w[i + 3].0;
    let mut name = &line[name_start..];
    if kind == b'l'
        && let Some(arrow) = name.find(" -> ")
    {
        name = &name[..arrow];
    }
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    let mtime = if let Some((h, m)) = stamp.split_once(':') {
        let hour: i8 = h.parse().ok()?;
        let minute: i8 = m.parse().ok()?;
        let now_zoned = jiff::Timestamp::try_from(now).ok()?.to_zoned(tz.clone());
        let year = now_zoned.year();
        let mut dt = DateTime::from_parts(
            Date::new(year, mon, day).ok()?,
            Time::new(hour, minute, 0, 0).ok()?,
        );
        let limit = now_zoned
            .datetime()
            .checked_add(jiff::Span::new().days(1))
            .ok()?;
        if dt > limit {
            dt = DateTime::from_parts(Date::new(year - 1, mon, day).ok()?, dt.time());
        }
        to_system_time(dt, tz)
    } else {
        let year: i16 = stamp.parse().ok()?;
        to_system_time(
            DateTime::from_parts(Date::new(year, mon, day).ok()?, Time::midnight()),
            tz,
        )
    };
    Some(RemoteEntry {
        name: name.to_owned(),
        is_dir: kind == b'd',
        is_symlink: kind == b'l',
        size: if kind == b'd' { None } else { size },
        mtime,
        mode: mode_bits(&perms[1..]),
    })
}

/// `11-14-23  10:13PM       <DIR>          dirname` / `11-14-2023  22:13  5452595 name`.
fn parse_dos(line: &str, w: &[(usize, &str)], tz: &TimeZone) -> Option<RemoteEntry> {
    if w.len() < 4 {
        return None;
    }
    let mut date = w[0].1.split(['-', '/']);
    let (mo, d, y) = (date.next()?, date.next()?, date.next()?);
    let mon: i8 = mo.parse().ok()?;
    let day: i8 = d.parse().ok()?;
    let mut year: i16 = y.parse().ok()?;
    if y.len() == 2 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    let t = w[1].1.to_ascii_uppercase();
    let (clock, pm) = match (t.strip_suffix("PM"), t.strip_suffix("AM")) {
        (Some(c), _) => (c.to_owned(), Some(true)),
        (_, Some(c)) => (c.to_owned(), Some(false)),
        _ => (t.clone(), None),
    };
    let (h, m) = clock.split_once(':')?;
    let mut hour: i8 = h.parse().ok()?;
    let minute: i8 = m.parse().ok()?;
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let is_dir = w[2].1.eq_ignore_ascii_case("<DIR>");
    let size = if is_dir {
        None
    } else {
        Some(w[2].1.replace(',', "").parse::<u64>().ok()?)
    };
    let name = &line[w[3].0..];
    if name == "." || name == ".." {
        return None;
    }
    let dt = DateTime::from_parts(
        Date::new(year, mon, day).ok()?,
        Time::new(hour, minute, 0, 0).ok()?,
    );
    Some(RemoteEntry {
        name: name.to_owned(),
        is_dir,
        is_symlink: false,
        size,
        mtime: to_system_time(dt, tz),
        mode: None,
    })
}

/// A `YYYYMMDDHHMMSS[.fff]` time (MLSD `modify`, MDTM), in UTC.
pub(crate) fn parse_ftp_time(s: &str) -> Option<SystemTime> {
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (s, None),
    };
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| main[r].parse::<i16>().ok();
    let nanos = match frac {
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.parse::<i32>().ok()? * 10i32.pow(9 - f.len() as u32)
        }
        Some(_) => return None,
        None => 0,
    };
    let dt = DateTime::from_parts(
        Date::new(
            num(0..4)?,
            i8::try_from(num(4..6)?).ok()?,
            i8::try_from(num(6..8)?).ok()?,
        )
        .ok()?,
        Time::new(
            i8::try_from(num(8..10)?).ok()?,
            i8::try_from(num(10..12)?).ok()?,
            i8::try_from(num(12..14)?).ok()?,
            nanos,
        )
        .ok()?,
    );
    to_system_time(dt, &TimeZone::UTC)
}

/// One `MLSD` line (RFC 3659): `type=file;size=3;modify=20231114221320;unix.mode=0644; name`.
/// `None` for the `cdir`/`pdir` entries and unreadable lines.
pub fn parse_mlsd_line(line: &str) -> Option<RemoteEntry> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (facts, name) = line.split_once(' ')?;
    if name.is_empty() {
        return None;
    }
    let mut entry = RemoteEntry {
        name: name.to_owned(),
        is_dir: false,
        is_symlink: false,
        size: None,
        mtime: None,
        mode: None,
    };
    for fact in facts.split(';').filter(|f| !f.is_empty()) {
        let Some((key, value)) = fact.split_once('=') else {
            continue;
        };
        match key.to_ascii_lowercase().as_str() {
            "type" => {
                let v = value.to_ascii_lowercase();
                match v.as_str() {
                    "cdir" | "pdir" => return None,
                    "dir" => entry.is_dir = true,
                    _ if v.contains("symlink") || v.contains("slink") => entry.is_symlink = true,
                    _ => {}
                }
            }
            "size" | "sizd" => entry.size = value.parse().ok(),
            "modify" => entry.mtime = parse_ftp_time(value),
            // Octal; pyftpdlib writes Python's `0o644`.
            "unix.mode" => {
                let digits = value.strip_prefix("0o").unwrap_or(value);
                entry.mode = u32::from_str_radix(digits, 8).ok().map(|m| m & 0o7777);
            }
            _ => {}
        }
    }
    if entry.is_dir {
        entry.size = None;
    }
    if entry.name == "." || entry.name == ".." {
        return None;
    }
    Some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SystemTime {
        SystemTime::from(s.parse::<jiff::Timestamp>().expect("timestamp"))
    }

    #[test]
    fn unix_lines() {
        let now = at("2023-11-20T00:00:00Z");
        let utc = TimeZone::UTC;
        let e = parse_ls_line(
            "-rw-r--r--   1 owner group   5452595 Nov 14 22:13 name with  spaces",
            &utc,
            now,
        )
        .expect("entry");
        assert_eq!(e.name, "name with  spaces");
        assert_eq!(e.size, Some(5452595));
        assert_eq!(e.mtime, Some(at("2023-11-14T22:13:00Z")));
        assert_eq!(e.mode, Some(0o644));
        assert!(!e.is_dir && !e.is_symlink);

        // Without a group column, with a year, a directory.
        let e = parse_ls_line("drwxr-sr-x 2 owner 4096 Jan  3  2021 sub", &utc, now).expect("dir");
        assert!(e.is_dir);
        assert_eq!(e.size, None);
        assert_eq!(e.mode, Some(0o2755));
        assert_eq!(e.mtime, Some(at("2021-01-03T00:00:00Z")));

        let e =
            parse_ls_line("lrwxrwxrwx 1 o g 7 Nov 14 22:13 ln -> target", &utc, now).expect("ln");
        assert!(e.is_symlink);
        assert_eq!(e.name, "ln");

        // A date "in the future" is last year's (ls shows times for recent files only).
        let e = parse_ls_line("-rw-r--r-- 1 o g 1 Dec 25 10:00 x", &utc, now).expect("x");
        assert_eq!(e.mtime, Some(at("2022-12-25T10:00:00Z")));

        assert!(parse_ls_line("total 12", &utc, now).is_none());
        assert!(parse_ls_line("drwxr-xr-x 2 o g 4096 Nov 14 22:13 .", &utc, now).is_none());
    }

    #[test]
    fn time_zone_applies_to_list_times() {
        let now = at("2023-11-20T00:00:00Z");
        let tz = TimeZone::get("America/Montreal").expect("tz");
        let e = parse_ls_line("-rw-r--r-- 1 o g 3 Nov 14 22:13 f", &tz, now).expect("f");
        assert_eq!(e.mtime, Some(at("2023-11-15T03:13:00Z")));
    }

    #[test]
    fn dos_lines() {
        let utc = TimeZone::UTC;
        let now = at("2023-11-20T00:00:00Z");
        let e =
            parse_ls_line("11-14-23  10:13PM       <DIR>          my dir", &utc, now).expect("d");
        assert!(e.is_dir);
        assert_eq!(e.name, "my dir");
        assert_eq!(e.mtime, Some(at("2023-11-14T22:13:00Z")));
        let e = parse_ls_line("11-14-2023  09:05AM  5,452 f.txt", &utc, now).expect("f");
        assert_eq!(e.size, Some(5452));
        assert_eq!(e.mtime, Some(at("2023-11-14T09:05:00Z")));
    }

    #[test]
    fn mlsd_lines() {
        let e = parse_mlsd_line("type=file;size=3;modify=20231114221320.5;unix.mode=0644; a b")
            .expect("file");
        assert_eq!(e.name, "a b");
        assert_eq!(e.size, Some(3));
        assert_eq!(e.mtime, Some(at("2023-11-14T22:13:20.5Z")));
        assert_eq!(e.mode, Some(0o644));
        let d = parse_mlsd_line("type=dir;modify=20231114221320;perm=flcdmpe; sub").expect("dir");
        assert!(d.is_dir);
        assert!(parse_mlsd_line("type=cdir;modify=20231114221320; .").is_none());
        let p = parse_mlsd_line("modify=20261202045354;size=3;type=file;unix.mode=0o644; x.txt");
        assert_eq!(p.expect("pyftpdlib").mode, Some(0o644));
        assert!(
            parse_mlsd_line("type=OS.unix=symlink;size=7; ln")
                .expect("ln")
                .is_symlink
        );
    }
}
