"""Many Python threads evaluating and recording while configuration changes
stream in: every evaluation sees one consistent configuration (a value and
its variant belong together; the revision never goes backwards on a thread),
and every outcome recorded by any thread is stored exactly once."""
from __future__ import annotations

import threading
from typing import Any, Dict, List

import roost

THREADS = 8
CHANGES = 20


def document(i: int) -> dict:
    """Revision i: banner's default variant and its value move together."""
    variant = "v%d" % (i % 4)
    return {"flags": {
        "banner": {"state": "ENABLED",
                   "variants": {"v%d" % k: "value-%d" % k for k in range(4)},
                   "defaultVariant": variant},
        "split": {"state": "ENABLED", "variants": {"a": True, "b": False},
                  "defaultVariant": "a",
                  "targeting": {"fractional": [["a", 10 + i], ["b", 90 - i]]}},
    }}


def test_threads_evaluate_consistently_while_changes_stream(
        roostd: Any, make_client: Any) -> None:
    roostd.apply(document(0))
    c = make_client(roostd.address)
    assert c.wait_ready(5.0)
    stop = threading.Event()
    results: List[Dict[str, int]] = []
    failures: List[str] = []

    def work(index: int) -> None:
        counts = {"evaluations": 0, "observed": 0, "successes": 0}
        last_revision = 0
        ctx = roost.Context({"region": "eu"})
        try:
            i = 0
            while not stop.is_set():
                i += 1
                d = c.string_details("banner", "none", ctx)
                if d.value != "value-%s" % d.variant[1:]:
                    failures.append("value %r with variant %r" % (d.value, d.variant))
                if d.revision < last_revision:
                    failures.append("revision went back from %d to %d"
                                    % (last_revision, d.revision))
                last_revision = d.revision
                c.boolean("split", False, {"targetingKey": "user-%d-%d" % (index, i % 500)})
                ok = i % 4 != 0
                c.observe("flag", "banner", d.variant, "latency_ms", float(i % 50), ok)
                counts["evaluations"] += 2
                counts["observed"] += 1
                counts["successes"] += ok
        except Exception as e:  # recorded, so that the test fails rather than hangs
            failures.append(repr(e))
        results.append(counts)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for i in range(1, CHANGES + 1):
        roostd.apply(document(i))
    stop.set()
    for t in threads:
        t.join(30)
    assert not failures, failures[:5]
    assert len(results) == THREADS
    assert c.revision == CHANGES + 1

    c.flush(15.0)
    stored = roostd.metrics("flag", "banner")
    count = sum(v["count"] for v in stored.values())
    successes = sum(v["successes"] for v in stored.values())
    assert count == sum(r["observed"] for r in results)
    assert successes == sum(r["successes"] for r in results)
    assert sum(r["evaluations"] for r in results) > 1000
