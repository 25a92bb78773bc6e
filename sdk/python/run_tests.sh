#!/bin/sh
# Bazel entry for the Python SDK's tests (//sdk/python:python_test):
#   run_tests.sh ROOSTD ROOSTCTL LIBROOST FLAGS.json CASES.json [pytest args]
# Runs pytest on Debian's /usr/bin/python3 (the machine's other python3 has
# no pytest) and ends with the "N passed, M failed" line tools/test.sh reads.
set -u

abs() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

if [ $# -lt 5 ]; then
    echo "usage: $0 ROOSTD ROOSTCTL LIBROOST FLAGS.json CASES.json [pytest args]" >&2
    echo "0 passed, 1 failed"
    exit 2
fi
export ROOST_ROOSTD="$(abs "$1")" ROOST_ROOSTCTL="$(abs "$2")" ROOST_LIBRARY="$(abs "$3")"
export ROOST_CONFORMANCE_FLAGS="$(abs "$4")" ROOST_CONFORMANCE_CASES="$(abs "$5")"
shift 5
here=$(dirname "$(abs "$0")")
python=${ROOST_PYTHON:-/usr/bin/python3}

if ! "$python" -c "import pytest" 2>/dev/null; then
    echo "python_test: $python cannot import pytest; run tools/setup.sh (Debian: python3-pytest)"
    echo "0 passed, 1 failed"
    exit 1
fi

# An AddressSanitizer build of libroost.so (bazel test --config=asan) cannot
# be dlopen()ed by an uninstrumented python unless the sanitizer runtimes
# are loaded first. LeakSanitizer is off for python itself: CPython does not
# free everything at exit, and what it keeps is not the SDK's. roostd and
# roostctl are instrumented executables: the tests give them the original
# options back (tests/support.py, child_env).
runtimes=$(ldd "$ROOST_LIBRARY" 2>/dev/null | awk '/lib(asan|ubsan)\.so/ { print $3 }' | tr '\n' ' ')
if [ -n "$runtimes" ]; then
    echo "python_test: sanitizer build of libroost.so; preloading $runtimes"
    export ROOST_CHILD_ASAN_OPTIONS="${ASAN_OPTIONS:-}"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    export LD_PRELOAD="$runtimes"
fi

# Bazel's runfiles are read-only: no bytecode files, no pytest cache.
export PYTHONDONTWRITEBYTECODE=1
export ROOST_PYTEST_RESULT="${TEST_TMPDIR:-${TMPDIR:-/tmp}}/python_test.result"
rm -f "$ROOST_PYTEST_RESULT"
"$python" -m pytest -p no:cacheprovider -q -rfEs \
    ${XML_OUTPUT_FILE:+--junitxml="$XML_OUTPUT_FILE"} "$here/tests" "$@"
rc=$?
if [ -s "$ROOST_PYTEST_RESULT" ]; then
    cat "$ROOST_PYTEST_RESULT"
else
    echo "python_test: pytest ended without a result (exit status $rc)"
    echo "0 passed, 1 failed"
    [ "$rc" = 0 ] && rc=1
fi
exit "$rc"
