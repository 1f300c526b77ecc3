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

/// Pitcher: a fast, safe data pump compatible with MetPX-Sarracenia v3 (sr3).
#[derive(Debug, Parser)]
#[command(name = "pitcher", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Configuration tree to use (default: $PITCHER_CONFIG_DIR, else ~/.config/pitcher); e.g. ~/.config/sr3.
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,

    /// Log level for Pitcher's own messages: error, warn, info, debug, trace.
    #[arg(long, global = true, value_name = "LEVEL", default_value = "warn")]
    pub log_level: String,

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

/// Splits `show`-style arguments into flow names and the option arguments that follow them.
pub fn split_flows_and_options(args: &[String]) -> (Vec<String>, Vec<String>) {
    let first_option = args
        .iter()
        .position(|a| a.starts_with("--"))
        .unwrap_or(args.len());
    (args[..first_option].to_vec(), args[first_option..].to_vec())
}
