//! Partitioned files (`blocks`) end to end with the real binary on RabbitMQ: `post` announces
//! big files in blocks of 256 KiB, `sarra` fetches each block with a byte range (four at a
//! time, so blocks of one file arrive concurrently and out of order), assembles the file
//! in its hidden work file and forwards one message for the whole file, `subscribe` downloads
//! that. Both trees must be identical to the source with nothing hidden left behind.
#![allow(clippy::unwrap_used)]

mod common;

use common::mirror::{Plan, mirror_with};
use common::{Pump, service, unique};

#[test]
fn big_files_sent_in_blocks_are_reassembled_and_forwarded_whole() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let mut p = Pump::new();
    let plan = Plan {
        files: 41, // three of them 3 MiB: 12 blocks each
        post_extra: "blockSize 256k".into(),
        sarra_extra: "transferConcurrency 4".into(),
        ..Plan::default()
    };
    let mut sarra_log = String::new();
    mirror_with(
        &mut p,
        "amqp://guest@127.0.0.1/",
        &format!("blk{}", unique()),
        &plan,
        |_| {},
    );
    sarra_log.push_str(&p.log("sarra"));
    let stored = sarra_log.matches("stored (").count();
    assert!(
        stored >= 3 * 11,
        "expected the blocks of 3 files to be stored one by one, saw {stored}:\n{sarra_log}"
    );
    let sub = p.log("subscribe");
    assert!(
        !sub.contains("block"),
        "the subscriber must only see whole files:\n{sub}"
    );
}
