//! HTTPS against a local TLS server with a self-signed certificate: refused when verifying
//! (the default), accepted with `tls_verify: false` (sr3's `tlsRigour lax`). The certificate is
//! made with the `openssl` command; the test is skipped, with a note, when it is not installed.

use std::sync::Arc;
use std::time::Duration;

use pitcher_transfer::{FetchOptions, Fetcher, TransferError};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn self_signed(dir: &std::path::Path) -> Option<(Vec<u8>, Vec<u8>)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    Some((std::fs::read(cert).ok()?, std::fs::read(key).ok()?))
}

/// A TLS server answering every request with "secure" (bounded number of connections).
async fn tls_server(cert_pem: &[u8], key_pem: &[u8]) -> String {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .expect("cert pem");
    let key = PrivateKeyDer::from_pem_slice(key_pem).expect("key pem");
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        for _ in 0..8 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return; // the verifying client gives up during the handshake
                };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn self_signed_certificate_needs_lax_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((cert, key)) = self_signed(dir.path()) else {
        eprintln!("SKIPPED: openssl not available to make a test certificate");
        return;
    };
    let addr = tls_server(&cert, &key).await;
    let url = url::Url::parse(&format!("https://{addr}/file")).expect("url");
    let timeout = Duration::from_secs(10);

    let strict = Fetcher::new(FetchOptions {
        timeout,
        auth: None,
        tls_verify: true,
    })
    .expect("fetcher");
    let err = strict
        .open(&url, 0, None)
        .await
        .expect_err("untrusted cert");
    eprintln!("verifying client refused the self-signed certificate: {err}");
    assert!(matches!(err, TransferError::Connect { .. }), "{err:?}");
    assert!(err.is_transient());

    let lax = Fetcher::new(FetchOptions {
        timeout,
        auth: None,
        tls_verify: false,
    })
    .expect("fetcher");
    let d = lax.open(&url, 0, None).await.expect("lax TLS accepts it");
    let mut body = Vec::new();
    let mut reader = d.reader;
    reader.read_to_end(&mut body).await.expect("body");
    assert_eq!(body, b"secure");
}
