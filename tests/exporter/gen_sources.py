#!/usr/bin/env python3
"""Generates 40 days of SASL submissions with the exact new-source ground truth.

Writes two logs (days 0-19 and 20-39) and a JSON truth: per log, for every user
the exporter still tracks at its end, postfix_sasl_user_new_source_messages_total
and postfix_sasl_user_unknown_recipients_total. The truth follows the rules as
docs/exporter.md states them, implemented here independently of the exporter:

  network      IPv4 /24, IPv6 /64
  new          a network unused within the horizon becomes new when it appears;
               its submissions count as new for 24 hours after that
  learning     nothing is new before first_line + 7 days (kept across runs)
  horizon      a network last used more than 30 days ago is new again
  bounds       --max-users=40 users in the memory and in the user table, the
               least recently active forgotten first; the memory survives a
               restart (saved at the end of part 1), the counters do not
"""
import argparse, ipaddress, json, random
from collections import OrderedDict

ap = argparse.ArgumentParser()
ap.add_argument("--out1", required=True)
ap.add_argument("--out2", required=True)
ap.add_argument("--truth", required=True)
ap.add_argument("--seed", type=int, default=5)
a = ap.parse_args()
rng = random.Random(a.seed)

DAY = 86400
T0 = 1_767_225_600          # 2026-01-01T00:00:00Z
LEARNING, HORIZON, NEW_FOR, CAP = 7 * DAY, 30 * DAY, DAY, 40

events = []  # (t, user, ip, bounce_dsn or None)
def send(t, user, ip, bounce=None):
    events.append((t, user, ip, bounce))

# 25 regular users: home /24 every working day, office /24 now and then.
for i in range(25):
    home = f"10.{i}.1.{rng.randint(1, 254)}"
    office = f"172.16.{i % 4}.{rng.randint(1, 254)}"
    for d in range(40):
        if d % 7 in (5, 6) and rng.random() < 0.7:
            continue
        for _ in range(rng.randint(1, 4)):
            t = T0 + d * DAY + rng.randint(8 * 3600, 18 * 3600)
            send(t, f"user{i:02d}@example.org", office if rng.random() < 0.3 else home,
                 "5.1.1" if rng.random() < 0.02 else ("5.7.1" if rng.random() < 0.02 else None))
# A roaming user on 6 networks, one a week.
nets = [f"198.51.{100 + k}.{rng.randint(1, 254)}" for k in range(6)]
for d in range(40):
    send(T0 + d * DAY + 9 * 3600, "roamer@example.org", nets[min(d // 7, 5)])
# A phone on a carrier that hands out addresses from 30 /24s.
for d in range(40):
    for _ in range(3):
        send(T0 + d * DAY + rng.randint(7 * 3600, 22 * 3600), "phone@example.org",
             f"100.64.{rng.randrange(30)}.{rng.randint(1, 254)}")
# IPv6: a stable /64 with changing interface ids, a second /64 from day 30.
for d in range(40):
    p = "2001:db8:77:1" if d < 30 else "2001:db8:77:2"
    send(T0 + d * DAY + 12 * 3600, "six@example.org", f"{p}::{rng.randrange(1, 65535):x}")
# A dormant account wakes up on day 25 from a VPS and sends 200 messages, 30% to made-up addresses.
for k in range(200):
    send(T0 + 25 * DAY + 3 * 3600 + k * 7, "dormant@example.org", f"203.0.113.{1 + k % 3}",
         "5.1.1" if k % 10 < 3 else None)
# Back after 33 days of silence, from the same /24: new again (horizon 30 days).
for d in (1, 2, 3, 36, 37):
    send(T0 + d * DAY + 10 * 3600, "returner@example.org", "192.0.2.44")
# 20 one-off users on day 10 push the table past --max-users=40: the least recently
# active users are forgotten (evicted, counters and networks lost).
for k in range(20):
    send(T0 + 10 * DAY + 23 * 3600 + k, f"oneoff{k:02d}@example.org", f"10.200.{k}.1")
events.sort(key=lambda e: e[0])

def net_of(ip):
    a = ipaddress.ip_address(ip)
    return str(ipaddress.ip_network(f"{ip}/{24 if a.version == 4 else 64}", strict=False))

memory = OrderedDict()   # user -> {net: last_seen}; persisted; last item = most recent
learning_since = None
truth = {}
q = 0
for part, path, lo, hi in (("part1", a.out1, 0, 20), ("part2", a.out2, 20, 40)):
    table = OrderedDict()  # user -> {"new": n, "unknown": n}; per process
    now = None
    with open(path, "w") as f:
        for t, user, ip, bounce in events:
            if not (T0 + lo * DAY <= t < T0 + hi * DAY):
                continue
            q += 1
            qid = f"{q:010X}"
            ts = f"{__import__('time').strftime('%Y-%m-%dT%H:%M:%S', __import__('time').gmtime(t))}Z mail"
            f.write(f"{ts} postfix/submission/smtpd[9]: {qid}: client=unknown[{ip}], sasl_method=PLAIN, sasl_username={user}\n")
            f.write(f"{ts} postfix/qmgr[8]: {qid}: from=<{user}>, size=1200, nrcpt=1 (queue active)\n")
            if bounce:
                why = "550 5.1.1 <x@remote.example>: User unknown" if bounce == "5.1.1" else "554 5.7.1 Service unavailable; blocked"
                f.write(f"{ts} postfix/smtp[7]: {qid}: to=<x@remote.example>, relay=mx.remote.example[192.0.2.25]:25, delay=0.3, delays=0/0/0.1/0.2, dsn={bounce}, status=bounced (host mx.remote.example[192.0.2.25] said: {why} (in reply to RCPT TO command))\n")
            else:
                f.write(f"{ts} postfix/smtp[7]: {qid}: to=<x@remote.example>, relay=mx.remote.example[192.0.2.25]:25, delay=0.3, delays=0/0/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n")
            f.write(f"{ts} postfix/qmgr[8]: {qid}: removed\n")
            now = t if now is None else max(now, t)
            if learning_since is None:
                learning_since = now
            # user table (this process): LRU, counters from 0 on (re)entry
            if user not in table:
                if len(table) >= CAP:
                    table.popitem(last=False)
                table[user] = {"new": 0, "unknown": 0}
            table.move_to_end(user)
            # source memory: LRU users, networks within the horizon
            if user not in memory:
                if len(memory) >= CAP:
                    memory.popitem(last=False)
                memory[user] = {}
            memory.move_to_end(user)
            nets = {n: fl for n, fl in memory[user].items() if fl[1] >= now - HORIZON}
            n = net_of(ip)
            first = nets[n][0] if n in nets else now
            nets[n] = (first, now)
            memory[user] = nets
            if first >= learning_since + LEARNING and now - first < NEW_FOR:
                table[user]["new"] += 1
            if bounce == "5.1.1":
                table[user]["unknown"] += 1
    truth[part] = {"new_source_messages": {u: float(c["new"]) for u, c in table.items()},
                   "unknown_recipients": {u: float(c["unknown"]) for u, c in table.items()}}
    # The save at the end of the run drops what is past the horizon.
    for u in list(memory):
        memory[u] = {n: fl for n, fl in memory[u].items() if fl[1] >= now - HORIZON}
        if not memory[u]:
            del memory[u]
json.dump(truth, open(a.truth, "w"), indent=1, sort_keys=True)
