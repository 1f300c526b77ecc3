//! The ONE table of options: the typed [`Options`] struct, its defaults, the parse dispatch,
//! `show` rendering and the documentation (OPTIONS.md) all come from the `options!` invocation
//! below. Defaults are sr3's *code* defaults (reference 3.6), not its documentation's.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::LazyLock;

use indexmap::IndexMap;

use crate::kind::{OptionKind, Slot, Strip};
use crate::masks::Mask;
use crate::secret::{ConfigUrl, mask_passwords_in_text};

/// One row of the option table.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    /// The keyword (case-sensitive, as in sr3).
    pub name: &'static str,
    /// How values are parsed and combined.
    pub kind: OptionKind,
    /// One line of help.
    pub help: &'static str,
}

/// A subscription binding made by a `subtopic` line.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// The exchange current at the `subtopic` line (`None`: the default, filled by finalize).
    pub exchange: Option<String>,
    /// The topicPrefix current at the `subtopic` line.
    pub topic_prefix: Vec<String>,
    /// The subtopic pattern as written (`*.WXO-DD.#`).
    pub subtopic: String,
}

/// Debug helper: prints a pre-rendered string verbatim.
struct Raw(String);

impl fmt::Debug for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn masked_debug<T: fmt::Debug>(v: &T) -> Raw {
    Raw(mask_passwords_in_text(&format!("{v:?}")))
}

const COUNT: OptionKind = OptionKind::Count;
const OPT_COUNT: OptionKind = OptionKind::OptCount;
const SIZE: OptionKind = OptionKind::Size;
const DUR: OptionKind = OptionKind::Duration { on: None };
const OPT_DUR: OptionKind = OptionKind::OptDuration;
const FLOAT: OptionKind = OptionKind::Float;
const FLAG: OptionKind = OptionKind::Flag;
const LIST: OptionKind = OptionKind::List;
const CSV: OptionKind = OptionKind::CsvList;
const STR: OptionKind = OptionKind::Str;
const URL: OptionKind = OptionKind::Url;
const OCTAL: OptionKind = OptionKind::Octal;
const TOPIC: OptionKind = OptionKind::TopicPrefix;
const OPT_TOPIC: OptionKind = OptionKind::OptTopicPrefix;

/// The file events sr3 knows (`fileEvents`).
pub const FILE_EVENTS: &[&str] = &["create", "delete", "link", "mkdir", "modify", "rmdir"];

/// The callback entry points plus `reject` and `nodupe` (`logEvents`).
pub const LOG_EVENTS: &[&str] = &[
    "ack",
    "after_accept",
    "after_post",
    "after_work",
    "destfn",
    "download",
    "gather",
    "metricsReport",
    "nodupe",
    "on_cleanup",
    "on_declare",
    "on_features",
    "on_housekeeping",
    "on_sanity",
    "on_start",
    "on_stop",
    "please_stop",
    "poll",
    "post",
    "reject",
    "report",
    "send",
];

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn words(v: &[&str]) -> Vec<String> {
    v.iter().map(|w| (*w).to_string()).collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|w| (*w).to_string()).collect()
}

