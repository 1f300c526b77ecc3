//! `pitcher`: the command-line front end.

mod brokers;
mod cli;
mod commands;
mod logfile;
mod logging;
mod progress;
mod state;
mod supervise;

use clap::Parser;

use cli::{Cli, Verb, exit_code};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints usage; help and version requests are successes.
            let code = if e.use_stderr() {
                exit_code::USAGE
            } else {
                exit_code::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let level = cli.log_level.clone().unwrap_or_else(|| {
        if cli.verb.runs_flows() {
            "info"
        } else {
            "warn"
        }
        .to_string()
    });
    match &cli.log_file {
        Some(path) => logging::init_file(
            &level,
            path,
            logfile::Rotation {
                keep: cli.log_rotate_count,
                interval: cli.log_rotate_interval,
            },
        ),
        None => logging::init(&level),
    }
    let result = match &cli.verb {
        Verb::List => commands::list::run(&cli),
        Verb::Show { args } => commands::show::run(&cli, args),
        Verb::Declare { args } => commands::declare::run(&cli, args),
        Verb::Cleanup { args } => commands::cleanup::run(&cli, args),
        Verb::Start { args } => commands::start::run(&cli, args),
        Verb::Stop { timeout, flows } => commands::stop::run(&cli, flows, *timeout),
        Verb::Restart { timeout, args } => commands::restart::run(&cli, args, *timeout),
        Verb::Sanity { flows } => commands::sanity::run(&cli, flows),
        Verb::Status { json, flows } => commands::status::run(&cli, flows, *json),
        Verb::Enable { flows } => commands::enable::run(&cli, flows, true),
        Verb::Disable { flows } => commands::enable::run(&cli, flows, false),
        Verb::Add { component, files } => commands::add::run(&cli, files, component.as_deref()),
        Verb::Remove { flows } => commands::remove::run(&cli, flows),
        Verb::Edit { flow } => commands::edit::run(&cli, flow),
        Verb::Foreground { instance, args } => commands::foreground::run(&cli, args, *instance),
        Verb::Post { config, args } => commands::foreground::post(&cli, config, args),
        Verb::Serve { dir, port, bind } => commands::serve::run(dir, *port, *bind),
        Verb::Demo { files, keep } => commands::demo::run(*files, keep.clone()),
        Verb::Broker {
            port,
            bind,
            data_dir,
            password_file,
            hash_password,
        } => commands::broker::run(
            *port,
            *bind,
            data_dir.clone(),
            password_file.clone(),
            hash_password.clone(),
        ),
    };
    match result {
        Ok(()) => std::process::exit(exit_code::OK),
        Err(e) => {
            eprintln!("pitcher: {e:#}");
            std::process::exit(commands::exit_code_for(&e));
        }
    }
}
