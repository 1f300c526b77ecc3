//! Pitcher's state on disk: `~/.cache/pitcher/<component>/<config>/` (or `$PITCHER_STATE_DIR`,
//! or `$XDG_CACHE_HOME/pitcher`). Never sr3's `~/.cache/sr3`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use pitcher_config::{Component, LoadedFlow};

/// Environment variable naming the state directory.
pub const STATE_DIR_ENV: &str = "PITCHER_STATE_DIR";

/// The state root.
pub fn state_root() -> anyhow::Result<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var(STATE_DIR_ENV) {
        return Ok(d);
    }
    if let Some(d) = var("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
        return Ok(d.join("pitcher"));
    }
    var("HOME")
        .map(|h| h.join(".cache").join("pitcher"))
        .context("cannot find a state directory: set PITCHER_STATE_DIR or HOME")
}

/// A flow's state directory.
pub fn flow_dir(component: Component, name: &str) -> anyhow::Result<PathBuf> {
    Ok(state_root()?.join(component.as_str()).join(name))
}

/// `<component>.<config>.<brokerUser>.qname`, where the queue name chosen on first use is kept so
/// that restarts (and every instance) use the same queue, as sr3 does.
pub fn qname_file(flow: &LoadedFlow) -> anyhow::Result<PathBuf> {
    let user = flow
        .options
        .broker
        .as_ref()
        .and_then(|b| b.username())
        .unwrap_or_else(|| "anonymous".into());
    Ok(flow_dir(flow.component, &flow.name)?
        .join(format!("{}.{}.{}.qname", flow.component, flow.name, user)))
}

/// Applies the saved queue name unless the configuration names the queue itself; saves the one in
/// use when none was saved. Returns the queue name.
pub fn settle_queue_name(flow: &mut LoadedFlow) -> anyhow::Result<Option<String>> {
    let path = qname_file(flow)?;
    let explicit = flow.origins.contains_key("queueName");
    if !explicit && let Some(saved) = read_trimmed(&path)? {
        flow.options.queue_name = Some(saved);
    }
    if let Some(q) = &flow.options.queue_name
        && read_trimmed(&path)?.as_deref() != Some(q.as_str())
    {
        write_atomically(&path, q)?;
    }
    Ok(flow.options.queue_name.clone())
}

/// Like [`settle_queue_name`] but never writes: what `show` uses.
pub fn settle_queue_name_readonly(flow: &mut LoadedFlow) -> anyhow::Result<()> {
    if !flow.origins.contains_key("queueName")
        && let Some(saved) = read_trimmed(&qname_file(flow)?)?
    {
        flow.options.queue_name = Some(saved);
    }
    Ok(())
}

fn read_trimmed(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().context("state file without a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = path.with_extension("qname.tmp");
    std::fs::write(&tmp, format!("{text}\n"))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

/// Removes the saved queue name (after `cleanup`).
pub fn forget_queue_name(flow: &LoadedFlow) -> anyhow::Result<()> {
    let path = qname_file(flow)?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}
