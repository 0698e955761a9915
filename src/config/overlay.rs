//! The YAML file onto the tree: each key typed and located (`file:line`), unknown keys named with
//! the nearest one, maps of user-chosen names (`intervals`, `logging.retention_days`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::compat::{self, Given};
use super::env::nearest;
use super::layer::{Layers, all_paths, join, leaves, open_map_template};
use super::typed::from_yaml;
use super::yaml::{Kind, Node};
use super::{Error, Origin};

impl Layers {
    /// Overlay a parsed YAML file.
    pub fn apply_file(&mut self, root: &Node, file: &Path) -> Result<(), Error> {
        let mut cx = FileCx { file, origins: &mut self.origins, warnings: &mut self.warnings, given: &mut self.given };
        cx.overlay(&mut self.tree, root, "", root.line)
    }
}

pub(super) struct FileCx<'a> {
    pub file: &'a Path,
    pub origins: &'a mut BTreeMap<String, Origin>,
    pub warnings: &'a mut Vec<String>,
    pub given: &'a mut Vec<Given>,
}

impl FileCx<'_> {
    pub(super) fn at(&self, line: usize) -> String {
        format!("in {}:{line}", self.file.display())
    }

    fn unknown_key(&self, key: &str, line: usize, siblings: &Map<String, Value>, parent: &str) -> Error {
        let mut candidates = Vec::new();
        for (name, child) in siblings {
            let path = join(parent, name);
            candidates.push(path.clone());
            all_paths(child, &path, &mut candidates);
        }
        let hint = match nearest(key, candidates.iter().map(String::as_str)) {
            Some(near) => format!("; did you mean {near}?"),
            None => {
                let names: Vec<&str> = siblings.keys().map(String::as_str).collect();
                format!("; valid keys here: {}", names.join(", "))
            }
        };
        Error::UnknownKey { key: key.escape_debug().to_string(), place: self.at(line), hint }
    }

    /// Overlay `node` onto `slot`, the value at `path`; `line` is the line of the key that holds it.
    pub(super) fn overlay(&mut self, slot: &mut Value, node: &Node, path: &str, line: usize) -> Result<(), Error> {
        let Value::Object(map) = slot else {
            let value = from_yaml(slot, node, path).map_err(|m| Error::WrongType {
                key: m.key,
                place: self.at(line),
                expected: m.expected,
                found: m.found,
            })?;
            *slot = value;
            self.origins.insert(path.to_string(), Origin::File { path: self.file.to_path_buf(), line });
            return Ok(());
        };
        if node.is_null() {
            // `api:` with nothing under it leaves the section as it is.
            return Ok(());
        }
        let Kind::Map(entries) = &node.kind else {
            return Err(Error::WrongType {
                key: if path.is_empty() { "the top level".to_string() } else { path.to_string() },
                place: self.at(line),
                expected: "a mapping of keys",
                found: node.describe(),
            });
        };
        if let Some(template) = open_map_template(path) {
            return self.overlay_open_map(map, entries, path, &template);
        }
        for entry in entries {
            let child_path = join(path, &entry.key);
            let Some(child) = map.get_mut(&entry.key) else {
                if let Some(accepted) = compat::accepted(&child_path) {
                    let origin = Origin::File { path: self.file.to_path_buf(), line: entry.line };
                    let value = compat::from_yaml(accepted, &entry.value, &origin)?;
                    self.given.push(Given { key: accepted.key, value, origin });
                    continue;
                }
                return Err(self.unknown_key(&child_path, entry.line, map, path));
            };
            self.overlay(child, &entry.value, &child_path, entry.line)?;
        }
        Ok(())
    }

    /// A map of user-chosen names. `intervals` is replaced as a whole (a file's schedule is the
    /// schedule: merging would keep default jobs the file leaves out); an entry named like a
    /// default one starts from that default. Other open maps are merged.
    fn overlay_open_map(
        &mut self,
        map: &mut Map<String, Value>,
        entries: &[super::yaml::Entry],
        path: &str,
        template: &Value,
    ) -> Result<(), Error> {
        let replace = path == "intervals";
        let old = if replace { std::mem::take(map) } else { map.clone() };
        if replace {
            let prefix = format!("{path}.");
            self.origins.retain(|k, _| !k.starts_with(&prefix));
        }
        for entry in entries {
            let name = &entry.key;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(Error::InvalidValue {
                    key: join(path, name),
                    place: self.at(entry.line),
                    message: "names here use only letters, digits, `_` and `-`".into(),
                });
            }
            let entry_path = join(path, name);
            let mut value = old.get(name).cloned().unwrap_or_else(|| template.clone());
            let mut paths = Vec::new();
            leaves(&value, &entry_path, &mut paths);
            for p in paths {
                self.origins.entry(p).or_insert(Origin::Default);
            }
            if replace {
                self.overlay_interval(&mut value, &entry.value, &entry_path, entry.line)?;
            } else {
                self.overlay(&mut value, &entry.value, &entry_path, entry.line)?;
            }
            map.insert(name.clone(), value);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use std::path::Path;

    use super::super::testing::*;
    use super::super::{IntervalConfig, Origin};

    #[test]
    fn file_values_are_typed_and_located() {
        let loaded = from_yaml(
            "# top\napi:\n  rate_limit: 0.5\n  regions: [gb]\n  password: 123456\ndatabase:\n  pool_size: 50\n",
        )
        .unwrap();
        assert_eq!(loaded.config.api.rate_limit, 0.5);
        assert_eq!(loaded.config.api.regions, vec!["gb"]);
        assert_eq!(loaded.config.api.password.expose(), "123456");
        assert_eq!(loaded.config.database.pool_size, 50);
        assert_eq!(loaded.origins["api.rate_limit"], file_origin(3));
        assert_eq!(loaded.origins["api.regions"], file_origin(4));
        assert_eq!(loaded.origins["database.pool_size"], file_origin(7));
        assert_eq!(loaded.origins["api.timeout"], Origin::Default);
        assert_eq!(loaded.file.as_deref(), Some(Path::new("x.yaml")));
    }

    #[test]
    fn integer_values_fill_float_keys() {
        let loaded = from_yaml("api:\n  rate_limit: 1\n").unwrap();
        assert_eq!(loaded.config.api.rate_limit, 1.0);
    }

    #[test]
    fn unknown_keys_name_the_path_and_the_nearest_key() {
        let message = err(from_yaml("api:\n  rate_limt: 1\n"));
        assert_eq!(message, "unknown key api.rate_limt in x.yaml:2; did you mean api.rate_limit?");
        let message = err(from_yaml("databse:\n  url: x\n"));
        assert!(message.contains("unknown key databse in x.yaml:1; did you mean database?"), "{message}");
        let message = err(from_yaml("api:\n  zzzzzzzzzzzzzzzzz: 1\n"));
        assert!(message.contains("valid keys here: base_url, username"), "{message}");
        let message = err(from_yaml("intervals:\n  live_data:\n    frequncy: '* * * * *'\n"));
        assert!(
            message.contains("intervals.live_data.frequncy in x.yaml:3; did you mean intervals.live_data.frequency?")
        );
    }

    #[test]
    fn wrong_types_name_the_key_the_place_and_the_type() {
        let message = err(from_yaml("api:\n  rate_limit: fast\n"));
        assert_eq!(message, "api.rate_limit in x.yaml:2 must be a number, found `fast`");
        let message = err(from_yaml("api:\n  rate_limit: \"0.5\"\n"));
        assert!(message.contains("found the string \"0.5\""), "{message}");
        let message = err(from_yaml("database:\n  batch_size: -5\n"));
        assert!(message.contains("database.batch_size in x.yaml:2 must be a whole number"), "{message}");
        let message = err(from_yaml("alerts:\n  enabled: sometimes\n"));
        assert!(message.contains("alerts.enabled in x.yaml:2 must be a boolean"), "{message}");
        let message = err(from_yaml("retry:\n  retry_status_codes: [429, x]\n"));
        assert!(message.contains("retry.retry_status_codes[1] in x.yaml:2"), "{message}");
        let message = err(from_yaml("api: 3\n"));
        assert!(message.contains("api in x.yaml:1 must be a mapping"), "{message}");
        let message = err(from_yaml("- a\n- b\n"));
        assert!(message.contains("the top level"), "{message}");
    }

    #[test]
    fn control_characters_in_keys_and_values_stay_on_one_line() {
        let message = err(from_yaml("api:\n  \"rate\\nlimit\": 1\n"));
        assert!(message.contains("api.rate\\nlimit"), "{message}");
        let message = err(from_yaml("api:\n  rate_limit: |\n    1\n    2\n"));
        assert!(message.contains("found the string \"1\\n2\\n\""), "{message}");
    }

    #[test]
    fn intervals_in_a_file_replace_the_default_schedule() {
        let loaded = from_yaml(
            "intervals:\n  live_data:\n    timeout: 60\n  nightly:\n    frequency: '0 1 * * *'\n    job: backfill\n",
        )
        .unwrap();
        let names: Vec<&str> = loaded.config.intervals.keys().map(String::as_str).collect();
        assert_eq!(names, ["live_data", "nightly"]);
        let live = &loaded.config.intervals["live_data"];
        assert_eq!(live.timeout, 60);
        assert_eq!(live.frequency, "*/5 10-22 * * *", "an entry named like a default starts from it");
        assert_eq!(loaded.origins["intervals.live_data.timeout"], file_origin(3));
        assert_eq!(loaded.origins["intervals.live_data.frequency"], Origin::Default);
        assert_eq!(loaded.config.intervals["nightly"].priority, IntervalConfig::default().priority);
        assert!(!loaded.origins.keys().any(|k| k.starts_with("intervals.daily_data")));
    }

    #[test]
    fn retention_days_merge_with_the_defaults() {
        let loaded = from_yaml("logging:\n  retention_days:\n    daily_update: 14\n").unwrap();
        let days = &loaded.config.logging.retention_days;
        assert_eq!((days["daily_update"], days["default"], days["live_update"]), (14, 30, 7));
    }
}
