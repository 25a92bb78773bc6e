#!/bin/sh
# Python SDK benchmark beside the C SDK's, in the same run: starts two roostd
# processes on free loopback ports (one serving 1,000 flags, a string flag
# and a rollout; one empty), then `runs` times runs bench.py (Python, through
# ctypes), sdk_bench --mode eval and --mode observe, and route_bench (C; on a
# fresh roostd each run, as it applies its own rollouts), each a new
# process, and prints every run as JSON and the medians.
#   tools/bench/python/run.sh [runs]
# ROOST_BAZEL_OUTPUT_BASE picks a Bazel output base; ROOST_BENCH_NO_BUILD=1
# uses the binaries already built; ROOST_PYTHON the interpreter
# (default /usr/bin/python3).
set -eu
cd "$(dirname "$0")/../../.."
runs=${1:-5}
python=${ROOST_PYTHON:-/usr/bin/python3}
ob=${ROOST_BAZEL_OUTPUT_BASE:+--output_base=$ROOST_BAZEL_OUTPUT_BASE}
if [ -z "${ROOST_BENCH_NO_BUILD:-}" ]; then
    # --symlink_prefix=/: never move the workspace's bazel-* links.
    bazel $ob build --symlink_prefix=/ //server:roostd //tools/roostctl \
        //tools/bench/sdk:sdk_bench //tools/bench/sdk:route_bench //sdk/c:libroost.so 2>&1 |
        grep -E "^(ERROR|FAILED)" && exit 1 || true
fi
bin=$(bazel $ob info bazel-bin 2>/dev/null)
tmp=$(mktemp -d -p "${ROOST_BENCH_TMPDIR:-/tmp}")
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$tmp"' EXIT

start() { # name: roostd whose address ends up in $tmp/name.ready; pid in $last
    rm -rf "$tmp/$1" "$tmp/$1.ready"
    "$bin/server/roostd" --data "$tmp/$1" --listen 127.0.0.1:0 --ready-file "$tmp/$1.ready" \
        --log-level warn >"$tmp/$1.log" 2>&1 &
    last=$!
    pids="$pids $last"
    i=0; while [ ! -s "$tmp/$1.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
}
start empty
start full
empty=$(cat "$tmp/empty.ready")
full=$(cat "$tmp/full.ready")

# sdk_bench's 1,000 boolean flags, plus what only the Python cases use.
"$python" tools/bench/sdk/gen_flags.py 1000 "$tmp/flags.json"
"$python" - "$tmp/flags.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["flags"]["banner"] = {"state": "ENABLED", "variants": {"blue": "Blue banner",
                          "green": "Green banner"}, "defaultVariant": "blue"}
doc["rollouts"] = {"checkout-v2": {"service": "checkout", "baseline": "v1", "canary": "v2",
                                   "steps": [{"setWeight": 20}, {"pause": {}},
                                             {"setWeight": 100}]}}
json.dump(doc, open(sys.argv[1], "w"))
PY
"$bin/tools/roostctl/roostctl" --server "$full" apply -f "$tmp/flags.json" >/dev/null
"$bin/tools/roostctl/roostctl" --server "$full" rollout start checkout-v2 >/dev/null

export ROOST_LIBRARY="$bin/sdk/c/libroost.so" PYTHONPATH="$PWD/sdk/python"
for r in $(seq "$runs"); do
    "$python" tools/bench/python/bench.py --target "$full" || exit 1
    "$bin/tools/bench/sdk/sdk_bench" --mode eval --target "$full" --flags "$tmp/flags.json"
    "$bin/tools/bench/sdk/sdk_bench" --mode observe --target "$empty" --threads 2
    start route
    "$bin/tools/bench/sdk/route_bench" --target "$(cat "$tmp/route.ready")" --threads 2 ||
        echo "run.sh: route_bench failed" >&2
    kill "$last"; wait "$last" 2>/dev/null || true
done | tee "$tmp/results"
grep -q '"mode": "python"' "$tmp/results" || { echo "run.sh: bench.py failed" >&2; exit 1; }

echo "medians over $runs runs (ns per call):"
"$python" - "$tmp/results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
med = {}
for mode in ("python", "eval", "observe", "route"):
    rs = [r for r in rows if r["mode"] == mode]
    med[mode] = {k: statistics.median(r[k] for r in rs) for k in rs[0]
                 if isinstance(rs[0][k], (int, float))}
py = med.pop("python")
c_figures = {k: v for m in med.values() for k, v in m.items()}
print("  %-44s %9s %9s %9s" % ("call", "Python", "C", "ctypes+"))
for name, p, c in (
        ("boolean, no targeting (flag-0)", "static_bool_ns", "static_client_ns"),
        ("boolean, fractional on the key (flag-1)", "targeted_bool_ns", "targeted_client_ns"),
        ("boolean_details, fractional (flag-1)", "targeted_bool_details_ns",
         "targeted_client_details_ns"),
        ("boolean, flag-0, no context", "static_bool_no_context_ns", None),
        ("boolean, flag-1, context as a dict", "targeted_bool_dict_ns", None),
        ("string (banner)", "string_ns", None),
        ("roost.Context(2 attributes)", "context_build_ns", None),
        ("observe by name", "observe_by_name_ns", "by_name_ns"),
        ("series.observe", "observe_series_ns", "series_ns"),
        ("route (Context with key)", "route_ns", "route_key_ns"),
        ("with request(...): (begin + end)", "request_ns", "request_pair_ns"),
        ("empty Python loop iteration", "loop_ns", None)):
    cval = c_figures.get(c) if c else None
    print("  %-44s %9.1f %9s %9s" % (name, py[p], "%.1f" % cval if cval is not None else "-",
                                      "%.1f" % (py[p] - cval) if cval is not None else "-"))
PY
