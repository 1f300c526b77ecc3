//! `pitcher broker`: the embedded MQTT v5 broker in the foreground.

use std::io::BufRead;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use pitcher_broker::embedded::{EmbeddedBroker, EmbeddedConfig, hash_password};

use crate::state::state_root;

pub fn run(
    port: u16,
    bind: IpAddr,
    data_dir: Option<PathBuf>,
    password_file: Option<PathBuf>,
    hash_for: Option<String>,
) -> anyhow::Result<()> {
    if let Some(user) = hash_for {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']);
        anyhow::ensure!(!password.is_empty(), "empty password on standard input");
        println!("{}", hash_password(&user, password)?);
        return Ok(());
    }
    let data_dir = match data_dir {
        Some(d) => d,
        None => state_root()?.join("broker"),
    };
    if let Some(f) = &password_file {
        anyhow::ensure!(f.is_file(), "password file {} does not exist", f.display());
    }
    let rt = super::runtime()?;
    rt.block_on(async move {
        let mut cfg = EmbeddedConfig::new(SocketAddr::new(bind, port), &data_dir);
        cfg.password_file = password_file;
        let broker = EmbeddedBroker::start(cfg)
            .await
            .with_context(|| format!("embedded broker with data in {}", data_dir.display()))?;
        // Machine-readable first line: scripts and tests read the port from it.
        println!("pitcher broker listening on {}", broker.local_addr());
        let stop = broker.shutdown_handle();
        tokio::spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            stop.shutdown();
        });
        broker.wait().await?;
        eprintln!("pitcher broker stopped");
        Ok(())
    })
}
