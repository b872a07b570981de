#!/usr/bin/env python3
"""The live exporter feed of the rules benchmark: Postfix log lines of USERS
SASL accounts appended to LOG in real time (the real saslguard-exporter tails
it). Every account submits at least once in the first minute (all of them are
tracked, the exporter's --max-users cap), then at its own rate (lognormal,
a few per hour to a few per minute). Runs until killed."""
import argparse, math, random, time

ap = argparse.ArgumentParser()
ap.add_argument("--users", type=int, default=10000)
ap.add_argument("--log", required=True)
ap.add_argument("--rate", type=float, default=150.0, help="messages/s over all users")
a = ap.parse_args()
rng = random.Random(4)
w = [math.exp(rng.gauss(0, 1.2)) for _ in range(a.users)]
tot = sum(w)
q = 0
def lines(t, u):
    global q
    q += 1
    qid = f"{q:010X}"
    ip = f"10.{u // 250 % 250}.{u % 250}.{7 + (q % 3 == 0)}"
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + "Z mail"
    name = f"user{u:05d}@example.org"
    st, dsn = ("sent", "2.0.0") if rng.random() > 0.03 else ("bounced", "5.1.1")
    return (f"{ts} postfix/submission/smtpd[1]: {qid}: client=unknown[{ip}], sasl_method=PLAIN, sasl_username={name}\n"
            f"{ts} postfix/cleanup[2]: {qid}: message-id=<{qid}@example.org>\n"
            f"{ts} postfix/qmgr[3]: {qid}: from=<{name}>, size=2000, nrcpt=1 (queue active)\n"
            f"{ts} postfix/smtp[4]: {qid}: to=<r{q}@remote.example>, relay=mx[192.0.2.1]:25, delay=0.2, delays=0/0/0.1/0.1, dsn={dsn}, status={st} (250 ok)\n"
            f"{ts} postfix/qmgr[3]: {qid}: removed\n")
with open(a.log, "a") as f:
    order = list(range(a.users))
    rng.shuffle(order)
    start = time.time()
    # First minute: every account once.
    for i, u in enumerate(order):
        f.write(lines(time.time(), u))
        if i % 500 == 499:
            f.flush()
            time.sleep(max(0, start + 60 * (i + 1) / a.users - time.time()))
    f.flush()
    while True:
        t0 = time.time()
        n = int(a.rate) + (rng.random() < a.rate - int(a.rate))
        for u in rng.choices(range(a.users), weights=w, k=n):
            f.write(lines(t0, u))
        f.flush()
        time.sleep(max(0, 1 - (time.time() - t0)))
