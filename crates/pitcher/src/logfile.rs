//! An instance's log file with time-based rotation, as sr3 does it (Python's
//! `TimedRotatingFileHandler`): with `logRotateInterval` of a day or more the file is rotated at
//! local midnight to `<name>.log.YYYY-MM-DD` (the day it covers); with a shorter interval every
//! interval to `<name>.log.YYYY-MM-DD_HH-MM-SS` (the time its period began). `logRotateCount`
//! rotated files are kept (0 keeps them all).
//!
//! The file is also made the process's stdout and stderr (dup2) when it is opened and at every
//! rotation, so a panic message lands in the current log, as sr3 does with its log file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan, Zoned};

const DAY: f64 = 86_400.0;

/// How a log file rotates.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// Rotated files kept (0 = all).
    pub keep: u64,
    /// Seconds between rotations (>= 1 day: at local midnight).
    pub interval: f64,
}

impl Rotation {
    fn daily(&self) -> bool {
        self.interval >= DAY
    }

    /// Whole days between rotations (daily mode).
    fn days(&self) -> i64 {
        ((self.interval / DAY).round() as i64).max(1)
    }

    /// Seconds between rotations (sub-daily mode), at least one.
    fn seconds(&self) -> i64 {
        (self.interval.round() as i64).max(1)
    }

    /// The start of the period `t` falls in, and when that period ends.
    ///
    /// Daily: periods begin at local midnight. Shorter: the period began at `t` itself (the
    /// file was opened or last rotated then), as Python's handler does.
    fn period(&self, t: Timestamp, tz: &TimeZone) -> (Zoned, Timestamp) {
        let z = t.to_zoned(tz.clone());
        if self.daily() {
            let start = z.start_of_day().unwrap_or_else(|_| z.clone());
            let end = start
                .checked_add(self.days().days())
                .and_then(|e| e.start_of_day())
                .map(|e| e.timestamp())
                .unwrap_or_else(|_| plus_seconds(t, self.days() * 86_400));
            (start, end)
        } else {
            let end = plus_seconds(t, self.seconds());
            (z, end)
        }
    }

    /// The suffix of a file rotated out for the period beginning at `start`.
    fn suffix(&self, start: &Zoned) -> String {
        if self.daily() {
            start.strftime("%Y-%m-%d").to_string()
        } else {
            start.strftime("%Y-%m-%d_%H-%M-%S").to_string()
        }
    }
}

fn plus_seconds(t: Timestamp, s: i64) -> Timestamp {
    t.checked_add(Span::new().seconds(s)).unwrap_or(t)
}

/// Is `rest` (what follows `<name>.log.`) a rotation suffix?
fn is_suffix(rest: &str) -> bool {
    let b = rest.as_bytes();
    let date = |b: &[u8]| {
        b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            })
    };
    match b.len() {
        10 => date(b),
        19 => {
            date(&b[..10])
                && b[10] == b'_'
                && b[11..].iter().enumerate().all(|(i, c)| {
                    if i == 2 || i == 5 {
                        *c == b'-'
                    } else {
                        c.is_ascii_digit()
                    }
                })
        }
        _ => false,
    }
}

/// A log file that rotates itself. Give it to `tracing_subscriber` inside a `Mutex`.
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    rotation: Rotation,
    tz: TimeZone,
    /// The period being written.
    period_start: Zoned,
    period_end: Timestamp,
    /// dup2 the file onto stdout and stderr.
    redirect_stdio: bool,
}

impl RotatingFile {
    /// Opens (appending) `path`, rotating it first if it was last written in an earlier period.
    pub fn open(path: &Path, rotation: Rotation, redirect_stdio: bool) -> io::Result<Self> {
        Self::open_at(
            path,
            rotation,
            redirect_stdio,
            Timestamp::now(),
            TimeZone::system(),
        )
    }

