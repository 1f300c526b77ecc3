//! credentials.conf lookup rules (reference 6.2) and password masking everywhere.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Tree, env, warnings};
use pitcher_config::{Component, CredentialDb, CredentialError};

const CREDS: &str = "\
# broker
amqps://bob:s3cr%2Fet@broker.example.com/
amqps://anonymous:anonymous@broker.example.com/
amqps://carol:c4rol@vhosts.example.com/
amqps://dave:d4ve@vhosts.example.com/special
sftp://alice:alicepw@files.example.com/
sftp://bob:bobpw@files.example.com/ ssh_keyfile=~/.ssh/bob
ftp://u:ftppw@ftp.example.com:2121/ active,ascii,implicit_ftps
mqtt://frank:fr4nk@mqtt.example.com/ login_method=PLAIN
https://api.example.com/ bearer_token=tok3n
";

fn db() -> CredentialDb {
    let (db, w) = CredentialDb::parse(CREDS, "credentials.conf", &env());
    assert!(w.is_empty(), "{w:?}");
    db
}

#[test]
fn exact_match_and_password_decoding() {
    let d = db();
    let c = d.lookup("amqps://bob@broker.example.com/").unwrap();
    assert_eq!(c.username().as_deref(), Some("bob"));
    assert_eq!(c.password().as_deref(), Some("s3cr/et"));
    let c = d
        .lookup("amqps://bob:s3cr%2Fet@broker.example.com/")
        .unwrap();
    assert_eq!(c.password().as_deref(), Some("s3cr/et"));
}

#[test]
fn amqp_without_user_is_anonymous() {
    let c = db().lookup("amqps://broker.example.com").unwrap();
    assert_eq!(c.username().as_deref(), Some("anonymous"));
    assert_eq!(c.password().as_deref(), Some("anonymous"));
    let c = CredentialDb::new()
        .lookup("amqp://other.example.com/")
        .unwrap();
    assert_eq!(c.username().as_deref(), Some("anonymous"));
}

#[test]
fn scan_matches_scheme_host_port_and_given_user() {
    let d = db();
    let c = d.lookup("sftp://bob@FILES.example.com/some/dir").unwrap();
    assert_eq!(c.password().as_deref(), Some("bobpw"));
    assert_eq!(c.ssh_keyfile.as_deref(), Some("/home/wxuser/.ssh/bob"));
    assert_eq!(c.path(), "/some/dir", "the path of the query is kept");
    // No user in the query: the first entry for the host.
    assert_eq!(
        d.lookup("sftp://files.example.com/")
            .unwrap()
            .username()
            .as_deref(),
        Some("alice")
    );
    // A given password must match.
    let c = d.lookup("sftp://alice:other@files.example.com/").unwrap();
    assert_eq!(
        c.password().as_deref(),
        Some("other"),
        "not the entry's: the URL itself (user+password) is used"
    );
    // Port must match.
    let c = d.lookup("ftp://u@ftp.example.com:2121/x").unwrap();
    assert_eq!(c.password().as_deref(), Some("ftppw"));
    assert!(!c.passive && !c.binary && c.tls && c.implicit_ftps);
    assert!(matches!(
        d.lookup("ftp://u@ftp.example.com/x"),
        Err(CredentialError::Bad { .. })
    ));
    // mqtt entry found by host; its user becomes known.
    let c = d.lookup("mqtt://mqtt.example.com/").unwrap();
    assert_eq!(c.username().as_deref(), Some("frank"));
    assert_eq!(c.login_method.as_deref(), Some("PLAIN"));
    assert_eq!(
        d.lookup("https://api.example.com/x")
            .unwrap()
            .bearer_token(),
        Some("tok3n")
    );
}

#[test]
fn amqp_vhost_empty_is_slash() {
    let d = db();
    assert_eq!(
        d.lookup("amqps://carol@vhosts.example.com")
            .unwrap()
            .password()
            .as_deref(),
        Some("c4rol")
    );
    assert_eq!(
        d.lookup("amqps://dave@vhosts.example.com/special")
            .unwrap()
            .password()
            .as_deref(),
        Some("d4ve")
    );
    assert!(d.lookup("amqps://dave@vhosts.example.com/").is_err());
}

#[test]
fn url_alone_when_valid_else_bad_credential() {
    let d = CredentialDb::new();
    for ok in [
        "https://h/",
        "http://h/x",
        "sftp://eve@h/",
        "sftp://h/",
        "amqp://u:p@h/",
        "ftp://u:p@h/",
        "file:/var/x",
        "s3://bucket/",
    ] {
        assert!(d.lookup(ok).is_ok(), "{ok}");
    }
    for bad in ["mqtt://nobody@h/", "ftp://u@h/", "ftp://h/", "mqtts://h/"] {
        let e = d.lookup(bad).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("bad credential {bad}: ")),
            "{e}"
        );
    }
    assert!(matches!(
        d.lookup("not a url"),
        Err(CredentialError::InvalidUrl { .. })
    ));
}

#[test]
fn passwords_never_shown() {
    let d = db();
    let c = d.lookup("amqps://bob@broker.example.com/").unwrap();
    let https = d.lookup("https://api.example.com/").unwrap();
    for text in [
        format!("{c:?}"),
        format!("{c}"),
        format!("{d:?}"),
        format!("{https:?}"),
        format!("{https}"),
        c.url_masked(),
    ] {
        for secret in [
            "s3cr", "c4rol", "d4ve", "alicepw", "bobpw", "ftppw", "fr4nk", "tok3n",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert_eq!(c.url_masked(), "amqps://bob:***@broker.example.com/");
    let e = CredentialDb::new()
        .lookup("mqtt://x:hunter2@")
        .unwrap_err()
        .to_string();
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn flows_use_credentials_and_never_show_them() {
    let t = Tree::new();
    t.write("credentials.conf", CREDS);
    t.write(
        "sarra/s.conf",
        "broker amqps://bob@broker.example.com/\npost_broker mqtt://mqtt.example.com/\nsendTo sftp://alice:inline-pw@files.example.com/\nmy_plugin_url amqp://x:plugin-pw@h/\n",
    );
    let f = t.load(Component::Sarra, "s", &[]);
    let b = f.broker_credential().unwrap().unwrap();
    assert_eq!(b.password().as_deref(), Some("s3cr/et"));
    assert_eq!(f.options.exchange.as_deref(), Some("xs_bob"));
    assert_eq!(
        f.options.post_exchange.as_deref(),
        Some("xs_frank"),
        "user from credentials.conf"
    );
    let shown = f.show();
    let debug = format!("{f:?}");
    let warned = warnings(&f);
    for text in [&shown, &debug, &warned] {
        for secret in ["s3cr", "fr4nk", "inline-pw", "plugin-pw", "tok3n"] {
            assert!(!text.contains(secret), "{secret} leaked in:\n{text}");
        }
    }
    assert!(
        shown.contains("sendTo sftp://alice:***@files.example.com/"),
        "{shown}"
    );
    // Errors echoing a value mask it too.
    t.write("sarra/e.conf", "batch amqp://u:leaked@h/\n");
    let e = t.error(Component::Sarra, "e", &[]);
    assert!(
        !e.contains("leaked") && e.contains("amqp://u:***@h/"),
        "{e}"
    );
    // A bad credentials line warns with the masked URL and its line.
    t.write("credentials.conf", "ftp://u:p4ss@/\n");
    let f = t.load(Component::Sarra, "s", &[]);
    let w = warnings(&f);
    assert!(w.contains("credentials.conf:1: bad credential"), "{w}");
    assert!(!w.contains("p4ss"), "{w}");
}
