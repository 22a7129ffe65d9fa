#!/bin/sh
# Runs the budget attacks against the real filesync-server (not part of ctest):
#   tests/budgets/attack.sh [build/server/filesync-server] [a b c d e f g h i j k l]
# Prints, per attack, the server's peak RSS (VmHWM) and the longest wait of another
# account's Ping meanwhile. The figures go to docs/operations.md ("Budgets").
set -eu
here=$(dirname "$0")
server=${1:-build/server/filesync-server}
[ $# -gt 0 ] && shift
exec timeout 1800 python3 "$here/attack.py" "$server" "$@"
