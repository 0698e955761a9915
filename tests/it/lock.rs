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
