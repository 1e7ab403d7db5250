#!/usr/bin/env bash
# Runs scripts/check-schemas.py (the contract check independent of the Swift code) with a
# Python that has jsonschema >= 4.18 and referencing.
#
# Order: the python3 on PATH if it already has them; otherwise a private virtualenv under
# var/schema-venv (created once; on Debian's system Python, which is "externally managed"
# (PEP 668) and ships jsonschema 4.10, pip cannot install into it). If no virtualenv can be
# made or pip cannot reach its index, the check is skipped with a visible warning: the
# Swift ContractTests still validate every example against the embedded schemas.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

has_modules() {
  "$1" - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
import jsonschema, referencing  # noqa: F401
major, minor = (int(x) for x in m.version("jsonschema").split(".")[:2])
sys.exit(0 if (major, minor) >= (4, 18) else 1)
PY
}

python=python3
if ! has_modules "$python"; then
  venv=var/schema-venv
  python="$venv/bin/python3"
  if ! has_modules "$python"; then
    mkdir -p var
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      # Debian's system Python needs python3-venv for that.
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null 2>&1 \
          || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null 2>&1; } || true
      fi
      rm -rf "$venv"
      python3 -m venv "$venv" >/dev/null 2>&1 || true
    fi
    if [ -x "$python" ]; then
      "$python" -m pip install -q --disable-pip-version-check 'jsonschema>=4.18' >/dev/null 2>&1 || true
    fi
    if ! has_modules "$python"; then
      echo "WARNING: schema check skipped: no Python with jsonschema>=4.18 and no way to install one" \
           "(python3 -m venv or pip failed); the Swift ContractTests still check the examples." >&2
      exit 0
    fi
  fi
fi
exec "$python" scripts/check-schemas.py "$@"
