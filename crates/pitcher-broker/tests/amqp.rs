//! The AMQP implementation against the real RabbitMQ on 127.0.0.1:5672 (guest/guest).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use common::{Proxy, reserve_port, service_available, unique};
use pitcher_broker::amqp::{AmqpConsumer, AmqpPublisher};
use pitcher_broker::{Binding, BrokerError, Consumer, Endpoint, Outgoing, QueueSpec, Received};
use pitcher_core::topic::{amqp_topic, rel_path_dirs};
use pitcher_core::{Encoded, Format, Message, format};

const EXCHANGE: &str = "xs_guest_pitchertest";
const T: Duration = Duration::from_secs(10);

fn rabbit() -> bool {
    service_available("RabbitMQ", 5672)
}

fn endpoint(port: u16) -> Endpoint {
    Endpoint::parse(&format!("amqp://guest@127.0.0.1:{port}/"), Some("guest")).unwrap()
}

fn queue(test: &str) -> QueueSpec {
    QueueSpec {
        name: unique(&format!("q_guest.test.{test}.")),
        declare: true,
        bind: true,
        durable: true,
        auto_delete: false,
        expire: Some(Duration::from_secs(60)),
        message_ttl: None,
        bindings: vec![Binding::new(EXCHANGE, &["v03", test, "#"])],
        topic_prefix: vec!["v03".into()],
    }
}

fn message(test: &str, i: usize) -> Outgoing {
    let mut m = Message::new("http://localhost/", format!("{test}/dir/file{i:04}.txt"));
    m.size = Some(i as u64);
    Outgoing {
        exchange: EXCHANGE.into(),
        topic: amqp_topic(&["v03"], &rel_path_dirs(&m.rel_path)),
        encoded: format::encode(Format::V03, &m).unwrap(),
        persistent: true,
    }
}

async fn publisher() -> AmqpPublisher {
    let mut p = AmqpPublisher::new(endpoint(5672), T, "pitcher-test-pub");
    p.declare_exchange(EXCHANGE).await.unwrap();
    p
}

async fn consumer(q: QueueSpec, prefetch: u16) -> AmqpConsumer {
    let mut c = AmqpConsumer::new(endpoint(5672), q, prefetch, T, "pitcher-test-sub");
    c.connect().await.unwrap();
    c
}

/// Written against the broker interface, so every implementation can share it.
async fn drain<C: Consumer>(c: &mut C, want: usize, ack: bool) -> Vec<Received> {
    let mut got = Vec::new();
    // Until a deadline, not a number of calls: under load each call may return only a few.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if got.len() >= want {
            break;
        }
        for r in c
            .receive(want - got.len(), Duration::from_millis(300))
            .await
            .unwrap()
        {
            if ack {
                c.ack(r.token).await.unwrap();
            }
            got.push(r);
        }
    }
    got
}

