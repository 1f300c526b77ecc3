//! Transfers: fetch files by URL (`file:`, `http:`, `https:`, `sftp:`, `ftp:`, `ftps:`) with resume
//! and timeouts; sessions on SFTP and FTP/FTPS servers ([`Remote`]: list, get, put, mkdirs,
//! rename, delete, chmod, mtime); serve a tree over HTTP with Apache-style index pages, and read
//! such index pages back.
//!
//! See the crate's README.md for error classification, the index page format and the security
//! rules of the server.

mod error;
mod fetch;
mod listing;
mod remote;
mod serve;

pub use error::{TransferError, mask_url};
pub use fetch::{
    Auth, CredentialLookup, Download, FetchOptions, Fetcher, RemoteFetchOptions, RemoteStat,
};
pub use listing::{IndexEntry, parse_index_page};
pub use remote::{
    PutOptions, Remote, RemoteCredentials, RemoteEntry, RemoteOptions, parse_ls_line,
    parse_mlsd_line, remote_path, sr3_remote_url,
};
pub use serve::FileServer;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

    /// The futures and types callers spawn or share across tasks stay Send (and Fetcher Sync).
    #[test]
    fn futures_are_send() {
        assert_send_sync_clone::<Fetcher>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let fetcher = Fetcher::new(FetchOptions::default()).expect("fetcher");
            let url = url::Url::parse("http://127.0.0.1:9/").expect("url");
            let open = fetcher.open(&url, 0, None);
            assert_send(&open);
            drop(open);
            let stat = fetcher.stat(&url);
            assert_send(&stat);
            drop(stat);
            let sftp = url::Url::parse("sftp://127.0.0.1:9/x").expect("url");
            let open = fetcher.open(&sftp, 0, None);
            assert_send(&open);
            drop(open);
            let ro = RemoteOptions::default();
            let connect = Remote::connect(&sftp, &ro);
            assert_send(&connect);
            drop(connect);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let run = FileServer::run(std::env::temp_dir(), listener, async {});
            assert_send(&run);
            drop(run);
        });
    }
}
