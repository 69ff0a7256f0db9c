#!/usr/bin/env bash
# End-to-end benchmark of lpmhss on this machine, each figure next to a baseline measured in the
# same run (GUIDE section 6), written to BENCHMARKS.md.
#
#   benches/e2e.sh            # N = 1M and 10M events
#   benches/e2e.sh --full     # also 50M
#   benches/e2e.sh --quick    # N = 200k: a smoke test of the harness (~2 minutes once built)
#
# Options: --sizes N[,N…]   explicit feed sizes
#          --work DIR       work directory (default /tmp/lpmhss-bench; recreated, feeds cached)
#          --out FILE       where to write the results (default BENCHMARKS.md in the repo;
#                           --quick and --sizes default to DIR/BENCHMARKS.md)
#          --no-build       use the release binaries already built
#          --no-compute-bench  skip the full recomputation on ten years of Wales
#
# What it measures, per size N (see BENCHMARKS.md for the definitions):
#   1. `lpmhss simulate --out` writes the feed (and is timed);
#   2. tansu (Kafka-compatible, in memory) on a free port; `lpmhss simulate --brokers … --limit N`
#      creates the seven topics and produces the same feed;
#   3. examples/raw_consume.rs: a no-op librdkafka consumer (the broker's raw consume rate);
#   4. `lpmhss serve` catching up on the backlog (benches/e2e/serve_probe.py polls /metrics);
#   5. `lpmhss ingest --no-compute FILE` (file landing rate);
#   6. `lpmhss report --derivation full` vs DuckDB running the project's SQL
#      (benches/e2e/duckdb_report.py), 3 runs each, medians, results compared row for row; then
#      `lpmhss report` as analysts run it (from the last computation's pathways), 3 runs;
#   7. once: `lpmhss compute --derivation full` on ten years of Wales (~3M events), 3 runs,
#      median; then the refresh: the next day's events landed and `compute` (auto), 3 runs.
# Sizes the in-memory broker cannot hold (50M) are measured by benches/scale.sh; the tables it
# left in the work directory are added to BENCHMARKS.md's scaling section.
# Everything lives under the work directory; every process started here is stopped on exit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$REPO/benches/e2e"
COMMAND_LINE="benches/e2e.sh${*:+ $*}"
WORK=/tmp/lpmhss-bench
OUT=""
SIZES="1000000,10000000"
BUILD=1
COMPUTE_BENCH=1
PROFILE=default
SEED=7
END=2026-06-30T12:00:00Z
MONTHS=120
WALES_RPM=6500
# Messages held back from the ten-year feed and landed as "the next day" for the refresh figure.
REFRESH_LINES=1000
KEY=bench-key-0123456789abcdef0123456789

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) SIZES=200000; PROFILE=quick ;;
    --full) SIZES="1000000,10000000,50000000"; PROFILE=full ;;
    --sizes) SIZES="$2"; PROFILE=custom; shift ;;
    --work) WORK="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --no-build) BUILD=0 ;;
    --no-compute-bench) COMPUTE_BENCH=0 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "e2e.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$OUT" ]; then
  case "$PROFILE" in
    default|full) OUT="$REPO/BENCHMARKS.md" ;;
    *) OUT="$WORK/BENCHMARKS.md" ;;
  esac
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cargo/target-lpmhss}"
BIN="$CARGO_TARGET_DIR/release/lpmhss"
RAW="$CARGO_TARGET_DIR/release/examples/raw_consume"
TANSU="$(command -v tansu || echo "$HOME/.cargo/bin/tansu")"
PY=python3
STARTED_AT=$(date +%s)

