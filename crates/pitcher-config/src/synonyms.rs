//! Old keyword -> canonical keyword (reference 3.3, plus sr3's `Config.synonyms`).

use crate::component::Component;

/// (old, canonical), independent of the component.
pub static SYNONYMS: &[(&str, &str)] = &[
    ("accel_cp_command", "accelCpCommand"),
    ("accel_scp_command", "accelScpCommand"),
    ("accel_wget_command", "accelWgetCommand"),
    ("accel_cp_threshold", "accelThreshold"),
    ("accel_scp_threshold", "accelThreshold"),
    ("accel_wget_threshold", "accelThreshold"),
    ("accel_threshold", "accelThreshold"),
    ("accept_unmatch", "acceptUnmatched"),
    ("accept_unmatched", "acceptUnmatched"),
    ("at", "attempts"),
    ("b", "broker"),
    ("bd", "baseDir"),
    ("basedir", "baseDir"),
    ("base_dir", "baseDir"),
    ("bind_queue", "queueBind"),
    ("blocksize", "blockSize"),
    ("bufsize", "bufSize"),
    ("c", "include"),
    ("config", "include"),
    ("cache", "nodupe_ttl"),
    ("caching", "nodupe_ttl"),
    ("nd", "nodupe_ttl"),
    ("sd", "nodupe_ttl"),
    ("no_duplicates", "nodupe_ttl"),
    ("suppress_duplicates", "nodupe_ttl"),
    ("cache_basis", "nodupe_basis"),
    ("cb", "nodupe_basis"),
    ("sdb", "nodupe_basis"),
    ("suppress_duplicates_basis", "nodupe_basis"),
    ("chmod", "permDefault"),
    ("default_mode", "permDefault"),
    ("chmod_dir", "permDirDefault"),
    ("default_dir_mode", "permDirDefault"),
    ("chmod_log", "permLog"),
    ("default_log_mode", "permLog"),
    ("content", "inline"),
    ("inl", "inline"),
    ("content_encoding", "inlineEncoding"),
    ("inline_encoding", "inlineEncoding"),
    ("content_max", "inlineByteMax"),
    ("inline_max", "inlineByteMax"),
    ("imx", "inlineByteMax"),
    ("d", "discard"),
    ("download-and-discard", "discard"),
    ("declare_exchange", "exchangeDeclare"),
    ("declare_queue", "queueDeclare"),
    ("destination_timezone", "timezone"),
    ("document_root", "documentRoot"),
    ("download_cp_command", "accelCpCommand"),
    ("e", "fileEvents"),
    ("events", "fileEvents"),
    ("ex", "exchange"),
    ("exchange_split", "exchangeSplit"),
    ("exchange_suffix", "exchangeSuffix"),
    ("expiry", "expire"),
    ("file_time_limit", "fileAgeMax"),
    ("nodupe_fileAgeMax", "fileAgeMax"),
    ("nodupe_fileAgeMin", "fileAgeMin"),
    ("fp", "force_polling"),
    ("fs", "follow_symlinks"),
    ("h", "header"),
    ("heartbeat", "housekeeping"),
    ("hb_memory_baseline_file", "MemoryBaseLineFile"),
    ("hb_memory_max", "MemoryMax"),
    ("hb_memory_multiplier", "MemoryMultiplier"),
    ("instance", "instances"),
    ("lock", "inflight"),
    ("log_format", "logFormat"),
    ("ll", "logLevel"),
    ("loglevel", "logLevel"),
    ("log_reject", "logReject"),
    ("logdays", "logRotateCount"),
    ("log_rotate", "logRotateCount"),
    ("logRotate", "logRotateCount"),
    ("logRotate_interval", "logRotateInterval"),
    ("manager", "feeder"),
    ("message-ttl", "post_messageAgeMax"),
    ("message_ttl", "post_messageAgeMax"),
    ("o", "overwrite"),
    ("on_msg", "on_message"),
    ("p", "path"),
    ("pm", "permCopy"),
    ("preserve_mode", "permCopy"),
    ("pt", "timeCopy"),
    ("preserve_time", "timeCopy"),
    ("post_base_dir", "post_baseDir"),
    ("post_basedir", "post_baseDir"),
    ("post_base_url", "post_baseUrl"),
    ("post_baseurl", "post_baseUrl"),
    ("post_document_root", "post_documentRoot"),
    ("post_exchange_split", "post_exchangeSplit"),
    ("post_exchange_suffix", "post_exchangeSuffix"),
    ("post_rate_limit", "messageRateMax"),
    ("post_topic_prefix", "post_topicPrefix"),
    ("qn", "queueName"),
    ("queue", "queueName"),
    ("queue_name", "queueName"),
    ("realpath", "realpathPost"),
    ("realpath_post", "realpathPost"),
    ("remoteUrl", "sendTo"),
    ("report_back", "report"),
    ("sanity_log_dead", "runStateThreshold_hung"),
    ("simulate", "dry_run"),
    ("simulation", "dry_run"),
    ("source_from_exchange", "sourceFromExchange"),
    ("sum", "identity"),
    ("integrity", "identity"),
    ("tls_rigour", "tlsRigour"),
    ("topic_prefix", "topicPrefix"),
    ("flowcb", "callback"),
    ("fcb", "callback"),
    ("flowCallback", "callback"),
    ("flow_callback", "callback"),
    ("flowcb_prepend", "callback_prepend"),
    ("fcbp", "callback_prepend"),
    ("cbp", "callback_prepend"),
    ("flowCallbackPrepend", "callback_prepend"),
    ("flow_callback_prepend", "callback_prepend"),
    ("s", "set"),
    ("setting", "set"),
];

/// The canonical keyword for `keyword` as written in a `component` configuration.
///
/// Component-dependent: `destination` is `sendTo`, but `pollUrl` in a poll; `broker` in a
/// poll is `post_broker`.
pub fn canonical(keyword: &str, component: Component) -> &str {
    match keyword {
        "destination" if component == Component::Poll => "pollUrl",
        "destination" => "sendTo",
        "broker" | "b" if component == Component::Poll => "post_broker",
        _ => SYNONYMS
            .iter()
            .find(|(old, _)| *old == keyword)
            .map_or(keyword, |(_, new)| new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_dependent() {
        assert_eq!(canonical("destination", Component::Sender), "sendTo");
        assert_eq!(canonical("destination", Component::Poll), "pollUrl");
        assert_eq!(canonical("broker", Component::Poll), "post_broker");
        assert_eq!(canonical("broker", Component::Subscribe), "broker");
    }

    #[test]
    fn plain() {
        assert_eq!(canonical("heartbeat", Component::Flow), "housekeeping");
        assert_eq!(canonical("h", Component::Flow), "header");
        assert_eq!(canonical("cb", Component::Flow), "nodupe_basis");
        assert_eq!(canonical("cbp", Component::Flow), "callback_prepend");
        assert_eq!(canonical("flowcb", Component::Flow), "callback");
        assert_eq!(canonical("batch", Component::Flow), "batch");
        assert_eq!(canonical("Batch", Component::Flow), "Batch");
    }

    #[test]
    fn targets_are_known_keywords() {
        let statements = [
            "include",
            "header",
            "set",
            "callback",
            "callback_prepend",
            "on_message",
        ];
        for (old, new) in SYNONYMS {
            assert!(
                crate::options::option_spec(new).is_some() || statements.contains(new),
                "{old} -> {new}"
            );
            assert!(
                crate::options::option_spec(old).is_none(),
                "{old} shadows an option"
            );
        }
    }
}
