#!/usr/bin/env python3
"""Writes realistic Postfix log traffic for the rules and dashboard tests.

The lines are shaped exactly like those of a real Postfix 3.7 (captured with
tests/fixtures/postfix-logs/capture.sh): RFC 3164 timestamps in local time,
`postfix/submission/smtpd` with `client=…, sasl_method=…, sasl_username=…`,
cleanup message-id, qmgr from=/nrcpt=, smtp deliveries with dsn and status,
qmgr removed, and smtpd SASL failures.

Two phases:
  history  --history S: S seconds of past traffic, written at once with past
           timestamps (for an exporter started with --log.from-start: the
           "normal day" a fresh Prometheus has not seen).
  live     --live S: S seconds of traffic appended in real time with fresh
           timestamps, flushed every tick (the exporter counts lines as they
           are appended).

Senders (repeatable):
  --user NAME=RATE[,ips=N][,fail=F][,net=K]
                                        msgs/s in both phases; N client IPs;
                                        F = share of deliveries bounced/deferred;
                                        K: the addresses' /24 (10.x.K.y, default
                                        0: a burst with K > 0 comes from a
                                        network the user never used)
  --burst NAME=RATE,start=T[,ips=N][,fail=F][,net=K]
                                        live phase only, from T s into it
  --failures IP=RATE                    failed SASL logins per second from IP

--marker FILE gets "burst_start UNIX_TIME" the moment the first burst line is
written (the test's clock for time-to-alert), "done UNIX_TIME" at the end.
Deterministic for a given --seed.
"""
import argparse
import os
import random
import sys
import time


def parse_spec(text, burst=False):
    name, _, rest = text.partition("=")
    parts = rest.split(",")
    spec = {"name": name, "rate": float(parts[0]), "ips": 1, "fail": 0.0, "start": 0.0, "net": 0}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        if k not in ("ips", "fail", "start", "net"):
            raise SystemExit(f"postfix_traffic: unknown key {k!r} in {text!r}")
        spec[k] = int(v) if k in ("ips", "net") else float(v)
    if burst and "start=" not in text:
        raise SystemExit(f"postfix_traffic: --burst needs start=T: {text!r}")
    return spec


class Writer:
    def __init__(self, out, seed, host="mail"):
        self.out = out
        self.rng = random.Random(seed)
        self.host = host
        self.qid_counter = self.rng.randrange(1 << 20)
        self.pid = 20000 + self.rng.randrange(5000)

    @staticmethod
    def stamp(t):
        lt = time.localtime(t)
        # RFC 3164 as syslog and postlogd write it: day padded with a space.
        return time.strftime("%b ", lt) + f"{lt.tm_mday:2d}" + time.strftime(" %H:%M:%S", lt)

    def qid(self):
        self.qid_counter += 1
        return f"{self.qid_counter:05X}{self.rng.randrange(16**6):06X}"

    def line(self, t, tag, msg):
        self.out.append(f"{self.stamp(t)} {self.host} {tag}[{self.pid + sum(map(ord, tag)) % 1000}]: {msg}\n")

    @staticmethod
    def ip_of(user, i):
        # Stable per user: 10.x.y.z from the name, then i-th address of its pool.
        h = sum(ord(c) * (k + 1) for k, c in enumerate(user["name"])) % 200
        return f"10.{h}.{(user['net'] + i // 250) % 250}.{i % 250 + 1}"

    def message(self, t, user):
        ip = self.ip_of(user, self.rng.randrange(user["ips"]))
        q = self.qid()
        smtpd = "postfix/submission/smtpd"
        nrcpt = 1 + (self.rng.random() < 0.3)
        size = 800 + self.rng.randrange(20000)
        self.line(t, smtpd, f"connect from unknown[{ip}]")
        self.line(t, smtpd, f"{q}: client=unknown[{ip}], sasl_method=PLAIN, sasl_username={user['name']}")
        self.line(t, "postfix/cleanup", f"{q}: message-id=<{int(t * 1000)}.{q}@{user['name'].split('@')[-1]}>")
        self.line(t, "postfix/qmgr", f"{q}: from=<{user['name']}>, size={size}, nrcpt={nrcpt} (queue active)")
        self.line(t, smtpd, f"disconnect from unknown[{ip}] ehlo=1 auth=1 mail=1 rcpt={nrcpt} data=1 quit=1 commands={5 + nrcpt}")
        for r in range(nrcpt):
            rcpt = f"r{self.rng.randrange(100000)}@remote{r}.example"
            relay = "mx.remote.example[192.0.2.25]:25"
            if self.rng.random() < user["fail"]:
                if self.rng.random() < 0.6:
                    self.line(t, "postfix/smtp", f"{q}: to=<{rcpt}>, relay={relay}, delay=0.4, delays=0.01/0/0.2/0.2, dsn=5.1.1, "
                              f"status=bounced (host {relay[:-3]} said: 550 5.1.1 <{rcpt}>: Recipient address rejected: "
                              "User unknown (in reply to RCPT TO command))")
                else:
                    self.line(t, "postfix/smtp", f"{q}: to=<{rcpt}>, relay={relay}, delay=0.5, delays=0.01/0/0.3/0.2, dsn=4.7.0, "
                              f"status=deferred (host {relay[:-3]} said: 421 4.7.0 Try again later (in reply to MAIL FROM command))")
            else:
                self.line(t, "postfix/smtp", f"{q}: to=<{rcpt}>, relay={relay}, delay=0.3, delays=0.01/0/0.1/0.2, dsn=2.0.0, "
                          f"status=sent (250 2.0.0 Ok: queued as {self.qid()})")
        self.line(t, "postfix/qmgr", f"{q}: removed")

    def failure(self, t, ip):
        smtpd = "postfix/submission/smtpd"
        self.line(t, smtpd, f"connect from unknown[{ip}]")
        self.line(t, smtpd, "warning: SASL authentication failure: Password verification failed")
        self.line(t, smtpd, f"warning: unknown[{ip}]: SASL LOGIN authentication failed: authentication failure, "
                  f"sasl_username=admin{self.rng.randrange(50)}@example.org")
        self.line(t, smtpd, f"disconnect from unknown[{ip}] ehlo=1 auth=0/1 quit=1 commands=2/3")


