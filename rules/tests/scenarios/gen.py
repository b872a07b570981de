#!/usr/bin/env python3
"""The scenario suite: one case per category of issue #14, simulated as the
exporter would publish it, written as promtool unit tests.

Each scenario simulates the exporter's series for a few users (Poisson
arrivals per scrape, client IPs and their networks, new-source messages with the
exporter's rules: a network unused within 30 days is new for 24 hours after it
appears, unknown-recipient bounces, smtp deliveries, cleanup inflow, queue) and
states its expectation: which alerts fire for whom, with which mitigation and
suggested actions, by when after the event starts — or silence. The assertions
query ALERTS, so they hold whatever the alert's annotations say:

  * before the event, nothing fires at all (history and bystanders are quiet);
  * each expected page has fired within its bound after the event starts;
  * over the whole run, exactly the expected set of (alert, user, mitigation)
    fired, and nothing else (no automatic action for a legitimate category).

Usage:
  gen.py --out DIR            write one promtool test file per scenario,
                              DIR/NN_<step>.test.yml (run.sh runs them side by side)
  gen.py --out DIR --measure  same, but the detection-delay queries expect -1: promtool's
                              failure output then shows each real delay (see run.sh)
Deterministic (fixed seeds).
"""
import argparse, ipaddress, math, os, random

INSTANCE, JOB = "mail:9754", "saslguard-exporter"
RULES_GROUPS = ["saslguard.thresholds", "saslguard.user_history", "saslguard.user_baselines", "saslguard.deliveries",
                "saslguard.user_surge", "saslguard.user_age", "saslguard.user_windows", "saslguard.user_volume",
                "saslguard.queue", "saslguard.alerts"]
MIN, HOUR, DAY = 60, 3600, 86400
NEW_FOR, HORIZON, WINDOW = DAY, 30 * DAY, 600
NEW_SOURCE_PUBLISHED_FOR = 3600  # the exporter's: its new-source counter, an hour after the latest
STALE = "stale"  # a series the exporter stopped publishing (promtool's staleness marker)

# Expected labels of each alert (the rules' contract).
LABELS = {
    ("SaslUserSendingSurge", "auto"): ("critical", "block_login,hold_mail"),
    ("SaslUserSendingSurge", "confirm"): ("critical", "hold_mail"),
    ("SaslUserVolumeAnomaly", "auto"): ("critical", "block_login,hold_mail"),
    ("SaslUserVolumeAnomaly", "confirm"): ("critical", "hold_mail"),
    ("SaslUserNewSourceSurge", "auto"): ("critical", "block_login,hold_mail"),
    ("SaslUserNewSourceSurge", "confirm"): ("critical", "hold_mail"),
    ("SaslUserManyClientIPs", "confirm"): ("warning", "block_login,hold_mail"),
    ("SaslUserHighBounceRatio", "confirm"): ("warning", "hold_mail"),
    ("SaslUserLoginFromBruteForceIP", "confirm"): ("critical", "block_login,block_ips"),
    ("SaslAuthBruteForce", "confirm"): ("warning", "block_ips"),
    ("PostfixQueueSurge", "confirm"): ("critical", "hold_mail"),
    ("PostfixDeliveriesDeferred", "notify"): ("warning", None),
}


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    l, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= l:
            return k
        k += 1


def net_of(ip):
    a = ipaddress.ip_address(ip)
    return str(ipaddress.ip_network(f"{ip}/{24 if a.version == 4 else 64}", strict=False))


