//! Migrations, backend-neutral: the numbered SQL files embedded in the binary, their sha256
//! checksums, and the one rule comparing them with what a database says it applied.
//!
//! Each backend has its list here (`SQLITE`, `POSTGRES`) of files under `sql/<backend>/`; how a
//! backend applies them (the lock it holds, the transaction per file) is its own, but what is
//! pending and whether an applied file was edited is decided by [`status`] and [`check`] for both.
//! A file once applied anywhere is never edited: a change is a new numbered file. The checksum
//! recorded in `schema_migrations` is how an edit is caught.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Error, MigrationState, Result};

/// One numbered migration file: `sql/<backend>/NNNN_name.sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    /// The part of the file name after the number: `init` for `0001_init.sql`.
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// The sha256 of the file, lower-case hex.
    pub fn checksum(&self) -> String {
        sha256_hex(self.sql.as_bytes())
    }

    /// `0001_init`, as the file is named without `.sql`.
    pub fn file_stem(&self) -> String {
        format!("{:04}_{}", self.version, self.name)
    }

    /// What a user must know after this file is applied: its comment paragraph starting
    /// `-- Note:`, as one line (logged when the migration is applied). `None` when it has none.
    pub fn note(&self) -> Option<String> {
        let mut lines = self.sql.lines().skip_while(|l| !l.starts_with("-- Note:"));
        let first = lines.next()?.trim_start_matches("-- Note:").trim();
        let rest = lines.map_while(|l| l.strip_prefix("-- ").map(str::trim));
        Some(std::iter::once(first).chain(rest).collect::<Vec<_>>().join(" "))
    }
}

/// The SQLite migrations, in order: `sql/sqlite/`.
pub const SQLITE: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../../sql/sqlite/0001_init.sql") },
    Migration {
        version: 2,
        name: "ownership_and_coverage",
        sql: include_str!("../../sql/sqlite/0002_ownership_and_coverage.sql"),
    },
];

/// The PostgreSQL migrations, in order: `sql/postgres/`.
pub const POSTGRES: &[Migration] = &[
    Migration { version: 1, name: "schema", sql: include_str!("../../sql/postgres/0001_schema.sql") },
    Migration { version: 2, name: "seed", sql: include_str!("../../sql/postgres/0002_seed.sql") },
    Migration {
        version: 3,
        name: "ownership_and_coverage",
        sql: include_str!("../../sql/postgres/0003_ownership_and_coverage.sql"),
    },
    Migration { version: 4, name: "api_budget", sql: include_str!("../../sql/postgres/0004_api_budget.sql") },
];

/// A row of `schema_migrations` as a backend read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub applied_at: DateTime<Utc>,
}

/// Lower-case hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Compare the known files with what the database applied: every file as applied or pending, in
/// version order, plus any version the database has that this binary does not know (applied by a
/// newer release; listed, not an error). An applied file whose checksum differs is an error that
/// names it, because editing an applied migration means databases silently disagree.
pub fn status(backend: &str, known: &[Migration], applied: &[Applied]) -> Result<Vec<MigrationState>> {
    let mut states = Vec::with_capacity(known.len());
    for m in known {
        let checksum = m.checksum();
        match applied.iter().find(|a| a.version == m.version) {
            Some(a) => {
                check(backend, m, &a.checksum)?;
                states.push(MigrationState {
                    version: m.version,
                    name: m.name.to_string(),
                    checksum,
                    applied_at: Some(a.applied_at),
                })
            }
            None => {
                states.push(MigrationState { version: m.version, name: m.name.to_string(), checksum, applied_at: None })
            }
        }
    }
    for a in applied {
        if !known.iter().any(|m| m.version == a.version) {
            states.push(MigrationState {
                version: a.version,
                name: a.name.clone(),
                checksum: a.checksum.clone(),
                applied_at: Some(a.applied_at),
            });
        }
    }
    states.sort_by_key(|s| s.version);
    Ok(states)
}

/// Applied files whose comments were edited afterwards, with the checksum databases recorded for
/// the text as first applied: `(backend, version, checksum)`. Only a comment may ever be edited
/// this way (the first lines of both 0001 files named a path outside the repository); the SQL a
/// database ran stays what the file says.
const COMMENT_ONLY_EDITS: [(&str, i64, &str); 2] = [
    ("sqlite", 1, "f28f79f3f28db135c5b6b52f213e35ab0d0184d9875e817a21b43d60acb3d3ff"),
    ("postgres", 1, "de19c38d354b14144e7c0d1f64008bf7a2ce684b7216b732d71a119fef68f3de"),
];

/// The one checksum rule: a file applied with checksum `recorded` must still have it. The error
/// names the file, because editing an applied migration means databases silently disagree.
pub fn check(backend: &str, m: &Migration, recorded: &str) -> Result<()> {
    let checksum = m.checksum();
    let comment_only = COMMENT_ONLY_EDITS.iter().any(|&(b, v, old)| b == backend && v == m.version && old == recorded);
    if recorded == checksum || comment_only {
        return Ok(());
    }
    Err(Error::Migration(format!(
        "migration sql/{backend}/{file}.sql was edited after it was applied (database checksum {db}, file checksum \
         {file_sum}): never edit an applied migration; restore the file and add a new numbered migration for the change",
        file = m.file_stem(),
        db = short(recorded),
        file_sum = short(&checksum),
    )))
}

