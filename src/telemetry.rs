//! Logging: tracing to stderr and to a daily file per job, with retention (issue 2).
