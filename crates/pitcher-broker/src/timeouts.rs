//! How long set-up steps may take, whatever the flow's `timeout`.

use std::time::Duration;

/// The longest Pitcher waits for a connection to open (TCP, TLS, the AMQP or MQTT handshake)
/// and for the broker's reply to a set-up step (AMQP channel.open, basic.qos, confirm.select,
/// declares, binds, basic.consume; MQTT CONNACK, SUBACK), and for a clean disconnect. A live
/// broker answers these within moments; one that accepts the TCP connection and then never
/// answers (an application stopping or starting, a node behind a load balancer gone bad) must
/// not hold a flow for the whole `timeout` (300 s by default) before the next attempt. A
/// shorter `timeout` applies as it is.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// `timeout` capped at [`SETUP_TIMEOUT`].
pub fn setup_timeout(timeout: Duration) -> Duration {
    timeout.min(SETUP_TIMEOUT)
}
