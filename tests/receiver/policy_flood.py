#!/usr/bin/env python3
"""Bad clients for the SMTP policy service (tests/receiver/receiver_policy_postfix_test.sh):
hold OPEN connections that each start a request and never end it, and open and
close CHURN more that send a malformed request, a request without sasl_username
or a line far over the limit, until SECONDS pass. Prints what it did.

  policy_flood.py PORT OPEN CHURN SECONDS
"""
import socket
import sys
import time

port, n_open, n_churn, seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
BAD = [
    b"this is not a policy request\n\n",
    b"request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n\n",
    b"request=smtpd_access_policy\nsender=" + b"x" * 20000 + b"\n\n",
    b"request=junk\n\n",
]
held, answers, refused = [], 0, 0
for i in range(n_open):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\n")  # never ends
        held.append(s)
    except OSError:
        refused += 1
deadline = time.monotonic() + seconds
i = 0
while time.monotonic() < deadline and i < n_churn:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(BAD[i % len(BAD)])
            data = s.recv(100)
            if data.startswith(b"action=DUNNO"):
                answers += 1
    except OSError:
        refused += 1
    i += 1
# Keep the open ones until the deadline (the request timeout closes them first).
while time.monotonic() < deadline:
    time.sleep(0.2)
for s in held:
    s.close()
print(f"open={len(held)} churned={i} dunno={answers} refused_or_reset={refused}")
