//! The HTTP/1.1 file server that serves a pump's tree: files with Range, HEAD, Last-Modified and
//! conditional requests (tower-http's `ServeFile`), directories as index pages.
//!
//! Security rules (each refused request is answered 404, except where noted):
//! * the request path is percent-decoded once, then split on `/`; a segment that starts with `.`
//!   (`.`, `..`, hidden files, sr3's `.name` inflight files) is refused, so `..` cannot climb
//!   out, whether written plainly or as `%2e%2e`;
//! * empty segments are ignored, so `//etc/passwd` and `%2Fetc%2Fpasswd` name `<root>/etc/passwd`;
//! * a NUL byte is a bad request (400);
//! * the target is canonicalized (all symlinks resolved) and must still lie inside the canonical
//!   root, in no hidden directory: a symlink that leads outside answers 403;
//! * only regular files and directories are served (never a FIFO or device: 403);
//! * only GET and HEAD are allowed (405).

mod index;
mod names;
mod stall;

use std::future::Future;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use tower::ServiceExt as _;
use tower_http::services::ServeFile;

use crate::TransferError;
use index::Listed;
use names::{bytes_to_os, os_to_bytes};

/// How long running requests may go on after shutdown was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// A client must send a complete request head within this time (also bounds idle keep-alive).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A response write that makes no progress for this long ends the connection (sr3's default
/// `timeout`, generous for slow links).
const WRITE_STALL_LIMIT: Duration = Duration::from_secs(300);
/// Connections beyond this many are closed at once (the listener backlog holds the rest).
const MAX_CONNECTIONS: usize = 4096;

/// Serves a directory tree over HTTP/1.1.
#[derive(Debug)]
pub struct FileServer {
    _private: (),
}

struct Shared {
    /// Canonical root directory.
    root: PathBuf,
}

impl FileServer {
    /// Serve `root` on an already-bound listener until `shutdown` resolves.
    ///
    /// After `shutdown`, no new connections are accepted; requests in progress get a few seconds
    /// to finish, then their connections are closed and this returns. Fails when `root` is not a
    /// readable directory. Dropping the future closes every connection.
    pub async fn run(
        root: PathBuf,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), TransferError> {
        let canonical = tokio::fs::canonicalize(&root)
            .await
            .map_err(|e| TransferError::Server(format!("root {}: {e}", root.display())))?;
        let meta = tokio::fs::metadata(&canonical)
            .await
            .map_err(|e| TransferError::Server(format!("root {}: {e}", root.display())))?;
        if !meta.is_dir() {
            return Err(TransferError::Server(format!(
                "root {} is not a directory",
                root.display()
            )));
        }
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(root = %canonical.display(), %addr, "file server listening");
        }
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::new(Shared { root: canonical }));

        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            while connections.try_join_next().is_some() {}
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // EMFILE and friends: do not spin.
                        tracing::warn!(error = %e, "file server: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            if connections.len() >= MAX_CONNECTIONS {
                tracing::warn!(%peer, "file server: too many connections, closing a new one");
                continue;
            }
            let _ = stream.set_nodelay(true);
            let service = hyper_util::service::TowerToHyperService::new(app.clone());
            let mut stop = stop_rx.clone();
            connections.spawn(async move {
                let io =
                    hyper_util::rt::TokioIo::new(stall::StallGuard::new(stream, WRITE_STALL_LIMIT));
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT);
                let conn = builder.serve_connection(io, service);
                let mut conn = std::pin::pin!(conn);
                let result = tokio::select! {
                    result = conn.as_mut() => result,
                    _ = stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "file server: connection ended");
                }
            });
        }
        drop(listener);
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                open = connections.len(),
                "file server: connections still busy {SHUTDOWN_GRACE:?} after shutdown; closing them"
            );
            connections.shutdown().await;
        }
        tracing::info!("file server stopped");
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    BadRequest,
    NotFound,
    Forbidden,
}

impl Refusal {
    fn response(self) -> Response {
        let (status, text) = match self {
            Refusal::BadRequest => (StatusCode::BAD_REQUEST, "Bad Request\n"),
            Refusal::NotFound => (StatusCode::NOT_FOUND, "Not Found\n"),
            Refusal::Forbidden => (StatusCode::FORBIDDEN, "Forbidden\n"),
        };
        (status, text).into_response()
    }
}

enum Target {
    File(PathBuf),
    Dir(PathBuf),
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let raw_path = req.uri().path().to_owned();
    let response = respond(&shared, req).await;
    tracing::debug!(%method, path = %raw_path, status = response.status().as_u16(), "served");
    response
}

