#!/usr/bin/env bash
# Installs the Debian 12 packages FileSync needs to build, run and test.
# Runs apt-get as root (directly, or through sudo when not root).
set -euo pipefail
packages=(
    build-essential cmake ninja-build pkg-config git
    qt6-base-dev qt6-base-dev-tools qt6-svg-dev qt6-tools-dev qt6-tools-dev-tools qt6-l10n-tools
    libqt6sql6-sqlite libqt6svg6 libssl-dev libzstd-dev libxxhash-dev libsqlite3-dev
    xvfb xauth x11-utils trayer xdotool imagemagick dbus-x11 libglib2.0-bin
    python3 procps
)
if [ "${1:-}" = "--bench" ]; then
    packages+=(rsync syncthing)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
