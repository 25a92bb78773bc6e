"""A small HTTP service on the Roost Python SDK (standard library only).

Each GET /checkout?user=ID[&email=E][&version=V] is one request of the
canary rollout "checkout-v2": routed to the baseline or the canary (sticky
per user), timed, and recorded as a success or a failure for its arm, which
is what roostd's rollout analysis decides from. Inside it, flags decide the
details: "new-checkout" (with its latency reported against the variant the
user got) and "checkout-button-color". The canary is simulated a little
slower and a little more error-prone, so that the numbers show something.

    roostd --data /tmp/roost &
    roostctl apply -f examples/flags.json
    roostctl apply -f examples/rollout.json && roostctl rollout start checkout-v2
    bazel build //sdk/c:libroost.so
    ROOST_LIBRARY=$(bazel info bazel-bin)/sdk/c/libroost.so PYTHONPATH=sdk/python \\
        python3 examples/python/service.py --roostd 127.0.0.1:7070 --port 8080
    curl 'http://127.0.0.1:8080/checkout?user=u-42&email=ana@example.com'
    roostctl metrics rollout checkout-v2

GET /healthz shows the client's state. Stop roostd while it runs: the service
keeps answering from the last configuration (STALE) and the outcomes arrive
once roostd is back; with --cache FILE a restart with roostd down serves the
cached configuration at once. SIGTERM or Ctrl-C closes the client, which
delivers the outcomes still pending.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict
from urllib.parse import parse_qs, urlparse

import roost

ROLLOUT = "checkout-v2"
log = logging.getLogger("service")


class Checkout(BaseHTTPRequestHandler):
    client: roost.Client  # set on the class before serving

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        if url.path == "/healthz":
            self.reply(200, {"state": self.client.state.value, "revision": self.client.revision})
        elif url.path == "/checkout":
            self.checkout({k: v[0] for k, v in parse_qs(url.query).items()})
        else:
            self.reply(404, {"error": "no such page"})

    def checkout(self, query: Dict[str, str]) -> None:
        client = self.client
        user = query.get("user")
        if not user:
            self.reply(400, {"error": "user is required"})
            return
        # One context per request, evaluated by every decision below.
        ctx = roost.Context({"email": query.get("email", ""),
                             "appVersion": query.get("version", "2.4.0")},
                            targeting_key=user)
        with client.request(ROLLOUT, ctx) as req:
            started = time.perf_counter()
            new_checkout = client.boolean_details("new-checkout", False, ctx)
            color = client.string("checkout-button-color", "#1f6feb", ctx)
            ok = handle_order(req.arm)
            # A failure answered with a 500 rather than an exception: say so.
            req.success = ok
            client.observe(roost.Scope.FLAG, "new-checkout", new_checkout.variant or "",
                           "latency_ms", (time.perf_counter() - started) * 1000, ok)
        self.reply(200 if ok else 500, {
            "user": user,
            "arm": req.arm.value,
            "version": req.version,
            "new_checkout": new_checkout.value,
            "button_color": color,
            "latency_ms": round(req.latency_ms or 0.0, 3),
        })

    def reply(self, status: int, body: Dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)


def handle_order(arm: roost.Arm) -> bool:
    """The work a request does; the canary is a bit slower and fails more."""
    canary = arm is roost.Arm.CANARY
    time.sleep(random.uniform(0.001, 0.004 if canary else 0.003))
    return random.random() >= (0.03 if canary else 0.01)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--roostd", default="127.0.0.1:7070", help="roostd's address")
    ap.add_argument("--port", type=int, default=8080, help="HTTP port (0 = any free one)")
    ap.add_argument("--cache", help="offline cache file")
    ap.add_argument("--ready-file", help="write host:port here once serving")
    ap.add_argument("--flush-interval", type=float, default=None,
                    help="seconds between outcome reports (default: the SDK's 10)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    client = roost.Client(args.roostd, cache_path=args.cache, start=False,
                          flush_interval=args.flush_interval,
                          labels={"service": "checkout", "version": "example"})

    @client.on([roost.EventType.READY, roost.EventType.STALE, roost.EventType.ERROR,
                roost.EventType.CONFIGURATION_CHANGED])
    def on_event(event: roost.Event) -> None:
        changed = ", ".join(event.keys + event.rollouts + event.probes + event.experiments)
        log.info("%s revision %d %s%s", event.type.value, event.revision, event.message,
                 " [%s]" % changed if changed else "")

    client.start()
    if not client.wait_ready(2.0):
        log.warning("no configuration yet from %s: serving defaults until it arrives",
                    args.roostd)

    Checkout.client = client
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Checkout)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write("%s:%d\n" % (host, port))
    log.info("serving on http://%s:%d/checkout?user=ID", host, port)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    stop.wait()

    server.shutdown()
    try:
        client.close()  # delivers what is still pending
    except roost.RoostError as e:
        log.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
