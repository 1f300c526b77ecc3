//! Helpers shared by the integration tests: an in-process file server on 127.0.0.1:0, a raw
//! HTTP/1.1 client (to send paths that URL libraries would normalise), and handcrafted servers.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use pitcher_transfer::{FetchOptions, Fetcher, FileServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub struct Server {
    pub base: url::Url,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), pitcher_transfer::TransferError>>>,
}

impl Server {
    pub async fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir).await
    }

    pub async fn start_in(dir: tempfile::TempDir) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let root = dir.path().to_path_buf();
        let task = tokio::spawn(FileServer::run(root, listener, async move {
            let _ = rx.await;
        }));
        Server {
            base: url::Url::parse(&format!("http://{addr}/")).expect("url"),
            dir,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self, path: &str) -> url::Url {
        self.base.join(path).expect("join")
    }

    pub fn addr(&self) -> String {
        format!(
            "{}:{}",
            self.base.host_str().expect("host"),
            self.base.port().expect("port")
        )
    }

    /// Stop the server and check that it ended cleanly.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("server stops")
                .expect("server task");
            result.expect("server result");
        }
    }
}

pub fn fetcher(timeout: Duration) -> Fetcher {
    Fetcher::new(FetchOptions {
        timeout,
        auth: None,
        tls_verify: true,
    })
    .expect("fetcher")
}

pub async fn read_all(d: pitcher_transfer::Download) -> Vec<u8> {
    let mut reader = d.reader;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.expect("read body");
    out
}

/// Deterministic test content.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| pattern_byte(i as u64)).collect()
}

pub fn pattern_byte(i: u64) -> u8 {
    ((i * 31 + i / 4096) % 251) as u8
}

/// A raw HTTP/1.1 exchange; returns (status, headers lower-cased, body).
pub async fn raw_request(
    addr: &str,
    method: &str,
    target: &str,
    extra: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req =
        format!("{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra}\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf))
        .await
        .expect("response in time")
        .expect("read");
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let body = buf[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .expect("status")
        .parse()
        .expect("status number");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body)
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A handcrafted one-response-per-connection HTTP server: reads the request head, hands it to
/// `answer`, writes what `answer` returns, then (if `stall` is set) keeps the connection open
/// without sending more. Returns its address and a channel of the request heads it received.
pub async fn handcrafted<F>(
    answer: F,
    stall: bool,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>)
where
    F: Fn(&str) -> Vec<u8> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        // Bounded: a test never needs more than a few connections.
        for _ in 0..16 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match sock.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let response = answer(&head);
                let _ = tx.send(head);
                if sock.write_all(&response).await.is_err() {
                    return;
                }
                if stall {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
            });
        }
    });
    (addr, rx)
}