macro_rules! options {
    ( $( $field:ident : $ty:ty = $default:expr ; $name:literal ; $kind:expr ; $help:literal ; )* ) => {
        /// The typed, resolved options of one flow.
        ///
        /// Table fields come from the `options!` table (see OPTIONS.md); the fields after them
        /// hold the statements (masks, bindings, headers, `set`, `declare`, callbacks, kept
        /// unknown keywords). `Debug` masks passwords.
        #[derive(Clone, PartialEq)]
        pub struct Options {
            $( #[doc = $help] pub $field: $ty, )*
            /// `accept`/`reject` masks, in order, each with the placement options current at its line.
            pub masks: Vec<Mask>,
            /// `subtopic` bindings, in order.
            pub bindings: Vec<Binding>,
            /// `header name=value`: fixed headers added to every message.
            pub headers: IndexMap<String, String>,
            /// `set <module.Class>.<option> value` pairs for callbacks.
            pub settings: IndexMap<String, String>,
            /// `declare env NAME=value` variables (used by variable expansion; never exported).
            pub env: IndexMap<String, String>,
            /// `declare source|subscriber <user>` (and `feeder`): user -> role.
            pub declared_users: IndexMap<String, String>,
            /// `declare exchange <x>`.
            pub declared_exchanges: Vec<String>,
            /// `declare option <name>`: plugin options that are not reported as unknown.
            pub declared_options: Vec<String>,
            /// `callback` (`flowcb`, `fcb`, `flowCallback`): callbacks appended, in order.
            pub callbacks: Vec<String>,
            /// `callback_prepend` (`cbp`, `flowcb_prepend`): callbacks to run first, in order.
            pub callbacks_prepend: Vec<String>,
            /// `import <module>`.
            pub imports: Vec<String>,
            /// v2 plugin lines (`on_message`, `plugin`, ...): kept, not supported.
            pub v2_plugins: Vec<(String, String)>,
            /// Unknown keywords, kept for callbacks: (keyword, value).
            pub extra: Vec<(String, String)>,
        }

        impl Default for Options {
            fn default() -> Self {
                Options {
                    $( $field: $default, )*
                    masks: Vec::new(),
                    bindings: Vec::new(),
                    headers: IndexMap::new(),
                    settings: IndexMap::new(),
                    env: IndexMap::new(),
                    declared_users: IndexMap::new(),
                    declared_exchanges: Vec::new(),
                    declared_options: Vec::new(),
                    callbacks: Vec::new(),
                    callbacks_prepend: Vec::new(),
                    imports: Vec::new(),
                    v2_plugins: Vec::new(),
                    extra: Vec::new(),
                }
            }
        }

        /// Every option, in table order (the order of `show` and OPTIONS.md).
        pub static OPTIONS: &[OptionSpec] = &[
            $( OptionSpec { name: $name, kind: $kind, help: $help }, )*
        ];

        impl Options {
            pub(crate) fn slot_mut(&mut self, name: &str) -> Option<&mut dyn Slot> {
                match name {
                    $( $name => Some(&mut self.$field), )*
                    _ => None,
                }
            }

            pub(crate) fn slot(&self, name: &str) -> Option<&dyn Slot> {
                match name {
                    $( $name => Some(&self.$field), )*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for Options {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct("Options");
                $( d.field(stringify!($field), &masked_debug(&self.$field)); )*
                d.field("masks", &masked_debug(&self.masks));
                d.field("bindings", &masked_debug(&self.bindings));
                d.field("headers", &masked_debug(&self.headers));
                d.field("settings", &masked_debug(&self.settings));
                d.field("env", &masked_debug(&self.env));
                d.field("declared_users", &masked_debug(&self.declared_users));
                d.field("declared_exchanges", &masked_debug(&self.declared_exchanges));
                d.field("declared_options", &masked_debug(&self.declared_options));
                d.field("callbacks", &masked_debug(&self.callbacks));
                d.field("callbacks_prepend", &masked_debug(&self.callbacks_prepend));
                d.field("imports", &masked_debug(&self.imports));
                d.field("v2_plugins", &masked_debug(&self.v2_plugins));
                d.field("extra", &masked_debug(&self.extra));
                d.finish()
            }
        }
    };
}

options! {
    // --- broker, exchange, queue --------------------------------------------------------------
    broker: Option<ConfigUrl> = None; "broker"; URL;
        "Broker to consume from: amqp[s]|mqtt[s|w|ws]://user@host[:port]/vhost (password from credentials.conf). In a poll, `broker` means post_broker.";
    exchange: Option<String> = None; "exchange"; STR;
        "Exchange to bind to; affects the following subtopic lines. Default: xpublic for an anonymous broker user, else xs_<user>[_<exchangeSuffix>].";
    exchange_suffix: Option<String> = None; "exchangeSuffix"; STR;
        "Suffix of the default exchange name xs_<user>_<suffix> (only when exchange is not given).";
    exchange_split: u64 = 0; "exchangeSplit"; COUNT;
        "Consumer side of post_exchangeSplit: append the instance number to the exchange.";
    topic_prefix: Vec<String> = words(&["v03"]); "topicPrefix"; TOPIC;
        "First topic words of bindings (split on `.`, or `/` when present); affects following subtopic lines.";
    topic: Option<String> = None; "topic"; STR;
        "Literal subscription topic, overriding topicPrefix+subtopic.";
    queue_name: Option<String> = None; "queueName"; STR;
        "Queue name. Default q_<brokerUser>.<component>.<config>.<queueShare>; should start with q_<user>.";
    queue_share: Option<String> = s("${USER}_${HOSTNAME}_${RAND8}"); "queueShare"; STR;
        "Sharing scope of the default queue name (expanded once; the caller persists the queue name).";
    queue_declare: bool = true; "queueDeclare"; FLAG;
        "Declare the queue (turn off on restrictive brokers).";
    queue_bind: bool = true; "queueBind"; FLAG;
        "Bind the queue to the exchange.";
    exchange_declare: bool = true; "exchangeDeclare"; FLAG;
        "Declare the post exchange.";
    durable: bool = true; "durable"; FLAG;
        "Durable queues and exchanges.";
    auto_delete: bool = false; "auto_delete"; FLAG;
        "Delete the queue when the last consumer disconnects.";
    persistent: bool = true; "persistent"; FLAG;
        "Publish messages as persistent (AMQP delivery_mode 2).";
    expire: Option<f64> = None; "expire"; OPT_DUR;
        "Queue idle expiry (AMQP x-expires, MQTT session expiry). Code default: none (the queue never expires).";
    message_age_max: f64 = 0.0; "messageAgeMax"; DUR;
        "Reject (504) messages older than this; also the queue's x-message-ttl. 0 = off.";
    post_message_age_max: f64 = 0.0; "post_messageAgeMax"; DUR;
        "Per-message time to live when publishing. 0 = off.";
    prefetch: u64 = 25; "prefetch"; COUNT;
        "Unacknowledged messages the broker may send ahead (AMQP basic.qos).";
    batch: u64 = 25; "batch"; COUNT;
        "Maximum messages per gather, and files per transfer connection.";
    instances: u64 = 1; "instances"; COUNT;
        "Processes sharing the queue (forced to 1 for poll and post).";
    transfer_concurrency: u64 = 4; "transferConcurrency"; COUNT;
        "Pitcher only: how many transfers one instance runs at once.";
    qos: u64 = 1; "qos"; COUNT;
        "MQTT quality of service.";
    receive_maximum: Option<u64> = None; "receiveMaximum"; OPT_COUNT;
        "MQTT v5 Receive Maximum (None: use prefetch).";
    max_inflight_messages: u64 = 20000; "max_inflight_messages"; COUNT;
        "MQTT: maximum unacknowledged published messages.";
    clean_session: bool = false; "clean_session"; FLAG;
        "MQTT: start with a clean session.";
    amqp_consumer: bool = false; "amqp_consumer"; FLAG;
        "AMQP: use basic_consume instead of basic_get.";
    tls_rigour: Option<String> = s("normal"); "tlsRigour"; STR;
        "TLS certificate checking: lax, normal or strict.";
    ssh_accept_unknown_hosts: bool = false; "sshAcceptUnknownHosts"; FLAG;
        "Pitcher only: SFTP accepts host keys missing from known_hosts (with a warning; a changed key is always refused).";
    ssh_known_hosts: Option<String> = None; "sshKnownHosts"; STR;
        "Pitcher only: SFTP known_hosts file (default ~/.ssh/known_hosts).";
    // --- selection and placement ----------------------------------------------------------------
    accept_unmatched: bool = true; "acceptUnmatched"; FLAG;
        "Accept messages that match no accept/reject mask.";
    directory: Option<String> = None; "directory"; STR;
        "Destination directory for the following accept lines (code default: unset).";
    mirror: bool = true; "mirror"; FLAG;
        "Keep the source directory tree under the destination directory (subscribe: off).";
    strip: Strip = Strip::Count(0); "strip"; OptionKind::Strip;
        "Remove N leading path elements, or the first match of a regex, from the relative path.";
    flatten: Option<String> = s("/"); "flatten"; STR;
        "Join path elements with this string into the file name (`/` = off).";
    filename: Option<String> = None; "filename"; STR;
        "Sundew file name rewriting for following accepts: WHATFN, HEADFN, NONE, TIME, DESTFN=name.";
    rename: Option<String> = None; "rename"; STR;
        "Poster: announce under this relative path (ending `/` = directory).";
    base_dir: Option<String> = None; "baseDir"; STR;
        "Local root of the relative paths in messages (sender reads baseDir/relPath).";
    base_url_rel_path: bool = false; "baseUrl_relPath"; FLAG;
        "Prefix the path of the baseUrl to the relative path.";
    document_root: Option<String> = None; "documentRoot"; STR;
        "Deprecated: use baseDir.";
    post_document_root: Option<String> = None; "post_documentRoot"; STR;
        "Deprecated: use post_baseDir.";
    // --- posting ----------------------------------------------------------------------------------
    post_broker: Option<ConfigUrl> = None; "post_broker"; URL;
        "Broker to publish to.";
    post_exchange: Option<String> = None; "post_exchange"; STR;
        "Exchange to publish to. Default xs_<post broker user>[_<post_exchangeSuffix>].";
    post_exchange_split: u64 = 0; "post_exchangeSplit"; COUNT;
        "Publish to N exchanges <post_exchange>00..N-1, chosen by checksum.";
    post_exchange_suffix: Option<String> = None; "post_exchangeSuffix"; STR;
        "Suffix of the default post exchange name.";
    post_base_url: Option<ConfigUrl> = None; "post_baseUrl"; URL;
        "baseUrl of re-posted messages (poll: pollUrl; sender: sendTo).";
    post_base_dir: Option<String> = None; "post_baseDir"; STR;
        "Removed from local paths to make the posted relPath (falls back to post_documentRoot, documentRoot, a file:/sftp: post_baseUrl path, baseDir).";
    post_topic_prefix: Option<Vec<String>> = None; "post_topicPrefix"; OPT_TOPIC;
        "First topic words when publishing (default: topicPrefix).";
    post_topic: Option<String> = None; "post_topic"; STR;
        "Literal topic when publishing.";
    post_format: Option<String> = s("v03"); "post_format"; STR;
        "Message format when publishing: v03, v02 or wis (taken from post_topicPrefix when it starts with v02/v03).";
    send_to: Option<ConfigUrl> = None; "sendTo"; URL;
        "Sender: destination server URL (`destination` in old configs).";
    poll_url: Option<ConfigUrl> = None; "pollUrl"; URL;
        "Poll: the server to list (`destination` in a poll).";
    topic_copy: bool = false; "topicCopy"; FLAG;
        "Re-publish with the received topic verbatim.";
    report: bool = false; "report"; FLAG;
        "Publish reports.";
    report_exchange: Option<String> = None; "report_exchange"; STR;
        "Exchange for reports (default xr_<user>, or xreport for feeder/admin).";
    source: Option<String> = None; "source"; STR;
        "Message source (default: post_broker user, else broker user).";
    source_from_exchange: bool = false; "sourceFromExchange"; FLAG;
        "Take the source from the xs_<user> exchange name.";
    source_from_message: bool = false; "sourceFromMessage"; FLAG;
        "Trust the source field of incoming messages.";
    cluster: Option<String> = None; "cluster"; STR;
        "Name of this cluster (from_cluster of posted messages).";
    // --- gathering (post, watch, poll) ------------------------------------------------------------
    path: Vec<String> = Vec::new(); "path"; LIST;
        "post/watch: files or directories; poll: remote directories. Each line appends.";
    sleep: f64 = 0.1; "sleep"; DUR;
        "Main loop period (post: -1 = exit when nothing is gathered; watch: 5).";
    scheduled_interval: f64 = 0.0; "scheduled_interval"; DUR;
        "Poll: run every this many seconds.";
    scheduled_hour: Vec<String> = Vec::new(); "scheduled_hour"; CSV;
        "Poll: hours (UTC) to run at, comma-separated.";
    scheduled_minute: Vec<String> = Vec::new(); "scheduled_minute"; CSV;
        "Poll: minutes to run at, comma-separated.";
    scheduled_time: Vec<String> = Vec::new(); "scheduled_time"; CSV;
        "Poll: times HH:MM (UTC) to run at, comma-separated.";
    housekeeping: f64 = 300.0; "housekeeping"; DUR;
        "Housekeeping period (`heartbeat` is a synonym).";
    vip: Vec<String> = Vec::new(); "vip"; LIST;
        "Active only on the node holding one of these IP addresses.";
    file_events: BTreeSet<String> = set(FILE_EVENTS); "fileEvents"; OptionKind::Set { choices: FILE_EVENTS };
        "Which file events to post or apply.";
    follow_symlinks: bool = false; "follow_symlinks"; FLAG;
        "watch/post: follow symbolic links.";
    force_polling: bool = false; "force_polling"; FLAG;
        "watch: poll the tree instead of using file system events.";
    recursive: bool = true; "recursive"; FLAG;
        "watch/post/poll: descend into subdirectories.";
    realpath_post: bool = false; "realpathPost"; FLAG;
        "Post the real path (symbolic links resolved).";
    post_on_start: bool = false; "post_on_start"; FLAG;
        "watch: post every existing file at start.";
    timezone: Option<String> = s("UTC"); "timezone"; STR;
        "Poll: time zone of remote listings.";
    // --- duplicate suppression --------------------------------------------------------------------
    nodupe_ttl: f64 = 0.0; "nodupe_ttl"; OptionKind::Duration { on: Some(300.0) };
        "Duplicate suppression memory (`on` = 300). Code default 0; poll 25200; winnow 300 (Pitcher decision).";
    nodupe_basis: Option<String> = s("path"); "nodupe_basis"; STR;
        "What identifies a duplicate: path, name or data.";
    nodupe_driver: Option<String> = s("disk"); "nodupe_driver"; STR;
        "Duplicate cache storage: disk or redis.";
    nodupe_redis_serverurl: Option<ConfigUrl> = None; "nodupe_redis_serverurl"; URL;
        "Redis server for nodupe_driver redis.";
    file_age_max: f64 = 0.0; "fileAgeMax"; DUR;
        "Reject files older than this (0 = off; poll: 30d).";
    inflight: Option<String> = None; "inflight"; OptionKind::Inflight;
        "Temporary naming while writing: .suffix, prefix., directory/, NONE, or a duration (posters: = fileAgeMin).";
    file_age_min: f64 = 0.0; "fileAgeMin"; DUR;
        "Files younger than this are not processed yet.";
    // --- retries and timeouts ---------------------------------------------------------------------
    attempts: u64 = 3; "attempts"; COUNT;
        "Transfer attempts before queueing for retry.";
    retry_ttl: Option<f64> = None; "retry_ttl"; OPT_DUR;
        "Retry queue lifetime (default: expire; unset = never expire).";
    retry_refilter: bool = false; "retry_refilter"; FLAG;
        "Retries re-run the filter instead of resending as-is.";
    retry_driver: Option<String> = s("disk"); "retry_driver"; STR;
        "Retry queue storage: disk or redis.";
    retry_empty_before_exit: bool = false; "retryEmptyBeforeExit"; FLAG;
        "post: wait for the post retry queue to drain before exiting.";
    timeout: f64 = 300.0; "timeout"; DUR;
        "Transfer, connection and publish timeout.";
    // --- checksums, inlining, partitioning --------------------------------------------------------
    identity: Option<String> = s("sha512"); "identity"; OptionKind::Identity;
        "Checksum method: sha512, md5, cod,<method>, random, arbitrary, none (v2 forms s, d, z,d accepted).";
    inline: bool = false; "inline"; FLAG;
        "Put file contents in the message.";
    inline_byte_max: u64 = 4096; "inlineByteMax"; SIZE;
        "Largest file to inline.";
    inline_encoding: Option<String> = s("guess"); "inlineEncoding"; STR;
        "Inline encoding: guess, text or binary.";
    inline_only: bool = false; "inlineOnly"; FLAG;
        "Drop messages whose content is not inlined.";
    inplace: bool = true; "inplace"; FLAG;
        "Legacy v2 partition handling (accepted, no effect).";
    block_size: u64 = 0; "blockSize"; SIZE;
        "Partition size: 0 = automatic, 1 = never partition (post/watch/poll: 1).";
    block_manifest_delete: bool = false; "block_manifest_delete"; FLAG;
        "Delete the block manifest after reassembly.";
    // --- transfers ----------------------------------------------------------------------------------
    buf_size: u64 = 1_048_576; "bufSize"; SIZE;
        "I/O chunk size.";
    byte_rate_max: u64 = 0; "byteRateMax"; SIZE;
        "Transfer bandwidth limit in bytes per second (0 = none).";
    accel_threshold: u64 = 0; "accelThreshold"; SIZE;
        "Use an external program for files larger than this (0 = never).";
    accel_wget_command: Option<String> = s("/usr/bin/wget %s -o - -O %d"); "accelWgetCommand"; STR;
        "Accelerator for http(s) (%s source, %d destination).";
    accel_scp_command: Option<String> = s("/usr/bin/scp %s %d"); "accelScpCommand"; STR;
        "Accelerator for sftp.";
    accel_cp_command: Option<String> = s("/usr/bin/cp %s %d"); "accelCpCommand"; STR;
        "Accelerator for file.";
    accel_ftpget_command: Option<String> = s("/usr/bin/ncftpget %s %d"); "accelFtpgetCommand"; STR;
        "Accelerator for ftp downloads.";
    accel_ftpput_command: Option<String> = s("/usr/bin/ncftpput %s %d"); "accelFtpputCommand"; STR;
        "Accelerator for ftp uploads.";
    perm_default: u32 = 0; "permDefault"; OCTAL;
        "Mode of written files (0 = leave to umask); in a poll, the minimum mode of listed files.";
    perm_dir_default: u32 = 0o775; "permDirDefault"; OCTAL;
        "Mode of created directories.";
    perm_log: u32 = 0o600; "permLog"; OCTAL;
        "Mode of log files.";
    perm_copy: bool = true; "permCopy"; FLAG;
        "Poster: include the mode; receiver: apply it.";
    time_copy: bool = true; "timeCopy"; FLAG;
        "Poster: include mtime/atime; receiver: apply them.";
    overwrite: bool = true; "overwrite"; FLAG;
        "Overwrite existing files (off: reject 204 when the file exists).";
    delete: bool = false; "delete"; FLAG;
        "Delete the source after downloading.";
    discard: bool = false; "discard"; FLAG;
        "Delete the local file after downloading.";
    download: bool = false; "download"; FLAG;
        "Download files (subscribe, sarra, sender: on).";
    accept_size_wrong: bool = false; "acceptSizeWrong"; FLAG;
        "Accept downloads whose size differs from the message.";
    file_size_max: u64 = 0; "fileSizeMax"; SIZE;
        "Reject (413) files larger than this (0 = no limit).";
    dry_run: bool = false; "dry_run"; FLAG;
        "Do no transfers, only log what would be done.";
    // --- logging, metrics, run state --------------------------------------------------------------
    log_level: Option<String> = s("info"); "logLevel"; STR;
        "Log level: debug, info, warning, error, critical, none (`debug` alone = logLevel debug).";
    log_reject: bool = false; "logReject"; FLAG;
        "Log rejected messages (adds reject to logEvents).";
    log_duplicates: bool = false; "logDuplicates"; FLAG;
        "Log duplicates (adds nodupe to logEvents).";
    log_events: BTreeSet<String> = set(&["after_accept", "after_post", "after_work", "on_housekeeping"]); "logEvents"; OptionKind::Set { choices: LOG_EVENTS };
        "Which events are logged.";
    log_message_dump: bool = false; "logMessageDump"; FLAG;
        "Log whole messages.";
    log_format: Option<String> = s("%(asctime)s [%(levelname)s] %(name)s %(funcName)s %(message)s"); "logFormat"; STR;
        "Log line format (sr3/Python style).";
    log_stdout: bool = false; "logStdout"; FLAG;
        "Log to standard output instead of files.";
    log_json: bool = false; "logJson"; FLAG;
        "Log in JSON.";
    log_metrics: bool = false; "logMetrics"; FLAG;
        "Keep a daily metrics log.";
    log_rotate_count: u64 = 5; "logRotateCount"; COUNT;
        "Rotated log files kept.";
    log_rotate_interval: f64 = 86_400.0; "logRotateInterval"; DUR;
        "Log rotation period.";
    message_count_max: u64 = 0; "messageCountMax"; COUNT;
        "Exit after this many messages (0 = never); caps batch.";
    message_rate_max: f64 = 0.0; "messageRateMax"; FLOAT;
        "Throttle to this many messages per second (0 = off).";
    message_rate_min: f64 = 0.0; "messageRateMin"; FLOAT;
        "Warn below this many messages per second (0 = off).";
    metrics_write_interval: f64 = 5.0; "metrics_writeInterval"; DUR;
        "How often metrics are written.";
    run_state_threshold_hung: f64 = 450.0; "runStateThreshold_hung"; DUR;
        "status: hung after this long without housekeeping.";
    run_state_threshold_idle: f64 = 900.0; "runStateThreshold_idle"; DUR;
        "status: idle after this long without messages.";
    run_state_threshold_lag: f64 = 30.0; "runStateThreshold_lag"; DUR;
        "status: lagging above this lag.";
    run_state_threshold_reject: u64 = 80; "runStateThreshold_reject"; COUNT;
        "status: bad above this reject percentage.";
    run_state_threshold_retry: u64 = 1000; "runStateThreshold_retry"; COUNT;
        "status: retry above this many queued retries.";
    run_state_threshold_slow: u64 = 0; "runStateThreshold_slow"; COUNT;
        "status: slow below this transfer rate (0 = off).";
    run_state_threshold_cpu_slow: u64 = 0; "runStateThreshold_cpuSlow"; COUNT;
        "status: slow above this CPU use (0 = off).";
    statehost: bool = false; "statehost"; FLAG;
        "Per-host state and log directories.";
    memory_max: u64 = 0; "MemoryMax"; SIZE;
        "Restart above this memory use (0 = automatic).";
    memory_base_line_file: u64 = 100; "MemoryBaseLineFile"; COUNT;
        "Files processed before measuring the memory baseline.";
    memory_multiplier: f64 = 3.0; "MemoryMultiplier"; FLOAT;
        "Automatic MemoryMax = baseline times this.";
    // --- miscellaneous ------------------------------------------------------------------------------
    var_time_offset: f64 = 0.0; "varTimeOffset"; DUR;
        "Shift applied to date substitutions (may be negative).";
    flow_main: Option<String> = None; "flowMain"; STR;
        "flow: which component's main loop to run.";
    users: bool = false; "users"; FLAG;
        "With declare: create broker users.";
    randomize: bool = false; "randomize"; FLAG;
        "Pick a random checksum method per file (testing).";
    v2compat_rename_double_post: bool = false; "v2compatRenameDoublePost"; FLAG;
        "Compatibility: post renames twice, as v2 did.";
    sundew_compat_regex_first_match_is_zero: bool = false; "sundew_compat_regex_first_match_is_zero"; FLAG;
        "Compatibility: ${0} is the first regex group (Sundew numbering).";
    admin: Option<ConfigUrl> = None; "admin"; URL;
        "admin.conf: the broker administrator account.";
    feeder: Option<ConfigUrl> = None; "feeder"; URL;
        "admin.conf: the feeder account (`manager` is a synonym).";
}

/// Statements handled by the parser (not plain options), for documentation.
pub static STATEMENTS: &[(&str, &str)] = &[
    (
        "include <file>",
        "Parse another file in place (`config` is a synonym); searched next to the including file, then in the configuration root.",
    ),
    (
        "accept <regex> [filename-option]",
        "Accept matching URLs, placing them with the directory/mirror/strip/flatten/filename current at this line.",
    ),
    ("reject <regex>", "Reject (404) matching URLs."),
    (
        "subtopic <pattern>",
        "Bind to exchange/topicPrefix current at this line; `subtopic None` clears the bindings.",
    ),
    (
        "header <name>=<value>",
        "Add a fixed header to every message (`h` is a synonym).",
    ),
    (
        "set <module.Class>.<option> <value>",
        "Setting for a callback (`s`, `setting`).",
    ),
    (
        "declare env <NAME>=<value>",
        "Variable for ${NAME} expansion (`envvar`, `var`, `value`); never exported.",
    ),
    (
        "declare source|subscriber <user>",
        "Declare a broker user role.",
    ),
    ("declare exchange <x>", "Declare an exchange."),
    (
        "declare option <name>",
        "Declare a callback option so it is not reported as unknown.",
    ),
    (
        "callback <name>",
        "Add a callback (`flowcb`, `fcb`, `flowCallback`).",
    ),
    (
        "callback_prepend <name>",
        "Add a callback that runs first (`flowcb_prepend`, `cbp`).",
    ),
    ("import <module>", "Import a module (kept for the caller)."),
    ("debug", "Same as logLevel debug."),
];

static INDEX: LazyLock<HashMap<&'static str, usize>> = LazyLock::new(|| {
    OPTIONS
        .iter()
        .enumerate()
        .map(|(i, o)| (o.name, i))
        .collect()
});

static LOWER: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    OPTIONS
        .iter()
        .map(|o| (o.name.to_ascii_lowercase(), o.name))
        .collect()
});

