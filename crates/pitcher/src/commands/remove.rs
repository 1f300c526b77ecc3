//! `pitcher remove component/config ...`: delete stopped flows: their configuration file and
//! their state directory (retry spools, nodupe cache, saved queue name, metrics), as sr3 does
//! (reference 4.1). Refused while the flow runs. Unlike sr3, the queue on the broker is not
//! deleted: `pitcher cleanup` does that, and is best run before `remove`.

use anyhow::Context;

use crate::cli::Cli;
use crate::supervise::{Failures, FlowRef, select, survey};

/// `pitcher remove`.
pub fn run(cli: &Cli, flows: &[String]) -> anyhow::Result<()> {
    if let Some(p) = flows.iter().find(|p| p.contains(['*', '?', '['])) {
        return Err(super::UsageProblem(format!(
            "remove takes flow names, not patterns (\"{p}\")"
        ))
        .into());
    }
    let dir = super::config_dir(cli)?;
    let flows = select(&dir, flows, false)?;
    let mut failures = Failures::default();
    for flow in &flows {
        if let Err(e) = remove(&dir, flow) {
            failures.add(&flow.id(), e);
        }
    }
    failures.finish()
}

fn remove(dir: &pitcher_config::ConfigDir, flow: &FlowRef) -> anyhow::Result<()> {
    let s = survey(flow)?;
    if s.is_running() {
        anyhow::bail!("running: stop it first (pitcher stop {})", flow.id());
    }
    let conf = dir
        .flow_path(flow.component, &flow.name)
        .map_err(super::ConfigProblem)?;
    let state = flow.state_dir()?;
    // Name the queue left on the broker, if one was saved.
    let queues: Vec<String> = std::fs::read_dir(&state)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".qname"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|q| q.trim().to_string())
        .filter(|q| !q.is_empty())
        .collect();
    std::fs::remove_file(&conf).with_context(|| format!("cannot remove {}", conf.display()))?;
    match std::fs::remove_dir_all(&state) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", state.display())),
    }
    println!(
        "{}: removed ({} and {})",
        flow.id(),
        conf.display(),
        state.display()
    );
    for q in queues {
        println!(
            "{}: note: its queue {q} was not deleted from the broker (pitcher cleanup does that before remove)",
            flow.id()
        );
    }
    Ok(())
}
