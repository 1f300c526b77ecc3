//! The placement table of reference 3.5, verbatim, plus the other placement rules.
#![allow(clippy::unwrap_used)]

mod common;

use common::flow;
use jiff::Timestamp;
use pitcher_config::{Component, Decision, LoadedFlow, MessagePaths, Placement, PlacementError};

const BASE: &str = "https://dd.example.com";
const REL: &str = "20240101/WXO-DD/a.b/c/file.txt";

fn now() -> Timestamp {
    "2024-07-08T09:10:11Z".parse().unwrap()
}

fn place_msg(f: &LoadedFlow, base: &str, rel: &str) -> Result<Placement, PlacementError> {
    let Decision::Accept(acc) = f.filter(base, rel).decision else {
        panic!("rejected: {base} {rel}");
    };
    let msg = MessagePaths {
        base_url: base,
        rel_path: rel,
        source: Some("WXO-DD"),
        ..MessagePaths::default()
    };
    f.place(&f.expander(), now(), &msg, &acc)
}

fn place(component: Component, config: &str) -> Placement {
    let f = flow(
        component,
        &format!("broker amqps://anonymous@dd.example.com/\n{config}"),
    );
    place_msg(&f, BASE, REL).unwrap()
}

#[test]
fn table_nothing_configured_has_no_directory_422() {
    let p = place(Component::Subscribe, "");
    assert_eq!(p.new_dir, None);
    assert_eq!(p.new_file, "file.txt");
    let e = p.require_dir().unwrap_err();
    assert_eq!(e, PlacementError::NoDirectory);
    assert_eq!(e.code(), 422);
}

#[test]
fn table_directory_with_accept_subscribe_mirror_off() {
    let p = place(Component::Subscribe, "directory /data/x\naccept .*\n");
    assert_eq!(p.new_dir.as_deref(), Some("/data/x"));
    assert_eq!(p.new_file, "file.txt");
}

#[test]
fn table_mirror_on() {
    let p = place(Component::Subscribe, "mirror on\ndirectory /data/y\n");
    assert_eq!(p.new_dir.as_deref(), Some("/data/y/20240101/WXO-DD/a.b/c"));
    assert_eq!(p.new_file, "file.txt");
}

#[test]
fn table_mirror_strip_2() {
    let p = place(
        Component::Subscribe,
        "mirror on\nstrip 2\ndirectory /data/z\n",
    );
    assert_eq!(p.new_dir.as_deref(), Some("/data/z/a.b/c"));
    assert_eq!(p.new_file, "file.txt");
}

#[test]
fn table_flatten() {
    let p = place(Component::Subscribe, "flatten -\ndirectory /data/f\n");
    assert_eq!(p.new_dir.as_deref(), Some("/data/f"));
    assert_eq!(p.new_file, "20240101-WXO-DD-a.b-c-file.txt");
}

#[test]
fn table_date_in_directory() {
    let p = place(Component::Subscribe, "directory /data/d/${%Y}\n");
    assert_eq!(p.new_dir.as_deref(), Some("/data/d/2024"));
    assert_eq!(p.new_file, "file.txt");
}

#[test]
fn table_sarra_repost() {
    let p = place(
        Component::Sarra,
        "directory /www\npost_baseDir /www\npost_baseUrl http://localhost:8001\npost_broker amqp://u:p@localhost/\n",
    );
    assert_eq!(p.new_dir.as_deref(), Some("/www/20240101/WXO-DD/a.b/c"));
    assert_eq!(p.new_file, "file.txt");
    assert_eq!(p.new_base_url, "http://localhost:8001");
    assert_eq!(p.new_rel_path, "20240101/WXO-DD/a.b/c/file.txt");
    assert_eq!(p.new_subtopic, ["20240101", "WXO-DD", "a.b", "c"]);
    // topic v03.20240101.WXO-DD.a.b.c: prefix + subtopic (dots in names not escaped).
    let f = flow(
        Component::Sarra,
        "broker amqps://anonymous@h/\npost_broker amqp://u:p@h/\n",
    );
    let mut topic = f.options.post_topic_prefix.clone().unwrap();
    topic.extend(p.new_subtopic.iter().cloned());
    assert_eq!(topic.join("."), "v03.20240101.WXO-DD.a.b.c");
}

#[test]
fn shovel_without_directory_keeps_relpath() {
    let p = place(Component::Shovel, "");
    assert_eq!(p.new_dir, None);
    assert_eq!(p.new_rel_path, REL);
    assert_eq!(p.new_base_url, BASE);
    let p = place(Component::Subscribe, "");
    assert_eq!(p.new_rel_path, "file.txt");
}

