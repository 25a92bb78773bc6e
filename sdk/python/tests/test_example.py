"""examples/python/service.py against a real roostd: it answers, routes each
user to one arm for good, and its outcomes reach roostd when it stops."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import roost

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SERVICE = os.path.join(REPO, "examples", "python", "service.py")

DOC = {
    "flags": {
        "new-checkout": {"state": "ENABLED", "variants": {"on": True, "off": False},
                         "defaultVariant": "off",
                         "targeting": {"if": [{"ends_with": [{"var": "email"}, "@example.com"]},
                                              "on", None]}},
        "checkout-button-color": {"state": "ENABLED",
                                  "variants": {"blue": "#1f6feb", "green": "#2da44e"},
                                  "defaultVariant": "green"},
    },
    "rollouts": {"checkout-v2": {"service": "checkout", "baseline": "v1.4.2",
                                 "canary": "v1.5.0",
                                 "steps": [{"setWeight": 50}, {"pause": {}},
                                           {"setWeight": 100}]}},
}


def get(address: str, path: str) -> Any:
    try:
        with urllib.request.urlopen("http://%s%s" % (address, path), timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_example_service_routes_evaluates_and_reports(roostd: Any, tmp_path: Any) -> None:
    roostd.apply(DOC)
    roostd.roostctl("rollout", "start", "checkout-v2")
    ready = os.path.join(str(tmp_path), "service.ready")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(roost.__file__)))
    proc = subprocess.Popen([sys.executable, SERVICE, "--roostd", roostd.address, "--port", "0",
                             "--ready-file", ready, "--flush-interval", "0.2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(ready) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.05)
        with open(ready) as f:
            address = f.read().strip()
        assert get(address, "/healthz")[1]["state"] == "READY"

        arms = {}
        answered = {200: 0, 500: 0}
        for i in range(120):
            user = "u-%d" % (i % 40)
            status, body = get(address, "/checkout?user=%s&email=%s@example.com" % (user, user))
            answered[status] += 1
            assert body["new_checkout"] is True and body["button_color"] == "#2da44e"
            assert body["version"] == {"baseline": "v1.4.2", "canary": "v1.5.0"}[body["arm"]]
            assert arms.setdefault(user, body["arm"]) == body["arm"], "sticky per user"
        assert set(arms.values()) == {"baseline", "canary"}
        assert get(address, "/checkout")[0] == 400
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "CONFIGURATION_CHANGED" in out or "READY" in out

    requests = roostd.metrics("rollout", "checkout-v2", metric="requests")
    assert sum(v["count"] for v in requests.values()) == 120
    assert sum(v["count"] - v["successes"] for v in requests.values()) == answered[500]
    flag = roostd.metrics("flag", "new-checkout")["on/latency_ms"]
    assert flag["count"] == 120
