//! The configuration directory and the flows in it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::component::Component;
use crate::error::ConfigError;
use crate::load::{FlowLoader, LoadedFlow, flow_name};

/// Environment variable naming the configuration directory.
pub const CONFIG_DIR_ENV: &str = "PITCHER_CONFIG_DIR";

/// A configuration root (`~/.config/pitcher`, or an sr3 tree given with `--config-dir`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigDir {
    root: PathBuf,
}

/// One flow found in the configuration directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowEntry {
    /// Its component (may be `cpost`/`cpump`, listed but not run by Pitcher).
    pub component: Component,
    /// Its name (file name without `.conf`).
    pub name: String,
    /// Its file.
    pub path: PathBuf,
}

impl ConfigDir {
    /// Use `root` as the configuration directory.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ConfigDir { root: root.into() }
    }

    /// Find the configuration directory: `--config-dir`, else `$PITCHER_CONFIG_DIR`, else
    /// `$XDG_CONFIG_HOME/pitcher`, else `~/.config/pitcher`.
    pub fn resolve(cli: Option<PathBuf>) -> Result<Self, ConfigError> {
        Self::resolve_with(cli, |k| std::env::var_os(k))
    }

    /// Like [`ConfigDir::resolve`] with an injectable environment lookup.
    pub fn resolve_with(
        cli: Option<PathBuf>,
        var: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Self, ConfigError> {
        let set = |k: &str| var(k).filter(|v| !v.is_empty());
        if let Some(dir) = cli {
            return Ok(Self::new(dir));
        }
        if let Some(dir) = set(CONFIG_DIR_ENV) {
            return Ok(Self::new(dir));
        }
        if let Some(xdg) = set("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
        {
            return Ok(Self::new(xdg.join("pitcher")));
        }
        if let Some(home) = set("HOME") {
            return Ok(Self::new(
                PathBuf::from(home).join(".config").join("pitcher"),
            ));
        }
        Err(ConfigError::ConfigDir(format!(
            "cannot tell where configurations are: give --config-dir, or set {CONFIG_DIR_ENV}, XDG_CONFIG_HOME or HOME"
        )))
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a flow: `<root>/<component>/<name>.conf`.
    pub fn flow_path(&self, component: Component, name: &str) -> Result<PathBuf, ConfigError> {
        Ok(self
            .root
            .join(component.as_str())
            .join(format!("{}.conf", flow_name(name)?)))
    }

    /// Every `<component>/<name>.conf`, sorted by component then name. `.inc` files are
    /// include-only, and directories that are not components (e.g. `plugins`) are skipped. A
    /// missing root has no flows.
    pub fn list_flows(&self) -> Result<Vec<FlowEntry>, ConfigError> {
        let unreadable = |p: &Path| {
            let file = p.display().to_string();
            move |source| ConfigError::Unreadable { file, source }
        };
        let top = match std::fs::read_dir(&self.root) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(unreadable(&self.root)(e)),
        };
        let mut flows = Vec::new();
        for entry in top {
            let entry = entry.map_err(unreadable(&self.root))?;
            let Some(component) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<Component>().ok())
            else {
                continue;
            };
            let dir = entry.path();
            if !dir.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&dir).map_err(unreadable(&dir))? {
                let f = f.map_err(unreadable(&dir))?;
                let Some(file_name) = f.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                let Some(name) = file_name.strip_suffix(".conf") else {
                    continue;
                };
                if name.is_empty() || name.starts_with('.') || !f.path().is_file() {
                    continue;
                }
                flows.push(FlowEntry {
                    component,
                    name: name.to_string(),
                    path: f.path(),
                });
            }
        }
        flows.sort_by(|a, b| (a.component.as_str(), &a.name).cmp(&(b.component.as_str(), &b.name)));
        Ok(flows)
    }

    /// Load a flow (see [`FlowLoader::load`]).
    pub fn load_flow(
        &self,
        component: Component,
        name: &str,
        cli_args: &[String],
    ) -> Result<LoadedFlow, ConfigError> {
        FlowLoader::new(&self.root).load(component, name, cli_args)
    }
}

/// Parse `component/name` (or `component/name.conf`).
pub fn parse_flow_spec(spec: &str) -> Result<(Component, String), ConfigError> {
    let Some((c, n)) = spec.split_once('/') else {
        return Err(ConfigError::BadFlowName {
            name: crate::error::echo(spec),
        });
    };
    Ok((c.parse()?, flow_name(n)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn resolve_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let all = env(&[
            ("PITCHER_CONFIG_DIR", "/p"),
            ("XDG_CONFIG_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(
            ConfigDir::resolve_with(Some("/c".into()), all)
                .unwrap()
                .root(),
            Path::new("/c")
        );
        assert_eq!(
            ConfigDir::resolve_with(None, all).unwrap().root(),
            Path::new("/p")
        );
        let no_p = env(&[
            ("PITCHER_CONFIG_DIR", ""),
            ("XDG_CONFIG_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(
            ConfigDir::resolve_with(None, no_p).unwrap().root(),
            Path::new("/x/pitcher")
        );
        let home = env(&[("XDG_CONFIG_HOME", "relative"), ("HOME", "/h")]);
        assert_eq!(
            ConfigDir::resolve_with(None, home).unwrap().root(),
            Path::new("/h/.config/pitcher")
        );
        assert!(ConfigDir::resolve_with(None, env(&[])).is_err());
    }

    #[test]
    fn flow_specs() {
        assert_eq!(
            parse_flow_spec("subscribe/wx.conf").unwrap(),
            (Component::Subscribe, "wx".to_string())
        );
        assert!(parse_flow_spec("subscriber/wx").is_err());
        assert!(parse_flow_spec("subscribe/../x").is_err());
        assert!(parse_flow_spec("subscribe/").is_err());
        assert!(parse_flow_spec("wx").is_err());
    }
}
