//! The one integration-test binary: drives the real `darkhorses` binary and the library.

mod lock;
mod schedule;
