#!/usr/bin/env bash
# The tray icon in a real X server (Xvfb) with a real tray host (trayer): the icon must
# be embedded, and clicking it must open its menu. Stops by itself; every wait is bounded.
# usage: tray_x11.sh PATH/TO/filesync PATH/TO/filesync-server
set -euo pipefail
client=$1
server=$2
if [ -z "${FILESYNC_IN_XVFB:-}" ]; then
    # -a looks for a free display from -n on; two runs at once that start from the same
    # number can both take it (one then fails to open it): each starts somewhere else.
    exec env FILESYNC_IN_XVFB=1 xvfb-run -a -n $((100 + RANDOM % 800)) -s "-screen 0 800x400x24" "$0" "$@"
fi

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
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

export HOME=$work/home XDG_CONFIG_HOME=$work/config XDG_RUNTIME_DIR=$work/run QT_QPA_PLATFORM=xcb
mkdir -p "$HOME" "$XDG_CONFIG_HOME/FileSync" "$XDG_RUNTIME_DIR" "$work/data" "$work/Sync"
chmod 700 "$XDG_RUNTIME_DIR"

"$server" --port 0 --listen 127.0.0.1 --data "$work/data" > "$work/server.out" 2> "$work/server.err" &
pids+=($!)
wait_for 10 grep -q '^listening on' "$work/server.out" || { echo "server did not start"; exit 1; }
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/server.out")
cat > "$XDG_CONFIG_HOME/FileSync/filesync.conf" <<CONF
[server]
host=127.0.0.1
port=$port
[folder]
path=$work/Sync
interval=60
CONF

trayer --edge top --align right --widthtype request --height 24 --SetDockType true &
pids+=($!)
# trayer docks icons into its window named "panel".
wait_for 10 xdotool search --name '^panel$' || { echo "trayer did not start"; exit 1; }
tray=$(xdotool search --name '^panel$' | head -1)

FILESYNC_NO_DESKTOP_SERVICES=1 "$client" > "$work/client.out" 2> "$work/client.err" &
pids+=($!)

# Embedded: trayer's window gets a child that belongs to filesync.
embedded() { xwininfo -tree -id "$tray" | grep -q '"filesync": ("filesync"'; }
if ! wait_for 30 embedded; then
    echo "the icon was not embedded in the tray"; xwininfo -tree -id "$tray"; cat "$work/client.err"; exit 1
fi
echo "icon embedded in trayer"
icon=$(xwininfo -tree -id "$tray" | grep '"filesync": ("filesync"' | head -1 | awk '{print $1}')
icon=$((icon)) # xdotool wants decimal ids

# The menu: one more visible filesync window than before the click. The icon may be in
# trayer's tree a moment before it takes clicks, so a click that changed nothing is
# repeated (each try bounded, and all of them together).
visible() { xdotool search --onlyvisible --class filesync 2>/dev/null | wc -l; }
before=$(visible)
menu_open() { [ "$(visible)" -gt "$before" ]; }
deadline=$((SECONDS + 30))
until menu_open; do
    if [ $SECONDS -ge $deadline ]; then
        echo "clicking the icon did not open its menu"; cat "$work/client.err"; exit 1
    fi
    eval "$(xdotool getwindowgeometry --shell "$icon")"
    xdotool mousemove $((X + WIDTH / 2)) $((Y + HEIGHT / 2)) click 1
    wait_for 3 menu_open || true
done
echo "menu opened"
xdotool key Escape

# A second start asks the running one to come forward (it opens the settings) and exits.
first=${pids[-1]}
timeout 30 "$client" > "$work/second.out" 2> "$work/second.err" || { echo "the second start did not exit cleanly"; cat "$work/second.err"; exit 1; }
kill -0 "$first" || { echo "the first instance is gone"; exit 1; }
settings_open() { xdotool search --onlyvisible --name '^FileSync Settings$'; }
wait_for 30 settings_open || { echo "the running instance did not come forward"; cat "$work/client.err"; exit 1; }
echo "second start brought the running one forward"
exit 0
