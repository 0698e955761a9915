//! The one integration-test binary: each module drives real code against real databases and
//! real HTTP on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store;
