//! `http:` and `https:` URLs (sr3's `Https` transfer class) over reqwest.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use futures_util::TryStreamExt as _;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, HeaderMap, LAST_MODIFIED, RANGE};
use reqwest::{Method, StatusCode};
use tokio_util::io::StreamReader;

use super::idle::IdleTimeout;
use super::{Auth, Download, FetchOptions, Fetcher, RemoteStat};
use crate::{TransferError, mask_url};

pub(super) fn build_client(options: &FetchOptions) -> Result<reqwest::Client, TransferError> {
    // reqwest is built without a crypto provider of its own: use ring (as lapin does). `Err` means
    // one is installed already, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("Pitcher/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(options.timeout)
        .read_timeout(options.timeout)
        .tls_danger_accept_invalid_certs(!options.tls_verify)
        .tls_danger_accept_invalid_hostnames(!options.tls_verify)
        .build()
        .map_err(|e| TransferError::Setup(error_chain(e.without_url())))
}

/// "outer: inner: innermost" — reqwest's own message says little without its sources.
fn error_chain(e: reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

fn classify(url: &url::Url, timeout: Duration, e: reqwest::Error) -> TransferError {
    if e.is_timeout() {
        return TransferError::Timeout {
            url: mask_url(url),
            after: timeout,
        };
    }
    if e.is_builder() {
        return TransferError::InvalidUrl {
            url: mask_url(url),
            reason: error_chain(e.without_url()),
        };
    }
    // Connect errors, TLS failures, a connection closed before a status line, redirect loops:
    // all are about reaching the server and worth a retry.
    TransferError::Connect {
        url: mask_url(url),
        reason: error_chain(e.without_url()),
    }
}

fn request(fetcher: &Fetcher, method: Method, url: &url::Url) -> reqwest::RequestBuilder {
    match &fetcher.options.auth {
        // reqwest turns user:password in the URL into basic auth; configured credentials win.
        None => fetcher.client.request(method, url.clone()),
        Some(auth) => {
            let mut bare = url.clone();
            // Both only fail for URLs that cannot carry credentials, which then carry none.
            let _ = bare.set_username("");
            let _ = bare.set_password(None);
            let rb = fetcher.client.request(method, bare);
            match auth {
                Auth::Basic { user, password } => rb.basic_auth(user, Some(password)),
                Auth::Bearer(token) => rb.bearer_auth(token),
            }
        }
    }
}

/// Send and wait for the response headers: connect and the wait for headers are each bounded by
/// reqwest's connect/read timeouts; the sum is bounded here once more, so that nothing (a TLS
/// handshake or headers trickling in) can hang an open.
async fn send(
    rb: reqwest::RequestBuilder,
    url: &url::Url,
    timeout: Duration,
) -> Result<reqwest::Response, TransferError> {
    match tokio::time::timeout(timeout.saturating_mul(2), rb.send()).await {
        Err(_) => Err(TransferError::Timeout {
            url: mask_url(url),
            after: timeout,
        }),
        Ok(Err(e)) => Err(classify(url, timeout, e)),
        Ok(Ok(response)) => Ok(response),
    }
}

fn header_u64(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn last_modified(headers: &HeaderMap) -> Option<SystemTime> {
    let value = headers.get(LAST_MODIFIED)?.to_str().ok()?;
    httpdate::parse_http_date(value).ok()
}

/// `Content-Range: bytes start-end/total` (total may be `*`), or `bytes */total` (416).
#[derive(Debug, PartialEq, Eq)]
struct ContentRange {
    range: Option<(u64, u64)>,
    total: Option<u64>,
}

fn content_range(headers: &HeaderMap) -> Option<ContentRange> {
    parse_content_range(headers.get(CONTENT_RANGE)?.to_str().ok()?)
}

fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    let range = match range.trim() {
        "*" => None,
        r => {
            let (start, end) = r.split_once('-')?;
            let (start, end): (u64, u64) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
            if end < start {
                return None;
            }
            Some((start, end))
        }
    };
    Some(ContentRange { range, total })
}

fn status_error(url: &url::Url, status: StatusCode) -> TransferError {
    match status {
        StatusCode::NOT_FOUND | StatusCode::GONE => TransferError::NotFound { url: mask_url(url) },
        other => TransferError::Http {
            url: mask_url(url),
            status: other.as_u16(),
        },
    }
}

fn body_reader(response: reqwest::Response, url: &url::Url, timeout: Duration) -> Download {
    let masked = mask_url(url);
    let error_url = masked.clone();
    let stream = response.bytes_stream().map_err(move |e| {
        if e.is_timeout() {
            TransferError::Timeout {
                url: error_url.clone(),
                after: timeout,
            }
            .into_io()
        } else {
            TransferError::Io {
                url: error_url.clone(),
                source: std::io::Error::other(error_chain(e.without_url())),
            }
            .into_io()
        }
    });
    let reader = IdleTimeout::new(StreamReader::new(stream), timeout, masked);
    Download {
        reader: Box::pin(reader),
        offset: 0,
        length: None,
        total_size: None,
        mtime: None,
    }
}

pub(super) async fn open(
    fetcher: &Fetcher,
    url: &url::Url,
    offset: u64,
    range_end: Option<u64>,
) -> Result<Download, TransferError> {
    let timeout = fetcher.options.timeout;
    let ranged = offset > 0 || range_end.is_some();
    let mut rb = request(fetcher, Method::GET, url);
    if ranged {
        let range = match range_end {
            Some(end) => format!("bytes={offset}-{end}"),
            None => format!("bytes={offset}-"),
        };
        rb = rb.header(RANGE, range);
    }
    let response = send(rb, url, timeout).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let mtime = last_modified(&headers);
    let content_length = header_u64(&headers, CONTENT_LENGTH);
    match status {
        StatusCode::OK => {
            let mut d = body_reader(response, url, timeout);
            d.offset = 0;
            d.length = content_length;
            d.total_size = content_length;
            d.mtime = mtime;
            Ok(d)
        }
        StatusCode::PARTIAL_CONTENT if ranged => {
            let cr = content_range(&headers);
            let (start, length) = match cr.as_ref().and_then(|c| c.range) {
                Some((start, end)) => (start, Some(end - start + 1)),
                // No usable Content-Range (multipart is never asked for): trust the request.
                None => (offset, content_length),
            };
            let mut d = body_reader(response, url, timeout);
            d.offset = start;
            d.length = length;
            d.total_size = cr.and_then(|c| c.total);
            d.mtime = mtime;
            Ok(d)
        }
        StatusCode::RANGE_NOT_SATISFIABLE if ranged => {
            let total = content_range(&headers).and_then(|c| c.total);
            drop(response);
            if total == Some(offset) {
                // Everything was received already.
                return Ok(Download::empty(offset, total, mtime));
            }
            // The file changed (shorter than the offset, or the server does not say): fetch it
            // whole; the caller sees offset 0 and restarts.
            tracing::debug!(url = %mask_url(url), offset, ?total, "range not satisfiable, fetching whole file");
            let response = send(request(fetcher, Method::GET, url), url, timeout).await?;
            if response.status() != StatusCode::OK {
                return Err(status_error(url, response.status()));
            }
            let headers = response.headers().clone();
            let content_length = header_u64(&headers, CONTENT_LENGTH);
            let mut d = body_reader(response, url, timeout);
            d.length = content_length;
            d.total_size = content_length;
            d.mtime = last_modified(&headers);
            Ok(d)
        }
        other => Err(status_error(url, other)),
    }
}

pub(super) async fn stat(fetcher: &Fetcher, url: &url::Url) -> Result<RemoteStat, TransferError> {
    let timeout = fetcher.options.timeout;
    let response = send(request(fetcher, Method::HEAD, url), url, timeout).await?;
    if response.status() != StatusCode::OK {
        return Err(status_error(url, response.status()));
    }
    let headers = response.headers();
    Ok(RemoteStat {
        size: header_u64(headers, CONTENT_LENGTH),
        mtime: last_modified(headers),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_forms() {
        assert_eq!(
            parse_content_range("bytes 10-19/100"),
            Some(ContentRange {
                range: Some((10, 19)),
                total: Some(100)
            })
        );
        assert_eq!(
            parse_content_range("bytes 0-0/*"),
            Some(ContentRange {
                range: Some((0, 0)),
                total: None
            })
        );
        assert_eq!(
            parse_content_range("bytes */42"),
            Some(ContentRange {
                range: None,
                total: Some(42)
            })
        );
        assert_eq!(parse_content_range("bytes 9-3/42"), None);
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }
}
