//! What ships beside the binary: examples/deploy/ (Render, Kubernetes, systemd, cron, GitHub
//! Actions), the Dockerfile and the README. Every YAML file parses, every systemd unit has the
//! shape systemd reads, every `darkhorses ...` command line in them is accepted by the CLI parser,
//! every command and long flag of the parser is documented, and the completions, man page and
//! `health_check.bind` work through the real binary.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use darkhorses::cli::Cli;
use yaml_rust2::{Yaml, YamlLoader};

use crate::acceptance::{darkhorses, run};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn deploy_files() -> Vec<PathBuf> {
    let files = files_under(&root().join("examples/deploy"));
    assert!(files.len() >= 10, "examples/deploy has only {} files", files.len());
    files
}

fn is_yaml(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

// ---------------------------------------------------------------------------------------------
// Command lines: found in each kind of file, then given to the parser the binary uses.

/// One `darkhorses` command line found in a file: where, and its words (`darkhorses` first).
#[derive(Debug)]
struct Found {
    at: String,
    argv: Vec<String>,
}

/// Shell words of one line: quotes respected, `#` starting a word ends the line, and the
/// operators `&&`, `||`, `|`, `;` as words of their own.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == c {
                        break;
                    }
                    word.push(q);
                }
            }
            '#' if !in_word => break,
            ';' | '|' | '&' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                let mut op = c.to_string();
                if chars.peek() == Some(&c) {
                    op.push(c);
                    chars.next();
                }
                words.push(op);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The `darkhorses` command lines of one shell line: each segment between operators whose command
/// (after `NAME=value` assignments) is `darkhorses`, `.../darkhorses` or `cargo run ... --`;
/// a redirection ends the segment's words.
fn commands_in_shell(line: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for segment in shell_words(line).split(|w| matches!(w.as_str(), "&&" | "||" | "|" | ";" | "&")) {
        let mut words = segment.iter().skip_while(|w| w.contains('=') && !w.starts_with('-'));
        let Some(first) = words.next() else { continue };
        let rest: Vec<&String> = if first == "darkhorses" || first.ends_with("/darkhorses") {
            words.collect()
        } else if first == "cargo" && segment.iter().any(|w| w == "run") && segment.iter().any(|w| w == "--") {
            segment.iter().skip_while(|w| *w != "--").skip(1).collect()
        } else if first == "docker" && segment.iter().any(|w| w == "darkhorses") {
            // `docker run [options] darkhorses ARGS`: the image's entrypoint is `darkhorses`; with
            // no ARGS the image's CMD runs, which the Dockerfile's own check covers.
            let args: Vec<&String> = segment.iter().skip_while(|w| *w != "darkhorses").skip(1).collect();
            if args.is_empty() {
                continue;
            }
            args
        } else {
            continue;
        };
        let mut argv = vec!["darkhorses".to_string()];
        argv.extend(rest.into_iter().take_while(|w| !w.starts_with('>') && !w.starts_with('<')).cloned());
        out.push(argv);
    }
    out
}

/// Lines ending in `\` joined with the next, each with its first line number.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for (n, line) in text.lines().enumerate() {
        let (body, continues) = match line.trim_end().strip_suffix('\\') {
            Some(body) => (body, true),
            None => (line, false),
        };
        if open {
            out.last_mut().unwrap().1.push_str(body);
        } else {
            out.push((n + 1, body.to_string()));
        }
        open = continues;
    }
    out
}

/// Markdown: every line of every fenced code block.
fn in_markdown(path: &Path, text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut in_block = false;
    let mut block = String::new();
    let mut start = 0;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            if in_block {
                for (k, logical) in logical_lines(&block) {
                    for argv in commands_in_shell(logical.trim_start_matches("$ ")) {
                        found.push(Found { at: format!("{}:{}", relative(path), start + k), argv });
                    }
                }
                block.clear();
            }
            in_block = !in_block;
            start = n + 1;
            continue;
        }
        if in_block {
            block.push_str(line);
            block.push('\n');
        }
    }
    found
}

