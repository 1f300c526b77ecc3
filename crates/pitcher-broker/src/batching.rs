//! Gathering a batch from a message source: wait (up to a limit) for the first message only,
//! then take whatever is already there without waiting.

use std::future::Future;
use std::time::Duration;

use futures_util::FutureExt;

/// Polls `next` for the batch position given by `first`: the first message is awaited up to
/// `wait`, later ones only if ready now. `None` ends the batch; `Some(x)` is what `next` gave.
pub(crate) async fn batch_item<F: Future>(
    first: bool,
    wait: Duration,
    next: F,
) -> Option<F::Output> {
    if first {
        tokio::time::timeout(wait, next).await.ok()
    } else {
        next.now_or_never()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_waits_then_only_ready_items() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        assert_eq!(
            batch_item(true, Duration::from_millis(20), rx.recv()).await,
            None
        );
        tx.send(1).ok();
        tx.send(2).ok();
        assert_eq!(
            batch_item(true, Duration::from_millis(20), rx.recv()).await,
            Some(Some(1))
        );
        assert_eq!(
            batch_item(false, Duration::ZERO, rx.recv()).await,
            Some(Some(2))
        );
        assert_eq!(batch_item(false, Duration::ZERO, rx.recv()).await, None);
        drop(tx);
        assert_eq!(
            batch_item(false, Duration::ZERO, rx.recv()).await,
            Some(None)
        );
    }
}
