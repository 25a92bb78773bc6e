#!/bin/sh
# Report ingest of two roostd builds, A/B in the same run: each serves an
# empty data directory on disk (under /var/tmp) on its own loopback port,
# and `sdk_bench --mode ingest` (4 connections, 3 s) alternates between
# them `runs` times. Prints every run and the medians with their ratio.
# Before the last line, B's roostd says how many commits its batches took.
#   tools/bench/sdk/ingest_ab.sh A_ROOSTD B_ROOSTD [runs]
# Set BAZEL_STARTUP to pass Bazel startup options (--output_base=...).
set -eu
[ $# -ge 2 ] || { echo "usage: $0 A_ROOSTD B_ROOSTD [runs]" >&2; exit 2; }
a=$1 b=$2 runs=${3:-5}
cd "$(dirname "$0")/../../.."
bz="bazel ${BAZEL_STARTUP:-}"
$bz build //tools/bench/sdk:sdk_bench 2>&1 | grep -E "^(ERROR|FAILED)" && exit 1 || true
bench=$($bz info bazel-bin 2>/dev/null)/tools/bench/sdk/sdk_bench
d=$(mktemp -d /var/tmp/roost-ingest-ab.XXXXXX)
pa= pb=
cleanup() { [ -n "$pa" ] && kill "$pa" 2>/dev/null; [ -n "$pb" ] && kill "$pb" 2>/dev/null; wait 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT
"$a" --data "$d/a" --listen 127.0.0.1:0 --ready-file "$d/a.ready" >"$d/a.log" 2>&1 & pa=$!
"$b" --data "$d/b" --listen 127.0.0.1:0 --ready-file "$d/b.ready" >"$d/b.log" 2>&1 & pb=$!
for i in $(seq 100); do [ -s "$d/a.ready" ] && [ -s "$d/b.ready" ] && break; sleep 0.1; done
[ -s "$d/a.ready" ] && [ -s "$d/b.ready" ] || { echo "a roostd did not start" >&2; cat "$d"/*.log >&2; exit 1; }
for i in $(seq "$runs"); do
    for v in a b; do
        echo "$v $("$bench" --mode ingest --target "$(cat "$d/$v.ready")" --threads 4 --seconds 3 2>/dev/null | tail -1)"
    done
done | tee "$d/runs"
kill "$pb" && wait "$pb" 2>/dev/null || true
pb=
grep -h '"reports_stored"' "$d/b.log" || true
python3 - "$d/runs" <<'PY'
import json, statistics, sys
r = {"a": [], "b": []}
p50 = {"a": [], "b": []}
for line in open(sys.argv[1]):
    v, j = line.split(" ", 1)
    r[v].append(json.loads(j)["batches_per_s"])
    p50[v].append(json.loads(j)["p50_ms"])
ma, mb = statistics.median(r["a"]), statistics.median(r["b"])
print(f"median batches/s: a {ma:.0f}, b {mb:.0f}, b/a {mb / ma:.2f}; "
      f"median call p50: a {statistics.median(p50['a']):.2f} ms, b {statistics.median(p50['b']):.2f} ms")
PY
