//! The repository stands alone: no file in it points at a path outside it, so a clone has
//! everything its docs, tests and comments name.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};

/// Text that names a place outside a clone of the repository (spelled in parts, so this file does
/// not name it either).
fn outside() -> [String; 3] {
    [["..", "/shared"].concat(), ["/work", "/shared"].concat(), ["/work", "/main"].concat()]
}

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
    let outside = outside();
    let mut offenders = Vec::new();
    for file in &all {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else { continue };
        for (n, line) in text.lines().enumerate() {
            if outside.iter().any(|o| line.contains(o.as_str())) {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(all.len() > 50, "read only {} files", all.len());
    assert!(offenders.is_empty(), "files pointing outside the repository:\n{}", offenders.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// docs/configuration.md: generated from the shipped config file, checked against the config tree.

/// One key of the shipped file: its dotted path, default as written, and comment.
struct Key {
    path: String,
    default: String,
    meaning: String,
}

/// One top-level section: its name, the comment block above it, its keys.
struct Section {
    name: String,
    about: Vec<String>,
    keys: Vec<Key>,
}

/// The header comment and sections of config/darkhorses.yaml (two-space indentation, one key a
/// line, `# comment` after the value: the shape a unit test holds the file to).
fn read_shipped(text: &str) -> (Vec<String>, Vec<Section>) {
    let mut header = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut in_header = true;
    for line in text.lines() {
        if line.trim().is_empty() {
            if in_header {
                header.append(&mut pending);
                in_header = false;
            }
            pending.clear();
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            pending.push(comment.trim().to_string());
            continue;
        }
        let depth = (line.len() - line.trim_start().len()) / 2;
        let body = line.trim();
        let (key, rest) = body.split_once(':').unwrap();
        let (value, meaning) = match rest.split_once(" # ") {
            Some((v, m)) => (v.trim(), m.trim()),
            None => (rest.trim(), ""),
        };
        stack.truncate(depth);
        if depth == 0 {
            sections.push(Section { name: key.to_string(), about: std::mem::take(&mut pending), keys: Vec::new() });
        }
        if value.is_empty() {
            stack.push(key.to_string());
            continue;
        }
        let path = stack.iter().chain(std::iter::once(&key.to_string())).cloned().collect::<Vec<_>>().join(".");
        sections.last_mut().unwrap().keys.push(Key { path, default: value.to_string(), meaning: meaning.to_string() });
    }
    (header, sections)
}

fn configuration_page() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("config/darkhorses.yaml")).unwrap();
    let (header, sections) = read_shipped(&text);
    let mut page = String::from(
        "# Configuration reference\n\n\
         Every key of `config/darkhorses.yaml`, its built-in default, the environment variable that sets it and \
         what it means. This page is generated from that file (`DARKHORSES_TEST_BLESS=1 cargo test --test it \
         repository::` rewrites it) and a test fails when it differs, or when a key of the configuration tree is \
         missing here. Lists are written comma-separated in the environment (`DARKHORSES_API_REGIONS=gb,ire`).\n\n",
    );
    for line in header {
        page.push_str(&line);
        page.push('\n');
    }
    for section in sections {
        page.push_str(&format!("\n## `{}`\n\n", section.name));
        if !section.about.is_empty() {
            page.push_str(&section.about.join("\n"));
            page.push_str("\n\n");
        }
        page.push_str("| key | default | environment | meaning |\n|---|---|---|---|\n");
        for key in section.keys {
            let mut env = format!("`{}`", darkhorses::config::env_name(&key.path));
            for (plain, path) in darkhorses::config::PLAIN_ENV {
                if path == key.path {
                    env = format!("`{plain}` or {env}");
                }
            }
            let default = key.default.replace('|', "\\|");
            let meaning = key.meaning.replace('|', "\\|");
            page.push_str(&format!("| `{}` | `{default}` | {env} | {meaning} |\n", key.path));
        }
    }
    page.push_str(
        "\n## Accepted for compatibility\n\nKeys of the seed's configuration that are no key of the tree: still \
         accepted from the file and from their variable, resolved when the configuration loads (`config show` lists \
         the key they set, with where the value came from).\n\n| key | environment | meaning |\n|---|---|---|\n",
    );
    for accepted in darkhorses::config::ACCEPTED {
        let env = darkhorses::config::env_name(accepted.key);
        page.push_str(&format!("| `{}` | `{env}` | {} |\n", accepted.key, accepted.meaning.replace('|', "\\|")));
    }
    page
}

#[test]
fn the_configuration_reference_lists_every_key_of_the_config_tree() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
    let generated = configuration_page();
    if std::env::var_os("DARKHORSES_TEST_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == generated,
        "docs/configuration.md is not what config/darkhorses.yaml generates: run \
         DARKHORSES_TEST_BLESS=1 cargo test --test it repository:: and commit the page"
    );
    // The tree itself, not only the file: every leaf the loader knows is on the page.
    let loaded = darkhorses::config::load_from(None, &Default::default(), &[]).unwrap();
    let missing: Vec<&String> = loaded
        .origins
        .keys()
        .filter(|k| !k.starts_with("intervals.") && !written.contains(&format!("| `{k}` |")))
        .collect();
    assert!(missing.is_empty(), "keys of the configuration tree missing from docs/configuration.md: {missing:?}");
    for key in ["enabled", "frequency", "timezone", "timeout", "job", "args", "priority", "misfire"] {
        assert!(written.contains(&format!("| `intervals.live_data.{key}` |")), "intervals.*.{key}");
    }
}

/// `a/{b,c}.rs` -> `a/b.rs`, `a/c.rs` (one brace group, as the codemap writes them).
fn expand(path: &str) -> Vec<String> {
    match (path.find('{'), path.find('}')) {
        (Some(open), Some(close)) if open < close => path[open + 1..close]
            .split(',')
            .map(|alt| format!("{}{alt}{}", &path[..open], &path[close + 1..]))
            .collect(),
        _ => vec![path.to_string()],
    }
}

/// The codemap's rows: the paths of its first cell, and every path the row names (first cell or
/// text); a name without a directory (`enrich.rs`, `normalize/`) is beside the row's first path.
fn codemap(root: &Path) -> Vec<(Vec<String>, Vec<String>)> {
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let section = text.split("## Codemap").nth(1).unwrap().split("\n## ").next().unwrap();
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        let ticked = |cell: &str| -> Vec<String> {
            cell.split('`').skip(1).step_by(2).map(str::to_string).filter(|t| !t.contains(' ')).collect()
        };
        let raw: Vec<String> = ticked(cells[0]).iter().flat_map(|p| expand(p)).collect();
        let base = raw[0].rfind('/').map_or(String::new(), |i| raw[0][..=i].to_string());
        let resolve = |p: String| {
            let bare = !p.trim_end_matches('/').contains('/');
            if bare && raw.first() != Some(&p) { format!("{base}{p}") } else { p }
        };
        let first: Vec<String> = raw.iter().cloned().map(resolve).collect();
        let named: Vec<String> = cells
            .iter()
            .flat_map(|c| ticked(c))
            .filter(|t| t.ends_with(".rs") || t.ends_with('/'))
            .flat_map(|p| expand(&p))
            .map(resolve)
            .collect();
        rows.push((first, named));
    }
    rows
}

#[test]
fn the_codemap_names_every_source_file_and_nothing_that_is_gone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rows = codemap(root);
    let mut missing: Vec<String> = rows
        .iter()
        .flat_map(|(first, _)| first.iter())
        .filter(|p| !root.join(p).exists())
        .map(|p| format!("ARCHITECTURE.md names {p}, which does not exist"))
        .collect();
    let named: Vec<&String> = rows.iter().flat_map(|(_, named)| named.iter()).collect();
    let mut sources = Vec::new();
    files(&root.join("src"), root, &mut sources);
    for file in sources.iter().filter(|f| f.extension().is_some_and(|e| e == "rs")) {
        let file = file.to_string_lossy().to_string();
        let covered = named.iter().any(|n| **n == file || n.ends_with('/') && file.starts_with(n.as_str()));
        if !covered {
            missing.push(format!("{file} is not in ARCHITECTURE.md's codemap"));
        }
    }
    assert!(missing.is_empty(), "the codemap and the tree disagree:\n{}", missing.join("\n"));
}
