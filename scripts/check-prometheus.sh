#!/usr/bin/env bash
# Validate the Prometheus deployment files with promtool:
#   config syntax, alert rule syntax, and the alert rule unit tests.
# Exits non-zero if any check fails. Needs promtool (scripts/setup.sh installs it).
set -euo pipefail

cd "$(dirname "$0")/.."
dir=deploy/prometheus

if ! command -v promtool >/dev/null 2>&1; then
  echo "check-prometheus: promtool not found; run scripts/setup.sh" >&2
  exit 127
fi

echo "+ promtool check config $dir/prometheus.yml"
promtool check config "$dir/prometheus.yml"
echo "+ promtool check rules $dir/alerts.yml"
promtool check rules "$dir/alerts.yml"
echo "+ promtool test rules $dir/alerts_test.yml"
promtool test rules "$dir/alerts_test.yml"
echo "check-prometheus: OK"
