//! The SQLite store: the embedded default (issue 4).

use std::sync::Arc;

use super::{Error, Result, Store};

pub async fn open(_cfg: &crate::config::DatabaseConfig) -> Result<Arc<dyn Store>> {
    Err(Error::Config(
        "the SQLite store is being built (issue 4)".into(),
    ))
}
