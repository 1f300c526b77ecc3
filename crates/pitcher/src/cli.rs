//! The command line: `pitcher [global options] <verb> [component/config ...] [--<option> <value> ...]`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Exit codes, documented in `--help`.
pub mod exit_code {
    /// Success.
    pub const OK: i32 = 0;
    /// A runtime failure (I/O, a peer, ...).
    pub const FAILURE: i32 = 1;
    /// Bad command line (usage printed).
    pub const USAGE: i32 = 2;
    /// A configuration error (file, line and option named).
    pub const CONFIG: i32 = 3;
}

const AFTER_HELP: &str = "\
Configurations are sr3 configuration files: <config dir>/<component>/<config>.conf, with
admin.conf, default.conf and credentials.conf at the top of the tree. The config dir is
--config-dir, else $PITCHER_CONFIG_DIR, else $XDG_CONFIG_HOME/pitcher, else ~/.config/pitcher.
An existing sr3 tree works as is: pitcher --config-dir ~/.config/sr3 list

Exit codes: 0 success, 1 runtime failure, 2 bad command line, 3 configuration error.";

const START_HELP: &str = "\
Each instance is `pitcher foreground --instance N component/config` in its own process group,
with its pid in <state dir>/<component>/<config>/i_NN.pid and its log in
<state dir>/log/<component>_<config>_NN.log, rotated daily at local midnight to
<name>.log.YYYY-MM-DD (logRotateInterval, logRotateCount: 5 kept). The state dir is
$PITCHER_STATE_DIR, else $XDG_CACHE_HOME/pitcher, else ~/.cache/pitcher.
Instances already running are left alone; disabled flows are skipped; a post is started only if
it loops (sleep > 0 and path set). An instance that dies at once is reported with its log.

Exit codes: 0 success, 1 an instance could not be started, 2 bad command line,
3 configuration error (nothing is started for that flow).";

const STOP_HELP: &str = "\
Only processes whose command line really is that flow's `pitcher foreground` are signalled, so a
stale pid file whose pid was reused by another program is only removed. Instances run by hand
with `pitcher foreground` are left running. Instances still alive after SIGKILL are reported.

Exit codes: 0 success, 1 an instance survived SIGKILL, 2 bad command line, 3 configuration
error.";

const STATUS_HELP: &str = "\
States: running, partial (fewer instances than configured), hung (an instance wrote no metrics
for runStateThreshold_hung, default 450 s), foreground (run by hand), stopped, disabled,
bad-config, removed (its configuration is gone but instances run).
Columns: Run = running/expected instances; Received, Accepted, Rejected, Files, Bytes, Posted
count since the running instances started; Retry = entries in the work and post retry queues;
Lag = lag of the last accepted message, LagMax = the largest. --json gives the same per flow,
plus duplicates, failures, average lag and pids.

Exit codes: 0 (also when flows are stopped or broken), 2 bad command line, 3 configuration
error.";

/// Pitcher: a fast, safe data pump compatible with MetPX-Sarracenia v3 (sr3).
#[derive(Debug, Parser)]
#[command(name = "pitcher", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Configuration tree to use (default: $PITCHER_CONFIG_DIR, else ~/.config/pitcher); e.g. ~/.config/sr3.
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,

    /// Log level: error, warn, info, debug, trace (default: info for verbs that run flows,
    /// warn for the others).
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// Internal (set by `start` for the instances it launches): log to this file, rotating it,
    /// and point stdout/stderr at it, instead of logging to stderr.
    #[arg(long, global = true, hide = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,

    /// Internal: rotated log files kept (logRotateCount; 0 keeps all).
    #[arg(long, global = true, hide = true, default_value_t = 5)]
    pub log_rotate_count: u64,

    /// Internal: seconds between log rotations (logRotateInterval; a day or more rotates at
    /// local midnight).
    #[arg(long, global = true, hide = true, default_value_t = 86_400.0)]
    pub log_rotate_interval: f64,

    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// List the configured flows (component/config) and include files.
    #[command(after_help = "Exit codes: 0 success, 1 the config dir cannot be read.")]
    List,

    /// Print the fully resolved options of flows, one `option value` per line (passwords masked).
    #[command(after_help = "\
