# Shared by install.sh and uninstall.sh (sourced, not run).
PREFIX=${AGLU_PREFIX:-/opt/aglu}
CONF=${AGLU_CONF:-/etc/aglu}
UNIT_DIR=${AGLU_UNIT_DIR:-/etc/systemd/system}

# Print each step; run it unless DRY_RUN is set.
run() {
    echo "+ $*"
    if [ -z "${DRY_RUN:-}" ]; then "$@"; fi
}

if [ -z "${DRY_RUN:-}" ] && [ "$(id -u)" != 0 ]; then
    echo "error: run as root (sudo $0), or DRY_RUN=1 to see the steps" >&2
    exit 2
fi
