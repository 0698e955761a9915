#!/usr/bin/env bash
# Regenerates every figure of BENCHMARKS.md in one run, each printed with its goal and the
# comparison measured in the same run (plain COPY for upserts, the rate limit for API use, Python
# start-up for a no-op tick). Release builds, the sandbox at fixed seeds, SQLite and Postgres.
#
#   scripts/bench.sh                 # every figure (Postgres ones need DARKHORSES_TEST_DATABASE_URL,
#                                    # default postgres://postgres@127.0.0.1:5432/test)
#   scripts/bench.sh parse noop_tick # only these figures
#   scripts/bench.sh --list          # the figures' names
#
# Adding a figure: write a function `figure_<name>` that runs the measurement and ends with one
# `summary "<figure>" "<goal>" "<comparison>"` line per number, and add <name> to FIGURES.
set -euo pipefail
cd "$(dirname "$0")/.."

FIGURES=(client robustness parse backfill store_sqlite store_postgres noop_tick live_day simulate_day binary_size)

PG_URL=${DARKHORSES_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
BIN=$PWD/target/release/darkhorses
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SUMMARY=$WORK/summary.tsv

# One line of the closing table: figure, goal, the comparison measured in this run.
summary() {
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$SUMMARY"
  printf '  => %s | goal: %s | compared with: %s\n' "$1" "$2" "$3"
}

# Run an example (release) and keep its stdout in $WORK/<name>.out, shown as it runs.
example() {
  local name=$1
  shift
  cargo run --quiet --release --locked --example "$name" -- "$@" | tee "$WORK/$name.out"
}

# The loadavg now, for the record.
load() { cut -d' ' -f1-3 /proc/loadavg; }

# Mean wall time in ms of N runs of a command line (a shell loop, as BENCHMARKS.md measures).
mean_ms() {
  local n=$1
  shift
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 || true; done
  end=$(date +%s%N)
  echo $(((end - start) / n / 1000000))
}

# Peak RSS in MiB of one run of a command.
peak_mib() {
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}'
}

pg_available() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

# ---------------------------------------------------------------------------------------------

figure_client() {
  example bench_client
  local share
  while read -r share; do
    summary "API client throughput, $share" "at least 95% of the rate limit, no 429" "the rate limit itself (share above)"
  done < <(grep -oE '[0-9.]+/s.*' "$WORK/bench_client.out" | head -2)
}

figure_robustness() {
  # A debug test by design (BENCHMARKS.md "Robustness at the limit"): it prints its own numbers.
  cargo test --locked --test it -- acceptance::thirty_days --nocapture 2>&1 | tee "$WORK/robustness.out" | grep -E '30 days|test result'
  summary "30 days through faults at 2/s: $(grep -oE '30 days: .*' "$WORK/robustness.out" | head -1)" \
    "nothing lost, at most 2 requests in any second" "the rate limit (2/s)"
}

figure_parse() {
  example bench_parse
  summary "parse + normalise, races/s: see the table above" \
    "a day (about 36 races) normalised far below the 500 ms between two requests at 2/s" \
    "the 500 ms request spacing of the default rate limit"
}

figure_backfill() {
  cargo build --quiet --release --locked --bin darkhorses
  local rate
  for rate in 50 5; do
    cargo run --quiet --release --locked --example bench_backfill -- 12 "$rate" "$BIN" | tee "$WORK/backfill_$rate.out"
    summary "backfill 12 months at $rate/s: $(grep -E 'api calls|rate used|peak memory' "$WORK/backfill_$rate.out" | tr -s ' ' | tr '\n' ';')" \
      "calls equal to the minimum, under 100 MiB, 95% of the limit" "the rate limit ($rate/s)"
  done
}

figure_store_sqlite() {
  example bench_store --backend sqlite --runners 500000
  summary "SQLite upserts, 500,040 runners: $(grep -E 'first write' "$WORK/bench_store.out" | tr -s ' ' | head -1)" \
    "no goal of its own (Postgres has the COPY goal)" "the Postgres figures below"
}

figure_store_postgres() {
  if ! pg_available; then
    summary "Postgres upserts" "at most 2.5x a plain COPY" "SKIPPED: no PostgreSQL on 127.0.0.1:5432"
    return
  fi
  example bench_store --backend postgres --runners 500000 --url "$PG_URL"
  summary "Postgres upserts, 500,040 runners: $(grep -E 'first write' "$WORK/bench_store.out" | tr -s ' ' | head -1)" \
    "at most 2.5x the time of a plain COPY" "$(grep -E 'plain COPY' "$WORK/bench_store.out" | tr -s ' ' | tr '\n' ';')"
}

