#!/usr/bin/env bash
# Installs, builds and starts FileSync on the embedded defaults: a server on port 7070
# (SQLite + a local block store in ~/.local/share/filesync-server) and a headless client
# keeping ~/FileSync in sync with a new account (or the account that folder already has).
# Ctrl-C stops both. Start more computers with the account ID it prints:
#   build/desktop/filesync --headless SERVER 7070 ~/FileSync 10 <ID>
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
data="${FILESYNC_DATA:-$HOME/.local/share/filesync-server}"
folder="${FILESYNC_FOLDER:-$HOME/FileSync}"
port="${FILESYNC_PORT:-7070}"
mkdir -p "$data" "$folder"
server=build/server/filesync-server
client=build/desktop/filesync
"$server" --port "$port" --data "$data" &
server_pid=$!
trap 'kill $client_pid $server_pid 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    sleep 0.1
done
"$client" --headless 127.0.0.1 "$port" "$folder" 10 &
client_pid=$!
echo "FileSync: server on port $port (data in $data), folder $folder in sync. Ctrl-C stops."
wait $client_pid
