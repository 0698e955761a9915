//! darkhorses: keeps a horse-racing database current with UK and Irish data from The Racing API.
//!
//! The binary (`src/main.rs`) is a thin layer over this library: `cli` parses flags, `app`
//! dispatches each subcommand to library functions, and `error` turns every outcome into one of
//! three exit codes.

pub mod alerts;
pub mod api;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod health;
pub mod jobs;
pub mod lock;
pub mod model;
pub mod orchestrate;
pub mod output;
pub mod sandbox;
pub mod schedule;
pub mod status;
pub mod store;
pub mod telemetry;

pub use error::{Error, Result};
