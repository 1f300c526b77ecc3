//! `pitcher show component/config [--option value ...]`: the fully resolved options of flows.

use crate::cli::{Cli, split_flows_and_options};

use super::{ConfigProblem, UsageProblem};

pub fn run(cli: &Cli, args: &[String]) -> anyhow::Result<()> {
    let (flows, options) = split_flows_and_options(args);
    if flows.is_empty() {
        return Err(UsageProblem(
            "show: name at least one flow as component/config, e.g. subscribe/wx".into(),
        )
        .into());
    }
    let dir = super::config_dir(cli)?;
    let mut out = String::new();
    for spec in &flows {
        let (component, name) = pitcher_config::parse_flow_spec(spec).map_err(ConfigProblem)?;
        let flow = dir
            .load_flow(component, &name, &options)
            .map_err(ConfigProblem)?;
        // Warnings were logged (once) by the loader.
        if flows.len() > 1 {
            out.push_str(&format!("# {}\n", flow.id()));
        }
        out.push_str(&flow.show());
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    print!("{out}");
    Ok(())
}
