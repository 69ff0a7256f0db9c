#!/usr/bin/env bash
# Scaling run at one size without the broker: the file landing path, the full recomputation,
# the reports and DuckDB on the same Parquet files, each with its wall time and peak RSS.
# For sizes too large for the in-memory test broker (50M events hold ~15 GB of messages);
# benches/e2e.sh measures the broker path at 1M and 10M.
#
#   benches/scale.sh                 # N = 50M (~30 minutes, 15 GB of feed, 4 GB of Parquet)
#   benches/scale.sh --size 2000000  # any N
#
# Options: --size N       events (default 50,000,000)
#          --work DIR     work directory (default /tmp/lpmhss-bench; the feed is cached in feeds/)
#          --no-duckdb    skip the DuckDB baseline
#          --no-build     use the release binary already built
# Prints a Markdown table and writes it, with the raw JSON, to DIR/scale-N/.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$REPO/benches/e2e"
COMMAND_LINE="benches/scale.sh${*:+ $*}"
WORK=/tmp/lpmhss-bench
N=50000000
DUCKDB=1
BUILD=1
# The same feed parameters as benches/e2e.sh, so feeds are shared and comparable.
SEED=7
END=2026-06-30T12:00:00Z
MONTHS=120
KEY=bench-key-0123456789abcdef0123456789

while [ $# -gt 0 ]; do
  case "$1" in
    --size) N="$2"; shift ;;
    --work) WORK="$2"; shift ;;
    --no-duckdb) DUCKDB=0 ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "scale.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -gt 0 ] || { echo "scale.sh: --size must be a positive integer" >&2; exit 2; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cargo/target-lpmhss}"
BIN="$CARGO_TARGET_DIR/release/lpmhss"
PY=python3
OUT="$WORK/scale-$N"
DATA="$OUT/data"
STARTED_AT=$(date +%s)
log() { printf '[scale %s +%4ss] %s\n' "$(date +%H:%M:%S)" "$(( $(date +%s) - STARTED_AT ))" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
timed() { $PY "$HERE/timed.py" "$@"; }
field() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

if [ $BUILD = 1 ]; then
  log "building the release binary"
  (cd "$REPO" && nice -n 10 cargo build --release --bin lpmhss) >"$WORK/scale-build.log" 2>&1 \
    || die "cargo build failed: see $WORK/scale-build.log"
fi
[ -x "$BIN" ] || die "$BIN missing (cargo build --release)"
[ $DUCKDB = 0 ] || $PY -c 'import duckdb' 2>/dev/null || die "the Python package duckdb is missing (scripts/setup.sh)"
rm -rf "$OUT" && mkdir -p "$OUT" "$WORK/feeds"
echo "{\"commit\": \"$(git -C "$REPO" rev-parse --short HEAD)\", \"started\": \"$(date -u '+%Y-%m-%d %H:%M UTC')\", \"n\": $N}" >"$OUT/run.json"

# The feed: as benches/e2e.sh makes it (referrals per month from the simulator's events per
# referral, cut at exactly N), cached under the same name.
EPR=$("$BIN" simulate --out - --months 12 --referrals-per-month 2000 --seed "$SEED" --end "$END" 2>/dev/null \
  | wc -l | awk '{printf "%.4f", $1 / 24000}')
RPM=$(awk -v n="$N" -v e="$EPR" -v m="$MONTHS" 'BEGIN { print int(n * 1.03 / (m * e)) + 1 }')
FEED="$WORK/feeds/feed-n$N-m$MONTHS-r$RPM-s$SEED-${END//:/}.ndjson"
if [ ! -f "$FEED.ok" ] || [ "$(cat "$FEED.ok")" != "$N" ]; then
  log "simulate --limit $N into $FEED"
  "$BIN" simulate --out "$FEED" --months "$MONTHS" --referrals-per-month "$RPM" --seed "$SEED" \
    --end "$END" --limit "$N" 2>"$OUT/simulate.log" || die "simulate failed (see $OUT/simulate.log)"
  [ "$(wc -l <"$FEED")" = "$N" ] || die "the feed does not have $N lines"
  echo "$N" >"$FEED.ok"
fi

step() { # name -- command...: timed, logged, fails the run on error
  local name=$1; shift; shift
  log "$name"
  timed --stdout "$OUT/$name.out" --stderr "$OUT/$name.log" -- "$@" >"$OUT/$name.json" \
    || die "$name failed (see $OUT/$name.log)"
  log "  $(cat "$OUT/$name.json")"
}

step ingest -- env "LPMHSS__PRIVACY__PSEUDONYMISATION_KEY=$KEY" "$BIN" ingest --no-compute --data-dir "$DATA" "$FEED"
step compute -- "$BIN" compute --derivation full --data-dir "$DATA" --log-level lpmhss=debug
step report-current -- "$BIN" report --data-dir "$DATA" --format csv
step report-full -- "$BIN" report --derivation full --data-dir "$DATA" --format csv --log-level lpmhss=debug
$PY "$HERE/duckdb_report.py" --compare "$OUT/report-full.out" "$OUT/report-current.out" >"$OUT/compare-current.json" \
  || log "WARNING: the report from the computation differs from report --derivation full"
if [ $DUCKDB = 1 ]; then
  step duckdb -- $PY "$HERE/duckdb_report.py" --sql-dir "$REPO/sql" --data-dir "$DATA" --out "$OUT/duckdb.csv"
  $PY "$HERE/duckdb_report.py" --compare "$OUT/report-full.out" "$OUT/duckdb.csv" >"$OUT/compare-duckdb.json" \
    || log "WARNING: lpmhss and DuckDB reports differ"
fi

# ---------------------------------------------------------------- table
{
  echo "Scaling run at $N events, $(field "$OUT/run.json" started), commit $(field "$OUT/run.json" commit), \`$COMMAND_LINE\`:"
  echo
  echo "| step | wall s | events/s | peak RSS MiB |"
  echo "|---|---|---|---|"
  for s in ingest compute report-current report-full duckdb; do
    [ -f "$OUT/$s.json" ] || continue
    $PY - "$OUT/$s.json" "$N" "$s" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2]); s = sys.argv[3]
rate = f"{n / r['seconds']:,.0f}" if s in ("ingest", "compute") else ""
print(f"| {s} | {r['seconds']:.1f} | {rate} | {r['max_rss_kb'] / 1024:,.0f} |")
EOF
  done
  echo
  echo "report from the computation = report --derivation full: $(cat "$OUT/compare-current.json" 2>/dev/null || echo n/a)"
  [ ! -f "$OUT/compare-duckdb.json" ] || echo "lpmhss = DuckDB: $(cat "$OUT/compare-duckdb.json")"
  grep -ho 'derived tables rebuilt in [^)]*)' "$OUT/compute.out" "$OUT/compute.log" 2>/dev/null | head -1 || true
} | tee "$OUT/scale.md"
log "done: $OUT/scale.md"
