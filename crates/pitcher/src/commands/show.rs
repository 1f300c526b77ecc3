//! `pitcher show component/config [--option value ...]`: the fully resolved options of flows.

use super::load_flows;
use crate::cli::Cli;
use crate::state::settle_queue_name_readonly;

pub fn run(cli: &Cli, args: &[String]) -> anyhow::Result<()> {
    let flows = load_flows(cli, args)?;
    let several = flows.len() > 1;
    let mut out = String::new();
    for mut flow in flows {
        // Show the queue name really in use (saved by declare/start), without saving one.
        settle_queue_name_readonly(&mut flow)?;
        if several {
            out.push_str(&format!("# {}\n", flow.id()));
        }
        // Warnings were logged (once) by the loader.
        out.push_str(&flow.show());
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    print!("{out}");
    Ok(())
}
