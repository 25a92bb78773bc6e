#!/bin/sh
# Runs Roost's whole test suite: installs what is missing, runs every Bazel
# test, then runs them again under AddressSanitizer + UndefinedBehaviorSanitizer,
# and the concurrency suites (tag "tsan") under ThreadSanitizer.
# Each suite ends its log with "N passed, M failed"; this script adds them up
# and ends with the same line. Exit status 0 only when nothing failed.
#
#   tools/test.sh              everything (what CI runs)
#   tools/test.sh --quick      skip the sanitizer passes
#   tools/test.sh //tests/...  only these targets (both passes)
set -u
cd "$(dirname "$0")/.." || exit 1

quick=0
targets=""
for a in "$@"; do
    case "$a" in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) targets="$targets $a" ;;
    esac
done
[ -n "$targets" ] || targets="//..."
# The same targets as one query expression ("a + b").
tq=$(echo $targets | sed 's/ / + /g')

./tools/setup.sh || { echo "test: set-up failed" >&2; echo "0 passed, 1 failed"; exit 1; }
[ -x tools/setup-node.sh ] && { ./tools/setup-node.sh || { echo "0 passed, 1 failed"; exit 1; }; }

total_pass=0
total_fail=0

# Sums the "N passed, M failed" lines of the test logs of one run. A suite
# that failed without such a line (a crash, a timeout) counts as 1 failed.
# Bazel's exit status 1 means something did not build (a test that did not
# build also has no log, but a non-test target that fails would go unseen).
build_check() {
    if [ "$1" = 1 ]; then
        echo "  FAILED: the $2 build (see the errors above)"
        total_fail=$((total_fail + 1))
    fi
}

tally() {
    label=$1
    query=$2
    shift 2
    # The bazel-testlogs symlink follows whichever build ran last; ask Bazel.
    logs=$(bazel info "$@" bazel-testlogs 2>/dev/null)
    pass=0
    fail=0
    for t in $(bazel query "$query" 2>/dev/null); do
        rel=$(echo "$t" | sed -e 's|^//||' -e 's|:|/|')
        log="$logs/$rel/test.log"
        xml="$logs/$rel/test.xml"
        line=$( [ -f "$log" ] && grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
        ok=1
        if [ -f "$xml" ] && grep -q '<failure' "$xml"; then ok=0; fi
        [ -f "$log" ] || ok=0
        if [ -n "$line" ]; then
            p=$(echo "$line" | sed -E 's/^([A-Za-z]+: )?([0-9]+) passed, ([0-9]+) failed$/\2/')
            f=$(echo "$line" | sed -E 's/^([A-Za-z]+: )?([0-9]+) passed, ([0-9]+) failed$/\3/')
            [ "$ok" = 0 ] && [ "$f" = 0 ] && f=1
        elif [ "$ok" = 1 ]; then
            p=1; f=0
        else
            p=0; f=1
        fi
        [ "$f" != 0 ] && echo "  FAILED: $t ($log)"
        pass=$((pass + p))
        fail=$((fail + f))
    done
    echo "$label: $pass passed, $fail failed"
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
}

echo "== tests =="
# shellcheck disable=SC2086
bazel test --nocache_test_results --keep_going --show_progress_rate_limit=30 $targets
build_check $? tests
tally "tests" "tests($tq)"

if [ "$quick" = 0 ]; then
    echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
    # shellcheck disable=SC2086
    bazel test --config=asan --nocache_test_results --keep_going --show_progress_rate_limit=30 $targets
    build_check $? asan
    tally "asan" "tests($tq)" --config=asan
    echo "== concurrency suites under ThreadSanitizer =="
    # shellcheck disable=SC2086
    bazel test --config=tsan --test_tag_filters=tsan --nocache_test_results --keep_going \
        --show_progress_rate_limit=30 $targets
    build_check $? tsan
    tally "tsan" "attr(tags, tsan, tests($tq))" --config=tsan
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
