"""Helpers shared by the Python SDK's tests: a roostd process driven through
roostctl, the client options the tests use, and a bounded wait."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any, Dict, List, Optional


def child_env() -> Dict[str, str]:
    """The environment for roostd and roostctl. Under AddressSanitizer the
    wrapper preloads libasan and turns leak checking off for Python (whose
    own allocations at exit are not leaks LSan understands); the binaries
    are instrumented themselves and get the original settings back."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if "ROOST_CHILD_ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] = env["ROOST_CHILD_ASAN_OPTIONS"]
    return env


class Roostd:
    """One roostd process with its own data directory."""

    def __init__(self, binary: str, roostctl: str, workdir: str) -> None:
        self.binary = binary
        self.roostctl_bin = roostctl
        self.data = os.path.join(workdir, "data")
        self.ready_file = os.path.join(workdir, "ready")
        self.log_path = os.path.join(workdir, "roostd.log")
        self.workdir = workdir
        self.address = ""
        self.proc: Optional[subprocess.Popen] = None
        self.extra: List[str] = []  # more roostd arguments
        self._docs = 0

    def start(self, listen: str = "127.0.0.1:0") -> "Roostd":
        if os.path.exists(self.ready_file):
            os.unlink(self.ready_file)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--data", self.data, "--listen", listen, "--ready-file",
             self.ready_file, "--log-level", "warn", "--shutdown-grace", "5", *self.extra],
            stdout=log, stderr=log, env=child_env())
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if os.path.exists(self.ready_file):
                with open(self.ready_file) as f:
                    address = f.read().strip()
                if address:
                    self.address = address
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop(signal.SIGKILL)
        raise RuntimeError("roostd did not start:\n" + self.log())

    def restart(self) -> "Roostd":
        """Starts again on the same data and the same address."""
        return self.start(self.address)

    def stop(self, sig: int = signal.SIGTERM) -> Optional[int]:
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        proc.send_signal(sig)
        try:
            return proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def roostctl(self, *args: str) -> Any:
        """Runs roostctl --json against this roostd; returns the parsed output."""
        out = subprocess.run([self.roostctl_bin, "--server", self.address, "--json", *args],
                             capture_output=True, text=True, timeout=30, env=child_env())
        if out.returncode != 0:
            raise RuntimeError("roostctl %s failed (%d): %s%s"
                               % (" ".join(args), out.returncode, out.stderr, out.stdout))
        return json.loads(out.stdout) if out.stdout.strip() else None

    def apply(self, document: Any) -> int:
        """Applies a document (a dict, or a path); returns the new revision."""
        if isinstance(document, dict):
            self._docs += 1
            path = os.path.join(self.workdir, "doc-%d.json" % self._docs)
            with open(path, "w") as f:
                json.dump(document, f)
        else:
            path = document
        return int(self.roostctl("apply", "-f", path)["revision"])

    def metrics(self, kind: str, scope: str, **options: str) -> Dict[str, Dict[str, float]]:
        """Stored outcomes of a scope over the last two hours, summed per
        "arm/metric": count, successes, sum (docs/metrics.md)."""
        args = ["metrics", kind, scope, "--from", "-2h", "--to", "now", "--step", "1h"]
        for name, value in options.items():
            args += ["--" + name, value]
        reply = self.roostctl(*args)
        totals: Dict[str, Dict[str, float]] = {}
        for series in reply.get("series", []):
            t = totals.setdefault("%s/%s" % (series["arm"], series["metric"]),
                                  {"count": 0, "successes": 0, "sum": 0.0})
            for point in series["points"]:
                t["count"] += point["count"]
                t["successes"] += point["successes"]
                t["sum"] += point["sum"]
        return totals


# Timings that keep the tests short: reconnects within a second, outcomes
# sent five times a second.
TEST_OPTIONS = dict(
    connect_timeout=2.0,
    flush_interval=0.2,
    report_timeout=3.0,
    close_timeout=3.0,
    backoff_initial=0.2,
    backoff_max=1.0,
    labels={"service": "checkout-svc", "environment": "test", "version": "1.2.3"},
)


def wait_for(predicate: Any, timeout: float = 5.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
