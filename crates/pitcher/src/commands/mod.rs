//! One module per verb.

pub mod add;
pub mod broker;
pub mod cleanup;
pub mod declare;
pub mod demo;
pub mod edit;
pub mod enable;
pub mod foreground;
pub mod list;
pub mod remove;
pub mod restart;
pub mod sanity;
pub mod serve;
pub mod show;
pub mod start;
pub mod status;
pub mod stop;

use crate::cli::exit_code;

/// A configuration problem (exit code 3), as opposed to any other failure (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigProblem(pub pitcher_config::ConfigError);

/// Usage errors found after clap (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageProblem(pub String);

pub fn exit_code_for(e: &anyhow::Error) -> i32 {
    if e.downcast_ref::<ConfigProblem>().is_some() {
        exit_code::CONFIG
    } else if e.downcast_ref::<UsageProblem>().is_some() {
        exit_code::USAGE
    } else {
        exit_code::FAILURE
    }
}

/// The configuration directory chosen by `--config-dir` / `$PITCHER_CONFIG_DIR` / the default.
pub fn config_dir(cli: &crate::cli::Cli) -> anyhow::Result<pitcher_config::ConfigDir> {
    pitcher_config::ConfigDir::resolve(cli.config_dir.clone()).map_err(|e| ConfigProblem(e).into())
}

/// Loads the flows named in `args` (component/config ...), followed by option overrides.
pub fn load_flows(
    cli: &crate::cli::Cli,
    args: &[String],
) -> anyhow::Result<Vec<pitcher_config::LoadedFlow>> {
    let (flows, options) = crate::cli::split_flows_and_options(args);
    if flows.is_empty() {
        return Err(UsageProblem(
            "name at least one flow as component/config, e.g. subscribe/wx".into(),
        )
        .into());
    }
    let dir = config_dir(cli)?;
    let mut out = Vec::new();
    for spec in &flows {
        let (component, name) = pitcher_config::parse_flow_spec(spec).map_err(ConfigProblem)?;
        out.push(
            dir.load_flow(component, &name, &options)
                .map_err(ConfigProblem)?,
        );
    }
    Ok(out)
}

/// The async runtime for verbs that talk to brokers.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
