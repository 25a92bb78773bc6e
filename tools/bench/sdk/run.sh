#!/bin/sh
# C SDK benchmark: starts two roostd processes on free loopback ports (one
# empty, one with 1,000 flags), runs every mode of sdk_bench `runs` times
# (each run a new process), prints each run as JSON and the medians.
#   tools/bench/sdk/run.sh [runs]
set -eu
cd "$(dirname "$0")/../../.."
runs=${1:-5}
ob=${ROOST_BAZEL_OUTPUT_BASE:+--output_base=$ROOST_BAZEL_OUTPUT_BASE}
# ROOST_BENCH_NO_BUILD=1 uses the binaries already in bazel-bin.
if [ -z "${ROOST_BENCH_NO_BUILD:-}" ]; then
    bazel $ob build //server:roostd //tools/roostctl //tools/bench/sdk:sdk_bench 2>&1 |
        grep -E "^(ERROR|FAILED)" && exit 1 || true
fi
bin=$(bazel $ob info bazel-bin 2>/dev/null)
# ROOST_BENCH_TMPDIR=/dev/shm puts roostd's stores on tmpfs (no fsync cost).
tmp=$(mktemp -d -p "${ROOST_BENCH_TMPDIR:-/tmp}")
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$tmp"' EXIT

start() { # name: roostd whose address ends up in $tmp/name.ready
    "$bin/server/roostd" --data "$tmp/$1" --listen 127.0.0.1:0 --ready-file "$tmp/$1.ready" \
        --log-level warn >"$tmp/$1.log" 2>&1 &
    pids="$pids $!"
    i=0; while [ ! -s "$tmp/$1.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
}
start empty
start full
empty=$(cat "$tmp/empty.ready")
full=$(cat "$tmp/full.ready")
python3 tools/bench/sdk/gen_flags.py 1000 "$tmp/flags.json"
"$bin/tools/roostctl/roostctl" --server "$full" apply -f "$tmp/flags.json" >/dev/null

for r in $(seq "$runs"); do
    "$bin/tools/bench/sdk/sdk_bench" --mode eval --target "$full" --flags "$tmp/flags.json"
    "$bin/tools/bench/sdk/sdk_bench" --mode observe --target "$empty" --threads 2
    "$bin/tools/bench/sdk/sdk_bench" --mode deliver --target "$empty" --threads 2 --seconds 3
    "$bin/tools/bench/sdk/sdk_bench" --mode ingest --target "$empty" --threads 4 --seconds 3
    "$bin/tools/bench/sdk/sdk_bench" --mode memory --target "$empty" | sed 's/"mode":"memory"/"mode":"memory_idle"/'
    "$bin/tools/bench/sdk/sdk_bench" --mode memory --target "$full" | sed 's/"mode":"memory"/"mode":"memory_1000"/'
done | tee "$tmp/results"

echo "medians over $runs runs:"
python3 - "$tmp/results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
modes = {}
for r in rows:
    modes.setdefault(r["mode"], []).append(r)
for mode, rs in modes.items():
    keys = [k for k in rs[0] if k != "mode" and isinstance(rs[0][k], (int, float))]
    print("  %-12s %s" % (mode, ", ".join("%s %s" % (k, round(statistics.median(r[k] for r in rs), 2)) for k in keys)))
PY
