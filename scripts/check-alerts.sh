#!/usr/bin/env bash
# Checks the Prometheus alert rules (deploy/prometheus/ddrouter.rules.yml), run by `make test`:
#   1. promtool check rules   - every expression parses, the file is a valid rule file;
#   2. promtool test rules    - ddrouter.rules.test.yml: each alert fires on a series that
#                               should fire it and stays quiet on one that should not;
#   3. the alert names in docs/operations.md ("Suggested alerts") are exactly those in the
#      rules file, and every metric a rule names is one the daemon exports
#      (Sources/Daemon/Observability/MetricCatalogue.swift).
# promtool comes from Debian's `prometheus` package, installed here when missing
# (scripts/apt-install.sh, as for scripts/broker.sh install).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rules=deploy/prometheus/ddrouter.rules.yml
tests=deploy/prometheus/ddrouter.rules.test.yml
docs=docs/operations.md
catalogue=Sources/Daemon/Observability/MetricCatalogue.swift

fail() { echo "check-alerts: $*" >&2; exit 1; }

if ! command -v promtool >/dev/null; then
  echo "check-alerts: installing Debian's prometheus package (for promtool)"
  scripts/apt-install.sh prometheus || fail "installing prometheus failed"
  command -v promtool >/dev/null || fail "promtool still missing after installing prometheus"
fi

promtool check rules "$rules"
promtool test rules "$tests"

# Alert names: the rules file against the docs table (rows "| DDRouterX | ...").
in_rules=$(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$rules" | sort)
in_docs=$(sed -n '/^### Suggested alerts/,/^### /p' "$docs" | sed -n 's/^| *\(DDRouter[A-Za-z0-9_]*\) *|.*/\1/p' | sort)
[ -n "$in_rules" ] || fail "no alerts found in $rules"
if [ "$in_rules" != "$in_docs" ]; then
  echo "check-alerts: the alerts in $docs and $rules differ (< docs, > rules):" >&2
  diff <(echo "$in_docs") <(echo "$in_rules") >&2 || true
  exit 1
fi

# Metric names: every ddrouter_* name in an expression is exported (a histogram's
# _bucket/_sum/_count series belong to its base name).
exported=$(sed -n 's/^ *case [A-Za-z0-9_]* *= *"\(ddrouter_[a-z0-9_]*\)".*/\1/p' "$catalogue" | sort -u)
[ -n "$exported" ] || fail "no metric names found in $catalogue"
bad=0
for name in $(grep -v '^ *#' "$rules" | grep -o 'ddrouter_[a-z0-9_]*' | sort -u); do
  base=${name%_bucket}; base=${base%_sum}; base=${base%_count}
  if ! grep -qx -e "$name" -e "$base" <<<"$exported"; then
    echo "check-alerts: $rules names $name, which the daemon does not export" >&2
    bad=1
  fi
done
[ "$bad" = 0 ] || exit 1
echo "check-alerts: $(wc -l <<<"$in_rules") alerts checked, tested and in line with $docs"
