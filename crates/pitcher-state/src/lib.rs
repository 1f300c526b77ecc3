//! Per-instance state on disk: the nodupe cache and the retry spools.
