#!/usr/bin/env bash
# Installs Debian packages for the project's scripts (scripts/broker.sh install,
# scripts/check-alerts.sh): as root, or through sudo. --no-upgrade leaves packages that
# are already there as they are. A package's init script must not start a system-wide
# service (a broker on 0.0.0.0:5672, a Prometheus server) while installing: a temporary
# policy-rc.d, if none exists.
#   scripts/apt-install.sh PACKAGE...
set -euo pipefail
(($# > 0)) || { echo "apt-install: no package named" >&2; exit 2; }
sudo=()
if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || { echo "apt-install: need root (or sudo) to install: $*" >&2; exit 1; }
    sudo=(sudo)
fi
policy=/usr/sbin/policy-rc.d created_policy=0
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    created_policy=1
fi
rc=0
{
    "${sudo[@]}" apt-get update -qq &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            --no-upgrade "$@"
} || rc=$?
if ((created_policy)); then "${sudo[@]}" rm -f "$policy"; fi
((rc == 0)) || { echo "apt-install: apt-get failed (exit $rc)" >&2; exit 1; }
