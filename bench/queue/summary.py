#!/usr/bin/env python3
"""Prints one measure.py result (JSON on stdin) as a few readable lines."""
import json
import sys

r = json.load(sys.stdin)
p, e, lat = r["postqueue_j"], r["exporter_refresh"], r["metrics_latency_ms"]
print("queued %d:" % r["depth"])
print("  postqueue -j      wall %.3fs  cpu postqueue %.3fs + showq %.3fs = %.3fs"
      % (p["wall_s"], p["postqueue_cpu_s"], p["showq_cpu_s"], p["total_cpu_s"]))
print("  exporter refresh  wall %.3fs  cpu exporter  %.3fs + showq %.3fs = %.3fs  (%d refreshes)"
      % (e["wall_s"], e["exporter_cpu_s"], e["showq_cpu_s"], e["total_cpu_s"], e["samples"]))
print("  refresh / postqueue -j: wall %.2f, cpu %.2f" % (e["wall_s"] / p["wall_s"], e["total_cpu_s"] / p["total_cpu_s"]))
for k in ("all", "during_refresh", "no_refresh"):
    v = lat[k]
    print("  /metrics %-15s n=%5d  p50 %s ms  p99 %s ms" % (k, v["n"], v["p50"], v["p99"]))
