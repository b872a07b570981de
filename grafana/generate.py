#!/usr/bin/env python3
"""Generates the saslguard Grafana dashboard (provisioning/dashboards/saslguard/saslguard.json).

The JSON is what Grafana loads; this script is how it is edited: panels are
declared once below as (title, unit, queries) and laid out on the 24-column grid
automatically. Run it after a change and commit both files; the test
tests/grafana/dashboard_test.sh fails when the JSON is not what this prints.

    python3 grafana/generate.py            # rewrite the JSON
    python3 grafana/generate.py --check    # exit 1 if the JSON is out of date

Conventions
- Datasource: the `datasource` variable (type prometheus) on every panel and
  target, so the dashboard works with any Prometheus data source name.
- `instance` selects exporter instances (mail hosts); `receiver` selects
  saslguard-receiver instances (their `instance` label is the receiver's own).
- Thresholds drawn on graphs are the rules' own threshold series
  (saslguard:threshold:*, rules/saslguard.rules.yml), so the line is the line the
  alert compares against.
- Rate windows use $__rate_interval.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "provisioning", "dashboards", "saslguard", "saslguard.json")
UID = "saslguard-overview"
DS = {"type": "prometheus", "uid": "${datasource}"}
INST = 'instance=~"$instance"'
RECV = 'instance=~"$receiver"'
SASLGUARD_ALERTS = ("PostfixQueueSurge|SaslUserSendingSurge|SaslUserManyClientIPs|SaslUserHighBounceRatio|"
                    "SaslAuthBruteForce|PostfixDown|SaslguardExporterDown|SaslguardLogStalled")

# Colours: red is reserved for "alerting / threshold", orange for warnings.
RED, ORANGE, GREEN, BLUE = "red", "orange", "green", "blue"


def q(expr, legend="", instant=False):
    return {"expr": expr, "legendFormat": legend, "instant": instant}


def thresholds(*steps):
    """steps: (value or None, colour)."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def threshold_line_override(legend):
    """A series drawn as a dashed red threshold line."""
    return {
        "matcher": {"id": "byName", "options": legend},
        "properties": [
            {"id": "color", "value": {"mode": "fixed", "fixedColor": RED}},
            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
            {"id": "custom.fillOpacity", "value": 0},
            {"id": "custom.lineWidth", "value": 2},
        ],
    }


def timeseries(title, unit, queries, description="", threshold_legends=(), steps=None,
               stack=False, draw="line", min_=0, max_=None, width=12, height=8):
    custom = {
        "drawStyle": draw, "lineWidth": 1, "fillOpacity": 10 if not stack else 60,
        "showPoints": "never", "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": "off"},
    }
    defaults = {"unit": unit, "color": {"mode": "palette-classic"}, "custom": custom,
                "thresholds": steps or thresholds((None, GREEN))}
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    return {
        "type": "timeseries", "title": title, "description": description, "w": width, "h": height,
        "fieldConfig": {"defaults": defaults,
                        "overrides": [threshold_line_override(l) for l in threshold_legends]},
        "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": queries,
    }


def stat(title, unit, queries, steps, description="", width=4, height=4, mappings=None):
    return {
        "type": "stat", "title": title, "description": description, "w": width, "h": height,
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": steps, "color": {"mode": "thresholds"},
                                     "mappings": mappings or []},
                        "overrides": []},
        "options": {"colorMode": "background", "graphMode": "area", "justifyMode": "auto",
                    "textMode": "value_and_name",
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        "targets": queries,
    }


def bargauge(title, unit, queries, steps, description="", width=12, height=8):
    return {
        "type": "bargauge", "title": title, "description": description, "w": width, "h": height,
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": steps, "color": {"mode": "thresholds"}, "min": 0},
                        "overrides": []},
        "options": {"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True,
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        "targets": queries,
    }


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


UP_MAPPING = [{"type": "value", "options": {"0": {"text": "down", "color": RED},
                                             "1": {"text": "up", "color": GREEN}}}]

