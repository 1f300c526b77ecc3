//! Where messages come from: a broker queue (in the engine), the local file system (a walk, or a
//! watch), or remote
//! listings (poll).

pub mod files;
pub mod poll;
pub mod watch;

use std::time::Duration;

use pitcher_core::Message;

/// A source of messages from the local file system, read on a blocking thread.
pub trait LocalGather: Send {
    /// Up to `max` messages (errors are logged by the caller); may wait up to `wait`.
    fn next_batch(&mut self, max: usize, wait: Duration) -> Vec<Result<Message, String>>;
    /// Nothing more will come (a finished walk; a watch never is).
    fn is_done(&self) -> bool {
        false
    }
}

impl LocalGather for files::FileWalker {
    fn next_batch(&mut self, max: usize, _wait: Duration) -> Vec<Result<Message, String>> {
        files::FileWalker::next_batch(self, max)
    }
    fn is_done(&self) -> bool {
        files::FileWalker::is_done(self)
    }
}

impl LocalGather for watch::Watcher {
    fn next_batch(&mut self, max: usize, wait: Duration) -> Vec<Result<Message, String>> {
        watch::Watcher::next_batch(self, max, wait)
    }
}
