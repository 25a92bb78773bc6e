#!/bin/sh
# Runs one libFuzzer target of the flag compiler or the engine.
#
#   tests/fuzz/run.sh compile|image [SECONDS] [more libFuzzer flags...]
#
# Builds //tests/fuzz:<target>_fuzz with --config=fuzz (clang, libFuzzer,
# ASan, UBSan), copies the committed seed corpus and regressions into a
# working corpus, and fuzzes for SECONDS (default 600) with one job. New
# corpus entries stay in $ROOST_FUZZ_DIR (default /tmp/roost-fuzz/<target>);
# crashes are written next to it as crash-*: copy any into
# tests/fuzz/regressions/<target>/ so they replay in every build.
#
# Set ROOST_BAZEL to choose the bazel command, e.g.
#   ROOST_BAZEL="bazel --output_base=$HOME/.cache/bazel-fuzz"
# (a separate output base keeps the clang toolchain from displacing gcc's).
set -eu

target=${1:?usage: tests/fuzz/run.sh compile|image [SECONDS] [libFuzzer flags]}
secs=${2:-600}
[ $# -ge 2 ] && shift 2 || shift 1
case $target in
compile | image) ;;
*) echo "run.sh: unknown target '$target' (compile or image)" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
work=${ROOST_FUZZ_DIR:-/tmp/roost-fuzz}/$target
bazel=${ROOST_BAZEL:-bazel}

cd "$root"
$bazel build --config=fuzz "//tests/fuzz:${target}_fuzz"
bin=$($bazel info --config=fuzz bazel-bin)/tests/fuzz/${target}_fuzz

mkdir -p "$work/corpus" "$work/artifacts"
cp -n tests/fuzz/corpus/"$target"/* "$work/corpus/" 2>/dev/null || true
cp -n tests/fuzz/regressions/"$target"/* "$work/corpus/" 2>/dev/null || true
dict=""
[ "$target" = compile ] && dict="-dict=$root/tests/fuzz/jsonlogic.dict"

# With -jobs, libFuzzer logs to fuzz-<n>.log in the current directory.
cd "$work"
echo "fuzzing $target for ${secs}s; corpus $work/corpus, log $work/fuzz-0.log" >&2
exec "$bin" "$work/corpus" -max_total_time="$secs" -jobs=1 -workers=1 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 -rss_limit_mb=2048 $dict "$@"
