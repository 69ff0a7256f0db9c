#!/usr/bin/env bash
# Run the whole test suite: installs what the tests need (scripts/setup.sh), then every unit,
# integration, property and doc test, the Prometheus rule tests and a check that the
# benchmarks build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# One build cache per machine, outside the clone, so repeated runs (and CI after a session) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cargo/target-lpmhss}"
scripts/check-prometheus.sh
cargo test --lib --bins --tests --locked -- --test-threads "${TEST_THREADS:-2}"
cargo test --doc --locked
cargo bench --no-run --locked
