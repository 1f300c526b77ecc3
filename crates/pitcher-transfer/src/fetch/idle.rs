//! An `AsyncRead` wrapper that fails a read which makes no progress for a set time.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::TransferError;

/// Fails with `io::ErrorKind::TimedOut` (carrying [`TransferError::Timeout`]) when the inner reader
/// stays pending for longer than `timeout` since its last progress.
///
/// The timer is only re-armed lazily when it fires, so a fast stream costs one `Instant::now()`
/// per read, not a timer update.
pub(crate) struct IdleTimeout<R> {
    inner: R,
    timeout: Duration,
    last_progress: Instant,
    sleep: Pin<Box<Sleep>>,
    /// Masked URL, for the error.
    url: String,
}

impl<R> IdleTimeout<R> {
    pub(crate) fn new(inner: R, timeout: Duration, url: String) -> Self {
        let now = Instant::now();
        IdleTimeout {
            inner,
            timeout,
            last_progress: now,
            sleep: Box::pin(tokio::time::sleep_until(now + timeout)),
            url,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for IdleTimeout<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.last_progress = Instant::now();
                Poll::Ready(result)
            }
            Poll::Pending => loop {
                match this.sleep.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => {
                        let deadline = this.last_progress + this.timeout;
                        if deadline > Instant::now() {
                            // Progress happened since the timer was armed: re-arm and poll again
                            // so the new deadline registers this task's waker.
                            this.sleep.as_mut().reset(deadline);
                            continue;
                        }
                        let err = TransferError::Timeout {
                            url: this.url.clone(),
                            after: this.timeout,
                        };
                        return Poll::Ready(Err(err.into_io()));
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn stalled_reader_times_out() {
        let (client, _server) = tokio::io::duplex(64);
        let mut r = IdleTimeout::new(client, Duration::from_millis(50), "x://y".into());
        let mut buf = [0u8; 8];
        let err = r.read(&mut buf).await.expect_err("must time out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn slow_but_steady_reader_does_not_time_out() {
        let (client, mut server) = tokio::io::duplex(64);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for _ in 0..6 {
                tokio::time::sleep(Duration::from_millis(30)).await;
                if server.write_all(b"ab").await.is_err() {
                    return;
                }
            }
        });
        let mut r = IdleTimeout::new(client, Duration::from_millis(100), "x://y".into());
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.expect("steady stream");
        assert_eq!(out.len(), 12);
    }
}
