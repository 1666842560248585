#!/usr/bin/env bash
# Debian packages some tests use: Xvfb and Qt's xcb libraries (the napari viewer test
# renders on a headless X server) and systemd (systemd-analyze checks the unit).
# Installed only where that is allowed (root with apt-get); elsewhere those tests
# skip, naming what is missing. Never fails the build.
set -u
pkgs=(xvfb libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
      libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0
      libegl1 libgl1 libdbus-1-3 libfontconfig1 systemd)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "sysdeps: installing ${missing[*]}"
    { apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 &&
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; }; } ||
        echo "sysdeps: could not install them; the tests that need them will skip"
else
    echo "sysdeps: missing ${missing[*]} (not root); the tests that need them will skip"
fi
exit 0
