"""Releases through the Python API against a real roostd: routing between
baseline and canary, the request helpers' outcomes per arm, probe states,
and experiment exposures and tracked outcomes (the Python side of
tests/integration/sdk_release_test.c)."""
from __future__ import annotations

import queue
import time
from typing import Any, Dict, Tuple

import pytest

import roost
from support import TEST_OPTIONS, wait_for

ROLLOUT = "checkout-v2"
EXPERIMENT = "green-button"
FLAG = "checkout-button"


def rollout_doc(roostd_address: str) -> dict:
    """A flag, a rollout that holds at 20 % until promoted, and two probes
    (roostd's own port: up; a closed port: down after one failure)."""
    return {
        "metadata": {"flagSetId": "shop"},
        "flags": {"new-checkout": {"state": "ENABLED", "variants": {"on": True, "off": False},
                                   "defaultVariant": "off"}},
        "rollouts": {ROLLOUT: {"service": "checkout", "baseline": "v1.4.2", "canary": "v1.5.0",
                               "steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]}},
        "probes": {
            "self": {"type": "tcp", "target": roostd_address, "interval": "1s"},
            "nowhere": {"type": "tcp", "target": "127.0.0.1:1", "interval": "1s",
                        "timeout": "500ms", "failureThreshold": 1},
        },
    }


def changes(client: roost.Client) -> "queue.Queue[roost.Event]":
    q: "queue.Queue[roost.Event]" = queue.Queue()
    client.on(roost.EventType.CONFIGURATION_CHANGED, q.put)
    return q


def wait_change(q: "queue.Queue[roost.Event]", kind: str, name: str,
                timeout: float = 10.0) -> roost.Event:
    while True:
        e = q.get(timeout=timeout)
        if name in getattr(e, kind):
            return e


def stored_requests(roostd: Any) -> Dict[str, Tuple[int, int]]:
    totals = roostd.metrics("rollout", ROLLOUT, metric="requests")
    return {key.split("/")[0]: (int(v["count"]), int(v["successes"]))
            for key, v in totals.items()}


def test_a_started_rollout_routes_its_weight_and_requests_are_reported_per_arm(
        roostd: Any, make_client: Any) -> None:
    roostd.apply(rollout_doc(roostd.address))
    c = make_client(roostd.address, start=False)
    changed = changes(c)
    c.start()
    assert c.wait_ready(5.0)

    # Applied, not started: pending at weight 0, everyone on the baseline.
    status = c.rollout_status(ROLLOUT)
    assert (status.phase, status.canary_weight, status.baseline, status.canary,
            status.service) == (roost.RolloutPhase.PENDING, 0.0, "v1.4.2", "v1.5.0", "checkout")
    assert c.route(ROLLOUT) is roost.Arm.BASELINE
    d = c.route_details(ROLLOUT, {"targetingKey": "user-1"})
    assert (d.arm, d.found, d.version, d.phase) == ("baseline", True, "v1.4.2", "pending")

    # Started: the change names the rollout, and no flag.
    roostd.roostctl("rollout", "start", ROLLOUT)
    event = wait_change(changed, "rollouts", ROLLOUT)
    assert event.keys == ()
    assert wait_for(lambda: c.rollout_status(ROLLOUT).canary_weight == 0.2, 10.0)

    # Sticky by targeting key, about 20 % of keys on the canary.
    arms = [c.route(ROLLOUT, {"targetingKey": "user-%d" % k}) for k in range(20000)]
    canary = arms.count(roost.Arm.CANARY)
    assert 3700 < canary < 4300, canary
    ctx = roost.Context(targeting_key="user-7")
    assert len({c.route(ROLLOUT, ctx) for _ in range(50)}) == 1
    # Without a key, a draw per call.
    assert 0 < sum(c.route(ROLLOUT) is roost.Arm.CANARY for _ in range(2000)) < 2000

    # Requests: with-blocks (an exception is a failure), explicit success,
    # and the decorator; one outcome each, for its arm.
    sent = {"baseline": [0, 0], "canary": [0, 0]}

    def count(arm: roost.Arm, ok: bool) -> None:
        sent[arm.value][0] += 1
        sent[arm.value][1] += ok

    for k in range(600):
        fail = k % 20 == 0
        try:
            with c.request(ROLLOUT, {"targetingKey": "user-%d" % k}) as req:
                assert req.version == ("v1.5.0" if req.arm is roost.Arm.CANARY else "v1.4.2")
                count(req.arm, not fail)
                if fail:
                    raise RuntimeError("the request failed")
        except RuntimeError:
            pass
        assert req.recorded and req.latency_ms is not None and req.latency_ms >= 0
    for k in range(600, 800):
        with c.request(ROLLOUT, roost.Context(targeting_key="user-%d" % k)) as req:
            req.success = k % 2 == 0  # e.g. a 5xx answered without raising
            count(req.arm, req.success)

    @c.routed(ROLLOUT, context=lambda user: {"targetingKey": user})
    def handle(user: str, arm: roost.Arm) -> str:
        count(arm, not user.endswith("3"))
        if user.endswith("3"):
            raise ValueError("bad order")
        return arm.value

    for k in range(800, 1000):
        try:
            assert handle("user-%d" % k) in ("baseline", "canary")
        except ValueError:
            pass

    c.flush(10.0)
    stored = stored_requests(roostd)
    assert stored["baseline"] == tuple(sent["baseline"])
    assert stored["canary"] == tuple(sent["canary"])

    # Aborted: weight 0, everyone back on the baseline.
    roostd.roostctl("rollout", "abort", ROLLOUT, "--reason", "test")
    assert wait_for(lambda: c.rollout_status(ROLLOUT).phase is roost.RolloutPhase.ROLLED_BACK,
                    10.0)
    assert all(c.route(ROLLOUT, {"targetingKey": "user-%d" % k}) is roost.Arm.BASELINE
               for k in range(2000))


def test_unknown_rollouts_route_to_the_baseline_and_record_nothing(
        roostd: Any, make_client: Any) -> None:
    c = make_client(roostd.address)
    with pytest.raises(roost.UnavailableError, match="no configuration yet"):
        c.rollout_status(ROLLOUT)  # roostd has no document at all: not ready
    roostd.apply({"flags": {}})
    assert c.wait_ready(5.0)
    with pytest.raises(roost.NotFoundError, match="no rollout 'checkout-v2'"):
        c.rollout_status(ROLLOUT)
    d = c.route_details(ROLLOUT)
    assert (d.arm, d.found, d.version) == (roost.Arm.BASELINE, False, "")
    with c.request(ROLLOUT) as req:
        assert req.arm is roost.Arm.BASELINE
    assert req.recorded is False


def test_requests_still_open_when_the_client_closes_record_nothing(roostd: Any) -> None:
    roostd.apply(rollout_doc(roostd.address))
    roostd.roostctl("rollout", "start", ROLLOUT)
    c = roost.Client(roostd.address, **TEST_OPTIONS)
    assert c.wait_ready(5.0)
    req = c.request(ROLLOUT, {"targetingKey": "user-1"})
    c.close()
    assert req.end(True) is False  # no crash, nothing recorded


def test_probe_states_reach_probe_status(roostd: Any, make_client: Any) -> None:
    c = make_client(roostd.address, start=False)
    changed = changes(c)
    c.start()
    roostd.apply({"flags": {}})
    assert c.wait_ready(5.0)
    with pytest.raises(roost.NotFoundError):
        c.probe_status("self")
    roostd.apply(rollout_doc(roostd.address))

    def state(name: str) -> Any:
        try:
            return c.probe_status(name).state
        except roost.NotFoundError:
            return None

    assert wait_for(lambda: state("self") is roost.ProbeState.UP, 15.0)
    up = c.probe_status("self")
    assert (up.circuit, up.consecutive_failures) == (roost.ProbeCircuit.CLOSED, 0)
    assert up.since_unix_ms > 0
    assert wait_for(lambda: state("nowhere") is roost.ProbeState.DOWN, 15.0)
    down = c.probe_status("nowhere")
    assert down.circuit is roost.ProbeCircuit.OPEN
    assert down.consecutive_failures >= 1 and down.detail
    wait_change(changed, "probes", "nowhere", 1.0)


EXPERIMENT_DOC = {
    "metadata": {"flagSetId": "shop"},
    "flags": {FLAG: {"state": "ENABLED", "variants": {"control": "blue", "green": "green"},
                     "defaultVariant": "control"}},
    "experiments": {EXPERIMENT: {
        "hypothesis": "A green button converts better.",
        "flag": FLAG, "control": "control",
        "metrics": {"primary": {"name": "conversion", "metric": "checkout.converted",
                                "type": "binomial", "direction": "increase", "mde": 0.05,
                                "mdeType": "relative"}}}},
}


def test_experiment_exposures_and_tracked_outcomes_reach_roostd(
        roostd: Any, make_client: Any) -> None:
    roostd.apply(EXPERIMENT_DOC)
    # Exposures are deduplicated per reporting interval: one interval per
    # minute (aligned to the wall clock; flush() cuts one short), so that
    # evaluating every unit three times stays within one (it takes a few
    # seconds, under AddressSanitizer too; the test allows 20).
    c = make_client(roostd.address, start=False, flush_interval=60.0)
    changed = changes(c)
    c.start()
    assert c.wait_ready(5.0)

    # A draft: no exposures, outcomes ignored.
    assert c.experiment_status(EXPERIMENT).phase is roost.ExperimentPhase.DRAFT
    for i in range(100):
        c.string(FLAG, "none", {"targetingKey": "unit-%d" % i})
    assert c.stats().exposures == 0
    assert c.track(EXPERIMENT, {"targetingKey": "unit-1"}, "checkout.converted", 1) is False

    roostd.roostctl("experiment", "start", EXPERIMENT)
    wait_change(changed, "experiments", EXPERIMENT)
    assert wait_for(lambda: c.experiment_status(EXPERIMENT).phase
                    is roost.ExperimentPhase.RUNNING, 5.0)
    status = c.experiment_status(EXPERIMENT)
    assert (status.flag, status.unit) == (FLAG, "targetingKey")

    if time.time() % 60 > 40:  # start the units with 20 s of the minute left
        time.sleep(61 - time.time() % 60)
    c.flush(10.0)  # and in a fresh interval

    # 1000 units, each evaluated three times: one exposure per unit.
    arms = {"control": 0, "green": 0}
    tracked = {"control": [0, 0], "green": [0, 0]}
    for rnd in range(3):
        for i in range(1000):
            ctx = roost.Context(targeting_key="unit-%d" % i)
            d = c.string_details(FLAG, "none", ctx)
            assert d.reason is roost.Reason.TARGETING_MATCH
            if rnd == 0:
                arms[d.variant] += 1
                converted = i % 4 == 0
                assert c.track(EXPERIMENT, ctx, "checkout.converted", 1 if converted else 0,
                               converted)
                tracked[d.variant][0] += 1
                tracked[d.variant][1] += converted
    assert c.stats().exposures == 1000
    with pytest.raises(roost.InvalidArgumentError, match="metric is 0 bytes"):
        c.track(EXPERIMENT, {"targetingKey": "unit-1"}, "", 1)
    c.flush(10.0)

    stored = roostd.metrics("experiment", EXPERIMENT)
    for arm in ("control", "green"):
        assert stored["%s/exposure" % arm]["count"] == arms[arm]
        got = stored["%s/checkout.converted" % arm]
        assert (got["count"], got["successes"]) == tuple(tracked[arm])

    # Stopped: outcomes are ignored again.
    roostd.roostctl("experiment", "stop", EXPERIMENT, "--reason", "test")
    assert wait_for(lambda: c.experiment_status(EXPERIMENT).phase
                    is roost.ExperimentPhase.STOPPED, 10.0)
    assert c.track(EXPERIMENT, {"targetingKey": "unit-1"}, "checkout.converted", 1) is False
