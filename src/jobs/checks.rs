//! Findings of the checking jobs (`health`, `quality`): one line per check, with the figure behind
//! its status. A report with a check that is not `ok` ends with exit code 1; a job that could not
//! check at all returns an error (exit 2).

use serde::{Deserialize, Serialize};

/// How bad a check's finding is. `Ord`: `Ok` < `Warning` < `Critical`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    Ok,
    Warning,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }
}

/// One check's finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What was checked, stable across runs (`database`, `interval.live_data`, `orphans.runners`).
    pub name: String,
    pub level: Level,
    /// The figure behind the level, in words: "slot 14:15 has no run, now 14:22".
    pub detail: String,
    /// What it names, when a finding is about particular rows or days (race ids, dates, ...),
    /// at most a handful; `detail` says how many there are in all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
}

impl Check {
    pub fn new(name: impl Into<String>, level: Level, detail: impl Into<String>) -> Self {
        Self { name: name.into(), level, detail: detail.into(), subjects: Vec::new() }
    }

    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Level::Ok, detail)
    }

    pub fn with_subjects(mut self, subjects: impl IntoIterator<Item = String>) -> Self {
        self.subjects = subjects.into_iter().collect();
        self
    }

    /// One aligned line: `critical  interval.live_data  slot 14:15 has no run, now 14:22`.
    pub fn line(&self, name_width: usize) -> String {
        let mut line = format!("{:<8}  {:<name_width$}  {}", self.level.as_str(), self.name, self.detail);
        if !self.subjects.is_empty() {
            line.push_str(&format!(" [{}]", self.subjects.join(", ")));
        }
        line
    }
}

/// The worst level among `checks` (`Ok` when there are none).
pub fn worst(checks: &[Check]) -> Level {
    checks.iter().map(|c| c.level).max().unwrap_or_default()
}

/// The checks as aligned lines and a closing count: `3 ok, 1 warning, 0 critical`.
pub fn render(checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out: Vec<String> = checks.iter().map(|c| c.line(width)).collect();
    let count = |level| checks.iter().filter(|c| c.level == level).count();
    out.push(format!(
        "{} ok, {} warning, {} critical",
        count(Level::Ok),
        count(Level::Warning),
        count(Level::Critical)
    ));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_level_decides_and_lines_align() {
        let checks = vec![
            Check::ok("database", "reachable, 3 of 3 migrations applied"),
            Check::new("interval.live_data", Level::Critical, "slot 14:15 has no run, now 14:22"),
            Check::new("disk", Level::Warning, "1.2 GiB free under logs").with_subjects(["logs".to_string()]),
        ];
        assert_eq!(worst(&checks), Level::Critical);
        assert_eq!(worst(&checks[..1]), Level::Ok);
        assert_eq!(worst(&[]), Level::Ok);
        let text = render(&checks);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ok        database            reachable, 3 of 3 migrations applied");
        assert_eq!(lines[1], "critical  interval.live_data  slot 14:15 has no run, now 14:22");
        assert_eq!(lines[2], "warning   disk                1.2 GiB free under logs [logs]");
        assert_eq!(lines[3], "1 ok, 1 warning, 1 critical");
    }
}