async fn respond(shared: &Shared, req: Request) -> Response {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let mut r = (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n").into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let raw_path = req.uri().path();
    let components = match split_path(raw_path) {
        Ok(c) => c,
        Err(refusal) => return refusal.response(),
    };
    let trailing_slash = raw_path.ends_with('/');
    match resolve(&shared.root, &components).await {
        Err(refusal) => refusal.response(),
        Ok(Target::Dir(_)) if !trailing_slash => {
            let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
            // Rebuilt from the checked components: never echoes the raw path (no `//host`).
            match HeaderValue::from_str(&index::dir_href(&components)) {
                Ok(location) => {
                    r.headers_mut().insert(header::LOCATION, location);
                    r
                }
                Err(_) => Refusal::NotFound.response(),
            }
        }
        Ok(Target::Dir(dir)) => index_response(&shared.root, dir, &components, head).await,
        Ok(Target::File(path)) => match ServeFile::new(&path).oneshot(req).await {
            Ok(response) => response.map(Body::new),
            Err(never) => match never {},
        },
    }
}

/// Percent-decode and split the request path into checked segments.
fn split_path(raw: &str) -> Result<Vec<Vec<u8>>, Refusal> {
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
    if decoded.contains(&0) {
        return Err(Refusal::BadRequest);
    }
    let mut components = Vec::new();
    for segment in decoded.split(|b| *b == b'/') {
        match segment.first() {
            None => continue,
            Some(b'.') => return Err(Refusal::NotFound),
            Some(_) => components.push(segment.to_vec()),
        }
    }
    Ok(components)
}

/// The part of `path` below `root`, if `path` is inside it and not inside anything hidden.
fn within(root: &Path, path: &Path) -> bool {
    match path.strip_prefix(root) {
        Ok(rest) => rest.components().all(|c| match c {
            Component::Normal(n) => os_to_bytes(n).first() != Some(&b'.'),
            _ => false,
        }),
        Err(_) => false,
    }
}

async fn resolve(root: &Path, components: &[Vec<u8>]) -> Result<Target, Refusal> {
    let mut full = root.to_path_buf();
    for c in components {
        let os = bytes_to_os(c).ok_or(Refusal::NotFound)?;
        let mut parts = Path::new(&os).components();
        match (parts.next(), parts.next()) {
            (Some(Component::Normal(_)), None) => full.push(&os),
            _ => return Err(Refusal::NotFound),
        }
    }
    let canonical = tokio::fs::canonicalize(&full)
        .await
        .map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied => Refusal::Forbidden,
            _ => Refusal::NotFound,
        })?;
    if !within(root, &canonical) {
        if canonical.starts_with(root) {
            // A symlink to something hidden inside the tree.
            return Err(Refusal::NotFound);
        }
        tracing::warn!(path = %full.display(), "refused: resolves outside the served root");
        return Err(Refusal::Forbidden);
    }
    let meta = tokio::fs::metadata(&canonical)
        .await
        .map_err(|_| Refusal::NotFound)?;
    if meta.is_dir() {
        Ok(Target::Dir(canonical))
    } else if meta.is_file() {
        Ok(Target::File(canonical))
    } else {
        Err(Refusal::Forbidden)
    }
}

/// List `dir` (blocking I/O, run on the blocking pool): visible regular files and directories,
/// symlinks only when they lead to one inside the root; sorted by name.
fn list_dir(root: &Path, dir: &Path) -> io::Result<Vec<Listed>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let name = os_to_bytes(&name).into_owned();
        if name.first() == Some(&b'.') {
            continue;
        }
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let meta = if file_type.is_symlink() {
            let Ok(target) = std::fs::canonicalize(entry.path()) else {
                continue;
            };
            if !within(root, &target) {
                continue;
            }
            std::fs::metadata(&target)
        } else {
            entry.metadata()
        };
        let Ok(meta) = meta else { continue };
        if !meta.is_dir() && !meta.is_file() {
            continue;
        }
        entries.push(Listed {
            name,
            is_dir: meta.is_dir(),
            size: meta.len(),
            mtime: meta.modified().ok(),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

async fn index_response(root: &Path, dir: PathBuf, components: &[Vec<u8>], head: bool) -> Response {
    let root = root.to_path_buf();
    let listed = tokio::task::spawn_blocking(move || list_dir(&root, &dir)).await;
    let entries = match listed {
        Ok(Ok(entries)) => entries,
        Ok(Err(e)) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Refusal::Forbidden.response();
        }
        Ok(Err(_)) | Err(_) => return Refusal::NotFound.response(),
    };
    let page = index::render(components, &entries);
    let length = page.len();
    let body = if head {
        Body::empty()
    } else {
        Body::from(page)
    };
    let mut r = Response::new(body);
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html;charset=UTF-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments() {
        assert_eq!(
            split_path("/a/b%20c/"),
            Ok(vec![b"a".to_vec(), b"b c".to_vec()])
        );
        assert_eq!(
            split_path("//etc/passwd"),
            Ok(vec![b"etc".to_vec(), b"passwd".to_vec()])
        );
        assert_eq!(
            split_path("/%2Fetc%2Fpasswd"),
            Ok(vec![b"etc".to_vec(), b"passwd".to_vec()])
        );
        assert_eq!(split_path("/a/../b"), Err(Refusal::NotFound));
        assert_eq!(split_path("/a/%2e%2e/b"), Err(Refusal::NotFound));
        assert_eq!(split_path("/a/%2E%2e%2fb"), Err(Refusal::NotFound));
        assert_eq!(split_path("/.hidden"), Err(Refusal::NotFound));
        assert_eq!(split_path("/a%00b"), Err(Refusal::BadRequest));
        assert_eq!(split_path("/"), Ok(vec![]));
    }

    #[test]
    fn within_root() {
        let root = Path::new("/srv/root");
        assert!(within(root, Path::new("/srv/root")));
        assert!(within(root, Path::new("/srv/root/a/b")));
        assert!(!within(root, Path::new("/srv/rootx/a")));
        assert!(!within(root, Path::new("/srv/root/.x/a")));
        assert!(!within(root, Path::new("/etc/passwd")));
    }
}
