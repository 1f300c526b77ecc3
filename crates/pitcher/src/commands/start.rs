//! `pitcher start [component/config ...] [--option value ...]`: launch each flow's instances in
//! the background (reference 4.1, 4.2).

use std::process::Child;
use std::time::Duration;

use crate::cli::Cli;
use crate::supervise::{
    Failures, FlowRef, Launcher, expected_instances, remove_pid_file, select, settle_queue, survey,
    tail,
};

/// An instance launched by this command (checked once for an immediate death).
pub struct Launched {
    pub flow: FlowRef,
    pub instance: u32,
    pub child: Child,
}

/// `pitcher start`.
pub fn run(cli: &Cli, args: &[String]) -> anyhow::Result<()> {
    let (patterns, options) = crate::cli::split_flows_and_options(args);
    let dir = super::config_dir(cli)?;
    let flows = select(&dir, &patterns, false)?;
    if flows.is_empty() {
        println!(
            "no flows configured in {} (see pitcher add)",
            dir.root().display()
        );
        return Ok(());
    }
    let launcher = Launcher::new(cli, &dir, &options)?;
    let mut failures = Failures::default();
    let mut launched = Vec::new();
    for flow in &flows {
        match start_flow(&launcher, flow) {
            Ok(l) => launched.extend(l),
            Err(e) => failures.add(&flow.id(), e),
        }
    }
    check_launched(launched, &mut failures);
    failures.finish()
}

/// Starts the instances of `flow` that are not running; says what it did.
pub fn start_flow(launcher: &Launcher, flow: &FlowRef) -> anyhow::Result<Vec<Launched>> {
    let id = flow.id();
    if !flow.component.is_runnable() {
        println!("{id}: run by sarrac (C), not by pitcher: skipped");
        return Ok(Vec::new());
    }
    if flow.is_disabled()? {
        println!("{id}: disabled: not started (pitcher enable {id})");
        return Ok(Vec::new());
    }
    let mut loaded = flow.load(&launcher.config_dir(), launcher.options())?;
    let expected = expected_instances(&loaded);
    if expected == 0 {
        if loaded.component == pitcher_config::Component::Post {
            println!(
                "{id}: a one-shot post (sleep <= 0 or no path): not started; run it with pitcher post -c {}",
                flow.name
            );
        } else {
            println!("{id}: instances 0: nothing to start");
        }
        return Ok(Vec::new());
    }
    let s = survey(flow)?;
    for stale in &s.stale {
        remove_pid_file(&stale.path, stale.pid)?;
    }
    if (1..=expected).any(|n| s.instance(n).is_none()) {
        settle_queue(&mut loaded)?;
    }
    let mut already = Vec::new();
    let mut started = Vec::new();
    for n in 1..=expected {
        if let Some(l) = s.instance(n) {
            already.push(l.pid);
            continue;
        }
        let child = launcher.spawn(&loaded, flow, n)?;
        started.push(Launched {
            flow: flow.clone(),
            instance: n,
            child,
        });
    }
    let pids = |v: &mut dyn Iterator<Item = String>| v.collect::<Vec<_>>().join(", ");
    if started.is_empty() {
        println!(
            "{id}: already running ({} of {expected} instances, pid {})",
            already.len(),
            pids(&mut already.iter().map(|p| p.to_string()))
        );
    } else {
        let mut line = format!(
            "{id}: started {} instance{} (pid {})",
            started.len(),
            if started.len() == 1 { "" } else { "s" },
            pids(&mut started.iter().map(|l| l.child.id().to_string()))
        );
        if !already.is_empty() {
            line.push_str(&format!("; {} already running", already.len()));
        }
        println!("{line}");
    }
    Ok(started)
}

/// Gives the new instances a moment, then reports any that died at once (with the end of
/// their log) and removes their pid files.
pub fn check_launched(mut launched: Vec<Launched>, failures: &mut Failures) {
    if launched.is_empty() {
        return;
    }
    std::thread::sleep(Duration::from_millis(500));
    for l in &mut launched {
        let Ok(Some(status)) = l.child.try_wait() else {
            continue;
        };
        let id = l.flow.id();
        if let Ok(p) = l.flow.pid_file(l.instance) {
            let _ = remove_pid_file(&p, i32::try_from(l.child.id()).ok());
        }
        let log = l.flow.log_file(l.instance).ok();
        let tail = log.as_deref().map(|p| tail(p, 5)).unwrap_or_default();
        let where_ = log
            .as_deref()
            .map(|p| format!(" (log {})", p.display()))
            .unwrap_or_default();
        if status.success() {
            println!("{id}: instance {} finished already{where_}", l.instance);
        } else {
            failures.add(
                &id,
                anyhow::anyhow!(
                    "instance {} exited at once ({status}){where_}{}{tail}",
                    l.instance,
                    if tail.is_empty() { "" } else { ":\n" }
                ),
            );
        }
    }
}
