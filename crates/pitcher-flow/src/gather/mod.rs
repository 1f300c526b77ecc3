//! Where messages come from: a broker queue (in the engine), the local file system, or remote
//! listings (poll).

pub mod files;
pub mod poll;