#[test]
fn masks_choose_placement_and_groups() {
    let f = flow(
        Component::Subscribe,
        "broker amqps://anonymous@h/\ndirectory /obs/${1}\naccept .*/(WXO-DD)/.*\nreject .*\\.tmp\ndirectory /other\nmirror on\nstrip 1\naccept .*\n",
    );
    let p = place_msg(&f, BASE, REL).unwrap();
    assert_eq!(p.new_dir.as_deref(), Some("/obs/WXO-DD"));
    let p = place_msg(&f, BASE, "20240101/XXX/f.txt").unwrap();
    assert_eq!(p.new_dir.as_deref(), Some("/other/XXX"));
    assert_eq!(
        f.filter(BASE, "a/b.tmp").decision,
        Decision::Reject {
            mask_index: Some(1),
            code: 404,
            reason: "mask=.*\\.tmp url=https://dd.example.com/a/b.tmp".into()
        }
    );
}

#[test]
fn strip_regex_basedir_rename_filename_options() {
    let p = place(Component::Sarra, "directory /d\nstrip .*WXO-DD/\n");
    assert_eq!(p.new_dir.as_deref(), Some("/d/a.b/c"));
    let p = place(Component::Sarra, "directory /d\nstrip /20240101/\n");
    assert_eq!(p.new_dir.as_deref(), Some("/d/WXO-DD/a.b/c"));
    // Stripping more than the path keeps the file name.
    let p = place(Component::Sarra, "directory /d\nstrip 99\n");
    assert_eq!(
        (p.new_dir.as_deref(), p.new_file.as_str()),
        (Some("/d"), "file.txt")
    );
    let p = place(Component::Sarra, "directory /d\nbaseDir /20240101/WXO-DD\n");
    assert_eq!(p.new_dir.as_deref(), Some("/d/a.b/c"));
    let p = place(
        Component::Subscribe,
        "directory /d\naccept .* DESTFN=renamed.txt\n",
    );
    assert_eq!(p.new_file, "renamed.txt");
    let p = place(
        Component::Subscribe,
        "directory /d\nfilename TIME\naccept .*\n",
    );
    assert_eq!(p.new_file, "file.txt:20240708091011");
    let f = flow(
        Component::Subscribe,
        "broker amqps://anonymous@h/\ndirectory /d\naccept .* SENDER\n",
    );
    assert_eq!(
        place_msg(&f, BASE, REL),
        Err(PlacementError::UnsupportedFilename("SENDER".into()))
    );

    let f = flow(
        Component::Sarra,
        "broker amqps://anonymous@h/\ndirectory /d\nbaseUrl_relPath on\n",
    );
    let p = place_msg(&f, "https://h/pub/wx/", "x/f").unwrap();
    assert_eq!(p.new_dir.as_deref(), Some("/d/pub/wx/x"));
    let msg = MessagePaths {
        base_url: BASE,
        rel_path: REL,
        rename: Some("/new/name.txt"),
        ..MessagePaths::default()
    };
    let Decision::Accept(acc) = f.filter(BASE, REL).decision else {
        panic!()
    };
    let p = f.place(&f.expander(), now(), &msg, &acc).unwrap();
    assert_eq!(
        (p.new_dir.as_deref(), p.new_file.as_str()),
        (Some("/d/new"), "name.txt")
    );
}

#[test]
fn relpath_never_gets_a_leading_slash_or_empty_elements() {
    let f = flow(
        Component::Sarra,
        "broker amqps://anonymous@h/\ndirectory /www/\npost_baseDir /www\n",
    );
    for rel in ["/a//b/f", "a/b/f", "//a/b//f"] {
        let p = place_msg(&f, "https://h/", rel).unwrap();
        assert_eq!(p.new_rel_path, "a/b/f", "{rel}");
        assert_eq!(p.new_dir.as_deref(), Some("/www/a/b"));
        assert_eq!(p.new_subtopic, ["a", "b"]);
    }
    let f = flow(
        Component::Sarra,
        "broker amqps://anonymous@h/\ndirectory /\n",
    );
    let p = place_msg(&f, "https://h/", "f").unwrap();
    assert_eq!(
        (p.new_dir.as_deref(), p.new_rel_path.as_str()),
        (Some("/"), "f")
    );
    assert_eq!(
        place_msg(&f, "https://h/", "/"),
        Err(PlacementError::EmptyRelPath)
    );
    // `..` is passed through: another layer resolves it against the file system.
    let p = place_msg(&f, "https://h/", "../../etc/passwd").unwrap();
    assert_eq!(p.new_rel_path, "../../etc/passwd");
}

#[test]
fn post_base_url_path_is_removed_from_relpath() {
    let f = flow(
        Component::Sarra,
        "broker amqps://anonymous@h/\ndirectory /srv/pub/data\npost_baseUrl sftp://me@here/srv/pub\npost_broker amqp://u:p@h/\n",
    );
    let p = place_msg(&f, "https://h/", "x/f").unwrap();
    assert_eq!(f.options.post_base_dir.as_deref(), Some("/srv/pub"));
    assert_eq!(p.new_rel_path, "data/x/f");
    assert_eq!(p.new_base_url, "sftp://me@here/srv/pub");
}
