//! Broker errors. Messages name the broker (password masked) and never contain a password.

use thiserror::Error;

#[derive(Debug, Clone, Error)]
pub enum BrokerError {
    #[error("invalid broker URL {url}: {why}")]
    InvalidUrl { url: String, why: String },
    #[error("{broker}: cannot connect: {reason}")]
    Connect { broker: String, reason: String },
    #[error(
        "{broker}: TLS certificate refused: {reason} (trust its CA with SSL_CERT_FILE or a CA file, or accept any certificate with tlsRigour lax)"
    )]
    CertificateRefused { broker: String, reason: String },
    #[error("{broker}: TLS setup failed: {reason}")]
    Tls { broker: String, reason: String },
    #[error("{broker}: login refused for user {user}: check the password in credentials.conf")]
    AuthFailed { broker: String, user: String },
    #[error("{broker}: {what} timed out after {seconds} s")]
    Timeout {
        broker: String,
        what: &'static str,
        seconds: u64,
    },
    #[error("{broker}: {what} refused: {reason}")]
    Refused {
        broker: String,
        what: String,
        reason: String,
    },
    #[error("{broker}: connection lost: {reason}")]
    ConnectionLost { broker: String, reason: String },
    #[error("{broker}: not connected (next attempt in {retry_in_seconds} s)")]
    NotConnected {
        broker: String,
        retry_in_seconds: u64,
    },
    #[error("{broker}: publish not confirmed: {reason}")]
    NotConfirmed { broker: String, reason: String },
    #[error("{name} is too long for AMQP ({len} bytes; the limit is 255)")]
    NameTooLong { name: String, len: usize },
}

impl BrokerError {
    /// True when the connection is gone and the caller should reconnect (and spool what it holds).
    pub fn is_connection_problem(&self) -> bool {
        matches!(
            self,
            BrokerError::Connect { .. }
                | BrokerError::Timeout { .. }
                | BrokerError::ConnectionLost { .. }
                | BrokerError::NotConnected { .. }
                | BrokerError::AuthFailed { .. }
                | BrokerError::CertificateRefused { .. }
                | BrokerError::Tls { .. }
        )
    }
}
