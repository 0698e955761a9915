//! A value from the file, the environment or a flag, typed by the built-in default it replaces:
//! `"0.5"` in quotes is a string, `007` from the environment a whole number, lists comma-separated.

use serde_json::Value;

use super::yaml::{Kind, Node};

/// A value of the wrong type: what was expected and what was found.
pub(super) struct Mismatch {
    pub key: String,
    pub expected: &'static str,
    pub found: String,
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
pub(super) fn from_yaml(template: &Value, node: &Node, key: &str) -> Result<Value, Mismatch> {
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
pub(super) fn from_text(template: &Value, text: &str, key: &str) -> Result<Value, Mismatch> {
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
pub(super) fn from_json(template: &Value, value: &Value, key: &str) -> Result<Value, Mismatch> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

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
