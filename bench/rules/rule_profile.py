#!/usr/bin/env python3
"""Per-rule evaluation time for the rules benchmark.

  rule_profile.py snapshot < /api/v1/rules JSON     one compact line per poll
  rule_profile.py report FILE [TOP]                 the TOP rules (default 10)
                                                    by their largest evaluation time

Prometheus's /api/v1/rules gives every rule's last `evaluationTime` (seconds)
and, for an alerting rule, its active alerts (each of which renders its
annotations, template queries included, at every evaluation). run.sh polls it
every few seconds while it measures; the report prints per rule the max and
median over the polls, its group and, for alerts, how many were active."""
import json, statistics, sys

if sys.argv[1] == "snapshot":
    d = json.load(sys.stdin)
    out = []
    for g in d["data"]["groups"]:
        for i, r in enumerate(g["rules"]):
            out.append([g["name"].replace("saslguard.", ""), i, r["name"], r.get("evaluationTime", 0.0),
                        len(r.get("alerts") or []) if r.get("type") == "alerting" else -1])
    print(json.dumps(out, separators=(",", ":")))
    sys.exit(0)

top = int(sys.argv[3]) if len(sys.argv) > 3 else 10
times, alerts = {}, {}
for line in open(sys.argv[2]):
    line = line.strip()
    if not line:
        continue
    for g, i, name, t, n in json.loads(line):
        times.setdefault((g, i, name), []).append(t)
        alerts.setdefault((g, i, name), []).append(n)
rows = sorted(times, key=lambda k: -max(times[k]))
print("  %-14s %3s %-62s %9s %9s %7s" % ("group", "#", "rule", "max", "median", "active"))
for k in rows[:top]:
    a = max(alerts[k])
    print("  %-14s %3d %-62s %8.3fs %8.3fs %7s" % (k[0], k[1], k[2][-62:], max(times[k]),
                                                   statistics.median(times[k]), a if a >= 0 else ""))
