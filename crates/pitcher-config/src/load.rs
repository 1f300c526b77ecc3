//! Loading one flow: the layers of reference 3.1 in sr3's order, then `finalize()`.
//!
//! built-in defaults -> `<root>/admin.conf` -> `<root>/default.conf` -> component defaults ->
//! `<root>/<component>/<name>.conf` -> command-line options -> finalize.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::component::Component;
use crate::credentials::{Credential, CredentialDb, CredentialError};
use crate::env::Environment;
use crate::error::{ConfigError, ConfigWarning, Origin, echo};
use crate::expand::Expander;
use crate::finalize::{FinalizeContext, finalize};
use crate::masks::{Acceptance, Filtered, filter};
use crate::options::Options;
use crate::parser::Parser;
use crate::placement::{MessagePaths, Placement, PlacementError, place};

/// A flow's resolved configuration.
#[derive(Debug)]
pub struct LoadedFlow {
    /// The component.
    pub component: Component,
    /// The flow name (file name without `.conf`).
    pub name: String,
    /// The flow's configuration file.
    pub path: PathBuf,
    /// The configuration root.
    pub root: PathBuf,
    /// The resolved options.
    pub options: Options,
    /// Problems that did not stop loading (also logged with `tracing::warn!`).
    pub warnings: Vec<ConfigWarning>,
    /// `credentials.conf`.
    pub credentials: CredentialDb,
    /// Where each option was last set.
    pub origins: HashMap<&'static str, Origin>,
    env: Environment,
}

impl LoadedFlow {
    /// `component/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.component, self.name)
    }

    /// The environment the flow was loaded with.
    pub fn environment(&self) -> &Environment {
        &self.env
    }

    /// An expander for per-message variable expansion.
    pub fn expander(&self) -> Expander {
        Expander::new(&self.options, self.component, &self.name, &self.env)
            .with_credentials(&self.credentials)
    }

    /// The resolved options in configuration syntax (passwords masked).
    pub fn show(&self) -> String {
        crate::show::render(
            &self.options,
            self.component,
            Some(&format!("pitcher show {} (resolved)", self.id())),
        )
    }

    /// Apply the accept/reject masks to a message.
    pub fn filter(&self, base_url: &str, rel_path: &str) -> Filtered {
        filter(&self.options, base_url, rel_path)
    }

    /// Placement of an accepted message (build the expander once with [`Self::expander`]).
    pub fn place(
        &self,
        expander: &Expander,
        now: Timestamp,
        msg: &MessagePaths<'_>,
        acc: &Acceptance,
    ) -> Result<Placement, PlacementError> {
        place(&self.options, expander, now, msg, acc)
    }

    /// The credential of `broker`, if set.
    pub fn broker_credential(&self) -> Option<Result<Credential, CredentialError>> {
        self.options
            .broker
            .as_ref()
            .map(|u| self.credentials.lookup(u.expose()))
    }

    /// The credential of `post_broker`, if set.
    pub fn post_broker_credential(&self) -> Option<Result<Credential, CredentialError>> {
        self.options
            .post_broker
            .as_ref()
            .map(|u| self.credentials.lookup(u.expose()))
    }
}

/// Loads flows from a configuration root, with an injectable environment.
#[derive(Clone, Debug)]
pub struct FlowLoader {
    root: PathBuf,
    env: Environment,
}

/// Check a flow name (`wx` or `wx.conf`) and return it without `.conf`.
pub(crate) fn flow_name(name: &str) -> Result<String, ConfigError> {
    let n = name.strip_suffix(".conf").unwrap_or(name);
    if n.is_empty() || n == "." || n == ".." || n.contains(['/', '\\', '\0']) {
        return Err(ConfigError::BadFlowName { name: echo(name) });
    }
    Ok(n.to_string())
}

impl FlowLoader {
    /// A loader for `root`, using the real process environment.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FlowLoader {
            root: root.into(),
            env: Environment::from_process(),
        }
    }

    /// Use this environment (host name, variables) instead of the process's.
    pub fn with_environment(mut self, env: Environment) -> Self {
        self.env = env;
        self
    }

    /// The configuration root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Load `<root>/<component>/<name>.conf` with `cli_args` (`--option value` pairs).
    pub fn load(
        &self,
        component: Component,
        name: &str,
        cli_args: &[String],
    ) -> Result<LoadedFlow, ConfigError> {
        if !component.is_runnable() {
            return Err(ConfigError::UnsupportedComponent {
                component: component.to_string(),
            });
        }
        let name = flow_name(name)?;
        let path = self
            .root
            .join(component.as_str())
            .join(format!("{name}.conf"));
        if !path.is_file() {
            return Err(ConfigError::FlowNotFound {
                component: component.to_string(),
                name,
                path: path.display().to_string(),
            });
        }
        let (credentials, mut warnings) = CredentialDb::read(
            &self.root.join("credentials.conf"),
            "credentials.conf",
            &self.env,
        )?;
        let mut parser = Parser::new(component, &name, &self.root, &self.env, &credentials);
        for layer in ["admin.conf", "default.conf"] {
            let p = self.root.join(layer);
            if p.is_file() {
                parser.parse_file(&p, None)?;
            }
        }
        parser.parse_text(
            component.default_lines(),
            &Origin::ComponentDefaults(component.as_str()),
        )?;
        parser.parse_file(&path, None)?;
        parser.parse_cli(cli_args)?;
        warnings.append(&mut parser.warnings);
        let mut options = parser.opts;
        let origins = parser.origins;
        let ctx = FinalizeContext {
            component,
            config: &name,
            env: &self.env,
            creds: Some(&credentials),
        };
        warnings.extend(finalize(&mut options, &ctx, &origins)?);
        Ok(LoadedFlow {
            component,
            name,
            path,
            root: self.root.clone(),
            options,
            warnings,
            credentials,
            origins,
            env: self.env.clone(),
        })
    }
}

/// Load one flow from the configuration root `root` (see [`FlowLoader`]).
pub fn load_flow(
    root: &Path,
    component: Component,
    name: &str,
    cli_args: &[String],
) -> Result<LoadedFlow, ConfigError> {
    FlowLoader::new(root).load(component, name, cli_args)
}
