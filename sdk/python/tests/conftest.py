"""Fixtures for the Python SDK's tests: a real roostd on a free loopback port,
roostctl to change its configuration and read its metrics, and clients with
test-friendly timings.

Paths come from the environment (what the Bazel wrapper run_tests.sh sets)
or from the command line:

    ROOST_ROOSTD / --roostd          the roostd binary
    ROOST_ROOSTCTL / --roostctl      the roostctl binary
    ROOST_CONFORMANCE_FLAGS / --conformance-flags   flagd test kit flags.json
    ROOST_CONFORMANCE_CASES / --conformance-cases   flagd test kit cases.json
    ROOST_LIBRARY                    libroost.so (read by the package itself)

    /usr/bin/python3 -m pytest sdk/python/tests --roostd bazel-bin/server/roostd ...

ROOST_PYTEST_RESULT names a file that receives "N passed, M failed" at the
end of the session (the wrapper prints it as the log's last line).
"""
from __future__ import annotations

import os
import sys
import tempfile
from typing import Any, Dict, Iterator, List

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the package under test: sdk/python/roost

import roost  # noqa: E402  (after the path is set)
from support import TEST_OPTIONS, Roostd  # noqa: E402

OPTIONS = {
    "roostd": "ROOST_ROOSTD",
    "roostctl": "ROOST_ROOSTCTL",
    "conformance_flags": "ROOST_CONFORMANCE_FLAGS",
    "conformance_cases": "ROOST_CONFORMANCE_CASES",
}


def pytest_addoption(parser: Any) -> None:
    for name, env in OPTIONS.items():
        parser.addoption("--" + name.replace("_", "-"), default=os.environ.get(env),
                         help="path (default $%s)" % env)


def path_option(config: Any, name: str) -> str:
    value = config.getoption(name)
    if not value or not os.path.exists(value):
        pytest.fail("%s not found (%r): set $%s or pass --%s"
                    % (name, value, OPTIONS[name], name.replace("_", "-")), pytrace=False)
    return os.path.abspath(value)


@pytest.fixture(scope="session")
def binaries(pytestconfig: Any) -> Dict[str, str]:
    return {name: path_option(pytestconfig, name) for name in ("roostd", "roostctl")}


def _new_roostd(binaries: Dict[str, str], workdir: str) -> Roostd:
    return Roostd(binaries["roostd"], binaries["roostctl"], workdir)


@pytest.fixture
def roostd(binaries: Dict[str, str], tmp_path: Any) -> Iterator[Roostd]:
    """A fresh, empty roostd for one test."""
    d = _new_roostd(binaries, str(tmp_path)).start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def module_roostd(binaries: Dict[str, str]) -> Iterator[Roostd]:
    """One roostd shared by a module's tests."""
    with tempfile.TemporaryDirectory(prefix="roostd-", dir=os.environ.get("TEST_TMPDIR")) as d:
        r = _new_roostd(binaries, d).start()
        yield r
        r.stop()


@pytest.fixture
def make_client() -> Iterator[Any]:
    """make_client(address, **options) -> a started roost.Client with test
    timings; every client made is closed at the end of the test."""
    clients: List[roost.Client] = []

    def make(address: str, **options: Any) -> roost.Client:
        merged = dict(TEST_OPTIONS)
        merged.update(options)
        client = roost.Client(address, **merged)
        clients.append(client)
        return client

    yield make
    for c in clients:
        try:
            c.close()
        except roost.RoostError:
            pass  # roostd already stopped: outcomes may be undeliverable


# ---- the result line the test runner reads ----------------------------------

_outcomes: Dict[str, str] = {}


def pytest_runtest_logreport(report: Any) -> None:
    # A test passes when its call passed and neither setup nor teardown
    # failed; any failing phase fails it. Skips count as neither.
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.when == "call" and report.passed:
        _outcomes.setdefault(report.nodeid, "passed")


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    path = os.environ.get("ROOST_PYTEST_RESULT")
    if not path:
        return
    passed = sum(1 for v in _outcomes.values() if v == "passed")
    failed = sum(1 for v in _outcomes.values() if v == "failed")
    if exitstatus not in (0, 1) and failed == 0:  # interrupted, usage or internal error
        failed = 1
    with open(path, "w") as f:
        f.write("%d passed, %d failed\n" % (passed, failed))
