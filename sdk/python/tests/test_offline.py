"""Offline start: a new process, with roostd down, serves the configuration
its predecessor cached, within milliseconds, and says it is stale."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import roost

# The second process: a client on the cache with roostd down. Prints what it
# sees as one JSON line.
CHILD = r"""
import json, sys, time
import roost

events = []
c = roost.Client(sys.argv[1], cache_path=sys.argv[2], connect_timeout=0.5,
                 backoff_initial=0.2, backoff_max=1.0, close_timeout=0.5, start=False)
c.on([roost.EventType.READY, roost.EventType.STALE], events.append)
t0 = time.monotonic()
c.start()
ready = c.wait_ready(1.0)
ready_ms = (time.monotonic() - t0) * 1000
d = c.string_details("banner", "none")
deadline = time.monotonic() + 3
while not any(e.type is roost.EventType.STALE for e in events) and time.monotonic() < deadline:
    time.sleep(0.01)
print(json.dumps({"ready": ready, "ready_ms": ready_ms, "state": c.state.value,
                  "value": d.value, "variant": d.variant, "revision": d.revision,
                  "events": [[e.type.value, e.from_cache] for e in events]}))
try:
    c.close()
except roost.RoostError:
    pass
"""


def test_a_new_process_with_roostd_down_serves_the_cache(
        roostd: Any, make_client: Any, tmp_path: Any) -> None:
    cache = os.path.join(str(tmp_path), "roost.cache")
    roostd.apply({"flags": {"banner": {"state": "ENABLED",
                                       "variants": {"blue": "Blue", "green": "Green"},
                                       "defaultVariant": "blue"}}})
    rev = roostd.apply({"flags": {"banner": {"state": "ENABLED",
                                             "variants": {"blue": "Blue", "green": "Green"},
                                             "defaultVariant": "green"}}})
    c = make_client(roostd.address, cache_path=cache)
    assert c.wait_ready(5.0) and c.revision == rev
    c.close()  # writes the cache
    assert os.path.getsize(cache) > 0
    roostd.stop()

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(roost.__file__)), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", CHILD, roostd.address, cache],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["ready"] is True
    assert seen["ready_ms"] < 500, "served from the cache, not the network"
    assert seen["state"] == "STALE"
    assert (seen["value"], seen["variant"], seen["revision"]) == ("Green", "green", rev)
    assert ["STALE", True] in seen["events"]