/// A JSON array of a Dockerfile instruction (`["darkhorses", "health"]`) as words.
fn json_words(text: &str) -> Vec<String> {
    let start = text.find('[').unwrap_or_else(|| panic!("not an exec-form array: {text}"));
    serde_json::from_str::<Vec<String>>(&text[start..]).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Dockerfile: the final stage's ENTRYPOINT followed by its CMD, and the HEALTHCHECK's CMD.
fn in_dockerfile(path: &Path, text: &str) -> Vec<Found> {
    let mut entrypoint: Option<(usize, Vec<String>)> = None;
    let mut cmd: Option<(usize, Vec<String>)> = None;
    let mut found = Vec::new();
    for (n, line) in logical_lines(text) {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("ENTRYPOINT ") {
            entrypoint = Some((n, json_words(rest)));
        } else if let Some(rest) = line.strip_prefix("CMD ") {
            cmd = Some((n, json_words(rest)));
        } else if let Some(rest) = line.strip_prefix("HEALTHCHECK ") {
            let (_, check) = rest.split_once(" CMD ").expect("HEALTHCHECK ... CMD [...]");
            found.push(Found { at: format!("{}:{n} (HEALTHCHECK)", relative(path)), argv: json_words(check) });
        }
    }
    let (n, mut argv) = entrypoint.expect("the Dockerfile has an ENTRYPOINT");
    let (_, rest) = cmd.expect("the Dockerfile has a CMD");
    argv.extend(rest);
    found.push(Found { at: format!("{}:{n} (ENTRYPOINT + CMD)", relative(path)), argv });
    found
}

fn scalar(node: &Yaml) -> Option<String> {
    match node {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// YAML: a container's `args` list (the image's entrypoint is `darkhorses`), a `command` list
/// whose first word is `darkhorses`, and every string value holding a shell line that runs it
/// (`run:`, `dockerCommand:`).
fn in_yaml_node(node: &Yaml, at: &str, found: &mut Vec<Found>) {
    match node {
        Yaml::Hash(map) => {
            for (key, value) in map {
                let key = key.as_str().unwrap_or_default();
                let words: Option<Vec<String>> = value.as_vec().map(|items| items.iter().filter_map(scalar).collect());
                match (key, words) {
                    ("args", Some(words)) => {
                        let mut argv = vec!["darkhorses".to_string()];
                        argv.extend(words);
                        found.push(Found { at: format!("{at} (args)"), argv });
                    }
                    ("command", Some(words)) if words.first().is_some_and(|w| w.ends_with("darkhorses")) => {
                        found.push(Found { at: format!("{at} (command)"), argv: words });
                    }
                    _ => in_yaml_node(value, &format!("{at} {key}"), found),
                }
            }
        }
        Yaml::Array(items) => items.iter().for_each(|item| in_yaml_node(item, at, found)),
        Yaml::String(text) => {
            for (_, line) in logical_lines(text) {
                // A value that is only the word (`name: darkhorses`) names something; a command
                // line has a subcommand after it.
                for argv in commands_in_shell(&line).into_iter().filter(|argv| argv.len() > 1) {
                    found.push(Found { at: at.to_string(), argv });
                }
            }
        }
        _ => {}
    }
}

fn load_yaml(path: &Path) -> Vec<Yaml> {
    let text = std::fs::read_to_string(path).unwrap();
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{} does not parse as YAML: {e}", relative(path)))
}

/// systemd unit: `ExecStart=` (and the other `Exec*=`) lines.
fn in_systemd(path: &Path, text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    for (n, line) in logical_lines(text) {
        if let Some((key, value)) = line.split_once('=')
            && key.trim().starts_with("Exec")
        {
            for argv in commands_in_shell(value.trim_start_matches(['-', '@', '+', '!'])) {
                found.push(Found { at: format!("{}:{n}", relative(path)), argv });
            }
        }
    }
    found
}

/// crontab: each schedule line's command, commented-out alternatives included (a line whose
/// first five words are cron fields, with or without a leading `#`).
fn in_crontab(path: &Path, text: &str) -> Vec<Found> {
    let field = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit() || "*/,-".contains(c));
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start_matches(['#', ' ']);
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() > 5 && words[..5].iter().all(|w| field(w)) {
            let command = words[5..].join(" ");
            for argv in commands_in_shell(&command) {
                found.push(Found { at: format!("{}:{}", relative(path), n + 1), argv });
            }
        }
    }
    found
}

/// Every `darkhorses` command line of examples/deploy/**, the Dockerfile and README.md.
fn every_command_line() -> Vec<Found> {
    let mut found = Vec::new();
    for path in deploy_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if is_yaml(&path) {
            for (i, doc) in load_yaml(&path).iter().enumerate() {
                in_yaml_node(doc, &format!("{} document {}", relative(&path), i + 1), &mut found);
            }
        } else if name.ends_with(".service") || name.ends_with(".timer") {
            found.extend(in_systemd(&path, &text));
        } else if name == "crontab" {
            found.extend(in_crontab(&path, &text));
        } else if name.ends_with(".md") {
            found.extend(in_markdown(&path, &text));
        } else {
            panic!("{}: no reader for this kind of file; add one to tests/it/deploy.rs", relative(&path));
        }
    }
    let dockerfile = root().join("Dockerfile");
    found.extend(in_dockerfile(&dockerfile, &std::fs::read_to_string(&dockerfile).unwrap()));
    let readme = root().join("README.md");
    found.extend(in_markdown(&readme, &std::fs::read_to_string(&readme).unwrap()));
    found
}

