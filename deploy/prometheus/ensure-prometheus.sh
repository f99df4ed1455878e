#!/usr/bin/env bash
# Make sure the `prometheus` and `promtool` binaries the deployment tests use are installed.
# Idempotent: does nothing when both are on PATH; otherwise installs Debian's `prometheus` package
# (apt-get, as root or through sudo). Used by `make test` before pytest.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    echo "ensure-prometheus: prometheus/promtool missing and not root (no sudo): install Debian's 'prometheus' package" >&2
    exit 1
fi

echo "ensure-prometheus: installing Debian's prometheus package" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends prometheus

# The package starts a system service where an init system runs; the tests start their own servers.
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1
