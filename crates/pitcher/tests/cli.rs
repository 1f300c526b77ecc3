//! The real `pitcher` binary, run in temporary configuration trees.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn pitcher(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pitcher"))
        .arg("--config-dir")
        .arg(dir)
        .args(args)
        .env_remove("PITCHER_CONFIG_DIR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    std::fs::create_dir_all(root.join("subscribe")).unwrap();
    std::fs::create_dir_all(root.join("sarra")).unwrap();
    std::fs::write(
        root.join("subscribe/wx.conf"),
        "broker amqps://anonymous@dd.weather.gc.ca/\nsubtopic *.WXO-DD.observations.swob-ml.#\ndirectory /data/swob\naccept .*\\.xml\n",
    )
    .unwrap();
    std::fs::write(
        root.join("sarra/pump.conf"),
        "broker amqp://bob@localhost/\npost_broker amqp://bob@localhost/\ndirectory /www\npost_baseDir /www\npost_baseUrl http://localhost:8001\n",
    )
    .unwrap();
    std::fs::write(root.join("sarra/common.inc"), "batch 7\n").unwrap();
    std::fs::write(
        root.join("credentials.conf"),
        "amqp://bob:s3cr%2Ft@localhost/\n",
    )
    .unwrap();
    std::fs::write(root.join("default.conf"), "batch 50\n").unwrap();
    t
}

#[test]
fn list_shows_flows_not_includes() {
    let t = tree();
    let out = pitcher(t.path(), &["list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("subscribe/wx"), "{s}");
    assert!(s.contains("sarra/pump"), "{s}");
    assert!(!s.contains("common"), "{s}");
}

#[test]
fn show_prints_resolved_options_and_command_line_wins() {
    let t = tree();
    let out = pitcher(t.path(), &["show", "subscribe/wx"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.lines().any(|l| l == "batch 50"),
        "default.conf layer: {s}"
    );
    assert!(
        s.lines().any(|l| l == "mirror off"),
        "subscribe default: {s}"
    );
    assert!(
        s.lines().any(|l| l == "exchange xpublic"),
        "anonymous default exchange: {s}"
    );
    assert!(s.contains("accept .*\\.xml"));
    let out = pitcher(
        t.path(),
        &["show", "subscribe/wx.conf", "--batch", "100", "--mirror"],
    );
    let s = text(&out.stdout);
    assert!(s.lines().any(|l| l == "batch 100"), "{s}");
    assert!(s.lines().any(|l| l == "mirror on"), "{s}");
}

#[test]
fn show_never_prints_passwords() {
    let t = tree();
    let out = pitcher(t.path(), &["show", "sarra/pump"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(!all.contains("s3cr"), "{all}");
    assert!(
        all.contains("exchange xs_bob") || all.contains("post_exchange xs_bob"),
        "{all}"
    );
}

#[test]
fn config_errors_name_file_line_and_option_with_exit_code_3() {
    let t = tree();
    std::fs::write(
        t.path().join("subscribe/bad.conf"),
        "broker amqp://anonymous@h/\n\nbatch many\n",
    )
    .unwrap();
    let out = pitcher(t.path(), &["show", "subscribe/bad"]);
    assert_eq!(out.status.code(), Some(3));
    let e = text(&out.stderr);
    assert!(
        e.contains("subscribe/bad.conf:3: batch: expected a count like 100 or 1k, got \"many\""),
        "{e}"
    );

    let out = pitcher(t.path(), &["show", "subscribe/wx", "--batch", "lots"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("--batch"),
        "{}",
        text(&out.stderr)
    );

    let out = pitcher(t.path(), &["show", "subscribe/missing"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("subscribe/missing"));

    let out = pitcher(t.path(), &["show", "nosuchcomponent/x"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let t = tree();
    assert_eq!(pitcher(t.path(), &[]).status.code(), Some(2));
    assert_eq!(pitcher(t.path(), &["show"]).status.code(), Some(2));
    assert_eq!(pitcher(t.path(), &["frobnicate"]).status.code(), Some(2));
    for verb in [&["--help"][..], &["list", "--help"], &["show", "--help"]] {
        let out = pitcher(t.path(), verb);
        assert_eq!(out.status.code(), Some(0), "{verb:?}");
        assert!(text(&out.stdout).contains("Exit codes"), "{verb:?}");
    }
}

#[test]
fn config_dir_from_environment() {
    let t = tree();
    let out = Command::new(env!("CARGO_BIN_EXE_pitcher"))
        .arg("list")
        .env("PITCHER_CONFIG_DIR", t.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("subscribe/wx"));
}
