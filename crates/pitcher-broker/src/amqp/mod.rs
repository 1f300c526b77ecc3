//! AMQP 0-9-1 (RabbitMQ) through lapin: connections, and the mapping of lapin's errors.

mod consumer;
mod publisher;

pub use consumer::AmqpConsumer;
pub use publisher::AmqpPublisher;

use std::time::Duration;

use lapin::types::ShortString;
use lapin::uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo};
use lapin::{Connection, ConnectionProperties};

use crate::endpoint::{Endpoint, Protocol};
use crate::error::BrokerError;
pub(crate) use crate::timeouts::setup_timeout;

/// Heartbeat negotiated with the broker, so a dead peer is noticed within about twice this.
const HEARTBEAT_SECONDS: u16 = 30;

/// The largest frame Pitcher asks for. lapin keeps a send and a receive buffer of 32 frames each,
/// zero-filled when the connection is tuned: RabbitMQ's default frame_max (128 KiB) made that
/// 8 MiB resident per connection, most of an idle subscriber's memory (bench/RESULTS.md).
/// Notification messages are far smaller; a longer body is split over several frames.
const FRAME_MAX: u32 = 16 * 1024;

/// Opens a connection within `timeout` (capped: [`setup_timeout`]).
pub(crate) async fn connect(
    endpoint: &Endpoint,
    timeout: Duration,
    name: &str,
) -> Result<Connection, BrokerError> {
    let uri = AMQPUri {
        scheme: if endpoint.protocol == Protocol::Amqps {
            AMQPScheme::AMQPS
        } else {
            AMQPScheme::AMQP
        },
        authority: AMQPAuthority {
            userinfo: AMQPUserInfo {
                username: endpoint.user.clone(),
                password: endpoint.password().to_string(),
            },
            host: endpoint.host.clone(),
            port: endpoint.port,
        },
        vhost: endpoint.vhost.clone(),
        query: AMQPQueryString {
            heartbeat: Some(HEARTBEAT_SECONDS),
            frame_max: Some(FRAME_MAX),
            ..Default::default()
        },
    };
    let props = ConnectionProperties::default()
        .with_connection_name(lapin::types::LongString::from(truncate(name, 200)));
    let tls = if endpoint.protocol == Protocol::Amqps {
        Some(endpoint.tls_client_config()?)
    } else {
        None
    };
    let connecting = async {
        match tls {
            Some(config) => connect_tls(config, uri, props).await,
            None => Connection::connect_uri(uri, props).await,
        }
    };
    let timeout = setup_timeout(timeout);
    match tokio::time::timeout(timeout, connecting).await {
        Err(_) => Err(BrokerError::Timeout {
            broker: endpoint.masked(),
            what: "connecting",
            seconds: timeout.as_secs(),
        }),
        Ok(Err(e)) => Err(map_connect_error(endpoint, &e)),
        Ok(Ok(c)) => Ok(c),
    }
}

/// amqps: TLS with Pitcher's rustls configuration (system roots + CA file, or `tlsRigour lax`),
/// which lapin's own TLS set-up cannot express.
async fn connect_tls(
    config: std::sync::Arc<rustls::ClientConfig>,
    uri: AMQPUri,
    props: ConnectionProperties,
) -> lapin::Result<Connection> {
    let connector = lapin::tcp::RustlsConnector::from(config);
    let runtime = lapin::runtime::default_runtime()?;
    Connection::connector(
        uri,
        runtime,
        async move |uri: AMQPUri, runtime| {
            let host = uri.authority.host.clone();
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), uri.authority.port))
                    .await?
                    .collect();
            let stream = lapin::tcp::AsyncTcpStream::connect(&runtime, addrs).await?;
            Ok(stream.into_rustls(&connector, &host).await?)
        },
        props,
    )
    .await
}

fn map_connect_error(endpoint: &Endpoint, e: &lapin::Error) -> BrokerError {
    let text = e.to_string();
    if let Some(refused) = endpoint.certificate_refused(&text) {
        refused
    } else if text.contains("ACCESS_REFUSED")
        || text.contains("403")
        || text.contains("authentication")
        || text.contains("login")
    {
        BrokerError::AuthFailed {
            broker: endpoint.masked(),
            user: endpoint.user.clone(),
        }
    } else {
        BrokerError::Connect {
            broker: endpoint.masked(),
            reason: scrub(endpoint, &text),
        }
    }
}

/// A lapin error as a lost connection (the usual consequence of any channel-level failure).
pub(crate) fn lost(endpoint: &Endpoint, e: &lapin::Error) -> BrokerError {
    BrokerError::ConnectionLost {
        broker: endpoint.masked(),
        reason: scrub(endpoint, &e.to_string()),
    }
}

/// Removes the password from a message, should a library ever echo it.
pub(crate) fn scrub(endpoint: &Endpoint, text: &str) -> String {
    let p = endpoint.password();
    // A password equal to the user name (guest/guest) is no secret, and masking it would mangle
    // every name that contains the user (xs_guest...).
    if p.len() >= 3 && p != endpoint.user {
        text.replace(p, "***")
    } else {
        text.to_string()
    }
}

/// An AMQP short string (exchange, queue, routing key), refused rather than panicking over 255 bytes.
pub(crate) fn short(s: &str) -> Result<ShortString, BrokerError> {
    ShortString::try_new(s).map_err(|_| BrokerError::NameTooLong {
        name: truncate(s, 60).to_string() + "...",
        len: s.len(),
    })
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Deletes a queue (`pitcher cleanup`). Exchanges are never deleted: they are shared.
pub async fn delete_queue(
    endpoint: &Endpoint,
    queue: &str,
    timeout: Duration,
) -> Result<u32, BrokerError> {
    use lapin::options::QueueDeleteOptions;
    let connection = connect(endpoint, timeout, "pitcher-cleanup").await?;
    let broker = endpoint.masked();
    let channel = consumer::timed(
        timeout,
        &broker,
        "opening a channel",
        connection.create_channel(),
    )
    .await?
    .map_err(|e| lost(endpoint, &e))?;
    let r = consumer::timed(
        timeout,
        &broker,
        "queue.delete",
        channel.queue_delete(short(queue)?, QueueDeleteOptions::default()),
    )
    .await?
    .map_err(|e| BrokerError::Refused {
        broker: broker.clone(),
        what: format!("deleting queue {queue}"),
        reason: scrub(endpoint, &e.to_string()),
    });
    let _ = tokio::time::timeout(timeout, connection.close(200, "bye".into())).await;
    r
}
