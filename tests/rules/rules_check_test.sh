#!/usr/bin/env bash
# rules/ and the deploy configs, checked with the real tools: promtool check rules,
# promtool test rules (every rules/tests/*.test.yml), promtool check config on
# deploy/prometheus.yml (rule path pointed at this checkout), amtool check-config
# on deploy/alertmanager.yml; then the structure DESIGN.md asks of every alert.
set -euo pipefail
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
src=$SASLGUARD_SOURCE_DIR
rules=$src/rules/saslguard.rules.yml

promtool check rules "$rules"
(cd "$src/rules/tests" && promtool test rules ./*.test.yml)

work=$(make_workdir rules-check)
cleanup_push "rm -rf '$work'"
grep -q '/etc/prometheus/saslguard/saslguard.rules.yml' "$src/deploy/prometheus.yml" ||
  fail "deploy/prometheus.yml no longer loads /etc/prometheus/saslguard/saslguard.rules.yml"
sed "s#/etc/prometheus/saslguard/saslguard.rules.yml#$rules#" "$src/deploy/prometheus.yml" > "$work/prometheus.yml"
promtool check config "$work/prometheus.yml"
amtool check-config "$src/deploy/alertmanager.yml"

# The scenario suite's expectations count as firing/silent evidence too (each
# scenario asserts the exact set of alerts that fire over its whole run).
python3 "$src/rules/tests/scenarios/gen.py" --out "$work/scenarios"

python3 - "$rules" "$src/rules/tests" "$src/deploy/alertmanager.yml" "$src/deploy/prometheus.yml" "$work/scenarios" <<'PY'
import glob, os, re, sys, yaml
rules_path, tests_dir, am_path, prom_path, scen_dir = sys.argv[1:]
errors = []
doc = yaml.safe_load(open(rules_path))
alerts = {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}
records = [r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r]
text = open(rules_path).read()

design = ["PostfixQueueSurge", "SaslUserSendingSurge", "SaslUserManyClientIPs", "SaslUserHighBounceRatio",
          "SaslAuthBruteForce", "PostfixDown", "SaslguardExporterDown", "SaslguardLogStalled"]
per_user = {"SaslUserSendingSurge", "SaslUserManyClientIPs", "SaslUserHighBounceRatio",
            "SaslUserVolumeAnomaly", "SaslUserNewSourceSurge", "SaslUserLoginFromBruteForceIP"}
action_kinds = {"block_login", "hold_mail", "block_ips", "lock_account"}
all_rules = [r for g in doc["groups"] for r in g["rules"] if "alert" in r]
for name in design:
    if name not in alerts:
        errors.append(f"alert {name} (DESIGN.md) is missing")
for name, r in alerts.items():
    labels, ann = r.get("labels", {}), r.get("annotations", {})
    if labels.get("severity") not in ("critical", "warning", "info"):
        errors.append(f"{name}: severity label missing or not critical|warning|info")
    if labels.get("mitigation") not in ("notify", "confirm", "auto"):
        errors.append(f"{name}: mitigation label missing or not notify|confirm|auto")
    for a in ("summary", "description"):
        if not ann.get(a):
            errors.append(f"{name}: annotation {a} missing")
    if name in per_user and "sasl_username" not in ann.get("description", ""):
        errors.append(f"{name}: description does not name the user")
# The receiver contract: every confirm/auto alert says which first actions it
# suggests (suggested_actions, from the receiver's action kinds); notify alerts
# suggest nothing. Checked on every variant of a name.
for r in all_rules:
    labels = r.get("labels", {})
    sugg = labels.get("suggested_actions")
    if labels.get("mitigation") in ("confirm", "auto"):
        kinds = (sugg or "").split(",")
        if not sugg or any(k not in action_kinds for k in kinds):
            errors.append(f"{r['alert']}: suggested_actions {sugg!r} is not a comma-separated list of {sorted(action_kinds)}")
    elif sugg:
        errors.append(f"{r['alert']}: a notify alert suggests actions")
    if r["alert"] in per_user and labels.get("mitigation") == "auto" and "corroboration" not in r["expr"]:
        errors.append(f"{r['alert']}: an auto variant that is not corroborated")
# Every threshold is used by some rule other than its own definition.
for rec in records:
    if rec.startswith("saslguard:threshold:") and text.count(rec) < 2:
        errors.append(f"threshold {rec} is defined but never used")

# Every alert has a unit test where it fires and one where it stays silent;
# per-user alerts fire with sasl_username.
fires, silent = set(), set()
for path in glob.glob(os.path.join(tests_dir, "*.test.yml")):
    for t in yaml.safe_load(open(path))["tests"]:
        for at in t.get("alert_rule_test", []):
            exp = at.get("exp_alerts") or []
            if not exp:
                silent.add(at["alertname"])
            for e in exp:
                fires.add(at["alertname"])
                if at["alertname"] in per_user and "sasl_username" not in e.get("exp_labels", {}):
                    errors.append(f"{path}: {at['alertname']} expected without sasl_username")
for path in glob.glob(os.path.join(scen_dir, "*.test.yml")):
    for t in yaml.safe_load(open(path))["tests"]:
        for pt in t.get("promql_expr_test", []):
            if not pt["expr"].startswith("count by (alertname, sasl_username"):
                continue
            fired = {re.search(r'alertname="([^"]+)"', e["labels"]).group(1) for e in pt.get("exp_samples") or []}
            fires |= fired
            silent |= set(alerts) - fired
for name in alerts:
    if name not in fires:
        errors.append(f"{name}: no unit test shows it firing")
    if name not in silent:
        errors.append(f"{name}: no unit test shows it silent")

# Alertmanager: webhook to the receiver with a bearer token file, grouped by user.
am = yaml.safe_load(open(am_path))
route = am["route"]
if set(route.get("group_by", [])) != {"alertname", "instance", "sasl_username"}:
    errors.append("alertmanager.yml: group_by must be alertname, instance, sasl_username")
hooks = [w for r in am["receivers"] for w in r.get("webhook_configs", [])]
if not any(w["url"] == "http://127.0.0.1:9755/alertmanager"
           and w.get("http_config", {}).get("authorization", {}).get("credentials_file") for w in hooks):
    errors.append("alertmanager.yml: no webhook to http://127.0.0.1:9755/alertmanager with a credentials_file")

prom = yaml.safe_load(open(prom_path))
jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
for job, target in (("saslguard-exporter", "127.0.0.1:9754"), ("saslguard-receiver", "127.0.0.1:9755")):
    if job not in jobs or target not in jobs[job]["static_configs"][0]["targets"]:
        errors.append(f"prometheus.yml: job {job} must scrape {target}")

for e in errors:
    print("FAIL:", e, file=sys.stderr)
print(f"rules structure: {len(alerts)} alerts, {len(records)} recording rules, {len(errors)} problems")
sys.exit(1 if errors else 0)
PY
