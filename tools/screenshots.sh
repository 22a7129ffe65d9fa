#!/usr/bin/env bash
# Takes the screenshots in docs/screenshots/ under Xvfb with a real tray host:
# the open tray menu (via tests/gui/tray_x11.sh) and the settings dialog on first start.
# usage: tools/screenshots.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=docs/screenshots
mkdir -p "$out"
client=$build/desktop/filesync
server=$build/server/filesync-server

FILESYNC_SHOT=$PWD/$out/tray-menu.png tests/gui/tray_x11.sh "$client" "$server"

if [ -z "${FILESYNC_IN_XVFB:-}" ]; then
    exec env FILESYNC_IN_XVFB=1 xvfb-run -a -s "-screen 0 800x500x24" "$0" "$@"
fi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
export HOME=$work XDG_CONFIG_HOME=$work/config XDG_RUNTIME_DIR=$work/run QT_QPA_PLATFORM=xcb
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
trayer --edge top --align right --widthtype request --height 24 &
"$client" &
for _ in $(seq 100); do
    id=$(xdotool search --onlyvisible --name 'FileSync Settings' 2>/dev/null | head -1) && [ -n "$id" ] && break
    sleep 0.1
done
[ -n "${id:-}" ] || { echo "the settings dialog did not appear"; exit 1; }
xdotool windowmove "$id" 40 40
import -window "$id" "$out/settings-dialog.png"
echo "wrote $out/tray-menu.png and $out/settings-dialog.png"
