"""Python SDK benchmark (docs/BENCHMARKS.md, "Python SDK"): the cost of one
call through the roost package, ctypes included, against a real roostd.

    bench.py --target ADDR          prints one JSON line of ns per call

The client must serve tools/bench/sdk/gen_flags.py's document (flag-0: no
targeting; flag-1: a fractional split on the targeting key) plus a string
flag "banner" and a rollout "checkout-v2" (run.sh applies them). Each
figure is the median of 9 rounds of thread CPU time (time.thread_time_ns,
like sdk_bench's CLOCK_THREAD_CPUTIME_ID), so that other jobs on a shared
machine do not inflate it; the rounds run every case back to back, so a
noisy moment hits them alike.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable, Dict, List

import roost

ROUNDS = 9
ITERATIONS = 100_000

# The context sdk_bench evaluates with.
ATTRIBUTES = {"targetingKey": "user-12345", "email": "someone@mail.test"}


def cases(c: roost.Client) -> Dict[str, Callable[[int], None]]:
    """name -> a loop of n calls. Loops are written out (no helper call per
    iteration) so that only the call under test is timed, plus the loop."""
    ctx = roost.Context(ATTRIBUTES)
    attrs = dict(ATTRIBUTES)
    series = c.series(roost.Scope.FLAG, "flag-1", "on", "latency_ms")

    def static_bool(n: int) -> None:
        boolean = c.boolean
        for _ in range(n):
            boolean("flag-0", False, ctx)

    def targeted_bool(n: int) -> None:
        boolean = c.boolean
        for _ in range(n):
            boolean("flag-1", False, ctx)

    def targeted_bool_no_context(n: int) -> None:
        boolean = c.boolean
        for _ in range(n):
            boolean("flag-0", False)

    def targeted_bool_dict(n: int) -> None:
        boolean = c.boolean
        for _ in range(n):
            boolean("flag-1", False, attrs)

    def targeted_bool_details(n: int) -> None:
        details = c.boolean_details
        for _ in range(n):
            details("flag-1", False, ctx)

    def string(n: int) -> None:
        s = c.string
        for _ in range(n):
            s("banner", "none", ctx)

    def context_build(n: int) -> None:
        for _ in range(n):
            roost.Context(ATTRIBUTES)

    def observe_by_name(n: int) -> None:
        observe = c.observe
        for _ in range(n):
            observe("flag", "flag-1", "on", "latency_ms", 12.5, True)

    def observe_series(n: int) -> None:
        obs = series.observe
        for _ in range(n):
            obs(12.5, True)

    def route(n: int) -> None:
        r = c.route
        for _ in range(n):
            r("checkout-v2", ctx)

    def request(n: int) -> None:
        req = c.request
        for _ in range(n):
            with req("checkout-v2", ctx):
                pass

    def empty_loop(n: int) -> None:
        for _ in range(n):
            pass

    return {
        "static_bool_ns": static_bool,
        "targeted_bool_ns": targeted_bool,
        "static_bool_no_context_ns": targeted_bool_no_context,
        "targeted_bool_dict_ns": targeted_bool_dict,
        "targeted_bool_details_ns": targeted_bool_details,
        "string_ns": string,
        "context_build_ns": context_build,
        "observe_by_name_ns": observe_by_name,
        "observe_series_ns": observe_series,
        "route_ns": route,
        "request_ns": request,
        "loop_ns": empty_loop,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--iterations", type=int, default=ITERATIONS)
    args = ap.parse_args()

    # The longest flush interval (a minute): the benchmark times recording,
    # not the background thread's sends.
    c = roost.Client(args.target, flush_interval=60, labels={"service": "bench"})
    if not c.wait_ready(5.0):
        raise SystemExit("bench: roostd at %s did not serve a configuration" % args.target)
    d = c.boolean_details("flag-1", False, ATTRIBUTES)
    if d.error_code is not None or c.string("banner", "") == "" or \
            not c.route_details("checkout-v2").found:
        raise SystemExit("bench: roostd does not serve the benchmark's document (run.sh)")

    loops = cases(c)
    for fn in loops.values():  # warm-up: first series registration, caches
        fn(1000)
    times: Dict[str, List[float]] = {name: [] for name in loops}
    for _ in range(ROUNDS):
        for name, fn in loops.items():
            t0 = time.thread_time_ns()
            fn(args.iterations)
            times[name].append((time.thread_time_ns() - t0) / args.iterations)
    result = {"mode": "python", "python": "%d.%d.%d" % tuple(__import__("sys").version_info[:3])}
    result.update({name: round(statistics.median(t), 1) for name, t in times.items()})
    print(json.dumps(result))
    c.close()


if __name__ == "__main__":
    main()