#[test]
fn the_extractors_find_what_they_should() {
    assert_eq!(
        commands_in_shell("*/5 * * * * cd /srv && FOO=1 darkhorses -q orchestrate --update daily_data > out.log  # x"),
        vec![vec!["darkhorses", "-q", "orchestrate", "--update", "daily_data"]]
    );
    assert_eq!(
        commands_in_shell("cargo run --release -- --sandbox orchestrate --force-all"),
        vec![vec!["darkhorses", "--sandbox", "orchestrate", "--force-all"]]
    );
    assert_eq!(commands_in_shell("darkhorses schedule '*/15 9-20 * * *' --count 3")[0][2], "*/15 9-20 * * *");
    assert!(commands_in_shell("cargo test && echo darkhorses").is_empty());
    assert_eq!(
        commands_in_shell("docker run --rm -v data:/var/lib/darkhorses darkhorses orchestrate"),
        vec![vec!["darkhorses", "orchestrate"]]
    );
    let yaml = YamlLoader::load_from_str("spec:\n  args: [daily, --days-ahead, 3]\n  command: [/usr/local/bin/darkhorses, live]\n  run: |\n    cd x && darkhorses health\n").unwrap();
    let mut found = Vec::new();
    in_yaml_node(&yaml[0], "t", &mut found);
    let argvs: Vec<Vec<String>> = found.into_iter().map(|f| f.argv).collect();
    assert_eq!(
        argvs,
        vec![
            vec!["darkhorses", "daily", "--days-ahead", "3"],
            vec!["/usr/local/bin/darkhorses", "live"],
            vec!["darkhorses", "health"]
        ]
    );
    let cron =
        in_crontab(Path::new("c"), "# 0 6 * * * darkhorses daily\n# 0 6 is not a line\n*/5 * * * * darkhorses live\n");
    assert_eq!(cron.len(), 2, "{cron:?}");
}

