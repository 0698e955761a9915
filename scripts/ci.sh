#!/usr/bin/env bash
# The one gate: formatting, lints, then the full test suite (the README's test command).
# Postgres tests run when DARKHORSES_TEST_DATABASE_URL is set (.ci/run sets it and insists).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --locked --all-targets "$@"
