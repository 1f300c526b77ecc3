//! One message on its way through the flow, with where it came from and what happened to it.

use pitcher_broker::AckToken;
use pitcher_config::Placement;
use pitcher_core::Message;
use pitcher_state::EntryId;

/// Where a message came from: decides how it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A broker delivery: acknowledged to the broker.
    Broker(AckToken),
    /// An entry of the work retry spool: marked done there.
    WorkRetry(EntryId),
    /// Made here (post, watch, poll): nothing to acknowledge.
    Local,
}

/// What became of a message (sr3 report codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Not decided yet.
    Pending,
    /// Work done (or no work to do): to be posted.
    Ok,
    /// Dropped on purpose, with a report code and reason.
    Rejected {
        /// sr3 report code (304, 404, 410, ...).
        code: u16,
        /// Human-readable reason.
        reason: String,
    },
    /// Failed for now: goes to the work retry spool.
    Failed {
        /// Why.
        reason: String,
    },
}

/// A message and its progress.
#[derive(Debug, Clone)]
pub struct Item {
    /// The message (rewritten in place for posting once the work is done).
    pub msg: Message,
    /// Where it came from.
    pub origin: Origin,
    /// Where it goes, once accepted.
    pub placement: Option<Placement>,
    /// What happened.
    pub disposition: Disposition,
    /// Transfer attempts so far (from the retry spool).
    pub attempts: u32,
    /// When it first failed (unix seconds), for `retry_ttl`.
    pub first_queued: Option<f64>,
    /// Bytes transferred by the work step.
    pub bytes: u64,
    /// Did the work step write a file (then `retrievePath` is dropped when posting)?
    pub downloaded: bool,
    /// The broker delivered it before (to this or another instance, which may have died after
    /// its work but before posting).
    pub redelivered: bool,
    /// The file was already in place and the redelivered message is forwarded without a
    /// transfer (`downloaded` is also set; not counted as a transfer in the metrics).
    pub reused: bool,
}

impl Item {
    /// A fresh item.
    pub fn new(msg: Message, origin: Origin) -> Self {
        Item {
            msg,
            origin,
            placement: None,
            disposition: Disposition::Pending,
            attempts: 0,
            first_queued: None,
            bytes: 0,
            downloaded: false,
            redelivered: false,
            reused: false,
        }
    }

    /// Reject with a report code.
    pub fn reject(&mut self, code: u16, reason: impl Into<String>) {
        self.disposition = Disposition::Rejected {
            code,
            reason: reason.into(),
        };
    }

    /// Fail for now (retry later).
    pub fn fail(&mut self, reason: impl Into<String>) {
        self.disposition = Disposition::Failed {
            reason: reason.into(),
        };
    }

    /// A broker delivery, marked when the broker says it delivered it before.
    pub fn delivered(msg: Message, token: AckToken, redelivered: bool) -> Self {
        let mut it = Item::new(msg, Origin::Broker(token));
        it.redelivered = redelivered;
        it
    }

    /// Is it still going forward?
    pub fn is_live(&self) -> bool {
        matches!(self.disposition, Disposition::Pending | Disposition::Ok)
    }
}
