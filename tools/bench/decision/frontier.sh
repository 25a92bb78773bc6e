#!/bin/sh
# Speed against false rollbacks: bench_frontier on the issue 7 target
# (error-2pct, 2,000 runs) and its healthy twin (healthy, 20,000 runs) at
# alphas from 0.01 to 0.0001, Roost beside the oracle SPRT.
#   tools/bench/decision/frontier.sh [more bench_frontier options]
# Set BAZEL_STARTUP to pass Bazel startup options (--output_base=...).
set -eu
cd "$(dirname "$0")/../../.."
bz="bazel ${BAZEL_STARTUP:-}"
$bz build //tools/bench/decision:bench_frontier 2>&1 | grep -E "^(ERROR|FAILED)" && exit 1 || true
bin=$($bz info bazel-bin 2>/dev/null)
s=tools/bench/decision/scenarios
exec "$bin/tools/bench/decision/bench_frontier" "$@" $s/error-2pct.json $s/healthy.json
