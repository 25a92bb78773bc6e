"""Writes the benchmark's flags document: N boolean flags, flag-0, flag-2...
without targeting, flag-1, flag-3... split 10/90 by `fractional` on the
targeting key (what a percentage rollout compiles to)."""
import json
import sys

n = int(sys.argv[1])
flags = {}
for i in range(n):
    f = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}
    if i % 2:
        f["targeting"] = {"fractional": [["on", 10], ["off", 90]]}
    flags["flag-%d" % i] = f
json.dump({"flags": flags}, open(sys.argv[2], "w"))
