//! The HTTP client: base URL, credentials, the shared rate budget and the one retry decision.

/// The Racing API client (filled in by issue 3).
#[derive(Debug, Clone)]
pub struct Client;
