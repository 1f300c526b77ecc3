//! Transfers: fetch files by URL (`file:`, `http:`, `https:`) with resume and timeouts, serve a
//! tree over HTTP with Apache-style index pages, and read such index pages back.
//!
//! See the crate's README.md for error classification, the index page format and the security
//! rules of the server.

mod error;
mod fetch;
mod listing;
mod serve;

pub use error::{TransferError, mask_url};
pub use fetch::{Auth, Download, FetchOptions, Fetcher, RemoteStat};
pub use listing::{IndexEntry, parse_index_page};
pub use serve::FileServer;