/// After the connection was cut: receives until `want` messages came back, tolerating the
/// connection errors of the reconnect (its back-off) for up to ~15 s.
async fn receive_across_a_cut(c: &mut AmqpConsumer, want: usize) -> Vec<Received> {
    let mut again = Vec::new();
    for _ in 0..60 {
        match c.receive(100, Duration::from_millis(250)).await {
            Ok(v) => again.extend(v),
            Err(e) => assert!(e.is_connection_problem(), "{e:?}"),
        }
        if again.len() >= want {
            break;
        }
    }
    again
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_with_confirms_then_consume_everything() {
    if !rabbit() {
        return;
    }
    let mut p = publisher().await;
    let test = unique("pc");
    let mut c = consumer(queue(&test), 25).await;
    let batch: Vec<Outgoing> = (0..200).map(|i| message(&test, i)).collect();
    let results = p.publish(&batch).await;
    assert_eq!(results.len(), 200);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let got = drain(&mut c, 200, true).await;
    assert_eq!(got.len(), 200);
    let names: HashSet<String> = got.iter().map(|r| r.message.rel_path.clone()).collect();
    assert_eq!(names.len(), 200);
    let first = &got[0].message;
    assert_eq!(first.local.exchange.as_deref(), Some(EXCHANGE));
    assert_eq!(
        first.local.subtopic.as_deref(),
        Some(&[test.clone(), "dir".to_string()][..])
    );
    assert_eq!(first.local.format, Some(Format::V03));
    assert_eq!(c.stats().acked, 200);
    // Nothing left.
    assert!(
        c.receive(10, Duration::from_millis(500))
            .await
            .unwrap()
            .is_empty()
    );
    c.close().await;
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v02_messages_travel_with_their_headers() {
    if !rabbit() {
        return;
    }
    let mut p = publisher().await;
    let test = unique("v2");
    let mut c = consumer(queue(&test), 25).await;
    let mut m = Message::new("http://localhost/", format!("{test}/a b#c.txt"));
    m.size = Some(12);
    m.source = Some("guest".into());
    let out = Outgoing {
        exchange: EXCHANGE.into(),
        topic: amqp_topic(&["v03"], &rel_path_dirs(&m.rel_path)),
        encoded: format::encode(Format::V02, &m).unwrap(),
        persistent: true,
    };
    assert!(p.publish(&[out]).await[0].is_ok());
    let got = drain(&mut c, 1, true).await;
    let r = &got[0].message;
    assert_eq!(r.local.format, Some(Format::V02));
    assert_eq!(r.rel_path, m.rel_path);
    assert_eq!(r.size, Some(12));
    assert_eq!(r.source.as_deref(), Some("guest"));
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_on_one_queue_get_disjoint_messages() {
    if !rabbit() {
        return;
    }
    let mut p = publisher().await;
    let test = unique("share");
    let q = queue(&test);
    let mut a = consumer(q.clone(), 5).await;
    let mut b = consumer(q, 5).await;
    assert!(
        p.publish(&(0..100).map(|i| message(&test, i)).collect::<Vec<_>>())
            .await
            .iter()
            .all(Result::is_ok)
    );
    let mut seen_a = HashSet::new();
    let mut seen_b = HashSet::new();
    for _ in 0..100 {
        for r in a.receive(3, Duration::from_millis(100)).await.unwrap() {
            a.ack(r.token).await.unwrap();
            seen_a.insert(r.message.rel_path);
        }
        for r in b.receive(3, Duration::from_millis(100)).await.unwrap() {
            b.ack(r.token).await.unwrap();
            seen_b.insert(r.message.rel_path);
        }
        if seen_a.len() + seen_b.len() == 100 {
            break;
        }
    }
    assert_eq!(seen_a.len() + seen_b.len(), 100);
    assert!(seen_a.is_disjoint(&seen_b));
    assert!(
        !seen_a.is_empty() && !seen_b.is_empty(),
        "both consumers got work: {} / {}",
        seen_a.len(),
        seen_b.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_bounds_unacknowledged_messages_and_dead_consumers_messages_are_redelivered() {
    if !rabbit() {
        return;
    }
    let mut p = publisher().await;
    let test = unique("pf");
    let q = queue(&test);
    let mut a = consumer(q.clone(), 5).await;
    assert!(
        p.publish(&(0..20).map(|i| message(&test, i)).collect::<Vec<_>>())
            .await
            .iter()
            .all(Result::is_ok)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Without acks the broker stops at prefetch.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.extend(a.receive(100, Duration::from_millis(200)).await.unwrap());
    }
    assert_eq!(held.len(), 5);
    assert!(held.iter().all(|r| !r.redelivered));
    // The consumer dies without acking: another one gets those 5 again, flagged redelivered.
    a.close().await;
    let mut b = consumer(q, 50).await;
    let got = drain(&mut b, 20, true).await;
    assert_eq!(got.len(), 20);
    let held_names: HashSet<_> = held.iter().map(|r| r.message.rel_path.clone()).collect();
    let redelivered: HashSet<_> = got
        .iter()
        .filter(|r| r.redelivered)
        .map(|r| r.message.rel_path.clone())
        .collect();
    assert_eq!(held_names, redelivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_acknowledged_and_dropped() {
    if !rabbit() {
        return;
    }
    let mut p = publisher().await;
    let test = unique("bad");
    let mut c = consumer(queue(&test), 25).await;
    let topic = format!("v03.{test}.dir");
    let bad = |body: &str, ct: &'static str| Outgoing {
        exchange: EXCHANGE.into(),
        topic: topic.clone(),
        encoded: Encoded {
            body: body.into(),
            headers: Default::default(),
            content_type: ct,
        },
        persistent: true,
    };
    let batch = vec![
        bad("this is not json", "application/json"),
        bad(r#"{"relPath": "x"}"#, "application/json"),
        bad("{}", "image/png"),
        message(&test, 1),
    ];
    assert!(p.publish(&batch).await.iter().all(Result::is_ok));
    let got = drain(&mut c, 1, true).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message.rel_path, format!("{test}/dir/file0001.txt"));
    for _ in 0..10 {
        if c.stats().bad == 3 {
            break;
        }
        assert!(
            c.receive(10, Duration::from_millis(200))
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(c.stats().bad, 3);
    c.close().await;
    // They were acknowledged: a new consumer on the same queue sees nothing.
    nothing_left_on(c.queue().clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_clear_error_without_the_password() {
    if !rabbit() {
        return;
    }
    let e = Endpoint::parse("amqp://guest@127.0.0.1:5672/", Some("definitely-wrong-pw")).unwrap();
    let mut c = AmqpConsumer::new(e.clone(), queue("pw"), 5, T, "pitcher-test");
    let err = c.connect().await.unwrap_err();
    assert!(matches!(err, BrokerError::AuthFailed { .. }), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("guest") && text.contains("127.0.0.1:5672"),
        "{text}"
    );
    assert!(!text.contains("definitely-wrong-pw"), "{text}");
    let mut p = AmqpPublisher::new(e, T, "pitcher-test");
    let err = p.connect().await.unwrap_err();
    assert!(matches!(err, BrokerError::AuthFailed { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_broker_is_retried_with_backoff_until_it_appears() {
    if !rabbit() {
        return;
    }
    // The exchange the queue binds to exists (other tests may not have run first).
    publisher().await.close().await;
    let reserved = reserve_port();
    let test = unique("late");
    let mut q = queue(&test);
    q.name = unique("q_guest.test.late.");
    let e = endpoint(reserved.port);
    let mut c = AmqpConsumer::new(e, q, 5, Duration::from_secs(5), "pitcher-test");
    let err = c.receive(10, Duration::from_millis(100)).await.unwrap_err();
    assert!(matches!(err, BrokerError::Connect { .. }), "{err:?}");
    // Within the back-off, no new attempt is made.
    let err = c.receive(10, Duration::from_millis(10)).await.unwrap_err();
    assert!(matches!(err, BrokerError::NotConnected { .. }), "{err:?}");
    // The broker appears (through a proxy on that port): the consumer connects by itself.
    let _proxy = Proxy::start_on(reserved, SocketAddr::from(([127, 0, 0, 1], 5672)));
    let mut connected = false;
    for _ in 0..40 {
        if c.receive(10, Duration::from_millis(250)).await.is_ok() {
            connected = true;
            break;
        }
    }
    assert!(connected);
    assert!(c.is_connected());
}

/// A peer that accepts TCP connections and never says a word (a broker application stopping
/// or starting, a dead node behind a load balancer): every connection is read and held open.
fn silent_peer() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut sink = [0u8; 1024];
                while matches!(std::io::Read::read(&mut s, &mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_answers_the_handshake_is_given_up_on() {
    // No RabbitMQ needed: the peer is ours. Without a bound on the handshake, connect would
    // wait forever; the guard turns a hang into a failure.
    let port = silent_peer();
    let t = Duration::from_secs(2);
    let guard = Duration::from_secs(30);
    let mut c = AmqpConsumer::new(endpoint(port), queue("silent"), 5, t, "pitcher-test");
    let err = tokio::time::timeout(guard, c.connect())
        .await
        .expect("the consumer's connect hung")
        .unwrap_err();
    assert!(
        matches!(
            err,
            BrokerError::Timeout {
                what: "connecting",
                seconds: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    let mut p = AmqpPublisher::new(endpoint(port), t, "pitcher-test");
    let err = tokio::time::timeout(guard, p.connect())
        .await
        .expect("the publisher's connect hung")
        .unwrap_err();
    assert!(matches!(err, BrokerError::Timeout { .. }), "{err:?}");
    // And a receive reports it (and backs off) instead of blocking the flow.
    let err = tokio::time::timeout(guard, c.receive(10, Duration::from_millis(100)))
        .await
        .expect("receive hung")
        .unwrap_err();
    assert!(
        matches!(
            err,
            BrokerError::Timeout { .. } | BrokerError::NotConnected { .. }
        ),
        "{err:?}"
    );
}

/// With the default `timeout` (300 s), a silent peer is given up on after the set-up cap
/// (60 s), not after 300 s: the flow gets to its next attempt. (Takes a minute.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_default_timeout_a_silent_peer_is_given_up_on_after_a_minute() {
    use pitcher_broker::timeouts::SETUP_TIMEOUT;
    let port = silent_peer();
    let mut c = AmqpConsumer::new(
        endpoint(port),
        queue("silent300"),
        5,
        Duration::from_secs(300),
        "pitcher-test",
    );
    let err = tokio::time::timeout(SETUP_TIMEOUT + Duration::from_secs(30), c.connect())
        .await
        .expect("connect waited for the whole 300 s timeout")
        .unwrap_err();
    assert!(
        matches!(
            err,
            BrokerError::Timeout {
                what: "connecting",
                seconds: 60,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_loss_is_survived_and_stale_acks_are_dropped() {
    if !rabbit() {
        return;
    }
    let mut p = publisher().await;
    let proxy = Proxy::start(0, SocketAddr::from(([127, 0, 0, 1], 5672))).await;
    let test = unique("cut");
    let mut c = AmqpConsumer::new(endpoint(proxy.port), queue(&test), 10, T, "pitcher-test");
    c.connect().await.unwrap();
    assert!(
        p.publish(&(0..3).map(|i| message(&test, i)).collect::<Vec<_>>())
            .await
            .iter()
            .all(Result::is_ok)
    );
    let first = drain(&mut c, 3, false).await;
    assert_eq!(first.len(), 3);
    proxy.cut();
    // The consumer notices, reconnects after its back-off, and gets the unacked messages again.
    let again = receive_across_a_cut(&mut c, 3).await;
    assert_eq!(again.len(), 3, "redelivered after reconnect");
    assert!(again.iter().all(|r| r.redelivered));
    assert_eq!(c.stats().reconnects, 1);
    // Acks of the old connection's tokens are dropped, not errors.
    for r in &first {
        c.ack(r.token).await.unwrap();
    }
    assert_eq!(c.stats().stale_acks, 3);
    for r in &again {
        c.ack(r.token).await.unwrap();
    }
    assert!(
        c.receive(10, Duration::from_millis(500))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_during_an_outage_are_reported_unconfirmed() {
    if !rabbit() {
        return;
    }
    let proxy = Proxy::start(0, SocketAddr::from(([127, 0, 0, 1], 5672))).await;
    let test = unique("out");
    let mut p = AmqpPublisher::new(endpoint(proxy.port), Duration::from_secs(3), "pitcher-test");
    p.declare_exchange(EXCHANGE).await.unwrap();
    assert!(p.publish(&[message(&test, 0)]).await[0].is_ok());
    proxy.stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let results = p
        .publish(&(1..4).map(|i| message(&test, i)).collect::<Vec<_>>())
        .await;
    assert_eq!(results.len(), 3);
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_err_and(BrokerError::is_connection_problem)),
        "{results:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_sent_before_any_confirm_is_awaited_all_arrive_in_order() {
    if !rabbit() {
        return;
    }
    let mut p = publisher().await;
    let test = unique("pipe");
    let mut c = consumer(queue(&test), 250).await;
    let mut pending = Vec::new();
    for b in 0..5 {
        let batch: Vec<Outgoing> = (b * 50..(b + 1) * 50).map(|i| message(&test, i)).collect();
        let sent = p.send(&batch).await;
        assert_eq!(sent.len(), 50);
        pending.push(sent);
    }
    for sent in pending {
        let confirmed = sent.wait().await;
        let results = p.settle(confirmed);
        assert_eq!(results.len(), 50);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
    let got = drain(&mut c, 250, true).await;
    let names: Vec<String> = got.iter().map(|r| r.message.rel_path.clone()).collect();
    let want: Vec<String> = (0..250)
        .map(|i| format!("{test}/dir/file{i:04}.txt"))
        .collect();
    assert_eq!(
        names, want,
        "one channel, one queue: the order they were sent in"
    );
    c.close().await;
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirms_lost_with_their_connection_do_not_drop_its_replacement() {
    if !rabbit() {
        return;
    }
    let proxy = Proxy::start(0, SocketAddr::from(([127, 0, 0, 1], 5672))).await;
    let test = unique("gen");
    let mut c = consumer(queue(&test), 50).await;
    let mut p = AmqpPublisher::new(endpoint(proxy.port), T, "pitcher-test");
    p.declare_exchange(EXCHANGE).await.unwrap();
    // The broker goes silent while a batch is out: its confirms never come back.
    proxy.freeze();
    let lost = p
        .send(&(0..3).map(|i| message(&test, i)).collect::<Vec<_>>())
        .await;
    proxy.cut();
    let lost = lost.wait().await;
    // The connection died with a batch out: that counts as a failed attempt, so the next send
    // waits out the back-off (1 s) instead of reconnecting at once.
    let early = p.send(&[message(&test, 100)]).await;
    let early = p.settle(early.wait().await);
    assert!(
        matches!(early[..], [Err(BrokerError::NotConnected { .. })]),
        "{early:?}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // A second batch goes out on a new connection before the first one's confirms are settled.
    let second = p
        .send(&(3..6).map(|i| message(&test, i)).collect::<Vec<_>>())
        .await;
    let results = p.settle(lost);
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_err_and(BrokerError::is_connection_problem)),
        "{results:?}"
    );
    // Settling the old connection's failures must leave the new connection alone: no new
    // back-off, the next batch goes out at once.
    let results = p.settle(second.wait().await);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let third = p
        .publish(&(6..9).map(|i| message(&test, i)).collect::<Vec<_>>())
        .await;
    assert!(third.iter().all(Result::is_ok), "{third:?}");
    let got = drain(&mut c, 6, true).await;
    let mut names: Vec<String> = got.iter().map(|r| r.message.rel_path.clone()).collect();
    names.sort();
    let want: Vec<String> = (3..9)
        .map(|i| format!("{test}/dir/file{i:04}.txt"))
        .collect();
    assert_eq!(names, want);
    c.close().await;
    p.close().await;
}

/// What the ack tests start from: `n` messages published to a fresh queue and delivered,
/// unacknowledged, to a consumer connected through a proxy (so the test can cut it).
struct Pass {
    p: AmqpPublisher,
    proxy: Proxy,
    test: String,
    q: QueueSpec,
    c: AmqpConsumer,
    got: Vec<Received>,
}

async fn delivered_unacknowledged(label: &str, n: usize) -> Pass {
    let mut p = publisher().await;
    let proxy = Proxy::start(0, SocketAddr::from(([127, 0, 0, 1], 5672))).await;
    let test = unique(label);
    let q = queue(&test);
    let mut c = AmqpConsumer::new(endpoint(proxy.port), q.clone(), 100, T, "pitcher-test");
    c.connect().await.unwrap();
    assert!(
        p.publish(&(0..n).map(|i| message(&test, i)).collect::<Vec<_>>())
            .await
            .iter()
            .all(Result::is_ok)
    );
    let got = drain(&mut c, n, false).await;
    assert_eq!(got.len(), n);
    Pass {
        p,
        proxy,
        test,
        q,
        c,
        got,
    }
}

/// A new consumer of `q` finds nothing there.
async fn nothing_left_on(q: QueueSpec) {
    let mut d = consumer(q, 100).await;
    assert!(
        d.receive(10, Duration::from_millis(500))
            .await
            .unwrap()
            .is_empty()
    );
    d.close().await;
}

/// A pass whose acknowledgements have holes (failed work stays unacknowledged): the acked
/// prefix goes out as one `multiple` ack and the rest singly, so exactly the holes come back
/// after a cut; acknowledging a message twice neither errors nor closes the channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_all_with_holes_leaves_exactly_the_holes_unacknowledged() {
    if !rabbit() {
        return;
    }
    let Pass {
        mut p,
        proxy,
        test,
        q,
        mut c,
        got,
    } = delivered_unacknowledged("ackholes", 30).await;
    let holes = [9usize, 21];
    let (first, second): (Vec<_>, Vec<_>) = (0..30)
        .filter(|i| !holes.contains(i))
        .partition(|i| *i < 15);
    let tokens = |ix: &[usize]| ix.iter().map(|i| got[*i].token).collect::<Vec<_>>();
    // The second half first: the lowest outstanding message is not in it, so no prefix
    // (acked singly). Then the first half: messages 0..=8 are a prefix (one `multiple` ack),
    // 10..=14 go singly after the hole at 9.
    c.ack_all(&tokens(&second)).await.unwrap();
    assert_eq!(c.stats().acked, 14);
    c.ack_all(&tokens(&first)).await.unwrap();
    assert_eq!(c.stats().acked, 28);
    // A second ack of messages acknowledged already is skipped, not sent.
    c.ack_all(&tokens(&[3, 20, 12])).await.unwrap();
    assert_eq!(c.stats().acked, 28);
    assert!(
        c.is_connected(),
        "a double ack would have closed the channel"
    );
    // The channel still works: one more message is delivered and acknowledged.
    assert!(p.publish(&[message(&test, 99)]).await[0].is_ok());
    let more = drain(&mut c, 1, true).await;
    assert_eq!(more.len(), 1);
    assert_eq!(c.stats().acked, 29);
    // After a cut, exactly the holes come back (once the broker has the acks: one still in
    // the proxy when it cuts would be lost, and its message redelivered).
    c.barrier().await.unwrap();
    proxy.cut();
    let again = receive_across_a_cut(&mut c, holes.len()).await;
    let hole_names: HashSet<_> = holes
        .iter()
        .map(|i| got[*i].message.rel_path.clone())
        .collect();
    let again_names: HashSet<_> = again.iter().map(|r| r.message.rel_path.clone()).collect();
    assert_eq!(hole_names, again_names, "exactly the holes come back");
    let tokens: Vec<_> = again.iter().map(|r| r.token).collect();
    c.ack_all(&tokens).await.unwrap();
    assert_eq!(c.stats().acked, 31);
    c.close().await;
    nothing_left_on(q).await;
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_all_acknowledges_a_pass_and_drops_stale_tokens() {
    if !rabbit() {
        return;
    }
    let Pass {
        mut p,
        proxy,
        q,
        mut c,
        got,
        ..
    } = delivered_unacknowledged("ackall", 60).await;
    // Acknowledge 40 of them in one call; the other 20 stay unacknowledged.
    let (acked, held) = got.split_at(40);
    let tokens: Vec<_> = acked.iter().map(|r| r.token).collect();
    c.ack_all(&tokens).await.unwrap();
    assert_eq!(c.stats().acked, 40);
    // After a cut, the 20 come back; acking the old tokens for them drops them as stale.
    c.barrier().await.unwrap();
    proxy.cut();
    let again = receive_across_a_cut(&mut c, 20).await;
    let held_names: HashSet<_> = held.iter().map(|r| r.message.rel_path.clone()).collect();
    let again_names: HashSet<_> = again.iter().map(|r| r.message.rel_path.clone()).collect();
    assert_eq!(
        held_names, again_names,
        "exactly the unacknowledged ones come back"
    );
    let mixed: Vec<_> = held
        .iter()
        .map(|r| r.token)
        .chain(again.iter().map(|r| r.token))
        .collect();
    c.ack_all(&mixed).await.unwrap();
    assert_eq!(c.stats().stale_acks, 20);
    assert_eq!(c.stats().acked, 60);
    c.close().await;
    nothing_left_on(q).await;
    p.close().await;
}
