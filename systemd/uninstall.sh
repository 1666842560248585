#!/usr/bin/env bash
# Remove the AGLU edge service: sudo systemd/uninstall.sh [--purge]
# Keeps /etc/aglu (config, keys) and the `aglu` user unless --purge is given.
set -euo pipefail

PREFIX=${AGLU_PREFIX:-/opt/aglu}
CONF=${AGLU_CONF:-/etc/aglu}
UNIT_DIR=${AGLU_UNIT_DIR:-/etc/systemd/system}

run() {
    echo "+ $*"
    if [ -z "${DRY_RUN:-}" ]; then "$@"; fi
}

if [ -z "${DRY_RUN:-}" ] && [ "$(id -u)" != 0 ]; then
    echo "error: run as root (sudo $0), or DRY_RUN=1 to see the steps" >&2
    exit 2
fi
run systemctl disable --now aglu-edge.service || true
run rm -f "$UNIT_DIR/aglu-edge.service"
run systemctl daemon-reload
run rm -rf "$PREFIX"
if [ "${1:-}" = "--purge" ]; then
    run rm -rf "$CONF"
    run userdel aglu || true
else
    echo "kept $CONF and the aglu user (--purge removes them)"
fi
