#!/bin/sh
# Evaluation engine benchmark against @openfeature/flagd-core, in one run.
#
#   tools/bench/engine/run.sh [ROUNDS] [REPS]
#
# Builds //tools/bench/engine:engine_bench, installs flagd-core from
# package-lock.json if needed, then for each of ROUNDS rounds (default 3)
# runs the C benchmark and the Node baseline (REPS repetitions each, default
# 15) on the flagd test-kit flags, alternating so both see the same machine
# state. Prints the median over rounds of each side's median ns/eval, the
# ratio and the targets as a Markdown table (the one in docs/BENCHMARKS.md);
# raw JSON lines go to $ROOST_BENCH_OUT (default /tmp/roost-engine-bench.jsonl).
# Set ROOST_BAZEL to choose the bazel command.
set -eu

rounds=${1:-3}
reps=${2:-15}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
flags=$root/../shared/conformance/flagd-evaluator/flags.json
out=${ROOST_BENCH_OUT:-/tmp/roost-engine-bench.jsonl}
bazel=${ROOST_BAZEL:-bazel}

cd "$root"
$bazel build -c opt //tools/bench/engine:engine_bench >&2
bin=$($bazel info -c opt bazel-bin)/tools/bench/engine/engine_bench
[ -d "$here/node_modules/@openfeature/flagd-core" ] || (cd "$here" && npm ci --no-audit --no-fund >&2)

: >"$out"
i=1
while [ "$i" -le "$rounds" ]; do
    echo "round $i/$rounds: roost" >&2
    "$bin" "$flags" "$reps" >>"$out"
    echo "round $i/$rounds: flagd-core (node $(node --version))" >&2
    node "$here/bench.js" "$flags" "$reps" >>"$out"
    i=$((i + 1))
done

node - "$out" <<'JS'
const fs = require('fs');
const rows = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map(JSON.parse);
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const target = { 'static-boolean': 20, 'ref-targeting-email': 100, 'fractional-4-way': 100, 'semver-if-chain': 200 };
const cases = [...new Set(rows.map((r) => r.case))];
console.log('| case | threads | Roost ns/eval | flagd-core ns/eval | speed-up | allocs/eval | target | met |');
console.log('|---|---|---|---|---|---|---|---|');
for (const c of cases) for (const t of [1, 2]) {
  const pick = (impl) => rows.filter((r) => r.case === c && r.threads === t && r.impl === impl);
  const r = med(pick('roost').map((x) => x.ns_median)), n = med(pick('flagd-core').map((x) => x.ns_median));
  const allocs = t === 1 ? pick('roost').map((x) => x.allocs_per_eval).every((a) => a === 0) ? '0' : 'NONZERO' : '';
  const ratio = n / r;
  const met = r <= target[c] && ratio >= 10;
  console.log(`| ${c} | ${t} | ${r.toFixed(1)} | ${n.toFixed(1)} | ${ratio.toFixed(1)}x | ${allocs} | ≤ ${target[c]} ns, ≥ 10x | ${met ? 'yes' : 'NO'} |`);
}
JS
