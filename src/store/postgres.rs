//! The PostgreSQL store (issue 4).

use std::sync::Arc;

use super::{Error, Result, Store};

pub async fn open(_cfg: &crate::config::DatabaseConfig) -> Result<Arc<dyn Store>> {
    Err(Error::Config(
        "the PostgreSQL store is being built (issue 4)".into(),
    ))
}