The output is in configuration-file syntax: built-in defaults, admin.conf, default.conf, the
component's defaults, the flow's file and the command line, layered exactly as sr3 does.
Any option can be given after the flow as --<option> <value> (a flag alone means on), e.g.
    pitcher show subscribe/wx --batch 100 --debug

Exit codes: 0 success, 2 bad command line, 3 configuration error.")]
    Show {
        /// The flow(s) to show, as component/config (e.g. subscribe/wx; `.conf` may be omitted),
        /// followed by options overriding the configuration: --<option> <value> ...
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMPONENT/CONFIG [--OPTION VALUE]"
        )]
        args: Vec<String>,
    },

    /// Create a flow's queue and bindings and its post exchanges on the brokers (AMQP), plus the
    /// exchanges admin.conf declares.
    #[command(after_help = "\
The queue name chosen the first time (q_<user>.<component>.<config>.<random>) is saved in the
flow's state directory (~/.cache/pitcher/<component>/<config>/, or $PITCHER_STATE_DIR) and reused,
unless the configuration sets queueName.

Exit codes: 0 success, 1 a broker refused or could not be reached, 2 bad command line,
3 configuration error.")]
    Declare {
        /// The flow(s), as component/config, then any --<option> <value> overrides.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMPONENT/CONFIG [--OPTION VALUE]"
        )]
        args: Vec<String>,
    },

    /// Run the embedded MQTT v5 broker in the foreground (until interrupted).
    #[command(after_help = "\
Flows use it like any MQTT broker: broker mqtt://localhost:25883 (or the port given).
Sessions and queued messages are kept in the data directory across restarts.
A password file holds `user:<argon2 hash>` lines; `pitcher broker --hash-password USER`
reads a password on standard input and prints such a line. Without a password file the broker
accepts anonymous clients (it listens on 127.0.0.1 unless --bind says otherwise).

Exit codes: 0 stopped by a signal, 1 could not start (port in use, data dir locked or unwritable),
2 bad command line.")]
    Broker {
        /// Port to listen on (never 1883/5672 by default; 0 picks a free one).
        #[arg(long, default_value_t = 25883)]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Where sessions and queued messages are kept (default ~/.cache/pitcher/broker).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// File of `user:<argon2 hash>` lines; when given, anonymous clients are refused.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// Print a password-file line for USER (password read from standard input) and exit.
        #[arg(long, value_name = "USER")]
        hash_password: Option<String>,
    },

    /// Run one instance of a flow attached to the terminal, logging to stderr, until interrupted
    /// or messageCountMax is reached.
    #[command(after_help = "\
The instance uses the same queue, retry spools and nodupe cache as `start` would (state in
~/.cache/pitcher/<component>/<config>/, or $PITCHER_STATE_DIR). SIGINT/SIGTERM finish the work
in hand (transfers complete or go to the retry spool, posts are confirmed or spooled), then exit;
a second signal exits at once (unacknowledged messages are redelivered by the broker).

Exit codes: 0 stopped cleanly, 1 runtime failure, 2 bad command line, 3 configuration error.")]
    Foreground {
        /// Instance number (selects the MQTT session, the retry spools and the nodupe cache).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=99))]
        instance: u32,
        /// The flow, as component/config, then any --<option> <value> overrides.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMPONENT/CONFIG [--OPTION VALUE]"
        )]
        args: Vec<String>,
    },

    /// Announce files and directory trees once (like sr3_post), then exit when every message is
    /// confirmed by the broker.
    #[command(after_help = "\
The configuration (post/<config>.conf) gives post_broker, post_exchange, post_baseUrl and
post_baseDir; paths come from its `path` options and the command line. Identities are computed
by streaming and cached in the user.sr_identity extended attribute, as sr3 does.

Exit codes: 0 all announced and confirmed, 1 some messages are unconfirmed (they wait in the post
retry queue for the next run) or a runtime failure, 2 bad command line, 3 configuration error.")]
    Post {
        /// The post configuration (post/<CONFIG>.conf).
        #[arg(short = 'c', long = "config", value_name = "CONFIG")]
        config: String,
        /// Files and directories to announce, then any --<option> <value> overrides.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "PATH... [--OPTION VALUE]"
        )]
        args: Vec<String>,
    },

    /// Serve a directory tree over HTTP (Range, HEAD, Last-Modified, directory index pages that
    /// sr3 polls can read), until interrupted.
    #[command(after_help = "\
