//! The components that only move messages, end to end with the real binary on RabbitMQ:
//! `winnow` posts each product once however many copies arrive (its nodupe default), `shovel`
//! moves what its masks accept, `report` carries report messages unchanged.
#![allow(clippy::unwrap_used)]

mod common;

use common::amqp::publish;
use common::tap::Tap;
use common::{Pump, service, unique};

fn body(base: &str, rel: &str, digest: &str, extra: &str) -> String {
    format!(
        "{{\"pubTime\": \"20261122T000000.0\", \"baseUrl\": \"{base}\", \"relPath\": \"{rel}\", \"size\": 10, \"identity\": {{\"method\": \"sha512\", \"value\": \"{digest}\"}}{extra}}}"
    )
}

fn run_to_count(p: &Pump, flow: &str, count: usize) {
    let out = p.run(&["foreground", flow, "--messageCountMax", &count.to_string()]);
    assert!(
        out.status.success(),
        "{flow}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn winnow_posts_each_product_once_whichever_pump_announced_it() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let p = Pump::new();
    let u = unique();
    let (input, output) = (format!("xs_guest_win{u}"), format!("xs_guest_wout{u}"));
    std::fs::write(
        p.path("config/credentials.conf"),
        "amqp://guest:guest@127.0.0.1/\n",
    )
    .unwrap();
    // No nodupe_ttl: winnow's own default must suppress the duplicates.
    p.config(
        "winnow",
        "w",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange {input}\nexpire 5m\nsubtopic #\npost_broker amqp://guest@127.0.0.1/\npost_exchange {output}\n"
        ),
    );
    let mut tap = Tap::new(&output);
    publish(&input, &[]);
    let out = p.run(&["declare", "winnow/w"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 20 products, each announced by two pumps (different baseUrl, same identity), interleaved.
    let mut bodies = Vec::new();
    for i in 0..20 {
        let digest = format!("d{i:03}{}", "A".repeat(80));
        for pump in ["http://pump-a/", "http://pump-b/"] {
            bodies.push(body(pump, &format!("data/p{i:03}.txt"), &digest, ""));
        }
    }
    publish(&input, &bodies);
    run_to_count(&p, "winnow/w", bodies.len());
    let got = tap.drain();
    assert_eq!(got.len(), 20, "products posted: {:?}", got.keys());
    for (rel, (n, _)) in &got {
        assert_eq!(*n, 1, "{rel} posted {n} times");
    }
    let _ = p.run(&["cleanup", "winnow/w"]);
}

#[test]
fn shovel_moves_what_its_masks_accept_and_report_carries_reports() {
    if !service("127.0.0.1:5672", "RabbitMQ") {
        return;
    }
    let p = Pump::new();
    let u = unique();
    let (input, output) = (format!("xs_guest_shin{u}"), format!("xs_guest_shout{u}"));
    let (rin, rout) = (format!("xs_guest_rin{u}"), format!("xs_guest_rout{u}"));
    std::fs::write(
        p.path("config/credentials.conf"),
        "amqp://guest:guest@127.0.0.1/\n",
    )
    .unwrap();
    p.config(
        "shovel",
        "s",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange {input}\nexpire 5m\nsubtopic #\npost_broker amqp://guest@127.0.0.1/\npost_exchange {output}\nreject .*skip.*\naccept .*\n"
        ),
    );
    p.config(
        "report",
        "r",
        &format!(
            "broker amqp://guest@127.0.0.1/\nexchange {rin}\nexpire 5m\nsubtopic #\npost_broker amqp://guest@127.0.0.1/\npost_exchange {rout}\n"
        ),
    );
    let mut tap = Tap::new(&output);
    let mut rtap = Tap::new(&rout);
    publish(&input, &[]);
    publish(&rin, &[]);
    let out = p.run(&["declare", "shovel/s", "report/r"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bodies: Vec<String> = (0..30)
        .map(|i| {
            let name = if i % 3 == 0 { "skip" } else { "keep" };
            body(
                "http://src/",
                &format!("d/{name}{i:02}.txt"),
                &format!("x{i}"),
                "",
            )
        })
        .collect();
    publish(&input, &bodies);
    let report = ", \"report\": {\"code\": 201, \"timeCompleted\": \"20261122T000001.5\", \"message\": \"Download successful\"}";
    let reports: Vec<String> = (0..5)
        .map(|i| {
            body(
                "http://src/",
                &format!("d/r{i}.txt"),
                &format!("r{i}"),
                report,
            )
        })
        .collect();
    publish(&rin, &reports);
    run_to_count(&p, "shovel/s", bodies.len());
    run_to_count(&p, "report/r", reports.len());
    let got = tap.drain();
    let expect: Vec<String> = (0..30)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("d/keep{i:02}.txt"))
        .collect();
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), expect);
    assert!(got.values().all(|(n, _)| *n == 1));
    // The shovel keeps the announcement as it was (same baseUrl, identity).
    let (_, m) = &got["d/keep01.txt"];
    assert_eq!(m.base_url, "http://src/");
    let rgot = rtap.drain();
    assert_eq!(rgot.len(), 5, "{:?}", rgot.keys());
    for (rel, (_, m)) in &rgot {
        let r = m
            .report
            .as_ref()
            .unwrap_or_else(|| panic!("{rel}: report dropped"));
        assert_eq!(r.code, 201, "{rel}");
    }
    let _ = p.run(&["cleanup", "shovel/s", "report/r"]);
}
