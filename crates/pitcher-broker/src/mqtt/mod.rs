//! MQTT v5 (Mosquitto and any v5 broker).
//!
//! As sr3 does: topics `<exchange>/<prefix>/<dirs>`, shared subscriptions
//! `$share/<queue>/<filter>` so the instances of a flow share its messages, client ids
//! `<queue>_iNN`, persistent sessions (clean start off), QoS 1, and acknowledgements sent only
//! when the caller's work is durable (manual acks, with Receive Maximum as the prefetch).
//!
//! The consumer uses rumqttc (see `consumer.rs` for why); the publisher uses the mqtt5 crate's
//! client, which reports each QoS 1 publish's PUBACK, even across a reconnect.

mod consumer;
mod publisher;

pub use consumer::MqttConsumer;
pub use publisher::MqttPublisher;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mqtt5::transport::tls::TlsConfig;
use mqtt5::{ConnectOptions, ConnectionEvent, MqttClient};

use crate::endpoint::{Endpoint, Protocol};
use crate::error::BrokerError;

/// The address the mqtt5 client connects to.
pub(crate) fn address(e: &Endpoint) -> String {
    let scheme = if e.protocol == Protocol::Mqtts {
        "mqtts"
    } else {
        "mqtt"
    };
    format!("{scheme}://{}:{}", e.host, e.port)
}

/// Connect options common to consumers and publishers.
pub(crate) fn options(e: &Endpoint, client_id: &str) -> ConnectOptions {
    let mut o = ConnectOptions::new(client_id)
        .with_automatic_reconnect(false)
        .with_keep_alive(Duration::from_secs(30));
    if !e.user.is_empty() {
        o = o.with_credentials(e.user.clone(), e.password().as_bytes());
    }
    o
}

/// Registers a flag that turns false when the connection ends.
pub(crate) async fn watch_connection(client: &MqttClient) -> Arc<AtomicBool> {
    let up = Arc::new(AtomicBool::new(false));
    let flag = up.clone();
    let _ = client
        .on_connection_event(move |ev| match ev {
            ConnectionEvent::Connected { .. } => flag.store(true, Ordering::SeqCst),
            ConnectionEvent::Disconnected { .. } | ConnectionEvent::ReconnectFailed { .. } => {
                flag.store(false, Ordering::SeqCst)
            }
            _ => {}
        })
        .await;
    up
}

/// Connects within `timeout`, mapping failures to clear errors.
pub(crate) async fn connect(
    client: &MqttClient,
    e: &Endpoint,
    timeout: Duration,
) -> Result<(), BrokerError> {
    let timeout = crate::timeouts::setup_timeout(timeout);
    let attempt = async {
        if e.protocol == Protocol::Mqtts {
            Ok(client.connect_with_tls(tls_config(e, timeout).await?).await)
        } else {
            Ok(client.connect(&address(e)).await)
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => Err(BrokerError::Timeout {
            broker: e.masked(),
            what: "connecting",
            seconds: timeout.as_secs(),
        }),
        Ok(Err(setup)) => Err(setup),
        Ok(Ok(Err(err))) => {
            let text = crate::amqp::scrub(e, &err.to_string());
            let lower = text.to_ascii_lowercase();
            if let Some(refused) = e.certificate_refused(&text) {
                Err(refused)
            } else if lower.contains("not authorized")
                || lower.contains("bad user name or password")
                || lower.contains("notauthorized")
                || lower.contains("badusernameorpassword")
            {
                Err(BrokerError::AuthFailed {
                    broker: e.masked(),
                    user: e.user.clone(),
                })
            } else {
                Err(BrokerError::Connect {
                    broker: e.masked(),
                    reason: text,
                })
            }
        }
        Ok(Ok(Ok(()))) => Ok(()),
    }
}

/// The mqtt5 client's TLS settings: the endpoint's roots (system + CA file) instead of mqtt5's
/// bundled ones, or no verification for `tlsRigour lax`.
async fn tls_config(e: &Endpoint, timeout: Duration) -> Result<TlsConfig, BrokerError> {
    // mqtt5 builds its rustls configuration with the process-wide provider: make it ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addr = tokio::net::lookup_host((e.host.as_str(), e.port))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| BrokerError::Connect {
            broker: e.masked(),
            reason: format!("cannot resolve {}", e.host),
        })?;
    let mut config = TlsConfig::new(addr, e.host.clone())
        .with_connect_timeout(timeout)
        .with_system_roots(false)
        .with_verify_server_cert(e.tls.verify);
    if e.tls.verify {
        config = config.with_root_certs(e.tls_roots()?);
    }
    Ok(config)
}

/// rumqttc's transport for the endpoint: TCP, or TLS with the endpoint's rustls configuration.
pub(crate) fn rumqttc_transport(e: &Endpoint) -> Result<rumqttc::Transport, BrokerError> {
    if e.protocol == Protocol::Mqtts {
        Ok(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(e.tls_client_config()?),
        ))
    } else {
        Ok(rumqttc::Transport::tcp())
    }
}

/// A rumqttc connection failure as an error.
pub(crate) fn rumqttc_failure(e: &Endpoint, reason: &str) -> BrokerError {
    let lower = reason.to_ascii_lowercase();
    if let Some(refused) = e.certificate_refused(reason) {
        refused
    } else if lower.contains("notauthorized")
        || lower.contains("badusernamepassword")
        || lower.contains("bad user")
    {
        BrokerError::AuthFailed {
            broker: e.masked(),
            user: e.user.clone(),
        }
    } else {
        BrokerError::Connect {
            broker: e.masked(),
            reason: crate::amqp::scrub(e, reason),
        }
    }
}

/// Ends a persistent session (`pitcher cleanup`): connects as `client_id` with a clean start and
/// no session expiry, so the broker discards the session and its queued messages.
pub async fn delete_session(
    e: &Endpoint,
    client_id: &str,
    timeout: Duration,
) -> Result<(), BrokerError> {
    use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet};
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};
    let mut opts = MqttOptions::new(client_id, e.host.clone(), e.port);
    if !e.user.is_empty() {
        opts.set_credentials(e.user.clone(), e.password().to_string());
    }
    opts.set_transport(rumqttc_transport(e)?);
    opts.set_clean_start(true)
        .set_session_expiry_interval(Some(0))
        .set_connection_timeout(timeout.as_secs().max(1));
    let (client, mut eventloop) = AsyncClient::new(opts, 10);
    let run = async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    return if ack.code == ConnectReturnCode::Success {
                        let _ = client.disconnect().await;
                        // Flush the DISCONNECT.
                        for _ in 0..10 {
                            if eventloop.poll().await.is_err() {
                                break;
                            }
                        }
                        Ok(())
                    } else {
                        Err(BrokerError::Refused {
                            broker: e.masked(),
                            what: format!("ending session {client_id}"),
                            reason: format!("{:?}", ack.code),
                        })
                    };
                }
                Ok(_) => {}
                Err(err) => return Err(rumqttc_failure(e, &err.to_string())),
            }
        }
    };
    tokio::time::timeout(timeout, run)
        .await
        .unwrap_or_else(|_| {
            Err(BrokerError::Timeout {
                broker: e.masked(),
                what: "ending a session",
                seconds: timeout.as_secs(),
            })
        })
}
