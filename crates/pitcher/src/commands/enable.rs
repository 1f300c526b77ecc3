//! `pitcher enable|disable component/config ...`: remove or create the flow's `disabled` flag in
//! its state directory, as sr3 does (reference 4.1, 4.4). A disabled flow is listed as such and
//! is not started by `start`, `restart` or `sanity`; disabling a running flow is refused.

use anyhow::Context;

use crate::cli::Cli;
use crate::supervise::{Failures, FlowRef, select, survey};

/// `pitcher enable` (`enable` true) or `pitcher disable`.
pub fn run(cli: &Cli, flows: &[String], enable: bool) -> anyhow::Result<()> {
    let dir = super::config_dir(cli)?;
    let flows = select(&dir, flows, false)?;
    let mut failures = Failures::default();
    for flow in &flows {
        let r = if enable {
            enable_flow(flow)
        } else {
            disable_flow(flow)
        };
        if let Err(e) = r {
            failures.add(&flow.id(), e);
        }
    }
    failures.finish()
}

fn enable_flow(flow: &FlowRef) -> anyhow::Result<()> {
    let flag = flow.disabled_flag()?;
    match std::fs::remove_file(&flag) {
        Ok(()) => println!("{}: enabled", flow.id()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("{}: enabled (it was not disabled)", flow.id());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", flag.display())),
    }
    Ok(())
}

fn disable_flow(flow: &FlowRef) -> anyhow::Result<()> {
    let s = survey(flow)?;
    if s.is_running() {
        anyhow::bail!(
            "running ({} instance{}): stop it first (pitcher stop {})",
            s.live.len(),
            if s.live.len() == 1 { "" } else { "s" },
            flow.id()
        );
    }
    let flag = flow.disabled_flag()?;
    if let Some(d) = flag.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    std::fs::write(&flag, "").with_context(|| format!("cannot create {}", flag.display()))?;
    println!("{}: disabled", flow.id());
    Ok(())
}
