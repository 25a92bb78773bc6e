"""How clients end: closed from an event handler, garbage-collected without
close(), or still open (with a daemon thread evaluating) when the
interpreter exits. In every case the outcomes are delivered and nothing
crashes."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from typing import Any

import roost
from support import TEST_OPTIONS, wait_for

FLAGS = {"flags": {"banner": {"state": "ENABLED", "variants": {"blue": "Blue", "green": "Green"},
                              "defaultVariant": "blue"}}}


def stored(roostd: Any) -> int:
    return int(sum(v["count"] for v in roostd.metrics("flag", "banner").values()))


def test_a_handler_may_close_the_client(roostd: Any) -> None:
    roostd.apply(FLAGS)
    c = roost.Client(roostd.address, start=False, **TEST_OPTIONS)
    closed = threading.Event()

    @c.on(roost.EventType.CONFIGURATION_CHANGED)
    def close_on_change(event: roost.Event) -> None:
        c.observe("flag", "banner", "green", "latency_ms", 1.0)
        c.close()
        closed.set()

    c.start()
    assert c.wait_ready(5.0)
    roostd.apply({"flags": {"banner": dict(FLAGS["flags"]["banner"], defaultVariant="green")}})
    assert closed.wait(10.0)
    assert c.closed
    assert stored(roostd) == 1


def test_a_client_that_is_never_closed_is_closed_when_collected(roostd: Any) -> None:
    roostd.apply(FLAGS)
    c = roost.Client(roostd.address, **TEST_OPTIONS)
    assert c.wait_ready(5.0)
    for _ in range(10):
        c.observe("flag", "banner", "blue", "latency_ms", 2.0)
    del c
    gc.collect()
    assert wait_for(lambda: stored(roostd) == 10, 10.0)


# An interpreter that exits with the client open and a daemon thread still
# evaluating, observing and routing: the finalizer closes the client under
# the thread's feet.
EXITING = r"""
import sys, threading, roost
c = roost.Client(sys.argv[1], flush_interval=0.2, close_timeout=3.0)
assert c.wait_ready(5.0)
for _ in range(25):
    c.observe("flag", "banner", "blue", "latency_ms", 3.0)
started = threading.Event()

def spin():
    ctx = roost.Context(targeting_key="u-1")
    while True:
        c.string("banner", "", ctx)
        c.boolean_details("banner", False, {"targetingKey": "u-2"})
        c.route("checkout-v2", ctx)
        started.set()

threading.Thread(target=spin, daemon=True).start()
started.wait()
print("exiting", flush=True)
"""


def test_interpreter_exit_with_an_open_client_and_busy_daemon_threads(roostd: Any) -> None:
    roostd.apply(FLAGS)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(roost.__file__)))
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", EXITING, roostd.address],
                             capture_output=True, text=True, timeout=60, env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "exiting" in out.stdout
    assert stored(roostd) == 75


def test_a_finalizer_run_on_the_sdk_thread_closes_from_a_thread_of_its_own(
        roostd: Any) -> None:
    # The garbage collector may run a Client's finalizer inside an event
    # callback, on the SDK's background thread, which cannot wait for itself
    # to stop. Pretend to be there: the close must move to another thread.
    from roost import _events

    roostd.apply(FLAGS)
    c = roost.Client(roostd.address, **TEST_OPTIONS)
    assert c.wait_ready(5.0)
    c.observe("flag", "banner", "blue", "latency_ms", 4.0)
    _events._callback.active = True
    try:
        c._core.finalize()
    finally:
        _events._callback.active = False
    closers = [t for t in threading.enumerate() if t.name.startswith("roost-close")]
    assert len(closers) == 1
    closers[0].join(10.0)
    assert c.closed
    assert stored(roostd) == 1
