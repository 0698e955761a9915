//! The layers of the configuration: a JSON tree of the built-in defaults, overlaid by the YAML
//! file, the environment and command-line flags, each value typed by the default it replaces and
//! each leaf's origin recorded.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::yaml::{Kind, Node};
use super::{Config, Error, FlagOverride, IntervalConfig, Origin, defaults};

/// Environment variables of other names that set one key (applied before `DARKHORSES_*`, which win).
pub const PLAIN_ENV: [(&str, &str); 4] = [
    ("RACING_API_USERNAME", "api.username"),
    ("RACING_API_PASSWORD", "api.password"),
    ("DATABASE_URL", "database.url"),
    ("LOG_LEVEL", "logging.level"),
];

/// Keys an empty `DARKHORSES_*` variable may not fall back from: the default would put the data
/// somewhere the user did not ask for.
const REQUIRED_IF_SET: [&str; 1] = ["database.schema"];

/// Prefix of the variables that set any key.
pub const ENV_PREFIX: &str = "DARKHORSES_";

/// `DARKHORSES_*` variables that are not configuration (read by the test suite) and are not warned about.
const NON_CONFIG_ENV_PREFIX: &str = "DARKHORSES_TEST_";

/// Scripts of the Python system, which seed-era config files name instead of a job.
const SEED_SCRIPTS: [(&str, &str, &[&str]); 5] = [
    ("update_live_data.py", "live", &[]),
    ("update_daily_data.py", "daily", &[]),
    ("update_reference_data.py", "reference", &[]),
    ("initialize_data.py", "backfill", &[]),
    ("initialize_12months.py", "backfill", &["--months", "12"]),
];

/// Maps whose keys the user chooses, with the template of one entry: the type of its values and
/// the defaults of the keys an entry leaves out.
const OPEN_MAPS: [&str; 2] = ["intervals", "logging.retention_days"];

