//! `pitcher`: the command-line front end.

mod brokers;
mod cli;
mod commands;
mod logging;
mod state;

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
    logging::init(&cli.log_level);
    let result = match &cli.verb {
        Verb::List => commands::list::run(&cli),
        Verb::Show { args } => commands::show::run(&cli, args),
        Verb::Declare { args } => commands::declare::run(&cli, args),
        Verb::Cleanup { args } => commands::cleanup::run(&cli, args),
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
