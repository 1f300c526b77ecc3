//! `pitcher serve DIR`: the HTTP file server in the foreground.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use anyhow::Context;

pub fn run(dir: &Path, port: u16, bind: IpAddr) -> anyhow::Result<()> {
    let root = dir
        .canonicalize()
        .with_context(|| format!("cannot serve {}", dir.display()))?;
    let rt = super::runtime()?;
    rt.block_on(async move {
        let addr = SocketAddr::new(bind, port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr().context("listener address")?;
        println!("pitcher serve {} on http://{local}/", root.display());
        let mut stop = super::foreground::stop_on_signals()?;
        let shutdown = async move {
            let _ = stop.changed().await;
        };
        pitcher_transfer::FileServer::run(root.clone(), listener, shutdown)
            .await
            .with_context(|| format!("serving {}", root.display()))
    })
}
