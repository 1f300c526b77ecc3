//! `pitcher list`: the configured flows.

use anyhow::Context;

use crate::cli::Cli;

pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let dir = super::config_dir(cli)?;
    let flows = dir
        .list_flows()
        .with_context(|| format!("cannot list flows in {}", dir.root().display()))?;
    println!("configuration directory: {}", dir.root().display());
    if flows.is_empty() {
        println!("no flows configured (add <component>/<name>.conf files there)");
        return Ok(());
    }
    for f in flows {
        // Disabled flows (pitcher disable: a flag in the state directory, as sr3 keeps it).
        let disabled = crate::state::flow_dir(f.component, &f.name)
            .map(|d| d.join("disabled").exists())
            .unwrap_or(false);
        let note = if disabled { " (disabled)" } else { "" };
        println!("{}/{}{note}", f.component, f.name);
    }
    Ok(())
}
