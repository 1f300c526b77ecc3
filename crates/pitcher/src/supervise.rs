//! Process supervision shared by `start`, `stop`, `restart`, `sanity`, `status` and the verbs
//! that must know whether a flow runs: which flows a command line names, their pid files, whether
//! a pid really is one of their instances, launching instances and stopping them.
//!
//! State on disk (reference 4.4, under the state root of [`crate::state`]):
//! `<component>/<config>/i_NN.pid` (written by `start` after launching instance NN),
//! `<component>/<config>/<component>_<config>_NN.metrics` (written by the instance),
//! `<component>/<config>/disabled` (the disable flag) and `log/<component>_<config>_NN.log`.
//!
//! A pid is taken to be an instance of a flow only if `/proc/<pid>/cmdline` is a
//! `pitcher ... foreground [--instance NN] <component>/<config>` command line with that flow and
//! instance, so a pid file left behind by a dead instance whose pid was reused is never signalled.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgid};
use pitcher_config::{Component, ConfigDir, ConfigError, LoadedFlow};

use crate::commands::{ConfigProblem, UsageProblem};
use crate::state::state_root;

/// A flow, by component and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowRef {
    pub component: Component,
    pub name: String,
    /// Its configuration file exists (false for a flow whose configuration was removed while it
    /// still had instances running).
    pub configured: bool,
}

impl FlowRef {
    /// `component/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.component, self.name)
    }

    /// `<state root>/<component>/<name>`.
    pub fn state_dir(&self) -> anyhow::Result<PathBuf> {
        crate::state::flow_dir(self.component, &self.name)
    }

    /// The pid file of instance `n`.
    pub fn pid_file(&self, n: u32) -> anyhow::Result<PathBuf> {
        Ok(self.state_dir()?.join(format!("i_{n:02}.pid")))
    }

    /// The metrics file instance `n` writes.
    pub fn metrics_file(&self, n: u32) -> anyhow::Result<PathBuf> {
        Ok(self
            .state_dir()?
            .join(format!("{}_{}_{n:02}.metrics", self.component, self.name)))
    }

    /// The log file of instance `n`.
    pub fn log_file(&self, n: u32) -> anyhow::Result<PathBuf> {
        Ok(log_dir()?.join(format!("{}_{}_{n:02}.log", self.component, self.name)))
    }

    /// The disable flag.
    pub fn disabled_flag(&self) -> anyhow::Result<PathBuf> {
        Ok(self.state_dir()?.join("disabled"))
    }

    /// Is the flow disabled?
    pub fn is_disabled(&self) -> anyhow::Result<bool> {
        Ok(self.disabled_flag()?.exists())
    }

    /// Load its configuration (with option overrides).
    pub fn load(&self, dir: &ConfigDir, options: &[String]) -> anyhow::Result<LoadedFlow> {
        let flow = dir
            .load_flow(self.component, &self.name, options)
            .map_err(ConfigProblem)?;
        Ok(flow)
    }
}

/// `<state root>/log`.
pub fn log_dir() -> anyhow::Result<PathBuf> {
    Ok(state_root()?.join("log"))
}

/// How many instances a flow runs when started (sr3's rules): post only when it loops
/// (`sleep` > 0 and `path` set), then one; poll and watch one; others `instances`.
pub fn expected_instances(flow: &LoadedFlow) -> u32 {
    match flow.component {
        Component::Post => u32::from(flow.options.sleep > 0.0 && !flow.options.path.is_empty()),
        Component::Poll | Component::Watch => 1,
        _ => u32::try_from(flow.options.instances.min(99)).unwrap_or(99),
    }
}

fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// Saves the flow's queue name before its instances are launched, so that instances started
/// together all use the same queue (the default name has a random part; sr3 has instances N > 1
/// wait for instance 1 for the same reason).
pub fn settle_queue(flow: &mut LoadedFlow) -> anyhow::Result<()> {
    if crate::brokers::consumes(flow) && flow.options.broker.is_some() {
        crate::state::settle_queue_name(flow)?;
    }
    Ok(())
}

