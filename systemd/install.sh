#!/usr/bin/env bash
# Install the AGLU edge daemon as a systemd service on an acquisition PC.
#
#   sudo systemd/install.sh            # from a checkout (or an unpacked sdist)
#   DRY_RUN=1 systemd/install.sh       # print every step, change nothing
#
# Creates the system user `aglu`, a virtual environment in /opt/aglu/venv with
# aglu[mm,io] installed from this checkout, /etc/aglu/edge.toml (kept if it
# exists), the unit /etc/systemd/system/aglu-edge.service; checks the config
# and model, then enables and starts the service. Re-running upgrades in place.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/common.sh"
EXTRAS=${AGLU_EXTRAS:-mm,io}
PYTHON=${PYTHON:-/usr/bin/python3}  # a system Python: the service user must be able to run it
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    { echo "error: $PYTHON is older than 3.11" >&2; exit 2; }

id aglu >/dev/null 2>&1 ||
    run useradd --system --user-group --home-dir /var/lib/aglu --no-create-home \
        --shell /usr/sbin/nologin aglu
[ -x "$PREFIX/venv/bin/python" ] || run "$PYTHON" -m venv "$PREFIX/venv"
if [ -z "${DRY_RUN:-}" ] && ! runuser -u aglu -- "$PREFIX/venv/bin/python" -c "" 2>/dev/null; then
    echo "error: user aglu cannot run $(readlink -f "$PREFIX/venv/bin/python") (a Python under" \
        "a private home?); remove $PREFIX/venv and rerun with PYTHON=/usr/bin/python3" >&2
    exit 2
fi
run "$PREFIX/venv/bin/python" -m pip install -q --upgrade pip
run "$PREFIX/venv/bin/python" -m pip install -q "$SRC[$EXTRAS]"
run install -d -m 0750 -o root -g aglu "$CONF" "$CONF/keys"
if [ -e "$CONF/edge.toml" ]; then
    echo "keeping $CONF/edge.toml"
else
    run install -m 0640 -o root -g aglu "$SRC/systemd/edge.toml" "$CONF/edge.toml"
fi
run "$PREFIX/venv/bin/aglu-edge" check --config "$CONF/edge.toml"
run install -m 0644 "$SRC/systemd/aglu-edge.service" "$UNIT_DIR/aglu-edge.service"
if [ -d /run/systemd/system ] || [ -n "${DRY_RUN:-}" ]; then
    run systemctl daemon-reload
    run systemctl enable aglu-edge.service
    run systemctl restart aglu-edge.service
    run systemctl --no-pager status aglu-edge.service
else
    echo "systemd is not running here: installed, not started"
fi