/// The known migrations [`status`] lists as pending, in order. A database that has a migration
/// this binary does not know was migrated by a newer release: using it could write rows that
/// schema does not expect, so that is an error naming the migration and the fix.
pub fn pending<'a>(backend: &str, known: &'a [Migration], applied: &[Applied]) -> Result<Vec<&'a Migration>> {
    let states = status(backend, known, applied)?;
    let newest = known.iter().map(|m| m.version).max().unwrap_or(0);
    if let Some(unknown) =
        applied.iter().filter(|a| !known.iter().any(|m| m.version == a.version)).max_by_key(|a| a.version)
    {
        return Err(Error::Migration(format!(
            "the database has migration {:04}_{} applied, which this darkhorses {} does not know (it knows up to \
             {newest:04}): a newer release migrated it; upgrade darkhorses to that release or newer, or point \
             database.url at another database",
            unknown.version,
            unknown.name,
            env!("CARGO_PKG_VERSION"),
        )));
    }
    Ok(known.iter().filter(|m| states.iter().any(|s| s.version == m.version && s.applied_at.is_none())).collect())
}

/// Every file of `known` as pending: the status of a database that does not exist yet.
pub fn unapplied(known: &[Migration]) -> Vec<MigrationState> {
    known
        .iter()
        .map(|m| MigrationState {
            version: m.version,
            name: m.name.to_string(),
            checksum: m.checksum(),
            applied_at: None,
        })
        .collect()
}

/// The first 8 hex digits, for messages.
pub fn short(checksum: &str) -> &str {
    checksum.get(..8).unwrap_or(checksum)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::model::SEED_BOOKMAKERS;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn versions_are_numbered_in_order_from_one() {
        for list in [SQLITE, POSTGRES] {
            for (i, m) in list.iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1, "{}", m.file_stem());
                assert!(!m.sql.trim().is_empty());
            }
        }
    }

    #[test]
    fn the_ownership_migration_notes_which_commands_refetch() {
        for list in [SQLITE, POSTGRES] {
            let notes: Vec<String> = list.iter().filter_map(Migration::note).collect();
            assert_eq!(notes.len(), 1, "{notes:?}");
            assert!(notes[0].starts_with("a re-fetch fills"), "{}", notes[0]);
            assert!(
                notes[0].contains("`darkhorses backfill`") && notes[0].ends_with("of the last N days."),
                "{}",
                notes[0]
            );
        }
    }

    #[test]
    fn seeds_match_the_model() {
        for (backend, list) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let all: String = list.iter().map(|m| m.sql).collect();
            for (code, name, kind) in SEED_BOOKMAKERS {
                let row = format!("('{code}', '{name}', '{}', 'seed')", kind.as_str());
                assert!(all.contains(&row), "seed row {row} missing from sql/{backend}");
            }
            assert!(all.contains("('gb', 'Great Britain')") && all.contains("('ire', 'Ireland')"), "{backend}");
        }
    }

    #[test]
    fn pending_is_what_status_lists_unapplied() {
        let applied =
            [Applied { version: 1, name: "schema".into(), checksum: POSTGRES[0].checksum(), applied_at: at() }];
        let todo = pending("postgres", POSTGRES, &applied).unwrap();
        let rest: Vec<i64> = POSTGRES[1..].iter().map(|m| m.version).collect();
        assert_eq!(todo.iter().map(|m| m.version).collect::<Vec<_>>(), rest);
        let tampered = [Applied { checksum: "0".repeat(64), ..applied[0].clone() }];
        let err = pending("postgres", POSTGRES, &tampered).unwrap_err().to_string();
        assert!(err.contains("sql/postgres/0001_schema.sql"), "{err}");
    }

    #[test]
    fn status_lists_applied_and_pending() {
        let known = [
            Migration { version: 1, name: "init", sql: "create table a (x int);" },
            Migration { version: 2, name: "more", sql: "create table b (x int);" },
        ];
        let applied = [Applied { version: 1, name: "init".into(), checksum: known[0].checksum(), applied_at: at() }];
        let states = status("sqlite", &known, &applied).unwrap();
        assert_eq!(states.len(), 2);
        assert_eq!(states[0].applied_at, Some(at()));
        assert_eq!(states[1].applied_at, None);
        assert_eq!(states[1].checksum, sha256_hex(b"create table b (x int);"));
    }

    #[test]
    fn databases_migrated_before_the_comment_edit_of_0001_still_pass_the_check() {
        for (backend, list) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let (_, _, old) = COMMENT_ONLY_EDITS.iter().find(|(b, _, _)| *b == backend).unwrap();
            assert_ne!(list[0].checksum(), *old, "{backend}: the file was edited");
            assert!(check(backend, &list[0], old).is_ok(), "{backend}");
            assert!(check(backend, &list[0], &"0".repeat(64)).is_err(), "{backend}");
            // Only 0001 carries the old checksum; the same sum recorded for another file is an edit.
            assert!(check(backend, &list[1], old).is_err(), "{backend}");
        }
    }

    #[test]
    fn an_edited_applied_file_is_an_error_naming_it() {
        let known = [Migration { version: 1, name: "init", sql: "create table a (x int, y int);" }];
        let applied = [Applied {
            version: 1,
            name: "init".into(),
            checksum: sha256_hex(b"create table a (x int);"),
            applied_at: at(),
        }];
        let err = status("sqlite", &known, &applied).unwrap_err().to_string();
        assert!(err.contains("sql/sqlite/0001_init.sql"), "{err}");
        assert!(err.contains("never edit an applied migration"), "{err}");
    }

    #[test]
    fn versions_unknown_to_this_binary_are_listed_and_refused() {
        let applied = [Applied { version: 7, name: "future".into(), checksum: "ab".into(), applied_at: at() }];
        let states = status("sqlite", SQLITE, &applied).unwrap();
        assert_eq!(states.last().map(|s| s.version), Some(7));
        let err = pending("sqlite", SQLITE, &applied).unwrap_err().to_string();
        assert!(err.contains("0007_future") && err.contains("upgrade darkhorses"), "{err}");
    }

    #[test]
    fn sha256_is_lower_hex() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
