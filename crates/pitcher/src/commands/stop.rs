//! `pitcher stop [component/config ...]`: SIGTERM each instance started by `pitcher start`, wait
//! for it to finish the work in hand, SIGKILL it after the timeout; remove the pid files
//! (reference 4.1).

use std::time::Duration;

use crate::cli::Cli;
use crate::supervise::{FlowRef, Target, remove_pid_file, select, survey, terminate};

/// `pitcher stop`.
pub fn run(cli: &Cli, flows: &[String], timeout: u64) -> anyhow::Result<()> {
    let dir = super::config_dir(cli)?;
    let flows = select(&dir, flows, true)?;
    stop(&flows, Duration::from_secs(timeout))
}

/// Stops `flows`, saying what it does. Instances run by hand (`pitcher foreground`, no pid
/// file) are left alone, as sr3 leaves foreground instances.
pub fn stop(flows: &[FlowRef], timeout: Duration) -> anyhow::Result<()> {
    let mut targets = Vec::new();
    for flow in flows {
        let s = survey(flow)?;
        for stale in &s.stale {
            remove_pid_file(&stale.path, stale.pid)?;
        }
        let mine: Vec<Target> = s
            .live
            .iter()
            .filter(|l| l.pid_file.is_some())
            .map(|l| Target {
                flow: flow.clone(),
                instance: l.instance,
                pid: l.pid,
                pid_file: l.pid_file.clone(),
            })
            .collect();
        for l in s.live.iter().filter(|l| l.pid_file.is_none()) {
            println!(
                "{}: instance {} (pid {}) runs in the foreground: not stopped",
                flow.id(),
                l.instance,
                l.pid
            );
        }
        if mine.is_empty() {
            if s.live.is_empty() {
                println!("{}: not running", flow.id());
            }
        } else {
            let pids: Vec<String> = mine.iter().map(|t| t.pid.to_string()).collect();
            println!(
                "{}: stopping {} instance{} (pid {})",
                flow.id(),
                mine.len(),
                if mine.len() == 1 { "" } else { "s" },
                pids.join(", ")
            );
        }
        targets.extend(mine);
    }
    if targets.is_empty() {
        return Ok(());
    }
    let (killed, left) = terminate(&targets, timeout)?;
    for t in &killed {
        if !left.iter().any(|l| l.pid == t.pid) {
            println!(
                "{}: instance {} (pid {}) did not stop within {} s: killed",
                t.flow.id(),
                t.instance,
                t.pid,
                timeout.as_secs()
            );
        }
    }
    if !left.is_empty() {
        let pids: Vec<String> = left
            .iter()
            .map(|t| format!("{} instance {} (pid {})", t.flow.id(), t.instance, t.pid))
            .collect();
        anyhow::bail!("still running after SIGKILL: {}", pids.join(", "));
    }
    let stopped: Vec<String> = flows
        .iter()
        .filter(|f| targets.iter().any(|t| &t.flow == *f))
        .map(FlowRef::id)
        .collect();
    println!("stopped: {}", stopped.join(" "));
    Ok(())
}
