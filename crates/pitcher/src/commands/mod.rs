//! One module per verb.

pub mod list;
pub mod show;

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
