#!/usr/bin/env bash
# Build and run the embedded demo: installs only what the build needs (C toolchain pieces for
# librdkafka), then `cargo run --release -- demo` with any arguments given, e.g.
#   scripts/demo.sh --duration 2m --port 9464
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --build-only
export PATH="$HOME/.cargo/bin:$PATH"
exec cargo run --release --locked -- demo "$@"