figure_noop_tick() {
  cargo build --quiet --release --locked --bin darkhorses
  local dir=$WORK/tick
  mkdir -p "$dir"
  (
    cd "$dir"
    export DARKHORSES_LOCKS_DIR=$dir/locks DARKHORSES_LOGGING_DIR=$dir/logs
    "$BIN" --sandbox -q --now 2026-03-10T14:00:00Z orchestrate >/dev/null # fills the ledger
    local ours python rss_ours rss_python pg=""
    ours=$(mean_ms 50 "$BIN" --now 2026-03-10T14:05:00Z -q orchestrate)
    rss_ours=$(peak_mib "$BIN" --now 2026-03-10T14:05:00Z -q orchestrate)
    python=$(mean_ms 50 python3 -c pass)
    rss_python=$(peak_mib python3 -c pass)
    if pg_available; then
      local schema=bench_tick_$$
      psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null
      DATABASE_URL=$PG_URL DARKHORSES_DATABASE_SCHEMA=$schema "$BIN" --sandbox -q --now 2026-03-10T14:00:00Z orchestrate >/dev/null
      pg=$(DATABASE_URL=$PG_URL DARKHORSES_DATABASE_SCHEMA=$schema mean_ms 50 "$BIN" --now 2026-03-10T14:05:00Z -q orchestrate)
      psql "$PG_URL" -qc "DROP SCHEMA $schema CASCADE" >/dev/null
    fi
    echo "no-op tick: SQLite $ours ms ($rss_ours MiB), Postgres ${pg:-skipped} ms; python3 -c pass $python ms ($rss_python MiB); load $(load)"
    summary "orchestrate, nothing due: SQLite $ours ms, $rss_ours MiB; Postgres ${pg:-skipped} ms" \
      "10x faster than the original's start-up" "python3 -c pass: $python ms, $rss_python MiB (same run)"
  )
}

figure_live_day() {
  cargo test --locked --test it -- racing_day::sqlite::live_every --nocapture 2>&1 | tee "$WORK/live.out" | grep -vE '^\s*$' | tail -15
  summary "live every 5 min through 2026-06-10: $(grep -iE 'calls' "$WORK/live.out" | head -1 | tr -s ' ')" \
    "each result stored within one tick; calls under half the runs" "the seed's 85 calls (BENCHMARKS.md)"
}

figure_simulate_day() {
  # The day's calls, its publication-to-storage line, and the blank day's calls.
  day() { grep -E 'API calls|publication to storage' "$WORK/simulate_day.out" | tr -s ' ' | tr '\n' ';'; }
  example simulate_day
  local defaults
  defaults=$(day)
  example simulate_day --schedule seed
  summary "default schedules: $defaults" \
    "at most 60 calls, p95 at most 5 min, 100% same day, blank day at most 2 calls" "the seed's schedule: $(day)"
}

figure_binary_size() {
  cargo build --quiet --release --locked --bin darkhorses
  local size
  size=$(stat -c %s "$BIN")
  echo "release binary: $size bytes"
  summary "release binary: $size bytes" "(no goal; recorded)" "-"
}

# ---------------------------------------------------------------------------------------------

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${FIGURES[@]}"
  exit 0
fi
selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=("${FIGURES[@]}")
for name in "${selected[@]}"; do
  declare -F "figure_$name" >/dev/null || { echo "bench.sh: no figure named $name (try --list)" >&2; exit 2; }
done

echo "== release build (load $(load))"
cargo build --quiet --release --locked --bin darkhorses --examples
started=$(date +%s)
for name in "${selected[@]}"; do
  echo
  echo "== $name (load $(load), $(($(date +%s) - started)) s in)"
  t0=$(date +%s)
  # A figure below its goal (the examples exit 1 then) or failing is reported, and the run goes on.
  if ! "figure_$name"; then
    summary "$name" "-" "FAILED or below its goal: see its output above"
  fi
  echo "   ($name took $(($(date +%s) - t0)) s)"
done

echo
echo "== summary ($(($(date +%s) - started)) s after the build; load $(load); $(nproc) cores)"
column -t -s $'\t' "$SUMMARY" 2>/dev/null || cat "$SUMMARY"
