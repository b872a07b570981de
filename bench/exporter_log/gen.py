#!/usr/bin/env python3
"""Generates a realistic Postfix log for the exporter benchmark, with its ground truth.

Traffic: ~1.5k SASL users submitting on the submission and smtps services
(postfix/submission/smtpd, postfix/smtps/smtpd), several thousand inbound
senders without SASL (delivered by lmtp), SASL brute force from a few thousand
IPs, relay rejects, noise the exporter does not parse, and one compromised
account bursting from hundreds of IPs in the last minutes. Deliveries leave
through postfix/smtp and postfix-out/smtp; ~10% defer (and stay queued).

The ground truth (JSON) holds the exact value the exporter must report for
each series, computed from the generated events, not from any parser.
Usage: gen.py --lines N --format classic|iso --out FILE --truth FILE [--seed S]
"""
import argparse, json, random, time
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("--lines", type=int, default=1_000_000)
ap.add_argument("--format", choices=["classic", "iso"], default="classic")
ap.add_argument("--out", required=True)
ap.add_argument("--truth", required=True)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--users", type=int, default=1500)
ap.add_argument("--senders", type=int, default=5000)
ap.add_argument("--window", type=int, default=600)
a = ap.parse_args()
rnd = random.Random(a.seed)

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
span = 3 * 3600
end = int(time.time()) - 60
start = end - span
users = [f"user{i:04d}@example.org" for i in range(a.users)]
user_ip = [f"10.{i // 250}.{i % 250}.{rnd.randint(1, 254)}" for i in range(a.users)]
compromised = users[7]
burst_ips = [f"198.51.{100 + i // 250}.{i % 250 + 1}" for i in range(300)]
senders = [(f"sender{i}@remote{i % 700}.example", f"192.0.{2 + i // 250 % 200}.{i % 250 + 1}") for i in range(a.senders)]
attackers = [f"203.0.{113 + i // 250}.{i % 250 + 1}" if i % 7 else f"2001:db8:bad::{i:x}" for i in range(2500)]
heavy = attackers[:5]

messages = defaultdict(int); rcpts = defaultdict(int)
deliv = defaultdict(int)            # (user, status)
fails = defaultdict(int)            # method
fail_ts = defaultdict(list)         # ip -> [ts]
ip_seen = defaultdict(dict)         # user -> ip -> last ts
connects = rejects = parsed = unsupported = 0
processed = defaultdict(int)
qseq = 0

out = open(a.out, "w", buffering=1 << 20)
lines_written = 0
_cache = [None, ""]
def stamp(t):
    s = int(t)
    if a.format == "classic":
        if _cache[0] != s:
            tm = time.gmtime(s)
            _cache[0] = s
            _cache[1] = f"{MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} mail "
        return _cache[1]
    tm = time.gmtime(s)
    return f"{tm.tm_year}-{tm.tm_mon:02d}-{tm.tm_mday:02d}T{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}.{int((t - s) * 1e6):06d}+00:00 mail "

def emit(t, rest, ok=True):
    global lines_written, parsed, unsupported
    out.write(stamp(t) + rest + "\n")
    lines_written += 1
    if ok: parsed += 1
    else: unsupported += 1

def qid():
    global qseq
    qseq += 1
    return f"{(qseq * 2654435761) & 0xFFFFFFFFFF:010X}"

