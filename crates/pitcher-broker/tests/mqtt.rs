//! The MQTT v5 implementation against the real Mosquitto on 127.0.0.1:1883.
#![allow(clippy::unwrap_used)]

mod common;

use common::mqtt_suite as suite;
use common::service_available;

fn mosquitto() -> bool {
    service_available("Mosquitto", 1883)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_with_pubacks_then_consume_everything_v03_and_v02() {
    if mosquitto() {
        suite::publish_with_pubacks_then_consume_everything_v03_and_v02(1883).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_a_queue_get_disjoint_messages() {
    if mosquitto() {
        suite::instances_sharing_a_queue_get_disjoint_messages(1883).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_maximum_bounds_unacked_and_a_dead_sessions_messages_come_back() {
    if mosquitto() {
        suite::receive_maximum_bounds_unacked_and_a_dead_sessions_messages_come_back(1883).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_acknowledged_and_dropped() {
    if mosquitto() {
        suite::malformed_messages_are_acknowledged_and_dropped(1883).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_broker_is_retried_until_it_appears_and_cuts_are_survived() {
    if mosquitto() {
        suite::unreachable_broker_is_retried_until_it_appears_and_cuts_are_survived(1883).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_during_an_outage_are_reported_unconfirmed() {
    if mosquitto() {
        suite::publishes_during_an_outage_are_reported_unconfirmed(1883).await;
    }
}
