//! Exclusive locks per job and database that die with their process (issues 2 and 15).
//!
//! A job run holds `flock` on `<dir>/darkhorses_update_<job>_<hash>.lock` for its whole duration,
//! where `<hash>` is a short hash of the database the run writes (the SQLite file's canonical path,
//! or Postgres host:port/database/schema, never credentials): two runs of one job into two
//! databases do not exclude each other, two into one database do. The kernel releases the lock
//! when the process exits or is killed, so a crashed run never leaves a stale lock: the file
//! itself is never deleted and its presence means nothing; only the lock on it does. Holding the
//! lock, a run writes one line of JSON into the file (pid, host, start time, database) so that a
//! second instance can say who is running.
//!
//! `locks.dir` defaults to a directory of the user's own (see `config::default_lock_dir`),
//! created 0700 with files 0600: a lock file in a world-shared directory made by one user would
//! stop every other user's runs.
//!
//! `flock` locks belong to an open file description: a second `open` of the same file in the same
//! process conflicts with the first, which is what the unit tests rely on. This file lock guards
//! runs on one host (or one shared filesystem); across hosts the Postgres store adds an advisory
//! lock (see DESIGN.md, "Locks").

use std::fmt;
use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// How often a reader re-reads a just-locked file whose holder has not written its record yet.
const HOLDER_READ_ATTEMPTS: u32 = 50;
const HOLDER_READ_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// Hex digits of the database hash in a lock file name: enough that two databases of one user
/// never share a lock by accident, short enough to read.
const DATABASE_HASH_DIGITS: usize = 12;

/// Who holds a lock: the record written into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub since: DateTime<Utc>,
    /// The database the holder writes (`sqlite:/abs/path.db`, `postgres://host:5432/db schema s`);
    /// absent in records of older releases and for jobs without a database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

impl Holder {
    /// This process, now.
    pub fn current(since: DateTime<Utc>) -> Self {
        Holder { pid: std::process::id(), host: hostname(), since, database: None }
    }
}

impl fmt::Display for Holder {
    /// `pid 4242 on web-1 since 06:00:03Z`; the date is added when the lock is older than a day.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pid == 0 {
            return write!(f, "an unidentified process (no holder record in the lock file)");
        }
        let age = Utc::now() - self.since;
        let since = if age > chrono::Duration::hours(20) {
            self.since.to_rfc3339_opts(SecondsFormat::Secs, true)
        } else {
            self.since.format("%H:%M:%SZ").to_string()
        };
        write!(f, "pid {} on {} since {since}", self.pid, self.host)
    }
}

/// The result of trying to take a job's lock.
#[derive(Debug)]
pub enum LockAttempt {
    /// This process now runs the job; keep the lock alive until the run ends.
    Acquired(JobLock),
    /// Another process runs the job.
    Held(Holder),
}

/// An exclusive lock on one job. Dropping it (or the process dying) releases it.
#[derive(Debug)]
pub struct JobLock {
    // Never read: the open file *is* the lock.
    _file: File,
    path: PathBuf,
    holder: Holder,
}

/// The lock file of `job` in `dir`: `darkhorses_update_<job>.lock` for a job without a database,
/// `darkhorses_update_<job>_<hash>.lock` for one writing `database` (its identity, see
/// `Store::lock_scope`).
pub fn lock_path(dir: &Path, job: &str, database: Option<&str>) -> PathBuf {
    match database {
        None => dir.join(format!("darkhorses_update_{job}.lock")),
        Some(database) => {
            let digest = Sha256::digest(database.as_bytes());
            let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            dir.join(format!("darkhorses_update_{job}_{}.lock", &hash[..DATABASE_HASH_DIGITS]))
        }
    }
}

impl JobLock {
    /// Try to take the lock of `job` (no database) without waiting. Creates `dir` if it is missing.
    pub fn acquire(dir: &Path, job: &str) -> Result<LockAttempt, Error> {
        Self::acquire_for(dir, job, None)
    }

