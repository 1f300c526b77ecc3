//! `pitcher sanity [component/config ...]`: sr3's repair pass, meant for cron (reference 4.1):
//! for every flow that is meant to run (it has pid files: `start` wrote them and `stop` did not
//! remove them), restart instances that died, kill and restart hung ones (no metrics written
//! for runStateThreshold_hung), and remove pid files whose process is gone. Stopped and disabled
//! flows are not started.

use std::time::Duration;

use crate::cli::Cli;
use crate::supervise::{
    Failures, FlowRef, Launcher, Target, expected_instances, hung_for, remove_pid_file, select,
    settle_queue, survey, terminate,
};

/// `pitcher sanity`.
pub fn run(cli: &Cli, flows: &[String]) -> anyhow::Result<()> {
    let dir = super::config_dir(cli)?;
    let flows = select(&dir, flows, true)?;
    let launcher = Launcher::new(cli, &dir, &[])?;
    let mut failures = Failures::default();
    let mut launched = Vec::new();
    let mut actions = 0;
    for flow in &flows {
        match sanity_flow(&launcher, flow, &mut launched) {
            Ok(n) => actions += n,
            Err(e) => failures.add(&flow.id(), e),
        }
    }
    super::start::check_launched(launched, &mut failures);
    if actions == 0 && failures.is_empty() {
        println!("sanity: nothing to repair");
    }
    failures.finish()
}

fn sanity_flow(
    launcher: &Launcher,
    flow: &FlowRef,
    launched: &mut Vec<super::start::Launched>,
) -> anyhow::Result<usize> {
    let id = flow.id();
    let s = survey(flow)?;
    let has_pid_files = !s.stale.is_empty() || s.live.iter().any(|l| l.pid_file.is_some());
    if !has_pid_files {
        return Ok(0); // stopped (or run by hand): not ours to start
    }
    let mut actions = 0;
    let keep_running = flow.configured && flow.component.is_runnable() && !flow.is_disabled()?;
    if !keep_running {
        for st in &s.stale {
            remove_pid_file(&st.path, st.pid)?;
            println!(
                "{id}: removed the stale pid file of instance {}",
                st.instance
            );
            actions += 1;
        }
        return Ok(actions);
    }
    let mut loaded = flow.load(&launcher.config_dir(), &[])?;
    let expected = expected_instances(&loaded);
    let threshold = loaded.options.run_state_threshold_hung;

    let mut hung = Vec::new();
    for l in s.live.iter().filter(|l| l.pid_file.is_some()) {
        if let Some(age) = hung_for(flow, l, threshold)? {
            println!(
                "{id}: instance {} (pid {}) is hung (no metrics for {age:.0} s, runStateThreshold_hung {threshold} s): killing it",
                l.instance, l.pid
            );
            hung.push(Target {
                flow: flow.clone(),
                instance: l.instance,
                pid: l.pid,
                pid_file: l.pid_file.clone(),
            });
        }
    }
    if !hung.is_empty() {
        let (_, left) = terminate(&hung, Duration::ZERO)?;
        if let Some(t) = left.first() {
            anyhow::bail!(
                "instance {} (pid {}) is hung and survived SIGKILL",
                t.instance,
                t.pid
            );
        }
        actions += hung.len();
    }
    for st in &s.stale {
        remove_pid_file(&st.path, st.pid)?;
        if st.instance > expected {
            println!(
                "{id}: removed the stale pid file of instance {} (instances is {expected})",
                st.instance
            );
            actions += 1;
        }
    }
    let mut settled = false;
    for n in 1..=expected {
        let running = s.instance(n).is_some() && !hung.iter().any(|h| h.instance == n);
        if running {
            continue;
        }
        if !settled {
            settle_queue(&mut loaded)?;
            settled = true;
        }
        let child = launcher.spawn(&loaded, flow, n)?;
        println!(
            "{id}: instance {n} was not running: restarted (pid {})",
            child.id()
        );
        launched.push(super::start::Launched {
            flow: flow.clone(),
            instance: n,
            child,
        });
        actions += 1;
    }
    Ok(actions)
}
