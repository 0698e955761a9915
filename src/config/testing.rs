//! Helpers of the config tests: load from YAML text or an environment snapshot, one-line errors.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::Path;

use super::{Error, Loaded, Origin, load_from};

pub const SHIPPED: &str = include_str!("../../config/darkhorses.yaml");

pub fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub fn from_yaml(text: &str) -> Result<Loaded, Error> {
    load_from(Some((Path::new("x.yaml"), text)), &BTreeMap::new(), &[])
}

pub fn from_env(pairs: &[(&str, &str)]) -> Result<Loaded, Error> {
    load_from(None, &env(pairs), &[])
}

pub fn err(result: Result<Loaded, Error>) -> String {
    let message = result.map(|_| ()).unwrap_err().to_string();
    assert!(!message.contains('\n'), "errors are one line: {message}");
    message
}

pub fn file_origin(line: usize) -> Origin {
    Origin::File { path: "x.yaml".into(), line }
}