    /// Try to take the lock of `job` writing `database` without waiting. Creates `dir` (0700) if
    /// it is missing, and the lock file (0600).
    pub fn acquire_for(dir: &Path, job: &str, database: Option<&str>) -> Result<LockAttempt, Error> {
        if job.is_empty() || !job.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(Error::Fatal(format!(
                "cannot lock job '{job}': a job name used in a lock file name may only hold letters, digits, '_' and '-'"
            )));
        }
        DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| {
            Error::io(
                format!(
                    "creating the lock directory {} (locks.dir); set locks.dir (DARKHORSES_LOCKS_DIR) to a \
                     directory this user can write",
                    dir.display()
                ),
                e,
            )
        })?;
        let path = lock_path(dir, job, database);
        let io = |what: &str, e: std::io::Error| Error::io(format!("{what} lock file {}", path.display()), e);
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&path).map_err(
                |e| match e.kind() {
                    std::io::ErrorKind::PermissionDenied => Error::Fatal(not_ours(&path, job)),
                    _ => io("opening", e),
                },
            )?;
        match file.try_lock() {
            Ok(()) => {
                let holder = Holder { database: database.map(str::to_string), ..Holder::current(Utc::now()) };
                let mut line = serde_json::to_string(&holder)
                    .map_err(|e| Error::Fatal(format!("encoding the holder of {}: {e}", path.display())))?;
                line.push('\n');
                file.set_len(0).map_err(|e| io("truncating", e))?;
                file.seek(SeekFrom::Start(0)).map_err(|e| io("writing", e))?;
                file.write_all(line.as_bytes()).map_err(|e| io("writing", e))?;
                file.flush().map_err(|e| io("writing", e))?;
                Ok(LockAttempt::Acquired(JobLock { _file: file, path, holder }))
            }
            Err(TryLockError::WouldBlock) => {
                Ok(LockAttempt::Held(read_holder(&mut file).map_err(|e| io("reading", e))?))
            }
            Err(TryLockError::Error(e)) => Err(io("locking", e)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The record this process wrote.
    pub fn holder(&self) -> &Holder {
        &self.holder
    }
}

/// The message for a lock file this user may not open: whose it is, and the two ways out.
fn not_ours(path: &Path, job: &str) -> String {
    let owner = match std::fs::metadata(path) {
        Ok(m) => format!(" (owner uid {}, mode {:o})", m.uid(), m.mode() & 0o777),
        Err(_) => String::new(),
    };
    let dir = path.parent().map_or_else(String::new, |d| d.display().to_string());
    format!(
        "cannot open the lock file {}{owner}: permission denied, it was made by another user or {dir} is not \
         writable by this one; set locks.dir (DARKHORSES_LOCKS_DIR) to a directory of your own (the default is \
         per user), or remove the file once no run of {job} by its owner is going on",
        path.display()
    )
}

/// The holder record of a locked file. The holder writes it right after locking, so an empty or
/// half-written file is re-read for a moment before giving up with an unidentified holder.
fn read_holder(file: &mut File) -> std::io::Result<Holder> {
    for attempt in 0..HOLDER_READ_ATTEMPTS {
        let mut text = String::new();
        file.seek(SeekFrom::Start(0))?;
        file.read_to_string(&mut text)?;
        if let Ok(holder) = serde_json::from_str::<Holder>(text.trim()) {
            return Ok(holder);
        }
        if attempt + 1 < HOLDER_READ_ATTEMPTS {
            std::thread::sleep(HOLDER_READ_PAUSE);
        }
    }
    Ok(Holder { pid: 0, host: "unknown".into(), since: Utc::now(), database: None })
}

/// The host name from the kernel, or `unknown`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn acquired(attempt: LockAttempt) -> JobLock {
        match attempt {
            LockAttempt::Acquired(lock) => lock,
            LockAttempt::Held(h) => panic!("expected to acquire, held by {h}"),
        }
    }

    #[test]
    fn second_acquire_sees_the_holder_and_drop_releases() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquired(JobLock::acquire(dir.path(), "daily").unwrap());
        assert_eq!(first.path(), dir.path().join("darkhorses_update_daily.lock"));
        match JobLock::acquire(dir.path(), "daily").unwrap() {
            LockAttempt::Held(holder) => {
                assert_eq!(holder.pid, std::process::id());
                assert_eq!(holder.host, hostname());
                assert_eq!(&holder, first.holder());
            }
            LockAttempt::Acquired(_) => {
                panic!("a second open file description must not get the lock")
            }
        }
        // Another job is independent.
        let other = acquired(JobLock::acquire(dir.path(), "live").unwrap());
        drop(first);
        let again = acquired(JobLock::acquire(dir.path(), "daily").unwrap());
        // The file stays; it is rewritten by each holder as one JSON line.
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert_eq!(serde_json::from_str::<Holder>(text.trim()).unwrap(), *again.holder());
        drop(other);
    }

    #[test]
    fn holder_display_reads_like_the_skip_message() {
        let since = Utc::now() - chrono::Duration::minutes(5);
        let holder = Holder { pid: 4242, host: "web-1".into(), since, database: None };
        assert_eq!(holder.to_string(), format!("pid 4242 on web-1 since {}", since.format("%H:%M:%SZ")));
        let old = Holder { since: "2026-11-27T06:00:03Z".parse().unwrap(), ..holder };
        assert_eq!(old.to_string(), "pid 4242 on web-1 since 2026-11-27T06:00:03Z");
    }

    #[test]
    fn errors_name_the_path_or_the_job() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "x").unwrap();
        let err = JobLock::acquire(&blocker, "daily").unwrap_err().to_string();
        assert!(err.contains(&blocker.display().to_string()), "{err}");
        let err = JobLock::acquire(dir.path(), "../etc").unwrap_err().to_string();
        assert!(err.contains("'../etc'"), "{err}");
    }

    #[test]
    fn a_file_left_by_a_dead_holder_is_not_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "reference", None);
        std::fs::write(&path, r#"{"pid":1,"host":"gone","since":"2020-01-01T00:00:00Z"}"#).unwrap();
        let lock = acquired(JobLock::acquire(dir.path(), "reference").unwrap());
        assert_eq!(lock.holder().pid, std::process::id());
    }

    #[test]
    fn locks_of_one_job_into_two_databases_are_independent() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (Some("sqlite:/data/a.db"), Some("sqlite:/data/b.db"));
        let first = acquired(JobLock::acquire_for(dir.path(), "backfill", a).unwrap());
        assert_eq!(first.holder().database.as_deref(), a);
        let name = first.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("darkhorses_update_backfill_") && name.ends_with(".lock"), "{name}");
        let second = acquired(JobLock::acquire_for(dir.path(), "backfill", b).unwrap());
        assert_ne!(first.path(), second.path());
        match JobLock::acquire_for(dir.path(), "backfill", a).unwrap() {
            LockAttempt::Held(holder) => assert_eq!(holder.database.as_deref(), a),
            LockAttempt::Acquired(_) => panic!("one database, one run"),
        }
    }

    #[test]
    fn the_lock_directory_is_private_and_lock_files_are_the_users() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("locks");
        let lock = acquired(JobLock::acquire_for(&dir, "daily", Some("sqlite:/x.db")).unwrap());
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(lock.path()).unwrap().mode() & 0o077, 0, "no access for group or others");
    }

    #[test]
    fn a_lock_file_this_user_may_not_open_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "daily", Some("sqlite:/x.db"));
        std::fs::write(&path, "").unwrap();
        let message = not_ours(&path, "daily");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("locks.dir") && message.contains("DARKHORSES_LOCKS_DIR"), "{message}");
        assert!(message.contains("owner uid"), "{message}");
    }
}
