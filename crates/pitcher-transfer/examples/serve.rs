//! Serve a directory for manual testing: `cargo run -p pitcher-transfer --example serve -- DIR [ADDR]`
//! (ADDR defaults to 127.0.0.1:8080). Stops on Ctrl-C.

use std::path::PathBuf;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: serve DIR [ADDR]");
        std::process::exit(2);
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("serving {dir} on http://{}/", listener.local_addr()?);
    pitcher_transfer::FileServer::run(PathBuf::from(dir), listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