#[test]
fn every_darkhorses_command_line_in_the_deploy_files_dockerfile_and_readme_parses() {
    let found = every_command_line();
    let refused: Vec<String> = found
        .iter()
        .filter_map(|f| {
            Cli::try_parse_from(&f.argv).err().map(|e| {
                let first = e.to_string().lines().next().unwrap_or_default().to_string();
                format!("{}: {}: {first}", f.at, f.argv.join(" "))
            })
        })
        .collect();
    let text: Vec<String> = found.iter().map(|f| f.argv.join(" ")).collect();
    if std::env::var_os("DARKHORSES_TEST_SHOW").is_some() {
        found.iter().for_each(|f| println!("{}: {}", f.at, f.argv.join(" ")));
    }
    // The lines the issue names are among them.
    for wanted in [
        "darkhorses --sandbox daily --days-ahead 3",
        "darkhorses --sandbox orchestrate --force-all --test",
        "darkhorses health",
        "darkhorses --config /etc/darkhorses/darkhorses.yaml -q health --offline",
        "darkhorses orchestrate --daemon",
        "darkhorses --sandbox orchestrate --force-all",
    ] {
        assert!(text.iter().any(|t| t == wanted), "no command line {wanted:?} found in:\n{}", text.join("\n"));
    }
    assert!(found.len() >= 30, "only {} command lines found", found.len());
    assert!(refused.is_empty(), "command lines the CLI refuses:\n{}", refused.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The files themselves.

#[test]
fn every_yaml_file_parses_and_every_deploy_file_says_its_mode() {
    for path in deploy_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let head: String = text.lines().take_while(|l| l.starts_with('#') || l.trim().is_empty()).collect();
        assert!(
            head.contains("mode:") && head.contains("Why"),
            "{} does not open with its mode and why",
            relative(&path)
        );
        if is_yaml(&path) {
            let docs: Vec<Yaml> = load_yaml(&path).into_iter().filter(|d| !d.is_null()).collect();
            assert!(!docs.is_empty(), "{} holds no YAML document", relative(&path));
            for doc in &docs {
                assert!(doc.as_hash().is_some(), "{}: a document is not a mapping: {doc:?}", relative(&path));
            }
        }
    }
}

#[test]
fn the_kubernetes_manifests_have_what_each_mode_needs() {
    let dir = root().join("examples/deploy/kubernetes");
    let cronjobs = load_yaml(&dir.join("cronjobs.yaml"));
    let cronjobs: Vec<&Yaml> = cronjobs.iter().filter(|d| !d.is_null()).collect();
    assert_eq!(cronjobs.len(), 4, "one CronJob per default interval");
    for job in cronjobs {
        assert_eq!(job["kind"].as_str(), Some("CronJob"));
        assert_eq!(job["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"), "{job:?}");
        let container = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["envFrom"][0]["secretRef"]["name"].as_str(), Some("darkhorses"));
    }
    let deployment = &load_yaml(&dir.join("deployment.yaml"))[0];
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["livenessProbe"]["httpGet"]["path"].as_str(), Some("/livez"));
    assert_eq!(container["readinessProbe"]["httpGet"]["path"].as_str(), Some("/healthz"));
    let env: Vec<(&str, &str)> = container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
        .collect();
    assert!(env.contains(&("DARKHORSES_HEALTH_CHECK_BIND", "0.0.0.0")), "the kubelet probes the pod IP: {env:?}");
    let secret = &load_yaml(&dir.join("secret.yaml"))[0];
    assert_eq!(secret["kind"].as_str(), Some("Secret"));
    for key in ["RACING_API_USERNAME", "RACING_API_PASSWORD", "DATABASE_URL"] {
        assert!(!secret["stringData"][key].is_badvalue(), "secret.yaml lacks {key}");
    }
}

