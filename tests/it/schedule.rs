//! `darkhorses schedule`: the acceptance examples through the real binary.

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;

#[test]
fn dom_or_dow_example_prints_five_midnights() {
    cargo_bin_cmd!("darkhorses")
        .args(["schedule", "0 0 1 * 1", "--tz", "UTC", "--after", "2026-02-26T10:07:00Z", "--count", "5"])
        .assert()
        .success()
        .stdout(
            "2026-03-01T00:00:00+00:00\n\
             2026-03-02T00:00:00+00:00\n\
             2026-03-09T00:00:00+00:00\n\
             2026-03-16T00:00:00+00:00\n\
             2026-03-23T00:00:00+00:00\n",
        );
}

#[test]
fn london_gap_is_marked_and_shifted() {
    cargo_bin_cmd!("darkhorses")
        .args(["schedule", "30 1 * * *", "--tz", "Europe/London", "--after", "2026-03-28T00:00:00Z", "--count", "3"])
        .assert()
        .success()
        .stdout(
            "2026-03-28T01:30:00+00:00\n\
             2026-03-29T02:00:00+01:00  # DST gap: 01:30 does not exist, fires at 02:00 BST\n\
             2026-03-30T01:30:00+01:00\n",
        );
}

#[test]
fn london_fold_fires_once_and_is_marked() {
    cargo_bin_cmd!("darkhorses")
        .args(["schedule", "30 1 * * *", "--tz", "Europe/London", "--after", "2026-10-24T00:00:00Z", "--count", "3"])
        .assert()
        .success()
        .stdout(
            "2026-10-24T01:30:00+01:00\n\
             2026-10-25T01:30:00+01:00  # DST fold: 01:30 happens twice, fires at the first (BST)\n\
             2026-10-26T01:30:00+00:00\n",
        );
}

#[test]
fn configured_job_and_default_now() {
    cargo_bin_cmd!("darkhorses")
        .args(["--now", "2026-11-29T06:00:00Z", "schedule", "--job", "daily_data", "--count", "2"])
        .assert()
        .success()
        .stdout("2026-11-30T06:00:00+00:00\n2026-12-01T06:00:00+00:00\n");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    for args in [
        vec!["schedule", "61 * * * *"],
        vec!["schedule", "* * * * *", "--tz", "Mars/Olympus"],
        vec!["schedule", "* * * * *", "--after", "tomorrow"],
        vec!["schedule", "--job", "nope"],
    ] {
        let out = cargo_bin_cmd!("darkhorses").args(&args).assert().code(2).get_output().clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    cargo_bin_cmd!("darkhorses")
        .args(["schedule", "61 * * * *"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("minute field 61 is out of range 0-59"));
}
