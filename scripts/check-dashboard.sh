#!/usr/bin/env bash
# Checks the Grafana dashboard (deploy/grafana/ddrouter.json), run by `make test`: valid JSON,
# every PromQL expression names only metrics the daemon exports (MetricCatalogue.swift), every
# exported metric is on a panel, and every expression parses (promtool check rules). What and
# how: scripts/check-dashboard.py. promtool comes from Debian's `prometheus` package, installed
# here when missing (scripts/apt-install.sh, as for scripts/check-alerts.sh).
#   scripts/check-dashboard.sh [DASHBOARD.json]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v promtool >/dev/null; then
  echo "check-dashboard: installing Debian's prometheus package (for promtool)"
  scripts/apt-install.sh prometheus || { echo "check-dashboard: installing prometheus failed" >&2; exit 1; }
fi
exec python3 scripts/check-dashboard.py --promtool "$(command -v promtool)" "$@"
