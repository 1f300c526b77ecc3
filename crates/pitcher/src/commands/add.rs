//! `pitcher add FILE ...`: copy configuration files into the configuration tree, as
//! `<config dir>/<component>/<name>.conf` (reference 4.1). The component is `--component`, else
//! the name of the directory holding the file (e.g. `examples/subscribe/wx.conf`). A
//! `component/name` that is not an existing file creates an empty configuration to edit, as sr3
//! does. Existing configurations are never overwritten.

use std::path::{Path, PathBuf};

use anyhow::Context;
use pitcher_config::Component;

use crate::cli::Cli;
use crate::supervise::Failures;

/// `pitcher add`.
pub fn run(cli: &Cli, files: &[PathBuf], component: Option<&str>) -> anyhow::Result<()> {
    let dir = super::config_dir(cli)?;
    let forced = component
        .map(|c| c.parse::<Component>().map_err(super::ConfigProblem))
        .transpose()?;
    let mut failures = Failures::default();
    for f in files {
        if let Err(e) = add(&dir, f, forced) {
            failures.add(&f.display().to_string(), e);
        }
    }
    failures.finish()
}

fn add(
    dir: &pitcher_config::ConfigDir,
    file: &Path,
    forced: Option<Component>,
) -> anyhow::Result<()> {
    let exists = file.is_file();
    let component = match forced {
        Some(c) => c,
        None => file
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<Component>().ok())
            .ok_or_else(|| {
                super::UsageProblem(format!(
                    "{}: cannot tell its component: give --component (e.g. --component subscribe) or a path like subscribe/{}",
                    file.display(),
                    file.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ))
            })?,
    };
    if !component.is_runnable() {
        return Err(super::UsageProblem(format!(
            "{component}: this component is run by sarrac (C), not by pitcher"
        ))
        .into());
    }
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.trim_end_matches(".conf").to_string())
        .with_context(|| format!("{}: not a file name", file.display()))?;
    let dest = dir
        .flow_path(component, &name)
        .map_err(super::ConfigProblem)?;
    if dest.exists() {
        anyhow::bail!(
            "{component}/{name} exists already ({}): not overwritten (pitcher edit {component}/{name}, or pitcher remove it first)",
            dest.display()
        );
    }
    if let Some(d) = dest.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    if exists {
        std::fs::copy(file, &dest)
            .with_context(|| format!("cannot copy {} to {}", file.display(), dest.display()))?;
        println!("{component}/{name}: added ({})", dest.display());
        // Say at once if it does not load (it stays, to be edited).
        if let Err(e) = dir.load_flow(component, &name, &[]) {
            eprintln!("pitcher: warning: {component}/{name} does not load yet: {e}");
        }
    } else if file.components().count() <= 2 {
        std::fs::write(&dest, "").with_context(|| format!("cannot create {}", dest.display()))?;
        println!(
            "{component}/{name}: created empty ({}); edit it with pitcher edit {component}/{name}",
            dest.display()
        );
    } else {
        anyhow::bail!("{}: no such file", file.display());
    }
    Ok(())
}