#[test]
fn the_render_blueprints_take_secrets_from_env_groups() {
    for name in ["render.yaml", "render-orchestrator.yaml", "render-worker.yaml"] {
        let doc = &load_yaml(&root().join("examples/deploy/render").join(name))[0];
        let groups = doc["envVarGroups"].as_vec().unwrap_or_else(|| panic!("{name}: no envVarGroups"));
        let secrets = groups.iter().find(|g| g["name"].as_str() == Some("darkhorses-secrets")).unwrap();
        let keys: Vec<&str> = secrets["envVars"].as_vec().unwrap().iter().filter_map(|v| v["key"].as_str()).collect();
        assert_eq!(keys, ["RACING_API_USERNAME", "RACING_API_PASSWORD", "DATABASE_URL"], "{name}");
        for service in doc["services"].as_vec().unwrap() {
            let from: Vec<&str> =
                service["envVars"].as_vec().unwrap().iter().filter_map(|v| v["fromGroup"].as_str()).collect();
            assert!(from.contains(&"darkhorses-secrets"), "{name}: {:?} lacks the secrets group", service["name"]);
        }
    }
    let four = &load_yaml(&root().join("examples/deploy/render/render.yaml"))[0];
    let schedules: Vec<&str> =
        four["services"].as_vec().unwrap().iter().filter_map(|s| s["schedule"].as_str()).collect();
    assert_eq!(schedules.len(), 4, "four cron services");
}

