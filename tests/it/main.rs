//! The one integration-test binary: each module drives the real `darkhorses` binary.

mod config;