/// The canonical option name matching `name` case-insensitively (for generic `${NAME}`).
pub(crate) fn option_by_lowercase(name: &str) -> Option<&'static str> {
    LOWER.get(&name.to_ascii_lowercase()).copied()
}

/// The table row of an option, by its canonical keyword.
pub fn option_spec(name: &str) -> Option<&'static OptionSpec> {
    INDEX.get(name).and_then(|i| OPTIONS.get(*i))
}

impl Options {
    /// The values of an option in config syntax (URLs masked), or `None` if no such option.
    pub fn render_option(&self, name: &str) -> Option<Vec<String>> {
        let spec = option_spec(name)?;
        Some(self.slot(name)?.render(spec.kind))
    }

    /// The flatten separator (`/` when unset).
    pub fn flatten_str(&self) -> &str {
        self.flatten.as_deref().unwrap_or("/")
    }

    /// The exchanges to publish to: `post_exchange`, or `post_exchange00..NN` when split.
    pub fn post_exchanges(&self) -> Vec<String> {
        let Some(x) = &self.post_exchange else {
            return Vec::new();
        };
        if self.post_exchange_split > 1 {
            (0..self.post_exchange_split)
                .map(|i| format!("{x}{i:02}"))
                .collect()
        } else {
            vec![x.clone()]
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::kind::SlotError;

    fn sample(kind: OptionKind) -> &'static str {
        match kind {
            OptionKind::Count | OptionKind::OptCount | OptionKind::Size => "2k",
            OptionKind::Duration { .. } | OptionKind::OptDuration => "1h30m",
            OptionKind::Float => "1.5",
            OptionKind::Flag => "on",
            OptionKind::List | OptionKind::CsvList | OptionKind::Str => "x",
            OptionKind::Set { choices } => choices.first().copied().unwrap_or("x"),
            OptionKind::Url => "amqps://u@h/",
            OptionKind::Octal => "0o640",
            OptionKind::TopicPrefix | OptionKind::OptTopicPrefix => "v02.post",
            OptionKind::Strip => "2",
            OptionKind::Inflight => ".tmp",
            OptionKind::Identity => "md5",
        }
    }

    /// Every row's Rust type fits its kind, and rendering parses back to the same value.
    #[test]
    fn table_types_fit_kinds_and_round_trip() {
        for spec in OPTIONS {
            let mut o = Options::default();
            let r = o
                .slot_mut(spec.name)
                .unwrap()
                .set(spec.kind, sample(spec.kind));
            assert_ne!(r, Err(SlotError::Internal), "{}", spec.name);
            assert!(r.is_ok(), "{}: {r:?}", spec.name);
            let rendered = o.render_option(spec.name).unwrap();
            let mut p = Options::default();
            if matches!(spec.kind, OptionKind::List | OptionKind::CsvList) {
                p.slot_mut(spec.name)
                    .unwrap()
                    .set(spec.kind, "None")
                    .unwrap();
            }
            for v in &rendered {
                p.slot_mut(spec.name).unwrap().set(spec.kind, v).unwrap();
            }
            assert_eq!(
                o.render_option(spec.name),
                p.render_option(spec.name),
                "{}",
                spec.name
            );
        }
    }

    #[test]
    fn names_are_unique_and_indexed() {
        let mut seen = std::collections::HashSet::new();
        for spec in OPTIONS {
            assert!(seen.insert(spec.name), "duplicate {}", spec.name);
            assert!(option_spec(spec.name).is_some());
            assert!(!spec.help.is_empty());
        }
        assert!(option_spec("nope").is_none());
    }

    #[test]
    fn debug_masks_passwords() {
        let o = Options {
            broker: Some(ConfigUrl::new("amqps://u:hunter2@h/")),
            extra: vec![("x_url".into(), "sftp://a:hunter3@b".into())],
            ..Options::default()
        };
        let d = format!("{o:?}");
        assert!(!d.contains("hunter2") && !d.contains("hunter3"), "{d}");
        assert!(d.contains("batch: 25"));
    }

    #[test]
    fn shareable_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Options>();
        send_sync::<crate::load::LoadedFlow>();
        send_sync::<crate::expand::Expander>();
        send_sync::<crate::credentials::CredentialDb>();
        send_sync::<crate::error::ConfigError>();
    }

    #[test]
    fn post_exchanges_split() {
        let mut o = Options {
            post_exchange: Some("xs_a".into()),
            ..Options::default()
        };
        assert_eq!(o.post_exchanges(), vec!["xs_a"]);
        o.post_exchange_split = 3;
        assert_eq!(o.post_exchanges(), vec!["xs_a00", "xs_a01", "xs_a02"]);
    }
}
