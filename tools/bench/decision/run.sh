#!/bin/sh
# Decision-quality benchmark: every scenario in scenarios/ (bad canaries
# first, then healthy ones, in the order docs/BENCHMARKS.md shows them),
# `runs` seeded runs per scenario and policy (default 2000).
#   tools/bench/decision/run.sh [runs] [more bench_decision options]
# Set BAZEL_STARTUP to pass Bazel startup options (--output_base=...).
set -eu
cd "$(dirname "$0")/../../.."
runs=${1:-2000}
[ $# -gt 0 ] && shift
bz="bazel ${BAZEL_STARTUP:-}"
$bz build //tools/bench/decision:bench_decision 2>&1 | grep -E "^(ERROR|FAILED)" && exit 1 || true
bin=$($bz info bazel-bin 2>/dev/null)
s=tools/bench/decision/scenarios
exec "$bin/tools/bench/decision/bench_decision" --runs "$runs" "$@" \
    $s/error-2pct.json $s/error-2pct-tuned.json $s/error-1pct.json $s/error-5pct.json \
    $s/incident-canary-errors.json $s/latency-1.5x.json $s/latency-3x.json $s/latency-tail.json \
    $s/low-traffic-2pct.json $s/low-traffic-2pct-tuned.json $s/bursty-2pct.json \
    $s/bursty-2pct-tuned.json \
    $s/healthy.json $s/healthy-tuned.json $s/latency-healthy.json $s/dependency-outage.json \
    $s/low-traffic-healthy.json $s/low-traffic-healthy-tuned.json $s/bursty-healthy.json \
    $s/bursty-healthy-tuned.json
