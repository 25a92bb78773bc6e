"""roost.Client against a real roostd: what a Python service observes when it
creates a client, evaluates flags of every type, passes contexts, and gets
things wrong."""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import roost
from support import TEST_OPTIONS

FLAGS = {
    "flags": {
        "new-checkout": {"state": "ENABLED", "variants": {"on": True, "off": False},
                         "defaultVariant": "off",
                         "targeting": {"if": [{"==": [{"var": "user.plan"}, "pro"]}, "on", None]}},
        "banner": {"state": "ENABLED", "variants": {"blue": "Blue banner", "green": "Green banner"},
                   "defaultVariant": "blue"},
        "long-text": {"state": "ENABLED", "variants": {"long": "x" * 5000 + "end", "short": "s"},
                      "defaultVariant": "long"},
        "max-items": {"state": "ENABLED", "variants": {"few": 3, "many": 250},
                      "defaultVariant": "few",
                      "targeting": {"if": [{">=": [{"var": "age"}, 18]}, "many", "few"]}},
        "ratio": {"state": "ENABLED", "variants": {"low": 0.25, "high": 0.75},
                  "defaultVariant": "low",
                  "targeting": {"if": [{"var": "beta"}, "high", None]}},
        "layout": {"state": "ENABLED",
                   "variants": {"grid": {"columns": 3, "tags": ["a", "b"], "dense": True},
                                "list": {"columns": 1}},
                   "defaultVariant": "grid"},
        "off-flag": {"state": "DISABLED", "variants": {"on": True, "off": False},
                     "defaultVariant": "on"},
    }
}


@pytest.fixture(scope="module")
def client(module_roostd: Any) -> Any:
    module_roostd.apply(FLAGS)
    c = roost.Client(module_roostd.address, **TEST_OPTIONS)
    assert c.wait_ready(5.0)
    yield c
    c.close()


def test_client_is_ready_within_a_second_of_start(roostd: Any, make_client: Any) -> None:
    roostd.apply(FLAGS)
    t0 = time.monotonic()
    c = make_client(roostd.address)
    assert c.wait_ready(1.0)
    assert time.monotonic() - t0 < 1.0
    assert c.state is roost.State.READY
    assert c.revision == 1
    assert len(c.client_id) > 0
    assert "READY" in repr(c)
    stats = c.stats()
    assert stats.flags == len(FLAGS["flags"])
    assert stats.state is roost.State.READY


def test_every_type_evaluates_with_its_variant_and_reason(client: roost.Client) -> None:
    assert client.boolean("new-checkout", True) is False
    assert client.boolean("new-checkout", False, {"user": {"plan": "pro"}}) is True
    assert client.string("banner", "none") == "Blue banner"
    assert client.integer("max-items", 0, {"age": 17}) == 3
    assert client.integer("max-items", 0, {"age": 30}) == 250
    assert client.float("ratio", 0.0, {"beta": True}) == 0.75
    assert client.float("ratio", 0) == 0.25  # an int default is accepted
    assert client.object("layout", {}) == {"columns": 3, "tags": ["a", "b"], "dense": True}

    d = client.boolean_details("new-checkout", False, {"user": {"plan": "pro"}})
    assert (d.value, d.variant, d.reason, d.error_code) == (
        True, "on", roost.Reason.TARGETING_MATCH, None)
    assert d.revision == client.revision and d.flag_key == "new-checkout"
    d = client.string_details("banner", "none")
    assert (d.value, d.variant, d.reason) == ("Blue banner", "blue", "STATIC")
    d = client.object_details("layout", None)
    assert d.variant == "grid" and d.value["columns"] == 3


def test_flag_metadata_is_a_dict_and_an_unknown_flag_is_not_found(client: roost.Client) -> None:
    assert client.flag_metadata("banner") == {}
    with pytest.raises(roost.NotFoundError, match="no-such-flag"):
        client.flag_metadata("no-such-flag")
    with pytest.raises(TypeError, match="flag key must be a str"):
        client.flag_metadata(3)  # type: ignore[arg-type]


