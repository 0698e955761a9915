//! `Secret`: a string that no `Debug`, `Display` or serde output shows in clear.

use serde::{Deserialize, Serialize};

use super::redact_url;

/// A secret string: never printed by `Debug` or `Display`, and serialised masked (see
/// [`Secret::masked`]), so no tree, report or `config show` built by serde can carry it in clear.
/// Only [`Secret::expose`] gives the value.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself. Call only where it is sent (an Authorization header, a connection).
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The secret as it may be shown: `""` when unset (so "not set" stays visible), a database URL
    /// with only its password hidden (`postgres://bob:***@db/racing`; a `sqlite:` URL holds
    /// none), anything else `***`.
    pub fn masked(&self) -> String {
        let s = self.0.as_str();
        if s.is_empty() {
            String::new()
        } else if ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| s.starts_with(p)) {
            redact_url(s)
        } else {
            "***".to_string()
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}
