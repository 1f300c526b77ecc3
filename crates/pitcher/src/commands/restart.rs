//! `pitcher restart [component/config ...]`: `stop`, then `start` (reference 4.1).

use std::time::Duration;

use crate::cli::Cli;
use crate::supervise::{Failures, Launcher, select};

/// `pitcher restart`.
pub fn run(cli: &Cli, args: &[String], timeout: u64) -> anyhow::Result<()> {
    let (patterns, options) = crate::cli::split_flows_and_options(args);
    let dir = super::config_dir(cli)?;
    let flows = select(&dir, &patterns, false)?;
    super::stop::stop(&flows, Duration::from_secs(timeout))?;
    let launcher = Launcher::new(cli, &dir, &options)?;
    let mut failures = Failures::default();
    let mut launched = Vec::new();
    for flow in &flows {
        match super::start::start_flow(&launcher, flow) {
            Ok(l) => launched.extend(l),
            Err(e) => failures.add(&flow.id(), e),
        }
    }
    super::start::check_launched(launched, &mut failures);
    failures.finish()
}