def test_errors_give_the_default_and_say_why(client: roost.Client) -> None:
    d = client.string_details("no-such-flag", "fallback")
    assert (d.value, d.variant, d.reason, d.error_code) == (
        "fallback", None, roost.Reason.ERROR, roost.ErrorCode.FLAG_NOT_FOUND)
    d = client.integer_details("banner", 7)
    assert (d.value, d.error_code) == (7, roost.ErrorCode.TYPE_MISMATCH)
    assert d.error_message
    d = client.boolean_details("off-flag", False)
    assert (d.value, d.reason, d.variant) == (False, roost.Reason.DISABLED, None)
    default = {"columns": 9}
    d = client.object_details("banner", default)
    assert d.value is default, "the caller's default object comes back as is"


def test_values_longer_than_the_buffer_come_back_whole(client: roost.Client) -> None:
    value = client.string("long-text", "")
    assert len(value) == 5003 and value.endswith("end")
    # and a short one afterwards, through the grown buffer
    assert client.string("banner", "") == "Blue banner"


def test_contexts_from_dicts_and_context_objects_evaluate_alike(client: roost.Client) -> None:
    nested = {"targetingKey": "user-1", "user": {"plan": "pro", "id": 5}, "age": 30,
              "beta": True, "ignored": None}
    ctx = roost.Context(nested)
    for c in (nested, ctx):
        assert client.boolean("new-checkout", False, c) is True
        assert client.integer("max-items", 0, c) == 250
        assert client.float("ratio", 0.0, c) == 0.75
    # Built up step by step, and changed.
    ctx = roost.Context(targeting_key="user-2").set("user", {"plan": "free"})
    assert client.boolean("new-checkout", False, ctx) is False
    ctx.update({"user": {"plan": "pro"}})
    assert client.boolean("new-checkout", False, ctx) is True
    ctx.clear()
    assert client.boolean("new-checkout", False, ctx) is False


def test_context_values_that_cannot_be_represented_are_refused(client: roost.Client) -> None:
    with pytest.raises(TypeError, match="'tags' is a list"):
        client.boolean("new-checkout", False, {"tags": ["a"]})
    with pytest.raises(TypeError, match="user.since"):
        roost.Context({"user": {"since": object()}})
    with pytest.raises(TypeError, match="keys must be strings"):
        client.boolean("new-checkout", False, {1: "a"})
    with pytest.raises(ValueError, match="too large"):
        client.boolean("new-checkout", False, {"n": 10 ** 400})
    with pytest.raises(TypeError, match="context must be"):
        client.boolean("new-checkout", False, "user-1")  # type: ignore[arg-type]


