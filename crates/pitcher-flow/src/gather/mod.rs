//! Where messages come from: a broker queue (in the engine), or the local file system.

pub mod files;
