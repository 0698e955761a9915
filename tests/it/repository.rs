//! The repository stands alone: no file in it points at a path outside it, so a clone has
//! everything its docs, tests and comments name.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};

/// Applied migrations are never edited (their checksums are recorded in every database), so
/// the first files keep the comment they were applied with; every later file is held to the rule.
const IMMUTABLE: [&str; 2] = ["sql/sqlite/0001_init.sql", "sql/postgres/0001_schema.sql"];

/// Text that names a place outside a clone of the repository.
const OUTSIDE: [&str; 3] = ["../shared", "/work/shared", "/work/main"];

fn files(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "target" || name.starts_with('.') && name != ".ci" {
            continue;
        }
        if path.is_dir() {
            files(&path, root, out);
        } else {
            out.push(path.strip_prefix(root).unwrap().to_path_buf());
        }
    }
}

#[test]
fn no_file_refers_to_a_path_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    files(root, root, &mut all);
    let mut offenders = Vec::new();
    for file in &all {
        if IMMUTABLE.iter().any(|f| Path::new(f) == file) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(file)) else { continue };
        for (n, line) in text.lines().enumerate() {
            if OUTSIDE.iter().any(|o| line.contains(o)) && !line.contains("const OUTSIDE") {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(all.len() > 50, "read only {} files", all.len());
    assert!(offenders.is_empty(), "files pointing outside the repository:\n{}", offenders.join("\n"));
}