log() { printf '[e2e %s +%4ss] %s\n' "$(date +%H:%M:%S)" "$(( $(date +%s) - STARTED_AT ))" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# ---------------------------------------------------------------- processes and cleanup
PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for f in "$WORK"/run/*.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  [ $rc -ne 0 ] && log "stopped (status $rc); logs in $WORK/logs"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() { local keep=() p; for p in "${PIDS[@]:-}"; do [ "$p" = "$1" ] || keep+=("$p"); done; PIDS=("${keep[@]:-}"); }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port seconds
  local deadline=$(( $(date +%s) + $2 ))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
json() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
timed() { $PY "$HERE/timed.py" "$@"; }

# ---------------------------------------------------------------- preconditions and build
[ -x "$TANSU" ] || die "tansu not found (cargo install tansu, or scripts/setup.sh)"
$PY -c 'import duckdb' 2>/dev/null || die "the Python package duckdb is missing (pip install duckdb)"
mkdir -p "$WORK"
rm -rf "$WORK/run" "$WORK/results" "$WORK/logs"
mkdir -p "$WORK/run" "$WORK/results" "$WORK/logs" "$WORK/feeds"
log "work dir $WORK, sizes $SIZES, results -> $OUT"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

if [ $BUILD = 1 ]; then
  log "building release binaries (cargo build --release; the first build takes ~15 min)"
  (cd "$REPO" && nice -n 10 cargo build --release --bin lpmhss --example raw_consume) \
    >"$WORK/logs/build.log" 2>&1 || die "cargo build failed: see $WORK/logs/build.log"
fi
[ -x "$BIN" ] || die "$BIN missing (build with cargo build --release)"
# What was measured: the commit and whether the built tree had uncommitted changes.
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$REPO" status --porcelain -- src sql Cargo.toml Cargo.lock 2>/dev/null | wc -l)
echo "{\"commit\": \"$COMMIT\", \"dirty_files\": $DIRTY, \"started\": \"$(date -u '+%Y-%m-%d %H:%M UTC')\"}" >"$WORK/results/run.json"
# The binary embeds sql/*.sql at build time; DuckDB gets a copy taken right after the build
# (cargo rebuilds when sql/ changes, so the copy matches the binary unless sql/ was edited
# during the build, or with --no-build).
rm -rf "$WORK/sql" && cp -r "$REPO/sql" "$WORK/sql"
[ $BUILD = 1 ] || log "WARNING: --no-build: DuckDB runs the current sql/, which may differ from the SQL built into $BIN"
[ -x "$RAW" ] || die "$RAW missing (cargo build --release --example raw_consume)"

# ---------------------------------------------------------------- feeds
# Events per referral, measured once on a small history, so that 120 months x R referrals
# gives a little more than N messages; the feed is then cut at exactly N (--limit N).
EPR=$("$BIN" simulate --out - --months 12 --referrals-per-month 2000 --seed "$SEED" --end "$END" 2>/dev/null \
  | wc -l | awk '{printf "%.4f", $1 / 24000}')
log "simulator: $EPR messages per referral"

rpm_for() { awk -v n="$1" -v e="$EPR" -v m="$MONTHS" 'BEGIN { r = int(n * 1.03 / (m * e)) + 1; print r }'; }

feed() { # N RPM -> path of an NDJSON file with exactly N lines (cached: deterministic)
  local n=$1 rpm=$2
  local f="$WORK/feeds/feed-n$n-m$MONTHS-r$rpm-s$SEED-${END//:/}.ndjson"
  if [ -f "$f.ok" ] && [ "$(cat "$f.ok")" = "$n" ]; then
    log "feed $n: cached $f" ; echo "$f"; return
  fi
  rm -f "$f" "$f.ok"
  log "feed $n: simulate --months $MONTHS --referrals-per-month $rpm --limit $n"
  timed --stderr "$WORK/logs/simulate-file-$n.log" -- "$BIN" simulate --out "$f" --months "$MONTHS" \
    --referrals-per-month "$rpm" --seed "$SEED" --end "$END" --limit "$n" \
    >"$WORK/results/$n/generate.json" || die "simulate --out failed"
  local lines; lines=$(wc -l <"$f")
  [ "$lines" = "$n" ] || die "feed has $lines lines, expected $n (raise the 1.03 margin in rpm_for)"
  echo "$n" >"$f.ok"
  echo "$f"
}

# ---------------------------------------------------------------- per size
bench_size() {
  local n=$1 rpm; rpm=$(rpm_for "$n")
  local res="$WORK/results/$n" dir="$WORK/run/$n"
  mkdir -p "$res" "$dir"
  echo "{\"n\": $n, \"months\": $MONTHS, \"referrals_per_month\": $rpm, \"seed\": $SEED, \"end\": \"$END\"}" >"$res/params.json"
  local f; f=$(feed "$n" "$rpm")
  local bytes; bytes=$(stat -c %s "$f")
  echo "{\"bytes\": $bytes}" >"$res/feed.json"

  # 2. broker + topics + backlog
  local port; port=$(free_port)
  log "[$n] tansu on 127.0.0.1:$port (memory storage)"
  "$TANSU" broker --storage-engine memory://tansu/ --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" >"$WORK/logs/tansu-$n.log" 2>&1 &
  local tansu=$!; PIDS+=("$tansu")
  wait_port "$port" 30 || die "tansu did not listen on $port (see $WORK/logs/tansu-$n.log)"
  log "[$n] producing the backlog (simulate --brokers … --limit $n)"
  timed --stderr "$WORK/logs/simulate-broker-$n.log" -- "$BIN" simulate --brokers "127.0.0.1:$port" \
    --months "$MONTHS" --referrals-per-month "$rpm" --seed "$SEED" --end "$END" --limit "$n" \
    >"$res/produce.json" || die "simulate --brokers failed (see $WORK/logs/simulate-broker-$n.log)"
  echo "{\"rss_kb_after_produce\": $(rss_kb "$tansu")}" >"$res/broker.json"
  log "[$n] produced in $(json "$res/produce.json" seconds)s; tansu RSS $(( $(rss_kb "$tansu") / 1024 )) MiB"

  # 3. raw consume baseline: best of two runs (the most favourable baseline for the ratio)
  for i in 1 2; do
    log "[$n] raw librdkafka consume, run $i"
    timed --stdout "$res/raw-$i.out" --stderr "$WORK/logs/raw-$n-$i.log" -- \
      "$RAW" --brokers "127.0.0.1:$port" --expect "$n" --group-id "raw-$n-$i" --timeout-secs 1800 \
      >"$res/raw-$i.time.json" || die "raw_consume failed (see $WORK/logs/raw-$n-$i.log)"
    log "[$n]   $(cat "$res/raw-$i.out")"
  done

  # 4. serve catching up
  log "[$n] lpmhss serve catching up on $n messages"
  $PY "$HERE/serve_probe.py" --bin "$BIN" --brokers "127.0.0.1:$port" --data-dir "$dir/serve-data" \
    --admin-port "$(free_port)" --expect "$n" --group-id bench --timeout 3600 \
    --pid-file "$WORK/run/serve.pid" --log "$WORK/logs/serve-$n.log" >"$res/serve.json" \
    || die "serve measurement failed: $(cat "$res/serve.json") (see $WORK/logs/serve-$n.log)"
  rm -f "$WORK/run/serve.pid"
  log "[$n]   $(cat "$res/serve.json")"
  kill "$tansu" 2>/dev/null || true; wait "$tansu" 2>/dev/null || true
  forget_pid "$tansu"

  # 5. file ingest (landing only)
  log "[$n] lpmhss ingest --no-compute"
  timed --env "LPMHSS__PRIVACY__PSEUDONYMISATION_KEY=$KEY" --stderr "$WORK/logs/ingest-$n.log" -- \
    "$BIN" ingest --data-dir "$dir/file-data" --no-compute "$f" >"$res/ingest.json" \
    || die "ingest failed (see $WORK/logs/ingest-$n.log)"
  log "[$n]   $(cat "$res/ingest.json")"

  # 6. report vs DuckDB, 3 runs each, alternating. `--derivation full`: lpmhss derives every
  # pathway from the events, the same work DuckDB does.
  for i in 1 2 3; do
    log "[$n] report run $i: lpmhss, then DuckDB"
    timed --stdout "$dir/report-lpmhss.csv" --stderr "$WORK/logs/report-$n-$i.log" -- \
      "$BIN" report --data-dir "$dir/serve-data" --derivation full --format csv >"$res/report-lpmhss-$i.json" \
      || die "lpmhss report failed (see $WORK/logs/report-$n-$i.log)"
    timed --stderr "$WORK/logs/duckdb-$n-$i.log" -- $PY "$HERE/duckdb_report.py" --sql-dir "$WORK/sql" \
      --data-dir "$dir/serve-data" --out "$dir/report-duckdb.csv" >"$res/report-duckdb-$i.json" \
      || die "DuckDB report failed (see $WORK/logs/duckdb-$n-$i.log)"
    log "[$n]   lpmhss $(json "$res/report-lpmhss-$i.json" seconds)s, DuckDB $(json "$res/report-duckdb-$i.json" seconds)s"
  done
  $PY "$HERE/duckdb_report.py" --compare "$dir/report-lpmhss.csv" "$dir/report-duckdb.csv" \
    >"$res/compare.json" || log "[$n] WARNING: lpmhss and DuckDB reports differ: $(cat "$res/compare.json")"
  # The file-landed copy must give the same report as the Kafka-landed one.
  "$BIN" report --data-dir "$dir/file-data" --format csv >"$dir/report-file.csv" 2>>"$WORK/logs/report-$n-file.log" \
    || die "report on the file-landed data failed"
  $PY "$HERE/duckdb_report.py" --compare "$dir/report-lpmhss.csv" "$dir/report-file.csv" \
    >"$res/compare-file.json" || log "[$n] WARNING: Kafka-landed and file-landed reports differ"
  log "[$n]   compare: $(cat "$res/compare.json")"
  # 6b. report as an analyst runs it after `serve`: from the last computation's pathways.
  for i in 1 2 3; do
    timed --stdout "$dir/report-current.csv" --stderr "$WORK/logs/report-current-$n-$i.log" -- \
      "$BIN" report --data-dir "$dir/serve-data" --format csv >"$res/report-current-$i.json" \
      || die "lpmhss report (auto) failed (see $WORK/logs/report-current-$n-$i.log)"
    log "[$n]   report from the last computation: $(json "$res/report-current-$i.json" seconds)s"
  done
  $PY "$HERE/duckdb_report.py" --compare "$dir/report-lpmhss.csv" "$dir/report-current.csv" \
    >"$res/compare-current.json" || log "[$n] WARNING: report from the last computation differs"
  du -sk "$dir/serve-data" | awk '{print "{\"kb\": " $1 "}"}' >"$res/serve-data-size.json"
  # Keep the feed (cached) but not the data directories of large sizes.
  if [ "$n" -gt 2000000 ]; then rm -rf "$dir/file-data"; fi
}

IFS=, read -r -a SIZE_LIST <<<"$SIZES"
for n in "${SIZE_LIST[@]}"; do
  mkdir -p "$WORK/results/$n"
  bench_size "$n"
done

# ---------------------------------------------------------------- 7. full recomputation
if [ $COMPUTE_BENCH = 1 ]; then
  res="$WORK/results/compute"; dir="$WORK/run/wales-10y"; mkdir -p "$res" "$dir"
  f="$WORK/feeds/wales-10y-m$MONTHS-r$WALES_RPM-s$SEED-${END//:/}.ndjson"
  if [ ! -f "$f.ok" ]; then
    log "compute: ten years of Wales (simulate --months $MONTHS --referrals-per-month $WALES_RPM)"
    "$BIN" simulate --out "$f" --months "$MONTHS" --referrals-per-month "$WALES_RPM" --seed "$SEED" \
      --end "$END" 2>"$WORK/logs/simulate-wales.log" || die "simulate failed"
    wc -l <"$f" >"$f.ok"
  fi
  # The feed's last REFRESH_LINES messages (about a day of Wales) are held back: they are the
  # new events of the refresh measurement.
  total=$(cat "$f.ok")
  events=$(( total - REFRESH_LINES ))
  head -n "$events" "$f" >"$dir/ten-years.ndjson"
  tail -n "$REFRESH_LINES" "$f" >"$dir/next-day.ndjson"
  echo "{\"n\": $events, \"new\": $REFRESH_LINES, \"months\": $MONTHS, \"referrals_per_month\": $WALES_RPM}" >"$res/params.json"
  rm -rf "$dir/data" "$dir/refresh"
  log "compute: ingest --no-compute $events events"
  timed --env "LPMHSS__PRIVACY__PSEUDONYMISATION_KEY=$KEY" --stderr "$WORK/logs/ingest-wales.log" -- \
    "$BIN" ingest --data-dir "$dir/data" --no-compute "$dir/ten-years.ndjson" >"$res/ingest.json" || die "ingest failed"
  for i in 1 2 3; do
    # lpmhss=debug: the per-stage times of the derivation go to the log (about 15 lines).
    timed --stderr "$WORK/logs/compute-$i.log" -- "$BIN" compute --data-dir "$dir/data" \
      --derivation full --log-level lpmhss=debug >"$res/compute-$i.json" \
      || die "compute failed (see $WORK/logs/compute-$i.log)"
    log "compute run $i: $(json "$res/compute-$i.json" seconds)s"
  done
  # Refresh: the next day's events land on the ten years, then `compute` (auto) re-derives only
  # the pathways they touch. Each run starts from a copy of the fully computed directory.
  for i in 1 2 3; do
    rm -rf "$dir/refresh" && cp -a "$dir/data" "$dir/refresh"
    timed --env "LPMHSS__PRIVACY__PSEUDONYMISATION_KEY=$KEY" --stderr "$WORK/logs/ingest-day-$i.log" -- \
      "$BIN" ingest --data-dir "$dir/refresh" --no-compute "$dir/next-day.ndjson" >/dev/null || die "ingest failed"
    timed --stderr "$WORK/logs/refresh-$i.log" -- "$BIN" compute --data-dir "$dir/refresh" \
      --log-level lpmhss=debug >"$res/refresh-$i.json" \
      || die "compute (refresh) failed (see $WORK/logs/refresh-$i.log)"
    grep -q "incremental:" "$WORK/logs/refresh-$i.log" || die "compute did not refresh (see $WORK/logs/refresh-$i.log)"
    log "refresh run $i: $(json "$res/refresh-$i.json" seconds)s"
  done
  # The refreshed tables must equal a derivation from every event.
  "$BIN" report --data-dir "$dir/refresh" --format csv >"$dir/report-refreshed.csv" 2>/dev/null || die "report failed"
  "$BIN" report --data-dir "$dir/refresh" --derivation full --format csv >"$dir/report-full.csv" 2>/dev/null || die "report failed"
  $PY "$HERE/duckdb_report.py" --compare "$dir/report-full.csv" "$dir/report-refreshed.csv" \
    >"$res/compare-refresh.json" || log "WARNING: refreshed and fully derived reports differ"
  rm -rf "$dir/refresh"
fi

# ---------------------------------------------------------------- BENCHMARKS.md
echo "{\"start\": \"$LOAD_START\", \"end\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >"$WORK/results/load.json"
# Tables of earlier benches/scale.sh runs in the same work directory (sizes beyond the broker;
# each states its own date and commit) go into the scaling section.
SCALE_ARGS=()
for t in "$WORK"/scale-*/scale.md; do [ -f "$t" ] && SCALE_ARGS+=(--scale "$t"); done
$PY "$HERE/render.py" --results "$WORK/results" --repo "$REPO" --command "$COMMAND_LINE" \
  --bin "$BIN" ${SCALE_ARGS[@]+"${SCALE_ARGS[@]}"} >"$OUT.tmp" || die "render failed"
mv "$OUT.tmp" "$OUT"
log "done in $(( $(date +%s) - STARTED_AT ))s: wrote $OUT"
