#!/usr/bin/env bash
# Install everything the lpmhss test suite needs on Debian 12 (bookworm).
# Idempotent: each component is checked first and only installed when missing,
# so a second run finishes in about a second.
#
#   scripts/setup.sh
#
# Installs: promtool + prometheus server, chromium, build deps for rdkafka's
# bundled librdkafka (cmake, pkg-config, libssl, zlib, sasl, curl), Python
# duckdb + pyarrow, and the Kafka-compatible broker `tansu` (cargo, ~10 min).
set -euo pipefail

log() { printf '[setup] %s\n' "$*"; }

# --build-only: just what `cargo build` needs (for scripts/demo.sh); skip the test tools.
BUILD_ONLY=0
[ "${1:-}" = "--build-only" ] && BUILD_ONLY=1

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    log "not root and sudo not found; installs may fail"; fi
fi

export PATH="$HOME/.cargo/bin:$PATH"

# ---------------------------------------------------------------- apt packages
apt_missing=()
need_cmd_pkg() { # command package
  if command -v "$1" >/dev/null 2>&1; then log "ok: $1 ($(command -v "$1"))"
  else log "missing: $1 -> apt package $2"; apt_missing+=("$2"); fi
}
need_dpkg() { # package
  if dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; then
    log "ok: $1"
  else log "missing: apt package $1"; apt_missing+=("$1"); fi
}

if [ "$BUILD_ONLY" -eq 0 ]; then
  need_cmd_pkg promtool prometheus
  need_cmd_pkg prometheus prometheus
  need_cmd_pkg chromium chromium
fi
need_cmd_pkg cmake cmake
need_cmd_pkg pkg-config pkg-config
need_dpkg libssl-dev
need_dpkg zlib1g-dev
need_dpkg libsasl2-dev
need_dpkg libcurl4-openssl-dev
if ! command -v python3 >/dev/null 2>&1; then
  log "missing: python3"; apt_missing+=(python3)
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  log "missing: pip -> apt package python3-pip"; apt_missing+=(python3-pip)
fi

if [ "${#apt_missing[@]}" -gt 0 ]; then
  # de-duplicate (prometheus provides both promtool and the server)
  mapfile -t apt_missing < <(printf '%s\n' "${apt_missing[@]}" | sort -u)
  log "apt-get update"
  $SUDO apt-get update
  log "apt-get install ${apt_missing[*]}"
  # The prometheus package starts a systemd service where systemd runs; tests
  # run their own server on a free port, so that is harmless.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${apt_missing[@]}"
else
  log "all apt packages present"
fi

if [ "$BUILD_ONLY" -eq 1 ]; then
  log "build dependencies present"
  exit 0
fi

# ------------------------------------------------------------ python packages
if python3 -c 'import duckdb, pyarrow' >/dev/null 2>&1; then
  log "ok: python duckdb + pyarrow"
else
  log "python3 -m pip install duckdb pyarrow"
  # Debian's system Python is "externally managed" (PEP 668); fall back to
  # --break-system-packages there (pyenv/venv Pythons take the first branch).
  if ! python3 -m pip install --quiet duckdb pyarrow; then
    log "retrying with --break-system-packages"
    python3 -m pip install --quiet --break-system-packages duckdb pyarrow
  fi
fi

# ---------------------------------------------------------------------- tansu
if command -v tansu >/dev/null 2>&1; then
  log "ok: tansu ($(command -v tansu))"
else
  if ! command -v cargo >/dev/null 2>&1; then
    log "cargo not found; install Rust (https://rustup.rs) first"; exit 1
  fi
  log "cargo install --locked tansu --features dynostore (takes ~10 minutes)"
  nice -n 10 cargo install --locked tansu --features dynostore
fi

# ------------------------------------------------------------------- versions
log "versions:"
promtool --version 2>&1 | head -n 1
chromium --version 2>/dev/null || echo "chromium: version unavailable"
tansu --version 2>/dev/null || echo "tansu: $(command -v tansu)"
python3 -c 'import duckdb, pyarrow; print("duckdb", duckdb.__version__, "/ pyarrow", pyarrow.__version__)'
log "done"
