#!/usr/bin/env bash
# Takes the pictures in docs/screenshots/ with the real binaries under Xvfb, with Debian's
# trayer as the tray host (no window manager runs, so windows have no title bars):
#   tray-menu.png             the open tray menu and its Recent changes submenu
#   settings-dialog.png       the settings of a running app (ID read-only, server answers)
#   settings-first-start.png  the settings dialog on the first start
#   settings-dialog-he.png    the same in Hebrew (right to left)
#   status-window.png         the window shown where there is no system tray
# Every wait is bounded; a step that does not happen stops the script with a reason.
# usage: tools/screenshots.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
if [ -z "${FILESYNC_IN_XVFB:-}" ]; then
    exec env FILESYNC_IN_XVFB=1 xvfb-run -a -s "-screen 0 800x500x24" "$0" "$build"
fi
client=$build/desktop/filesync
server=$build/server/filesync-server
out=$PWD/docs/screenshots
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# wait_for SECONDS COMMAND...: polls every 0.1 s until the command succeeds.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}
die() { echo "screenshots: $*" >&2; exit 1; }
# Painting is not observable from outside: give a freshly mapped window a moment.
settle() { sleep 0.5; }
visible_count() { xdotool search --onlyvisible --class filesync 2>/dev/null | wc -l; }
window_named() { xdotool search --onlyvisible --name "^$1\$" 2>/dev/null | head -1; }
has_window() { [ -n "$(window_named "$1")" ]; }

# profile NAME: a user of its own (home, config, runtime dir), so instances stay apart.
profile() {
    local p=$work/$1
    mkdir -p "$p/home" "$p/config/FileSync" "$p/run"
    chmod 700 "$p/run"
    echo "$p"
}
# configure PROFILE: settings for the test server and the profile's folder.
configure() {
    mkdir -p "$1/home/FileSync"
    cat > "$1/config/FileSync/filesync.conf" <<CONF
[server]
host=127.0.0.1
port=$port
[folder]
path=$1/home/FileSync
interval=60
CONF
}
# run_app PROFILE [VAR=VALUE...]: starts the tray app as that user, in the background.
run_app() {
    local p=$1
    shift
    env HOME="$p/home" XDG_CONFIG_HOME="$p/config" XDG_RUNTIME_DIR="$p/run" QT_QPA_PLATFORM=xcb \
        LANG=en_US.UTF-8 LANGUAGE= FILESYNC_NO_DESKTOP_SERVICES=1 "$@" "$client" >> "$p/app.log" 2>&1 &
    app_pid=$!
    pids+=($app_pid)
}
# stop_app: ends the last app started, so its windows cannot cover the next picture.
stop_app() {
    kill "$app_pid" 2>/dev/null || true
    wait "$app_pid" 2>/dev/null || true
}
# shoot_window NAME FILE: the named top-level window, moved off the screen's corner.
shoot_window() {
    wait_for 30 has_window "$1" || die "no window named '$1'"
    local id
    id=$(window_named "$1")
    xdotool windowmove "$id" 24 40
    settle
    import -window "$id" "$2"
    echo "wrote $2"
}

"$server" --port 0 --listen 127.0.0.1 --data "$work/data" > "$work/server.out" 2> "$work/server.err" &
pids+=($!)
wait_for 10 grep -q '^listening on' "$work/server.out" || die "the server did not start"
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/server.out")

trayer --edge top --align right --widthtype request --height 24 --SetDockType true &
trayer_pid=$!
pids+=($trayer_pid)
wait_for 10 has_window panel || die "trayer did not start"
tray=$(window_named panel)

