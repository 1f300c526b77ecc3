//! Variable expansion (reference 3.4): `${NAME}` patterns in option values.
//!
//! Two moments:
//! * at parse time, each line is expanded with what is known then (host name, environment,
//!   `declare env`, option values, `${RAND8}`, ...); patterns that need a message or the time
//!   (`${SOURCE}`, `${1}`, `${YYYYMMDD}`, `${%Y}`, `${BD}`, ...) are left in place;
//! * per message, [`Expander::expand`] expands everything with an injectable "now".
//!
//! Dates are computed in **UTC** (sr3 uses the host's local time; pumps run in UTC and its
//! documentation says UTC: a deliberate difference, reference Q14). An explicit offset
//! (`${%o-1h%Y}`, `${YYYYMMDD-1D}`) is used instead of `varTimeOffset`, as in sr3.
//!
//! Unknown variables are left as written (sr3 behaviour); they are reported in
//! [`Expansion::unresolved`] so the caller can warn (the parser warns with file:line).

use std::fmt;

use jiff::{SignedDuration, Timestamp, tz::TimeZone};

use crate::component::Component;
use crate::credentials::CredentialDb;
use crate::env::{Environment, rand8};
use crate::options::{Options, option_by_lowercase};
use crate::value::parse_duration;

/// Per-message values for expansion.
#[derive(Clone, Copy, Debug, Default)]
pub struct MessageVars<'a> {
    /// The message's `source` (`${SOURCE}`).
    pub source: Option<&'a str>,
    /// The message's `baseUrl` (`${BUP}`, `${BUPL}`).
    pub base_url: Option<&'a str>,
    /// Groups of the matching accept regex (`[0]` = whole match), for `${0}`..`${9}`.
    pub groups: &'a [Option<String>],
}

/// Result of an expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expansion {
    /// The expanded text (unresolved patterns left as written).
    pub text: String,
    /// Names of patterns that could not be expanded.
    pub unresolved: Vec<String>,
}

/// Which patterns to expand now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Parse time: defer time, message and directory patterns.
    Parse,
    /// Everything.
    Full,
}

/// Named (non-time, non-message) variables.
pub(crate) trait Vars {
    fn named(&self, name: &str) -> Option<String>;
}

/// Names that are expanded later, not at parse time (no warning when left in place).
fn is_deferred(name: &str) -> bool {
    const DEFERRED: &[&str] = &[
        "SOURCE",
        "BUP",
        "BUPL",
        "baseUrlPath",
        "baseUrlPathLast",
        "BD",
        "PBD",
        "DR",
        "PDR",
        "INSTANCE",
        "BROKER_USER",
        "POST_BROKER_USER",
        "QUEUESHARE",
        "T1",
        "T2",
        "A1",
        "A2",
        "ii",
        "CCCC",
        "YY",
        "GG",
        "Gg",
        "BBB",
        "RYYYY",
        "RMM",
        "RDD",
        "RHH",
        "RMN",
        "RSS",
    ];
    DEFERRED.contains(&name) || name.starts_with('%') || is_group(name) || v2_time(name).is_some()
}

