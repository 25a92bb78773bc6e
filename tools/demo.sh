#!/bin/sh
# Roost's live demo (README command 1), as root on Debian 12:
#   1. installs what is missing (tools/setup.sh) and builds roostd, roostctl
#      and roost-sim;
#   2. starts roostd on the embedded default (LMDB in a fresh temporary
#      directory, a free loopback port) and applies examples/rollout.json,
#      whose dependency probe is pointed at roostd's own port;
#   3. roost-sim live (examples/sim/healthy.json): simulated checkout
#      instances send 1000 requests/s through the real C SDK while roostd
#      moves a healthy canary through every step and promotes it;
#   4. the same rollout applied with a new canary version, and roost-sim live
#      with a faulty canary (examples/sim/faulty.json): roostd rolls it back
#      at its first analysis, and the rollback hook runs;
#   5. the timeline of both attempts: every decision record roostd wrote
#      (roostctl rollout history).
# Then roostd is stopped. Nothing is left running: roostd and roost-sim run
# in process groups of their own, which the EXIT/INT/TERM trap kills, and a
# Bazel server the build started is shut down. About a minute once built.
set -eu
cd "$(dirname "$0")/.."

t_start=$(date +%s)
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
elapsed() { echo $(($(date +%s) - t_start)); }

# ---- cleanup: whatever happens, nothing stays behind -------------------------
work=
groups=
# True while process $1 runs (an exited child stays a zombie, which kill -0
# still finds, until it is waited for).
running() {
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$st" ] && [ "$st" != Z ]
}
cleanup() {
    rc=$?
    trap - EXIT INT TERM
    # Newest first: roost-sim delivers its last outcomes while roostd is
    # still there, then roostd finishes its calls and closes the store.
    # Each gets 10 s before it is killed.
    rev=
    for g in $groups; do rev="$g $rev"; done
    for g in $rev; do
        kill -TERM "-$g" 2>/dev/null || true
        i=0
        while running "$g" && [ $i -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "-$g" 2>/dev/null || true # anything left in its group
    done
    wait 2>/dev/null || true
    [ -n "$work" ] && rm -rf "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs "$@" as the leader of a new process group (setsid execs in place: a
# background job of a non-interactive shell is never a group leader), so
# that cleanup can kill it with everything it started (roostd's hooks).
# Sets $bg to its pid, which is also the group's id.
spawn() {
    setsid "$@" &
    bg=$!
    groups="$groups $bg"
}

# Waits for a child started by spawn, so that a signal to this script is
# handled at once (a shell runs traps only between commands; `wait` is
# interrupted). Returns its exit status.
await() {
    set +e
    wait "$1"
    s=$?
    set -e
    groups=$(echo "$groups" | sed "s/ $1\\b//")
    return $s
}

# ---- set-up and build --------------------------------------------------------
work=$(mktemp -d /tmp/roost-demo.XXXXXX)
say "set-up (Debian packages)"
./tools/setup.sh
echo "everything installed"

say "build"
# A Bazel server that this script starts is shut down once the build is
# done; one that was already running (a developer's) is left alone.
bazel_pid_file="$HOME/.cache/bazel/_bazel_$(id -un)/$(printf %s "$(pwd -P)" | md5sum | cut -c1-32)/server/server.pid.txt"
bazel_was_running=0
[ -f "$bazel_pid_file" ] && kill -0 "$(cat "$bazel_pid_file")" 2>/dev/null && bazel_was_running=1
if ! bazel build //server:roostd //tools/roostctl //tools/sim:roost-sim >"$work/build.log" 2>&1; then
    cat "$work/build.log"
    echo "demo: the build failed (log above)" >&2
    exit 1
fi
[ $bazel_was_running = 1 ] || bazel shutdown >/dev/null 2>&1 || true
roostd=./bazel-bin/server/roostd
roostctl=./bazel-bin/tools/roostctl/roostctl
sim=./bazel-bin/tools/sim/roost-sim
echo "built roostd, roostctl and roost-sim ($(elapsed) s so far)"

# ---- roostd ----------------------------------------------------------------------
say "start roostd (embedded LMDB store in $work/data)"
spawn "$roostd" --data "$work/data" --listen 127.0.0.1:0 --ready-file "$work/addr" 2>"$work/roostd.log"
roostd_pid=$bg
i=0
while [ ! -s "$work/addr" ]; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$roostd_pid" 2>/dev/null; then
        echo "demo: roostd did not start:" >&2
        cat "$work/roostd.log" >&2
        exit 1
    fi
    sleep 0.1
done
addr=$(cat "$work/addr")
export ROOST_SERVER="$addr"
echo "roostd is serving on $addr"

say "roostctl apply -f examples/rollout.json (its probe pointed at roostd's port, $addr)"
sed "s/127\.0\.0\.1:7070/$addr/" examples/rollout.json >"$work/rollout.json"
"$roostctl" apply -f "$work/rollout.json"
echo
"$roostctl" rollout status checkout-v2

# ---- two rollouts ------------------------------------------------------------------
say "healthy canary: roost-sim live examples/sim/healthy.json (promoted through every step)"
spawn "$sim" live examples/sim/healthy.json --server "$addr" --for 90
await "$bg"

say "faulty canary: the same rollout with canary v1.5.1, roost-sim live examples/sim/faulty.json"
sed 's/"canary": "v1\.5\.0"/"canary": "v1.5.1"/' "$work/rollout.json" >"$work/rollout-v1.5.1.json"
"$roostctl" apply -f "$work/rollout-v1.5.1.json"
echo
# roostd's analysis reads whole seconds of outcomes, and the SDK files each
# second's under the next one: a start within a second or two of v1.5.0's
# last requests (all on the canary, promoted) would count them as v1.5.1's.
sleep 2
spawn "$sim" live examples/sim/faulty.json --server "$addr" --for 60
await "$bg"

# ---- the record ----------------------------------------------------------------------
say "timeline: every decision roostd recorded (roostctl rollout history checkout-v2)"
sleep 0.5 # the rollback hook's own record follows the rollback by a few ms
"$roostctl" rollout history checkout-v2 >"$work/history"
awk '
    / started attempt / { n++; print ""; print (n == 1 ? "-- healthy canary v1.5.0" : "-- faulty canary v1.5.1") }
    { print "   " $0 }
' "$work/history"
echo
echo "(each line is a decision record; roostctl --json rollout history checkout-v2 shows them"
echo " with every number behind them: checks, windows, samples, confidence intervals, p-values)"

say "stop roostd"
kill -TERM "$roostd_pid"
await "$roostd_pid" || true
grep -q '"event":"shutdown_complete"' "$work/roostd.log" && echo "roostd stopped cleanly"
echo "done in $(elapsed) s: nothing left running."
