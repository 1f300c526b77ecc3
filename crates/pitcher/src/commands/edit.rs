//! `pitcher edit component/config`: open the flow's configuration file in `$EDITOR` (default
//! `vi`), then check that it still loads (reference 4.1).

use anyhow::Context;

use crate::cli::Cli;

/// `pitcher edit`.
pub fn run(cli: &Cli, flow: &str) -> anyhow::Result<()> {
    let dir = super::config_dir(cli)?;
    let (component, name) = pitcher_config::parse_flow_spec(flow).map_err(super::ConfigProblem)?;
    if !component.is_runnable() {
        return Err(super::UsageProblem(format!(
            "{component}: this component is run by sarrac (C), not by pitcher"
        ))
        .into());
    }
    let path = dir
        .flow_path(component, &name)
        .map_err(super::ConfigProblem)?;
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let editor = std::env::var("EDITOR")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string());
    // Through the shell, as git does, so EDITOR may carry arguments ("code -w").
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status()
        .with_context(|| format!("cannot run the editor ({editor})"))?;
    if !status.success() {
        anyhow::bail!("the editor ({editor}) failed: {status}");
    }
    if !path.exists() {
        println!("{component}/{name}: not created");
        return Ok(());
    }
    dir.load_flow(component, &name, &[])
        .map_err(super::ConfigProblem)?;
    println!("{component}/{name}: saved and loads cleanly");
    Ok(())
}
