"""The flagd evaluator test kit through the Python API: every case of
cases.json, evaluated by a client of a real roostd that serves flags.json,
once with the context as a dict and once as a roost.Context.

This checks the whole path a Python service uses: roostd compiles the
flags, streams them, the C SDK evaluates them, and this package converts
the context (nested objects become dotted paths) and the results.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List

import pytest

import roost

EVALUATE = {
    "Boolean": "boolean_details",
    "String": "string_details",
    "Integer": "integer_details",
    "Float": "float_details",
    "Object": "object_details",
}


def _cases() -> List[Any]:
    path = os.environ.get("ROOST_CONFORMANCE_CASES")
    if not path or not os.path.exists(path):
        # Collected anyway, so that a missing file fails loudly instead of
        # silently running nothing.
        return [pytest.param(None, id="cases.json-not-found")]
    with open(path) as f:
        cases = json.load(f)["cases"]
    return [pytest.param(case, id="%03d-%s-%s" % (i, case["feature"], case["flag"]))
            for i, case in enumerate(cases)]


@pytest.fixture(scope="module")
def served(module_roostd: Any, pytestconfig: Any) -> Any:
    from conftest import path_option
    from support import TEST_OPTIONS

    flags = path_option(pytestconfig, "conformance_flags")
    revision = module_roostd.apply(flags)
    client = roost.Client(module_roostd.address, **TEST_OPTIONS)
    assert client.wait_ready(5.0), "the client did not become ready"
    assert client.revision == revision
    yield client
    client.close()


@pytest.mark.parametrize("as_context", [False, True], ids=["dict", "Context"])
@pytest.mark.parametrize("case", _cases())
def test_flagd_test_kit_case(served: roost.Client, case: Dict[str, Any], as_context: bool) -> None:
    if case is None:
        pytest.fail("the test kit's cases.json was not found: set $ROOST_CONFORMANCE_CASES "
                    "or pass --conformance-cases")
    context: Any = case["context"]
    if as_context:
        context = roost.Context(context)
    d = getattr(served, EVALUATE[case["type"]])(case["flag"], case["fallback"], context)

    # Only what the case states is checked, as the test kit's own runners do.
    assert d.flag_key == case["flag"]
    if case.get("expect_error") is not None:
        assert d.reason is roost.Reason.ERROR
        assert d.error_code == case["expect_error"], d.error_message
        assert d.value == case["fallback"]
    if "expect_value" in case:
        assert d.value == case["expect_value"]
        assert type(d.value) is type(case["expect_value"]) or case["type"] == "Float"
    if "expect_reason" in case:
        assert d.reason == case["expect_reason"]
    if "expect_metadata" in case:
        meta = served.flag_metadata(case["flag"])
        assert meta == case["expect_metadata"]
        assert {k: type(v) for k, v in meta.items()} == \
            {k: type(v) for k, v in case["expect_metadata"].items()}
    if d.reason in (roost.Reason.STATIC, roost.Reason.TARGETING_MATCH):
        assert d.variant, "a value chosen by a variant names it"

    # The plain call returns what the details call did.
    plain = getattr(served, EVALUATE[case["type"]][: -len("_details")])
    assert plain(case["flag"], case["fallback"], context) == d.value