fn is_group(name: &str) -> bool {
    !name.is_empty() && name.len() <= 3 && name.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYYMMDD`, `MM-5m`, `JJJ-1D`... -> (strftime format, explicit offset in seconds).
fn v2_time(name: &str) -> Option<(&'static str, Option<f64>)> {
    const BASES: &[(&str, &str)] = &[
        ("YYYYMMDD", "%Y%m%d"),
        ("YYYY", "%Y"),
        ("JJJ", "%j"),
        ("MM", "%m"),
        ("DD", "%d"),
        ("HH", "%H"),
        ("SS", "%S"),
    ];
    for (base, fmt) in BASES {
        if let Some(rest) = name.strip_prefix(base) {
            if rest.is_empty() {
                return Some((fmt, None));
            }
            let (neg, dur) = if let Some(d) = rest.strip_prefix('-') {
                (true, d)
            } else if let Some(d) = rest.strip_prefix('+') {
                (false, d)
            } else {
                continue;
            };
            if dur.starts_with(['-', '+']) {
                return None;
            }
            let secs = parse_duration(dur, None).ok()?;
            return Some((fmt, Some(if neg { -secs } else { secs })));
        }
    }
    None
}

/// `%o-1h%Y%m%d` -> ("%Y%m%d", Some(-3600)); `%Y/%m` -> ("%Y/%m", None).
fn strftime_token(token: &str) -> Option<(&str, Option<f64>)> {
    let body = token.strip_prefix('%')?;
    let after_o = body.strip_prefix('o').unwrap_or(body);
    let signed = after_o.starts_with(['+', '-']);
    if !signed && after_o.len() == body.len() {
        return Some((token, None));
    }
    if !signed {
        // `%o...` without a sign: sr3 reads an offset up to the next '%'.
        let end = after_o.find('%')?;
        let secs = parse_duration(&after_o[..end], None).ok()?;
        return Some((&after_o[end..], Some(secs)));
    }
    let (sign, rest) = after_o.split_at(1);
    let end = rest.find('%')?;
    let secs = parse_duration(&rest[..end], None).ok()?;
    Some((&rest[end..], Some(if sign == "-" { -secs } else { secs })))
}

fn format_time(now: Timestamp, offset: f64, fmt: &str) -> Option<String> {
    let shift = SignedDuration::try_from_secs_f64(offset).ok()?;
    let when = now.checked_add(shift).ok()?;
    jiff::fmt::strtime::format(fmt, &when.to_zoned(TimeZone::UTC)).ok()
}

/// The path of a URL (`https://h/a/b?q` -> `/a/b`; `https://h` -> ``), like Python's urlparse.
pub(crate) fn url_path(url: &str) -> &str {
    let Some(i) = url.find("://") else {
        return "";
    };
    let rest = &url[i + 3..];
    let Some(slash) = rest.find('/') else {
        return "";
    };
    let path = &rest[slash..];
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

/// Expand `${...}` patterns of `input`.
pub(crate) fn expand_core(
    input: &str,
    mode: Mode,
    now: Timestamp,
    var_time_offset: f64,
    first_match_is_zero: bool,
    msg: Option<&MessageVars<'_>>,
    vars: &dyn Vars,
) -> Expansion {
    let mut text = String::with_capacity(input.len());
    let mut unresolved = Vec::new();
    let mut rest = input;
    while let Some(start) = rest.find("${") {
        text.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(close) = after.find('}') else {
            text.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = &after[..close];
        rest = &after[close + 1..];
        match resolve(
            name,
            mode,
            now,
            var_time_offset,
            first_match_is_zero,
            msg,
            vars,
        ) {
            Some(v) => text.push_str(&v),
            None => {
                if mode == Mode::Full || !is_deferred(name) {
                    unresolved.push(name.to_string());
                }
                text.push_str("${");
                text.push_str(name);
                text.push('}');
            }
        }
    }
    text.push_str(rest);
    Expansion { text, unresolved }
}

fn resolve(
    name: &str,
    mode: Mode,
    now: Timestamp,
    var_time_offset: f64,
    first_match_is_zero: bool,
    msg: Option<&MessageVars<'_>>,
    vars: &dyn Vars,
) -> Option<String> {
    if name == "RAND8" {
        return Some(rand8());
    }
    let deferred = is_deferred(name);
    if mode == Mode::Parse && deferred {
        // Some deferred names are already known (e.g. BROKER_USER after a broker line),
        // but sr3 expands directory-ish ones per message: only users are taken now.
        return match name {
            "BROKER_USER" | "POST_BROKER_USER" | "QUEUESHARE" => vars.named(name),
            _ => None,
        };
    }
    if name.starts_with('%') {
        let (fmt, offset) = strftime_token(name)?;
        return format_time(now, offset.unwrap_or(var_time_offset), fmt);
    }
    if let Some((fmt, offset)) = v2_time(name) {
        return format_time(now, offset.unwrap_or(var_time_offset), fmt);
    }
    if is_group(name) {
        let n: usize = name.parse().ok()?;
        let idx = if first_match_is_zero { n + 1 } else { n };
        return msg?.groups.get(idx)?.clone();
    }
    match name {
        "SOURCE" => return msg?.source.map(str::to_string),
        "BUP" | "baseUrlPath" => return msg?.base_url.map(|u| url_path(u).to_string()),
        "BUPL" | "baseUrlPathLast" => {
            return msg?
                .base_url
                .map(|u| url_path(u).rsplit('/').next().unwrap_or("").to_string());
        }
        _ => {}
    }
    vars.named(name)
}

/// The user name for a broker URL: credentials.conf entry, else the URL's user, else
/// `anonymous` for AMQP (reference 6.2).
pub(crate) fn broker_user(
    url: Option<&crate::secret::ConfigUrl>,
    creds: Option<&CredentialDb>,
) -> Option<String> {
    let url = url?;
    if let Some(c) = creds.and_then(|db| db.lookup(url.expose()).ok())
        && let Some(u) = c.username()
    {
        return Some(u);
    }
    url.username().or_else(|| {
        url.scheme()
            .filter(|s| s.starts_with("amqp"))
            .map(|_| "anonymous".to_string())
    })
}

/// The named variables common to parse time and message time.
pub(crate) struct NamedVars<'a> {
    pub opts: &'a Options,
    pub program: &'a str,
    pub config: &'a str,
    pub env: &'a Environment,
    pub creds: Option<&'a CredentialDb>,
}

impl Vars for NamedVars<'_> {
    fn named(&self, name: &str) -> Option<String> {
        let o = self.opts;
        match name {
            "PROGRAM" | "COMPONENT" => return Some(self.program.to_string()),
            "CONFIG" => return Some(self.config.to_string()),
            "HOSTNAME" => return Some(self.env.hostname.clone()),
            "RANDID" => return Some(self.env.randid.clone()),
            "BROKER_USER" => return broker_user(o.broker.as_ref(), self.creds),
            "POST_BROKER_USER" => return broker_user(o.post_broker.as_ref(), self.creds),
            "BD" => return o.base_dir.clone(),
            "PBD" | "PDR" => return o.post_base_dir.clone(),
            "DR" => return o.document_root.clone(),
            "QUEUESHARE" => {
                return o
                    .queue_share
                    .as_ref()
                    .filter(|q| !q.contains("QUEUESHARE"))
                    .map(|q| {
                        expand_core(
                            q,
                            Mode::Parse,
                            Timestamp::UNIX_EPOCH,
                            0.0,
                            false,
                            None,
                            self,
                        )
                        .text
                    });
            }
            _ => {}
        }
        if let Some(opt) = option_by_lowercase(name)
            && let Some(v) = o.render_option(opt).and_then(|v| v.into_iter().next())
            && v != "None"
        {
            return Some(v);
        }
        o.env
            .get(name)
            .cloned()
            .or_else(|| self.env.var(name).map(str::to_string))
            .or_else(|| match name {
                // USER is often unset in services and containers: LOGNAME, else $HOME's name.
                "USER" => self.env.var("LOGNAME").map(str::to_string).or_else(|| {
                    self.env
                        .var("HOME")
                        .and_then(|h| h.trim_end_matches('/').rsplit('/').next())
                        .filter(|n| !n.is_empty())
                        .map(str::to_string)
                }),
                _ => None,
            })
    }
}

/// Expands option values per message (owned snapshot of a loaded flow).
#[derive(Clone)]
pub struct Expander {
    opts: Options,
    program: String,
    config: String,
    env: Environment,
    creds: Option<CredentialDb>,
}

impl Expander {
    /// An expander for the options of a flow.
    pub fn new(opts: &Options, component: Component, config: &str, env: &Environment) -> Self {
        Expander {
            opts: opts.clone(),
            program: component.as_str().to_string(),
            config: config.to_string(),
            env: env.clone(),
            creds: None,
        }
    }

    /// Also use a credentials database for `${BROKER_USER}`/`${POST_BROKER_USER}`.
    pub fn with_credentials(mut self, creds: &CredentialDb) -> Self {
        self.creds = Some(creds.clone());
        self
    }

    /// Expand every pattern of `text` at time `now` (UTC), with the message's values if given.
    pub fn expand(&self, text: &str, now: Timestamp, msg: Option<&MessageVars<'_>>) -> Expansion {
        if !text.contains("${") {
            return Expansion {
                text: text.to_string(),
                unresolved: Vec::new(),
            };
        }
        let vars = NamedVars {
            opts: &self.opts,
            program: &self.program,
            config: &self.config,
            env: &self.env,
            creds: self.creds.as_ref(),
        };
        expand_core(
            text,
            Mode::Full,
            now,
            self.opts.var_time_offset,
            self.opts.sundew_compat_regex_first_match_is_zero,
            msg,
            &vars,
        )
    }
}

impl fmt::Debug for Expander {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expander")
            .field("program", &self.program)
            .field("config", &self.config)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        // 2024-03-05T07:08:09Z, a Tuesday, day 065.
        "2024-03-05T07:08:09Z".parse().unwrap()
    }

    fn expander(opts: &Options) -> Expander {
        let env = Environment::fixed("pump1.example.com", &[("USER", "wx"), ("HOME", "/home/wx")]);
        Expander::new(opts, Component::Subscribe, "feed", &env)
    }

    fn x(e: &Expander, s: &str) -> String {
        e.expand(s, now(), None).text
    }

    #[test]
    fn dates_in_utc() {
        let e = expander(&Options::default());
        assert_eq!(x(&e, "/d/${YYYYMMDD}/${HH}"), "/d/20240305/07");
        assert_eq!(
            x(&e, "${YYYY}-${MM}-${DD} ${JJJ} ${SS}"),
            "2024-03-05 065 09"
        );
        assert_eq!(x(&e, "${%Y/%m/%d_%H}"), "2024/03/05_07");
        assert_eq!(x(&e, "${%o-1h%Y%m%d%H}"), "2024030506");
        assert_eq!(x(&e, "${%o+30m%H%M}"), "0738");
        assert_eq!(x(&e, "${%-8h%d}"), "04");
        assert_eq!(x(&e, "${YYYYMMDD-1D}"), "20240304");
        assert_eq!(x(&e, "${HH-5m}"), "07");
        assert_eq!(x(&e, "${HH-10m}"), "06");
        assert_eq!(x(&e, "${JJJ-1D}"), "064");
        assert_eq!(x(&e, "${YYYY-70d}"), "2023");
    }

    #[test]
    fn var_time_offset_shifts_dates() {
        let o = Options {
            var_time_offset: -3600.0 * 8.0,
            ..Options::default()
        };
        let e = expander(&o);
        assert_eq!(x(&e, "${YYYYMMDD}${HH}"), "2024030423");
        assert_eq!(x(&e, "${%H}"), "23");
        // An explicit offset replaces varTimeOffset (as in sr3).
        assert_eq!(x(&e, "${%o-1h%H}"), "06");
    }

    #[test]
    fn named_and_env() {
        let mut o = Options {
            broker: Some(crate::secret::ConfigUrl::new("amqps://bob:pw@h/")),
            post_broker: Some(crate::secret::ConfigUrl::new("amqp://h2/")),
            base_dir: Some("/base".into()),
            post_base_dir: Some("/pbase".into()),
            batch: 42,
            ..Options::default()
        };
        o.env.insert("FEED".into(), "declared".into());
        o.env.insert("USER".into(), "override".into());
        let e = expander(&o);
        assert_eq!(x(&e, "${BROKER_USER}/${POST_BROKER_USER}"), "bob/anonymous");
        assert_eq!(
            x(&e, "${PROGRAM}/${CONFIG}/${HOSTNAME}"),
            "subscribe/feed/pump1.example.com"
        );
        assert_eq!(x(&e, "${BD}${PBD}${PDR}"), "/base/pbase/pbase");
        assert_eq!(x(&e, "${batch}${BATCH}"), "4242");
        assert_eq!(
            x(&e, "${FEED} ${USER} ${HOME}"),
            "declared override /home/wx"
        );
        assert_eq!(x(&e, "${RANDID}"), crate::env::randid());
        let r = x(&e, "${RAND8}");
        assert_eq!(r.len(), 8);
    }

    #[test]
    fn message_vars_and_groups() {
        let e = expander(&Options::default());
        let groups = vec![Some("whole".to_string()), Some("g1".to_string()), None];
        let m = MessageVars {
            source: Some("src"),
            base_url: Some("https://h/a/b?x=1"),
            groups: &groups,
        };
        let ex = e.expand(
            "${SOURCE}|${BUP}|${BUPL}|${baseUrlPathLast}|${0}|${1}|${2}|${3}",
            now(),
            Some(&m),
        );
        assert_eq!(ex.text, "src|/a/b|b|b|whole|g1|${2}|${3}");
        assert_eq!(ex.unresolved, vec!["2", "3"]);
        let o = Options {
            sundew_compat_regex_first_match_is_zero: true,
            ..Options::default()
        };
        let e = expander(&o);
        assert_eq!(e.expand("${0}", now(), Some(&m)).text, "g1");
        assert_eq!(
            e.expand(
                "${BUP}",
                now(),
                Some(&MessageVars {
                    base_url: Some("https://h"),
                    ..m
                })
            )
            .text,
            ""
        );
    }

    #[test]
    fn user_fallbacks() {
        let e = Expander::new(
            &Options::default(),
            Component::Flow,
            "c",
            &Environment::fixed("h", &[("LOGNAME", "ln"), ("HOME", "/home/hm")]),
        );
        assert_eq!(x(&e, "${USER}"), "ln");
        let e = Expander::new(
            &Options::default(),
            Component::Flow,
            "c",
            &Environment::fixed("h", &[("HOME", "/root/")]),
        );
        assert_eq!(x(&e, "${USER}"), "root");
        let e = Expander::new(
            &Options::default(),
            Component::Flow,
            "c",
            &Environment::fixed("h", &[]),
        );
        assert_eq!(x(&e, "${USER}"), "${USER}");
    }

    #[test]
    fn unknown_left_as_is() {
        let e = expander(&Options::default());
        let ex = e.expand("a${NOPE}b${", now(), None);
        assert_eq!(ex.text, "a${NOPE}b${");
        assert_eq!(ex.unresolved, vec!["NOPE"]);
        let ex = e.expand("${%J}", now(), None);
        assert_eq!(ex.unresolved, vec!["%J"]);
        let ex = e.expand("${SOURCE}", now(), None);
        assert_eq!(ex.text, "${SOURCE}");
    }

    #[test]
    fn parse_mode_defers() {
        let o = Options::default();
        let env = Environment::fixed("h", &[("USER", "wx")]);
        let vars = NamedVars {
            opts: &o,
            program: "sarra",
            config: "c",
            env: &env,
            creds: None,
        };
        let ex = expand_core(
            "${YYYYMMDD}/${%Y}/${SOURCE}/${1}/${BD}/${USER}/${PROGRAM}/${WHAT}",
            Mode::Parse,
            now(),
            0.0,
            false,
            None,
            &vars,
        );
        assert_eq!(
            ex.text,
            "${YYYYMMDD}/${%Y}/${SOURCE}/${1}/${BD}/wx/sarra/${WHAT}"
        );
        assert_eq!(ex.unresolved, vec!["WHAT"]);
    }

    #[test]
    fn hostile_inputs() {
        let e = expander(&Options::default());
        for s in [
            "${",
            "${}",
            "}${",
            "${${}}",
            "${%}",
            "${%o}",
            "${%o-}",
            "${YYYY-}",
            "${YYYY--1d}",
            "${%o-99999999999999w%Y}",
            "${é}",
            "${YYYYé}",
            "${MMé-1}",
            "${%oé%Y}",
        ] {
            let _ = e.expand(s, now(), None);
        }
        let big = "${A}".repeat(10_000);
        assert_eq!(e.expand(&big, now(), None).unresolved.len(), 10_000);
    }

    #[test]
    fn url_paths() {
        assert_eq!(url_path("https://h"), "");
        assert_eq!(url_path("https://h/"), "/");
        assert_eq!(url_path("sftp://u@h/a/b#f"), "/a/b");
        assert_eq!(url_path("nothing"), "");
    }
}