t = float(start)
step = span / (a.lines / 6.5)
pid = 1000
while lines_written < a.lines:
    t += rnd.random() * 2 * step
    pid = 1000 + rnd.randrange(5000)
    in_burst = t > end - 480
    r = rnd.random()
    if in_burst and r < 0.4:
        kind, user, ip = "sasl", compromised, rnd.choice(burst_ips)
    elif r < 0.35:
        u = rnd.randrange(a.users)
        kind, user, ip = "sasl", users[u], user_ip[u]
    elif r < 0.75:
        kind = "inbound"
    elif r < 0.88:
        kind = "fail"
    elif r < 0.94:
        kind = "reject"
    else:
        kind = "noise"

    if kind == "sasl":
        svc = "submission" if rnd.random() < 0.7 else "smtps"
        tag = f"postfix/{svc}/smtpd[{pid}]: "
        q = qid(); n = rnd.choice((1, 1, 1, 2, 3))
        method = "PLAIN" if rnd.random() < 0.8 else "LOGIN"
        emit(t, f"{tag}connect from unknown[{ip}]"); connects += 1
        emit(t, f"{tag}{q}: client=unknown[{ip}], sasl_method={method}, sasl_username={user}")
        messages[user] += 1; ip_seen[user][ip] = int(t)
        emit(t, f"postfix/cleanup[{pid + 1}]: {q}: message-id=<{q}@example.org>")
        emit(t, f"postfix/qmgr[999]: {q}: from=<{user}>, size={rnd.randint(500, 90000)}, nrcpt={n} (queue active)")
        rcpts[user] += n
        emit(t, f"{tag}disconnect from unknown[{ip}] ehlo=1 auth=1 mail=1 rcpt={n} data=1 quit=1 commands={5 + n}")
        any_deferred = False
        for k in range(n):
            x = rnd.random()
            status = "sent" if x < 0.85 else ("deferred" if x < 0.95 else "bounced")
            any_deferred |= status == "deferred"
            name = "postfix-out" if rnd.random() < 0.3 else "postfix"
            dsn = {"sent": "2.0.0", "deferred": "4.4.1", "bounced": "5.1.1"}[status]
            emit(t, f"{name}/smtp[{pid + 2}]: {q}: to=<r{k}@dest{rnd.randrange(900)}.example>, relay=mx.dest.example[192.0.2.200]:25, "
                    f"delay=0.5, delays=0.1/0/0.2/0.2, dsn={dsn}, status={status} (250 2.0.0 Ok)")
            deliv[(user, status)] += 1; processed[status] += 1
            if status == "deferred":
                emit(t, f"{name}/smtp[{pid + 2}]: connect to mx.dest.example[192.0.2.200]:25: Connection timed out", ok=False)
        if not any_deferred:
            emit(t, f"postfix/qmgr[999]: {q}: removed")
    elif kind == "inbound":
        frm, ip = senders[rnd.randrange(a.senders)]
        q = qid()
        emit(t, f"postfix/smtpd[{pid}]: connect from mx.{ip.replace('.', '-')}.example[{ip}]"); connects += 1
        emit(t, f"postfix/smtpd[{pid}]: {q}: client=mx.{ip.replace('.', '-')}.example[{ip}]")
        emit(t, f"postfix/cleanup[{pid + 1}]: {q}: message-id=<{q}@remote.example>")
        emit(t, f"postfix/qmgr[999]: {q}: from=<{frm}>, size={rnd.randint(500, 90000)}, nrcpt=1 (queue active)")
        emit(t, f"postfix/lmtp[{pid + 3}]: {q}: to=<{rnd.choice(users)}>, relay=mail.example.org[private/dovecot-lmtp], delay=0.1, "
                f"delays=0.05/0/0/0.05, dsn=2.0.0, status=sent (250 2.0.0 Saved)")
        emit(t, f"postfix/qmgr[999]: {q}: removed")
        emit(t, f"postfix/smtpd[{pid}]: disconnect from mx.{ip.replace('.', '-')}.example[{ip}] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5")
    elif kind == "fail":
        ip = rnd.choice(heavy) if rnd.random() < 0.3 else rnd.choice(attackers)
        svc = rnd.choice(("postfix/submission/smtpd", "postfix/smtps/smtpd", "postfix/smtpd"))
        method = "LOGIN" if rnd.random() < 0.6 else "PLAIN"
        emit(t, f"{svc}[{pid}]: connect from unknown[{ip}]"); connects += 1
        tail = f", sasl_username={rnd.choice(users)}" if rnd.random() < 0.5 else ""
        emit(t, f"{svc}[{pid}]: warning: unknown[{ip}]: SASL {method} authentication failed: "
                f"{'UGFzc3dvcmQ6' if method == 'LOGIN' else 'authentication failure'}{tail}")
        fails[method] += 1; fail_ts[ip].append(int(t))
        emit(t, f"{svc}[{pid}]: disconnect from unknown[{ip}] ehlo=1 auth=0/1 quit=1 commands=2/3")
    elif kind == "reject":
        frm, ip = senders[rnd.randrange(a.senders)]
        emit(t, f"postfix/smtpd[{pid}]: connect from unknown[{ip}]"); connects += 1
        emit(t, f"postfix/smtpd[{pid}]: NOQUEUE: reject: RCPT from unknown[{ip}]: 554 5.7.1 <v@else.example>: Relay access denied; "
                f"from=<{frm}> to=<v@else.example> proto=ESMTP helo=<x>")
        rejects += 1
        emit(t, f"postfix/smtpd[{pid}]: disconnect from unknown[{ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4")
    else:
        emit(t, rnd.choice((f"postfix/anvil[998]: statistics: max connection rate 3/60s for (smtp:192.0.2.9) at Nov 23 09:00:00",
                            f"postfix/smtpd[{pid}]: lost connection after AUTH from unknown[203.0.113.9]",
                            f"postfix/pickup[997]: ABCDE12345: uid=0 from=<root>",
                            f"sshd[{pid}]: Accepted publickey for root from 192.0.2.1 port 22 ssh2")), ok=False)
out.close()

now = int(t)
nowb = now // 60
series = {}
for u in users:
    if messages[u] == 0: continue
    lab = f'sasl_username="{u}"'
    series[f"postfix_sasl_user_messages_total{{{lab}}}"] = messages[u]
    series[f"postfix_sasl_user_recipients_total{{{lab}}}"] = rcpts[u]
    for s in ("sent", "deferred", "bounced", "expired"):
        series[f'postfix_sasl_user_deliveries_total{{{lab},status="{s}"}}'] = deliv[(u, s)]
    series[f"postfix_sasl_user_client_ips{{{lab}}}"] = sum(1 for v in ip_seen[u].values() if v > now - a.window)
for m in ("PLAIN", "LOGIN"):
    series[f'postfix_smtpd_sasl_authentication_failures_total{{sasl_method="{m}"}}'] = fails[m]
for s in ("sent", "deferred", "bounced"):
    series[f'postfix_smtp_messages_processed_total{{status="{s}"}}'] = processed[s]
series["postfix_smtpd_connects_total"] = connects
series['postfix_smtpd_messages_rejected_total{code="554"}'] = rejects
series['saslguard_exporter_log_lines_total{result="parsed"}'] = parsed
series['saslguard_exporter_log_lines_total{result="unsupported"}'] = unsupported
series["saslguard_exporter_tracked_users"] = sum(1 for u in users if messages[u])
failures_window = {ip: sum(1 for x in ts if x // 60 > nowb - 10) for ip, ts in fail_ts.items()}
json.dump({"lines": lines_written, "series": series,
           "failures_in_window": {k: v for k, v in failures_window.items() if v},
           "compromised": compromised}, open(a.truth, "w"))
print(f"gen: {lines_written} lines, {len([u for u in users if messages[u]])} SASL users, {connects} connects -> {a.out}")
