#!/bin/sh
# Roost's live demo: installs what is missing, builds, starts roostd on a
# fresh data directory, applies examples/flags.json, shows the flags, a
# watcher receiving a change as it happens, and the server's status; then
# stops roostd and leaves nothing running.
set -eu
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "set-up (Debian packages)"
./tools/setup.sh
say "build"
bazel build //server:roostd //tools/roostctl 2>&1 | grep -E "^(ERROR|FAILED)" && exit 1
roostd=./bazel-bin/server/roostd
roostctl=./bazel-bin/tools/roostctl/roostctl

work=$(mktemp -d)
pid=
watcher=
cleanup() {
    [ -n "$watcher" ] && kill "$watcher" 2>/dev/null
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

say "start roostd (data in $work/data)"
"$roostd" --data "$work/data" --listen 127.0.0.1:0 --ready-file "$work/addr" 2>"$work/roostd.log" &
pid=$!
i=0
while [ ! -s "$work/addr" ]; do
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "roostd did not start:"; cat "$work/roostd.log"; exit 1; }
    sleep 0.1
done
addr=$(cat "$work/addr")
echo "roostd is serving on $addr"
export ROOST_SERVER="$addr"

say "roostctl apply -f examples/flags.json"
"$roostctl" apply -f examples/flags.json

say "roostctl flag list"
"$roostctl" flag list

say "a watcher sees the next change as it happens"
"$roostctl" watch --count 2 --for 10 >"$work/watch.out" &
watcher=$!
sleep 0.5
sed 's/"defaultVariant": "small"/"defaultVariant": "large"/' examples/flags.json >"$work/flags.json"
"$roostctl" apply -f "$work/flags.json"
wait "$watcher" || true
watcher=
cat "$work/watch.out"

say "roostctl status"
"$roostctl" status

say "stop roostd"
kill "$pid"
wait "$pid" || true
pid=
grep '"event":"shutdown_complete"' "$work/roostd.log" || true
echo "done: roostd stopped, nothing left running."
