//! Progress bars on a terminal (indicatif): one bar per big download in `foreground`, and the
//! delivery bar of `demo`. Log lines are written above the bars (see [`LogWriter`]), so bars and
//! logs never garble each other. Nothing is drawn when stderr is not a terminal (files, pipes,
//! instances started by `pitcher start`).

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pitcher_flow::{ProgressSink, TransferProgress};

/// Downloads smaller than this get no bar (they finish before a bar would be worth drawing).
pub const BAR_MIN_BYTES: u64 = 8 << 20;

fn multi() -> &'static MultiProgress {
    static MULTI: OnceLock<MultiProgress> = OnceLock::new();
    MULTI.get_or_init(|| {
        if std::io::stderr().is_terminal() {
            MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4))
        } else {
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
        }
    })
}

/// Whether bars are drawn at all.
pub fn enabled() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar counting `total` items (files), labelled `what`.
pub fn count_bar(total: u64, what: &str) -> ProgressBar {
    let bar = multi().add(ProgressBar::new(total));
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// Draws a byte bar for each big download.
pub struct TerminalProgress;

struct Bar(Option<ProgressBar>);

impl TransferProgress for Bar {
    fn advance(&mut self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            b.finish_and_clear();
        }
    }
}

impl ProgressSink for TerminalProgress {
    fn begin(&self, name: &str, offset: u64, total: Option<u64>) -> Box<dyn TransferProgress> {
        let big = total.is_none_or(|t| t >= BAR_MIN_BYTES);
        if !big || !enabled() {
            return Box::new(Bar(None));
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::no_length(),
        };
        let bar = multi().add(bar);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(name.to_string());
        bar.set_position(offset);
        Box::new(Bar(Some(bar)))
    }
}

/// stderr for `tracing`: each log line is written while the bars are lifted, so it lands above
/// them.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        multi().suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