Files whose names start with '.' (inflight files) are not listed. Nothing outside DIR is ever
served: `..`, encoded dots and symbolic links leading out of the tree are refused.

Exit codes: 0 stopped by a signal, 1 could not start (port in use, DIR unreadable), 2 bad
command line.")]
    Serve {
        /// The tree to serve.
        dir: PathBuf,
        /// Port (0 picks a free one; the address is printed first).
        #[arg(long, default_value_t = 8090)]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
    },

    /// Run a whole pump on loopback in one process and check it: embedded broker, HTTP servers,
    /// post of a generated tree, sarra mirroring and re-announcing it, subscribe downloading it.
    #[command(after_help = "\
Everything runs on 127.0.0.1 in a temporary directory (kept with --keep DIR). The demo prints
progress and a summary (files, bytes, rate, lag) and verifies every delivered file by sha512.

Exit codes: 0 every file arrived intact, 1 something failed (named on stderr).")]
    Demo {
        /// How many files to generate.
        #[arg(long, default_value_t = 300)]
        files: usize,
        /// Keep everything (trees, configs, state, broker data) in DIR instead of a temp dir.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
    },

    /// Start flows in the background: each flow's `instances` processes (one for post, poll and
    /// watch), each logging to its own file. No flow named: every configured flow.
    #[command(after_help = START_HELP)]
    Start {
        /// Flows as component/config (shell patterns such as 'subscribe/*' allowed; none = all),
        /// then any --<option> <value> overrides passed to the instances.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMPONENT/CONFIG... [--OPTION VALUE]"
        )]
        args: Vec<String>,
    },

    /// Stop flows started with `start`: SIGTERM (each instance finishes the work in hand), then
    /// SIGKILL after --timeout. No flow named: every flow.
    #[command(after_help = STOP_HELP)]
    Stop {
        /// Seconds to wait for instances to exit before killing them.
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        timeout: u64,
        /// Flows as component/config (patterns allowed; none = all).
        #[arg(value_name = "COMPONENT/CONFIG")]
        flows: Vec<String>,
    },

    /// Stop, then start flows. No flow named: every configured flow.
    #[command(after_help = "\
Same as `pitcher stop` followed by `pitcher start` with the same flows and options; a flow that
was stopped is started. Disabled flows are stopped but not started.

Exit codes: 0 success, 1 an instance could not be stopped or started, 2 bad command line,
3 configuration error.")]
    Restart {
        /// Seconds to wait for instances to exit before killing them.
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        timeout: u64,
        /// Flows as component/config (patterns allowed; none = all), then any --<option> <value>
        /// overrides passed to the instances.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMPONENT/CONFIG... [--OPTION VALUE]"
        )]
        args: Vec<String>,
    },

    /// Repair running flows (meant for cron): restart dead instances, kill and restart hung ones,
    /// remove stale pid files. Stopped and disabled flows are left alone.
    #[command(after_help = "\
A flow is meant to run while it has pid files (start writes them, stop removes them). For such
a flow, sanity restarts every instance 1..instances whose process is gone, and kills (SIGKILL)
then restarts an instance that wrote no metrics for runStateThreshold_hung (default 450 s). Pid
files of flows that are disabled, removed or have fewer instances now are deleted. A pid whose
process is not that flow's `pitcher foreground` is never signalled. Run from cron, e.g.
    */5 * * * * pitcher sanity >>~/.cache/pitcher/log/sanity.log 2>&1

Exit codes: 0 success, 1 an instance could not be restarted, 2 bad command line,
3 configuration error.")]
    Sanity {
        /// Flows as component/config (patterns allowed; none = all).
        #[arg(value_name = "COMPONENT/CONFIG")]
        flows: Vec<String>,
    },

    /// Show the state of flows: running instances, messages, files, retry queues, lag.
    #[command(after_help = STATUS_HELP)]
    Status {
        /// Print JSON (one object per flow) instead of the table.
        #[arg(long)]
        json: bool,
        /// Flows as component/config (patterns allowed; none = all).
        #[arg(value_name = "COMPONENT/CONFIG")]
        flows: Vec<String>,
    },

    /// Enable disabled flows (they start again with `start`).
    #[command(after_help = "\