def events(senders, failures, t0, t1, rng):
    """(time, kind, who) between t0 and t1: Poisson arrivals per sender."""
    out = []
    for s in senders:
        start = max(t0, s["abs_start"])
        if s["rate"] <= 0 or start >= t1:
            continue
        t = start + rng.expovariate(s["rate"])
        while t < t1:
            out.append((t, "msg", s))
            t += rng.expovariate(s["rate"])
    for ip, rate in failures:
        t = t0 + rng.expovariate(rate)
        while t < t1:
            out.append((t, "fail", ip))
            t += rng.expovariate(rate)
    out.sort(key=lambda e: e[0])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--history", type=float, default=0)
    ap.add_argument("--live", type=float, default=0)
    ap.add_argument("--user", action="append", default=[])
    ap.add_argument("--burst", action="append", default=[])
    ap.add_argument("--failures", action="append", default=[])
    ap.add_argument("--marker")
    ap.add_argument("--tick", type=float, default=0.1)
    a = ap.parse_args()

    users = [parse_spec(u) for u in a.user]
    bursts = [parse_spec(b, burst=True) for b in a.burst]
    failures = [(f.split("=")[0], float(f.split("=")[1])) for f in a.failures]
    rng = random.Random(a.seed)
    w = Writer([], a.seed)

    def mark(text):
        if a.marker:
            with open(a.marker, "a") as m:
                m.write(text + "\n")

    with open(a.log, "a") as f:
        now = time.time()
        if a.history > 0:
            for u in users:
                u["abs_start"] = now - a.history
            for t, kind, who in events(users, failures, now - a.history, now, rng):
                w.message(t, who) if kind == "msg" else w.failure(t, who)
            f.writelines(w.out)
            f.flush()
            w.out.clear()
        if a.live > 0:
            live0 = time.time()
            for u in users:
                u["abs_start"] = live0
            for b in bursts:
                b["abs_start"] = live0 + b["start"]
            senders = users + bursts
            burst_marked = False
            t_prev = live0
            while True:
                t_now = time.time()
                end = min(t_now, live0 + a.live)
                batch = events(senders, failures, t_prev, end, rng)
                for s in senders:  # arrivals are drawn per tick: restart each clock
                    s["abs_start"] = max(s["abs_start"], end)
                for t, kind, who in batch:
                    w.message(t, who) if kind == "msg" else w.failure(t, who)
                if w.out:
                    f.writelines(w.out)
                    f.flush()
                    w.out.clear()
                if not burst_marked and any(k == "msg" and s in bursts for _, k, s in batch):
                    first = min(t for t, k, s in batch if k == "msg" and s in bursts)
                    mark(f"burst_start {first:.3f}")
                    burst_marked = True
                t_prev = end
                if end >= live0 + a.live:
                    break
                time.sleep(a.tick)
    mark(f"done {time.time():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
