//! What `config show` and `config check` print: every leaf with its value and origin, secrets
//! masked by their type (`Secret` serialises masked, so the tree printed here never holds one).

use serde_json::{Map, Value, json};

use super::layer::{get, leaves};
use super::{Loaded, Origin};

/// A database URL with only its password hidden: `postgres://user:***@host/db`. Passwords given as
/// `password=...` parameters are hidden too.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..].find(['/', '?', '#']).map_or(out.len(), |i| authority_start + i);
        if let Some(at) = out[authority_start..authority_end].rfind('@') {
            let userinfo = &out[authority_start..authority_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(authority_start + colon + 1..authority_start + at, "***");
            }
        }
    }
    // `?password=...&` in a URL, `password=... ` in a key=value connection string.
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.to_ascii_lowercase().find("password=") {
        let value_start = i + "password=".len();
        result.push_str(&rest[..value_start]);
        let value_len = rest[value_start..].find(['&', ' ', ';']).unwrap_or(rest.len() - value_start);
        result.push_str("***");
        rest = &rest[value_start + value_len..];
    }
    result.push_str(rest);
    result
}

/// Every leaf of the effective configuration, in tree order, with its printable value and origin.
fn rows(loaded: &Loaded) -> Vec<(String, Value, Origin)> {
    let tree = serde_json::to_value(&loaded.config).unwrap_or(Value::Null);
    let mut paths = Vec::new();
    leaves(&tree, "", &mut paths);
    paths
        .into_iter()
        .map(|key| {
            let value = get(&tree, &key).cloned().unwrap_or(Value::Null);
            let origin = loaded.origins.get(&key).cloned().unwrap_or(Origin::Default);
            (key, value, origin)
        })
        .collect()
}

fn human_value(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() => "\"\"".into(),
        // A value with a line break or other control character stays on its line.
        Value::String(s) if s.chars().any(char::is_control) => format!("{s:?}"),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(human_value).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// `config show`: one line per leaf, `key: value  (origin)`.
pub fn show_human(loaded: &Loaded) -> String {
    let rows = rows(loaded);
    let mut out = String::new();
    for (key, value, origin) in rows {
        out.push_str(&format!("{key}: {}  ({origin})\n", human_value(&value)));
    }
    out
}

/// `config show --json`: `{"api.rate_limit": {"value": 0.5, "origin": {"kind": "env", "var": "..."}}, ...}`.
pub fn show_json(loaded: &Loaded) -> Value {
    let mut map = Map::new();
    for (key, value, origin) in rows(loaded) {
        map.insert(key, json!({ "value": value, "origin": origin }));
    }
    Value::Object(map)
}

fn source(loaded: &Loaded) -> String {
    match &loaded.file {
        Some(path) => path.display().to_string(),
        None => "defaults (no config file)".to_string(),
    }
}

/// `config check` when the configuration loaded: `configuration OK: config/darkhorses.yaml`.
pub fn check_line(loaded: &Loaded) -> String {
    format!("configuration OK: {}", source(loaded))
}

/// `config check --json` when the configuration loaded.
pub fn check_json(loaded: &Loaded) -> Value {
    json!({ "ok": true, "file": loaded.file, "warnings": loaded.warnings })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use std::path::Path;

    use super::super::load_from;
    use super::super::testing::*;
    use super::*;

    #[test]
    fn urls_keep_everything_but_the_password() {
        assert_eq!(
            redact_url("postgres://user:pw@db.example.com:5432/app"),
            "postgres://user:***@db.example.com:5432/app"
        );
        assert_eq!(redact_url("postgresql://u:p@ss@host/db"), "postgresql://u:***@host/db");
        assert_eq!(redact_url("postgres://user@host/db"), "postgres://user@host/db");
        assert_eq!(
            redact_url("postgres://host/db?user=u&password=pw&sslmode=require"),
            "postgres://host/db?user=u&password=***&sslmode=require"
        );
        assert_eq!(redact_url("host=h password=pw dbname=d"), "host=h password=*** dbname=d");
        assert_eq!(redact_url("sqlite:darkhorses.db"), "sqlite:darkhorses.db");
    }

    #[test]
    fn secrets_serialise_masked_whatever_key_holds_them() {
        use super::super::Secret;
        let shown = |s: &str| serde_json::to_value(Secret::new(s)).unwrap();
        assert_eq!(shown("hunter2"), json!("***"));
        assert_eq!(shown(""), json!(""));
        assert_eq!(shown("postgres://bob:hunter2@db:5432/racing"), json!("postgres://bob:***@db:5432/racing"));
        assert_eq!(shown("sqlite:darkhorses.db"), json!("sqlite:darkhorses.db"));
        // Not a URL we know: nothing of it is shown.
        assert_eq!(shown("host=db password=hunter2"), json!("***"));
    }

    #[test]
    fn show_prints_origins_and_hides_secrets() {
        let loaded = load_from(
            Some((Path::new("x.yaml"), "api:\n  timeout: 9\n")),
            &env(&[
                ("DARKHORSES_API_RATE_LIMIT", "0.5"),
                ("RACING_API_PASSWORD", "hunter2"),
                ("RACING_API_USERNAME", "alice-hunter2"),
                ("DATABASE_URL", "postgres://bob:hunter2@db:5432/racing"),
            ]),
            &[],
        )
        .unwrap();
        let text = show_human(&loaded);
        assert!(text.contains("api.rate_limit: 0.5  (env DARKHORSES_API_RATE_LIMIT)\n"), "{text}");
        assert!(text.contains("api.timeout: 9  (x.yaml:2)\n"), "{text}");
        assert!(text.contains("retry.max_attempts: 5  (default)\n"), "{text}");
        assert!(text.contains("api.password: ***  (env RACING_API_PASSWORD)\n"), "{text}");
        assert!(text.contains("database.url: postgres://bob:***@db:5432/racing  (env DATABASE_URL)\n"), "{text}");
        assert!(text.contains("api.regions: [gb, ire]  (default)\n"), "{text}");
        let json = show_json(&loaded).to_string();
        assert!(
            json.contains(
                r#""api.rate_limit":{"value":0.5,"origin":{"kind":"env","var":"DARKHORSES_API_RATE_LIMIT"}}"#
            ),
            "{json}"
        );
        for out in [&text, &json, &format!("{loaded:?}")] {
            assert!(!out.contains("hunter2"), "{out}");
        }
        assert_eq!(text.lines().count(), loaded.origins.len());
    }

    #[test]
    fn check_names_the_file_or_the_defaults() {
        assert_eq!(check_line(&from_env(&[]).unwrap()), "configuration OK: defaults (no config file)");
        assert_eq!(check_line(&from_yaml("").unwrap()), "configuration OK: x.yaml");
    }
}