PANELS = [
    row("Overview"),
    stat("Firing saslguard alerts", "none",
         [q(f'count(ALERTS{{alertstate="firing", alertname=~"{SASLGUARD_ALERTS}"}}) or vector(0)', "firing")],
         thresholds((None, GREEN), (1, RED)),
         "Alerts from rules/saslguard.rules.yml firing now, on every host."),
    stat("Queued (no hold)", "short",
         [q(f'sum(instance:postfix_showq_queue_depth:sum{{{INST}}})', "queued")],
         thresholds((None, GREEN), (100, ORANGE), (1000, RED)),
         "Messages in every queue except hold (where saslguard parks a culprit's mail)."),
    stat("Authenticated msg/s", "suffix: msg/s",
         [q(f'sum(sasl_username:postfix_sasl_user_messages:rate1m{{{INST}}})', "msg/s")],
         thresholds((None, GREEN)),
         "Messages accepted from SASL-authenticated users, over the last minute."),
    stat("Active blocks", "none",
         [q(f'sum(saslguard_receiver_active_blocks{{{RECV}}})', "blocks")],
         thresholds((None, GREEN), (1, ORANGE)),
         "Blocks saslguard-receiver has in force (logins, IPs, accounts, holds)."),
    stat("Exporter", "none",
         [q(f'min(up{{job="saslguard-exporter", {INST}}})', "exporter")],
         thresholds((None, RED), (1, GREEN)), mappings=UP_MAPPING),
    stat("Postfix (showq)", "none",
         [q(f'min(postfix_up{{{INST}}})', "postfix")],
         thresholds((None, RED), (1, GREEN)), mappings=UP_MAPPING),
    timeseries("Firing saslguard alerts", "none",
               [q(f'sum by (alertname, sasl_username, client_ip, instance) '
                  f'(ALERTS{{alertstate="firing", alertname=~"{SASLGUARD_ALERTS}"}})',
                  "{{alertname}} {{sasl_username}}{{client_ip}} {{instance}}")],
               "The ALERTS series of the saslguard rules: one line per firing alert and user/IP.",
               draw="bars", width=24, height=6),

    row("Queue"),
    timeseries("Queue depth per queue", "short",
               [q(f'sum by (queue) (postfix_showq_queue_depth{{{INST}}})', "{{queue}}"),
                q(f'sum(instance:postfix_showq_queue_depth:surge_threshold{{{INST}}})', "surge threshold")],
               "Messages per Postfix queue (showq). The dashed line is PostfixQueueSurge's threshold for the "
               "sum of all queues but hold: max(floor, factor × 1h average).",
               threshold_legends=["surge threshold"]),
    bargauge("Top queued senders", "short",
             [q(f'topk(10, sum by (sender) (postfix_queue_sender_messages{{{INST}, sender!="__other__"}}))',
                "{{sender}}", instant=True)],
             thresholds((None, GREEN), (100, ORANGE), (1000, RED)),
             "Queued messages per envelope sender (the exporter's top-K)."),

    row("SASL users"),
    timeseries("Top SASL users by messages/s", "suffix: msg/s",
               [q(f'topk(10, sasl_username:postfix_sasl_user_messages:rate1m{{{INST}}})', "{{sasl_username}}"),
                q('max(saslguard:threshold:user_surge_floor_per_second)', "surge floor")],
               "Messages per second over the last minute per authenticated user (the SaslUserSendingSurge "
               "signal). A user alerts above max(floor, factor × own 1h baseline).",
               threshold_legends=["surge floor"]),
    bargauge("Top SASL users by messages in range", "short",
             [q(f'topk(10, sum by (sasl_username) (increase(postfix_sasl_user_messages_total{{{INST}}}[$__range])))',
                "{{sasl_username}}", instant=True)],
             thresholds((None, GREEN), (500, ORANGE), (5000, RED)),
             "Messages accepted per user over the dashboard's time range."),
    timeseries("Distinct client IPs per user", "short",
               [q(f'topk(10, postfix_sasl_user_client_ips{{{INST}, sasl_username!="__other__"}})', "{{sasl_username}}"),
                q('max(saslguard:threshold:user_client_ips)', "alert threshold")],
               "Distinct client IPs each user submitted from within the exporter's window (SaslUserManyClientIPs).",
               threshold_legends=["alert threshold"]),
    timeseries("Volume per user against its own threshold (15m)", "percentunit",
               [q(f'topk(10, sasl_username:postfix_sasl_user_messages:increase15m{{{INST}}} '
                  f'/ sasl_username:postfix_sasl_user_messages:volume15m_threshold{{{INST}}})', "{{sasl_username}}"),
                q('vector(1)', "alert threshold")],
               "Messages in the last 15 minutes as a share of the user's own SaslUserVolumeAnomaly threshold: "
               "max(floor, 3 × its recent rate, 3 × its average of the last day, 2 × its busiest 15 minutes of "
               "8 days). Above 100 % it alerts (auto with a corroborating signal, else confirm + hold mail).",
               threshold_legends=["alert threshold"]),
    timeseries("Messages from new networks per user (15m)", "short",
               [q(f'topk(10, sasl_username:postfix_sasl_user_new_source_messages:increase15m{{{INST}}})',
                  "{{sasl_username}}"),
                q('max(saslguard:threshold:user_new_source_floor_15m)', "alert threshold")],
               "Submissions from client networks (/24, /64) the user had not used in 30 days (exporter source "
               "memory). A corroborating signal for the volume alerts; SaslUserNewSourceSurge at the line.",
               threshold_legends=["alert threshold"]),
    timeseries("Unknown recipients per user (15m share)", "percentunit",
               [q(f'topk(10, sasl_username:postfix_sasl_user_unknown_recipients:ratio15m{{{INST}}})', "{{sasl_username}}"),
                q('max(saslguard:threshold:user_unknown_ratio)', "alert threshold")],
               "Share of each user's recipients over 15m bounced because the address does not exist "
               "(5.1.x), drawn only for users with at least 5 of them (the rules compute no share below that). "
               "SaslUserHighBounceRatio also needs 5 × everybody else's share.",
               threshold_legends=["alert threshold"], max_=1),
    timeseries("Corroborating signals", "short",
               [q(f'count by (signal) (sasl_username:saslguard_corroboration:signal{{{INST}}})', "{{signal}}")],
               "Users showing each independent signal (new networks, many IPs, unknown recipients, a brute-force "
               "IP): a volume anomaly with one of them is acted on automatically.", draw="bars"),

    row("Authentication"),
    timeseries("SASL authentication failures", "suffix: /s",
               [q(f'sum by (sasl_method) (rate(postfix_smtpd_sasl_authentication_failures_total{{{INST}}}[$__rate_interval]))',
                  "{{sasl_method}}")],
               "Failed SMTP AUTH attempts per second by mechanism."),
    timeseries("Top failing client IPs", "short",
               [q(f'topk(10, postfix_sasl_failures_by_client_ip{{{INST}}})', "{{client_ip}}"),
                q('max(saslguard:threshold:auth_failures_per_ip)', "alert threshold")],
               "Failed logins per client IP within the exporter's window (SaslAuthBruteForce). "
               "__other__ sums the IPs beyond the top-K.",
               threshold_legends=["alert threshold"]),

    row("Deliveries"),
    timeseries("Deliveries by status", "suffix: /s",
               [q(f'sum by (status) (rate(postfix_smtp_messages_processed_total{{{INST}}}[$__rate_interval]))',
                  "{{status}}")],
               "smtp delivery attempts per second by status.", stack=True),
    timeseries("Deferred share of the host's deliveries (15m)", "percentunit",
               [q(f'instance:postfix_smtp_messages_deferred:ratio15m{{{INST}}}', "{{instance}}"),
                q('max(saslguard:threshold:host_deferred_ratio)', "alert threshold")],
               "PostfixDeliveriesDeferred: a remote outage or a blocklisting pages once here, never per user.",
               threshold_legends=["alert threshold"], max_=1),
    timeseries("Deliveries of authenticated mail by status", "suffix: /s",
               [q(f'sum by (status) (rate(postfix_sasl_user_deliveries_total{{{INST}}}[$__rate_interval]))',
                  "{{status}}")],
               "Delivery attempts of mail from SASL users (correlated by queue id) per second by status.",
               stack=True),
    timeseries("smtpd rejects by code", "suffix: /s",
               [q(f'sum by (code) (rate(postfix_smtpd_messages_rejected_total{{{INST}}}[$__rate_interval]))',
                  "{{code}}")],
               "NOQUEUE and queue-id rejects per second by SMTP reply code."),
    timeseries("smtpd connections", "suffix: /s",
               [q(f'sum(rate(postfix_smtpd_connects_total{{{INST}}}[$__rate_interval]))', "connects")],
               "Connections to smtpd per second."),

    row("Mitigation (saslguard-receiver)"),
    timeseries("Mitigations performed", "short",
               [q(f'sum by (kind, result) (increase(saslguard_receiver_actions_total{{{RECV}}}[$__rate_interval]))',
                  "{{kind}} {{result}}")],
               "Actions the receiver ran (automatic and from Telegram buttons) by kind and result.",
               draw="bars", stack=True),
    timeseries("Active blocks", "short",
               [q(f'sum by (kind) (saslguard_receiver_active_blocks{{{RECV}}})', "{{kind}}")],
               "Blocks in force by kind; they expire or are undone.", stack=True),
    timeseries("Webhooks and notifications", "suffix: /s",
               [q(f'sum by (result) (rate(saslguard_receiver_webhooks_total{{{RECV}}}[$__rate_interval]))',
                  "webhook {{result}}"),
                q(f'sum by (result) (rate(saslguard_receiver_notifications_total{{{RECV}}}[$__rate_interval]))',
                  "notification {{result}}"),
                q(f'sum(rate(saslguard_receiver_telegram_messages_failed_total{{{RECV}}}[$__rate_interval]))',
                  "telegram failed")],
               "Alertmanager webhooks received, notifications sent by result, and Telegram messages given up."),
    timeseries("Incidents and alert events", "short",
               [q(f'sum(saslguard_receiver_incidents_open{{{RECV}}})', "open incidents"),
                q(f'sum by (status) (increase(saslguard_receiver_alerts_total{{{RECV}}}[$__rate_interval]))',
                  "alert events {{status}}")],
               "Incidents whose alert has not resolved, and alert events stored."),

    row("Health"),
    timeseries("Log lag", "s",
               [q(f"time() - (saslguard_exporter_last_log_line_timestamp_seconds{{{INST}}} > 0)", "{{instance}}"),
                q('max(saslguard:threshold:log_stalled_seconds)', "stalled threshold")],
               "Seconds since the newest log line the exporter read (by the line's own timestamp). "
               "SaslguardLogStalled fires above the dashed line while Postfix is up.",
               threshold_legends=["stalled threshold"], width=8),
    timeseries("Log lines and parse errors", "suffix: lines/s",
               [q(f'sum by (result) (rate(saslguard_exporter_log_lines_total{{{INST}}}[$__rate_interval]))',
                  "{{result}}")],
               "Lines read per second: parsed, or unsupported (not understood; counted, never fatal).",
               width=8, stack=True),
    timeseries("Receiver backlog", "short",
               [q(f'sum(saslguard_receiver_queue_backlog{{{RECV}}})', "alert events pending"),
                q(f'sum(saslguard_receiver_telegram_outbox_pending{{{RECV}}})', "telegram outbox pending")],
               "Stored alert events the worker has not finished, and Telegram messages waiting in the outbox.",
               width=8),
    timeseries("Tracked users and evictions", "short",
               [q(f'sum(saslguard_exporter_tracked_users{{{INST}}})', "tracked users"),
                q(f'sum(increase(saslguard_exporter_users_evicted_total{{{INST}}}[$__rate_interval]))', "evicted")],
               "SASL users in the exporter's table (capped by --max-users) and evictions of idle ones.",
               width=12),
    timeseries("Scrape targets up", "none",
               [q('up{job=~"saslguard-exporter|saslguard-receiver"}', "{{job}} {{instance}}")],
               "1 when Prometheus could scrape the target.", width=12, min_=0, max_=1),
]