# 1. A configured app that has synced a little both ways: its menu, then its settings.
main=$(profile main)
configure "$main"
mkdir -p "$main/home/FileSync/Notes" "$main/home/FileSync/Photos"
echo "meeting notes" > "$main/home/FileSync/Notes/monday.txt"
head -c 300000 /dev/urandom > "$main/home/FileSync/Photos/beach.jpg"
echo "budget" > "$main/home/FileSync/budget.ods"
run_app "$main"
embedded() { xwininfo -tree -id "$tray" | grep -q '"filesync": ("filesync"'; }
wait_for 30 embedded || die "the icon was not embedded in the tray"
account() { sed -n 's/^id=\([a-z2-7]\{32\}\)$/\1/p' "$main/config/FileSync/filesync.conf"; }
wait_for 30 test -n "$(account)" || die "the app got no account"
# Another computer of the same account adds a file: it shows as a download here.
laptop=$work/laptop
mkdir -p "$laptop"
"$client" --headless 127.0.0.1 "$port" "$laptop" 60 "$(account)" > "$work/laptop.out" 2> "$work/laptop.err" &
laptop_pid=$!
pids+=($laptop_pid)
wait_for 30 test -f "$laptop/Notes/monday.txt" -a -f "$laptop/budget.ods" || die "the other computer did not get the files"
echo "draft" > "$laptop/Notes/tuesday.txt"
wait_for 30 test -f "$main/home/FileSync/Notes/tuesday.txt" || die "the download did not arrive"
kill "$laptop_pid"

icon=$(xwininfo -tree -id "$tray" | grep '"filesync": ("filesync"' | head -1 | awk '{print $1}')
before=$(visible_count)
more_windows() { [ "$(visible_count)" -gt "$1" ]; }
# The icon may be in trayer's tree a moment before it takes clicks: click again if needed.
for _ in 1 2 3 4 5; do
    eval "$(xdotool getwindowgeometry --shell $((icon)))"
    xdotool mousemove $((X + WIDTH / 2)) $((Y + HEIGHT / 2)) click 1
    wait_for 3 more_windows "$before" && break
done
more_windows "$before" || die "the menu did not open"
# Down to "Recent changes" (the status line is skipped: it is disabled), then open it.
xdotool key Down Down Down Down Right
wait_for 10 more_windows $((before + 1)) || die "the Recent changes submenu did not open"
settle
import -window root "$work/root.png"
# Crop to the tray and the menus, with a margin.
left=800 bottom=0
for w in $(xdotool search --onlyvisible --class filesync) "$tray"; do
    eval "$(xdotool getwindowgeometry --shell "$w")"
    [ "$X" -lt "$left" ] && left=$X
    [ $((Y + HEIGHT)) -gt "$bottom" ] && bottom=$((Y + HEIGHT))
done
left=$((left > 16 ? left - 16 : 0))
convert "$work/root.png" -crop "$((800 - left))x$((bottom + 16))+$left+0" +repage "$out/tray-menu.png"
echo "wrote $out/tray-menu.png"
xdotool key Escape Escape

# A second start brings the running app forward: it opens its settings.
env HOME="$main/home" XDG_CONFIG_HOME="$main/config" XDG_RUNTIME_DIR="$main/run" QT_QPA_PLATFORM=xcb \
    timeout 20 "$client" >> "$main/second.log" 2>&1 || die "the second start did not exit"
wait_for 30 has_window 'FileSync Settings' || die "the running app did not open its settings"
sleep 1 # the reachability probe answers after a short delay
shoot_window 'FileSync Settings' "$out/settings-dialog.png"
stop_app

# 2. The first start: nothing configured yet, the dialog opens by itself.
fresh=$(profile fresh)
run_app "$fresh"
shoot_window 'FileSync Settings' "$out/settings-first-start.png"
stop_app

# 3. The same in Hebrew: right to left.
hebrew=$(profile hebrew)
run_app "$hebrew" LANG=he_IL.UTF-8 LANGUAGE=he
# (xdotool's name search does not match Hebrew letters: the title's Latin end will do)
shoot_window '.* FileSync' "$out/settings-dialog-he.png"
stop_app

# 4. No system tray: the status window.
kill "$trayer_pid"
wait_for 10 bash -c "! xdotool search --name '^panel\$'" || die "trayer did not stop"
notray=$(profile notray)
configure "$notray"
echo "hello" > "$notray/home/FileSync/hello.txt"
run_app "$notray"
wait_for 30 grep -q 'cycle done.* [1-9][0-9]* actions' "$notray/app.log" || die "the status window's app did not sync"
shoot_window 'FileSync' "$out/status-window.png"
