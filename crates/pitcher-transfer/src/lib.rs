//! Transfers: fetch files by URL (file:, http:, https:) with resume, and serve a tree over HTTP.
