#![cfg(feature = "broker")]
//! Multi-client interaction tests using Turmoil
//!
//! These tests verify complex interactions between multiple clients
//! in a deterministic environment, focusing on message routing and
//! subscription management.

#[cfg(feature = "turmoil-testing")]
use mqtt5::broker::router::{MessageRouter, SubscriptionRequest};
#[cfg(feature = "turmoil-testing")]
use mqtt5::packet::publish::PublishPacket;
#[cfg(feature = "turmoil-testing")]
use mqtt5::time::Duration;
#[cfg(feature = "turmoil-testing")]
#[cfg(feature = "turmoil-testing")]
use mqtt5::QoS;
#[cfg(feature = "turmoil-testing")]
use std::collections::HashMap;
#[cfg(feature = "turmoil-testing")]
use std::sync::Arc;
#[cfg(feature = "turmoil-testing")]
#[test]
#[allow(clippy::too_many_lines)]
fn test_multi_client_message_routing() {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(15))
        .build();

    sim.host("broker-simulation", || async {
        let router = Arc::new(MessageRouter::new());

        // Create multiple clients with different subscription patterns
        let mut clients = HashMap::new();
        let mut receivers = HashMap::new();

        // Client 1: Subscribes to temperature sensors
        let (lanes1, rx1) = mqtt5::broker::router::DeliveryLanes::channel(100);
        clients.insert("temp_monitor", lanes1);
        receivers.insert("temp_monitor", rx1);
        let (dtx1, _drx1) = tokio::sync::oneshot::channel();
        router
            .register_client(
                "temp_monitor".to_string(),
                clients["temp_monitor"].clone(),
                router.queue_handle("temp_monitor"),
                dtx1,
            )
            .await;
        router
            .subscribe(SubscriptionRequest::new(
                "temp_monitor",
                "sensors/+/temperature",
                QoS::AtMostOnce,
            ))
            .await
            .unwrap();

        // Client 2: Subscribes to humidity sensors
        let (lanes2, rx2) = mqtt5::broker::router::DeliveryLanes::channel(100);
        clients.insert("humidity_monitor", lanes2);
        receivers.insert("humidity_monitor", rx2);
        let (dtx2, _drx2) = tokio::sync::oneshot::channel();
        router
            .register_client(
                "humidity_monitor".to_string(),
                clients["humidity_monitor"].clone(),
                router.queue_handle("humidity_monitor"),
                dtx2,
            )
            .await;
        router
            .subscribe(SubscriptionRequest::new(
                "humidity_monitor",
                "sensors/+/humidity",
                QoS::AtMostOnce,
            ))
            .await
            .unwrap();

        // Client 3: Subscribes to all sensors (wildcard)
        let (lanes3, rx3) = mqtt5::broker::router::DeliveryLanes::channel(100);
        clients.insert("all_monitor", lanes3);
        receivers.insert("all_monitor", rx3);
        let (dtx3, _drx3) = tokio::sync::oneshot::channel();
        router
            .register_client(
                "all_monitor".to_string(),
                clients["all_monitor"].clone(),
                router.queue_handle("all_monitor"),
                dtx3,
            )
            .await;
        router
            .subscribe(SubscriptionRequest::new(
                "all_monitor",
                "sensors/+/+",
                QoS::AtMostOnce,
            ))
            .await
            .unwrap();

        // Client 4: Subscribes to specific room only
        let (lanes4, rx4) = mqtt5::broker::router::DeliveryLanes::channel(100);
        clients.insert("room1_monitor", lanes4);
        receivers.insert("room1_monitor", rx4);
        let (dtx4, _drx4) = tokio::sync::oneshot::channel();
        router
            .register_client(
                "room1_monitor".to_string(),
                clients["room1_monitor"].clone(),
                router.queue_handle("room1_monitor"),
                dtx4,
            )
            .await;
        router
            .subscribe(SubscriptionRequest::new(
                "room1_monitor",
                "sensors/room1/+",
                QoS::AtMostOnce,
            ))
            .await
            .unwrap();

        // Publish various sensor messages
        let messages = vec![
            ("sensors/room1/temperature", "22.5"),
            ("sensors/room1/humidity", "45"),
            ("sensors/room2/temperature", "23.1"),
            ("sensors/room2/humidity", "42"),
            ("sensors/kitchen/temperature", "24.0"),
            ("sensors/kitchen/humidity", "50"),
        ];

        for (topic, payload) in &messages {
            let publish =
                PublishPacket::new((*topic).to_string(), payload.as_bytes(), QoS::AtMostOnce);
            router.route_message(&publish, None).await;
        }

        // Give messages time to be routed
        tokio::time::sleep(Duration::from_millis(100)).await;

        // Count messages received by each client
        let mut temp_count = 0;
        let mut humidity_count = 0;
        let mut all_count = 0;
        let mut room1_count = 0;

        // Drain all channels
        while receivers
            .get_mut("temp_monitor")
            .unwrap()
            .try_recv()
            .is_ok()
        {
            temp_count += 1;
        }
        while receivers
            .get_mut("humidity_monitor")
            .unwrap()
            .try_recv()
            .is_ok()
        {
            humidity_count += 1;
        }
        while receivers.get_mut("all_monitor").unwrap().try_recv().is_ok() {
            all_count += 1;
        }
        while receivers
            .get_mut("room1_monitor")
            .unwrap()
            .try_recv()
            .is_ok()
        {
            room1_count += 1;
        }

        // Verify expected message counts
        assert_eq!(temp_count, 3); // 3 temperature messages
        assert_eq!(humidity_count, 3); // 3 humidity messages
        assert_eq!(all_count, 6); // All 6 messages
        assert_eq!(room1_count, 2); // 2 messages from room1

        Ok::<(), Box<dyn std::error::Error>>(())
    });

    sim.run().unwrap();
}