fn open_map_template(path: &str) -> Option<Value> {
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
fn all_paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
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

/// Edit distance between two strings, for "did you mean".
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The candidate nearest to `wanted`, when it is near enough to be what was meant.
pub fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&wanted_lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(wanted.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The canonical variable name for a key: `DARKHORSES_API_RATE_LIMIT`, `DARKHORSES_INTERVALS__LIVE_DATA__TIMEOUT`.
pub fn env_name(path: &str) -> String {
    let segments: Vec<&str> = path.split('.').collect();
    let body = if segments.len() == 2 { segments.join("_") } else { segments.join("__") };
    format!("{ENV_PREFIX}{}", body.to_ascii_uppercase())
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

/// A value of the wrong type: what was expected and what was found.
struct Mismatch {
    key: String,
    expected: &'static str,
    found: String,
}

fn expected(template: &Value) -> &'static str {
    match template {
        Value::Bool(_) => "a boolean (true or false)",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "a whole number, 0 or more",
        Value::String(_) | Value::Null => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping of keys",
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Text typed by the default it replaces. `None` when it does not fit.
fn typed_text(template: &Value, text: &str) -> Option<Value> {
    match template {
        Value::String(_) | Value::Null => Some(Value::String(text.to_string())),
        Value::Bool(_) => parse_bool(text).map(Value::Bool),
        Value::Number(n) if n.is_f64() => {
            let x: f64 = text.trim().parse().ok()?;
            serde_json::Number::from_f64(x).filter(|_| x.is_finite()).map(Value::Number)
        }
        Value::Number(_) => text.trim().parse::<u64>().ok().map(Value::from),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn element_template(template: &Value) -> Value {
    match template {
        Value::Array(items) => items.first().cloned().unwrap_or(Value::String(String::new())),
        _ => Value::String(String::new()),
    }
}

/// A YAML value typed by the default it replaces. Quoted values are strings, so `"0.5"` does not
/// fill a number.
fn from_yaml(template: &Value, node: &Node, key: &str) -> Result<Value, Mismatch> {
    let mismatch = || Mismatch { key: key.to_string(), expected: expected(template), found: node.describe() };
    match (template, &node.kind) {
        (Value::Array(_), Kind::Seq(items)) => {
            let element = element_template(template);
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(from_yaml(&element, item, &format!("{key}[{i}]"))?);
            }
            Ok(Value::Array(out))
        }
        (Value::Array(_), _) if node.is_null() => Ok(Value::Array(Vec::new())),
        // A job's arguments may be written as one string, as the Python system's config did.
        (Value::Array(_), Kind::Scalar { text, .. }) if key.starts_with("intervals.") && key.ends_with(".args") => {
            Ok(Value::Array(text.split_whitespace().map(|s| Value::String(s.to_string())).collect()))
        }
        (Value::String(_) | Value::Null, _) if node.is_null() => Ok(Value::String(String::new())),
        (Value::String(_) | Value::Null, Kind::Scalar { text, .. }) => Ok(Value::String(text.clone())),
        (Value::Bool(_) | Value::Number(_), Kind::Scalar { text, plain: true }) if !node.is_null() => {
            typed_text(template, text).ok_or_else(mismatch)
        }
        _ => Err(mismatch()),
    }
}

/// An environment value typed by the default it replaces: strings raw, lists comma-separated.
fn from_text(template: &Value, text: &str, key: &str) -> Result<Value, Mismatch> {
    let mismatch =
        || Mismatch { key: key.to_string(), expected: expected(template), found: format!("`{}`", text.escape_debug()) };
    match template {
        Value::Array(_) => {
            let element = element_template(template);
            let items = text.split(',').map(str::trim).filter(|s| !s.is_empty());
            items
                .map(|item| typed_text(&element, item).ok_or_else(mismatch))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        _ => typed_text(template, text).ok_or_else(mismatch),
    }
}

/// A flag's value: JSON of the right type, or text typed as the environment's is.
fn from_json(template: &Value, value: &Value, key: &str) -> Result<Value, Mismatch> {
    match (template, value) {
        (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Array(_), Value::Array(_)) => Ok(value.clone()),
        (Value::Number(t), Value::Number(v)) if t.is_f64() || v.is_u64() => Ok(value.clone()),
        (_, Value::String(text)) => from_text(template, text, key),
        _ => Err(Mismatch {
            key: key.to_string(),
            expected: expected(template),
            found: format!("`{}`", value.to_string().escape_debug()),
        }),
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
}

impl Layers {
    /// The built-in defaults, every leaf with origin `Default`.
    pub fn defaults() -> Result<Self, Error> {
        let tree = serde_json::to_value(Config::default())
            .map_err(|e| Error::Invalid(format!("cannot serialize the built-in defaults: {e}")))?;
        let mut paths = Vec::new();
        leaves(&tree, "", &mut paths);
        let origins = paths.into_iter().map(|p| (p, Origin::Default)).collect();
        Ok(Self { defaults: tree.clone(), tree, origins, warnings: Vec::new() })
    }

    /// The value that types a new value at `key`: its built-in default or, for an entry of an open
    /// map that the defaults lack, the map's template. The defaults, not the current tree, so a list
    /// emptied by the file still types the elements the environment gives it.
    fn template_for(&self, key: &str) -> Option<Value> {
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

    /// Overlay a parsed YAML file.
    pub fn apply_file(&mut self, root: &Node, file: &Path) -> Result<(), Error> {
        let mut cx = FileCx { file, origins: &mut self.origins, warnings: &mut self.warnings };
        cx.overlay(&mut self.tree, root, "", root.line)
    }

    /// Overlay environment variables (a snapshot: this function never reads the process).
    pub fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<(), Error> {
        for (var, key) in PLAIN_ENV {
            if let Some(text) = env.get(var).filter(|v| !v.is_empty()) {
                self.set_text(key, text, var)?;
            }
        }
        for (var, text) in env {
            if !var.starts_with(ENV_PREFIX) || var.starts_with(NON_CONFIG_ENV_PREFIX) {
                continue;
            }
            if text.is_empty() {
                self.empty_variable(var)?;
                continue;
            }
            match self.env_key(var) {
                Some(key) => self.set_text(&key, text, var)?,
                None => {
                    let mut paths = Vec::new();
                    leaves(&self.tree, "", &mut paths);
                    let names: Vec<String> = paths.iter().map(|p| env_name(p)).collect();
                    let hint = match nearest(var, names.iter().map(String::as_str)) {
                        Some(name) => format!("; did you mean {name}?"),
                        None => "; see `darkhorses config show` for the keys".to_string(),
                    };
                    self.warnings.push(format!("environment variable {var} names no config key and is ignored{hint}"));
                }
            }
        }
        Ok(())
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

    /// Set a leaf from an environment variable's text.
    /// A `DARKHORSES_*` variable set to the empty string (often a deploy template's unset value).
    /// It is ignored, with a warning naming it, except where falling back would quietly write
    /// somewhere else: an empty schema would mean `public`, so that is an error.
    fn empty_variable(&mut self, var: &str) -> Result<(), Error> {
        let Some(key) = self.env_key(var) else { return Ok(()) };
        if REQUIRED_IF_SET.contains(&key.as_str()) {
            return Err(Error::InvalidValue {
                key,
                place: format!("from environment variable {var}"),
                message: "is set but empty: give a value, or unset the variable to use the default".into(),
            });
        }
        self.warnings.push(format!(
            "environment variable {var} is set but empty and is ignored ({key} keeps its {} value)",
            match self.origins.get(&key) {
                Some(Origin::File { .. }) => "file",
                _ => "default",
            }
        ));
        Ok(())
    }

    fn set_text(&mut self, key: &str, text: &str, var: &str) -> Result<(), Error> {
        let template = self.template_for(key).unwrap_or(Value::Null);
        let value = from_text(&template, text, key).map_err(|m| Error::WrongType {
            key: m.key,
            place: format!("from environment variable {var}"),
            expected: m.expected,
            found: m.found,
        })?;
        set(&mut self.tree, key, value);
        self.origins.insert(key.to_string(), Origin::Env { var: var.to_string() });
        Ok(())
    }

    /// The leaf a `DARKHORSES_*` variable names, if any. `__` separates keys; a single `_` may
    /// separate keys too (`DARKHORSES_API_RATE_LIMIT`: section `api`, key `rate_limit`), matched
    /// against the keys that exist, case-insensitively.
    pub fn env_key(&self, var: &str) -> Option<String> {
        let body = var.get(ENV_PREFIX.len()..)?.to_ascii_lowercase();
        let chunks: Vec<String> = body.split("__").map(str::to_string).collect();
        if chunks.iter().any(String::is_empty) {
            return None;
        }
        resolve(&self.tree, "", &chunks)
    }
}

/// Walk `chunks` down the tree. Each chunk is one key, or several joined by `_`.
fn resolve(node: &Value, path: &str, chunks: &[String]) -> Option<String> {
    let Some((chunk, rest)) = chunks.split_first() else {
        return (!node.is_object()).then(|| path.to_string());
    };
    let map = node.as_object()?;
    for (key, child) in map {
        let lower = key.to_ascii_lowercase();
        if *chunk == lower {
            if let Some(found) = resolve(child, &join(path, key), rest) {
                return Some(found);
            }
        } else if let Some(tail) = chunk.strip_prefix(&format!("{lower}_")) {
            let mut next = vec![tail.to_string()];
            next.extend_from_slice(rest);
            if let Some(found) = resolve(child, &join(path, key), &next) {
                return Some(found);
            }
        }
    }
    // A new entry of an open map of plain values (`logging.retention_days.<name>`).
    match open_map_template(path) {
        Some(template) if !template.is_object() && rest.is_empty() => Some(join(path, chunk)),
        _ => None,
    }
}

/// Set the value at a dotted path, creating map entries on the way.
fn set(tree: &mut Value, path: &str, value: Value) {
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

struct FileCx<'a> {
    file: &'a Path,
    origins: &'a mut BTreeMap<String, Origin>,
    warnings: &'a mut Vec<String>,
}

impl FileCx<'_> {
    fn at(&self, line: usize) -> String {
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
    fn overlay(&mut self, slot: &mut Value, node: &Node, path: &str, line: usize) -> Result<(), Error> {
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

    /// One `intervals` entry, which may name a script of the Python system instead of a job.
    fn overlay_interval(&mut self, slot: &mut Value, node: &Node, path: &str, line: usize) -> Result<(), Error> {
        let Kind::Map(entries) = &node.kind else {
            return self.overlay(slot, node, path, line);
        };
        let (scripts, rest): (Vec<_>, Vec<_>) = entries.iter().cloned().partition(|e| e.key == "script");
        let plain = Node { kind: Kind::Map(rest.clone()), line: node.line, col: node.col };
        self.overlay(slot, &plain, path, line)?;
        let Some(script) = scripts.first() else {
            return Ok(());
        };
        let Kind::Scalar { text, .. } = &script.value.kind else {
            return Err(Error::WrongType {
                key: join(path, "script"),
                place: self.at(script.line),
                expected: "a script path",
                found: script.value.describe(),
            });
        };
        if rest.iter().any(|e| e.key == "job") {
            self.warnings.push(format!(
                "{path}.script {} is ignored because the entry also names a job; remove the `script:` line",
                self.at(script.line)
            ));
            return Ok(());
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let script_at = words.iter().position(|w| w.ends_with(".py"));
        let file_name = script_at.and_then(|i| Path::new(words[i]).file_name()).and_then(|n| n.to_str());
        let Some((_, job, extra)) = SEED_SCRIPTS.iter().find(|(name, _, _)| Some(*name) == file_name) else {
            let known: Vec<&str> = SEED_SCRIPTS.iter().map(|(name, _, _)| *name).collect();
            return Err(Error::UnknownScript {
                interval: path.trim_start_matches("intervals.").to_string(),
                script: text.clone(),
                place: self.at(script.line),
                known: known.join(", "),
            });
        };
        // Arguments of the script's own mapping, then any written after the script on its line,
        // then the entry's `args`.
        let mut args: Vec<Value> = extra.iter().map(|a| Value::String(a.to_string())).collect();
        let after = script_at.map_or(&[][..], |i| &words[i + 1..]);
        args.extend(after.iter().map(|a| Value::String(a.to_string())));
        let origin = Origin::File { path: self.file.to_path_buf(), line: script.line };
        if let Value::Object(map) = slot {
            map.insert("job".into(), Value::String(job.to_string()));
            self.origins.insert(join(path, "job"), origin.clone());
            if !args.is_empty() {
                let given = map.get("args").and_then(Value::as_array).cloned().unwrap_or_default();
                let suggested: Vec<String> =
                    args.iter().chain(&given).filter_map(Value::as_str).map(str::to_string).collect();
                args.extend(given);
                map.insert("args".into(), Value::Array(args));
                self.origins.insert(join(path, "args"), origin);
                self.warnings.push(format!(
                    "{path} {} runs `{text}`, a script of the Python system; write `job: {job}` and `args: [{}]` instead",
                    self.at(script.line),
                    suggested.join(", ")
                ));
                return Ok(());
            }
        }
        self.warnings.push(format!(
            "{path} {} runs `{text}`, a script of the Python system; write `job: {job}` instead",
            self.at(script.line)
        ));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("rate_limt", "rate_limit"), 1);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn nearest_ignores_far_candidates() {
        assert_eq!(nearest("api.rate_limt", ["api.rate_limit", "api.timeout"]), Some("api.rate_limit"));
        assert_eq!(nearest("zzzzzzzz", ["api.rate_limit", "api.timeout"]), None);
    }

    #[test]
    fn env_names_are_canonical() {
        assert_eq!(env_name("api.rate_limit"), "DARKHORSES_API_RATE_LIMIT");
        assert_eq!(env_name("intervals.live_data.timeout"), "DARKHORSES_INTERVALS__LIVE_DATA__TIMEOUT");
    }

    #[test]
    fn env_names_resolve_to_keys() {
        let layers = Layers::defaults().unwrap();
        let key = |var: &str| layers.env_key(var);
        assert_eq!(key("DARKHORSES_API_RATE_LIMIT").as_deref(), Some("api.rate_limit"));
        assert_eq!(key("DARKHORSES_LOGGING_LEVEL").as_deref(), Some("logging.level"));
        assert_eq!(key("DARKHORSES_DATABASE_BATCH_SIZE").as_deref(), Some("database.batch_size"));
        assert_eq!(key("DARKHORSES_ALERTS_ENABLED").as_deref(), Some("alerts.enabled"));
        assert_eq!(key("DARKHORSES_FEATURES_DRY_RUN").as_deref(), Some("features.dry_run"));
        assert_eq!(key("DARKHORSES_HEALTH_CHECK_STUCK_AFTER").as_deref(), Some("health_check.stuck_after"));
        assert_eq!(key("DARKHORSES_INTERVALS__LIVE_DATA__TIMEOUT").as_deref(), Some("intervals.live_data.timeout"));
        assert_eq!(
            key("DARKHORSES_ALERTS__THRESHOLDS__STALE_DATA_HOURS").as_deref(),
            Some("alerts.thresholds.stale_data_hours")
        );
        assert_eq!(key("darkhorses_api_rate_limit".to_ascii_uppercase().as_str()).as_deref(), Some("api.rate_limit"));
        assert_eq!(key("DARKHORSES_SANDBOX__FAULTS__5XX").as_deref(), Some("sandbox.faults.5xx"));
        assert_eq!(
            key("DARKHORSES_LOGGING__RETENTION_DAYS__DAILY_UPDATE").as_deref(),
            Some("logging.retention_days.daily_update")
        );
        assert_eq!(key("DARKHORSES_API_RATE_LIMT"), None);
        assert_eq!(key("DARKHORSES_API"), None, "a section is not a value");
        assert_eq!(key("DARKHORSES_INTERVALS__NO_SUCH_JOB__TIMEOUT"), None);
        assert_eq!(key("DARKHORSES_API__"), None);
    }

    #[test]
    fn lists_emptied_by_the_file_still_type_their_elements() {
        let mut layers = Layers::defaults().unwrap();
        let root = super::super::yaml::parse("retry:\n  retry_status_codes: []\nintervals:\n  x:\n    job: daily\n")
            .unwrap()
            .unwrap();
        layers.apply_file(&root, Path::new("x.yaml")).unwrap();
        let env: BTreeMap<String, String> = [
            ("DARKHORSES_RETRY_RETRY_STATUS_CODES", "429,503"),
            ("DARKHORSES_INTERVALS__X__TIMEOUT", "60"),
            ("DARKHORSES_LOGGING__RETENTION_DAYS__DAILY_UPDATE", "14"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        layers.apply_env(&env).unwrap();
        assert_eq!(get(&layers.tree, "retry.retry_status_codes"), Some(&serde_json::json!([429, 503])));
        assert_eq!(get(&layers.tree, "intervals.x.timeout"), Some(&Value::from(60u64)));
        assert_eq!(get(&layers.tree, "logging.retention_days.daily_update"), Some(&Value::from(14u64)));
    }

    #[test]
    fn text_is_typed_by_the_default() {
        let num = Value::from(2.0);
        let int = Value::from(5u32);
        let list = serde_json::json!(["gb"]);
        assert_eq!(from_text(&num, "0.5", "k").ok(), Some(Value::from(0.5)));
        assert_eq!(from_text(&int, "007", "k").ok(), Some(Value::from(7u64)));
        assert!(from_text(&int, "-1", "k").is_err());
        assert!(from_text(&int, "1.5", "k").is_err());
        assert!(from_text(&num, "NaN", "k").is_err());
        assert_eq!(from_text(&Value::from("x"), "007", "k").ok(), Some(Value::from("007")));
        for (text, want) in [("true", true), ("1", true), ("YES", true), ("false", false), ("0", false), ("no", false)]
        {
            assert_eq!(from_text(&Value::Bool(false), text, "k").ok(), Some(Value::Bool(want)), "{text}");
        }
        assert!(from_text(&Value::Bool(false), "maybe", "k").is_err());
        assert_eq!(from_text(&list, "gb, ire,", "k").ok(), Some(serde_json::json!(["gb", "ire"])));
        let codes = serde_json::json!([429]);
        assert_eq!(from_text(&codes, "429,503", "k").ok(), Some(serde_json::json!([429, 503])));
        assert!(from_text(&codes, "429,x", "k").is_err());
    }
}
