//! Publishing in two steps, so that a caller can send the next batch while the broker is still
//! confirming the previous one: [`crate::Publisher::send`] hands a batch to the broker and returns
//! its [`PendingConfirms`]; [`PendingConfirms::wait`] waits for the confirms (it borrows nothing,
//! so other batches can be sent meanwhile); [`crate::Publisher::settle`] gives the results back to
//! the publisher, which drops the connection they saw fail (unless it has been remade since),
//! and returns one result per message, in the batch's order.

use std::future::Future;
use std::pin::Pin;

use crate::error::BrokerError;

type Waiting = Pin<Box<dyn Future<Output = Vec<Result<(), BrokerError>>> + Send>>;

/// A sent batch whose confirms (AMQP publisher confirms, MQTT PUBACKs) are still to come.
#[must_use = "a sent batch's confirms must be waited for and settled"]
pub struct PendingConfirms {
    waiting: Waiting,
    len: usize,
    connection: u64,
}

/// The confirms of one batch, to hand back to the publisher that sent it
/// ([`crate::Publisher::settle`]).
#[must_use = "confirm results must be settled with the publisher that sent them"]
pub struct Confirmed {
    pub(crate) results: Vec<Result<(), BrokerError>>,
    pub(crate) connection: u64,
}

impl PendingConfirms {
    /// A batch of `len` messages sent on connection number `connection` of its publisher;
    /// `waiting` yields one result per message.
    pub(crate) fn new(
        len: usize,
        connection: u64,
        waiting: impl Future<Output = Vec<Result<(), BrokerError>>> + Send + 'static,
    ) -> Self {
        PendingConfirms {
            waiting: Box::pin(waiting),
            len,
            connection,
        }
    }

    /// A batch none of whose messages left: every one failed with `e`.
    pub(crate) fn failed(len: usize, e: BrokerError) -> Self {
        let results = vec![Err(e); len];
        PendingConfirms::new(len, 0, async move { results })
    }

    /// How many messages the batch holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Is the batch empty?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Waits until every message of the batch is confirmed, refused or given up on (each
    /// publisher bounds this by its timeout, and by the loss of the connection).
    pub async fn wait(mut self) -> Confirmed {
        let results = (&mut self.waiting).await;
        self.finish(results)
    }

    /// The confirms if they are all in already, without waiting; else the batch back.
    pub fn try_wait(mut self) -> Result<Confirmed, PendingConfirms> {
        match futures_util::FutureExt::now_or_never(&mut self.waiting) {
            Some(results) => Ok(self.finish(results)),
            None => Err(self),
        }
    }

    fn finish(&self, mut results: Vec<Result<(), BrokerError>>) -> Confirmed {
        // One result per message, whatever the implementation did.
        results.truncate(self.len);
        while results.len() < self.len {
            results.push(Err(BrokerError::NotConfirmed {
                broker: String::new(),
                reason: "no confirm was reported".into(),
            }));
        }
        Confirmed {
            results,
            connection: self.connection,
        }
    }
}

impl Confirmed {
    /// Did any message fail because its connection is gone?
    pub(crate) fn saw_connection_loss(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.as_ref().is_err_and(BrokerError::is_connection_problem))
    }
}
