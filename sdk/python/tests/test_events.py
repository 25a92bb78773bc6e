"""Events: what a handler sees, on which thread, and that a slow or failing
handler never holds up the SDK."""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any, List

import pytest

import roost
from support import wait_for


def flags(checkout: str, banner: str = "blue") -> dict:
    return {"flags": {
        "new-checkout": {"state": "ENABLED", "variants": {"on": True, "off": False},
                         "defaultVariant": checkout},
        "banner": {"state": "ENABLED", "variants": {"blue": "Blue", "green": "Green"},
                   "defaultVariant": banner},
    }}


class Recorder:
    """A handler that records events and the thread they arrived on."""

    def __init__(self) -> None:
        self.events: "queue.Queue[roost.Event]" = queue.Queue()
        self.threads: List[str] = []

    def __call__(self, event: roost.Event) -> None:
        self.threads.append(threading.current_thread().name)
        self.events.put(event)

    def next(self, type_: roost.EventType, timeout: float = 5.0) -> roost.Event:
        deadline = time.monotonic() + timeout
        while True:
            e = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if e.type is type_:
                return e


def test_a_change_reaches_the_handler_with_its_key_on_a_python_thread(
        roostd: Any, make_client: Any) -> None:
    roostd.apply(flags("off"))
    rec = Recorder()
    c = make_client(roostd.address, start=False)
    c.on(roost.EventType.READY, rec)
    c.on("configuration_changed", rec)  # names work too
    c.start()
    ready = rec.next(roost.EventType.READY)
    assert (ready.state, ready.revision, ready.from_cache) == (roost.State.READY, 1, False)
    assert c.boolean("new-checkout", True) is False

    assert roostd.apply(flags("on")) == 2
    changed = rec.next(roost.EventType.CONFIGURATION_CHANGED)
    assert changed.keys == ("new-checkout",)  # only what changed
    assert changed.revision == 2
    assert c.boolean("new-checkout", False) is True
    # Delivered on the client's event thread: neither the caller's nor the SDK's.
    assert all(name.startswith("roost-events") for name in rec.threads)


def test_a_slow_handler_does_not_hold_up_configuration_changes(
        roostd: Any, make_client: Any) -> None:
    roostd.apply(flags("off"))
    release = threading.Event()
    seen: List[int] = []

    c = make_client(roostd.address, start=False)

    @c.on(roost.EventType.CONFIGURATION_CHANGED)
    def slow(event: roost.Event) -> None:
        seen.append(event.revision)
        release.wait(10)

    c.start()
    assert c.wait_ready(5.0)
    roostd.apply(flags("on"))
    assert wait_for(lambda: seen == [2])  # the handler is now blocked
    roostd.apply(flags("on", "green"))
    roostd.apply(flags("off", "green"))
    # The SDK applied both changes although the handler has not returned.
    assert wait_for(lambda: c.revision == 4, 5.0)
    assert c.string("banner", "") == "Green" and c.boolean("new-checkout", True) is False
    release.set()
    # ... and the events queued meanwhile are delivered afterwards, in order.
    assert wait_for(lambda: seen == [2, 3, 4])


def test_a_failing_handler_is_logged_and_later_events_still_arrive(
        roostd: Any, make_client: Any, caplog: Any) -> None:
    roostd.apply(flags("off"))
    rec = Recorder()
    c = make_client(roostd.address, start=False)

    @c.on(roost.EventType.CONFIGURATION_CHANGED)
    def broken(event: roost.Event) -> None:
        raise RuntimeError("handler bug")

    c.on(roost.EventType.CONFIGURATION_CHANGED, rec)
    c.start()
    assert c.wait_ready(5.0)
    with caplog.at_level(logging.ERROR, logger="roost"):
        roostd.apply(flags("on"))
        assert rec.next(roost.EventType.CONFIGURATION_CHANGED).revision == 2
        c.off(roost.EventType.CONFIGURATION_CHANGED, broken)
        roostd.apply(flags("off"))
        assert rec.next(roost.EventType.CONFIGURATION_CHANGED).revision == 3
    failures = [r for r in caplog.records if "handler bug" in str(r.exc_info)]
    assert len(failures) == 1
    with pytest.raises(ValueError):
        c.off(roost.EventType.CONFIGURATION_CHANGED, broken)  # not registered any more


def test_roostd_stopping_makes_the_client_stale_and_evaluations_continue(
        roostd: Any, make_client: Any) -> None:
    roostd.apply(flags("on"))
    rec = Recorder()
    c = make_client(roostd.address, start=False)
    c.on([roost.EventType.READY, roost.EventType.STALE], rec)
    c.start()
    rec.next(roost.EventType.READY)

    roostd.stop()
    stale = rec.next(roost.EventType.STALE)
    assert stale.state is roost.State.STALE and c.state is roost.State.STALE
    for _ in range(1000):
        d = c.boolean_details("new-checkout", False)
        assert (d.value, d.revision) == (True, 1)

    roostd.restart()  # same address: the client reconnects by itself
    assert rec.next(roost.EventType.READY, 10.0).state is roost.State.READY


def test_a_refused_token_is_an_error_event_with_its_status(
        roostd: Any, make_client: Any, tmp_path: Any, caplog: Any) -> None:
    roostd.stop()
    token_file = os.path.join(str(tmp_path), "sdk-tokens")
    with open(token_file, "w") as f:
        f.write("svc right-token\n")
    roostd.extra = ["--sdk-token-file", token_file]
    roostd.restart()
    rec = Recorder()
    with caplog.at_level(logging.WARNING, logger="roost"):
        c = make_client(roostd.address, start=False, token="wrong-token")
        c.on(roost.EventType.ERROR, rec)
        c.start()
        error = rec.next(roost.EventType.ERROR, 10.0)
        assert error.status is roost.Status.EAUTH
        assert error.message
        assert c.wait_ready(0.2) is False
        # The C SDK's own log lines reach the "roost" logger.
        assert wait_for(lambda: any(r.name == "roost" for r in caplog.records), 5.0)

    good = make_client(roostd.address, token="right-token")
    assert good.wait_ready(5.0)
