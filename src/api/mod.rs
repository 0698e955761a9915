//! The Racing API: the HTTP client (rate budget, retries, plans), payload types and
//! normalisation of payloads into `model` rows.

pub mod client;
pub mod models;
pub mod normalize;

pub use client::{ApiStats, Client, Day};

/// What went wrong talking to the API, split by what the caller does about it. URLs in messages
/// never carry credentials (they travel in the Authorization header).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401/403: fatal for the run. The message says credentials were rejected or the endpoint
    /// is above the plan.
    #[error(
        "{url}: HTTP {status}: credentials rejected or endpoint above your plan (racecards/pro needs Pro); check RACING_API_USERNAME, RACING_API_PASSWORD and api.plan"
    )]
    Unauthorized { url: String, status: u16 },
    /// 404: nothing there (a race id that does not exist).
    #[error("{url}: HTTP 404 not found")]
    NotFound { url: String },
    /// 400/422: the request was wrong; retrying cannot help.
    #[error("{url}: HTTP {status}: request rejected: {message}")]
    Rejected {
        url: String,
        status: u16,
        message: String,
    },
    /// Retries used up on 408/429/5xx, timeouts, dropped connections or malformed bodies.
    #[error("{url}: gave up after {attempts} attempts: {last}")]
    Exhausted {
        url: String,
        attempts: u32,
        last: String,
    },
    /// The plan does not allow this request (not sent).
    #[error("{0}")]
    Plan(String),
    /// The body could not be used at all (a single bad record is skipped instead).
    #[error("{what}: unusable response: {message}")]
    Payload { what: String, message: String },
    /// Settings make requests impossible: bad base URL, plain http to a non-loopback host,
    /// missing credentials.
    #[error("{0}")]
    Config(String),
    /// The run was cancelled while waiting.
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// Whether this error should stop the whole run rather than fail one unit.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Unauthorized { .. } | Error::Config(_) | Error::Cancelled
        )
    }
}