def test_defaults_of_the_wrong_type_are_refused(client: roost.Client) -> None:
    with pytest.raises(TypeError, match="boolean default"):
        client.boolean("new-checkout", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="string default"):
        client.string("banner", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="integer default"):
        client.integer("max-items", 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="64 bits"):
        client.integer("max-items", 2 ** 64)
    with pytest.raises(TypeError, match="float default"):
        client.float("ratio", "0.5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="JSON-serializable"):
        client.object("layout", object())
    with pytest.raises(TypeError, match="flag key"):
        client.boolean(None, False)  # type: ignore[arg-type]


def test_bad_options_raise_invalid_argument_naming_the_option() -> None:
    with pytest.raises(roost.InvalidArgumentError, match="address"):
        roost.Client("")
    with pytest.raises(roost.InvalidArgumentError, match="unknown label 'team'"):
        roost.Client("127.0.0.1:1", labels={"team": "a"})
    with pytest.raises(ValueError, match="service"):  # the C SDK's own message
        roost.Client("127.0.0.1:1", labels={"service": "s" * 100})
    with pytest.raises(roost.InvalidArgumentError, match="flush_interval"):
        roost.Client("127.0.0.1:1", flush_interval=-1)


def test_observe_refuses_bad_names_and_values_with_the_reason(client: roost.Client) -> None:
    assert client.observe(roost.Scope.FLAG, "banner", "blue", "latency_ms", 12.5) is True
    assert client.observe("rollout", "checkout-v2", "canary", "requests", 3, False) is True
    with pytest.raises(roost.InvalidArgumentError, match="metric is 0 bytes"):
        client.observe("flag", "banner", "blue", "", 1.0)
    with pytest.raises(roost.InvalidArgumentError, match="arm is 65 bytes"):
        client.observe("flag", "banner", "a" * 65, "latency_ms", 1.0)
    with pytest.raises(roost.InvalidArgumentError, match="finite"):
        client.observe("flag", "banner", "blue", "latency_ms", float("nan"))
    with pytest.raises(roost.InvalidArgumentError, match="finite"):
        client.series("flag", "banner", "blue", "latency_ms").observe(float("inf"))
    with pytest.raises(roost.InvalidArgumentError, match="scope must be"):
        client.observe("service", "banner", "blue", "latency_ms", 1.0)


def test_closed_client_returns_defaults_and_refuses_lifecycle_calls(roostd: Any) -> None:
    roostd.apply(FLAGS)
    c = roost.Client(roostd.address, **TEST_OPTIONS)
    assert c.wait_ready(5.0)
    series = c.series("flag", "banner", "blue", "latency_ms")
    c.close()
    c.close()  # twice is fine
    assert c.closed and c.state is roost.State.CLOSED and c.revision == 0
    d = c.string_details("banner", "closed")
    assert (d.value, d.reason) == ("closed", roost.Reason.ERROR)
    with pytest.raises(roost.ClientClosedError):
        c.flush(1.0)
    with pytest.raises(roost.ClientClosedError):
        c.wait_ready(0.1)
    with pytest.raises(roost.ClientClosedError):
        series.observe(1.0)
    with pytest.raises(roost.ClientClosedError):
        c.observe("flag", "banner", "blue", "latency_ms", 1.0)


def test_close_while_other_threads_evaluate_is_safe(roostd: Any) -> None:
    roostd.apply(FLAGS)
    c = roost.Client(roostd.address, **TEST_OPTIONS)
    assert c.wait_ready(5.0)
    stop = threading.Event()
    seen = {"defaults": 0, "values": 0}

    def evaluate() -> None:
        ctx = roost.Context({"user": {"plan": "pro"}})
        while not stop.is_set():
            d = c.boolean_details("new-checkout", False, ctx)
            seen["values" if d.variant else "defaults"] += 1
            c.string("long-text", "", {"age": 3})
            try:
                c.observe("flag", "new-checkout", "on", "latency_ms", 1.0)
            except roost.ClientClosedError:
                pass  # what observe says once the client is closed

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    c.close()  # the evaluating threads keep going: they must get defaults, not crash
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    assert seen["values"] > 0 and seen["defaults"] > 0


def test_wait_ready_gives_up_after_its_timeout_when_roostd_is_away(make_client: Any) -> None:
    c = make_client("127.0.0.1:1")
    t0 = time.monotonic()
    assert c.wait_ready(0.3) is False
    assert 0.25 < time.monotonic() - t0 < 2.0
    assert c.state is roost.State.NOT_READY
    d = c.boolean_details("new-checkout", True)
    assert (d.value, d.reason, d.error_code) == (True, "ERROR", "GENERAL")


def test_context_manager_closes_the_client(roostd: Any) -> None:
    roostd.apply(FLAGS)
    with roost.Client(roostd.address, **TEST_OPTIONS) as c:
        assert c.wait_ready(5.0)
        assert c.string("banner", "") == "Blue banner"
    assert c.closed


def test_started_twice_and_not_started_are_errors(roostd: Any, make_client: Any) -> None:
    c = make_client(roostd.address, start=False)
    with pytest.raises(roost.InvalidArgumentError, match="not started"):
        c.wait_ready(0.1)
    c.start()
    with pytest.raises(roost.InvalidArgumentError, match="already started"):
        c.start()


def test_every_status_maps_to_its_exception_and_builtin_base() -> None:
    from roost import _native
    from roost.errors import error_for

    bases = {roost.Status.EINVAL: ValueError, roost.Status.ENOTFOUND: LookupError,
             roost.Status.ETYPE: TypeError, roost.Status.ENOMEM: MemoryError,
             roost.Status.EIO: OSError, roost.Status.EUNAVAIL: ConnectionError,
             roost.Status.EAUTH: PermissionError, roost.Status.ETIMEOUT: TimeoutError}
    for status in roost.Status:
        if status is roost.Status.OK:
            continue
        e = error_for(status, "what went wrong")
        assert isinstance(e, roost.RoostError) and e.status is status
        assert str(e) == "what went wrong"
        if status in bases:
            assert isinstance(e, bases[status])
        assert _native.strerror(status)  # the C SDK's description
    unknown = error_for(99, "odd")
    assert unknown.status is roost.Status.EINTERNAL and "unknown status 99" in str(unknown)
