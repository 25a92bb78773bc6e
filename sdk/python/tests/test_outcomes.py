"""Outcomes reported from Python arrive in roostd exactly once: when an
acknowledgement is lost after roostd stored the batch (so the batch is sent
again), and when roostd is away while they are recorded. Read back through
roostctl metrics --json (docs/metrics.md)."""
from __future__ import annotations

from typing import Any

import roost
from support import wait_for

BANNER = {"flags": {"banner": {"state": "ENABLED", "variants": {"blue": "Blue", "green": "Green"},
                               "defaultVariant": "blue"}}}


def record(client: roost.Client, n: int, offset: int = 0) -> tuple:
    """n outcomes by name and n through a series; returns (count, successes, sum)."""
    series = client.series(roost.Scope.ROLLOUT, "checkout-v2", "canary", "requests")
    total, successes = 0.0, 0
    for i in range(offset, offset + n):
        value = 10.0 + (i % 17) * 0.5
        ok = i % 3 != 0
        assert client.observe("flag", "banner", "blue", "latency_ms", value, ok)
        assert series.observe(value, ok)
        total += value
        successes += ok
    return n, successes, total


def test_outcomes_arrive_exactly_once_when_an_ack_is_lost(roostd: Any, make_client: Any) -> None:
    roostd.apply(BANNER)
    c = make_client(roostd.address)
    assert c.wait_ready(5.0)
    c._drop_report_acks(2)  # roostd stores the next two batches; the client never hears it
    n, successes, total = record(c, 500)
    c.flush(15.0)
    stats = c.stats()
    assert stats.batches_duplicate >= 1, "the resent batch was recognised as a duplicate"
    assert stats.pending_outcomes == 0

    flag = roostd.metrics("flag", "banner", service="checkout-svc")["blue/latency_ms"]
    assert (flag["count"], flag["successes"]) == (n, successes)
    assert abs(flag["sum"] - total) < 1e-6
    rollout = roostd.metrics("rollout", "checkout-v2")["canary/requests"]
    assert (rollout["count"], rollout["successes"]) == (n, successes)


def test_outcomes_recorded_while_roostd_is_away_arrive_once_it_is_back(
        roostd: Any, make_client: Any) -> None:
    roostd.apply(BANNER)
    c = make_client(roostd.address)
    assert c.wait_ready(5.0)
    n1, s1, t1 = record(c, 200)
    c.flush(10.0)
    roostd.stop()
    assert wait_for(lambda: c.state is roost.State.STALE)
    n2, s2, t2 = record(c, 300, offset=200)
    try:
        c.flush(0.5)
        raise AssertionError("flush cannot succeed with roostd down")
    except roost.DeadlineExceededError as e:
        assert "not acknowledged" in str(e)
    roostd.restart()
    c.flush(15.0)

    flag = roostd.metrics("flag", "banner")["blue/latency_ms"]
    assert (flag["count"], flag["successes"]) == (n1 + n2, s1 + s2)
    assert abs(flag["sum"] - (t1 + t2)) < 1e-6
