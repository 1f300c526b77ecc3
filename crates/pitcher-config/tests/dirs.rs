//! The configuration directory: listing flows and loading errors.
#![allow(clippy::unwrap_used)]

mod common;

use common::Tree;
use pitcher_config::{Component, ConfigDir, ConfigError, parse_flow_spec};

#[test]
fn list_flows_sorted_conf_only() {
    let t = Tree::new();
    t.write("subscribe/zeta.conf", "")
        .write("subscribe/alpha.conf", "")
        .write("subscribe/common.inc", "")
        .write("subscribe/.hidden.conf", "")
        .write("subscribe/notes.txt", "")
        .write("sarra/pump.conf", "")
        .write("cpost/veille.conf", "")
        .write("plugins/mine.conf", "")
        .write("admin.conf", "")
        .write("default.conf", "");
    std::fs::create_dir_all(t.root().join("poll/dir.conf")).unwrap();
    let flows = ConfigDir::new(t.root()).list_flows().unwrap();
    let names: Vec<String> = flows
        .iter()
        .map(|f| format!("{}/{}", f.component, f.name))
        .collect();
    assert_eq!(
        names,
        [
            "cpost/veille",
            "sarra/pump",
            "subscribe/alpha",
            "subscribe/zeta"
        ]
    );
    assert_eq!(flows[2].path, t.root().join("subscribe/alpha.conf"));
    assert!(!flows[0].component.is_runnable());
    assert!(
        ConfigDir::new(t.root().join("missing"))
            .list_flows()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn load_errors() {
    let t = Tree::new();
    t.write("subscribe/a.conf", "broker amqps://anonymous@h/\n");
    let dir = ConfigDir::new(t.root());
    assert!(dir.load_flow(Component::Subscribe, "a.conf", &[]).is_ok());
    let e = dir
        .load_flow(Component::Subscribe, "nope", &[])
        .unwrap_err();
    assert!(matches!(e, ConfigError::FlowNotFound { .. }));
    assert!(
        e.to_string()
            .starts_with("subscribe/nope: no such flow (expected the file "),
        "{e}"
    );
    assert!(matches!(
        dir.load_flow(Component::Subscribe, "../subscribe/a", &[]),
        Err(ConfigError::BadFlowName { .. })
    ));
    assert!(matches!(
        dir.load_flow(Component::Subscribe, "", &[]),
        Err(ConfigError::BadFlowName { .. })
    ));
    assert_eq!(
        dir.load_flow(Component::Cpost, "x", &[])
            .unwrap_err()
            .to_string(),
        "cpost: this component is run by sarrac (C), not by Pitcher"
    );
    assert_eq!(
        parse_flow_spec("subscriber/a").unwrap_err().to_string(),
        "unknown component \"subscriber\": expected one of subscribe, sarra, sender, shovel, winnow, report, post, watch, poll, flow"
    );
    assert_eq!(
        parse_flow_spec("sarra/x.conf").unwrap(),
        (Component::Sarra, "x".to_string())
    );
    // A directory where admin.conf should be is not read as a file; an unreadable flow path is an error.
    std::fs::create_dir_all(t.root().join("subscribe/d.conf")).unwrap();
    assert!(matches!(
        dir.load_flow(Component::Subscribe, "d", &[]),
        Err(ConfigError::FlowNotFound { .. })
    ));
}

#[test]
fn flow_path() {
    let dir = ConfigDir::new("/cfg");
    assert_eq!(
        dir.flow_path(Component::Watch, "w").unwrap(),
        std::path::Path::new("/cfg/watch/w.conf")
    );
    assert!(dir.flow_path(Component::Watch, "a/b").is_err());
}
