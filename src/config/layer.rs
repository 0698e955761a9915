//! The layers of the configuration: a JSON tree of the built-in defaults, overlaid by the YAML
//! file (`overlay`), the environment (`env`) and command-line flags, each value typed by the
//! default it replaces (`typed`) and each leaf's origin recorded.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::compat::Given;
use super::typed::from_json;
use super::{Config, Error, FlagOverride, IntervalConfig, Origin, defaults};

/// Maps whose keys the user chooses, with the template of one entry: the type of its values and
/// the defaults of the keys an entry leaves out.
pub(super) const OPEN_MAPS: [&str; 2] = ["intervals", "logging.retention_days"];

pub(super) fn open_map_template(path: &str) -> Option<Value> {
    match path {
        "intervals" => serde_json::to_value(IntervalConfig::default()).ok(),
        "logging.retention_days" => Some(Value::from(defaults::LOG_RETENTION_DAYS)),
        _ => None,
    }
}

pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

/// Every leaf (a scalar or a list) under `value`, as dotted paths, in tree order.
pub fn leaves(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                leaves(child, &join(prefix, key), out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

/// Every section and leaf path under `value`: the candidates for "did you mean".
pub(super) fn all_paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            let path = join(prefix, key);
            out.push(path.clone());
            all_paths(child, &path, out);
        }
    }
}

/// The value at a dotted path.
pub fn get<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(tree, |node, key| node.as_object()?.get(key))
}

/// Where a value came from, as a phrase for error messages: "in config/x.yaml:12".
pub fn place(origin: Option<&Origin>) -> String {
    match origin {
        Some(Origin::File { path, line }) => format!("in {}:{line}", path.display()),
        Some(Origin::Env { var }) => format!("from environment variable {var}"),
        Some(Origin::Flag { flag }) => format!("from flag {flag}"),
        Some(Origin::Default) | None => "(built-in default)".to_string(),
    }
}

/// The tree being built, the origin of every leaf, and warnings for the user.
#[derive(Debug, Clone)]
pub struct Layers {
    pub tree: Value,
    /// The built-in defaults, which type every value that replaces them.
    defaults: Value,
    pub origins: BTreeMap<String, Origin>,
    pub warnings: Vec<String>,
    /// Values of the seed's keys that are no key of the tree (`compat::ACCEPTED`), in the order
    /// the layers gave them; `resolve_accepted` reads them once every layer is applied.
    pub given: Vec<Given>,
}

impl Layers {
    /// The built-in defaults, every leaf with origin `Default`.
    pub fn defaults() -> Result<Self, Error> {
        let tree = serde_json::to_value(Config::default())
            .map_err(|e| Error::Invalid(format!("cannot serialize the built-in defaults: {e}")))?;
        let mut paths = Vec::new();
        leaves(&tree, "", &mut paths);
        let origins = paths.into_iter().map(|p| (p, Origin::Default)).collect();
        Ok(Self { defaults: tree.clone(), tree, origins, warnings: Vec::new(), given: Vec::new() })
    }

    /// The value that types a new value at `key`: its built-in default or, for an entry of an open
    /// map that the defaults lack, the map's template. The defaults, not the current tree, so a list
    /// emptied by the file still types the elements the environment gives it.
    pub(super) fn template_for(&self, key: &str) -> Option<Value> {
        if let Some(value) = get(&self.defaults, key) {
            return Some(value.clone());
        }
        for map in OPEN_MAPS {
            if let Some(rest) = key.strip_prefix(map).and_then(|r| r.strip_prefix('.')) {
                let template = open_map_template(map)?;
                return match rest.split_once('.') {
                    None => Some(template),
                    Some((_, field)) => get(&template, field).cloned(),
                };
            }
        }
        get(&self.tree, key).cloned()
    }

    fn origin_of(&self, key: &str) -> Option<&Origin> {
        // `api.regions[1]` came from wherever `api.regions` came from.
        let base = key.split('[').next().unwrap_or(key);
        self.origins.get(key).or_else(|| self.origins.get(base))
    }

    /// The phrase saying where the value at `key` came from.
    pub fn place_of(&self, key: &str) -> String {
        place(self.origin_of(key))
    }

    /// Overlay command-line flags (last, so they win).
    pub fn apply_flags(&mut self, flags: &[FlagOverride]) -> Result<(), Error> {
        for flag in flags {
            let Some(template) = get(&self.tree, &flag.key).and_then(|_| self.template_for(&flag.key)) else {
                return Err(Error::Invalid(format!("flag {} sets unknown config key {}", flag.flag, flag.key)));
            };
            let value = from_json(&template, &flag.value, &flag.key).map_err(|m| Error::WrongType {
                key: m.key,
                place: format!("from flag {}", flag.flag),
                expected: m.expected,
                found: m.found,
            })?;
            set(&mut self.tree, &flag.key, value);
            self.origins.insert(flag.key.clone(), Origin::Flag { flag: flag.flag.clone() });
        }
        Ok(())
    }
}

/// Set the value at a dotted path, creating map entries on the way.
pub(super) fn set(tree: &mut Value, path: &str, value: Value) {
    let mut node = tree;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        if keys.peek().is_none() {
            map.insert(key.to_string(), value);
            return;
        }
        node = map.entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use std::collections::BTreeMap;

    use super::super::testing::*;
    use super::super::{FlagOverride, load_from};

    #[test]
    fn flags_are_typed_and_checked() {
        let flag = |key: &str, value: serde_json::Value| FlagOverride { key: key.into(), value, flag: "--x".into() };
        let loaded = load_from(
            None,
            &BTreeMap::new(),
            &[flag("features.dry_run", true.into()), flag("sandbox.port", "9000".into())],
        )
        .unwrap();
        assert!(loaded.config.features.dry_run);
        assert_eq!(loaded.config.sandbox.port, 9000);
        let message = err(load_from(None, &BTreeMap::new(), &[flag("sandbox.port", "x".into())]));
        assert!(message.contains("from flag --x"), "{message}");
        let message = err(load_from(None, &BTreeMap::new(), &[flag("no.such", true.into())]));
        assert!(message.contains("unknown config key no.such"), "{message}");
    }
}
