#!/usr/bin/env python3
"""A stand-in Postfix policy service (SMTPD_POLICY_README's protocol) for
tests/harness/postfix_sink_policy_test.sh: saslguard's own policy service does
not exist yet (issue #16), and this test only proves where the private
Postfix asks one. It answers every request on 127.0.0.1:PORT and appends
"<protocol_state> <server_port> <sasl_username>" to LOG for each.

  policy_stub.py PORT LOG [STATE=USER ...]

STATE=USER rejects USER's request in STATE (RCPT or END-OF-MESSAGE) with
"REJECT blocked by the test policy"; everything else is DUNNO.
"""
import socketserver
import sys
import threading

port, log_path = int(sys.argv[1]), sys.argv[2]
rejects = {tuple(a.split("=", 1)) for a in sys.argv[3:]}
lock = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        attrs = {}
        for raw in self.rfile:  # smtpd keeps the connection for many requests
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                key, _, value = line.partition("=")
                attrs[key] = value
                continue
            state, user = attrs.get("protocol_state", ""), attrs.get("sasl_username", "")
            with lock, open(log_path, "a") as f:
                f.write(f"{state} {attrs.get('server_port', '')} {user or '-'}\n")
            action = "REJECT blocked by the test policy" if (state, user) in rejects else "DUNNO"
            self.wfile.write(f"action={action}\n\n".encode())
            self.wfile.flush()
            attrs = {}


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


with Server(("127.0.0.1", port), Handler) as server:
    print("ready", flush=True)
    server.serve_forever()