Removes the flag file <state dir>/<component>/<config>/disabled.

Exit codes: 0 success, 1 the flag cannot be removed, 2 bad command line, 3 configuration error.")]
    Enable {
        /// Flows as component/config (patterns allowed).
        #[arg(required = true, value_name = "COMPONENT/CONFIG")]
        flows: Vec<String>,
    },

    /// Disable flows: `start`, `restart` and `sanity` skip them; `list` and `status` show them
    /// as disabled. A running flow must be stopped first.
    #[command(after_help = "\
Creates the flag file <state dir>/<component>/<config>/disabled, as sr3 does (its configuration
file is not touched, so an sr3 tree stays usable by sr3).

Exit codes: 0 success, 1 a flow is running or the flag cannot be written, 2 bad command line,
3 configuration error.")]
    Disable {
        /// Flows as component/config (patterns allowed).
        #[arg(required = true, value_name = "COMPONENT/CONFIG")]
        flows: Vec<String>,
    },

    /// Copy configuration files into the configuration tree (<config dir>/<component>/).
    #[command(after_help = "\
The component is --component, else the directory holding the file:
    pitcher add examples/subscribe/wx.conf          # -> <config dir>/subscribe/wx.conf
    pitcher add --component sarra ./pump.conf       # -> <config dir>/sarra/pump.conf
    pitcher add subscribe/new                       # no such file: creates an empty one to edit
An existing configuration is never overwritten. A file that does not load is still added, with
a warning naming the problem.

Exit codes: 0 success, 1 a file cannot be read or exists already, 2 bad command line,
3 configuration error (unknown component).")]
    Add {
        /// The component to add the files to (default: the name of their directory).
        #[arg(long, value_name = "COMPONENT")]
        component: Option<String>,
        /// Configuration files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },

    /// Delete stopped flows: their configuration file and their state (retry spools, nodupe
    /// cache, saved queue name, metrics). Refused while a flow runs.
    #[command(after_help = "\
The flow's queue on the broker is not deleted: run `pitcher cleanup component/config` first to
delete it (remove prints the queue name it leaves behind). Logs are kept.

Exit codes: 0 success, 1 a flow is running or a file cannot be removed, 2 bad command line,
3 configuration error (no such flow).")]
    Remove {
        /// Flows as component/config (no patterns).
        #[arg(required = true, value_name = "COMPONENT/CONFIG")]
        flows: Vec<String>,
    },

    /// Edit a flow's configuration file with $EDITOR (default vi), then check that it loads.
    #[command(after_help = "\
A new component/config creates the file. Running instances keep their old configuration until
`pitcher restart component/config`.

Exit codes: 0 saved and loads, 1 the editor failed, 2 bad command line, 3 the configuration does
not load (the error names the file, line and option).")]
    Edit {
        /// The flow, as component/config.
        #[arg(value_name = "COMPONENT/CONFIG")]
        flow: String,
    },

    /// Remove a flow's queue from its broker and forget its saved queue name (exchanges are shared
    /// and never removed).
    #[command(
        after_help = "Exit codes: 0 success, 1 a broker refused or could not be reached, 2 bad command line,\n3 configuration error."
    )]
    Cleanup {
        /// The flow(s), as component/config, then any --<option> <value> overrides.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMPONENT/CONFIG [--OPTION VALUE]"
        )]
        args: Vec<String>,
    },
}

impl Verb {
    /// Does this verb run flows (and so log their events at info level by default)?
    pub fn runs_flows(&self) -> bool {
        matches!(
            self,
            Verb::Foreground { .. } | Verb::Post { .. } | Verb::Serve { .. } | Verb::Broker { .. }
        )
    }
}

/// Splits `show`-style arguments into flow names and the option arguments that follow them.
pub fn split_flows_and_options(args: &[String]) -> (Vec<String>, Vec<String>) {
    let first_option = args
        .iter()
        .position(|a| a.starts_with("--"))
        .unwrap_or(args.len());
    (args[..first_option].to_vec(), args[first_option..].to_vec())
}