#[test]
fn the_systemd_units_have_the_shape_systemd_reads() {
    let known = ["[Unit]", "[Service]", "[Timer]", "[Install]"];
    for path in deploy_files().into_iter().filter(|p| p.to_string_lossy().contains("/systemd/")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut section = None;
        let mut keys = Vec::new();
        for (n, line) in logical_lines(&text) {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') {
                assert!(known.contains(&line), "{}:{n}: unknown section {line}", relative(&path));
                section = Some(line.to_string());
                continue;
            }
            let (key, _) =
                line.split_once('=').unwrap_or_else(|| panic!("{}:{n}: not KEY=VALUE: {line}", relative(&path)));
            assert!(section.is_some(), "{}:{n}: a key before any section", relative(&path));
            assert!(key.chars().all(|c| c.is_ascii_alphanumeric()), "{}:{n}: key {key:?}", relative(&path));
            keys.push(format!("{}{key}", section.clone().unwrap()));
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let needs: &[&str] = if name.ends_with(".timer") {
            &["[Timer]OnCalendar", "[Install]WantedBy"]
        } else {
            &["[Service]ExecStart"]
        };
        for need in needs {
            assert!(keys.iter().any(|k| k == need), "{name} lacks {need}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Every command and long flag of the parser is documented.

/// Every subcommand path (`["db", "migrate"]`) and every long flag, hidden ones and help aside.
fn command_tree(command: &clap::Command, path: &[String], commands: &mut Vec<Vec<String>>, flags: &mut Vec<String>) {
    for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
        if let Some(long) = arg.get_long()
            && !matches!(long, "help" | "version")
        {
            flags.push(format!("--{long}"));
        }
    }
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help" && !s.is_hide_set()) {
        let mut here = path.to_vec();
        here.push(sub.get_name().to_string());
        commands.push(here.clone());
        command_tree(sub, &here, commands, flags);
    }
}

#[test]
fn every_command_and_long_flag_of_the_cli_is_in_the_readme_or_docs() {
    let mut text = std::fs::read_to_string(root().join("README.md")).unwrap();
    for path in files_under(&root().join("docs")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "md")) {
        text.push_str(&std::fs::read_to_string(path).unwrap());
    }
    let mut command = Cli::command();
    command.build();
    let (mut commands, mut flags) = (Vec::new(), Vec::new());
    command_tree(&command, &[], &mut commands, &mut flags);
    flags.sort();
    flags.dedup();
    assert!(commands.len() >= 12 && flags.len() >= 30, "{commands:?} {flags:?}");
    // A command is documented when a line shows `darkhorses` followed by its words in order.
    let shown = |words: &[String]| {
        text.lines().any(|line| {
            let Some(start) = line.find("darkhorses ") else { return false };
            let mut rest = line[start..].split(|c: char| c.is_whitespace() || c == '`').filter(|w| !w.is_empty());
            words.iter().all(|w| rest.any(|r| r == w))
        })
    };
    let missing_commands: Vec<String> = commands.iter().filter(|c| !shown(c)).map(|c| c.join(" ")).collect();
    let missing_flags: Vec<&String> = flags
        .iter()
        .filter(|flag| {
            !text.match_indices(flag.as_str()).any(|(i, _)| {
                let after = text[i + flag.len()..].chars().next();
                !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            })
        })
        .collect();
    assert!(
        missing_commands.is_empty() && missing_flags.is_empty(),
        "not documented in README.md or docs/: commands {missing_commands:?}, flags {missing_flags:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Completions, man page, the daemon's bind address: through the binary.

#[test]
fn completions_for_each_shell_name_the_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = run(darkhorses(dir.path()).args(["completions", shell]));
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        for word in ["orchestrate", "backfill", "completions", "--days-ahead"] {
            assert!(out.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    // A shell clap does not know is a usage error naming the ones it does.
    let out = run(darkhorses(dir.path()).args(["completions", "tcsh"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("bash") && out.stderr.contains("powershell"), "{}", out.stderr);
    // No configuration is needed, nor read: a broken one does not stop completions.
    let out = run(darkhorses(dir.path()).env("DARKHORSES_API_RATE_LIMIT", "fast").args(["completions", "bash"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    // --json keeps its promise of one document.
    let out = run(darkhorses(dir.path()).args(["--json", "completions", "zsh"]));
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(doc["script"].as_str().unwrap().contains("#compdef darkhorses"));
}

#[test]
fn the_man_page_renders_for_darkhorses_and_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(darkhorses(dir.path()).arg("man"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(".TH darkhorses 1"), "no roff title header:\n{}", out.stdout);
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(out.stdout.contains(section), "no {section}");
    }
    assert!(out.stdout.contains("darkhorses\\-orchestrate(1)"), "the main page lists the command pages");
    let out = run(darkhorses(dir.path()).args(["man", "orchestrate"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(".TH darkhorses\\-orchestrate 1") || out.stdout.contains(".TH darkhorses-orchestrate 1")
    );
    assert!(out.stdout.contains("\\-\\-daemon"), "orchestrate's page documents its flags");
    let out = run(darkhorses(dir.path()).args(["man", "racing"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("\"racing\"") && out.stderr.contains("orchestrate"), "{}", out.stderr);
}

#[test]
fn the_daemon_serves_on_health_check_bind() {
    let dir = tempfile::tempdir().unwrap();
    // No interval: the daemon only serves and sleeps.
    let config = dir.path().join("darkhorses.yaml");
    std::fs::write(&config, "intervals: {}\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = crate::acceptance::darkhorses_child(dir.path());
    cmd.env("DARKHORSES_HEALTH_CHECK_BIND", "127.0.0.2")
        .env("DARKHORSES_HEALTH_CHECK_PORT", port.to_string())
        .args(["--sandbox", "--config", &config.display().to_string(), "orchestrate", "--daemon"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let child = crate::acceptance::ChildGuard(cmd.spawn().unwrap());
    let get = |host: &str| -> Option<String> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect((host, port)).ok()?;
        stream.write_all(b"GET /livez HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        Some(response)
    };
    let response =
        crate::acceptance::wait_for(std::time::Duration::from_secs(60), "/livez on 127.0.0.2", || get("127.0.0.2"));
    assert!(response.starts_with("HTTP/1.0 200") && response.contains("\r\n\r\nok"), "{response}");
    assert!(get("127.0.0.1").is_none(), "bound to 127.0.0.2 only, yet 127.0.0.1 answered");
    drop(child);
    // A value that is no address is refused by name.
    let out = run(darkhorses(dir.path()).env("DARKHORSES_HEALTH_CHECK_BIND", "everywhere").args(["config", "check"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("health_check.bind"), "{}", out.stderr);
}
