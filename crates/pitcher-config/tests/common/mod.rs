//! Helpers: configuration trees in a temporary directory, loaded with a fixed environment.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

use pitcher_config::{Component, ConfigError, Environment, FlowLoader, LoadedFlow};

/// A fixed environment: host pump.example.com, USER wxuser, HOME /home/wxuser.
pub fn env() -> Environment {
    Environment::fixed(
        "pump.example.com",
        &[
            ("USER", "wxuser"),
            ("HOME", "/home/wxuser"),
            ("FEED_ROOT", "/srv/feeds"),
        ],
    )
}

/// A configuration root in a temporary directory.
pub struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Self {
        Tree {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Write `text` to `<root>/<rel>`, creating directories.
    pub fn write(&self, rel: &str, text: &str) -> &Self {
        self.write_bytes(rel, text.as_bytes())
    }

    pub fn write_bytes(&self, rel: &str, bytes: &[u8]) -> &Self {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
        self
    }

    pub fn try_load(
        &self,
        c: Component,
        name: &str,
        cli: &[&str],
    ) -> Result<LoadedFlow, ConfigError> {
        let args: Vec<String> = cli.iter().map(|s| s.to_string()).collect();
        FlowLoader::new(self.root())
            .with_environment(env())
            .load(c, name, &args)
    }

    pub fn load(&self, c: Component, name: &str, cli: &[&str]) -> LoadedFlow {
        match self.try_load(c, name, cli) {
            Ok(f) => f,
            Err(e) => panic!("load failed: {e}"),
        }
    }

    /// Load and return the error text.
    pub fn error(&self, c: Component, name: &str, cli: &[&str]) -> String {
        match self.try_load(c, name, cli) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }
}

/// Write a single flow file and load it.
pub fn flow(c: Component, text: &str) -> LoadedFlow {
    let t = Tree::new();
    t.write(&format!("{c}/t.conf"), text);
    t.load(c, "t", &[])
}

/// Write a single flow file and return the load error.
pub fn flow_error(c: Component, text: &str) -> String {
    let t = Tree::new();
    t.write(&format!("{c}/t.conf"), text);
    t.error(c, "t", &[])
}

/// Warnings as text, one per line.
pub fn warnings(f: &LoadedFlow) -> String {
    f.warnings.iter().map(|w| format!("{w}\n")).collect()
}
