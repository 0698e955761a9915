//! What the binary writes for its user outside logging: the one document on stdout, and the few
//! stderr lines (`warning:`, `error:`) written before logging is set up or after it ends.
//!
//! Every stdout write goes through [`print`], which never panics: a closed pipe (`| head -1`)
//! ends the output quietly and the run keeps its own exit code, and any other write error (a full
//! disk) becomes an error naming stdout. Clippy enforces the route: `print!`/`println!`/
//! `eprint!`/`eprintln!` are denied in `Cargo.toml` and `std::io::stdout` in `clippy.toml`, so
//! this file holds the only call to it. Stderr lines here ignore write errors: a closed stderr has
//! nobody left to tell.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use serde::Serialize;

use crate::config::LogFormat;
use crate::error::Error;

/// Set once stdout turned out to be a closed pipe: later writes are skipped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// Set once anything was written to stdout, so an error after it adds no second document.
static STDOUT_USED: AtomicBool = AtomicBool::new(false);
/// The format of the stderr lines written here: 0 human, 1 JSON (as `logging.format`).
static STDERR_FORMAT: AtomicU8 = AtomicU8::new(0);

/// Write `text` to stdout and flush it. A closed pipe is not an error (the reader has all it
/// wanted); another failure is, naming stdout.
pub fn print(text: &str) -> Result<(), Error> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    STDOUT_USED.store(true, Ordering::Relaxed);
    // The one deliberate use of stdout (clippy.toml disallows it everywhere else).
    #[allow(clippy::disallowed_methods)]
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(Error::io("writing the output to stdout (check the disk or pipe it is redirected to)", e)),
    }
}

/// `value` as pretty JSON on stdout, one document ending in a newline.
pub fn json(value: &impl Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Fatal(format!("could not render the output as JSON: {e}")))?;
    print(&format!("{text}\n"))
}

/// Whether anything went to stdout in this process (an error then adds no JSON document).
pub fn stdout_used() -> bool {
    STDOUT_USED.load(Ordering::Relaxed)
}

/// The format of later [`warning`] and [`error`] lines: the `--log-format` flag as soon as the
/// command line is parsed, then the loaded `logging.format`.
pub fn set_stderr_format(format: LogFormat) {
    STDERR_FORMAT.store(u8::from(format == LogFormat::Json), Ordering::Relaxed);
}

/// A `warning:` line on stderr (a JSON object with `--log-format json`).
pub fn warning(message: &str) {
    stderr_line("WARN", "warning", message);
}

/// An `error:` line on stderr (a JSON object with `--log-format json`).
pub fn error(message: &str) {
    stderr_line("ERROR", "error", message);
}

/// The JSON error document a script reads on stdout with `--json`:
/// `{"error": "...", "exit_code": 2}`.
pub fn error_document(message: &str, exit_code: u8) -> serde_json::Value {
    serde_json::json!({ "error": message, "exit_code": exit_code })
}

fn stderr_line(level: &str, prefix: &str, message: &str) {
    let line = if STDERR_FORMAT.load(Ordering::Relaxed) == 1 {
        // The shape of the JSON log lines tracing writes, so a reader parses them all alike.
        serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": level,
            "message": message,
            "target": "darkhorses",
        })
        .to_string()
    } else {
        format!("{prefix}: {message}")
    };
    // Ignored: with stderr closed there is nowhere left to report the failure.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
