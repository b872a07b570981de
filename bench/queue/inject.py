#!/usr/bin/env python3
"""Queue N messages in a private Postfix fast: SMTP AUTH on the submission port,
many messages per session, several sessions in parallel.

Senders are skewed like an incident: one "compromised" account sends 40% of the
messages, the rest spread over 500 ordinary senders (so the top-K cut and the
__other__ bucket both matter). Recipients are remote, so with the harness's dead
relayhost every message ends up deferred.

usage: inject.py PORT USER PASS COUNT [PARALLEL] [PER_SESSION]
"""
import smtplib
import sys
import threading
import time

port, user, password, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
parallel = int(sys.argv[5]) if len(sys.argv) > 5 else 4
per_session = int(sys.argv[6]) if len(sys.argv) > 6 else 500

BODY = ("Subject: queue benchmark\r\n\r\n" + "x" * 600 + "\r\n").encode()


def sender(i: int) -> str:
    if i % 5 < 2:
        return "compromised@saslguard.test"
    return "user%03d@saslguard.test" % (i % 500)


errors = []
lock = threading.Lock()
next_index = [0]


def take(n: int):
    with lock:
        start = next_index[0]
        end = min(count, start + n)
        next_index[0] = end
        return start, end


def worker():
    while True:
        start, end = take(per_session)
        if start >= end:
            return
        try:
            s = smtplib.SMTP("127.0.0.1", port, timeout=60)
            s.login(user, password)
            for i in range(start, end):
                s.sendmail(sender(i), ["rcpt%d@remote.example" % (i % 97)], BODY)
            s.quit()
        except Exception as e:  # report, let the caller check the queue count
            errors.append(repr(e))
            return


t0 = time.time()
threads = [threading.Thread(target=worker) for _ in range(parallel)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors:
    print("inject: errors: %s" % errors[:3], file=sys.stderr)
    sys.exit(1)
print("inject: %d messages in %.1f s" % (count, time.time() - t0), file=sys.stderr)
