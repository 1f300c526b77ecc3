//! The flow engine.
