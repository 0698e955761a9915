//! The seed-era names still accepted: `script:` entries of `intervals` (the Python system's
//! scripts) read as the job that replaced them, with a warning saying what to write instead.

use std::path::Path;

use serde_json::Value;

use super::layer::join;
use super::overlay::FileCx;
use super::yaml::{Kind, Node};
use super::{Error, Origin};

/// Scripts of the Python system, which seed-era config files name instead of a job.
const SEED_SCRIPTS: [(&str, &str, &[&str]); 5] = [
    ("update_live_data.py", "live", &[]),
    ("update_daily_data.py", "daily", &[]),
    ("update_reference_data.py", "reference", &[]),
    ("initialize_data.py", "backfill", &[]),
    ("initialize_12months.py", "backfill", &["--months", "12"]),
];

impl FileCx<'_> {
    /// One `intervals` entry, which may name a script of the Python system instead of a job.
    pub(super) fn overlay_interval(
        &mut self,
        slot: &mut Value,
        node: &Node,
        path: &str,
        line: usize,
    ) -> Result<(), Error> {
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
    use super::super::testing::*;

    #[test]
    fn seed_era_scripts_map_to_jobs_with_a_warning() {
        let text = "intervals:\n  daily:\n    script: scripts/update_daily_data.py\n    frequency: '0 6 * * *'\n    args: --days-ahead 3\n  history:\n    script: scripts/initialize_12months.py\n    frequency: '0 2 * * *'\n";
        let loaded = from_yaml(text).unwrap();
        let daily = &loaded.config.intervals["daily"];
        assert_eq!(daily.job, "daily");
        assert_eq!(daily.args, ["--days-ahead", "3"]);
        assert_eq!(loaded.origins["intervals.daily.job"], file_origin(3));
        let history = &loaded.config.intervals["history"];
        assert_eq!(history.job, "backfill");
        assert_eq!(history.args, ["--months", "12"]);
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("write `job: daily` instead"), "{:?}", loaded.warnings);
        assert!(
            loaded.warnings[1].contains("write `job: backfill` and `args: [--months, 12]`"),
            "{:?}",
            loaded.warnings
        );
        for (script, job) in [
            ("update_live_data.py", "live"),
            ("update_reference_data.py", "reference"),
            ("initialize_data.py", "backfill"),
        ] {
            let loaded = from_yaml(&format!(
                "intervals:\n  x:\n    script: python3 scripts/{script}\n    frequency: '0 1 * * *'\n"
            ))
            .unwrap();
            assert_eq!(loaded.config.intervals["x"].job, job);
        }
    }

    #[test]
    fn unknown_scripts_are_errors_naming_them() {
        let message = err(from_yaml("intervals:\n  x:\n    script: scripts/do_magic.py\n    frequency: '0 1 * * *'\n"));
        assert!(message.starts_with("unknown script `scripts/do_magic.py` for interval x in x.yaml:3"), "{message}");
    }
}
