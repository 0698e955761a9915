//! The Racing API: the HTTP client (rate budget, retries, plans), payload types and
//! normalisation of payloads into `model` rows.

pub mod client;
pub mod models;
pub mod normalize;

pub use client::Client;

/// What went wrong talking to the API, split by what the caller does about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Other(String),
}