    fn open_at(
        path: &Path,
        rotation: Rotation,
        redirect_stdio: bool,
        now: Timestamp,
        tz: TimeZone,
    ) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // A file left by an earlier period is rotated out under that period's name.
        let mut initial_start = None;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.len() > 0
            && let Ok(mtime) = meta.modified()
            && let Ok(mtime) = Timestamp::try_from(mtime)
        {
            let (start, end) = rotation.period(mtime, &tz);
            if now >= end {
                rotate_out(path, &rotation.suffix(&start))?;
            } else if !rotation.daily() {
                // Still inside the period that began when the file was written.
                initial_start = Some((start, end));
            }
        }
        let (period_start, period_end) = initial_start.unwrap_or_else(|| rotation.period(now, &tz));
        let file = open_append(path)?;
        let me = RotatingFile {
            path: path.to_path_buf(),
            file,
            rotation,
            tz,
            period_start,
            period_end,
            redirect_stdio,
        };
        me.redirect();
        me.prune();
        Ok(me)
    }

    fn redirect(&self) {
        if self.redirect_stdio {
            // Best effort: the log itself is what matters.
            let _ = nix::unistd::dup2_stdout(&self.file);
            let _ = nix::unistd::dup2_stderr(&self.file);
        }
    }

    /// Rotates if `now` is past the end of the period being written.
    fn rotate_if_due(&mut self, now: Timestamp) {
        if now < self.period_end {
            return;
        }
        let suffix = self.rotation.suffix(&self.period_start);
        let (start, end) = self.rotation.period(now, &self.tz);
        // Whatever happens, do not try again on every line before the next period.
        self.period_start = start;
        self.period_end = end;
        if let Err(e) = self.try_rotate(&suffix) {
            let _ = writeln!(
                self.file,
                "pitcher: cannot rotate {}: {e} (still writing to it)",
                self.path.display()
            );
        }
    }

    fn try_rotate(&mut self, suffix: &str) -> io::Result<()> {
        let _ = self.file.flush();
        rotate_out(&self.path, suffix)?;
        self.file = open_append(&self.path)?;
        self.redirect();
        self.prune();
        Ok(())
    }

    /// Rotated files of this log, oldest first.
    fn rotated(&self) -> Vec<PathBuf> {
        let (Some(dir), Some(name)) = (
            self.path.parent(),
            self.path.file_name().and_then(|n| n.to_str()),
        ) else {
            return Vec::new();
        };
        let prefix = format!("{name}.");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut out: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let n = e.file_name().to_str()?.to_string();
                let rest = n.strip_prefix(&prefix)?;
                is_suffix(rest).then(|| (rest.to_string(), e.path()))
            })
            .collect();
        // The suffixes sort chronologically as text.
        out.sort();
        out.into_iter().map(|(_, p)| p).collect()
    }

    /// Deletes rotated files beyond `keep`.
    fn prune(&self) {
        if self.rotation.keep == 0 {
            return;
        }
        let old = self.rotated();
        let keep = usize::try_from(self.rotation.keep).unwrap_or(usize::MAX);
        let excess = old.len().saturating_sub(keep);
        for p in &old[..excess] {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Moves `path` to `path.<suffix>`; if that exists already (the process was restarted within the
/// same period after a rotation), the text is appended to it rather than overwriting it.
fn rotate_out(path: &Path, suffix: &str) -> io::Result<()> {
    let mut target = path.as_os_str().to_owned();
    target.push(".");
    target.push(suffix);
    let target = PathBuf::from(target);
    if target.exists() {
        let mut src = File::open(path)?;
        let mut dst = open_append(&target)?;
        io::copy(&mut src, &mut dst)?;
        std::fs::remove_file(path)
    } else {
        std::fs::rename(path, &target)
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.rotate_if_due(Timestamp::now());
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn suffixes() {
        assert!(is_suffix("2024-01-31"));
        assert!(is_suffix("2024-01-31_23-59-01"));
        assert!(!is_suffix("2024-01-31.gz"));
        assert!(!is_suffix("old"));
        assert!(!is_suffix("2024-01-3x"));
    }

    #[test]
    fn daily_rotation_at_local_midnight_keeps_count() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("subscribe_wx_01.log");
        let tz = TimeZone::get("America/Toronto").unwrap();
        let rot = Rotation {
            keep: 2,
            interval: DAY,
        };
        let mut f = RotatingFile::open_at(
            &path,
            rot,
            false,
            ts("2024-03-01T12:00:00-05:00"),
            tz.clone(),
        )
        .unwrap();
        f.file.write_all(b"day1\n").unwrap();
        // Just before local midnight: no rotation.
        f.rotate_if_due(ts("2024-03-01T23:59:59-05:00"));
        assert_eq!(names(d.path()), ["subscribe_wx_01.log"]);
        // After local midnight (05:00 UTC): rotated to the day it covers.
        f.rotate_if_due(ts("2024-03-02T00:00:01-05:00"));
        f.file.write_all(b"day2\n").unwrap();
        assert_eq!(
            names(d.path()),
            ["subscribe_wx_01.log", "subscribe_wx_01.log.2024-03-01"]
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("subscribe_wx_01.log.2024-03-01")).unwrap(),
            "day1\n"
        );
        for day in ["2024-03-03T00:00:01-05:00", "2024-03-04T00:00:01-05:00"] {
            f.rotate_if_due(ts(day));
            f.file.write_all(b"x\n").unwrap();
        }
        // Only the two newest rotated files are kept.
        assert_eq!(
            names(d.path()),
            [
                "subscribe_wx_01.log",
                "subscribe_wx_01.log.2024-03-02",
                "subscribe_wx_01.log.2024-03-03"
            ]
        );
        // An unrelated file with the same prefix is never deleted.
        std::fs::write(d.path().join("subscribe_wx_01.log.keepme"), "").unwrap();
        f.rotate_if_due(ts("2024-03-05T00:00:01-05:00"));
        assert!(d.path().join("subscribe_wx_01.log.keepme").exists());
    }

    #[test]
    fn an_old_file_is_rotated_when_opened() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("a.log");
        std::fs::write(&path, "old\n").unwrap();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        let mtime = Timestamp::try_from(mtime).unwrap();
        let rot = Rotation {
            keep: 5,
            interval: DAY,
        };
        let tz = TimeZone::UTC;
        let expected = format!("a.log.{}", mtime.to_zoned(tz.clone()).strftime("%Y-%m-%d"));
        let two_days_later = plus_seconds(mtime, 2 * 86_400);
        let _f =
            RotatingFile::open_at(&path, rot.clone(), false, two_days_later, tz.clone()).unwrap();
        assert_eq!(names(d.path()), ["a.log".to_string(), expected.clone()]);
        // Opening again in the same period appends to the live file.
        std::fs::write(&path, "new\n").unwrap();
        let _g = RotatingFile::open_at(&path, rot, false, Timestamp::now(), tz).unwrap();
        assert_eq!(names(d.path()), ["a.log".to_string(), expected]);
    }

    #[test]
    fn short_intervals_use_time_suffixes() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("b.log");
        let rot = Rotation {
            keep: 0,
            interval: 60.0,
        };
        let t0 = ts("2024-03-01T12:00:00Z");
        let mut f = RotatingFile::open_at(&path, rot, false, t0, TimeZone::UTC).unwrap();
        f.file.write_all(b"1\n").unwrap();
        f.rotate_if_due(plus_seconds(t0, 59));
        assert_eq!(names(d.path()), ["b.log"]);
        f.rotate_if_due(plus_seconds(t0, 61));
        assert_eq!(names(d.path()), ["b.log", "b.log.2024-03-01_12-00-00"]);
    }

    #[test]
    fn rotating_onto_an_existing_name_appends() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("c.log");
        std::fs::write(d.path().join("c.log.2024-03-01"), "first\n").unwrap();
        std::fs::write(&path, "second\n").unwrap();
        rotate_out(&path, "2024-03-01").unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("c.log.2024-03-01")).unwrap(),
            "first\nsecond\n"
        );
        assert!(!path.exists());
    }
}
