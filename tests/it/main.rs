//! The one integration-test binary: one module per area, each against real servers.

// Tests may panic on unexpected errors: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sandbox;
