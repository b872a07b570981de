#!/usr/bin/env python3
"""Checks the saslguard Grafana dashboard, and runs its queries against a Prometheus.

    dashboard_check.py structure DASHBOARD.json
        Structure: stable uid, variables defined (datasource, instance, receiver),
        every panel with the datasource variable, a unit and at least one target,
        panel ids and refIds unique, every $variable used is defined or built in,
        the panels DESIGN/issue #8 ask for are there (by the metrics they read).

    dashboard_check.py queries DASHBOARD.json PROMETHEUS_URL [--report FILE]
        Every PromQL expression (panel targets and annotations), with variables
        substituted, as an instant query: each must parse (status success). Those
        reading exporter and rule series must return data; those reading
        saslguard_receiver_* must parse, and the report says which returned data
        (the receiver may not be scraped in every run). The variables' own queries
        (label_values) are checked through /api/v1/series.

Exit status 1 with one line per problem.
"""
import json
import re
import sys
import urllib.parse
import urllib.request

BUILTIN_VARS = {"__range", "__rate_interval", "__interval", "__all"}
SUBST = {
    "$instance": ".*", "$receiver": ".*",
    "$__rate_interval": "1m", "$__range": "1h", "$__interval": "10s",
    "${datasource}": "",
}
# Metrics the issue asks panels for (queue, users, IPs, bounce ratio, SASL failures
# and IPs, deliveries, alerts, mitigations, blocks, health).
REQUIRED_METRICS = [
    "postfix_showq_queue_depth", "instance:postfix_showq_queue_depth:surge_threshold",
    "postfix_queue_sender_messages", "sasl_username:postfix_sasl_user_messages:rate1m",
    "postfix_sasl_user_messages_total", "postfix_sasl_user_client_ips",
    "sasl_username:postfix_sasl_user_unknown_recipients:ratio15m",
    "sasl_username:postfix_sasl_user_messages:volume15m_threshold",
    "sasl_username:postfix_sasl_user_new_source_messages:increase15m",
    "postfix_smtpd_sasl_authentication_failures_total", "postfix_sasl_failures_by_client_ip",
    "postfix_smtp_messages_processed_total", "ALERTS", "saslguard_receiver_actions_total",
    "saslguard_receiver_active_blocks", "saslguard_exporter_last_log_line_timestamp_seconds",
    "saslguard_exporter_log_lines_total", "saslguard_receiver_telegram_outbox_pending",
    "saslguard_receiver_queue_backlog",
]


def load(path):
    with open(path) as f:
        return json.load(f)


def expressions(d):
    """(where, expr) for every panel target and annotation query."""
    out = []
    for p in d["panels"]:
        for t in p.get("targets", []):
            out.append((f'panel "{p.get("title")}" {t.get("refId")}', t.get("expr", "")))
    for a in d.get("annotations", {}).get("list", []):
        if a.get("expr"):
            out.append((f'annotation "{a["name"]}"', a["expr"]))
    return out


def substitute(expr):
    for k, v in SUBST.items():
        expr = expr.replace(k, v)
    return expr


def check_structure(d):
    errors = []
    if d.get("uid") != "saslguard-overview":
        errors.append(f"uid is {d.get('uid')!r}, expected the stable 'saslguard-overview'")
    variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        errors.append("no `datasource` variable of type datasource/prometheus")
    for name in ("instance", "receiver"):
        v = variables.get(name)
        if not v or v.get("type") != "query" or not v.get("definition"):
            errors.append(f"variable {name} missing or without a query")
        elif v.get("datasource", {}).get("uid") != "${datasource}":
            errors.append(f"variable {name} does not use the datasource variable")
    ids, seen_metrics = set(), set()
    for p in d["panels"]:
        title = p.get("title", "?")
        if p.get("id") in ids:
            errors.append(f'panel "{title}": duplicate id {p.get("id")}')
        ids.add(p.get("id"))
        if p.get("type") == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            errors.append(f'panel "{title}": datasource is not ${{datasource}}')
        if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            errors.append(f'panel "{title}": no unit')
        targets = p.get("targets", [])
        if not targets:
            errors.append(f'panel "{title}": no target')
        refids = [t.get("refId") for t in targets]
        if len(set(refids)) != len(refids) or None in refids:
            errors.append(f'panel "{title}": refIds missing or not unique')
        for t in targets:
            if not t.get("expr"):
                errors.append(f'panel "{title}": target {t.get("refId")} without expr')
            if t.get("datasource", {}).get("uid") != "${datasource}":
                errors.append(f'panel "{title}": target {t.get("refId")} datasource is not ${{datasource}}')
        if not p.get("gridPos"):
            errors.append(f'panel "{title}": no gridPos')
    for where, expr in expressions(d):
        for var in re.findall(r"\$\{?(\w+)", expr):
            if var not in variables and var not in BUILTIN_VARS:
                errors.append(f"{where}: uses undefined variable ${var}")
        seen_metrics.update(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    for m in REQUIRED_METRICS:
        if m not in seen_metrics:
            errors.append(f"no panel reads {m}")
    names = [a.get("name") for a in d.get("annotations", {}).get("list", [])]
    for want in ("saslguard alerts", "saslguard actions"):
        if want not in names:
            errors.append(f"annotation {want!r} missing")
    return errors


def query(url, expr):
    data = urllib.parse.urlencode({"query": expr}).encode()
    req = urllib.request.Request(url.rstrip("/") + "/api/v1/query", data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # 400 on a parse error, with the reason in the body
        return json.load(e)


def series_exist(url, match):
    qs = urllib.parse.urlencode({"match[]": match})
    with urllib.request.urlopen(url.rstrip("/") + "/api/v1/series?" + qs, timeout=10) as r:
        return len(json.load(r)["data"]) > 0


def check_queries(d, url, report):
    errors, lines = [], []
    for where, expr in expressions(d):
        e = substitute(expr)
        res = query(url, e)
        receiver = "saslguard_receiver_" in e
        if res.get("status") != "success":
            errors.append(f"{where}: does not parse: {res.get('error')} :: {e}")
            continue
        n = len(res["data"]["result"]) if isinstance(res["data"]["result"], list) else 1
        state = "data" if n else "NO DATA"
        lines.append(f"{state:8} {'receiver' if receiver else 'exporter':8} {where}: {e}")
        if not n and not receiver:
            errors.append(f"{where}: returned no data :: {e}")
    # The variables' label_values(metric, label) queries.
    for v in d["templating"]["list"]:
        m = re.match(r"label_values\((\w+),\s*(\w+)\)", v.get("definition", ""))
        if m:
            ok = series_exist(url, m.group(1))
            lines.append(f"{'data' if ok else 'NO DATA':8} variable {v['name']}: {v['definition']}")
            if not ok and not m.group(1).startswith("saslguard_receiver_"):
                errors.append(f"variable {v['name']}: no series for {m.group(1)}")
    text = "\n".join(lines) + "\n"
    if report:
        with open(report, "w") as f:
            f.write(text)
    sys.stdout.write(text)
    return errors


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("structure", "queries"):
        print(__doc__, file=sys.stderr)
        return 2
    d = load(sys.argv[2])
    if sys.argv[1] == "structure":
        errors = check_structure(d)
        n = sum(1 for p in d["panels"] if p.get("type") != "row")
        print(f"dashboard: {n} panels, {len(expressions(d))} expressions, {len(errors)} problems")
    else:
        report = sys.argv[sys.argv.index("--report") + 1] if "--report" in sys.argv else None
        errors = check_queries(d, sys.argv[3], report)
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