class Seg:
    """Traffic of one user from t0 to t1 (seconds of the run): rate msgs/s, or
    `total` messages spread evenly; from `ips`; per-delivery fractions."""
    def __init__(self, t0, t1, rate=0.0, ips=("10.1.1.10",), rcpt=1.3, unknown=0.01,
                 deferred=0.02, bounced_other=0.0, total=None, workday=False):
        self.t0, self.t1, self.ips, self.rcpt = t0, t1, list(ips), rcpt
        self.rate = total / max(1, t1 - t0) if total is not None else rate
        self.unknown, self.deferred, self.bounced_other, self.workday = unknown, deferred, bounced_other, workday

    def rate_at(self, t):
        if not (self.t0 <= t < self.t1):
            return 0.0
        if self.workday:  # 70 % of the day's mail between 08:00 and 18:00, none on weekends
            day, tod = int(t // DAY), t % DAY
            if day % 7 in (5, 6):
                return self.rate * 0.1
            return self.rate * (0.7 * 24 / 10 if 8 * HOUR <= tod < 18 * HOUR else 0.3 * 24 / 14)
        return self.rate


class Sim:
    """Counters as the exporter publishes them, sampled every `step` seconds."""
    def __init__(self, step, duration, seed, restarts=()):
        self.step, self.n = step, duration // step + 1
        self.rng = random.Random(seed)
        self.series = {}  # text -> list of values (None = missing scrape)
        self.restarts = set(restarts)  # sample indexes where the exporter restarted

    def user(self, name, segs, known_nets=(), prior_days=3):
        """Simulates one SASL user; `known_nets`: networks the source memory
        already knows (used within the horizon before the run). The exporter has
        run for `prior_days` before Prometheus starts (the run's t=0): its
        counters start at what the first segment sent in that time."""
        rng = self.rng
        m0 = int(segs[0].rate * prior_days * DAY) if segs[0].t0 == 0 else 0
        c = dict(messages=m0, recipients=int(m0 * segs[0].rcpt), sent=int(m0 * segs[0].rcpt * 0.97),
                 deferred=int(m0 * segs[0].rcpt * 0.02), bounced=int(m0 * segs[0].rcpt * 0.01), expired=0,
                 new_source=0, unknown=int(m0 * segs[0].rcpt * 0.01))
        nets = {n: -HORIZON // 2 for n in known_nets}  # net -> first_seen (long ago)
        ip_seen = {}
        out = {k: [] for k in list(c) + ["client_ips"]}
        last_new = None  # the latest new-source message (the exporter withdraws the counter an hour later)
        for i in range(self.n):
            t = i * self.step
            if i in self.restarts:
                c = {k: 0 for k in c}
                last_new = None
            for s in segs:
                # The sample at t holds what was submitted in (t - step, t].
                k = poisson(rng, s.rate_at(t - self.step) * self.step) if i else 0
                for _ in range(k):
                    ip = rng.choice(s.ips)
                    ip_seen[ip] = t
                    n = net_of(ip)
                    if n not in nets:
                        nets[n] = t
                    c["messages"] += 1
                    if t - nets[n] < NEW_FOR:
                        if last_new is None or t - last_new > NEW_SOURCE_PUBLISHED_FOR:
                            c["new_source"] = 0  # withdrawn: a new series, from 0
                        c["new_source"] += 1
                        last_new = t
                    r = max(1, poisson(rng, s.rcpt - 1) + 1) if s.rcpt > 1 else 1
                    c["recipients"] += r
                    for _ in range(r):
                        x = rng.random()
                        if x < s.unknown:
                            c["bounced"] += 1; c["unknown"] += 1
                        elif x < s.unknown + s.bounced_other:
                            c["bounced"] += 1
                        elif x < s.unknown + s.bounced_other + s.deferred:
                            c["deferred"] += 1
                        else:
                            c["sent"] += 1
            active = c["messages"] > 0 or any(s.t0 <= t for s in segs if s.rate > 0)
            ips = sum(1 for ip, seen in ip_seen.items() if seen > t - WINDOW)
            for k in c:
                out[k].append(c[k] if active else None)
            # Published from the first new-source message until an hour after the
            # latest; withdrawn, Prometheus marks it stale at the next scrape.
            if last_new is None or t - last_new > NEW_SOURCE_PUBLISHED_FOR:
                prev = out["new_source"][-2] if len(out["new_source"]) > 1 else None
                out["new_source"][-1] = STALE if prev not in (None, STALE) else None
            out["client_ips"].append(ips if active else None)
        # The exporter publishes a user once it has seen one message.
        first = 0 if m0 else next((i for i, v in enumerate(out["messages"]) if v), None)
        if first is None:
            return
        for k, vals in out.items():
            vals = [None] * first + vals[first:]
            out[k] = [None if i in self.restarts else v for i, v in enumerate(vals)]
        lab = f'instance="{INSTANCE}",job="{JOB}",sasl_username="{name}"'
        self.series[f"postfix_sasl_user_messages_total{{{lab}}}"] = out["messages"]
        self.series[f"postfix_sasl_user_recipients_total{{{lab}}}"] = out["recipients"]
        for st in ("sent", "deferred", "bounced", "expired"):
            self.series[f'postfix_sasl_user_deliveries_total{{{lab},status="{st}"}}'] = out[st]
        self.series[f"postfix_sasl_user_new_source_messages_total{{{lab}}}"] = out["new_source"]
        self.series[f"postfix_sasl_user_unknown_recipients_total{{{lab}}}"] = out["unknown"]
        self.series[f"postfix_sasl_user_client_ips{{{lab}}}"] = out["client_ips"]
        self._host(out)

    def _host(self, out):
        """Adds a user's deliveries and messages to the host-wide counters."""
        for st in ("sent", "deferred", "bounced"):
            key = f'postfix_smtp_messages_processed_total{{instance="{INSTANCE}",job="{JOB}",status="{st}"}}'
            self._add(key, out[st])
        self._add(f'postfix_cleanup_messages_processed_total{{instance="{INSTANCE}",job="{JOB}"}}', out["messages"])

    def _add(self, key, vals):
        cur = self.series.setdefault(key, [0] * self.n)
        first = next((v for v in vals if v is not None), 0)
        vals = [None if v is None else v - first for v in vals]  # host counters: traffic in the run
        # Counters of a user are added from where they start; a restart resets all.
        base = 0
        for i, v in enumerate(vals):
            if i in self.restarts:
                cur[i] = None
                continue
            if cur[i] is None:
                continue
            cur[i] += v or 0

    def gauge(self, key, fn):
        self.series[key] = [fn(i * self.step) for i in range(self.n)]

    def encode(self, vals):
        """promtool notation, with runs of equal steps compressed as a+bxn."""
        toks, i = [], 0
        while i < len(vals):
            v = vals[i]
            if v == STALE:
                toks.append(STALE)
                i += 1
                continue
            if v is None:
                j = i
                while j < len(vals) and vals[j] is None:
                    j += 1
                toks.append("_x%d" % (j - i) if j - i > 1 else "_")
                i = j
                continue
            j = i + 1
            d = None
            while j < len(vals) and vals[j] is not None and vals[j] != STALE:
                dd = vals[j] - vals[j - 1]
                if d is None:
                    d = dd
                elif dd != d:
                    break
                j += 1
            run = j - i - 1
            if run >= 2:
                toks.append(f"{fmt(v)}{'+' if d >= 0 else '-'}{fmt(abs(d))}x{run}")
                i = j
            else:
                toks.append(fmt(v))
                i += 1
        return " ".join(toks)


def fmt(v):
    return str(int(v)) if float(v).is_integer() else repr(round(v, 6))


def dur(s):
    s = int(s)
    if s % HOUR == 0 and s:
        return f"{s // HOUR}h"
    if s % MIN == 0 and s:
        return f"{s // MIN}m"
    return f"{s}s"


# ---------------------------------------------------------------- scenarios
# Each returns (sim, event_start_s, end_s, expectations)
# expectations: list of (alertname, user or None, mitigation, within_s or None)
# within_s None: allowed to fire (it is part of the expected set) with no bound.

BYSTANDERS = [("bob@example.org", 40, "10.9.1.20"), ("carol@example.org", 25, "10.9.2.30"),
              ("dave@example.org", 60, "10.9.3.40")]


def bystanders(sim, end):
    sim.gauge(f'up{{instance="{INSTANCE}",job="{JOB}"}}', lambda t: 1)
    for name, per_day, ip in BYSTANDERS:
        sim.user(name, [Seg(0, end, per_day / DAY, [ip], workday=True)], [net_of(ip)])


def vps(n, base="203.0.113"):
    return [f"{base}.{10 + k}" for k in range(n)]


def s_fast_burst_dormant(step):
    end, ev = 2 * HOUR, HOUR
    sim = Sim(step, end, 1)
    bystanders(sim, end)
    bots = [f"198.51.{100 + k // 200}.{k % 200 + 1}" for k in range(20)]
    sim.user("dormant@example.org", [Seg(ev, ev + 20 * MIN, 10, bots, unknown=0.2)], ["10.9.9.0/24"])
    return sim, ev, end, [("SaslUserSendingSurge", "dormant@example.org", "auto", 30),
                          ("SaslUserManyClientIPs", "dormant@example.org", "confirm", None),
                          ("SaslUserHighBounceRatio", "dormant@example.org", "confirm", None)]


def s_brute_force_login(step):
    end, ev = 2 * HOUR, HOUR
    sim = Sim(step, end, 6)
    bystanders(sim, end)
    ip = "203.0.113.66"
    # 200 failed logins over 10 minutes, then the guessed password is used.
    fails = lambda t: None if t < ev else min(200, int((t - ev) / 3)) if t < ev + 20 * MIN else max(0, 200 - int((t - ev - 20 * MIN) / 3))
    sim.gauge(f'postfix_sasl_failures_by_client_ip{{instance="{INSTANCE}",job="{JOB}",client_ip="{ip}"}}',
              lambda t: 0 if t < ev else min(200, (t - ev) // 3) if t < ev + 10 * MIN else max(0, 200 - (t - ev - 10 * MIN) // 3))
    sim.user("victim@example.org", [Seg(0, end, 30 / DAY, ["10.7.7.7"], workday=True),
                                     Seg(ev + 10 * MIN, end, 0.02, [ip])], ["10.7.7.0/24"])
    # The exporter's per-user gauge: failures of the user's client IPs in the window.
    def gauge(t):
        if t < ev + 10 * MIN + 30:
            return None
        f = max(0, 200 - (t - ev - 10 * MIN) // 3)
        return f if f > 0 else None
    sim.gauge(f'postfix_sasl_user_client_ip_auth_failures{{instance="{INSTANCE}",job="{JOB}",sasl_username="victim@example.org"}}', gauge)
    return sim, ev, end, [("SaslAuthBruteForce", "203.0.113.66", "confirm", 3 * MIN),
                          ("SaslUserLoginFromBruteForceIP", "victim@example.org", "confirm", 10 * MIN + 2 * MIN)]


def s_exporter_restart(step):
    end, ev = 2 * HOUR, HOUR
    sim = Sim(step, end, 11, restarts=range(ev // step, ev // step + 3))
    bystanders(sim, end)
    sim.user("relay@example.org", [Seg(0, end, 2.0, ["10.5.5.5", "10.5.5.6"])], ["10.5.5.0/24"])
    return sim, ev, end, []


def s_phone_flush(step):
    end, ev = 2 * HOUR, HOUR
    sim = Sim(step, end, 12)
    bystanders(sim, end)
    sim.user("phone@example.org", [Seg(0, end, 20 / DAY, ["100.64.3.9"]),
                                    Seg(ev, ev + 20, total=30, ips=["100.64.17.44"])], ["100.64.3.0/24"])
    return sim, ev, end, []


def s_one_message_800(step):
    end, ev = 2 * HOUR, HOUR
    sim = Sim(step, end, 13)
    bystanders(sim, end)
    sim.user("ceo@example.org", [Seg(0, end, 20 / DAY, ["10.4.4.4"]),
                                  Seg(ev, ev + step, total=1, ips=["10.4.4.4"], rcpt=800, unknown=0.02)],
             ["10.4.4.0/24"])
    return sim, ev, end, []


def s_sendmail_abuse(step):
    end, ev = 2 * HOUR, HOUR
    sim = Sim(step, end, 14)
    bystanders(sim, end)
    rng = random.Random(14)
    inflow = lambda t: 0.05 + (4.0 if t >= ev else 0)      # cleanup: messages/s
    qdep = lambda t: 5 + (max(0, t - ev) * 4.0 * 0.6 if t >= ev else 0)  # 60 % of the spam waits
    key = f'postfix_cleanup_messages_processed_total{{instance="{INSTANCE}",job="{JOB}"}}'
    base = sim.series.get(key, [0] * sim.n)
    acc, vals = 0.0, []
    for i in range(sim.n):
        acc += inflow(i * step) * step
        vals.append((base[i] or 0) + int(acc))
    sim.series[key] = vals
    for st, share in (("sent", 0.4), ("deferred", 0.6)):
        k = f'postfix_smtp_messages_processed_total{{instance="{INSTANCE}",job="{JOB}",status="{st}"}}'
        b = sim.series.get(k, [0] * sim.n)
        sim.series[k] = [(b[i] or 0) + int(max(0, i * step - ev) * 4.0 * share) for i in range(sim.n)]
    for q in ("active", "incoming", "maildrop", "hold"):
        sim.gauge(f'postfix_showq_queue_depth{{instance="{INSTANCE}",job="{JOB}",queue="{q}"}}', lambda t: 0)
    sim.gauge(f'postfix_showq_queue_depth{{instance="{INSTANCE}",job="{JOB}",queue="deferred"}}', lambda t: int(qdep(t)))
    sim.gauge(f'postfix_queue_sender_messages{{instance="{INSTANCE}",job="{JOB}",sender="www-data@mail.example.org"}}',
              lambda t: int(qdep(t) - 5) if t >= ev else 0)
    return sim, ev, end, [("PostfixQueueSurge", None, "confirm", 10 * MIN),
                          ("PostfixDeliveriesDeferred", None, "notify", None)]


def s_medium_rate(step):
    end, ev = 20 * HOUR, 14 * HOUR
    sim = Sim(step, end, 21)
    bystanders(sim, end)
    sim.user("normal@example.org", [Seg(0, end, 50 / DAY, ["10.3.3.3"], workday=True),
                                     Seg(ev, ev + 2 * HOUR, 0.5, vps(5), unknown=0.05)], ["10.3.3.0/24"])
    return sim, ev, end, [("SaslUserVolumeAnomaly", "normal@example.org", "auto", 10 * MIN)]


def s_low_and_slow(step):
    end, ev = 20 * HOUR, 14 * HOUR
    sim = Sim(step, end, 22)
    bystanders(sim, end)
    # Malware on the user's own PC: the user's own address, nothing new about it.
    sim.user("slow@example.org", [Seg(0, end, 30 / DAY, ["10.2.2.2"], workday=True),
                                   Seg(ev, ev + 3 * HOUR, 0.28, ["10.2.2.2"], unknown=0.05)], ["10.2.2.0/24"])
    return sim, ev, end, [("SaslUserVolumeAnomaly", "slow@example.org", "confirm", 10 * MIN)]


def s_under_thresholds(step):
    end, ev = 20 * HOUR, 14 * HOUR
    sim = Sim(step, end, 23)
    bystanders(sim, end)
    sim.user("paced@example.org", [Seg(0, end, 50 / DAY, ["10.6.6.6"], workday=True),
                                    Seg(ev, ev + 2 * HOUR, 0.8, vps(3, "192.0.2"), unknown=0.05)], ["10.6.6.0/24"])
    return sim, ev, end, [("SaslUserVolumeAnomaly", "paced@example.org", "auto", 10 * MIN)]


def s_under_new_floors(step):
    end, ev = 20 * HOUR, 14 * HOUR
    sim = Sim(step, end, 24)
    bystanders(sim, end)
    # Below every volume floor (180/hour), but to a harvested list from a VPS.
    sim.user("quiet@example.org", [Seg(0, end, 50 / DAY, ["10.6.7.6"], workday=True),
                                    Seg(ev, ev + 3 * HOUR, 0.05, vps(3, "192.0.2"), unknown=0.25)], ["10.6.7.0/24"])
    return sim, ev, end, [("SaslUserHighBounceRatio", "quiet@example.org", "confirm", 10 * MIN)]


def s_botnet_trickle(step):
    end, ev = 20 * HOUR, 14 * HOUR
    sim = Sim(step, end, 25)
    bystanders(sim, end)
    bots = [f"198.51.{100 + k // 100}.{k % 100 + 1}" for k in range(40)]
    sim.user("trickle@example.org", [Seg(0, end, 40 / DAY, ["10.8.8.8"], workday=True),
                                      Seg(ev, ev + 2 * HOUR, 0.1, bots, unknown=0.05)], ["10.8.8.0/24"])
    return sim, ev, end, [("SaslUserManyClientIPs", "trickle@example.org", "confirm", 10 * MIN),
                          ("SaslUserVolumeAnomaly", "trickle@example.org", "auto", None)]


def s_big_sender_abused(step):
    end, ev = 20 * HOUR, 14 * HOUR
    sim = Sim(step, end, 26)
    bystanders(sim, end)
    sim.user("relay@example.org", [Seg(0, end, 0.5, ["10.5.5.5", "10.5.5.6"]),
                                    Seg(ev, ev + 2 * HOUR, 0.5, vps(4, "198.18.7"), unknown=0.08)], ["10.5.5.0/24"])
    return sim, ev, end, [("SaslUserNewSourceSurge", "relay@example.org", "confirm", 10 * MIN)]


def s_newsletter(step):
    end, ev = 9 * DAY, 8 * DAY + 10 * HOUR
    sim = Sim(step, end, 31)
    bystanders(sim, end)
    ip = "10.10.10.10"
    segs = [Seg(0, end, 20 / DAY, [ip], workday=True)]
    for week_start in (ev - 7 * DAY, ev):
        segs.append(Seg(week_start, week_start + 25 * MIN, total=5000, ips=[ip], rcpt=1, unknown=0.003, deferred=0.007))
    sim.user("newsletter@example.org", segs, [net_of(ip)])
    return sim, ev, end, []


def s_invoice_run(step):
    end, ev = 3 * DAY, 2 * DAY + 9 * HOUR
    sim = Sim(step, end, 32)
    bystanders(sim, end)
    ip = "10.11.11.11"
    sim.user("billing@example.org", [Seg(0, end, 30 / DAY, [ip], workday=True),
                                      Seg(ev, ev + HOUR, total=2000, ips=[ip], rcpt=1, unknown=0.005, deferred=0.005)],
             [net_of(ip)])
    return sim, ev, end, [("SaslUserVolumeAnomaly", "billing@example.org", "confirm", None)]


def s_roaming(step):
    end, ev = 22 * HOUR, 8 * HOUR
    sim = Sim(step, end, 33)
    bystanders(sim, end)
    segs = [Seg(0, ev, 40 / DAY, ["10.12.12.12"], workday=True)]
    for k in range(6):  # airport, train, two hotels, a customer, a café: one /24 each
        segs.append(Seg(ev + k * 2 * HOUR, ev + k * 2 * HOUR + HOUR, total=7, ips=[f"192.0.{k + 2}.{50 + k}" if k < 2 else f"198.18.{k}.9"]))
    sim.user("roamer@example.org", segs, ["10.12.12.0/24"])
    return sim, ev, end, []


def s_shared_mailbox(step):
    end, ev = 22 * HOUR, 8 * HOUR
    sim = Sim(step, end, 34)
    bystanders(sim, end)
    staff = ["10.20.0.1", "10.20.0.1", "10.20.0.1", "10.20.0.1", "172.16.5.9", "172.16.9.2", "192.168.77.3", "10.99.1.7"]
    sim.user("info@example.org", [Seg(0, end, 300 / DAY, staff, workday=True)], sorted({net_of(i) for i in staff}))
    return sim, ev, end, []


def s_remote_outage(step):
    end, ev = 16 * HOUR, 10 * HOUR
    sim = Sim(step, end, 35)
    bystanders(sim, end)
    for k in range(30):
        ip = f"10.30.{k}.5"
        sim.user(f"staff{k:02d}@example.org", [Seg(0, ev, 300 / DAY, [ip], workday=True),
                                               Seg(ev, ev + 30 * MIN, 300 / DAY, [ip], workday=True, deferred=0.45),
                                               Seg(ev + 30 * MIN, end, 300 / DAY, [ip], workday=True)], [net_of(ip)])
    # Deferred mail waits in the queue for its retry: ~250 at the end of the
    # outage, drained over the next hour as the retries come due.
    qdep = lambda t: 3 + (int((t - ev) * 0.14) if ev <= t < ev + 30 * MIN else max(0, 252 - int((t - ev - 30 * MIN) * 0.07)) if t >= ev else 0)
    for q in ("active", "incoming", "maildrop", "hold"):
        sim.gauge(f'postfix_showq_queue_depth{{instance="{INSTANCE}",job="{JOB}",queue="{q}"}}', lambda t: 1)
    sim.gauge(f'postfix_showq_queue_depth{{instance="{INSTANCE}",job="{JOB}",queue="deferred"}}', qdep)
    return sim, ev, end, [("PostfixDeliveriesDeferred", None, "notify", 20 * MIN)]


# (file, step, category, function, kind)
SCENARIOS = [
    ("10s", 10, "fast burst from a dormant account", s_fast_burst_dormant, "compromise"),
    ("10s", 10, "brute force, then a login from the same address", s_brute_force_login, "compromise"),
    ("10s", 10, "unauthenticated abuse through sendmail (queue only)", s_sendmail_abuse, "compromise"),
    ("10s", 10, "exporter restart", s_exporter_restart, "legitimate"),
    ("10s", 10, "a phone flushing its outbox", s_phone_flush, "legitimate"),
    ("10s", 10, "one message to 800 recipients", s_one_message_800, "legitimate"),
    ("1m", 60, "medium rate from a normal account", s_medium_rate, "compromise"),
    ("1m", 60, "low and slow from one address", s_low_and_slow, "compromise"),
    ("1m", 60, "spammer paced just under every rate threshold", s_under_thresholds, "compromise"),
    ("1m", 60, "paced under the new volume floors too (harvested list)", s_under_new_floors, "compromise"),
    ("1m", 60, "botnet trickle from dozens of addresses", s_botnet_trickle, "compromise"),
    ("1m", 60, "big steady sender abused on top of its traffic", s_big_sender_abused, "compromise"),
    ("5m", 300, "weekly newsletter with its history", s_newsletter, "legitimate"),
    ("5m", 300, "month-end invoice run from a billing account", s_invoice_run, "legitimate"),
    ("1m", 60, "a roaming user on 6 networks", s_roaming, "legitimate"),
    ("1m", 60, "a shared mailbox used by 8 staff", s_shared_mailbox, "legitimate"),
    ("1m", 60, "a remote-domain outage (45% deferred for 30 min)", s_remote_outage, "legitimate"),
]


def alert_labels(alert, who, mitigation):
    sev, sugg = LABELS[(alert, mitigation)]
    lab = {"alertname": alert, "alertstate": "firing", "instance": INSTANCE, "job": JOB,
           "mitigation": mitigation, "severity": sev}
    if sugg:
        lab["suggested_actions"] = sugg
    if who:
        lab["client_ip" if alert == "SaslAuthBruteForce" else "sasl_username"] = who
    return lab


SET = "count by (alertname, sasl_username, client_ip, mitigation, suggested_actions) "
PRE = {"s_newsletter": [("SaslUserVolumeAnomaly", "newsletter@example.org", "confirm", None)]}


def set_samples(expect):
    out, seen = [], set()
    for alert, who, mitigation, within in expect:
        lab = alert_labels(alert, who, mitigation)
        del lab["alertstate"], lab["instance"], lab["job"], lab["severity"]
        key = lab_text(lab)
        if key not in seen:
            seen.add(key)
            out += [f"          - labels: '{key}'", "            value: 1"]
    return out


def lab_text(d, name=""):
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(d.items())) + "}"


def parse_measure():
    """Reads promtool's failure output of a --measure run: one line per delay."""
    import re, sys
    text = sys.stdin.read()
    for m in re.finditer(r"got: (\{[^}]*\}) (\S+)", text):
        labels, v = m.group(1), float(m.group(2))
        who = re.search(r'(?:sasl_username|client_ip)="([^"]+)"', labels)
        name = re.search(r'alertname="([^"]+)"', labels).group(1)
        mit = re.search(r'mitigation="([^"]+)"', labels).group(1)
        print(f"{name:32s} {who.group(1) if who else '-':28s} {mit:8s} {v:6.0f} s after the event starts")


def main():
    import sys
    if "--parse-measure" in sys.argv:
        return parse_measure()
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--measure", action="store_true")
    ap.add_argument("--only", help="substring of a category")
    a = ap.parse_args()
    files = {}
    for idx, (fname, step, category, fn, kind) in enumerate(SCENARIOS):
        if a.only and a.only not in category:
            continue
        sim, ev, end, expect = fn(step)
        t = ["  # " + category + f" ({kind})", f"  - interval: {step}s", "    input_series:"]
        for key, vals in sim.series.items():
            if all(v is None for v in vals):
                continue  # never published (a user's new-source counter without any)
            t.append(f"      - series: '{key}'")
            t.append(f"        values: '{sim.encode(vals)}'")
        t.append("    promql_expr_test:")
        # 1. Before the event, nothing fires (or exactly `pre`: the newsletter's
        #    first send, which has no history yet).
        pre = PRE.get(fn.__name__, [])
        t += ["      - expr: '%s(count_over_time(ALERTS{alertstate=\"firing\"}[%s]))'" % (SET, dur(ev)),
              f"        eval_time: {dur(ev)}", "        exp_samples:" + ("" if pre else " []")]
        t += set_samples(pre)
        # 2. Each bounded page fired within its bound (and, with --measure, its delay).
        for alert, who, mitigation, within in expect:
            if within is None:
                continue
            lab = alert_labels(alert, who, mitigation)
            sel = lab_text({k: v for k, v in lab.items()}, "ALERTS")
            if a.measure:
                expr = (f"min_over_time(timestamp({sel})[{dur(end - ev)}:{step}s]) - {ev}")
                t += [f"      - expr: '{expr}'", f"        eval_time: {dur(end)}",
                      "        exp_samples:", f"          - labels: '{lab_text({k: v for k, v in lab.items() if k != '__name__'})}'",
                      "            value: -1"]
            else:
                t += [f"      - expr: 'max_over_time({sel}[{dur(within)}])'",
                      f"        eval_time: {dur(ev + within)}",
                      "        exp_samples:", f"          - labels: '{lab_text(lab)}'", "            value: 1"]
        # 3. From the event to the end, exactly the expected set fired.
        t += ["      - expr: '%s(count_over_time(ALERTS{alertstate=\"firing\"}[%s]))'" % (SET, dur(end - ev)),
              f"        eval_time: {dur(end)}", "        exp_samples:" + ("" if expect else " []")]
        t += set_samples(expect)
        files[(f"{idx:02d}_{fname}", step)] = ["\n".join(t)]
    os.makedirs(a.out, exist_ok=True)
    for (fname, step), tests in files.items():
        with open(os.path.join(a.out, f"{fname}.test.yml"), "w") as f:
            f.write("# Generated by rules/tests/scenarios/gen.py: do not edit.\n")
            f.write("rule_files:\n  - %s\n" % os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "saslguard.rules.yml"), a.out))
            f.write(f"evaluation_interval: {step}s\n")
            f.write("group_eval_order: [%s]\n\ntests:\n" % ", ".join(RULES_GROUPS))
            f.write("\n\n".join(tests) + "\n")


if __name__ == "__main__":
    main()
