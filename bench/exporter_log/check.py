#!/usr/bin/env python3
"""Compares saslguard-exporter --oneshot output with gen.py's ground truth.
Exits 1 and lists the differences when any series is off.
Usage: check.py TRUTH.json METRICS.prom [TOP_K]"""
import json, sys

truth = json.load(open(sys.argv[1]))
top_k = int(sys.argv[3]) if len(sys.argv) > 3 else 20
got = {}
for line in open(sys.argv[2], encoding="utf-8"):
    if line.startswith("#") or not line.strip():
        continue
    series, value = line.rsplit(" ", 1)
    got[series] = float(value)

bad = []
for series, want in truth["series"].items():
    if got.get(series) != want:
        bad.append(f"{series}: want {want}, got {got.get(series)}")
# Failures by client IP: the exporter serves the top-K of the window and the rest
# as __other__; ties at the K-th place may pick either IP, so compare values.
window = truth["failures_in_window"]
served = {s[len('postfix_sasl_failures_by_client_ip{client_ip="'):-2]: v for s, v in got.items()
          if s.startswith("postfix_sasl_failures_by_client_ip{")}
other = served.pop("__other__", None)
want_top = sorted(window.values(), reverse=True)[:top_k]
if sorted(served.values(), reverse=True) != want_top:
    bad.append(f"failures_by_client_ip top-{top_k}: want {want_top}, got {sorted(served.values(), reverse=True)}")
for ip, v in served.items():
    if window.get(ip) != v:
        bad.append(f"failures_by_client_ip {ip}: want {window.get(ip)}, got {v}")
if other != sum(window.values()) - sum(want_top):
    bad.append(f"failures_by_client_ip __other__: want {sum(window.values()) - sum(want_top)}, got {other}")
checked = len(truth["series"]) + len(window)
if bad:
    print(f"check: {len(bad)} of {checked} series differ from the ground truth:")
    print("\n".join(bad[:30]))
    sys.exit(1)
ips = got.get('postfix_sasl_user_client_ips{sasl_username="%s"}' % truth["compromised"])
print(f"check: all {checked} series equal the ground truth "
      f"(compromised {truth['compromised']}: {ips} client IPs in the window)")