#[cfg(feature = "turmoil-testing")]
#[test]
fn test_client_subscription_changes() {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(20))
        .build();

    sim.host("dynamic-subscription", || async {
        let router = Arc::new(MessageRouter::new());

        // Create a client
        let (lanes, mut rx) = mqtt5::broker::router::DeliveryLanes::channel(100);
        let (dtx, _drx) = tokio::sync::oneshot::channel();
        router
            .register_client(
                "dynamic_client".to_string(),
                lanes.clone(),
                router.queue_handle("dynamic_client"),
                dtx,
            )
            .await;

        // Initial subscription
        router
            .subscribe(SubscriptionRequest::new(
                "dynamic_client",
                "alerts/error",
                QoS::AtMostOnce,
            ))
            .await
            .unwrap();

        // Send error alert
        let error_msg = PublishPacket::new(
            "alerts/error".to_string(),
            b"Critical error occurred".to_vec(),
            QoS::AtMostOnce,
        );
        router.route_message(&error_msg, None).await;

        // Send warning alert (should not be received)
        let warning_msg = PublishPacket::new(
            "alerts/warning".to_string(),
            b"Warning message".to_vec(),
            QoS::AtMostOnce,
        );
        router.route_message(&warning_msg, None).await;

        tokio::time::sleep(Duration::from_millis(50)).await;

        // Should have received only the error message
        let mut initial_count = 0;
        while rx.try_recv().is_ok() {
            initial_count += 1;
        }
        assert_eq!(initial_count, 1);

        // Add another subscription for warnings
        router
            .subscribe(SubscriptionRequest::new(
                "dynamic_client",
                "alerts/warning",
                QoS::AtMostOnce,
            ))
            .await
            .unwrap();

        // Send both types of alerts again
        router.route_message(&error_msg, None).await;
        router.route_message(&warning_msg, None).await;

        tokio::time::sleep(Duration::from_millis(50)).await;

        // Should now receive both messages
        let mut second_count = 0;
        while rx.try_recv().is_ok() {
            second_count += 1;
        }
        assert_eq!(second_count, 2);

        Ok::<(), Box<dyn std::error::Error>>(())
    });

    sim.run().unwrap();
}

#[cfg(feature = "turmoil-testing")]
#[test]
fn test_message_ordering_with_multiple_clients() {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(15))
        .build();

    sim.host("ordering-test", || async {
        let router = Arc::new(MessageRouter::new());

        // Create two clients subscribing to the same topic
        let (lanes1, mut rx1) = mqtt5::broker::router::DeliveryLanes::channel(100);
        let (lanes2, mut rx2) = mqtt5::broker::router::DeliveryLanes::channel(100);

        let (dtx1, _drx1) = tokio::sync::oneshot::channel();
        router
            .register_client(
                "client1".to_string(),
                lanes1.clone(),
                router.queue_handle("client1"),
                dtx1,
            )
            .await;
        let (dtx2, _drx2) = tokio::sync::oneshot::channel();
        router
            .register_client(
                "client2".to_string(),
                lanes2.clone(),
                router.queue_handle("client2"),
                dtx2,
            )
            .await;

        router
            .subscribe(SubscriptionRequest::new(
                "client1",
                "sequence/test",
                QoS::AtMostOnce,
            ))
            .await
            .unwrap();

        router
            .subscribe(SubscriptionRequest::new(
                "client2",
                "sequence/test",
                QoS::AtMostOnce,
            ))
            .await
            .unwrap();

        // Send messages in sequence
        for i in 0..5 {
            let msg = PublishPacket::new(
                "sequence/test".to_string(),
                format!("Message {i}").into_bytes(),
                QoS::AtMostOnce,
            );
            router.route_message(&msg, None).await;

            // Small delay to ensure ordering
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        tokio::time::sleep(Duration::from_millis(100)).await;

        // Both clients should receive all messages in order
        let mut client1_messages = Vec::new();
        let mut client2_messages = Vec::new();

        while let Ok(msg) = rx1.try_recv() {
            client1_messages.push(String::from_utf8(msg.publish.payload.to_vec()).unwrap());
        }

        while let Ok(msg) = rx2.try_recv() {
            client2_messages.push(String::from_utf8(msg.publish.payload.to_vec()).unwrap());
        }

        assert_eq!(client1_messages.len(), 5);
        assert_eq!(client2_messages.len(), 5);

        // Verify ordering
        for i in 0..5 {
            assert_eq!(client1_messages[i], format!("Message {i}"));
            assert_eq!(client2_messages[i], format!("Message {i}"));
        }

        Ok::<(), Box<dyn std::error::Error>>(())
    });

    sim.run().unwrap();
}