/// Shell-style matching of `*`, `?` and `[...]` (as sr3's fnmatch on `component/config`).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // p starts after '['; returns (matched, length including the closing ']').
        let mut i = 0;
        let negate = matches!(p.first(), Some('!' | '^'));
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        while i < p.len() {
            if p[i] == ']' && !first {
                return Some((matched != negate, i + 1));
            }
            first = false;
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                if p[i] <= c && c <= p[i + 2] {
                    matched = true;
                }
                i += 3;
            } else {
                if p[i] == c {
                    matched = true;
                }
                i += 1;
            }
        }
        None
    }
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|k| go(&p[1..], &t[k..])),
            Some('?') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some('[') => match (
                t.first(),
                class(&p[1..], t.first().copied().unwrap_or('\0')),
            ) {
                (Some(_), Some((true, len))) => go(&p[1 + len..], &t[1..]),
                (Some(_), Some((false, _))) | (None, _) => false,
                (Some(c), None) => *c == '[' && go(&p[1..], &t[1..]),
            },
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

/// The flows a command line names: none = every configured flow; `component/config` names one
/// (it must exist); patterns with `*`, `?` or `[...]` select among the configured flows (sr3
/// does the same). With `orphans`, flows whose configuration is gone but whose state directory
/// still has pid files are candidates too (so they can be stopped).
pub fn select(dir: &ConfigDir, patterns: &[String], orphans: bool) -> anyhow::Result<Vec<FlowRef>> {
    let mut candidates: BTreeSet<FlowRef> = dir
        .list_flows()
        .map_err(ConfigProblem)?
        .into_iter()
        .map(|f| FlowRef {
            component: f.component,
            name: f.name,
            configured: true,
        })
        .collect();
    if orphans {
        for f in orphan_flows()? {
            if !candidates
                .iter()
                .any(|c| c.component == f.component && c.name == f.name)
            {
                candidates.insert(f);
            }
        }
    }
    if patterns.is_empty() {
        return Ok(candidates.into_iter().collect());
    }
    let mut out: Vec<FlowRef> = Vec::new();
    let mut push = |f: &FlowRef| {
        if !out.contains(f) {
            out.push(f.clone());
        }
    };
    for p in patterns {
        let p = p.trim_end_matches(".conf");
        if has_glob(p) {
            let mut any = false;
            for c in candidates.iter().filter(|c| glob_match(p, &c.id())) {
                any = true;
                push(c);
            }
            if !any {
                return Err(UsageProblem(format!(
                    "no configured flow matches \"{p}\" (see pitcher list)"
                ))
                .into());
            }
        } else {
            let (component, name) = pitcher_config::parse_flow_spec(p).map_err(ConfigProblem)?;
            match candidates
                .iter()
                .find(|c| c.component == component && c.name == name)
            {
                Some(c) => push(c),
                None => {
                    let path = dir
                        .flow_path(component, &name)
                        .map_err(ConfigProblem)?
                        .display()
                        .to_string();
                    return Err(ConfigProblem(ConfigError::FlowNotFound {
                        component: component.to_string(),
                        name,
                        path,
                    })
                    .into());
                }
            }
        }
    }
    Ok(out)
}

/// State directories with pid files (the flow may have lost its configuration).
fn orphan_flows() -> anyhow::Result<Vec<FlowRef>> {
    let root = state_root()?;
    let mut out = Vec::new();
    for component in Component::ALL {
        let cdir = root.join(component.as_str());
        let Ok(entries) = std::fs::read_dir(&cdir) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let flow = FlowRef {
                component,
                name,
                configured: false,
            };
            if e.path().is_dir() && !pid_files(&flow)?.is_empty() {
                out.push(flow);
            }
        }
    }
    Ok(out)
}

/// One pid file.
#[derive(Clone, Debug)]
pub struct PidEntry {
    pub instance: u32,
    pub path: PathBuf,
    /// None when the file does not hold a pid.
    pub pid: Option<i32>,
}

