#!/usr/bin/env python3
"""Sends Alertmanager webhook payloads to a receiver the way Alertmanager does:
every payload is retried (connection refused/reset, timeout, 5xx) until it is
answered 200, so a receiver that is killed and restarted must end up with every
alert exactly once.

  webhook_sender.py URL TOKEN_FILE --alerts N [--threads T] [--dup-every K] [--prefix P] [--users U]

Alert i has fingerprint %016x of (base + i), alertname SaslUserSendingSurge,
sasl_username user<i>@saslguard.test (user<i mod U> with --users U),
mitigation=auto. Every K-th payload is
sent twice (a redelivery). Prints "sent=<200 answers> retries=<failed attempts>".
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse


def payload(i, base, prefix, users=0):
    who = i % users if users else i
    labels = {"alertname": "SaslUserSendingSurge", "instance": "mx1.saslguard.test:9754",
              "sasl_username": f"{prefix}{who}@saslguard.test", "severity": "critical", "mitigation": "auto"}
    alert = {"status": "firing", "labels": labels,
             "annotations": {"summary": f"{prefix}{i} surge"},
             "startsAt": "2026-11-23T09:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://127.0.0.1:9090/graph", "fingerprint": "%016x" % (base + i)}
    return json.dumps({"version": "4", "groupKey": "{}:{sasl_username=\"%s%d\"}" % (prefix, i),
                       "truncatedAlerts": 0, "status": "firing", "receiver": "saslguard",
                       "groupLabels": {"sasl_username": labels["sasl_username"]}, "commonLabels": labels,
                       "commonAnnotations": alert["annotations"], "externalURL": "http://127.0.0.1:9093",
                       "alerts": [alert]}).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("token_file")
    ap.add_argument("--alerts", type=int, required=True)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--dup-every", type=int, default=0)
    ap.add_argument("--base", type=lambda s: int(s, 0), default=0x5a5a000000000000)
    ap.add_argument("--prefix", default="user")
    ap.add_argument("--users", type=int, default=0, help="cycle through this many users (0: one per alert)")
    ap.add_argument("--give-up", type=float, default=120, help="seconds per payload before failing")
    a = ap.parse_args()
    token = open(a.token_file).read().strip()
    u = urllib.parse.urlparse(a.url)
    jobs = []
    for i in range(a.alerts):
        jobs.append(i)
        if a.dup_every and i % a.dup_every == 0:
            jobs.append(i)
    lock = threading.Lock()
    stats = {"sent": 0, "retries": 0, "failed": 0}
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

    def worker(mine):
        conn = None
        for i in mine:
            body = payload(i, a.base, a.prefix, a.users)
            deadline = time.time() + a.give_up
            while True:
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
                    conn.request("POST", u.path, body, headers)
                    r = conn.getresponse()
                    r.read()
                    if r.status == 200:
                        with lock:
                            stats["sent"] += 1
                        break
                    if r.status < 500:
                        with lock:
                            stats["failed"] += 1
                        print(f"payload {i}: HTTP {r.status}", file=sys.stderr)
                        break
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                with lock:
                    stats["retries"] += 1
                if time.time() > deadline:
                    with lock:
                        stats["failed"] += 1
                    break
                time.sleep(0.05)

    threads = [threading.Thread(target=worker, args=(jobs[t::a.threads],)) for t in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"sent={stats['sent']} retries={stats['retries']} failed={stats['failed']}")
    sys.exit(1 if stats["failed"] else 0)


if __name__ == "__main__":
    main()
