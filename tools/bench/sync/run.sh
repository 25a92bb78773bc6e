#!/bin/sh
# Sync propagation benchmark: starts a roostd on a free loopback port with a
# fresh data directory, then measures propagation to 100 and 1,000
# subscribers and memory per idle subscriber, each `runs` times; prints
# every run as JSON and the medians. Usage: tools/bench/sync/run.sh [runs]
set -eu
cd "$(dirname "$0")/../../.."
runs=${1:-3}
bazel build //server:roostd //tools/bench/sync:propagation 2>&1 | grep -E "^(ERROR|FAILED)" && exit 1 || true
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
# "n c": n subscribers over c connections. One connection per subscriber is
# what a fleet of SDK processes looks like; fewer connections show the cost
# of the streams alone.
for nc in "100 100" "1000 1000" "1000 50"; do
    set -- $nc
    n=$1 c=$2
    for r in $(seq "$runs"); do
        rm -rf "$tmp/data" "$tmp/ready"
        ./bazel-bin/server/roostd --data "$tmp/data" --listen 127.0.0.1:0 \
            --ready-file "$tmp/ready" --log-level warn 2>"$tmp/log" &
        pid=$!
        i=0; while [ ! -s "$tmp/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
        ./bazel-bin/tools/bench/sync/propagation --server "$(cat "$tmp/ready")" --pid $pid \
            --subscribers "$n" --channels "$c" --changes 20 --json | tee -a "$tmp/results"
        kill $pid; wait $pid 2>/dev/null || true
    done
done
echo "medians over $runs runs:"
python3 - "$tmp/results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
groups = {}
for r in rows:
    groups.setdefault((r["subscribers"], r["channels"]), []).append(r)
for (n, c), rs in groups.items():
    med = lambda k: statistics.median(r[k] for r in rs)
    print("  %5d subscribers over %4d connections: p50 %.2f ms, p99 %.2f ms, "
          "roostd memory per idle subscriber %.1f KiB"
          % (n, c, med("p50_ms"), med("p99_ms"), med("rss_per_idle_subscriber_kb")))
PY