/// The flow's pid files, by instance.
pub fn pid_files(flow: &FlowRef) -> anyhow::Result<Vec<PidEntry>> {
    let dir = flow.state_dir()?;
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut out = Vec::new();
    for e in entries.filter_map(Result::ok) {
        let Some(n) = e
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix("i_"))
            .and_then(|n| n.strip_suffix(".pid"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let pid = std::fs::read_to_string(e.path())
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .filter(|p| *p > 1);
        out.push(PidEntry {
            instance: n,
            path: e.path(),
            pid,
        });
    }
    out.sort_by_key(|e| e.instance);
    Ok(out)
}

/// Does this argument vector run instance `n` of `component/name` in the foreground?
pub fn argv_matches(argv: &[String], component: Component, name: &str, n: u32) -> bool {
    let Some(exe) = argv.first() else {
        return false;
    };
    let base = Path::new(exe)
        .file_name()
        .and_then(|b| b.to_str())
        .unwrap_or("");
    if !base.starts_with("pitcher") {
        return false;
    }
    let Some(verb) = argv.iter().position(|a| a == "foreground") else {
        return false;
    };
    let want = format!("{component}/{name}");
    let mut instance = 1u32;
    let mut rest = argv[verb + 1..].iter();
    while let Some(a) = rest.next() {
        if a == "--instance" {
            match rest.next().and_then(|v| v.parse().ok()) {
                Some(v) => instance = v,
                None => return false,
            }
        } else if let Some(v) = a.strip_prefix("--instance=") {
            match v.parse() {
                Ok(v) => instance = v,
                Err(_) => return false,
            }
        } else if a.starts_with('-') {
            // Another option of `foreground` before the flow: none takes a value today.
            continue;
        } else {
            // The flow: options after it are configuration overrides.
            return a.trim_end_matches(".conf") == want && instance == n;
        }
    }
    false
}

/// Is `pid` a live (not zombie) process running instance `n` of `flow`?
pub fn is_instance(pid: i32, flow: &FlowRef, n: u32) -> bool {
    if pid <= 1 {
        return false;
    }
    let proc = PathBuf::from(format!("/proc/{pid}"));
    // The state letter follows the last ')' of /proc/<pid>/stat.
    let Ok(stat) = std::fs::read_to_string(proc.join("stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, r)| r.trim_start().chars().next());
    if matches!(state, Some('Z' | 'X' | 'x') | None) {
        return false;
    }
    let Ok(raw) = std::fs::read(proc.join("cmdline")) else {
        return false;
    };
    let argv: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    argv_matches(&argv, flow.component, &flow.name, n)
}

/// A running instance.
#[derive(Clone, Debug)]
pub struct Live {
    pub instance: u32,
    pub pid: i32,
    /// Its pid file; None for an instance run by hand with `pitcher foreground` (found through
    /// its metrics file).
    pub pid_file: Option<PathBuf>,
}

/// What runs of a flow.
#[derive(Debug, Default)]
pub struct Survey {
    pub live: Vec<Live>,
    /// Pid files whose process is gone (or is not this flow's instance).
    pub stale: Vec<PidEntry>,
}

impl Survey {
    pub fn is_running(&self) -> bool {
        !self.live.is_empty()
    }

    pub fn instance(&self, n: u32) -> Option<&Live> {
        self.live.iter().find(|l| l.instance == n)
    }
}

/// Looks at the pid files and metrics files of `flow` and the process table.
pub fn survey(flow: &FlowRef) -> anyhow::Result<Survey> {
    let mut s = Survey::default();
    let mut seen_pid_file: BTreeSet<u32> = BTreeSet::new();
    for e in pid_files(flow)? {
        seen_pid_file.insert(e.instance);
        match e.pid {
            Some(pid) if is_instance(pid, flow, e.instance) => s.live.push(Live {
                instance: e.instance,
                pid,
                pid_file: Some(e.path.clone()),
            }),
            _ => s.stale.push(e),
        }
    }
    // Instances started by hand (`pitcher foreground`) have no pid file, but their metrics
    // file names their pid.
    for (n, m) in metrics(flow)? {
        if seen_pid_file.contains(&n) || s.instance(n).is_some() {
            continue;
        }
        if let Ok(pid) = i32::try_from(m.pid)
            && is_instance(pid, flow, n)
        {
            s.live.push(Live {
                instance: n,
                pid,
                pid_file: None,
            });
        }
    }
    s.live.sort_by_key(|l| l.instance);
    Ok(s)
}

/// The metrics files of a flow, by instance (unreadable ones are skipped).
pub fn metrics(flow: &FlowRef) -> anyhow::Result<Vec<(u32, pitcher_flow::Metrics)>> {
    let dir = flow.state_dir()?;
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let prefix = format!("{}_{}_", flow.component, flow.name);
    let mut out = Vec::new();
    for e in entries.filter_map(Result::ok) {
        let Some(n) = e
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".metrics"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(m) = pitcher_flow::Metrics::read(&e.path()) {
            out.push((n, m));
        }
    }
    out.sort_by_key(|(n, _)| *n);
    Ok(out)
}

/// Seconds since the unix epoch.
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Is a live instance hung: no metrics written by it for `threshold` seconds (or, without
/// metrics yet, started longer ago than that)? Returns the seconds since its last sign of life.
pub fn hung_for(flow: &FlowRef, live: &Live, threshold: f64) -> anyhow::Result<Option<f64>> {
    let now = now_secs();
    let last = match pitcher_flow::Metrics::read(&flow.metrics_file(live.instance)?) {
        Ok(m) if i32::try_from(m.pid).ok() == Some(live.pid) => Some(m.updated),
        _ => live
            .pid_file
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64()),
    };
    Ok(last
        .map(|t| now - t)
        .filter(|age| threshold > 0.0 && *age > threshold))
}

/// Removes a pid file if it still holds `pid` (or, with None, holds no valid pid).
pub fn remove_pid_file(path: &Path, pid: Option<i32>) -> anyhow::Result<()> {
    let current = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok());
    if current.is_some() && current != pid {
        return Ok(()); // someone started a new instance meanwhile
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove pid file {}", path.display())),
    }
}

/// How to launch instances: this executable, the configuration tree, forwarded options.
pub struct Launcher {
    exe: PathBuf,
    config_dir: PathBuf,
    log_level: Option<String>,
    options: Vec<String>,
}

impl Launcher {
    pub fn new(cli: &crate::cli::Cli, dir: &ConfigDir, options: &[String]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the pitcher executable")?;
        let config_dir = std::path::absolute(dir.root()).with_context(|| {
            format!(
                "cannot make the configuration directory {} absolute",
                dir.root().display()
            )
        })?;
        Ok(Launcher {
            exe,
            config_dir,
            log_level: cli.log_level.clone(),
            options: options.to_vec(),
        })
    }

    /// The configuration directory instances are given.
    pub fn config_dir(&self) -> ConfigDir {
        ConfigDir::new(&self.config_dir)
    }

    /// Option overrides given on the command line (forwarded to instances).
    pub fn options(&self) -> &[String] {
        &self.options
    }

    /// Launches instance `n` of `flow` in the background (own process group, stdin from
    /// /dev/null, stdout and stderr appended to its log file, which it then rotates itself) and
    /// writes its pid file.
    pub fn spawn(&self, flow: &LoadedFlow, fref: &FlowRef, n: u32) -> anyhow::Result<Child> {
        let state_dir = fref.state_dir()?;
        std::fs::create_dir_all(&state_dir)
            .with_context(|| format!("cannot create {}", state_dir.display()))?;
        let log = fref.log_file(n)?;
        if let Some(d) = log.parent() {
            std::fs::create_dir_all(d)
                .with_context(|| format!("cannot create log directory {}", d.display()))?;
        }
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open log file {}", log.display()))?;
        let err = out
            .try_clone()
            .with_context(|| format!("cannot open log file {}", log.display()))?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--config-dir").arg(&self.config_dir);
        if let Some(l) = &self.log_level {
            cmd.arg("--log-level").arg(l);
        }
        cmd.arg("--log-file")
            .arg(&log)
            .arg("--log-rotate-count")
            .arg(flow.options.log_rotate_count.to_string())
            .arg("--log-rotate-interval")
            .arg(flow.options.log_rotate_interval.to_string())
            .arg("foreground")
            .arg("--instance")
            .arg(n.to_string())
            .arg(fref.id())
            .args(&self.options)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot launch {}", self.exe.display()))?;
        let pid_file = fref.pid_file(n)?;
        write_pid_file(&pid_file, child.id())?;
        Ok(child)
    }
}

fn write_pid_file(path: &Path, pid: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension("pid.tmp");
    std::fs::write(&tmp, format!("{pid}\n"))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

/// An instance to stop.
#[derive(Clone, Debug)]
pub struct Target {
    pub flow: FlowRef,
    pub instance: u32,
    pub pid: i32,
    pub pid_file: Option<PathBuf>,
}

impl Target {
    fn alive(&self) -> bool {
        is_instance(self.pid, &self.flow, self.instance)
    }
}

fn send(t: &Target, sig: Signal) {
    // Checked right before signalling: the pid must still be this instance.
    if !t.alive() {
        return;
    }
    let pid = Pid::from_raw(t.pid);
    if sig == Signal::SIGKILL && getpgid(Some(pid)).ok() == Some(pid) {
        // Its own process group (as `start` makes it): take any helpers it ran with it.
        let _ = killpg(pid, sig);
    } else {
        let _ = kill(pid, sig);
    }
}

fn wait_gone(targets: &mut Vec<Target>, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        targets.retain(Target::alive);
        if targets.is_empty() || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM every target, wait up to `timeout` for them to finish their work and exit, SIGKILL
/// those left and wait up to 10 s more; pid files of the instances gone are removed. Returns
/// the targets killed with SIGKILL and those still alive after it.
pub fn terminate(
    targets: &[Target],
    timeout: Duration,
) -> anyhow::Result<(Vec<Target>, Vec<Target>)> {
    for t in targets {
        send(t, Signal::SIGTERM);
    }
    let mut left = targets.to_vec();
    wait_gone(&mut left, timeout);
    let killed = left.clone();
    for t in &left {
        send(t, Signal::SIGKILL);
    }
    wait_gone(&mut left, Duration::from_secs(10));
    for t in targets {
        if let Some(p) = &t.pid_file
            && !left.iter().any(|l| l.pid == t.pid)
        {
            remove_pid_file(p, Some(t.pid))?;
        }
    }
    Ok((killed, left))
}

/// Collects failures of a verb acting on several flows: each is reported, and the verb ends
/// with an error whose kind (configuration or not) sets the exit code.
#[derive(Default)]
pub struct Failures {
    errors: Vec<anyhow::Error>,
}

impl Failures {
    pub fn add(&mut self, what: &str, e: anyhow::Error) {
        self.errors.push(e.context(what.to_string()));
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Ok if nothing failed; else prints all but one failure and returns that one (a
    /// configuration problem if there is one, so the exit code is 3).
    pub fn finish(mut self) -> anyhow::Result<()> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let pick = self
            .errors
            .iter()
            .position(|e| e.downcast_ref::<ConfigProblem>().is_some())
            .unwrap_or(0);
        let chosen = self.errors.remove(pick);
        for e in &self.errors {
            eprintln!("pitcher: {e:#}");
        }
        Err(chosen)
    }
}

/// The last `n` lines of a file (for explaining an instance that died at once).
pub fn tail(path: &Path, n: usize) -> String {
    let Ok(text) = std::fs::read(path) else {
        return String::new();
    };
    let start = text.len().saturating_sub(16 * 1024);
    let text = String::from_utf8_lossy(&text[start..]);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_lines_of_instances() {
        let s = Component::Subscribe;
        let full = v(&[
            "/usr/bin/pitcher",
            "--config-dir",
            "/c",
            "--log-file",
            "/l/subscribe_wx_02.log",
            "foreground",
            "--instance",
            "2",
            "subscribe/wx",
            "--batch",
            "5",
        ]);
        assert!(argv_matches(&full, s, "wx", 2));
        assert!(!argv_matches(&full, s, "wx", 1));
        assert!(!argv_matches(&full, s, "w", 2));
        assert!(!argv_matches(&full, Component::Sarra, "wx", 2));
        assert!(argv_matches(
            &v(&["pitcher", "foreground", "subscribe/wx.conf"]),
            s,
            "wx",
            1
        ));
        assert!(argv_matches(
            &v(&["./pitcher", "foreground", "--instance=3", "subscribe/wx"]),
            s,
            "wx",
            3
        ));
        // --instance after the flow is a configuration option, not the instance.
        assert!(!argv_matches(
            &v(&["pitcher", "foreground", "subscribe/wx", "--instance", "3"]),
            s,
            "wx",
            3
        ));
        assert!(!argv_matches(
            &v(&["sleep", "foreground", "subscribe/wx"]),
            s,
            "wx",
            1
        ));
        assert!(!argv_matches(
            &v(&["pitcher", "show", "subscribe/wx"]),
            s,
            "wx",
            1
        ));
        assert!(!argv_matches(&v(&[]), s, "wx", 1));
    }

    #[test]
    fn globs() {
        assert!(glob_match("subscribe/*", "subscribe/wx"));
        assert!(glob_match("*/wx", "sarra/wx"));
        assert!(glob_match("s*/w?", "sarra/wx"));
        assert!(!glob_match("s*/w?", "sarra/wxy"));
        assert!(glob_match("subscribe/[a-c]x", "subscribe/bx"));
        assert!(!glob_match("subscribe/[!a-c]x", "subscribe/bx"));
        assert!(glob_match("*", "flow/x"));
        assert!(!glob_match("poll/*", "subscribe/wx"));
    }

    #[test]
    fn a_non_pitcher_process_is_never_an_instance() {
        let me = i32::try_from(std::process::id()).unwrap();
        let f = FlowRef {
            component: Component::Subscribe,
            name: "wx".into(),
            configured: true,
        };
        assert!(!is_instance(me, &f, 1));
        assert!(!is_instance(1, &f, 1));
        assert!(!is_instance(0, &f, 1));
        assert!(!is_instance(-5, &f, 1));
    }
}
