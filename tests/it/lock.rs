//! Job locks across processes: a lock held by a child process is seen with the child's pid, and
//! `kill -9` of the child releases it at once (the kernel drops the flock).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use darkhorses::lock::{JobLock, LockAttempt};

const CHILD_DIR: &str = "DARKHORSES_TEST_LOCK_CHILD_DIR";

/// Run by `kill_9_releases_the_lock` in a child process: take the lock, say so, then block.
#[test]
#[ignore = "helper: run as a child process by kill_9_releases_the_lock"]
fn lock_holder_child() {
    let dir = std::env::var(CHILD_DIR).expect("the parent test sets the lock dir");
    let attempt = JobLock::acquire(std::path::Path::new(&dir), "example").expect("lock");
    assert!(matches!(attempt, LockAttempt::Acquired(_)));
    println!("holding {}", std::process::id());
    let mut line = String::new();
    // Blocks until the parent kills us (it never writes or closes stdin first).
    let _ = std::io::stdin().read_line(&mut line);
    drop(attempt);
}

#[test]
fn kill_9_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "lock::lock_holder_child", "--nocapture", "--test-threads", "1"])
        .env(CHILD_DIR, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let pid: u32 = loop {
        let line = lines.next().expect("child exited before taking the lock").unwrap();
        // libtest prints "test lock::lock_holder_child ... " before the child's own output.
        if let Some((_, pid)) = line.split_once("holding ") {
            break pid.trim().parse().unwrap();
        }
    };
    assert_eq!(pid, child.id());

    match JobLock::acquire(dir.path(), "example").unwrap() {
        LockAttempt::Held(holder) => {
            assert_eq!(holder.pid, child.id());
            assert!(holder.to_string().starts_with(&format!("pid {} on ", child.id())));
        }
        LockAttempt::Acquired(_) => panic!("the child holds the lock"),
    }

    child.kill().unwrap(); // SIGKILL: no destructor runs in the child.
    child.wait().unwrap();
    match JobLock::acquire(dir.path(), "example").unwrap() {
        LockAttempt::Acquired(lock) => assert_eq!(lock.holder().pid, std::process::id()),
        LockAttempt::Held(holder) => panic!("lock still held after kill -9 by {holder}"),
    }
}

/// Issue 15, item 5: a lock file made by another user (as `/tmp` files of older releases were)
/// gives a one-line error naming the file and the fix, not an opaque "permission denied". Needs
/// two users: runs when the suite runs as root with `setpriv` (the binary then runs as nobody).
#[test]
fn a_lock_file_made_by_another_user_gives_an_error_naming_it_and_the_fix() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let is_root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].into_iter().find(|p| std::path::Path::new(p).exists());
    let (true, Some(setpriv)) = (is_root, setpriv) else {
        eprintln!("skipped: needs root and setpriv to act as a second user");
        return;
    };
    let base = tempfile::tempdir().unwrap();
    let set_mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set_mode(base.path(), 0o755);
    let (work, shared) = (base.path().join("work"), base.path().join("shared"));
    std::fs::create_dir(&work).unwrap();
    std::fs::create_dir(&shared).unwrap();
    set_mode(&work, 0o777);
    set_mode(&shared, 0o1777);
    // The lock file the other user's run of `reference` into work/x.db would use, made by root
    // (this process) and readable by all, as /tmp lock files of older releases were.
    let db = std::fs::canonicalize(&work).unwrap().join("x.db");
    let scope = format!("sqlite:{}", db.display());
    drop(JobLock::acquire_for(&shared, "reference", Some(&scope)).unwrap());
    let lock = darkhorses::lock::lock_path(&shared, "reference", Some(&scope));
    set_mode(&lock, 0o644);

    let out = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin!("darkhorses"))
        .args(["--sandbox", "reference"])
        .current_dir(&work)
        .env_clear()
        .env("HOME", &work)
        .env("DATABASE_URL", format!("sqlite:{}", db.display()))
        .env("DARKHORSES_LOCKS_DIR", &shared)
        .env("DARKHORSES_LOGGING_DIR", work.join("logs"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let line = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(line.contains(&lock.display().to_string()), "names the file: {line}");
    assert!(line.contains("another user") && line.contains("owner uid 0"), "says whose it is: {line}");
    assert!(line.contains("locks.dir") && line.contains("DARKHORSES_LOCKS_DIR"), "says the fix: {line}");
}
