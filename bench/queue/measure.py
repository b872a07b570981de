#!/usr/bin/env python3
"""Measures, against one private Postfix with a full queue, in the same command:

1. postqueue -j (> /dev/null), RUNS times: wall, postqueue's CPU, showq's CPU,
   with no exporter running (nothing else talks to showq);
2. then it starts saslguard-exporter (refreshing every 200 ms) and takes the exporter's background showq refresh, RUNS refreshes: wall and CPU as the
   exporter reports them (saslguard_exporter_showq_refresh_{duration,cpu}_seconds)
   plus showq's CPU for exactly those refreshes;
3. /metrics latency over REQUESTS back-to-back requests, split by whether a refresh was running when the scrape was
   collected (saslguard_exporter_showq_refresh_in_progress).

showq's CPU is read from /proc for the showq processes of this instance's master
(the harness gives showq a large max_use so none exits mid-measurement).

usage: measure.py PF_ETC MASTER_PID EXPORTER SHOWQ_PATH PORT EXPECTED_DEPTH RUNS REQUESTS
Prints one JSON object; the exporter's log goes to stderr.
"""
import http.client
import json
import os
import resource
import subprocess
import sys
import time
import urllib.parse

pf_etc, master_pid, exporter, showq_path, port = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
expected, runs, requests = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
url = "http://127.0.0.1:%d/metrics" % port
TICK = os.sysconf("SC_CLK_TCK")


def showq_cpu():
    """Total CPU seconds of this master's live showq processes."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if comm == "showq" and int(fields[1]) == master_pid:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


# 1. postqueue -j
postqueue = []
for _ in range(runs):
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s0 = showq_cpu()
    t0 = time.perf_counter()
    out = subprocess.run(["postqueue", "-c", pf_etc, "-j"], stdout=subprocess.PIPE, check=True).stdout
    wall = time.perf_counter() - t0
    time.sleep(0.2)  # let showq's last CPU tick land in /proc
    s1 = showq_cpu()
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = out.count(b"\n")
    if lines != expected:
        sys.exit("postqueue -j listed %d messages, expected %d" % (lines, expected))
    postqueue.append({"wall": wall,
                      "client_cpu": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
                      "showq_cpu": s1 - s0})

u = urllib.parse.urlparse(url)
proc = subprocess.Popen([exporter, "--web.listen-address=127.0.0.1:%d" % port, "--log.path=/dev/null",
                         "--showq.path=" + showq_path, "--queue.refresh-interval=200ms", "--showq.timeout=60s"])


def scrape():
    # A new connection per request (prometheus-cpp's civetweb closes after each
    # answer); the latency includes the loopback TCP connect.
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", u.path)
    body = conn.getresponse().read().decode()
    latency = time.perf_counter() - t0
    conn.close()
    values = {}
    for line in body.splitlines():
        if line.startswith(("saslguard_exporter_showq_", "postfix_showq_queue_depth", "postfix_up")):
            k, _, v = line.rpartition(" ")
            values[k] = float(v)
    return latency, values


def depth(values):
    return sum(v for k, v in values.items() if k.startswith("postfix_showq_queue_depth"))


# 2. exporter refreshes: poll lightly; at each completed refresh take showq's CPU,
# so the CPU between two completions belongs to exactly one refresh.
for _ in range(100):
    try:
        _, v = scrape()
        break
    except OSError:
        time.sleep(0.1)
else:
    proc.kill()
    sys.exit("exporter did not answer on %s" % url)
refreshes = []
deadline = time.time() + 600
last = v.get("saslguard_exporter_showq_refreshes_total", 0)
mark = None
while len(refreshes) < runs and time.time() < deadline:
    time.sleep(0.02)
    _, v = scrape()
    n = v.get("saslguard_exporter_showq_refreshes_total", 0)
    if n == last:
        continue
    now_cpu = showq_cpu()
    if n == last + 1 and mark is not None:
        if v.get("postfix_up") != 1 or depth(v) != expected:
            sys.exit("exporter refresh saw depth %s (up %s), expected %d" % (depth(v), v.get("postfix_up"), expected))
        refreshes.append({"wall": v["saslguard_exporter_showq_refresh_duration_seconds"],
                          "exporter_cpu": v["saslguard_exporter_showq_refresh_cpu_seconds"],
                          "showq_cpu": now_cpu - mark})
    last, mark = n, now_cpu

# 3. /metrics latency, back to back.
idle, busy = [], []
for _ in range(requests):
    latency, v = scrape()
    (busy if v.get("saslguard_exporter_showq_refresh_in_progress") == 1 else idle).append(latency)

proc.terminate()
proc.wait(timeout=10)

ms = lambda x: None if x is None else round(x * 1000, 2)
med = lambda rows, k: sorted(r[k] for r in rows)[len(rows) // 2] if rows else None
result = {
    "depth": expected,
    "postqueue_j": {"wall_s": med(postqueue, "wall"), "postqueue_cpu_s": med(postqueue, "client_cpu"),
                    "showq_cpu_s": med(postqueue, "showq_cpu"),
                    "total_cpu_s": med([{"t": r["client_cpu"] + r["showq_cpu"]} for r in postqueue], "t")},
    "exporter_refresh": {"wall_s": med(refreshes, "wall"), "exporter_cpu_s": med(refreshes, "exporter_cpu"),
                         "showq_cpu_s": med(refreshes, "showq_cpu"),
                         "total_cpu_s": med([{"t": r["exporter_cpu"] + r["showq_cpu"]} for r in refreshes], "t"),
                         "samples": len(refreshes)},
    "metrics_latency_ms": {
        "all": {"n": len(idle) + len(busy), "p50": ms(pct(idle + busy, 50)), "p99": ms(pct(idle + busy, 99)),
                "max": ms(max(idle + busy))},
        "during_refresh": {"n": len(busy), "p50": ms(pct(busy, 50)), "p99": ms(pct(busy, 99)),
                           "max": ms(max(busy) if busy else None)},
        "no_refresh": {"n": len(idle), "p50": ms(pct(idle, 50)), "p99": ms(pct(idle, 99))},
    },
    "raw": {"postqueue_j": postqueue, "exporter_refresh": refreshes},
}
print(json.dumps(result))
