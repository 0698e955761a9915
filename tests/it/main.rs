//! The one integration-test binary: one module per area, each against real files, servers and
//! databases.

// Tests may panic on unexpected errors: that is how they fail; they may read the environment.
// Tests print what they measure or skip.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod acceptance;
mod backfill;
mod budget;
mod client;
mod columns;
mod config;
mod deploy;
mod faults;
mod fixtures;
mod health;
mod inputs;
mod jobs;
mod lock;
mod orchestrate;
mod output;
mod postgres;
mod quality;
mod rebuild;
mod repository;
mod sandbox;
mod schedule;
mod schema_reference;
mod secrets;
mod status;
mod store;
mod tolerance;
