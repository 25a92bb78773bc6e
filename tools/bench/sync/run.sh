#!/bin/sh
# Sync propagation benchmark: starts a roostd on a free loopback port with a
# fresh data directory, then measures propagation to 100 and 1,000
# subscribers and memory per idle subscriber, each `runs` times; prints
# every run as JSON and the medians. Usage: tools/bench/sync/run.sh [runs]
set -eu
cd "$(dirname "$0")/../../.."
runs=${1:-3}
bazel build -c opt //server:roostd //tools/bench/sync:propagation >/dev/null 2>&1
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for n in 100 1000; do
    for r in $(seq "$runs"); do
        rm -rf "$tmp/data" "$tmp/ready"
        ./bazel-bin/server/roostd --data "$tmp/data" --listen 127.0.0.1:0 \
            --ready-file "$tmp/ready" --log-level warn 2>"$tmp/log" &
        pid=$!
        i=0; while [ ! -s "$tmp/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
        ./bazel-bin/tools/bench/sync/propagation --server "$(cat "$tmp/ready")" --pid $pid \
            --subscribers $n --changes 20 --json | tee -a "$tmp/results"
        kill $pid; wait $pid 2>/dev/null || true
    done
done
echo "medians over $runs runs:"
for n in 100 1000; do
    grep "\"subscribers\":$n," "$tmp/results" | python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin]
n = rows[0]["subscribers"]
med = lambda k: statistics.median(r[k] for r in rows)
print(f"  {n:5d} subscribers: p50 {med(\"p50_ms\"):.2f} ms, p99 {med(\"p99_ms\"):.2f} ms, "
      f"memory per idle subscriber {med(\"rss_per_idle_subscriber_kb\"):.1f} KiB")'
done
