#!/usr/bin/env python3
"""Paced SMTP AUTH submissions for the end-to-end stack (tests/lib/stack.sh):
the normal users and the spammer's burst. One long-lived process per traffic
stream, so the rate holds on a loaded machine without starting a client
program per message (one swaks costs ~0.15 s of CPU: at 10 msg/s that alone
would take most of a 2-core machine).

  smtp_load.py PORT RATE IP_BASE IP_COUNT RCPT_TEMPLATE LOG < CREDENTIALS

CREDENTIALS: "user<TAB>password" lines. Message n (0, 1, …) is sent at
start + n/RATE seconds (on the clock, each in its own thread, so a slow session
never delays the next) by user n mod U, from client address IP_BASE + (n mod
IP_COUNT) (last octet), to RCPT_TEMPLATE with {n} replaced. Runs until SIGTERM.
Appends "n start_unix end_unix code user" per message to LOG: code 250 =
queued, the SMTP reply code of the refusal otherwise, 0 = no reply (network).
"""
import concurrent.futures
import ipaddress
import signal
import smtplib
import sys
import threading
import time

port, rate, ip_base, ip_count, rcpt_template, log_path = (
    int(sys.argv[1]), float(sys.argv[2]), ipaddress.IPv4Address(sys.argv[3]), int(sys.argv[4]),
    sys.argv[5], sys.argv[6])
creds = [tuple(line.rstrip("\n").split("\t", 1)) for line in sys.stdin if "\t" in line]
if not creds or rate <= 0 or ip_count <= 0:
    sys.exit("smtp_load: need credentials on stdin, RATE > 0 and IP_COUNT > 0")

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
log_lock = threading.Lock()
log = open(log_path, "a", buffering=1)


def send(n):
    user, password = creds[n % len(creds)]
    ip = str(ip_base + (n % ip_count))
    rcpt = rcpt_template.replace("{n}", str(n))
    start = time.time()
    code = 0
    try:
        with smtplib.SMTP("127.0.0.1", port, source_address=(ip, 0), timeout=60) as s:
            s.ehlo("client.example")
            s.login(user, password)
            msg = f"From: {user}\r\nTo: {rcpt}\r\nSubject: message {n}\r\n\r\nmessage {n}\r\n"
            s.sendmail(user, [rcpt], msg)
            code = 250
    except smtplib.SMTPRecipientsRefused as e:
        code = next(iter(e.recipients.values()))[0]
    except smtplib.SMTPResponseException as e:  # sender refused, data error, AUTH failed, …
        code = e.smtp_code
    except (OSError, smtplib.SMTPException):
        code = 0
    with log_lock:
        log.write(f"{n} {start:.3f} {time.time():.3f} {code} {user}\n")


with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
    t0 = time.monotonic()
    n = 0
    while not stop.is_set():
        pool.submit(send, n)
        n += 1
        stop.wait(max(0.0, t0 + n / rate - time.monotonic()))
    pool.shutdown(wait=True, cancel_futures=True)
