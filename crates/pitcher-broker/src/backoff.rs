//! Capped exponential back-off for reconnection: 1 s, 2 s, 4 s ... 64 s.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Backoff {
    start: Duration,
    cap: Duration,
    next: Duration,
    not_before: Option<Instant>,
    attempts: u32,
}

impl Backoff {
    pub const START: Duration = Duration::from_secs(1);
    pub const CAP: Duration = Duration::from_secs(64);

    pub fn new(start: Duration, cap: Duration) -> Self {
        Backoff {
            start,
            cap,
            next: start,
            not_before: None,
            attempts: 0,
        }
    }

    /// Records a failed attempt; returns how long to wait before the next one.
    pub fn failed(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.cap);
        self.not_before = Some(Instant::now() + wait);
        self.attempts += 1;
        wait
    }

    /// Records a success: the next failure waits `start` again.
    pub fn succeeded(&mut self) {
        self.next = self.start;
        self.not_before = None;
        self.attempts = 0;
    }

    /// Time left before another attempt is due (zero when one may be made now).
    pub fn remaining(&self) -> Duration {
        self.not_before
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    }

    /// Waits (at most `wait`) for the back-off to allow another attempt. `Err` tells the caller
    /// that none is due yet: report `NotConnected` and try again on a later call.
    pub async fn wait_for_attempt(
        &self,
        wait: Duration,
        broker: &str,
    ) -> Result<(), crate::error::BrokerError> {
        let remaining = self.remaining();
        if !remaining.is_zero() {
            tokio::time::sleep(remaining.min(wait)).await;
            if !self.remaining().is_zero() {
                return Err(crate::error::BrokerError::NotConnected {
                    broker: broker.to_string(),
                    retry_in_seconds: self.remaining().as_secs(),
                });
            }
        }
        Ok(())
    }

    /// Records a failed connection attempt and logs it once, with the delay before the next.
    pub fn connection_failed(&mut self, e: &crate::error::BrokerError) {
        let next = self.failed();
        tracing::warn!("{e}; retrying in {} s", next.as_secs());
    }

    /// Failed attempts since the last success.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Self::START, Self::CAP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..9).map(|_| b.failed().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 64, 64]);
        assert_eq!(b.attempts(), 9);
        assert!(b.remaining() > Duration::from_secs(60));
        b.succeeded();
        assert_eq!(b.remaining(), Duration::ZERO);
        assert_eq!(b.failed(), Duration::from_secs(1));
    }
}