def layout(panels):
    """Assigns ids, gridPos, datasource and refIds; rows start a new line."""
    out, x, y, line_h, pid = [], 0, 0, 0, 1
    for p in panels:
        p = dict(p)
        if p["type"] == "row":
            if x:
                y += line_h
            x, line_h = 0, 0
            p.update(id=pid, gridPos={"h": 1, "w": 24, "x": 0, "y": y})
            y += 1
        else:
            w, h = p.pop("w"), p.pop("h")
            if x + w > 24:
                x, y, line_h = 0, y + line_h, 0
            p.update(id=pid, gridPos={"h": h, "w": w, "x": x, "y": y}, datasource=DS)
            p["targets"] = [dict(t, datasource=DS, refId=chr(ord("A") + i), range=not t["instant"])
                            for i, t in enumerate(p["targets"])]
            x += w
            line_h = max(line_h, h)
        pid += 1
        out.append(p)
    return out


def dashboard():
    var_ds = {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
              "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []}

    def query_var(name, label, expr):
        return {"name": name, "label": label, "type": "query", "datasource": DS,
                "query": {"query": expr, "refId": f"{name}-var"}, "definition": expr,
                "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
                "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                "sort": 1, "hide": 0, "options": [], "regex": ""}

    return {
        "uid": UID,
        "title": "saslguard: compromised SMTP accounts",
        "description": "Postfix queue, per-SASL-user sending, authentication failures, saslguard alerts and "
                       "mitigations. Generated by grafana/generate.py.",
        "tags": ["saslguard", "postfix", "smtp"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "timezone": "browser",
        "links": [],
        "templating": {"list": [
            var_ds,
            query_var("instance", "Mail host (exporter)", "label_values(saslguard_exporter_build_info, instance)"),
            query_var("receiver", "Receiver", "label_values(saslguard_receiver_webhooks_total, instance)"),
        ]},
        "annotations": {"list": [
            {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
             "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"},
            {"name": "saslguard alerts", "datasource": DS, "enable": True, "iconColor": RED,
             "expr": f'ALERTS{{alertstate="firing", alertname=~"{SASLGUARD_ALERTS}"}}',
             "step": "30s", "titleFormat": "{{alertname}}",
             "textFormat": "{{sasl_username}}{{client_ip}} on {{instance}} (mitigation {{mitigation}})",
             "tagKeys": "alertname,severity", "useValueForTime": False},
            {"name": "saslguard actions", "datasource": DS, "enable": True, "iconColor": ORANGE,
             "expr": f'sum by (kind, result) (increase(saslguard_receiver_actions_total{{{RECV}}}[1m])) > 0',
             "step": "30s", "titleFormat": "action {{kind}}", "textFormat": "result {{result}}",
             "tagKeys": "kind,result", "useValueForTime": False},
        ]},
        "panels": layout(PANELS),
    }


def render():
    return json.dumps(dashboard(), indent=2, sort_keys=False) + "\n"


def main():
    text = render()
    if "--check" in sys.argv[1:]:
        current = open(OUT).read() if os.path.exists(OUT) else ""
        if current != text:
            print(f"{OUT} is out of date: run python3 grafana/generate.py", file=sys.stderr)
            return 1
        return 0
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
