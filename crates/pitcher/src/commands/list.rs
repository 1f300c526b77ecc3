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
        println!("{}/{}", f.component, f.name);
    }
    Ok(())
}
