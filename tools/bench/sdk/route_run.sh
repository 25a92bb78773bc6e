#!/bin/sh
# C SDK release-path benchmark: starts one roostd on a free loopback port,
# runs route_bench `runs` times (each run a new process and a fresh data
# directory: it applies its own rollouts and experiment), prints each run as
# JSON and the medians.
#   tools/bench/sdk/route_run.sh [runs]
set -eu
cd "$(dirname "$0")/../../.."
runs=${1:-5}
ob=${ROOST_BAZEL_OUTPUT_BASE:+--output_base=$ROOST_BAZEL_OUTPUT_BASE}
if [ -z "${ROOST_BENCH_NO_BUILD:-}" ]; then
    # --symlink_prefix=/: never move the workspace's bazel-* links.
    bazel $ob build --symlink_prefix=/ //server:roostd //tools/bench/sdk:route_bench 2>&1 |
        grep -E "^(ERROR|FAILED)" && exit 1 || true
fi
bin=$(bazel $ob info bazel-bin 2>/dev/null)
tmp=$(mktemp -d -p "${ROOST_BENCH_TMPDIR:-/tmp}")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; [ -n "$pid" ] && wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT

for r in $(seq "$runs"); do
    rm -rf "$tmp/data" "$tmp/ready"
    "$bin/server/roostd" --data "$tmp/data" --listen 127.0.0.1:0 --ready-file "$tmp/ready" \
        --log-level warn >"$tmp/roostd.log" 2>&1 &
    pid=$!
    i=0; while [ ! -s "$tmp/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
    "$bin/tools/bench/sdk/route_bench" --target "$(cat "$tmp/ready")" --threads 2
    kill $pid; wait $pid 2>/dev/null || true; pid=""
done | tee "$tmp/results"

echo "medians over $runs runs:"
python3 - "$tmp/results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
keys = [k for k in rows[0] if k != "mode" and isinstance(rows[0][k], (int, float))]
for k in keys:
    print("  %-28s %s" % (k, round(statistics.median(r[k] for r in rows), 2)))
PY
