//! The filter step (reference 2.3 `filter()`): message age, file age, accept/reject masks in
//! order, and destination placement.

use pitcher_config::{Decision, Expander, LoadedFlow, MessagePaths};
use pitcher_core::Timestamp;

use crate::item::Item;

/// Filter one item in place: it ends Pending with a placement (accepted), Rejected, or Failed
/// (too young: retried later).
pub fn filter_item(flow: &LoadedFlow, expander: &Expander, now: &Timestamp, item: &mut Item) {
    let o = &flow.options;
    let now_f = now.as_f64();
    if o.message_age_max > 0.0 {
        let lag = item.msg.lag(now);
        if lag > o.message_age_max {
            item.reject(
                504,
                format!(
                    "message too old (lag {lag:.2} s > messageAgeMax {})",
                    o.message_age_max
                ),
            );
            return;
        }
    }
    if let Some(mtime) = &item.msg.mtime {
        let age = now_f - mtime.as_f64();
        if o.file_age_max > 0.0 && age > o.file_age_max {
            item.reject(
                410,
                format!("file too old ({age:.0} s > fileAgeMax {})", o.file_age_max),
            );
            return;
        }
        if o.file_age_min > 0.0 && age < o.file_age_min {
            item.fail(format!(
                "file too young ({age:.1} s < fileAgeMin {}), retry later",
                o.file_age_min
            ));
            return;
        }
    }
    let filtered = flow.filter(&item.msg.base_url, &item.msg.rel_path);
    for w in &filtered.warnings {
        tracing::warn!("{w}");
    }
    match filtered.decision {
        Decision::Reject { code, reason, .. } => item.reject(code, reason),
        Decision::Accept(acc) => {
            let pub_time = item.msg.pub_time.to_string();
            let paths = MessagePaths {
                base_url: &item.msg.base_url,
                rel_path: &item.msg.rel_path,
                rename: if o.download {
                    item.msg.rename.as_deref()
                } else {
                    None
                },
                source: item.msg.source.as_deref(),
                pub_time: Some(&pub_time),
            };
            let jnow =
                jiff::Timestamp::new(now.unix_seconds(), 0).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            match flow.place(expander, jnow, &paths, &acc) {
                Ok(p) => {
                    if !p.unresolved.is_empty() {
                        tracing::debug!(
                            "{}: unresolved patterns {:?}",
                            item.msg.rel_path,
                            p.unresolved
                        );
                    }
                    item.placement = Some(p);
                }
                Err(e) => item.reject(e.code(), e.to_string()),
            }
        }
    }
}
