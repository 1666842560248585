#!/usr/bin/env bash
# Remove the AGLU edge service: sudo systemd/uninstall.sh [--purge]
# Keeps /etc/aglu (config, keys) and the `aglu` user unless --purge is given.
set -euo pipefail

. "$(dirname "$0")/common.sh"
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
