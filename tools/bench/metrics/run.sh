#!/bin/sh
# Metrics store benchmark: the in-process figures of bench_metrics (ingest
# while queries run, 24 h queries, bytes per row, a retention pass under
# ingest), then the end-to-end time of `roostctl metrics` over 24 h of
# minute rows against a real roostd. Medians of `runs` runs.
#   tools/bench/metrics/run.sh [runs]
# Set BAZEL_STARTUP to pass Bazel startup options (--output_base=...).
set -eu
cd "$(dirname "$0")/../../.."
runs=${1:-5}
bz="bazel ${BAZEL_STARTUP:-}"
$bz build //tools/bench/metrics:bench_metrics //server:roostd //tools/roostctl:roostctl \
    2>&1 | grep -E "^(ERROR|FAILED)" && exit 1 || true
bin=$($bz info bazel-bin 2>/dev/null)
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT

TMPDIR=$tmp "$bin/tools/bench/metrics/bench_metrics" --runs "$runs"

# End to end: 24 h of minute rows (two arms) ending now, served by roostd.
"$bin/tools/bench/metrics/bench_metrics" --fill-24h "$tmp/data"
"$bin/server/roostd" --data "$tmp/data" --listen 127.0.0.1:0 --ready-file "$tmp/ready" \
    --log-level warn 2>"$tmp/log" &
pid=$!
i=0; while [ ! -s "$tmp/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
addr=$(cat "$tmp/ready")
echo
"$bin/tools/bench/metrics/bench_metrics" --query-server "$addr" --runs "$runs"

# The command line adds a process start and a connection per call.
ms() { # median wall milliseconds of `runs` x 3 runs of roostctl with "$@"
    for r in $(seq $((runs * 3))); do
        s=$(date +%s%N)
        "$bin/tools/roostctl/roostctl" --server "$addr" "$@" >/dev/null
        e=$(date +%s%N)
        echo $(( (e - s) / 1000 ))
    done | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}
echo
echo "| roostctl, a new process per call | wall ms |"
echo "|---|---:|"
echo "| roostctl --json metrics flag bench-flag --arm on --from -24h --step 1m | $(ms --json metrics flag bench-flag --arm on --from -24h --step 1m) |"
echo "| roostctl status | $(ms status) |"
