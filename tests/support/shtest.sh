# Helpers for the command-line tests written in sh, sourced by them. $tmp
# is a scratch directory, removed when the test exits. Checks are grouped by the behaviour
# they show: begin NAME ... end counts one behaviour, passed when every
# check in it passed, like the cmocka suites count test functions, and
# summary prints "N passed, M failed" and fails when M > 0.
tmp=$(mktemp -d "${TEST_TMPDIR:-/tmp}/shtest.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

pass=0
fail=0
group=""
group_failed=0

begin() {
    group=$1
    group_failed=0
    echo "[ RUN  ] $group"
}

end() {
    if [ "$group_failed" = 0 ]; then
        pass=$((pass + 1))
        echo "[  OK  ] $group"
    else
        fail=$((fail + 1))
        echo "[ FAIL ] $group"
    fi
}

ok() {
    echo "   ok   $1"
}

not_ok() {
    group_failed=1
    echo "   FAIL $1"
    [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/        /'
}

# expect_exit NAME CODE CMD...: runs CMD, output in $tmp/out and $tmp/err.
expect_exit() {
    name=$1
    want=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" = "$want" ]; then
        ok "$name"
        return 0
    fi
    not_ok "$name (exit $got, expected $want)" "$(cat "$tmp/err")"
    return 1
}

# expect_in NAME FILE TEXT: FILE contains TEXT.
expect_in() {
    if grep -qF -- "$3" "$2"; then
        ok "$1"
    else
        not_ok "$1 (no '$3')" "$(head -c 2000 "$2")"
    fi
}

# summary: the line tools/test.sh counts, and the exit status.
summary() {
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
